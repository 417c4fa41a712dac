package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
)

// testClient returns a client of the local Docker daemon. When the daemon
// does not answer the test is skipped, unless HAVEN_REQUIRE_DOCKER=1, when
// it fails.
func testClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = Available(ctx, cli)
		cancel()
		if err != nil {
			cli.Close()
		}
	}
	if err != nil {
		if os.Getenv("HAVEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("HAVEN_REQUIRE_DOCKER=1 but Docker is not usable: %v", err)
		}
		t.Skipf("Docker daemon not available (set HAVEN_REQUIRE_DOCKER=1 to fail instead): %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// toyImage returns the name of an image holding only the toy interpreter
// (testdata/toy) as its entrypoint, building and importing it when the
// daemon does not have it yet. No registry is involved: the binary is
// compiled here and imported from a tar stream. The tag is a hash of the
// toy's source, so a changed toy gets a new image and tests running in
// parallel agree on the name without sharing state.
func toyImage(t *testing.T, cli *client.Client) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "toy", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	image := "haven-test-toy:" + hex.EncodeToString(sum[:6])
	ctx := t.Context()
	if _, err := cli.ImageInspect(ctx, image); err == nil {
		return image
	} else if !isNotFound(err) {
		t.Fatalf("inspect %s: %v", image, err)
	}

	bin := filepath.Join(t.TempDir(), "toy")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./testdata/toy")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the toy interpreter: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, // HOME=/tmp
		{Name: "toy", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	rc, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &layer, SourceName: "-"}, image,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/toy"]`}})
	if err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("import %s: %s", image, out)
	}
	return image
}

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
