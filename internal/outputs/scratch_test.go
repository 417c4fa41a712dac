package outputs

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestPrepareScratch(t *testing.T) {
	e := newEnv(t)
	p := e.def.ProjectDir
	write(t, filepath.Join(p, ".git", "HEAD"), "ref")
	write(t, filepath.Join(p, "metadata", "db.sqlite"), "db")
	write(t, filepath.Join(p, "output", "stale.csv"), "old output")         // excluded by output/*.csv
	write(t, filepath.Join(p, "output", "notes.md"), "kept")                // no pattern matches
	write(t, filepath.Join(p, "other", "x.csv"), "another action's output") // other/*.csv
	write(t, filepath.Join(p, "sub", "metadata", "keep.txt"), "only top-level metadata is left out")
	write(t, filepath.Join(p, MarkerFile), "1") // must not make the copy look prepared
	mkdir(t, filepath.Join(p, "empty"))
	if err := os.WriteFile(filepath.Join(p, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, e.high("output/input.csv"), "a,b\n1,2\n")
	e.def.Inputs = []string{"output/input.csv"}

	log, size, err := PrepareScratch(e.def, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Copying in code from " + p, "Copying input file: output/input.csv"}
	if !reflect.DeepEqual(log, want) {
		t.Errorf("log = %q, want %q", log, want)
	}
	got := snapshot(t, ScratchDir(e.def))
	wantFiles := map[string]string{
		"./":                    "",
		"project.yaml":          "version: '4.0'\n",
		"analysis/":             "",
		"analysis/model.py":     "print('hi')\n",
		"output/":               "",
		"output/notes.md":       "kept",
		"output/input.csv":      "a,b\n1,2\n",
		"other/":                "",
		"sub/":                  "",
		"sub/metadata/":         "",
		"sub/metadata/keep.txt": "only top-level metadata is left out",
		"empty/":                "",
		"run.sh":                "#!/bin/sh\n",
		MarkerFile:              strconv.FormatInt(clockTime.UnixNano(), 10),
	}
	if !reflect.DeepEqual(got, wantFiles) {
		t.Errorf("scratch workspace:\n got %v\nwant %v", got, wantFiles)
	}
	var wantSize int64
	for _, content := range wantFiles {
		wantSize += int64(len(content))
	}
	if size != wantSize {
		t.Errorf("PrepareScratch copied %d bytes, want %d (every file in the workspace, marker included)", size, wantSize)
	}
	fi, err := os.Stat(ScratchDir(e.def))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("scratch workspace mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(e.scratch("run.sh")); fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("executable bit lost: %v", fi.Mode())
	}
	ns, ok, err := ReadMarker(e.def)
	if err != nil || !ok || ns != clockTime.UnixNano() {
		t.Errorf("ReadMarker = %d %v %v", ns, ok, err)
	}
}

func TestPrepareScratchIsIdempotent(t *testing.T) {
	e := newEnv(t)
	if _, _, err := PrepareScratch(e.def, fixedClock); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(e.def.ProjectDir, "later.txt"), "added after prepare")
	write(t, e.scratch("job-file.txt"), "written by the job")
	log, _, err := PrepareScratch(e.def, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 0 {
		t.Errorf("second prepare logged %q", log)
	}
	if exists(e.scratch("later.txt")) || !exists(e.scratch("job-file.txt")) {
		t.Error("second prepare copied again")
	}
}

func TestPrepareScratchRedoesAnInterruptedCopy(t *testing.T) {
	e := newEnv(t)
	write(t, e.scratch("half-copied.py"), "junk from a crash")
	if _, _, err := PrepareScratch(e.def, fixedClock); err != nil {
		t.Fatal(err)
	}
	if exists(e.scratch("half-copied.py")) {
		t.Error("left-overs of an interrupted prepare survived")
	}
	if !exists(e.scratch("analysis/model.py")) || !exists(e.scratch(MarkerFile)) {
		t.Error("prepare was not redone")
	}
}

// TestPrepareScratchHostileProject: nothing outside the project is read
// or copied, and nothing blocks.
func TestPrepareScratchHostileProject(t *testing.T) {
	e := newEnv(t)
	p := e.def.ProjectDir
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.txt"), "outside secret")
	write(t, filepath.Join(outside, "dir", "inner.txt"), "outside dir")
	before := snapshot(t, outside)

	symlink(t, "/etc/passwd", filepath.Join(p, "passwd"))
	symlink(t, filepath.Join(outside, "secret.txt"), filepath.Join(p, "abs-secret.txt"))
	symlink(t, "../../"+filepath.Base(outside)+"/secret.txt", filepath.Join(p, "a", "rel-secret.txt"))
	symlink(t, filepath.Join(outside, "dir"), filepath.Join(p, "linked-dir"))
	symlink(t, "..", filepath.Join(p, "parent"))
	symlink(t, "analysis/model.py", filepath.Join(p, "model-link.py"))                  // inside: copied as a file
	symlink(t, filepath.Join(p, "analysis", "model.py"), filepath.Join(p, "abs-in.py")) // absolute, inside
	symlink(t, "analysis", filepath.Join(p, "inner-dir"))                               // a directory: skipped
	symlink(t, "missing.txt", filepath.Join(p, "dangling.txt"))
	symlink(t, "loop-b", filepath.Join(p, "loop-a"))
	symlink(t, "loop-a", filepath.Join(p, "loop-b"))
	write(t, filepath.Join(p, "output", "secret.csv"), "an output, excluded")
	symlink(t, "output/secret.csv", filepath.Join(p, "sneaky.txt")) // leads to an excluded file
	if err := syscall.Mkfifo(filepath.Join(p, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock, err := net.Listen("unix", filepath.Join(p, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()

	log, _, err := PrepareScratch(e.def, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Skipped passwd: it is a symlink that points outside the project",
		"Skipped abs-secret.txt: it is a symlink that points outside the project",
		"Skipped a/rel-secret.txt: it is a symlink that points outside the project",
		"Skipped linked-dir: it is a symlink that points outside the project",
		"Skipped parent: it is a symlink that points outside the project",
		"Skipped inner-dir: it is a symlink to a directory",
		"Skipped dangling.txt: it is a symlink to a file that does not exist",
		"Skipped loop-a: it is a symlink that cannot be resolved",
		"Skipped sneaky.txt: it is a symlink to output/secret.csv, which matches an output pattern",
		"Skipped pipe: it is a named pipe (FIFO), not a regular file",
		"Skipped sock: it is a socket, not a regular file",
	} {
		if !hasLine(log, want) {
			t.Errorf("no log line %q in\n%s", want, strings.Join(log, "\n"))
		}
	}
	for _, gone := range []string{"passwd", "abs-secret.txt", "a/rel-secret.txt", "linked-dir", "parent", "inner-dir",
		"dangling.txt", "loop-a", "sneaky.txt", "pipe", "sock", "output/secret.csv"} {
		if exists(e.scratch(gone)) {
			t.Errorf("%s was copied into the scratch workspace", gone)
		}
	}
	for _, copied := range []string{"model-link.py", "abs-in.py"} {
		fi, err := os.Lstat(e.scratch(copied))
		if err != nil || !fi.Mode().IsRegular() || read(t, e.scratch(copied)) != "print('hi')\n" {
			t.Errorf("%s: not copied as a regular file (%v)", copied, err)
		}
	}
	sameSnapshot(t, "outside directory", before, snapshot(t, outside))
}

func TestPrepareScratchInputs(t *testing.T) {
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.csv"), "outside secret")
	tests := []struct {
		name    string
		input   string
		setup   func(t *testing.T, e *env)
		wantErr string
	}{
		{name: "parent directory", input: "../secret.csv", wantErr: "points outside the workspace"},
		{name: "parent inside the path", input: "output/../../secret.csv", wantErr: "not in standard form"},
		{name: "absolute", input: filepath.Join(outside, "secret.csv"), wantErr: "absolute path"},
		{name: "empty", input: "", wantErr: "is empty"},
		{name: "missing", input: "output/missing.csv",
			wantErr: "The file output/missing.csv doesn't exist in workspace my-workspace as requested for job abcdefghijklmnop"},
		{name: "symlink out of the workspace", input: "output/link.csv", setup: func(t *testing.T, e *env) {
			symlink(t, filepath.Join(outside, "secret.csv"), e.high("output/link.csv"))
		}, wantErr: "leads outside the workspace"},
		{name: "symlinked directory out of the workspace", input: "output/secret.csv", setup: func(t *testing.T, e *env) {
			symlink(t, outside, e.high("output"))
		}, wantErr: "leads outside the workspace"},
		{name: "a directory", input: "output/dir.csv", setup: func(t *testing.T, e *env) {
			mkdir(t, e.high("output/dir.csv"))
		}, wantErr: "is a directory, not a regular file"},
		{name: "a FIFO", input: "output/pipe.csv", setup: func(t *testing.T, e *env) {
			mkdir(t, e.high("output"))
			if err := syscall.Mkfifo(e.high("output/pipe.csv"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is a named pipe (FIFO), not a regular file"},
		{name: "the marker", input: MarkerFile, wantErr: "marker"},
		{name: "no workspace", input: "output/a.csv", setup: func(t *testing.T, e *env) {
			if err := os.Remove(e.def.WorkspaceDir); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "The file output/a.csv doesn't exist in workspace my-workspace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			e.def.Inputs = []string{tt.input}
			before := snapshot(t, outside)
			_, _, err := PrepareScratch(e.def, fixedClock)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if exists(e.scratch(MarkerFile)) {
				t.Error("a failed prepare left the marker")
			}
			sameSnapshot(t, "outside directory", before, snapshot(t, outside))
		})
	}
}

func TestPrepareScratchInputSymlinkInsideWorkspace(t *testing.T) {
	e := newEnv(t)
	write(t, e.high("output/real.csv"), "a\n1\n")
	symlink(t, "real.csv", e.high("output/alias.csv"))
	e.def.Inputs = []string{"output/alias.csv"}
	if _, _, err := PrepareScratch(e.def, fixedClock); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(e.scratch("output/alias.csv"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("input not copied as a regular file: %v", err)
	}
}

func TestPrepareScratchRefusesBadIDsAndSymlinkedScratch(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"", ".", "..", "a/b", "../x"} {
		e.def.ID = id
		if _, _, err := PrepareScratch(e.def, fixedClock); err == nil {
			t.Errorf("job id %q accepted", id)
		}
	}
	e.def.ID = "abcdefghijklmnop"
	outside := t.TempDir()
	mkdir(t, e.def.ScratchRoot)
	symlink(t, outside, ScratchDir(e.def))
	if _, _, err := PrepareScratch(e.def, fixedClock); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v, want a refusal of the symlinked scratch workspace", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote through the symlink: %v", entries)
	}
}

func TestPrepareScratchSkipsScratchRootInsideProject(t *testing.T) {
	e := newEnv(t)
	e.def.ScratchRoot = filepath.Join(e.def.ProjectDir, "volumes") // not under metadata
	e.def.LogDir = filepath.Join(e.def.ProjectDir, "logs")
	write(t, filepath.Join(e.def.LogDir, "old", "logs.txt"), "another job's log")
	if _, _, err := PrepareScratch(e.def, fixedClock); err != nil {
		t.Fatal(err)
	}
	if exists(e.scratch("volumes")) || exists(e.scratch("logs")) {
		t.Error("the scratch root or log area was copied into the scratch workspace")
	}
}

func TestRemoveScratch(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	if err := RemoveScratch(e.def); err != nil {
		t.Fatal(err)
	}
	if exists(ScratchDir(e.def)) {
		t.Error("scratch workspace not removed")
	}
	if err := RemoveScratch(e.def); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if _, ok, err := ReadMarker(e.def); ok || err != nil {
		t.Errorf("ReadMarker after removal = %v, %v", ok, err)
	}
}

func TestRemoveScratchRefusesSymlink(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	write(t, filepath.Join(outside, "keep.txt"), "unchanged")
	mkdir(t, e.def.ScratchRoot)
	symlink(t, outside, ScratchDir(e.def))
	if err := RemoveScratch(e.def); err == nil {
		t.Fatal("a symlinked scratch workspace was accepted")
	}
	if read(t, filepath.Join(outside, "keep.txt")) != "unchanged" {
		t.Error("the link target was touched")
	}
}

// In a local run the project is also the workspace: other jobs' outputs
// land in it, through temporary files, while a job's copy is being made.
// The copy must skip what vanishes under it and never take a temporary
// file.
func TestPrepareScratchWhileOutputsLand(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.def.ProjectDir, "output")
	mkdir(t, out)
	// Outputs (output/*.csv here) land and are replaced; the copy leaves
	// them out by name, so it never opens one, whatever happens to it.
	for i := 0; i < 200; i++ {
		write(t, filepath.Join(out, fmt.Sprintf("n%03d.csv", i)), "x")
	}
	write(t, filepath.Join(out, "notes.md"), "kept")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(out, fmt.Sprintf(".haven-%016x.tmp", i))
			_ = os.WriteFile(tmp, []byte("partial"), 0o644)
			_ = os.Rename(tmp, filepath.Join(out, fmt.Sprintf("landed%d.csv", i%50)))
			_ = os.Remove(filepath.Join(out, fmt.Sprintf("n%03d.csv", i%200)))
			_ = os.WriteFile(filepath.Join(out, fmt.Sprintf("n%03d.csv", i%200)), []byte("x"), 0o644)
		}
	}()
	for round := 0; round < 12; round++ {
		def := e.def
		def.ID = fmt.Sprintf("job%013d", round)
		if _, _, err := PrepareScratch(def, fixedClock); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		entries, err := os.ReadDir(filepath.Join(ScratchDir(def), "output"))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if isTempName(en.Name()) || strings.HasSuffix(en.Name(), ".csv") {
				t.Fatalf("round %d: copied %s", round, en.Name())
			}
		}
		if len(entries) != 1 {
			t.Fatalf("round %d: output/ holds %d entries, want only notes.md", round, len(entries))
		}
	}
	close(stop)
	<-done
}

// A CodeListing fixes the set of paths at the first job of a run; every
// job still copies the files' current contents.
func TestPrepareScratchWithCodeListing(t *testing.T) {
	e := newEnv(t)
	p := e.def.ProjectDir
	write(t, filepath.Join(p, "analysis", "old.py"), "old")
	write(t, filepath.Join(p, "output", "a.csv"), "an output") // excluded
	listing := NewCodeListing()

	first := e.def
	if _, _, err := PrepareScratchListed(first, fixedClock, listing); err != nil {
		t.Fatal(err)
	}
	want1 := map[string]string{
		"./": "", "project.yaml": "version: '4.0'\n", "analysis/": "", "analysis/model.py": "print('hi')\n",
		"analysis/old.py": "old", "output/": "", MarkerFile: strconv.FormatInt(clockTime.UnixNano(), 10),
	}
	if got := snapshot(t, ScratchDir(first)); !reflect.DeepEqual(got, want1) {
		t.Fatalf("first job's scratch workspace:\n got %v\nwant %v", got, want1)
	}

	// Meanwhile: a code file changes, one is deleted, one is added, and
	// another output lands.
	write(t, filepath.Join(p, "analysis", "model.py"), "print('changed')\n")
	if err := os.Remove(filepath.Join(p, "analysis", "old.py")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(p, "analysis", "new.py"), "new")
	write(t, filepath.Join(p, "output", "b.csv"), "another output")

	second := e.def
	second.ID = "secondjob0000000"
	if _, _, err := PrepareScratchListed(second, fixedClock, listing); err != nil {
		t.Fatal(err)
	}
	want2 := map[string]string{
		"./": "", "project.yaml": "version: '4.0'\n", "analysis/": "", "analysis/model.py": "print('changed')\n",
		"output/": "", MarkerFile: strconv.FormatInt(clockTime.UnixNano(), 10),
	}
	if got := snapshot(t, ScratchDir(second)); !reflect.DeepEqual(got, want2) {
		t.Fatalf("second job's scratch workspace (same listing):\n got %v\nwant %v", got, want2)
	}

	// A new run (a new listing) sees the new file.
	third := e.def
	third.ID = "thirdjob00000000"
	if _, _, err := PrepareScratchListed(third, fixedClock, NewCodeListing()); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, ScratchDir(third)); got["analysis/new.py"] != "new" {
		t.Fatalf("a new listing did not pick up analysis/new.py: %v", got)
	}
}
