package outputs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trashEntries lists what waits in root's trash.
func trashEntries(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, TrashDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func present(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func TestTrashDefersRemovalUntilEmpty(t *testing.T) {
	root := t.TempDir()
	job := filepath.Join(root, "job1")
	run := filepath.Join(root, "job1.local")
	write(t, filepath.Join(job, "output", "x.csv"), "a\n1\n")
	write(t, filepath.Join(run, "haven-job.log"), "log")

	tr := NewTrash(10, 1<<20)
	if err := tr.Discard(root, 4, job, run); err != nil {
		t.Fatal(err)
	}
	if present(job) || present(run) {
		t.Fatalf("Discard left the directories in place")
	}
	got := trashEntries(t, root)
	if len(got) != 2 || !strings.HasPrefix(got[0], "job1-") || !strings.HasPrefix(got[1], "job1.local-") {
		t.Fatalf("trash holds %q, want job1-… and job1.local-…", got)
	}
	// The content is intact until the trash is emptied.
	if data, err := os.ReadFile(filepath.Join(root, TrashDir, got[0], "output", "x.csv")); err != nil || string(data) != "a\n1\n" {
		t.Fatalf("moved file: %q %v", data, err)
	}
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
	if got := trashEntries(t, root); len(got) != 0 {
		t.Fatalf("after Empty the trash still holds %q", got)
	}
	// Discarding what is not there is fine, and so is emptying twice.
	if err := tr.Discard(root, 0, job, run); err != nil {
		t.Fatal(err)
	}
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
}

func TestTrashEmptiesItselfWhenFull(t *testing.T) {
	tests := []struct {
		name      string
		maxJobs   int
		maxBytes  int64
		bytes     int64 // per job
		jobs      int
		wantLeft  int // jobs waiting in the trash afterwards
		wantFirst bool
	}{
		{name: "below both limits", maxJobs: 5, maxBytes: 1000, bytes: 10, jobs: 5, wantLeft: 5},
		{name: "one job over the count", maxJobs: 5, maxBytes: 1000, bytes: 10, jobs: 6, wantLeft: 0},
		{name: "count reached again after emptying", maxJobs: 2, maxBytes: 1000, bytes: 10, jobs: 5, wantLeft: 2},
		{name: "over the bytes", maxJobs: 100, maxBytes: 25, bytes: 10, jobs: 3, wantLeft: 0},
		{name: "no byte limit", maxJobs: 100, maxBytes: 0, bytes: 1 << 40, jobs: 3, wantLeft: 3},
		{name: "deferral off", maxJobs: 0, maxBytes: 0, bytes: 10, jobs: 3, wantLeft: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tr := NewTrash(tt.maxJobs, tt.maxBytes)
			for i := range tt.jobs {
				dir := filepath.Join(root, "job"+string(rune('a'+i)))
				write(t, filepath.Join(dir, "f"), "x")
				if err := tr.Discard(root, tt.bytes, dir); err != nil {
					t.Fatal(err)
				}
				if present(dir) {
					t.Fatalf("%s still in place after Discard", dir)
				}
			}
			if got := trashEntries(t, root); len(got) != tt.wantLeft {
				t.Fatalf("trash holds %d jobs (%q), want %d", len(got), got, tt.wantLeft)
			}
		})
	}
}

func TestTrashRefusesWhatIsNotAJobDirectory(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "keep.txt"), "precious")
	if err := os.Symlink(outside, filepath.Join(root, "job1")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "job2"), "a file")
	nested := filepath.Join(root, "sub", "job3")
	write(t, filepath.Join(nested, "f"), "x")

	tr := NewTrash(10, 0)
	for _, dir := range []string{filepath.Join(root, "job1"), filepath.Join(root, "job2"), nested, outside} {
		if err := tr.Discard(root, 0, dir); err == nil {
			t.Errorf("Discard(%s) succeeded, want an error", dir)
		}
	}
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(outside, "keep.txt"), filepath.Join(root, "job1"), filepath.Join(root, "job2"), filepath.Join(nested, "f")} {
		if !present(p) {
			t.Errorf("%s was removed", p)
		}
	}
}

func TestTrashEmptyRemovesLeftoversAndReadOnlyDirectories(t *testing.T) {
	root := t.TempDir()
	// An earlier run was killed with jobs waiting in the trash, one of
	// which made its directory read-only.
	left := filepath.Join(root, TrashDir, "old-0123456789ab")
	write(t, filepath.Join(left, "ro", "f"), "x")
	if err := os.Chmod(filepath.Join(left, "ro"), 0o500); err != nil {
		t.Fatal(err)
	}
	// A symlink in the trash is removed, never followed.
	outside := t.TempDir()
	write(t, filepath.Join(outside, "keep.txt"), "precious")
	if err := os.Symlink(outside, filepath.Join(root, TrashDir, "link")); err != nil {
		t.Fatal(err)
	}

	tr := NewTrash(10, 0)
	job := filepath.Join(root, "job1")
	write(t, filepath.Join(job, "f"), "x")
	if err := tr.Discard(root, 1, job); err != nil {
		t.Fatal(err)
	}
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
	if got := trashEntries(t, root); len(got) != 0 {
		t.Fatalf("after Empty the trash still holds %q", got)
	}
	if !present(filepath.Join(outside, "keep.txt")) {
		t.Fatal("emptying the trash followed a symlink out of it")
	}
}

func TestTrashWatchEmptiesLeftoversWithoutDiscards(t *testing.T) {
	root := t.TempDir()
	left := filepath.Join(root, TrashDir, "old-0123456789ab")
	write(t, filepath.Join(left, "f"), "x")
	tr := NewTrash(10, 0)
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
	if !present(left) {
		t.Fatal("Empty removed a trash it was not told about")
	}
	tr.Watch(root)
	if err := tr.Empty(); err != nil {
		t.Fatal(err)
	}
	if got := trashEntries(t, root); len(got) != 0 {
		t.Fatalf("after Watch and Empty the trash still holds %q", got)
	}
	// Discard still works in a watched root whose trash already exists.
	job := filepath.Join(root, "job1")
	write(t, filepath.Join(job, "f"), "x")
	if err := tr.Discard(root, 1, job); err != nil {
		t.Fatal(err)
	}
	if present(job) {
		t.Fatal("Discard left the job directory in place")
	}
}
