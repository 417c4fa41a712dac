// Package jobserver is the job server's business logic between the web and
// API handlers and the store: permissions, the run-jobs form, job request
// submission (project.yaml at the commit, branch check, planning),
// cancellation, sign-in and the administration helpers `haven server
// admin` uses. Handlers never talk to the store to change state; they call
// a Service.
package jobserver

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/store"
)

// Git reads a workspace's repository. internal/gitrepo implements it with
// the git binary.
type Git interface {
	// BranchHead resolves refs/heads/<branch> to a full commit sha.
	BranchHead(ctx context.Context, repo, branch string) (string, error)
	// OnBranch reports whether commit is reachable from refs/heads/<branch>.
	OnBranch(ctx context.Context, repo, commit, branch string) (bool, error)
	// ReadFile returns a file's bytes at a commit (ENOTFOUND when absent).
	ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error)
	// Exists reports whether a path (file or directory) exists at a commit.
	Exists(ctx context.Context, repo, commit, path string) (bool, error)
}

// Service is the job server's business logic. Its exported fields are set
// once, before use; use it through a pointer.
type Service struct {
	Store  store.Store
	Git    Git
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
	// Wake is called with a backend's id after work for it was queued or
	// cancelled, so waiting long-polls answer at once. May be nil.
	Wake func(backendID int64)

	signIn *signInLimiter // created on first use
}

// Permission is one flat permission (spec §5.2).
type Permission string

// ActionChoice is one action on the run-jobs form.
type ActionChoice struct {
	Name       string
	Needs      []string // sorted
	RequiresDB bool
	Status     string // latest job state on the user's backends ("" for never run): pending, running, succeeded, failed
}

// RunJobsForm is what the run-jobs page shows (spec §6.3).
type RunJobsForm struct {
	Workspace *store.Workspace
	Project   *store.Project
	Backends  []*store.Backend // the user's member backends
	Ref       string           // the commit the form is for
	Actions   []ActionChoice   // with a synthetic run_all last unless the project defines one
	// ParseError is set when project.yaml is missing or invalid; then
	// Actions is empty. It is "Could not find project.yaml", or one line
	// per problem ("project.yaml:LINE:COL: message"). The page shows it
	// under "An error occurred while trying to parse your project.yaml".
	ParseError string
}

// SubmitInput is a POSTed run-jobs form or API request.
type SubmitInput struct {
	User                 *store.User
	Workspace            string
	Ref                  string // a commit; "" for the branch head
	Backend              string // backend slug
	Actions              []string
	ForceRunDependencies bool
	WillNotify           bool

	// Number and Identifier, when set, are the request's number and
	// identifier instead of the next number and a random identifier: for
	// importing requests, and for the demo's copies of published ones.
	// Only trusted callers set them; the web form and the API never do.
	Number     int64
	Identifier string
}

// FormError is a submission the user must fix; Field names the form field
// ("" for the whole form).
type FormError struct {
	Field   string
	Message string
}

func (e *FormError) Error() string { return e.Message }

// SubmitResult is a stored job request and what the user is told.
type SubmitResult struct {
	Request *store.JobRequest
	Jobs    []*store.Job
	Message string // e.g. "Requested actions have been scheduled to run."
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) wake(backendID int64) {
	if s.Wake != nil {
		s.Wake(backendID)
	}
}

// audit appends an audit event. The change it records is already made, so
// a failure to append is logged, not returned.
func (s *Service) audit(ctx context.Context, typ string, userID int64, target string, extra map[string]string) {
	e := &store.AuditEvent{Type: typ, UserID: userID, Target: target, Extra: extra, CreatedAt: s.now()}
	if err := s.Store.AppendAudit(ctx, e); err != nil {
		s.logger().Error("cannot append to the audit log", "type", typ, "target", target, "err", err)
	}
}

func userID(u *store.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

func requestTarget(id int64) string { return "job_request:" + strconv.FormatInt(id, 10) }

// limiterMu guards the creation of Services' sign-in limiters.
var limiterMu sync.Mutex

// limiter returns s's sign-in limiter, creating it on first use.
func (s *Service) limiter() *signInLimiter {
	limiterMu.Lock()
	defer limiterMu.Unlock()
	if s.signIn == nil {
		s.signIn = &signInLimiter{failures: map[string][]time.Time{}}
	}
	return s.signIn
}

// signInLimiter counts failed sign-ins per username.
type signInLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}
