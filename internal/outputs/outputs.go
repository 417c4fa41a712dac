// Package outputs is the executor-independent half of prepare and finalize:
// it builds a job's scratch workspace (the project code minus outputs, plus
// the inputs), and after the job has run it matches the output patterns,
// persists the outputs atomically, runs the Level-4 checks, keeps the
// medium-privacy copy and its manifest, removes stale outputs, and writes
// the job log with its trailer and metadata.json.
//
// Every file operation goes through an os.Root, so nothing can be read or
// written outside the directories a JobDefinition names, and on top of that
// no directory on the way to a file may be a symlink. Symlinks, FIFOs,
// sockets and devices are never outputs and never opened as files.
package outputs

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/executor"
)

// MarkerFile is the file at the root of a scratch workspace whose presence
// means the workspace is prepared. It holds the time of preparation in
// nanoseconds, and its mtime is the cut-off for spotting files the job wrote.
const MarkerFile = ".opensafely-timestamp"

// Level-4 defaults used when a JobDefinition leaves its limits at zero.
const (
	DefaultLevel4MaxFileSize int64 = 16 << 20 // 16 MiB; larger files are excluded
	DefaultLevel4MaxCSVRows        = 5000     // more data rows are excluded
)

// MaxLogLines is how many of the job's last output lines the log keeps.
const MaxLogLines = 100_000

// metadataDir is the workspace directory that holds logs and the manifest.
const metadataDir = "metadata"

// ScratchDir is the job's scratch workspace on the host: ScratchRoot/ID.
// Docker bind-mounts it at /workspace; the local executor runs in it.
func ScratchDir(def executor.JobDefinition) string {
	return filepath.Join(def.ScratchRoot, def.ID)
}

// JobLogDir is the job's directory in the log area:
// LogDir/<YYYY-MM of CreatedAt, UTC>/os-job-<ID>. It holds logs.txt and
// metadata.json.
func JobLogDir(def executor.JobDefinition) string {
	return filepath.Join(def.LogDir, jobLogRel(def))
}

// jobLogRel is JobLogDir relative to LogDir, slash-separated.
func jobLogRel(def executor.JobDefinition) string {
	return def.CreatedAt.UTC().Format("2006-01") + "/os-job-" + def.ID
}

// LogFileName is the workspace-relative path of an action's log,
// metadata/<action>.log.
func LogFileName(action string) string {
	return metadataDir + "/" + action + ".log"
}

// checkName refuses identifiers used as a single path component (job ids,
// action names) that could name another directory.
func checkName(what, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%s %q cannot be used as a file name: it must be non-empty and contain no '/', '\\' or NUL, and not be '.' or '..'", what, name)
	}
	return nil
}

// checkRelPath refuses a workspace-relative path that is absolute, not in
// clean slash form, or climbs out with "..".
func checkRelPath(what, p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("%s %q is empty: give a path relative to the workspace, e.g. output/data.csv", what, p)
	case strings.ContainsRune(p, 0) || strings.Contains(p, `\`):
		return fmt.Errorf("%s %q contains a NUL or a backslash: use forward slashes only", what, p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("%s %q is an absolute path: give a path relative to the workspace", what, p)
	case path.Clean(p) != p:
		return fmt.Errorf("%s %q is not in standard form (double slashes, '.' or '..'): write it as %s", what, p, path.Clean(p))
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%s %q points outside the workspace: remove the '..'", what, p)
	}
	return nil
}

// level4Limits returns the Level-4 limits of a job, defaults filled in.
func level4Limits(def executor.JobDefinition) (maxSize int64, maxRows int) {
	maxSize, maxRows = def.Level4MaxFileSize, def.Level4MaxCSVRows
	if maxSize <= 0 {
		maxSize = DefaultLevel4MaxFileSize
	}
	if maxRows <= 0 {
		maxRows = DefaultLevel4MaxCSVRows
	}
	return maxSize, maxRows
}

// unixSeconds is t in whole seconds since the epoch, 0 for the zero time.
func unixSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
