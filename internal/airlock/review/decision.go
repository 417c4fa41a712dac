package review

// FileDecision is the current turn's decision on an OUTPUT file: it counts
// only the votes of reviewers who have submitted their review in this turn,
// and never a vote by an author or co-author.
//
//	fewer than 2 counted votes        INCOMPLETE
//	2 or more APPROVED                APPROVED
//	mixed, fewer than 2 APPROVED      CONFLICTED
//	otherwise                         CHANGES_REQUESTED
//
// A file that is not on the request or is not an OUTPUT file is INCOMPLETE.
func FileDecision(r *Request, file string) Decision {
	return decide(r, file, func(reviewer string) bool { return r.Submitted(reviewer) })
}

// PreviousDecision is the decision on file at the end of the previous turn:
// the rule of FileDecision applied to the votes of TurnReviewers. It is what
// everyone sees while the authors edit.
func PreviousDecision(r *Request, file string) Decision {
	return decide(r, file, func(reviewer string) bool {
		for _, t := range r.TurnReviewers {
			if t == reviewer {
				return true
			}
		}
		return false
	})
}

// latestDecision is the decision the request's phase makes current: the
// previous turn's while authors edit (or when a request was withdrawn by
// its authors), this turn's otherwise.
func latestDecision(r *Request, file string) Decision {
	if r.Status.Phase() == PhaseAuthor || (r.Status.Phase() == PhaseComplete && len(r.SubmittedReviews) == 0) {
		return PreviousDecision(r, file)
	}
	return FileDecision(r, file)
}

func decide(r *Request, file string, counted func(string) bool) Decision {
	if r == nil {
		return DecisionIncomplete
	}
	f, _ := r.File(file)
	if f == nil || f.Type != Output {
		return DecisionIncomplete
	}
	approved, changes := 0, 0
	for reviewer, v := range f.Votes {
		if reviewer == r.Author || r.IsCoAuthor(reviewer) || !counted(reviewer) {
			continue
		}
		switch v.Vote {
		case VoteApproved:
			approved++
		case VoteChangesRequested:
			changes++
		}
	}
	switch {
	case approved+changes < 2:
		return DecisionIncomplete
	case approved >= 2:
		return DecisionApproved
	case approved > 0:
		return DecisionConflicted
	}
	return DecisionChangesRequested
}
