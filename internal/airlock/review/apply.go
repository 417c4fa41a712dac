package review

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one Airlock audit event. Extra always holds "review_turn": the
// turn the action happened in (for a submit or return, the turn it ended).
type Event struct {
	Type      EventType
	User      string
	Workspace string
	Request   string
	Path      string // the file, for file events
	Extra     map[string]string
	At        time.Time // UTC
}

// ReviewTurn returns the event's review turn from Extra.
func (e Event) ReviewTurn() (int, bool) {
	v, ok := e.Extra["review_turn"]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// Apply checks the action as Check does and, when it is allowed, returns the
// request as it is afterwards (a new value; r is never changed) and the
// audit events to log, in order.
//
// Turn rules: submit, resubmit, return and early return start a new turn
// (SubmittedReviews moves to TurnReviewers and ReviewTurn grows by one).
// Early return also resets this turn's votes (reviewers who had submitted
// get UNDECIDED), deletes this turn's comments and logs one EARLY_RETURN,
// which hides the turn's events from the activity view (ActivityVisible).
// Resubmit turns CHANGES_REQUESTED votes on files not updated since into
// UNDECIDED. A submitted review moves the request on by itself: the first
// makes it PARTIALLY_REVIEWED, the second REVIEWED.
func Apply(r *Request, user string, isChecker bool, a Action, p Params) (*Request, []Event, error) {
	if e := check(r, user, isChecker, a, p); e != nil {
		return nil, nil, e
	}
	at := p.At.UTC()
	n := r.Clone()
	ap := &applier{r: n, user: user, at: at, turn: r.ReviewTurn}
	ap.apply(a, p)
	return n, ap.events, nil
}

type applier struct {
	r      *Request
	user   string
	at     time.Time
	turn   int // the turn the action happens in
	events []Event
}

func (ap *applier) log(t EventType, path string, kv ...string) {
	extra := map[string]string{"review_turn": strconv.Itoa(ap.turn)}
	for i := 0; i+1 < len(kv); i += 2 {
		extra[kv[i]] = kv[i+1]
	}
	ap.events = append(ap.events, Event{
		Type: t, User: ap.user, Workspace: ap.r.Workspace, Request: ap.r.ID,
		Path: path, Extra: extra, At: ap.at,
	})
}

// setStatus changes the status and logs t with the change.
func (ap *applier) setStatus(to Status, t EventType, kv ...string) {
	from := ap.r.Status
	ap.r.Status = to
	ap.log(t, "", append([]string{"from", string(from), "to", string(to)}, kv...)...)
}

// newTurn starts the next review turn.
func (ap *applier) newTurn() {
	r := ap.r
	r.TurnReviewers = slices.Sorted(maps.Keys(r.SubmittedReviews))
	r.SubmittedReviews = map[string]time.Time{}
	r.ReviewTurn++
}

func (ap *applier) apply(a Action, p Params) {
	r := ap.r
	switch a {
	case Submit:
		r.LastSubmittedAt = ap.at
		ap.setStatus(Submitted, EventSubmit)
		ap.newTurn()
	case Resubmit:
		for gi := range r.Groups {
			for fi := range r.Groups[gi].Files {
				f := &r.Groups[gi].Files[fi]
				if f.Type != Output || f.Updated {
					continue
				}
				for _, rev := range slices.Sorted(maps.Keys(f.Votes)) {
					v := f.Votes[rev]
					if v.Vote == VoteChangesRequested {
						v.Vote = VoteUndecided
						f.Votes[rev] = v
						ap.log(EventFileUndecided, f.Name, "reviewer", rev)
					}
				}
			}
		}
		r.LastSubmittedAt = ap.at
		r.ReturnedEarly = false
		ap.setStatus(Submitted, EventSubmit, "resubmit", "true")
		ap.newTurn()
	case Withdraw:
		ap.setStatus(Withdrawn, EventWithdraw)
	case ReviewSubmitted:
		ap.advance(EventReview)
	case SubmitReview:
		r.SubmittedReviews = maps.Clone(r.SubmittedReviews)
		if r.SubmittedReviews == nil {
			r.SubmittedReviews = map[string]time.Time{}
		}
		r.SubmittedReviews[ap.user] = ap.at
		from := r.Status
		for check(r, SystemUser, false, ReviewSubmitted, Params{}) == nil {
			r.Status = next(r.Status)
		}
		kv := []string{"reviews", strconv.Itoa(len(r.SubmittedReviews))}
		if r.Status != from {
			kv = append(kv, "from", string(from), "to", string(r.Status))
		}
		ap.log(EventReview, "", kv...)
	case ReturnEarly:
		votes := 0
		for gi := range r.Groups {
			for fi := range r.Groups[gi].Files {
				f := &r.Groups[gi].Files[fi]
				for rev, v := range f.Votes {
					if v.Turn != r.ReviewTurn {
						continue
					}
					votes++
					if r.Submitted(rev) {
						v.Vote, v.Acknowledged = VoteUndecided, nil
						f.Votes[rev] = v
					} else {
						delete(f.Votes, rev)
					}
				}
			}
		}
		kept := r.Comments[:0]
		deleted := 0
		for _, c := range r.Comments {
			if c.Turn == r.ReviewTurn {
				deleted++
				continue
			}
			kept = append(kept, c)
		}
		r.Comments = kept
		ap.clearUpdated()
		r.ReturnedEarly = true
		ap.setStatus(Returned, EventEarlyReturn, "votes_reset", strconv.Itoa(votes), "comments_deleted", strconv.Itoa(deleted))
		ap.newTurn()
	case Return:
		ap.clearUpdated()
		r.ReturnedEarly = false
		ap.setStatus(Returned, EventReturn)
		ap.newTurn()
	case Release:
		r.ReleasedBy = ap.user
		ap.setStatus(Approved, EventApprove)
		for _, name := range r.OutputFiles() {
			ap.log(EventFileRelease, name)
		}
	case Reject:
		ap.setStatus(Rejected, EventReject)
	case FilesUploaded:
		by := r.ReleasedBy
		if by == "" {
			by = ap.user
		}
		ap.user = by
		ap.setStatus(Released, EventRelease)
	case AddFile:
		ap.addFile(p)
	case UpdateFile:
		f, _ := r.File(p.File)
		reset := len(f.Votes)
		f.Votes = nil
		f.FailFindings = sortedUnique(p.FailFindings)
		f.Updated = true
		ap.log(EventFileUpdate, f.Name, "votes_reset", strconv.Itoa(reset))
	case WithdrawFile:
		f, g := r.File(p.File)
		if r.Status == Pending {
			g.Files = slices.DeleteFunc(g.Files, func(x File) bool { return x.Name == p.File })
		} else {
			f.Type = WithdrawnFile
		}
		ap.log(EventFileWithdraw, p.File, "group", g.Name)
	case MoveFile:
		f, g := r.File(p.File)
		moved := *f
		oldGroup, oldType := g.Name, f.Type
		if moved.Type != p.FileType {
			moved.Votes = nil
			moved.Updated = true
			if p.FileType == Output {
				moved.FailFindings = sortedUnique(p.FailFindings)
			}
		}
		moved.Type = p.FileType
		g.Files = slices.DeleteFunc(g.Files, func(x File) bool { return x.Name == p.File })
		target := ap.group(p.Group)
		target.Files = append(target.Files, moved)
		ap.log(EventEdit, p.File, "from_group", oldGroup, "group", p.Group, "from_filetype", string(oldType), "filetype", string(p.FileType))
	case EditContext:
		g := r.Group(p.Group)
		g.Context, g.Controls = p.Context, p.Controls
		ap.log(EventEdit, "", "group", g.Name)
	case AddCoAuthor:
		r.CoAuthors = append(r.CoAuthors, p.CoAuthor)
		r.FormerCoAuthors = slices.DeleteFunc(r.FormerCoAuthors, func(u string) bool { return u == p.CoAuthor })
		ap.log(EventCoAuthorAdd, "", "coauthor", p.CoAuthor)
	case RemoveCoAuthor:
		r.CoAuthors = slices.DeleteFunc(r.CoAuthors, func(u string) bool { return u == p.CoAuthor })
		if !slices.Contains(r.FormerCoAuthors, p.CoAuthor) {
			r.FormerCoAuthors = append(r.FormerCoAuthors, p.CoAuthor)
		}
		ap.log(EventCoAuthorRemove, "", "coauthor", p.CoAuthor)
	case CastVote:
		f, _ := r.File(p.File)
		if f.Votes == nil {
			f.Votes = map[string]FileReview{}
		}
		acks := sortedUnique(p.Acknowledged)
		f.Votes[ap.user] = FileReview{Vote: p.Vote, Turn: r.ReviewTurn, Acknowledged: acks, At: ap.at}
		t := EventFileApprove
		if p.Vote == VoteChangesRequested {
			t = EventFileRequestChanges
		}
		ap.log(t, f.Name)
		if len(acks) > 0 {
			ap.log(EventFindingsAcknowledged, f.Name, "findings", strings.Join(acks, ","))
		}
	case ResetVotes:
		for _, name := range votesToReset(r, ap.user, p) {
			f, _ := r.File(name)
			delete(f.Votes, ap.user)
			ap.log(EventFileResetReview, name)
		}
	case AddComment:
		id := p.CommentID
		for i := len(r.Comments) + 1; id == "" || (p.CommentID == "" && r.Comment(id) != nil); i++ {
			id = fmt.Sprintf("%d-%d", r.ReviewTurn, i)
		}
		vis := p.Visibility
		if vis == "" {
			vis = Public
		}
		r.Comments = append(r.Comments, Comment{
			ID: id, Group: p.Group, Author: ap.user, Visibility: vis,
			Turn: r.ReviewTurn, Text: p.Text, At: ap.at,
		})
		ap.log(EventComment, "", "group", p.Group, "comment", id, "visibility", string(vis))
	case DeleteComment:
		c := r.Comment(p.CommentID)
		group := c.Group
		r.Comments = slices.DeleteFunc(r.Comments, func(x Comment) bool { return x.ID == p.CommentID })
		ap.log(EventCommentDelete, "", "group", group, "comment", p.CommentID)
	case PublishComment:
		c := r.Comment(p.CommentID)
		c.Visibility = Public
		ap.log(EventCommentVisibilityPublic, "", "group", c.Group, "comment", c.ID)
	}
}

// advance moves a request on by one step after a submitted review.
func (ap *applier) advance(t EventType) {
	ap.setStatus(next(ap.r.Status), t, "reviews", strconv.Itoa(len(ap.r.SubmittedReviews)))
}

func next(s Status) Status {
	if s == Submitted {
		return PartiallyReviewed
	}
	return Reviewed
}

func (ap *applier) clearUpdated() {
	for gi := range ap.r.Groups {
		for fi := range ap.r.Groups[gi].Files {
			ap.r.Groups[gi].Files[fi].Updated = false
		}
	}
}

// group returns the named group, creating it (empty) if needed.
func (ap *applier) group(name string) *Group {
	if g := ap.r.Group(name); g != nil {
		return g
	}
	ap.r.Groups = append(ap.r.Groups, Group{Name: name})
	return &ap.r.Groups[len(ap.r.Groups)-1]
}

func (ap *applier) addFile(p Params) {
	r := ap.r
	f := File{
		Name:         p.File,
		Type:         p.FileType,
		FailFindings: sortedUnique(p.FailFindings),
		Updated:      r.ReviewTurn > 0,
	}
	if old, g := r.File(p.File); old != nil { // a withdrawn file added again
		g.Files = slices.DeleteFunc(g.Files, func(x File) bool { return x.Name == p.File })
	}
	g := ap.group(p.Group)
	g.Files = append(g.Files, f)
	ap.log(EventFileAdd, p.File, "group", p.Group, "filetype", string(p.FileType))
}

// ActivityVisible returns the events the activity view shows, in order: it
// omits every event of a request's turn when a later EARLY_RETURN event of
// the same request and turn exists (the log itself stays append-only).
func ActivityVisible(events []Event) []Event {
	type key struct {
		request string
		turn    int
	}
	lastEarly := map[key]int{}
	for i, e := range events {
		if t, ok := e.ReviewTurn(); ok && e.Type == EventEarlyReturn {
			lastEarly[key{e.Request, t}] = i
		}
	}
	var out []Event
	for i, e := range events {
		if t, ok := e.ReviewTurn(); ok {
			if j, hidden := lastEarly[key{e.Request, t}]; hidden && i < j {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}
