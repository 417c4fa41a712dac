package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/runner"
	"github.com/spf13/cobra"
)

// runOptions are the flags of `haven run`.
type runOptions struct {
	dir             string
	force           bool
	continueOnError bool
	workers         int
	executor        string
	timeout         time.Duration
	cpus            float64
	memory          string
	timestamps      bool
	asJSON          bool
	mediumDir       string
}

func (a *app) runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [ACTION ...|run_all]",
		Short: "Run actions of the pipeline on this machine",
		Long: `Run executes the named actions, and whatever they need that has not run
successfully yet, on this machine against artificial data: the same jobs,
states and outputs as on a secure backend. Outputs land in place in the
project folder; each action's log is written to metadata/<action>.log.

Actions that already succeeded are reused as dependencies unless -f is
given; the actions you name always run again. run_all runs every action
that has not succeeded.

Exit status is 0 when every job succeeded, 1 when a job failed or the
project is invalid, 2 for a usage mistake. Ctrl-C cancels the running jobs,
prints the summary and exits 1.`,
		Example: `  haven run run_all
  haven run generate_dataset analyse --project-dir examples/flucats
  haven run analyse -f -j 4 --executor local`,
		Annotations: map[string]string{},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd.Context(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "project-dir", ".", "the folder that holds project.yaml")
	f.BoolVarP(&o.force, "force-run-dependencies", "f", false, "run the actions' dependencies again even if they succeeded")
	f.BoolVar(&o.continueOnError, "continue-on-error", false, "keep running other actions after one fails")
	f.IntVarP(&o.workers, "concurrency", "j", 2, "how many jobs run at once")
	f.StringVar(&o.executor, "executor", "auto", "where jobs run: auto, local (host processes) or docker")
	f.DurationVar(&o.timeout, "timeout", 0, "stop any job that runs longer than this (e.g. 30m, 2h); 0 for no limit")
	f.Float64Var(&o.cpus, "cpus", 2, "CPUs per job (docker executor)")
	f.StringVarP(&o.memory, "memory", "m", "4G", "memory per job (docker executor), e.g. 512M, 4G")
	f.BoolVar(&o.timestamps, "timestamps", false, "start each progress line with a UTC timestamp")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON instead of the summary")
	f.StringVar(&o.mediumDir, "medium-privacy-dir", "", "also copy moderately sensitive outputs (after Level-4 checks) and a manifest here")
	return cmd
}

func (a *app) run(ctx context.Context, o runOptions, actions []string) error {
	if o.workers < 1 {
		return usageError{fmt.Errorf("-j must be at least 1, got %d", o.workers)}
	}
	memory, err := parseSize(o.memory)
	if err != nil {
		return usageError{fmt.Errorf("--memory %q: %v", o.memory, err)}
	}
	if o.timeout < 0 {
		return usageError{fmt.Errorf("--timeout must not be negative")}
	}
	r, err := a.loadValidProject(o.dir, "run")
	if err != nil {
		return err
	}
	p := r.Pipeline
	projectDir, err := filepath.Abs(o.dir)
	if err != nil {
		return &haven.Error{Code: haven.EINVALID, Message: "project directory " + o.dir, Err: err}
	}
	workspace := filepath.Base(projectDir)
	if len(actions) == 0 {
		// Planning says so, with the valid names, before anything is opened.
		_, err := plan.Plan(p, plan.Request{}, nil, time.Now())
		return a.planFailed(err, o.asJSON)
	}

	metadata := filepath.Join(projectDir, "metadata")
	if err := os.MkdirAll(metadata, 0o755); err != nil {
		return &haven.Error{Code: haven.EINVALID, Message: "cannot create " + metadata, Err: err}
	}
	store, err := openStore(ctx, filepath.Join(metadata, "db.sqlite"))
	if err != nil {
		return err
	}
	defer store.Close()

	// Outputs are moved into place atomically but flushed to disk once, when
	// the run ends, rather than file by file (docs/architecture.md).
	trash := outputs.NewTrash(trashMaxJobs, trashMaxBytes)
	trash.Watch(filepath.Join(metadata, "volumes"))
	defer func() {
		for _, dir := range []string{projectDir, o.mediumDir} {
			if dir == "" {
				continue
			}
			if err := outputs.SyncFS(dir); err != nil {
				fmt.Fprintf(a.stderr, "warning: %v\n", err)
			}
		}
		if err := trash.Empty(); err != nil {
			fmt.Fprintf(a.stderr, "warning: could not remove finished jobs' scratch workspaces: %v\n", err)
		}
	}()
	exec, why, err := a.chooseExecutor(ctx, o.executor, p, trash)
	if err != nil {
		return err
	}
	if !o.asJSON {
		fmt.Fprintf(a.stdout, "Using the %s executor (%s)\n", exec.Name(), why)
	}

	var out *progress
	if !o.asJSON {
		out = newProgress(a.stdout, o.timestamps, isTerminal(a.stdout) && a.getenv("TERM") != "dumb")
	}
	cfg := runner.Config{
		Store: store, Executor: exec, Pipeline: p, Workspace: workspace,
		ProjectDir: projectDir, WorkspaceDir: projectDir, MediumDir: o.mediumDir,
		ScratchRoot: filepath.Join(metadata, "volumes"), LogDir: filepath.Join(metadata, "jobs"),
		DeferSync:  true,
		MaxWorkers: o.workers, ContinueOnError: o.continueOnError,
		Timeout: o.timeout, CPUCount: o.cpus, MemoryLimit: memory,
		PollInterval: 50 * time.Millisecond,
	}
	if out != nil {
		cfg.OnEvent = out.event
	}
	rn := runner.New(cfg)
	if n, err := rn.Recover(ctx); err != nil {
		return err
	} else if n > 0 && out != nil {
		out.note(fmt.Sprintf("Reconciled %d job(s) left active by an earlier run that stopped", n))
	}

	history, err := store.WorkspaceJobs(ctx, workspace)
	if err != nil {
		return err
	}
	latest := plan.LatestPerAction(history, p, func(j *haven.Job) bool { return outputsOnDisk(projectDir, j) })
	req := plan.Request{
		ID: newRequestID(), Workspace: workspace, RequestedActions: actions,
		ForceRunDependencies: o.force, CodelistsOK: true, Backend: "expectations", Database: "dummy", DummyData: true,
	}
	jobs, err := plan.Plan(p, req, latest, time.Now())
	if err != nil {
		return a.planFailed(err, o.asJSON)
	}
	if err := store.CreateJobs(ctx, jobs); err != nil {
		return err
	}
	if out != nil {
		names := make([]string, len(jobs))
		for i, j := range jobs {
			names[i] = j.Action
		}
		out.note("\nRunning actions: " + strings.Join(names, ", ") + "\n")
	}
	runErr := rn.Run(ctx, jobs)
	if out != nil {
		out.finish()
	}
	if runErr != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "the runner stopped", Err: runErr}
	}
	ok := true
	for _, j := range jobs {
		if j.State != haven.StateSucceeded {
			ok = false
		}
	}
	if o.asJSON {
		if err := writeRunJSON(a.stdout, projectDir, req.ID, exec.Name(), jobs); err != nil {
			return err
		}
	} else {
		writeSummary(a.stdout, projectDir, jobs)
	}
	if !ok {
		return exitError{exitInvalid}
	}
	return nil
}

// planFailed reports a planning error the way the local OpenSAFELY CLI
// does: `=> ErrorClass` then the message indented.
func (a *app) planFailed(err error, asJSON bool) error {
	var nothing *plan.NothingToDoError
	var unknown *plan.UnknownActionError
	switch {
	case errors.As(err, &nothing):
		if asJSON {
			return json.NewEncoder(a.stdout).Encode(map[string]any{"result": "Nothing to do", "count": 0, "jobs": []any{}})
		}
		fmt.Fprintln(a.stdout, "=> All actions already completed successfully")
		fmt.Fprintln(a.stdout, "   Use -f option to force everything to re-run")
		return nil
	case errors.As(err, &unknown):
		fmt.Fprintf(a.stderr, "=> UnknownActionError\n   %s\n   Valid action names are:\n", unknown.Error())
		for _, n := range unknown.ValidNames() {
			fmt.Fprintf(a.stderr, "     %s\n", n)
		}
		return exitError{exitInvalid}
	}
	if haven.ErrorCode(err) == haven.EINTERNAL {
		return err
	}
	fmt.Fprintf(a.stderr, "=> %s\n   %s\n", errorClass(err), err.Error())
	return exitError{exitInvalid}
}

func errorClass(err error) string {
	name := fmt.Sprintf("%T", err)
	return name[strings.LastIndexByte(name, '.')+1:]
}

// outputsOnDisk reports whether every output a job recorded is still in
// the project: a deleted output makes its action run again.
func outputsOnDisk(projectDir string, j *haven.Job) bool {
	for path := range j.Outputs {
		if _, err := os.Lstat(filepath.Join(projectDir, filepath.FromSlash(path))); err != nil {
			return false
		}
	}
	return true
}

// newRequestID is a local run's request id: 10 random lowercase hex
// characters, as upstream's local run makes them.
func newRequestID() string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("%010x", time.Now().UnixNano()&0xffffffffff)
	}
	return hex.EncodeToString(b)
}

// parseSize reads a memory size such as 512M, 4G or 1.5GB (powers of 1024,
// as Docker reads them).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	var f float64
	if _, err := fmt.Sscanf(t, "%g", &f); err != nil || f <= 0 {
		return 0, fmt.Errorf("give a size such as 512M or 4G")
	}
	return int64(f * float64(mult)), nil
}

// progress prints the live log: one `action: message` line per event,
// and on a terminal a status line below them that is redrawn in place.
type progress struct {
	mu         sync.Mutex
	w          io.Writer
	timestamps bool
	live       bool
	running    map[string]bool
	finished   int
	status     bool // a status line is on screen
}

func newProgress(w io.Writer, timestamps, live bool) *progress {
	return &progress{w: w, timestamps: timestamps, live: live, running: map[string]bool{}}
}

// quiet codes are not shown, as upstream's local run hides them.
var quietCodes = map[haven.StatusCode]bool{
	haven.StatusWaitingOnDependencies: true, haven.StatusDependencyFailed: true, haven.StatusWaitingOnWorkers: true,
}

func (p *progress) event(e runner.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case e.Code.IsFinal():
		if p.running[e.Action] {
			delete(p.running, e.Action)
		}
		p.finished++
	case e.Code.IsRunning():
		p.running[e.Action] = true
	}
	if quietCodes[e.Code] {
		p.redraw()
		return
	}
	p.clear()
	line := e.Action + ": " + e.Message
	if p.timestamps {
		line = e.Time.UTC().Format("2006-01-02 15:04:05.000Z") + " " + line
	}
	fmt.Fprintln(p.w, strings.ReplaceAll(line, "\n", "\n    "))
	p.redraw()
}

func (p *progress) note(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, s)
	p.redraw()
}

func (p *progress) clear() {
	if p.status {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.status = false
	}
}

func (p *progress) redraw() {
	if !p.live || len(p.running) == 0 {
		return
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	line := fmt.Sprintf("… %d finished; running: %s", p.finished, strings.Join(names, ", "))
	if len(line) > 100 {
		line = line[:99] + "…"
	}
	fmt.Fprint(p.w, line)
	p.status = true
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	if cw, ok := w.(*checkedWriter); ok {
		w = cw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
