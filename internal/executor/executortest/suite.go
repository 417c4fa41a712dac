// Package executortest is the conformance suite every executor passes: the
// state machine of the executor contract, idempotency, termination,
// cancellation and concurrency, with real directories from t.TempDir.
package executortest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
)

// Env says how the executor under test expresses the suite's jobs and which
// of the suite's checks apply to it.
type Env struct {
	// Job returns the image (name:tag) and arguments of a job that behaves
	// as b. Executors that run Python can return "python:v2" and
	// PythonArgs(b).
	Job func(b Behaviour) (image string, args []string)
	// WritesFiles is true when the executor really runs jobs on files:
	// outputs land in WorkspaceDir, logs in WorkspaceDir/metadata, and
	// scratch directories under ScratchRoot. An in-memory executor sets it
	// false and the suite checks only what the executor reports.
	WritesFiles bool
}

// settle bounds every wait for a state change. It is a deadline for a
// stuck executor, not a performance expectation.
const settle = 2 * time.Minute

// Run runs the conformance suite. newExecutor is called once per sub-test
// and must return a fresh executor; it should register its own cleanup.
func Run(t *testing.T, newExecutor func(t *testing.T) executor.Executor, env Env) {
	if env.Job == nil {
		t.Fatal("executortest.Env.Job is nil: the suite needs a way to express jobs")
	}
	s := suite{env: env, newExecutor: newExecutor}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Lifecycle", s.testLifecycle},
		{"Idempotent", s.testIdempotent},
		{"WrongState", s.testWrongState},
		{"NeverSeen", s.testNeverSeen},
		{"NonzeroExit", s.testNonzeroExit},
		{"Terminate", s.testTerminate},
		{"CancelledKeepsPreviousOutputs", s.testCancelledKeepsPreviousOutputs},
		{"CancelRunning", s.testCancelRunning},
		{"UnmatchedPattern", s.testUnmatchedPattern},
		{"CleanupRunning", s.testCleanupRunning},
		{"Concurrent", s.testConcurrent},
		{"Wait", s.testWait},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

type suite struct {
	env         Env
	newExecutor func(t *testing.T) executor.Executor
}

// dirs are the directories a job definition points at.
type dirs struct {
	project, workspace, scratch, logs string
}

func newDirs(t *testing.T) dirs {
	t.Helper()
	root := t.TempDir()
	d := dirs{
		project:   filepath.Join(root, "project"),
		workspace: filepath.Join(root, "workspace"),
		scratch:   filepath.Join(root, "scratch"),
		logs:      filepath.Join(root, "logs"),
	}
	for _, dir := range []string{d.project, d.workspace, d.scratch, d.logs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(d.project, "analysis", "README.txt"), "study code\n")
	return d
}

// job builds a job definition for action with the behaviour and outputs
// given. IDs are derived from the action so messages are easy to follow.
func (s suite) job(d dirs, action string, b Behaviour, spec map[string]string) executor.JobDefinition {
	image, args := s.env.Job(b)
	return executor.JobDefinition{
		ID:              "job-" + action,
		RequestID:       "request-1",
		Workspace:       "workspace",
		Action:          action,
		CreatedAt:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		User:            "tester",
		Image:           image,
		Args:            args,
		OutputSpec:      spec,
		ProjectDir:      d.project,
		ExcludePatterns: slices.Sorted(maps.Keys(spec)),
		WorkspaceDir:    d.workspace,
		ScratchRoot:     d.scratch,
		LogDir:          d.logs,
	}
}

func (s suite) testLifecycle(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "lifecycle", Behaviour{
		Files:  map[string]string{"output/result.txt": "hello\n"},
		Stdout: []string{"out line"},
		Stderr: []string{"err line"},
	}, map[string]string{"output/result.txt": executor.HighlySensitive})

	expect(t, ex.Status, ctx, def, executor.Unknown)
	st := mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	if st.Timestamp == 0 {
		t.Errorf("Prepare: Status.Timestamp is 0, want the time of the change")
	}
	expect(t, ex.Status, ctx, def, executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	st = mustWait(t, ex, def, executor.Executed)
	if st.Timestamp == 0 {
		t.Errorf("Status: Executed with Timestamp 0, want the time of the change")
	}
	st = mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized)
	res := mustResults(t, "Finalize", st)
	if res.ExitCode != 0 {
		t.Errorf("Finalize: ExitCode = %d, want 0", res.ExitCode)
	}
	wantOutputs(t, res, map[string]string{"output/result.txt": executor.HighlySensitive})
	if len(res.UnmatchedPatterns) != 0 {
		t.Errorf("Finalize: UnmatchedPatterns = %q, want none", res.UnmatchedPatterns)
	}
	if want := "metadata/lifecycle.log"; res.LogFile != want {
		t.Errorf("Finalize: LogFile = %q, want %q", res.LogFile, want)
	}
	st = expect(t, ex.Status, ctx, def, executor.Finalized)
	mustResults(t, "Status after Finalize", st)

	if s.env.WritesFiles {
		if got := readFile(t, filepath.Join(d.workspace, "output", "result.txt")); got != "hello\n" {
			t.Errorf("workspace output/result.txt = %q, want %q", got, "hello\n")
		}
		checkLog(t, filepath.Join(d.workspace, "metadata", "lifecycle.log"), "out line", "err line")
	}

	if err := ex.Cleanup(ctx, def); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	expect(t, ex.Status, ctx, def, executor.Unknown)
	if s.env.WritesFiles {
		if _, err := os.Stat(filepath.Join(d.scratch, def.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Cleanup, scratch directory %s still exists (stat error %v)", filepath.Join(d.scratch, def.ID), err)
		}
	}
}

func (s suite) testIdempotent(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "twice", Behaviour{Files: map[string]string{"output/once.txt": "once\n"}},
		map[string]string{"output/once.txt": executor.HighlySensitive})

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "second Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustState(t, "second Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	mustState(t, "Execute after Executed", call(ex.Execute(ctx, def)), executor.Executed)
	expect(t, ex.Status, ctx, def, executor.Executed)

	first := mustResults(t, "Finalize", mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized))
	second := mustResults(t, "second Finalize", mustState(t, "second Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized))
	if first.ExitCode != second.ExitCode || !maps.Equal(first.Outputs, second.Outputs) || first.LogFile != second.LogFile ||
		!slices.Equal(first.UnmatchedPatterns, second.UnmatchedPatterns) {
		t.Errorf("second Finalize gave different results:\n first %+v\nsecond %+v", *first, *second)
	}
	if s.env.WritesFiles {
		// The job appends: two processes would have written the line twice.
		if got := readFile(t, filepath.Join(d.workspace, "output", "once.txt")); got != "once\n" {
			t.Errorf("output/once.txt = %q, want %q (was the job started twice?)", got, "once\n")
		}
	}
	if err := ex.Cleanup(ctx, def); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if err := ex.Cleanup(ctx, def); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	expect(t, ex.Status, ctx, def, executor.Unknown)
}

func (s suite) testWrongState(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "order", Behaviour{Files: map[string]string{"output/o.txt": "o\n"}},
		map[string]string{"output/o.txt": executor.HighlySensitive})
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Execute before Prepare", call(ex.Execute(ctx, def)), executor.Unknown)
	mustState(t, "Finalize before Prepare", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Unknown)
	mustState(t, "Terminate before Prepare", call(ex.Terminate(ctx, def)), executor.Unknown)
	expect(t, ex.Status, ctx, def, executor.Unknown)

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Finalize before Execute", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Prepared)
	mustState(t, "Terminate before Execute", call(ex.Terminate(ctx, def)), executor.Prepared)
	expect(t, ex.Status, ctx, def, executor.Prepared)

	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	mustState(t, "Prepare after Executed", call(ex.Prepare(ctx, def)), executor.Executed)
	mustState(t, "Terminate after Executed", call(ex.Terminate(ctx, def)), executor.Executed)

	mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized)
	mustState(t, "Prepare after Finalized", call(ex.Prepare(ctx, def)), executor.Finalized)
	mustState(t, "Execute after Finalized", call(ex.Execute(ctx, def)), executor.Finalized)
	mustState(t, "Terminate after Finalized", call(ex.Terminate(ctx, def)), executor.Finalized)
	expect(t, ex.Status, ctx, def, executor.Finalized)
}

func (s suite) testNeverSeen(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "ghost", Behaviour{}, map[string]string{"output/g.txt": executor.HighlySensitive})
	expect(t, ex.Status, ctx, def, executor.Unknown)
	if err := ex.Cleanup(ctx, def); err != nil {
		t.Errorf("Cleanup of a job never seen: %v, want nil", err)
	}
	expect(t, ex.Status, ctx, def, executor.Unknown)
}

// testWait checks executors that are Waiters: Wait returns once the job
// has stopped, so a Status right after it no longer says Executing, and it
// returns at once for a job that is not running.
func (s suite) testWait(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	w, ok := ex.(executor.Waiter)
	if !ok {
		t.Skip("this executor is not an executor.Waiter")
	}
	d := newDirs(t)
	def := s.job(d, "waited", Behaviour{Stdout: []string{"done"}}, map[string]string{"output/none.txt": executor.HighlySensitive})
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })
	if err := w.Wait(ctx, def); err != nil {
		t.Errorf("Wait before Prepare: %v", err)
	}
	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	if err := w.Wait(ctx, def); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	mustState(t, "Status after Wait", call(ex.Status(ctx, def)), executor.Executed)
}

func (s suite) testNonzeroExit(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "failing", Behaviour{Stderr: []string{"something broke"}, ExitCode: 3},
		map[string]string{"output/never.txt": executor.HighlySensitive})
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	res := mustResults(t, "Finalize", mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized))
	if res.ExitCode != 3 {
		t.Errorf("Finalize: ExitCode = %d, want 3", res.ExitCode)
	}
	if s.env.WritesFiles {
		checkLog(t, filepath.Join(d.workspace, "metadata", "failing.log"), "something broke")
	}
}

func (s suite) testTerminate(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "sleeper", Behaviour{Stdout: []string{"started"}, Sleep: true},
		map[string]string{"output/s.txt": executor.HighlySensitive})
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing)
	expect(t, ex.Status, ctx, def, executor.Executing)
	mustState(t, "Terminate", call(ex.Terminate(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	mustState(t, "second Terminate", call(ex.Terminate(ctx, def)), executor.Executed)
	res := mustResults(t, "Finalize", mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized))
	if res.ExitCode == 0 {
		t.Errorf("Finalize of a terminated job: ExitCode = 0, want the code of a killed process")
	}
}

func (s suite) testCancelledKeepsPreviousOutputs(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "cancelled", Behaviour{Files: map[string]string{"output/keep.txt": "new\n"}},
		map[string]string{"output/keep.txt": executor.HighlySensitive})
	def.PreviousOutputs = []string{"output/keep.txt"}
	previous := filepath.Join(d.workspace, "output", "keep.txt")
	if s.env.WritesFiles {
		writeFile(t, previous, "previous\n")
	}
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	st := mustState(t, "Finalize(cancelled)", call(ex.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true})), executor.Finalized)
	res := mustResults(t, "Finalize(cancelled)", st)
	if !res.Cancelled {
		t.Errorf("Finalize(cancelled): Results.Cancelled = false, want true")
	}
	if len(res.Outputs) != 0 {
		t.Errorf("Finalize(cancelled): Outputs = %v, want none", res.Outputs)
	}
	if s.env.WritesFiles {
		if got := readFile(t, previous); got != "previous\n" {
			t.Errorf("after a cancelled finalize, output/keep.txt = %q, want the previous %q", got, "previous\n")
		}
		if _, err := os.Stat(filepath.Join(d.workspace, "metadata", "cancelled.log")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a cancelled job wrote metadata/cancelled.log (stat error %v); it keeps only the log-directory copy", err)
		}
	}
}

func (s suite) testCancelRunning(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "cancel-running", Behaviour{Files: map[string]string{"output/c.txt": "new\n"}, Sleep: true},
		map[string]string{"output/c.txt": executor.HighlySensitive})
	previous := filepath.Join(d.workspace, "output", "c.txt")
	if s.env.WritesFiles {
		writeFile(t, previous, "previous\n")
	}
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing)
	mustState(t, "Terminate", call(ex.Terminate(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	res := mustResults(t, "Finalize(cancelled)",
		mustState(t, "Finalize(cancelled)", call(ex.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true})), executor.Finalized))
	if !res.Cancelled || len(res.Outputs) != 0 {
		t.Errorf("Finalize(cancelled): Cancelled = %v, Outputs = %v; want true and none", res.Cancelled, res.Outputs)
	}
	if s.env.WritesFiles {
		if got := readFile(t, previous); got != "previous\n" {
			t.Errorf("after cancelling, output/c.txt = %q, want the previous %q", got, "previous\n")
		}
	}
}

func (s suite) testUnmatchedPattern(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "unmatched", Behaviour{Files: map[string]string{"output/a.txt": "a\n"}},
		map[string]string{
			"output/a.txt":       executor.HighlySensitive,
			"output/missing.csv": executor.ModeratelySensitive,
		})
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing, executor.Executed)
	mustWait(t, ex, def, executor.Executed)
	res := mustResults(t, "Finalize", mustState(t, "Finalize", call(ex.Finalize(ctx, def, executor.FinalizeOptions{})), executor.Finalized))
	if want := []string{"output/missing.csv"}; !slices.Equal(res.UnmatchedPatterns, want) {
		t.Errorf("Finalize: UnmatchedPatterns = %q, want %q", res.UnmatchedPatterns, want)
	}
	wantOutputs(t, res, map[string]string{"output/a.txt": executor.HighlySensitive})
	if res.ExitCode != 0 {
		t.Errorf("Finalize: ExitCode = %d, want 0", res.ExitCode)
	}
}

func (s suite) testCleanupRunning(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	def := s.job(d, "abandoned", Behaviour{Sleep: true}, map[string]string{"output/x.txt": executor.HighlySensitive})

	mustState(t, "Prepare", call(ex.Prepare(ctx, def)), executor.Prepared)
	mustState(t, "Execute", call(ex.Execute(ctx, def)), executor.Executing)
	if err := ex.Cleanup(ctx, def); err != nil {
		t.Fatalf("Cleanup of a running job: %v", err)
	}
	expect(t, ex.Status, ctx, def, executor.Unknown)
	if s.env.WritesFiles {
		if _, err := os.Stat(filepath.Join(d.scratch, def.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Cleanup, scratch directory still exists (stat error %v)", err)
		}
	}
}

func (s suite) testConcurrent(t *testing.T) {
	ctx := t.Context()
	ex := s.newExecutor(t)
	d := newDirs(t)
	const n = 4
	spec := map[string]string{}
	for i := range n {
		spec[fmt.Sprintf("output/par-%d.txt", i)] = executor.HighlySensitive
	}
	defs := make([]executor.JobDefinition, n)
	for i := range n {
		path := fmt.Sprintf("output/par-%d.txt", i)
		defs[i] = s.job(d, fmt.Sprintf("par-%d", i), Behaviour{Files: map[string]string{path: fmt.Sprintf("job %d\n", i)}},
			map[string]string{path: executor.HighlySensitive})
		// Every action's patterns are excluded from every scratch copy.
		defs[i].ExcludePatterns = slices.Sorted(maps.Keys(spec))
	}

	var wg sync.WaitGroup
	for i, def := range defs {
		wg.Go(func() {
			if err := lifecycle(ctx, ex, def); err != nil {
				t.Errorf("job %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if s.env.WritesFiles {
		for i := range n {
			path := filepath.Join(d.workspace, "output", fmt.Sprintf("par-%d.txt", i))
			if got, want := readFile(t, path), fmt.Sprintf("job %d\n", i); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
	}
}

// lifecycle drives def from Unknown to Finalized and cleans up, returning
// the first deviation; it is safe to call from any goroutine.
func lifecycle(ctx context.Context, ex executor.Executor, def executor.JobDefinition) error {
	steps := []struct {
		name string
		do   func() (executor.Status, error)
		want []executor.State
	}{
		{"Prepare", func() (executor.Status, error) { return ex.Prepare(ctx, def) }, []executor.State{executor.Prepared}},
		{"Execute", func() (executor.Status, error) { return ex.Execute(ctx, def) }, []executor.State{executor.Executing, executor.Executed}},
		{"wait", func() (executor.Status, error) { return wait(ctx, ex, def, executor.Executed) }, []executor.State{executor.Executed}},
		{"Finalize", func() (executor.Status, error) { return ex.Finalize(ctx, def, executor.FinalizeOptions{}) }, []executor.State{executor.Finalized}},
	}
	for _, step := range steps {
		st, err := step.do()
		if err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		if !slices.Contains(step.want, st.State) {
			return fmt.Errorf("%s: state %s (%s), want %v", step.name, st.State, st.Message, step.want)
		}
		if step.name == "Finalize" && (st.Results == nil || st.Results.ExitCode != 0 || len(st.Results.Outputs) != 1) {
			return fmt.Errorf("Finalize: results %+v, want exit 0 and one output", st.Results)
		}
	}
	if err := ex.Cleanup(ctx, def); err != nil {
		return fmt.Errorf("Cleanup: %w", err)
	}
	st, err := ex.Status(ctx, def)
	if err != nil || st.State != executor.Unknown {
		return fmt.Errorf("Status after Cleanup: %s, %v; want unknown", st.State, err)
	}
	return nil
}

// wait polls Status until the job reaches want. It fails early when the job
// settles in another state, and gives up after a generous deadline.
func wait(ctx context.Context, ex executor.Executor, def executor.JobDefinition, want executor.State) (executor.Status, error) {
	deadline := time.Now().Add(settle)
	for {
		st, err := ex.Status(ctx, def)
		switch {
		case errors.Is(err, executor.ErrRetry):
		case err != nil:
			return st, fmt.Errorf("status of %s: %w", def.ID, err)
		case st.State == want:
			return st, nil
		case st.State != executor.Executing && st.State != executor.Preparing && st.State != executor.Finalizing:
			return st, fmt.Errorf("job %s reached %s (%q) while waiting for %s", def.ID, st.State, st.Message, want)
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("job %s still %s after %v, want %s", def.ID, st.State, settle, want)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func mustWait(t *testing.T, ex executor.Executor, def executor.JobDefinition, want executor.State) executor.Status {
	t.Helper()
	st, err := wait(t.Context(), ex, def, want)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// result is one method's answer, so calls can be passed to checks inline.
type result struct {
	st  executor.Status
	err error
}

func call(st executor.Status, err error) result { return result{st, err} }

// mustState fails the test unless r has no error and one of the states.
func mustState(t *testing.T, what string, r result, want ...executor.State) executor.Status {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: unexpected error: %v", what, r.err)
	}
	if !slices.Contains(want, r.st.State) {
		t.Fatalf("%s: state %s (message %q), want %v", what, r.st.State, r.st.Message, want)
	}
	return r.st
}

// expect checks the job's current Status.
func expect(t *testing.T, status func(context.Context, executor.JobDefinition) (executor.Status, error),
	ctx context.Context, def executor.JobDefinition, want executor.State) executor.Status {
	t.Helper()
	return mustState(t, "Status", call(status(ctx, def)), want)
}

func mustResults(t *testing.T, what string, st executor.Status) *executor.Results {
	t.Helper()
	if st.Results == nil {
		t.Fatalf("%s: state %s with nil Results", what, st.State)
	}
	return st.Results
}

func wantOutputs(t *testing.T, res *executor.Results, want map[string]string) {
	t.Helper()
	if !maps.Equal(res.Outputs, want) {
		t.Errorf("Outputs = %v, want %v", res.Outputs, want)
	}
}

// checkLog checks that the log file has each text as the body of a line
// that starts with an RFC 3339 timestamp and a space.
func checkLog(t *testing.T, path string, texts ...string) {
	t.Helper()
	log := readFile(t, path)
	lines := strings.Split(log, "\n")
	for _, text := range texts {
		found := false
		for _, line := range lines {
			stamp, body, ok := strings.Cut(line, " ")
			if !ok || body != text {
				continue
			}
			found = true
			if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
				t.Errorf("%s: line %q does not start with an RFC 3339 timestamp: %v", path, line, err)
			}
		}
		if !found {
			t.Errorf("%s has no line %q; the log is:\n%s", path, text, log)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
