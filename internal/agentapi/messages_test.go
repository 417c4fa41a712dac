package agentapi

import (
	"strings"
	"testing"

	"github.com/haven-tre/haven"
)

func TestAllowedMessage(t *testing.T) {
	tests := []struct {
		code haven.StatusCode
		msg  string
		want bool
	}{
		// The code's own message, or none.
		{haven.StatusSucceeded, "Completed successfully", true},
		{haven.StatusSucceeded, "", true},
		{haven.StatusPreparing, "Preparing your code and workspace files", true},
		{haven.StatusInternalError, haven.StatusInternalError.Message(), true},
		{haven.StatusCancelledByUser, "Cancelled by user", true},
		// Another code's message is not this code's.
		{haven.StatusSucceeded, "Cancelled by user", false},
		// The fixed templates.
		{haven.StatusSucceeded, "Completed successfully, but some file(s) marked as moderately_sensitive were excluded. See job log for details.", true},
		{haven.StatusSucceeded, "Completed successfully, but 3 file(s) marked as moderately_sensitive were excluded. See job log for details.", true},
		{haven.StatusUnmatchedPatterns, "Outputs matching expected patterns were not found. See job log for details.", true},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code 1", true},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code 137", true},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code -1", true},
		{haven.StatusNonzeroExit, "Job exited with an error", true},
		{haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory", true},
		{haven.StatusNonzeroExit, "Job exited with an error: Job ran out of memory (limit was 4.00GB)", true},
		{haven.StatusNonzeroExit, "Job exited with an error: Job exceeded its time limit", true},
		{haven.StatusNonzeroExit, "Job exited with an error: New data is being imported into the database, please try again in a few hours", true},
		// Templates belong to their code.
		{haven.StatusSucceeded, "Job exited with an error: exit code 1", false},
		{haven.StatusInternalError, "Outputs matching expected patterns were not found. See job log for details.", false},
		// What the runner says locally, which names files.
		{haven.StatusUnmatchedPatterns, "No outputs found matching patterns:\n - output/*.csv", false},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code", false},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code 1 in analysis/model.py", false},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code 0x1", false},
		{haven.StatusNonzeroExit, "Job exited with an error: exit code 123456789012345678901", false},
		{haven.StatusNonzeroExit, "Job exited with an error: Job exceeded its time limit of 2h", false},
		{haven.StatusInternalError, "Internal error: open /srv/high/ws/output/cohort.csv: permission denied", false},
		{haven.StatusInternalError, "Internal error: the runner stopped while this job was running; run the action again", false},
		{haven.StatusSucceeded, "Completed successfully, but output/patients.csv marked as moderately_sensitive were excluded. See job log for details.", false},
		{haven.StatusSucceeded, "Completed successfully\n", false},
		{"no_such_code", "", false},
	}
	for _, tc := range tests {
		if got := AllowedMessage(tc.code, tc.msg); got != tc.want {
			t.Errorf("AllowedMessage(%s, %q) = %v, want %v", tc.code, tc.msg, got, tc.want)
		}
	}
}

// skeleton replaces each run of ASCII digits with '#'.
func skeleton(s string) string {
	var b strings.Builder
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(c)
	}
	return b.String()
}

// FuzzAllowedMessage checks that whatever AllowedMessage lets off a
// backend is a fixed message of its code in which only digit runs vary:
// no file name, path, pattern or log line gets through. The seed corpus is
// made of things that must never leave.
func FuzzAllowedMessage(f *testing.F) {
	seeds := []struct {
		code string
		msg  string
	}{
		{"unmatched_patterns", "No outputs found matching patterns:\n - output/*.csv"},
		{"unmatched_patterns", "Outputs matching expected patterns were not found. See job log for details. output/a.csv"},
		{"nonzero_exit", "Job exited with an error: exit code 1\nTraceback (most recent call last):"},
		{"nonzero_exit", "Job exited with an error: exit code 1 /workspace/analysis/model.py"},
		{"nonzero_exit", "Job exited with an error: exit code 2 patients.csv"},
		{"nonzero_exit", `  File "analysis/model.py", line 12, in <module>`},
		{"nonzero_exit", "Job exited with an error: Job ran out of memory (limit was 4.00GB) see output/log.txt"},
		{"succeeded", "Completed successfully, but 2 file(s) marked as moderately_sensitive were excluded. See job log for details. output/x.csv"},
		{"succeeded", "output/dataset.csv.gz"},
		{"internal_error", "Internal error: open /srv/haven/high/ws/output/x.csv: no such file or directory"},
		{"internal_error", "KeyError: 'patient_id'"},
		{"cancelled_by_user", "Cancelled by user: /home/researcher/secret"},
		{"succeeded", "Completed successfully"},
		{"nonzero_exit", "Job exited with an error: exit code 137"},
	}
	for _, s := range seeds {
		f.Add(s.code, s.msg)
	}
	f.Fuzz(func(t *testing.T, code, msg string) {
		c := haven.StatusCode(code)
		if !AllowedMessage(c, msg) {
			return
		}
		if msg == "" || msg == c.Message() {
			return
		}
		sk := skeleton(msg)
		found := false
		for _, tpl := range templates[c] {
			if skeleton(tpl) == sk {
				found = true
			}
		}
		if !found {
			t.Fatalf("AllowedMessage(%s, %q) let through a message that is no fixed template of the code", code, msg)
		}
		if strings.ContainsAny(msg, "/\n\\'\"") || strings.Contains(msg, ".csv") || strings.Contains(msg, ".py") {
			t.Fatalf("AllowedMessage(%s, %q) let through a path or a log line", code, msg)
		}
	})
}

func TestSeedsThatMustNeverLeaveAreRefused(t *testing.T) {
	for _, s := range []struct{ code, msg string }{
		{"unmatched_patterns", "No outputs found matching patterns:\n - output/*.csv"},
		{"nonzero_exit", "Job exited with an error: exit code 1\nTraceback (most recent call last):"},
		{"nonzero_exit", `  File "analysis/model.py", line 12, in <module>`},
		{"internal_error", "Internal error: open /srv/haven/high/ws/output/x.csv: no such file or directory"},
		{"succeeded", "output/dataset.csv.gz"},
	} {
		if AllowedMessage(haven.StatusCode(s.code), s.msg) {
			t.Errorf("AllowedMessage(%s, %q) = true", s.code, s.msg)
		}
	}
}
