package outputs

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JobLogMarker starts the job summary that follows the job's output in its
// log (after a blank line).
const JobLogMarker = "=============JOB SUMMARY============="

// Headings of Haven's additions to the trailer (Haven decision 6).
const (
	unmatchedOutputsHeading = "Warning: files written by this job but not matched by any output pattern (not kept):"
	refusedHeading          = "Warning: files matching an output pattern that are not regular files (refused, not kept):"
	removedHeading          = "Removed outputs no longer produced by this action:"
)

// summary is what the trailer of a job log reports.
type summary struct {
	JobID         string
	RequestID     string
	Commit        string
	ImageID       string
	ExitCode      string // "" when the job never ran
	CreatedAt     int64  // seconds; 0 to leave out
	CompletedAt   int64  // seconds; 0 to leave out
	DatabaseName  string
	StatusMessage string
	Hint          string

	Outputs  map[string]string // path → level
	Excluded map[string]string // path → Level-4 reason

	UnmatchedOutputs []string          // Haven: new files no pattern matched
	Refused          map[string]string // Haven: pattern matches that are not regular files → kind
	Removed          []string          // Haven: stale outputs removed
}

// renderTrailer writes the job summary exactly as upstream does (spec
// §22.8), Haven's warning blocks after it. It starts with a newline: after
// the job output, which ends in one, that makes the blank line that
// separates the two.
func renderTrailer(s summary) string {
	var b strings.Builder
	b.WriteString("\n" + JobLogMarker + "\n")
	for _, kv := range [][2]string{
		{"job_definition_id", s.JobID},
		{"job_definition_rap_id", s.RequestID},
		{"commit", s.Commit},
		{"docker_image_id", s.ImageID},
		{"exit_code", s.ExitCode},
		{"created_at", secondsText(s.CreatedAt)},
		{"completed_at", secondsText(s.CompletedAt)},
		{"database_name", s.DatabaseName},
		{"status_message", s.StatusMessage},
		{"hint", s.Hint},
	} {
		if kv[1] != "" {
			b.WriteString(kv[0] + ": " + kv[1] + "\n")
		}
	}
	b.WriteString("\noutputs:\n")
	b.WriteString(tabulate(sortedPairs(s.Outputs), "  - ", 2, "(no outputs)"))
	if len(s.Excluded) > 0 {
		b.WriteString("\n")
		b.WriteString("\nInvalid moderately_sensitive outputs:\n")
		b.WriteString(tabulate(sortedPairs(s.Excluded), "  - ", 2, ""))
	}
	b.WriteString("\n")
	writeList(&b, unmatchedOutputsHeading, s.UnmatchedOutputs)
	if len(s.Refused) > 0 {
		b.WriteString("\n" + refusedHeading + "\n")
		b.WriteString(tabulate(sortedPairs(s.Refused), "  - ", 2, ""))
		b.WriteString("\n")
	}
	writeList(&b, removedHeading, s.Removed)
	return b.String()
}

// writeList writes a heading and an indented list after a blank line, or
// nothing for an empty list.
func writeList(b *strings.Builder, heading string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n" + heading + "\n")
	for _, it := range items {
		b.WriteString("  " + it + "\n")
	}
}

// secondsText is a timestamp for the trailer, "" for 0.
func secondsText(s int64) string {
	if s == 0 {
		return ""
	}
	return strconv.FormatInt(s, 10)
}

// sortedPairs is a map's entries sorted by key.
func sortedPairs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// tabulate formats two columns as upstream's string_utils.tabulate does:
// each column left-aligned and padded (in characters) to its widest entry,
// the second too, lines indented and joined by newlines without a final
// one; empty (indented) when there are no rows.
func tabulate(rows [][2]string, separator string, indent int, empty string) string {
	pad := strings.Repeat(" ", indent)
	if len(rows) == 0 {
		return pad + empty
	}
	var w0, w1 int
	for _, r := range rows {
		w0 = max(w0, utf8.RuneCountInString(r[0]))
		w1 = max(w1, utf8.RuneCountInString(r[1]))
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = pad + padRight(r[0], w0) + separator + padRight(r[1], w1)
	}
	return strings.Join(lines, "\n")
}

// padRight pads s with spaces to n characters.
func padRight(s string, n int) string {
	if c := utf8.RuneCountInString(s); c < n {
		return s + strings.Repeat(" ", n-c)
	}
	return s
}

// jobLog is the content of a job log: the last MaxLogLines lines of the
// job's output, ending in a newline, then the trailer.
func jobLog(output []byte, trailer string) []byte {
	output = lastLines(output, MaxLogLines)
	var b bytes.Buffer
	b.Grow(len(output) + 1 + len(trailer))
	b.Write(output)
	if len(output) > 0 && output[len(output)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(trailer)
	return b.Bytes()
}

// lastLines returns the last n lines of text (a final line without a
// newline counts as a line).
func lastLines(text []byte, n int) []byte {
	end := len(text)
	if end > 0 && text[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if text[i] == '\n' {
			if n--; n == 0 {
				return text[i+1:]
			}
		}
	}
	return text
}
