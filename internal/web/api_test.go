package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/haven-tre/haven/internal/jobserver"
)

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func TestAPIRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.bearer = e.apiToken("alice")
	ws := e.ws.Name

	// Create.
	rec := c.postJSON("/api/v1/workspaces/"+ws+"/job-requests/", `{"backend":"tpp","actions":["counts"],"force_run_dependencies":false}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	created := decode[apiJobRequest](t, rec.Body.Bytes())
	if created.Number == 0 || len(created.Identifier) != 16 || created.Status != "pending" ||
		created.Message != jobserver.MsgScheduled || len(created.Jobs) != 2 || created.CreatedBy != "alice" {
		t.Fatalf("created %+v", created)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/v1/job-requests/"+strconv.FormatInt(created.Number, 10)+"/" {
		t.Errorf("Location %q", loc)
	}

	// Get, anonymously (job requests are public).
	anon := e.client()
	rec = anon.get("/api/v1/job-requests/" + strconv.FormatInt(created.Number, 10) + "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
	got := decode[apiJobRequest](t, rec.Body.Bytes())
	if got.Identifier != created.Identifier || len(got.Jobs) != 2 || got.Jobs[0].StatusCode != "created" || got.Jobs[0].CreatedAt == nil || got.Jobs[0].StartedAt != nil {
		t.Fatalf("got %+v", got)
	}

	// Statuses.
	rec = anon.get("/api/v1/workspaces/" + ws + "/statuses/")
	statuses := decode[map[string]string](t, rec.Body.Bytes())
	if rec.Code != http.StatusOK || statuses["counts"] != "pending" || statuses["generate_cohort"] != "pending" {
		t.Fatalf("statuses: %d %v", rec.Code, statuses)
	}
	rec = anon.get("/api/v1/workspaces/")
	list := decode[map[string][]apiWorkspace](t, rec.Body.Bytes())
	if len(list["workspaces"]) != 2 {
		t.Fatalf("workspaces %v", list)
	}

	// Cancel one action, then the rest.
	rec = c.postJSON("/api/v1/job-requests/"+strconv.FormatInt(created.Number, 10)+"/cancel/", `{"action":"counts"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	res := decode[struct {
		Cancelled  []string      `json:"cancelled"`
		JobRequest apiJobRequest `json:"job_request"`
	}](t, rec.Body.Bytes())
	if len(res.Cancelled) != 1 || res.Cancelled[0] != "counts" || res.JobRequest.Status != "running" {
		t.Fatalf("cancel counts: %+v", res)
	}
	rec = c.postJSON("/api/v1/job-requests/"+strconv.FormatInt(created.Number, 10)+"/cancel/", ``)
	res = decode[struct {
		Cancelled  []string      `json:"cancelled"`
		JobRequest apiJobRequest `json:"job_request"`
	}](t, rec.Body.Bytes())
	if rec.Code != http.StatusOK || len(res.Cancelled) != 1 || res.JobRequest.Status != "failed" {
		t.Fatalf("cancel the rest: %d %+v", rec.Code, res)
	}
	for _, j := range res.JobRequest.Jobs {
		if j.Status != "failed" || j.StatusCode != "cancelled_by_user" || j.CompletedAt == nil {
			t.Errorf("job %+v", j)
		}
	}

	// A form error: 400 {error, field}.
	rec = c.postJSON("/api/v1/workspaces/"+ws+"/job-requests/", `{"backend":"tpp","actions":[]}`)
	fe := decode[map[string]string](t, rec.Body.Bytes())
	if rec.Code != http.StatusBadRequest || fe["field"] != "actions" || fe["error"] != jobserver.MsgNoActions {
		t.Errorf("no actions: %d %v", rec.Code, fe)
	}
	// Another team's workspace: 404.
	rec = c.postJSON("/api/v1/workspaces/"+e.otherWS.Name+"/job-requests/", `{"backend":"tpp","actions":["counts"]}`)
	if rec.Code != http.StatusNotFound {
		t.Errorf("other team's workspace: %d %s", rec.Code, rec.Body)
	}
}

func TestAPIAuthentication(t *testing.T) {
	e := newEnv(t)
	create := "/api/v1/workspaces/" + e.ws.Name + "/job-requests/"
	body := `{"backend":"tpp","actions":["counts"]}`

	// No credentials, or a wrong token: 401.
	if rec := e.client().postJSON(create, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous create: %d", rec.Code)
	}
	bad := e.client()
	bad.bearer = "not-a-token"
	if rec := bad.postJSON(create, body); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("wrong token: %d", rec.Code)
	}
	if rec := bad.get("/api/v1/workspaces/"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET with a wrong token: %d", rec.Code)
	}
	// An expired token.
	expired := e.client()
	expired.bearer = e.apiToken("alice")
	e.setNow(e.clock().AddDate(1, 0, 0))
	if rec := expired.postJSON(create, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("expired token: %d", rec.Code)
	}
	e.setNow(t0)

	// The session cookie works for GETs, and for POSTs only with the
	// X-CSRF-Token header.
	c := e.signIn("alice")
	if rec := c.get("/api/v1/workspaces/"); rec.Code != http.StatusOK {
		t.Errorf("GET with the cookie: %d", rec.Code)
	}
	if rec := c.postJSON(create, body); rec.Code != http.StatusForbidden {
		t.Errorf("cookie POST without X-CSRF-Token: %d", rec.Code)
	}
	if n := e.counts().requests; n != 0 {
		t.Fatalf("%d requests stored by refused calls", n)
	}
	req := newJSONRequest(create, body)
	req.Header.Set(csrfHeader, c.csrf())
	if rec := c.do(req); rec.Code != http.StatusCreated {
		t.Errorf("cookie POST with X-CSRF-Token: %d %s", rec.Code, rec.Body)
	}

	// Malformed bodies.
	tok := e.client()
	tok.bearer = e.apiToken("alice")
	for _, b := range []string{``, `{`, `[]`, `{"backend":"tpp","actions":"counts"}`, `{"backend":"tpp","actions":["counts"]} {}`} {
		if rec := tok.postJSON(create, b); rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d", b, rec.Code)
		}
	}
	// Unknown API paths answer JSON 404s.
	rec := tok.get("/api/v1/nope/")
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("unknown API path: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}
