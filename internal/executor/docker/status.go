package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// Status reports the job's state from what is on disk and in the daemon,
// so a new Executor value re-attaches to a job another one started:
//
//   - saved results: Finalized;
//   - container created but not started: Prepared;
//   - container running: Executing, at its start time — unless the job has
//     exceeded its time limit, when it is killed and Executed;
//   - container stopped: Executed, at its finish time;
//   - no container: Prepared if the scratch marker exists, else Unknown.
//
// An inspection that takes longer than the inspect timeout, or a daemon
// that does not answer, gives an error wrapping executor.ErrRetry.
func (e *Executor) Status(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	rec, err := readRecord(def)
	if err != nil {
		return executor.Status{State: executor.Error, Message: err.Error()}, err
	}
	if rec != nil {
		return executor.Status{State: executor.Finalized, Timestamp: rec.FinalizedAt, Results: rec.Results}, nil
	}

	c, found, err := e.inspect(ctx, def)
	if err != nil {
		return executor.Status{State: executor.Unknown}, err
	}
	if !found {
		ns, ok, err := outputs.ReadMarker(def)
		switch {
		case err != nil:
			return executor.Status{State: executor.Unknown}, err
		case ok:
			return executor.Status{State: executor.Prepared, Timestamp: ns}, nil
		}
		return executor.Status{State: executor.Unknown}, nil
	}

	state := c.State
	if state == nil {
		state = &container.State{}
	}
	switch state.Status {
	case container.StateCreated:
		return executor.Status{State: executor.Prepared, Timestamp: unixNano(c.Created)}, nil
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		started := parseTime(state.StartedAt)
		if def.Timeout > 0 && !started.IsZero() && e.now().Sub(started) >= def.Timeout {
			return e.stopTimedOut(ctx, def)
		}
		return executor.Status{State: executor.Executing, Timestamp: started.UnixNano()}, nil
	default: // exited, dead, removing
		return executor.Status{State: executor.Executed, Timestamp: unixNano(state.FinishedAt)}, nil
	}
}

// stopTimedOut records that the job exceeded its time limit, then kills
// it. The record comes first so that, even if the runner dies in between,
// finalize reports the time limit rather than a mysterious kill.
func (e *Executor) stopTimedOut(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	running := executor.Status{State: executor.Executing}
	stamp := []byte(e.now().UTC().Format(time.RFC3339Nano) + " " + def.Timeout.String() + "\n")
	if err := writeFileAtomic(timedOutPath(def), stamp); err != nil {
		return running, fmt.Errorf("stop job %s at its time limit: %w", def.ID, err)
	}
	e.log.Info("job exceeded its time limit; killing it", "job", def.ID, "action", def.Action, "limit", def.Timeout)
	if err := e.kill(ctx, def); err != nil {
		return running, fmt.Errorf("stop job %s at its time limit: %w", def.ID, err)
	}
	c, found, err := e.inspect(ctx, def)
	if err != nil {
		return running, err
	}
	if !found || c.State == nil {
		return executor.Status{State: executor.Executed, Timestamp: e.now().UnixNano()}, nil
	}
	if c.State.Running {
		// Killed but not yet seen to stop: the next Status call will.
		return executor.Status{State: executor.Executing, Timestamp: unixNano(c.State.StartedAt)}, nil
	}
	return executor.Status{State: executor.Executed, Timestamp: unixNano(c.State.FinishedAt)}, nil
}

// inspect returns the job's container, found false if there is none. A
// slow or absent daemon gives an error wrapping executor.ErrRetry.
func (e *Executor) inspect(ctx context.Context, def executor.JobDefinition) (container.InspectResponse, bool, error) {
	name := containerName(def)
	ictx, cancel := context.WithTimeout(ctx, e.inspectTO)
	defer cancel()
	res, err := e.cli.ContainerInspect(ictx, name, client.ContainerInspectOptions{})
	switch {
	case err == nil:
		return res.Container, true, nil
	case isNotFound(err):
		return container.InspectResponse{}, false, nil
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return container.InspectResponse{}, false, fmt.Errorf("inspect container %s: no answer within %s: %w", name, e.inspectTO, executor.ErrRetry)
	case client.IsErrConnectionFailed(err):
		return container.InspectResponse{}, false, fmt.Errorf("inspect container %s: %v: %w", name, err, executor.ErrRetry)
	default:
		return container.InspectResponse{}, false, fmt.Errorf("inspect container %s: %w", name, err)
	}
}

// parseTime reads a Docker timestamp; Docker's "0001-01-01T00:00:00Z" and
// garbage both give the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// unixNano is a Docker timestamp in nanoseconds since the epoch, 0 if
// unset.
func unixNano(s string) int64 {
	t := parseTime(s)
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Wait blocks until the job's container stops, the job reaches its time
// limit (so that Status, called next, kills it), or ctx ends. It lets the
// runner wait without polling; whatever it returns, Status says what
// happened. A container that is not running returns at once.
func (e *Executor) Wait(ctx context.Context, def executor.JobDefinition) error {
	c, found, err := e.inspect(ctx, def)
	if err != nil || !found || c.State == nil || !c.State.Running {
		if err != nil {
			e.pause(ctx) // do not let a caller spin on a failing daemon
		}
		return err
	}
	parent := ctx
	if def.Timeout > 0 {
		left := parseTime(c.State.StartedAt).Add(def.Timeout).Sub(e.now())
		if left <= 0 {
			return nil
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, left)
		defer cancel()
	}
	res := e.cli.ContainerWait(ctx, containerName(def), client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
		return nil
	case err := <-res.Error:
		switch {
		case err == nil || isNotFound(err):
			return nil
		case parent.Err() != nil:
			return parent.Err()
		case ctx.Err() != nil:
			return nil // the time limit: Status takes it from here
		}
		e.pause(ctx)
		return fmt.Errorf("wait for container %s: %w", containerName(def), err)
	}
}

// pause sleeps a little, or until ctx ends.
func (e *Executor) pause(ctx context.Context) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
