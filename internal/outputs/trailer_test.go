package outputs

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTrailerGolden(t *testing.T) {
	base := summary{
		JobID:       "abcdefghijklmnop",
		RequestID:   "req0123456789abc",
		Commit:      "0123456789abcdef0123456789abcdef01234567",
		ImageID:     "sha256:feedface",
		ExitCode:    "0",
		CreatedAt:   1772323140,
		CompletedAt: 1772600767,
	}
	tests := []struct {
		name string
		edit func(*summary)
	}{
		{"success", func(s *summary) {
			s.StatusMessage = "Completed successfully"
			s.Outputs = map[string]string{
				"output/a.csv":     "highly_sensitive",
				"output/table.csv": "moderately_sensitive",
			}
		}},
		{"excluded", func(s *summary) {
			s.StatusMessage = "Completed successfully, but 2 file(s) marked as moderately_sensitive were excluded. See job log for details."
			s.Outputs = map[string]string{
				"output/a.csv":   "highly_sensitive",
				"output/big.csv": "moderately_sensitive",
				"output/ids.csv": "moderately_sensitive",
			}
			s.Excluded = map[string]string{
				"output/big.csv": "File row count (7000) exceeds maximum allowed rows (5000)",
				"output/ids.csv": "File has patient_id column",
			}
		}},
		{"unmatched", func(s *summary) {
			s.StatusMessage = "No outputs found matching patterns:\n - output/b.csv"
			s.Hint = "\n  Did you mean to match one of these files instead?\n - output/B.csv\n   - tmp/x.csv"
			s.Outputs = map[string]string{"output/a.csv": "highly_sensitive"}
			s.UnmatchedOutputs = []string{"output/B.csv", "tmp/x.csv"}
		}},
		{"nothing", func(s *summary) {
			s.Commit, s.ImageID, s.ExitCode, s.CreatedAt = "", "", "", 0
			s.StatusMessage = "Cancelled by user"
		}},
		{"haven-blocks", func(s *summary) {
			s.ExitCode = "0"
			s.StatusMessage = "Completed successfully"
			s.Outputs = map[string]string{"output/ünïcode.csv": "moderately_sensitive", "o/x.csv": "highly_sensitive"}
			s.UnmatchedOutputs = []string{"debug.log"}
			s.Refused = map[string]string{"output/link.csv": "symlink", "output/dir.csv": "directory"}
			s.Removed = []string{"output/old.csv"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			output := []byte("2026-03-04T05:01:00.000000000Z starting\n2026-03-04T05:02:00.000000000Z done\n")
			golden(t, "trailer/"+tt.name+".golden", jobLog(output, renderTrailer(s)))
		})
	}
}

func TestTabulate(t *testing.T) {
	got := tabulate([][2]string{{"output/a.csv", "highly_sensitive"}, {"output/table.csv", "moderately_sensitive"}}, "  - ", 2, "(no outputs)")
	want := "  output/a.csv      - highly_sensitive    \n  output/table.csv  - moderately_sensitive"
	if got != want {
		t.Errorf("tabulate:\n%q\nwant\n%q", got, want)
	}
	if got := tabulate(nil, "  - ", 2, "(no outputs)"); got != "  (no outputs)" {
		t.Errorf("empty tabulate = %q", got)
	}
}

func TestJobLog(t *testing.T) {
	tests := []struct {
		name, output, want string
	}{
		{"empty output", "", "\nT"},
		{"ends in newline", "a\nb\n", "a\nb\n\nT"},
		{"no final newline", "a\nb", "a\nb\n\nT"},
	}
	for _, tt := range tests {
		if got := string(jobLog([]byte(tt.output), "\nT")); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		text string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"", 1, ""},
		{"\n\n\n", 2, "\n\n"},
	}
	for _, tt := range tests {
		if got := string(lastLines([]byte(tt.text), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
		}
	}
	var b strings.Builder
	for i := range MaxLogLines + 5 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	got := lastLines([]byte(b.String()), MaxLogLines)
	if n := bytes.Count(got, []byte("\n")); n != MaxLogLines || !bytes.HasPrefix(got, []byte("line 5\n")) {
		t.Errorf("kept %d lines starting %q", n, got[:10])
	}
}

func TestLogWriter(t *testing.T) {
	var buf bytes.Buffer
	tick := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Second)
		return tick
	}
	w := NewLogWriter(&buf, now)
	for _, s := range []string{"hello ", "world\nsecond", " line\n", "", "\n", "tail"} {
		if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "2026-03-04T05:06:08.000000000Z hello world\n" +
		"2026-03-04T05:06:09.000000000Z second line\n" +
		"2026-03-04T05:06:10.000000000Z \n" +
		"2026-03-04T05:06:11.000000000Z tail\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(want, "\n"), "\n") {
		if line[30] != ' ' {
			t.Errorf("timestamp prefix of %q is not 31 characters", line)
		}
	}
}
