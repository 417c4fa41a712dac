package releaseapi

import (
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// PathEvents is where an Airlock reports each status change of a release
// request (spec §13.3), authenticated with its backend's airlock token.
// Statuses: 201 {"errors": []} once the event is recorded; 400 a body
// that is not valid; 401/403 as for the release endpoints; 404 an
// unknown workspace.
//
// The job server records each event as one audit event, of type
// "airlock_<event_type>" about "workspace:<name>", and logs it. It does
// nothing else: Haven has no issue tracker integration and sends no
// email, so the steps upstream takes (open, comment on and close an
// output-checking issue; email the authors) have no counterpart, and
// Errors is always empty.
const PathEvents = "/api/airlock/v1/events"

// Event types an Airlock sends, one per status change of a request.
const (
	EventRequestSubmitted         = "request_submitted"
	EventRequestWithdrawn         = "request_withdrawn"
	EventRequestPartiallyReviewed = "request_partially_reviewed"
	EventRequestReviewed          = "request_reviewed"
	EventRequestResubmitted       = "request_resubmitted"
	EventRequestReturned          = "request_returned"
	EventRequestApproved          = "request_approved"
	EventRequestReleased          = "request_released"
	EventRequestRejected          = "request_rejected"
)

// Event is the body of POST PathEvents.
type Event struct {
	// EventType is one of the Event* constants (or another lower-case
	// name of letters and '_').
	EventType string `json:"event_type"`
	Workspace string `json:"workspace"`
	// Request is the release request's id, a ULID.
	Request       string        `json:"request"`
	RequestAuthor string        `json:"request_author"` // username
	User          string        `json:"user"`           // who changed the status
	Updates       []EventUpdate `json:"updates,omitempty"`
}

// EventUpdate is one change an Event reports, e.g. a file group's
// context edited.
type EventUpdate struct {
	Update string `json:"update"`
	Group  string `json:"group,omitempty"`
	User   string `json:"user,omitempty"`
}

// EventResponse is the answer to an event: the notification steps that
// failed (always empty in Haven).
type EventResponse struct {
	Errors []string `json:"errors"`
}

// Event field limits.
const (
	maxEventUpdates = 1000
	maxEventText    = 1000
)

var (
	reEventType = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)
	reUsername  = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,200}$`)
)

// checkEvent refuses an event whose fields are not valid.
func checkEvent(ev *Event) error {
	switch {
	case !reEventType.MatchString(ev.EventType):
		return errorf(http.StatusBadRequest, "event_type %q is not an event type (lower-case letters and '_', e.g. %s)", ev.EventType, EventRequestSubmitted)
	case !reWorkspace.MatchString(ev.Workspace):
		return errorf(http.StatusBadRequest, "workspace %q is not a workspace name (letters, digits, '-' and '_')", ev.Workspace)
	case !store.ValidULID(ev.Request):
		return errorf(http.StatusBadRequest, "request %q is not a release request id (a ULID: 26 upper-case Crockford base32 characters)", ev.Request)
	case !reUsername.MatchString(ev.RequestAuthor):
		return errorf(http.StatusBadRequest, "request_author %q is not a username", ev.RequestAuthor)
	case !reUsername.MatchString(ev.User):
		return errorf(http.StatusBadRequest, "user %q is not a username", ev.User)
	case len(ev.Updates) > maxEventUpdates:
		return errorf(http.StatusBadRequest, "an event holds at most %d updates, not %d", maxEventUpdates, len(ev.Updates))
	}
	for i, u := range ev.Updates {
		if u.Update == "" || len(u.Update) > maxEventText || len(u.Group) > maxEventText || len(u.User) > maxEventText {
			return errorf(http.StatusBadRequest, "updates[%d]: update must be 1 to %d bytes, group and user at most %d", i, maxEventText, maxEventText)
		}
	}
	return nil
}

func (a *API) handleEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.authenticateAirlock(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var ev Event
	if err := a.decode(w, r, &ev); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := checkEvent(&ev); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.Store.WorkspaceByName(ctx, ev.Workspace); haven.ErrorCode(err) == haven.ENOTFOUND {
		a.fail(w, r, errorf(http.StatusNotFound, "there is no workspace called %s on the job server", ev.Workspace))
		return
	} else if err != nil {
		a.fail(w, r, err)
		return
	}
	var uid int64
	if u, err := a.Store.UserByUsername(ctx, ev.User); err == nil {
		uid = u.ID
	} else if haven.ErrorCode(err) != haven.ENOTFOUND {
		a.fail(w, r, err)
		return
	}
	extra := map[string]string{"backend": b.Slug, "request": ev.Request, "request_author": ev.RequestAuthor, "user": ev.User}
	if len(ev.Updates) > 0 {
		text, err := json.Marshal(ev.Updates)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		extra["updates"] = string(text)
	}
	a.audit(ctx, &store.AuditEvent{Type: "airlock_" + ev.EventType, UserID: uid, Target: "workspace:" + ev.Workspace, Extra: extra})
	a.Logger.Info("airlock event", "event", ev.EventType, "workspace", ev.Workspace, "request", ev.Request,
		"backend", b.Slug, "user", ev.User, "updates", len(ev.Updates))
	webkit.WriteJSON(w, http.StatusCreated, EventResponse{Errors: []string{}})
}
