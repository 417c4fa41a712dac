package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/releaseapi"
	"github.com/haven-tre/haven/internal/webkit"
	"github.com/haven-tre/haven/internal/webkit/webkittest"
)

// Names the tests share with webkit.
const csrfField = webkit.CSRFField

func truncate(s string, n int) string { return webkit.Truncate(s, n) }

// t0 is the fixed "now" the tests start at.
var t0 = time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC)

const (
	testWS        = "covid-ws"
	serverURL     = "https://jobs.haven.test"
	tableCSV      = "region,count\nNorth,3\nSouth,125\nEast,240\n"
	plotSVG       = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`
	inputCSV      = "patient_id,age\n1,40\n2,51\n"
	countsLog     = "counts: starting\ncounts: done\n"
	excludedNote  = "output/excluded.csv was excluded: File has patient_id column\n"
	injectionName = "output/<img src=x onerror=alert(1)>.csv"
	tableFail     = "C1@r1c2" // the FAIL finding on table.csv's count of 3
)

// fileSpec is one file of the test workspace: its bytes (nil: not on
// disk) and its manifest level ("": no manifest entry).
type fileSpec struct {
	content  string
	onDisk   bool
	level    string
	excluded bool
}

func testFiles() map[string]fileSpec {
	return map[string]fileSpec{
		"output/table.csv":        {content: tableCSV, onDisk: true, level: "moderately_sensitive"},
		"output/plot.svg":         {content: plotSVG, onDisk: true, level: "moderately_sensitive"},
		"output/input.csv":        {content: inputCSV, onDisk: true, level: "highly_sensitive"},
		"output/excluded.csv":     {level: "moderately_sensitive", excluded: true},
		"output/excluded.csv.txt": {content: excludedNote, onDisk: true},
		"metadata/counts.log":     {content: countsLog, onDisk: true},
		injectionName:             {content: "a,b\n1,2\n", onDisk: true, level: "moderately_sensitive"},
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// makeWorkspace writes a medium-privacy workspace with a real manifest.
func makeWorkspace(t *testing.T, dir, name string, files map[string]fileSpec) {
	t.Helper()
	root := filepath.Join(dir, name)
	entries := map[string]outputs.ManifestEntry{}
	for p, f := range files {
		if f.onDisk {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(f.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if f.level == "" {
			continue
		}
		e := outputs.ManifestEntry{
			Level: f.level, JobID: "job-counts", Action: "counts", Size: int64(len(f.content)),
			ContentHash: sha(f.content), Excluded: f.excluded, Timestamp: float64(t0.Unix()),
		}
		if f.excluded {
			msg := "File has patient_id column"
			e.Message = &msg
		}
		entries[p] = e
	}
	data, err := json.MarshalIndent(map[string]any{"workspace": name, "repo": nil, "outputs": entries}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, outputs.ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeServer is the job server as Airlock sees it.
type fakeServer struct {
	mu       sync.Mutex
	profiles map[string]*releaseapi.Profile
	tokens   map[string]string // user → their one valid token
	refused  map[string]bool   // Authorise answers 403
	down     bool              // Authorise fails as the network would
	creates  []releaseapi.CreateRequest
	checkers []string
	uploads  map[string]string // release/name → bytes
	events   []releaseapi.Event
	authCall int
}

var _ airlock.ReleaseServer = (*fakeServer)(nil)

func newFakeServer() *fakeServer {
	member := map[string]releaseapi.ProfileWorkspace{
		testWS: {Project: releaseapi.ProfileProject{Name: "Covid research", Slug: "covid", Ongoing: true, Orgs: []string{"Uni"}}},
	}
	return &fakeServer{
		profiles: map[string]*releaseapi.Profile{
			"researcher": {Username: "researcher", Fullname: "Rita Researcher", Workspaces: member},
			"checker1":   {Username: "checker1", Fullname: "Carl Checker", OutputChecker: true},
			"checker2":   {Username: "checker2", Fullname: "Cleo Checker", OutputChecker: true},
			"other":      {Username: "other", Fullname: "Otto Other"},
		},
		tokens: map[string]string{
			"researcher": "apple banana cherry", "checker1": "delta echo foxtrot",
			"checker2": "golf hotel india", "other": "juliet kilo lima",
		},
		refused: map[string]bool{},
		uploads: map[string]string{},
	}
}

func (f *fakeServer) Authenticate(ctx context.Context, user, token string) (*releaseapi.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if want, ok := f.tokens[user]; !ok || want != token {
		return nil, &releaseapi.APIError{Status: http.StatusForbidden, Message: "the login token is wrong, used or expired"}
	}
	return f.profiles[user], nil
}

func (f *fakeServer) Authorise(ctx context.Context, user string) (*releaseapi.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.authCall++
	switch {
	case f.down:
		return nil, errors.New("post https://jobs.haven.test/api/airlock/v1/authorise: connection refused")
	case f.refused[user] || f.profiles[user] == nil:
		return nil, &releaseapi.APIError{Status: http.StatusForbidden, Message: user + " is no longer a member of this backend"}
	}
	return f.profiles[user], nil
}

func (f *fakeServer) CreateRelease(ctx context.Context, checker string, req releaseapi.CreateRequest) (*releaseapi.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, req)
	f.checkers = append(f.checkers, checker)
	return &releaseapi.Release{ID: req.ID, Workspace: req.Workspace}, nil
}

func (f *fakeServer) Upload(ctx context.Context, releaseID, name string, data []byte) (*releaseapi.Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads[releaseID+"/"+name] = string(data)
	return &releaseapi.Upload{ReleaseID: releaseID, Name: name}, nil
}

func (f *fakeServer) SendEvent(ctx context.Context, e releaseapi.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
	return nil
}

// env is a whole Airlock: a real store, a real workspace, the Service,
// the pages and a fake job server.
type env struct {
	t      *testing.T
	ctx    context.Context
	store  *astore.Store
	svc    *airlock.Service
	h      *Handler
	server *fakeServer
	medium string
	clk    *webkittest.Clock
}

func (e *env) clock() time.Time { return e.clk.Now() }

func (e *env) advance(d time.Duration) { e.clk.Advance(d) }

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := astore.Open(ctx, filepath.Join(dir, "airlock.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, store: st, server: newFakeServer(), medium: filepath.Join(dir, "medium"), clk: webkittest.NewClock(t0)}
	makeWorkspace(t, e.medium, testWS, testFiles())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = &airlock.Service{
		Store: st, Workspaces: workspace.Dir{Root: e.medium}, FilesDir: filepath.Join(dir, "requests"),
		Server: e.server, Logger: logger, Now: e.clock,
	}
	e.h, err = New(Config{Service: e.svc, Store: st, Server: e.server, ServerURL: serverURL + "/", Logger: logger, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// client is a browser: it keeps its cookies between requests.
type client struct {
	e       *env
	cookies map[string]*http.Cookie
}

func (e *env) client() *client { return &client{e: e, cookies: map[string]*http.Cookie{}} }

func (c *client) do(req *http.Request) *httptest.ResponseRecorder {
	c.e.t.Helper()
	rec := webkittest.Do(c.e.h, c.cookies, req)
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		c.e.t.Errorf("%s %s: X-Content-Type-Options %q", req.Method, req.URL, got)
	}
	return rec
}

func (c *client) get(target string) *httptest.ResponseRecorder {
	c.e.t.Helper()
	return c.do(httptest.NewRequest(http.MethodGet, target, nil))
}

// postRaw posts a form as it is.
func (c *client) postRaw(target string, form url.Values) *httptest.ResponseRecorder {
	c.e.t.Helper()
	return c.do(webkittest.PostForm(target, form))
}

// post posts a form with the session's CSRF token.
func (c *client) post(target string, form url.Values) *httptest.ResponseRecorder {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, c.csrf())
	return c.postRaw(target, form)
}

// csrf reads the CSRF token from a page, as a browser's form would carry it.
func (c *client) csrf() string {
	c.e.t.Helper()
	rec := c.get("/")
	if rec.Code != http.StatusOK {
		c.e.t.Fatalf("GET / for the CSRF token: %d", rec.Code)
	}
	doc := parse(c.e.t, rec.Body.String())
	for _, n := range findAll(doc, "input") {
		if attr(n, "name") == csrfField && attr(n, "value") != "" {
			return attr(n, "value")
		}
	}
	c.e.t.Fatal("no CSRF token on the home page")
	return ""
}

// signIn signs a client in as user with their token.
func (e *env) signIn(user string) *client {
	e.t.Helper()
	c := e.client()
	rec := c.get("/login/")
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET /login/: %d", rec.Code)
	}
	rec = c.postRaw("/login/", url.Values{csrfField: {loginCSRF(e.t, rec)}, "user": {user}, "token": {e.server.tokens[user]}})
	if rec.Code != http.StatusSeeOther || c.cookies[sessionCookie] == nil {
		e.t.Fatalf("sign in as %s: %d %s", user, rec.Code, rec.Body.String())
	}
	return c
}

// loginCSRF is the token of the sign-in form on a page.
func loginCSRF(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	for _, n := range findAll(parse(t, rec.Body.String()), "input") {
		if attr(n, "name") == csrfField {
			return attr(n, "value")
		}
	}
	t.Fatal("the sign-in form has no CSRF token")
	return ""
}

func parse(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// findAll returns every element named tag.
func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// byID returns the element with this id, or nil.
func byID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode && attr(n, "id") == id {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// assertPageSafe checks what every Airlock page must hold: the CSP, no
// script element at all and no javascript: link.
func assertPageSafe(t *testing.T, what string, rec *httptest.ResponseRecorder) *html.Node {
	t.Helper()
	if got := rec.Header().Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("%s: CSP %q", what, got)
	}
	if got := rec.Header().Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("%s: Referrer-Policy %q", what, got)
	}
	doc := parse(t, rec.Body.String())
	if s := findAll(doc, "script"); len(s) != 0 {
		t.Errorf("%s: %d script elements", what, len(s))
	}
	for _, tag := range []string{"a", "iframe", "form", "img"} {
		for _, n := range findAll(doc, tag) {
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: <%s> has an event handler attribute %s", what, tag, a.Key)
				}
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(v, "javascript:") {
					t.Errorf("%s: <%s %s=%q>", what, tag, a.Key, a.Val)
				}
			}
		}
	}
	if len(findAll(doc, "style")) != 0 {
		t.Errorf("%s: inline <style>", what)
	}
	return doc
}

// wantStatus fails unless rec has status code.
func wantStatus(t *testing.T, what string, rec *httptest.ResponseRecorder, code int) {
	t.Helper()
	if rec.Code != code {
		t.Fatalf("%s: status %d, want %d\n%s", what, rec.Code, code, truncate(rec.Body.String(), 3000))
	}
}

// requestID is the id in a redirect to a request page.
func requestID(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	loc := rec.Header().Get("Location")
	id, ok := strings.CutPrefix(loc, "/requests/")
	if !ok {
		t.Fatalf("redirect to %q, not a request page", loc)
	}
	return strings.TrimSuffix(id, "/")
}

// record loads a request from the store.
func (e *env) record(id string) *astore.Record {
	e.t.Helper()
	rec, err := e.store.Request(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

func (e *env) status(id string) review.Status { return e.record(id).Request.Status }

// sessionCount says whether the client's session still exists.
func (c *client) sessionAlive() bool {
	ck := c.cookies[sessionCookie]
	if ck == nil {
		return false
	}
	_, err := c.e.store.Session(c.e.ctx, auth.HashToken(ck.Value), c.e.clock())
	return err == nil
}

// addFile adds a workspace file to the researcher's request through the
// page's form; it returns the request id.
func (c *client) addFile(path, group string, typ review.FileType) string {
	c.e.t.Helper()
	rec := c.post("/workspaces/"+testWS+"/add-file", url.Values{"path": {path}, "group": {group}, "type": {string(typ)}})
	wantStatus(c.e.t, "add "+path, rec, http.StatusSeeOther)
	return requestID(c.e.t, rec)
}

// pending makes a PENDING request with table.csv (OUTPUT) and plot.svg
// (OUTPUT) in group "default" with context and controls.
func (e *env) pending(researcher *client) string {
	e.t.Helper()
	id := researcher.addFile("output/table.csv", "default", review.Output)
	if id2 := researcher.addFile("output/plot.svg", "default", review.Output); id2 != id {
		e.t.Fatalf("second file went to request %s, not %s", id2, id)
	}
	rec := researcher.post("/requests/"+id+"/edit-context", url.Values{
		"group": {"default"}, "context": {"Counts of patients by region."}, "controls": {"Small counts redacted; rounded to 5."},
	})
	wantStatus(e.t, "edit context", rec, http.StatusSeeOther)
	return id
}

// submitted makes a SUBMITTED request.
func (e *env) submitted(researcher *client) string {
	e.t.Helper()
	id := e.pending(researcher)
	wantStatus(e.t, "submit", researcher.post("/requests/"+id+"/submit", nil), http.StatusSeeOther)
	if st := e.status(id); st != review.Submitted {
		e.t.Fatalf("after submit: %s", st)
	}
	return id
}

// review votes APPROVED on both files (acknowledging the FAIL finding)
// and submits the review.
func (c *client) review(id string) {
	c.e.t.Helper()
	for _, name := range []string{"output/table.csv", "output/plot.svg"} {
		f, _ := c.e.record(id).Request.File(name)
		if f == nil {
			c.e.t.Fatalf("%s is not on request %s", name, id)
		}
		wantStatus(c.e.t, "vote on "+name, c.post("/requests/"+id+"/vote", url.Values{
			"file": {name}, "vote": {"APPROVED"}, "acknowledge": f.FailFindings,
		}), http.StatusSeeOther)
	}
	wantStatus(c.e.t, "submit review", c.post("/requests/"+id+"/submit-review", nil), http.StatusSeeOther)
}

func astoreFilterAll() astore.Filter { return astore.Filter{} }

func astoreAudit(id string) astore.AuditFilter { return astore.AuditFilter{Request: id} }
