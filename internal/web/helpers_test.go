package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
	"github.com/haven-tre/haven/internal/webkit"
	"github.com/haven-tre/haven/internal/webkit/webkittest"
)

// Names the tests share with webkit.
const csrfHeader = webkit.CSRFHeader

var errNotFound = webkit.ErrNotFound

func safeNext(next string) string { return webkit.SafeNext(next) }

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)

// testProjectYAML is the project.yaml of the test repository.
const testProjectYAML = `version: '3.0'

expectations:
  population_size: 1000

actions:
  generate_cohort:
    run: cohortextractor:latest generate_cohort --study-definition study_definition
    outputs:
      highly_sensitive:
        cohort: output/input.csv

  counts:
    run: python:latest python analysis/counts.py
    needs: [generate_cohort]
    outputs:
      moderately_sensitive:
        counts: output/counts.csv
`

// env is a job server with a real SQLite store, a real git repository and
// the pages registered on a mux.
type env struct {
	t       *testing.T
	ctx     context.Context
	st      store.Store
	svc     *jobserver.Service
	h       *Handler
	mux     *http.ServeMux
	repo    string // the git repository's path
	headSHA string

	clk *webkittest.Clock

	org     *store.Org
	project *store.Project
	other   *store.Project // another team's project
	ws      *store.Workspace
	otherWS *store.Workspace
	backend *store.Backend
	alice   *store.User // ProjectDeveloper on project, member of the backend
	bob     *store.User // ProjectDeveloper on other, member of the backend
}

func (e *env) clock() time.Time { return e.clk.Now() }

func (e *env) setNow(t time.Time) { e.clk.Set(t) }

func init() {
	// Cheap password hashing keeps the tests fast.
	auth.HashParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenServer(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, st: st, clk: webkittest.NewClock(t0)}
	e.repo, e.headSHA = makeRepo(t, map[string]string{"project.yaml": testProjectYAML})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = &jobserver.Service{Store: st, Git: gitrepo.New(t.TempDir()), Now: e.clock, Logger: logger}
	e.h, err = New(Config{Service: e.svc, Store: st, Logger: logger, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	e.h.Register(e.mux)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e.org, err = e.svc.CreateOrg(ctx, "Bennett Institute", "")
	must(err)
	e.project, err = e.svc.CreateProject(ctx, e.org.Slug, "Covid codes research", "")
	must(err)
	e.other, err = e.svc.CreateProject(ctx, e.org.Slug, "Another team", "")
	must(err)
	e.ws, err = e.svc.CreateWorkspace(ctx, nil, jobserver.NewWorkspace{Project: e.project.Slug, Name: "primary-care-covid", Repo: e.repo, Branch: "main"})
	must(err)
	e.otherWS, err = e.svc.CreateWorkspace(ctx, nil, jobserver.NewWorkspace{Project: e.other.Slug, Name: "other-team-ws", Repo: e.repo, Branch: "main"})
	must(err)
	e.backend, _, err = e.svc.CreateBackend(ctx, "tpp", "TPP")
	must(err)
	e.alice, err = e.svc.CreateUser(ctx, "alice", "alice@example.org", "Alice Andrews", testPassword, nil)
	must(err)
	e.bob, err = e.svc.CreateUser(ctx, "bob", "bob@example.org", "Bob Brown", testPassword, nil)
	must(err)
	must(e.svc.AddProjectMember(ctx, e.project.Slug, "alice", []store.Role{store.RoleProjectDeveloper}))
	must(e.svc.AddProjectMember(ctx, e.other.Slug, "bob", []store.Role{store.RoleProjectDeveloper}))
	must(e.svc.AddBackendMember(ctx, "tpp", "alice"))
	must(e.svc.AddBackendMember(ctx, "tpp", "bob"))
	return e
}

// git runs git in dir.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.org",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.org",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// makeRepo creates a git repository with one commit on main.
func makeRepo(t *testing.T, files map[string]string) (dir, sha string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("HAVEN_REQUIRE_GIT") == "1" {
			t.Fatal("git is required (HAVEN_REQUIRE_GIT=1) but not installed")
		}
		t.Skip("git is not installed")
	}
	dir = t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "initial")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

// client is a browser: it keeps cookies between requests to the mux.
type client struct {
	e       *env
	cookies map[string]*http.Cookie
	bearer  string
}

func (e *env) client() *client { return &client{e: e, cookies: map[string]*http.Cookie{}} }

func (c *client) do(req *http.Request) *httptest.ResponseRecorder {
	c.e.t.Helper()
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	return webkittest.Do(c.e.mux, c.cookies, req)
}

func (c *client) get(path string) *httptest.ResponseRecorder {
	c.e.t.Helper()
	return c.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (c *client) post(path string, form url.Values) *httptest.ResponseRecorder {
	c.e.t.Helper()
	return c.do(webkittest.PostForm(path, form))
}

func (c *client) postJSON(path, body string) *httptest.ResponseRecorder {
	c.e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

// csrf is the signed-in client's CSRF token.
func (c *client) csrf() string {
	c.e.t.Helper()
	ck := c.cookies[sessionCookie]
	if ck == nil {
		c.e.t.Fatal("not signed in")
	}
	s, err := c.e.st.Session(c.e.ctx, auth.HashToken(ck.Value), c.e.clock())
	if err != nil {
		c.e.t.Fatal(err)
	}
	return s.CSRFToken
}

// signIn signs a client in as username.
func (e *env) signIn(username string) *client {
	e.t.Helper()
	c := e.client()
	rec := c.get("/login/")
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET /login/: %d", rec.Code)
	}
	rec = c.post("/login/", url.Values{"csrf_token": {c.cookies[csrfCookie].Value}, "username": {username}, "password": {testPassword}})
	if rec.Code != http.StatusSeeOther || c.cookies[sessionCookie] == nil {
		e.t.Fatalf("sign in as %s: %d %s", username, rec.Code, rec.Body.String())
	}
	return c
}

// counts is a snapshot of the rows tests check are unchanged.
type counts struct {
	requests int
	jobs     int
	audit    int
}

func (e *env) counts() counts {
	e.t.Helper()
	jrs, total, err := e.st.JobRequests(e.ctx, store.JobRequestFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	c := counts{requests: total}
	for _, jr := range jrs {
		jobs, err := e.st.RequestJobs(e.ctx, jr.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		c.jobs += len(jobs)
		for _, j := range jobs {
			if j.Cancelled {
				c.jobs += 1000 // a cancellation changes the snapshot
			}
		}
	}
	ev, err := e.st.AuditEvents(e.ctx, "", 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	c.audit = len(ev)
	return c
}

func newJSONRequest(path, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}
