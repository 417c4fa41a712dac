package review

// BlindedNote marks a viewer's own comment while reviews are independent.
const BlindedNote = "Only visible to you until two reviews have been completed"

// VisibleDecision returns the decision on file that viewer may see, and
// false when it is hidden from them.
//
//	phase          authors and non-checkers             output checkers (not authors)
//	AUTHOR         previous turn's, CONFLICTED shown    previous turn's
//	               as CHANGES_REQUESTED
//	INDEPENDENT    hidden                               hidden
//	CONSOLIDATING  hidden                               this turn's
//	COMPLETE       latest, CONFLICTED shown as          latest
//	               CHANGES_REQUESTED
//
// An author or co-author who is an output checker sees what authors see.
func VisibleDecision(r *Request, viewer string, isChecker bool, file string) (Decision, bool) {
	if r == nil || !r.Status.Valid() {
		return "", false
	}
	checker := ActorOf(r, viewer, isChecker) == ActorChecker
	var d Decision
	switch r.Status.Phase() {
	case PhaseIndependent:
		return "", false
	case PhaseConsolidating:
		if !checker {
			return "", false
		}
		d = FileDecision(r, file)
	default: // AUTHOR, COMPLETE
		d = latestDecision(r, file)
	}
	if !checker && d == DecisionConflicted {
		d = DecisionChangesRequested
	}
	return d, true
}

// VisibleVotes returns the votes on file that viewer may see, by reviewer.
// Authors and non-checkers never see individual votes. Output checkers who
// are not authors see only their own vote while the authors edit and while
// reviews are independent, and every vote once two reviews are in
// (CONSOLIDATING) and when the request is complete.
func VisibleVotes(r *Request, viewer string, isChecker bool, file string) map[string]FileReview {
	if r == nil || ActorOf(r, viewer, isChecker) != ActorChecker {
		return nil
	}
	f, _ := r.File(file)
	if f == nil {
		return nil
	}
	out := map[string]FileReview{}
	switch r.Status.Phase() {
	case PhaseConsolidating, PhaseComplete:
		for rev, v := range f.Votes {
			if rev != r.Author && !r.IsCoAuthor(rev) {
				out[rev] = v
			}
		}
	default:
		if v, ok := f.Votes[viewer]; ok {
			out[viewer] = v
		}
	}
	return out
}

// CommentVisible reports whether viewer may see c, and whether it must be
// shown blinded (with BlindedNote): a viewer's own comment of the current
// turn while reviews are independent.
//
//	comment                                  visible to others when
//	your own                                 always
//	someone else's PUBLIC, earlier turn      always
//	someone else's PUBLIC, current turn      request COMPLETE; or viewer is a
//	                                         checker and phase CONSOLIDATING
//	PRIVATE, earlier turn                    checkers only
//	PRIVATE, current turn                    checkers only, not in INDEPENDENT
//
// "Checkers" are output checkers who are not authors or co-authors.
func CommentVisible(r *Request, viewer string, isChecker bool, c Comment) (visible, blinded bool) {
	if r == nil || !r.Status.Valid() {
		return false, false
	}
	phase := r.Status.Phase()
	if c.Author == viewer && viewer != "" {
		return true, phase == PhaseIndependent && c.Turn == r.ReviewTurn
	}
	checker := ActorOf(r, viewer, isChecker) == ActorChecker
	earlier := c.Turn < r.ReviewTurn
	switch {
	case c.Visibility == Public && earlier:
		return true, false
	case c.Visibility == Public:
		return phase == PhaseComplete || (checker && phase == PhaseConsolidating), false
	case c.Visibility == Private && earlier:
		return checker, false
	case c.Visibility == Private:
		return checker && phase != PhaseIndependent, false
	}
	return false, false
}
