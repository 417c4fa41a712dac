// Package plan turns a job request into the new jobs it needs: the
// requested actions, their dependencies where those have not succeeded, and
// nothing that is already pending or running. It is upstream job-runner's
// get_new_jobs_to_run and its checks (spec §13), as pure functions over a
// validated pipeline and the workspace's latest jobs.
package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Request is what a job request asks the planner for.
type Request struct {
	// ID is the job request (RAP) id; job ids derive from it, so it must be
	// a request that has not been planned before.
	ID string
	// Workspace the jobs run in.
	Workspace string
	// RequestedActions are action names as the user gave them; run_all
	// among them means every action.
	RequestedActions []string
	// ForceRunDependencies re-runs dependencies that already succeeded.
	ForceRunDependencies bool
	// CodelistsOK is false when the project's codelists are out of date;
	// then no database job may be planned. Local runs always pass true.
	CodelistsOK bool
	// DummyData applies the local run's dummy-data rewrite of cohortextractor
	// generate_cohort commands (spec §9 step 2). Backends leave it false.
	DummyData bool
	// Backend, Database and CreatedBy describe the request. haven.Job has
	// no fields for them yet, so the planner does not copy them; the caller
	// records them with the request.
	Backend   string
	Database  string
	CreatedBy string
}

// Plan returns the new jobs for req, in creation order: depth first over
// each action's needs in listed order, so every dependency comes before its
// dependents. latest is the workspace's latest job per action, as
// LatestPerAction computes it; Plan does not modify it or its jobs. now
// stamps the new jobs.
//
// An existing job is reused, and no job created for its action, when it is
// pending or running (a duplicate is never started), or when it succeeded,
// was not explicitly requested and ForceRunDependencies is false. A failed
// dependency is re-run. When run_all is requested every action of the
// project is processed as a dependency, except names also listed explicitly
// beside run_all, which upstream still counts as explicitly requested.
//
// Errors, in the order upstream checks: *UnknownActionError when no action
// or an unknown one is requested; *NothingToDoError when no job is needed;
// *StaleCodelistError when codelists are out of date and a new job reads the
// database.
func Plan(p *pipeline.Pipeline, req Request, latest map[string]*haven.Job, now time.Time) ([]*haven.Job, error) {
	if len(req.RequestedActions) == 0 {
		return nil, &UnknownActionError{Valid: p.AllActions()}
	}
	pl := &planner{
		p:         p,
		req:       req,
		latest:    latest,
		requested: make(map[string]bool, len(req.RequestedActions)),
		fresh:     make(map[string]*haven.Job),
		onStack:   make(map[string]bool),
		now:       now.UTC(),
	}
	runAll := false
	for _, a := range req.RequestedActions {
		pl.requested[a] = true
		runAll = runAll || a == pipeline.RunAll
	}
	// run_all replaces the list outright: other names beside it, even
	// unknown ones, are not walked (upstream get_actions_to_run).
	roots := req.RequestedActions
	if runAll {
		roots = p.AllActions()
	}
	for _, id := range roots {
		if err := pl.build(id); err != nil {
			return nil, err
		}
	}
	if len(pl.created) == 0 {
		return nil, nothingToDo(req, runAll, latest)
	}
	if !req.CodelistsOK {
		for _, j := range UpstreamOrder(pl.created, latest) {
			if j.RequiresDB {
				return nil, &StaleCodelistError{Action: j.Action}
			}
		}
	}
	return pl.created, nil
}

// UpstreamOrder returns new jobs in the order upstream lists them, which
// the local run prints after "Running actions:" and which decides the
// action a stale-codelists error names: re-runs of actions that had a job
// before, by action name (upstream's workspace state is sorted by action
// and a re-run takes its predecessor's place), then actions that never ran,
// in creation order. latest is the map given to Plan.
func UpstreamOrder(jobs []*haven.Job, latest map[string]*haven.Job) []*haven.Job {
	out := make([]*haven.Job, 0, len(jobs))
	for _, j := range jobs {
		if latest[j.Action] != nil {
			out = append(out, j)
		}
	}
	slices.SortStableFunc(out, func(a, b *haven.Job) int { return strings.Compare(a.Action, b.Action) })
	for _, j := range jobs {
		if latest[j.Action] == nil {
			out = append(out, j)
		}
	}
	return out
}

// planner holds one Plan call's working state.
type planner struct {
	p         *pipeline.Pipeline
	req       Request
	latest    map[string]*haven.Job // the workspace's jobs, never written
	requested map[string]bool       // names explicitly requested, run_all included
	fresh     map[string]*haven.Job // jobs created by this plan, by action
	created   []*haven.Job          // the same jobs, in creation order
	onStack   map[string]bool       // actions whose needs are being walked
	now       time.Time
}

// current is the action's job as planning stands: one created by this plan,
// else the workspace's latest, else nil.
func (pl *planner) current(action string) *haven.Job {
	if j := pl.fresh[action]; j != nil {
		return j
	}
	return pl.latest[action]
}

// needsJob reports whether action needs a new job, by upstream's
// job_should_be_rerun. A job created by this plan is pending, so an action
// gets at most one new job however many times it is reached.
func (pl *planner) needsJob(action string) (bool, error) {
	j := pl.current(action)
	if j == nil {
		return true, nil
	}
	switch j.State {
	case haven.StatePending, haven.StateRunning:
		return false, nil
	}
	if pl.requested[action] || pl.req.ForceRunDependencies {
		return true, nil
	}
	switch j.State {
	case haven.StateSucceeded:
		return false, nil
	case haven.StateFailed:
		return true, nil
	}
	return false, fmt.Errorf("job %s for action %s in workspace %s has unknown state %q: the job store holds a state this version of Haven does not know",
		j.ID, action, pl.req.Workspace, j.State)
}

// frame is one action on build's explicit stack.
type frame struct {
	action *pipeline.Action
	next   int      // index into action.Needs of the next dependency to settle
	waits  []string // ids of dependency jobs still pending or running
}

// build creates the jobs action root needs, its own included, depth first
// over needs in listed order. It keeps its own stack rather than recursing
// so that a long chain of needs costs heap, not goroutine stack, and each
// action is settled once: O(actions + needs) for the whole plan.
func (pl *planner) build(root string) error {
	need, err := pl.needsJob(root)
	if err != nil || !need {
		return err
	}
	a, err := pl.action(root)
	if err != nil {
		return err
	}
	stack := []frame{{action: a}}
	pl.onStack[root] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.action.Needs) {
			dep := f.action.Needs[f.next]
			need, err := pl.needsJob(dep)
			if err != nil {
				return err
			}
			if need {
				if pl.onStack[dep] {
					return fmt.Errorf("actions %s and %s in %s depend on each other through `needs`: remove the cycle (haven check shows it)", f.action.ID, dep, pl.p.File)
				}
				da, err := pl.action(dep)
				if err != nil {
					return err
				}
				// The dependency's job is made first; this frame then
				// settles the same dependency again, finding it pending.
				stack = append(stack, frame{action: da})
				pl.onStack[dep] = true
				continue
			}
			if j := pl.current(dep); j.State == haven.StatePending || j.State == haven.StateRunning {
				f.waits = append(f.waits, j.ID)
			}
			f.next++
			continue
		}
		job, err := pl.newJob(f.action, f.waits)
		if err != nil {
			return err
		}
		pl.fresh[job.Action] = job
		pl.created = append(pl.created, job)
		delete(pl.onStack, job.Action)
		stack = stack[:len(stack)-1]
	}
	return nil
}

// action looks an action up, failing as upstream does for a name
// project.yaml does not define.
func (pl *planner) action(id string) (*pipeline.Action, error) {
	if a := pl.p.Action(id); a != nil {
		return a, nil
	}
	return nil, &UnknownActionError{Action: id, Valid: pl.p.AllActions()}
}

// newJob makes the pending job that runs a for this request.
func (pl *planner) newJob(a *pipeline.Action, waits []string) (*haven.Job, error) {
	words, cmd, err := commandWords(pl.p, a, pl.req.DummyData)
	if err != nil {
		return nil, err
	}
	// Upstream keys output_spec by level and flattens it to pattern ->
	// level when it builds the job definition, going highly, moderately,
	// minimally; a pattern listed at two levels (possible before version
	// 2) therefore ends at the later one. Flattening here keeps that.
	all := a.Outputs.All()
	spec := make(map[string]string, len(all))
	for _, o := range all {
		spec[o.Pattern] = o.Level
	}
	if waits == nil {
		waits = []string{}
	}
	job := &haven.Job{
		ID:                  pipeline.JobID(pl.req.ID, a.ID),
		RequestID:           pl.req.ID,
		Workspace:           pl.req.Workspace,
		Action:              a.ID,
		Image:               words[0],
		Args:                words[1:len(words):len(words)],
		RunCommand:          cmd,
		RequiresDB:          a.IsDatabaseAction(),
		OutputSpec:          spec,
		RequiresOutputsFrom: append([]string{}, a.Needs...),
		WaitForJobIDs:       waits,
		CreatedAt:           pl.now,
	}
	job.SetCode(haven.StatusCreated, "", pl.now)
	return job, nil
}

// nothingToDo explains an empty plan (upstream assert_new_jobs_created).
func nothingToDo(req Request, runAll bool, latest map[string]*haven.Job) error {
	if runAll {
		return &NothingToDoError{Message: MsgAllCompleted}
	}
	scheduled := true
	for _, a := range req.RequestedActions {
		j := latest[a]
		if j == nil || (j.State != haven.StatePending && j.State != haven.StateRunning) {
			scheduled = false
			break
		}
	}
	if scheduled {
		return &NothingToDoError{Message: MsgAllScheduled}
	}
	// Unreachable with the rules above: an explicitly requested action that
	// is not pending or running always gets a job. Upstream treats it as a
	// bug, not as nothing to do.
	states := make([]string, 0, len(latest))
	for action, j := range latest {
		states = append(states, action+"("+string(j.State)+")")
	}
	slices.Sort(states)
	return haven.Errorf(haven.EINTERNAL, "Unexpected job states after scheduling: %s", strings.Join(states, ", "))
}
