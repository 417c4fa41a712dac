package airlock

import (
	"bytes"
	"context"
	"html/template"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/yuin/goldmark"
)

// RequestView is a release request as one viewer may see it: decisions,
// votes and comments filtered by the blinding rules of spec §10.2 and
// §10.3, the disclosure findings, the activity log, and which actions the
// viewer may take now.
type RequestView struct {
	Record  *astore.Record
	Request *review.Request
	Viewer  *User
	Actor   review.Actor
	// IsAuthor: the viewer is the author or a co-author. IsReviewer: an
	// output checker who is neither.
	IsAuthor, IsReviewer bool
	// Editable: an author in an author-owned state. Reviewing: a reviewer
	// in a reviewer-owned state.
	Editable, Reviewing bool
	// Submitted: the viewer has submitted their review this turn.
	Submitted bool
	Groups    []GroupView
	Activity  []ActivityItem
	// Can says which request-level actions the viewer may take now (by
	// review.Action name, plus "comment" and "comment-private"); Why holds
	// the reason for each that is refused.
	Can map[string]bool
	Why map[string]string
	// Outputs counts OUTPUT files; Uploaded those the server has.
	Outputs, Uploaded int
}

// GroupView is one file group.
type GroupView struct {
	Name, Context, Controls string
	Files                   []FileView
	Comments                []CommentView
}

// FileView is one file on a request.
type FileView struct {
	Name   string
	Type   review.FileType
	SHA256 string
	Size   int64
	// Decision is the decision the viewer may see; DecisionShown is false
	// when it is blinded.
	Decision      review.Decision
	DecisionShown bool
	// DecisionNote says why there is no decision to show.
	DecisionNote string
	Votes        []VoteView
	// MyVote is the viewer's own vote, nil for none.
	MyVote *review.FileReview
	// Verdict is the automated check's overall verdict ("" when the file
	// was not checked), Findings its findings, FailIDs the ids a vote must
	// acknowledge.
	Verdict  string
	Findings []Finding
	FailIDs  []string
	// Changed: the workspace file differs from the frozen copy (UPDATED).
	Changed    bool
	UploadedAt *time.Time
}

// VoteView is one visible vote.
type VoteView struct {
	Reviewer     string
	Vote         review.Vote
	Acknowledged []string
	Turn         int
	At           time.Time
}

// CommentView is one visible comment.
type CommentView struct {
	ID, Author string
	Visibility review.Visibility
	HTML       template.HTML // Markdown rendered with raw HTML removed
	At         time.Time
	Turn       int
	Blinded    bool
	CanDelete  bool
	CanPublish bool
}

// ActivityItem is one line of the request's activity log.
type ActivityItem struct {
	At     time.Time
	User   string
	Type   review.EventType
	Path   string
	Detail string
}

// RequestView builds the view of request id for u.
func (s *Service) RequestView(ctx context.Context, u *User, id string) (*RequestView, error) {
	rec, err := s.record(ctx, u, id)
	if err != nil {
		return nil, err
	}
	r := rec.Request
	name := u.Username
	actor := review.ActorOf(r, name, u.OutputChecker)
	v := &RequestView{
		Record: rec, Request: r, Viewer: u, Actor: actor,
		IsAuthor: actor.IsAuthor(), IsReviewer: actor == review.ActorChecker,
		Submitted: r.Submitted(name),
		Can:       map[string]bool{}, Why: map[string]string{},
	}
	v.Editable = v.IsAuthor && r.Status.Owner() == review.OwnerAuthor
	v.Reviewing = v.IsReviewer && r.Status.Owner() == review.OwnerReviewer
	for _, a := range []review.Action{review.Submit, review.Resubmit, review.Withdraw, review.ReturnEarly, review.Return, review.Release, review.Reject, review.SubmitReview} {
		err := review.Check(r, name, u.OutputChecker, a, review.Params{At: s.now()})
		v.Can[string(a)] = err == nil
		if err != nil {
			v.Why[string(a)] = err.Error()
		}
	}
	for key, vis := range map[string]review.Visibility{"comment": review.Public, "comment-private": review.Private} {
		err := review.MayComment(r, name, u.OutputChecker, u.IsMember(r.Workspace), vis)
		v.Can[key] = err == nil
		if err != nil {
			v.Why[key] = err.Error()
		}
	}
	var w *workspace.Workspace
	if v.Editable {
		w, _ = s.Workspaces.Open(r.Workspace) // a missing workspace only hides UPDATED marks
	}
	for _, g := range r.Groups {
		gv := GroupView{Name: g.Name, Context: g.Context, Controls: g.Controls}
		for _, f := range g.Files {
			gv.Files = append(gv.Files, s.fileView(rec, u, f, w))
			if f.Type == review.Output {
				v.Outputs++
				if m := rec.Files[f.Name]; m != nil && m.UploadedAt != nil {
					v.Uploaded++
				}
			}
		}
		for _, c := range r.Comments {
			if c.Group != g.Name {
				continue
			}
			visible, blinded := review.CommentVisible(r, name, u.OutputChecker, c)
			if !visible {
				continue
			}
			sameTurn := c.Author == name && c.Turn == r.ReviewTurn && !r.Status.Final() && r.Status != review.Approved
			gv.Comments = append(gv.Comments, CommentView{
				ID: c.ID, Author: c.Author, Visibility: c.Visibility, HTML: Markdown(c.Text),
				At: c.At, Turn: c.Turn, Blinded: blinded,
				CanDelete: sameTurn, CanPublish: sameTurn && c.Visibility == review.Private,
			})
		}
		v.Groups = append(v.Groups, gv)
	}
	events, err := s.Store.Audit(ctx, astore.AuditFilter{Request: id})
	if err != nil {
		return nil, err
	}
	v.Activity = activity(r, u, events)
	return v, nil
}

func (s *Service) fileView(rec *astore.Record, u *User, f review.File, w *workspace.Workspace) FileView {
	r := rec.Request
	fv := FileView{Name: f.Name, Type: f.Type, FailIDs: slices.Clone(f.FailFindings)}
	if m := rec.Files[f.Name]; m != nil {
		fv.SHA256, fv.Size, fv.UploadedAt = m.SHA256, m.Size, m.UploadedAt
		if rep := Report(m.Report); rep != nil && f.Type == review.Output {
			fv.Verdict = rep.Verdict.String()
			fv.Findings = withIDs(rep.Findings)
		}
		if w != nil && f.Type != review.WithdrawnFile {
			if e, err := w.Lookup(f.Name); err == nil && e.ContentHash != "" && e.ContentHash != m.SHA256 {
				fv.Changed = true
			}
		}
	}
	if f.Type == review.Output {
		fv.Decision, fv.DecisionShown = review.VisibleDecision(r, u.Username, u.OutputChecker, f.Name)
		switch {
		case r.Status.Phase() == review.PhaseAuthor && len(r.TurnReviewers) == 0:
			fv.DecisionShown, fv.DecisionNote = false, "not reviewed yet"
		case !fv.DecisionShown:
			fv.DecisionNote = "hidden until both reviews are in"
		}
		votes := review.VisibleVotes(r, u.Username, u.OutputChecker, f.Name)
		for _, who := range sortedKeys(votes) {
			fr := votes[who]
			fv.Votes = append(fv.Votes, VoteView{Reviewer: who, Vote: fr.Vote, Acknowledged: fr.Acknowledged, Turn: fr.Turn, At: fr.At})
		}
		if mine, ok := votes[u.Username]; ok {
			fv.MyVote = &mine
		}
	}
	return fv
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// activity filters the request's audit events for viewer u: the turns
// hidden by an early return are left out (review.ActivityVisible), and so
// is whatever the blinding rules hide from u: other reviewers' votes while
// they are blinded, comments u may not see, and file-access events for
// anyone but reviewers.
func activity(r *review.Request, u *User, events []review.Event) []ActivityItem {
	actor := review.ActorOf(r, u.Username, u.OutputChecker)
	reviewer := actor == review.ActorChecker
	phase := r.Status.Phase()
	var out []ActivityItem
	for _, e := range review.ActivityVisible(events) {
		turn, _ := e.ReviewTurn()
		own := e.User == u.Username
		switch e.Type {
		case review.EventFileApprove, review.EventFileRequestChanges, review.EventFileResetReview, review.EventFindingsAcknowledged:
			if own {
				break
			}
			if !reviewer {
				continue
			}
			if turn >= r.ReviewTurn && phase != review.PhaseConsolidating && phase != review.PhaseComplete {
				continue
			}
		case review.EventComment, review.EventCommentVisibilityPublic:
			if own {
				break
			}
			c := r.Comment(e.Extra["comment"])
			if c == nil {
				continue // deleted since
			}
			if ok, _ := review.CommentVisible(r, u.Username, u.OutputChecker, *c); !ok {
				continue
			}
		case review.EventCommentDelete:
			if !own {
				continue
			}
		case review.EventRequestFileView, review.EventRequestFileDownload, review.EventWorkspaceFileView:
			if !reviewer {
				continue
			}
			if !own && turn >= r.ReviewTurn && phase == review.PhaseIndependent {
				continue // what another reviewer looked at is blinded too
			}
		}
		out = append(out, ActivityItem{At: e.At, User: e.User, Type: e.Type, Path: e.Path, Detail: detail(e)})
	}
	return out
}

// detail summarises an event's extra fields for the activity log.
func detail(e review.Event) string {
	var parts []string
	for _, k := range sortedKeys(e.Extra) {
		switch k {
		case "review_turn", "comment", "sha256", "checker":
			continue
		}
		parts = append(parts, k+": "+e.Extra[k])
	}
	if t, ok := e.ReviewTurn(); ok {
		parts = append(parts, "turn "+strconv.Itoa(t))
	}
	return strings.Join(parts, ", ")
}

// markdown renders comments; goldmark leaves raw HTML out unless told
// otherwise, and links with unsafe schemes are dropped.
var markdown = goldmark.New()

// Markdown renders a comment's Markdown as HTML with every piece of raw
// HTML removed.
func Markdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	return template.HTML(buf.String()) //nolint:gosec // goldmark's safe mode: raw HTML is omitted
}

// RequestFile is a request file's frozen content for a viewer.
type RequestFile struct {
	Name     string
	Type     review.FileType
	Data     []byte
	Meta     *astore.FileMeta
	Findings []Finding
	View     *RequestView
}

// RequestFile returns the frozen copy of file name on request id, for
// viewing (download false) or downloading, and logs the access. The
// request's authors and co-authors never read its frozen files this way:
// they see their own outputs in the workspace. Only output checkers who
// are not authors or co-authors may download (spec §8.2); other people
// who may see the request may view its files.
func (s *Service) RequestFile(ctx context.Context, u *User, id, name string, download bool) (*RequestFile, error) {
	return s.requestFile(ctx, u, id, name, download, true)
}

// RequestFileInfo is RequestFile without the content: for the file's page,
// whose frame fetches (and logs the view of) the content itself.
func (s *Service) RequestFileInfo(ctx context.Context, u *User, id, name string) (*RequestFile, error) {
	return s.requestFile(ctx, u, id, name, false, false)
}

func (s *Service) requestFile(ctx context.Context, u *User, id, name string, download, read bool) (*RequestFile, error) {
	v, err := s.RequestView(ctx, u, id)
	if err != nil {
		return nil, err
	}
	r := v.Request
	f, _ := r.File(name)
	m := v.Record.Files[name]
	if f == nil || m == nil {
		return nil, haven.Errorf(haven.ENOTFOUND, "%s is not a file of release request %s", name, id)
	}
	switch {
	case read && v.IsAuthor:
		return nil, haven.Errorf(haven.EFORBIDDEN, "you are an author of this request, so its frozen files are not opened for you here: they are for its reviewers; open %s in workspace %s instead", name, r.Workspace)
	case download && !v.IsReviewer:
		return nil, haven.Errorf(haven.EFORBIDDEN, "only output checkers who are not authors of this request can download its files")
	}
	out := &RequestFile{Name: name, Type: f.Type, Meta: m, View: v}
	if f.Type == review.Output {
		out.Findings = Findings(m.Report)
	}
	if !read {
		return out, nil
	}
	data, err := workspace.ReadFrozen(s.requestDir(r.Workspace), m.SHA256)
	if err != nil {
		return nil, err
	}
	out.Data = data
	typ := review.EventRequestFileView
	if download {
		typ = review.EventRequestFileDownload
	}
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		return tx.Append(review.Event{
			Type: typ, User: u.Username, Workspace: r.Workspace, Request: r.ID, Path: name,
			Extra: map[string]string{"review_turn": strconv.Itoa(r.ReviewTurn)}, At: s.now(),
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CellFindings returns the plain disclosure findings, for the renderer's
// per-cell highlights.
func CellFindings(fs []Finding) []disclosure.Finding {
	out := make([]disclosure.Finding, len(fs))
	for i, f := range fs {
		out[i] = f.Finding
	}
	return out
}

// RequestLists are the request lists of the home page.
type RequestLists struct {
	// Mine: requests the user authors or co-authors, newest first.
	Mine []*astore.Record
	// ToReview: for output checkers, requests awaiting review or release
	// that they do not author.
	ToReview []*astore.Record
	// Done: for output checkers, recent final requests they do not author.
	Done []*astore.Record
}

// Requests returns u's request lists.
func (s *Service) Requests(ctx context.Context, u *User) (*RequestLists, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	var l RequestLists
	var err error
	if l.Mine, err = s.Store.Requests(ctx, astore.Filter{User: u.Username}); err != nil {
		return nil, err
	}
	if !u.OutputChecker {
		return &l, nil
	}
	open := []review.Status{review.Submitted, review.PartiallyReviewed, review.Reviewed, review.Approved}
	if l.ToReview, err = s.Store.Requests(ctx, astore.Filter{Statuses: open, ReviewableBy: u.Username}); err != nil {
		return nil, err
	}
	done := []review.Status{review.Released, review.Rejected, review.Returned}
	if l.Done, err = s.Store.Requests(ctx, astore.Filter{Statuses: done, ReviewableBy: u.Username}); err != nil {
		return nil, err
	}
	if len(l.Done) > 50 {
		l.Done = l.Done[:50]
	}
	return &l, nil
}

// WorkspaceRequests lists the requests of a workspace u may see.
func (s *Service) WorkspaceRequests(ctx context.Context, u *User, ws string) ([]*astore.Record, error) {
	if _, err := s.openWorkspace(u, ws); err != nil {
		return nil, err
	}
	return s.Store.Requests(ctx, astore.Filter{Workspace: ws})
}
