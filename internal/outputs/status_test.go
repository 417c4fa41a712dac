package outputs

import (
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
)

func TestFinalStatus(t *testing.T) {
	tests := []struct {
		name     string
		res      *executor.Results
		db       bool
		wantCode haven.StatusCode
		wantMsg  string
	}{
		{"success", &executor.Results{Outputs: map[string]string{"a.csv": "highly_sensitive"}},
			false, haven.StatusSucceeded, "Completed successfully"},
		{"success with Level-4 exclusions", &executor.Results{Level4Excluded: map[string]string{"a.csv": "x", "b.csv": "y"}},
			false, haven.StatusSucceeded, "Completed successfully, but 2 file(s) marked as moderately_sensitive were excluded. See job log for details."},
		{"unmatched patterns", &executor.Results{UnmatchedPatterns: []string{"output/a.csv", "output/*.png"}},
			false, haven.StatusUnmatchedPatterns, "No outputs found matching patterns:\n - output/a.csv\n - output/*.png"},
		{"non-zero exit beats unmatched patterns", &executor.Results{ExitCode: 1, UnmatchedPatterns: []string{"x.csv"}},
			false, haven.StatusNonzeroExit, "Job exited with an error"},
		{"non-zero exit with a message", &executor.Results{ExitCode: 137, Message: "Job killed by OpenSAFELY admin or memory limits"},
			false, haven.StatusNonzeroExit, "Job exited with an error: Job killed by OpenSAFELY admin or memory limits"},
		{"database exit code 3", &executor.Results{ExitCode: 3},
			true, haven.StatusNonzeroExit, "Job exited with an error: A transient database error occurred, your job may run if you try it again, if it keeps failing then contact tech support"},
		{"database exit code 4", &executor.Results{ExitCode: 4},
			true, haven.StatusNonzeroExit, "Job exited with an error: New data is being imported into the database, please try again in a few hours"},
		{"database exit code 5", &executor.Results{ExitCode: 5},
			true, haven.StatusNonzeroExit, "Job exited with an error: Something went wrong with the database, please contact tech support"},
		{"database exit code 14", &executor.Results{ExitCode: 14},
			true, haven.StatusNonzeroExit, "Job exited with an error: Your job was making such slow progress that it was unlikely to complete successfully; please contact tech support so we can help you to simplify it."},
		{"database text only for database jobs", &executor.Results{ExitCode: 3},
			false, haven.StatusNonzeroExit, "Job exited with an error"},
		{"executor message beats the database text", &executor.Results{ExitCode: 3, Message: "custom"},
			true, haven.StatusNonzeroExit, "Job exited with an error: custom"},
		{"unknown database exit code", &executor.Results{ExitCode: 99},
			true, haven.StatusNonzeroExit, "Job exited with an error"},
		{"out of memory", &executor.Results{ExitCode: 137, OOMKilled: true, Message: "Job ran out of memory (limit was 4.00GB)"},
			false, haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory (limit was 4.00GB)"},
		{"out of memory even with exit 0", &executor.Results{OOMKilled: true, Message: "Job ran out of memory"},
			false, haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory"},
		{"time limit", &executor.Results{ExitCode: -1, TimedOut: true, Message: "Job exceeded its time limit of 2h"},
			false, haven.StatusNonzeroExit, "Job exited with an error: Job exceeded its time limit of 2h"},
		{"cancelled", &executor.Results{Cancelled: true, ExitCode: 137},
			false, haven.StatusCancelledByUser, "Cancelled by user"},
		{"errored", &executor.Results{Errored: true},
			false, haven.StatusInternalError, haven.StatusInternalError.Message()},
		{"nil results", nil, false, haven.StatusInternalError, haven.StatusInternalError.Message()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := FinalStatus(tt.res, tt.db)
			if code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("FinalStatus = %s %q, want %s %q", code, msg, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestExecutorMessage(t *testing.T) {
	tests := []struct {
		name     string
		run      RunInfo
		opts     executor.FinalizeOptions
		matched  int
		patterns []string
		outputs  []string
		wantMsg  string
		wantHint string
	}{
		{name: "success", matched: 1, wantMsg: "Completed successfully"},
		{name: "exit 0 without outputs or patterns", wantMsg: ""},
		{name: "unmatched, no hint", patterns: []string{"a.csv"}, wantMsg: "\n  No outputs found matching patterns:\n - a.csv"},
		{name: "unmatched with hint", matched: 1, patterns: []string{"a.csv", "b/*.csv"}, outputs: []string{"x.csv", "b/y/z.csv"},
			wantMsg:  "\n  No outputs found matching patterns:\n - a.csv\n   - b/*.csv",
			wantHint: "\n  Did you mean to match one of these files instead?\n - x.csv\n   - b/y/z.csv"},
		{name: "137", run: RunInfo{ExitCode: 137}, wantMsg: "Job killed by OpenSAFELY admin or memory limits"},
		{name: "other exit", run: RunInfo{ExitCode: 1}, patterns: []string{"a.csv"}, wantMsg: ""},
		{name: "oom with limit", run: RunInfo{ExitCode: 137, OOMKilled: true, MemoryLimit: 4 << 30}, wantMsg: "Job ran out of memory (limit was 4.00GB)"},
		{name: "oom whatever the exit code", run: RunInfo{ExitCode: 1, OOMKilled: true, MemoryLimit: 1536 << 20}, wantMsg: "Job ran out of memory (limit was 1.50GB)"},
		{name: "oom, limit unknown", run: RunInfo{ExitCode: 137, OOMKilled: true}, wantMsg: "Job ran out of memory"},
		{name: "time limit", run: RunInfo{ExitCode: 137, TimedOut: true, Timeout: 2 * time.Hour}, wantMsg: "Job exceeded its time limit of 2h"},
		{name: "time limit 90s", run: RunInfo{ExitCode: -1, TimedOut: true, Timeout: 90 * time.Second}, wantMsg: "Job exceeded its time limit of 1m30s"},
		{name: "cancelled", run: RunInfo{ExitCode: 137}, opts: executor.FinalizeOptions{Cancelled: true}, wantMsg: "Job cancelled by system"},
		{name: "errored", run: RunInfo{ExitCode: -1}, opts: executor.FinalizeOptions{Error: true}, wantMsg: "Job errored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, hint := executorMessage(tt.run, tt.opts, tt.matched, tt.patterns, tt.outputs)
			if msg != tt.wantMsg || hint != tt.wantHint {
				t.Errorf("got %q %q, want %q %q", msg, hint, tt.wantMsg, tt.wantHint)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour:                "2h",
		90 * time.Minute:             "1h30m",
		30 * time.Minute:             "30m",
		90 * time.Second:             "1m30s",
		45 * time.Second:             "45s",
		time.Hour + 30*time.Second:   "1h0m30s",
		500 * time.Millisecond:       "500ms",
		0:                            "0s",
		26*time.Hour + 5*time.Minute: "26h5m",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
