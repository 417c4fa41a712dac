package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/policy"
)

// Frozen is a hash-pinned copy of an output in a request directory.
type Frozen struct {
	SHA256  string    // hex; also the copy's file name
	Size    int64     // bytes
	ModTime time.Time // the workspace file's mtime when it was frozen
	Path    string    // absolute path of the frozen copy
}

// Freeze pins an output for a release request (spec §9.5): it copies the
// file to a temporary name inside requestDir (created 0700), hashing while
// it writes, flushes it, renames it to its sha256 and flushes the folder.
// The hash must equal the manifest's content_hash; otherwise nothing is
// left behind and the error is ECONFLICT. Freezing the same content again
// keeps the existing copy. Only outputs of an allowed type can be frozen.
func (w *Workspace) Freeze(p, requestDir string) (Frozen, error) {
	e, err := w.Lookup(p)
	if err != nil {
		return Frozen{}, err
	}
	if e.Kind != KindOutput {
		return Frozen{}, haven.Errorf(haven.EINVALID, "%s in workspace %s is %s, not an output: only outputs can be added to a release request", p, w.Name, describeKind(e.Kind))
	}
	if !policy.AllowedType(p) {
		return Frozen{}, haven.Errorf(haven.EINVALID, "%s in workspace %s is not a type Airlock can release: allowed types are %s", p, w.Name, strings.Join(pipeline.Level4FileTypes, " "))
	}
	if e.ContentHash == "" {
		return Frozen{}, haven.Errorf(haven.ECONFLICT, "%s in workspace %s has no content hash in the manifest, so its content cannot be pinned; run the action again", p, w.Name)
	}
	dir, err := filepath.Abs(requestDir)
	if err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "request directory %s: %v", requestDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "create request directory %s: %v; check that Airlock may write there", dir, err)
	}

	src, fi, err := openChecked(w.Root, p)
	if err != nil {
		return Frozen{}, w.readError(p, err)
	}
	defer src.Close()
	if fi.Size() > policy.MaxFileSize {
		return Frozen{}, w.readError(p, &tooLargeError{policy.MaxFileSize})
	}
	tmp, err := os.CreateTemp(dir, ".freeze-*.tmp")
	if err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "create a temporary file in request directory %s: %v", dir, err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(src, policy.MaxFileSize+1))
	if err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "copy %s of workspace %s into request directory %s: %v", p, w.Name, dir, err)
	}
	if n > policy.MaxFileSize {
		return Frozen{}, w.readError(p, &tooLargeError{policy.MaxFileSize})
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != e.ContentHash {
		return Frozen{}, haven.Errorf(haven.ECONFLICT, "%s changed on disk since its job wrote it (the manifest says sha256 %s, the file has %s); run the action again", p, e.ContentHash, sum)
	}
	if err := tmp.Sync(); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "flush the copy of %s in request directory %s: %v", p, dir, err)
	}
	if err := tmp.Close(); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "close the copy of %s in request directory %s: %v", p, dir, err)
	}
	mtime := fi.ModTime()
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "set the time of the copy of %s: %v", p, err)
	}
	dest := filepath.Join(dir, sum)
	if frozenIntact(dir, sum) {
		// Already frozen with this content: keep the first copy.
		return Frozen{SHA256: sum, Size: n, ModTime: mtime, Path: dest}, nil
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "store the copy of %s as %s: %v", p, dest, err)
	}
	keep = true
	if err := syncDir(dir); err != nil {
		return Frozen{}, haven.Errorf(haven.EINTERNAL, "flush request directory %s: %v", dir, err)
	}
	return Frozen{SHA256: sum, Size: n, ModTime: mtime, Path: dest}, nil
}

// ReadFrozen returns the bytes of the frozen copy named sha in requestDir,
// after checking they still hash to sha. A sha that is not 64 lower-case
// hex digits is EINVALID, a missing copy ENOTFOUND, and a copy whose bytes
// no longer match ECONFLICT.
func ReadFrozen(requestDir, sha string) ([]byte, error) {
	if !policy.ValidSHA256(sha) {
		return nil, haven.Errorf(haven.EINVALID, "%q is not a sha256: a frozen file is named by 64 lower-case hex digits", sha)
	}
	data, _, err := readChecked(requestDir, sha, policy.MaxFileSize)
	var big *tooLargeError
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errUnsafe):
		return nil, haven.Errorf(haven.ENOTFOUND, "request directory %s has no frozen file %s: add the file to the request again", requestDir, sha)
	case errors.As(err, &big):
		return nil, haven.Errorf(haven.ECONFLICT, "the frozen file %s in %s is larger than the %d MiB limit, so it was changed after it was frozen; withdraw it and add the file again", sha, requestDir, policy.MaxFileSize>>20)
	case err != nil:
		return nil, haven.Errorf(haven.EINTERNAL, "read frozen file %s in %s: %v", sha, requestDir, err)
	}
	if got := sum256(data); got != sha {
		return nil, haven.Errorf(haven.ECONFLICT, "the frozen file %s in %s was changed after it was frozen (its sha256 is now %s): withdraw it from the request and add the file again", sha, requestDir, got)
	}
	return data, nil
}

// frozenIntact reports whether dir holds a frozen copy named sha whose
// bytes hash to sha.
func frozenIntact(dir, sha string) bool {
	data, _, err := readChecked(dir, sha, policy.MaxFileSize)
	return err == nil && sum256(data) == sha
}

// sum256 is the hex sha256 of data.
func sum256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// syncDir flushes a folder, so a rename in it survives a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// describeKind names a kind of listed file for messages.
func describeKind(k Kind) string {
	switch k {
	case KindExcluded:
		return "the note of an excluded output"
	case KindMetadata:
		return "a metadata file"
	}
	return string(k)
}
