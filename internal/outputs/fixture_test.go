package outputs

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed times: the clock, when prepare finished (the marker's mtime after
// settle) and when the job wrote its files.
var (
	clockTime    = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	preparedTime = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	writtenTime  = time.Date(2026, 3, 4, 5, 3, 0, 500_000_000, time.UTC)
)

func fixedClock() time.Time { return clockTime }

// env is one job's directories, all under t.TempDir().
type env struct {
	base string
	def  executor.JobDefinition
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{base: base, def: executor.JobDefinition{
		ID:        "abcdefghijklmnop",
		RequestID: "req0123456789abc",
		Workspace: "my-workspace",
		Action:    "analyse",
		CreatedAt: time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC),
		User:      "alice",
		Image:     "python:v2",
		OutputSpec: map[string]string{
			"output/*.csv":      executor.ModeratelySensitive,
			"output/data.arrow": executor.HighlySensitive,
		},
		ProjectDir:      filepath.Join(base, "project"),
		ExcludePatterns: []string{"output/*.csv", "output/data.arrow", "other/*.csv"},
		WorkspaceDir:    filepath.Join(base, "high"),
		MediumDir:       filepath.Join(base, "medium"),
		ScratchRoot:     filepath.Join(base, "volumes"),
		LogDir:          filepath.Join(base, "logs"),
	}}
	for _, d := range []string{e.def.ProjectDir, e.def.WorkspaceDir} {
		mkdir(t, d)
	}
	write(t, filepath.Join(e.def.ProjectDir, "project.yaml"), "version: '4.0'\n")
	write(t, filepath.Join(e.def.ProjectDir, "analysis", "model.py"), "print('hi')\n")
	return e
}

// scratch is the path of a file in the job's scratch workspace.
func (e *env) scratch(rel string) string {
	return filepath.Join(ScratchDir(e.def), filepath.FromSlash(rel))
}
func (e *env) high(rel string) string {
	return filepath.Join(e.def.WorkspaceDir, filepath.FromSlash(rel))
}
func (e *env) medium(rel string) string {
	return filepath.Join(e.def.MediumDir, filepath.FromSlash(rel))
}

// prepare prepares the scratch workspace and settles every file in it at
// preparedTime, so the test decides which files are new.
func (e *env) prepare(t *testing.T) []string {
	t.Helper()
	log, _, err := PrepareScratch(e.def, fixedClock)
	if err != nil {
		t.Fatalf("PrepareScratch: %v", err)
	}
	settle(t, ScratchDir(e.def), preparedTime)
	return log
}

// jobWrites writes a file into the scratch workspace as the job would.
func (e *env) jobWrites(t *testing.T, rel, content string) {
	t.Helper()
	p := e.scratch(rel)
	write(t, p, content)
	if err := os.Chtimes(p, writtenTime, writtenTime); err != nil {
		t.Fatal(err)
	}
}

func (e *env) finalize(t *testing.T, run RunInfo, opts executor.FinalizeOptions) *executor.Results {
	t.Helper()
	res, err := Finalize(e.def, run, opts, fixedClock)
	if err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	return res
}

func (e *env) jobLog(t *testing.T) string {
	t.Helper()
	return read(t, filepath.Join(JobLogDir(e.def), "logs.txt"))
}

// settle sets the times of every regular file under dir.
func settle(t *testing.T, dir string, at time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			return os.Chtimes(p, at, at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	mkdir(t, filepath.Dir(link))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// snapshot records every file under dir (path → content, or the link
// target for a symlink), to show a directory was not changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[rel] = "-> " + target
			return err
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			out[rel] = string(b)
			return err
		case d.IsDir():
			out[rel+"/"] = ""
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s changed", what, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		mkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", p, got, want)
	}
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
