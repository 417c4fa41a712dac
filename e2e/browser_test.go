package e2e

// Browser tests: the job server's pages driven in headless Chromium, as a
// researcher uses them. They need Chromium (or Chrome), git and python3;
// without Chromium they are skipped unless HAVEN_REQUIRE_BROWSER=1.
//
//	HAVEN_REQUIRE_BROWSER=1 go test -race -run Browser ./e2e/
//
// With -update-screenshots they also write the pages' screenshots used by
// the documentation to docs/images.

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/haven-tre/haven/internal/store"
)

// TestBrowserJobRequest signs in, runs three actions from the run-jobs
// form, watches the job request page until the quick actions succeed while
// the slow one runs, cancels the slow one from its job page, and checks
// what the job request page then shows.
func TestBrowserJobRequest(t *testing.T) {
	needPython(t)
	ctx := newBrowser(t, 2*time.Minute)
	s := newSite(t, true)
	wsPath := "/" + s.project.Slug + "/" + s.workspace.Name + "/"

	signIn(t, ctx, s, wsPath)

	// The workspace page.
	if got := elementText(t, ctx, "main h1"); got != "flucats" {
		t.Errorf("workspace page heading = %q, want flucats", got)
	}
	details := definitions(t, ctx, "main dl.details")
	for label, want := range map[string]string{
		"Project": "FluCATs validation", "Organisation": "University of Liverpool", "Branch": "main",
		"Purpose": "Validate the FluCATs score against hospital admissions.",
	} {
		if details[label] != want {
			t.Errorf("workspace page %s = %q, want %q", label, details[label], want)
		}
	}

	// The run-jobs form.
	if status := follow(t, ctx, "opening run-jobs", chromedp.Click(css("a#run-jobs"))); status != http.StatusOK {
		t.Fatalf("run-jobs page answered %d", status)
	}
	if got := pageLocation(t, ctx, s); got != wsPath+"run-jobs/" {
		t.Fatalf("Run jobs led to %s, want %srun-jobs/", got, wsPath)
	}
	if got, want := texts(t, ctx, "ul.action-choices > li > label"), []string{"prepare_cohort", "count_by_region", "fit_model", "run_all"}; !slices.Equal(got, want) {
		t.Errorf("run-jobs lists actions %q, want %q", got, want)
	}
	if !browserGet(t, ctx, "reading the backend choice", chromedp.Evaluate[bool](`document.querySelector('input[name="backend"][value="tpp"]').checked`)) {
		t.Error("the only backend, tpp, is not preselected")
	}
	requested := []string{"prepare_cohort", "count_by_region", "fit_model"}
	for _, a := range requested {
		browserRun(t, ctx, "ticking "+a, chromedp.Click(css(`input[name="requested_actions"][value="`+a+`"]`)))
	}
	screenshot(t, ctx, "run-jobs")
	if status := follow(t, ctx, "submitting run-jobs", chromedp.Click(css("#submit-run-jobs"))); status != http.StatusOK {
		t.Fatalf("submitting run-jobs ended on a page answering %d: %s", status, pageText(ctx, "main"))
	}

	// The logs page, with the new request.
	if got := pageLocation(t, ctx, s); got != wsPath+"logs/" {
		t.Fatalf("submitting led to %s, want %slogs/ (page: %s)", got, wsPath, pageText(ctx, "main"))
	}
	if got := elementText(t, ctx, ".alert-success"); got != "Requested actions have been scheduled to run." {
		t.Errorf("flash after submitting = %q", got)
	}
	jrs := s.requests(t)
	if len(jrs) != 1 {
		t.Fatalf("the store holds %d job requests for the workspace, want 1", len(jrs))
	}
	jr := jrs[0]
	if jr.SHA != s.commit || !slices.Equal(jr.RequestedActions, requested) || jr.ForceRunDependencies {
		t.Errorf("stored request: sha %s actions %q force %v; want sha %s actions %q force false",
			jr.SHA, jr.RequestedActions, jr.ForceRunDependencies, s.commit, requested)
	}
	jrPath := fmt.Sprintf("%s%d/", wsPath, jr.ID)
	if status := follow(t, ctx, "opening the job request", chromedp.Click(css(`table.requests a[href="`+jrPath+`"]`))); status != http.StatusOK {
		t.Fatalf("job request page answered %d", status)
	}

	// Watch the request until the quick jobs have succeeded and fit_model
	// runs.
	waitForPage(t, ctx, "prepare_cohort and count_by_region to succeed while fit_model runs", func() (bool, string) {
		jobs := pageJobs(t, ctx)
		for _, j := range jobs {
			if j.Status == "Failed" {
				t.Fatalf("job %s failed: %q; the Jobs card shows %+v", j.Action, j.Error, jobs)
			}
		}
		return jobs["prepare_cohort"].Status == "Succeeded" && jobs["count_by_region"].Status == "Succeeded" &&
			jobs["fit_model"].Status == "Running", fmt.Sprintf("%+v", jobs)
	})
	if n := len(texts(t, ctx, `#cancel-job-request-form button:not([disabled])`)); n != 1 {
		t.Error("a running request has no enabled Cancel job request button")
	}

	// Cancel fit_model from its job page.
	fit := pageJobs(t, ctx)["fit_model"]
	if fit.URL == "" {
		t.Fatal("fit_model has no link to its job page for a signed-in user")
	}
	follow(t, ctx, "opening fit_model's job page", chromedp.Click(css(`ul.job-list a[href="`+fit.URL+`"]`)))
	if got := elementText(t, ctx, "main h1"); got != "Job: fit_model" {
		t.Fatalf("job page heading = %q, want \"Job: fit_model\"", got)
	}
	if status := follow(t, ctx, "cancelling fit_model", chromedp.Click(css(`#cancel-job-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("cancelling fit_model ended on a page answering %d: %s", status, pageText(ctx, "main"))
	}
	if got := elementText(t, ctx, ".alert-success"); got != "Cancelled: fit_model." {
		t.Errorf("flash after cancelling = %q, want \"Cancelled: fit_model.\"", got)
	}
	follow(t, ctx, "going back to the job request", chromedp.Click(css(`main .actions a[href="`+jrPath+`"]`)))
	waitForPage(t, ctx, "fit_model to be cancelled and the request to fail", func() (bool, string) {
		jobs := pageJobs(t, ctx)
		card := definitions(t, ctx, `section[aria-labelledby="request-heading"] dl`)
		return jobs["fit_model"].Error == "cancelled_by_user: Cancelled by user" && card["Status"] == "Failed",
			fmt.Sprintf("jobs %+v, request status %q", jobs, card["Status"])
	})

	checkJobRequestPage(t, ctx, s, jr)
	screenshot(t, ctx, "job-request")

	// The backend kept the outputs of the jobs that succeeded, and none
	// of the cancelled one.
	out := filepath.Join(s.highDir, "flucats", "output")
	for _, f := range []string{"cohort.csv", "counts_by_region.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output of a succeeded job: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "model_estimates.csv")); !os.IsNotExist(err) {
		t.Errorf("the cancelled fit_model left output/model_estimates.csv (stat: %v)", err)
	}

	// The workspace page shows each action's latest status.
	follow(t, ctx, "opening the workspace", chromedp.Click(css(`.page-header dd a[href="`+wsPath+`"]`)))
	statuses := browserGet(t, ctx, "reading the action statuses", chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll("table.action-statuses tbody tr")).map(tr =>
			[tr.cells[0].textContent.trim(), tr.cells[2].textContent.trim().replace(/^Status:\s*/, "")]))`))
	if want := map[string]string{"prepare_cohort": "Succeeded", "count_by_region": "Succeeded", "fit_model": "Failed"}; !maps.Equal(statuses, want) {
		t.Errorf("workspace action statuses = %v, want %v", statuses, want)
	}
	screenshot(t, ctx, "workspace")
}

// checkJobRequestPage checks the labels and values of a job request page
// whose prepare_cohort and count_by_region jobs succeeded and whose
// fit_model job was cancelled while running (spec §6.4).
func checkJobRequestPage(t *testing.T, ctx context.Context, s *site, jr *store.JobRequest) {
	t.Helper()
	if got, want := elementText(t, ctx, "main h1"), fmt.Sprintf("Job request: %d", jr.ID); got != want {
		t.Errorf("heading = %q, want %q", got, want)
	}
	if got, want := browserGet(t, ctx, "reading the title", chromedp.Title()), fmt.Sprintf("Job request: %d - flucats", jr.ID); !strings.HasPrefix(got, want) {
		t.Errorf("title = %q, want it to start with %q", got, want)
	}
	header := definitions(t, ctx, ".page-header dl.header-list")
	for label, want := range map[string]string{"Organisation:": "University of Liverpool", "Workspace:": "flucats", "ID:": jr.Identifier} {
		if header[label] != want {
			t.Errorf("header %s = %q, want %q (header: %v)", label, header[label], want, header)
		}
	}
	if !regexp.MustCompile(`^[a-z2-7]{16}$`).MatchString(header["ID:"]) {
		t.Errorf("ID: %q is not a 16-character identifier", header["ID:"])
	}
	if got := texts(t, ctx, "main section h2"); !slices.Equal(got, []string{"Jobs", "Pipeline", "Job statistics", "Timeline", "Job request", "Code comparison"}) {
		t.Errorf("cards = %q", got)
	}
	if got := pageText(ctx, "section.explanation"); !strings.Contains(got, researcherFullname) {
		t.Errorf("the explanation does not name the researcher %s: %q", researcherFullname, got)
	}

	// Cancel: a complete request has nothing left to cancel.
	disabled := browserGet(t, ctx, "reading the cancel button", chromedp.Evaluate[map[string]string](
		`(() => { const b = document.querySelector("#cancel-job-request-form button");
		   return b ? {disabled: String(b.disabled), title: b.title} : {}; })()`))
	if disabled["disabled"] != "true" || disabled["title"] != "This job request can no longer be cancelled" {
		t.Errorf("Cancel job request button of a complete request: %v, want disabled with the tooltip", disabled)
	}
	if got := pageText(ctx, ".alert-warning"); got != "" {
		t.Errorf("a complete request shows the banner %q", got)
	}

	// Jobs card, against the store.
	stored, err := s.store.RequestJobs(context.Background(), jr.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, j := range stored {
		ids[j.Action] = j.ID
	}
	jobs := pageJobs(t, ctx)
	want := map[string]pageJob{
		"prepare_cohort":  {Action: "prepare_cohort", Status: "Succeeded"},
		"count_by_region": {Action: "count_by_region", Status: "Succeeded"},
		"fit_model":       {Action: "fit_model", Status: "Failed", Error: "cancelled_by_user: Cancelled by user"},
	}
	if len(jobs) != len(want) || len(stored) != len(want) {
		t.Errorf("the Jobs card shows %d jobs and the store holds %d, want %d: %+v", len(jobs), len(stored), len(want), jobs)
	}
	for action, w := range want {
		got := jobs[action]
		if got.Status != w.Status || got.Error != w.Error || got.Identifier != ids[action] || !regexp.MustCompile(`^[a-z2-7]{16}$`).MatchString(got.Identifier) {
			t.Errorf("job %s shows status %q error %q identifier %q; want %q, %q, %q",
				action, got.Status, got.Error, got.Identifier, w.Status, w.Error, ids[action])
		}
	}

	// Pipeline: the stored project.yaml, collapsed under "Show project.yaml".
	if got := elementText(t, ctx, `section[aria-labelledby="pipeline-heading"] summary`); got != "Show project.yaml" {
		t.Errorf("pipeline summary = %q, want \"Show project.yaml\"", got)
	}
	yaml := browserGet(t, ctx, "reading the pipeline", chromedp.Evaluate[string](
		`document.querySelector('section[aria-labelledby="pipeline-heading"] pre').textContent`))
	if strings.TrimSpace(yaml) != strings.TrimSpace(browserProjectYAML) {
		t.Errorf("pipeline shows\n%s\nwant the project.yaml at the commit:\n%s", yaml, browserProjectYAML)
	}

	// Job statistics.
	if got := elementText(t, ctx, `section[aria-labelledby="stats-heading"] p`); got != "3 / 3 complete" {
		t.Errorf("statistics say %q, want \"3 / 3 complete\"", got)
	}
	stats := definitions(t, ctx, `section[aria-labelledby="stats-heading"] dl`)
	for label, prefix := range map[string]string{"Pending": "0 (", "Running": "0 (", "Succeeded": "2 (", "Failed": "1 ("} {
		if !strings.HasPrefix(stats[label], prefix) {
			t.Errorf("statistics %s = %q, want %s…", label, stats[label], prefix)
		}
	}

	// Timeline: UTC times, a runtime as HH:MM:SS and the footer naming TPP.
	items := texts(t, ctx, `section[aria-labelledby="timeline-heading"] ul.timeline li`)
	var labels []string
	for _, it := range items {
		label, _, _ := strings.Cut(it, ":")
		labels = append(labels, label)
	}
	if !slices.Equal(labels, []string{"Created", "Started", "Finished", "Runtime"}) {
		t.Errorf("timeline items = %q, want Created, Started, Finished, Runtime", items)
	}
	if len(items) == 4 && !regexp.MustCompile(`^Runtime: \d{2}:\d{2}:\d{2}$`).MatchString(items[3]) {
		t.Errorf("timeline runtime = %q, want HH:MM:SS", items[3])
	}
	if got, want := elementText(t, ctx, `section[aria-labelledby="timeline-heading"] .card-footer`),
		"These timestamps are generated and stored using the UTC timezone on the TPP backend."; got != want {
		t.Errorf("timeline footer = %q, want %q", got, want)
	}
	for _, dt := range texts(t, ctx, `section[aria-labelledby="timeline-heading"] time`) {
		if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`).MatchString(dt) {
			t.Errorf("timeline shows the time %q, want YYYY-MM-DD HH:MM:SS", dt)
		}
	}
	datetimes := browserGet(t, ctx, "reading the timeline's datetimes", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('section[aria-labelledby="timeline-heading"] time')).map(e => e.getAttribute("datetime"))`))
	if len(datetimes) != 3 {
		t.Errorf("timeline has %d <time> elements, want 3 (created, started, finished)", len(datetimes))
	}
	for i, d := range datetimes {
		tm, err := time.Parse(time.RFC3339, d)
		if err != nil || !strings.HasSuffix(d, "Z") {
			t.Errorf("timeline datetime %q is not an RFC 3339 UTC time", d)
			continue
		}
		if i == 0 && !tm.Equal(jr.CreatedAt.Truncate(time.Second)) {
			t.Errorf("Created datetime %s, want the request's %s", d, jr.CreatedAt.UTC().Format(time.RFC3339))
		}
	}

	// The Job request card.
	card := definitions(t, ctx, `section[aria-labelledby="request-heading"] dl`)
	for label, want := range map[string]string{
		"Status": "Failed", "Backend": "TPP", "Workspace": "flucats", "Requested by": researcherFullname,
		"Branch": "main", "Force run dependencies": "No", "Git commit hash": s.commit[:7],
	} {
		if card[label] != want {
			t.Errorf("Job request card %s = %q, want %q", label, card[label], want)
		}
	}
	if got := texts(t, ctx, `section[aria-labelledby="request-heading"] dd li`); !slices.Equal(got, jr.RequestedActions) {
		t.Errorf("Requested actions = %q, want %q", got, jr.RequestedActions)
	}
	if got := elementText(t, ctx, `section[aria-labelledby="compare-heading"] button[disabled]`); got != "No previous job request available for comparison" {
		t.Errorf("code comparison of a first request = %q", got)
	}
}

// TestBrowserRunJobsFormChecks submits the run-jobs form with no action
// ticked, then posts it without its CSRF token: neither creates a job
// request. The same post with the form's token does, so the refusals are
// the token's doing.
func TestBrowserRunJobsFormChecks(t *testing.T) {
	ctx := newBrowser(t, time.Minute)
	s := newSite(t, false)
	runJobs := "/" + s.project.Slug + "/" + s.workspace.Name + "/run-jobs/"

	signIn(t, ctx, s, runJobs)
	if status := follow(t, ctx, "submitting with no action ticked", chromedp.Click(css("#submit-run-jobs"))); status != http.StatusBadRequest {
		t.Errorf("submitting with no action answered %d, want 400", status)
	}
	if got := elementText(t, ctx, "#actions-field .field-error"); got != "Please select at least one of the Actions listed above." {
		t.Errorf("the Actions field says %q (page: %s)", got, pageText(ctx, "main"))
	}
	if n := len(s.requests(t)); n != 0 {
		t.Fatalf("a form with no action created %d job requests", n)
	}

	// A forged POST from the signed-in browser (its session cookie goes
	// with it) without the token, or with a wrong one.
	post := func(token string) string {
		form := url.Values{"backend": {"tpp"}, "requested_actions": {"prepare_cohort"}, "will_notify": {"no"}}
		if token != "" {
			form.Set("csrf_token", token)
		}
		js := fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "same-origin", redirect: "manual",
			headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q})
			.then(async r => r.type + " " + r.status + " " + (await r.text()))`, runJobs, form.Encode())
		return browserGet(t, ctx, "posting the form from the page", chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	}
	for _, token := range []string{"", "forged-token"} {
		got := post(token)
		if !strings.HasPrefix(got, "basic 403 ") || !strings.Contains(got, "security token") {
			t.Errorf("POST with token %q answered %.200q, want 403 naming the missing security token", token, got)
		}
	}

	// The same from outside the browser, with the browser's session cookie.
	form := url.Values{"backend": {"tpp"}, "requested_actions": {"prepare_cohort"}, "will_notify": {"no"}}
	req, err := http.NewRequest(http.MethodPost, s.url+runJobs, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(browserCookie(t, ctx, s, "haven_session"))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with the session cookie and no token answered %d, want 403", resp.StatusCode)
	}
	if n := len(s.requests(t)); n != 0 {
		t.Fatalf("forged posts created %d job requests", n)
	}

	// With the token the page carries, the same post is accepted.
	token := browserGet(t, ctx, "reading the form's token", chromedp.Evaluate[string](
		`document.querySelector('#run-jobs-form input[name="csrf_token"]').value`))
	if got := post(token); !strings.HasPrefix(got, "opaqueredirect 0") {
		t.Errorf("POST with the form's token answered %.200q, want a redirect", got)
	}
	if n := len(s.requests(t)); n != 1 {
		t.Errorf("a post with the form's token created %d job requests, want 1", n)
	}
}
