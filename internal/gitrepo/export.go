package gitrepo

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/haven-tre/haven"
)

// maxExportEntries limits the entries one export writes.
const maxExportEntries = 1_000_000

// Export writes the tree of commit in repo into dir: `git archive` of the
// commit, read by an extractor in Go rather than by tar. dir is created
// when missing and must otherwise be an empty folder (not a symlink).
//
// The extractor writes only regular files (mode 0644, or 0755 when
// executable in git), folders and symlinks. It refuses absolute names,
// names with '..' or a '.git' part, any other entry type, anything written
// through a symlink, more than MaxExportBytes of file contents, and
// symlinks whose target is absolute or resolves outside dir (following
// chains of symlinks, checked once every entry is written). On any error
// dir is left empty.
func (c *Client) Export(ctx context.Context, repo, commit, dir string) (err error) {
	if err := checkCommit(commit); err != nil {
		return err
	}
	if dir == "" {
		return haven.Errorf(haven.EINVALID, "no folder to export %s into", commit)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "export folder %s: %v", dir, err)
	}
	if err := prepareDir(root); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			emptyDir(root)
		}
	}()

	m, err := c.open(ctx, repo)
	if err != nil {
		return err
	}
	defer m.close()
	if err := m.ensureCommit(ctx, commit); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	args := []string{"archive", "--format=tar", commit}
	cmd := c.command(ctx, m.dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 64 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot start git archive", Err: err}
	}
	if err := cmd.Start(); err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot start git archive", Err: err}
	}
	max := c.MaxExportBytes
	if max <= 0 {
		max = DefaultMaxExportBytes
	}
	xerr := extractTar(out, root, max)
	if xerr != nil {
		cancel()
	} else {
		// Drain what git still writes (nothing after the tar's end).
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if xerr != nil {
		return xerr
	}
	if werr != nil {
		return internal("cannot export commit "+commit+" of "+display(repo), c.runError(ctx, args, werr, stderr.String()))
	}
	return nil
}

// prepareDir makes root an empty folder.
func prepareDir(root string) error {
	fi, err := os.Lstat(root)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create export folder " + root, Err: err}
		}
		return nil
	}
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read export folder " + root, Err: err}
	}
	if !fi.IsDir() {
		return haven.Errorf(haven.EINVALID, "export folder %s is not a folder", root)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read export folder " + root, Err: err}
	}
	if len(entries) > 0 {
		return haven.Errorf(haven.EINVALID, "export folder %s is not empty", root)
	}
	return nil
}

// emptyDir removes everything inside root.
func emptyDir(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(root, e.Name()))
	}
}

func refuse(name, why string) error {
	return haven.Errorf(haven.EINVALID, "the repository contains %q, which Haven will not export: %s", name, why)
}

// entryName checks a tar entry's name and returns it clean and without a
// trailing slash.
func entryName(name string) (string, error) {
	trimmed := strings.TrimSuffix(name, "/")
	switch {
	case trimmed == "" || strings.ContainsRune(trimmed, 0):
		return "", refuse(name, "an empty name")
	case strings.HasPrefix(trimmed, "/"):
		return "", refuse(name, "an absolute path")
	}
	for _, part := range strings.Split(trimmed, "/") {
		switch {
		case part == "..":
			return "", refuse(name, "a path with '..'")
		case strings.EqualFold(part, ".git"):
			return "", refuse(name, "a path with a .git part")
		}
	}
	if clean := path.Clean(trimmed); clean != trimmed {
		return "", refuse(name, "a path that is not clean")
	}
	return trimmed, nil
}

// checkParents makes sure every folder above name exists inside root as a
// real folder (creating missing ones), so nothing is written through a
// symlink.
func checkParents(root, name string) error {
	parts := strings.Split(name, "/")
	cur := root
	for _, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(cur, 0o755); err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create " + cur, Err: err}
			}
			continue
		}
		if err != nil {
			return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read " + cur, Err: err}
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return refuse(name, "a path through a symlink")
		}
		if !fi.IsDir() {
			return refuse(name, "a path below a file")
		}
	}
	return nil
}

// extractTar writes a tar stream into root (an existing folder) under the
// rules Export documents.
func extractTar(r io.Reader, root string, maxBytes int64) error {
	tr := tar.NewReader(r)
	var links []string
	var written int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read the exported archive", Err: err}
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // git's commit id comment
		}
		if n >= maxExportEntries {
			return haven.Errorf(haven.EINVALID, "the repository has more than %d entries to export", maxExportEntries)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if err := checkParents(root, name); err != nil {
			return err
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			fi, err := os.Lstat(target)
			if err == nil && fi.IsDir() {
				continue
			}
			if err == nil {
				return refuse(name, "a folder that is also another entry")
			}
			if err := os.Mkdir(target, 0o755); err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create " + target, Err: err}
			}
		case tar.TypeReg:
			if hdr.Size < 0 || written+hdr.Size > maxBytes {
				return haven.Errorf(haven.EINVALID, "the repository's files are larger than the export limit of %d bytes", maxBytes)
			}
			mode := os.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				mode = 0o755
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return refuse(name, "a file that is also another entry")
				}
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create " + target, Err: err}
			}
			n, err := io.Copy(f, io.LimitReader(tr, hdr.Size))
			cerr := f.Close()
			if err == nil && n != hdr.Size {
				err = io.ErrUnexpectedEOF
			}
			if err == nil {
				err = cerr
			}
			if err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write " + target, Err: err}
			}
			written += n
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, hdr.Linkname); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				if errors.Is(err, os.ErrExist) {
					return refuse(name, "a symlink that is also another entry")
				}
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create symlink " + target, Err: err}
			}
			links = append(links, name)
		default:
			return refuse(name, fmt.Sprintf("an entry of tar type %q (only files, folders and symlinks are exported)", hdr.Typeflag))
		}
	}
	for _, name := range links {
		if err := resolveInside(root, name); err != nil {
			return err
		}
	}
	return nil
}

// checkLinkTarget refuses a symlink target that is absolute or, read as a
// path from the link's folder, leaves the export.
func checkLinkTarget(name, target string) error {
	switch {
	case target == "" || strings.ContainsRune(target, 0):
		return refuse(name, "a symlink with an empty target")
	case strings.HasPrefix(target, "/"):
		return refuse(name, "a symlink to an absolute path ("+target+")")
	}
	joined := path.Join(path.Dir(name), target)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return refuse(name, "a symlink pointing outside the repository ("+target+")")
	}
	return nil
}

// resolveInside follows name inside root the way the kernel would,
// symlink by symlink, and refuses it when the resolution leaves root or
// loops. Components that do not exist are taken as written.
func resolveInside(root, name string) error {
	var resolved []string // components below root
	todo := strings.Split(name, "/")
	hops := 0
	for len(todo) > 0 {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(resolved) == 0 {
				return refuse(name, "a symlink that resolves outside the repository")
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		cur := filepath.Join(root, filepath.FromSlash(path.Join(append(resolved, part)...)))
		fi, err := os.Lstat(cur)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			resolved = append(resolved, part)
			continue
		}
		hops++
		if hops > 40 {
			return refuse(name, "a symlink loop")
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read symlink " + cur, Err: err}
		}
		if strings.HasPrefix(target, "/") {
			return refuse(name, "a symlink to an absolute path ("+target+")")
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return nil
}
