package releaseapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Storage layout: <Dir>/<workspace>/releases/<release id>/<name>. Every
// path is opened through an os.Root on Dir, so nothing outside Dir is
// touched, and every folder on the way is checked with Lstat, so no
// symbolic link is followed, even one that points inside Dir.

// Upload failures the handler maps to statuses.
var (
	errTooLarge = errors.New("body too large")
	errShort    = errors.New("body shorter than Content-Length")
	errMismatch = errors.New("sha256 mismatch")
)

// storagePath is a file's path relative to Dir.
func storagePath(workspace, releaseID, name string) string {
	return path.Join(workspace, "releases", releaseID, name)
}

// openRoot opens Dir, creating it when missing.
func openRoot(dir string) (*os.Root, error) {
	if dir == "" {
		return nil, errors.New("release storage: no folder configured")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("release storage: %w", err)
	}
	return os.OpenRoot(dir)
}

// checkDirs requires every folder of rel (a path relative to the root,
// '/'-separated, the last component excluded) to be a real folder, not a
// symbolic link; with create it makes the missing ones.
func checkDirs(root *os.Root, rel string, create bool) error {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err := root.Mkdir(p, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("release storage: create %s: %w", p, err)
			}
			fi, err = root.Lstat(p)
		}
		if err != nil {
			return fmt.Errorf("release storage: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("release storage: %s is a symbolic link; refusing to follow it", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("release storage: %s is not a folder", p)
		}
	}
	return nil
}

// readBody reads a request body, hashing it, into w (which may be
// io.Discard). declared is the Content-Length (-1 when unknown): more
// bytes than it, or than limit, are errTooLarge; fewer than it errShort.
func readBody(w io.Writer, body io.Reader, declared, limit int64) (sum string, n int64, err error) {
	max := limit
	if declared >= 0 && declared < max {
		max = declared
	}
	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(w, h), io.LimitReader(body, max+1))
	if err != nil {
		return "", n, err
	}
	if n > max {
		return "", n, errTooLarge
	}
	if declared >= 0 && n < declared {
		return "", n, errShort
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// hashStored is the sha256 of a stored regular file (not a symbolic
// link).
func hashStored(root *os.Root, rel string) (string, error) {
	fi, err := root.Lstat(rel)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("release storage: %s is not a regular file", rel)
	}
	f, err := root.Open(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// saveFile writes body to rel under dir: to a temporary file in the same
// folder first, flushed, then linked into place only when its sha256 is
// want and its size wantSize, so a reader never sees a part of a file and
// a mismatch leaves nothing behind. A file already at rel (left by an upload the database
// never recorded) is kept when it has the right hash and replaced
// otherwise. It returns the number of bytes received.
func saveFile(dir, rel string, body io.Reader, declared, limit int64, want string, wantSize int64) (int64, error) {
	root, err := openRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	if err := checkDirs(root, rel, true); err != nil {
		return 0, err
	}
	folder := path.Dir(rel)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(folder, ".upload-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return 0, fmt.Errorf("release storage: %w", err)
	}
	defer root.Remove(tmp) // after a successful link this removes the temporary name only
	sum, n, err := readBody(f, body, declared, limit)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("release storage: %w", cerr)
	}
	if err != nil {
		return n, err
	}
	if sum != want || n != wantSize {
		return n, errMismatch
	}
	if err := root.Link(tmp, rel); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return n, fmt.Errorf("release storage: %w", err)
		}
		if got, herr := hashStored(root, rel); herr == nil && got == want {
			return n, syncDir(root, folder)
		}
		// Not ours: a partial or foreign leftover, or a symbolic link.
		// Remove removes a link itself, never its target.
		if err := root.Remove(rel); err != nil {
			return n, fmt.Errorf("release storage: replace %s: %w", rel, err)
		}
		if err := root.Link(tmp, rel); err != nil {
			return n, fmt.Errorf("release storage: %w", err)
		}
	}
	return n, syncDir(root, folder)
}

// syncDir flushes a folder so a new name in it survives a power cut.
func syncDir(root *os.Root, folder string) error {
	d, err := root.Open(folder)
	if err != nil {
		return fmt.Errorf("release storage: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("release storage: sync %s: %w", folder, err)
	}
	return nil
}

// openStored opens a stored file for reading: a regular file, reached
// through real folders only.
func openStored(dir, rel string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	if err := checkDirs(root, rel, false); err != nil {
		return nil, nil, err
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("release storage: %s is not a regular file", rel)
	}
	f, err := root.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	return f, fi, nil
}
