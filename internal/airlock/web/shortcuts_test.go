package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A reviewer's group shortcut requests changes on the files they have
// not voted on, leaving files with FAIL findings for their own pages; the
// author cannot use it.
func TestRequestChangesShortcut(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker := e.signIn("checker1")
	page := checker.get("/requests/" + id + "/")
	wantStatus(t, "request page", page, http.StatusOK)
	if !strings.Contains(page.Body.String(), "request-changes") {
		t.Fatal("the reviewer is not offered the group shortcut")
	}
	if strings.Contains(researcher.get("/requests/"+id+"/").Body.String(), "request-changes") {
		t.Error("the author is offered the reviewers' shortcut")
	}
	rec := researcher.post("/requests/"+id+"/request-changes", url.Values{"group": {"default"}})
	wantStatus(t, "author's shortcut", rec, http.StatusForbidden)

	// Both test files have FAIL findings (a count of 3; a script in the
	// SVG), so the shortcut leaves them both for their pages and says so;
	// nothing is voted. (internal/airlock's tests cover the files it votes.)
	before := e.record(id).Version
	rec = checker.post("/requests/"+id+"/request-changes", url.Values{"group": {"default"}})
	wantStatus(t, "shortcut on FAIL files only", rec, http.StatusBadRequest)
	if body := rec.Body.String(); !strings.Contains(body, "output/table.csv") || !strings.Contains(body, "output/plot.svg") {
		t.Errorf("the refusal does not name the files to vote on:\n%s", truncate(body, 2000))
	}
	r := e.record(id)
	if r.Version != before {
		t.Error("a refused shortcut changed the request")
	}
	for _, name := range r.Request.OutputFiles() {
		if f, _ := r.Request.File(name); len(f.Votes) != 0 {
			t.Errorf("%s got votes %v", name, f.Votes)
		}
	}
	rec = checker.post("/requests/"+id+"/request-changes", url.Values{"group": {"nope"}})
	wantStatus(t, "unknown group", rec, http.StatusNotFound)
}

// A folder's page adds several outputs at once; the same path checks
// apply to each, and a highly sensitive file is never added.
func TestAddSeveralFiles(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	page := researcher.get("/workspaces/" + testWS + "/tree/output/")
	wantStatus(t, "folder page", page, http.StatusOK)
	body := page.Body.String()
	if !strings.Contains(body, `id="add-files-form"`) || !strings.Contains(body, `value="output/table.csv"`) || strings.Contains(body, "output/input.csv") {
		t.Fatalf("the folder's add form:\n%s", truncate(body, 4000))
	}
	for _, bad := range []struct {
		paths []string
		code  int
	}{
		{[]string{"output/input.csv"}, http.StatusNotFound},
		{[]string{"output/../output/table.csv"}, http.StatusBadRequest},
		{nil, http.StatusBadRequest},
	} {
		rec := researcher.post("/workspaces/"+testWS+"/add-files", url.Values{"path": bad.paths, "group": {"default"}})
		wantStatus(t, "add-files "+strings.Join(bad.paths, " "), rec, bad.code)
	}
	rec := researcher.post("/workspaces/"+testWS+"/add-files", url.Values{"path": {"output/table.csv", "output/plot.svg"}, "group": {"tables"}, "type": {"OUTPUT"}})
	wantStatus(t, "add-files", rec, http.StatusSeeOther)
	id := requestID(t, rec)
	r := e.record(id).Request
	if g := r.Group("tables"); g == nil || len(g.Files) != 2 {
		t.Fatalf("groups after add-files: %+v", r.Groups)
	}
	// A checker cannot add files.
	checker := e.signIn("checker1")
	rec = checker.post("/workspaces/"+testWS+"/add-files", url.Values{"path": {"output/table.csv"}, "group": {"default"}})
	wantStatus(t, "checker add-files", rec, http.StatusForbidden)
	if strings.Contains(checker.get("/workspaces/"+testWS+"/tree/output/").Body.String(), `id="add-files-form"`) {
		t.Error("a checker is offered the add form")
	}
}
