package review

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/haven-tre/haven"
)

// allowed is written out from the spec (9.2, 9.3, 9.4, 9.5, 10.1, 10.3),
// not derived from the code: for every state and actor role, the actions
// that succeed on the state's fixture. Everything else must be refused.
var allowed = map[Status]map[Actor][]Action{
	Pending: {
		ActorAuthor:   {Submit, Withdraw, AddFile, UpdateFile, WithdrawFile, MoveFile, EditContext, AddCoAuthor, RemoveCoAuthor, AddComment, DeleteComment},
		ActorCoAuthor: {Submit, Withdraw, AddFile, UpdateFile, WithdrawFile, MoveFile, EditContext, AddComment, DeleteComment},
		ActorOther:    {AddComment, DeleteComment},
	},
	Submitted: {
		ActorChecker: {ReturnEarly, CastVote, ResetVotes, SubmitReview, AddComment, DeleteComment, PublishComment},
		ActorSystem:  {ReviewSubmitted},
	},
	PartiallyReviewed: {
		ActorChecker: {ReturnEarly, CastVote, ResetVotes, SubmitReview, AddComment, DeleteComment, PublishComment},
		ActorSystem:  {ReviewSubmitted},
	},
	Reviewed: {
		ActorChecker: {Release, Reject, Return, CastVote, ResetVotes, SubmitReview, AddComment, DeleteComment, PublishComment},
	},
	Returned: {
		ActorAuthor:   {Resubmit, Withdraw, AddFile, UpdateFile, WithdrawFile, MoveFile, EditContext, AddCoAuthor, RemoveCoAuthor, AddComment, DeleteComment},
		ActorCoAuthor: {Resubmit, Withdraw, AddFile, UpdateFile, WithdrawFile, MoveFile, EditContext, AddComment, DeleteComment},
		ActorOther:    {AddComment, DeleteComment},
	},
	Approved: {
		ActorSystem: {FilesUploaded},
	},
	Released:  {},
	Rejected:  {},
	Withdrawn: {},
}

// nextStatus is the expected state after an allowed action; actions not
// listed leave the state alone.
func nextStatus(s Status, a Action) Status {
	switch a {
	case Submit, Resubmit:
		return Submitted
	case Withdraw:
		return Withdrawn
	case ReviewSubmitted:
		if s == Submitted {
			return PartiallyReviewed
		}
		return Reviewed
	case SubmitReview:
		// the fixtures hold one (SUBMITTED) or two submitted reviews, so
		// the checker's review is the second or third: REVIEWED either way
		return Reviewed
	case ReturnEarly, Return:
		return Returned
	case Release:
		return Approved
	case Reject:
		return Rejected
	case FilesUploaded:
		return Released
	}
	return s
}

var wantEvents = map[Action][]EventType{
	Submit:          {EventSubmit},
	Resubmit:        {EventSubmit},
	Withdraw:        {EventWithdraw},
	ReviewSubmitted: {EventReview},
	ReturnEarly:     {EventEarlyReturn},
	Release:         {EventApprove, EventFileRelease, EventFileRelease},
	Reject:          {EventReject},
	Return:          {EventReturn},
	FilesUploaded:   {EventRelease},
	AddFile:         {EventFileAdd},
	UpdateFile:      {EventFileUpdate},
	WithdrawFile:    {EventFileWithdraw},
	MoveFile:        {EventEdit},
	EditContext:     {EventEdit},
	AddCoAuthor:     {EventCoAuthorAdd},
	RemoveCoAuthor:  {EventCoAuthorRemove},
	CastVote:        {EventFileApprove, EventFindingsAcknowledged},
	ResetVotes:      {EventFileResetReview},
	SubmitReview:    {EventReview},
	AddComment:      {EventComment},
	DeleteComment:   {EventCommentDelete},
	PublishComment:  {EventCommentVisibilityPublic},
}

func TestEveryStateActorAction(t *testing.T) {
	if len(allowed) != len(Statuses()) {
		t.Fatalf("expected table covers %d states, want %d", len(allowed), len(Statuses()))
	}
	count := 0
	for _, s := range Statuses() {
		for _, actor := range Actors() {
			for _, a := range Actions() {
				count++
				user, isChecker := userFor(actor)
				name := fmt.Sprintf("%s/%s/%s", s, actor, a)
				r := fixture(s)
				if got := ActorOf(r, user, isChecker); got != actor {
					t.Fatalf("%s: ActorOf = %s", name, got)
				}
				p := params(a, user)
				n, ev, err := Apply(r, user, isChecker, a, p)
				if !reflect.DeepEqual(r, fixture(s)) {
					t.Errorf("%s: Apply changed its input", name)
				}
				if cerr := Check(r, user, isChecker, a, p); (cerr == nil) != (err == nil) {
					t.Errorf("%s: Check says %v, Apply says %v", name, cerr, err)
				}
				if !slices.Contains(allowed[s][actor], a) {
					var re *RefusedError
					if err == nil {
						t.Errorf("%s: allowed (-> %s), want refused", name, n.Status)
						continue
					}
					if !errors.As(err, &re) || re.Reason == "" || re.Code == "" || haven.ErrorCode(err) != re.Code {
						t.Errorf("%s: refusal %#v is not a complete *RefusedError", name, err)
					}
					if re.Action != a || re.Status != s || re.User != user {
						t.Errorf("%s: refusal names %s/%s/%s", name, re.Action, re.Status, re.User)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: refused: %v", name, err)
					continue
				}
				if want := nextStatus(s, a); n.Status != want {
					t.Errorf("%s: status %s, want %s", name, n.Status, want)
				}
				if got := eventTypes(ev); !slices.Equal(got, wantEvents[a]) {
					t.Errorf("%s: events %v, want %v", name, got, wantEvents[a])
				}
				wantTurn := r.ReviewTurn
				if slices.Contains([]Action{Submit, Resubmit, Return, ReturnEarly}, a) {
					wantTurn++
				}
				if n.ReviewTurn != wantTurn {
					t.Errorf("%s: review turn %d, want %d", name, n.ReviewTurn, wantTurn)
				}
				wantUser := user
				if a == FilesUploaded {
					wantUser = rev1 // the releasing checker
				}
				for _, e := range ev {
					if e.Extra["review_turn"] != strconv.Itoa(r.ReviewTurn) || e.Request != r.ID || e.Workspace != r.Workspace || e.User != wantUser || !e.At.Equal(t0) {
						t.Errorf("%s: event %+v", name, e)
					}
				}
			}
		}
	}
	if want := 9 * 5 * len(Actions()); count != want {
		t.Errorf("covered %d triples, want %d", count, want)
	}
}

// TestTransitionsTable checks the documented table against the section 9.3
// rows and against what Apply does.
func TestTransitionsTable(t *testing.T) {
	want := []string{
		"PENDING SUBMITTED author submit",
		"PENDING WITHDRAWN author withdraw",
		"SUBMITTED PARTIALLY_REVIEWED system review-submitted",
		"PARTIALLY_REVIEWED REVIEWED system review-submitted",
		"SUBMITTED RETURNED checker return-early",
		"PARTIALLY_REVIEWED RETURNED checker return-early",
		"REVIEWED APPROVED checker release",
		"REVIEWED REJECTED checker reject",
		"REVIEWED RETURNED checker return",
		"RETURNED SUBMITTED author resubmit",
		"RETURNED WITHDRAWN author withdraw",
		"APPROVED RELEASED system files-uploaded",
	}
	var got []string
	rows := map[Transition]bool{}
	for _, tr := range Transitions() {
		got = append(got, fmt.Sprintf("%s %s %s %s", tr.From, tr.To, tr.Actor, tr.Action))
		rows[tr] = true
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Transitions() =\n%v\nwant\n%v", got, want)
	}
	// every state change an allowed triple makes is a row (co-authors act
	// as authors; SubmitReview moves on through the system rows) ...
	seen := map[Transition]bool{}
	for s, byActor := range allowed {
		for actor, actions := range byActor {
			for _, a := range actions {
				to := nextStatus(s, a)
				if to == s || a == SubmitReview {
					continue
				}
				if actor == ActorCoAuthor {
					actor = ActorAuthor
				}
				tr := Transition{s, to, actor, a}
				if !rows[tr] {
					t.Errorf("allowed change %v is not in Transitions()", tr)
				}
				seen[tr] = true
			}
		}
	}
	// ... and every row is reachable.
	for tr := range rows {
		if !seen[tr] {
			t.Errorf("row %v is never allowed", tr)
		}
	}
}

func TestStatuses(t *testing.T) {
	tests := []struct {
		s      Status
		owner  Owner
		label  string
		final  bool
		active bool
		phase  Phase
	}{
		{Pending, OwnerAuthor, "Pending", false, true, PhaseAuthor},
		{Submitted, OwnerReviewer, "Submitted", false, true, PhaseIndependent},
		{PartiallyReviewed, OwnerReviewer, "One review submitted", false, true, PhaseIndependent},
		{Reviewed, OwnerReviewer, "All reviews submitted", false, true, PhaseConsolidating},
		{Returned, OwnerAuthor, "Returned", false, true, PhaseAuthor},
		{Approved, OwnerSystem, "Approved - files uploading", false, false, PhaseComplete},
		{Released, OwnerSystem, "Released", true, false, PhaseComplete},
		{Rejected, OwnerSystem, "Rejected", true, false, PhaseComplete},
		{Withdrawn, OwnerSystem, "Withdrawn", true, false, PhaseComplete},
	}
	if len(tests) != len(Statuses()) {
		t.Fatal("not every state is listed")
	}
	for i, tt := range tests {
		s := tt.s
		if Statuses()[i] != s || !s.Valid() || s.Owner() != tt.owner || s.Label() != tt.label || s.Final() != tt.final || s.Active() != tt.active || s.Phase() != tt.phase {
			t.Errorf("%s: owner %s label %q final %v active %v phase %s", s, s.Owner(), s.Label(), s.Final(), s.Active(), s.Phase())
		}
	}
	if Status("DRAFT").Valid() || Status("DRAFT").Active() {
		t.Error("unknown status is valid")
	}
}
