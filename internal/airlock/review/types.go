// Package review is the release-request state machine of Haven's Airlock:
// the nine request states and who owns them, the transition table, review
// turns, votes and the decision rule, and who may see which decision, vote
// and comment.
//
// The package is pure. It never touches files, databases or the network:
// callers load a Request, ask Check whether an action is allowed, call
// Apply to obtain the new Request and the audit events to log, and store
// both in one transaction. Facts that need I/O (workspace permissions of
// section 8.2, workspace file status, disclosure-check results) are passed
// in by the caller through Params.
package review

import "slices"

// Status is the state of a release request.
type Status string

// The nine request states.
const (
	Pending           Status = "PENDING"
	Submitted         Status = "SUBMITTED"
	PartiallyReviewed Status = "PARTIALLY_REVIEWED"
	Reviewed          Status = "REVIEWED"
	Returned          Status = "RETURNED"
	Approved          Status = "APPROVED"
	Released          Status = "RELEASED"
	Rejected          Status = "REJECTED"
	Withdrawn         Status = "WITHDRAWN"
)

// Statuses returns the nine states in lifecycle order.
func Statuses() []Status {
	return []Status{Pending, Submitted, PartiallyReviewed, Reviewed, Returned, Approved, Released, Rejected, Withdrawn}
}

// Valid reports whether s is one of the nine states.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// Label is the state's name in the user interface.
func (s Status) Label() string {
	switch s {
	case Pending:
		return "Pending"
	case Submitted:
		return "Submitted"
	case PartiallyReviewed:
		return "One review submitted"
	case Reviewed:
		return "All reviews submitted"
	case Returned:
		return "Returned"
	case Approved:
		return "Approved - files uploading"
	case Released:
		return "Released"
	case Rejected:
		return "Rejected"
	case Withdrawn:
		return "Withdrawn"
	}
	return string(s)
}

// Owner says who may act on a request in this state.
func (s Status) Owner() Owner {
	switch s {
	case Pending, Returned:
		return OwnerAuthor
	case Submitted, PartiallyReviewed, Reviewed:
		return OwnerReviewer
	}
	return OwnerSystem
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s == Released || s == Rejected || s == Withdrawn }

// Active reports whether a request in s counts as the author's active
// request: its state is owned by the author or by reviewers.
func (s Status) Active() bool { return s.Valid() && s.Owner() != OwnerSystem }

// Phase is the review phase the state belongs to.
func (s Status) Phase() Phase {
	switch s.Owner() {
	case OwnerAuthor:
		return PhaseAuthor
	case OwnerReviewer:
		if s == Reviewed {
			return PhaseConsolidating
		}
		return PhaseIndependent
	}
	return PhaseComplete
}

// Owner is the party a state belongs to.
type Owner string

// State owners.
const (
	OwnerAuthor   Owner = "AUTHOR"
	OwnerReviewer Owner = "REVIEWER"
	OwnerSystem   Owner = "SYSTEM"
)

// Phase is the phase of the current review turn. It decides what is blinded.
type Phase string

// Review phases.
const (
	// PhaseAuthor: the authors are editing (PENDING, RETURNED).
	PhaseAuthor Phase = "AUTHOR"
	// PhaseIndependent: reviewers review without seeing each other's work
	// (SUBMITTED, PARTIALLY_REVIEWED).
	PhaseIndependent Phase = "INDEPENDENT"
	// PhaseConsolidating: two reviews are in and reviewers see each other's
	// votes (REVIEWED).
	PhaseConsolidating Phase = "CONSOLIDATING"
	// PhaseComplete: the request is APPROVED or final.
	PhaseComplete Phase = "COMPLETE"
)

// Actor is a user's role relative to one request.
type Actor string

// Actor roles.
const (
	ActorAuthor   Actor = "author"    // the request's creator
	ActorCoAuthor Actor = "co-author" // added by the author; same rights and restrictions
	ActorChecker  Actor = "checker"   // an output checker who is not an author or co-author
	ActorOther    Actor = "other"     // anyone else (not an output checker, not an author)
	ActorSystem   Actor = "system"    // Airlock itself
)

// Actors returns every actor role.
func Actors() []Actor {
	return []Actor{ActorAuthor, ActorCoAuthor, ActorChecker, ActorOther, ActorSystem}
}

// SystemUser is the user name Airlock itself acts under. It is not a valid
// user name, so no person can act as the system.
const SystemUser = "<system>"

// ActorOf returns user's role on r. An author or co-author who is also an
// output checker is still an author: they can never review their own
// request. A former co-author is never a checker on it either (ActorOther).
func ActorOf(r *Request, user string, isChecker bool) Actor {
	switch {
	case user == SystemUser:
		return ActorSystem
	case r != nil && user == r.Author:
		return ActorAuthor
	case r != nil && r.IsCoAuthor(user):
		return ActorCoAuthor
	case isChecker && (r == nil || !slices.Contains(r.FormerCoAuthors, user)):
		return ActorChecker
	}
	return ActorOther
}

// IsAuthor reports whether a is the author or a co-author.
func (a Actor) IsAuthor() bool { return a == ActorAuthor || a == ActorCoAuthor }

// Action is something a user or the system does to a request.
type Action string

// Request-level actions.
const (
	Submit          Action = "submit"           // author: PENDING → SUBMITTED
	Resubmit        Action = "resubmit"         // author: RETURNED → SUBMITTED
	Withdraw        Action = "withdraw"         // author: PENDING/RETURNED → WITHDRAWN
	ReviewSubmitted Action = "review-submitted" // system: SUBMITTED → PARTIALLY_REVIEWED → REVIEWED
	ReturnEarly     Action = "return-early"     // checker: SUBMITTED/PARTIALLY_REVIEWED → RETURNED
	Release         Action = "release"          // checker: REVIEWED → APPROVED
	Reject          Action = "reject"           // checker: REVIEWED → REJECTED
	Return          Action = "return"           // checker: REVIEWED → RETURNED
	FilesUploaded   Action = "files-uploaded"   // system: APPROVED → RELEASED
)

// File-, vote- and comment-level actions; none changes the state except
// SubmitReview, which may move the request on as ReviewSubmitted does.
const (
	AddFile        Action = "add-file"        // author: add (or re-add a withdrawn) file
	UpdateFile     Action = "update-file"     // author: replace a file with its new content
	WithdrawFile   Action = "withdraw-file"   // author: remove (PENDING) or mark WITHDRAWN (RETURNED)
	MoveFile       Action = "move-file"       // author: change a file's group and/or type
	EditContext    Action = "edit-context"    // author: a group's context and controls
	AddCoAuthor    Action = "add-coauthor"    // author only
	RemoveCoAuthor Action = "remove-coauthor" // author only
	CastVote       Action = "vote"            // checker: APPROVED or CHANGES_REQUESTED on one OUTPUT file
	ResetVotes     Action = "reset-votes"     // checker: forget own votes before submitting
	SubmitReview   Action = "submit-review"   // checker: once per turn
	AddComment     Action = "comment"         // add a comment to a group
	DeleteComment  Action = "delete-comment"  // the comment's author, same turn
	PublishComment Action = "publish-comment" // PRIVATE → PUBLIC; the comment's author, same turn
)

// Actions returns every action.
func Actions() []Action {
	return []Action{
		Submit, Resubmit, Withdraw, ReviewSubmitted, ReturnEarly, Release, Reject, Return, FilesUploaded,
		AddFile, UpdateFile, WithdrawFile, MoveFile, EditContext, AddCoAuthor, RemoveCoAuthor,
		CastVote, ResetVotes, SubmitReview, AddComment, DeleteComment, PublishComment,
	}
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return slices.Contains(Actions(), a) }

// FileType is the role of a file on a request.
type FileType string

// File types.
const (
	Output        FileType = "OUTPUT"     // reviewed per file; released if approved
	Supporting    FileType = "SUPPORTING" // context for reviewers; never released
	WithdrawnFile FileType = "WITHDRAWN"  // kept so history shows it
)

// Vote is one reviewer's vote on one OUTPUT file.
type Vote string

// Votes. Reviewers cast APPROVED or CHANGES_REQUESTED; the system sets
// UNDECIDED on resubmission and on early return.
const (
	VoteApproved         Vote = "APPROVED"
	VoteChangesRequested Vote = "CHANGES_REQUESTED"
	VoteUndecided        Vote = "UNDECIDED"
)

// Decision is the outcome of the votes on one file.
type Decision string

// Decisions.
const (
	DecisionIncomplete       Decision = "INCOMPLETE"
	DecisionApproved         Decision = "APPROVED"
	DecisionConflicted       Decision = "CONFLICTED"
	DecisionChangesRequested Decision = "CHANGES_REQUESTED"
)

// Visibility says who may read a comment.
type Visibility string

// Comment visibilities.
const (
	Public  Visibility = "PUBLIC"  // everyone who can see the request
	Private Visibility = "PRIVATE" // output checkers only
)

// EventType is an Airlock audit event type.
type EventType string

// Audit event types produced by Apply.
const (
	EventSubmit                  EventType = "SUBMIT"
	EventWithdraw                EventType = "WITHDRAW"
	EventReview                  EventType = "REVIEW"
	EventApprove                 EventType = "APPROVE"
	EventReject                  EventType = "REJECT"
	EventReturn                  EventType = "RETURN"
	EventRelease                 EventType = "RELEASE"
	EventEarlyReturn             EventType = "EARLY_RETURN"
	EventEdit                    EventType = "EDIT"
	EventComment                 EventType = "COMMENT"
	EventCommentDelete           EventType = "COMMENT_DELETE"
	EventCommentVisibilityPublic EventType = "COMMENT_VISIBILITY_PUBLIC"
	EventCoAuthorAdd             EventType = "COAUTHOR_ADD"
	EventCoAuthorRemove          EventType = "COAUTHOR_REMOVE"
	EventFileAdd                 EventType = "FILE_ADD"
	EventFileUpdate              EventType = "FILE_UPDATE"
	EventFileWithdraw            EventType = "FILE_WITHDRAW"
	EventFileApprove             EventType = "FILE_APPROVE"
	EventFileRequestChanges      EventType = "FILE_REQUEST_CHANGES"
	EventFileResetReview         EventType = "FILE_RESET_REVIEW"
	EventFileUndecided           EventType = "FILE_UNDECIDED"
	EventFileRelease             EventType = "FILE_RELEASE"
	EventFindingsAcknowledged    EventType = "FINDINGS_ACKNOWLEDGED"
)

// Audit event types logged by the layers above this package, listed so the
// whole of the audit vocabulary lives in one place.
const (
	EventWorkspaceFileView   EventType = "WORKSPACE_FILE_VIEW"
	EventRequestFileView     EventType = "REQUEST_FILE_VIEW"
	EventRequestFileDownload EventType = "REQUEST_FILE_DOWNLOAD"
	EventCreate              EventType = "CREATE"
	EventFileUpload          EventType = "FILE_UPLOAD"
	EventFileChecked         EventType = "FILE_CHECKED"
)
