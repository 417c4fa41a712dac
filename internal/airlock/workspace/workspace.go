// Package workspace reads Airlock's view of the medium-privacy workspaces
// a backend's agent writes (spec §8.3): which files a workspace shows, the
// safe way to read one, and the frozen, hash-pinned copies that release
// requests hold (§9.5).
//
// Only what the manifest says is moderately_sensitive, the notes of
// excluded outputs and the files under metadata/ are ever listed or read.
// A highly_sensitive path is refused exactly like a missing one, whether
// or not a file of that name exists. Every read goes through an os.Root,
// and no component of a path may be a symlink.
package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/policy"
)

// maxManifestSize bounds how much of a manifest is read.
const maxManifestSize = 1 << 30

// metadataDir holds a workspace's logs and manifest.
const metadataDir = "metadata"

// lockFile is the manifest lock the agent keeps next to the manifest.
const lockFile = outputs.ManifestFile + ".lock"

// maxPathLen bounds a workspace-relative path, in bytes.
const maxPathLen = 1024

// validName is the form of a workspace name.
var validName = regexp.MustCompile(`^[-a-zA-Z0-9_]+$`)

// Dir is the backend's medium-privacy directory: one folder per workspace.
type Dir struct{ Root string }

// Names returns the sorted names of the workspaces in the directory: the
// folders with a valid name that hold metadata/manifest.json. Symlinked
// folders are not workspaces.
func (d Dir) Names() ([]string, error) {
	ents, err := os.ReadDir(d.Root)
	if err != nil {
		return nil, haven.Errorf(haven.EINTERNAL, "list workspaces in the medium-privacy directory %s: %v; check that it exists and Airlock may read it", d.Root, err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() || !validName.MatchString(e.Name()) {
			continue
		}
		if _, err := statChecked(filepath.Join(d.Root, e.Name()), outputs.ManifestFile); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Open reads a workspace's manifest. A name that is not letters, digits,
// '-' and '_' is EINVALID; a workspace that does not exist, is not a
// folder or has no manifest is ENOTFOUND.
func (d Dir) Open(name string) (*Workspace, error) {
	if !validName.MatchString(name) {
		return nil, haven.Errorf(haven.EINVALID, "workspace name %q is not valid: a workspace name has only letters, digits, '-' and '_'", name)
	}
	root := filepath.Join(d.Root, name)
	notFound := haven.Errorf(haven.ENOTFOUND, "there is no workspace %s in the medium-privacy directory %s: check the name, or run an action in it so its outputs are copied here", name, d.Root)
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		return nil, notFound
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, haven.Errorf(haven.EINTERNAL, "workspace %s: %v", name, err)
	}
	data, _, err := readChecked(abs, outputs.ManifestFile, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errUnsafe) {
		return nil, notFound
	}
	if err != nil {
		return nil, haven.Errorf(haven.EINTERNAL, "read the manifest of workspace %s: %v", name, err)
	}
	var m struct {
		Repo    *string                          `json:"repo"`
		Outputs map[string]outputs.ManifestEntry `json:"outputs"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, haven.Errorf(haven.EINTERNAL, "the manifest %s is not valid JSON (%v): the agent writes it when a job finishes; restore it from a backup or run an action in the workspace again", filepath.Join(abs, filepath.FromSlash(outputs.ManifestFile)), err)
	}
	w := &Workspace{Name: name, Root: abs, Outputs: m.Outputs}
	if w.Outputs == nil {
		w.Outputs = map[string]outputs.ManifestEntry{}
	}
	if m.Repo != nil {
		w.Repo = *m.Repo
	}
	// The newest output that names a commit gives the code view's commit.
	var newest float64
	found := false
	for _, p := range sortedKeys(w.Outputs) {
		e := w.Outputs[p]
		if e.Commit == nil || *e.Commit == "" {
			continue
		}
		if !found || e.Timestamp > newest {
			found, newest = true, e.Timestamp
			w.Commit = *e.Commit
			if w.Repo == "" && e.Repo != nil {
				w.Repo = *e.Repo
			}
		}
	}
	return w, nil
}

// Workspace is one medium-privacy workspace as its manifest describes it.
type Workspace struct {
	Name string
	Root string // absolute path of the workspace folder
	// Repo is the manifest's repository, and Commit the commit of its
	// newest output; "" when unknown (a local working tree).
	Repo, Commit string
	// Outputs is every manifest entry as read, whatever its level.
	Outputs map[string]outputs.ManifestEntry
}

// Kind is what a listed file is.
type Kind string

// Kinds of listed files.
const (
	KindOutput   Kind = "output"   // a moderately_sensitive output
	KindExcluded Kind = "excluded" // the .txt note of an excluded output
	KindMetadata Kind = "metadata" // a file under metadata/, e.g. a log
)

// Entry is one listed file.
type Entry struct {
	Path    string // workspace-relative, '/'-separated
	Kind    Kind
	Size    int64
	ModTime time.Time
	// ContentHash is the manifest's sha256 for an output, "" otherwise.
	ContentHash string
	// From the manifest entry, when there is one (for a note, the entry
	// of the excluded output).
	Level     string
	Action    string
	JobID     string
	OutOfDate bool
	Message   string
}

// Node is a folder or a file of a workspace tree.
type Node struct {
	Name     string
	Path     string // "" for the root
	Dir      bool
	Children []*Node // folders first, then files, each by name
	Entry    *Entry  // nil for a folder
}

// Tree returns the files the workspace shows: moderately_sensitive
// outputs that are not excluded and exist on disk (out-of-date ones only
// when showOutOfDate), the notes of excluded outputs, and the files under
// metadata/ except the manifest lock. Nothing else, and never a
// highly_sensitive path.
func (w *Workspace) Tree(showOutOfDate bool) *Node {
	root := &Node{Name: w.Name, Dir: true}
	r, err := os.OpenRoot(w.Root)
	if err != nil {
		return root
	}
	defer r.Close()
	for _, p := range w.candidates(r) {
		e, err := w.entry(r, p, showOutOfDate)
		if err != nil {
			continue
		}
		insert(root, e)
	}
	sortNode(root)
	return root
}

// Entries returns the files of Tree(showOutOfDate) in path order.
func (w *Workspace) Entries(showOutOfDate bool) []*Entry {
	var out []*Entry
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Entry != nil {
			out = append(out, n.Entry)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(w.Tree(showOutOfDate))
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Lookup returns the entry of a file in the tree, out-of-date outputs
// included. A path that is not clean, relative, '/'-separated and free of
// '..' and '.'-prefixed parts is EINVALID; any other path outside the
// tree is ENOTFOUND, with the same message whether the file is missing or
// not one Airlock may show.
func (w *Workspace) Lookup(p string) (*Entry, error) {
	if err := CheckPath(p); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(w.Root)
	if err != nil {
		return nil, haven.Errorf(haven.EINTERNAL, "open workspace %s: %v", w.Name, err)
	}
	defer r.Close()
	return w.entry(r, p, true)
}

// ReadFile returns the bytes of a file in the tree and its entry. It
// refuses a path with a symlink anywhere in it, anything but a regular
// file, and a file over policy.MaxFileSize (EINVALID).
func (w *Workspace) ReadFile(p string) ([]byte, *Entry, error) {
	e, err := w.Lookup(p)
	if err != nil {
		return nil, nil, err
	}
	data, _, err := readChecked(w.Root, p, policy.MaxFileSize)
	if err != nil {
		return nil, nil, w.readError(p, err)
	}
	return data, e, nil
}

// readError turns a failure to read a listed file into a user-facing error.
func (w *Workspace) readError(p string, err error) error {
	var big *tooLargeError
	switch {
	case errors.As(err, &big):
		return haven.Errorf(haven.EINVALID, "%s in workspace %s is larger than the %d MiB limit for a file in Airlock: it cannot be viewed or released; write a smaller output", p, w.Name, policy.MaxFileSize>>20)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errUnsafe):
		return w.notFound(p)
	}
	return haven.Errorf(haven.EINTERNAL, "read %s in workspace %s: %v", p, w.Name, err)
}

// notFound is the one answer for every path outside the tree.
func (w *Workspace) notFound(p string) error {
	return haven.Errorf(haven.ENOTFOUND, "workspace %s has no file %s that Airlock can show: check the path against the workspace's file tree", w.Name, p)
}

// CheckPath refuses a workspace path that is empty, longer than 1024
// bytes, not valid UTF-8, absolute, holds a backslash or a control
// character, or has an empty, '.', '..' or '.'-prefixed part (EINVALID).
func CheckPath(p string) error {
	bad := func(why string) error {
		return haven.Errorf(haven.EINVALID, "path %q is not a valid workspace path: %s; give a path relative to the workspace, e.g. output/table.csv", p, why)
	}
	switch {
	case p == "":
		return bad("it is empty")
	case len(p) > maxPathLen:
		return bad(fmt.Sprintf("it is longer than %d bytes", maxPathLen))
	case !utf8.ValidString(p):
		return bad("it is not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("it is absolute")
	case strings.ContainsRune(p, '\\'):
		return bad("it contains a backslash (separate folders with '/')")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return bad("it contains a control character")
		}
	}
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "" || part == ".":
			return bad("it has an empty or '.' part")
		case part == "..":
			return bad("it contains '..'")
		case strings.HasPrefix(part, "."):
			return bad("it has a part starting with '.' (hidden files are never shown)")
		}
	}
	return nil
}

// candidates are the paths that may be in the tree: every manifest path,
// the note of every manifest path, and every regular file under
// metadata/ reached without symlinks.
func (w *Workspace) candidates(r *os.Root) []string {
	seen := map[string]bool{}
	for p, e := range w.Outputs {
		seen[p] = true
		if e.Excluded {
			seen[p+".txt"] = true
		}
	}
	if fi, err := r.Lstat(metadataDir); err == nil && fi.IsDir() {
		fs.WalkDir(r.FS(), metadataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.Type().IsRegular() {
				seen[p] = true
			}
			return nil
		})
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// entry applies the tree's rules to one path. Every refusal is the same
// ENOTFOUND error.
func (w *Workspace) entry(r *os.Root, p string, showOutOfDate bool) (*Entry, error) {
	if CheckPath(p) != nil {
		return nil, w.notFound(p)
	}
	e := &Entry{Path: p}
	if m, ok := w.Outputs[p]; ok {
		// A manifest path is decided by its own entry alone.
		if m.Level != pipeline.ModeratelySensitive || m.Excluded || (m.OutOfDateOutput && !showOutOfDate) {
			return nil, w.notFound(p)
		}
		e.Kind, e.ContentHash = KindOutput, m.ContentHash
		fill(e, m)
	} else if m, ok := w.Outputs[strings.TrimSuffix(p, ".txt")]; ok && strings.HasSuffix(p, ".txt") &&
		m.Level == pipeline.ModeratelySensitive && m.Excluded && (!m.OutOfDateOutput || showOutOfDate) {
		e.Kind = KindExcluded
		fill(e, m)
	} else if strings.HasPrefix(p, metadataDir+"/") && p != lockFile {
		e.Kind = KindMetadata
	} else {
		return nil, w.notFound(p)
	}
	fi, err := lstatChecked(r, p)
	if err != nil {
		return nil, w.notFound(p)
	}
	e.Size, e.ModTime = fi.Size(), fi.ModTime()
	return e, nil
}

// fill copies a manifest entry's details into a listed entry.
func fill(e *Entry, m outputs.ManifestEntry) {
	e.Level, e.Action, e.JobID, e.OutOfDate = m.Level, m.Action, m.JobID, m.OutOfDateOutput
	if m.Message != nil {
		e.Message = *m.Message
	}
}

// insert adds an entry to a tree, creating its folders.
func insert(root *Node, e *Entry) {
	parts := strings.Split(e.Path, "/")
	n := root
	for i, part := range parts[:len(parts)-1] {
		var next *Node
		for _, c := range n.Children {
			if c.Dir && c.Name == part {
				next = c
				break
			}
		}
		if next == nil {
			next = &Node{Name: part, Path: strings.Join(parts[:i+1], "/"), Dir: true}
			n.Children = append(n.Children, next)
		}
		n = next
	}
	n.Children = append(n.Children, &Node{Name: parts[len(parts)-1], Path: e.Path, Entry: e})
}

// sortNode orders every folder's children: folders first, then files,
// each by name.
func sortNode(n *Node) {
	sort.Slice(n.Children, func(i, j int) bool {
		a, b := n.Children[i], n.Children[j]
		if a.Dir != b.Dir {
			return a.Dir
		}
		return a.Name < b.Name
	})
	for _, c := range n.Children {
		sortNode(c)
	}
}

// sortedKeys is a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errUnsafe is a path with a symlink in it, or that is not a regular file.
var errUnsafe = errors.New("not a regular file reached without symlinks")

// tooLargeError is a file over the read limit.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the file is larger than %d bytes", e.limit)
}

// statChecked is the Lstat of rel inside dir, refused (errUnsafe) when any
// component of rel is a symlink or the file is not regular.
func statChecked(dir, rel string) (fs.FileInfo, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return lstatChecked(r, rel)
}

// lstatChecked is statChecked on an open root.
func lstatChecked(r *os.Root, rel string) (fs.FileInfo, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		fi, err := r.Lstat(filepath.Join(parts[:i+1]...))
		if err != nil {
			return nil, err
		}
		last := i == len(parts)-1
		if fi.Mode()&fs.ModeSymlink != 0 || (!last && !fi.IsDir()) || (last && !fi.Mode().IsRegular()) {
			return nil, errUnsafe
		}
		if last {
			return fi, nil
		}
	}
	return nil, errUnsafe
}

// openChecked opens rel inside dir for reading, with the checks of
// statChecked, and makes sure the file opened is the one checked.
func openChecked(dir, rel string) (*os.File, fs.FileInfo, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	before, err := lstatChecked(r, rel)
	if err != nil {
		return nil, nil, err
	}
	f, err := r.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !os.SameFile(before, fi) {
		f.Close()
		if err == nil {
			err = errUnsafe
		}
		return nil, nil, err
	}
	return f, fi, nil
}

// readChecked reads rel inside dir with openChecked, refusing more than
// limit bytes with a *tooLargeError.
func readChecked(dir, rel string, limit int64) ([]byte, fs.FileInfo, error) {
	f, fi, err := openChecked(dir, rel)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, nil, &tooLargeError{limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, &tooLargeError{limit}
	}
	return data, fi, nil
}
