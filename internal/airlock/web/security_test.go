package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/airlock/review"
)

func TestAuthorsCannotReview(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	before := e.record(id).Version
	for _, tc := range []struct {
		action string
		form   url.Values
	}{
		{"vote", url.Values{"file": {"output/table.csv"}, "vote": {"APPROVED"}, "acknowledge": {tableFail}}},
		{"submit-review", nil},
		{"reset-votes", nil},
		{"return-early", url.Values{"confirm": {"yes"}}},
		{"release", url.Values{"confirm": {"yes"}}},
		{"reject", url.Values{"confirm": {"yes"}}},
	} {
		rec := researcher.post("/requests/"+id+"/"+tc.action, tc.form)
		if rec.Code != http.StatusForbidden {
			t.Errorf("researcher %s on own request: %d, want 403\n%s", tc.action, rec.Code, truncate(rec.Body.String(), 1500))
		}
	}
	// The author never reads the frozen copies through the request's
	// endpoints: the file page frames the workspace's file instead.
	for _, p := range []string{"/requests/" + id + "/content/output/table.csv", "/requests/" + id + "/content/output/table.csv?plain=1"} {
		rec := researcher.get(p)
		wantStatus(t, "author reads "+p, rec, http.StatusForbidden)
		if strings.Contains(rec.Body.String(), "North") {
			t.Errorf("the refusal of %s shows the file's content", p)
		}
	}
	page := researcher.get("/requests/" + id + "/files/output/table.csv")
	wantStatus(t, "author's file page", page, http.StatusOK)
	if body := page.Body.String(); strings.Contains(body, `src="/requests/`) || !strings.Contains(body, `src="/workspaces/`+testWS+`/content/output/table.csv"`) {
		t.Errorf("the author's file page frames the frozen copy:\n%s", truncate(body, 3000))
	}
	rec := researcher.get("/requests/" + id + "/download/output/table.csv")
	wantStatus(t, "author download", rec, http.StatusForbidden)
	if rec.Header().Get("Content-Disposition") != "" {
		t.Error("the refused download still carries a Content-Disposition")
	}
	if got := e.record(id).Version; got != before {
		t.Errorf("refused actions changed the request (version %d → %d)", before, got)
	}
	if len(e.server.creates) != 0 {
		t.Error("a refused release reached the job server")
	}
	// A reviewer may download: the attachment with the frozen bytes.
	checker := e.signIn("checker1")
	rec = checker.get("/requests/" + id + "/download/output/table.csv")
	wantStatus(t, "checker download", rec, http.StatusOK)
	if !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment") || rec.Body.String() != tableCSV {
		t.Errorf("download: %q %q", rec.Header().Get("Content-Disposition"), rec.Body.String())
	}
}

func TestOtherUsersSeeNothing(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	other := e.signIn("other")
	rec := other.get("/")
	wantStatus(t, "other's home", rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), testWS) || strings.Contains(rec.Body.String(), id) {
		t.Error("other's home page lists the workspace or the request")
	}
	for _, p := range []string{
		"/workspaces/" + testWS + "/",
		"/workspaces/" + testWS + "/tree/output/table.csv",
		"/workspaces/" + testWS + "/content/output/table.csv",
		"/requests/" + id + "/",
		"/requests/" + id + "/files/output/table.csv",
		"/requests/" + id + "/content/output/table.csv",
		"/requests/" + id + "/download/output/table.csv",
		"/workspaces/no-such-ws/",
	} {
		rec := other.get(p)
		wantStatus(t, "other GET "+p, rec, http.StatusNotFound)
		assertPageSafe(t, "404 page", rec)
	}
	rec = other.post("/workspaces/"+testWS+"/add-file", url.Values{"path": {"output/table.csv"}})
	wantStatus(t, "other add-file", rec, http.StatusNotFound)
	rec = other.post("/requests/"+id+"/comment", url.Values{"group": {"default"}, "text": {"hello"}})
	wantStatus(t, "other comment", rec, http.StatusNotFound)
}

func TestHighlySensitiveNeverShown(t *testing.T) {
	e := newEnv(t)
	for _, who := range []string{"researcher", "checker1"} {
		c := e.signIn(who)
		rec := c.get("/workspaces/" + testWS + "/")
		wantStatus(t, who+" workspace", rec, http.StatusOK)
		if strings.Contains(rec.Body.String(), "input.csv") {
			t.Errorf("%s: the tree lists the highly_sensitive file", who)
		}
		for _, p := range []string{"/workspaces/" + testWS + "/tree/output/input.csv", "/workspaces/" + testWS + "/content/output/input.csv", "/workspaces/" + testWS + "/content/output/input.csv?plain=1"} {
			rec := c.get(p)
			wantStatus(t, who+" GET "+p, rec, http.StatusNotFound)
			if strings.Contains(rec.Body.String(), "patient_id") {
				t.Errorf("%s: %s leaks the file's content", who, p)
			}
		}
	}
	researcher := e.signIn("researcher")
	rec := researcher.post("/workspaces/"+testWS+"/add-file", url.Values{"path": {"output/input.csv"}})
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusBadRequest {
		t.Fatalf("add the highly_sensitive file: %d", rec.Code)
	}
	recs, err := e.store.Requests(e.ctx, astoreFilterAll())
	if err != nil || len(recs) != 0 {
		t.Fatalf("requests after refused adds: %d, %v", len(recs), err)
	}
}

func TestPathTraversalRefused(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker := e.signIn("checker1")
	ws := "/workspaces/" + testWS
	rq := "/requests/" + id
	var targets []string
	for _, prefix := range []string{ws + "/tree/", ws + "/content/", rq + "/files/", rq + "/content/", rq + "/download/"} {
		for _, evil := range []string{
			"../../../../etc/passwd",
			"output/../output/input.csv",
			"output/%2e%2e/%2e%2e/etc/passwd",
			"%2e%2e/%2e%2e/etc/passwd",
			"output%2F..%2Finput.csv",
			"output%2finput.csv",
			"..%5c..%5cetc%5cpasswd",
			"/etc/passwd",
			"output//table.csv",
			"./output/table.csv",
			"output/.hidden",
			"output/table.csv%00.txt",
		} {
			targets = append(targets, prefix+evil)
		}
	}
	for _, p := range targets {
		rec := checker.get(p)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 400 or 404", p, rec.Code)
		}
		if b := rec.Body.String(); strings.Contains(b, "root:") || strings.Contains(b, "patient_id") {
			t.Errorf("GET %s leaks content", p)
		}
	}
	// Form fields naming paths.
	for _, evil := range []string{"../x", "/etc/passwd", "output/../output/input.csv", "output/./table.csv", "output\\table.csv", "", "output/.hidden"} {
		rec := researcher.post(ws+"/add-file", url.Values{"path": {evil}})
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Errorf("add-file %q: %d, want 400 or 404", evil, rec.Code)
		}
		rec = checker.post(rq+"/vote", url.Values{"file": {evil}, "vote": {"APPROVED"}})
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Errorf("vote on %q: %d, want 400 or 404", evil, rec.Code)
		}
	}
	// A bad request id or workspace name is never looked up.
	for _, p := range []string{"/requests/..%2f/", "/requests/%3Cscript%3E/", "/workspaces/..%2f/", "/workspaces/a%20b/"} {
		rec := checker.get(p)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, rec.Code)
		}
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker := e.signIn("checker1")
	before := e.record(id)
	for name, form := range map[string]url.Values{
		"missing":      {"group": {"default"}, "text": {"csrf test"}},
		"wrong":        {"group": {"default"}, "text": {"csrf test"}, csrfField: {"x" + checker.csrf()}},
		"other user's": {"group": {"default"}, "text": {"csrf test"}, csrfField: {researcher.csrf()}},
	} {
		rec := checker.postRaw("/requests/"+id+"/comment", form)
		wantStatus(t, name+" CSRF token", rec, http.StatusForbidden)
	}
	for _, a := range []string{"vote", "submit-review", "return-early"} {
		rec := checker.postRaw("/requests/"+id+"/"+a, url.Values{"file": {"output/plot.svg"}, "vote": {"APPROVED"}, "confirm": {"yes"}})
		wantStatus(t, a+" without CSRF token", rec, http.StatusForbidden)
	}
	rec := researcher.postRaw("/workspaces/"+testWS+"/add-file", url.Values{"path": {injectionName}})
	wantStatus(t, "add-file without CSRF token", rec, http.StatusForbidden)
	rec = researcher.postRaw("/logout/", nil)
	wantStatus(t, "logout without CSRF token", rec, http.StatusForbidden)
	if !researcher.sessionAlive() {
		t.Error("a logout without CSRF token ended the session")
	}
	after := e.record(id)
	if after.Version != before.Version || len(after.Request.Comments) != 0 || after.Request.Status != before.Request.Status {
		t.Fatalf("CSRF-less posts changed the request: version %d → %d", before.Version, after.Version)
	}
	if f, _ := after.Request.File(injectionName); f != nil {
		t.Fatal("a CSRF-less add-file added the file")
	}
	audit, err := e.store.Audit(e.ctx, astoreAudit(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range audit {
		if ev.Type == review.EventComment || ev.Type == review.EventFileApprove {
			t.Errorf("audit event %s after CSRF-less posts", ev.Type)
		}
	}
}

func TestInjectionEscaped(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	// A file whose name is markup, in a group whose name is a script.
	const evilGroup = "<script>alert(1)</script>"
	id := researcher.addFile(injectionName, evilGroup, review.Output)
	researcher.addFile("output/table.csv", "default", review.Output)
	for _, text := range []string{"<script>alert(1)</script>", "[x](javascript:alert(1))", `<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">y</a>`} {
		rec := researcher.post("/requests/"+id+"/comment", url.Values{"group": {evilGroup}, "text": {text}})
		wantStatus(t, "comment "+text, rec, http.StatusSeeOther)
	}
	rec := researcher.get("/requests/" + id + "/")
	wantStatus(t, "request page", rec, http.StatusOK)
	doc := assertPageSafe(t, "request page with injections", rec)
	if len(findAll(doc, "img")) != 0 {
		t.Error("an img element made it onto the page")
	}
	if !strings.Contains(rec.Body.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the group name is not shown escaped")
	}
	rec = researcher.get("/workspaces/" + testWS + "/")
	doc = assertPageSafe(t, "workspace page with an evil file name", rec)
	if len(findAll(doc, "img")) != 0 {
		t.Error("the evil file name became an element in the tree")
	}
	p := "/workspaces/" + testWS + "/tree/output/" + url.PathEscape("<img src=x onerror=alert(1)>.csv")
	rec = researcher.get(p)
	wantStatus(t, "evil file page", rec, http.StatusOK)
	doc = assertPageSafe(t, "evil file page", rec)
	if len(findAll(doc, "img")) != 0 {
		t.Error("the evil file name became an element on its page")
	}
	rec = researcher.get("/requests/" + id + "/files/output/" + url.PathEscape("<img src=x onerror=alert(1)>.csv"))
	wantStatus(t, "evil request file page", rec, http.StatusOK)
	doc = assertPageSafe(t, "evil request file page", rec)
	if len(findAll(doc, "img")) != 0 {
		t.Error("the evil file name became an element on the request file page")
	}
}

func TestFramesAreSandboxed(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker := e.signIn("checker1")
	for _, tc := range []struct {
		who     *client
		page    string
		sandbox string
	}{
		{researcher, "/workspaces/" + testWS + "/tree/output/table.csv", "allow-scripts"},
		{researcher, "/workspaces/" + testWS + "/tree/output/table.csv?plain=1", ""},
		{researcher, "/workspaces/" + testWS + "/tree/output/plot.svg", ""},
		{researcher, "/workspaces/" + testWS + "/tree/metadata/counts.log", ""},
		{researcher, "/workspaces/" + testWS + "/tree/output/excluded.csv.txt", ""},
		{checker, "/requests/" + id + "/files/output/table.csv", "allow-scripts"},
		{checker, "/requests/" + id + "/files/output/plot.svg", ""},
		{checker, "/requests/" + id + "/files/output/plot.svg?plain=1", ""},
	} {
		rec := tc.who.get(tc.page)
		wantStatus(t, tc.page, rec, http.StatusOK)
		doc := assertPageSafe(t, tc.page, rec)
		frames := findAll(doc, "iframe")
		if len(frames) != 1 {
			t.Fatalf("%s: %d iframes", tc.page, len(frames))
		}
		f := frames[0]
		if !hasAttr(f, "sandbox") || attr(f, "sandbox") != tc.sandbox {
			t.Errorf("%s: sandbox present %v value %q, want %q", tc.page, hasAttr(f, "sandbox"), attr(f, "sandbox"), tc.sandbox)
		}
		if strings.Contains(attr(f, "sandbox"), "allow-same-origin") {
			t.Errorf("%s: frame allows same origin", tc.page)
		}
		// The frame's content has the renderer's policy, never the page's.
		rec = tc.who.get(attr(f, "src"))
		wantStatus(t, "frame of "+tc.page, rec, http.StatusOK)
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "sandbox") || csp == contentSecurityPolicy {
			t.Errorf("frame of %s: CSP %q", tc.page, csp)
		}
		if strings.Contains(csp, "allow-scripts") != (tc.sandbox == "allow-scripts") {
			t.Errorf("frame of %s: CSP %q does not match the frame's sandbox %q", tc.page, csp, tc.sandbox)
		}
	}
	// The SVG's own script is never run: its response is sandboxed without scripts.
	rec := checker.get("/requests/" + id + "/content/output/plot.svg")
	if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "allow-scripts") {
		t.Errorf("SVG content CSP %q", csp)
	}
}

func TestEveryPageHasTheCSP(t *testing.T) {
	e := newEnv(t)
	researcher := e.signIn("researcher")
	id := e.submitted(researcher)
	checker := e.signIn("checker1")
	for _, tc := range []struct {
		c    *client
		path string
		code int
	}{
		{e.client(), "/login/", http.StatusOK},
		{researcher, "/", http.StatusOK},
		{researcher, "/workspaces/" + testWS + "/", http.StatusOK},
		{researcher, "/workspaces/" + testWS + "/tree/output/", http.StatusOK},
		{researcher, "/workspaces/" + testWS + "/tree/output/table.csv", http.StatusOK},
		{researcher, "/workspaces/" + testWS + "/tree/output/?show_out_of_date=1", http.StatusOK},
		{researcher, "/requests/" + id + "/", http.StatusOK},
		{checker, "/", http.StatusOK},
		{checker, "/requests/" + id + "/", http.StatusOK},
		{checker, "/requests/" + id + "/files/output/table.csv", http.StatusOK},
		{checker, "/no/such/page", http.StatusNotFound},
		{checker, "/requests/" + id + "/files/output/nope.csv", http.StatusNotFound},
		{checker, "/workspaces/" + testWS + "/tree/../x", http.StatusBadRequest},
	} {
		rec := tc.c.get(tc.path)
		wantStatus(t, tc.path, rec, tc.code)
		assertPageSafe(t, tc.path, rec)
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.path, rec.Header().Get("Cache-Control"))
		}
	}
}
