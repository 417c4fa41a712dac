package haven

import "time"

// State is a job's coarse state.
type State string

// Job states.
const (
	StatePending   State = "pending"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
)

// StatusCode is a job's fine-grained status, the machine-readable twin of
// its status message. Codes are those of OpenSAFELY's job-runner, so users
// and tools that know them recognise them.
type StatusCode string

// Status codes, in upstream's declaration order.
const (
	StatusCreated               StatusCode = "created"
	StatusInitiated             StatusCode = "initiated"
	StatusPaused                StatusCode = "paused"
	StatusWaitingDBMaintenance  StatusCode = "waiting_db_maintenance"
	StatusWaitingOnDependencies StatusCode = "waiting_on_dependencies"
	StatusWaitingOnWorkers      StatusCode = "waiting_on_workers"
	StatusWaitingOnDBWorkers    StatusCode = "waiting_on_db_workers"
	StatusWaitingOnReboot       StatusCode = "waiting_on_reboot"
	StatusWaitingOnNewTask      StatusCode = "waiting_on_new_task"
	StatusPreparing             StatusCode = "preparing"
	StatusPrepared              StatusCode = "prepared"
	StatusExecuting             StatusCode = "executing"
	StatusExecuted              StatusCode = "executed"
	StatusFinalizing            StatusCode = "finalizing"
	StatusFinalized             StatusCode = "finalized"
	StatusSucceeded             StatusCode = "succeeded"
	StatusDependencyFailed      StatusCode = "dependency_failed"
	StatusNonzeroExit           StatusCode = "nonzero_exit"
	StatusCancelledByUser       StatusCode = "cancelled_by_user"
	StatusUnmatchedPatterns     StatusCode = "unmatched_patterns"
	StatusInternalError         StatusCode = "internal_error"
	StatusKilledByAdmin         StatusCode = "killed_by_admin"
	StatusStaleCodelists        StatusCode = "stale_codelists"
	StatusJobError              StatusCode = "job_error"
)

// statusKind says how a status code moves a job's state.
type statusKind int

const (
	kindPending statusKind = iota // a pending code
	kindRunning                   // sets running and started_at
	kindFinal                     // sets completed_at and succeeded or failed
	kindReset                     // back to pending, started_at cleared
)

type statusInfo struct {
	kind    statusKind
	state   State
	message string
}

var statuses = map[StatusCode]statusInfo{
	StatusCreated:               {kindPending, StatePending, "Created"},
	StatusInitiated:             {kindRunning, StateRunning, "Job executing on the backend"},
	StatusPaused:                {kindPending, StatePending, "Backend is currently paused for maintenance, job will start once this is completed"},
	StatusWaitingDBMaintenance:  {kindReset, StatePending, "Waiting for database to finish maintenance"},
	StatusWaitingOnDependencies: {kindPending, StatePending, "Waiting on dependencies"},
	StatusWaitingOnWorkers:      {kindPending, StatePending, "Waiting on available workers"},
	StatusWaitingOnDBWorkers:    {kindPending, StatePending, "Waiting on available database workers"},
	StatusWaitingOnReboot:       {kindReset, StatePending, "Job restarted - waiting for server to reboot"},
	StatusWaitingOnNewTask:      {kindReset, StatePending, "This job returned an error that could be retried with a new task."},
	StatusPreparing:             {kindRunning, StateRunning, "Preparing your code and workspace files"},
	StatusPrepared:              {kindRunning, StateRunning, "Prepared and ready to run"},
	StatusExecuting:             {kindRunning, StateRunning, "Executing job on the backend"},
	StatusExecuted:              {kindRunning, StateRunning, "Job has finished executing and is waiting to be finalized"},
	StatusFinalizing:            {kindRunning, StateRunning, "Recording job results"},
	StatusFinalized:             {kindRunning, StateRunning, "Finished recording results"},
	StatusSucceeded:             {kindFinal, StateSucceeded, "Completed successfully"},
	StatusDependencyFailed:      {kindFinal, StateFailed, "Not starting as dependency failed"},
	StatusNonzeroExit:           {kindFinal, StateFailed, "Job exited with an error"},
	StatusCancelledByUser:       {kindFinal, StateFailed, "Cancelled by user"},
	StatusUnmatchedPatterns:     {kindFinal, StateFailed, "No outputs found matching patterns"},
	StatusInternalError:         {kindFinal, StateFailed, "Internal error: this usually means a platform issue rather than a problem for users to fix."},
	StatusKilledByAdmin:         {kindFinal, StateFailed, "Job killed by admin"},
	StatusStaleCodelists:        {kindFinal, StateFailed, "Codelists are out of date"},
	StatusJobError:              {kindFinal, StateFailed, "This job returned a fatal error."},
}

// StatusCodes lists every status code in declaration order.
var StatusCodes = []StatusCode{
	StatusCreated, StatusInitiated, StatusPaused, StatusWaitingDBMaintenance, StatusWaitingOnDependencies,
	StatusWaitingOnWorkers, StatusWaitingOnDBWorkers, StatusWaitingOnReboot, StatusWaitingOnNewTask,
	StatusPreparing, StatusPrepared, StatusExecuting, StatusExecuted, StatusFinalizing, StatusFinalized,
	StatusSucceeded, StatusDependencyFailed, StatusNonzeroExit, StatusCancelledByUser, StatusUnmatchedPatterns,
	StatusInternalError, StatusKilledByAdmin, StatusStaleCodelists, StatusJobError,
}

// Known reports whether c is a status code Haven knows.
func (c StatusCode) Known() bool { _, ok := statuses[c]; return ok }

// State is the coarse state a job with this code is in.
func (c StatusCode) State() State { return statuses[c].state }

// Message is the code's default status message.
func (c StatusCode) Message() string { return statuses[c].message }

// IsFinal reports whether the code ends a job.
func (c StatusCode) IsFinal() bool { return statuses[c].kind == kindFinal }

// IsRunning reports whether the code marks a job as started.
func (c StatusCode) IsRunning() bool { return statuses[c].kind == kindRunning }

// IsReset reports whether the code sends a started job back to pending.
func (c StatusCode) IsReset() bool { return statuses[c].kind == kindReset }

// Job is one action run for one job request.
type Job struct {
	ID        string // deterministic: pipeline.JobID(RequestID, Action)
	RequestID string // the job request (rap) id
	Workspace string
	Action    string

	State         State
	StatusCode    StatusCode
	StatusMessage string
	Cancelled     bool // the user asked for it to stop

	// What to run: the image reference (image:tag) and the rewritten run
	// command (config appended) split into words; Args excludes the image.
	Image      string
	Args       []string
	RunCommand string
	RequiresDB bool

	// OutputSpec maps each output pattern to its privacy level.
	OutputSpec map[string]string
	// RequiresOutputsFrom names the actions (direct needs) whose outputs
	// are copied in before the job runs.
	RequiresOutputsFrom []string
	// WaitForJobIDs are the jobs that must succeed before this one starts.
	WaitForJobIDs []string

	// Outputs maps each file the job produced (workspace-relative) to its
	// privacy level; set when the job is finalized.
	Outputs map[string]string
	// ExitCode of the job's process, when it ran.
	ExitCode *int

	CreatedAt   time.Time // UTC
	StartedAt   time.Time // zero until running
	CompletedAt time.Time // zero until final
	UpdatedAt   time.Time
	// StatusCodeUpdatedAt is in nanoseconds since the epoch, as upstream
	// stores it.
	StatusCodeUpdatedAt int64
}

// SetCode moves the job to a status code, with the message given or the
// code's default, and keeps the state and timestamps consistent with it.
func (j *Job) SetCode(code StatusCode, message string, now time.Time) {
	now = now.UTC()
	if message == "" {
		message = code.Message()
	}
	info := statuses[code]
	j.StatusCode, j.StatusMessage, j.State = code, message, info.state
	switch info.kind {
	case kindRunning:
		if j.StartedAt.IsZero() {
			j.StartedAt = now
		}
	case kindFinal:
		j.CompletedAt = now
	case kindReset:
		j.StartedAt = time.Time{}
	}
	j.UpdatedAt = now
	j.StatusCodeUpdatedAt = now.UnixNano()
}
