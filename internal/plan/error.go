package plan

import (
	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Planning errors keep upstream's messages word for word, because users
// know them and the job server shows them as they are. Each type unwraps to
// a *haven.Error carrying its code, so haven.ErrorCode maps it to an exit
// code or HTTP status without knowing this package.

// runAllListing is how the local CLI lists run_all among the valid names.
const runAllListing = pipeline.RunAll + " (runs all actions in project)"

// UnknownActionError reports a requested action that project.yaml does not
// define, or a request that names no action at all (Action is then "").
// Upstream's local run raises the same error class for both, and lists the
// valid names after either.
type UnknownActionError struct {
	// Action is the requested name that was not found; "" when the request
	// named no action.
	Action string
	// Valid are the project's action names in file order (run_all excluded).
	Valid []string
}

// Error returns upstream's message.
func (e *UnknownActionError) Error() string {
	if e.Action == "" {
		return "At least one action must be supplied"
	}
	return "Action '" + e.Action + "' not found in project.yaml"
}

// ValidNames lists what the user could have asked for, as the local CLI
// prints it under "Valid action names are:": run_all with its explanation
// first, then every action in file order.
func (e *UnknownActionError) ValidNames() []string {
	names := make([]string, 0, len(e.Valid)+1)
	names = append(names, runAllListing)
	return append(names, e.Valid...)
}

// Unwrap gives the error its code: the user can fix the request.
func (e *UnknownActionError) Unwrap() error {
	return &haven.Error{Code: haven.EINVALID, Message: e.Error()}
}

// Messages of NothingToDoError, as upstream's job-runner spells them.
const (
	// MsgAllCompleted is the message when run_all finds nothing left to run.
	MsgAllCompleted = "All actions have already completed successfully"
	// MsgAllScheduled is the message when every requested action already
	// has a pending or running job.
	MsgAllScheduled = "All requested actions were already scheduled to run"
)

// NothingToDoError reports that planning created no job because everything
// asked for has already succeeded or is already under way. Upstream counts
// it as success: the backend answers 200 "Nothing to do" and the local run
// exits 0, so callers must test for it before treating an error as failure.
type NothingToDoError struct {
	Message string // MsgAllCompleted or MsgAllScheduled
}

// Error returns the message.
func (e *NothingToDoError) Error() string { return e.Message }

// Unwrap gives the error its code for callers that do not special-case it:
// the request clashes with the workspace's current state.
func (e *NothingToDoError) Unwrap() error {
	return &haven.Error{Code: haven.ECONFLICT, Message: e.Message}
}

// StaleCodelistError reports that the project's codelists are out of date
// while the plan contains a job that reads the database. The job request
// fails as a whole, with status code stale_codelists.
type StaleCodelistError struct {
	Action string // the first database action of the plan, in upstream's order
}

// Error returns upstream's message.
func (e *StaleCodelistError) Error() string {
	return "Codelists are out of date (required by action " + e.Action + ")"
}

// Hint says how to fix it, for callers that show more than upstream's text.
func (e *StaleCodelistError) Hint() string {
	return "update the codelists under codelists/ (codelists.txt and the downloaded CSV files), commit them and submit the request again"
}

// Unwrap gives the error its code: the user can fix the project.
func (e *StaleCodelistError) Unwrap() error {
	return &haven.Error{Code: haven.EINVALID, Message: e.Error()}
}
