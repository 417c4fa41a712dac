package review

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
)

// Users of the fixtures.
const (
	ann  = "ann"  // author
	cole = "cole" // co-author
	chk  = "chk"  // output checker, no role on the workspace
	otto = "otto" // workspace member, not a checker
	rev1 = "rev1" // reviewer
	rev2 = "rev2" // reviewer
	rev3 = "rev3" // reviewer
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// userFor returns the user name and checker flag for an actor role.
func userFor(a Actor) (string, bool) {
	switch a {
	case ActorAuthor:
		return ann, false
	case ActorCoAuthor:
		return cole, false
	case ActorChecker:
		return chk, true
	case ActorOther:
		return otto, false
	}
	return SystemUser, false
}

// base is a PENDING request at turn 0: group g1 holds out.csv (OUTPUT, one
// FAIL finding F1) and sup.txt (SUPPORTING); g2 holds b.csv (OUTPUT).
func base() *Request {
	return &Request{
		ID: "01REQ", Workspace: "ws", Author: ann, CoAuthors: []string{cole},
		Status: Pending, SubmittedReviews: map[string]time.Time{},
		Groups: []Group{
			{Name: "g1", Context: "ctx", Controls: "ctl", Files: []File{
				{Name: "out.csv", Type: Output, FailFindings: []string{"F1"}},
				{Name: "sup.txt", Type: Supporting},
			}},
			{Name: "g2", Context: "ctx", Controls: "ctl", Files: []File{
				{Name: "b.csv", Type: Output},
			}},
		},
	}
}

// vote sets reviewer's vote on file directly.
func vote(r *Request, reviewer, file string, v Vote, turn int) {
	f, _ := r.File(file)
	if f == nil {
		panic("no file " + file)
	}
	if f.Votes == nil {
		f.Votes = map[string]FileReview{}
	}
	f.Votes[reviewer] = FileReview{Vote: v, Turn: turn, Acknowledged: slices.Clone(f.FailFindings), At: t0}
}

// voteAll gives every OUTPUT file the vote v from each reviewer.
func voteAll(r *Request, v Vote, turn int, reviewers ...string) {
	for _, name := range r.OutputFiles() {
		for _, rev := range reviewers {
			vote(r, rev, name, v, turn)
		}
	}
}

func submitted(r *Request, reviewers ...string) {
	r.SubmittedReviews = map[string]time.Time{}
	for _, rev := range reviewers {
		r.SubmittedReviews[rev] = t0
	}
}

// fixture returns a request in state s in which every action the table
// allows also passes its guards.
func fixture(s Status) *Request {
	r := base()
	r.Status = s
	switch s {
	case Returned:
		r.ReviewTurn = 2
		r.TurnReviewers = []string{rev1, rev2}
		voteAll(r, VoteApproved, 1, rev1, rev2)
	case Submitted:
		r.ReviewTurn = 1
		voteAll(r, VoteApproved, 1, rev1, chk)
		submitted(r, rev1)
	case PartiallyReviewed, Reviewed, Approved, Released, Rejected:
		r.ReviewTurn = 1
		voteAll(r, VoteApproved, 1, rev1, rev2, chk)
		submitted(r, rev1, rev2)
		if s == Approved || s == Released {
			r.ReleasedBy = rev1
		}
	}
	for _, u := range []string{ann, cole, chk, otto} {
		vis := Public
		if u == chk {
			vis = Private
		}
		r.Comments = append(r.Comments, Comment{ID: "c-" + u, Group: "g1", Author: u, Visibility: vis, Turn: r.ReviewTurn, Text: "note by " + u, At: t0})
	}
	return r
}

// params returns the parameters the fixtures' actions use for user.
func params(a Action, user string) Params {
	p := Params{At: t0, WorkspaceMember: user == ann || user == cole || user == otto}
	switch a {
	case AddFile:
		p.Group, p.File, p.FileType = "g1", "new.csv", Output
	case UpdateFile:
		p.File, p.FailFindings = "out.csv", []string{"F1"}
	case WithdrawFile:
		p.File = "b.csv"
	case MoveFile:
		p.File, p.Group, p.FileType = "sup.txt", "g2", Supporting
	case EditContext:
		p.Group, p.Context, p.Controls = "g2", "new context", "new controls"
	case AddCoAuthor:
		p.CoAuthor, p.CoAuthorCanAuthor = "newco", true
	case RemoveCoAuthor:
		p.CoAuthor = cole
	case CastVote:
		p.File, p.Vote, p.Acknowledged = "out.csv", VoteApproved, []string{"F1"}
	case ResetVotes:
		p.Group = "g1"
	case AddComment:
		p.Group, p.Text, p.Visibility = "g1", "hello", Public
	case DeleteComment, PublishComment:
		p.CommentID = "c-" + user
	}
	return p
}

// mustApply applies an action that must succeed.
func mustApply(t *testing.T, r *Request, user string, isChecker bool, a Action, p Params) (*Request, []Event) {
	t.Helper()
	if p.At.IsZero() {
		p.At = t0
	}
	n, ev, err := Apply(r, user, isChecker, a, p)
	if err != nil {
		t.Fatalf("%s by %s in %s: %v", a, user, r.Status, err)
	}
	return n, ev
}

// mustRefuse asserts the action is refused with a reason containing want.
func mustRefuse(t *testing.T, r *Request, user string, isChecker bool, a Action, p Params, want string) *RefusedError {
	t.Helper()
	n, ev, err := Apply(r, user, isChecker, a, p)
	if err == nil {
		t.Fatalf("%s by %s in %s: allowed (status now %s), want refusal %q", a, user, r.Status, n.Status, want)
	}
	if n != nil || ev != nil {
		t.Errorf("%s refused but returned a request or events", a)
	}
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("%s: error %T is not a *RefusedError", a, err)
	}
	if re.Reason == "" || !contains(re.Reason, want) {
		t.Errorf("%s by %s in %s: reason %q, want it to contain %q", a, user, r.Status, re.Reason, want)
	}
	if haven.ErrorCode(err) != re.Code || re.Code == "" {
		t.Errorf("%s: code %q, haven.ErrorCode %q", a, re.Code, haven.ErrorCode(err))
	}
	if Check(r, user, isChecker, a, p) == nil {
		t.Errorf("%s: Apply refused but Check allowed", a)
	}
	return re
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func eventTypes(ev []Event) []EventType {
	out := make([]EventType, len(ev))
	for i, e := range ev {
		out[i] = e.Type
	}
	return out
}
