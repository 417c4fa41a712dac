package store_test

import (
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// jobs makes one job per state.
func jobs(states ...haven.State) []*store.Job {
	out := make([]*store.Job, 0, len(states))
	for _, s := range states {
		out = append(out, &store.Job{Job: haven.Job{State: s}})
	}
	return out
}

// TestDeriveStatus covers every rule of spec §4.2. A message of "" keeps
// the stored message.
func TestDeriveStatus(t *testing.T) {
	const failedMsg = "Failed due to job failure"
	tests := []struct {
		name    string
		stored  string
		jobs    []*store.Job
		status  string
		message string
	}{
		// Rule 1: a stored failed, succeeded or nothing_to_do is kept.
		{"1 failed kept over running jobs", store.RequestFailed, jobs("running", "pending"), store.RequestFailed, ""},
		{"1 succeeded kept over a failed job", store.RequestSucceeded, jobs("failed"), store.RequestSucceeded, ""},
		{"1 nothing_to_do kept over pending jobs", store.RequestNothingToDo, jobs("pending"), store.RequestNothingToDo, ""},
		{"1 failed kept without jobs", store.RequestFailed, nil, store.RequestFailed, ""},
		{"1 nothing_to_do kept without jobs", store.RequestNothingToDo, nil, store.RequestNothingToDo, ""},

		// Rule 3: no jobs keeps whatever is stored.
		{"3 pending without jobs", store.RequestPending, nil, store.RequestPending, ""},
		{"3 unknown_error_creating_jobs without jobs", store.RequestUnknownErrorCreatingJobs, nil, store.RequestUnknownErrorCreatingJobs, ""},
		{"3 empty stored status without jobs", "", nil, "", ""},
		{"3 running without jobs", store.RequestRunning, jobs(), store.RequestRunning, ""},

		// Rule 4: every job shares one status.
		{"4 all pending", store.RequestPending, jobs("pending", "pending"), store.RequestPending, ""},
		{"4 all running", store.RequestPending, jobs("running", "running", "running"), store.RequestRunning, ""},
		{"4 all succeeded", store.RequestRunning, jobs("succeeded", "succeeded"), store.RequestSucceeded, ""},
		{"4 one succeeded", store.RequestPending, jobs("succeeded"), store.RequestSucceeded, ""},
		{"4 all failed", store.RequestRunning, jobs("failed", "failed"), store.RequestFailed, failedMsg},
		{"4 unrecognised status", store.RequestRunning, jobs("exploded", "exploded"), store.RequestUnknown, ""},
		{"4 stored unknown re-derived", store.RequestUnknown, jobs("running"), store.RequestRunning, ""},
		{"4 stored unknown_error_creating_jobs with jobs", store.RequestUnknownErrorCreatingJobs, jobs("pending"), store.RequestPending, ""},
		{"4 empty stored status", "", jobs("running"), store.RequestRunning, ""},

		// Rule 2: statuses compared lower-cased; empty counts as pending.
		{"2 upper case", store.RequestPending, jobs("SUCCEEDED", "Succeeded", "succeeded"), store.RequestSucceeded, ""},
		{"2 upper case failed", store.RequestPending, jobs("FAILED"), store.RequestFailed, failedMsg},
		{"2 empty status is pending", store.RequestPending, jobs("", ""), store.RequestPending, ""},
		{"2 empty and pending agree", store.RequestRunning, jobs("", "pending"), store.RequestPending, ""},
		{"2 empty status beside a finished job", store.RequestPending, jobs("", "succeeded"), store.RequestRunning, ""},

		// Rule 5: any running job.
		{"5 running and succeeded", store.RequestPending, jobs("succeeded", "running"), store.RequestRunning, ""},
		{"5 running and failed", store.RequestPending, jobs("failed", "running"), store.RequestRunning, ""},
		{"5 running and pending", store.RequestPending, jobs("pending", "running"), store.RequestRunning, ""},
		{"5 running beside an unrecognised status", store.RequestPending, jobs("exploded", "Running"), store.RequestRunning, ""},

		// Rule 6: else any pending job: still running.
		{"6 pending and succeeded", store.RequestPending, jobs("succeeded", "pending"), store.RequestRunning, ""},
		{"6 pending and failed", store.RequestPending, jobs("pending", "failed"), store.RequestRunning, ""},
		{"6 pending beside an unrecognised status", store.RequestPending, jobs("pending", "exploded"), store.RequestRunning, ""},

		// Rule 7: else failed beside succeeded.
		{"7 failed and succeeded", store.RequestRunning, jobs("succeeded", "failed", "succeeded"), store.RequestFailed, failedMsg},
		{"7 mixed case", store.RequestRunning, jobs("Succeeded", "FAILED"), store.RequestFailed, failedMsg},

		// Rule 8: otherwise unknown.
		{"8 succeeded and unrecognised", store.RequestRunning, jobs("succeeded", "exploded"), store.RequestUnknown, ""},
		{"8 two unrecognised statuses", store.RequestRunning, jobs("exploded", "vanished"), store.RequestUnknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, message := store.DeriveStatus(tc.stored, tc.jobs)
			if status != tc.status || message != tc.message {
				t.Errorf("DeriveStatus(%q, %d jobs) = %q, %q; want %q, %q", tc.stored, len(tc.jobs), status, message, tc.status, tc.message)
			}
		})
	}
}

func TestStatusLabel(t *testing.T) {
	for status, want := range map[string]string{
		store.RequestPending:                  "Pending",
		store.RequestRunning:                  "Running",
		store.RequestSucceeded:                "Succeeded",
		store.RequestFailed:                   "Failed",
		store.RequestNothingToDo:              "Nothing to do",
		store.RequestUnknown:                  "Unknown",
		store.RequestUnknownErrorCreatingJobs: "Unknown error creating jobs",
	} {
		if got := store.StatusLabel(status); got != want {
			t.Errorf("StatusLabel(%q) = %q, want %q", status, got, want)
		}
	}
}

func TestIsActive(t *testing.T) {
	for status, want := range map[string]bool{
		store.RequestPending:                  true,
		store.RequestRunning:                  true,
		store.RequestUnknown:                  true,
		store.RequestUnknownErrorCreatingJobs: true,
		store.RequestSucceeded:                false,
		store.RequestFailed:                   false,
		store.RequestNothingToDo:              false,
	} {
		if got := store.IsActive(status); got != want {
			t.Errorf("IsActive(%q) = %v, want %v", status, got, want)
		}
	}
}

// The agent may set exactly the codes of spec §4.1 that are not the
// server's: running codes after the claim, final codes from running a job,
// and the retry code.
func TestAgentMayReport(t *testing.T) {
	server := map[haven.StatusCode]bool{
		haven.StatusCreated: true, haven.StatusInitiated: true, haven.StatusPaused: true,
		haven.StatusWaitingDBMaintenance: true, haven.StatusWaitingOnDependencies: true,
		haven.StatusWaitingOnWorkers: true, haven.StatusWaitingOnDBWorkers: true, haven.StatusWaitingOnReboot: true,
		haven.StatusDependencyFailed: true, haven.StatusKilledByAdmin: true, haven.StatusStaleCodelists: true,
	}
	for _, c := range haven.StatusCodes {
		if got := store.AgentMayReport(c); got == server[c] {
			t.Errorf("AgentMayReport(%s) = %v", c, got)
		}
	}
	if store.AgentMayReport("no_such_code") {
		t.Error("AgentMayReport accepts an unknown code")
	}
}
