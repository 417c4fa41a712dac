package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/haven-tre/haven/internal/executor"
)

// The executor's records sit beside the scratch directory, not inside it:
// the job can write anything under /workspace, and must not be able to
// forge its own results or time-limit verdict.

// record is what Finalize saves so that Status reports Finalized, with
// the results, after a restart.
type record struct {
	FinalizedAt int64             `json:"finalized_at_ns"`
	Results     *executor.Results `json:"results"`
}

// resultsPath is the saved-results file of a job.
func resultsPath(def executor.JobDefinition) string {
	return filepath.Join(def.ScratchRoot, "os-job-"+def.ID+".results.json")
}

// timedOutPath is the marker written before a job is killed for exceeding
// its time limit.
func timedOutPath(def executor.JobDefinition) string {
	return filepath.Join(def.ScratchRoot, "os-job-"+def.ID+".timed-out")
}

// readRecord returns the saved results, or nil if there are none.
func readRecord(def executor.JobDefinition) (*record, error) {
	b, err := os.ReadFile(resultsPath(def))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read results of job %s: %w", def.ID, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read results of job %s: %s: %w", def.ID, resultsPath(def), err)
	}
	return &r, nil
}

// writeRecord saves the results atomically: a temporary file renamed into
// place, so a crash leaves either no record or a whole one.
func writeRecord(def executor.JobDefinition, r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save results of job %s: %w", def.ID, err)
	}
	return writeFileAtomic(resultsPath(def), b)
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
