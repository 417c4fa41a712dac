// Package executor defines how the runner hands a job to something that
// runs it (host processes, Docker containers, Kubernetes Jobs) and gets the
// results back. Sub-packages implement it; executortest holds the
// conformance suite every implementation passes.
package executor

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"
)

// State is where a job is as far as its executor is concerned. ERROR means
// the executor failed, not the job.
type State string

// Executor states.
const (
	Unknown    State = "unknown"
	Preparing  State = "preparing"
	Prepared   State = "prepared"
	Executing  State = "executing"
	Executed   State = "executed"
	Finalizing State = "finalizing"
	Finalized  State = "finalized"
	Error      State = "error"
)

// Privacy levels of outputs, as in project.yaml.
const (
	HighlySensitive     = "highly_sensitive"
	ModeratelySensitive = "moderately_sensitive"
	MinimallySensitive  = "minimally_sensitive"
)

// JobDefinition is everything an executor needs to run one job. It is
// plain data: the runner builds it from the job and the configuration.
type JobDefinition struct {
	ID        string    // the job id; names containers, scratch directories, logs
	RequestID string    // the job request (rap) id
	Workspace string    // the workspace name
	Action    string    // the action id
	CreatedAt time.Time // when the job was created (UTC)
	Commit    string    // the study commit, "" for a local working tree
	User      string    // who asked for the job
	// Repo is the study repository URL recorded in the medium-privacy
	// manifest; "" for a local working tree (written as null).
	Repo string

	Image string   // image:tag, e.g. python:v2
	Args  []string // the words after image:tag
	Env   map[string]string

	// OutputSpec maps each output pattern of the action to its privacy level.
	OutputSpec map[string]string
	// AllowDatabaseAccess is true only for database actions.
	AllowDatabaseAccess bool

	// ProjectDir holds the study code that is copied into the job's scratch
	// workspace.
	ProjectDir string
	// ExcludePatterns are every output pattern of every action: files in
	// ProjectDir matching any of them are not copied into the scratch
	// workspace, so undeclared inputs cannot leak in.
	ExcludePatterns []string
	// Inputs are the files (workspace-relative) produced by the job's
	// direct needs, copied from WorkspaceDir into the scratch workspace.
	Inputs []string
	// PreviousOutputs are the files the action's previous successful run
	// produced; finalize removes those this run no longer produces.
	PreviousOutputs []string

	// WorkspaceDir is the high-privacy workspace where outputs land (for a
	// local run, the project directory itself).
	WorkspaceDir string
	// MediumDir is the medium-privacy workspace; "" for none.
	MediumDir string
	// ScratchRoot is where executors create per-job scratch directories
	// (for a local run, <project>/metadata/volumes).
	ScratchRoot string
	// LogDir is where the job's log directory (os-job-<id>) is created.
	LogDir string
	// DeferSync lets Finalize move outputs into the workspaces atomically
	// without flushing each to disk: a runner that sets it flushes the file
	// system itself before it stops (outputs.SyncFS). Outputs then survive
	// the runner being killed, but not a power cut in between. Local runs
	// set it; backends do not.
	DeferSync bool

	CPUCount    float64       // 0 for the executor's default
	MemoryLimit int64         // bytes; 0 for the executor's default
	Timeout     time.Duration // wall-clock limit; 0 for none

	Level4MaxFileSize int64 // bytes; 0 for 16 MiB
	Level4MaxCSVRows  int   // 0 for 5000
}

// Status is what an executor reports about a job.
type Status struct {
	State State
	// Timestamp of the last change, in nanoseconds since the epoch.
	Timestamp int64
	// Message explains an Error state, or says why nothing changed.
	Message string
	// Results are set once the job is Finalized.
	Results *Results
}

// Results are what finalize found.
type Results struct {
	// Outputs maps each output file kept (workspace-relative) to its level.
	Outputs map[string]string
	// UnmatchedPatterns are output patterns that matched no file.
	UnmatchedPatterns []string
	// UnmatchedOutputs are new files the job wrote that no pattern matched.
	UnmatchedOutputs []string
	// ExitCode of the job's process; -1 when it never ran.
	ExitCode int
	// Message is the executor's message ("Job ran out of memory (limit was
	// 4.00GB)", "Job exceeded its time limit of 2h", …), "" if none.
	Message string
	// UnmatchedHint is the "Did you mean…" hint, "" if none.
	UnmatchedHint string
	// Level4Excluded maps moderately sensitive outputs kept out of the
	// medium-privacy workspace to the reason.
	Level4Excluded map[string]string
	// RemovedOutputs are outputs of the action's previous run that this run
	// no longer produces, removed from the workspaces.
	RemovedOutputs []string
	// LogFile is the workspace-relative path of the job's log
	// (metadata/<action>.log); "" when only the log directory has it.
	LogFile   string
	ImageID   string
	OOMKilled bool
	TimedOut  bool
	Cancelled bool
	// Errored is true when finalize ran after an executor failure: like a
	// cancelled job, only the logs were kept.
	Errored bool
	// Log holds progress lines for the live log ("Extracting output file:
	// …", "Logs written to: …", warnings about refused files), in order.
	Log []string
}

// Clone returns a deep copy of the results (nil for nil), so an executor
// can hand results out without sharing its own maps and slices.
func (r *Results) Clone() *Results {
	if r == nil {
		return nil
	}
	c := *r
	c.Outputs = maps.Clone(r.Outputs)
	c.UnmatchedPatterns = slices.Clone(r.UnmatchedPatterns)
	c.UnmatchedOutputs = slices.Clone(r.UnmatchedOutputs)
	c.Level4Excluded = maps.Clone(r.Level4Excluded)
	c.RemovedOutputs = slices.Clone(r.RemovedOutputs)
	c.Log = slices.Clone(r.Log)
	return &c
}

// FinalizeOptions say why a job is being finalized early.
type FinalizeOptions struct {
	Cancelled bool // the user cancelled it: keep only the logs
	Error     bool // the executor failed: keep only the logs
}

// Executor runs jobs. Every method is idempotent: called in a state where
// it has nothing to do, it returns the current status. Methods may be
// called concurrently for different jobs. No method blocks for the job's
// run time: Execute starts the job and returns.
type Executor interface {
	// Name is the executor's name: local, docker, fake.
	Name() string
	// Prepare creates the scratch workspace: the project code minus output
	// files, plus the inputs. Unknown -> Prepared.
	Prepare(ctx context.Context, job JobDefinition) (Status, error)
	// Execute starts the job. Prepared -> Executing.
	Execute(ctx context.Context, job JobDefinition) (Status, error)
	// Status reports the job's current state.
	Status(ctx context.Context, job JobDefinition) (Status, error)
	// Finalize records the results: outputs moved into the workspaces, the
	// log written. Executed -> Finalized.
	Finalize(ctx context.Context, job JobDefinition, opts FinalizeOptions) (Status, error)
	// Terminate stops a running job. Executing -> Executed.
	Terminate(ctx context.Context, job JobDefinition) (Status, error)
	// Cleanup releases what the job held (processes, containers, scratch
	// files). Any state -> Unknown. Errors are reported, not fatal.
	Cleanup(ctx context.Context, job JobDefinition) error
}

// Waiter is implemented by executors that can block until a job stops
// executing, so the runner need not poll Status. Wait returns when the job
// is no longer Executing (or ctx ends); the runner then calls Status.
type Waiter interface {
	Wait(ctx context.Context, job JobDefinition) error
}

// ErrRetry marks a transient failure: the runner tries again later
// without failing the job.
var ErrRetry = errors.New("executor busy, try again")

// UnavailableError says an executor cannot run a job at all (an image it
// does not have, an interpreter missing), naming what could.
type UnavailableError struct {
	Executor string // this executor
	Image    string // the image asked for
	Reason   string // why not, and what to do instead
}

func (e *UnavailableError) Error() string { return e.Reason }
