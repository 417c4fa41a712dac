package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// exitKilled is the exit status of a container whose process got SIGKILL,
// from the OOM killer, a time limit, Terminate or an administrator.
const exitKilled = 137

// Finalize reads the container's exit state and output, and hands them to
// outputs.Finalize, which persists the outputs and writes the log. The
// results are saved beside the scratch directory, so Status reports
// Finalized from then on, across restarts. Executed -> Finalized; a
// cancelled or errored job may be finalized from any state (a running one
// is killed first).
func (e *Executor) Finalize(ctx context.Context, def executor.JobDefinition, opts executor.FinalizeOptions) (executor.Status, error) {
	st, err := e.Status(ctx, def)
	if err != nil {
		return st, err
	}
	early := opts.Cancelled || opts.Error
	switch st.State {
	case executor.Finalized:
		return st, nil
	case executor.Executed:
	case executor.Executing:
		if !early {
			return st, nil
		}
		if st, err = e.Terminate(ctx, def); err != nil {
			return st, err
		}
	default:
		if !early {
			return st, nil
		}
	}

	run, err := e.runInfo(ctx, def, early)
	if err != nil {
		return st, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	now := e.now()
	results, err := outputs.Finalize(def, run, opts, func() time.Time { return now })
	if err != nil {
		return st, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	if err := writeRecord(def, record{FinalizedAt: now.UnixNano(), Results: results}); err != nil {
		return st, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	return executor.Status{State: executor.Finalized, Timestamp: now.UnixNano(), Results: results}, nil
}

// runInfo gathers what the container's run left: exit code, out-of-memory
// and time-limit verdicts, output, image. A job whose container never
// existed has exit code -1. early (cancelled or errored) skips looking for
// an out-of-memory event, which cannot change what the user is told.
func (e *Executor) runInfo(ctx context.Context, def executor.JobDefinition, early bool) (outputs.RunInfo, error) {
	_, memory := e.limits(def, 0)
	run := outputs.RunInfo{ExitCode: -1, MemoryLimit: memory, Timeout: def.Timeout}
	c, found, err := e.inspect(ctx, def)
	if err != nil {
		return run, err
	}
	if !found || c.State == nil {
		return run, nil
	}
	state := c.State
	run.ImageID = c.Image
	run.StartedAt = parseTime(state.StartedAt)
	run.FinishedAt = parseTime(state.FinishedAt)
	if c.HostConfig != nil && c.HostConfig.Memory > 0 {
		run.MemoryLimit = c.HostConfig.Memory
	}
	if state.Status == container.StateCreated {
		return run, nil // never started
	}
	run.ExitCode = state.ExitCode
	run.OOMKilled = state.OOMKilled
	timedOut := exists(timedOutPath(def))
	if !run.OOMKilled && state.ExitCode == exitKilled && !timedOut && !early {
		// A kill nobody here asked for. The OOMKilled flag is unreliable
		// on some kernels; the daemon's record of a cgroup OOM event is
		// the other evidence.
		oom, err := e.oomEvent(ctx, c)
		if err != nil {
			e.log.Warn("could not read the daemon's OOM events", "job", def.ID, "err", err)
		}
		run.OOMKilled = oom
	}
	run.TimedOut = !run.OOMKilled && state.ExitCode != 0 && timedOut
	if run.Log, err = e.containerLog(ctx, containerName(def)); err != nil {
		return run, err
	}
	return run, nil
}

// oomEvent reports whether the daemon recorded an "oom" event for the
// container between its creation and a second after its finish. (The
// daemon keeps a bounded history, lost when it restarts; asking about a
// time still to come waits for it, so this can take up to that second.)
func (e *Executor) oomEvent(ctx context.Context, c container.InspectResponse) (bool, error) {
	since := parseTime(c.Created)
	finished := parseTime(c.State.FinishedAt)
	if since.IsZero() || finished.IsZero() {
		return false, nil
	}
	until := finished.Add(time.Second)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res := e.cli.Events(ctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Until:   fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
		Filters: make(client.Filters).Add("container", c.ID).Add("event", "oom"),
	})
	for {
		select {
		case m := <-res.Messages:
			if m.Action == "oom" {
				return true, nil
			}
		case err := <-res.Err:
			if err == nil || errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
	}
}
