package e2e

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/haven-tre/haven/internal/actions"
	"github.com/haven-tre/haven/internal/agent"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/server"
	"github.com/haven-tre/haven/internal/store"
)

// updateScreenshots makes the browser tests write the screenshots used by
// the documentation (docs/images/*.png). Without it no file outside the
// test's temporary folders is written.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser tests' page screenshots to docs/images")

// screenshotDir is where -update-screenshots writes, from the package folder.
var screenshotDir = filepath.Join("..", "docs", "images")

// The researcher who signs in. The password meets the server's policy.
const (
	researcherUsername = "amorgan"
	researcherFullname = "Alex Morgan"
	researcherPassword = "correct horse battery staple"
)

// The study the browser tests run: three python actions, one of which
// (fit_model) runs until it is cancelled, so a test can watch it run and
// then cancel it. Every script uses the standard library only.
const browserProjectYAML = `version: '4'

actions:
  prepare_cohort:
    run: python:latest python analysis/prepare_cohort.py
    outputs:
      highly_sensitive:
        cohort: output/cohort.csv

  count_by_region:
    run: python:latest python analysis/count_by_region.py
    needs: [prepare_cohort]
    outputs:
      moderately_sensitive:
        counts: output/counts_by_region.csv

  fit_model:
    run: python:latest python analysis/fit_model.py
    needs: [prepare_cohort]
    outputs:
      moderately_sensitive:
        estimates: output/model_estimates.csv
`

var browserStudyFiles = map[string]string{
	"project.yaml": browserProjectYAML,
	"README.md":    "# FluCATs validation\n\nA small study the browser tests run.\n",
	"analysis/prepare_cohort.py": `import csv
import os
import random

os.makedirs("output", exist_ok=True)
rng = random.Random(42)
regions = ["London", "Midlands", "North West", "South West"]
with open("output/cohort.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["patient_id", "region", "flucats_score"])
    for i in range(1, 1001):
        w.writerow([i, rng.choice(regions), rng.randint(0, 6)])
`,
	"analysis/count_by_region.py": `import collections
import csv
import os

counts = collections.Counter()
with open("output/cohort.csv", newline="") as f:
    for row in csv.DictReader(f):
        counts[row["region"]] += 1
os.makedirs("output", exist_ok=True)
with open("output/counts_by_region.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["region", "patients"])
    for region in sorted(counts):
        w.writerow([region, counts[region]])
`,
	// fit_model outlives any browser test: it only ends when cancelled.
	"analysis/fit_model.py": `import csv
import time

with open("output/cohort.csv", newline="") as f:
    rows = list(csv.DictReader(f))
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    time.sleep(0.1)
with open("output/model_estimates.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["term", "estimate"])
    w.writerow(["flucats_score", 0.42])
`,
}

// site is a job server running in this process, with one organisation,
// project, backend, researcher and workspace, and optionally an agent for
// the backend running jobs with the local executor.
type site struct {
	url       string
	srv       *server.Server
	store     store.Store
	project   *store.Project
	workspace *store.Workspace
	backend   *store.Backend
	user      *store.User
	commit    string // the head of the workspace's branch
	highDir   string // the agent's high-privacy directory ("" without an agent)
	logs      *syncBuffer
}

// requests returns the workspace's job requests, newest first.
func (s *site) requests(t *testing.T) []*store.JobRequest {
	t.Helper()
	jrs, _, err := s.store.JobRequests(context.Background(), store.JobRequestFilter{WorkspaceID: s.workspace.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return jrs
}

// gitIn runs git in dir with a fixed identity and no user configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Alex Morgan", "GIT_AUTHOR_EMAIL=alex.morgan@example.org",
		"GIT_COMMITTER_NAME=Alex Morgan", "GIT_COMMITTER_EMAIL=alex.morgan@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newSite starts a server (SQLite in a temporary folder, a real listener
// on 127.0.0.1) with short agent timings, creates the study's records
// through the Service, and with withAgent starts the backend's agent.
// Everything is stopped when the test ends; the server's and agent's logs
// are printed if it failed.
func newSite(t *testing.T, withAgent bool) *site {
	t.Helper()
	needGit(t)
	ctx := context.Background()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server and agent logs:\n%s", logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The study's repository.
	repo := filepath.Join(t.TempDir(), "flucats")
	for name, content := range browserStudyFiles {
		path := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, repo, "init", "-q", "-b", "main")
	gitIn(t, repo, "add", "-A")
	gitIn(t, repo, "commit", "-q", "-m", "FluCATs validation study")
	commit := gitIn(t, repo, "rev-parse", "HEAD")

	cfg := server.Config{
		DataDir: t.TempDir(), Logger: log,
		Hold: time.Second, TTL: 3 * time.Second, ReapEvery: 500 * time.Millisecond,
	}
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	// server.Config has no extend interval: keep it well inside the short
	// lease, as the protocol requires.
	srv.Agents.ExtendEvery = time.Second

	svc := srv.Service
	s := &site{srv: srv, store: st, commit: commit, logs: logs}
	if _, err := svc.CreateOrg(ctx, "University of Liverpool", "Respiratory infection research"); err != nil {
		t.Fatal(err)
	}
	if s.project, err = svc.CreateProject(ctx, "university-of-liverpool", "FluCATs validation", ""); err != nil {
		t.Fatal(err)
	}
	var tokens jobserver.BackendTokens
	if s.backend, tokens, err = svc.CreateBackend(ctx, "tpp", "TPP"); err != nil {
		t.Fatal(err)
	}
	if s.user, err = svc.CreateUser(ctx, researcherUsername, "alex.morgan@example.org", researcherFullname, researcherPassword, nil); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddProjectMember(ctx, s.project.Slug, researcherUsername, []store.Role{store.RoleProjectDeveloper}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddBackendMember(ctx, "tpp", researcherUsername); err != nil {
		t.Fatal(err)
	}
	if s.workspace, err = svc.CreateWorkspace(ctx, s.user, jobserver.NewWorkspace{
		Project: s.project.Slug, Name: "flucats", Repo: repo, Branch: "main",
		Purpose: "Validate the FluCATs score against hospital admissions.",
	}); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + l.Addr().String()
	serveCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, l) }()
	t.Cleanup(func() {
		stopServer()
		if err := <-served; err != nil {
			t.Errorf("server: %v", err)
		}
	})

	if withAgent {
		s.highDir = filepath.Join(t.TempDir(), "high")
		stateDir := t.TempDir()
		ag, err := agent.New(ctx, agent.Config{
			ServerURL: s.url, Backend: "tpp", Token: tokens.Agent, AgentID: "browser-test-agent",
			Executor: local.New(local.Config{Listing: outputs.NewCodeListing(), Native: actions.Native()}),
			HighDir:  s.highDir, MediumDir: filepath.Join(t.TempDir(), "medium"), StateDir: stateDir,
			Code:    gitrepo.New(filepath.Join(stateDir, "git")),
			MaxJobs: 2, ExtendEvery: time.Second, RetryMin: 100 * time.Millisecond, RetryMax: time.Second,
			Logger: log.With("component", "agent"),
		})
		if err != nil {
			t.Fatal(err)
		}
		agentCtx, stopAgent := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- ag.Run(agentCtx) }()
		// Registered after the server's cleanup, so it runs first: the
		// agent stops while the server still answers.
		t.Cleanup(func() {
			stopAgent()
			if err := <-ran; err != nil {
				t.Errorf("agent: %v", err)
			}
			if err := ag.Close(); err != nil {
				t.Errorf("agent: close: %v", err)
			}
		})
	}
	return s
}

// browserPath finds Chromium or Chrome: $HAVEN_CHROMIUM, else the usual
// names on PATH. Without one the test is skipped, or fails when
// HAVEN_REQUIRE_BROWSER=1.
func browserPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HAVEN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HAVEN_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium or Chrome found on PATH (or in $HAVEN_CHROMIUM) and HAVEN_REQUIRE_BROWSER=1")
	}
	t.Skip("no Chromium or Chrome found on PATH (set HAVEN_CHROMIUM to its path): the browser tests need one")
	return ""
}

// newBrowser starts headless Chromium and returns a context for one tab,
// bounded by limit. The browser is closed when the test ends.
func newBrowser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t)),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (containers, CI).
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser with a context that has no deadline, so that the
	// deadline below ends the test's actions, not the browser.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting %s: %v", browserPath(t), err)
	}
	ctx, cancel := context.WithTimeout(tab, limit)
	t.Cleanup(cancel)
	return ctx
}

// browserRun runs browser actions, failing the test with what was being done.
func browserRun(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// browserGet returns one value read from the page, failing the test on error.
func browserGet[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// follow runs steps that navigate (a click on a link or a submit button)
// and waits for the new page; it returns the page's HTTP status.
func follow(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return int(resp.Status)
}

// css selects by CSS selector, first match.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// elementText is the visible text of the first element sel matches, trimmed.
func elementText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(browserGet(t, ctx, "reading "+sel, chromedp.Text(css(sel))))
}

// pageLocation is the tab's address without the server's origin.
func pageLocation(t *testing.T, ctx context.Context, s *site) string {
	t.Helper()
	return strings.TrimPrefix(browserGet(t, ctx, "reading the location", chromedp.Location()), s.url)
}

// signIn signs the researcher in through the sign-in form and lands on next.
func signIn(t *testing.T, ctx context.Context, s *site, next string) {
	t.Helper()
	browserRun(t, ctx, "opening the sign-in page",
		chromedp.Navigate(s.url+"/login/?next="+next),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#username"), researcherUsername),
		chromedp.SendKeys(css("#password"), researcherPassword),
	)
	if status := follow(t, ctx, "signing in", chromedp.Click(css(`#login-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("signing in: the page after the form answered %d", status)
	}
	if got := pageLocation(t, ctx, s); got != next {
		t.Fatalf("signing in landed on %s, want %s (sign-in error: %q)", got, next, pageText(ctx, "#login-error"))
	}
	if got := elementText(t, ctx, ".nav-user span"); got != "Signed in as "+researcherFullname {
		t.Fatalf("page header says %q, want %q", got, "Signed in as "+researcherFullname)
	}
}

// pageText is the text of sel, or "" when the page has none; for messages.
func pageText(ctx context.Context, sel string) string {
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return e ? e.innerText.trim() : ""; })()`, sel)))
	if err != nil {
		return ""
	}
	return v
}

// pageJob is one item of the job request page's Jobs card.
type pageJob struct {
	Action     string `json:"action"`
	Status     string `json:"status"`
	Identifier string `json:"identifier"`
	Error      string `json:"error"`
	URL        string `json:"url"`
	Waiting    string `json:"waiting"`
}

// jobsJS reads the Jobs card: each item's labelled values, by label.
const jobsJS = `Array.from(document.querySelectorAll("ul.job-list > li")).map(li => {
  const v = {};
  li.querySelectorAll(":scope > dl > dt").forEach(dt => {
    const dd = dt.nextElementSibling;
    v[dt.textContent.trim()] = dd ? dd.textContent.trim() : "";
  });
  const link = li.querySelector("dd a");
  const waiting = li.querySelector(".waiting");
  return {
    action: v["Action:"] || "",
    status: (v["Status:"] || "").replace(/^Status:\s*/, ""),
    identifier: v["Job identifier:"] || "",
    error: v["Error:"] || "",
    url: link ? link.getAttribute("href") : "",
    waiting: waiting ? waiting.textContent.trim() : "",
  };
})`

// pageJobs reads the Jobs card of the job request page, by action.
func pageJobs(t *testing.T, ctx context.Context) map[string]pageJob {
	t.Helper()
	jobs := browserGet(t, ctx, "reading the Jobs card", chromedp.Evaluate[[]pageJob](jobsJS))
	out := map[string]pageJob{}
	for _, j := range jobs {
		out[j.Action] = j
	}
	return out
}

// definitions reads the labels (dt) and values (dd) of the first <dl>
// sel matches.
func definitions(t *testing.T, ctx context.Context, sel string) map[string]string {
	t.Helper()
	js := fmt.Sprintf(`(() => {
  const dl = document.querySelector(%q);
  const v = {};
  if (!dl) return v;
  dl.querySelectorAll(":scope > dt").forEach(dt => {
    const dd = dt.nextElementSibling;
    v[dt.textContent.trim()] = dd ? dd.textContent.trim().replace(/\s+/g, " ") : "";
  });
  return v;
})()`, sel)
	return browserGet(t, ctx, "reading "+sel, chromedp.Evaluate[map[string]string](js))
}

// texts is the trimmed text of every element sel matches.
func texts(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.textContent.trim().replace(/\s+/g, " "))`, sel)
	return browserGet(t, ctx, "reading "+sel, chromedp.Evaluate[[]string](js))
}

// waitForPage reloads the current page until check accepts it or ctx
// ends. check returns a description of what it saw, for the failure
// message.
func waitForPage(t *testing.T, ctx context.Context, what string, check func() (bool, string)) {
	t.Helper()
	last := ""
	for {
		ok, seen := check()
		if ok {
			return
		}
		last = seen
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; the page last showed:\n%s", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatalf("waiting for %s: reloading: %v; the page last showed:\n%s", what, err, last)
		}
	}
}

// screenshot saves a full-page PNG of the current page as
// docs/images/<name>.png when the tests run with -update-screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	png := browserGet(t, ctx, "taking the screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// browserCookie returns the browser's cookie called name for the site.
func browserCookie(t *testing.T, ctx context.Context, s *site, name string) *http.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url + "/"}})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatalf("the browser has no %s cookie for %s", name, s.url)
	return nil
}
