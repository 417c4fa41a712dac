// Package store defines the job server's domain (users, organisations,
// projects, workspaces, backends, job requests, jobs and the audit log) and
// the Store interface its databases implement: internal/store/sqlite (the
// default, a file) and internal/store/postgres (several users, several
// server replicas). internal/store/storetest is the conformance suite both
// pass.
//
// Every method that changes more than one row does so in one transaction;
// every time is UTC. Errors are *haven.Error with ENOTFOUND for a missing
// row, ECONFLICT for a duplicate name and EINVALID for a value the schema
// refuses, so the web and API layers map them to statuses in one place.
package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/haven-tre/haven"
)

// Role is a named set of permissions (spec §5.2).
type Role string

// Roles.
const (
	RoleProjectDeveloper        Role = "ProjectDeveloper"
	RoleProjectCollaborator     Role = "ProjectCollaborator"
	RoleOutputChecker           Role = "OutputChecker"
	RoleOutputPublisher         Role = "OutputPublisher"
	RoleDeploymentAdministrator Role = "DeploymentAdministrator"
	RoleStaffAreaAdministrator  Role = "StaffAreaAdministrator"
)

// User is a person (or bot) who signs in to the server.
type User struct {
	ID           int64
	Username     string // unique, NFKC-normalised
	Email        string // unique, lower case
	Fullname     string // shown as "Requested by"
	PasswordHash string // encoded hash (argon2id); "" means no password sign-in
	Roles        []Role // global roles
	// APITokenHash is the hex sha256 of the user's personal access token
	// for /api/v1 ("" for none); it stops working at APITokenExpires.
	APITokenHash    string
	APITokenExpires time.Time
	CreatedAt       time.Time
}

// Org is an organisation; a project's lead org is shown on its pages.
type Org struct {
	ID          int64
	Name        string // unique
	Slug        string // unique
	Description string
	CreatedAt   time.Time
}

// Project groups workspaces; people act on it through memberships.
type Project struct {
	ID        int64
	Name      string // unique
	Slug      string // unique, not a reserved top-level path
	Number    string // "Project ID", may be ""
	OrgID     int64  // the lead organisation
	CreatedAt time.Time
}

// Workspace is where a project's jobs run and its outputs land on every
// backend.
type Workspace struct {
	ID           int64
	Name         string // globally unique, ^[-a-zA-Z0-9_]+$
	ProjectID    int64
	RepoURL      string // a git URL or a local repository path the server can read
	Branch       string
	IsArchived   bool
	ShouldNotify bool
	Purpose      string
	CreatedBy    int64
	CreatedAt    time.Time
}

// Backend is a secure environment whose agent pulls jobs.
type Backend struct {
	ID               int64
	Slug             string // unique; shown upper-cased ("TPP")
	Name             string
	AgentTokenHash   string // hex sha256 of the agent's bearer token
	AirlockTokenHash string // hex sha256 of the airlock's bearer token, "" for none
	IsActive         bool
	// ArtificialData marks a backend with no patient database (a test or
	// demo backend): its cohort-extractor actions generate dummy data from
	// the study's expectations, as `haven run` does, and its pages do not
	// speak of real patient data.
	ArtificialData bool
	IsPaused       bool
	DBMaintenance  bool
	AlertTimeout   time.Duration // 0 means 5 minutes
	LastSeenAt     time.Time     // zero until the first poll
	CreatedAt      time.Time
}

// Job request statuses (spec §4.2).
const (
	RequestPending                  = "pending"
	RequestRunning                  = "running"
	RequestFailed                   = "failed"
	RequestSucceeded                = "succeeded"
	RequestNothingToDo              = "nothing_to_do"
	RequestUnknown                  = "unknown"
	RequestUnknownErrorCreatingJobs = "unknown_error_creating_jobs"
)

// JobRequest is one human request to run actions of a workspace on a
// backend.
type JobRequest struct {
	ID                   int64  // the job request number ("Job request: 4897")
	Identifier           string // 16 characters, a-z2-7 (the rap id)
	WorkspaceID          int64
	BackendID            int64
	RequestedActions     []string
	CancelledActions     []string
	ForceRunDependencies bool
	WillNotify           bool
	SHA                  string // full commit
	ProjectDefinition    string // project.yaml at SHA
	CodelistsOK          bool
	Status               string // stored status, one of Request*
	StatusMessage        string
	CreatedBy            int64
	CreatedAt            time.Time
}

// Job is one run of one action on a backend: the runner's job plus the
// queue's lease columns.
type Job struct {
	haven.Job
	JobRequestID int64 // the request's number
	BackendID    int64
	Metrics      map[string]float64

	Attempt        int    // incremented on each claim
	LeaseID        string // "" when not leased
	LeaseAgent     string
	LeaseExpiresAt time.Time
	NeedsRecovery  bool
	RecoverySince  time.Time // when the job first needed recovery
	CancelSent     bool      // a cancel task was handed to the agent
	LastUpdateSeq  int64
}

// AuditEvent is one row of the append-only audit log.
type AuditEvent struct {
	ID        int64
	Type      string // e.g. "job_request.create", "auth.sign_in_failed"
	UserID    int64  // 0 for none (an agent, the system)
	Target    string // what it is about, e.g. "job_request:4897"
	Extra     map[string]string
	CreatedAt time.Time
}

// Session is a signed-in browser.
type Session struct {
	IDHash    string // hex sha256 of the cookie value
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// JobRequestFilter selects job requests, newest first.
type JobRequestFilter struct {
	WorkspaceID int64 // 0 for any
	BackendID   int64 // 0 for any
	Limit       int   // 0 for 25
	Offset      int
}

// Capacity is how many jobs an agent can start now.
type Capacity struct {
	Jobs   int
	DBJobs int
}

// Task kinds handed to an agent (spec §7.3).
const (
	TaskRun     = "run"
	TaskCancel  = "cancel"
	TaskRecover = "recover"
)

// Task is what a poll hands out: the job (with its new or current lease)
// and what to do with it.
type Task struct {
	Kind string
	Job  *Job
}

// Update is a status update from an agent (spec §7.5). It carries codes,
// messages, numbers and booleans only: never file names or log text.
type Update struct {
	Attempt             int
	Seq                 int64
	TimestampNS         int64
	StatusCode          haven.StatusCode
	StatusMessage       string
	StartedAt           time.Time
	CompletedAt         time.Time
	Metrics             map[string]float64
	HasUnmatchedPattern bool
	HasExcludedFiles    bool
	ExitCode            *int
	ImageDigest         string
}

// Queue errors.
var (
	// ErrLeaseLost: the lease expired and was given to another attempt,
	// or never existed (HTTP 409).
	ErrLeaseLost = errors.New("lease lost")
	// ErrSuperseded: the update is for an attempt older than the job's
	// current one (HTTP 409).
	ErrSuperseded = errors.New("attempt superseded")
)

// PlanFunc plans the jobs of a new job request from the workspace's job
// history on the request's backend (every job, oldest first). It runs
// inside the store's write transaction, so two requests for one workspace
// never plan against the same history. It returns the new jobs, or an
// error that is stored on the request (see CreateJobRequest).
type PlanFunc func(history []*Job) ([]*Job, error)

// Store is the job server's database.
type Store interface {
	Close() error

	// Users and sign-in.
	CreateUser(ctx context.Context, u *User) error // sets ID, CreatedAt
	User(ctx context.Context, id int64) (*User, error)
	UserByUsername(ctx context.Context, username string) (*User, error)
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	SetUserRoles(ctx context.Context, userID int64, roles []Role) error
	SetAPIToken(ctx context.Context, userID int64, hash string, expires time.Time) error
	// UserByAPIToken finds the user whose unexpired token has this hash.
	UserByAPIToken(ctx context.Context, hash string, now time.Time) (*User, error)
	Users(ctx context.Context) ([]*User, error)
	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, idHash string, now time.Time) (*Session, error) // ENOTFOUND when missing or expired
	DeleteSession(ctx context.Context, idHash string) error

	// Organisations, projects and memberships.
	CreateOrg(ctx context.Context, o *Org) error
	Org(ctx context.Context, id int64) (*Org, error)
	OrgBySlug(ctx context.Context, slug string) (*Org, error)
	AddOrgMember(ctx context.Context, orgID, userID int64) error
	CreateProject(ctx context.Context, p *Project) error
	Project(ctx context.Context, id int64) (*Project, error)
	ProjectBySlug(ctx context.Context, slug string) (*Project, error)
	// SetProjectRoles replaces a user's roles on a project (nil removes
	// the membership).
	SetProjectRoles(ctx context.Context, projectID, userID int64, roles []Role) error
	ProjectRoles(ctx context.Context, projectID, userID int64) ([]Role, error)

	// Workspaces.
	CreateWorkspace(ctx context.Context, w *Workspace) error
	Workspace(ctx context.Context, id int64) (*Workspace, error)
	WorkspaceByName(ctx context.Context, name string) (*Workspace, error)
	Workspaces(ctx context.Context, projectID int64) ([]*Workspace, error) // 0 for every project
	SetWorkspaceArchived(ctx context.Context, id int64, archived bool) error

	// Backends.
	CreateBackend(ctx context.Context, b *Backend) error
	Backend(ctx context.Context, id int64) (*Backend, error)
	BackendBySlug(ctx context.Context, slug string) (*Backend, error)
	// BackendByAgentToken and BackendByAirlockToken look a backend up by
	// the hex sha256 of a bearer token.
	BackendByAgentToken(ctx context.Context, tokenHash string) (*Backend, error)
	BackendByAirlockToken(ctx context.Context, tokenHash string) (*Backend, error)
	Backends(ctx context.Context) ([]*Backend, error)
	SetBackendTokens(ctx context.Context, id int64, agentHash, airlockHash string) error
	SetBackendPaused(ctx context.Context, id int64, paused bool) error
	SetBackendArtificialData(ctx context.Context, id int64, artificial bool) error
	// TouchBackend records an agent's poll: last seen and DB maintenance.
	TouchBackend(ctx context.Context, id int64, now time.Time, dbMaintenance bool) error
	AddBackendMember(ctx context.Context, backendID, userID int64) error
	UserBackends(ctx context.Context, userID int64) ([]*Backend, error)

	// Job requests.
	//
	// CreateJobRequest assigns jr.ID (the next number; or keeps a number
	// already set, for imported requests, and later numbers continue
	// above the highest; a number in use is ECONFLICT) and stores jr, then
	// calls plan with the workspace's history on jr's backend and stores
	// the jobs it returns, all in one transaction. When plan returns an
	// error the request is still stored, with the status and message the
	// caller set on jr (the caller's plan func sets them), and no jobs;
	// the error is returned too. With jobs the request is pending.
	CreateJobRequest(ctx context.Context, jr *JobRequest, plan PlanFunc) ([]*Job, error)
	JobRequest(ctx context.Context, id int64) (*JobRequest, error)
	JobRequestByIdentifier(ctx context.Context, identifier string) (*JobRequest, error)
	JobRequests(ctx context.Context, f JobRequestFilter) ([]*JobRequest, int, error) // page and total
	// PreviousJobRequest is the latest earlier request for the same
	// workspace and backend; with succeeded, only one whose status is
	// succeeded. ENOTFOUND when there is none.
	PreviousJobRequest(ctx context.Context, jr *JobRequest, succeeded bool) (*JobRequest, error)

	// Jobs.
	Job(ctx context.Context, identifier string) (*Job, error)
	// JobsByPrefix returns the jobs whose identifier starts with prefix
	// (at most limit).
	JobsByPrefix(ctx context.Context, prefix string, limit int) ([]*Job, error)
	RequestJobs(ctx context.Context, jobRequestID int64) ([]*Job, error) // ordered by created_at, id
	// LatestJobs is the latest job of each action of a workspace on a
	// backend (backendID 0: any backend), for status pills.
	LatestJobs(ctx context.Context, workspaceID, backendID int64) (map[string]*Job, error)

	// Cancel marks actions of a request cancelled (nil: every active
	// action): appended to cancelled_actions, cancelled set on their
	// active jobs; jobs not leased become final cancelled_by_user at once;
	// leased ones are cancelled through their agent. It re-derives the
	// request status and returns the actions it cancelled (empty when
	// none was active).
	Cancel(ctx context.Context, jobRequestID int64, actions []string, now time.Time) ([]string, error)

	// The queue (spec §7).
	//
	// Poll hands the backend's agent its next task, in one transaction:
	// a cancel for a leased job cancelled since (once), else a recover for
	// a job that needs recovery (new lease), else a run for the next
	// claimable job that fits cap (attempt+1, new lease, code initiated).
	// It first fails pending jobs whose dependencies failed
	// (dependency_failed). nil when there is nothing to do.
	Poll(ctx context.Context, backendID int64, agentID string, cap Capacity, now time.Time, ttl time.Duration) (*Task, error)
	// ExtendLease renews a lease for the agent holding it; cancel reports
	// whether the user has cancelled the job. ErrLeaseLost when the lease
	// is not current.
	ExtendLease(ctx context.Context, backendID int64, leaseID, agentID string, now time.Time, ttl time.Duration) (expires time.Time, cancel bool, err error)
	// ReleaseLease gives a claimed job back to the queue.
	ReleaseLease(ctx context.Context, backendID int64, leaseID, agentID string, now time.Time) error
	// ApplyUpdate applies an agent's status update to a job of its backend
	// (spec §7.5): ErrSuperseded for an older attempt; applied false for a
	// replayed or stale seq or a job already final; otherwise applied,
	// with the request status re-derived, dependants of a failed job
	// failed, and the lease renewed by ttl.
	ApplyUpdate(ctx context.Context, backendID int64, identifier string, u Update, now time.Time, ttl time.Duration) (applied bool, err error)
	// Reap handles expired leases (spec §7.6): jobs that had not started
	// go back to the queue (waiting_on_new_task); started ones need
	// recovery; jobs needing recovery for longer than deadline fail with
	// internal_error. It returns how many jobs it changed.
	Reap(ctx context.Context, now time.Time, deadline time.Duration) (int, error)
	// QueueCounts counts a backend's pending and running jobs.
	QueueCounts(ctx context.Context, backendID int64) (pending, running int, err error)

	// The audit log: append and query only.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, target string, limit int) ([]*AuditEvent, error) // newest first; "" for all

	// Releases (spec §2.7, §11): files an Airlock released, created with
	// their expected hashes first and uploaded afterwards.
	//
	// CreateRelease stores a release and one ReleaseFile per file, in one
	// transaction, and reports whether it created them. It is idempotent:
	// when a release with r.ID exists for the same workspace and backend
	// with the same file names, hashes and sizes it changes nothing and
	// returns false (read the stored release with Release and
	// ReleaseFiles); when it exists with anything else it returns
	// ECONFLICT. On creation it sets r.CreatedAt (when zero), r.Status
	// (ReleaseRequested when empty), r.RequestedFiles (the files' names
	// when nil) and each file's ID (a new ULID), ReleaseID, WorkspaceID,
	// CreatedBy and CreatedAt. EINVALID for an id that is not a ULID, a
	// file with an empty name, a hash that is not 64 lower-case hex
	// digits, a negative size or a name given twice; ENOTFOUND for a
	// missing workspace, backend or user.
	CreateRelease(ctx context.Context, r *Release, files []*ReleaseFile) (created bool, err error)
	Release(ctx context.Context, id string) (*Release, error)
	// WorkspaceReleases lists a workspace's releases, newest first.
	WorkspaceReleases(ctx context.Context, workspaceID int64) ([]*Release, error)
	// ReleaseFiles lists a release's files by name.
	ReleaseFiles(ctx context.Context, releaseID string) ([]*ReleaseFile, error)
	// ReleaseFile returns the file of a release with this name.
	ReleaseFile(ctx context.Context, releaseID, name string) (*ReleaseFile, error)
	// MarkUploaded records that a file's bytes are stored at storagePath
	// (relative to the release storage root) since now. A file is
	// uploaded once: ECONFLICT when it already was, ENOTFOUND when there
	// is no file with that id, EINVALID for an empty storagePath.
	MarkUploaded(ctx context.Context, fileID, storagePath string, now time.Time) error
	// WorkspaceReleasedFiles lists a workspace's uploaded files that are
	// not redacted, by name then upload time.
	WorkspaceReleasedFiles(ctx context.Context, workspaceID int64) ([]*ReleaseFile, error)

	// Airlock sign-in (spec §8.1).
	//
	// UserByEmail returns the user with this email address (compared in
	// lower case, surrounding spaces removed).
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserProjectRoles returns a user's roles on every project they are a
	// member of, by project id (an empty map for none).
	UserProjectRoles(ctx context.Context, userID int64) (map[int64][]Role, error)
	// SetAirlockLoginToken replaces a user's Airlock login token (one per
	// user) with hash (the hex sha256 of the token's normalised text),
	// unused and valid until expires. Creations are counted per user in
	// fixed windows of limit.Window, each starting at its first creation:
	// when limit.Max tokens were created in the current window it changes
	// nothing and returns EFORBIDDEN wrapping ErrRateLimited, saying when
	// the next may be created (limit.Max 0: no limit). ENOTFOUND for an
	// unknown user; EINVALID for an empty hash or an expiry not after now.
	SetAirlockLoginToken(ctx context.Context, userID int64, hash string, expires, now time.Time, limit RateLimit) error
	// UseAirlockLoginToken consumes a user's Airlock login token, in one
	// statement: it succeeds when the stored token has this hash, is unused
	// and now is before its expiry, and marks it used at now. Of several
	// concurrent uses exactly one succeeds. ENOTFOUND for anything else (no
	// token, another hash, used, expired).
	UseAirlockLoginToken(ctx context.Context, userID int64, hash string, now time.Time) error
}

// RateLimit allows at most Max events per Window (Max 0: no limit).
type RateLimit struct {
	Max    int
	Window time.Duration
}

// ErrRateLimited is wrapped by the EFORBIDDEN error of an action refused
// by a RateLimit.
var ErrRateLimited = errors.New("rate limited")

// Releases (spec §2.7, §11).

// Release statuses.
const (
	ReleaseRequested = "REQUESTED"
	ReleaseApproved  = "APPROVED"
	ReleaseRejected  = "REJECTED"
)

// Release is a set of files an Airlock released from a workspace on its
// backend. Its id is the Airlock release request's id.
type Release struct {
	ID             string // ULID, 26 characters
	WorkspaceID    int64
	BackendID      int64
	Status         string   // one of Release*
	RequestedFiles []string // the files' names
	Metadata       map[string]string
	Review         map[string]string
	CreatedBy      int64 // the output checker who released it (0: the system)
	CreatedAt      time.Time
}

// ReleaseFile is one file of a release: its expected hash from creation,
// its storage path once its bytes arrived.
type ReleaseFile struct {
	ID          string // ULID
	ReleaseID   string
	WorkspaceID int64
	Name        string // path relative to the workspace, e.g. "output/table.csv"
	Path        string // storage path relative to the release storage root; "" until uploaded
	SHA256      string // expected sha256 of the bytes, lower-case hex
	Size        int64  // bytes
	Mtime       time.Time
	Metadata    map[string]string
	CreatedBy   int64
	CreatedAt   time.Time
	UploadedAt  time.Time // zero until the bytes arrived
	DeletedBy   int64     // redaction: by/at, both unset when not redacted
	DeletedAt   time.Time
}

// Uploaded reports whether the file's bytes have arrived.
func (f *ReleaseFile) Uploaded() bool { return !f.UploadedAt.IsZero() }

// Redacted reports whether the file was deleted (redacted).
func (f *ReleaseFile) Redacted() bool { return !f.DeletedAt.IsZero() }

// crockford is the ULID alphabet (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewULID returns a new ULID for time t: 48 bits of milliseconds since the
// epoch then 80 random bits, as 26 upper-case Crockford base32 characters,
// so ids sort by creation time.
func NewULID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand never fails
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ValidULID reports whether s is a ULID in canonical form: 26 upper-case
// Crockford base32 characters whose first is at most 7 (128 bits).
func ValidULID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}
