package web

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// seed002YAML is the project.yaml of seed page 002.
const seed002YAML = `version: '3.0'

expectations:
  population_size: 1000

actions:

  test_action:
    run: cohortextractor:latest generate_cohort --study-definition study_definition --index-date-range "2020-03-01 to 2020-03-01 by week" --output-format=csv.gz
    outputs:
      highly_sensitive:
        cohort: output/inp*.csv.gz
`

// seeded is a request created straight in the store, with fixed
// identifiers and times, so its page is reproducible.
type seeded struct {
	project *store.Project
	ws      *store.Workspace
	backend *store.Backend
	jr      *store.JobRequest
}

// seedWorkspace makes an org, project, workspace, backend and requester.
func (e *env) seedWorkspace(orgName, project, workspace, backend, requester, repo, branch string) seeded {
	e.t.Helper()
	ctx := e.ctx
	o, err := e.svc.CreateOrg(ctx, orgName, "")
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.CreateProject(ctx, o.Slug, project, "")
	if err != nil {
		e.t.Fatal(err)
	}
	ws := &store.Workspace{Name: workspace, ProjectID: p.ID, RepoURL: repo, Branch: branch, CreatedAt: t0}
	if err := e.st.CreateWorkspace(ctx, ws); err != nil {
		e.t.Fatal(err)
	}
	b, err := e.st.BackendBySlug(ctx, backend)
	if err != nil {
		b, _, err = e.svc.CreateBackend(ctx, backend, strings.ToUpper(backend))
		if err != nil {
			e.t.Fatal(err)
		}
	}
	username := strings.ToLower(strings.ReplaceAll(requester, " ", ""))
	if _, err := e.svc.CreateUser(ctx, username, username+"@example.org", requester, testPassword, nil); err != nil {
		e.t.Fatal(err)
	}
	return seeded{project: p, ws: ws, backend: b}
}

// request stores a job request whose jobs are the given actions.
func (e *env) request(s seeded, identifier, requester, sha, yaml string, actions []string, created time.Time) seeded {
	e.t.Helper()
	u, err := e.st.UserByUsername(e.ctx, requester)
	if err != nil {
		e.t.Fatal(err)
	}
	jr := &store.JobRequest{
		Identifier: identifier, WorkspaceID: s.ws.ID, BackendID: s.backend.ID,
		RequestedActions: actions, SHA: sha, ProjectDefinition: yaml, CodelistsOK: true,
		Status: store.RequestPending, CreatedBy: u.ID, CreatedAt: created,
	}
	_, err = e.st.CreateJobRequest(e.ctx, jr, func([]*store.Job) ([]*store.Job, error) {
		var jobs []*store.Job
		for _, a := range actions {
			j := &store.Job{}
			j.ID = pipeline.JobID(identifier, a)
			j.RequestID = identifier
			j.Workspace = s.ws.Name
			j.Action = a
			j.RunCommand = "python:latest python analysis/" + a + ".py"
			j.SetCode(haven.StatusCreated, "", created)
			jobs = append(jobs, j)
		}
		return jobs, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	s.jr = jr
	return s
}

// runJob claims the backend's next job at start and finishes it with code
// at end, as an agent would.
func (e *env) runJob(backend *store.Backend, start, end time.Time, code haven.StatusCode) *store.Job {
	e.t.Helper()
	task, err := e.st.Poll(e.ctx, backend.ID, "agent-1", store.Capacity{Jobs: 10, DBJobs: 10}, start, time.Hour)
	if err != nil || task == nil || task.Kind != store.TaskRun {
		e.t.Fatalf("poll: %v %+v", err, task)
	}
	e.finishJob(backend, task.Job, end, code)
	return task.Job
}

func (e *env) finishJob(backend *store.Backend, j *store.Job, end time.Time, code haven.StatusCode) {
	e.t.Helper()
	applied, err := e.st.ApplyUpdate(e.ctx, backend.ID, j.ID, store.Update{
		Attempt: j.Attempt, Seq: 1, StatusCode: code, CompletedAt: end, TimestampNS: end.UnixNano(),
	}, end, time.Hour)
	if err != nil || !applied {
		e.t.Fatalf("apply update %s to %s: %v (applied %v)", code, j.ID, err, applied)
	}
}

// pageText turns a page into the text a reader sees, one line per block,
// as the seed captures show it.
func pageText(html string) string {
	html = regexp.MustCompile(`(?s)<head>.*?</head>`).ReplaceAllString(html, "")
	html = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(html, "\n")
	var lines []string
	for _, l := range strings.Split(html, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, strings.NewReplacer("&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`).Replace(l))
		}
	}
	return strings.Join(lines, "\n")
}

// assertInOrder checks that want appear in text in this order.
func assertInOrder(t *testing.T, text string, want ...string) {
	t.Helper()
	rest := text
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("%q missing (or out of order) in page text:\n%s", w, text)
		}
		rest = rest[i+len(w):]
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the page (run go test -update after checking the change):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoaTest(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return ""
}

func itoaTest(i int) string { return strconv.Itoa(i) }

// TestJobRequestPageCancelledJob renders a request like seed 002: one job,
// cancelled by the user while it ran, so the request failed.
func TestJobRequestPageCancelledJob(t *testing.T) {
	e := newEnv(t)
	s := e.seedWorkspace("University of Liverpool", "FluCATs", "flucats", "emis", "Simon Davy",
		"https://github.com/opensafely/flucats", "main")
	sha := "0478b82c5e1d4f7a9b3c2d1e0f9a8b7c6d5e4f3a"
	created := time.Date(2022, 5, 3, 9, 0, 0, 0, time.UTC)
	s = e.request(s, "pzztw7wladpqkpqb", "simondavy", sha, seed002YAML, []string{"test_action"}, created)

	start := created.Add(5 * time.Minute)
	task, err := e.st.Poll(e.ctx, s.backend.ID, "agent-1", store.Capacity{Jobs: 1, DBJobs: 1}, start, 48*time.Hour)
	if err != nil || task == nil {
		t.Fatalf("poll: %v %v", task, err)
	}
	if _, err := e.svc.Cancel(e.ctx, mustUser(t, e, "simondavy"), s.jr.ID, ""); err != nil {
		t.Fatal(err)
	}
	end := start.Add(18*time.Hour + 21*time.Minute + 28*time.Second)
	e.finishJob(s.backend, task.Job, end, haven.StatusCancelledByUser)
	e.setNow(end.Add(time.Hour))

	rec := e.client().get("/" + s.project.Slug + "/flucats/" + itoaTest(int(s.jr.ID)) + "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d:\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	assertInOrder(t, pageText(body),
		"Skip to content",
		"Job request: "+itoaTest(int(s.jr.ID)),
		"Organisation:", "University of Liverpool",
		"Workspace:", "flucats",
		"ID:", "pzztw7wladpqkpqb",
		"View repo", "View project.yaml",
		"Simon Davy, an authorised researcher",
		"highly_sensitive", "moderately_sensitive",
		"Jobs",
		"Action:", "test_action",
		"Status:", "Status:", "Failed",
		"Job identifier:", "6nhad5m5vkyxqf4z",
		"Error:", "cancelled_by_user: Cancelled by user",
		"Pipeline", "Show project.yaml", "version: '3.0'", "test_action:",
		"Job statistics", "1 / 1 complete",
		"Timeline",
		"Created:", "2022-05-03 09:00:00",
		"Started:", "2022-05-03 09:05:00",
		"Finished:", "2022-05-04 03:26:28",
		"Runtime: 18:21:28",
		"These timestamps are generated and stored using the UTC timezone on the EMIS backend.",
		"Job request",
		"Status", "Failed",
		"Backend", "EMIS",
		"Workspace", "flucats",
		"Requested by", "Simon Davy",
		"Branch", "main",
		"Force run dependencies", "No",
		"Git commit hash", "0478b82",
		"Requested actions", "test_action",
		"Code comparison", "Compare the code used in this job request",
		"No previous job request available for comparison",
	)
	for _, want := range []string{
		`<time datetime="2022-05-03T09:00:00Z">`,
		`<a class="button" href="https://github.com/opensafely/flucats/tree/` + sha + `">View repo</a>`,
		`href="https://github.com/opensafely/flucats/blob/` + sha + `/project.yaml"`,
		`<details><summary>Show project.yaml</summary><pre class="code">`,
		`<span class="sr-only">Status: </span>Failed`,
		`<title>Job request: ` + itoaTest(int(s.jr.ID)) + ` - flucats | Haven</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Signed out: no link to the job page and no cancel button; the
	// request is complete, so no cancellation banner.
	for _, unwanted := range []string{"/6nhad5m5vkyxqf4z/", "Cancel job request", "A user has requested this job is cancelled", "stale"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("page shows %q", unwanted)
		}
	}
	// The stylesheet's version changes with its content; the golden file
	// is about the page.
	golden(t, "jobrequest_cancelled.html", []byte(strings.ReplaceAll(body, e.h.cssPath, "/static/haven.css?v=VERSION")))
}

func mustUser(t *testing.T, e *env, username string) *store.User {
	t.Helper()
	u, err := e.st.UserByUsername(e.ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestJobRequestPageSucceeded renders a request like seed 001: two jobs
// that succeeded; Runtime is the sum of their durations, not the span.
func TestJobRequestPageSucceeded(t *testing.T) {
	e := newEnv(t)
	s := e.seedWorkspace("Bennett Institute Two", "Primary care codes", "primary-care-covid-codes-research", "tpp",
		"Colm Andrews", "https://github.com/opensafely/primary-care-covid-codes-research.git", "master")
	sha := "83b43dab0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	created := time.Date(2021, 11, 2, 14, 0, 0, 0, time.UTC)
	s = e.request(s, "egdoqvhx25cbvasp", "colmandrews", sha, "version: '3.0'\n", []string{"counts", "freq_plots"}, created)

	// 100 s and 71 s, an hour apart: the sum is 00:02:51.
	first := e.runJob(s.backend, created.Add(time.Minute), created.Add(time.Minute+100*time.Second), haven.StatusSucceeded)
	second := e.runJob(s.backend, created.Add(time.Hour), created.Add(time.Hour+71*time.Second), haven.StatusSucceeded)
	if first.Action != "counts" || second.Action != "freq_plots" {
		t.Fatalf("jobs ran in the order %s, %s", first.Action, second.Action)
	}

	c := e.signIn("alice")
	url := "/" + s.project.Slug + "/primary-care-covid-codes-research/" + itoaTest(int(s.jr.ID)) + "/"
	rec := c.get(url)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d:\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	body0 := body
	assertInOrder(t, pageText(body),
		"Job request: "+itoaTest(int(s.jr.ID)),
		"Organisation:", "Bennett Institute Two",
		"ID:", "egdoqvhx25cbvasp",
		"Colm Andrews",
		"Action:", "counts", "Status:", "Succeeded", "Job identifier:", "yqceq4e2krqcxs55",
		"Action:", "freq_plots", "Status:", "Succeeded", "Job identifier:", "2sd34hbf26lozxo7",
		"2 / 2 complete",
		"Runtime: 00:02:51",
		"UTC timezone on the TPP backend.",
		"Status", "Succeeded",
		"Backend", "TPP",
		"Requested by", "Colm Andrews",
		"Branch", "master",
		"Git commit hash", "83b43da",
		"Requested actions", "counts", "freq_plots",
	)
	if strings.Contains(body, "Error:") {
		t.Error("a succeeded job shows an Error")
	}
	// Signed in: action names link to the job pages; alice did not make
	// the request and has no role on its project, so no cancel button.
	if !strings.Contains(body, `href="`+url+`yqceq4e2krqcxs55/"`) {
		t.Error("no link to the counts job page for a signed-in user")
	}
	if strings.Contains(body, "Cancel job request") {
		t.Error("a user who may not cancel sees the cancel button")
	}

	// A later request on the same workspace and backend compares with it.
	sha2 := "9f0a1b2c3d4e5f83b43dab0c1d2e3f4a5b6c7d8e"
	s2 := e.request(s, "abcdefghijklmnop", "colmandrews", sha2, "version: '3.0'\n", []string{"counts"}, created.Add(24*time.Hour))
	rec = c.get("/" + s.project.Slug + "/primary-care-covid-codes-research/" + itoaTest(int(s2.jr.ID)) + "/")
	body = rec.Body.String()
	for _, want := range []string{
		`href="https://github.com/opensafely/primary-care-covid-codes-research/compare/` + sha + ".." + sha2 + `">Compare to the previous job request</a>`,
		`>Compare to the previous successful job request</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("second request's page lacks %s", want)
		}
	}
	// Its pending job shows why it waits.
	assertInOrder(t, pageText(body), "counts", "Pending", "created: Created")

	// Pages of complete requests are served from memory; an active one
	// is read afresh, so its page follows the job to its end.
	e.runJob(s.backend, created.Add(25*time.Hour), created.Add(25*time.Hour+time.Minute), haven.StatusSucceeded)
	url2 := "/" + s.project.Slug + "/primary-care-covid-codes-research/" + itoaTest(int(s2.jr.ID)) + "/"
	done := c.get(url2).Body.String()
	assertInOrder(t, pageText(done), "counts", "Succeeded", "1 / 1 complete", "Runtime: 00:01:00")
	if again := c.get(url2).Body.String(); again != done {
		t.Error("a complete request's page changed between two views")
	}
	if first := c.get(url).Body.String(); first != body0 {
		t.Error("the first request's page changed once it was served from memory")
	}
}
