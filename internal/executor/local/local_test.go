package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/executortest"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/outputs"
)

// settle bounds every wait for a state change: a deadline for a stuck
// executor, not a performance expectation.
const settle = 2 * time.Minute

func needPython(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH: the local executor's tests run Python jobs; install python3 to run them")
	}
}

func newExecutor(t testing.TB, cfg local.Config) *local.Executor {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = time.Second
	}
	return local.New(cfg)
}

func TestConformance(t *testing.T) {
	needPython(t)
	executortest.Run(t, func(t *testing.T) executor.Executor {
		return newExecutor(t, local.Config{})
	}, executortest.Env{
		Job: func(b executortest.Behaviour) (string, []string) {
			return "python:v2", executortest.PythonArgs(b)
		},
		WritesFiles: true,
	})
}

// The conformance suite again with a trash, as haven run configures the
// executor: Cleanup moves the directories aside, so they are gone from
// their places at once, and the caller empties the trash later.
func TestConformanceWithTrash(t *testing.T) {
	needPython(t)
	executortest.Run(t, func(t *testing.T) executor.Executor {
		trash := outputs.NewTrash(1000, 1<<30)
		t.Cleanup(func() {
			if err := trash.Empty(); err != nil {
				t.Errorf("empty trash: %v", err)
			}
		})
		return newExecutor(t, local.Config{Trash: trash})
	}, executortest.Env{
		Job: func(b executortest.Behaviour) (string, []string) {
			return "python:v2", executortest.PythonArgs(b)
		},
		WritesFiles: true,
	})
}

// project is a job's directories, with the study code given.
type project struct {
	root, code, workspace, scratch, logs string
}

func newProject(t *testing.T, files map[string]string) project {
	t.Helper()
	root := t.TempDir()
	p := project{
		root:      root,
		code:      filepath.Join(root, "project"),
		workspace: filepath.Join(root, "workspace"),
		scratch:   filepath.Join(root, "scratch"),
		logs:      filepath.Join(root, "logs"),
	}
	for _, d := range []string{p.code, p.workspace, p.scratch, p.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		writeFile(t, filepath.Join(p.code, name), content)
	}
	return p
}

func (p project) job(action, image string, args []string, spec map[string]string) executor.JobDefinition {
	var patterns []string
	for k := range spec {
		patterns = append(patterns, k)
	}
	slices.Sort(patterns)
	return executor.JobDefinition{
		ID:              "job-" + action,
		RequestID:       "req",
		Workspace:       "ws",
		Action:          action,
		CreatedAt:       time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Image:           image,
		Args:            args,
		OutputSpec:      spec,
		ProjectDir:      p.code,
		ExcludePatterns: patterns,
		WorkspaceDir:    p.workspace,
		ScratchRoot:     p.scratch,
		LogDir:          p.logs,
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

// waitFor polls Status until the job is in state want.
func waitFor(t *testing.T, ex executor.Executor, def executor.JobDefinition, want executor.State) executor.Status {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		st, err := ex.Status(t.Context(), def)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.State == want {
			return st
		}
		if st.State != executor.Executing {
			t.Fatalf("job %s is %s (%q), want %s", def.ID, st.State, st.Message, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v, want %s", def.ID, st.State, settle, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runJob takes a job from Unknown to Finalized and returns its results.
func runJob(t *testing.T, ex executor.Executor, def executor.JobDefinition) *executor.Results {
	t.Helper()
	ctx := t.Context()
	if st, err := ex.Prepare(ctx, def); err != nil || st.State != executor.Prepared {
		t.Fatalf("Prepare: %s, %v", st.State, err)
	}
	if st, err := ex.Execute(ctx, def); err != nil || (st.State != executor.Executing && st.State != executor.Executed) {
		t.Fatalf("Execute: %s, %v", st.State, err)
	}
	waitFor(t, ex, def, executor.Executed)
	st, err := ex.Finalize(ctx, def, executor.FinalizeOptions{})
	if err != nil || st.State != executor.Finalized {
		t.Fatalf("Finalize: %s, %v", st.State, err)
	}
	return st.Results
}

// argsScript records its arguments and working directory as JSON.
const argsScript = `import json, os, sys
os.makedirs("output", exist_ok=True)
with open("output/args.json", "w") as f:
    json.dump({"args": sys.argv[1:], "cwd": os.getcwd()}, f)
`

type argsRecord struct {
	Args []string `json:"args"`
	Cwd  string   `json:"cwd"`
}

func readArgs(t *testing.T, p project) argsRecord {
	t.Helper()
	var rec argsRecord
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(p.workspace, "output", "args.json"))), &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestArgumentConventions(t *testing.T) {
	needPython(t)
	cases := []struct {
		name  string
		image string
		args  []string
	}{
		{"tool repeated", "python:latest", []string{"python", "analysis/args.py", "a"}},
		{"python3 repeated", "python:v2", []string{"python3", "analysis/args.py", "a"}},
		{"args only", "python:v2", []string{"analysis/args.py", "a"}},
		{"registry prefix", "ghcr.io/opensafely-core/python:v2", []string{"analysis/args.py", "a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := newProject(t, map[string]string{"analysis/args.py": argsScript})
			ex := newExecutor(t, local.Config{})
			def := p.job("args", c.image, c.args, map[string]string{"output/args.json": executor.HighlySensitive})
			res := runJob(t, ex, def)
			if res.ExitCode != 0 {
				t.Fatalf("exit code %d; log:\n%s", res.ExitCode, readFile(t, filepath.Join(p.workspace, "metadata", "args.log")))
			}
			if got := readArgs(t, p).Args; !slices.Equal(got, []string{"a"}) {
				t.Errorf("script arguments = %q, want [a]", got)
			}
		})
	}
}

func TestWorkspaceMapping(t *testing.T) {
	needPython(t)
	p := newProject(t, map[string]string{"analysis/args.py": argsScript})
	ex := newExecutor(t, local.Config{})
	def := p.job("mapping", "python:v2",
		[]string{"/workspace/analysis/args.py", "/workspace", "/workspace/output/a.csv", "--out=/workspace/output/b.csv",
			"--other=/workspaces/x", "/workspacex", "relative/workspace", "-x=/workspace"},
		map[string]string{"output/args.json": executor.HighlySensitive})
	res := runJob(t, ex, def)
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d; log:\n%s", res.ExitCode, readFile(t, filepath.Join(p.workspace, "metadata", "mapping.log")))
	}
	rec := readArgs(t, p)
	dir, err := filepath.EvalSymlinks(outputs.ScratchDir(def))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Cwd != dir {
		t.Errorf("job ran in %s, want the scratch directory %s", rec.Cwd, dir)
	}
	scratch := outputs.ScratchDir(def)
	want := []string{scratch, scratch + "/output/a.csv", "--out=" + scratch + "/output/b.csv",
		"--other=/workspaces/x", "/workspacex", "relative/workspace", "-x=" + scratch}
	if !slices.Equal(rec.Args, want) {
		t.Errorf("arguments:\n got %q\nwant %q", rec.Args, want)
	}
}

func TestEnvironmentAndLayout(t *testing.T) {
	needPython(t)
	t.Setenv("HAVEN_TEST_RUNNER_SECRET", "must-not-leak")
	p := newProject(t, map[string]string{"analysis/env.py": `import json, os
os.makedirs("output", exist_ok=True)
with open(os.path.join(os.environ["HOME"], ".cache-file"), "w") as f:
    f.write("tool cache")
with open("output/env.json", "w") as f:
    json.dump(dict(os.environ), f)
`})
	ex := newExecutor(t, local.Config{})
	def := p.job("env", "python:v2", []string{"analysis/env.py"}, map[string]string{"output/env.json": executor.HighlySensitive})
	def.Env = map[string]string{"EXTRA": "yes", "OPENSAFELY_BACKEND": "test"}
	res := runJob(t, ex, def)
	var env map[string]string
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(p.workspace, "output", "env.json"))), &env); err != nil {
		t.Fatal(err)
	}
	if _, ok := env["HAVEN_TEST_RUNNER_SECRET"]; ok {
		t.Errorf("the runner's environment leaked into the job")
	}
	for k, v := range map[string]string{"EXTRA": "yes", "OPENSAFELY_BACKEND": "test", "TZ": "UTC", "LANG": "C.UTF-8"} {
		if env[k] != v {
			t.Errorf("job environment %s = %q, want %q", k, env[k], v)
		}
	}
	scratch := outputs.ScratchDir(def)
	if home := env["HOME"]; home == "" || strings.HasPrefix(home, scratch+string(filepath.Separator)) {
		t.Errorf("HOME = %q, want a directory outside the scratch workspace %s", home, scratch)
	}
	if len(res.UnmatchedOutputs) != 0 {
		t.Errorf("UnmatchedOutputs = %q: files in HOME or the log were taken for outputs", res.UnmatchedOutputs)
	}
	// The executor's own files are next to the scratch directory, not in it.
	entries, err := os.ReadDir(scratch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "analysis" && e.Name() != "output" && e.Name() != outputs.MarkerFile {
			t.Errorf("unexpected %s in the scratch directory", e.Name())
		}
	}
	if err := ex.Cleanup(t.Context(), def); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(p.scratch); len(left) != 0 {
		t.Errorf("after Cleanup the scratch root still holds %v", left)
	}
}

// childScript starts a grandchild that would outlive a naive kill, records
// its pid, and sleeps.
const childScript = `import os, subprocess, time
p = subprocess.Popen(["sleep", "300"])
with open("child.tmp", "w") as f:
    f.write(str(p.pid))
os.rename("child.tmp", "child.pid")
print("started child", p.pid, flush=True)
time.sleep(300)
`

// waitForFile polls until path exists and returns its content.
func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		if data, err := os.ReadFile(path); err == nil {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, settle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive reports whether pid is a live process (a zombie is not alive).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

// waitGone polls until pid is no longer a live process.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %v", pid, settle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTerminateKillsProcessTree(t *testing.T) {
	needPython(t)
	p := newProject(t, map[string]string{"analysis/child.py": childScript})
	ex := newExecutor(t, local.Config{})
	def := p.job("tree", "python:v2", []string{"analysis/child.py"}, map[string]string{"output/x.txt": executor.HighlySensitive})
	ctx := t.Context()
	t.Cleanup(func() { _ = ex.Cleanup(context.Background(), def) })
	if _, err := ex.Prepare(ctx, def); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Execute(ctx, def); err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(waitForFile(t, filepath.Join(outputs.ScratchDir(def), "child.pid")))
	if err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatalf("child %d is not running before Terminate", pid)
	}
	st, err := ex.Terminate(ctx, def)
	if err != nil || st.State != executor.Executed {
		t.Fatalf("Terminate: %s, %v; want executed", st.State, err)
	}
	waitGone(t, pid)
	st, err = ex.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true})
	if err != nil || st.State != executor.Finalized {
		t.Fatalf("Finalize: %s, %v", st.State, err)
	}
	if st.Results.ExitCode != 137 {
		t.Errorf("ExitCode = %d, want 137 for a terminated job", st.Results.ExitCode)
	}
}

func TestMainExitKillsLeftovers(t *testing.T) {
	needPython(t)
	p := newProject(t, map[string]string{"analysis/bg.py": `import os, subprocess
p = subprocess.Popen(["sleep", "300"])
os.makedirs("output", exist_ok=True)
with open("output/child.pid", "w") as f:
    f.write(str(p.pid))
`})
	ex := newExecutor(t, local.Config{})
	def := p.job("bg", "python:v2", []string{"analysis/bg.py"}, map[string]string{"output/child.pid": executor.HighlySensitive})
	res := runJob(t, ex, def)
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d", res.ExitCode)
	}
	pid, err := strconv.Atoi(readFile(t, filepath.Join(p.workspace, "output", "child.pid")))
	if err != nil {
		t.Fatal(err)
	}
	// Like a container, the job ends with its main process.
	waitGone(t, pid)
}

func TestTimeout(t *testing.T) {
	needPython(t)
	p := newProject(t, nil)
	ex := newExecutor(t, local.Config{})
	def := p.job("slow", "python:v2", executortest.PythonArgs(executortest.Behaviour{Stdout: []string{"working"}, Sleep: true}),
		map[string]string{"output/x.txt": executor.HighlySensitive})
	def.Timeout = 300 * time.Millisecond
	res := runJob(t, ex, def)
	if !res.TimedOut || res.ExitCode != 137 {
		t.Errorf("TimedOut = %v, ExitCode = %d; want true and 137", res.TimedOut, res.ExitCode)
	}
	if want := "Job exceeded its time limit of 300ms"; res.Message != want {
		t.Errorf("Message = %q, want %q", res.Message, want)
	}
	log := readFile(t, filepath.Join(p.workspace, "metadata", "slow.log"))
	if !strings.Contains(log, " working\n") {
		t.Errorf("the log lost the output before the kill:\n%s", log)
	}
}

func TestUnavailable(t *testing.T) {
	noPath := t.TempDir()
	cases := []struct {
		action, image string
		args          []string
		path          string
		want          string
	}{
		{"generate_dataset", "ehrql:v1", []string{"generate-dataset", "analysis/dataset_definition.py"}, "",
			"Action generate_dataset uses ehrql:v1, which the local executor cannot run; use the docker executor"},
		{"extract", "cohortextractor:latest", []string{"generate_cohort"}, "",
			"Action extract uses cohortextractor:latest, which the local executor cannot run; use the docker executor"},
		{"build", "databuilder:v0", []string{"generate-dataset"}, "",
			"Action build uses databuilder:v0, which the local executor cannot run; use the docker executor"},
		{"sql", "sqlrunner:v1", []string{"query.sql"}, "",
			"Action sql uses sqlrunner:v1, which the local executor cannot run; use the docker executor"},
		{"join", "cohort-joiner:v0.0.44", []string{"--lhs", "output/a.csv"}, "",
			"Action join uses cohort-joiner:v0.0.44, which the local executor cannot run; use the docker executor"},
		{"model", "r:latest", []string{"analysis/model.R"}, noPath,
			"Action model uses r:latest, but Rscript was not found on PATH; install R or use the docker executor"},
		{"nb", "jupyter:latest", []string{"jupyter", "nbconvert"}, noPath,
			"Action nb uses jupyter:latest, but jupyter was not found on PATH; install Jupyter or use the docker executor"},
		{"stata", "stata-mp:latest", []string{"analysis/model.do"}, noPath,
			"Action stata uses stata-mp:latest, but stata-mp was not found on PATH; install Stata/MP or use the docker executor"},
		{"py", "python:v2", []string{"x.py"}, noPath,
			"Action py uses python:v2, but python3 was not found on PATH; install Python 3 or use the docker executor"},
	}
	for _, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			p := newProject(t, nil)
			ex := newExecutor(t, local.Config{Path: c.path})
			def := p.job(c.action, c.image, c.args, map[string]string{"output/x.csv": executor.HighlySensitive})
			var ue *executor.UnavailableError
			err := ex.CanRun(def)
			if !errors.As(err, &ue) || err.Error() != c.want || ue.Executor != "local" || ue.Image != c.image {
				t.Errorf("CanRun: %#v\nwant %q", err, c.want)
			}
			st, err := ex.Prepare(t.Context(), def)
			if !errors.As(err, &ue) || err.Error() != c.want {
				t.Errorf("Prepare: %v\nwant %q", err, c.want)
			}
			if st.State != executor.Unknown {
				t.Errorf("Prepare of an unavailable job: state %s, want unknown", st.State)
			}
			if _, err := os.Stat(outputs.ScratchDir(def)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Prepare of an unavailable job created its scratch directory")
			}
		})
	}
}

func TestNativeAction(t *testing.T) {
	p := newProject(t, nil)
	var gotDir string
	var gotArgs []string
	ex := newExecutor(t, local.Config{Native: map[string]local.NativeAction{
		"cohortextractor": func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
			gotDir, gotArgs = dir, args
			fmt.Fprintln(stdout, "native out")
			fmt.Fprint(stderr, "native err (no newline)")
			if err := os.MkdirAll(filepath.Join(dir, "output"), 0o755); err != nil {
				return 0, err
			}
			return 0, os.WriteFile(filepath.Join(dir, "output", "input.csv"), []byte("patient_id\n1\n"), 0o644)
		},
		"cohort-joiner": func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
			return 0, errors.New("cannot read output/a.csv")
		},
		"dataset-report": func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
			fmt.Fprintln(stdout, "waiting")
			<-ctx.Done()
			return 1, ctx.Err()
		},
	}})

	def := p.job("extract", "cohortextractor:latest", []string{"generate_cohort", "--output-dir=/workspace/output"},
		map[string]string{"output/input.csv": executor.HighlySensitive})
	if err := ex.CanRun(def); err != nil {
		t.Fatalf("CanRun with a native cohortextractor: %v", err)
	}
	res := runJob(t, ex, def)
	if res.ExitCode != 0 || res.Outputs["output/input.csv"] != executor.HighlySensitive {
		t.Errorf("results %+v, want exit 0 and output/input.csv", *res)
	}
	if want := []string{"generate_cohort", "--output-dir=" + outputs.ScratchDir(def) + "/output"}; !slices.Equal(gotArgs, want) || gotDir != outputs.ScratchDir(def) {
		t.Errorf("native action got dir %s args %q, want %s %q", gotDir, gotArgs, outputs.ScratchDir(def), want)
	}
	log := readFile(t, filepath.Join(p.workspace, "metadata", "extract.log"))
	if !strings.Contains(log, " native out\n") || !strings.Contains(log, " native err (no newline)\n") {
		t.Errorf("log misses the native action's output:\n%s", log)
	}

	failing := p.job("join", "cohort-joiner:v0.0.44", nil, map[string]string{"output/joined.csv": executor.HighlySensitive})
	res = runJob(t, ex, failing)
	if res.ExitCode != 1 {
		t.Errorf("failing native action: exit %d, want 1", res.ExitCode)
	}
	if log := readFile(t, filepath.Join(p.workspace, "metadata", "join.log")); !strings.Contains(log, "cannot read output/a.csv") {
		t.Errorf("the native action's error is not in the log:\n%s", log)
	}

	hanging := p.job("report", "dataset-report:v0.0.1", nil, map[string]string{"output/r.html": executor.HighlySensitive})
	ctx := t.Context()
	if _, err := ex.Prepare(ctx, hanging); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Execute(ctx, hanging); err != nil {
		t.Fatal(err)
	}
	if st, err := ex.Terminate(ctx, hanging); err != nil || st.State != executor.Executed {
		t.Fatalf("Terminate native action: %s, %v", st.State, err)
	}
	st, err := ex.Finalize(ctx, hanging, executor.FinalizeOptions{})
	if err != nil || st.Results.ExitCode != 137 {
		t.Errorf("Finalize terminated native action: %v, %+v; want exit 137", err, st.Results)
	}
}

func TestRestart(t *testing.T) {
	needPython(t)
	p := newProject(t, nil)
	ctx := t.Context()
	first := newExecutor(t, local.Config{})

	running := p.job("running", "python:v2", executortest.PythonArgs(executortest.Behaviour{Sleep: true}),
		map[string]string{"output/r.txt": executor.HighlySensitive})
	done := p.job("done", "python:v2", executortest.PythonArgs(executortest.Behaviour{Files: map[string]string{"output/d.txt": "d\n"}}),
		map[string]string{"output/d.txt": executor.HighlySensitive})
	finalized := p.job("finalized", "python:v2", executortest.PythonArgs(executortest.Behaviour{Files: map[string]string{"output/f.txt": "f\n"}}),
		map[string]string{"output/f.txt": executor.HighlySensitive})
	prepared := p.job("prepared", "python:v2", executortest.PythonArgs(executortest.Behaviour{}),
		map[string]string{"output/p.txt": executor.HighlySensitive})
	t.Cleanup(func() {
		for _, def := range []executor.JobDefinition{running, done, finalized, prepared} {
			_ = first.Cleanup(context.Background(), def)
		}
	})
	for _, def := range []executor.JobDefinition{running, done, finalized, prepared} {
		if _, err := first.Prepare(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	for _, def := range []executor.JobDefinition{running, done, finalized} {
		if _, err := first.Execute(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, first, done, executor.Executed)
	waitFor(t, first, finalized, executor.Executed)
	if _, err := first.Finalize(ctx, finalized, executor.FinalizeOptions{}); err != nil {
		t.Fatal(err)
	}

	// A new executor over the same directories: what a restarted runner has.
	second := newExecutor(t, local.Config{})
	st, err := second.Status(ctx, running)
	if err != nil || st.State != executor.Error {
		t.Fatalf("Status of a job the previous runner was running: %s, %v; want error", st.State, err)
	}
	if want := "the runner stopped while this job was running; run the action again"; st.Message != want {
		t.Errorf("Message = %q, want %q", st.Message, want)
	}
	if st, err := second.Execute(ctx, running); err != nil || st.State != executor.Error {
		t.Errorf("Execute of a lost job: %s, %v; want error and no new process", st.State, err)
	}
	if st, err := second.Terminate(ctx, running); err != nil || st.State != executor.Error {
		t.Errorf("Terminate of a lost job: %s, %v; want error", st.State, err)
	}
	st, err = second.Finalize(ctx, running, executor.FinalizeOptions{Error: true})
	if err != nil || st.State != executor.Finalized {
		t.Errorf("Finalize(error) of a lost job: %s, %v; want finalized", st.State, err)
	}

	if st, err := second.Status(ctx, prepared); err != nil || st.State != executor.Prepared {
		t.Errorf("Status of a prepared job: %s, %v; want prepared", st.State, err)
	}
	if st, err := second.Status(ctx, done); err != nil || st.State != executor.Executed {
		t.Errorf("Status of a job that finished before the restart: %s, %v; want executed", st.State, err)
	}
	st, err = second.Finalize(ctx, done, executor.FinalizeOptions{})
	if err != nil || st.State != executor.Finalized || st.Results.ExitCode != 0 || st.Results.Outputs["output/d.txt"] == "" {
		t.Errorf("Finalize after restart: %s, %v, %+v", st.State, err, st.Results)
	}
	st, err = second.Status(ctx, finalized)
	if err != nil || st.State != executor.Finalized || st.Results == nil || st.Results.Outputs["output/f.txt"] == "" {
		t.Errorf("Status of a job finalized before the restart: %s, %v, %+v; want finalized with results", st.State, err, st.Results)
	}
}

// BenchmarkTinyJob measures the executor's own cost per job, with a
// program that does nothing standing in for the interpreter.
func BenchmarkTinyJob(b *testing.B) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Skip("no true(1) on PATH")
	}
	bin := b.TempDir()
	if err := os.Symlink(truePath, filepath.Join(bin, "python3")); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	code := filepath.Join(root, "project")
	if err := os.MkdirAll(filepath.Join(code, "analysis"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(code, "analysis", "x.py"), []byte("pass\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	ex := newExecutor(b, local.Config{Path: bin})
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		def := executor.JobDefinition{
			ID: fmt.Sprintf("job%d", i), Action: fmt.Sprintf("a%d", i), Image: "python:v2", Args: []string{"analysis/x.py"},
			OutputSpec: map[string]string{"output/x.txt": executor.HighlySensitive}, ProjectDir: code,
			WorkspaceDir: filepath.Join(root, "ws"), ScratchRoot: filepath.Join(root, "scratch"), LogDir: filepath.Join(root, "logs"),
		}
		if _, err := ex.Prepare(ctx, def); err != nil {
			b.Fatal(err)
		}
		if _, err := ex.Execute(ctx, def); err != nil {
			b.Fatal(err)
		}
		for {
			st, err := ex.Status(ctx, def)
			if err != nil {
				b.Fatal(err)
			}
			if st.State == executor.Executed {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		if _, err := ex.Finalize(ctx, def, executor.FinalizeOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := ex.Cleanup(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCancelPrepared(t *testing.T) {
	p := newProject(t, nil)
	ex := newExecutor(t, local.Config{Native: map[string]local.NativeAction{
		"noop": func(context.Context, string, []string, io.Writer, io.Writer) (int, error) { return 0, nil },
	}})
	def := p.job("never", "noop:v1", nil, map[string]string{"output/x.txt": executor.HighlySensitive})
	ctx := t.Context()
	if _, err := ex.Prepare(ctx, def); err != nil {
		t.Fatal(err)
	}
	st, err := ex.Finalize(ctx, def, executor.FinalizeOptions{Cancelled: true})
	if err != nil || st.State != executor.Finalized {
		t.Fatalf("Finalize(cancelled) of a prepared job: %s, %v; want finalized", st.State, err)
	}
	if st.Results.ExitCode != -1 || !st.Results.Cancelled || st.Results.Message != "Prepared job was cancelled" {
		t.Errorf("results %+v, want exit -1, cancelled, \"Prepared job was cancelled\"", *st.Results)
	}
	if st, err := ex.Execute(ctx, def); err != nil || st.State != executor.Finalized {
		t.Errorf("Execute after a cancelled finalize: %s, %v; want finalized and nothing started", st.State, err)
	}
	// A restarted runner sees the same.
	if st, err := newExecutor(t, local.Config{}).Status(ctx, def); err != nil || st.State != executor.Finalized || st.Results == nil {
		t.Errorf("Status from a new executor: %s, %v; want finalized with results", st.State, err)
	}
}

func TestLotsOfOutput(t *testing.T) {
	needPython(t)
	p := newProject(t, map[string]string{"analysis/loud.py": `import sys
for i in range(20000):
    print("out", i)
    print("err", i, file=sys.stderr)
print("no newline at the end", end="")
`})
	ex := newExecutor(t, local.Config{})
	def := p.job("loud", "python:v2", []string{"analysis/loud.py"}, map[string]string{"output/x.txt": executor.HighlySensitive})
	res := runJob(t, ex, def)
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d", res.ExitCode)
	}
	log := readFile(t, filepath.Join(p.workspace, "metadata", "loud.log"))
	body, _, _ := strings.Cut(log, "\n\n") // the trailer follows the first blank line
	lines := strings.Split(body, "\n")
	if want := 40001; len(lines) != want {
		t.Fatalf("log has %d output lines, want %d", len(lines), want)
	}
	for _, want := range []string{" out 19999", " err 19999", " no newline at the end"} {
		if !strings.Contains(body, want+"\n") && !strings.HasSuffix(body, want) {
			t.Errorf("log misses %q", want)
		}
	}
}
