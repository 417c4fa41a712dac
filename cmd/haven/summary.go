package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven"
)

// summaryLogLines is how many lines of a failed job's output the summary
// shows, as upstream's local run does.
const summaryLogLines = 32

// writeSummary prints the end-of-run summary in upstream's local-run form:
// succeeded jobs first, then failed ones, each by start time; jobs that
// never started because a dependency failed are left out.
func writeSummary(w io.Writer, projectDir string, jobs []*haven.Job) {
	var shown []*haven.Job
	for _, j := range jobs {
		if j.StatusCode.IsFinal() && j.StatusCode != haven.StatusDependencyFailed {
			shown = append(shown, j)
		}
	}
	sort.SliceStable(shown, func(a, b int) bool {
		sa, sb := shown[a].State == haven.StateSucceeded, shown[b].State == haven.StateSucceeded
		if sa != sb {
			return sa
		}
		// By start time; jobs that never started last.
		ta, tb := shown[a].StartedAt, shown[b].StartedAt
		if ta.IsZero() != tb.IsZero() {
			return tb.IsZero()
		}
		return ta.Before(tb)
	})
	fmt.Fprintln(w)
	if len(shown) == 0 {
		fmt.Fprintln(w, "=> No jobs completed")
		return
	}
	for _, j := range shown {
		log := readJobLog(projectDir, j.Action)
		if log.jobID != j.ID {
			// The file is an earlier job's (this one was cancelled or
			// failed before writing its own): say nothing from it.
			log = jobLog{}
		}
		fmt.Fprintf(w, "=> %s\n", j.Action)
		fmt.Fprintf(w, "   %s\n", strings.ReplaceAll(j.StatusMessage, "\n", "\n   "))
		if log.hint != "" {
			fmt.Fprintf(w, "\n   %s\n", strings.ReplaceAll(log.hint, "\n", "\n   "))
		}
		if log.found {
			fmt.Fprintf(w, "   log file: %s\n", log.path)
		}
		fmt.Fprintln(w, "   outputs:")
		if len(j.Outputs) == 0 {
			fmt.Fprintln(w, "     (no outputs)")
		} else {
			writeTable(w, "     ", j.Outputs)
		}
		if len(log.invalid) > 0 {
			fmt.Fprintln(w, "   invalid moderately_sensitive outputs:")
			for _, l := range log.invalid {
				fmt.Fprintf(w, "     %s\n", l)
			}
		}
		if j.StatusCode == haven.StatusNonzeroExit && len(log.output) > 0 {
			lines, title := log.output, "logs:"
			if len(lines) > summaryLogLines {
				lines, title = lines[len(lines)-summaryLogLines:], "logs (truncated):"
			}
			fmt.Fprintf(w, "\n   %s\n\n", title)
			for _, l := range lines {
				fmt.Fprintf(w, "     %s\n", l)
			}
		}
		fmt.Fprintln(w)
	}
}

// writeTable prints path -> level rows in two padded columns.
func writeTable(w io.Writer, indent string, rows map[string]string) {
	keys := make([]string, 0, len(rows))
	width := 0
	for k := range rows {
		keys = append(keys, k)
		width = max(width, len(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s%-*s  - %s\n", indent, width, k, rows[k])
	}
}

// jobLog is what the summary reads back from metadata/<action>.log.
type jobLog struct {
	jobID   string   // the trailer's job_definition_id
	path    string   // project-relative
	found   bool     // the file exists
	output  []string // the job's own output, timestamps stripped
	hint    string   // the trailer's hint
	invalid []string // the trailer's invalid moderately_sensitive rows
}

// readJobLog parses a job log: the job's output, a blank line, then the
// trailer.
func readJobLog(projectDir, action string) jobLog {
	l := jobLog{path: "metadata/" + action + ".log"}
	b, err := os.ReadFile(filepath.Join(projectDir, "metadata", action+".log"))
	if err != nil {
		return l
	}
	l.found = true
	text := string(b)
	body, trailer, _ := strings.Cut(text, "\n\n")
	if strings.HasPrefix(text, "\n") {
		body, trailer = "", text[1:]
	}
	for _, line := range strings.Split(body, "\n") {
		if line == "" {
			continue
		}
		// Each line starts with an RFC 3339 timestamp and a space.
		if ts, rest, ok := strings.Cut(line, " "); ok {
			if _, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				line = rest
			}
		}
		l.output = append(l.output, line)
	}
	lines := strings.Split(trailer, "\n")
	for i := 0; i < len(lines); i++ {
		switch {
		case strings.HasPrefix(lines[i], "job_definition_id: "):
			l.jobID = strings.TrimPrefix(lines[i], "job_definition_id: ")
		case strings.HasPrefix(lines[i], "hint: "):
			// The hint runs to the next blank line; its first line is
			// usually empty, the heading indented.
			var h []string
			if first := strings.TrimSpace(strings.TrimPrefix(lines[i], "hint: ")); first != "" {
				h = append(h, first)
			}
			for i+1 < len(lines) && lines[i+1] != "" {
				i++
				if strings.HasPrefix(strings.TrimSpace(lines[i]), "- ") {
					h = append(h, " "+strings.TrimSpace(lines[i]))
				} else {
					h = append(h, strings.TrimSpace(lines[i]))
				}
			}
			l.hint = strings.Join(h, "\n")
		case lines[i] == "Invalid moderately_sensitive outputs:":
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") {
				i++
				l.invalid = append(l.invalid, strings.TrimSpace(lines[i]))
			}
		}
	}
	return l
}

// runJSON is the shape of `haven run --json`.
type runJSON struct {
	RequestID string    `json:"request_id"`
	Executor  string    `json:"executor"`
	Jobs      []jobJSON `json:"jobs"`
}

type jobJSON struct {
	ID            string            `json:"id"`
	Action        string            `json:"action"`
	State         string            `json:"state"`
	StatusCode    string            `json:"status_code"`
	StatusMessage string            `json:"status_message"`
	ExitCode      *int              `json:"exit_code"`
	CreatedAt     string            `json:"created_at"`
	StartedAt     string            `json:"started_at,omitempty"`
	CompletedAt   string            `json:"completed_at,omitempty"`
	LogFile       string            `json:"log_file,omitempty"`
	Outputs       map[string]string `json:"outputs"`
}

func toJobJSON(projectDir string, j *haven.Job) jobJSON {
	out := jobJSON{
		ID: j.ID, Action: j.Action, State: string(j.State), StatusCode: string(j.StatusCode),
		StatusMessage: j.StatusMessage, ExitCode: j.ExitCode, CreatedAt: isoTime(j.CreatedAt),
		StartedAt: isoTime(j.StartedAt), CompletedAt: isoTime(j.CompletedAt), Outputs: j.Outputs,
	}
	if out.Outputs == nil {
		out.Outputs = map[string]string{}
	}
	if l := readJobLog(projectDir, j.Action); l.found && l.jobID == j.ID {
		out.LogFile = l.path
	}
	return out
}

func writeRunJSON(w io.Writer, projectDir, requestID, executor string, jobs []*haven.Job) error {
	out := runJSON{RequestID: requestID, Executor: executor, Jobs: []jobJSON{}}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, toJobJSON(projectDir, j))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// isoTime formats a time as ISO 8601 UTC with a Z, or "" for none.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
