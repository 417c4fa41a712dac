package outputs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// TrashDir is the directory, inside a scratch root, where a Trash keeps
// finished jobs' directories until it empties them.
const TrashDir = ".haven-trash"

// Trash defers the removal of finished jobs' scratch directories. Discard
// moves a directory into its scratch root's TrashDir with one rename, and
// Empty deletes everything there: at the end of a run, or as soon as more
// than MaxJobs jobs or MaxBytes bytes are waiting.
//
// Deleting files is work that nothing waits for, yet done between two jobs
// it delays the next one, and on some file systems it slows down every
// file created soon after (ext4 without a journal skips inodes freed in
// the last 30 seconds when it allocates one, one lookup each). Moving the
// directories aside keeps the jobs' own path free of deletions.
//
// A Trash is safe for concurrent use. Its zero value is not usable; use
// NewTrash.
type Trash struct {
	maxJobs  int
	maxBytes int64

	mu      sync.Mutex
	roots   map[string]bool // TrashDirs that Empty empties
	made    map[string]bool // TrashDirs known to exist
	pending int             // jobs discarded since the last Empty
	bytes   int64           // their bytes, as the callers counted them
}

// NewTrash returns a Trash that empties itself once more than maxJobs jobs
// or maxBytes bytes wait in it. maxJobs 0 disables deferral: Discard then
// removes at once.
func NewTrash(maxJobs int, maxBytes int64) *Trash {
	return &Trash{maxJobs: maxJobs, maxBytes: maxBytes, roots: map[string]bool{}, made: map[string]bool{}}
}

// Discard removes the directories dirs, which must lie directly in
// scratchRoot, by moving them into scratchRoot's TrashDir; bytes is what
// they hold, as far as the caller knows. Missing directories are ignored;
// a symlink or file in a directory's place is refused and left alone. When
// a directory cannot be moved it is removed at once.
func (t *Trash) Discard(scratchRoot string, bytes int64, dirs ...string) error {
	var errs []error
	deferred := t.maxJobs > 0
	for _, dir := range dirs {
		if filepath.Dir(dir) != filepath.Clean(scratchRoot) {
			errs = append(errs, fmt.Errorf("discard %s: not directly inside the scratch root %s", dir, scratchRoot))
			continue
		}
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("discard %s: %w", dir, err))
			continue
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("discard %s: it is a %s, not a directory; remove it by hand", dir, fileKind(fi.Mode())))
			continue
		}
		if deferred {
			if err := t.moveAside(scratchRoot, dir); err == nil {
				continue
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		}
	}
	if err := errors.Join(errs...); err != nil || !deferred {
		return err
	}
	t.mu.Lock()
	t.pending++
	t.bytes += bytes
	full := t.pending > t.maxJobs || (t.maxBytes > 0 && t.bytes > t.maxBytes)
	t.mu.Unlock()
	if full {
		return t.Empty()
	}
	return nil
}

// Watch makes Empty also empty scratchRoot's TrashDir, whatever this Trash
// moved there: what a killed run left goes at the end of the next one.
func (t *Trash) Watch(scratchRoot string) {
	t.mu.Lock()
	t.roots[filepath.Join(scratchRoot, TrashDir)] = true
	t.mu.Unlock()
}

// moveAside renames dir into scratchRoot's TrashDir under a fresh name.
func (t *Trash) moveAside(scratchRoot, dir string) error {
	trash := filepath.Join(scratchRoot, TrashDir)
	t.mu.Lock()
	known := t.made[trash]
	t.mu.Unlock()
	if !known {
		if err := os.Mkdir(trash, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err := os.Lstat(trash)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is a %s, not a directory", trash, fileKind(fi.Mode()))
		}
		t.mu.Lock()
		t.roots[trash], t.made[trash] = true, true
		t.mu.Unlock()
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	return os.Rename(dir, filepath.Join(trash, filepath.Base(dir)+"-"+hex.EncodeToString(rnd[:])))
}

// Empty deletes everything in the TrashDirs this Trash has used or
// watches, including what an earlier, interrupted run left there.
func (t *Trash) Empty() error {
	t.mu.Lock()
	roots := make([]string, 0, len(t.roots))
	for r := range t.roots {
		roots = append(roots, r)
	}
	t.pending, t.bytes = 0, 0
	t.mu.Unlock()
	sort.Strings(roots)
	var errs []error
	for _, r := range roots {
		if err := EmptyTrash(filepath.Dir(r)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EmptyTrash deletes everything in scratchRoot's TrashDir. The directory
// itself stays, so that concurrent Discards can keep using it.
func EmptyTrash(scratchRoot string) error {
	trash := filepath.Join(scratchRoot, TrashDir)
	fi, err := os.Lstat(trash)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("empty %s: %w", trash, err)
	case !fi.IsDir():
		return fmt.Errorf("empty %s: it is a %s, not a directory; remove it by hand", trash, fileKind(fi.Mode()))
	}
	entries, err := os.ReadDir(trash)
	if err != nil {
		return fmt.Errorf("empty %s: %w", trash, err)
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(trash, e.Name())
		if err := os.RemoveAll(p); err != nil {
			// A job may have left read-only directories behind.
			makeWritable(p)
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("empty %s: %w", trash, err))
			}
		}
	}
	return errors.Join(errs...)
}

// makeWritable gives the owner write and search permission on every
// directory under dir, without following symlinks.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}
