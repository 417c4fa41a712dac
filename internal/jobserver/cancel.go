package jobserver

import (
	"context"
	"slices"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Cancellation messages.
const (
	MsgCancelNoJobs    = "Could not cancel as job information is not available; wait a minute and retry"
	MsgCancelNotActive = "Nothing was cancelled: no action of this job request is still pending or running"
)

// CanCancel reports whether u may cancel jr: its creator, or a holder of
// job_cancel on its workspace's project (spec §5.3).
func (s *Service) CanCancel(ctx context.Context, u *store.User, jr *store.JobRequest) (bool, error) {
	if u == nil {
		return false, nil
	}
	if jr.CreatedBy != 0 && jr.CreatedBy == u.ID {
		return true, nil
	}
	ws, err := s.Store.Workspace(ctx, jr.WorkspaceID)
	if err != nil {
		return false, err
	}
	return s.Can(ctx, u, PermJobCancel, ws.ProjectID)
}

// Cancel cancels action of a job request, or every active action when
// action is "" (spec §6.6), and returns the actions it cancelled:
//
//   - a nil user, or one who is neither the request's creator nor holds
//     job_cancel on the project: EFORBIDDEN;
//   - a complete request: nothing happens (nil, nil);
//   - a request with no jobs yet: EINVALID MsgCancelNoJobs;
//   - an action the request has no job for: ENOTFOUND;
//   - no active action to cancel: EINVALID MsgCancelNotActive (logged).
//
// Jobs not yet claimed become cancelled_by_user at once; claimed ones are
// cancelled through their agent, which is woken.
func (s *Service) Cancel(ctx context.Context, u *store.User, jobRequestID int64, action string) ([]string, error) {
	if u == nil {
		return nil, haven.Errorf(haven.EFORBIDDEN, "Sign in to cancel jobs")
	}
	jr, err := s.Store.JobRequest(ctx, jobRequestID)
	if err != nil {
		return nil, err
	}
	ok, err := s.CanCancel(ctx, u, jr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, haven.Errorf(haven.EFORBIDDEN, "You do not have permission to cancel job request %d", jr.ID)
	}
	if !store.IsActive(jr.Status) {
		return nil, nil
	}
	jobs, err := s.Store.RequestJobs(ctx, jr.ID)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, haven.Errorf(haven.EINVALID, MsgCancelNoJobs)
	}
	var active []string
	known := false
	for _, j := range jobs {
		if j.Action == action {
			known = true
		}
		if (j.State == haven.StatePending || j.State == haven.StateRunning) && !j.Cancelled && !slices.Contains(active, j.Action) {
			active = append(active, j.Action)
		}
	}
	var which []string // nil: every active action
	if action != "" {
		if !known {
			return nil, haven.Errorf(haven.ENOTFOUND, "Job request %d has no job for action %s", jr.ID, action)
		}
		which = []string{action}
		if !slices.Contains(active, action) {
			active = nil
		}
	}
	if len(active) == 0 {
		s.logger().Warn("cancel found no active action", "job_request", jr.ID, "action", action, "user", u.Username)
		return nil, haven.Errorf(haven.EINVALID, MsgCancelNotActive)
	}
	cancelled, err := s.Store.Cancel(ctx, jr.ID, which, s.now())
	if err != nil {
		return nil, err
	}
	if len(cancelled) == 0 {
		s.logger().Warn("cancel found no active action", "job_request", jr.ID, "action", action, "user", u.Username)
		return nil, haven.Errorf(haven.EINVALID, MsgCancelNotActive)
	}
	s.audit(ctx, "job_request.cancel", u.ID, requestTarget(jr.ID), map[string]string{"actions": strings.Join(cancelled, " ")})
	s.wake(jr.BackendID)
	return cancelled, nil
}
