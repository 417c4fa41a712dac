package runner

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// Recover reconciles the jobs an earlier run left active, for instance
// after it was killed. It must run before new jobs are planned, so the
// planner sees what really happened.
//
//   - A pending job never started: it is cancelled, as upstream's local run
//     does at start-up.
//   - A running job is looked up in its executor. Work the executor can
//     re-attach to (a Docker container still running or finished) is
//     followed to the end and finalized; finished results are recorded.
//     Anything else (a host process, which dies with its runner) fails with
//     internal_error and a message saying to run the action again.
//
// Recover returns how many jobs it touched.
func (r *Runner) Recover(ctx context.Context) (int, error) {
	defer r.waitCleanups()
	active, err := r.cfg.Store.ActiveJobs(ctx, r.cfg.Workspace)
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	never := make(chan struct{}) // recovery itself is never stopped early
	for _, j := range active {
		if j.State == haven.StatePending {
			j.Cancelled = true
			if err := r.transition(ctx, j, haven.StatusCancelledByUser, msgStoppedBefore); err != nil {
				return 0, err
			}
			continue
		}
		if err := r.reattach(ctx, j, never); err != nil {
			return 0, err
		}
	}
	if err := r.sweepScratch(ctx, active); err != nil {
		return 0, err
	}
	return len(active), nil
}

// sweepScratch cleans up the scratch directories of finished jobs that an
// earlier run was killed before removing (cleanup runs after the final
// state is recorded). A directory is swept only when it is named after a
// job of this workspace (as ID or ID.local) that is final and was not just
// reconciled; anything else in the scratch root is left alone.
func (r *Runner) sweepScratch(ctx context.Context, active []*haven.Job) error {
	if r.cfg.ScratchRoot == "" {
		return nil
	}
	entries, err := os.ReadDir(r.cfg.ScratchRoot)
	if err != nil || len(entries) == 0 {
		return nil // no scratch root yet: nothing was left
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.Name() != outputs.TrashDir {
			names[strings.TrimSuffix(e.Name(), ".local")] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	for _, j := range active {
		delete(names, j.ID)
	}
	jobs, err := r.cfg.Store.WorkspaceJobs(ctx, r.cfg.Workspace)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, j := range jobs {
		if names[j.ID] && j.StatusCode.IsFinal() {
			r.cfg.Logger.Info("removing the scratch files of a finished job", "job", j.ID, "action", j.Action)
			r.cleanup(ctx, j, r.definition(j, nil, nil))
		}
	}
	return nil
}

func (r *Runner) reattach(ctx context.Context, j *haven.Job, never chan struct{}) error {
	inputs, previous, err := r.inputsFor(ctx, j)
	if err != nil {
		inputs, previous = nil, nil // only needed by prepare, which is over
	}
	def := r.definition(j, inputs, previous)
	st, err := r.status(ctx, def)
	if err != nil {
		return r.fail(ctx, j, &def, haven.StatusInternalError, msgRunnerStopped)
	}
	switch st.State {
	case executor.Executing, executor.Executed, executor.Finalizing, executor.Finalized:
		r.cfg.Logger.Info("re-attached to job", "job", j.ID, "action", j.Action, "state", st.State)
		return r.follow(ctx, j, def, st, never, func() string { return msgCancelledByUser }, nil)
	default:
		if err := r.fail(ctx, j, &def, haven.StatusInternalError, msgRunnerStopped); err != nil {
			return err
		}
		r.cleanup(ctx, j, def)
		return nil
	}
}
