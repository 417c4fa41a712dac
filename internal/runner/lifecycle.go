package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// lifecycle takes one job from pending to a final state: prepare, execute,
// wait, finalize, cleanup, recording each step before taking it. stop is
// closed when the run is stopping (Ctrl-C, or another job failed without
// --continue-on-error); the job is then terminated and cancelled with
// stopMsg().
//
// slots holds one token per job executing: a job takes one after it is
// prepared and gives it back as soon as its process has stopped, so the
// next job's prepare and this job's finalize overlap other jobs' work.
func (r *Runner) lifecycle(ctx context.Context, j *haven.Job, slots chan struct{}, stop <-chan struct{}, stopMsg func() string) error {
	inputs, previous, err := r.inputsFor(ctx, j)
	if err != nil {
		return r.fail(ctx, j, nil, haven.StatusInternalError, "Internal error: "+err.Error())
	}
	def := r.definition(j, inputs, previous)

	if err := r.transition(ctx, j, haven.StatusPreparing, ""); err != nil {
		return err
	}
	st, err := r.cfg.Executor.Prepare(ctx, def)
	if err != nil {
		var ue *executor.UnavailableError
		if errors.As(err, &ue) {
			return r.fail(ctx, j, &def, haven.StatusInternalError, ue.Reason)
		}
		return r.fail(ctx, j, &def, haven.StatusInternalError, "Internal error: "+err.Error())
	}
	if st.State != executor.Prepared {
		return r.fail(ctx, j, &def, haven.StatusInternalError, fmt.Sprintf("Internal error: prepare left the job %s: %s", st.State, st.Message))
	}
	r.passing(j, haven.StatusPrepared)
	if stopped(stop) {
		return r.cancel(ctx, j, def, stopMsg())
	}
	select {
	case slots <- struct{}{}:
	case <-stop:
		return r.cancel(ctx, j, def, stopMsg())
	}
	release := sync.OnceFunc(func() { <-slots })
	defer release()
	return r.execute(ctx, j, def, stop, stopMsg, release)
}

// execute starts a prepared job and follows it to the end; ended is called
// once the job's process is over (or never started).
func (r *Runner) execute(ctx context.Context, j *haven.Job, def executor.JobDefinition, stop <-chan struct{}, stopMsg func() string, ended func()) error {
	if err := r.transition(ctx, j, haven.StatusExecuting, ""); err != nil {
		return err
	}
	st, err := r.cfg.Executor.Execute(ctx, def)
	if err != nil {
		ended()
		return r.fail(ctx, j, &def, haven.StatusInternalError, "Internal error: "+err.Error())
	}
	return r.follow(ctx, j, def, st, stop, stopMsg, ended)
}

// follow waits for an executing job to finish, then finalizes it; ended
// (if not nil) is called once the job no longer executes. It is also where
// a restarted runner picks up a job it re-attached to.
func (r *Runner) follow(ctx context.Context, j *haven.Job, def executor.JobDefinition, st executor.Status, stop <-chan struct{}, stopMsg func() string, ended func()) error {
	for st.State == executor.Executing {
		if err := r.wait(ctx, def, stop); err != nil {
			if errors.Is(err, errStop) {
				return r.cancel(ctx, j, def, stopMsg())
			}
			return err
		}
		var err error
		st, err = r.status(ctx, def)
		if err != nil {
			return r.fail(ctx, j, &def, haven.StatusInternalError, "Internal error: "+err.Error())
		}
	}
	if ended != nil {
		ended()
	}
	switch st.State {
	case executor.Executed, executor.Finalizing:
		if j.StatusCode != haven.StatusExecuted {
			r.passing(j, haven.StatusExecuted)
		}
		return r.finalize(ctx, j, def)
	case executor.Finalized:
		return r.record(ctx, j, def, st.Results)
	case executor.Error:
		return r.fail(ctx, j, &def, haven.StatusInternalError, errorMessage(st))
	default:
		return r.fail(ctx, j, &def, haven.StatusInternalError, fmt.Sprintf("Internal error: the executor reported the job %s while it was executing", st.State))
	}
}

func errorMessage(st executor.Status) string {
	if st.Message == "" {
		return "Internal error: the executor failed"
	}
	return "Internal error: " + st.Message
}

// wait blocks until the job may have stopped executing.
func (r *Runner) wait(ctx context.Context, def executor.JobDefinition, stop <-chan struct{}) error {
	if w, ok := r.cfg.Executor.(executor.Waiter); ok {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- w.Wait(wctx, def) }()
		select {
		case <-done: // whatever Wait says, Status says what happened
			return nil
		case <-stop:
			return errStop
		}
	}
	t := time.NewTimer(r.cfg.PollInterval)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-stop:
		return errStop
	}
}

// status asks the executor for a job's state, retrying transient failures.
func (r *Runner) status(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	for attempt := 0; ; attempt++ {
		st, err := r.cfg.Executor.Status(context.WithoutCancel(ctx), def)
		if err == nil || !errors.Is(err, executor.ErrRetry) || attempt >= 20 {
			return st, err
		}
		time.Sleep(r.cfg.PollInterval)
	}
}

// finalize records the results of an executed job.
func (r *Runner) finalize(ctx context.Context, j *haven.Job, def executor.JobDefinition) error {
	if err := r.transition(ctx, j, haven.StatusFinalizing, ""); err != nil {
		return err
	}
	st, err := r.cfg.Executor.Finalize(context.WithoutCancel(ctx), def, executor.FinalizeOptions{})
	if err != nil {
		return r.fail(ctx, j, &def, haven.StatusInternalError, "Internal error: "+err.Error())
	}
	if st.State != executor.Finalized || st.Results == nil {
		return r.fail(ctx, j, &def, haven.StatusInternalError, errorMessage(st))
	}
	return r.record(ctx, j, def, st.Results)
}

// record saves a finalized job's results and final status, then cleans up.
func (r *Runner) record(ctx context.Context, j *haven.Job, def executor.JobDefinition, res *executor.Results) error {
	if j.StatusCode != haven.StatusFinalized {
		// The results are in place on disk; say so before the verdict.
		for _, path := range sortedKeys(res.Outputs) {
			r.emit(j, "Extracting output file: "+path)
		}
		if res.LogFile != "" {
			r.emit(j, "Logs written to: "+res.LogFile)
		}
		j.Outputs = res.Outputs
		exit := res.ExitCode
		j.ExitCode = &exit
		r.passing(j, haven.StatusFinalized)
	}
	code, msg := outputs.FinalStatus(res, j.RequiresDB)
	if err := r.transition(ctx, j, code, msg); err != nil {
		return err
	}
	if j.State == haven.StateSucceeded {
		r.succeeded(j)
	}
	r.cleanup(ctx, j, def)
	return nil
}

// cancel stops a job that the run no longer wants: terminate it, keep its
// log, touch no outputs, and record it as cancelled.
func (r *Runner) cancel(ctx context.Context, j *haven.Job, def executor.JobDefinition, msg string) error {
	bg := context.WithoutCancel(ctx)
	if _, err := r.cfg.Executor.Terminate(bg, def); err != nil {
		r.cfg.Logger.Warn("terminate", "job", j.ID, "action", j.Action, "err", err)
	}
	if _, err := r.cfg.Executor.Finalize(bg, def, executor.FinalizeOptions{Cancelled: true}); err != nil {
		r.cfg.Logger.Warn("finalize cancelled job", "job", j.ID, "action", j.Action, "err", err)
	}
	j.Cancelled = true
	if err := r.transition(ctx, j, haven.StatusCancelledByUser, msg); err != nil {
		return err
	}
	r.cleanup(ctx, j, def)
	return nil
}

// fail ends a job the executor could not run. Its scratch files are kept
// (no cleanup) so the failure can be investigated, except when the job
// never got as far as having any.
func (r *Runner) fail(ctx context.Context, j *haven.Job, def *executor.JobDefinition, code haven.StatusCode, msg string) error {
	if def != nil {
		if _, err := r.cfg.Executor.Finalize(context.WithoutCancel(ctx), *def, executor.FinalizeOptions{Error: true}); err != nil {
			r.cfg.Logger.Warn("finalize failed job", "job", j.ID, "action", j.Action, "err", err)
		}
	}
	return r.transition(ctx, j, code, msg)
}

// cleanup removes a job's scratch files once its final state is recorded.
// It runs in the background: nothing waits for it but the end of the Run
// or Recover (waitCleanups).
func (r *Runner) cleanup(ctx context.Context, j *haven.Job, def executor.JobDefinition) {
	ctx = context.WithoutCancel(ctx)
	r.cleanups.Go(func() {
		if err := r.cfg.Executor.Cleanup(ctx, def); err != nil {
			r.cfg.Logger.Warn("cleanup", "job", j.ID, "action", j.Action, "err", err)
		}
	})
}

// waitCleanups waits for every cleanup started so far.
func (r *Runner) waitCleanups() { r.cleanups.Wait() }

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
