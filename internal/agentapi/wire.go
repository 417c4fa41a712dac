// Package agentapi is the contract between the job server and the agents
// on its backends (spec §7): the JSON wire types, the server's endpoints
// (API), the client the agent calls them with (Client), and the one list
// of status messages allowed to leave a backend (AllowedMessage).
//
// The agent only ever makes outbound requests: it long-polls for a task,
// holds each claimed job under a lease it extends, and reports redacted
// status updates (codes, fixed messages, numbers and booleans; never file
// names or log text).
package agentapi

import "time"

// Paths of the agent endpoints.
const (
	PathPoll    = "/api/agent/v1/poll"
	PathExtend  = "/api/agent/v1/leases/{lease}/extend"
	PathRelease = "/api/agent/v1/leases/{lease}/release"
	PathStatus  = "/api/agent/v1/jobs/{job}/status"
)

// Task kinds in a poll answer.
const (
	TaskRun     = "run"
	TaskCancel  = "cancel"
	TaskRecover = "recover"
)

// PollRequest is the body of POST /api/agent/v1/poll.
type PollRequest struct {
	AgentID      string   `json:"agent_id"`
	AgentVersion string   `json:"agent_version"`
	Capacity     Capacity `json:"capacity"`
	Flags        Flags    `json:"flags"`
	// Leases are the lease ids the agent holds (informational).
	Leases []string `json:"leases"`
}

// Capacity is how many more jobs the agent can start now.
type Capacity struct {
	Jobs   int `json:"jobs"`
	DBJobs int `json:"db_jobs"`
}

// Flags report the backend's state as the agent sees it.
type Flags struct {
	DBMaintenance     bool   `json:"db_maintenance"`
	DBMaintenanceType string `json:"db_maintenance_type"`
}

// Lease is a claim on a job, valid until ExpiresAt unless extended.
type Lease struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Task is a 200 poll answer: what the agent is to do with one job.
type Task struct {
	Kind              string `json:"kind"` // run, cancel or recover
	Lease             Lease  `json:"lease"`
	Attempt           int    `json:"attempt"`
	JobIdentifier     string `json:"job_identifier"`
	RequestIdentifier string `json:"request_identifier"`
	Workspace         string `json:"workspace"`
	Action            string `json:"action"`
	RunCommand        string `json:"run_command"`
	// Image is image:tag; Args are the words of the run command after it.
	Image        string            `json:"image"`
	Args         []string          `json:"args"`
	RepoURL      string            `json:"repo_url"`
	Commit       string            `json:"commit"`
	DatabaseName string            `json:"database_name"` // "default" for database jobs, "" otherwise
	RequiresDB   bool              `json:"requires_db"`
	OutputSpec   map[string]string `json:"output_spec"`
	// RequiresOutputsFrom names the actions whose outputs are the job's
	// inputs (the server has already checked they succeeded).
	RequiresOutputsFrom []string  `json:"requires_outputs_from"`
	CreatedAt           time.Time `json:"created_at"`
	User                string    `json:"user,omitempty"` // who asked for the job
	// ExtendEverySeconds is how often the server wants the lease
	// extended; 0 leaves it to the agent's configuration.
	ExtendEverySeconds float64 `json:"extend_every_seconds,omitempty"`
}

// ExtendRequest is the body of POST …/leases/{lease}/extend.
type ExtendRequest struct {
	AgentID string `json:"agent_id"`
}

// ExtendResponse answers an extend: the lease's new expiry, and whether
// the user has cancelled the job.
type ExtendResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
	Cancel    bool      `json:"cancel"`
}

// ReleaseRequest is the body of POST …/leases/{lease}/release.
type ReleaseRequest struct {
	AgentID string `json:"agent_id"`
	// Reason is a short machine word such as "shutdown"
	// (lower-case letters and underscores).
	Reason string `json:"reason"`
}

// Update is the body of POST /api/agent/v1/jobs/{job}/status (spec §7.5).
// It carries codes, fixed messages, numbers and booleans only.
type Update struct {
	Attempt     int    `json:"attempt"`
	Seq         int64  `json:"seq"` // per attempt, strictly increasing
	TimestampNS int64  `json:"timestamp_ns"`
	StatusCode  string `json:"status_code"`
	// StatusMessage must pass AllowedMessage for the code; "" means the
	// code's own message.
	StatusMessage        string             `json:"status_message"`
	StartedAt            *time.Time         `json:"started_at,omitempty"`
	CompletedAt          *time.Time         `json:"completed_at,omitempty"`
	Metrics              map[string]float64 `json:"metrics,omitempty"`
	HasUnmatchedPatterns bool               `json:"has_unmatched_patterns"`
	HasExcludedFiles     bool               `json:"has_excluded_files"`
	ExitCode             *int               `json:"exit_code,omitempty"`
	ImageDigest          string             `json:"image_digest,omitempty"` // sha256:<64 hex> or ""
}

// UpdateResponse answers a status update.
type UpdateResponse struct {
	Applied bool `json:"applied"`
}

// ErrorResponse is the body of every 4xx and 5xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
