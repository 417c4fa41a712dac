package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/outputs"
)

// tick is a clock that moves one second per reading.
func tick() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func TestJobLogLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	lg := newJobLog(f, tick())
	out, errs := lg.stream(), lg.stream()
	for _, w := range []struct {
		s    *logStream
		text string
	}{
		{out, "one\ntw"},
		{errs, "err line\n"},
		{out, "o\n\nthree"},
		{errs, "tail"},
	} {
		if n, err := w.s.Write([]byte(w.text)); err != nil || n != len(w.text) {
			t.Fatalf("Write(%q) = %d, %v", w.text, n, err)
		}
	}
	_ = out.Close()
	_ = errs.Close()
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"2026-01-02T02:04:06.000000006Z one",
		"2026-01-02T02:04:07.000000006Z err line",
		"2026-01-02T02:04:08.000000006Z two",
		"2026-01-02T02:04:09.000000006Z ",
		"2026-01-02T02:04:10.000000006Z three",
		"2026-01-02T02:04:11.000000006Z tail",
	}, "\n") + "\n"
	if got := readString(t, path); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
		if _, err := time.Parse(outputs.LogTimestampFormat, line[:30]); err != nil || line[30] != ' ' {
			t.Errorf("line %q does not start with a 30-character timestamp and a space", line)
		}
	}
}

func TestJobLogSplitsHugeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	lg := newJobLog(f, tick())
	s := lg.stream()
	huge := bytes.Repeat([]byte("x"), maxLogLine+10)
	_, _ = s.Write(huge)
	_, _ = s.Write([]byte("\n"))
	_ = s.Close()
	_ = lg.Close()
	lines := strings.Split(strings.TrimSuffix(readString(t, path), "\n"), "\n")
	if len(lines) != 2 || len(lines[0]) != 31+maxLogLine+10 {
		t.Errorf("a line longer than %d bytes: %d lines of lengths %v", maxLogLine, len(lines), lineLengths(lines))
	}
}

func lineLengths(lines []string) []int {
	var n []int
	for _, l := range lines {
		n = append(n, len(l))
	}
	return n
}

func TestReadLogTail(t *testing.T) {
	dir := t.TempDir()
	if data, err := readLogTail(filepath.Join(dir, "missing")); err != nil || data != nil {
		t.Errorf("missing log: %q, %v; want empty", data, err)
	}
	var b strings.Builder
	total := outputs.MaxLogLines + 5
	for i := range total {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := readLogTail(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != outputs.MaxLogLines || lines[0] != "line 5" || lines[len(lines)-1] != fmt.Sprintf("line %d", total-1) {
		t.Errorf("tail has %d lines from %q to %q; want the last %d", len(lines), lines[0], lines[len(lines)-1], outputs.MaxLogLines)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("a\nb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := readLogTail(short); err != nil || string(data) != "a\nb" {
		t.Errorf("short log: %q, %v", data, err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
