package outputs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
)

// jobOutput is a job's timestamped output as an executor passes it.
const jobOutput = "2026-03-04T05:01:00.000000000Z starting\n2026-03-04T05:02:00.000000000Z done\n"

func successRun() RunInfo {
	return RunInfo{ExitCode: 0, Log: []byte(jobOutput), ImageID: "sha256:feedface", MemoryLimit: 4 << 30}
}

// TestFinalizeSuccess follows one job through finalize and checks the
// files it leaves against golden copies (fixed clock and mtimes).
func TestFinalizeSuccess(t *testing.T) {
	e := newEnv(t)
	e.def.Commit = "0123456789abcdef0123456789abcdef01234567"
	e.def.Repo = "https://github.com/example/study"
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "group,count\na,10\nb,20\n")
	e.jobWrites(t, "output/data.arrow", "ARROW1")
	e.jobWrites(t, "output/debug.log", "not declared")

	res := e.finalize(t, successRun(), executor.FinalizeOptions{})

	want := &executor.Results{
		Outputs:           map[string]string{"output/table.csv": executor.ModeratelySensitive, "output/data.arrow": executor.HighlySensitive},
		UnmatchedPatterns: []string{},
		UnmatchedOutputs:  []string{"output/debug.log"},
		ExitCode:          0,
		Message:           "Completed successfully",
		Level4Excluded:    map[string]string{},
		RemovedOutputs:    []string{},
		LogFile:           "metadata/analyse.log",
		ImageID:           "sha256:feedface",
		Log: []string{
			"Extracting output file: output/data.arrow",
			"Extracting output file: output/table.csv",
			"Logs written to: " + e.high("metadata/analyse.log"),
		},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results:\n got %#v\nwant %#v", res, want)
	}
	if code, msg := FinalStatus(res, false); code != haven.StatusSucceeded || msg != "Completed successfully" {
		t.Errorf("FinalStatus = %s %q", code, msg)
	}

	if read(t, e.high("output/table.csv")) != "group,count\na,10\nb,20\n" || read(t, e.high("output/data.arrow")) != "ARROW1" {
		t.Error("outputs not persisted")
	}
	if exists(e.high("output/debug.log")) {
		t.Error("an undeclared file was kept")
	}
	if fi, _ := os.Stat(e.high("output/table.csv")); !fi.ModTime().Equal(writtenTime) {
		t.Errorf("output mtime %v, want the job's %v", fi.ModTime(), writtenTime)
	}
	if read(t, e.medium("output/table.csv")) != "group,count\na,10\nb,20\n" {
		t.Error("moderately_sensitive output not copied to medium privacy")
	}
	if exists(e.medium("output/data.arrow")) {
		t.Error("highly_sensitive output copied to medium privacy")
	}

	logFile := e.jobLog(t)
	if !strings.HasPrefix(filepath.ToSlash(JobLogDir(e.def)), filepath.ToSlash(e.def.LogDir)+"/2026-02/os-job-abcdefghijklmnop") {
		t.Errorf("log dir %s", JobLogDir(e.def))
	}
	golden(t, "finalize/success-logs.txt", []byte(logFile))
	if read(t, e.high("metadata/analyse.log")) != logFile || read(t, e.medium("metadata/analyse.log")) != logFile {
		t.Error("workspace copies of the log differ from the log directory's")
	}
	golden(t, "finalize/success-manifest.json", []byte(read(t, e.medium(ManifestFile))))
	golden(t, "finalize/success-metadata.json", []byte(read(t, filepath.Join(JobLogDir(e.def), MetadataFile))))

	loaded, found, err := LoadResults(e.def)
	if err != nil || !found {
		t.Fatalf("LoadResults: %v %v", found, err)
	}
	want.Log = nil
	if !reflect.DeepEqual(loaded, want) {
		t.Errorf("LoadResults:\n got %#v\nwant %#v", loaded, want)
	}
}

func TestFinalizeManifestKeys(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "patient_id,x\n1,2\n")
	e.jobWrites(t, "output/data.arrow", "ARROW1")
	e.finalize(t, successRun(), executor.FinalizeOptions{})

	var m struct {
		Workspace string                                `json:"workspace"`
		Repo      *string                               `json:"repo"`
		Outputs   map[string]map[string]json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(read(t, e.medium(ManifestFile))), &m); err != nil {
		t.Fatal(err)
	}
	if m.Workspace != "my-workspace" || m.Repo != nil {
		t.Errorf("workspace %q repo %v", m.Workspace, m.Repo)
	}
	wantKeys := []string{"action", "col_count", "commit", "content_hash", "excluded", "job_id", "job_request", "level",
		"message", "out_of_date_output", "repo", "row_count", "size", "timestamp", "user"}
	for name, entry := range m.Outputs {
		var keys []string
		for k := range entry {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, wantKeys) {
			t.Errorf("%s keys %q, want %q", name, keys, wantKeys)
		}
	}
	table := m.Outputs["output/table.csv"]
	for k, want := range map[string]string{
		"level":       `"moderately_sensitive"`,
		"excluded":    "true",
		"message":     `"File has patient_id column"`,
		"row_count":   "1",
		"col_count":   "2",
		"repo":        "null",
		"commit":      "null",
		"size":        "17",
		"user":        `"alice"`,
		"job_id":      `"abcdefghijklmnop"`,
		"job_request": `"req0123456789abc"`,
		"action":      `"analyse"`,
		"timestamp":   "1772600580.5",
	} {
		if got := string(table[k]); got != want {
			t.Errorf("output/table.csv %s = %s, want %s", k, got, want)
		}
	}
	if got := string(m.Outputs["output/data.arrow"]["row_count"]); got != "null" {
		t.Errorf("row_count of a non-CSV = %s, want null", got)
	}
	if got := string(table["content_hash"]); len(got) != 66 {
		t.Errorf("content_hash %s is not a sha256 hex", got)
	}
}

// TestFinalizeLevel4Notes: an excluded file gets a note and loses its old
// medium copy; once it passes, it is copied and the note goes.
func TestFinalizeLevel4Notes(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	write(t, e.medium("output/table.csv"), "an old copy that passed before")
	e.jobWrites(t, "output/table.csv", csvOf("a,b", 5001))
	e.jobWrites(t, "output/data.arrow", "x")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if res.Level4Excluded["output/table.csv"] != "File row count (5001) exceeds maximum allowed rows (5000)" {
		t.Errorf("excluded = %v", res.Level4Excluded)
	}
	if code, msg := FinalStatus(res, false); code != haven.StatusSucceeded ||
		msg != "Completed successfully, but 1 file(s) marked as moderately_sensitive were excluded. See job log for details." {
		t.Errorf("FinalStatus = %s %q", code, msg)
	}
	if exists(e.medium("output/table.csv")) {
		t.Error("stale medium copy of an excluded file was kept")
	}
	note := read(t, e.medium("output/table.csv.txt"))
	if !strings.Contains(note, "contained 5001 rows") || !strings.Contains(note, "*not* been copied to Level 4") {
		t.Errorf("note:\n%s", note)
	}
	if read(t, e.high("output/table.csv")) != csvOf("a,b", 5001) {
		t.Error("an excluded file must stay in high privacy")
	}
	if !strings.Contains(e.jobLog(t), "Invalid moderately_sensitive outputs:\n  output/table.csv  - File row count (5001) exceeds maximum allowed rows (5000)\n") {
		t.Errorf("log lacks the Invalid block:\n%s", e.jobLog(t))
	}

	// The next run's file passes.
	if err := RemoveScratch(e.def); err != nil {
		t.Fatal(err)
	}
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", csvOf("a,b", 5000))
	e.jobWrites(t, "output/data.arrow", "x")
	res = e.finalize(t, successRun(), executor.FinalizeOptions{})
	if len(res.Level4Excluded) != 0 {
		t.Errorf("excluded = %v", res.Level4Excluded)
	}
	if exists(e.medium("output/table.csv.txt")) {
		t.Error("the old note survived a successful copy")
	}
	if read(t, e.medium("output/table.csv")) != csvOf("a,b", 5000) {
		t.Error("file not copied to medium privacy")
	}
}

// TestFinalizeSizeBoundary uses real 16 MiB files.
func TestFinalizeSizeBoundary(t *testing.T) {
	e := newEnv(t)
	e.def.OutputSpec = map[string]string{"output/*.txt": executor.ModeratelySensitive}
	e.prepare(t)
	for name, size := range map[string]int64{"output/exact.txt": 16 << 20, "output/over.txt": 16<<20 + 1} {
		p := e.scratch(name)
		mkdir(t, filepath.Dir(p))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chtimes(p, writtenTime, writtenTime); err != nil {
			t.Fatal(err)
		}
	}
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	want := map[string]string{"output/over.txt": "File size of 16.0Mb is larger that limit of 16.0Mb."}
	if !reflect.DeepEqual(res.Level4Excluded, want) {
		t.Errorf("excluded = %v, want %v", res.Level4Excluded, want)
	}
	if !exists(e.medium("output/exact.txt")) || exists(e.medium("output/over.txt")) || !exists(e.medium("output/over.txt.txt")) {
		t.Error("medium privacy does not hold exactly the file within the limit and the other's note")
	}
}

// TestFinalizeLevelChangeRemovesMediumCopy: a file that was
// moderately_sensitive and is now highly_sensitive must leave medium
// privacy.
func TestFinalizeLevelChangeRemovesMediumCopy(t *testing.T) {
	e := newEnv(t)
	e.def.OutputSpec = map[string]string{"output/*.csv": executor.HighlySensitive}
	write(t, e.medium("output/table.csv"), "released earlier")
	write(t, e.medium("output/table.csv.txt"), "old note")
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if exists(e.medium("output/table.csv")) || exists(e.medium("output/table.csv.txt")) {
		t.Error("medium copy of a now highly_sensitive output survived")
	}
	if !hasLine(res.Log, "Removed output/table.csv from the medium-privacy workspace: it is now highly_sensitive") {
		t.Errorf("log %q", res.Log)
	}
}

func TestFinalizeRemovesStaleOutputs(t *testing.T) {
	e := newEnv(t)
	// The previous run produced old.csv (copied to medium) and gone.csv
	// (excluded there, so a note), and both are in the manifest.
	write(t, e.high("output/old.csv"), "old")
	write(t, e.high("output/gone.csv"), "gone")
	write(t, e.medium("output/old.csv"), "old")
	write(t, e.medium("output/gone.csv.txt"), "note")
	write(t, e.high("output/unrelated.csv"), "another action's output")
	write(t, e.medium(ManifestFile), `{"workspace": "my-workspace", "repo": null, "outputs": {
		"output/old.csv": {"action": "analyse", "level": "moderately_sensitive"},
		"output/gone.csv": {"action": "analyse", "level": "moderately_sensitive"},
		"output/unrelated.csv": {"action": "other", "level": "moderately_sensitive"},
		"output/theirs.csv": {"action": "other", "level": "moderately_sensitive"}}}`)
	write(t, e.high("output/theirs.csv"), "now produced by another action")
	e.def.PreviousOutputs = []string{"output/old.csv", "output/gone.csv", "output/table.csv", "output/theirs.csv", "../escape.csv", "metadata/manifest.json"}
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")

	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if want := []string{"output/gone.csv", "output/old.csv"}; !reflect.DeepEqual(res.RemovedOutputs, want) {
		t.Errorf("removed %q, want %q", res.RemovedOutputs, want)
	}
	for _, p := range []string{e.high("output/old.csv"), e.high("output/gone.csv"), e.medium("output/old.csv"), e.medium("output/gone.csv.txt")} {
		if exists(p) {
			t.Errorf("%s survived", p)
		}
	}
	for _, p := range []string{e.high("output/unrelated.csv"), e.high("output/theirs.csv"), e.high("output/table.csv"), e.medium(ManifestFile)} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	if !hasLine(res.Log, "Not removing output/theirs.csv: the manifest says action other produced it") ||
		!hasLine(res.Log, "Not removing previous output") {
		t.Errorf("log %q", res.Log)
	}
	log := e.jobLog(t)
	if !strings.Contains(log, "\nRemoved outputs no longer produced by this action:\n  output/gone.csv\n  output/old.csv\n") {
		t.Errorf("log lacks the removed block:\n%s", log)
	}
	var m struct {
		Outputs map[string]map[string]any `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(read(t, e.medium(ManifestFile))), &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range m.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"output/data.arrow", "output/table.csv", "output/theirs.csv", "output/unrelated.csv"}; !reflect.DeepEqual(names, want) {
		t.Errorf("manifest outputs %q, want %q", names, want)
	}

	// Finalizing again reports the same.
	again := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if !reflect.DeepEqual(again, res) {
		t.Errorf("second finalize:\n got %#v\nwant %#v", again, res)
	}
}

// TestFinalizeKeepsStaleOutputsOfAFailedJob: only a succeeded job removes
// stale outputs; a failed one marks them out of date in the manifest.
func TestFinalizeKeepsStaleOutputsOfAFailedJob(t *testing.T) {
	for name, run := range map[string]RunInfo{
		"nonzero exit":       {ExitCode: 1, Log: []byte(jobOutput)},
		"unmatched patterns": {ExitCode: 0, Log: []byte(jobOutput)},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			write(t, e.high("output/old.csv"), "old")
			write(t, e.medium("output/old.csv"), "old")
			write(t, e.medium(ManifestFile), `{"workspace":"my-workspace","repo":null,"outputs":{"output/old.csv":{"action":"analyse","level":"moderately_sensitive","extra":1}}}`)
			e.def.PreviousOutputs = []string{"output/old.csv"}
			e.prepare(t)
			e.jobWrites(t, "output/table.csv", "a\n1\n") // output/data.arrow is missing
			res := e.finalize(t, run, executor.FinalizeOptions{})
			if code, _ := FinalStatus(res, false); code == haven.StatusSucceeded {
				t.Fatalf("job succeeded")
			}
			if len(res.RemovedOutputs) != 0 || !exists(e.high("output/old.csv")) || !exists(e.medium("output/old.csv")) {
				t.Error("a failed job removed stale outputs")
			}
			if !exists(e.high("output/table.csv")) {
				t.Error("outputs of a failed job are persisted too (as upstream)")
			}
			var m struct {
				Outputs map[string]map[string]any `json:"outputs"`
			}
			if err := json.Unmarshal([]byte(read(t, e.medium(ManifestFile))), &m); err != nil {
				t.Fatal(err)
			}
			old := m.Outputs["output/old.csv"]
			if old["out_of_date_output"] != true || old["extra"] != float64(1) {
				t.Errorf("old entry %v: want out_of_date_output and its other keys kept", old)
			}
			if m.Outputs["output/table.csv"]["out_of_date_output"] != false {
				t.Errorf("new entry %v", m.Outputs["output/table.csv"])
			}
		})
	}
}

func TestFinalizeUnmatchedPatterns(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.feather", "not .arrow")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if !reflect.DeepEqual(res.UnmatchedPatterns, []string{"output/data.arrow"}) {
		t.Errorf("unmatched patterns %q", res.UnmatchedPatterns)
	}
	if res.Message != "\n  No outputs found matching patterns:\n - output/data.arrow" ||
		res.UnmatchedHint != "\n  Did you mean to match one of these files instead?\n - output/data.feather" {
		t.Errorf("message %q hint %q", res.Message, res.UnmatchedHint)
	}
	code, msg := FinalStatus(res, false)
	if code != haven.StatusUnmatchedPatterns || msg != "No outputs found matching patterns:\n - output/data.arrow" {
		t.Errorf("FinalStatus = %s %q", code, msg)
	}
	log := e.jobLog(t)
	for _, want := range []string{
		"status_message: No outputs found matching patterns:\n - output/data.arrow\n",
		"hint: \n  Did you mean to match one of these files instead?\n - output/data.feather\n",
		"Warning: files written by this job but not matched by any output pattern (not kept):\n  output/data.feather\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestFinalizeOOMAndTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  RunInfo
		want string
	}{
		{"oom", RunInfo{ExitCode: 137, OOMKilled: true, MemoryLimit: 4 << 30}, "Job exited with an error: Job ran out of memory (limit was 4.00GB)"},
		{"timeout", RunInfo{ExitCode: 137, TimedOut: true, Timeout: 7200e9}, "Job exited with an error: Job exceeded its time limit of 2h"},
		{"killed", RunInfo{ExitCode: 137}, "Job exited with an error: Job killed by OpenSAFELY admin or memory limits"},
		{"executor's own message", RunInfo{ExitCode: 127, Message: "Rscript was not found on this machine"}, "Job exited with an error: Rscript was not found on this machine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.prepare(t)
			res := e.finalize(t, tt.run, executor.FinalizeOptions{})
			code, msg := FinalStatus(res, false)
			if code != haven.StatusNonzeroExit || msg != tt.want {
				t.Errorf("FinalStatus = %s %q, want %q", code, msg, tt.want)
			}
			if !strings.Contains(e.jobLog(t), "status_message: "+tt.want+"\n") {
				t.Errorf("log:\n%s", e.jobLog(t))
			}
		})
	}
}

// TestFinalizeCancelledLeavesWorkspacesAlone: a cancelled (or errored)
// job writes only its log directory.
func TestFinalizeCancelledLeavesWorkspacesAlone(t *testing.T) {
	for name, opts := range map[string]executor.FinalizeOptions{
		"cancelled": {Cancelled: true},
		"errored":   {Error: true},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			write(t, e.high("output/table.csv"), "previous run")
			write(t, e.high("metadata/analyse.log"), "previous log")
			write(t, e.medium("output/table.csv"), "previous run")
			write(t, e.medium(ManifestFile), `{"workspace":"my-workspace","repo":null,"outputs":{"output/table.csv":{"action":"analyse"}}}`)
			e.def.PreviousOutputs = []string{"output/table.csv"}
			e.prepare(t)
			e.jobWrites(t, "output/table.csv", "new, unfinished")
			e.jobWrites(t, "output/data.arrow", "new")
			high, medium := snapshot(t, e.def.WorkspaceDir), snapshot(t, e.def.MediumDir)

			res := e.finalize(t, RunInfo{ExitCode: 137, Log: []byte(jobOutput)}, opts)
			sameSnapshot(t, "high privacy", high, snapshot(t, e.def.WorkspaceDir))
			sameSnapshot(t, "medium privacy", medium, snapshot(t, e.def.MediumDir))
			if len(res.Outputs) != 0 || res.LogFile != "" || len(res.RemovedOutputs) != 0 || res.Log != nil {
				t.Errorf("results %#v", res)
			}
			if res.Cancelled != opts.Cancelled || res.Errored != opts.Error {
				t.Errorf("results %#v", res)
			}
			log := e.jobLog(t)
			wantStatus := "status_message: Cancelled by user\n"
			if opts.Error {
				wantStatus = "status_message: " + haven.StatusInternalError.Message() + "\n"
			}
			if !strings.Contains(log, wantStatus) || !strings.Contains(log, "  (no outputs)\n") {
				t.Errorf("log:\n%s", log)
			}
			if !exists(filepath.Join(JobLogDir(e.def), MetadataFile)) {
				t.Error("no metadata.json")
			}
		})
	}
}

func TestFinalizeCancelledBeforePrepare(t *testing.T) {
	e := newEnv(t)
	res := e.finalize(t, RunInfo{ExitCode: -1}, executor.FinalizeOptions{Cancelled: true})
	if code, _ := FinalStatus(res, false); code != haven.StatusCancelledByUser {
		t.Errorf("code %s", code)
	}
	if strings.Contains(e.jobLog(t), "exit_code") {
		t.Error("a job that never ran has no exit code line")
	}
}

// TestFinalizeIsIdempotent: finalizing twice leaves identical files and
// results.
func TestFinalizeIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/big.csv", csvOf("patient_id,b", 2))
	e.jobWrites(t, "output/data.arrow", "x")
	first := e.finalize(t, successRun(), executor.FinalizeOptions{})
	high, medium, logs := snapshot(t, e.def.WorkspaceDir), snapshot(t, e.def.MediumDir), snapshot(t, e.def.LogDir)
	second := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if !reflect.DeepEqual(first, second) {
		t.Errorf("results differ:\n%#v\n%#v", first, second)
	}
	sameSnapshot(t, "high privacy", high, snapshot(t, e.def.WorkspaceDir))
	sameSnapshot(t, "medium privacy", medium, snapshot(t, e.def.MediumDir))
	sameSnapshot(t, "log area", logs, snapshot(t, e.def.LogDir))

	// After cleanup, finalize returns what was recorded.
	if err := RemoveScratch(e.def); err != nil {
		t.Fatal(err)
	}
	third, err := Finalize(e.def, successRun(), executor.FinalizeOptions{}, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	first.Log = nil
	if !reflect.DeepEqual(first, third) {
		t.Errorf("after cleanup:\n%#v\n%#v", first, third)
	}
}

func TestFinalizeUnpreparedIsAnError(t *testing.T) {
	e := newEnv(t)
	_, err := Finalize(e.def, successRun(), executor.FinalizeOptions{}, fixedClock)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("err = %v", err)
	}
}

// TestFinalizeAfterTheJobDeletedTheMarker: the outputs are still kept.
func TestFinalizeAfterTheJobDeletedTheMarker(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")
	e.jobWrites(t, "stray.txt", "x")
	if err := os.Remove(e.scratch(MarkerFile)); err != nil {
		t.Fatal(err)
	}
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if code, _ := FinalStatus(res, false); code != haven.StatusSucceeded || len(res.Outputs) != 2 {
		t.Errorf("code %s outputs %v", code, res.Outputs)
	}
	if len(res.UnmatchedOutputs) != 0 || !hasLine(res.Log, "the job removed or replaced "+MarkerFile) {
		t.Errorf("unmatched %q log %q", res.UnmatchedOutputs, res.Log)
	}
}

// TestFinalizeOutputIsADirectory: a directory matching a pattern is not an
// output.
func TestFinalizeOutputIsADirectory(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/data.arrow/part-0", "x")
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if _, ok := res.Outputs["output/data.arrow"]; ok || !reflect.DeepEqual(res.UnmatchedPatterns, []string{"output/data.arrow"}) {
		t.Errorf("outputs %v unmatched %v", res.Outputs, res.UnmatchedPatterns)
	}
	if exists(e.high("output/data.arrow")) {
		t.Error("a directory was copied as an output")
	}
}

// TestFinalizeRefusesSymlinkOutput: an output that is a symlink to a file
// outside the scratch workspace is refused and its target never read.
func TestFinalizeRefusesSymlinkOutput(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	write(t, filepath.Join(outside, "secret.csv"), "patient_id\n1\n")
	before := snapshot(t, outside)
	e.prepare(t)
	symlink(t, filepath.Join(outside, "secret.csv"), e.scratch("output/table.csv"))
	symlink(t, "/etc/passwd", e.scratch("output/passwd.csv"))
	e.jobWrites(t, "output/data.arrow", "x")

	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if _, ok := res.Outputs["output/table.csv"]; ok {
		t.Error("a symlink became an output")
	}
	if !reflect.DeepEqual(res.UnmatchedPatterns, []string{"output/*.csv"}) {
		t.Errorf("unmatched %q", res.UnmatchedPatterns)
	}
	for _, p := range []string{e.high("output/table.csv"), e.high("output/passwd.csv"), e.medium("output/table.csv")} {
		if exists(p) {
			t.Errorf("%s written", p)
		}
	}
	if !hasLine(res.Log, "Not keeping output/table.csv: it matches an output pattern but is a symlink") {
		t.Errorf("log %q", res.Log)
	}
	if !strings.Contains(e.jobLog(t), "(refused, not kept):\n  output/passwd.csv  - symlink\n  output/table.csv   - symlink\n") {
		t.Errorf("job log:\n%s", e.jobLog(t))
	}
	sameSnapshot(t, "outside directory", before, snapshot(t, outside))
}

// TestFinalizeRefusesSymlinkedWorkspaceDirectory: when the workspace's
// output directory is a symlink to elsewhere, finalize writes nothing
// through it and says why.
func TestFinalizeRefusesSymlinkedWorkspaceDirectory(t *testing.T) {
	for _, where := range []string{"high", "medium", "high metadata"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t)
			outside := t.TempDir()
			write(t, filepath.Join(outside, "keep.txt"), "unchanged")
			before := snapshot(t, outside)
			switch where {
			case "high":
				symlink(t, outside, e.high("output"))
			case "medium":
				symlink(t, outside, e.medium("output"))
			case "high metadata":
				symlink(t, outside, e.high("metadata"))
			}
			e.prepare(t)
			e.jobWrites(t, "output/table.csv", "a\n1\n")
			e.jobWrites(t, "output/data.arrow", "x")
			_, err := Finalize(e.def, successRun(), executor.FinalizeOptions{}, fixedClock)
			if err == nil || !strings.Contains(err.Error(), "is a symlink; Haven never reads or writes through symlinks") {
				t.Fatalf("err = %v", err)
			}
			sameSnapshot(t, "outside directory", before, snapshot(t, outside))
			if where != "high" && exists(e.high("output/table.csv")) {
				t.Error("outputs were written before the unsafe destination was found")
			}
		})
	}
}

func TestFinalizeOutputOntoDirectoryInWorkspace(t *testing.T) {
	e := newEnv(t)
	mkdir(t, e.high("output/table.csv"))
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")
	_, err := Finalize(e.def, successRun(), executor.FinalizeOptions{}, fixedClock)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestFinalizeWithoutMediumDir(t *testing.T) {
	e := newEnv(t)
	e.def.MediumDir = ""
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", csvOf("patient_id,b", 1))
	e.jobWrites(t, "output/data.arrow", "x")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if res.Level4Excluded["output/table.csv"] != "File has patient_id column" {
		t.Errorf("Level-4 checks must run without a medium-privacy workspace too: %v", res.Level4Excluded)
	}
	if exists(filepath.Join(e.base, "medium")) {
		t.Error("a medium-privacy directory was created")
	}
}

func TestFinalizeTruncatesLongLogs(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	var b strings.Builder
	for range MaxLogLines + 10 {
		b.WriteString("2026-03-04T05:01:00.000000000Z x\n")
	}
	run := successRun()
	run.Log = []byte(b.String())
	e.finalize(t, run, executor.FinalizeOptions{})
	log := e.jobLog(t)
	head, _, _ := strings.Cut(log, "\n\n"+JobLogMarker)
	if n := strings.Count(head, "\n"); n != MaxLogLines-1 {
		t.Errorf("kept %d output lines, want %d", n+1, MaxLogLines)
	}
}

// TestFinalizeConcurrentManifestUpdates: jobs of different actions
// finalizing at once into one medium-privacy workspace keep every entry.
func TestFinalizeConcurrentManifestUpdates(t *testing.T) {
	base := newEnv(t)
	const n = 6
	defs := make([]executor.JobDefinition, n)
	for i := range defs {
		def := base.def
		def.ID = fmt.Sprintf("job%013d", i)
		def.Action = fmt.Sprintf("action_%d", i)
		def.OutputSpec = map[string]string{fmt.Sprintf("output/a%d.csv", i): executor.ModeratelySensitive}
		if _, _, err := PrepareScratch(def, fixedClock); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(ScratchDir(def), "output", fmt.Sprintf("a%d.csv", i)), "a\n1\n")
		defs[i] = def
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range defs {
		wg.Go(func() {
			_, errs[i] = Finalize(defs[i], successRun(), executor.FinalizeOptions{}, fixedClock)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var m struct {
		Outputs map[string]json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(read(t, base.medium(ManifestFile))), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Outputs) != n {
		t.Errorf("manifest has %d entries, want %d", len(m.Outputs), n)
	}
}

// TestFinalizeStaleOutputThroughSymlink: a stale output reached through a
// symlinked directory is not removed; the link's target is untouched.
func TestFinalizeStaleOutputThroughSymlink(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	write(t, filepath.Join(outside, "x.csv"), "not ours")
	before := snapshot(t, outside)
	symlink(t, outside, e.high("linked"))
	symlink(t, filepath.Join(outside, "x.csv"), e.high("output/link.csv"))
	e.def.PreviousOutputs = []string{"linked/x.csv", "output/link.csv"}
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")
	res := e.finalize(t, successRun(), executor.FinalizeOptions{})
	if len(res.RemovedOutputs) != 0 {
		t.Errorf("removed %q", res.RemovedOutputs)
	}
	if !hasLine(res.Log, "Not removing "+e.high("linked")) || !hasLine(res.Log, "Not removing "+e.high("output/link.csv")) {
		t.Errorf("log %q", res.Log)
	}
	if !exists(e.high("output/link.csv")) {
		t.Error("the symlink itself was removed")
	}
	sameSnapshot(t, "outside directory", before, snapshot(t, outside))
}

// TestFinalizeLeavesNoTemporaryFiles: every write is a rename of a
// temporary file, and none is left behind.
func TestFinalizeLeavesNoTemporaryFiles(t *testing.T) {
	e := newEnv(t)
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/ids.csv", "patient_id\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")
	e.finalize(t, successRun(), executor.FinalizeOptions{})
	for _, dir := range []string{e.def.WorkspaceDir, e.def.MediumDir, e.def.LogDir, ScratchDir(e.def)} {
		for name := range snapshot(t, dir) {
			if strings.HasPrefix(filepath.Base(name), ".haven-") {
				t.Errorf("temporary file %s left in %s", name, dir)
			}
		}
	}
}

// TestFinalizeCorruptManifest: a manifest that is not JSON stops finalize
// with a message saying what to do, rather than being overwritten and its
// entries lost.
func TestFinalizeCorruptManifest(t *testing.T) {
	e := newEnv(t)
	write(t, e.medium(ManifestFile), "{not json")
	e.prepare(t)
	e.jobWrites(t, "output/table.csv", "a\n1\n")
	e.jobWrites(t, "output/data.arrow", "x")
	_, err := Finalize(e.def, successRun(), executor.FinalizeOptions{}, fixedClock)
	if err == nil || !strings.Contains(err.Error(), "restore it from a backup or remove it") {
		t.Fatalf("err = %v", err)
	}
	if read(t, e.medium(ManifestFile)) != "{not json" {
		t.Error("the corrupt manifest was overwritten")
	}
}
