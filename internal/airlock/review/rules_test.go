package review

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFileDecision(t *testing.T) {
	A, C, U := VoteApproved, VoteChangesRequested, VoteUndecided
	tests := []struct {
		name  string
		votes map[string]Vote // reviewer → vote; all of rev1..rev3 submitted
		want  Decision
	}{
		{"no votes", nil, DecisionIncomplete},
		{"one approval", map[string]Vote{rev1: A}, DecisionIncomplete},
		{"one change request", map[string]Vote{rev1: C}, DecisionIncomplete},
		{"two approvals", map[string]Vote{rev1: A, rev2: A}, DecisionApproved},
		{"two change requests", map[string]Vote{rev1: C, rev2: C}, DecisionChangesRequested},
		{"mixed", map[string]Vote{rev1: A, rev2: C}, DecisionConflicted},
		{"third checker unblocks a conflict", map[string]Vote{rev1: A, rev2: C, rev3: A}, DecisionApproved},
		{"one approval, two change requests", map[string]Vote{rev1: A, rev2: C, rev3: C}, DecisionConflicted},
		{"three change requests", map[string]Vote{rev1: C, rev2: C, rev3: C}, DecisionChangesRequested},
		{"undecided votes do not count", map[string]Vote{rev1: A, rev2: U}, DecisionIncomplete},
		{"undecided and two approvals", map[string]Vote{rev1: A, rev2: U, rev3: A}, DecisionApproved},
	}
	for _, tt := range tests {
		r := fixture(Reviewed)
		f, _ := r.File("b.csv")
		f.Votes = nil
		for rev, v := range tt.votes {
			vote(r, rev, "b.csv", v, 1)
		}
		submitted(r, rev1, rev2, rev3)
		if got := FileDecision(r, "b.csv"); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}

	// only votes of reviewers who submitted this turn count
	r := fixture(Reviewed)
	f, _ := r.File("b.csv")
	f.Votes = nil
	vote(r, rev1, "b.csv", VoteApproved, 1)
	vote(r, rev3, "b.csv", VoteApproved, 1) // rev3 has not submitted
	if got := FileDecision(r, "b.csv"); got != DecisionIncomplete {
		t.Errorf("unsubmitted vote counted: %s", got)
	}
	// an author's or co-author's vote, even if present in the data, never counts
	vote(r, ann, "b.csv", VoteApproved, 1)
	vote(r, cole, "b.csv", VoteApproved, 1)
	r.SubmittedReviews[ann] = t0
	r.SubmittedReviews[cole] = t0
	if got := FileDecision(r, "b.csv"); got != DecisionIncomplete {
		t.Errorf("author votes counted: %s", got)
	}
	if FileDecision(r, "sup.txt") != DecisionIncomplete || FileDecision(r, "nope") != DecisionIncomplete || FileDecision(nil, "x") != DecisionIncomplete {
		t.Error("supporting, missing file or nil request has a decision")
	}
}

func TestSubmitGuards(t *testing.T) {
	r := base()
	r.Groups[0].Context = " "
	mustRefuse(t, r, ann, false, Submit, Params{}, "Incomplete context and/or controls for filegroup(s): g1")
	r.Groups[1].Controls = ""
	mustRefuse(t, r, ann, false, Submit, Params{}, "Incomplete context and/or controls for filegroup(s): g1, g2")

	// a group with only withdrawn files needs no context
	r = base()
	r.Groups = append(r.Groups, Group{Name: "old", Files: []File{{Name: "w.csv", Type: WithdrawnFile}}}, Group{Name: "empty"})
	mustApply(t, r, ann, false, Submit, Params{})

	r = base()
	r.Groups[0].Files = r.Groups[0].Files[1:] // only sup.txt
	r.Groups = r.Groups[:1]
	mustRefuse(t, r, ann, false, Submit, Params{}, "at least one output file is needed")

	mustRefuse(t, base(), chk, true, Submit, Params{}, "only the request's author or co-authors can submit it")
	mustRefuse(t, fixture(Reviewed), ann, false, AddFile, params(AddFile, ann), "the request is REVIEWED: only an output checker who is not an author can act on it")
	mustRefuse(t, fixture(Returned), ann, false, Submit, Params{}, "use resubmit")
	mustRefuse(t, base(), ann, false, Resubmit, Params{}, "use submit")
}

func TestFailAcknowledgement(t *testing.T) {
	r := fixture(Submitted)
	f, _ := r.File("out.csv")
	f.FailFindings = []string{"F3", "F1", "F2"}
	p := Params{File: "out.csv", Vote: VoteApproved, Acknowledged: []string{"F2"}}
	mustRefuse(t, r, rev2, true, CastVote, p, "acknowledge every FAIL finding of this file: F1, F3")
	p.Acknowledged = nil
	mustRefuse(t, r, rev2, true, CastVote, p, "acknowledge every FAIL finding of this file: F1, F2, F3")
	p.Acknowledged = []string{"F1", "F2", "F3", "F9"}
	mustRefuse(t, r, rev2, true, CastVote, p, `"F9" is not a FAIL finding`)
	p.Acknowledged = []string{"F3", "F2", "F1", "F1"}
	n, ev := mustApply(t, r, rev2, true, CastVote, p)
	nf, _ := n.File("out.csv")
	if got := nf.Votes[rev2]; got.Vote != VoteApproved || !slices.Equal(got.Acknowledged, []string{"F1", "F2", "F3"}) || got.Turn != 1 {
		t.Errorf("stored vote %+v", got)
	}
	if !slices.Equal(eventTypes(ev), []EventType{EventFileApprove, EventFindingsAcknowledged}) || ev[1].Extra["findings"] != "F1,F2,F3" || ev[1].Path != "out.csv" {
		t.Errorf("events %+v", ev)
	}
	// a file without FAIL findings needs no acknowledgement
	_, ev = mustApply(t, r, rev2, true, CastVote, Params{File: "b.csv", Vote: VoteChangesRequested})
	if !slices.Equal(eventTypes(ev), []EventType{EventFileRequestChanges}) {
		t.Errorf("events %v", eventTypes(ev))
	}
	mustRefuse(t, r, rev2, true, CastVote, Params{File: "sup.txt", Vote: VoteApproved}, "not an output file")
	mustRefuse(t, r, rev2, true, CastVote, Params{File: "b.csv", Vote: VoteUndecided}, "APPROVED or CHANGES_REQUESTED")
	mustRefuse(t, r, rev2, true, CastVote, Params{File: "nope.csv", Vote: VoteApproved}, "not on this request")
}

// TestLifecycle walks a request through two turns with Apply only.
func TestLifecycle(t *testing.T) {
	r := &Request{ID: "01X", Workspace: "ws", Author: ann, Status: Pending}
	r, _ = mustApply(t, r, ann, false, AddFile, Params{Group: "g1", File: "out.csv", FileType: Output, FailFindings: []string{"F1"}})
	r, _ = mustApply(t, r, ann, false, AddFile, Params{Group: "g2", File: "b.csv", FileType: Output})
	mustRefuse(t, r, ann, false, Submit, Params{}, "Incomplete context and/or controls for filegroup(s): g1, g2")
	r, _ = mustApply(t, r, ann, false, EditContext, Params{Group: "g1", Context: "c", Controls: "k"})
	r, _ = mustApply(t, r, ann, false, EditContext, Params{Group: "g2", Context: "c", Controls: "k"})
	r, ev := mustApply(t, r, ann, false, Submit, Params{At: t0.Add(time.Hour)})
	if r.Status != Submitted || r.ReviewTurn != 1 || !r.LastSubmittedAt.Equal(t0.Add(time.Hour)) || ev[0].Extra["review_turn"] != "0" {
		t.Fatalf("after submit: %s turn %d events %+v", r.Status, r.ReviewTurn, ev)
	}

	ack := []string{"F1"}
	// rev1 approves everything, rev2 requests changes on b.csv
	r, _ = mustApply(t, r, rev1, true, CastVote, Params{File: "out.csv", Vote: VoteApproved, Acknowledged: ack})
	mustRefuse(t, r, rev1, true, SubmitReview, Params{}, "not voted: b.csv")
	r, _ = mustApply(t, r, rev1, true, CastVote, Params{File: "b.csv", Vote: VoteApproved})
	r, ev = mustApply(t, r, rev1, true, SubmitReview, Params{})
	if r.Status != PartiallyReviewed || ev[0].Extra["to"] != string(PartiallyReviewed) {
		t.Fatalf("after first review: %s %+v", r.Status, ev)
	}
	mustRefuse(t, r, rev1, true, SubmitReview, Params{}, "already submitted")
	mustRefuse(t, r, rev1, true, ResetVotes, Params{}, "already submitted")
	mustRefuse(t, r, rev1, true, CastVote, Params{File: "b.csv", Vote: VoteChangesRequested}, "once two reviews are in")
	// decisions are hidden from everyone while reviews are independent
	if _, ok := VisibleDecision(r, rev1, true, "b.csv"); ok {
		t.Error("decision visible in INDEPENDENT")
	}
	r, _ = mustApply(t, r, rev2, true, CastVote, Params{File: "out.csv", Vote: VoteApproved, Acknowledged: ack})
	r, _ = mustApply(t, r, rev2, true, CastVote, Params{File: "b.csv", Vote: VoteChangesRequested})
	mustRefuse(t, r, rev2, true, SubmitReview, Params{}, "add a comment explaining the changes you requested on filegroup(s): g2")
	r, _ = mustApply(t, r, rev2, true, AddComment, Params{Group: "g2", Text: "too small", Visibility: Private})
	r, _ = mustApply(t, r, rev2, true, SubmitReview, Params{})
	if r.Status != Reviewed {
		t.Fatalf("after second review: %s", r.Status)
	}
	if d := FileDecision(r, "b.csv"); d != DecisionConflicted {
		t.Fatalf("b.csv: %s", d)
	}
	mustRefuse(t, r, rev1, true, Release, Params{}, "not approved: b.csv (CONFLICTED)")
	mustRefuse(t, r, rev1, true, Return, Params{}, "add a public comment explaining the requested changes on filegroup(s): g2")
	// a private comment is not enough; a public one is
	r, _ = mustApply(t, r, rev1, true, AddComment, Params{Group: "g2", Text: "please round", Visibility: Public})
	r, ev = mustApply(t, r, rev1, true, Return, Params{})
	if r.Status != Returned || r.ReviewTurn != 2 || !slices.Equal(r.TurnReviewers, []string{rev1, rev2}) || len(r.SubmittedReviews) != 0 || ev[0].Type != EventReturn {
		t.Fatalf("after return: %+v", r)
	}
	// authors see the previous decision, CONFLICTED shown as CHANGES_REQUESTED
	if d, ok := VisibleDecision(r, ann, false, "b.csv"); !ok || d != DecisionChangesRequested {
		t.Errorf("author sees %s %v", d, ok)
	}
	if d, ok := VisibleDecision(r, rev1, true, "b.csv"); !ok || d != DecisionConflicted {
		t.Errorf("checker sees %s %v", d, ok)
	}
	// resubmitting needs a public reply on g2
	mustRefuse(t, r, ann, false, Resubmit, Params{}, "add a public comment responding to the requested changes on filegroup(s): g2")
	r, _ = mustApply(t, r, ann, false, AddComment, Params{Group: "g2", Text: "rounded now", Visibility: Public, WorkspaceMember: true})
	r, ev = mustApply(t, r, ann, false, Resubmit, Params{})
	if r.Status != Submitted || r.ReviewTurn != 3 {
		t.Fatalf("after resubmit: %s %d", r.Status, r.ReviewTurn)
	}
	// rev2's CHANGES_REQUESTED on the unchanged b.csv became UNDECIDED; approvals stay
	bf, _ := r.File("b.csv")
	if bf.Votes[rev2].Vote != VoteUndecided || bf.Votes[rev1].Vote != VoteApproved {
		t.Errorf("votes after resubmit: %+v", bf.Votes)
	}
	if !slices.Equal(eventTypes(ev), []EventType{EventFileUndecided, EventSubmit}) || ev[0].Extra["reviewer"] != rev2 {
		t.Errorf("resubmit events %+v", ev)
	}
	// rev2 must vote again before submitting; rev1's approvals carry over
	mustRefuse(t, r, rev2, true, SubmitReview, Params{}, "not voted: b.csv")
	r, _ = mustApply(t, r, rev1, true, SubmitReview, Params{})
	r, _ = mustApply(t, r, rev2, true, CastVote, Params{File: "b.csv", Vote: VoteApproved})
	r, _ = mustApply(t, r, rev2, true, SubmitReview, Params{})
	if r.Status != Reviewed || FileDecision(r, "b.csv") != DecisionApproved || FileDecision(r, "out.csv") != DecisionApproved {
		t.Fatalf("second turn: %s", r.Status)
	}
	r, ev = mustApply(t, r, rev2, true, Release, Params{})
	if r.Status != Approved || r.ReleasedBy != rev2 || len(ev) != 3 || ev[1].Path != "out.csv" || ev[2].Path != "b.csv" {
		t.Fatalf("release: %s %+v", r.Status, ev)
	}
	r, ev = mustApply(t, r, SystemUser, false, FilesUploaded, Params{})
	if r.Status != Released || ev[0].User != rev2 || ev[0].Type != EventRelease {
		t.Fatalf("uploaded: %s %+v", r.Status, ev)
	}
	for _, a := range Actions() {
		for _, actor := range Actors() {
			user, isChecker := userFor(actor)
			if Check(r, user, isChecker, a, params(a, user)) == nil {
				t.Errorf("%s by %s allowed on a RELEASED request", a, actor)
			}
		}
	}
}

func TestSimultaneousReviewsBothCount(t *testing.T) {
	// two reviews recorded before either status change: both count
	r := fixture(Submitted)
	submitted(r, rev1, chk)
	r, _ = mustApply(t, r, SystemUser, false, ReviewSubmitted, Params{})
	if r.Status != PartiallyReviewed {
		t.Fatalf("%s", r.Status)
	}
	r, _ = mustApply(t, r, SystemUser, false, ReviewSubmitted, Params{})
	if r.Status != Reviewed {
		t.Fatalf("%s", r.Status)
	}
	mustRefuse(t, r, SystemUser, false, ReviewSubmitted, Params{}, "the request is REVIEWED")
	// the second of two serialised submissions sees the first
	r = fixture(Submitted)
	submitted(r)
	voteAll(r, VoteApproved, 1, rev2)
	mustRefuse(t, r, SystemUser, false, ReviewSubmitted, Params{}, "no review has been submitted")
	a, _ := mustApply(t, r, rev1, true, SubmitReview, Params{})
	b, _ := mustApply(t, a, rev2, true, SubmitReview, Params{})
	if a.Status != PartiallyReviewed || b.Status != Reviewed || len(b.SubmittedReviews) != 2 {
		t.Errorf("%s then %s", a.Status, b.Status)
	}
	p := fixture(PartiallyReviewed)
	submitted(p, rev1)
	mustRefuse(t, p, SystemUser, false, ReviewSubmitted, Params{}, "only one review")
}

func TestEarlyReturn(t *testing.T) {
	r := fixture(Returned) // turn 2, rev1 and rev2 approved in turn 1
	r.Comments = nil
	r, _ = mustApply(t, r, ann, false, AddComment, Params{Group: "g1", Text: "author note", WorkspaceMember: true})
	r, _ = mustApply(t, r, ann, false, Resubmit, Params{})
	// turn 3: rev3 votes and submits with comments; chk votes, not submitted
	r, _ = mustApply(t, r, rev3, true, CastVote, Params{File: "out.csv", Vote: VoteApproved, Acknowledged: []string{"F1"}})
	r, _ = mustApply(t, r, rev3, true, CastVote, Params{File: "b.csv", Vote: VoteChangesRequested})
	r, _ = mustApply(t, r, rev3, true, AddComment, Params{Group: "g2", Text: "why", Visibility: Private})
	r, _ = mustApply(t, r, rev3, true, SubmitReview, Params{})
	r, _ = mustApply(t, r, chk, true, CastVote, Params{File: "b.csv", Vote: VoteApproved})
	r, _ = mustApply(t, r, chk, true, AddComment, Params{Group: "g1", Text: "hm", Visibility: Public})
	before := r.Clone()
	n, ev := mustApply(t, r, chk, true, ReturnEarly, Params{})
	if !reflect.DeepEqual(r, before) {
		t.Fatal("input changed")
	}
	if n.Status != Returned || n.ReviewTurn != 4 || !n.ReturnedEarly || !slices.Equal(n.TurnReviewers, []string{rev3}) {
		t.Fatalf("after early return: %s turn %d", n.Status, n.ReviewTurn)
	}
	if len(ev) != 1 || ev[0].Type != EventEarlyReturn || ev[0].Extra["review_turn"] != "3" || ev[0].Extra["votes_reset"] != "3" || ev[0].Extra["comments_deleted"] != "2" {
		t.Fatalf("events %+v", ev)
	}
	out, _ := n.File("out.csv")
	b, _ := n.File("b.csv")
	if out.Votes[rev3].Vote != VoteUndecided || b.Votes[rev3].Vote != VoteUndecided {
		t.Errorf("submitted reviewer's votes not UNDECIDED: %+v %+v", out.Votes, b.Votes)
	}
	if _, ok := b.Votes[chk]; ok {
		t.Error("unsubmitted vote of this turn kept")
	}
	if out.Votes[rev1].Vote != VoteApproved || out.Votes[rev1].Turn != 1 {
		t.Error("vote of an earlier turn was reset")
	}
	if len(n.Comments) != 1 || n.Comments[0].Text != "author note" {
		t.Errorf("comments after early return: %+v", n.Comments)
	}
	// after an early return, resubmitting needs no reply
	n2, _ := mustApply(t, n, cole, false, Resubmit, Params{})
	if n2.Status != Submitted || n2.ReturnedEarly {
		t.Errorf("resubmit after early return: %s", n2.Status)
	}
	mustRefuse(t, fixture(Reviewed), chk, true, ReturnEarly, Params{}, "use return")
}

func TestActivityVisible(t *testing.T) {
	ev := func(typ EventType, req, turn string) Event {
		return Event{Type: typ, Request: req, Extra: map[string]string{"review_turn": turn}}
	}
	log := []Event{
		ev(EventSubmit, "A", "0"),          // 0 kept: turn 0
		ev(EventFileApprove, "A", "1"),     // 1 hidden
		ev(EventComment, "A", "1"),         // 2 hidden
		ev(EventFileApprove, "B", "1"),     // 3 kept: other request
		ev(EventEarlyReturn, "A", "1"),     // 4 kept
		ev(EventComment, "A", "2"),         // 5 kept
		ev(EventSubmit, "A", "2"),          // 6 kept
		ev(EventFileApprove, "A", "3"),     // 7 kept: no early return in turn 3
		{Type: EventFileAdd, Request: "A"}, // 8 kept: no turn
	}
	got := ActivityVisible(log)
	want := []Event{log[0], log[3], log[4], log[5], log[6], log[7], log[8]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	// Apply's own events line up with it
	r := fixture(Submitted)
	r, e1 := mustApply(t, r, chk, true, CastVote, params(CastVote, chk))
	_, e2 := mustApply(t, r, chk, true, ReturnEarly, Params{})
	all := append(e1, e2...)
	if got := ActivityVisible(all); len(got) != 1 || got[0].Type != EventEarlyReturn {
		t.Errorf("visible %v", eventTypes(got))
	}
}

func TestCoAuthors(t *testing.T) {
	r := base()
	mustRefuse(t, r, cole, false, AddCoAuthor, Params{CoAuthor: "x", CoAuthorCanAuthor: true}, "only the request's author (ann) can add co-authors")
	mustRefuse(t, r, ann, false, AddCoAuthor, Params{CoAuthor: "x"}, "x cannot author requests in workspace ws")
	mustRefuse(t, r, ann, false, AddCoAuthor, Params{CoAuthor: cole, CoAuthorCanAuthor: true}, "already")
	mustRefuse(t, r, ann, false, AddCoAuthor, Params{CoAuthor: ann, CoAuthorCanAuthor: true}, "author already")
	mustRefuse(t, r, ann, false, RemoveCoAuthor, Params{CoAuthor: otto}, "not a co-author")
	n, _ := mustApply(t, r, ann, false, AddCoAuthor, Params{CoAuthor: "dee", CoAuthorCanAuthor: true})
	if !n.IsCoAuthor("dee") || r.IsCoAuthor("dee") {
		t.Error("co-author not added, or input changed")
	}
	n, _ = mustApply(t, n, ann, false, RemoveCoAuthor, Params{CoAuthor: cole})
	if n.IsCoAuthor(cole) {
		t.Error("co-author not removed")
	}
	// a removed co-author loses the rights, and still cannot review
	mustRefuse(t, n, cole, false, Submit, Params{}, "only the request's author or co-authors")
	if ActorOf(n, cole, true) != ActorOther {
		t.Error("former co-author who is a checker counts as a checker")
	}
	sub, _ := mustApply(t, n, ann, false, Submit, Params{})
	mustRefuse(t, sub, cole, true, CastVote, params(CastVote, cole), "you were a co-author of this request")
	// a reviewer cannot become a co-author
	mustRefuse(t, fixture(Returned), ann, false, AddCoAuthor, Params{CoAuthor: rev1, CoAuthorCanAuthor: true}, "rev1 has reviewed this request")
	mustRefuse(t, fixture(Submitted), ann, false, AddCoAuthor, Params{CoAuthor: "x", CoAuthorCanAuthor: true}, "the request is SUBMITTED")

	// co-authors have the author's restrictions: a checker co-author
	// cannot review, and the request sees them as an author
	s := fixture(Submitted)
	if ActorOf(s, cole, true) != ActorCoAuthor {
		t.Error("checker co-author is not a co-author")
	}
	mustRefuse(t, s, cole, true, CastVote, params(CastVote, cole), "you are an author of this request")
}

// TestNoSelfReview: an author or co-author who is also an output checker can
// never vote, reset votes, submit a review, return, release or reject their
// own request, in any state, however the request was set up.
func TestNoSelfReview(t *testing.T) {
	for _, s := range Statuses() {
		for _, user := range []string{ann, cole} {
			for _, a := range []Action{CastVote, ResetVotes, SubmitReview, ReturnEarly, Return, Release, Reject} {
				r := fixture(s)
				// even with votes and a submitted review in their name
				voteAll(r, VoteApproved, r.ReviewTurn, user)
				p := params(a, user)
				if err := Check(r, user, true, a, p); err == nil {
					t.Errorf("%s: %s (checker) may %s own request", s, user, a)
				} else if s.Owner() == OwnerReviewer && !strings.Contains(err.Error(), "you are an author of this request") {
					t.Errorf("%s: %s %s: %v", s, user, a, err)
				}
			}
			// their comments are never private
			r := fixture(s)
			if MayComment(r, user, true, true, Private) == nil {
				t.Errorf("%s: author %s may write a private comment", s, user)
			}
			// and they see what authors see
			if VisibleVotes(r, user, true, "out.csv") != nil {
				t.Errorf("%s: author %s sees votes", s, user)
			}
		}
	}
}

func TestFileRules(t *testing.T) {
	// withdraw: PENDING removes, RETURNED marks WITHDRAWN
	n, _ := mustApply(t, base(), ann, false, WithdrawFile, Params{File: "b.csv"})
	if f, _ := n.File("b.csv"); f != nil {
		t.Error("PENDING withdraw kept the file")
	}
	n, _ = mustApply(t, fixture(Returned), cole, false, WithdrawFile, Params{File: "b.csv"})
	if f, _ := n.File("b.csv"); f == nil || f.Type != WithdrawnFile {
		t.Errorf("RETURNED withdraw: %+v", f)
	}
	mustRefuse(t, n, ann, false, WithdrawFile, Params{File: "b.csv"}, "has been withdrawn")
	mustRefuse(t, n, ann, false, UpdateFile, Params{File: "b.csv"}, "has been withdrawn")
	for _, s := range []Status{Submitted, PartiallyReviewed, Reviewed} {
		mustRefuse(t, fixture(s), ann, false, WithdrawFile, Params{File: "b.csv"}, "the request is "+string(s))
	}
	// a withdrawn file can be added again
	n, ev := mustApply(t, n, ann, false, AddFile, Params{Group: "g1", File: "b.csv", FileType: Output})
	if f, g := n.File("b.csv"); f == nil || f.Type != Output || g.Name != "g1" || !f.Updated || len(f.Votes) != 0 || ev[0].Type != EventFileAdd {
		t.Errorf("re-added: %+v in %v", f, g)
	}
	mustRefuse(t, n, ann, false, AddFile, Params{Group: "g1", File: "b.csv", FileType: Output}, "already on the request in filegroup g1")
	mustRefuse(t, base(), ann, false, AddFile, Params{Group: "g1", File: "r.csv", FileType: Output, AlreadyReleased: true}, "can only be added as SUPPORTING")
	mustApply(t, base(), ann, false, AddFile, Params{Group: "g1", File: "r.csv", FileType: Supporting, AlreadyReleased: true})
	mustRefuse(t, base(), ann, false, AddFile, Params{Group: "g1", File: "r.csv", FileType: WithdrawnFile}, "OUTPUT or SUPPORTING")
	// a new group is made on demand
	n, _ = mustApply(t, base(), ann, false, AddFile, Params{Group: "g3", File: "c.csv", FileType: Output})
	if g := n.Group("g3"); g == nil || len(g.Files) != 1 || g.Context != "" {
		t.Error("new group")
	}

	// update resets votes and takes the new findings
	r := fixture(Returned)
	n, ev = mustApply(t, r, ann, false, UpdateFile, Params{File: "out.csv", FailFindings: []string{"F7"}})
	if f, _ := n.File("out.csv"); len(f.Votes) != 0 || !f.Updated || !slices.Equal(f.FailFindings, []string{"F7"}) || ev[0].Extra["votes_reset"] != "2" {
		t.Errorf("updated: %+v %+v", f, ev)
	}
	// moving keeps votes; changing type drops them
	n, _ = mustApply(t, r, ann, false, MoveFile, Params{File: "out.csv", Group: "g2", FileType: Output})
	if f, g := n.File("out.csv"); g.Name != "g2" || len(f.Votes) != 2 {
		t.Errorf("moved: %+v", f)
	}
	n, _ = mustApply(t, r, ann, false, MoveFile, Params{File: "out.csv", Group: "g1", FileType: Supporting})
	if f, _ := n.File("out.csv"); f.Type != Supporting || len(f.Votes) != 0 {
		t.Errorf("retyped: %+v", f)
	}
	mustRefuse(t, r, ann, false, MoveFile, Params{File: "out.csv", Group: "g1", FileType: Output}, "already")

	// resubmit: updated files are not turned UNDECIDED (their votes are gone)
	r = fixture(Returned)
	voteAll(r, VoteChangesRequested, 1, rev1, rev2)
	r.Comments = append(r.Comments[:0], Comment{ID: "x", Group: "g2", Author: ann, Visibility: Public, Turn: 2})
	mustRefuse(t, r, ann, false, Resubmit, Params{}, "filegroup(s): g1")
	r, _ = mustApply(t, r, ann, false, UpdateFile, Params{File: "out.csv", FailFindings: []string{"F1"}})
	r, ev = mustApply(t, r, ann, false, Resubmit, Params{})
	if got := eventTypes(ev); !slices.Equal(got, []EventType{EventFileUndecided, EventFileUndecided, EventSubmit}) {
		t.Errorf("resubmit events %v", got)
	}
	if f, _ := r.File("b.csv"); f.Votes[rev1].Vote != VoteUndecided || f.Votes[rev2].Vote != VoteUndecided {
		t.Errorf("b.csv votes %+v", f.Votes)
	}
}

func TestResetVotes(t *testing.T) {
	r := fixture(Submitted)
	n, ev := mustApply(t, r, chk, true, ResetVotes, Params{})
	if len(ev) != 2 {
		t.Errorf("events %v", eventTypes(ev))
	}
	for _, name := range n.OutputFiles() {
		if f, _ := n.File(name); f.Votes[chk].Vote != "" {
			t.Errorf("%s vote kept", name)
		}
	}
	n, _ = mustApply(t, r, chk, true, ResetVotes, Params{File: "b.csv"})
	if f, _ := n.File("out.csv"); f.Votes[chk].Vote != VoteApproved {
		t.Error("reset of one file reset another")
	}
	mustRefuse(t, n, chk, true, ResetVotes, Params{File: "b.csv"}, "no votes to reset")
	mustRefuse(t, r, chk, true, ResetVotes, Params{Group: "nope"}, "no filegroup")
}

func TestComments(t *testing.T) {
	r := fixture(Reviewed)
	n, ev := mustApply(t, r, chk, true, AddComment, Params{Group: "g2", Text: "x", Visibility: Private})
	c := n.Comments[len(n.Comments)-1]
	if c.ID == "" || c.Author != chk || c.Turn != 1 || c.Visibility != Private || ev[0].Extra["comment"] != c.ID {
		t.Errorf("comment %+v", c)
	}
	n, _ = mustApply(t, n, chk, true, AddComment, Params{Group: "g2", Text: "y"})
	if c2 := n.Comments[len(n.Comments)-1]; c2.Visibility != Public || c2.ID == c.ID {
		t.Errorf("second comment %+v", c2)
	}
	mustRefuse(t, r, chk, true, AddComment, Params{Group: "g2", Text: "  "}, "empty")
	mustRefuse(t, r, chk, true, AddComment, Params{Group: "zz", Text: "x"}, "no filegroup")
	mustRefuse(t, r, chk, true, AddComment, Params{Group: "g1", Text: "x", CommentID: "c-chk"}, "exists already")
	mustRefuse(t, r, rev1, true, DeleteComment, Params{CommentID: "c-chk"}, "only the comment's author (chk)")
	mustRefuse(t, r, chk, true, PublishComment, Params{CommentID: "nope"}, "no comment")
	old := fixture(Reviewed)
	old.Comments[2].Turn = 0
	mustRefuse(t, old, chk, true, DeleteComment, Params{CommentID: "c-chk"}, "earlier review turn")
	n, _ = mustApply(t, r, chk, true, PublishComment, Params{CommentID: "c-chk"})
	if n.Comment("c-chk").Visibility != Public {
		t.Error("not public")
	}
	mustRefuse(t, n, chk, true, PublishComment, Params{CommentID: "c-chk"}, "public already")
}

// TestMayComment follows the 10.3 "who may comment" and "who writes"
// rows for each kind of user in each state.
func TestMayComment(t *testing.T) {
	type who struct {
		name      string
		user      string
		isChecker bool
		member    bool
	}
	users := []who{
		{"author", ann, false, true},
		{"author who is a checker", ann, true, true},
		{"member non-checker", otto, false, true},
		{"checker with no role", chk, true, false},
		{"checker who is a member", chk, true, true},
		{"stranger", "zed", false, false},
	}
	// want[state][user] = "" (no comment), "P" (public only), "PV" (both)
	want := map[Status][]string{
		Pending:           {"P", "P", "P", "", "P", ""},
		Returned:          {"P", "P", "P", "", "P", ""},
		Submitted:         {"", "", "", "PV", "PV", ""},
		PartiallyReviewed: {"", "", "", "PV", "PV", ""},
		Reviewed:          {"", "", "", "PV", "PV", ""},
		Approved:          {"", "", "", "", "", ""},
		Released:          {"", "", "", "", "", ""},
		Rejected:          {"", "", "", "", "", ""},
		Withdrawn:         {"", "", "", "", "", ""},
	}
	for _, s := range Statuses() {
		r := fixture(s)
		for i, u := range users {
			got := ""
			if MayComment(r, u.user, u.isChecker, u.member, Public) == nil {
				got += "P"
			}
			if MayComment(r, u.user, u.isChecker, u.member, Private) == nil {
				got += "V"
			}
			if got != want[s][i] {
				t.Errorf("%s, %s: %q, want %q", s, u.name, got, want[s][i])
			}
		}
		if MayComment(r, SystemUser, false, true, Public) == nil {
			t.Errorf("%s: system may comment", s)
		}
	}
	if MayComment(fixture(Reviewed), chk, true, false, "SECRET") == nil {
		t.Error("unknown visibility accepted")
	}
}
