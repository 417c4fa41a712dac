package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/airlock/review"
)

// TestReleaseHappyPath drives a request from the first file to RELEASED
// through the pages only, then runs the uploader.
func TestReleaseHappyPath(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")

	// The workspace page: the tree with statuses, the one-request warning.
	rec := researcher.get("/workspaces/" + testWS + "/")
	wantStatus(t, "workspace", rec, http.StatusOK)
	doc := assertPageSafe(t, "workspace page", rec)
	if byID(doc, "one-request-warning") == nil {
		t.Error("no warning about one active request per workspace")
	}
	body := rec.Body.String()
	for _, want := range []string{"table.csv", "plot.svg", "counts.log", "excluded.csv.txt", "Unreleased"} {
		if !strings.Contains(body, want) {
			t.Errorf("workspace page lacks %q", want)
		}
	}

	// The file page: details, the frame, the add form.
	rec = researcher.get("/workspaces/" + testWS + "/tree/output/table.csv")
	wantStatus(t, "file page", rec, http.StatusOK)
	doc = assertPageSafe(t, "file page", rec)
	if byID(doc, "add-file-form") == nil {
		t.Fatal("no add-to-request form on an unreleased output")
	}
	frame := byID(doc, "content-frame")
	if frame == nil || attr(frame, "src") != "/workspaces/"+testWS+"/content/output/table.csv" || attr(frame, "sandbox") != "allow-scripts" {
		t.Fatalf("frame %v", frame)
	}
	if !strings.Contains(rec.Body.String(), "job-counts") {
		t.Error("the file page does not show the job id")
	}
	// The content itself comes from the renderer with its own policy.
	rec = researcher.get("/workspaces/" + testWS + "/content/output/table.csv")
	wantStatus(t, "content", rec, http.StatusOK)
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox allow-scripts") {
		t.Errorf("content CSP %q", csp)
	}
	if rec.Header().Get("Content-Disposition") != "" {
		t.Error("a workspace file was sent as a download")
	}

	// Add both files, edit the context, submit.
	id := e.pending(researcher)
	rec = researcher.get("/requests/" + id + "/")
	wantStatus(t, "request page", rec, http.StatusOK)
	doc = assertPageSafe(t, "request page", rec)
	if byID(doc, "action-submit") == nil || byID(doc, "action-withdraw") == nil {
		t.Fatal("the author has no submit or withdraw form")
	}
	if !strings.Contains(rec.Body.String(), "Counts of patients by region.") || !strings.Contains(rec.Body.String(), "FAIL") {
		t.Error("the request page lacks the context or the automated check's verdict")
	}
	// Authors see the findings before they submit.
	rec = researcher.get("/requests/" + id + "/files/output/table.csv")
	wantStatus(t, "author's request file page", rec, http.StatusOK)
	doc = assertPageSafe(t, "author's request file page", rec)
	if byID(doc, "findings") == nil || !strings.Contains(rec.Body.String(), tableFail) {
		t.Error("the author does not see the disclosure findings")
	}
	if byID(doc, "vote-form") != nil || byID(doc, "download-link") != nil {
		t.Error("the author sees a vote form or a download link")
	}
	if byID(doc, "move-file-form") == nil || byID(doc, "withdraw-file-form") == nil {
		t.Error("the author cannot move or withdraw the file")
	}
	wantStatus(t, "submit", researcher.post("/requests/"+id+"/submit", nil), http.StatusSeeOther)
	if st := e.status(id); st != review.Submitted {
		t.Fatalf("after submit: %s", st)
	}

	// checker1: the request is waiting for review.
	checker1 := e.signIn("checker1")
	rec = checker1.get("/")
	if !strings.Contains(rec.Body.String(), "Requests for review") || !strings.Contains(rec.Body.String(), id) {
		t.Error("checker1's home page does not list the request for review")
	}
	rec = checker1.get("/requests/" + id + "/files/output/table.csv")
	wantStatus(t, "checker's file page", rec, http.StatusOK)
	doc = assertPageSafe(t, "checker's file page", rec)
	form := byID(doc, "vote-form")
	if form == nil {
		t.Fatal("no vote form for checker1")
	}
	var acks []string
	for _, in := range findAll(form, "input") {
		if attr(in, "name") == "acknowledge" {
			acks = append(acks, attr(in, "value"))
		}
	}
	if len(acks) != 1 || acks[0] != tableFail {
		t.Fatalf("acknowledgement boxes %v, want [%s]", acks, tableFail)
	}
	if byID(doc, "download-link") == nil {
		t.Error("no download link for a reviewer")
	}
	// A vote without the acknowledgement is refused, naming the finding.
	rec = checker1.post("/requests/"+id+"/vote", url.Values{"file": {"output/table.csv"}, "vote": {"APPROVED"}})
	wantStatus(t, "vote without acknowledgement", rec, http.StatusBadRequest)
	if !strings.Contains(rec.Body.String(), tableFail) {
		t.Errorf("the refusal does not name the finding:\n%s", rec.Body)
	}
	// A private comment during independent review.
	rec = checker1.post("/requests/"+id+"/comment", url.Values{"group": {"default"}, "text": {"checker1 private note"}, "visibility": {"PRIVATE"}})
	wantStatus(t, "checker1 comment", rec, http.StatusSeeOther)
	checker1.review(id)
	if st := e.status(id); st != review.PartiallyReviewed {
		t.Fatalf("after one review: %s", st)
	}
	rec = checker1.get("/requests/" + id + "/")
	if !strings.Contains(rec.Body.String(), review.BlindedNote) {
		t.Error("checker1's own comment is not marked blinded")
	}

	// checker2 does not see checker1's vote or comment while reviews are
	// independent.
	checker2 := e.signIn("checker2")
	rec = checker2.get("/requests/" + id + "/")
	wantStatus(t, "checker2 request page", rec, http.StatusOK)
	assertPageSafe(t, "checker2 request page", rec)
	if b := rec.Body.String(); strings.Contains(b, "checker1 private note") || strings.Contains(b, "checker1: APPROVED") {
		t.Fatal("checker2 sees checker1's comment or vote during independent review")
	}
	rec = checker2.get("/requests/" + id + "/files/output/table.csv")
	if strings.Contains(rec.Body.String(), "checker1") {
		t.Fatal("checker2's file page shows checker1's vote")
	}
	checker2.review(id)
	if st := e.status(id); st != review.Reviewed {
		t.Fatalf("after two reviews: %s", st)
	}
	// Now they see each other's votes.
	rec = checker2.get("/requests/" + id + "/")
	if !strings.Contains(rec.Body.String(), "checker1: APPROVED") || !strings.Contains(rec.Body.String(), "checker1 private note") {
		t.Error("checker2 does not see checker1's vote and comment once both reviews are in")
	}
	doc = parse(t, rec.Body.String())
	if byID(doc, "action-release") == nil || byID(doc, "action-reject") == nil || byID(doc, "action-return") == nil {
		t.Fatal("no release, reject or return forms for a reviewer of a REVIEWED request")
	}

	// Release needs the confirmation box.
	rec = checker1.post("/requests/"+id+"/release", nil)
	wantStatus(t, "release without confirmation", rec, http.StatusBadRequest)
	if e.status(id) != review.Reviewed || len(e.server.creates) != 0 {
		t.Fatal("an unconfirmed release changed something")
	}
	rec = checker1.post("/requests/"+id+"/release", url.Values{"confirm": {"yes"}})
	wantStatus(t, "release", rec, http.StatusSeeOther)
	if st := e.status(id); st != review.Approved {
		t.Fatalf("after release: %s", st)
	}
	e.server.mu.Lock()
	if len(e.server.creates) != 1 || e.server.checkers[0] != "checker1" {
		t.Fatalf("CreateRelease calls %d by %v", len(e.server.creates), e.server.checkers)
	}
	got := map[string]string{}
	for _, f := range e.server.creates[0].Files {
		got[f.Name] = f.SHA256
	}
	e.server.mu.Unlock()
	want := map[string]string{"output/table.csv": sha(tableCSV), "output/plot.svg": sha(plotSVG)}
	if len(got) != len(want) || got["output/table.csv"] != want["output/table.csv"] || got["output/plot.svg"] != want["output/plot.svg"] {
		t.Fatalf("released files %v, want %v", got, want)
	}
	rec = checker1.get("/requests/" + id + "/")
	if p := byID(parse(t, rec.Body.String()), "upload-progress"); p == nil || !strings.Contains(text(p), "0 of 2 files uploaded") {
		t.Errorf("upload progress %v", p)
	}

	// The uploader sends the frozen bytes; the request is RELEASED.
	if err := e.svc.UploadPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.status(id); st != review.Released {
		t.Fatalf("after upload: %s", st)
	}
	e.server.mu.Lock()
	if e.server.uploads[id+"/output/table.csv"] != tableCSV || e.server.uploads[id+"/output/plot.svg"] != plotSVG {
		t.Errorf("uploads %v", e.server.uploads)
	}
	e.server.mu.Unlock()
	rec = researcher.get("/requests/" + id + "/")
	doc = assertPageSafe(t, "released request page", rec)
	links := byID(doc, "released-files")
	if links == nil {
		t.Fatal("no released-file links")
	}
	var hrefs []string
	for _, a := range findAll(links, "a") {
		hrefs = append(hrefs, attr(a, "href"))
	}
	wantLink := serverURL + "/api/v1/releases/" + id + "/files/output/table.csv"
	if len(hrefs) != 2 || (hrefs[0] != wantLink && hrefs[1] != wantLink) {
		t.Errorf("released links %v, want one to %s", hrefs, wantLink)
	}
	// The researcher now sees the decisions; the file is RELEASED in the workspace.
	if !strings.Contains(rec.Body.String(), "APPROVED") {
		t.Error("the author does not see the decisions of a released request")
	}
	rec = researcher.get("/workspaces/" + testWS + "/tree/output/table.csv")
	if !strings.Contains(rec.Body.String(), "Released") {
		t.Error("the released file's status is not Released")
	}
	// The activity log is in UTC.
	if !strings.Contains(researcher.get("/requests/"+id+"/").Body.String(), "2024-05-06 09:00:00 UTC") {
		t.Error("the activity log lacks UTC times")
	}
}

// TestAuthorForms covers the author's other forms: move, withdraw a
// file, co-authors, early return and resubmission, update-file refusal.
func TestAuthorForms(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.pending(researcher)

	// Move plot.svg to a new group as SUPPORTING.
	rec := researcher.post("/requests/"+id+"/move-file", url.Values{"file": {"output/plot.svg"}, "group": {"figures"}, "type": {"SUPPORTING"}})
	wantStatus(t, "move", rec, http.StatusSeeOther)
	f, g := e.record(id).Request.File("output/plot.svg")
	if f == nil || g.Name != "figures" || f.Type != review.Supporting {
		t.Fatalf("after move: %+v in %+v", f, g)
	}
	// Withdraw it (PENDING: removed).
	wantStatus(t, "withdraw file", researcher.post("/requests/"+id+"/withdraw-file", url.Values{"file": {"output/plot.svg"}}), http.StatusSeeOther)
	if f, _ := e.record(id).Request.File("output/plot.svg"); f != nil {
		t.Fatal("the withdrawn file is still on the PENDING request")
	}
	// Co-authors: checker1 cannot author in the workspace, so is refused.
	rec = researcher.post("/requests/"+id+"/add-coauthor", url.Values{"coauthor": {"checker1"}})
	wantStatus(t, "add a co-author who may not author", rec, http.StatusForbidden)
	// Updating a file that has not changed is refused.
	rec = researcher.post("/requests/"+id+"/update-file", url.Values{"file": {"output/table.csv"}})
	wantStatus(t, "update an unchanged file", rec, http.StatusConflict)
	// Submitting without context on a group is refused with the reason.
	rec = researcher.post("/requests/"+id+"/edit-context", url.Values{"group": {"default"}, "context": {""}, "controls": {""}})
	wantStatus(t, "clear context", rec, http.StatusSeeOther)
	rec = researcher.get("/requests/" + id + "/")
	doc := parse(t, rec.Body.String())
	form := byID(doc, "action-submit")
	if form == nil || !strings.Contains(text(form), "Incomplete context and/or controls") {
		t.Fatalf("the submit button does not say why it is not possible: %v", form)
	}
	for _, b := range findAll(form, "button") {
		if !hasAttr(b, "disabled") {
			t.Error("the submit button is enabled without context")
		}
	}
	wantStatus(t, "submit without context", researcher.post("/requests/"+id+"/submit", nil), http.StatusBadRequest)
	if e.status(id) != review.Pending {
		t.Fatal("a request without context was submitted")
	}

	// Withdraw needs the confirmation; then the request is WITHDRAWN.
	wantStatus(t, "withdraw unconfirmed", researcher.post("/requests/"+id+"/withdraw", nil), http.StatusBadRequest)
	wantStatus(t, "withdraw", researcher.post("/requests/"+id+"/withdraw", url.Values{"confirm": {"yes"}}), http.StatusSeeOther)
	if e.status(id) != review.Withdrawn {
		t.Fatalf("after withdraw: %s", e.status(id))
	}
	// An unknown action is a 404.
	wantStatus(t, "unknown action", researcher.post("/requests/"+id+"/explode", nil), http.StatusNotFound)
}

// TestEarlyReturnAndComments covers return-early, comment publishing and
// deletion through the forms.
func TestEarlyReturnAndComments(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker1 := e.signIn("checker1")
	wantStatus(t, "comment", checker1.post("/requests/"+id+"/comment", url.Values{"group": {"default"}, "text": {"first"}, "visibility": {"PRIVATE"}}), http.StatusSeeOther)
	c := e.record(id).Request.Comments
	if len(c) != 1 || c[0].Visibility != review.Private {
		t.Fatalf("comments %+v", c)
	}
	wantStatus(t, "publish", checker1.post("/requests/"+id+"/publish-comment", url.Values{"comment": {c[0].ID}}), http.StatusSeeOther)
	if v := e.record(id).Request.Comments[0].Visibility; v != review.Public {
		t.Fatalf("after publishing: %s", v)
	}
	// The researcher cannot delete the checker's comment.
	if rec := researcher.post("/requests/"+id+"/delete-comment", url.Values{"comment": {c[0].ID}}); rec.Code != http.StatusForbidden && rec.Code != http.StatusConflict {
		t.Fatalf("delete someone else's comment: %d", rec.Code)
	}
	if len(e.record(id).Request.Comments) != 1 {
		t.Fatal("the researcher deleted the checker's comment")
	}
	wantStatus(t, "delete", checker1.post("/requests/"+id+"/delete-comment", url.Values{"comment": {c[0].ID}}), http.StatusSeeOther)
	if n := len(e.record(id).Request.Comments); n != 0 {
		t.Fatalf("%d comments after deleting", n)
	}
	wantStatus(t, "return early", checker1.post("/requests/"+id+"/return-early", url.Values{"confirm": {"yes"}}), http.StatusSeeOther)
	if e.status(id) != review.Returned {
		t.Fatalf("after early return: %s", e.status(id))
	}
	rec := researcher.get("/requests/" + id + "/")
	if byID(parse(t, rec.Body.String()), "action-resubmit") == nil {
		t.Fatal("no resubmit form after an early return")
	}
	wantStatus(t, "resubmit", researcher.post("/requests/"+id+"/resubmit", nil), http.StatusSeeOther)
	if e.status(id) != review.Submitted {
		t.Fatalf("after resubmit: %s", e.status(id))
	}
}
