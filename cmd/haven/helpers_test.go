package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// result is what one run of the command line produced.
type result struct {
	code           int
	stdout, stderr string
}

// run calls Run with args and captures its output.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// wantCode fails the test when the run ended with another exit code.
func (r result) wantCode(t *testing.T, want int) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

// repoRoot finds the module root by walking up from the package directory to
// go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// examples lists the example projects under examples/ in the repository.
var examples = []string{"flucats", "mechanical-valve-anticoag", "primary-care-covid-codes"}

// Relative paths (from this package's directory, where tests run) keep the
// file names printed in output, and so the golden files, stable.
const (
	threeMistakesDir = "testdata/projects/three-mistakes"
	valveDir         = "../../examples/mechanical-valve-anticoag"
)

// checkGolden compares got with testdata/golden/NAME, or rewrites the file
// when the test runs with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/haven -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run `go test ./cmd/haven -update` to accept it)\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff describes the first line where want and got differ, and shows both
// in full.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			b.WriteString("first difference at line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
			break
		}
	}
	b.WriteString("--- want\n" + want + "\n--- got\n" + got)
	return b.String()
}

// noStackTrace fails the test when s looks like a Go panic or stack trace.
func noStackTrace(t *testing.T, s string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime/", ".go:"} {
		if strings.Contains(s, bad) {
			t.Errorf("output looks like a Go stack trace (contains %q):\n%s", bad, s)
		}
	}
}

// noANSI fails the test when s holds an ANSI escape sequence.
func noANSI(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, "\x1b") {
		t.Errorf("%s contains an ANSI escape:\n%q", what, s)
	}
}
