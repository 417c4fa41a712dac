package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/fake"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

// The runner is tested against the fake executor, a real SQLite store and
// real plans: what is asserted is the sequence of states each job went
// through, in the store, and what the executor was asked to do.

const diamond = `version: '5.0'
actions:
  a:
    run: python:v2 a.py
    outputs: {highly_sensitive: {o: output/a.csv}}
  b:
    run: python:v2 b.py
    needs: [a]
    outputs: {highly_sensitive: {o: output/b.csv}}
  c:
    run: python:v2 c.py
    needs: [a]
    outputs: {highly_sensitive: {o: output/c.csv}}
  d:
    run: python:v2 d.py
    needs: [b, c]
    outputs: {moderately_sensitive: {o: output/d.csv}}
  e:
    run: python:v2 e.py
    outputs: {highly_sensitive: {o: output/e.csv}}
`

// recordingStore is the SQLite store, plus a log of every code each job
// was given, in order.
type recordingStore struct {
	*sqlite.DB
	mu    sync.Mutex
	codes map[string][]haven.StatusCode // action -> codes
}

func (s *recordingStore) UpdateJob(ctx context.Context, j *haven.Job) error {
	s.mu.Lock()
	s.codes[j.Action] = append(s.codes[j.Action], j.StatusCode)
	s.mu.Unlock()
	return s.DB.UpdateJob(ctx, j)
}

func (s *recordingStore) history(action string) []haven.StatusCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.codes[action])
}

type harness struct {
	t     *testing.T
	p     *pipeline.Pipeline
	store *recordingStore
	exec  *fake.Executor
	cfg   Config
}

func newHarness(t *testing.T, src string, scripts map[string]fake.Script) *harness {
	t.Helper()
	p, probs := pipeline.Parse("project.yaml", []byte(src))
	if p == nil {
		t.Fatal(probs.Error())
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, p: p, store: &recordingStore{DB: db, codes: map[string][]haven.StatusCode{}}}
	h.exec = fake.New(fake.Config{Scripts: scripts})
	dir := t.TempDir()
	h.cfg = Config{
		Store: h.store, Executor: h.exec, Pipeline: p, Workspace: "ws",
		ProjectDir: dir, WorkspaceDir: dir, ScratchRoot: filepath.Join(dir, "metadata", "volumes"), LogDir: filepath.Join(dir, "metadata", "jobs"),
		MaxWorkers: 2, PollInterval: time.Millisecond,
	}
	return h
}

// plan stores and returns the jobs for a request.
func (h *harness) plan(actions ...string) []*haven.Job {
	h.t.Helper()
	ctx := context.Background()
	history, err := h.store.WorkspaceJobs(ctx, "ws")
	if err != nil {
		h.t.Fatal(err)
	}
	jobs, err := plan.Plan(h.p, plan.Request{ID: fmt.Sprintf("req%07d", len(history)), Workspace: "ws", RequestedActions: actions, CodelistsOK: true},
		plan.LatestPerAction(history, h.p, nil), time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CreateJobs(ctx, jobs); err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

func (h *harness) run(ctx context.Context, cfg func(*Config), actions ...string) []*haven.Job {
	h.t.Helper()
	jobs := h.plan(actions...)
	c := h.cfg
	if cfg != nil {
		cfg(&c)
	}
	if err := New(c).Run(ctx, jobs); err != nil {
		h.t.Fatal(err)
	}
	return jobs
}

func byAction(jobs []*haven.Job) map[string]*haven.Job {
	m := map[string]*haven.Job{}
	for _, j := range jobs {
		m[j.Action] = j
	}
	return m
}

// fullLifecycle is what the store records of a successful job: every
// state the runner acts on (prepared, executed and finalized are passed
// through with nothing done in between, so they are reported, not stored).
var fullLifecycle = []haven.StatusCode{
	haven.StatusPreparing, haven.StatusExecuting, haven.StatusFinalizing, haven.StatusSucceeded,
}

func TestRunSucceeds(t *testing.T) {
	ok := func(path string) fake.Script {
		return fake.Script{Polls: 2, Outputs: map[string]string{path: executor.HighlySensitive}}
	}
	h := newHarness(t, diamond, map[string]fake.Script{
		"a": ok("output/a.csv"), "b": ok("output/b.csv"), "c": ok("output/c.csv"), "d": ok("output/d.csv"), "e": ok("output/e.csv"),
	})
	jobs := byAction(h.run(context.Background(), nil, "run_all"))
	for _, a := range []string{"a", "b", "c", "d", "e"} {
		j := jobs[a]
		if j.StatusCode != haven.StatusSucceeded || j.StatusMessage != "Completed successfully" {
			t.Errorf("%s: %s %q", a, j.StatusCode, j.StatusMessage)
		}
		if got := h.store.history(a); !slices.Equal(got, fullLifecycle) {
			t.Errorf("%s went through %v, want %v", a, got, fullLifecycle)
		}
		stored, err := h.store.Job(context.Background(), j.ID)
		if err != nil || stored.StatusCode != haven.StatusSucceeded || stored.ExitCode == nil || *stored.ExitCode != 0 || len(stored.Outputs) != 1 {
			t.Errorf("%s stored as %+v, %v", a, stored, err)
		}
		if len(h.exec.CallsTo("Cleanup", j.ID)) == 0 {
			t.Errorf("%s was not cleaned up", a)
		}
	}
	// Needs are respected: a job is prepared only after what it needs
	// has been finalized.
	order := map[string]int{}
	for i, c := range h.exec.Calls() {
		if _, seen := order[c.Method+c.Action]; !seen {
			order[c.Method+c.Action] = i
		}
	}
	for _, dep := range [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}} {
		if order["Finalize"+dep[0]] > order["Prepare"+dep[1]] {
			t.Errorf("%s was prepared before %s finished", dep[1], dep[0])
		}
	}
	// The previous job's outputs are the next job's inputs.
	if got := h.exec.CallsTo("Prepare", jobs["d"].ID); len(got) != 1 {
		t.Fatalf("d prepared %d times", len(got))
	}
}

func TestFailureCascades(t *testing.T) {
	h := newHarness(t, diamond, map[string]fake.Script{
		"a": {ExitCode: 1, Outputs: map[string]string{"output/a.csv": executor.HighlySensitive}},
		"e": {Polls: 3, Outputs: map[string]string{"output/e.csv": executor.HighlySensitive}},
	})
	jobs := byAction(h.run(context.Background(), func(c *Config) { c.ContinueOnError = true; c.MaxWorkers = 1 }, "run_all"))
	if j := jobs["a"]; j.StatusCode != haven.StatusNonzeroExit || !strings.HasPrefix(j.StatusMessage, "Job exited with an error") {
		t.Errorf("a: %s %q", j.StatusCode, j.StatusMessage)
	}
	for _, a := range []string{"b", "c", "d"} {
		if j := jobs[a]; j.StatusCode != haven.StatusDependencyFailed || j.StatusMessage != "Not starting as dependency failed" {
			t.Errorf("%s: %s %q", a, j.StatusCode, j.StatusMessage)
		}
		if len(h.exec.CallsTo("Prepare", jobs[a].ID)) != 0 {
			t.Errorf("%s was prepared although its dependency failed", a)
		}
	}
	if jobs["e"].StatusCode != haven.StatusSucceeded {
		t.Errorf("e, independent, with --continue-on-error: %s", jobs["e"].StatusCode)
	}
}

func TestFailureStopsTheRun(t *testing.T) {
	h := newHarness(t, diamond, map[string]fake.Script{
		"a": {ExitCode: 2, Polls: 1},
		"e": {Hang: true},
	})
	jobs := byAction(h.run(context.Background(), nil, "run_all"))
	if jobs["a"].StatusCode != haven.StatusNonzeroExit {
		t.Errorf("a: %s", jobs["a"].StatusCode)
	}
	e := jobs["e"]
	if e.StatusCode != haven.StatusCancelledByUser || e.StatusMessage != msgOtherJobFailed || !e.Cancelled {
		t.Errorf("e was left %s %q", e.StatusCode, e.StatusMessage)
	}
	if calls := h.exec.CallsTo("Finalize", e.ID); len(calls) == 0 || !calls[len(calls)-1].Options.Cancelled {
		t.Errorf("e was not finalized as cancelled: %v", calls)
	}
	for _, j := range jobs {
		if !j.StatusCode.IsFinal() {
			t.Errorf("%s left %s", j.Action, j.StatusCode)
		}
	}
}

func TestCtrlCCancels(t *testing.T) {
	h := newHarness(t, diamond, map[string]fake.Script{"a": {Hang: true}, "e": {Hang: true}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once both are executing.
		for {
			n := 0
			for _, c := range h.exec.Calls() {
				if c.Method == "Execute" {
					n++
				}
			}
			if n >= 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	jobs := byAction(h.run(ctx, nil, "run_all"))
	for _, a := range []string{"a", "b", "c", "d", "e"} {
		j := jobs[a]
		if j.StatusCode != haven.StatusCancelledByUser || j.StatusMessage != "Cancelled by user" {
			t.Errorf("%s: %s %q", a, j.StatusCode, j.StatusMessage)
		}
	}
	for _, a := range []string{"a", "e"} {
		if len(h.exec.CallsTo("Terminate", jobs[a].ID)) == 0 {
			t.Errorf("%s was not terminated", a)
		}
	}
}

// concurrencyExecutor counts how many jobs execute at once (from Execute
// until Status first says the job no longer executes), and whether a job
// was prepared while another executed.
type concurrencyExecutor struct {
	*fake.Executor
	mu         sync.Mutex
	executing  map[string]bool
	peak       int
	overlapped bool // a Prepare ran while a job executed
}

func (c *concurrencyExecutor) Prepare(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	c.mu.Lock()
	if len(c.executing) > 0 {
		c.overlapped = true
	}
	c.mu.Unlock()
	return c.Executor.Prepare(ctx, def)
}

func (c *concurrencyExecutor) Execute(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	c.mu.Lock()
	c.executing[def.ID] = true
	c.peak = max(c.peak, len(c.executing))
	c.mu.Unlock()
	return c.Executor.Execute(ctx, def)
}

func (c *concurrencyExecutor) Status(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	st, err := c.Executor.Status(ctx, def)
	if err == nil && st.State != executor.Executing {
		c.mu.Lock()
		delete(c.executing, def.ID)
		c.mu.Unlock()
	}
	return st, err
}

func TestConcurrencyLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: '5.0'\nactions:\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "  j%d:\n    run: python:v2 j%d.py\n    outputs: {highly_sensitive: {o: output/j%d.csv}}\n", i, i, i)
	}
	for _, workers := range []int{1, 3} {
		h := newHarness(t, b.String(), nil)
		ce := &concurrencyExecutor{Executor: fake.New(fake.Config{Lookup: func(executor.JobDefinition) (fake.Script, bool) {
			return fake.Script{Polls: 5}, true
		}}), executing: map[string]bool{}}
		jobs := h.run(context.Background(), func(c *Config) { c.Executor = ce; c.MaxWorkers = workers }, "run_all")
		for _, j := range jobs {
			if j.State != haven.StateSucceeded {
				t.Errorf("-j %d: %s %s", workers, j.Action, j.StatusCode)
			}
		}
		if ce.peak > workers || ce.peak < 1 {
			t.Errorf("-j %d: %d jobs executed at once", workers, ce.peak)
		}
		if workers == 3 && ce.peak < 2 {
			t.Errorf("-j 3 never ran jobs in parallel (peak %d)", ce.peak)
		}
		// Execution slots are what -j limits: the next job is prepared
		// while one executes.
		if !ce.overlapped {
			t.Errorf("-j %d: no job was prepared while another executed", workers)
		}
	}
}

// persistCheckingExecutor fails the test if the runner acts before the
// store holds the state it is acting on.
type persistCheckingExecutor struct {
	*fake.Executor
	t     *testing.T
	store *recordingStore
}

func (p *persistCheckingExecutor) expect(def executor.JobDefinition, code haven.StatusCode) {
	j, err := p.store.DB.Job(context.Background(), def.ID)
	if err != nil || j.StatusCode != code {
		p.t.Errorf("%s: called with the store at %v (%v), want %s recorded first", def.Action, j.StatusCode, err, code)
	}
}

func (p *persistCheckingExecutor) Prepare(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	p.expect(def, haven.StatusPreparing)
	return p.Executor.Prepare(ctx, def)
}

func (p *persistCheckingExecutor) Execute(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	p.expect(def, haven.StatusExecuting)
	return p.Executor.Execute(ctx, def)
}

func (p *persistCheckingExecutor) Finalize(ctx context.Context, def executor.JobDefinition, o executor.FinalizeOptions) (executor.Status, error) {
	if !o.Cancelled && !o.Error {
		p.expect(def, haven.StatusFinalizing)
	}
	return p.Executor.Finalize(ctx, def, o)
}

func TestTransitionsPersistedBeforeActing(t *testing.T) {
	h := newHarness(t, diamond, nil)
	pe := &persistCheckingExecutor{Executor: fake.New(fake.Config{Lookup: func(executor.JobDefinition) (fake.Script, bool) {
		return fake.Script{Polls: 1}, true
	}}), t: t, store: h.store}
	h.run(context.Background(), func(c *Config) { c.Executor = pe }, "run_all")
}

func TestUnavailableImage(t *testing.T) {
	h := newHarness(t, diamond, map[string]fake.Script{
		"a": {PrepareError: &executor.UnavailableError{Executor: "local", Image: "python:v2", Reason: "Action a uses python:v2, but python3 was not found on PATH"}},
	})
	jobs := byAction(h.run(context.Background(), func(c *Config) { c.ContinueOnError = true }, "d"))
	if j := jobs["a"]; j.StatusCode != haven.StatusInternalError || !strings.Contains(j.StatusMessage, "python3 was not found") {
		t.Errorf("a: %s %q", j.StatusCode, j.StatusMessage)
	}
	if jobs["d"].StatusCode != haven.StatusDependencyFailed {
		t.Errorf("d: %s", jobs["d"].StatusCode)
	}
}

func TestRetryableStatus(t *testing.T) {
	h := newHarness(t, diamond, map[string]fake.Script{"e": {Polls: 2, RetryPolls: 3}})
	jobs := byAction(h.run(context.Background(), nil, "e"))
	if jobs["e"].StatusCode != haven.StatusSucceeded {
		t.Errorf("a transient executor error failed the job: %s %q", jobs["e"].StatusCode, jobs["e"].StatusMessage)
	}
}

func TestRecover(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, diamond, map[string]fake.Script{"a": {Polls: 2}, "e": {Hang: true}})
	jobs := byAction(h.plan("run_all"))
	// An earlier runner died with a running (it can re-attach), e running
	// on an executor that lost it, and the others pending.
	defA := New(h.cfg).definition(jobs["a"], nil, nil)
	if _, err := h.exec.Prepare(ctx, defA); err != nil {
		t.Fatal(err)
	}
	if _, err := h.exec.Execute(ctx, defA); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"a", "e"} {
		jobs[a].SetCode(haven.StatusExecuting, "", time.Now())
		if err := h.store.DB.UpdateJob(ctx, jobs[a]); err != nil {
			t.Fatal(err)
		}
	}
	n, err := New(h.cfg).Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("recovered %d jobs, want 5", n)
	}
	got := map[string]*haven.Job{}
	all, _ := h.store.WorkspaceJobs(ctx, "ws")
	for _, j := range all {
		got[j.Action] = j
	}
	if j := got["a"]; j.StatusCode != haven.StatusSucceeded {
		t.Errorf("a, re-attached: %s %q", j.StatusCode, j.StatusMessage)
	}
	if j := got["e"]; j.StatusCode != haven.StatusInternalError || j.StatusMessage != msgRunnerStopped {
		t.Errorf("e, lost: %s %q", j.StatusCode, j.StatusMessage)
	}
	for _, a := range []string{"b", "c", "d"} {
		if j := got[a]; j.StatusCode != haven.StatusCancelledByUser || j.StatusMessage != msgStoppedBefore {
			t.Errorf("%s, pending: %s %q", a, j.StatusCode, j.StatusMessage)
		}
	}
	active, _ := h.store.ActiveJobs(ctx, "ws")
	if len(active) != 0 {
		t.Errorf("%d jobs still active after recovery", len(active))
	}
}

func TestStoreFailureStopsTheRunner(t *testing.T) {
	h := newHarness(t, diamond, nil)
	jobs := h.plan("e")
	broken := &failingStore{recordingStore: h.store}
	c := h.cfg
	c.Store = broken
	err := New(c).Run(context.Background(), jobs)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Run = %v, want the store's error", err)
	}
}

type failingStore struct{ *recordingStore }

func (f *failingStore) UpdateJob(context.Context, *haven.Job) error { return errors.New("disk full") }

// TestRecoverSweepsFinishedJobsScratch: a run killed after recording a
// job's final state but before its (background) cleanup leaves the
// scratch directories; the next Recover cleans them up, and leaves alone
// what is not a finished job's.
func TestRecoverSweepsFinishedJobsScratch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, diamond, nil)
	jobs := byAction(h.plan("run_all"))
	for _, a := range []string{"a", "b"} {
		jobs[a].SetCode(haven.StatusSucceeded, "", time.Now())
		if err := h.store.DB.UpdateJob(ctx, jobs[a]); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{jobs["a"].ID, jobs["a"].ID + ".local", jobs["b"].ID, "not-a-job", outputs.TrashDir} {
		if err := os.MkdirAll(filepath.Join(h.cfg.ScratchRoot, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(h.cfg).Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"a", "b"} {
		if n := len(h.exec.CallsTo("Cleanup", jobs[a].ID)); n != 1 {
			t.Errorf("finished job %s: %d cleanups, want 1", a, n)
		}
	}
	for _, a := range []string{"c", "d", "e"} { // pending: cancelled, never prepared
		if n := len(h.exec.CallsTo("Cleanup", jobs[a].ID)); n != 0 {
			t.Errorf("job %s without scratch: %d cleanups, want 0", a, n)
		}
	}
	if n := len(h.exec.CallsTo("Cleanup", "not-a-job")); n != 0 {
		t.Errorf("a directory that is not a job's was cleaned up")
	}
}
