package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// killWait bounds how long Terminate and the time limit wait for a killed
// container to stop.
const killWait = 30 * time.Second

// Prepare checks that the job can run here (its image is present, it
// needs no database unless one is configured), then creates the scratch
// workspace. Unknown -> Prepared.
func (e *Executor) Prepare(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if err := e.requireNetwork(def); err != nil {
		return executor.Status{State: executor.Unknown}, err
	}
	if err := e.requireImage(ctx, def); err != nil {
		return executor.Status{State: executor.Unknown}, err
	}
	st, err := e.Status(ctx, def)
	if err != nil || st.State != executor.Unknown {
		return st, err
	}

	// PrepareScratch starts again from nothing if an earlier prepare
	// stopped half-way.
	lines, _, err := outputs.PrepareScratch(def, e.now)
	for _, line := range lines {
		e.log.Info(line, "job", def.ID, "action", def.Action)
	}
	if err != nil {
		return st, fmt.Errorf("prepare job %s: %w", def.ID, err)
	}
	if e.chownUID >= 0 {
		if err := chownTree(outputs.ScratchDir(def), e.chownUID, e.chownGID); err != nil {
			return st, fmt.Errorf("prepare job %s: hand scratch workspace to container user %s: %w", def.ID, e.user, err)
		}
	}
	return e.Status(ctx, def)
}

// Execute creates and starts the container os-job-<id>. It creates the
// container only once: after a crash between create and start it starts
// the one already there. Prepared -> Executing.
func (e *Executor) Execute(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	st, err := e.Status(ctx, def)
	if err != nil || st.State != executor.Prepared {
		return st, err
	}
	if err := e.requireNetwork(def); err != nil {
		return st, err
	}
	name := containerName(def)
	if _, found, err := e.inspect(ctx, def); err != nil {
		return st, err
	} else if !found {
		if err := e.requireImage(ctx, def); err != nil {
			return st, err
		}
		ncpu := 0
		if info, err := e.cli.Info(ctx, client.InfoOptions{}); err == nil {
			ncpu = info.Info.NCPU
		}
		cpus, memory := e.limits(def, ncpu)
		opts := containerSpec(def, spec{
			Image:      e.ImageRef(def.Image),
			ScratchDir: outputs.ScratchDir(def),
			User:       e.user,
			CPUs:       cpus,
			Memory:     memory,
			Network:    e.network(def),
			Backend:    e.backend,
			Labels:     e.labels,
			LogConfig:  e.logConfig,
		})
		res, err := e.cli.ContainerCreate(ctx, opts)
		if err != nil && !cerrdefs.IsConflict(err) { // conflict: created meanwhile
			return st, fmt.Errorf("execute job %s: create container %s: %w", def.ID, name, err)
		}
		for _, w := range res.Warnings {
			e.log.Warn("docker: "+w, "job", def.ID, "container", name)
		}
	}
	if _, err := e.cli.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		return st, fmt.Errorf("execute job %s: start container %s: %w", def.ID, name, err)
	}
	return executor.Status{State: executor.Executing, Timestamp: e.now().UnixNano()}, nil
}

// Terminate kills the job's container. Executing -> Executed; in any
// other state it returns the state.
func (e *Executor) Terminate(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	st, err := e.Status(ctx, def)
	if err != nil || st.State != executor.Executing {
		return st, err
	}
	if err := e.kill(ctx, def); err != nil {
		return st, fmt.Errorf("terminate job %s: %w", def.ID, err)
	}
	return e.Status(ctx, def)
}

// kill sends SIGKILL to the container and waits, for a bounded time, until
// it has stopped. A container that is gone or already stopped is fine.
func (e *Executor) kill(ctx context.Context, def executor.JobDefinition) error {
	name := containerName(def)
	ctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	// Ask to be told about the stop before killing, so it cannot be missed.
	wait := e.cli.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	if _, err := e.cli.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: "KILL"}); err != nil &&
		!isNotFound(err) && !cerrdefs.IsConflict(err) { // conflict: not running
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	select {
	case <-wait.Result:
		return nil
	case err := <-wait.Error:
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("wait for container %s to stop: %w", name, err)
	}
}

// Cleanup removes the container and the scratch workspace and forgets the
// job's results. Any state -> Unknown. It removes all it can and returns
// every error.
func (e *Executor) Cleanup(ctx context.Context, def executor.JobDefinition) error {
	var errs []error
	name := containerName(def)
	if _, err := e.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
	}
	if err := removeScratch(def); err != nil {
		errs = append(errs, err)
	}
	for _, path := range []string{resultsPath(def), timedOutPath(def)} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up job %s: %w", def.ID, err)
	}
	return nil
}

// removeScratch removes the job's scratch workspace, making its
// directories writable first if the job left some read-only.
func removeScratch(def executor.JobDefinition) error {
	if err := outputs.RemoveScratch(def); err == nil {
		return nil
	}
	filepath.WalkDir(outputs.ScratchDir(def), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() { // WalkDir does not follow symlinks
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return outputs.RemoveScratch(def)
}

// chownTree hands dir and everything in it to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
