package outputs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
)

// RunInfo is what an executor observed about a job's run, for Finalize.
type RunInfo struct {
	// ExitCode of the job's process; -1 when it never ran.
	ExitCode int
	// Message is the executor's own account of how the job ended, e.g.
	// "Prepared job was cancelled". When set it replaces the message
	// Finalize derives (out of memory, time limit, exit 137, cancelled),
	// except for a clean exit 0, whose "Completed successfully" or
	// unmatched-patterns message Finalize always writes.
	Message string
	// OOMKilled is true when the job was killed for running out of memory,
	// by any evidence the executor has (Docker state, cgroup OOM event).
	OOMKilled bool
	// TimedOut is true when the executor killed the job for exceeding
	// Timeout.
	TimedOut bool
	// MemoryLimit is the job's memory limit in bytes, 0 if none or unknown.
	MemoryLimit int64
	// Timeout is the job's wall-clock limit, 0 for none.
	Timeout time.Duration
	// Log is the job's output (stdout and stderr interleaved), each line
	// "<timestamp in LogTimestampFormat> <text>\n"; see LogWriter.
	// Finalize keeps the last MaxLogLines lines.
	Log []byte
	// ImageID is the image the job ran (sha256:…), "" for host processes.
	ImageID string
	// StartedAt and FinishedAt bound the run; zero when unknown.
	StartedAt, FinishedAt time.Time
}

// Finalize records a finished job's results (spec §22, Haven decision 6).
//
// For a cancelled or errored job (opts) it considers no outputs and
// touches no workspace file: it writes only logs.txt and metadata.json in
// JobLogDir(def).
//
// Otherwise it matches the output patterns in the scratch workspace,
// copies every output into WorkspaceDir atomically (whatever the exit code,
// as upstream), runs the Level-4 checks on moderately_sensitive outputs,
// and, when MediumDir is set, copies those that pass there (writing a .txt
// note for those that do not) and merges their entries into the manifest.
// When the job succeeded it removes the outputs of the action's previous
// run that this run did not produce. It writes the job log, with its
// trailer, to the log directory, metadata/<action>.log in both workspaces,
// and metadata.json last, so metadata.json's presence means the job is
// finalized.
//
// Finalize refuses to write through a symlink anywhere in a destination
// path, and returns an error naming it. It is idempotent: called again it
// writes the same files (outputs keep the mtime the job gave them) and
// returns the same results; called after RemoveScratch it returns what
// metadata.json recorded.
func Finalize(def executor.JobDefinition, run RunInfo, opts executor.FinalizeOptions, now func() time.Time) (*executor.Results, error) {
	if err := checkName("job id", def.ID); err != nil {
		return nil, err
	}
	if err := checkName("action", def.Action); err != nil {
		return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	if def.LogDir == "" {
		return nil, fmt.Errorf("finalize job %s: no log directory is configured", def.ID)
	}
	early := opts.Cancelled || opts.Error
	if !early && (def.WorkspaceDir == "" || def.ScratchRoot == "") {
		return nil, fmt.Errorf("finalize job %s: the workspace directory and the scratch root must both be configured", def.ID)
	}
	res := &executor.Results{
		Outputs:           map[string]string{},
		UnmatchedPatterns: []string{},
		UnmatchedOutputs:  []string{},
		ExitCode:          run.ExitCode,
		Level4Excluded:    map[string]string{},
		RemovedOutputs:    []string{},
		ImageID:           run.ImageID,
		OOMKilled:         run.OOMKilled,
		TimedOut:          run.TimedOut,
		Cancelled:         opts.Cancelled,
		Errored:           opts.Error,
	}
	f := &finalizer{def: def, run: run, res: res, refused: map[string]string{}}
	defer f.close()
	if !early {
		done, err := f.openScratch()
		if err != nil || done != nil {
			return done, err
		}
	}
	res.Message, res.UnmatchedHint = executorMessage(run, opts, len(res.Outputs), res.UnmatchedPatterns, res.UnmatchedOutputs)
	if run.Message != "" && (early || run.ExitCode != 0 || run.OOMKilled || run.TimedOut) {
		res.Message = run.Message
	}
	if !early {
		if err := f.keepOutputs(); err != nil {
			return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
		}
	}
	if err := f.writeLogs(now().UTC(), early); err != nil {
		return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	return res, nil
}

// finalizer carries one Finalize call's state.
type finalizer struct {
	def     executor.JobDefinition
	run     RunInfo
	res     *executor.Results
	scratch *tree
	ws      *tree // the high-privacy workspace
	med     *tree // the medium-privacy workspace, nil for none
	refused map[string]string
}

// close releases the trees the finalizer opened.
func (f *finalizer) close() {
	for _, t := range []*tree{f.scratch, f.ws, f.med} {
		if t != nil {
			t.Close()
		}
	}
}

// openScratch opens the scratch workspace and matches the outputs. A job
// whose scratch workspace is gone but which was finalized already gets its
// recorded results back (done). A job that deleted the marker is finalized
// all the same; only the files it wrote that no pattern matched cannot be
// told from the code, so they are not listed.
func (f *finalizer) openScratch() (done *executor.Results, err error) {
	def := f.def
	if _, err := os.Lstat(ScratchDir(def)); errors.Is(err, fs.ErrNotExist) {
		if res, found, err := LoadResults(def); err != nil || found {
			return res, err
		}
		return nil, fmt.Errorf("finalize job %s: scratch workspace %s does not exist: the job was never prepared here or was cleaned up; run the action again", def.ID, ScratchDir(def))
	}
	if f.scratch, err = openTree(ScratchDir(def), false, 0o755); err != nil {
		return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	marker, err := f.scratch.lstat(MarkerFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	haveMarker := err == nil && marker.Mode().IsRegular()
	var cutoff time.Time
	if haveMarker {
		cutoff = marker.ModTime()
	} else {
		f.res.Log = append(f.res.Log, "Warning: the job removed or replaced "+MarkerFile+", so files it wrote that match no output pattern cannot be listed")
	}
	sc, err := scanTree(f.scratch, def.OutputSpec, cutoff, haveMarker)
	if err != nil {
		return nil, fmt.Errorf("finalize job %s: %w", def.ID, err)
	}
	f.res.Outputs, f.res.UnmatchedPatterns, f.res.UnmatchedOutputs = sc.matched, sc.unmatchedPatterns, sc.unmatchedOutputs
	f.refused = sc.refused
	return nil, nil
}

// kept is an output as persisted.
type kept struct {
	size  int64
	sum   string // sha256, hex
	mtime time.Time
	l4    level4Check
}

// keepOutputs persists the outputs, checks and copies the
// moderately_sensitive ones, removes stale outputs and updates the
// manifest.
func (f *finalizer) keepOutputs() error {
	def, res := f.def, f.res
	var err error
	if f.ws, err = openTree(def.WorkspaceDir, true, 0o755); err != nil {
		return err
	}
	f.ws.noSync = def.DeferSync
	if def.MediumDir != "" {
		if f.med, err = openTree(def.MediumDir, true, 0o755); err != nil {
			return err
		}
		f.med.noSync = def.DeferSync
	}
	for _, p := range sortedKeys(f.refused) {
		res.Log = append(res.Log, fmt.Sprintf("Not keeping %s: it matches an output pattern but is a %s, and only regular files are outputs", p, f.refused[p]))
	}
	names := sortedKeys(res.Outputs)
	if err := f.preflight(names); err != nil {
		return err
	}

	keptFiles := make(map[string]*kept, len(names))
	for _, p := range names {
		res.Log = append(res.Log, "Extracting output file: "+p)
		k, err := f.persist(p)
		if err != nil {
			return err
		}
		keptFiles[p] = k
	}

	maxSize, maxRows := level4Limits(def)
	for _, p := range names {
		if res.Outputs[p] != executor.ModeratelySensitive {
			continue
		}
		k := keptFiles[p]
		k.l4, err = checkLevel4(p, k.size, maxSize, maxRows, func() (io.ReadCloser, error) {
			r, _, err := f.scratch.openRegular(p)
			return r, err
		})
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		if k.l4.excluded {
			res.Level4Excluded[p] = k.l4.message
		}
	}

	var m *manifest
	if f.med != nil {
		unlock, err := lockManifest(f.med)
		if err != nil {
			return err
		}
		defer unlock()
		if m, err = readManifest(f.med, def.Workspace); err != nil {
			return err
		}
		for _, p := range names {
			if err := f.copyMedium(m, p, keptFiles[p]); err != nil {
				return err
			}
		}
	}

	if code, _ := FinalStatus(res, def.AllowDatabaseAccess); code == haven.StatusSucceeded {
		if err := f.removeStale(m); err != nil {
			return err
		}
	}

	if m == nil {
		return nil
	}
	for _, p := range names {
		if err := m.set(p, f.manifestEntry(p, keptFiles[p])); err != nil {
			return err
		}
	}
	for name := range m.outputs {
		if _, ok := res.Outputs[name]; !ok && m.action(name) == def.Action {
			if err := m.markOutOfDate(name); err != nil {
				return err
			}
		}
	}
	data, err := m.encode()
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := f.med.writeBytes(ManifestFile, data, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// preflight checks every destination before anything is written, so a
// symlinked directory in a workspace fails the job before any file lands.
func (f *finalizer) preflight(names []string) error {
	check := func(t *tree, rel string) error {
		if err := t.checkWritable(rel); err != nil {
			return fmt.Errorf("cannot write %s: %w", rel, err)
		}
		return nil
	}
	for _, p := range names {
		if err := check(f.ws, p); err != nil {
			return err
		}
		if f.med != nil && f.res.Outputs[p] == executor.ModeratelySensitive {
			if err := check(f.med, p); err != nil {
				return err
			}
			if err := check(f.med, p+".txt"); err != nil {
				return err
			}
		}
	}
	if err := check(f.ws, LogFileName(f.def.Action)); err != nil {
		return err
	}
	if f.med != nil {
		if err := check(f.med, LogFileName(f.def.Action)); err != nil {
			return err
		}
		if err := check(f.med, ManifestFile); err != nil {
			return err
		}
	}
	return nil
}

// persist copies one output from the scratch workspace into the
// high-privacy workspace, keeping its mtime.
func (f *finalizer) persist(p string) (*kept, error) {
	src, fi, err := f.scratch.openRegular(p)
	if err != nil {
		return nil, fmt.Errorf("read output %s: %w", p, err)
	}
	defer src.Close()
	n, sum, err := f.ws.writeFile(p, src, 0o644, fi.ModTime())
	if err != nil {
		return nil, fmt.Errorf("write output %s to workspace %s: %w", p, f.def.WorkspaceDir, err)
	}
	return &kept{size: n, sum: fmt.Sprintf("%x", sum), mtime: fi.ModTime()}, nil
}

// copyMedium brings the medium-privacy workspace up to date for one
// output: a moderately_sensitive output that passed the Level-4 checks is
// copied there and its old note removed; one that failed gets a note and
// its old copy removed. An output of any other level must not be in
// medium privacy at all, so a copy or note an earlier run left (when it
// was moderately_sensitive) is removed.
func (f *finalizer) copyMedium(m *manifest, p string, k *kept) error {
	level := f.res.Outputs[p]
	switch {
	case level == executor.ModeratelySensitive && !k.l4.excluded:
		src, fi, err := f.scratch.openRegular(p)
		if err != nil {
			return fmt.Errorf("read output %s: %w", p, err)
		}
		_, sum, err := f.med.writeFile(p, src, 0o644, fi.ModTime())
		src.Close()
		if err != nil {
			return fmt.Errorf("write output %s to the medium-privacy workspace %s: %w", p, f.def.MediumDir, err)
		}
		if fmt.Sprintf("%x", sum) != k.sum {
			return fmt.Errorf("output %s changed in the scratch workspace while it was being copied; run the action again", p)
		}
		if _, err := f.med.remove(p + ".txt"); err != nil {
			return fmt.Errorf("remove the old note for %s: %w", p, err)
		}
	case level == executor.ModeratelySensitive:
		if err := f.med.writeBytes(p+".txt", []byte(k.l4.note), 0o644); err != nil {
			return fmt.Errorf("write the note for %s: %w", p, err)
		}
		if _, err := f.med.remove(p); err != nil {
			return fmt.Errorf("remove the old medium-privacy copy of %s: %w", p, err)
		}
	default:
		removed, err := f.med.remove(p)
		if err != nil {
			return fmt.Errorf("remove the medium-privacy copy of %s, now %s: %w", p, level, err)
		}
		if removed {
			f.res.Log = append(f.res.Log, fmt.Sprintf("Removed %s from the medium-privacy workspace: it is now %s", p, level))
		}
		_, isOutput := f.res.Outputs[p+".txt"]
		_, inManifest := m.outputs[p+".txt"]
		if !isOutput && !inManifest {
			if _, err := f.med.remove(p + ".txt"); err != nil {
				return fmt.Errorf("remove the old note for %s: %w", p, err)
			}
		}
	}
	return nil
}

// removeStale removes the outputs of the action's previous run that this
// run did not produce (Haven decision 6), from both workspaces with their
// notes and manifest entries. Only paths listed in PreviousOutputs are
// candidates, compared case-insensitively with this run's outputs (a
// case-insensitive file system would otherwise lose a new output), and
// only regular files reached without symlinks are removed; anything else
// is left with a log line. A path the manifest says another action now
// produces is left alone. Paths already gone count as removed, so a
// second finalize reports the same.
func (f *finalizer) removeStale(m *manifest) error {
	def, res := f.def, f.res
	current := make(map[string]bool, len(res.Outputs))
	for p := range res.Outputs {
		current[strings.ToLower(p)] = true
	}
	prev := append([]string(nil), def.PreviousOutputs...)
	sort.Strings(prev)
	for i, p := range prev {
		if i > 0 && prev[i-1] == p {
			continue
		}
		if err := checkRelPath("previous output", p); err != nil {
			res.Log = append(res.Log, fmt.Sprintf("Not removing previous output: %v", err))
			continue
		}
		top, _, _ := strings.Cut(p, "/")
		if top == metadataDir || p == MarkerFile || current[strings.ToLower(p)] {
			continue
		}
		if m != nil {
			if a := m.action(p); a != "" && a != def.Action {
				res.Log = append(res.Log, fmt.Sprintf("Not removing %s: the manifest says action %s produced it", p, a))
				continue
			}
		}
		targets := []struct {
			t   *tree
			rel string
		}{{f.ws, p}}
		if f.med != nil {
			targets = append(targets, struct {
				t   *tree
				rel string
			}{f.med, p})
			note := p + ".txt"
			if _, isOutput := m.outputs[note]; !isOutput && !current[strings.ToLower(note)] {
				targets = append(targets, struct {
					t   *tree
					rel string
				}{f.med, note})
			}
		}
		ok := true
		for _, tg := range targets {
			if _, err := tg.t.remove(tg.rel); err != nil {
				res.Log = append(res.Log, fmt.Sprintf("Not removing %s: %v", tg.t.name(tg.rel), err))
				ok = false
			}
		}
		if !ok {
			continue
		}
		res.RemovedOutputs = append(res.RemovedOutputs, p)
		res.Log = append(res.Log, "Removed output no longer produced by this action: "+p)
		if m != nil {
			delete(m.outputs, p)
		}
	}
	return nil
}

// manifestEntry is the manifest entry for an output.
func (f *finalizer) manifestEntry(p string, k *kept) ManifestEntry {
	def := f.def
	e := ManifestEntry{
		Level:       f.res.Outputs[p],
		JobID:       def.ID,
		JobRequest:  def.RequestID,
		Action:      def.Action,
		User:        def.User,
		Repo:        ptr(def.Repo),
		Commit:      ptr(def.Commit),
		Size:        k.size,
		Timestamp:   float64(k.mtime.UnixNano()) / 1e9,
		ContentHash: k.sum,
		Excluded:    k.l4.excluded,
		Message:     ptr(k.l4.message),
		RowCount:    k.l4.rows,
		ColCount:    k.l4.cols,
	}
	return e
}

// writeLogs writes the job log to the log directory, and for a job that
// was not cancelled or errored to metadata/<action>.log in both
// workspaces, then metadata.json.
func (f *finalizer) writeLogs(now time.Time, early bool) error {
	def, res, run := f.def, f.res, f.run
	code, status := FinalStatus(res, def.AllowDatabaseAccess)
	exit := ""
	if run.ExitCode >= 0 {
		exit = strconv.Itoa(run.ExitCode)
	}
	trailer := renderTrailer(summary{
		JobID:            def.ID,
		RequestID:        def.RequestID,
		Commit:           def.Commit,
		ImageID:          run.ImageID,
		ExitCode:         exit,
		CreatedAt:        unixSeconds(def.CreatedAt),
		CompletedAt:      now.Unix(),
		StatusMessage:    status,
		Hint:             res.UnmatchedHint,
		Outputs:          res.Outputs,
		Excluded:         res.Level4Excluded,
		UnmatchedOutputs: res.UnmatchedOutputs,
		Refused:          f.refused,
		Removed:          res.RemovedOutputs,
	})
	content := jobLog(run.Log, trailer)

	logs, err := openTree(def.LogDir, true, 0o755)
	if err != nil {
		return err
	}
	defer logs.Close()
	logs.noSync = true
	dir := jobLogRel(def)
	if err := logs.writeBytes(dir+"/logs.txt", content, 0o644); err != nil {
		return fmt.Errorf("write job log: %w", err)
	}
	if !early {
		name := LogFileName(def.Action)
		if err := f.ws.writeLog(name, content); err != nil {
			return fmt.Errorf("write job log to workspace %s: %w", def.WorkspaceDir, err)
		}
		if f.med != nil {
			if err := f.med.writeLog(name, content); err != nil {
				return fmt.Errorf("write job log to medium-privacy workspace %s: %w", def.MediumDir, err)
			}
		}
		res.LogFile = name
		res.Log = append(res.Log, "Logs written to: "+filepath.Join(def.WorkspaceDir, filepath.FromSlash(name)))
	}

	md := jobMetadata{
		Outputs:             res.Outputs,
		UnmatchedPatterns:   res.UnmatchedPatterns,
		UnmatchedOutputs:    res.UnmatchedOutputs,
		StatusMessage:       ptr(res.Message),
		Hint:                ptr(res.UnmatchedHint),
		TimestampNS:         now.UnixNano(),
		JobDefinitionID:     def.ID,
		JobDefinitionRapID:  def.RequestID,
		CreatedAt:           unixSeconds(def.CreatedAt),
		User:                def.User,
		CompletedAt:         now.Unix(),
		DockerImageID:       ptr(run.ImageID),
		ExitCode:            exit,
		OOMKilled:           run.OOMKilled,
		Commit:              ptr(def.Commit),
		Level4ExcludedFiles: res.Level4Excluded,
		Cancelled:           res.Cancelled,
		Error:               res.Errored,
		FinalStatusCode:     string(code),
		FinalStatusMessage:  status,
		TimedOut:            run.TimedOut,
		MemoryLimit:         run.MemoryLimit,
		RefusedOutputs:      f.refused,
		RemovedOutputs:      res.RemovedOutputs,
		LogFile:             res.LogFile,
	}
	if run.Timeout > 0 {
		md.Timeout = ptr(FormatDuration(run.Timeout))
	}
	if !run.StartedAt.IsZero() {
		md.StartedAt = ptr(run.StartedAt.UTC().Format(time.RFC3339Nano))
	}
	if !run.FinishedAt.IsZero() {
		md.FinishedAt = ptr(run.FinishedAt.UTC().Format(time.RFC3339Nano))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(md); err != nil {
		return fmt.Errorf("encode %s: %w", MetadataFile, err)
	}
	if err := logs.writeBytes(path.Join(dir, MetadataFile), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", MetadataFile, err)
	}
	return nil
}

// sortedKeys is a map's keys, sorted.
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
