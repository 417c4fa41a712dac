// Package runner drives jobs through an executor: the job state machine
// shared by `haven run` and the backend agent. Every transition is written
// to the store before the runner acts on it, so a runner killed at any
// moment leaves a state it can reconcile on restart.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Store is the persistence the runner needs. Implementations are safe for
// concurrent use; UpdateJob writes every mutable field of the job.
type Store interface {
	CreateJobs(ctx context.Context, jobs []*haven.Job) error
	UpdateJob(ctx context.Context, job *haven.Job) error
	WorkspaceJobs(ctx context.Context, workspace string) ([]*haven.Job, error)
	ActiveJobs(ctx context.Context, workspace string) ([]*haven.Job, error)
}

// Event is one line of a job's progress, for live display.
type Event struct {
	Time    time.Time
	JobID   string
	Action  string
	Code    haven.StatusCode // the job's status code when the event happened
	Message string
}

// Config is what a Runner works with.
type Config struct {
	Store    Store
	Executor executor.Executor
	Pipeline *pipeline.Pipeline
	// Workspace names the workspace the jobs belong to.
	Workspace string

	ProjectDir   string // the study code
	WorkspaceDir string // high-privacy workspace: where outputs land
	MediumDir    string // medium-privacy workspace, "" for none
	ScratchRoot  string // per-job scratch directories
	LogDir       string // per-job log directories
	// DeferSync is passed to every job (executor.JobDefinition.DeferSync):
	// the caller flushes the workspaces' file system when the run ends.
	DeferSync bool

	// MaxWorkers is how many jobs run at once (default 2).
	MaxWorkers int
	// ContinueOnError keeps going after a job fails; otherwise the first
	// failure stops the run and the jobs still active are cancelled.
	ContinueOnError bool

	Timeout     time.Duration // per-job wall-clock limit, 0 for none
	CPUCount    float64
	MemoryLimit int64
	Env         map[string]string

	// PollInterval is how often Status is polled for executors that are
	// not Waiters (default 100 ms).
	PollInterval time.Duration

	Now     func() time.Time
	Logger  *slog.Logger
	OnEvent func(Event) // called from several goroutines, one event at a time
}

// Runner runs jobs. Create one with New.
type Runner struct {
	cfg     Config
	eventMu sync.Mutex
	exclude []string // every output pattern of every action

	// latest is the latest succeeded job of each action in the workspace,
	// read from the store once and kept up to date as jobs succeed, so a
	// job's inputs are found without reading every job again.
	latestMu sync.Mutex
	latest   map[string]*haven.Job

	// cleanups are the Cleanup calls under way: a finished job's cleanup
	// runs beside the next job instead of before it, and Run and Recover
	// wait for all of them before they return.
	cleanups sync.WaitGroup
}

// New returns a Runner with defaults filled in.
func New(cfg Config) *Runner {
	if cfg.MaxWorkers < 1 {
		cfg.MaxWorkers = 2
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg}
	if cfg.Pipeline != nil {
		for _, a := range cfg.Pipeline.Actions {
			for _, o := range a.Outputs.All() {
				r.exclude = append(r.exclude, o.Pattern)
			}
		}
	}
	return r
}

// Messages for jobs the runner itself ends.
const (
	msgRunnerStopped   = "Internal error: the runner stopped while this job was running; run the action again"
	msgStoppedBefore   = "Cancelled: the previous run stopped before this job started"
	msgOtherJobFailed  = "Cancelled: another job failed (use --continue-on-error to keep going)"
	msgCancelledByUser = "Cancelled by user"
)

// emit reports an event.
func (r *Runner) emit(j *haven.Job, msg string) {
	if r.cfg.OnEvent == nil {
		return
	}
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.cfg.OnEvent(Event{Time: r.cfg.Now().UTC(), JobID: j.ID, Action: j.Action, Code: j.StatusCode, Message: msg})
}

// transition persists a new status code, then reports it. The write comes
// first: the runner never acts on a state it has not recorded.
func (r *Runner) transition(ctx context.Context, j *haven.Job, code haven.StatusCode, msg string) error {
	j.SetCode(code, msg, r.cfg.Now())
	// A cancelled context must not stop the record of what happened.
	if err := r.cfg.Store.UpdateJob(context.WithoutCancel(ctx), j); err != nil {
		return fmt.Errorf("record %s for job %s (%s): %w", code, j.ID, j.Action, err)
	}
	r.emit(j, j.StatusMessage)
	return nil
}

// passing reports a status a job passes through on its way to the next,
// with nothing done in between (prepared, executed, finalized): the next
// transition is recorded before any action, so this one is only reported,
// which saves a third of the writes per job.
func (r *Runner) passing(j *haven.Job, code haven.StatusCode) {
	j.SetCode(code, "", r.cfg.Now())
	r.emit(j, j.StatusMessage)
}

// definition builds the executor's view of a job.
func (r *Runner) definition(j *haven.Job, inputs, previous []string) executor.JobDefinition {
	return executor.JobDefinition{
		ID: j.ID, RequestID: j.RequestID, Workspace: j.Workspace, Action: j.Action, CreatedAt: j.CreatedAt,
		Image: j.Image, Args: j.Args, Env: r.cfg.Env, OutputSpec: j.OutputSpec, AllowDatabaseAccess: j.RequiresDB,
		ProjectDir: r.cfg.ProjectDir, ExcludePatterns: r.exclude, Inputs: inputs, PreviousOutputs: previous,
		WorkspaceDir: r.cfg.WorkspaceDir, MediumDir: r.cfg.MediumDir, ScratchRoot: r.cfg.ScratchRoot, LogDir: r.cfg.LogDir, DeferSync: r.cfg.DeferSync,
		CPUCount: r.cfg.CPUCount, MemoryLimit: r.cfg.MemoryLimit, Timeout: r.cfg.Timeout,
	}
}

// inputsFor lists the outputs of the latest successful job of each action
// a job needs, and the outputs of the action's own previous success.
func (r *Runner) inputsFor(ctx context.Context, j *haven.Job) (inputs, previous []string, err error) {
	r.latestMu.Lock()
	defer r.latestMu.Unlock()
	if r.latest == nil {
		jobs, err := r.cfg.Store.WorkspaceJobs(ctx, j.Workspace)
		if err != nil {
			return nil, nil, err
		}
		r.latest = map[string]*haven.Job{}
		for _, o := range jobs { // oldest first: later ones replace earlier
			if o.State == haven.StateSucceeded {
				r.latest[o.Action] = o
			}
		}
	}
	for _, need := range j.RequiresOutputsFrom {
		dep := r.latest[need]
		if dep == nil {
			return nil, nil, fmt.Errorf("action %s needs %s, which has not run successfully", j.Action, need)
		}
		inputs = append(inputs, sortedKeys(dep.Outputs)...)
	}
	if prev := r.latest[j.Action]; prev != nil && prev.ID != j.ID {
		previous = sortedKeys(prev.Outputs)
	}
	return inputs, previous, nil
}

// succeeded notes a job that has just succeeded as its action's latest.
func (r *Runner) succeeded(j *haven.Job) {
	r.latestMu.Lock()
	defer r.latestMu.Unlock()
	if r.latest != nil {
		r.latest[j.Action] = j
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errStop ends a job's lifecycle early because the run is stopping.
var errStop = errors.New("run stopping")
