// Package e2e holds end-to-end scenarios: the haven binary run as a user
// runs it, against real projects in temporary folders.
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// havenBin is the binary under test, built once by TestMain.
var havenBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "haven-e2e-")
	if err != nil {
		panic(err)
	}
	havenBin = filepath.Join(dir, "haven")
	build := exec.Command("go", "build", "-o", havenBin, "../cmd/haven")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building haven: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needPython skips tests whose actions run python3 where there is none.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("HAVEN_REQUIRE_PYTHON") == "1" {
			t.Fatal("python3 not found and HAVEN_REQUIRE_PYTHON=1")
		}
		t.Skip("python3 not found: the local executor runs python actions with it")
	}
}

// needGit skips tests that need git (the job server reads studies with it)
// where there is none.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("HAVEN_REQUIRE_GIT") == "1" {
			t.Fatal("git not found and HAVEN_REQUIRE_GIT=1")
		}
		t.Skip("git not found: the job server reads studies with it")
	}
}

// project writes files (path -> content) into a new project folder.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "study")
	for path, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runHaven runs the binary in dir with args and returns what it did.
func runHaven(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, havenBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("haven %s: %v", strings.Join(args, " "), err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// syncBuffer is a buffer a test may read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary in the background in its own process group.
func start(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(havenBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
