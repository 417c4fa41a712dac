package outputs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/pipeline"
)

// PrepareScratch builds the job's scratch workspace, ScratchDir(def)
// (mode 0700): a copy of ProjectDir without the top-level .git and
// metadata and without every path matching one of ExcludePatterns (a
// matching directory is left out whole, as upstream does), then each of
// Inputs copied from WorkspaceDir to the same relative path, then the
// marker file, last, so its presence means the copy is complete. It
// returns the lines for the job's live log.
//
// It is safe on hostile trees: a symlink is copied, as a regular file,
// only when it resolves to a regular file inside ProjectDir that is not
// itself excluded; links leading outside, links to directories, FIFOs,
// sockets and devices are skipped with a log line and never opened. An
// input must be a clean relative path naming a regular file inside
// WorkspaceDir.
//
// It is idempotent: with the marker present it returns at once; a scratch
// directory without the marker (a crash mid-prepare) is removed and built
// again.
//
// size is how many bytes it copied (0 when the workspace was already
// there), for a Trash that bounds what waits to be removed.
func PrepareScratch(def executor.JobDefinition, now func() time.Time) (log []string, size int64, err error) {
	return PrepareScratchListed(def, now, nil)
}

// PrepareScratchListed is PrepareScratch with the project's listing taken
// from (or kept in) listing, when it is not nil.
func PrepareScratchListed(def executor.JobDefinition, now func() time.Time, listing *CodeListing) (log []string, size int64, err error) {
	if err := checkName("job id", def.ID); err != nil {
		return nil, 0, err
	}
	if def.ScratchRoot == "" || def.ProjectDir == "" {
		return nil, 0, fmt.Errorf("prepare job %s: the scratch root and the project directory must both be configured", def.ID)
	}
	for _, in := range def.Inputs {
		if err := checkRelPath("input file", in); err != nil {
			return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, err)
		}
		if in == MarkerFile {
			return nil, 0, fmt.Errorf("prepare job %s: input file %s has the name of the scratch workspace marker, which cannot be an output: rename the output", def.ID, in)
		}
	}
	dir := ScratchDir(def)
	if err := os.MkdirAll(def.ScratchRoot, 0o700); err != nil {
		return nil, 0, fmt.Errorf("prepare job %s: create scratch root: %w", def.ID, err)
	}
	fi, err := os.Lstat(dir)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, &symlinkError{dir})
	case err == nil && !fi.IsDir():
		return nil, 0, fmt.Errorf("prepare job %s: scratch workspace %s is a %s, not a directory: remove it and run the action again", def.ID, dir, fileKind(fi.Mode()))
	case err == nil:
		if _, ok, err := ReadMarker(def); err != nil {
			return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, err)
		} else if ok {
			return nil, 0, nil
		}
		// An unfinished copy from an interrupted prepare: start again.
		if err := os.RemoveAll(dir); err != nil {
			return nil, 0, fmt.Errorf("prepare job %s: remove unfinished scratch workspace %s: %w", def.ID, dir, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("prepare job %s: create scratch workspace: %w", def.ID, err)
	}
	scratch, err := openTree(dir, false, 0o755)
	if err != nil {
		return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, err)
	}
	scratch.noSync, scratch.noHash = true, true
	defer scratch.Close()

	log = append(log, "Copying in code from "+def.ProjectDir)
	skipped, err := copyProject(def, scratch, listing)
	if err != nil {
		return nil, 0, fmt.Errorf("prepare job %s: copy code from %s: %w", def.ID, def.ProjectDir, err)
	}
	log = append(log, skipped...)

	if len(def.Inputs) > 0 {
		if _, err := os.Stat(def.WorkspaceDir); errors.Is(err, fs.ErrNotExist) || def.WorkspaceDir == "" {
			return nil, 0, fmt.Errorf("The file %s doesn't exist in workspace %s as requested for job %s", def.Inputs[0], def.Workspace, def.ID)
		}
		ws, err := openTree(def.WorkspaceDir, false, 0o755)
		if err != nil {
			return nil, 0, fmt.Errorf("prepare job %s: %w", def.ID, err)
		}
		defer ws.Close()
		aliases := dirAliases(def.WorkspaceDir)
		for _, in := range def.Inputs {
			log = append(log, "Copying input file: "+in)
			if err := copyInput(def, ws, aliases, scratch, in); err != nil {
				return nil, 0, err
			}
		}
	}

	stamp := strconv.FormatInt(now().UnixNano(), 10)
	if err := scratch.writeBytes(MarkerFile, []byte(stamp), 0o644); err != nil {
		return nil, 0, fmt.Errorf("prepare job %s: write %s: %w", def.ID, MarkerFile, err)
	}
	return log, scratch.written, nil
}

// copyInput copies one input file from the workspace into the scratch
// workspace.
func copyInput(def executor.JobDefinition, ws *tree, aliases []string, scratch *tree, in string) error {
	missing := fmt.Errorf("The file %s doesn't exist in workspace %s as requested for job %s", in, def.Workspace, def.ID)
	resolved, inside, err := ws.resolve(in, aliases)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return missing
	case err != nil:
		return fmt.Errorf("prepare job %s: input file %s: %w", def.ID, in, err)
	case !inside:
		return fmt.Errorf("prepare job %s: input file %s in workspace %s is a symlink that leads outside the workspace; Haven does not follow it. Replace it with the real file (run the action that produces it again)", def.ID, in, def.Workspace)
	}
	f, fi, err := ws.openRegular(resolved)
	var nr *notRegularError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return missing
	case errors.As(err, &nr):
		return fmt.Errorf("prepare job %s: input file %s in workspace %s is a %s, not a regular file: run the action that produces it again", def.ID, in, def.Workspace, nr.kind)
	case err != nil:
		return fmt.Errorf("prepare job %s: input file %s: %w", def.ID, in, err)
	}
	defer f.Close()
	if _, _, err := scratch.writeFile(in, f, fi.Mode().Perm(), time.Time{}); err != nil {
		return fmt.Errorf("prepare job %s: copy input file %s: %w", def.ID, in, err)
	}
	return nil
}

// CodeListing remembers which entries of a project a scratch copy takes,
// so that the jobs of one run list the project once rather than once each
// (a project's output directory can hold thousands of files, every one of
// which a copy leaves out by name). The contents are still read for every
// job; only the set of paths is fixed at the first job: files added to the
// project while the run goes on are not copied for it, as upstream copies
// code from the commit a run started with. Use one CodeListing per run.
// It is safe for concurrent use.
type CodeListing struct {
	mu    sync.Mutex
	lists map[string][]codeEntry
}

// codeEntry is one path a scratch copy takes, with its type bits.
type codeEntry struct {
	path string
	mode fs.FileMode
}

// NewCodeListing returns an empty CodeListing.
func NewCodeListing() *CodeListing { return &CodeListing{lists: map[string][]codeEntry{}} }

// listingKey identifies what a listing depends on besides the files.
func listingKey(def executor.JobDefinition) string {
	return strings.Join(append([]string{def.ProjectDir, def.ScratchRoot, def.LogDir}, def.ExcludePatterns...), "\x00")
}

// copyProject copies the project tree into the scratch workspace and
// returns a log line for each entry it skipped for safety. With a listing
// it lists the project only if the listing has not done so yet.
func copyProject(def executor.JobDefinition, scratch *tree, listing *CodeListing) (skipped []string, err error) {
	src, err := openTree(def.ProjectDir, false, 0o755)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	patterns := pipeline.NewPatternSet(def.ExcludePatterns)
	excluded := func(p string) bool { return excludedFromScratch(p, patterns) }

	var entries []codeEntry
	var key string
	cached := false
	if listing != nil {
		key = listingKey(def)
		listing.mu.Lock()
		entries, cached = listing.lists[key]
		listing.mu.Unlock()
	}
	if !cached {
		if entries, err = listProject(def, src, excluded); err != nil {
			return nil, err
		}
		if listing != nil {
			listing.mu.Lock()
			listing.lists[key] = entries
			listing.mu.Unlock()
		}
	}

	aliases := dirAliases(def.ProjectDir)
	for _, e := range entries {
		switch {
		case e.mode.IsDir():
			if err := scratch.mkdirs(e.path); err != nil {
				return skipped, err
			}
		case e.mode.IsRegular():
			// Gone meanwhile: in a local run other jobs' outputs land in
			// the project as it is being copied, and code can be deleted.
			if err := copyRegular(src, scratch, e.path, e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return skipped, err
			}
		case e.mode&fs.ModeSymlink != 0:
			line, err := copySymlink(src, aliases, scratch, e.path, excluded)
			if line != "" {
				skipped = append(skipped, line)
			}
			if err != nil {
				return skipped, err
			}
		default:
			skipped = append(skipped, fmt.Sprintf("Skipped %s: it is a %s, not a regular file, so it was not copied", e.path, fileKind(e.mode)))
		}
	}
	return skipped, nil
}

// listProject walks the project and returns, in walk order, the entries a
// scratch copy takes: everything but excluded paths, Haven's temporary
// files, and the scratch root and log area when they lie inside.
func listProject(def executor.JobDefinition, src *tree, excluded func(string) bool) ([]codeEntry, error) {
	// Directories the copy must not descend into even when they lie inside
	// the project and are not excluded: the scratch root itself (the copy
	// would copy itself) and the log area.
	var avoid []fs.FileInfo
	for _, d := range []string{def.ScratchRoot, def.LogDir} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err == nil {
			avoid = append(avoid, fi)
		}
	}
	skip := func(p string) bool {
		// Another job's atomic write in flight, or left out of the copy.
		return isTempName(path.Base(p)) || excluded(p)
	}
	var entries []codeEntry
	err := src.walk(".", skip, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != "." {
				return nil // gone while the walk ran
			}
			return err
		}
		if p == "." {
			return nil
		}
		mode := d.Type()
		if mode.IsDir() {
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			if err != nil {
				return err
			}
			for _, a := range avoid {
				if os.SameFile(fi, a) {
					return fs.SkipDir
				}
			}
		}
		entries = append(entries, codeEntry{p, mode.Type()})
		return nil
	})
	return entries, err
}

// copySymlink copies the regular file a project symlink resolves to, when
// that is inside the project and not excluded, and otherwise returns the
// log line saying why it was skipped.
func copySymlink(src *tree, aliases []string, scratch *tree, p string, excluded func(string) bool) (string, error) {
	resolved, inside, err := src.resolve(p, aliases)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("Skipped %s: it is a symlink to a file that does not exist, so it was not copied", p), nil
	case err != nil:
		return fmt.Sprintf("Skipped %s: it is a symlink that cannot be resolved (%v), so it was not copied", p, err), nil
	case !inside || resolved == "":
		return fmt.Sprintf("Skipped %s: it is a symlink that points outside the project, so it was not copied", p), nil
	case excluded(resolved):
		return fmt.Sprintf("Skipped %s: it is a symlink to %s, which matches an output pattern, so it was not copied", p, resolved), nil
	}
	fi, err := src.lstat(resolved)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Sprintf("Skipped %s: it is a symlink to a %s, so it was not copied", p, fileKind(fi.Mode())), nil
	}
	return "", copyRegular(src, scratch, resolved, p)
}

// copyRegular copies the regular file from (in src) to to (in scratch),
// keeping its permission bits.
func copyRegular(src, scratch *tree, from, to string) error {
	f, fi, err := src.openRegular(from)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := scratch.writeFile(to, f, fi.Mode().Perm(), time.Time{}); err != nil {
		return err
	}
	return nil
}

// excludedFromScratch reports whether a project path, or a directory it is
// in, is left out of the scratch copy: the top-level .git and metadata, and
// anything matching an output pattern; and a top-level marker file, whose
// presence must only ever mean that prepare finished.
func excludedFromScratch(p string, patterns *pipeline.PatternSet) bool {
	top, _, _ := strings.Cut(p, "/")
	if top == ".git" || top == metadataDir || p == MarkerFile {
		return true
	}
	for q := p; q != "." && q != ""; q = path.Dir(q) {
		if patterns.Match(q) {
			return true
		}
	}
	return false
}

// ReadMarker reads the marker of the job's scratch workspace. ok is false
// when the workspace or its marker does not exist (the job is not
// prepared). ns is the preparation time the marker records, or its mtime
// when it is empty.
func ReadMarker(def executor.JobDefinition) (ns int64, ok bool, err error) {
	if err := checkName("job id", def.ID); err != nil {
		return 0, false, err
	}
	dir := ScratchDir(def)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read marker of job %s: %w", def.ID, err)
	}
	if !fi.IsDir() {
		return 0, false, fmt.Errorf("read marker of job %s: scratch workspace %s is a %s, not a directory", def.ID, dir, fileKind(fi.Mode()))
	}
	scratch, err := openTree(dir, false, 0o755)
	if err != nil {
		return 0, false, fmt.Errorf("read marker of job %s: %w", def.ID, err)
	}
	scratch.noSync, scratch.noHash = true, true
	defer scratch.Close()
	return readMarker(scratch)
}

// readMarker reads the marker in an open scratch tree.
func readMarker(scratch *tree) (ns int64, ok bool, err error) {
	f, fi, err := scratch.openRegular(MarkerFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", scratch.name(MarkerFile), err)
	}
	defer f.Close()
	buf := make([]byte, 32)
	n, _ := f.Read(buf)
	text := strings.TrimSpace(string(buf[:n]))
	if text == "" {
		return fi.ModTime().UnixNano(), true, nil
	}
	ns, err = strconv.ParseInt(text, 10, 64)
	if err != nil {
		return fi.ModTime().UnixNano(), true, nil
	}
	return ns, true, nil
}

// RemoveScratch deletes the job's scratch workspace, for an executor's
// Cleanup. A missing workspace is not an error; a symlink in its place is
// refused and left alone.
func RemoveScratch(def executor.JobDefinition) error {
	if err := checkName("job id", def.ID); err != nil {
		return err
	}
	dir := ScratchDir(def)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("remove scratch workspace of job %s: %w", def.ID, err)
	case !fi.IsDir():
		return fmt.Errorf("remove scratch workspace of job %s: %s is a %s, not a directory; remove it by hand", def.ID, dir, fileKind(fi.Mode()))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove scratch workspace of job %s: %w", def.ID, err)
	}
	return nil
}
