package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// runToEnd prepares and executes def, waits until it has stopped, and
// returns the container as the daemon saw it (before Finalize and
// Cleanup, so tests can look at it).
func runToEnd(t *testing.T, e *Executor, def executor.JobDefinition) container.InspectResponse {
	t.Helper()
	ctx := t.Context()
	mustStatus(t, "Prepare", call(e.Prepare(ctx, def)), executor.Prepared)
	st, err := e.Execute(ctx, def)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if st.State != executor.Executing && st.State != executor.Executed {
		t.Fatalf("Execute: state %s, want executing", st.State)
	}
	if err := e.Wait(ctx, def); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	waitState(t, e, def, executor.Executed)
	c, found, err := e.inspect(ctx, def)
	if err != nil || !found {
		t.Fatalf("inspect container of %s: found %v, %v", def.ID, found, err)
	}
	return c
}

// result is one method's answer, so calls can be checked inline.
type result struct {
	st  executor.Status
	err error
}

// call packs a method's two results for mustStatus.
func call(st executor.Status, err error) result { return result{st, err} }

func finalize(t *testing.T, e *Executor, def executor.JobDefinition, opts executor.FinalizeOptions) *executor.Results {
	t.Helper()
	st := mustStatus(t, "Finalize", call(e.Finalize(t.Context(), def, opts)), executor.Finalized)
	if st.Results == nil {
		t.Fatal("Finalize: no results")
	}
	return st.Results
}

// jobLog is the log Finalize wrote to the log directory.
func jobLog(t *testing.T, def executor.JobDefinition) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(outputs.JobLogDir(def), "logs.txt"))
	if err != nil {
		t.Fatalf("read job log: %v", err)
	}
	return string(b)
}

// TestIsolation checks upstream's isolation, both as configured and as the
// job sees it: no network, no capabilities, no-new-privileges, a non-root
// user, limits, labels, the environment, /workspace.
func TestIsolation(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	e := newTestExecutor(t, cli, Options{Labels: map[string]string{"run": "r1"}})
	def := testJob(t, image, "isolated", []string{
		"id", "status", "net", "env", "HOME", "env", "OPENSAFELY_BACKEND", "env", "SECRET",
		"cat", "analysis.txt", "write", "output/a.txt", "written",
	}, "output/a.txt")
	def.Env = map[string]string{"SECRET": "s3cr3t-value"}

	c := runToEnd(t, e, def)
	if c.State.ExitCode != 0 {
		t.Errorf("exit code %d, want 0; log:\n%s", c.State.ExitCode, mustLog(t, e, def))
	}

	hc, cfg := c.HostConfig, c.Config
	if hc.NetworkMode != "none" {
		t.Errorf("NetworkMode = %q, want none", hc.NetworkMode)
	}
	if !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) != 0 {
		t.Errorf("CapDrop = %q, CapAdd = %q; want [ALL] and none", hc.CapDrop, hc.CapAdd)
	}
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("SecurityOpt = %q, want no-new-privileges", hc.SecurityOpt)
	}
	if hc.Init == nil || !*hc.Init {
		t.Errorf("Init = %v, want true", hc.Init)
	}
	if hc.Privileged {
		t.Error("container is privileged")
	}
	if u, _, _ := strings.Cut(cfg.User, ":"); cfg.User == "" || u == "0" || u == "root" {
		t.Errorf("User = %q, want a non-root uid:gid", cfg.User)
	}
	if hc.Memory != def.MemoryLimit || hc.NanoCPUs != 1e9 {
		t.Errorf("Memory = %d, NanoCPUs = %d; want %d and 1e9", hc.Memory, hc.NanoCPUs, def.MemoryLimit)
	}
	if hc.LogConfig.Type != "local" {
		t.Errorf("log driver %q, want local", hc.LogConfig.Type)
	}
	for k, v := range map[string]string{LabelJob: def.ID, LabelWorkspace: "workspace", LabelAction: "isolated", "run": "r1"} {
		if cfg.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], v)
		}
	}
	if cfg.WorkingDir != "/workspace" || len(c.Mounts) != 1 || c.Mounts[0].Destination != "/workspace" ||
		c.Mounts[0].Source != outputs.ScratchDir(def) || !c.Mounts[0].RW {
		t.Errorf("WorkingDir %q, mounts %+v; want the scratch directory read-write at /workspace", cfg.WorkingDir, c.Mounts)
	}
	for _, arg := range append(slices.Clone(c.Args), c.Path) {
		if strings.Contains(arg, "s3cr3t") {
			t.Errorf("an environment value is on the command line: %q", c.Args)
		}
	}

	res := finalize(t, e, def, executor.FinalizeOptions{})
	log := jobLog(t, def)
	for _, want := range []string{
		" uid=" + strings.Split(e.user, ":")[0] + " gid=",
		" CapEff: 0000000000000000\n",
		" NoNewPrivs: 1\n",
		" interfaces: lo\n",
		"network is unreachable",
		" HOME=/tmp\n",
		" OPENSAFELY_BACKEND=expectations\n",
		" SECRET=s3cr3t-value\n",
		" code\n", // the project was copied in
	} {
		if !strings.Contains(log, want) {
			t.Errorf("job log lacks %q:\n%s", want, log)
		}
	}
	if res.ExitCode != 0 || res.Outputs["output/a.txt"] != executor.HighlySensitive {
		t.Errorf("results: exit %d, outputs %v; want 0 and output/a.txt", res.ExitCode, res.Outputs)
	}
	if !strings.HasPrefix(res.ImageID, "sha256:") {
		t.Errorf("ImageID = %q, want the image's sha256 id", res.ImageID)
	}
	if got, err := os.ReadFile(filepath.Join(def.WorkspaceDir, "output", "a.txt")); err != nil || string(got) != "written" {
		t.Errorf("workspace output/a.txt = %q, %v; want %q", got, err, "written")
	}
}

// mustLog reads a container's log through the executor.
func mustLog(t *testing.T, e *Executor, def executor.JobDefinition) string {
	t.Helper()
	b, err := e.containerLog(t.Context(), containerName(def))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLog checks the log: stdout and stderr both, each line with Docker's
// RFC 3339 timestamp, only the last LogTail lines.
func TestLog(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	e := newTestExecutor(t, cli, Options{LogTail: 100})
	// The daemon reads stdout and stderr separately, so their relative
	// order is not guaranteed (a stderr line written first can come last):
	// check only that both are there.
	def := testJob(t, image, "chatty", []string{"echoerr", "on stderr", "lines", "50"}, "output/x.txt")
	runToEnd(t, e, def)
	texts := logTexts(t, mustLog(t, e, def))
	if len(texts) != 51 || !slices.Contains(texts, "on stderr") || !slices.Contains(texts, "line 1") || !slices.Contains(texts, "line 50") {
		t.Errorf("log lines = %q, want the stderr line and 50 stdout lines", texts)
	}

	short := newTestExecutor(t, cli, Options{LogTail: 10})
	def = testJob(t, image, "long", []string{"lines", "50"}, "output/x.txt")
	runToEnd(t, short, def)
	texts = logTexts(t, mustLog(t, short, def))
	want := []string{"line 41", "line 42", "line 43", "line 44", "line 45", "line 46", "line 47", "line 48", "line 49", "line 50"}
	if !slices.Equal(texts, want) {
		t.Errorf("log lines with LogTail 10 = %q, want %q", texts, want)
	}
}

// logTexts checks that every line of log starts with a 30-character UTC
// RFC 3339 timestamp and a space, and returns the texts after it.
func logTexts(t *testing.T, log string) []string {
	t.Helper()
	var texts []string
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		stamp, text, _ := strings.Cut(line, " ")
		if ts, err := time.Parse(time.RFC3339Nano, stamp); err != nil || ts.Location() != time.UTC || len(stamp) != 30 {
			t.Errorf("line %q does not start with a 30-character UTC RFC 3339 timestamp", line)
		}
		texts = append(texts, text)
	}
	return texts
}

// TestOutOfMemory checks that a job allocating past its memory limit is
// reported as out of memory, with the limit.
func TestOutOfMemory(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	e := newTestExecutor(t, cli, Options{})
	def := testJob(t, image, "hungry", []string{"echo", "allocating", "alloc", "1024", "echo", "survived"}, "output/x.txt")
	def.MemoryLimit = 64 << 20

	c := runToEnd(t, e, def)
	if c.State.ExitCode != 137 {
		t.Errorf("exit code %d, want 137 (killed)", c.State.ExitCode)
	}
	if oom, err := e.oomEvent(t.Context(), c); err != nil || !oom {
		t.Errorf("oomEvent = %v, %v; want the daemon's record of the OOM kill", oom, err)
	}
	res := finalize(t, e, def, executor.FinalizeOptions{})
	if !res.OOMKilled {
		t.Errorf("OOMKilled = false, want true (daemon state %+v)", *c.State)
	}
	if want := "Job ran out of memory (limit was 0.06GB)"; res.Message != want {
		t.Errorf("Message = %q, want %q", res.Message, want)
	}
	if log := jobLog(t, def); strings.Contains(log, "survived") || !strings.Contains(log, "allocating") {
		t.Errorf("job log:\n%s\nwant the line before the allocation and not the one after", log)
	}
}

// TestMissingImage checks that a job whose image is absent is refused
// before anything is prepared. The executor cannot pull: Client has no
// pull method, so that is checked by the compiler.
func TestMissingImage(t *testing.T) {
	cli := testClient(t)
	prefix := "haven-test-registry.invalid/"
	e := newTestExecutor(t, cli, Options{ImagePrefix: &prefix})
	def := testJob(t, "absent:v0", "imageless", []string{"echo", "x"}, "output/x.txt")

	_, err := e.Prepare(t.Context(), def)
	var ue *executor.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("Prepare: %v, want an *executor.UnavailableError", err)
	}
	if !strings.HasPrefix(ue.Reason, "Docker image haven-test-registry.invalid/absent:v0 is not currently available") ||
		!strings.Contains(ue.Reason, "docker pull haven-test-registry.invalid/absent:v0") || ue.Executor != "docker" || ue.Image != "absent:v0" {
		t.Errorf("UnavailableError = %+v", *ue)
	}
	if _, err := os.Stat(outputs.ScratchDir(def)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a scratch directory was made for a job that cannot run (stat: %v)", err)
	}
	if _, err := cli.ImageInspect(t.Context(), "haven-test-registry.invalid/absent:v0"); !isNotFound(err) {
		t.Errorf("image inspect after Prepare: %v, want not found", err)
	}
	missing, err := e.HasImages(t.Context(), []string{"absent:v0", "other:v1"})
	if err != nil || !slices.Equal(missing, []string{"absent:v0", "other:v1"}) {
		t.Errorf("HasImages = %q, %v; want both missing", missing, err)
	}

	image := toyImage(t, cli)
	local, err := New(cli, Options{ImagePrefix: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	missing, err = local.HasImages(t.Context(), []string{image, "absent:v0"})
	if err != nil || !slices.Equal(missing, []string{"absent:v0"}) {
		t.Errorf("HasImages(%s, absent:v0) = %q, %v; want absent:v0", image, missing, err)
	}
}

// TestDatabaseAction checks that a database action is refused when no
// database network is configured.
func TestDatabaseAction(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	e := newTestExecutor(t, cli, Options{})
	def := testJob(t, image, "extract", []string{"echo", "x"}, "output/x.txt")
	def.AllowDatabaseAccess = true
	_, err := e.Prepare(t.Context(), def)
	var ue *executor.UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "database") {
		t.Fatalf("Prepare of a database action: %v, want an *executor.UnavailableError about the database", err)
	}
}

// TestReattach checks that a new Executor value, as after a runner
// restart, sees a still-running container as Executing, then Executed,
// and can finalize it.
func TestReattach(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	ctx := t.Context()
	def := testJob(t, image, "survivor", []string{"echo", "started", "await", "go-on", "write", "output/r.txt", "done"}, "output/r.txt")

	first := newTestExecutor(t, cli, Options{})
	mustStatus(t, "Prepare", call(first.Prepare(ctx, def)), executor.Prepared)
	mustStatus(t, "Execute", call(first.Execute(ctx, def)), executor.Executing)
	// The runner dies: the first executor is never used again.

	second, err := New(cli, Options{ImagePrefix: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	st := mustStatus(t, "Status after restart", call(second.Status(ctx, def)), executor.Executing)
	if st.Timestamp == 0 {
		t.Error("Executing with timestamp 0, want the container's start time")
	}
	// Let the job finish: it waits for this file in its workspace.
	if err := os.WriteFile(filepath.Join(outputs.ScratchDir(def), "go-on"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(ctx, def); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	waitState(t, second, def, executor.Executed)
	res := finalize(t, second, def, executor.FinalizeOptions{})
	if res.ExitCode != 0 || res.Outputs["output/r.txt"] == "" {
		t.Errorf("results after re-attaching: exit %d, outputs %v", res.ExitCode, res.Outputs)
	}

	third, err := New(cli, Options{ImagePrefix: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	st = mustStatus(t, "Status from a third executor", call(third.Status(ctx, def)), executor.Finalized)
	if st.Results == nil || st.Results.Outputs["output/r.txt"] == "" {
		t.Errorf("saved results = %+v, want the outputs", st.Results)
	}
	if err := third.Cleanup(ctx, def); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "Status after Cleanup", call(third.Status(ctx, def)), executor.Unknown)
}

// TestCreatedNotStarted checks the crash between create and start: the
// container exists but never ran, the job is Prepared, and Execute starts
// that container instead of making another.
func TestCreatedNotStarted(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	ctx := t.Context()
	e := newTestExecutor(t, cli, Options{})
	def := testJob(t, image, "halfway", []string{"write", "output/h.txt", "once"}, "output/h.txt")
	mustStatus(t, "Prepare", call(e.Prepare(ctx, def)), executor.Prepared)
	opts := containerSpec(def, spec{
		Image: image, ScratchDir: outputs.ScratchDir(def), User: e.user, CPUs: 1, Memory: 64 << 20,
		Network: "none", Backend: "expectations", Labels: e.labels, LogConfig: e.logConfig,
	})
	created, err := cli.ContainerCreate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "Status of a created container", call(e.Status(ctx, def)), executor.Prepared)
	mustStatus(t, "Execute", call(e.Execute(ctx, def)), executor.Executing)
	waitState(t, e, def, executor.Executed)
	c, _, err := e.inspect(ctx, def)
	if err != nil || c.ID != created.ID {
		t.Errorf("container %s ran, want the one created before (%s); %v", c.ID, created.ID, err)
	}
}

// TestTimeLimit checks that a job running past its time limit is killed
// and reported, both when Status finds it over the limit (with a clock
// that is already past it) and when Wait returns at the limit.
func TestTimeLimit(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)

	t.Run("Status", func(t *testing.T) {
		ctx := t.Context()
		late := func() time.Time { return time.Now().Add(3 * time.Hour) }
		e := newTestExecutor(t, cli, Options{})
		def := testJob(t, image, "slow", []string{"echo", "started", "sleep", "86400"}, "output/x.txt")
		def.Timeout = 2 * time.Hour
		mustStatus(t, "Prepare", call(e.Prepare(ctx, def)), executor.Prepared)
		mustStatus(t, "Execute", call(e.Execute(ctx, def)), executor.Executing)
		mustStatus(t, "Status", call(e.Status(ctx, def)), executor.Executing) // the real clock: within the limit

		// A restarted runner whose clock says the limit has passed.
		later, err := New(cli, Options{ImagePrefix: new(string), Now: late})
		if err != nil {
			t.Fatal(err)
		}
		if err := later.Wait(ctx, def); err != nil {
			t.Fatalf("Wait past the limit: %v", err)
		}
		waitState(t, later, def, executor.Executed)
		res := finalize(t, later, def, executor.FinalizeOptions{})
		if !res.TimedOut || res.ExitCode == 0 {
			t.Errorf("TimedOut = %v, exit %d; want true and the code of a killed process", res.TimedOut, res.ExitCode)
		}
		if want := "Job exceeded its time limit of 2h"; res.Message != want {
			t.Errorf("Message = %q, want %q", res.Message, want)
		}
	})

	t.Run("Wait", func(t *testing.T) {
		ctx := t.Context()
		e := newTestExecutor(t, cli, Options{})
		def := testJob(t, image, "slower", []string{"sleep", "86400"}, "output/x.txt")
		def.Timeout = 500 * time.Millisecond
		mustStatus(t, "Prepare", call(e.Prepare(ctx, def)), executor.Prepared)
		mustStatus(t, "Execute", call(e.Execute(ctx, def)), executor.Executing)
		if err := e.Wait(ctx, def); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		waitState(t, e, def, executor.Executed)
		if res := finalize(t, e, def, executor.FinalizeOptions{}); !res.TimedOut {
			t.Errorf("TimedOut = false, want true (results %+v)", *res)
		}
	})

	t.Run("FinishedInTime", func(t *testing.T) {
		e := newTestExecutor(t, cli, Options{})
		def := testJob(t, image, "quick", []string{"write", "output/q.txt", "q"}, "output/q.txt")
		def.Timeout = time.Hour
		runToEnd(t, e, def)
		if res := finalize(t, e, def, executor.FinalizeOptions{}); res.TimedOut || res.ExitCode != 0 {
			t.Errorf("TimedOut = %v, exit %d; want false and 0", res.TimedOut, res.ExitCode)
		}
	})
}

// TestTerminateAndCleanup checks that Terminate kills the container
// (processes the job started included) and Cleanup removes the container
// and the executor's files.
func TestTerminateAndCleanup(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	ctx := t.Context()
	e := newTestExecutor(t, cli, Options{})
	def := testJob(t, image, "stubborn", []string{"spawn-and-sleep", "86400"}, "output/x.txt")
	mustStatus(t, "Prepare", call(e.Prepare(ctx, def)), executor.Prepared)
	mustStatus(t, "Execute", call(e.Execute(ctx, def)), executor.Executing)
	mustStatus(t, "Terminate", call(e.Terminate(ctx, def)), executor.Executed)
	c, found, err := e.inspect(ctx, def)
	if err != nil || !found || c.State.Running || c.State.ExitCode != 137 {
		t.Fatalf("after Terminate: found %v, state %+v, %v; want stopped with 137", found, c.State, err)
	}
	res := finalize(t, e, def, executor.FinalizeOptions{Cancelled: true})
	if !res.Cancelled || res.TimedOut || res.OOMKilled {
		t.Errorf("results %+v, want cancelled only", *res)
	}

	if err := e.Cleanup(ctx, def); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, containerName(def), client.ContainerInspectOptions{}); !isNotFound(err) {
		t.Errorf("container inspect after Cleanup: %v, want not found", err)
	}
	for _, path := range []string{outputs.ScratchDir(def), resultsPath(def)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Cleanup (%v)", path, err)
		}
	}
	mustStatus(t, "Status after Cleanup", call(e.Status(ctx, def)), executor.Unknown)
}

// TestForgedResults checks that a job cannot make itself look finalized or
// timed out by writing the executor's records into its workspace.
func TestForgedResults(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	e := newTestExecutor(t, cli, Options{})
	def := testJob(t, image, "forger", []string{
		"write", "os-job-test-forger.results.json", `{"finalized_at_ns":1,"results":{"ExitCode":0}}`,
		"write", "os-job-test-forger.timed-out", "x", "exit", "1",
	}, "output/x.txt")
	runToEnd(t, e, def)
	res := finalize(t, e, def, executor.FinalizeOptions{})
	if res.ExitCode != 1 || res.TimedOut {
		t.Errorf("results %+v, want exit 1 and not timed out", *res)
	}
}

// TestAvailable checks the daemon probe against a daemon that is not
// there.
func TestAvailable(t *testing.T) {
	cli, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "no-docker.sock")))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := Available(ctx, cli); err == nil {
		t.Error("Available with no daemon: nil, want an error")
	}
}

// TestNewFromEnv checks the constructor the CLI uses: it connects, checks
// the daemon, and refuses a root container user.
func TestNewFromEnv(t *testing.T) {
	testClient(t) // skip without a daemon
	e, err := NewFromEnv(t.Context(), Options{})
	if err != nil {
		t.Fatalf("NewFromEnv: %v", err)
	}
	if e.Name() != "docker" || e.ImageRef("python:v2") != DefaultImagePrefix+"python:v2" {
		t.Errorf("Name %q, ImageRef(python:v2) %q", e.Name(), e.ImageRef("python:v2"))
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := NewFromEnv(t.Context(), Options{User: "0:0"}); err == nil {
		t.Error("NewFromEnv with User 0:0: nil error, want a refusal")
	}
}
