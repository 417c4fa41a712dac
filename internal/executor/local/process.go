package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// killedExitCode is what a job stopped by the executor (terminated, or
// over its time limit) exits with: 128 + SIGKILL, as a killed container
// reports it, whichever signal actually ended it.
const killedExitCode = 137

// run is one started job: a host process group or a native action.
type run struct {
	done chan struct{} // closed once the run has ended and its record is final

	mu         sync.Mutex
	pgid       int                // the process group; 0 for a native action
	cancel     context.CancelFunc // stops a native action
	ended      bool               // the process exited: its group must no longer be signalled
	stopping   bool               // SIGTERM sent, SIGKILL scheduled
	terminated bool               // stopped by Terminate or Cleanup
	timedOut   bool               // stopped at the time limit
	timers     []*time.Timer
}

// stopReason says why the executor stops a run.
type stopReason int

const (
	stopTerminate stopReason = iota
	stopTimeout
)

// stop ends the run: SIGTERM to the whole process group, then SIGKILL once
// grace has passed (at once if grace is 0). A native action has its context
// cancelled.
func (r *run) stop(why stopReason, grace time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if why == stopTimeout {
		r.timedOut = true
	} else {
		r.terminated = true
	}
	if r.cancel != nil {
		r.cancel()
		return
	}
	if grace <= 0 {
		_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
		return
	}
	if r.stopping {
		return
	}
	r.stopping = true
	_ = syscall.Kill(-r.pgid, syscall.SIGTERM)
	r.timers = append(r.timers, time.AfterFunc(grace, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.ended {
			_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
		}
	}))
}

// end marks the run as over and stops its timers, and returns whether the
// executor stopped it and whether that was for the time limit.
func (r *run) end() (killed, timedOut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	for _, t := range r.timers {
		t.Stop()
	}
	return r.terminated || r.timedOut, r.timedOut
}

// setTimeout stops the run once limit has passed.
func (r *run) setTimeout(limit, grace time.Duration) {
	if limit <= 0 {
		return
	}
	t := time.AfterFunc(limit, func() { r.stop(stopTimeout, grace) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		t.Stop()
		return
	}
	r.timers = append(r.timers, t)
}

// environment is a job's environment: a minimal, predictable set (the
// container's equivalents) plus the job definition's variables, which win.
// HOME and TMPDIR are both the run directory, as both are /tmp in a job's
// container.
func environment(def executor.JobDefinition, path, home string) []string {
	env := map[string]string{
		"PATH":               path,
		"HOME":               home,
		"TMPDIR":             home,
		"LANG":               "C.UTF-8",
		"TZ":                 "UTC",
		"OPENSAFELY_BACKEND": "expectations",
	}
	maps.Copy(env, def.Env)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// start starts def's job as p says and returns its run. Creating the run
// directory is what marks the job as started, on disk, before anything
// runs; if starting fails, start removes it again.
func (e *Executor) start(def executor.JobDefinition, p plan, j *job) (r *run, err error) {
	dir := outputs.ScratchDir(def)
	rd := runDir(def)
	err = os.Mkdir(rd, 0o700)
	if errors.Is(err, os.ErrExist) {
		// The job is Prepared, so this holds neither a log nor a record:
		// leftovers of a cancelled finalize that crashed.
		if err = os.RemoveAll(rd); err == nil {
			err = os.Mkdir(rd, 0o700)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := os.RemoveAll(rd); rerr != nil {
				e.log.Warn("remove run directory", "job", def.ID, "action", def.Action, "error", rerr)
			}
		}
	}()
	f, err := os.OpenFile(filepath.Join(rd, logFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create job log: %w", err)
	}
	lg := newJobLog(f, e.now)
	args := p.args(def.Args, dir)
	r = &run{done: make(chan struct{})}
	rec := record{StartedAt: e.now().UTC()}

	if p.native != nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		if err := appendRecord(filepath.Join(rd, recordFile), rec); err != nil {
			cancel()
			_ = lg.Close()
			return nil, err
		}
		go e.runNative(ctx, def, p, j, r, lg, dir, args, rec)
		r.setTimeout(def.Timeout, e.grace)
		return r, nil
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		_ = lg.Close()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        p.path,
		Args:        append([]string{p.program}, args...),
		Dir:         dir,
		Env:         environment(def, e.path, rd),
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	_ = pw.Close() // the child holds its own copy
	if err != nil {
		_ = pr.Close()
		_ = lg.Close()
		return nil, fmt.Errorf("start %s: %w", p.program, err)
	}
	r.pgid = cmd.Process.Pid
	rec.PID = cmd.Process.Pid
	rec.ProcStart, _ = procStart(rec.PID) // best effort: only used to kill an orphan
	if err := appendRecord(filepath.Join(rd, recordFile), rec); err != nil {
		// Without its pid on record, a restarted runner could never stop
		// the process: better not to run it at all.
		_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = pr.Close()
		_ = lg.Close()
		return nil, err
	}
	e.log.Info("job started", "job", def.ID, "action", def.Action, "program", p.path, "pid", rec.PID)
	go e.watch(def, j, r, cmd, pr, lg, rec)
	r.setTimeout(def.Timeout, e.grace)
	return r, nil
}

// watch copies the process's output to the log, waits for it to exit, and
// records how it ended.
func (e *Executor) watch(def executor.JobDefinition, j *job, r *run, cmd *exec.Cmd, pr *os.File, lg *jobLog, rec record) {
	out := lg.stream()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()
	err := waitProcess(cmd, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		// Like a container, the job is over when its main process is:
		// anything it left behind dies with it.
		_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
		r.ended = true
	})
	killed, timedOut := r.end()
	// A descendant that left the process group may still hold the pipe
	// open; it gets a grace period, not the power to keep the job running.
	if derr := pr.SetReadDeadline(time.Now().Add(e.grace)); derr != nil {
		_ = pr.Close()
	}
	<-copied
	_ = pr.Close()
	_ = out.Close()
	if lerr := lg.Close(); lerr != nil {
		e.log.Warn("job log incomplete", "job", def.ID, "action", def.Action, "error", lerr)
	}

	rec.ExitCode = exitCode(cmd.ProcessState, killed)
	if cmd.ProcessState == nil {
		e.log.Error("wait for job process", "job", def.ID, "action", def.Action, "error", err)
	}
	rec.TimedOut, rec.Terminated = timedOut, killed && !timedOut
	e.finish(def, j, r, rec)
}

// exitCode is the exit status a process reports, in the shell's and
// Docker's convention: 128 + the signal for a process killed by a signal,
// and 137 for any process the executor stopped.
func exitCode(ps *os.ProcessState, killed bool) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		if killed {
			return killedExitCode
		}
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// runNative runs a native action in the scratch directory. Its error, if
// any, goes to the job log and fails the job, as an interpreter's traceback
// would; a panic is caught the same way so it cannot take the runner down.
func (e *Executor) runNative(ctx context.Context, def executor.JobDefinition, p plan, j *job, r *run,
	lg *jobLog, dir string, args []string, rec record) {
	stdout, stderr := lg.stream(), lg.stream()
	code, err := callNative(ctx, p.native, dir, args, stdout, stderr)
	killed, timedOut := r.end()
	r.cancel()
	switch {
	case killed && (err != nil || code != 0):
		code = killedExitCode
	case err != nil:
		fmt.Fprintf(stderr, "\nError: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	_ = stdout.Close()
	_ = stderr.Close()
	if lerr := lg.Close(); lerr != nil {
		e.log.Warn("job log incomplete", "job", def.ID, "action", def.Action, "error", lerr)
	}
	rec.ExitCode, rec.TimedOut, rec.Terminated = code, timedOut, killed && !timedOut
	e.finish(def, j, r, rec)
}

func callNative(ctx context.Context, act NativeAction, dir string, args []string, stdout, stderr io.Writer) (code int, err error) {
	defer func() {
		if v := recover(); v != nil {
			code, err = 1, fmt.Errorf("native action panicked: %v", v)
		}
	}()
	return act(ctx, dir, args, stdout, stderr)
}

// finish records a run's end on disk, then makes it visible.
func (e *Executor) finish(def executor.JobDefinition, j *job, r *run, rec record) {
	rec.Finished = true
	rec.FinishedAt = e.now().UTC()
	if err := appendRecord(filepath.Join(runDir(def), recordFile), rec); err != nil {
		e.log.Warn("record job exit", "job", def.ID, "action", def.Action, "error", err)
	}
	e.log.Info("job finished", "job", def.ID, "action", def.Action, "exit_code", rec.ExitCode,
		"timed_out", rec.TimedOut, "terminated", rec.Terminated)
	j.mu.Lock()
	j.rec = rec
	j.state, j.changed = executor.Executed, rec.FinishedAt
	j.mu.Unlock()
	close(r.done)
}
