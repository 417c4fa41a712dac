// Package fake is a scriptable, in-memory executor for runner tests. Each
// job follows a Script (exit code, run time, failures, outputs) chosen by
// job id or action; the executor honours the contract's state machine,
// records every call and is safe for concurrent use. It touches no files.
package fake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// Script is what one job does when the fake runs it.
type Script struct {
	// ExitCode is the job's exit status. A terminated job exits 137 unless
	// it had already finished.
	ExitCode int
	// Duration is how long the job runs, measured by the injected clock
	// from Execute.
	Duration time.Duration
	// Polls is how many Status calls see the job Executing before it is
	// Executed (counted after Duration has passed).
	Polls int
	// Hang keeps the job Executing until Terminate or Cleanup.
	Hang bool
	// OOMKilled reports the job as killed for running out of memory: exit
	// 137 and the out-of-memory message, unless ExitCode or Message say
	// otherwise.
	OOMKilled bool
	// TimedOut reports the job as killed at its time limit.
	TimedOut bool
	// Message is the executor's message in the results; "" for the default.
	Message string

	// PrepareError, ExecuteError and FinalizeError are returned by those
	// methods, which then leave the job's state unchanged.
	PrepareError  error
	ExecuteError  error
	FinalizeError error
	// RetryPolls is how many Status calls, while the job is Executing,
	// return executor.ErrRetry before the job is reported normally.
	RetryPolls int

	// Outputs maps each output file the job produces to its privacy level.
	Outputs map[string]string
	// UnmatchedPatterns are the output patterns nothing matched.
	UnmatchedPatterns []string
	// UnmatchedOutputs are files the job wrote that no pattern matched.
	UnmatchedOutputs []string
}

// Call is one method call the fake received.
type Call struct {
	Method  string // CanRun, Prepare, Execute, Status, Finalize, Terminate or Cleanup
	JobID   string
	Action  string
	Options executor.FinalizeOptions // for Finalize
}

// Config configures a fake executor.
type Config struct {
	// Now is the clock that Script.Duration is measured on; time.Now if nil.
	Now func() time.Time
	// Scripts maps a job id or an action id to its script; a job id wins.
	Scripts map[string]Script
	// Lookup, if set, chooses the script of a job that Scripts does not
	// name (for example by decoding its arguments).
	Lookup func(def executor.JobDefinition) (Script, bool)
}

// Executor is the fake executor.
type Executor struct {
	now    func() time.Time
	lookup func(def executor.JobDefinition) (Script, bool)

	mu      sync.Mutex
	scripts map[string]Script
	jobs    map[string]*job
	calls   []Call
	starts  map[string]int // job id -> runs actually started
}

var _ executor.Executor = (*Executor)(nil)

// job is the fake's record of one job.
type job struct {
	script   Script
	state    executor.State
	changed  time.Time
	started  time.Time
	polls    int
	retries  int
	exitCode int
	killed   bool
	results  *executor.Results
	message  string // explains an Error state
}

// New returns a fake executor.
func New(cfg Config) *Executor {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	scripts := make(map[string]Script, len(cfg.Scripts))
	maps.Copy(scripts, cfg.Scripts)
	return &Executor{now: now, lookup: cfg.Lookup, scripts: scripts, jobs: map[string]*job{}, starts: map[string]int{}}
}

// SetScript sets the script for a job id or action id; jobs already
// prepared keep the script they started with.
func (e *Executor) SetScript(key string, s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts[key] = s
}

// Calls returns a copy of every call received so far, in order.
func (e *Executor) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// CallsTo returns the calls of one method for one job id, in order.
func (e *Executor) CallsTo(method, jobID string) []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Call
	for _, c := range e.calls {
		if c.Method == method && c.JobID == jobID {
			out = append(out, c)
		}
	}
	return out
}

// Starts reports how many times the job was actually started (not merely
// asked to execute): an idempotent runner sees 1.
func (e *Executor) Starts(jobID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts[jobID]
}

// Name returns "fake".
func (e *Executor) Name() string { return "fake" }

// record notes a call; e.mu must be held.
func (e *Executor) record(method string, def executor.JobDefinition, opts executor.FinalizeOptions) {
	e.calls = append(e.calls, Call{Method: method, JobID: def.ID, Action: def.Action, Options: opts})
}

// scriptFor finds def's script; e.mu must be held.
func (e *Executor) scriptFor(def executor.JobDefinition) Script {
	if s, ok := e.scripts[def.ID]; ok {
		return s
	}
	if s, ok := e.scripts[def.Action]; ok {
		return s
	}
	if e.lookup != nil {
		if s, ok := e.lookup(def); ok {
			return s
		}
	}
	return Script{}
}

// status reports j's state; e.mu must be held.
func (e *Executor) status(j *job) executor.Status {
	if j == nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}
	}
	return executor.Status{State: j.state, Timestamp: j.changed.UnixNano(), Message: j.message, Results: j.results.Clone()}
}

// set moves j to a state; e.mu must be held.
func (e *Executor) set(j *job, state executor.State) {
	j.state, j.changed = state, e.now()
}

// CanRun reports, as a real executor does when the runner plans jobs,
// whether the job can run: the script's PrepareError if it is an
// *executor.UnavailableError, else nil.
func (e *Executor) CanRun(def executor.JobDefinition) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("CanRun", def, executor.FinalizeOptions{})
	var ue *executor.UnavailableError
	if err := e.scriptFor(def).PrepareError; errors.As(err, &ue) {
		return err
	}
	return nil
}

// Prepare moves an unknown job to Prepared, or returns the script's
// PrepareError.
func (e *Executor) Prepare(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Prepare", def, executor.FinalizeOptions{})
	if j := e.jobs[def.ID]; j != nil {
		return e.status(j), nil
	}
	s := e.scriptFor(def)
	if s.PrepareError != nil {
		return e.status(nil), fmt.Errorf("prepare job %s: %w", def.ID, s.PrepareError)
	}
	j := &job{script: s}
	e.set(j, executor.Prepared)
	e.jobs[def.ID] = j
	return e.status(j), nil
}

// Execute starts a prepared job, or returns the script's ExecuteError.
func (e *Executor) Execute(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Execute", def, executor.FinalizeOptions{})
	j := e.jobs[def.ID]
	if j == nil || j.state != executor.Prepared {
		return e.status(j), nil
	}
	if j.script.ExecuteError != nil {
		return e.status(j), fmt.Errorf("execute job %s: %w", def.ID, j.script.ExecuteError)
	}
	e.starts[def.ID]++
	j.started = e.now()
	e.set(j, executor.Executing)
	return e.status(j), nil
}

// Status reports the job's state, moving a running job to Executed once its
// script's Duration and Polls have passed.
func (e *Executor) Status(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Status", def, executor.FinalizeOptions{})
	j := e.jobs[def.ID]
	if j == nil || j.state != executor.Executing {
		return e.status(j), nil
	}
	if j.retries < j.script.RetryPolls {
		j.retries++
		return e.status(j), fmt.Errorf("status of job %s: %w", def.ID, executor.ErrRetry)
	}
	if j.script.Hang || e.now().Sub(j.started) < j.script.Duration {
		return e.status(j), nil
	}
	if j.polls < j.script.Polls {
		j.polls++
		return e.status(j), nil
	}
	j.exitCode = exitCode(j.script)
	e.set(j, executor.Executed)
	return e.status(j), nil
}

// exitCode is the code a script's job exits with when it runs to the end.
func exitCode(s Script) int {
	if s.OOMKilled && s.ExitCode == 0 {
		return 137
	}
	return s.ExitCode
}

// Finalize records the results of an executed job. A cancelled or errored
// job (Cancelled or Error set) may also be finalized from Prepared or
// Error, and keeps no outputs.
func (e *Executor) Finalize(_ context.Context, def executor.JobDefinition, opts executor.FinalizeOptions) (executor.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Finalize", def, opts)
	j := e.jobs[def.ID]
	if j == nil {
		return e.status(j), nil
	}
	early := opts.Cancelled || opts.Error
	switch {
	case j.state == executor.Executed:
	case early && (j.state == executor.Prepared || j.state == executor.Error):
		j.exitCode = -1
	default:
		return e.status(j), nil
	}
	if j.script.FinalizeError != nil {
		return e.status(j), fmt.Errorf("finalize job %s: %w", def.ID, j.script.FinalizeError)
	}
	j.results, j.message = e.results(def, j, opts), ""
	e.set(j, executor.Finalized)
	return e.status(j), nil
}

// results builds what finalize reports for j.
func (e *Executor) results(def executor.JobDefinition, j *job, opts executor.FinalizeOptions) *executor.Results {
	s := j.script
	res := &executor.Results{
		Outputs:   map[string]string{},
		ExitCode:  j.exitCode,
		Message:   s.Message,
		OOMKilled: s.OOMKilled && !j.killed,
		TimedOut:  s.TimedOut && !j.killed,
		Cancelled: opts.Cancelled,
		Errored:   opts.Error,
	}
	if opts.Cancelled || opts.Error {
		if res.Message == "" && opts.Cancelled {
			res.Message = "Job cancelled by system"
		} else if res.Message == "" {
			res.Message = "Job errored"
		}
		return res
	}
	maps.Copy(res.Outputs, s.Outputs)
	res.UnmatchedPatterns = slices.Clone(s.UnmatchedPatterns)
	res.UnmatchedOutputs = slices.Clone(s.UnmatchedOutputs)
	res.LogFile = "metadata/" + def.Action + ".log"
	if res.Message == "" {
		switch {
		case res.OOMKilled:
			res.Message = outputs.OOMMessage(def.MemoryLimit)
		case res.TimedOut:
			res.Message = outputs.TimeoutMessage(def.Timeout)
		}
	}
	return res
}

// Terminate stops a running job: it is Executed with exit code 137.
func (e *Executor) Terminate(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Terminate", def, executor.FinalizeOptions{})
	j := e.jobs[def.ID]
	if j == nil || j.state != executor.Executing {
		return e.status(j), nil
	}
	j.exitCode, j.killed = 137, true
	e.set(j, executor.Executed)
	return e.status(j), nil
}

// Cleanup forgets the job.
func (e *Executor) Cleanup(_ context.Context, def executor.JobDefinition) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record("Cleanup", def, executor.FinalizeOptions{})
	delete(e.jobs, def.ID)
	return nil
}

// Fail puts a job in the Error state with message, as an executor does when
// it loses track of a job (for example after a runner restart).
func (e *Executor) Fail(jobID, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.jobs[jobID]
	if j == nil {
		j = &job{}
		e.jobs[jobID] = j
	}
	e.set(j, executor.Error)
	j.results = nil
	j.message = message
}
