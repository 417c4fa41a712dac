// Package workspace confines a native action's file paths to its job's
// scratch workspace. A container can only touch its own /workspace; a
// native action runs inside the haven process, so every path it is given
// goes through Resolve, which refuses absolute paths (other than
// /workspace/...), `..` that leaves the workspace, and symbolic links on
// the way (a link could point anywhere on the host).
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Error is a path a native action may not use.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Msg) }

// Resolve maps p, a path as written in the action's command (relative to
// the workspace, or under /workspace), to a path under dir. The file need
// not exist; every part of it that does exist must be a directory or, for
// the last part, a regular file, never a symbolic link.
func Resolve(dir, p string) (string, error) {
	rel, err := Clean(inside(dir, p))
	if err != nil {
		return "", err
	}
	full := dir
	parts := strings.Split(rel, "/")
	if rel == "." {
		parts = nil
	}
	for i, part := range parts {
		full = filepath.Join(full, part)
		info, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(dir, filepath.FromSlash(rel)), nil
		}
		if err != nil {
			return "", &Error{Path: p, Msg: err.Error()}
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return "", &Error{Path: p, Msg: "is or goes through a symbolic link, which actions may not follow: use the file itself"}
		}
		if i < len(parts)-1 && !info.IsDir() {
			return "", &Error{Path: p, Msg: fmt.Sprintf("%s is not a directory", path.Join(parts[:i+1]...))}
		}
	}
	return full, nil
}

// inside turns an absolute path under dir into one relative to it: the
// local executor maps /workspace/... arguments to paths under the scratch
// workspace before a native action sees them.
func inside(dir, p string) string {
	if !filepath.IsAbs(p) || dir == "" {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(rel)
}

// Clean returns p as a clean slash-separated path relative to the
// workspace, or an error if it leaves it.
func Clean(p string) (string, error) {
	if p == "" {
		return "", &Error{Path: p, Msg: "the path is empty: give a path inside the workspace, e.g. output/input.csv"}
	}
	q := filepath.ToSlash(p)
	if q == "/workspace" {
		return ".", nil
	}
	if rest, ok := strings.CutPrefix(q, "/workspace/"); ok {
		q = rest
	} else if path.IsAbs(q) || filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return "", &Error{Path: p, Msg: "is an absolute path outside the workspace: give a path relative to the project, e.g. output/input.csv"}
	}
	q = path.Clean(q)
	if q == ".." || strings.HasPrefix(q, "../") {
		return "", &Error{Path: p, Msg: "leaves the workspace with ..: give a path inside the project"}
	}
	return q, nil
}

// Glob expands a pattern (path.Match syntax; `*` never crosses `/`) under
// dir, returning workspace-relative slash paths of regular files, sorted.
// Symbolic links are skipped. A pattern without wildcards that names a
// regular file returns it.
func Glob(dir, pattern string) ([]string, error) {
	rel, err := Clean(inside(dir, pattern))
	if err != nil {
		return nil, err
	}
	if _, err := path.Match(rel, ""); err != nil {
		return nil, &Error{Path: pattern, Msg: "is not a valid file pattern: " + err.Error()}
	}
	matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, &Error{Path: pattern, Msg: err.Error()}
	}
	var out []string
	for _, m := range matches {
		r, err := filepath.Rel(dir, m)
		if err != nil {
			continue
		}
		r = filepath.ToSlash(r)
		full, err := Resolve(dir, r)
		if err != nil {
			continue
		}
		info, err := os.Lstat(full)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// MkdirAll creates a workspace directory and its parents, refusing any
// path Resolve refuses.
func MkdirAll(dir, p string) (string, error) {
	full, err := Resolve(dir, p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(full, 0o755); err != nil {
		return "", &Error{Path: p, Msg: err.Error()}
	}
	// A directory created between Resolve and MkdirAll could be a link:
	// check again now that it exists.
	return Resolve(dir, p)
}
