package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runBundle runs `haven outputs bundle ARGS...` in-process, adding the
// bundle command to `haven outputs` when it is not registered there.
func runBundle(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	root := a.rootCommand()
	outputs, _, err := root.Find([]string{"outputs"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := outputs.Find([]string{"bundle"}); err != nil || c == outputs {
		c := a.outputsBundleCommand()
		c.RunE = runE(c.RunE)
		outputs.AddCommand(c)
	}
	root.SetArgs(append([]string{"outputs", "bundle"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	code := a.exitCode(root.ExecuteContext(context.Background()))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// bundleFiles writes files (path -> content) into a new temporary folder
// and changes into it for the test.
func bundleFiles(t *testing.T, files map[string]string) {
	t.Helper()
	t.Chdir(t.TempDir())
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOutputsBundle(t *testing.T) {
	const clean = "age_band,patients\n18-39,125\n40-59,240\n60-79,95\n"
	const small = "sex,patients\nfemale,125\nmale,6\n"

	t.Run("pass", func(t *testing.T) {
		bundleFiles(t, map[string]string{"output/by_age.csv": clean})
		r := runBundle(t, "--to", "release", "output/*.csv")
		r.wantCode(t, exitOK)
		for _, w := range []string{
			"output/*.csv matched 1 file\n",
			"wrote 1 file to release (request.md, request.json)\n",
			"Request verdict: PASS\n",
		} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("stdout does not contain %q:\n%s", w, r.stdout)
			}
		}
		if r.stderr != "" {
			t.Errorf("stderr: %s", r.stderr)
		}
		for _, name := range []string{"release/output/by_age.csv", "release/request.md", "release/request.json", "release/check.json"} {
			if _, err := os.Stat(name); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("fail still writes the bundle", func(t *testing.T) {
		bundleFiles(t, map[string]string{"output/by_age.csv": clean, "output/by_sex.csv": small})
		r := runBundle(t, "--to", "release", "--profile", "opensafely", "output")
		r.wantCode(t, exitInvalid)
		for _, w := range []string{"output matched 2 files", "wrote 2 files to release", "Request verdict: FAIL"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("stdout does not contain %q:\n%s", w, r.stdout)
			}
		}
		md, err := os.ReadFile("release/request.md")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), "**C1** FAIL") {
			t.Errorf("request.md has no C1 finding:\n%s", md)
		}
	})

	t.Run("context", func(t *testing.T) {
		bundleFiles(t, map[string]string{
			"output/by_age.csv": clean,
			"release.yaml":      "outputs:\n  output/by_age.csv:\n    description: Patients by age band\n    population: {description: registered adults, size: 250000}\n",
		})
		r := runBundle(t, "--to", "release", "--context", "release.yaml", "output/by_age.csv")
		r.wantCode(t, exitOK)
		md, err := os.ReadFile("release/request.md")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"**Description:** Patients by age band", "**Population:** registered adults", "**Population size:** 250000"} {
			if !strings.Contains(string(md), w) {
				t.Errorf("request.md does not contain %q:\n%s", w, md)
			}
		}
	})

	t.Run("force", func(t *testing.T) {
		bundleFiles(t, map[string]string{"output/by_age.csv": clean, "release/old.txt": "x"})
		r := runBundle(t, "--to", "release", "output")
		r.wantCode(t, exitInvalid)
		if !strings.Contains(r.stderr, "haven: the destination release is not empty") || !strings.Contains(r.stderr, "--force") {
			t.Errorf("stderr: %s", r.stderr)
		}
		runBundle(t, "--to", "release", "--force", "output").wantCode(t, exitOK)
	})

	t.Run("input errors", func(t *testing.T) {
		bundleFiles(t, map[string]string{"output/by_age.csv": clean})
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--to", "release", "output/*.json"}, `the pattern "output/*.json" matches no files`},
			{[]string{"--to", "release", "missing.csv"}, "missing.csv does not exist"},
			{[]string{"--to", "output/release", "output"}, "is inside the input output"},
			{[]string{"--to", "release", "--profile", "nope", "output"}, `unknown profile "nope"`},
			{[]string{"--to", "release", "--context", "nope.yaml", "output"}, "read context"},
		} {
			r := runBundle(t, tt.args...)
			r.wantCode(t, exitInvalid)
			if !strings.HasPrefix(r.stderr, "haven: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("%v: stderr does not mention %q:\n%s", tt.args, tt.want, r.stderr)
			}
			noStackTrace(t, r.stderr)
		}
		if _, err := os.Stat("release"); err == nil {
			t.Error("a refused bundle created its destination")
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		bundleFiles(t, map[string]string{"output/by_age.csv": clean})
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"output"}, "--to is required"},
			{[]string{"--to", "", "output"}, "--to is required"},
			{[]string{"--to", "release"}, "requires at least 1 arg"},
			{[]string{"--to", "release", "--bogus", "output"}, "unknown flag: --bogus"},
			{[]string{"--to"}, "flag needs an argument"},
		} {
			r := runBundle(t, tt.args...)
			r.wantCode(t, exitUsage)
			if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("%v: stderr does not mention %q (stdout %q):\n%s", tt.args, tt.want, r.stdout, r.stderr)
			}
		}
	})

	t.Run("help", func(t *testing.T) {
		r := runBundle(t, "--help")
		r.wantCode(t, exitOK)
		for _, w := range []string{"bundle --to DIR [flags] PATH...", "--to", "--profile", "--context", "--force", "Exit codes:", "Examples:", "request.md"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("help does not mention %q:\n%s", w, r.stdout)
			}
		}
	})
}
