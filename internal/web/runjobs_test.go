package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
)

func TestRunJobs(t *testing.T) {
	e := newEnv(t)
	base := "/" + e.project.Slug + "/" + e.ws.Name + "/"

	// Signed out: to the sign-in page and back.
	if rec := e.client().get(base + "run-jobs/"); rec.Code != http.StatusSeeOther ||
		rec.Header().Get("Location") != "/login/?next="+url.QueryEscape(base+"run-jobs/") {
		t.Fatalf("signed out: %d %q", rec.Code, rec.Header().Get("Location"))
	}

	c := e.signIn("alice")
	rec := c.get(base + "run-jobs/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET run-jobs: %d\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<form method="post" action="` + base + `run-jobs/" id="run-jobs-form">`,
		`<input type="hidden" name="ref" value="` + e.headSHA + `">`,
		// The only backend is preselected.
		`<input type="radio" name="backend" id="backend-0" value="tpp" checked>`,
		`value="generate_cohort">`,
		`value="counts">`,
		`value="run_all">`,
		`<input type="radio" name="will_notify" id="will_notify_no" value="no" checked>`,
		`name="csrf_token" value="` + c.csrf() + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run-jobs form lacks %s", want)
		}
	}
	assertInOrder(t, pageText(body), "generate_cohort", "Never run", "counts", "Never run", "Needs", "generate_cohort", "run_all")

	// No action: 400, the message beside the actions.
	rec = c.post(base+"run-jobs/", url.Values{"csrf_token": {c.csrf()}, "backend": {"tpp"}, "will_notify": {"no"}})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("no actions: %d", rec.Code)
	}
	assertInOrder(t, pageText(rec.Body.String()), "Actions", jobserver.MsgNoActions, "generate_cohort")
	if e.counts().requests != 0 {
		t.Fatal("a refused form stored a request")
	}

	// A valid submission: 303 to the logs, which say what happened.
	rec = c.post(base+"run-jobs/", url.Values{"csrf_token": {c.csrf()}, "backend": {"tpp"}, "requested_actions": {"counts"}, "will_notify": {"yes"}, "ref": {e.headSHA}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != base+"logs/" {
		t.Fatalf("submit: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	rec = c.get(base + "logs/")
	text := pageText(rec.Body.String())
	assertInOrder(t, text, jobserver.MsgScheduled, "Job request", "1", e.ws.Name, "TPP", "Pending", "Alice Andrews", "counts")
	jrs, _, _ := e.st.JobRequests(e.ctx, store.JobRequestFilter{})
	if len(jrs) != 1 || !jrs[0].WillNotify || jrs[0].SHA != e.headSHA {
		t.Fatalf("stored request %+v", jrs[0])
	}
	jobs, _ := e.st.RequestJobs(e.ctx, jrs[0].ID)
	if len(jobs) != 2 { // counts needs generate_cohort, which has never run
		t.Fatalf("%d jobs", len(jobs))
	}
	// The flash is shown once.
	if strings.Contains(c.get(base+"logs/").Body.String(), jobserver.MsgScheduled) {
		t.Error("the flash message shows twice")
	}

	// The form at a commit.
	if rec := c.get(base + "run-jobs/" + e.headSHA + "/"); rec.Code != http.StatusOK {
		t.Errorf("run-jobs at a commit: %d", rec.Code)
	}
	// A commit that does not exist in the repository.
	rec = c.get(base + "run-jobs/" + strings.Repeat("ab", 20) + "/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), jobserver.MsgNoProjectYAML) ||
		strings.Contains(rec.Body.String(), `id="run-jobs-form"`) {
		t.Errorf("run-jobs at an unknown commit: %d\n%s", rec.Code, rec.Body)
	}

	// The workspace page shows the latest status per action.
	rec = c.get(base)
	assertInOrder(t, pageText(rec.Body.String()), "Run jobs", "View logs", "Branch", "main", "Actions", "counts", "TPP", "Pending", "generate_cohort", "TPP", "Pending")

	// The event log lists it too.
	rec = c.get("/event-log/")
	assertInOrder(t, pageText(rec.Body.String()), "Event log", "1", e.ws.Name, "TPP", "Pending")

	// Logs filtered by a backend with no requests.
	if _, _, err := e.svc.CreateBackend(e.ctx, "emis", ""); err != nil {
		t.Fatal(err)
	}
	rec = c.get(base + "logs/?backend=emis")
	if !strings.Contains(rec.Body.String(), "No job requests yet.") {
		t.Error("the backend filter does not filter")
	}
}

func TestRunJobsArchivedAndParseError(t *testing.T) {
	e := newEnv(t)
	c := e.signIn("alice")
	base := "/" + e.project.Slug + "/" + e.ws.Name + "/"

	// A project.yaml that does not parse: the error box, no actions.
	bad, _ := makeRepo(t, map[string]string{"project.yaml": "version: '3.0'\nactions:\n  a:\n    run: python:latest x.py\n    needs: [missing]\n"})
	ws, err := e.svc.CreateWorkspace(e.ctx, nil, jobserver.NewWorkspace{Project: e.project.Slug, Name: "broken", Repo: bad, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	rec := c.get("/" + e.project.Slug + "/" + ws.Name + "/run-jobs/")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "An error occurred while trying to parse your project.yaml") || strings.Contains(body, `id="run-jobs-form"`) {
		t.Errorf("parse error page:\n%s", body)
	}

	// Archived: back to the workspace page, which says why.
	if err := e.st.SetWorkspaceArchived(e.ctx, e.ws.ID, true); err != nil {
		t.Fatal(err)
	}
	rec = c.get(base + "run-jobs/")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != base {
		t.Fatalf("archived: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = c.get(base)
	body = rec.Body.String()
	if !strings.Contains(body, "Archived workspace") || !strings.Contains(body, `id="run-jobs" disabled`) {
		t.Errorf("archived workspace page:\n%s", body)
	}
	if !strings.Contains(body, jobserver.MsgArchived) {
		t.Error("no message after the redirect from run-jobs")
	}
	rec = c.post(base+"run-jobs/", url.Values{"csrf_token": {c.csrf()}, "backend": {"tpp"}, "requested_actions": {"counts"}})
	if rec.Code != http.StatusBadRequest || e.counts().requests != 0 {
		t.Errorf("POST to an archived workspace: %d, %d requests", rec.Code, e.counts().requests)
	}
}

func TestJobPagesAndRedirects(t *testing.T) {
	e := newEnv(t)
	jr := e.submit("generate_cohort")
	jobs, _ := e.st.RequestJobs(e.ctx, jr.ID)
	j := jobs[0]
	jrURL := "/" + e.project.Slug + "/" + e.ws.Name + "/" + strconv.FormatInt(jr.ID, 10) + "/"
	c := e.signIn("alice")

	rec := c.get(jrURL + j.ID + "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("job page: %d\n%s", rec.Code, rec.Body)
	}
	assertInOrder(t, pageText(rec.Body.String()), "Job: generate_cohort", "Cancel job", "Timeline", "Created:",
		"Job information", "Status", "Pending", "Job identifier", j.ID, "Requested by", "Alice Andrews", "Backend", "TPP",
		"Run command", "cohortextractor", "Job metrics")

	for path, want := range map[string]string{
		jrURL + j.ID[:5] + "/":     jrURL + j.ID + "/", // a unique prefix
		"/jobs/" + j.ID + "/":      jrURL + j.ID + "/",
		"/jobs/" + j.ID[:6] + "/":  jrURL + j.ID + "/",
		jrURL + "zzzzzzzzzzzzzzz/": "", // no such job
	} {
		rec := c.get(path)
		if want == "" {
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, rec.Code)
			}
			continue
		}
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
			t.Errorf("%s: %d %q, want a redirect to %s", path, rec.Code, rec.Header().Get("Location"), want)
		}
	}

	// Cancel one job, then its button is disabled.
	rec = c.post(jrURL+j.ID+"/cancel/", url.Values{"csrf_token": {c.csrf()}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != jrURL+j.ID+"/" {
		t.Fatalf("cancel job: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	body := c.get(jrURL + j.ID + "/").Body.String()
	if !strings.Contains(body, "Cancelled: generate_cohort.") || !strings.Contains(body, `disabled title="This job can no longer be cancelled"`) {
		t.Errorf("after cancelling:\n%s", body)
	}
	// bob may not cancel alice's request.
	jr2 := e.submit("generate_cohort")
	b := e.signIn("bob")
	rec = b.post("/"+e.project.Slug+"/"+e.ws.Name+"/"+strconv.FormatInt(jr2.ID, 10)+"/cancel/", url.Values{"csrf_token": {b.csrf()}})
	if rec.Code != http.StatusForbidden {
		t.Errorf("bob cancelling alice's request: %d", rec.Code)
	}
	// Signed out, the cancel button is not shown and cancelling is refused.
	anon := e.client()
	if strings.Contains(anon.get(jrURL).Body.String(), "Cancel job request") {
		t.Error("signed-out visitors see the cancel button")
	}
}
