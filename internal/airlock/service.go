package airlock

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/haven-tre/haven/internal/releaseapi"
)

// ReleaseServer is the job server as Airlock sees it: the release API
// (spec §11.1), the profile refresh and the notifications of §13.3.
// *releaseapi.Client implements it.
type ReleaseServer interface {
	Authenticate(ctx context.Context, user, token string) (*releaseapi.Profile, error)
	Authorise(ctx context.Context, user string) (*releaseapi.Profile, error)
	CreateRelease(ctx context.Context, checker string, req releaseapi.CreateRequest) (*releaseapi.Release, error)
	Upload(ctx context.Context, releaseID, name string, data []byte) (*releaseapi.Upload, error)
	SendEvent(ctx context.Context, e releaseapi.Event) error
}

// DefaultRetryEvery is how long the uploader waits after a failed upload
// before it tries again (spec §11.1: 60 s, forever).
const DefaultRetryEvery = 60 * time.Second

// Service is Airlock's business layer. Set its fields, then use it; they
// must not change afterwards.
type Service struct {
	Store      *astore.Store
	Workspaces workspace.Dir
	// FilesDir holds the frozen copies of request files, by workspace and
	// sha256: <FilesDir>/<workspace>/<sha256>.
	FilesDir string
	Server   ReleaseServer
	// Profile is the disclosure-control profile the automated checks use
	// (nil: the built-in "opensafely" profile).
	Profile *disclosure.Profile
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
	// RetryEvery is the wait after a failed upload (DefaultRetryEvery).
	RetryEvery time.Duration

	once    sync.Once
	initErr error
	kick    chan struct{}
}

func (s *Service) init() error {
	s.once.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.RetryEvery <= 0 {
			s.RetryEvery = DefaultRetryEvery
		}
		if s.Profile == nil {
			s.Profile, s.initErr = disclosure.LoadProfile("opensafely")
		}
		s.kick = make(chan struct{}, 1)
	})
	return s.initErr
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// requestDir is where the frozen copies of a workspace's request files
// are kept.
func (s *Service) requestDir(ws string) string { return filepath.Join(s.FilesDir, ws) }

// record loads a request u may see.
func (s *Service) record(ctx context.Context, u *User, id string) (*astore.Record, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	rec, err := s.Store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.CanView(rec.Request.Workspace) {
		return nil, notFoundRequest(id)
	}
	return rec, nil
}

// notFoundRequest is the answer for a request that does not exist or the
// user may not see: the two are not told apart.
func notFoundRequest(id string) error {
	return haven.Errorf(haven.ENOTFOUND, "there is no release request %q that you can see", id)
}

// statusChange is a change of a request's status, to notify the server of.
type statusChange struct {
	rec      *astore.Record
	user     string
	from, to review.Status
}

// commit stores a request's new state and its audit events in tx, and
// returns the status change to notify once tx has committed.
func commit(tx *astore.Tx, rec *astore.Record, nr *review.Request, user string, events []review.Event) (statusChange, error) {
	c := statusChange{rec: rec, user: user, from: rec.Request.Status, to: nr.Status}
	rec.Request = nr
	if err := tx.Put(rec); err != nil {
		return statusChange{}, err
	}
	return c, tx.Append(events...)
}

// notify tells the job server about a status change (spec §13.3). It
// never fails the action: the server's answer is logged.
func (s *Service) notify(c statusChange) {
	if s.Server == nil || c.rec == nil || c.from == c.to {
		return
	}
	r := c.rec.Request
	ev := releaseapi.Event{
		EventType:     eventType(c.from, c.to),
		Workspace:     r.Workspace,
		Request:       r.ID,
		RequestAuthor: r.Author,
		User:          c.user,
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Server.SendEvent(ctx, ev); err != nil {
			s.Logger.Warn("could not notify the job server of a status change", "request", r.ID, "event", ev.EventType, "err", err)
		}
	}()
}

// eventType names a status change for the server's notifications.
func eventType(from, to review.Status) string {
	switch to {
	case review.Submitted:
		if from == review.Returned {
			return "request_resubmitted"
		}
		return "request_submitted"
	case review.PartiallyReviewed:
		return "request_partially_reviewed"
	case review.Reviewed:
		return "request_reviewed"
	case review.Returned:
		return "request_returned"
	case review.Approved:
		return "request_approved"
	case review.Released:
		return "request_released"
	case review.Rejected:
		return "request_rejected"
	case review.Withdrawn:
		return "request_withdrawn"
	}
	return "request_updated"
}
