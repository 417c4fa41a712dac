package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/docker/dockertest"
)

// testClient and toyImage come from dockertest, shared with the
// end-to-end tests.
func testClient(t *testing.T) *client.Client { return dockertest.Client(t) }

func toyImage(t *testing.T, cli *client.Client) string { return dockertest.ToyImage(t, cli) }

// newTestExecutor returns an executor whose containers carry a label
// unique to the test, and removes any container with that label when the
// test ends, whatever the test did.
func newTestExecutor(t *testing.T, cli *client.Client, opts Options) *Executor {
	t.Helper()
	noPrefix := ""
	if opts.ImagePrefix == nil {
		opts.ImagePrefix = &noPrefix
	}
	run := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	opts.Labels["haven.test"] = run
	if opts.LogTail == 0 {
		opts.LogTail = 1000
	}
	e, err := New(cli, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Containers are named after job ids, which tests reuse: clear what an
	// aborted earlier run of this test left behind.
	removeLabelled(t, cli, "haven.test="+run)
	t.Cleanup(func() { removeLabelled(t, cli, "haven.test="+run) })
	return e
}

// removeLabelled force-removes the containers that carry label.
func removeLabelled(t *testing.T, cli *client.Client, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		t.Errorf("list containers labelled %s: %v", label, err)
		return
	}
	for _, c := range list.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		if err != nil && !isNotFound(err) && !cerrdefs.IsConflict(err) { // conflict: removal in progress
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	}
}

// testJob returns a job running the toy with args, with directories of
// its own and one highly sensitive output pattern per entry of outputs.
func testJob(t *testing.T, image, action string, args []string, outputs ...string) executor.JobDefinition {
	t.Helper()
	root := t.TempDir()
	def := executor.JobDefinition{
		ID:           "test-" + action,
		RequestID:    "request-1",
		Workspace:    "workspace",
		Action:       action,
		CreatedAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		User:         "tester",
		Image:        image,
		Args:         args,
		OutputSpec:   map[string]string{},
		ProjectDir:   filepath.Join(root, "project"),
		WorkspaceDir: filepath.Join(root, "workspace"),
		ScratchRoot:  filepath.Join(root, "scratch"),
		LogDir:       filepath.Join(root, "logs"),
		MemoryLimit:  256 << 20,
		CPUCount:     1,
	}
	for _, dir := range []string{def.ProjectDir, def.WorkspaceDir, def.ScratchRoot, def.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(def.ProjectDir, "analysis.txt"), []byte("code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range outputs {
		def.OutputSpec[p] = executor.HighlySensitive
		def.ExcludePatterns = append(def.ExcludePatterns, p)
	}
	return def
}

// waitState polls Status until the job is in state want. The deadline is
// for a stuck daemon, not a performance expectation.
func waitState(t *testing.T, e *Executor, def executor.JobDefinition, want executor.State) executor.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := e.Status(t.Context(), def)
		if err != nil && !errors.Is(err, executor.ErrRetry) {
			t.Fatalf("Status: %v", err)
		}
		if st.State == want {
			return st
		}
		if err == nil && st.State != executor.Executing {
			t.Fatalf("Status: %s (%q) while waiting for %s", st.State, st.Message, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status: still %s, want %s", st.State, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustStatus fails the test unless the call succeeded in state want.
func mustStatus(t *testing.T, what string, r result, want executor.State) executor.Status {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	if r.st.State != want {
		t.Fatalf("%s: state %s (%q), want %s", what, r.st.State, r.st.Message, want)
	}
	return r.st
}
