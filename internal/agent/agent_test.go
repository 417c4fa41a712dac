package agent

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/agentapi/agentapitest"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/fake"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/store"
)

// The agent is tested against the real agent API over a real SQLite
// server store (agentapitest), with the fake executor for the protocol's
// paths and the local executor (python3) for real jobs.

const project = `version: '4.0'
actions:
  extract:
    run: python:v2 analysis/extract.py
    outputs:
      highly_sensitive:
        cohort: output/cohort.csv
  analyse:
    run: python:v2 analysis/analyse.py
    needs: [extract]
    outputs:
      moderately_sensitive:
        table: output/table.csv
  misnamed:
    run: python:v2 analysis/misnamed.py
    outputs:
      moderately_sensitive:
        secret: output/secret_cohort_table.csv
  crash:
    run: python:v2 analysis/crash.py
    outputs:
      highly_sensitive:
        x: output/crash.csv
`

var studyFiles = map[string]string{
	"project.yaml": project,
	"analysis/extract.py": `import os
os.makedirs("output", exist_ok=True)
with open("output/cohort.csv", "w") as f:
    f.write("patient_id,age\n1,40\n2,50\n")
`,
	"analysis/analyse.py": `import os
rows = open("output/cohort.csv").read().splitlines()
with open("output/table.csv", "w") as f:
    f.write("n\n%d\n" % (len(rows) - 1))
`,
	"analysis/misnamed.py": `import os, sys
os.makedirs("output", exist_ok=True)
with open("output/wrongly_named_output.csv", "w") as f:
    f.write("a\n1\n")
print("SECRET-LOG-LINE-STDOUT patient 123456")
`,
	"analysis/crash.py": `import sys
print("SECRET-LOG-LINE-STDERR at /workspace/analysis/crash.py", file=sys.stderr)
sys.exit(3)
`,
}

// studyCode exports the test study whatever the commit, counting exports;
// block, if set, makes Export wait until its context ends.
type studyCode struct {
	mu      sync.Mutex
	exports int
	block   bool
}

func (c *studyCode) Export(ctx context.Context, repo, commit, dir string) error {
	c.mu.Lock()
	c.exports++
	block := c.block
	c.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	for name, body := range studyFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dirs are one backend's directories.
type dirs struct{ high, medium, state string }

func newDirs(t *testing.T) dirs {
	root := t.TempDir()
	return dirs{high: filepath.Join(root, "high"), medium: filepath.Join(root, "medium"), state: filepath.Join(root, "state")}
}

// running is an agent running in the background.
type running struct {
	a      *Agent
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the agent (as a shutdown or a kill does), waits for Run to
// return and closes it. It may be called more than once.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(time.Minute):
			r.err = errors.New("the agent did not stop")
		}
		r.a.Close()
	})
	if r.err != nil {
		t.Errorf("Run: %v", r.err)
	}
}

func startAgent(t *testing.T, s *agentapitest.Server, d dirs, ex executor.Executor, code CodeSource, mod func(*Config)) *running {
	t.Helper()
	cfg := Config{
		ServerURL: s.HTTP.URL, Backend: "tpp", Token: s.Token, AgentID: "agent-" + filepath.Base(d.state),
		Executor: ex, HighDir: d.high, MediumDir: d.medium, StateDir: d.state, Code: code,
		MaxJobs: 2, PollInterval: 5 * time.Millisecond, ExtendEvery: 50 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, RunnerPollInterval: 5 * time.Millisecond,
		RecoverGrace: 2 * time.Second, RequestTimeout: 30 * time.Second, Logger: debugLogger,
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

const wait = 2 * time.Minute // a hang guard, not a timing assertion

func is(code haven.StatusCode) func(*store.Job) bool {
	return func(j *store.Job) bool { return j.StatusCode == code }
}

func TestFakeJobSucceeds(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	d := newDirs(t)
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Outputs: map[string]string{"output/cohort.csv": "highly_sensitive"}}}})
	code := &studyCode{}
	r := startAgent(t, s, d, ex, code, nil)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract", Args: []string{"analysis/extract.py"}, Outputs: map[string]string{"output/cohort.csv": "highly_sensitive"}})
	got := s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
	if got.StatusMessage != "Completed successfully" || got.ExitCode == nil || *got.ExitCode != 0 || got.StartedAt.IsZero() || got.CompletedAt.IsZero() {
		t.Errorf("server's job: %q exit %v started %v completed %v", got.StatusMessage, got.ExitCode, got.StartedAt, got.CompletedAt)
	}
	if got.LeaseID != "" {
		t.Errorf("the finished job still holds lease %q", got.LeaseID)
	}
	r.stop(t)
	if n := ex.Starts(jobs[0].ID); n != 1 {
		t.Errorf("the job was started %d times", n)
	}
	// The agent's own store has the job with its outputs.
	a2, err := New(context.Background(), Config{ServerURL: "http://unused", Token: "x", Executor: ex, Code: code, HighDir: d.high, StateDir: d.state})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	local, err := a2.db.Job(context.Background(), jobs[0].ID)
	if err != nil || local.StatusCode != haven.StatusSucceeded || local.Outputs["output/cohort.csv"] != "highly_sensitive" {
		t.Errorf("agent's store: %+v %v", local, err)
	}
	if fi, err := os.Stat(filepath.Join(d.state, "checkouts", agentapitest.Commit, "project.yaml")); err != nil || fi.Size() == 0 {
		t.Errorf("the code was not exported into the state directory: %v", err)
	}
}

func TestFakeJobFailureIsNonzeroExit(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"crash": {ExitCode: 3}}})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, nil)
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "crash", Args: []string{"analysis/crash.py"}, Outputs: map[string]string{"output/crash.csv": "highly_sensitive"}})
	got := s.WaitFor(jobs[0].ID, wait, "nonzero_exit", is(haven.StatusNonzeroExit))
	if got.ExitCode == nil || *got.ExitCode != 3 || !agentapi.AllowedMessage(got.StatusCode, got.StatusMessage) {
		t.Errorf("failed job: %q exit %v", got.StatusMessage, got.ExitCode)
	}
}

func TestCancelMidJob(t *testing.T) {
	for _, via := range []string{"extend", "poll"} {
		t.Run(via, func(t *testing.T) {
			s := agentapitest.New(t, agentapitest.Options{Hold: 20 * time.Millisecond})
			ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Hang: true}}})
			extend := 50 * time.Millisecond
			if via == "poll" {
				extend = time.Hour // only the poll's cancel task can tell the agent
			}
			r := startAgent(t, s, newDirs(t), ex, &studyCode{}, func(c *Config) { c.ExtendEvery = extend })
			defer r.stop(t)
			jr, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
			s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))
			if _, err := s.Store.Cancel(s.Ctx, jr.ID, nil, s.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			s.API.Wake(s.Backend.ID)
			got := s.WaitFor(jobs[0].ID, wait, "cancelled_by_user", is(haven.StatusCancelledByUser))
			if got.StatusMessage != "Cancelled by user" {
				t.Errorf("message %q", got.StatusMessage)
			}
			if len(ex.CallsTo("Terminate", jobs[0].ID)) == 0 {
				t.Error("the executor was never asked to terminate the job")
			}
			for _, c := range ex.CallsTo("Finalize", jobs[0].ID) {
				if !c.Options.Cancelled {
					t.Errorf("finalized without Cancelled: %+v", c)
				}
			}
		})
	}
}

func TestServerDownThenUp(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Hang: true}}})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, nil)
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))

	s.SetDown(true)
	// While the server is away the job finishes; its report waits.
	ex.SetScript(jobs[0].ID, fake.Script{})
	ex.Terminate(context.Background(), executor.JobDefinition{ID: jobs[0].ID})
	deadline := time.Now().Add(wait)
	for s.Refused() < 5 {
		if time.Now().After(deadline) {
			t.Fatal("the agent never tried the server while it was down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode.IsFinal() {
		t.Fatalf("the server changed while down: %s", got.StatusCode)
	}
	s.SetDown(false)
	got := s.WaitFor(jobs[0].ID, wait, "a final state after the server came back", func(j *store.Job) bool { return j.StatusCode.IsFinal() })
	// Terminated by the test: exit 137, reported redacted.
	if got.StatusCode != haven.StatusNonzeroExit || got.ExitCode == nil || *got.ExitCode != 137 {
		t.Errorf("job after reconnecting: %s %q exit %v", got.StatusCode, got.StatusMessage, got.ExitCode)
	}
	// And the agent polls again: a new job runs.
	ex.SetScript("analyse", fake.Script{})
	_, more := s.Queue(agentapitest.Spec{Action: "analyse"})
	s.WaitFor(more[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
}

func TestStartsWhileServerDown(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	s.SetDown(true)
	ex := fake.New(fake.Config{})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, nil)
	defer r.stop(t)
	deadline := time.Now().Add(wait)
	for s.Refused() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not keep trying")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.SetDown(false)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
}

func TestBadTokenStopsTheAgent(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	a, err := New(context.Background(), Config{ServerURL: s.HTTP.URL, Token: s.AirlockToken, Executor: fake.New(fake.Config{}),
		Code: &studyCode{}, HighDir: t.TempDir(), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.Run(context.Background())
	if haven.ErrorCode(err) != haven.EINVALID || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Run with the airlock token: %v", err)
	}
}

// An agent configured for one backend with another backend's token (a
// mixed-up token file) is refused and stops, naming the backend and the
// token to check; it never takes the other backend's work.
func TestAnotherBackendsTokenStopsTheAgent(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	_, otherJobs := s.QueueOn(s.Other, agentapitest.Spec{Action: "extract"})
	a, err := New(context.Background(), Config{ServerURL: s.HTTP.URL, Backend: "tpp", Token: s.OtherToken, Executor: fake.New(fake.Config{}),
		Code: &studyCode{}, HighDir: t.TempDir(), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.Run(context.Background())
	if haven.ErrorCode(err) != haven.EINVALID || !strings.Contains(err.Error(), "backend tpp") || !strings.Contains(err.Error(), "token") {
		t.Fatalf("Run with another backend's token: %v", err)
	}
	if got := s.Job(otherJobs[0].ID); got.StatusCode != haven.StatusCreated || got.LeaseID != "" {
		t.Errorf("the other backend's job was touched: %s, lease %q", got.StatusCode, got.LeaseID)
	}
}

func TestKilledAgentIsRecoveredOnTheSameStateDir(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	d := newDirs(t)
	clock := &agentapitest.Clock{}
	clock.Advance(time.Duration(time.Now().UnixNano()))
	// The executor outlives the agent, as Docker containers do.
	ex := fake.New(fake.Config{Now: clock.Now, Scripts: map[string]fake.Script{"extract": {Duration: time.Hour, Outputs: map[string]string{"output/cohort.csv": "highly_sensitive"}}}})
	first := startAgent(t, s, d, ex, &studyCode{}, nil)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))
	first.stop(t) // killed: its leases are not given back

	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusExecuting || got.LeaseID == "" {
		t.Fatalf("after the kill the server has %s lease %q", got.StatusCode, got.LeaseID)
	}
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	if _, err := s.API.Reap(s.Ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Job(jobs[0].ID); !got.NeedsRecovery {
		t.Fatalf("the expired job does not need recovery: %+v", got)
	}
	clock.Advance(2 * time.Hour) // the job finished meanwhile

	second := startAgent(t, s, d, ex, &studyCode{}, nil)
	defer second.stop(t)
	got := s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
	if got.NeedsRecovery || got.Attempt != 1 {
		t.Errorf("recovered job: needs recovery %v attempt %d", got.NeedsRecovery, got.Attempt)
	}
	if n := ex.Starts(jobs[0].ID); n != 1 {
		t.Errorf("the job was started %d times; recovery must not start it again", n)
	}
}

func TestRecoverUnknownJobIsInternalError(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Hang: true}}})
	first := startAgent(t, s, newDirs(t), ex, &studyCode{}, nil)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))
	first.stop(t)
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	s.API.Reap(s.Ctx)
	// A new agent on another state directory knows nothing of the job.
	second := startAgent(t, s, newDirs(t), fake.New(fake.Config{}), &studyCode{}, nil)
	defer second.stop(t)
	got := s.WaitFor(jobs[0].ID, wait, "internal_error", is(haven.StatusInternalError))
	if got.StatusMessage != haven.StatusInternalError.Message() {
		t.Errorf("message %q", got.StatusMessage)
	}
}

func TestUnrecoveredJobFailsAfterTheDeadline(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Hang: true}}})
	first := startAgent(t, s, newDirs(t), ex, &studyCode{}, nil)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))
	first.stop(t)
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	s.API.Reap(s.Ctx)
	s.Clock.Advance(agentapi.DefaultRecoveryDeadline + time.Minute)
	s.API.Reap(s.Ctx)
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusInternalError || got.NeedsRecovery {
		t.Errorf("unrecovered job past the deadline: %s needs recovery %v", got.StatusCode, got.NeedsRecovery)
	}
}

func TestShutdownGivesBackJobsNotStarted(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	code := &studyCode{block: true} // the export never finishes
	r := startAgent(t, s, newDirs(t), fake.New(fake.Config{}), code, nil)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "claimed", is(haven.StatusInitiated))
	deadline := time.Now().Add(wait)
	for {
		code.mu.Lock()
		n := code.exports
		code.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never started exporting the code")
		}
		time.Sleep(time.Millisecond)
	}
	r.stop(t)
	got := s.Job(jobs[0].ID)
	if got.StatusCode != haven.StatusWaitingOnNewTask || got.LeaseID != "" {
		t.Errorf("after a shutdown the unstarted job is %s with lease %q, want back in the queue", got.StatusCode, got.LeaseID)
	}
}

func TestLeaseLostWithoutHandBackCancelsLocalWork(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"extract": {Hang: true}}})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, func(c *Config) { c.RecoverGrace = 50 * time.Millisecond })
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting))
	// The lease is taken back and the job failed by the server: the agent's
	// extend gets 409, nothing hands the job back (its polls fail), so it
	// stops its work.
	s.SetDownFor(agentapi.PathPoll)
	// The agent's extends race the clock: reap until the server gives up.
	deadline := time.Now().Add(wait)
	for s.Job(jobs[0].ID).StatusCode != haven.StatusInternalError {
		if time.Now().After(deadline) {
			t.Fatal("the server never failed the job")
		}
		s.Clock.Advance(2*agentapi.DefaultTTL + agentapi.DefaultRecoveryDeadline)
		if _, err := s.API.Reap(s.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	for len(ex.CallsTo("Terminate", jobs[0].ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the agent kept running a job whose lease it lost")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusInternalError {
		t.Errorf("the agent overwrote the server's verdict: %s", got.StatusCode)
	}
}

// requirePython skips without python3, unless HAVEN_REQUIRE_PYTHON=1.
func requirePython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("HAVEN_REQUIRE_PYTHON") == "1" {
			t.Fatal("python3 not found and HAVEN_REQUIRE_PYTHON=1")
		}
		t.Skip("python3 not found")
	}
}

func localExecutor() executor.Executor {
	return local.New(local.Config{Listing: outputs.NewCodeListing(), KillGrace: 100 * time.Millisecond})
}

func TestLocalJobsRunWithInputsAndMediumPrivacy(t *testing.T) {
	requirePython(t)
	s := agentapitest.New(t, agentapitest.Options{})
	d := newDirs(t)
	r := startAgent(t, s, d, localExecutor(), &studyCode{}, nil)
	defer r.stop(t)
	_, jobs := s.Queue(
		agentapitest.Spec{Action: "extract", Args: []string{"analysis/extract.py"}, Outputs: map[string]string{"output/cohort.csv": "highly_sensitive"}},
		agentapitest.Spec{Action: "analyse", Args: []string{"analysis/analyse.py"}, Needs: []string{"extract"}, Outputs: map[string]string{"output/table.csv": "moderately_sensitive"}},
	)
	s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
	s.WaitFor(jobs[1].ID, wait, "succeeded", is(haven.StatusSucceeded))
	table, err := os.ReadFile(filepath.Join(d.high, "ws-one", "output", "table.csv"))
	if err != nil || string(table) != "n\n2\n" {
		t.Errorf("high-privacy table: %q %v", table, err)
	}
	if _, err := os.Stat(filepath.Join(d.medium, "ws-one", "output", "table.csv")); err != nil {
		t.Errorf("the moderately sensitive output is not in the medium-privacy workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.medium, "ws-one", "output", "cohort.csv")); err == nil {
		t.Error("a highly sensitive output reached the medium-privacy workspace")
	}
	manifest, err := os.ReadFile(filepath.Join(d.medium, "ws-one", "metadata", "manifest.json"))
	if err != nil || !strings.Contains(string(manifest), agentapitest.Commit) || !strings.Contains(string(manifest), `"user": "alice"`) {
		t.Errorf("manifest lacks the commit or the user: %s %v", manifest, err)
	}
}

func TestLocalJobTakesInputsFromTheWorkspace(t *testing.T) {
	requirePython(t)
	s := agentapitest.New(t, agentapitest.Options{})
	d := newDirs(t)
	// extract succeeded earlier under another agent's state directory: its
	// output is in the workspace but not in this agent's store.
	if err := os.MkdirAll(filepath.Join(d.high, "ws-one", "output"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.high, "ws-one", "output", "cohort.csv"), []byte("patient_id\n1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startAgent(t, s, d, localExecutor(), &studyCode{}, nil)
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "analyse", Args: []string{"analysis/analyse.py"}, InputsFrom: []string{"extract"},
		Outputs: map[string]string{"output/table.csv": "moderately_sensitive"}})
	s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
	if table, err := os.ReadFile(filepath.Join(d.high, "ws-one", "output", "table.csv")); err != nil || string(table) != "n\n3\n" {
		t.Errorf("table: %q %v", table, err)
	}
}

// Nothing that names a file or quotes a log leaves the backend: every
// request body the agent sends is recorded and searched.
func TestNothingButCodesLeavesTheBackend(t *testing.T) {
	requirePython(t)
	var mu sync.Mutex
	var bodies []string
	s := agentapitest.New(t, agentapitest.Options{Observe: func(r *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, r.URL.Path+" "+string(body))
	}})
	d := newDirs(t)
	r := startAgent(t, s, d, localExecutor(), &studyCode{}, nil)
	_, jobs := s.Queue(
		agentapitest.Spec{Action: "misnamed", Args: []string{"analysis/misnamed.py"}, Outputs: map[string]string{"output/secret_cohort_table.csv": "moderately_sensitive"}},
		agentapitest.Spec{Action: "crash", Args: []string{"analysis/crash.py"}, Outputs: map[string]string{"output/crash.csv": "highly_sensitive"}},
	)
	misnamed := s.WaitFor(jobs[0].ID, wait, "unmatched_patterns", is(haven.StatusUnmatchedPatterns))
	crash := s.WaitFor(jobs[1].ID, wait, "nonzero_exit", is(haven.StatusNonzeroExit))
	r.stop(t)
	if misnamed.StatusMessage != agentapi.MsgUnmatchedPatterns {
		t.Errorf("unmatched_patterns message %q", misnamed.StatusMessage)
	}
	if crash.ExitCode == nil || *crash.ExitCode != 3 {
		t.Errorf("crash exit code %v", crash.ExitCode)
	}
	// The details are on the backend, in the logs.
	log, err := os.ReadFile(filepath.Join(d.high, "ws-one", "metadata", "crash.log"))
	if err != nil || !strings.Contains(string(log), "SECRET-LOG-LINE-STDERR") {
		t.Errorf("the crash log on the backend: %v", err)
	}
	forbidden := []string{"secret_cohort", "wrongly_named", "output/", ".csv", "SECRET-LOG-LINE", "analysis/", "/workspace", "patient", d.high, d.state, "Traceback"}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 {
		t.Fatal("no request was recorded")
	}
	sawUpdate := false
	for _, b := range bodies {
		if strings.Contains(b, "/status ") {
			sawUpdate = true
		}
		for _, f := range forbidden {
			if strings.Contains(b, f) {
				t.Errorf("a request carried %q: %s", f, b)
			}
		}
	}
	if !sawUpdate {
		t.Error("no status update was recorded")
	}
}

func TestRedact(t *testing.T) {
	exit := func(n int) *int { return &n }
	tests := []struct {
		name      string
		code      haven.StatusCode
		msg       string
		exitCode  *int
		res       *executor.Results
		cancelled bool
		wantCode  haven.StatusCode
		wantMsg   string
		unmatched bool
		excluded  bool
	}{
		{"running", haven.StatusExecuting, "", nil, nil, false, haven.StatusExecuting, "Executing job on the backend", false, false},
		{"unmatched names patterns", haven.StatusUnmatchedPatterns, "No outputs found matching patterns:\n - output/x.csv", exit(0),
			&executor.Results{UnmatchedPatterns: []string{"output/x.csv"}}, false, haven.StatusUnmatchedPatterns, agentapi.MsgUnmatchedPatterns, true, false},
		{"excluded files", haven.StatusSucceeded, "Completed successfully, but 2 file(s) marked as moderately_sensitive were excluded. See job log for details.", exit(0),
			&executor.Results{Level4Excluded: map[string]string{"output/a.csv": "too big", "output/b.csv": "patient_id"}}, false,
			haven.StatusSucceeded, "Completed successfully, but 2 file(s) marked as moderately_sensitive were excluded. See job log for details.", false, true},
		{"executor message", haven.StatusNonzeroExit, "Job exited with an error: something about output/x.csv", exit(2), &executor.Results{ExitCode: 2}, false,
			haven.StatusNonzeroExit, "Job exited with an error: exit code 2", false, false},
		{"out of memory", haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory (limit was 4.00GB)", exit(137), &executor.Results{OOMKilled: true}, false,
			haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory (limit was 4.00GB)", false, false},
		{"timed out", haven.StatusNonzeroExit, "Job exited with an error: Job exceeded its time limit of 2h", exit(137), &executor.Results{TimedOut: true}, false,
			haven.StatusNonzeroExit, agentapi.MsgTimedOut, false, false},
		{"internal error text", haven.StatusInternalError, "Internal error: open /srv/x: denied", nil, nil, false,
			haven.StatusInternalError, haven.StatusInternalError.Message(), false, false},
		{"failure while cancelling", haven.StatusInternalError, "Internal error: context canceled", nil, nil, true,
			haven.StatusCancelledByUser, "Cancelled by user", false, false},
		{"success is kept when cancelled late", haven.StatusSucceeded, "Completed successfully", exit(0), nil, true,
			haven.StatusSucceeded, "Completed successfully", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &haven.Job{ID: "j", Action: "a", ExitCode: tc.exitCode}
			j.SetCode(tc.code, tc.msg, time.Now())
			u, ok := redact(j, tc.res, tc.cancelled)
			if !ok {
				t.Fatal("not reported")
			}
			if haven.StatusCode(u.StatusCode) != tc.wantCode || u.StatusMessage != tc.wantMsg || u.HasUnmatchedPatterns != tc.unmatched || u.HasExcludedFiles != tc.excluded {
				t.Errorf("got %s %q unmatched %v excluded %v", u.StatusCode, u.StatusMessage, u.HasUnmatchedPatterns, u.HasExcludedFiles)
			}
			if !agentapi.AllowedMessage(haven.StatusCode(u.StatusCode), u.StatusMessage) {
				t.Errorf("redacted message %q would be refused", u.StatusMessage)
			}
		})
	}
	j := &haven.Job{}
	j.SetCode(haven.StatusCreated, "", time.Now())
	if _, ok := redact(j, nil, false); ok {
		t.Error("created is not an agent's code but was reported")
	}
}

func TestBackoffGrowsToItsCap(t *testing.T) {
	b := backoff{min: 10 * time.Millisecond, max: 80 * time.Millisecond}
	caps := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, c := range caps {
		c *= time.Millisecond
		d := b.next()
		if d < c/2 || d > c {
			t.Errorf("step %d: %v, want within [%v, %v]", i, d, c/2, c)
		}
	}
	b.reset()
	if d := b.next(); d > 10*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	ok := Config{ServerURL: "https://x", Token: "t", Executor: fake.New(fake.Config{}), Code: &studyCode{}, HighDir: t.TempDir(), StateDir: t.TempDir()}
	for name, mod := range map[string]func(*Config){
		"server":   func(c *Config) { c.ServerURL = "" },
		"url":      func(c *Config) { c.ServerURL = "jobs.example.org" },
		"token":    func(c *Config) { c.Token = "" },
		"executor": func(c *Config) { c.Executor = nil },
		"code":     func(c *Config) { c.Code = nil },
		"dirs":     func(c *Config) { c.StateDir = "" },
	} {
		c := ok
		mod(&c)
		if _, err := New(context.Background(), c); haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	a, err := New(context.Background(), ok)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestFreedSlotIsOfferedAtOnce(t *testing.T) {
	// A poll with no room waits the whole hold (ten minutes here) unless
	// the freed slot interrupts it.
	s := agentapitest.New(t, agentapitest.Options{Hold: 10 * time.Minute})
	ex := fake.New(fake.Config{})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, func(c *Config) { c.MaxJobs = 1 })
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"}, agentapitest.Spec{Action: "analyse"}, agentapitest.Spec{Action: "crash"})
	for _, j := range jobs {
		s.WaitFor(j.ID, wait, "succeeded", is(haven.StatusSucceeded))
	}
}

func TestLostLeaseHandedBackByRecoverTask(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	clock := &agentapitest.Clock{}
	clock.Advance(time.Duration(time.Now().UnixNano()))
	ex := fake.New(fake.Config{Now: clock.Now, Scripts: map[string]fake.Script{"extract": {Duration: time.Hour}}})
	r := startAgent(t, s, newDirs(t), ex, &studyCode{}, func(c *Config) { c.RecoverGrace = time.Minute })
	defer r.stop(t)
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	first := s.WaitFor(jobs[0].ID, wait, "executing", is(haven.StatusExecuting)).LeaseID
	// The agent looked gone (a network partition): its lease is taken back
	// (reaped again if an extend got in first), and handed back to it by a
	// recover task.
	deadline := time.Now().Add(wait)
	for {
		j := s.Job(jobs[0].ID)
		if !j.NeedsRecovery && j.LeaseID != "" && j.LeaseID != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job was never handed back: %+v", j)
		}
		if !j.NeedsRecovery {
			s.Clock.Advance(2 * agentapi.DefaultTTL)
			if _, err := s.API.Reap(s.Ctx); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(2 * time.Hour)
	got := s.WaitFor(jobs[0].ID, wait, "succeeded", is(haven.StatusSucceeded))
	if got.Attempt != 1 || ex.Starts(jobs[0].ID) != 1 || len(ex.CallsTo("Terminate", jobs[0].ID)) != 0 {
		t.Errorf("attempt %d, starts %d, terminated %d times", got.Attempt, ex.Starts(jobs[0].ID), len(ex.CallsTo("Terminate", jobs[0].ID)))
	}
}

func TestPollReportsDBMaintenance(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	r := startAgent(t, s, newDirs(t), fake.New(fake.Config{}), &studyCode{}, func(c *Config) {
		c.DBStatus = func(context.Context) (bool, string) { return true, "scheduled" }
	})
	defer r.stop(t)
	// A database job waits; another runs.
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract", RequiresDB: true}, agentapitest.Spec{Action: "analyse"})
	s.WaitFor(jobs[1].ID, wait, "succeeded", is(haven.StatusSucceeded))
	b, err := s.Store.Backend(s.Ctx, s.Backend.ID)
	if err != nil || !b.DBMaintenance {
		t.Errorf("backend's db maintenance flag: %v %v", b.DBMaintenance, err)
	}
	if got := s.Job(jobs[0].ID); got.State != haven.StatePending {
		t.Errorf("database job during maintenance: %s", got.StatusCode)
	}
}
