package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/haven-tre/haven/internal/executor"
)

// Files the local executor keeps per job in its run directory, which sits
// next to the scratch directory (never inside it, so nothing there is ever
// taken for an output). The run directory is also the job's HOME and
// TMPDIR, as a container's is /tmp; the names are chosen not to collide
// with what tools put there.
const (
	logFile    = "haven-job.log"   // the job's output, timestamped lines
	recordFile = "haven-run.jsonl" // the run record, one JSON snapshot per line
)

// record is what the local executor persists about a run, so that a new
// executor (after a runner restart) can tell what happened to it. It is
// appended to the record file as a whole snapshot at each step (started,
// exited, finalized); the last complete line is the current one. Appending
// instead of rewriting costs no new file per step, which matters when
// creating a file is the slowest thing a job does.
type record struct {
	// PID is the process (and process group) id; 0 for a native action.
	PID int `json:"pid,omitempty"`
	// ProcStart is the process's start time in clock ticks since boot, as
	// /proc/<pid>/stat gives it, so a reused pid is not mistaken for the
	// job's process.
	ProcStart uint64    `json:"proc_start,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`

	Finished   bool      `json:"finished,omitempty"`
	ExitCode   int       `json:"exit_code"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	Terminated bool      `json:"terminated,omitempty"`

	// FinalizedAt (nanoseconds) and Results are set once finalized.
	FinalizedAt int64             `json:"finalized_at,omitempty"`
	Results     *executor.Results `json:"results,omitempty"`
}

// appendRecord adds a snapshot to the record file, creating it if needed.
// One write of one line: a crash can at worst leave a torn last line, which
// readRecord skips.
func appendRecord(path string, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	data = append(data, '\n')
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write run record: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write run record %s: %w", path, err)
	}
	return nil
}

// readRecord returns the last complete snapshot in the record file. found
// is false when the file does not exist; a file with no complete line
// gives the zero record (a run that started and was lost at once).
func readRecord(path string) (rec record, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read run record: %w", err)
	}
	for len(data) > 0 {
		data = bytes.TrimRight(data, "\n")
		i := bytes.LastIndexByte(data, '\n')
		line := data[i+1:]
		var r record
		if json.Unmarshal(line, &r) == nil {
			return r, true, nil
		}
		data = data[:max(i, 0)]
	}
	return record{}, true, nil
}
