package review

import (
	"maps"
	"slices"
	"time"
)

// Request is a release request as plain data: everything the state machine,
// the decision rule and the visibility rules need. Apply never changes the
// Request it is given; it returns a new one.
type Request struct {
	ID        string   // ULID; also the server's Release id
	Workspace string   // workspace name
	Author    string   // creator and owner
	CoAuthors []string // users the author added (9.4)
	// FormerCoAuthors were co-authors once; they can never review the
	// request.
	FormerCoAuthors []string
	Status          Status

	// ReviewTurn starts at 0 and increases by one on submit, resubmit,
	// return and early return.
	ReviewTurn int
	// SubmittedReviews maps each reviewer who submitted a review in the
	// current turn to when they did.
	SubmittedReviews map[string]time.Time
	// TurnReviewers are the reviewers who submitted in the previous turn;
	// their votes give the decisions shown while authors edit.
	TurnReviewers []string
	// ReturnedEarly is true while the request is RETURNED after an early
	// return (so resubmitting needs no reply to requested changes).
	ReturnedEarly bool
	// ReleasedBy is the checker who released the files; the final RELEASE
	// event is attributed to them.
	ReleasedBy      string
	LastSubmittedAt time.Time

	Groups   []Group   // file groups in display order
	Comments []Comment // comments of every group, oldest first
}

// Group is a named file group with its context and controls.
type Group struct {
	Name     string
	Context  string // what the outputs are, populations, links to other outputs
	Controls string // the disclosure controls applied
	Files    []File
}

// File is one file on a request.
type File struct {
	Name string // path relative to the workspace
	Type FileType
	// FailFindings are the ids of the FAIL findings of the automated
	// disclosure check on this file's frozen content.
	FailFindings []string
	// Votes maps each reviewer to their vote.
	Votes map[string]FileReview
	// Updated is true when the file was added or updated in the last
	// author phase; it is cleared when the request is next returned.
	Updated bool
}

// FileReview is one reviewer's vote on a file.
type FileReview struct {
	Vote         Vote
	Turn         int       // the review turn the vote was cast in
	Acknowledged []string  // FAIL finding ids acknowledged with the vote
	At           time.Time // when the vote was cast (UTC)
}

// Comment is a comment on a file group.
type Comment struct {
	ID         string
	Group      string
	Author     string
	Visibility Visibility
	Turn       int // review turn the comment was written in
	Text       string
	At         time.Time
}

// IsCoAuthor reports whether user is one of the request's co-authors.
func (r *Request) IsCoAuthor(user string) bool {
	return user != "" && slices.Contains(r.CoAuthors, user)
}

// hasReviewed reports whether user has voted on a file of r or submitted a
// review in the current turn.
func (r *Request) hasReviewed(user string) bool {
	if r.Submitted(user) || slices.Contains(r.TurnReviewers, user) {
		return true
	}
	for _, g := range r.Groups {
		for _, f := range g.Files {
			if _, ok := f.Votes[user]; ok {
				return true
			}
		}
	}
	return false
}

// Clone returns a deep copy of r.
func (r *Request) Clone() *Request {
	if r == nil {
		return nil
	}
	c := *r
	c.CoAuthors = slices.Clone(r.CoAuthors)
	c.FormerCoAuthors = slices.Clone(r.FormerCoAuthors)
	c.TurnReviewers = slices.Clone(r.TurnReviewers)
	c.SubmittedReviews = maps.Clone(r.SubmittedReviews)
	c.Comments = slices.Clone(r.Comments)
	c.Groups = make([]Group, len(r.Groups))
	for i, g := range r.Groups {
		g.Files = slices.Clone(g.Files)
		for j, f := range g.Files {
			f.FailFindings = slices.Clone(f.FailFindings)
			if f.Votes != nil {
				votes := make(map[string]FileReview, len(f.Votes))
				for k, v := range f.Votes {
					v.Acknowledged = slices.Clone(v.Acknowledged)
					votes[k] = v
				}
				f.Votes = votes
			}
			g.Files[j] = f
		}
		c.Groups[i] = g
	}
	if r.Groups == nil {
		c.Groups = nil
	}
	return &c
}

// Group returns the group with this name, or nil.
func (r *Request) Group(name string) *Group {
	for i := range r.Groups {
		if r.Groups[i].Name == name {
			return &r.Groups[i]
		}
	}
	return nil
}

// File returns the file with this name and its group, or nils.
func (r *Request) File(name string) (*File, *Group) {
	for i := range r.Groups {
		g := &r.Groups[i]
		for j := range g.Files {
			if g.Files[j].Name == name {
				return &g.Files[j], g
			}
		}
	}
	return nil, nil
}

// OutputFiles returns the names of the OUTPUT files in group order.
func (r *Request) OutputFiles() []string {
	var out []string
	for _, g := range r.Groups {
		for _, f := range g.Files {
			if f.Type == Output {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// Comment returns the comment with this id, or nil.
func (r *Request) Comment(id string) *Comment {
	for i := range r.Comments {
		if r.Comments[i].ID == id {
			return &r.Comments[i]
		}
	}
	return nil
}

// Submitted reports whether user has submitted a review in the current turn.
func (r *Request) Submitted(user string) bool {
	_, ok := r.SubmittedReviews[user]
	return ok
}

// hasLiveFiles reports whether g holds a file that is not withdrawn.
func (g *Group) hasLiveFiles() bool {
	for _, f := range g.Files {
		if f.Type != WithdrawnFile {
			return true
		}
	}
	return false
}

// hasComment reports whether group has a comment of this turn matching the
// filter (an empty author matches anyone, empty visibility matches both).
func (r *Request) hasComment(group string, turn int, author string, vis Visibility) bool {
	for _, c := range r.Comments {
		if c.Group == group && c.Turn == turn && (author == "" || c.Author == author) && (vis == "" || c.Visibility == vis) {
			return true
		}
	}
	return false
}
