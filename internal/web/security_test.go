package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
)

// submit makes a job request through the service as alice.
func (e *env) submit(actions ...string) *store.JobRequest {
	e.t.Helper()
	res, err := e.svc.Submit(e.ctx, jobserver.SubmitInput{
		User: e.alice, Workspace: e.ws.Name, Backend: "tpp", Actions: actions,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Request
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	rec := c.get("/login/?next=/event-log/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="login-form"`) {
		t.Fatalf("GET /login/: %d", rec.Code)
	}
	tok := c.cookies[csrfCookie].Value

	// A wrong password: 400, the form again with a message, no session.
	rec = c.post("/login/", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"wrong password!"}, "next": {"/event-log/"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), jobserver.MsgBadCredentials) {
		t.Fatalf("wrong password: %d\n%s", rec.Code, rec.Body)
	}
	if c.cookies[sessionCookie] != nil {
		t.Fatal("a failed sign-in set a session cookie")
	}
	// An unknown user: the same message.
	rec = c.post("/login/", url.Values{"csrf_token": {tok}, "username": {"mallory"}, "password": {testPassword}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), jobserver.MsgBadCredentials) {
		t.Fatalf("unknown user: %d", rec.Code)
	}
	// No CSRF token: 403.
	rec = c.post("/login/", url.Values{"username": {"alice"}, "password": {testPassword}})
	if rec.Code != http.StatusForbidden || c.cookies[sessionCookie] != nil {
		t.Fatalf("sign-in without CSRF token: %d", rec.Code)
	}

	// Success: a 303 to next and a session cookie with the right flags.
	rec = c.post("/login/", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {testPassword}, "next": {"/event-log/"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/event-log/" {
		t.Fatalf("sign in: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Fatalf("session cookie %+v", session)
	}
	if session.Secure {
		t.Error("cookie is Secure although SecureCookies is off")
	}
	// Only the hash of the cookie value is stored.
	if _, err := e.st.Session(e.ctx, session.Value, e.clock()); err == nil {
		t.Error("the session is stored under its plain id")
	}
	if _, err := e.st.Session(e.ctx, auth.HashToken(session.Value), e.clock()); err != nil {
		t.Errorf("session not stored under its hash: %v", err)
	}
	rec = c.get("/")
	if !strings.Contains(rec.Body.String(), "Signed in as Alice Andrews") {
		t.Fatal("home page does not show the signed-in user")
	}

	// Signing in again rotates the session: the old id stops working.
	old := session.Value
	c2 := e.signIn("alice")
	if c2.cookies[sessionCookie].Value == old {
		t.Fatal("a second sign-in reused the session id")
	}
	c.cookies[csrfCookie] = &http.Cookie{Name: csrfCookie, Value: tok}
	rec = c.post("/login/", url.Values{"csrf_token": {c.csrf()}, "username": {"alice"}, "password": {testPassword}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("re-sign-in: %d", rec.Code)
	}
	if c.cookies[sessionCookie].Value == old {
		t.Fatal("session not rotated")
	}
	if _, err := e.st.Session(e.ctx, auth.HashToken(old), e.clock()); err == nil {
		t.Error("the old session still works after signing in again")
	}

	// An open redirect through next is refused.
	rec = c2.get("/login/?next=//evil.example/")
	if loc := rec.Header().Get("Location"); loc != "/" {
		t.Errorf("next=//evil.example/ redirected to %q", loc)
	}

	// Sign out needs the token, then ends the session.
	rec = c.post("/logout/", nil)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", rec.Code)
	}
	cur := c.cookies[sessionCookie].Value
	rec = c.post("/logout/", url.Values{"csrf_token": {c.csrf()}})
	if rec.Code != http.StatusSeeOther || c.cookies[sessionCookie] != nil {
		t.Fatalf("logout: %d", rec.Code)
	}
	if _, err := e.st.Session(e.ctx, auth.HashToken(cur), e.clock()); err == nil {
		t.Error("session survives sign-out")
	}
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t)
	h, err := New(Config{Service: e.svc, Store: e.st, SecureCookies: true, Now: e.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login/", nil))
	for _, ck := range rec.Result().Cookies() {
		if !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", ck.Name, ck.Secure, ck.HttpOnly)
		}
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	jr := e.submit("generate_cohort")
	c := e.signIn("alice")
	before := e.counts()
	jrURL := "/" + e.project.Slug + "/" + e.ws.Name + "/" + strconv.FormatInt(jr.ID, 10) + "/"
	jobs, _ := e.st.RequestJobs(e.ctx, jr.ID)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{jrURL + "cancel/", nil},
		{jrURL + "cancel/", url.Values{"csrf_token": {"wrong"}}},
		{jrURL + jobs[0].ID + "/cancel/", url.Values{}},
		{"/" + e.project.Slug + "/" + e.ws.Name + "/run-jobs/", url.Values{"backend": {"tpp"}, "requested_actions": {"generate_cohort"}}},
		{"/" + e.project.Slug + "/" + e.ws.Name + "/run-jobs/", url.Values{"csrf_token": {""}, "backend": {"tpp"}, "requested_actions": {"generate_cohort"}}},
	} {
		rec := c.post(tc.path, tc.form)
		if rec.Code != http.StatusForbidden {
			t.Errorf("POST %s %v: %d, want 403", tc.path, tc.form, rec.Code)
		}
		if !strings.Contains(rec.Body.String(), "security token") {
			t.Errorf("POST %s: the 403 page does not explain the token", tc.path)
		}
	}
	if after := e.counts(); after != before {
		t.Errorf("a refused POST changed the database: %+v -> %+v", before, after)
	}
	// The same cancel with the token works.
	rec := c.post(jrURL+"cancel/", url.Values{"csrf_token": {c.csrf()}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != jrURL {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	rec = c.get(jrURL)
	if !strings.Contains(rec.Body.String(), "Cancelled: generate_cohort.") {
		t.Error("no alert after cancelling")
	}
	if !strings.Contains(rec.Body.String(), "cancelled_by_user: Cancelled by user") {
		t.Error("the cancelled job does not show its error")
	}
	if !strings.Contains(rec.Body.String(), `disabled title="This job request can no longer be cancelled"`) {
		t.Error("the cancel button is not disabled once nothing is left to cancel")
	}
}

func TestOtherTeamsWorkspace(t *testing.T) {
	e := newEnv(t)
	c := e.signIn("alice") // a developer on project, not on other
	before := e.counts()
	base := "/" + e.other.Slug + "/" + e.otherWS.Name + "/run-jobs/"
	if rec := c.get(base); rec.Code != http.StatusNotFound {
		t.Errorf("GET %s: %d, want 404", base, rec.Code)
	}
	if rec := c.get(base + e.headSHA + "/"); rec.Code != http.StatusNotFound {
		t.Errorf("GET run-jobs at a commit: %d, want 404", rec.Code)
	}
	rec := c.post(base, url.Values{"csrf_token": {c.csrf()}, "backend": {"tpp"}, "requested_actions": {"generate_cohort"}})
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST %s: %d, want 404", base, rec.Code)
	}
	// A workspace reached through the wrong project is not found either.
	if rec := c.get("/" + e.project.Slug + "/" + e.otherWS.Name + "/"); rec.Code != http.StatusNotFound {
		t.Errorf("workspace under the wrong project: %d", rec.Code)
	}
	if after := e.counts(); after != before {
		t.Errorf("database changed: %+v -> %+v", before, after)
	}
	// The workspace page is public, but its Run jobs button is disabled
	// with the reason.
	rec = c.get("/" + e.other.Slug + "/" + e.otherWS.Name + "/")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="run-jobs" disabled title="You do not have permission`) {
		t.Errorf("other team's workspace page: %d\n%s", rec.Code, rec.Body)
	}
}

// Hostile path parameters (as they appear in a URL) and form values.
var (
	pathPayloads  = []string{"..%2f..%2fetc%2fpasswd", "..%252f..", "'%3B%20DROP%20TABLE%20job_requests%3B%20--", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%00", ".."}
	fieldPayloads = []string{"../../etc/passwd", "..%2f..%2f", "'; DROP TABLE job_requests; --", "<script>alert(1)</script>", "\x00", ""}
)

func TestHostilePathsAndFields(t *testing.T) {
	e := newEnv(t)
	jr := e.submit("generate_cohort")
	jobs, _ := e.st.RequestJobs(e.ctx, jr.ID)
	c := e.signIn("alice")
	tok := c.csrf()
	bearer := e.apiToken("alice")
	p, w, n, j := e.project.Slug, e.ws.Name, strconv.FormatInt(jr.ID, 10), jobs[0].ID
	before := e.counts()

	var gets, posts []string
	for _, x := range pathPayloads {
		gets = append(gets,
			"/"+x+"/", "/"+x+"/"+w+"/", "/"+p+"/"+x+"/", "/"+p+"/"+x+"/logs/",
			"/"+p+"/"+w+"/"+x+"/", "/"+p+"/"+w+"/"+n+"/"+x+"/", "/"+p+"/"+w+"/run-jobs/"+x+"/",
			"/jobs/"+x+"/", "/status/"+x+"/", "/status/"+x+"/db-availability/", "/static/"+x,
			"/api/v1/workspaces/"+x+"/statuses/", "/api/v1/job-requests/"+x+"/",
		)
		posts = append(posts,
			"/"+p+"/"+w+"/"+x+"/cancel/", "/"+p+"/"+x+"/"+n+"/cancel/", "/"+x+"/"+w+"/"+n+"/cancel/",
			"/"+p+"/"+w+"/"+n+"/"+x+"/cancel/", "/"+p+"/"+w+"/"+x+"/"+j+"/cancel/",
			"/"+p+"/"+x+"/run-jobs/", "/"+x+"/"+w+"/run-jobs/",
		)
	}
	for _, path := range gets {
		rec := c.get(path)
		if rec.Code < 300 || rec.Code >= 500 || rec.Code == http.StatusOK {
			t.Errorf("GET %s: %d, want a redirect or 4xx", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<script>alert") {
			t.Errorf("GET %s echoes the script unescaped", path)
		}
	}
	for _, path := range posts {
		rec := c.post(path, url.Values{"csrf_token": {tok}})
		if rec.Code < 300 || rec.Code >= 500 || rec.Code == http.StatusOK {
			t.Errorf("POST %s: %d, want a redirect or 4xx", path, rec.Code)
		}
	}

	// Every field of the run-jobs form.
	runJobs := "/" + p + "/" + w + "/run-jobs/"
	valid := url.Values{"csrf_token": {tok}, "backend": {"tpp"}, "requested_actions": {"generate_cohort"}, "will_notify": {"no"}}
	for _, x := range fieldPayloads {
		for _, field := range []string{"backend", "requested_actions", "ref", "force_run_dependencies", "will_notify", "csrf_token"} {
			form := url.Values{}
			for k, v := range valid {
				form[k] = v
			}
			form.Set(field, x)
			if x == "" && field != "requested_actions" && field != "csrf_token" {
				continue // empty means "not given" for these, which is valid
			}
			rec := c.post(runJobs, form)
			if rec.Code < 400 || rec.Code >= 500 {
				t.Errorf("run-jobs with %s=%q: %d, want 4xx", field, x, rec.Code)
			}
			if strings.Contains(rec.Body.String(), "<script>alert") {
				t.Errorf("run-jobs with %s=%q echoes the script unescaped", field, x)
			}
		}
	}
	// The API's JSON fields.
	c.bearer = bearer
	for _, x := range fieldPayloads {
		qb, _ := json.Marshal(x)
		q := string(qb)
		for _, body := range []string{
			`{"backend":` + q + `,"actions":["generate_cohort"]}`,
			`{"backend":"tpp","actions":[` + q + `]}`,
			`{"backend":"tpp","actions":["generate_cohort"],"ref":` + q + `}`,
			`{"backend":"tpp","actions":["generate_cohort"],` + q + `:1}`,
		} {
			if x == "" {
				continue // empty fields are "not given" (ref: the branch head)
			}
			rec := c.postJSON("/api/v1/workspaces/"+w+"/job-requests/", body)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("API create %s: %d, want 400", body, rec.Code)
			}
		}
		if x == "" {
			continue // no action: the whole request, a valid cancel
		}
		rec := c.postJSON("/api/v1/job-requests/"+n+"/cancel/", `{"action":`+q+`}`)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Errorf("API cancel %s: %d, want 4xx", x, rec.Code)
		}
	}
	if after := e.counts(); after != before {
		ev, _ := e.st.AuditEvents(e.ctx, "", 1)
		t.Errorf("hostile requests changed the database: %+v -> %+v (newest audit event %+v)", before, after, ev[0])
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, path := range []string{"/", "/login/", "/event-log/", "/status/", "/no/such/page/at/all/", "/health-check", e.h.cssPath, "/api/v1/workspaces/"} {
		rec := c.get(path)
		h := rec.Header()
		if got := h.Get("Content-Security-Policy"); got != contentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: headers %v", path, h)
		}
		if body := rec.Body.String(); strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	rec := c.get(e.h.cssPath)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Cache-Control"), "max-age=31536000") {
		t.Errorf("stylesheet: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if rec := c.get("/no/such/page/"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown page: %d", rec.Code)
	}
}

// failingStore fails one read with an error whose text must never reach
// a page.
type failingStore struct {
	store.Store
}

func (failingStore) JobRequest(context.Context, int64) (*store.JobRequest, error) {
	return nil, errors.New("database is locked: secret internal detail")
}

func TestInternalErrorsHidden(t *testing.T) {
	e := newEnv(t)
	jr := e.submit("generate_cohort")
	var logged strings.Builder
	h, err := New(Config{Service: e.svc, Store: failingStore{e.st}, Now: e.clock,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	for _, path := range []string{
		"/" + e.project.Slug + "/" + e.ws.Name + "/" + strconv.FormatInt(jr.ID, 10) + "/",
		"/api/v1/job-requests/" + strconv.FormatInt(jr.ID, 10) + "/",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s shows the internal error:\n%s", path, rec.Body)
		}
	}
	if !strings.Contains(logged.String(), "secret internal detail") || !strings.Contains(logged.String(), "ref=") {
		t.Errorf("internal error not logged with a reference:\n%s", logged.String())
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.h.wrap("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret") })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("panic: %d\n%s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), "reference") {
		t.Error("the 500 page gives no reference")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	h, err := New(Config{Service: e.svc, Store: e.st, Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	for _, p := range []string{"/health-check", "/health-check", "/nope/nope/nope/nope/nope/nope/"} {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("GET /health-check", "GET", "200")); got != 2 {
		t.Errorf("health-check requests = %v, want 2", got)
	}
	if got := testutil.ToFloat64(h.metrics.requests.WithLabelValues("/", "GET", "404")); got != 1 {
		t.Errorf("unmatched requests = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "haven_http_request_duration_seconds"); err != nil || n == 0 {
		t.Errorf("latency histogram: %d series, %v", n, err)
	}
	// A second Handler on the same registry is refused, not a panic.
	if _, err := New(Config{Service: e.svc, Store: e.st, Registry: reg}); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

func TestStatusPages(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if rec := c.get("/status/tpp/"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("never seen backend: %d", rec.Code)
	}
	if err := e.st.TouchBackend(e.ctx, e.backend.ID, e.clock(), false); err != nil {
		t.Fatal(err)
	}
	if rec := c.get("/status/tpp/"); rec.Code != http.StatusOK {
		t.Errorf("backend seen now: %d", rec.Code)
	}
	e.setNow(e.clock().Add(6 * time.Minute))
	if rec := c.get("/status/tpp/"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("backend not seen for 6 minutes: %d", rec.Code)
	}
	if rec := c.get("/status/nope/"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown backend: %d", rec.Code)
	}
	e.submit("generate_cohort")
	rec := c.get("/status/")
	if rec.Code != http.StatusOK {
		t.Fatalf("/status/: %d", rec.Code)
	}
	assertInOrder(t, pageText(rec.Body.String()), "TPP", "Not seen recently", "No", "No", "1", "0")
	if rec := c.get("/health-check"); rec.Code != http.StatusOK {
		t.Errorf("health check: %d", rec.Code)
	}
}

// apiToken gives a user a personal access token.
func (e *env) apiToken(username string) string {
	e.t.Helper()
	tok, _, err := e.svc.CreateAPIToken(e.ctx, username)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}
