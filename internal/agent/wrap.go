package agent

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/runner"
)

// jobExecutor is the agent's executor as one job's runner sees it: it adds
// the study's repository, commit and requester to every job definition
// (for the medium-privacy manifest), keeps the finalize results for the
// redacted booleans, and does nothing once the agent has let go of the job,
// so a shutdown leaves the work with the executor.
type jobExecutor struct {
	inner executor.Executor
	j     *jobRun

	mu  sync.Mutex
	def *executor.JobDefinition // the latest definition seen
}

func newJobExecutor(inner executor.Executor, j *jobRun) *jobExecutor {
	return &jobExecutor{inner: inner, j: j}
}

// forRunner returns the executor the runner uses: a Waiter when the inner
// executor is one.
func (e *jobExecutor) forRunner() executor.Executor {
	if _, ok := e.inner.(executor.Waiter); ok {
		return waitingExecutor{e}
	}
	return e
}

func (e *jobExecutor) fill(def executor.JobDefinition) executor.JobDefinition {
	if def.ID != e.j.id {
		// Another job's leftovers (the runner's recovery sweeps finished
		// jobs' scratch directories): not this job's to describe.
		return def
	}
	t := e.j.task()
	def.Repo, def.Commit, def.User = t.RepoURL, t.Commit, t.User
	e.mu.Lock()
	d := def
	e.def = &d
	e.mu.Unlock()
	return def
}

func (e *jobExecutor) keep(def executor.JobDefinition, st executor.Status) {
	if def.ID == e.j.id && st.State == executor.Finalized && st.Results != nil {
		e.j.setResults(st.Results)
	}
}

// terminate stops the job's work directly (a recovered job is followed to
// its end rather than stopped through the runner).
func (e *jobExecutor) terminate() {
	e.mu.Lock()
	def := e.def
	e.mu.Unlock()
	if def == nil {
		return
	}
	if _, err := e.inner.Terminate(context.Background(), *def); err != nil {
		e.j.log.Warn("terminate", "err", err)
	}
}

// cleanupInner removes what the executor holds for the job, even after
// the agent let go of it (a job given back before it ran).
func (e *jobExecutor) cleanupInner() {
	e.mu.Lock()
	def := e.def
	e.mu.Unlock()
	if def == nil {
		return
	}
	if err := e.inner.Cleanup(context.Background(), *def); err != nil {
		e.j.log.Warn("cleanup", "err", err)
	}
}

func (e *jobExecutor) Name() string { return e.inner.Name() }

func (e *jobExecutor) Prepare(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if e.j.isDetached() {
		return executor.Status{State: executor.Unknown}, errDetached
	}
	return e.inner.Prepare(ctx, e.fill(def))
}

func (e *jobExecutor) Execute(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if e.j.isDetached() {
		return executor.Status{State: executor.Unknown}, errDetached
	}
	return e.inner.Execute(ctx, e.fill(def))
}

func (e *jobExecutor) Status(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if e.j.isDetached() {
		return executor.Status{State: executor.Unknown}, errDetached
	}
	st, err := e.inner.Status(ctx, e.fill(def))
	if err == nil {
		e.keep(def, st)
	}
	return st, err
}

func (e *jobExecutor) Finalize(ctx context.Context, def executor.JobDefinition, opts executor.FinalizeOptions) (executor.Status, error) {
	if e.j.isDetached() {
		return executor.Status{State: executor.Unknown}, nil
	}
	st, err := e.inner.Finalize(ctx, e.fill(def), opts)
	if err == nil {
		e.keep(def, st)
	}
	return st, err
}

func (e *jobExecutor) Terminate(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if e.j.isDetached() {
		return executor.Status{State: executor.Unknown}, nil
	}
	return e.inner.Terminate(ctx, e.fill(def))
}

func (e *jobExecutor) Cleanup(ctx context.Context, def executor.JobDefinition) error {
	if e.j.isDetached() {
		return nil
	}
	return e.inner.Cleanup(ctx, e.fill(def))
}

// waitingExecutor is a jobExecutor over a Waiter. Wait also returns when
// the agent lets go of the job.
type waitingExecutor struct{ *jobExecutor }

func (e waitingExecutor) Wait(ctx context.Context, def executor.JobDefinition) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.j.stopCtx, cancel)
	defer stop()
	return e.inner.(executor.Waiter).Wait(ctx, e.fill(def))
}

// jobStore is the agent's job store as one job's runner sees it: writes
// go through the job (recorded, then reported); reads see only what the
// runner needs for this job.
type jobStore struct {
	j        *jobRun
	pipeline *pipeline.Pipeline // nil when the code is not available
	highDir  string             // the workspace's high-privacy directory
}

var _ runner.Store = (*jobStore)(nil)

func (s *jobStore) CreateJobs(ctx context.Context, jobs []*haven.Job) error {
	return s.j.a.db.CreateJobs(ctx, jobs)
}

func (s *jobStore) UpdateJob(ctx context.Context, job *haven.Job) error {
	return s.j.record(ctx, job)
}

// ActiveJobs is only this job, when it is active: recovering one job must
// not touch others the agent is running in the same workspace.
func (s *jobStore) ActiveJobs(ctx context.Context, workspace string) ([]*haven.Job, error) {
	jobs, err := s.j.a.db.ActiveJobs(ctx, workspace)
	if err != nil {
		return nil, err
	}
	for _, job := range jobs {
		if job.ID == s.j.id {
			return []*haven.Job{job}, nil
		}
	}
	return nil, nil
}

// WorkspaceJobs is the workspace's history in the agent's store. An
// action this job needs that never succeeded here (it ran under another
// agent's state directory) is stood in for by the files its output
// patterns match in the high-privacy workspace: the server has already
// checked that it succeeded.
func (s *jobStore) WorkspaceJobs(ctx context.Context, workspace string) ([]*haven.Job, error) {
	jobs, err := s.j.a.db.WorkspaceJobs(ctx, workspace)
	if err != nil {
		return nil, err
	}
	if s.pipeline == nil {
		return jobs, nil
	}
	succeeded := map[string]bool{}
	for _, job := range jobs {
		if job.State == haven.StateSucceeded {
			succeeded[job.Action] = true
		}
	}
	var stand []*haven.Job
	for _, need := range s.j.task().RequiresOutputsFrom {
		if succeeded[need] {
			continue
		}
		action := s.pipeline.Action(need)
		if action == nil {
			continue
		}
		spec := map[string]string{}
		for _, o := range action.Outputs.All() {
			spec[o.Pattern] = o.Level
		}
		matched, _, err := outputs.Match(s.highDir, spec)
		if err != nil || len(matched) == 0 {
			continue
		}
		stand = append(stand, &haven.Job{
			ID: "workspace-" + need, Workspace: workspace, Action: need,
			State: haven.StateSucceeded, StatusCode: haven.StatusSucceeded, Outputs: matched,
		})
	}
	// Oldest first: the stand-ins come before everything recorded.
	return append(stand, jobs...), nil
}

// workspaceDir is a workspace's directory under root, "" for no root.
func workspaceDir(root, workspace string) string {
	if root == "" {
		return ""
	}
	return filepath.Join(root, workspace)
}
