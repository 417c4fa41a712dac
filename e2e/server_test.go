package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agent"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/fake"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/pipeline"
)

// gitCommit makes dir a git repository on branch main with everything in
// it committed, and returns the commit.
func gitCommit(t *testing.T, dir string) string {
	t.Helper()
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-qm", "study")
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// serverProc is a `haven server` process with its data directory.
type serverProc struct {
	t       *testing.T
	dataDir string
	url     string
	token   string // a researcher's API token
	cmd     *exec.Cmd
	stderr  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// admin runs `haven server admin ARGS` on the server's data directory.
func (s *serverProc) admin(args ...string) string {
	s.t.Helper()
	r := runHaven(s.t, s.dataDir, append(append([]string{"server", "admin"}, args...), "--data-dir", s.dataDir)...)
	if r.code != 0 {
		s.t.Fatalf("haven server admin %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// start runs `haven server` on a free loopback port with protocol timings
// short enough for a test.
func (s *serverProc) start() {
	s.t.Helper()
	s.stderr = &lockedBuffer{}
	s.cmd = exec.Command(havenBin, "server", "--listen", "127.0.0.1:0", "--data-dir", s.dataDir,
		"--poll-hold", "500ms", "--lease-ttl", "3s", "--reap-every", "200ms", "--recovery-deadline", "6s")
	s.cmd.Stderr = s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
		if s.t.Failed() {
			s.t.Logf("server log:\n%s", tail(s.stderr.String(), 4000))
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		s.t.Fatalf("server printed no address: %v\n%s", err, s.stderr.String())
	}
	m := regexp.MustCompile(`http://\S+`).FindString(line)
	if m == "" {
		s.t.Fatalf("no URL in %q", line)
	}
	s.url = m
	go io.Copy(io.Discard, out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// api calls the JSON API with the researcher's token.
func (s *serverProc) api(method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type apiJob struct {
	Identifier    string `json:"identifier"`
	Action        string `json:"action"`
	Status        string `json:"status"`
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
}

type apiRequest struct {
	Number        int64    `json:"number"`
	Identifier    string   `json:"identifier"`
	Status        string   `json:"status"`
	StatusMessage string   `json:"status_message"`
	Jobs          []apiJob `json:"jobs"`
	Error         string   `json:"error"`
}

func (r apiRequest) job(action string) apiJob {
	for _, j := range r.Jobs {
		if j.Action == action {
			return j
		}
	}
	return apiJob{}
}

// submit asks for actions of a workspace on a backend.
func (s *serverProc) submit(workspace, backend string, actions ...string) apiRequest {
	s.t.Helper()
	var r apiRequest
	code := s.api("POST", "/api/v1/workspaces/"+workspace+"/job-requests/", map[string]any{"backend": backend, "actions": actions}, &r)
	if code != http.StatusCreated {
		s.t.Fatalf("submit %s %v on %s: %d %+v", workspace, actions, backend, code, r)
	}
	return r
}

func (s *serverProc) request(n int64) apiRequest {
	s.t.Helper()
	var r apiRequest
	if code := s.api("GET", fmt.Sprintf("/api/v1/job-requests/%d/", n), nil, &r); code != http.StatusOK {
		s.t.Fatalf("get request %d: %d", n, code)
	}
	return r
}

// waitFor polls a request until cond holds, failing after limit.
func (s *serverProc) waitFor(n int64, limit time.Duration, what string, cond func(apiRequest) bool) apiRequest {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := s.request(n)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("request %d: %s did not happen within %v; last seen %+v", n, what, limit, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func complete(r apiRequest) bool {
	switch r.Status {
	case "succeeded", "failed", "nothing_to_do":
		return true
	}
	return false
}

// agentProc is a `haven agent` process.
type agentProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

func startAgentProc(t *testing.T, s *serverProc, backend, root string) *agentProc {
	t.Helper()
	a := &agentProc{stderr: &lockedBuffer{}}
	a.cmd = exec.Command(havenBin, "agent", "--server", s.url, "--backend", backend,
		"--token-file", filepath.Join(s.dataDir, "tokens", backend+".agent-token"), "--executor", "local",
		"--high-privacy-dir", filepath.Join(root, "high"), "--medium-privacy-dir", filepath.Join(root, "medium"),
		"--state-dir", filepath.Join(root, "state"))
	a.cmd.Stderr = a.stderr
	// The agent and the jobs it starts form one process group, so a
	// test can kill the lot as a machine failure would.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		a.cmd.Wait()
		if t.Failed() {
			t.Logf("agent %s log:\n%s", backend, tail(a.stderr.String(), 4000))
		}
	})
	return a
}

// kill ends the agent and its jobs at once, with no chance to tidy up.
func (a *agentProc) kill() {
	syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	a.cmd.Wait()
}

// startFakeAgent runs an agent in this process with the fake executor,
// against the server's real HTTP API. Cancelling the returned context makes
// the agent vanish as a crashed one would (it gives back only jobs it
// has not started).
func startFakeAgent(t *testing.T, s *serverProc, backend string, scripts map[string]fake.Script) context.CancelFunc {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(s.dataDir, "tokens", backend+".agent-token"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ag, err := agent.New(ctx, agent.Config{
		ServerURL: s.url, Backend: backend, Token: strings.TrimSpace(string(tok)),
		Executor: fake.New(fake.Config{Scripts: scripts, Lookup: func(executor.JobDefinition) (fake.Script, bool) {
			return fake.Script{Duration: 200 * time.Millisecond}, true
		}}),
		HighDir: filepath.Join(root, "high"), MediumDir: filepath.Join(root, "medium"), StateDir: filepath.Join(root, "state"),
		Code:         gitrepo.New(filepath.Join(root, "git")),
		PollInterval: 100 * time.Millisecond, RetryMin: 100 * time.Millisecond, RetryMax: time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); ag.Run(ctx) }()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(func() { stop(); ag.Close() })
	return stop
}

// The whole system: a job server, two backends with an agent each (a
// `haven agent` process with the local executor, and an in-process agent
// with the fake executor), example studies submitted through the JSON API
// and reaching their final states; a cancellation; an agent killed in the
// middle of a job, recovered by the next agent, and one that never comes
// back, whose job fails with a clear message instead of staying running.
func TestServerAndAgents(t *testing.T) {
	needGit(t)
	needPython(t)

	s := &serverProc{t: t, dataDir: t.TempDir()}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("correct horse battery\n"), 0o600)
	s.admin("create-user", "simon", "--email", "simon@example.org", "--fullname", "Simon Davy", "--password-file", pw)
	s.admin("create-org", "University of Liverpool")
	s.admin("create-project", "Flu CATs", "--org", "university-of-liverpool")
	tokenDir := filepath.Join(s.dataDir, "tokens")
	s.admin("create-backend", "tpp", "--artificial-data", "--token-dir", tokenDir)
	s.admin("create-backend", "emis", "--artificial-data", "--token-dir", tokenDir)
	s.admin("add-project-member", "simon", "--project", "flu-cats")
	s.admin("add-backend-member", "simon", "--backend", "tpp")
	s.admin("add-backend-member", "simon", "--backend", "emis")

	flucats := copyExample(t, "flucats")
	gitCommit(t, flucats)
	codes := copyExample(t, "primary-care-covid-codes")
	gitCommit(t, codes)
	slow := project(t, map[string]string{
		"project.yaml": `version: '3.0'
expectations:
  population_size: 10
actions:
  slow:
    run: python:latest python analysis/slow.py
    outputs:
      moderately_sensitive:
        table: output/slow.csv
  after:
    run: python:latest python analysis/slow.py after
    needs: [slow]
    outputs:
      moderately_sensitive:
        table: output/after.csv
`,
		// Runs until killed, so the test decides when the job ends.
		"analysis/slow.py": "import time\nwhile True:\n    time.sleep(0.1)\n",
	})
	gitCommit(t, slow)
	s.admin("create-workspace", "flucats", "--project", "flu-cats", "--repo", flucats, "--branch", "main")
	s.admin("create-workspace", "covid-codes", "--project", "flu-cats", "--repo", codes, "--branch", "main")
	s.admin("create-workspace", "slow-study", "--project", "flu-cats", "--repo", slow, "--branch", "main")
	s.token = strings.TrimSpace(s.admin("create-api-token", "simon"))
	s.start()

	tppRoot := t.TempDir()
	tpp := startAgentProc(t, s, "tpp", tppRoot)
	stopEmis := startFakeAgent(t, s, "emis", map[string]fake.Script{
		"slow": {Hang: true}, // runs until cancelled
	})

	// An example study end to end on the local executor: dummy cohorts,
	// the joiner, the dataset report.
	fr := s.submit("flucats", "tpp", "run_all")
	if len(fr.Jobs) != 6 {
		t.Fatalf("flucats run_all planned %d jobs; want 6: %+v", len(fr.Jobs), fr)
	}
	for _, j := range fr.Jobs {
		if j.Identifier != pipeline.JobID(fr.Identifier, j.Action) {
			t.Errorf("job %s of %s has identifier %s; want the deterministic %s", j.Action, fr.Identifier, j.Identifier, pipeline.JobID(fr.Identifier, j.Action))
		}
	}

	// Another on the second backend, with the fake executor.
	cr := s.submit("covid-codes", "emis", "run_all")

	fr = s.waitFor(fr.Number, 3*time.Minute, "flucats finishing", complete)
	if fr.Status != "succeeded" {
		t.Fatalf("flucats on tpp ended %s: %+v", fr.Status, fr.Jobs)
	}
	for _, p := range []string{"high/flucats/output/input_end.csv.gz", "high/flucats/output/joined/input_2022-03-20.csv.gz",
		"medium/flucats/output/joined/input_2022-03-20.html", "medium/flucats/metadata/manifest.json"} {
		if _, err := os.Stat(filepath.Join(tppRoot, p)); err != nil {
			t.Errorf("after the flucats run the backend lacks %s: %v", p, err)
		}
	}
	for _, p := range []string{"medium/flucats/output/input_end.csv.gz"} {
		if _, err := os.Stat(filepath.Join(tppRoot, p)); err == nil {
			t.Errorf("highly sensitive %s reached the medium-privacy directory", p)
		}
	}
	cr = s.waitFor(cr.Number, time.Minute, "covid-codes finishing", complete)
	if cr.Status != "succeeded" || len(cr.Jobs) != 3 {
		t.Fatalf("covid-codes on emis ended %s with %d jobs: %+v", cr.Status, len(cr.Jobs), cr.Jobs)
	}

	// Nothing to do: asking again for what already succeeded.
	var again apiRequest
	if code := s.api("POST", "/api/v1/workspaces/flucats/job-requests/", map[string]any{"backend": "tpp", "actions": []string{"run_all"}}, &again); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("second run_all: %d %+v", code, again)
	}
	if again.Status != "nothing_to_do" || len(again.Jobs) != 0 {
		t.Errorf("second run_all = %s with %d jobs; want nothing_to_do", again.Status, len(again.Jobs))
	}

	// Cancellation: a running job on the fake backend and a pending one
	// waiting for it.
	sr := s.submit("slow-study", "emis", "run_all")
	s.waitFor(sr.Number, time.Minute, "slow running", func(r apiRequest) bool { return r.job("slow").Status == "running" })
	var cancelled apiRequest
	if code := s.api("POST", fmt.Sprintf("/api/v1/job-requests/%d/cancel/", sr.Number), map[string]any{}, &cancelled); code != http.StatusOK {
		t.Fatalf("cancel: %d %+v", code, cancelled)
	}
	sr = s.waitFor(sr.Number, 30*time.Second, "the cancel reaching the agent", complete)
	for _, action := range []string{"slow", "after"} {
		j := sr.job(action)
		if j.StatusCode != string(haven.StatusCancelledByUser) || j.StatusMessage != "Cancelled by user" {
			t.Errorf("%s after cancelling = %s: %s; want cancelled_by_user: Cancelled by user", action, j.StatusCode, j.StatusMessage)
		}
	}
	if sr.Status != "failed" {
		t.Errorf("cancelled request status %s; want failed", sr.Status)
	}

	// An agent killed in the middle of a job: the next agent on the same
	// state directory is told to recover it, and it reaches a final state.
	kr := s.submit("slow-study", "tpp", "slow")
	s.waitFor(kr.Number, time.Minute, "slow executing on tpp", func(r apiRequest) bool {
		return r.job("slow").StatusCode == string(haven.StatusExecuting)
	})
	tpp.kill()
	startAgentProc(t, s, "tpp", tppRoot)
	kr = s.waitFor(kr.Number, time.Minute, "the killed job's recovery", complete)
	kj := kr.job("slow")
	if !haven.StatusCode(kj.StatusCode).IsFinal() {
		t.Fatalf("recovered job is %s", kj.StatusCode)
	}
	t.Logf("killed agent's job after recovery: %s: %s", kj.StatusCode, kj.StatusMessage)

	// An agent that vanishes for good: its job fails after the recovery
	// deadline with a message saying so, and never stays running.
	vr := s.submit("slow-study", "emis", "slow")
	// Executing, not only claimed: a job whose lease lapses before it
	// started goes back to the queue instead (spec §7.6).
	s.waitFor(vr.Number, time.Minute, "slow executing on emis", func(r apiRequest) bool {
		return r.job("slow").StatusCode == string(haven.StatusExecuting)
	})
	stopEmis()
	vr = s.waitFor(vr.Number, time.Minute, "the lost job failing", complete)
	vj := vr.job("slow")
	if vj.StatusCode != string(haven.StatusInternalError) || !strings.Contains(vj.StatusMessage, "stopped reporting") {
		t.Errorf("job of a vanished agent = %s: %s; want internal_error saying the backend stopped reporting", vj.StatusCode, vj.StatusMessage)
	}
}
