// Package local runs jobs as processes on the host, with no Docker: each
// runtime image maps to a host interpreter (python → python3, r → Rscript,
// jupyter → jupyter, stata-mp → stata-mp; Haven decision 5), run in the
// job's scratch copy of the workspace.
//
// Each job's process runs in its own process group with a minimal
// environment, so Terminate, a time limit or Cleanup kill everything it
// started. Its output is logged, line by line with timestamps, to a run
// directory next to the scratch directory (<scratch root>/<job id>.local),
// which also holds a small record of the process and of its exit, and the
// results once finalized. The record is what lets a restarted runner tell
// a finished job (Executed) from one whose process it lost (Error). The run
// directory is also the job's HOME and TMPDIR (a container has /tmp for
// both), so what tools leave there is never mistaken for an output and
// goes with Cleanup.
//
// The local executor does not enforce CPU or memory limits (CPUCount and
// MemoryLimit are ignored) and gives no network isolation: it is meant for
// running a study on the researcher's own machine with dummy data.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

const executorName = "local"

// lostMessage explains the Error state of a job whose process a previous
// runner started: host processes cannot be re-attached.
const lostMessage = "the runner stopped while this job was running; run the action again"

// NativeAction is a Go implementation of an image or reusable action that
// the local executor runs in-process instead of a host program. It runs in
// dir (the scratch workspace) with the job's arguments (/workspace already
// mapped to dir) and writes its output to stdout and stderr. It must return
// promptly once ctx is cancelled (Terminate, time limit, Cleanup). A
// non-nil error is written to the job log and fails the job like a
// non-zero exit.
type NativeAction func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (exitCode int, err error)

// Config configures a local executor. The zero value works.
type Config struct {
	// Logger receives the executor's own log (jobs started and finished,
	// preparation steps); nil discards it.
	Logger *slog.Logger
	// Now is the clock for timestamps; time.Now if nil.
	Now func() time.Time
	// Path is the PATH searched for interpreters and given to jobs; the
	// runner's own PATH if "".
	Path string
	// Native maps image names (cohortextractor, cohort-joiner, …) to
	// in-process implementations; they take precedence over interpreters.
	Native map[string]NativeAction
	// KillGrace is how long a stopped job has between SIGTERM and SIGKILL;
	// 2 seconds if 0.
	KillGrace time.Duration
	// Trash, when set, receives the scratch workspace and run directory of
	// every job Cleanup is done with, to be removed when the caller empties
	// it (at the end of a run) or when it fills up, instead of at once.
	// The caller owns it: nothing is removed until it is emptied.
	Trash *outputs.Trash
	// Listing, when set, lists each project once for all the jobs that
	// use it (outputs.CodeListing): set a new one for every run.
	Listing *outputs.CodeListing
}

// Executor runs jobs as host processes. It is safe for concurrent use.
type Executor struct {
	log    *slog.Logger
	now    func() time.Time
	path   string
	native map[string]NativeAction
	grace  time.Duration
	trash  *outputs.Trash
	list   *outputs.CodeListing

	mu   sync.Mutex
	jobs map[string]*job // by job id, while this executor knows something about the job
}

var _ executor.Executor = (*Executor)(nil)

// New returns a local executor.
func New(cfg Config) *Executor {
	e := &Executor{
		log:    cfg.Logger,
		now:    cfg.Now,
		path:   cfg.Path,
		native: maps.Clone(cfg.Native),
		grace:  cfg.KillGrace,
		trash:  cfg.Trash,
		list:   cfg.Listing,
		jobs:   map[string]*job{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.path == "" {
		e.path = os.Getenv("PATH")
	}
	if e.grace <= 0 {
		e.grace = 2 * time.Second
	}
	return e
}

// job is what this executor holds in memory about one job.
type job struct {
	// op serialises the methods that change the job, so that, for example,
	// two Execute calls never start two processes.
	op   sync.Mutex
	gone bool // dropped from the executor's map; guarded by op

	mu      sync.Mutex // guards the rest; never held for long
	state   executor.State
	changed time.Time
	message string
	results *executor.Results
	rec     record
	run     *run
	size    int64 // bytes Prepare copied into the scratch workspace
}

// status is j's state as held in memory; ok is false when memory says
// nothing and the disk must be asked.
func (j *job) status() (st executor.Status, rec record, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state == "" {
		return executor.Status{}, record{}, false
	}
	return executor.Status{
		State:     j.state,
		Timestamp: j.changed.UnixNano(),
		Message:   j.message,
		Results:   j.results.Clone(),
	}, j.rec, true
}

func (j *job) set(state executor.State, at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.state, j.changed = state, at
}

// acquire returns the job's entry with its op lock held, creating it if
// needed; release gives it back.
func (e *Executor) acquire(id string) *job {
	for {
		e.mu.Lock()
		j := e.jobs[id]
		if j == nil {
			j = &job{}
			e.jobs[id] = j
		}
		e.mu.Unlock()
		j.op.Lock()
		if !j.gone {
			return j
		}
		j.op.Unlock()
	}
}

// release unlocks j, first dropping it from the map if it holds nothing
// (or if drop is set), so jobs the executor merely looked at cost nothing.
func (e *Executor) release(id string, j *job, drop bool) {
	j.mu.Lock()
	empty := j.state == "" && j.run == nil
	j.mu.Unlock()
	if drop || empty {
		j.gone = true
		e.mu.Lock()
		if e.jobs[id] == j {
			delete(e.jobs, id)
		}
		e.mu.Unlock()
	}
	j.op.Unlock()
}

func (e *Executor) lookup(id string) *job {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.jobs[id]
}

// runDir is the directory of the job's log and records: next to its
// scratch directory, never inside it.
func runDir(def executor.JobDefinition) string {
	return filepath.Join(def.ScratchRoot, def.ID+".local")
}

// checkDefinition refuses job definitions whose paths could point outside
// the scratch root.
func checkDefinition(def executor.JobDefinition) error {
	if def.ID == "" || def.ID == "." || def.ID == ".." || strings.ContainsAny(def.ID, `/\`) {
		return fmt.Errorf("job id %q is not a plain name; the runner must give every job a non-empty id without slashes", def.ID)
	}
	if def.ScratchRoot == "" {
		return fmt.Errorf("job %s has no scratch root; the runner must set JobDefinition.ScratchRoot", def.ID)
	}
	return nil
}

// Name returns "local".
func (e *Executor) Name() string { return executorName }

// CanRun reports whether this executor can run def: nil, or an
// *executor.UnavailableError that says what can. The runner calls it when
// it plans jobs; Prepare checks it again.
func (e *Executor) CanRun(def executor.JobDefinition) error {
	_, err := planFor(def, e.path, e.native)
	return err
}

// current is the job's status: from memory if this executor has it, else
// from the files on disk.
func (e *Executor) current(j *job, def executor.JobDefinition) (executor.Status, record, error) {
	if j != nil {
		if st, rec, ok := j.status(); ok {
			return st, rec, nil
		}
	}
	return e.diskStatus(def)
}

// diskStatus reads the job's state from its files: results (Finalized), a
// run record with an exit (Executed), a run without one (Error: the runner
// that started it is gone), the scratch marker (Prepared), or nothing
// (Unknown).
func (e *Executor) diskStatus(def executor.JobDefinition) (executor.Status, record, error) {
	rd := runDir(def)
	if _, err := os.Stat(rd); err == nil {
		rec, ok, err := readRecord(filepath.Join(rd, recordFile))
		switch {
		case err != nil:
			return executor.Status{State: executor.Error, Timestamp: e.now().UnixNano(), Message: err.Error()}, record{}, nil
		case ok && rec.Results != nil:
			return executor.Status{State: executor.Finalized, Timestamp: rec.FinalizedAt, Results: rec.Results}, rec, nil
		case ok && rec.Finished:
			return executor.Status{State: executor.Executed, Timestamp: rec.FinishedAt.UnixNano()}, rec, nil
		case ok:
			return executor.Status{State: executor.Error, Timestamp: rec.StartedAt.UnixNano(), Message: lostMessage}, rec, nil
		}
		if _, err := os.Stat(filepath.Join(rd, logFile)); err == nil {
			return executor.Status{State: executor.Error, Timestamp: e.now().UnixNano(), Message: lostMessage}, record{}, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, record{},
			fmt.Errorf("status of job %s: %w", def.ID, err)
	}
	info, err := os.Stat(filepath.Join(outputs.ScratchDir(def), outputs.MarkerFile))
	switch {
	case err == nil:
		return executor.Status{State: executor.Prepared, Timestamp: info.ModTime().UnixNano()}, record{}, nil
	case errors.Is(err, os.ErrNotExist):
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, record{}, nil
	default:
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, record{},
			fmt.Errorf("status of job %s: %w", def.ID, err)
	}
}

// Status reports the job's state. It never changes anything.
func (e *Executor) Status(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	if err := checkDefinition(def); err != nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, err
	}
	st, _, err := e.current(e.lookup(def.ID), def)
	return st, err
}

// Prepare creates the job's scratch workspace (outputs.PrepareScratch).
// A job this executor cannot run gets an *executor.UnavailableError.
func (e *Executor) Prepare(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	if err := checkDefinition(def); err != nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, err
	}
	j := e.acquire(def.ID)
	defer func() { e.release(def.ID, j, false) }()
	st, _, err := e.current(j, def)
	if err != nil || st.State != executor.Unknown {
		return st, err
	}
	if _, err := planFor(def, e.path, e.native); err != nil {
		return st, err
	}
	j.set(executor.Preparing, e.now())
	lines, size, err := outputs.PrepareScratchListed(def, e.now, e.list)
	for _, line := range lines {
		e.log.Info(line, "job", def.ID, "action", def.Action)
	}
	if err != nil {
		j.set("", time.Time{})
		return st, fmt.Errorf("prepare job %s (action %s): %w", def.ID, def.Action, err)
	}
	now := e.now()
	j.mu.Lock()
	j.size = size
	j.mu.Unlock()
	j.set(executor.Prepared, now)
	return executor.Status{State: executor.Prepared, Timestamp: now.UnixNano()}, nil
}

// Execute starts a prepared job and returns at once (Executing).
func (e *Executor) Execute(_ context.Context, def executor.JobDefinition) (executor.Status, error) {
	if err := checkDefinition(def); err != nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, err
	}
	j := e.acquire(def.ID)
	defer func() { e.release(def.ID, j, false) }()
	st, _, err := e.current(j, def)
	if err != nil || st.State != executor.Prepared {
		return st, err
	}
	p, err := planFor(def, e.path, e.native)
	if err != nil {
		return st, err
	}
	// Executing before anything exists on disk, so a concurrent Status
	// never mistakes the half-made run directory for a lost job.
	j.set(executor.Executing, e.now())
	r, err := e.start(def, p, j)
	if err != nil {
		j.set(executor.Prepared, time.Unix(0, st.Timestamp))
		return st, fmt.Errorf("execute job %s (action %s): %w", def.ID, def.Action, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.run = r
	// A very short job may already be Executed.
	return executor.Status{State: j.state, Timestamp: j.changed.UnixNano()}, nil
}

// Finalize hands the run to outputs.Finalize (outputs, logs, checks) and
// keeps its results, in memory and in the run record. A cancelled or errored
// job (opts) may also be finalized from Prepared or Error: it keeps only
// its log.
func (e *Executor) Finalize(_ context.Context, def executor.JobDefinition, opts executor.FinalizeOptions) (executor.Status, error) {
	if err := checkDefinition(def); err != nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, err
	}
	j := e.acquire(def.ID)
	defer func() { e.release(def.ID, j, false) }()
	st, rec, err := e.current(j, def)
	if err != nil {
		return st, err
	}
	early := opts.Cancelled || opts.Error
	switch {
	case st.State == executor.Executed:
	case early && (st.State == executor.Prepared || st.State == executor.Error):
	default:
		return st, nil
	}
	j.mu.Lock()
	prevState, prevChanged := j.state, j.changed
	j.state, j.changed = executor.Finalizing, e.now()
	j.mu.Unlock()
	restore := func() { j.set(prevState, prevChanged) }

	rd := runDir(def)
	log, err := readLogTail(filepath.Join(rd, logFile))
	if err != nil {
		restore()
		return st, fmt.Errorf("finalize job %s (action %s): %w", def.ID, def.Action, err)
	}
	info := outputs.RunInfo{
		ExitCode:    -1,
		MemoryLimit: def.MemoryLimit,
		Timeout:     def.Timeout,
		Log:         log,
		StartedAt:   rec.StartedAt,
		FinishedAt:  rec.FinishedAt,
	}
	if rec.Finished {
		info.ExitCode, info.TimedOut = rec.ExitCode, rec.TimedOut
	}
	switch {
	case st.State == executor.Error:
		info.Message = st.Message
	case st.State == executor.Prepared && opts.Cancelled:
		info.Message = "Prepared job was cancelled"
	}
	res, err := outputs.Finalize(def, info, opts, e.now)
	if err != nil {
		restore()
		return st, fmt.Errorf("finalize job %s (action %s): %w", def.ID, def.Action, err)
	}
	now := e.now()
	rec.FinalizedAt, rec.Results = now.UnixNano(), res
	err = os.MkdirAll(rd, 0o700)
	if err == nil {
		err = appendRecord(filepath.Join(rd, recordFile), rec)
	}
	if err != nil {
		// The results are in memory; only a restarted runner would miss them.
		e.log.Warn("save job results", "job", def.ID, "action", def.Action, "error", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.state, j.changed, j.message, j.results = executor.Finalized, now, "", res
	return executor.Status{State: executor.Finalized, Timestamp: now.UnixNano(), Results: res.Clone()}, nil
}

// Terminate stops a running job (SIGTERM to its process group, SIGKILL
// after the grace period) and waits for it: Executed.
func (e *Executor) Terminate(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	if err := checkDefinition(def); err != nil {
		return executor.Status{State: executor.Unknown, Timestamp: e.now().UnixNano()}, err
	}
	j := e.acquire(def.ID)
	defer func() { e.release(def.ID, j, false) }()
	st, _, err := e.current(j, def)
	if err != nil || st.State != executor.Executing {
		return st, err
	}
	j.mu.Lock()
	r := j.run
	j.mu.Unlock()
	if r == nil {
		return st, nil
	}
	r.stop(stopTerminate, e.grace)
	select {
	case <-r.done:
	case <-ctx.Done():
		st, _, _ := e.current(j, def)
		return st, fmt.Errorf("terminate job %s (action %s): %w", def.ID, def.Action, ctx.Err())
	}
	st, _, err = e.current(j, def)
	return st, err
}

// Cleanup kills the job if it is still running (also a process left by a
// previous runner, when it can prove the process is the job's), then
// removes its scratch and run directories (or hands them to Config.Trash):
// Unknown. Logs in LogDir and
// outputs in the workspaces stay.
func (e *Executor) Cleanup(ctx context.Context, def executor.JobDefinition) error {
	if err := checkDefinition(def); err != nil {
		return err
	}
	j := e.acquire(def.ID)
	defer func() { e.release(def.ID, j, true) }()
	j.mu.Lock()
	r, size := j.run, j.size
	j.mu.Unlock()
	rd := runDir(def)
	if r != nil {
		r.stop(stopTerminate, 0)
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("clean up job %s (action %s): %w", def.ID, def.Action, ctx.Err())
		}
	} else {
		if rec, ok, _ := readRecord(filepath.Join(rd, recordFile)); ok && !rec.Finished && killOrphan(rec) {
			e.log.Info("killed process left by a previous runner", "job", def.ID, "action", def.Action, "pid", rec.PID)
		}
	}
	j.set("", time.Time{})
	if e.trash != nil {
		if err := e.trash.Discard(def.ScratchRoot, size, outputs.ScratchDir(def), rd); err != nil {
			return fmt.Errorf("clean up job %s (action %s): %w", def.ID, def.Action, err)
		}
		return nil
	}
	if err := errors.Join(outputs.RemoveScratch(def), os.RemoveAll(rd)); err != nil {
		return fmt.Errorf("clean up job %s (action %s): %w", def.ID, def.Action, err)
	}
	return nil
}

var _ executor.Waiter = (*Executor)(nil)

// Wait blocks until the job's process has ended or ctx is done, so the
// runner learns of the end at once instead of polling Status. It returns at
// once for a job this executor is not running.
func (e *Executor) Wait(ctx context.Context, def executor.JobDefinition) error {
	j := e.lookup(def.ID)
	if j == nil {
		return nil
	}
	j.mu.Lock()
	r := j.run
	j.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
