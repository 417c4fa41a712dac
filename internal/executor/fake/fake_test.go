package fake_test

import (
	"context"
	"errors"
	"path"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/executortest"
	"github.com/haven-tre/haven/internal/executor/fake"
)

// scriptFromBehaviour turns the suite's job description (encoded as the
// only argument) into a script, matching the files it writes against the
// output patterns as finalize would.
func scriptFromBehaviour(def executor.JobDefinition) (fake.Script, bool) {
	if len(def.Args) != 1 {
		return fake.Script{}, false
	}
	b, err := executortest.DecodeBehaviour(def.Args[0])
	if err != nil {
		return fake.Script{}, false
	}
	s := fake.Script{ExitCode: b.ExitCode, Hang: b.Sleep, Outputs: map[string]string{}}
	for pattern, level := range def.OutputSpec {
		matched := false
		for file := range b.Files {
			if ok, _ := path.Match(pattern, file); ok {
				s.Outputs[file], matched = level, true
			}
		}
		if !matched {
			s.UnmatchedPatterns = append(s.UnmatchedPatterns, pattern)
		}
	}
	sort.Strings(s.UnmatchedPatterns)
	return s, true
}

func TestConformance(t *testing.T) {
	executortest.Run(t, func(t *testing.T) executor.Executor {
		return fake.New(fake.Config{Lookup: scriptFromBehaviour})
	}, executortest.Env{
		Job: func(b executortest.Behaviour) (string, []string) {
			return "fake:v1", []string{b.Encode()}
		},
		WritesFiles: false,
	})
}

// clock is a manual clock for Script.Duration.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func state(t *testing.T, what string, st executor.Status, err error, want executor.State) executor.Status {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if st.State != want {
		t.Fatalf("%s: state %s, want %s", what, st.State, want)
	}
	return st
}

func TestDurationFollowsClock(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ex := fake.New(fake.Config{Now: clk.Now, Scripts: map[string]fake.Script{
		"slow": {Duration: time.Hour, ExitCode: 2},
	}})
	def := executor.JobDefinition{ID: "j1", Action: "slow"}
	st, err := ex.Prepare(ctx, def)
	state(t, "Prepare", st, err, executor.Prepared)
	st, err = ex.Execute(ctx, def)
	state(t, "Execute", st, err, executor.Executing)
	clk.Advance(59 * time.Minute)
	st, err = ex.Status(ctx, def)
	state(t, "Status at 59m", st, err, executor.Executing)
	clk.Advance(time.Minute)
	st, err = ex.Status(ctx, def)
	st = state(t, "Status at 60m", st, err, executor.Executed)
	if want := clk.Now().UnixNano(); st.Timestamp != want {
		t.Errorf("Executed timestamp = %d, want %d", st.Timestamp, want)
	}
	st, err = ex.Finalize(ctx, def, executor.FinalizeOptions{})
	st = state(t, "Finalize", st, err, executor.Finalized)
	if st.Results.ExitCode != 2 {
		t.Errorf("ExitCode = %d, want 2", st.Results.ExitCode)
	}
}

func TestPollsAndRetries(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(fake.Config{})
	ex.SetScript("j1", fake.Script{Polls: 2, RetryPolls: 1})
	def := executor.JobDefinition{ID: "j1", Action: "a"}
	_, _ = ex.Prepare(ctx, def)
	_, _ = ex.Execute(ctx, def)
	if _, err := ex.Status(ctx, def); !errors.Is(err, executor.ErrRetry) {
		t.Fatalf("first Status: %v, want ErrRetry", err)
	}
	for range 2 {
		st, err := ex.Status(ctx, def)
		state(t, "Status poll", st, err, executor.Executing)
	}
	st, err := ex.Status(ctx, def)
	state(t, "Status after polls", st, err, executor.Executed)
	if n := len(ex.CallsTo("Status", "j1")); n != 4 {
		t.Errorf("recorded %d Status calls, want 4", n)
	}
	if n := ex.Starts("j1"); n != 1 {
		t.Errorf("Starts = %d, want 1", n)
	}
}

func TestErrorsLeaveStateUnchanged(t *testing.T) {
	ctx := context.Background()
	unavailable := &executor.UnavailableError{Executor: "fake", Image: "ehrql:v1", Reason: "no"}
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{
		"p": {PrepareError: unavailable},
		"e": {ExecuteError: executor.ErrRetry},
		"f": {FinalizeError: errors.New("disk full")},
	}})
	p := executor.JobDefinition{ID: "jp", Action: "p"}
	st, err := ex.Prepare(ctx, p)
	var ue *executor.UnavailableError
	if !errors.As(err, &ue) || st.State != executor.Unknown {
		t.Errorf("Prepare: %s, %v; want unknown and the UnavailableError", st.State, err)
	}

	e := executor.JobDefinition{ID: "je", Action: "e"}
	_, _ = ex.Prepare(ctx, e)
	st, err = ex.Execute(ctx, e)
	if !errors.Is(err, executor.ErrRetry) || st.State != executor.Prepared {
		t.Errorf("Execute: %s, %v; want prepared and ErrRetry", st.State, err)
	}
	if ex.Starts("je") != 0 {
		t.Errorf("a failed Execute counted as a start")
	}

	f := executor.JobDefinition{ID: "jf", Action: "f"}
	_, _ = ex.Prepare(ctx, f)
	_, _ = ex.Execute(ctx, f)
	_, _ = ex.Status(ctx, f)
	st, err = ex.Finalize(ctx, f, executor.FinalizeOptions{})
	if err == nil || st.State != executor.Executed {
		t.Errorf("Finalize: %s, %v; want executed and an error", st.State, err)
	}
}

func TestOOMMessage(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{"big": {OOMKilled: true}}})
	def := executor.JobDefinition{ID: "j", Action: "big", MemoryLimit: 4 << 30}
	_, _ = ex.Prepare(ctx, def)
	_, _ = ex.Execute(ctx, def)
	_, _ = ex.Status(ctx, def)
	st, err := ex.Finalize(ctx, def, executor.FinalizeOptions{})
	st = state(t, "Finalize", st, err, executor.Finalized)
	r := st.Results
	if r.ExitCode != 137 || !r.OOMKilled || r.Message != "Job ran out of memory (limit was 4.00GB)" {
		t.Errorf("results = %+v, want exit 137, OOMKilled and the out-of-memory message", *r)
	}
}

func TestFailAndErrorFinalize(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(fake.Config{})
	def := executor.JobDefinition{ID: "j", Action: "a"}
	_, _ = ex.Prepare(ctx, def)
	_, _ = ex.Execute(ctx, def)
	ex.Fail("j", "the runner stopped while this job was running; run the action again")
	st, err := ex.Status(ctx, def)
	st = state(t, "Status", st, err, executor.Error)
	if st.Message == "" {
		t.Errorf("Error state without a message")
	}
	st, err = ex.Finalize(ctx, def, executor.FinalizeOptions{})
	state(t, "plain Finalize in Error", st, err, executor.Error)
	st, err = ex.Finalize(ctx, def, executor.FinalizeOptions{Error: true})
	st = state(t, "Finalize(error)", st, err, executor.Finalized)
	if st.Results.ExitCode != -1 || len(st.Results.Outputs) != 0 {
		t.Errorf("results = %+v, want exit -1 and no outputs", *st.Results)
	}
}

func TestCallsRecorded(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(fake.Config{})
	def := executor.JobDefinition{ID: "j", Action: "a"}
	_, _ = ex.Prepare(ctx, def)
	_, _ = ex.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true})
	_ = ex.Cleanup(ctx, def)
	var methods []string
	for _, c := range ex.Calls() {
		methods = append(methods, c.Method)
	}
	if want := []string{"Prepare", "Finalize", "Cleanup"}; !slices.Equal(methods, want) {
		t.Errorf("calls = %v, want %v", methods, want)
	}
	if c := ex.Calls()[1]; !c.Options.Cancelled || c.Action != "a" {
		t.Errorf("Finalize call = %+v, want Cancelled and action a", c)
	}
}

func TestCanRun(t *testing.T) {
	unavailable := &executor.UnavailableError{Executor: "fake", Image: "ehrql:v1", Reason: "use docker"}
	ex := fake.New(fake.Config{Scripts: map[string]fake.Script{
		"db":    {PrepareError: unavailable},
		"flaky": {PrepareError: errors.New("disk full")},
	}})
	if err := ex.CanRun(executor.JobDefinition{ID: "1", Action: "db"}); !errors.Is(err, unavailable) {
		t.Errorf("CanRun(db) = %v, want the UnavailableError", err)
	}
	if err := ex.CanRun(executor.JobDefinition{ID: "2", Action: "flaky"}); err != nil {
		t.Errorf("CanRun(flaky) = %v, want nil: only unavailability is known at planning time", err)
	}
}
