package review

// Transition is one row of the state transition table. Rows whose Actor is
// ActorAuthor are open to co-authors too.
type Transition struct {
	From   Status
	To     Status
	Actor  Actor
	Action Action
}

// Transitions returns the state transition table; any change of state not
// listed is refused. Submitting a review (SubmitReview) changes state only
// through the two ReviewSubmitted rows.
func Transitions() []Transition {
	return []Transition{
		{Pending, Submitted, ActorAuthor, Submit},
		{Pending, Withdrawn, ActorAuthor, Withdraw},
		{Submitted, PartiallyReviewed, ActorSystem, ReviewSubmitted},
		{PartiallyReviewed, Reviewed, ActorSystem, ReviewSubmitted},
		{Submitted, Returned, ActorChecker, ReturnEarly},
		{PartiallyReviewed, Returned, ActorChecker, ReturnEarly},
		{Reviewed, Approved, ActorChecker, Release},
		{Reviewed, Rejected, ActorChecker, Reject},
		{Reviewed, Returned, ActorChecker, Return},
		{Returned, Submitted, ActorAuthor, Resubmit},
		{Returned, Withdrawn, ActorAuthor, Withdraw},
		{Approved, Released, ActorSystem, FilesUploaded},
	}
}
