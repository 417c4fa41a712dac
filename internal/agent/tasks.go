package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/runner"
)

var (
	reWorkspace = regexp.MustCompile(`^[-a-zA-Z0-9_]{1,200}$`)
	reJobID     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	reCommit    = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)
)

// checkTask refuses a task whose names could not safely become paths.
func checkTask(t *agentapi.Task, needCode bool) error {
	switch {
	case !reJobID.MatchString(t.JobIdentifier):
		return fmt.Errorf("job identifier %q is not valid", t.JobIdentifier)
	case !reWorkspace.MatchString(t.Workspace):
		return fmt.Errorf("workspace name %q is not valid", t.Workspace)
	case needCode && !reCommit.MatchString(t.Commit):
		return fmt.Errorf("commit %q is not a commit id", t.Commit)
	case needCode && t.RepoURL == "":
		return fmt.Errorf("the task names no repository")
	}
	return nil
}

// runJob runs a claimed job: export the code, record the job locally, and
// drive it with the runner, whose every recorded transition is reported.
func (a *Agent) runJob(j *jobRun) {
	t := j.task()
	if err := checkTask(t, true); err != nil {
		j.log.Error("refusing task", "err", err)
		a.fail(j, nil, haven.StatusInternalError)
		return
	}
	exportCtx, cancelExport := context.WithCancel(j.ctx)
	defer cancelExport()
	defer context.AfterFunc(j.stopCtx, cancelExport)()
	dir, err := a.checkout(exportCtx, t.RepoURL, t.Commit)
	if err != nil {
		switch {
		case j.isDetached():
		case j.isCancelled():
			a.fail(j, nil, haven.StatusCancelledByUser)
		default:
			j.log.Error("could not export the study code", "repo", t.RepoURL, "commit", t.Commit, "err", err)
			a.fail(j, nil, haven.StatusInternalError)
		}
		return
	}
	p, probs, err := pipeline.Load(dir)
	if p == nil {
		if err == nil {
			err = probs
		}
		j.log.Error("the study's project.yaml cannot be used", "commit", t.Commit, "err", err)
		a.fail(j, nil, haven.StatusInternalError)
		return
	}
	local, err := a.resetLocal(j, t)
	if err != nil {
		j.log.Error("could not record the job in the agent's store", "err", err)
		a.fail(j, nil, haven.StatusInternalError)
		return
	}
	if j.isCancelled() {
		a.fail(j, local, haven.StatusCancelledByUser)
		return
	}
	r := runner.New(a.runnerConfig(j, t, p, dir))
	err = r.Run(j.ctx, []*haven.Job{local})
	switch {
	case wasDetached(err):
		j.mu.Lock()
		started := j.started
		j.mu.Unlock()
		if !started {
			// Given back before it ran: what prepare left goes.
			j.exec.cleanupInner()
		}
	case err != nil:
		j.log.Error("the runner stopped", "err", err)
		if !local.StatusCode.IsFinal() {
			a.fail(j, local, haven.StatusInternalError)
		}
	}
}

// runnerConfig is the runner's configuration for one job.
func (a *Agent) runnerConfig(j *jobRun, t *agentapi.Task, p *pipeline.Pipeline, dir string) runner.Config {
	high := workspaceDir(a.cfg.HighDir, t.Workspace)
	return runner.Config{
		Store:        &jobStore{j: j, pipeline: p, highDir: high},
		Executor:     j.exec.forRunner(),
		Pipeline:     p,
		Workspace:    t.Workspace,
		ProjectDir:   dir,
		WorkspaceDir: high,
		MediumDir:    workspaceDir(a.cfg.MediumDir, t.Workspace),
		ScratchRoot:  filepath.Join(a.cfg.StateDir, "scratch"),
		LogDir:       filepath.Join(a.cfg.StateDir, "logs"),
		MaxWorkers:   1,
		// One job per runner: nothing else to stop when it fails.
		ContinueOnError: true,
		Timeout:         a.cfg.Timeout,
		CPUCount:        a.cfg.CPUCount,
		MemoryLimit:     a.cfg.MemoryLimit,
		Env:             a.cfg.Env,
		PollInterval:    a.cfg.RunnerPollInterval,
		Now:             a.cfg.Now,
		Logger:          a.log,
	}
}

// resetLocal records the task's job in the agent's store as new: created
// if unknown, reset (its earlier executor state cleaned up) if an earlier
// attempt ran here.
func (a *Agent) resetLocal(j *jobRun, t *agentapi.Task) (*haven.Job, error) {
	ctx := context.WithoutCancel(j.ctx)
	for _, dir := range []string{workspaceDir(a.cfg.HighDir, t.Workspace), workspaceDir(a.cfg.MediumDir, t.Workspace)} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, err
			}
		}
	}
	job := &haven.Job{
		ID: t.JobIdentifier, RequestID: t.RequestIdentifier, Workspace: t.Workspace, Action: t.Action,
		Image: t.Image, Args: t.Args, RunCommand: t.RunCommand, RequiresDB: t.RequiresDB,
		OutputSpec: t.OutputSpec, RequiresOutputsFrom: t.RequiresOutputsFrom,
		// The server has checked the dependencies: nothing to wait for.
		WaitForJobIDs: []string{},
		CreatedAt:     t.CreatedAt.UTC(),
	}
	if job.Args == nil {
		job.Args = []string{}
	}
	if job.RequiresOutputsFrom == nil {
		job.RequiresOutputsFrom = []string{}
	}
	job.SetCode(haven.StatusCreated, "", a.cfg.Now())
	old, err := a.db.Job(ctx, job.ID)
	switch {
	case haven.ErrorCode(err) == haven.ENOTFOUND:
		return job, a.db.CreateJobs(ctx, []*haven.Job{job})
	case err != nil:
		return nil, err
	}
	// An earlier attempt ran here: whatever it left with the executor goes.
	if err := a.cfg.Executor.Cleanup(ctx, a.definition(old, t)); err != nil {
		j.log.Warn("cleanup of an earlier attempt", "err", err)
	}
	if err := a.db.UpdateJob(ctx, job); err != nil {
		return nil, err
	}
	return job, nil
}

// definition is the executor's view of a job the agent handles outside a
// runner (cleanup of an earlier attempt, cancelling after a restart).
func (a *Agent) definition(job *haven.Job, t *agentapi.Task) executor.JobDefinition {
	return executor.JobDefinition{
		ID: job.ID, RequestID: job.RequestID, Workspace: job.Workspace, Action: job.Action, CreatedAt: job.CreatedAt,
		Commit: t.Commit, Repo: t.RepoURL, User: t.User,
		Image: job.Image, Args: job.Args, Env: a.cfg.Env, OutputSpec: job.OutputSpec, AllowDatabaseAccess: job.RequiresDB,
		ProjectDir:   a.checkoutDir(t.Commit),
		WorkspaceDir: workspaceDir(a.cfg.HighDir, job.Workspace), MediumDir: workspaceDir(a.cfg.MediumDir, job.Workspace),
		ScratchRoot: filepath.Join(a.cfg.StateDir, "scratch"), LogDir: filepath.Join(a.cfg.StateDir, "logs"),
		CPUCount: a.cfg.CPUCount, MemoryLimit: a.cfg.MemoryLimit, Timeout: a.cfg.Timeout,
	}
}

// fail ends a job the runner cannot (or no longer does) drive: local is
// its record here, nil when there is none.
func (a *Agent) fail(j *jobRun, local *haven.Job, code haven.StatusCode) {
	t := j.task()
	if local == nil {
		local = &haven.Job{ID: t.JobIdentifier, RequestID: t.RequestIdentifier, Workspace: t.Workspace, Action: t.Action}
		if code == haven.StatusCancelledByUser {
			local.Cancelled = true
		}
		local.SetCode(code, "", a.cfg.Now())
		j.forward(local)
		return
	}
	if code == haven.StatusCancelledByUser {
		local.Cancelled = true
	}
	local.SetCode(code, "", a.cfg.Now())
	if err := j.record(context.WithoutCancel(j.ctx), local); err != nil {
		if !wasDetached(err) {
			j.log.Error("could not record the job's end locally", "err", err)
			j.forward(local)
		}
	}
}

// recoverJob answers a recover task: a job an earlier agent (on this
// state directory) started. A job still with the executor is followed to
// its end; a finished one is reported as it ended; one this agent has no
// record of is reported as internal_error.
func (a *Agent) recoverJob(j *jobRun) {
	t := j.task()
	if err := checkTask(t, false); err != nil {
		j.log.Error("refusing task", "err", err)
		a.fail(j, nil, haven.StatusInternalError)
		return
	}
	ctx := context.WithoutCancel(j.ctx)
	local, err := a.db.Job(ctx, t.JobIdentifier)
	switch {
	case haven.ErrorCode(err) == haven.ENOTFOUND:
		j.log.Warn("recover: this agent has no record of the job; reporting internal_error")
		a.fail(j, nil, haven.StatusInternalError)
		return
	case err != nil:
		j.log.Error("recover: read the agent's store", "err", err)
		a.fail(j, nil, haven.StatusInternalError)
		return
	case local.StatusCode.IsFinal():
		j.log.Info("recover: the job had already ended", "code", local.StatusCode)
		j.forward(local)
		return
	case local.State == haven.StatePending:
		j.log.Warn("recover: the job never started here; reporting internal_error")
		a.fail(j, local, haven.StatusInternalError)
		return
	}
	j.mu.Lock()
	j.recovering, j.started = true, true
	j.mu.Unlock()
	dir := a.checkoutDir(t.Commit)
	var p *pipeline.Pipeline
	if reCommit.MatchString(t.Commit) {
		p, _, _ = pipeline.Load(dir)
	}
	r := runner.New(a.runnerConfig(j, t, p, dir))
	if _, err := r.Recover(ctx); err != nil && !wasDetached(err) {
		j.log.Error("recover: the runner stopped", "err", err)
	}
	if j.isDetached() {
		return
	}
	after, err := a.db.Job(ctx, t.JobIdentifier)
	if err != nil || !after.StatusCode.IsFinal() {
		a.fail(j, after, haven.StatusInternalError)
	}
}

// cancelUnknown answers a cancel task for a job this agent is not
// running: stop whatever an earlier agent left with the executor, and
// report the job cancelled (or as it ended, if it had).
func (a *Agent) cancelUnknown(j *jobRun) {
	t := j.task()
	if err := checkTask(t, false); err != nil {
		j.log.Error("refusing task", "err", err)
		a.fail(j, nil, haven.StatusCancelledByUser)
		return
	}
	ctx := context.WithoutCancel(j.ctx)
	local, err := a.db.Job(ctx, t.JobIdentifier)
	switch {
	case err != nil:
		a.fail(j, nil, haven.StatusCancelledByUser)
		return
	case local.StatusCode.IsFinal():
		j.forward(local)
		return
	}
	def := a.definition(local, t)
	if _, err := a.cfg.Executor.Terminate(ctx, def); err != nil {
		j.log.Warn("terminate", "err", err)
	}
	if _, err := a.cfg.Executor.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true}); err != nil {
		j.log.Warn("finalize cancelled job", "err", err)
	}
	if err := a.cfg.Executor.Cleanup(ctx, def); err != nil {
		j.log.Warn("cleanup", "err", err)
	}
	a.fail(j, local, haven.StatusCancelledByUser)
}

// checkoutDir is where the code at a commit is exported.
func (a *Agent) checkoutDir(commit string) string {
	return filepath.Join(a.cfg.StateDir, "checkouts", commit)
}

// checkout exports the code at a commit once; jobs of the same commit
// share it.
func (a *Agent) checkout(ctx context.Context, repo, commit string) (string, error) {
	a.checkoutMu.Lock()
	lock := a.checkouts[commit]
	if lock == nil {
		lock = &sync.Mutex{}
		a.checkouts[commit] = lock
	}
	a.checkoutMu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	dir := a.checkoutDir(commit)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil // only ever created whole, by the rename below
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".export-")
	if err != nil {
		return "", err
	}
	if err := a.cfg.Code.Export(ctx, repo, commit, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return dir, nil
}
