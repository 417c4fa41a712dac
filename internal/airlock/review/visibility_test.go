package review

import "testing"

// conflicted returns a request in state s whose b.csv is CONFLICTED by the
// votes of rev1 (APPROVED) and rev2 (CHANGES_REQUESTED), counted for this
// turn in reviewer states and COMPLETE, and for the previous turn while
// authors edit. chk voted too but has not submitted.
func conflicted(s Status) *Request {
	r := fixture(s)
	f, _ := r.File("b.csv")
	f.Votes = nil
	vote(r, rev1, "b.csv", VoteApproved, 1)
	vote(r, rev2, "b.csv", VoteChangesRequested, 1)
	vote(r, chk, "b.csv", VoteApproved, 1)
	if s.Phase() == PhaseAuthor {
		r.TurnReviewers = []string{rev1, rev2}
		r.SubmittedReviews = nil
	} else {
		submitted(r, rev1, rev2)
	}
	return r
}

// Table 10.2, row by row.
func TestVisibleDecisionAndVotes(t *testing.T) {
	type view struct {
		decision string // "" hidden
		votes    string // reviewers whose votes are shown
	}
	viewers := []struct {
		name      string
		user      string
		isChecker bool
	}{
		{"author", ann, false},
		{"co-author who is a checker", cole, true},
		{"non-checker", otto, false},
		{"checker", chk, true},
	}
	tests := []struct {
		phase Phase
		state Status
		want  []view // per viewer above
	}{
		{PhaseAuthor, Returned, []view{{"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CONFLICTED", "chk"}}},
		{PhaseIndependent, Submitted, []view{{"", ""}, {"", ""}, {"", ""}, {"", "chk"}}},
		{PhaseIndependent, PartiallyReviewed, []view{{"", ""}, {"", ""}, {"", ""}, {"", "chk"}}},
		{PhaseConsolidating, Reviewed, []view{{"", ""}, {"", ""}, {"", ""}, {"CONFLICTED", "chk rev1 rev2"}}},
		{PhaseComplete, Rejected, []view{{"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CONFLICTED", "chk rev1 rev2"}}},
		{PhaseComplete, Approved, []view{{"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CHANGES_REQUESTED", ""}, {"CONFLICTED", "chk rev1 rev2"}}},
	}
	for _, tt := range tests {
		r := conflicted(tt.state)
		if r.Status.Phase() != tt.phase {
			t.Fatalf("%s is not %s", tt.state, tt.phase)
		}
		for i, v := range viewers {
			d, ok := VisibleDecision(r, v.user, v.isChecker, "b.csv")
			got := view{}
			if ok {
				got.decision = string(d)
			}
			votes := VisibleVotes(r, v.user, v.isChecker, "b.csv")
			for _, rev := range []string{chk, rev1, rev2} {
				if _, ok := votes[rev]; ok {
					if got.votes != "" {
						got.votes += " "
					}
					got.votes += rev
				}
			}
			if got != tt.want[i] {
				t.Errorf("%s (%s), %s: %+v, want %+v", tt.phase, tt.state, v.name, got, tt.want[i])
			}
		}
	}
	// a request withdrawn by its authors shows the previous turn's decisions
	r := conflicted(Returned)
	r.Status = Withdrawn
	if d, ok := VisibleDecision(r, chk, true, "b.csv"); !ok || d != DecisionConflicted {
		t.Errorf("withdrawn: %s %v", d, ok)
	}
}

// Table 10.3, row by row: who sees a comment.
func TestCommentVisible(t *testing.T) {
	type viewer struct {
		user      string
		isChecker bool
	}
	author, nonChecker, checker := viewer{ann, false}, viewer{otto, false}, viewer{chk, true}
	checkerAuthor := viewer{cole, true}
	states := map[Phase]Status{PhaseAuthor: Returned, PhaseIndependent: Submitted, PhaseConsolidating: Reviewed, PhaseComplete: Released}
	phases := []Phase{PhaseAuthor, PhaseIndependent, PhaseConsolidating, PhaseComplete}
	tests := []struct {
		row     string
		vis     Visibility
		earlier bool
		// per phase (AUTHOR, INDEPENDENT, CONSOLIDATING, COMPLETE): which of
		// author, non-checker, checker-who-is-co-author, checker see it
		want [4]string
	}{
		{"someone else's PUBLIC, earlier turn", Public, true, [4]string{"ANCK", "ANCK", "ANCK", "ANCK"}},
		{"someone else's PUBLIC, current turn", Public, false, [4]string{"", "", "K", "ANCK"}},
		{"PRIVATE, earlier turn", Private, true, [4]string{"K", "K", "K", "K"}},
		{"PRIVATE, current turn", Private, false, [4]string{"K", "", "K", "K"}},
	}
	for _, tt := range tests {
		for pi, phase := range phases {
			r := fixture(states[phase])
			r.ReviewTurn = 5
			c := Comment{ID: "x", Group: "g1", Author: rev1, Visibility: tt.vis, Turn: 5}
			if tt.earlier {
				c.Turn = 4
			}
			got := ""
			for _, v := range []struct {
				code string
				viewer
			}{{"A", author}, {"N", nonChecker}, {"C", checkerAuthor}, {"K", checker}} {
				vis, blinded := CommentVisible(r, v.user, v.isChecker, c)
				if blinded {
					t.Errorf("%s, %s: blinded for %s", tt.row, phase, v.user)
				}
				if vis {
					got += v.code
				}
			}
			if got != tt.want[pi] {
				t.Errorf("%s, %s: seen by %q, want %q", tt.row, phase, got, tt.want[pi])
			}
		}
	}
	// your own: always visible; blinded only for this turn in INDEPENDENT
	for _, phase := range phases {
		for _, vis := range []Visibility{Public, Private} {
			for _, turn := range []int{4, 5} {
				r := fixture(states[phase])
				r.ReviewTurn = 5
				c := Comment{ID: "x", Group: "g1", Author: chk, Visibility: vis, Turn: turn}
				visible, blinded := CommentVisible(r, chk, true, c)
				wantBlind := phase == PhaseIndependent && turn == 5
				if !visible || blinded != wantBlind {
					t.Errorf("own %s comment turn %d in %s: visible %v blinded %v", vis, turn, phase, visible, blinded)
				}
			}
		}
	}
	if BlindedNote != "Only visible to you until two reviews have been completed" {
		t.Error(BlindedNote)
	}
	if v, _ := CommentVisible(nil, chk, true, Comment{}); v {
		t.Error("nil request")
	}
}
