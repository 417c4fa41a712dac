package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

// crashActions is the size of the pipeline the crash test kills.
const crashActions = 50

// crashProject is a 50-action pipeline: a root, then a ladder where each
// action needs the one before and the root, each writing its output slowly
// in chunks so a kill can land mid-write.
func crashProject(t *testing.T) (string, map[string]string) {
	var b strings.Builder
	b.WriteString("version: '5.0'\nactions:\n")
	want := map[string]string{}
	for i := 0; i < crashActions; i++ {
		name := fmt.Sprintf("step_%02d", i)
		needs := ""
		switch {
		case i == 1:
			needs = "    needs: [step_00]\n"
		case i > 1:
			needs = fmt.Sprintf("    needs: [step_00, step_%02d]\n", i-1)
		}
		out := "output/" + name + ".csv"
		// 40 chunks of one line each, 5 ms apart: about 0.2 s per job.
		fmt.Fprintf(&b, "  %s:\n    run: python:v2 analysis/write.py %s %s\n%s    outputs:\n      moderately_sensitive:\n        table: %s\n",
			name, out, name, needs, out)
		var content strings.Builder
		content.WriteString("row,name\n")
		for k := 0; k < 40; k++ {
			fmt.Fprintf(&content, "%d,%s\n", k, name)
		}
		want[out] = content.String()
	}
	dir := project(t, map[string]string{
		"project.yaml": b.String(),
		"analysis/write.py": `import os, sys, time
path, name = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write("row,name\n")
    for k in range(40):
        f.write(f"{k},{name}\n")
        f.flush()
        time.sleep(0.005)
`,
	})
	return dir, want
}

// TestKillNine kills `haven run` with SIGKILL at random moments, 30 times
// (seeded), restarting it each time; then checks that no job was left
// running, that every succeeded job's outputs are whole, and that a final
// run completes.
func TestKillNine(t *testing.T) {
	needPython(t)
	if testing.Short() {
		t.Skip("kills haven 30 times; skipped with -short")
	}
	dir, want := crashProject(t)
	rng := rand.New(rand.NewPCG(2026, 11))
	for round := 0; round < 30; round++ {
		cmd, out := start(t, dir, "run", "run_all", "--executor", "local", "-j", "2")
		delay := time.Duration(50+rng.IntN(1500)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-time.After(delay):
			// Kill haven and everything in its process group.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		case err := <-exited:
			// It finished before the kill: fine, as long as it did not
			// fail for another reason.
			if err != nil && !strings.Contains(out.String(), "=> ") {
				t.Fatalf("round %d: haven failed before being killed: %v\n%s", round, err, out.String())
			}
		}
		checkNoPartialOutputs(t, dir, want, round)
		checkSucceededOutputs(t, dir, want, round)
	}

	// A final run reconciles what the last kill left, then completes.
	r := runHaven(t, dir, "run", "run_all", "--executor", "local", "-j", "2")
	if r.code != 0 {
		t.Fatalf("final run_all: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "metadata", "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobs, err := db.WorkspaceJobs(context.Background(), "study")
	if err != nil {
		t.Fatal(err)
	}
	succeeded := map[string]bool{}
	for _, j := range jobs {
		if !j.StatusCode.IsFinal() {
			t.Errorf("job %s (%s) left %s", j.ID, j.Action, j.StatusCode)
		}
		if j.State == haven.StateSucceeded {
			succeeded[j.Action] = true
		}
	}
	if len(succeeded) != crashActions {
		t.Errorf("%d of %d actions have a succeeded job", len(succeeded), crashActions)
	}
	checkNoPartialOutputs(t, dir, want, -1)
	for path, content := range want {
		if got := readFile(t, filepath.Join(dir, path)); got != content {
			t.Errorf("%s after the final run is not whole (%d of %d bytes)", path, len(got), len(content))
		}
	}
	// Nothing is left in the scratch area: the last run emptied the trash,
	// with what the killed runs left in it.
	left, _ := os.ReadDir(filepath.Join(dir, "metadata", "volumes"))
	trash, _ := os.ReadDir(filepath.Join(dir, "metadata", "volumes", ".haven-trash"))
	if len(left) > 1 || (len(left) == 1 && left[0].Name() != ".haven-trash") || len(trash) > 0 {
		names := []string{}
		for _, e := range append(left, trash...) {
			names = append(names, e.Name())
		}
		t.Errorf("scratch directories left behind: %v", names)
	}
	t.Logf("%d jobs over 31 runs", len(jobs))
}

// checkNoPartialOutputs fails if any output file in the project is not
// exactly what its action writes: outputs are moved into place whole or
// not at all.
func checkNoPartialOutputs(t *testing.T, dir string, want map[string]string, round int) {
	t.Helper()
	for path, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Fatalf("round %d: %s is partial (%d of %d bytes)", round, path, len(b), len(content))
		}
	}
}

// checkSucceededOutputs fails if a job recorded as succeeded has an output
// that is missing or not whole.
func checkSucceededOutputs(t *testing.T, dir string, want map[string]string, round int) {
	t.Helper()
	path := filepath.Join(dir, "metadata", "db.sqlite")
	if _, err := os.Stat(path); err != nil {
		return // killed before the database was created
	}
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	defer db.Close()
	jobs, err := db.WorkspaceJobs(context.Background(), "study")
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]*haven.Job{}
	for _, j := range jobs {
		if j.State == haven.StateSucceeded {
			latest[j.Action] = j
		}
	}
	for action, j := range latest {
		if len(j.Outputs) == 0 {
			t.Errorf("round %d: %s succeeded with no outputs", round, action)
		}
		for out := range j.Outputs {
			b, err := os.ReadFile(filepath.Join(dir, out))
			if err != nil || string(b) != want[out] {
				t.Fatalf("round %d: %s succeeded but %s is missing or partial (%v, %d bytes)", round, action, out, err, len(b))
			}
		}
	}
}
