package outputs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/haven-tre/haven/internal/executor"
)

// MetadataFile is the name of the file in the job's log directory that
// records what finalize found. Finalize writes it last, so its presence
// means the job is finalized.
const MetadataFile = "metadata.json"

// jobMetadata is metadata.json (spec §22.9). Docker-only keys
// (container_metadata, job_metrics, the image labels) are left out;
// keys after Error are Haven's. status_message is the executor's message,
// as upstream; the final status is in final_status_code and
// final_status_message.
type jobMetadata struct {
	Outputs             map[string]string `json:"outputs"`
	UnmatchedPatterns   []string          `json:"unmatched_patterns"`
	UnmatchedOutputs    []string          `json:"unmatched_outputs"`
	StatusMessage       *string           `json:"status_message"`
	Hint                *string           `json:"hint"`
	TimestampNS         int64             `json:"timestamp_ns"`
	JobDefinitionID     string            `json:"job_definition_id"`
	JobDefinitionRapID  string            `json:"job_definition_rap_id"`
	TaskID              *string           `json:"task_id"`
	CreatedAt           int64             `json:"created_at"`
	User                string            `json:"user"`
	CompletedAt         int64             `json:"completed_at"`
	DockerImageID       *string           `json:"docker_image_id"`
	ExpectedImageID     *string           `json:"expected_image_id"`
	ExitCode            string            `json:"exit_code"`
	OOMKilled           bool              `json:"oom_killed"`
	Commit              *string           `json:"commit"`
	DatabaseName        *string           `json:"database_name"`
	Level4ExcludedFiles map[string]string `json:"level4_excluded_files"`
	Cancelled           bool              `json:"cancelled"`
	Error               bool              `json:"error"`

	FinalStatusCode    string            `json:"final_status_code"`
	FinalStatusMessage string            `json:"final_status_message"`
	TimedOut           bool              `json:"timed_out"`
	MemoryLimit        int64             `json:"memory_limit"`
	Timeout            *string           `json:"timeout"`
	StartedAt          *string           `json:"started_at"`
	FinishedAt         *string           `json:"finished_at"`
	RefusedOutputs     map[string]string `json:"refused_outputs"`
	RemovedOutputs     []string          `json:"removed_outputs"`
	LogFile            string            `json:"log_file"`
}

// LoadResults reads the results a finished Finalize recorded in the job's
// metadata.json, for an executor asked for the status of a job finalized
// before a restart. found is false when the job has not been finalized.
// Results.Log is not recorded and comes back empty.
func LoadResults(def executor.JobDefinition) (res *executor.Results, found bool, err error) {
	if err := checkName("job id", def.ID); err != nil {
		return nil, false, err
	}
	if _, err := os.Stat(def.LogDir); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	logs, err := openTree(def.LogDir, false, 0o755)
	if err != nil {
		return nil, false, fmt.Errorf("load results of job %s: %w", def.ID, err)
	}
	defer logs.Close()
	data, err := logs.readFile(jobLogRel(def)+"/"+MetadataFile, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load results of job %s: %w", def.ID, err)
	}
	var m jobMetadata
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false, fmt.Errorf("load results of job %s: %s is not valid JSON: %w", def.ID, logs.name(jobLogRel(def)+"/"+MetadataFile), err)
	}
	exit := -1
	if n, err := strconv.Atoi(m.ExitCode); err == nil {
		exit = n
	}
	res = &executor.Results{
		Outputs:           nonNilMap(m.Outputs),
		UnmatchedPatterns: nonNil(m.UnmatchedPatterns),
		UnmatchedOutputs:  nonNil(m.UnmatchedOutputs),
		ExitCode:          exit,
		Message:           deref(m.StatusMessage),
		UnmatchedHint:     deref(m.Hint),
		Level4Excluded:    nonNilMap(m.Level4ExcludedFiles),
		RemovedOutputs:    nonNil(m.RemovedOutputs),
		LogFile:           m.LogFile,
		ImageID:           deref(m.DockerImageID),
		OOMKilled:         m.OOMKilled,
		TimedOut:          m.TimedOut,
		Cancelled:         m.Cancelled,
		Errored:           m.Error,
	}
	return res, true, nil
}

// ptr is a pointer to s, nil for "" (JSON null).
func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref is *p, "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nonNil makes a nil slice empty, so it is written as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nonNilMap makes a nil map empty.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
