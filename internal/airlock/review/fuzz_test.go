package review

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

type fuzzUser struct {
	name      string
	isChecker bool
	member    bool
}

var fuzzUsers = []fuzzUser{
	{ann, true, true}, // an author who is also an output checker
	{cole, true, true},
	{"dee", false, true},
	{chk, true, false},
	{rev1, true, false},
	{rev2, true, true},
	{otto, false, true},
	{SystemUser, false, false},
}

// fuzzParams builds parameters for a from two bytes of input.
func fuzzParams(r *Request, a Action, b1, b2 byte, at time.Time) Params {
	files := []string{"out.csv", "b.csv", "sup.txt", "new.csv"}
	groups := []string{"g1", "g2", "g3"}
	p := Params{
		At:                at,
		Group:             groups[int(b1)%len(groups)],
		File:              files[int(b2)%len(files)],
		FileType:          []FileType{Output, Supporting, WithdrawnFile}[int(b1>>2)%3],
		FailFindings:      [][]string{nil, {"F1"}, {"F1", "F2"}}[int(b2>>2)%3],
		AlreadyReleased:   b1&0x40 != 0,
		Vote:              []Vote{VoteApproved, VoteChangesRequested, VoteUndecided}[int(b1>>4)%3],
		Context:           "ctx",
		Controls:          "ctl",
		CoAuthor:          fuzzUsers[int(b2)%len(fuzzUsers)].name,
		CoAuthorCanAuthor: b2&0x80 == 0,
		Text:              "text",
		Visibility:        []Visibility{Public, Private}[int(b2>>3)%2],
	}
	if b1&0x80 == 0 { // a well-formed vote most of the time
		if f, _ := r.File(p.File); f != nil {
			p.Acknowledged = slices.Clone(f.FailFindings)
		}
	}
	if len(r.Comments) > 0 {
		p.CommentID = r.Comments[int(b2)%len(r.Comments)].ID
	}
	return p
}

// FuzzApply applies random action sequences and checks the invariants: the
// state is always one of the nine; a final state never changes; an author
// or co-author never has a vote or a submitted review, and never a counted
// vote; the review turn never decreases; Apply never changes its input and
// agrees with Check; every change of state is a row of Transitions().
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})
	// add files, edit context, submit, vote, review...
	f.Add([]byte{
		0, 9, 0, 3, 0, 14, 0, 0, 0, 14, 1, 0, 0, 0, 0, 0,
		3, 16, 0, 0, 3, 16, 0, 1, 3, 18, 0, 0, 4, 16, 0, 0, 4, 16, 0, 1, 4, 18, 0, 0,
		3, 5, 0, 0, 7, 8, 0, 0,
	})
	f.Add([]byte{0, 9, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 1, 1, 0, 0, 5, 7, 0, 0})
	rows := map[[3]string]bool{}
	for _, tr := range Transitions() {
		rows[[3]string{string(tr.From), string(tr.To), string(tr.Action)}] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Request{ID: "01F", Workspace: "ws", Author: ann, CoAuthors: []string{cole}, Status: Pending}
		at := t0
		for i := 0; i+3 < len(data); i += 4 {
			u := fuzzUsers[int(data[i])%len(fuzzUsers)]
			a := Actions()[int(data[i+1])%len(Actions())]
			p := fuzzParams(r, a, data[i+2], data[i+3], at)
			p.WorkspaceMember = u.member
			at = at.Add(time.Minute)
			before := r.Clone()
			n, ev, err := Apply(r, u.name, u.isChecker, a, p)
			step := fmt.Sprintf("step %d: %s by %s in %s", i/4, a, u.name, r.Status)
			if !reflect.DeepEqual(r, before) {
				t.Fatalf("%s: input changed", step)
			}
			if cerr := Check(r, u.name, u.isChecker, a, p); (cerr == nil) != (err == nil) {
				t.Fatalf("%s: Check %v, Apply %v", step, cerr, err)
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%s: empty reason", step)
				}
				continue
			}
			if r.Status.Final() {
				t.Fatalf("%s: a final request changed", step)
			}
			if !n.Status.Valid() {
				t.Fatalf("%s: invalid status %q", step, n.Status)
			}
			if n.ReviewTurn < r.ReviewTurn {
				t.Fatalf("%s: review turn went back", step)
			}
			if n.Status != r.Status {
				key := [3]string{string(r.Status), string(n.Status), string(a)}
				ok := rows[key]
				if a == SubmitReview {
					ok = (r.Status == Submitted && (n.Status == PartiallyReviewed || n.Status == Reviewed)) ||
						(r.Status == PartiallyReviewed && n.Status == Reviewed)
				}
				if !ok {
					t.Fatalf("%s: change to %s is not in the table", step, n.Status)
				}
			}
			for _, e := range ev {
				if _, ok := e.ReviewTurn(); !ok {
					t.Fatalf("%s: event %s without review_turn", step, e.Type)
				}
			}
			for _, author := range append([]string{n.Author}, n.CoAuthors...) {
				if n.Submitted(author) {
					t.Fatalf("%s: author %s submitted a review", step, author)
				}
				for _, g := range n.Groups {
					for _, file := range g.Files {
						if _, voted := file.Votes[author]; voted {
							t.Fatalf("%s: author %s has a vote on %s", step, author, file.Name)
						}
					}
				}
			}
			r = n
		}
		// a final request refuses everything
		if r.Status.Final() {
			for _, a := range Actions() {
				for _, u := range fuzzUsers {
					if Check(r, u.name, u.isChecker, a, fuzzParams(r, a, 0, 0, at)) == nil {
						t.Fatalf("%s by %s allowed on a %s request", a, u.name, r.Status)
					}
				}
			}
		}
	})
}
