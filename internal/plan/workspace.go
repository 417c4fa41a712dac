package plan

import (
	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// ErrorAction is the action name of the synthetic jobs older job runners
// stored to report a failed job request; they never count as history.
const ErrorAction = "__error__"

// LatestPerAction computes a workspace's state as the planner sees it (spec
// §13.2): the latest job of each action, by CreatedAt, among jobs that were
// not cancelled and are not ErrorAction jobs.
//
// jobs are every job of one workspace (and backend), in the order the
// store returns them; when two jobs of an action share a CreatedAt the
// earlier one in jobs wins, as upstream's stable sort decides it.
//
// When p is not nil, actions the current project.yaml no longer defines
// (and a user action named run_all, which never runs) are left out, as the
// backend does.
//
// When outputsExist is not nil, a latest job for which it returns false is
// dropped, so its action counts as never run: the local run's disk check,
// which makes deleting an output re-run its producer. Only the latest job
// is checked; an older job never stands in for it.
func LatestPerAction(jobs []*haven.Job, p *pipeline.Pipeline, outputsExist func(*haven.Job) bool) map[string]*haven.Job {
	latest := make(map[string]*haven.Job)
	if p != nil {
		latest = make(map[string]*haven.Job, len(p.Actions))
	}
	for _, j := range jobs {
		if j == nil || j.Cancelled || j.Action == ErrorAction {
			continue
		}
		if cur, ok := latest[j.Action]; !ok || j.CreatedAt.After(cur.CreatedAt) {
			latest[j.Action] = j
		}
	}
	// Filtering after the reduction looks each action up once rather than
	// once per historical job.
	for action, j := range latest {
		if p != nil && (action == pipeline.RunAll || p.Action(action) == nil) {
			delete(latest, action)
			continue
		}
		if outputsExist != nil && !outputsExist(j) {
			delete(latest, action)
		}
	}
	return latest
}
