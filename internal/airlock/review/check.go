package review

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven"
)

// Params carries what an action needs besides the request, the user and
// the action. Fields an action does not use are ignored.
type Params struct {
	At time.Time // when the action happens; stored in UTC

	Group string // AddFile, MoveFile (target group), EditContext, Comment, ResetVotes (optional)
	File  string // file actions, CastVote, ResetVotes (optional)

	// FileType is the type for AddFile and MoveFile: OUTPUT or SUPPORTING.
	FileType FileType
	// FailFindings are the FAIL finding ids of the disclosure check run on
	// the file's frozen content (AddFile, UpdateFile, MoveFile to OUTPUT).
	FailFindings []string
	// AlreadyReleased says the workspace file was released before; it may
	// then only be added as SUPPORTING.
	AlreadyReleased bool

	Vote         Vote     // CastVote: APPROVED or CHANGES_REQUESTED
	Acknowledged []string // CastVote: FAIL finding ids the reviewer acknowledges

	Context, Controls string // EditContext

	CoAuthor string // AddCoAuthor, RemoveCoAuthor
	// CoAuthorCanAuthor says the co-author may author requests in this
	// workspace (section 8.2); the caller works it out.
	CoAuthorCanAuthor bool

	CommentID  string     // Comment (optional; one is made up when empty), DeleteComment, PublishComment
	Text       string     // Comment
	Visibility Visibility // Comment
	// WorkspaceMember says the user has a role on the request's workspace;
	// it decides when they may comment.
	WorkspaceMember bool
}

// RefusedError says why an action is not allowed. Its Reason is meant for
// the user. It unwraps to a *haven.Error carrying Code, so
// haven.ErrorCode(err) works on it.
type RefusedError struct {
	Action Action
	Status Status
	User   string
	Code   string // haven.EFORBIDDEN, ECONFLICT, EINVALID or ENOTFOUND
	Reason string
}

// Error returns the reason.
func (e *RefusedError) Error() string { return e.Reason }

// Unwrap returns the reason as a *haven.Error with the refusal's code.
func (e *RefusedError) Unwrap() error { return &haven.Error{Code: e.Code, Message: e.Reason} }

func refuse(code, format string, args ...any) *RefusedError {
	return &RefusedError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// phrases complete "only … can …" sentences.
var phrases = map[Action]string{
	Submit:          "submit it",
	Resubmit:        "resubmit it",
	Withdraw:        "withdraw it",
	ReviewSubmitted: "record a submitted review",
	ReturnEarly:     "return it early",
	Release:         "release its files",
	Reject:          "reject it",
	Return:          "return it",
	FilesUploaded:   "mark its files uploaded",
	AddFile:         "add files to it",
	UpdateFile:      "update its files",
	WithdrawFile:    "withdraw its files",
	MoveFile:        "move or retype its files",
	EditContext:     "edit its context and controls",
	AddCoAuthor:     "add co-authors",
	RemoveCoAuthor:  "remove co-authors",
	CastVote:        "vote on its files",
	ResetVotes:      "reset votes",
	SubmitReview:    "submit a review",
	AddComment:      "comment on it",
	DeleteComment:   "delete comments",
	PublishComment:  "make comments public",
}

type category int

const (
	catAuthor category = iota
	catReviewer
	catSystem
	catComment
)

func categoryOf(a Action) category {
	switch a {
	case CastVote, ResetVotes, SubmitReview, ReturnEarly, Release, Reject, Return:
		return catReviewer
	case ReviewSubmitted, FilesUploaded:
		return catSystem
	case AddComment, DeleteComment, PublishComment:
		return catComment
	}
	return catAuthor
}

// Check is the single gate for every action: it returns nil when user
// (with isChecker saying whether they are an output checker) may do a to r
// now, and otherwise a *RefusedError saying why. Apply performs the same
// check first.
//
// Workspace permissions that need the user's profile (archived workspace,
// ongoing project, section 8.2) are the caller's to check before; Check
// decides everything that depends on the request itself.
func Check(r *Request, user string, isChecker bool, a Action, p Params) error {
	if err := check(r, user, isChecker, a, p); err != nil {
		return err
	}
	return nil
}

func check(r *Request, user string, isChecker bool, a Action, p Params) *RefusedError {
	e := check1(r, user, isChecker, a, p)
	if e != nil {
		e.Action, e.User = a, user
		if r != nil {
			e.Status = r.Status
		}
	}
	return e
}

func check1(r *Request, user string, isChecker bool, a Action, p Params) *RefusedError {
	if r == nil {
		return refuse(haven.EINVALID, "no release request given")
	}
	if !r.Status.Valid() {
		return refuse(haven.EINVALID, "the request has an unknown status %q", r.Status)
	}
	if !a.Valid() {
		return refuse(haven.EINVALID, "unknown action %q", a)
	}
	if strings.TrimSpace(user) == "" {
		return refuse(haven.EINVALID, "no user given for %q", a)
	}
	actor := ActorOf(r, user, isChecker)
	switch categoryOf(a) {
	case catSystem:
		if actor != ActorSystem {
			return refuse(haven.EFORBIDDEN, "only Airlock itself can %s; it happens on its own", phrases[a])
		}
		return checkSystem(r, a)
	case catAuthor:
		if actor == ActorSystem {
			return refuse(haven.EFORBIDDEN, "Airlock itself cannot %s; a person must", phrases[a])
		}
		if a == AddCoAuthor || a == RemoveCoAuthor {
			if actor != ActorAuthor {
				return refuse(haven.EFORBIDDEN, "only the request's author (%s) can %s", r.Author, phrases[a])
			}
		} else if !actor.IsAuthor() {
			return refuse(haven.EFORBIDDEN, "only the request's author or co-authors can %s", phrases[a])
		}
		if e := stateOwnedBy(r, OwnerAuthor); e != nil {
			return e
		}
		return checkAuthor(r, a, p)
	case catReviewer:
		switch actor {
		case ActorSystem:
			return refuse(haven.EFORBIDDEN, "Airlock itself cannot %s; an output checker must", phrases[a])
		case ActorAuthor, ActorCoAuthor:
			return refuse(haven.EFORBIDDEN, "you are an author of this request, so you cannot %s: it must be reviewed by output checkers who are not its authors", phrases[a])
		case ActorOther:
			if slices.Contains(r.FormerCoAuthors, user) {
				return refuse(haven.EFORBIDDEN, "you were a co-author of this request, so you cannot %s", phrases[a])
			}
			return refuse(haven.EFORBIDDEN, "only output checkers can %s", phrases[a])
		}
		if e := stateOwnedBy(r, OwnerReviewer); e != nil {
			return e
		}
		return checkReviewer(r, user, a, p)
	}
	if actor == ActorSystem {
		return refuse(haven.EFORBIDDEN, "Airlock itself cannot %s", phrases[a])
	}
	return checkComment(r, user, isChecker, a, p)
}

// stateOwnedBy refuses unless r's state belongs to owner.
func stateOwnedBy(r *Request, owner Owner) *RefusedError {
	s := r.Status
	switch {
	case s.Owner() == owner:
		return nil
	case s == Approved:
		return refuse(haven.ECONFLICT, "the request is APPROVED: its files are being uploaded and it can no longer be changed")
	case s.Final():
		return refuse(haven.ECONFLICT, "the request is %s: it can no longer be changed", s)
	case s.Owner() == OwnerReviewer:
		return refuse(haven.ECONFLICT, "the request is %s: only an output checker who is not an author can act on it; ask for it to be returned", s)
	}
	return refuse(haven.ECONFLICT, "the request is %s: only its author or co-authors can act on it until it is submitted", s)
}

func checkSystem(r *Request, a Action) *RefusedError {
	n := len(r.SubmittedReviews)
	switch a {
	case ReviewSubmitted:
		switch {
		case r.Status == Submitted && n >= 1, r.Status == PartiallyReviewed && n >= 2:
			return nil
		case r.Status == Submitted:
			return refuse(haven.ECONFLICT, "no review has been submitted in turn %d", r.ReviewTurn)
		case r.Status == PartiallyReviewed:
			return refuse(haven.ECONFLICT, "only one review has been submitted in turn %d; two are needed", r.ReviewTurn)
		}
		return refuse(haven.ECONFLICT, "the request is %s: a submitted review moves only a SUBMITTED or PARTIALLY_REVIEWED request on", r.Status)
	case FilesUploaded:
		if r.Status != Approved {
			return refuse(haven.ECONFLICT, "the request is %s: only an APPROVED request becomes RELEASED", r.Status)
		}
	}
	return nil
}

func checkAuthor(r *Request, a Action, p Params) *RefusedError {
	switch a {
	case Submit:
		if r.Status != Pending {
			return refuse(haven.ECONFLICT, "the request is %s: use resubmit", r.Status)
		}
		return submitGuards(r)
	case Resubmit:
		if r.Status != Returned {
			return refuse(haven.ECONFLICT, "the request is %s and has not been returned: use submit", r.Status)
		}
		if e := submitGuards(r); e != nil {
			return e
		}
		if !r.ReturnedEarly {
			if missing := groupsNeedingReply(r); len(missing) > 0 {
				return refuse(haven.EINVALID, "add a public comment responding to the requested changes on filegroup(s): %s", strings.Join(missing, ", "))
			}
		}
		return nil
	case Withdraw:
		return nil
	case AddFile:
		if p.File == "" {
			return refuse(haven.EINVALID, "no file named to add")
		}
		if p.Group == "" {
			return refuse(haven.EINVALID, "no file group named for %s", p.File)
		}
		if p.FileType != Output && p.FileType != Supporting {
			return refuse(haven.EINVALID, "a file is added as OUTPUT or SUPPORTING, not %q", p.FileType)
		}
		if p.AlreadyReleased && p.FileType == Output {
			return refuse(haven.EINVALID, "%s has already been released: it can only be added as SUPPORTING", p.File)
		}
		if f, g := r.File(p.File); f != nil && f.Type != WithdrawnFile {
			return refuse(haven.ECONFLICT, "%s is already on the request in filegroup %s: update or move it instead", p.File, g.Name)
		}
		return nil
	case UpdateFile, WithdrawFile:
		if _, e := liveFile(r, p.File); e != nil {
			return e
		}
		return nil
	case MoveFile:
		f, e := liveFile(r, p.File)
		if e != nil {
			return e
		}
		if p.Group == "" {
			return refuse(haven.EINVALID, "no file group named to move %s to", p.File)
		}
		if p.FileType != Output && p.FileType != Supporting {
			return refuse(haven.EINVALID, "a file's type is OUTPUT or SUPPORTING, not %q", p.FileType)
		}
		_, g := r.File(p.File)
		if g.Name == p.Group && f.Type == p.FileType {
			return refuse(haven.EINVALID, "%s is already a %s file in filegroup %s", p.File, f.Type, p.Group)
		}
		return nil
	case EditContext:
		if r.Group(p.Group) == nil {
			return refuse(haven.ENOTFOUND, "the request has no filegroup %q", p.Group)
		}
		return nil
	case AddCoAuthor:
		switch {
		case strings.TrimSpace(p.CoAuthor) == "" || p.CoAuthor == SystemUser:
			return refuse(haven.EINVALID, "no co-author named")
		case p.CoAuthor == r.Author:
			return refuse(haven.EINVALID, "%s is the request's author already", p.CoAuthor)
		case r.IsCoAuthor(p.CoAuthor):
			return refuse(haven.ECONFLICT, "%s is a co-author already", p.CoAuthor)
		case r.hasReviewed(p.CoAuthor):
			return refuse(haven.ECONFLICT, "%s has reviewed this request, so cannot become its co-author", p.CoAuthor)
		case !p.CoAuthorCanAuthor:
			return refuse(haven.EFORBIDDEN, "%s cannot author requests in workspace %s, so cannot be a co-author", p.CoAuthor, r.Workspace)
		}
		return nil
	case RemoveCoAuthor:
		if !r.IsCoAuthor(p.CoAuthor) {
			return refuse(haven.ENOTFOUND, "%q is not a co-author of this request", p.CoAuthor)
		}
		return nil
	}
	return nil
}

// liveFile returns the named file unless it is missing or withdrawn.
func liveFile(r *Request, name string) (*File, *RefusedError) {
	f, _ := r.File(name)
	switch {
	case name == "":
		return nil, refuse(haven.EINVALID, "no file named")
	case f == nil:
		return nil, refuse(haven.ENOTFOUND, "%s is not on this request", name)
	case f.Type == WithdrawnFile:
		return nil, refuse(haven.ECONFLICT, "%s has been withdrawn from this request; add it again instead", name)
	}
	return f, nil
}

// submitGuards are the rules for submit and resubmit.
func submitGuards(r *Request) *RefusedError {
	if len(r.OutputFiles()) == 0 {
		return refuse(haven.EINVALID, "at least one output file is needed")
	}
	var incomplete []string
	for _, g := range r.Groups {
		if g.hasLiveFiles() && (strings.TrimSpace(g.Context) == "" || strings.TrimSpace(g.Controls) == "") {
			incomplete = append(incomplete, g.Name)
		}
	}
	if len(incomplete) > 0 {
		return refuse(haven.EINVALID, "Incomplete context and/or controls for filegroup(s): %s", strings.Join(incomplete, ", "))
	}
	return nil
}

// groupsNeedingReply lists the groups where the previous turn asked for
// changes (a file CHANGES_REQUESTED or CONFLICTED) and no public comment has
// been written in this turn.
func groupsNeedingReply(r *Request) []string {
	var out []string
	for _, g := range r.Groups {
		need := false
		for _, f := range g.Files {
			if f.Type != Output {
				continue
			}
			if d := PreviousDecision(r, f.Name); d == DecisionChangesRequested || d == DecisionConflicted {
				need = true
			}
		}
		if need && !r.hasComment(g.Name, r.ReviewTurn, "", Public) {
			out = append(out, g.Name)
		}
	}
	return out
}

// groupsNeedingExplanation lists the groups that need a public comment
// before a normal return: a file CHANGES_REQUESTED or CONFLICTED, or a new
// or changed OUTPUT file still INCOMPLETE.
func groupsNeedingExplanation(r *Request) []string {
	var out []string
	for _, g := range r.Groups {
		need := false
		for _, f := range g.Files {
			if f.Type != Output {
				continue
			}
			d := FileDecision(r, f.Name)
			if d == DecisionChangesRequested || d == DecisionConflicted || (d == DecisionIncomplete && f.Updated) {
				need = true
			}
		}
		if need && !r.hasComment(g.Name, r.ReviewTurn, "", Public) {
			out = append(out, g.Name)
		}
	}
	return out
}

func checkReviewer(r *Request, user string, a Action, p Params) *RefusedError {
	switch a {
	case ReturnEarly:
		if r.Status == Reviewed {
			return refuse(haven.ECONFLICT, "the request is REVIEWED: both reviews are in, so use return instead of early return")
		}
		return nil
	case Release, Reject, Return:
		if r.Status != Reviewed {
			return refuse(haven.ECONFLICT, "the request is %s: it needs two submitted reviews (REVIEWED) before you can %s", r.Status, phrases[a])
		}
		if a == Release {
			var blocked []string
			for _, name := range r.OutputFiles() {
				if d := FileDecision(r, name); d != DecisionApproved {
					blocked = append(blocked, fmt.Sprintf("%s (%s)", name, d))
				}
			}
			if len(blocked) > 0 {
				return refuse(haven.ECONFLICT, "every output file must be approved by two reviewers before release; not approved: %s", strings.Join(blocked, ", "))
			}
			if len(r.OutputFiles()) == 0 {
				return refuse(haven.ECONFLICT, "the request has no output file to release")
			}
		}
		if a == Return {
			if missing := groupsNeedingExplanation(r); len(missing) > 0 {
				return refuse(haven.EINVALID, "add a public comment explaining the requested changes on filegroup(s): %s", strings.Join(missing, ", "))
			}
		}
		return nil
	case CastVote:
		if r.Status.Phase() == PhaseIndependent && r.Submitted(user) {
			return refuse(haven.ECONFLICT, "you have submitted your review for this turn: you can change votes once two reviews are in")
		}
		f, e := liveFile(r, p.File)
		if e != nil {
			return e
		}
		if f.Type != Output {
			return refuse(haven.EINVALID, "%s is not an output file on this request: only output files are voted on", p.File)
		}
		if p.Vote != VoteApproved && p.Vote != VoteChangesRequested {
			return refuse(haven.EINVALID, "a vote is APPROVED or CHANGES_REQUESTED, not %q", p.Vote)
		}
		var missing []string
		for _, id := range sortedUnique(f.FailFindings) {
			if !slices.Contains(p.Acknowledged, id) {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return refuse(haven.EINVALID, "acknowledge every FAIL finding of this file: %s", strings.Join(missing, ", "))
		}
		for _, id := range p.Acknowledged {
			if !slices.Contains(f.FailFindings, id) {
				return refuse(haven.EINVALID, "%q is not a FAIL finding of %s", id, p.File)
			}
		}
		return nil
	case ResetVotes:
		if r.Submitted(user) {
			return refuse(haven.ECONFLICT, "you have already submitted your review for this turn, so your votes can no longer be reset")
		}
		if p.Group != "" && r.Group(p.Group) == nil {
			return refuse(haven.ENOTFOUND, "the request has no filegroup %q", p.Group)
		}
		if p.File != "" {
			if f, _ := r.File(p.File); f == nil {
				return refuse(haven.ENOTFOUND, "%s is not on this request", p.File)
			}
		}
		if len(votesToReset(r, user, p)) == 0 {
			return refuse(haven.ECONFLICT, "you have no votes to reset there")
		}
		return nil
	case SubmitReview:
		if r.Submitted(user) {
			return refuse(haven.ECONFLICT, "you have already submitted your review of this request in this turn")
		}
		var unvoted []string
		for _, name := range r.OutputFiles() {
			f, _ := r.File(name)
			v, ok := f.Votes[user]
			if !ok || (v.Vote != VoteApproved && v.Vote != VoteChangesRequested) {
				unvoted = append(unvoted, name)
			}
		}
		if len(unvoted) > 0 {
			return refuse(haven.EINVALID, "vote on every output file before submitting your review; not voted: %s", strings.Join(unvoted, ", "))
		}
		var uncommented []string
		for _, g := range r.Groups {
			asked := false
			for _, f := range g.Files {
				if f.Type == Output && f.Votes[user].Vote == VoteChangesRequested {
					asked = true
				}
			}
			if asked && !r.hasComment(g.Name, r.ReviewTurn, user, "") {
				uncommented = append(uncommented, g.Name)
			}
		}
		if len(uncommented) > 0 {
			return refuse(haven.EINVALID, "add a comment explaining the changes you requested on filegroup(s): %s", strings.Join(uncommented, ", "))
		}
		return nil
	}
	return nil
}

// votesToReset lists the files whose vote by user ResetVotes would forget:
// one file, one group's files, or all files.
func votesToReset(r *Request, user string, p Params) []string {
	var out []string
	for _, g := range r.Groups {
		if p.Group != "" && g.Name != p.Group {
			continue
		}
		for _, f := range g.Files {
			if p.File != "" && f.Name != p.File {
				continue
			}
			if _, ok := f.Votes[user]; ok {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

func checkComment(r *Request, user string, isChecker bool, a Action, p Params) *RefusedError {
	switch a {
	case AddComment:
		if r.Group(p.Group) == nil {
			return refuse(haven.ENOTFOUND, "the request has no filegroup %q", p.Group)
		}
		if strings.TrimSpace(p.Text) == "" {
			return refuse(haven.EINVALID, "the comment is empty")
		}
		if p.CommentID != "" && r.Comment(p.CommentID) != nil {
			return refuse(haven.ECONFLICT, "a comment with id %q exists already", p.CommentID)
		}
		return mayComment(r, user, isChecker, p.WorkspaceMember, p.Visibility)
	case DeleteComment, PublishComment:
		c := r.Comment(p.CommentID)
		switch {
		case c == nil:
			return refuse(haven.ENOTFOUND, "the request has no comment %q", p.CommentID)
		case c.Author != user:
			return refuse(haven.EFORBIDDEN, "only the comment's author (%s) can %s", c.Author, strings.TrimSuffix(phrases[a], "s")+" it")
		case c.Turn != r.ReviewTurn:
			return refuse(haven.ECONFLICT, "the comment was written in an earlier review turn and can no longer be changed")
		case a == PublishComment && c.Visibility == Public:
			return refuse(haven.ECONFLICT, "the comment is public already")
		}
		vis := Visibility("")
		if a == PublishComment {
			vis = Public
		}
		return mayComment(r, user, isChecker, p.WorkspaceMember, vis)
	}
	return nil
}

// MayComment returns nil when viewer may write a comment with visibility vis
// on r now, or a *RefusedError saying why not.
//
//   - Output checkers with no role on the workspace comment only while the
//     request is under review; workspace members (authors included) only
//     while it is editable (PENDING, RETURNED); members who are checkers and
//     not authors whenever it is neither final nor APPROVED.
//   - Authors and non-checkers write PUBLIC comments only; checkers write
//     PUBLIC only while the request is in an author state, otherwise either.
func MayComment(r *Request, viewer string, isChecker, isWorkspaceMember bool, vis Visibility) error {
	if e := mayComment(r, viewer, isChecker, isWorkspaceMember, vis); e != nil {
		e.Action, e.User, e.Status = AddComment, viewer, r.Status
		return e
	}
	return nil
}

// mayComment is MayComment; an empty vis skips the visibility rule.
func mayComment(r *Request, viewer string, isChecker, member bool, vis Visibility) *RefusedError {
	if r == nil || !r.Status.Valid() {
		return refuse(haven.EINVALID, "no valid release request given")
	}
	actor := ActorOf(r, viewer, isChecker)
	s := r.Status
	reviewer := actor == ActorChecker
	switch {
	case actor == ActorSystem:
		return refuse(haven.EFORBIDDEN, "Airlock itself cannot comment")
	case s.Final() || s == Approved:
		return refuse(haven.ECONFLICT, "the request is %s: comments can no longer be added or changed", s)
	case reviewer && member:
		// a checker with a role on the workspace: whenever not final
	case reviewer:
		if s.Owner() != OwnerReviewer {
			return refuse(haven.ECONFLICT, "the request is %s: output checkers with no role on the workspace can comment only while it is under review", s)
		}
	case member:
		if s.Owner() != OwnerAuthor {
			return refuse(haven.ECONFLICT, "the request is %s: authors and workspace members can comment only while it is PENDING or RETURNED", s)
		}
	default:
		return refuse(haven.EFORBIDDEN, "only members of workspace %s and output checkers can comment on this request", r.Workspace)
	}
	switch vis {
	case "", Public:
	case Private:
		if !reviewer {
			return refuse(haven.EFORBIDDEN, "only output checkers who are not authors of the request can write private comments; make it public")
		}
		if s.Owner() == OwnerAuthor {
			return refuse(haven.EINVALID, "the request is %s: comments must be public while its authors are editing it", s)
		}
	default:
		return refuse(haven.EINVALID, "a comment is PUBLIC or PRIVATE, not %q", vis)
	}
	return nil
}

func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return slices.Compact(out)
}
