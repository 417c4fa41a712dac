package store

import (
	"strings"

	"github.com/haven-tre/haven"
)

// FailedMessage is the status message of a request whose jobs failed.
const FailedMessage = "Failed due to job failure"

// DeriveStatus derives a job request's status from its stored status and
// its jobs (spec §4.2), as the store does whenever jobs change:
//
//  1. a stored failed, succeeded or nothing_to_do is kept;
//  2. the jobs' states are compared lower-cased, an empty state counting
//     as pending;
//  3. with no jobs the stored status is kept;
//  4. when every job has the same state that is the status (an
//     unrecognised state gives unknown; failed sets FailedMessage);
//  5. else any running job makes the request running;
//  6. else any pending job makes it running too (some jobs finished);
//  7. else any failed job (the others succeeded) makes it failed, with
//     FailedMessage;
//  8. otherwise it is unknown.
//
// message is "" when the stored message should be kept.
func DeriveStatus(stored string, jobs []*Job) (status, message string) {
	switch stored {
	case RequestFailed, RequestSucceeded, RequestNothingToDo:
		return stored, ""
	}
	if len(jobs) == 0 {
		return stored, ""
	}
	seen := make(map[string]bool, 4)
	for _, j := range jobs {
		s := strings.ToLower(string(j.State))
		if s == "" {
			s = RequestPending
		}
		seen[s] = true
	}
	if len(seen) == 1 {
		for s := range seen {
			switch s {
			case RequestFailed:
				return RequestFailed, FailedMessage
			case RequestPending, RequestRunning, RequestSucceeded:
				return s, ""
			default:
				return RequestUnknown, ""
			}
		}
	}
	switch {
	case seen[RequestRunning], seen[RequestPending]:
		return RequestRunning, ""
	case seen[RequestFailed] && len(seen) == 2 && seen[RequestSucceeded]:
		return RequestFailed, FailedMessage
	}
	return RequestUnknown, ""
}

// StatusLabel is how a job request status is shown ("Nothing to do");
// an unrecognised status shows as Unknown.
func StatusLabel(status string) string {
	switch status {
	case RequestPending:
		return "Pending"
	case RequestRunning:
		return "Running"
	case RequestSucceeded:
		return "Succeeded"
	case RequestFailed:
		return "Failed"
	case RequestNothingToDo:
		return "Nothing to do"
	case RequestUnknownErrorCreatingJobs:
		return "Unknown error creating jobs"
	}
	return "Unknown"
}

// IsActive reports whether a job request with this status may still
// change: pending, running, unknown and unknown_error_creating_jobs are
// active; a request whose status is not active is complete.
func IsActive(status string) bool {
	switch status {
	case RequestPending, RequestRunning, RequestUnknown, RequestUnknownErrorCreatingJobs:
		return true
	}
	return false
}

// agentCodes are the status codes an agent may report (spec §4.1); the
// rest are the server's to set.
var agentCodes = map[haven.StatusCode]bool{
	haven.StatusPreparing:         true,
	haven.StatusPrepared:          true,
	haven.StatusExecuting:         true,
	haven.StatusExecuted:          true,
	haven.StatusFinalizing:        true,
	haven.StatusFinalized:         true,
	haven.StatusSucceeded:         true,
	haven.StatusNonzeroExit:       true,
	haven.StatusUnmatchedPatterns: true,
	haven.StatusInternalError:     true,
	haven.StatusJobError:          true,
	haven.StatusCancelledByUser:   true,
	haven.StatusWaitingOnNewTask:  true,
}

// AgentMayReport reports whether an agent may send this status code.
func AgentMayReport(code haven.StatusCode) bool { return agentCodes[code] }
