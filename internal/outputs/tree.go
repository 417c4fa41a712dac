package outputs

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// tree is a directory this package touches only through an os.Root, so no
// path can lead out of it. On top of that it refuses symlinks everywhere:
// os.Root would follow a link that stays inside the root, but a tree never
// reads, writes or removes through one, so a file is always where its path
// says it is.
type tree struct {
	root    *os.Root
	dir     string      // the directory, for messages
	dirPerm fs.FileMode // for directories it creates
	// noSync marks trees whose content can be thrown away or rebuilt (a
	// job's scratch workspace, the job log area): writes there are still
	// atomic, but not flushed to disk, which saves two fsyncs per file.
	// Outputs, notes, manifests and workspace logs are always flushed.
	noSync bool
	// noHash skips the SHA-256 writeFile otherwise computes (scratch copies
	// need none, and copying file to file lets the kernel do it).
	noHash bool
	// written counts the bytes writeFile has written through this tree.
	written int64
}

// openTree opens dir as a tree, creating it (and its parents) first when
// create is set.
func openTree(dir string, create bool, dirPerm fs.FileMode) (*tree, error) {
	if create {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", dir, err)
	}
	return &tree{root: root, dir: dir, dirPerm: dirPerm}, nil
}

// Close releases the tree's directory handle.
func (t *tree) Close() error { return t.root.Close() }

// name is the host path of a tree-relative slash path, for messages.
func (t *tree) name(rel string) string { return filepath.Join(t.dir, filepath.FromSlash(rel)) }

// symlinkError says a path is, or goes through, a symlink, which Haven
// never reads, writes or removes through.
type symlinkError struct{ path string }

func (e *symlinkError) Error() string {
	return e.path + " is a symlink; Haven never reads or writes through symlinks, so nothing can land outside the workspace. Replace it with a real directory or file and run the action again"
}

// notRegularError says a path that should be a regular file is something
// else (a directory, FIFO, socket, device or symlink).
type notRegularError struct {
	path string
	kind string
}

func (e *notRegularError) Error() string {
	return e.path + " is a " + e.kind + ", not a regular file"
}

// fileKind names the type of a file mode for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// checkDirs checks that every directory on the way to rel is a real
// directory. Missing directories are created when create is set; otherwise
// missing reports that one is absent (and so is rel).
func (t *tree) checkDirs(rel string, create bool) (missing bool, err error) {
	dir := path.Dir(rel)
	if dir == "." {
		return false, nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := t.root.Lstat(filepath.FromSlash(p))
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return true, nil
			}
			if err := t.root.Mkdir(filepath.FromSlash(p), t.dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
				return false, fmt.Errorf("create directory %s: %w", t.name(p), err)
			}
			// Look again: whatever is there now is what a write would use.
			fi, err = t.root.Lstat(filepath.FromSlash(p))
		}
		if err != nil {
			return false, fmt.Errorf("check %s: %w", t.name(p), err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return false, &symlinkError{t.name(p)}
		}
		if !fi.IsDir() {
			return false, fmt.Errorf("%s is a %s, so nothing can be written below it: remove it and run the action again", t.name(p), fileKind(fi.Mode()))
		}
	}
	return false, nil
}

// mkdirs creates the directory rel and those above it, refusing symlinks.
func (t *tree) mkdirs(rel string) error {
	_, err := t.checkDirs(path.Join(rel, "x"), true)
	return err
}

// checkWritable checks, without changing anything, that rel could be
// written: no directory on the way is a symlink or a file, and rel itself
// is not a directory.
func (t *tree) checkWritable(rel string) error {
	missing, err := t.checkDirs(rel, false)
	if err != nil || missing {
		return err
	}
	fi, err := t.root.Lstat(filepath.FromSlash(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s: %w", t.name(rel), err)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, so the file cannot be written there: remove or rename the directory and run the action again", t.name(rel))
	}
	return nil
}

// lstat is Lstat of rel after checking the directories on the way; a
// missing directory gives fs.ErrNotExist.
func (t *tree) lstat(rel string) (fs.FileInfo, error) {
	missing, err := t.checkDirs(rel, false)
	if err != nil {
		return nil, err
	}
	if missing {
		return nil, fmt.Errorf("%s: %w", t.name(rel), fs.ErrNotExist)
	}
	return t.root.Lstat(filepath.FromSlash(rel))
}

// openRegular opens rel for reading, which must be a regular file reached
// without symlinks. It never blocks on a FIFO (the file is checked before
// it is opened, and opened non-blocking) and refuses a file swapped for
// another between the check and the open.
func (t *tree) openRegular(rel string) (*os.File, fs.FileInfo, error) {
	li, err := t.lstat(rel)
	if err != nil {
		return nil, nil, err
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		return nil, nil, &symlinkError{t.name(rel)}
	}
	if !li.Mode().IsRegular() {
		return nil, nil, &notRegularError{t.name(rel), fileKind(li.Mode())}
	}
	f, err := t.root.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", t.name(rel), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", t.name(rel), err)
	}
	if !fi.Mode().IsRegular() || !os.SameFile(li, fi) {
		f.Close()
		return nil, nil, fmt.Errorf("%s changed while it was being opened; run the action again", t.name(rel))
	}
	return f, fi, nil
}

// readFile reads a regular file of at most limit bytes.
func (t *tree) readFile(rel string, limit int64) ([]byte, error) {
	f, _, err := t.openRegular(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.name(rel), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", t.name(rel), limit)
	}
	return data, nil
}

// writeFile writes r to rel atomically: into a new temporary file in the
// destination directory, synced, then renamed over rel, and the directory
// synced. A non-zero mtime is set on the file before the rename. It
// returns the size and SHA-256 of what was written. A crash leaves either
// the old file or the new one, never a mix.
func (t *tree) writeFile(rel string, r io.Reader, perm fs.FileMode, mtime time.Time) (int64, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if _, err := t.checkDirs(rel, true); err != nil {
		return 0, sum, err
	}
	if fi, err := t.root.Lstat(filepath.FromSlash(rel)); err == nil && fi.IsDir() {
		return 0, sum, fmt.Errorf("%s is a directory, so the file cannot be written there: remove or rename the directory and run the action again", t.name(rel))
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return 0, sum, fmt.Errorf("name a temporary file: %w", err)
	}
	tmp := path.Join(path.Dir(rel), tempPrefix+hex.EncodeToString(rnd[:])+tempSuffix)
	f, err := t.root.OpenFile(filepath.FromSlash(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, sum, fmt.Errorf("create temporary file for %s: %w", t.name(rel), err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			t.root.Remove(filepath.FromSlash(tmp))
		}
	}()
	// Scratch copies need no hash; copying straight between files lets
	// the kernel copy them without passing the bytes through here.
	h := sha256.New()
	var n int64
	if t.noHash {
		n, err = io.Copy(f, r)
	} else {
		n, err = io.Copy(io.MultiWriter(f, h), r)
	}
	if err != nil {
		return 0, sum, fmt.Errorf("write %s: %w", t.name(rel), err)
	}
	t.written += n
	if !t.noSync {
		if err := f.Sync(); err != nil {
			return 0, sum, fmt.Errorf("sync %s: %w", t.name(rel), err)
		}
	}
	if err := f.Close(); err != nil {
		return 0, sum, fmt.Errorf("close %s: %w", t.name(rel), err)
	}
	if !mtime.IsZero() {
		if err := t.root.Chtimes(filepath.FromSlash(tmp), mtime, mtime); err != nil {
			return 0, sum, fmt.Errorf("set the time of %s: %w", t.name(rel), err)
		}
	}
	if err := t.root.Rename(filepath.FromSlash(tmp), filepath.FromSlash(rel)); err != nil {
		return 0, sum, fmt.Errorf("move %s into place: %w", t.name(rel), err)
	}
	done = true
	if err := t.syncDir(path.Dir(rel)); err != nil {
		return 0, sum, err
	}
	if !t.noHash {
		copy(sum[:], h.Sum(nil))
	}
	return n, sum, nil
}

// writeLog writes a job log atomically but without flushing it to disk: a
// log lost to a power cut costs nothing that matters (the job's state and
// outputs are flushed), and the two fsyncs saved are a third of a job's.
func (t *tree) writeLog(rel string, data []byte) error {
	noSync := t.noSync
	t.noSync = true
	defer func() { t.noSync = noSync }()
	return t.writeBytes(rel, data, 0o644)
}

// writeBytes is writeFile for data in memory.
func (t *tree) writeBytes(rel string, data []byte, perm fs.FileMode) error {
	_, _, err := t.writeFile(rel, bytes.NewReader(data), perm, time.Time{})
	return err
}

// remove deletes the regular file rel, reached without symlinks. It
// reports whether there was a file; anything other than a regular file is
// refused and left alone.
func (t *tree) remove(rel string) (bool, error) {
	fi, err := t.lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return false, &symlinkError{t.name(rel)}
	}
	if !fi.Mode().IsRegular() {
		return false, &notRegularError{t.name(rel), fileKind(fi.Mode())}
	}
	if err := t.root.Remove(filepath.FromSlash(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove %s: %w", t.name(rel), err)
	}
	return true, t.syncDir(path.Dir(rel))
}

// syncDir flushes a directory's entries, so a rename or removal in it
// survives a crash. File systems that cannot sync directories are ignored.
func (t *tree) syncDir(rel string) error {
	if t.noSync {
		return nil
	}
	d, err := t.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return fmt.Errorf("open directory %s: %w", t.name(rel), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync directory %s: %w", t.name(rel), err)
	}
	return nil
}

// maxSymlinkHops bounds symlink chains, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// resolve follows the symlinks along rel one component at a time and
// returns the slash path, inside the tree and free of symlinks, that rel
// finally names. Every link target is checked lexically before anything
// is looked up, so a link leading outside is never followed: inside is
// then false. aliases are absolute paths under which the tree's directory
// may appear in absolute link targets. A missing file gives an error
// wrapping fs.ErrNotExist.
func (t *tree) resolve(rel string, aliases []string) (resolved string, inside bool, err error) {
	todo := strings.Split(rel, "/")
	var done []string
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", false, nil
			}
			done = done[:len(done)-1]
			continue
		}
		cur := strings.Join(append(done[:len(done):len(done)], c), "/")
		fi, err := t.root.Lstat(filepath.FromSlash(cur))
		if err != nil {
			return "", true, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return "", true, fmt.Errorf("%s: too many levels of symbolic links", t.name(rel))
		}
		target, err := t.root.Readlink(filepath.FromSlash(cur))
		if err != nil {
			return "", true, fmt.Errorf("read link %s: %w", t.name(cur), err)
		}
		if filepath.IsAbs(target) {
			r, ok := relInside(target, aliases)
			if !ok {
				return "", false, nil
			}
			done = nil
			todo = append(strings.Split(r, "/"), todo...)
			continue
		}
		todo = append(strings.Split(filepath.ToSlash(target), "/"), todo...)
	}
	return strings.Join(done, "/"), true, nil
}

// relInside returns target relative to the first alias it lies under, as
// a slash path ("." for the alias itself).
func relInside(target string, aliases []string) (string, bool) {
	target = filepath.Clean(target)
	for _, a := range aliases {
		r, err := filepath.Rel(a, target)
		if err == nil && (r == "." || filepath.IsLocal(r)) {
			return filepath.ToSlash(r), true
		}
	}
	return "", false
}

// dirAliases are the absolute paths under which dir may appear in an
// absolute symlink target: as given (made absolute) and with its own
// symlinks resolved.
func dirAliases(dir string) []string {
	var out []string
	if a, err := filepath.Abs(dir); err == nil {
		out = append(out, a)
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		if a, err := filepath.Abs(r); err == nil && (len(out) == 0 || a != out[0]) {
			out = append(out, a)
		}
	}
	return out
}

// Temporary files of atomic writes are named .haven-<random>.tmp in the
// destination directory until they are renamed into place.
const (
	tempPrefix = ".haven-"
	tempSuffix = ".tmp"
)

// isTempName reports whether a file name is one of Haven's temporary files.
func isTempName(name string) bool {
	return strings.HasPrefix(name, tempPrefix) && strings.HasSuffix(name, tempSuffix)
}

// walk calls fn for every entry under dir (a tree-relative slash path),
// depth first, as fs.WalkDir does: fn returning fs.SkipDir for a directory
// skips it. Entries for which skip (if not nil) returns true are left out
// before anything is asked about them: names come from getdents, and only
// the entries kept are stat-ed (file systems without the filetype feature
// give no types, so fs.ReadDir would stat every entry, and a project's
// output directory can hold thousands that a scratch copy leaves out by
// name). Symlinks are reported, never followed.
func (t *tree) walk(dir string, skip func(p string) bool, fn fs.WalkDirFunc) error {
	if dir == "." {
		if err := fn(".", nil, nil); err != nil && err != fs.SkipDir {
			return err
		}
	}
	f, err := t.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return fn(dir, nil, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fn(dir, nil, err)
	}
	sort.Strings(names)
	for _, name := range names {
		p := path.Join(dir, name)
		if skip != nil && skip(p) {
			continue
		}
		fi, err := t.root.Lstat(filepath.FromSlash(p))
		if err != nil {
			if err := fn(p, nil, err); err != nil && err != fs.SkipDir {
				return err
			}
			continue
		}
		e := fs.FileInfoToDirEntry(fi)
		err = fn(p, e, nil)
		if err == fs.SkipDir {
			continue
		}
		if err != nil {
			return err
		}
		if e.IsDir() {
			if err := t.walk(p, skip, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
