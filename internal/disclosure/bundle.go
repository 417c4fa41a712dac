package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/haven-tre/haven"
)

// RequestSchema names the format of a release bundle's request.json.
const RequestSchema = "haven.release.request/v1"

// The files a bundle writes beside the outputs it copies.
const (
	RequestJSONName = "request.json" // the release request, for tools
	RequestMDName   = "request.md"   // the release request, for people
	CheckJSONName   = "check.json"   // the checker's report (haven.sdc.report/v1)
)

// BundleOptions configure MakeBundle.
type BundleOptions struct {
	// To is the destination folder. It is created if missing and must be
	// empty unless Force is set.
	To string
	// Options are the check's: the profile (required), the context file
	// and the limits.
	Options Options
	// Force allows a destination that is not empty: files of the same
	// name are replaced, other files are left alone (and are not part of
	// the request).
	Force bool
	// Version is the checker's version, recorded in the reports.
	Version string
}

// Bundle is a release bundle: a folder holding copies of the outputs to
// release, the checker's report (check.json) and a release request form
// (request.json and request.md) for the researcher to complete.
type Bundle struct {
	// Dir is the destination folder, as given (cleaned).
	Dir string
	// Report is the check of the copies, so its hashes are those of the
	// bundle's bytes.
	Report *Report
	// Files are the copied outputs, in path order.
	Files []BundleFile
	// Patterns are the arguments, in the order given, with how many files
	// each matched.
	Patterns []PatternCount
}

// BundleFile is one output copied into a bundle.
type BundleFile struct {
	// Path is the output's path as given, cleaned, relative to the
	// current folder and slash-separated; the copy is at the same path
	// under the bundle's folder.
	Path string `json:"path"`
	// Source is where the output was read from.
	Source string `json:"-"`
	// SHA256 is the hash of the bytes, equal in the source and the copy.
	SHA256 string `json:"sha256"`
	// Bytes is the size.
	Bytes int64 `json:"bytes"`
}

// PatternCount is one argument (a file, a folder or a glob pattern) and
// how many files it matched, as the release form asks for wildcards.
type PatternCount struct {
	Pattern string `json:"pattern"`
	Matched int    `json:"matched"`
}

// String reads "output/*.csv matched 12 files".
func (p PatternCount) String() string {
	if p.Matched == 1 {
		return p.Pattern + " matched 1 file"
	}
	return fmt.Sprintf("%s matched %d files", p.Pattern, p.Matched)
}

// MakeBundle builds a release bundle in o.To from paths, each a file, a
// folder (walked) or a glob pattern (path/filepath.Match syntax, expanded
// here so that quoted patterns work; like a shell, a * does not match a
// leading dot). It copies each file, keeping its path relative to the
// current folder, atomically and byte for byte, and verifies each copy's
// SHA-256; then it checks the copies and writes check.json, request.json
// and request.md.
//
// Errors in the input (a path that does not exist, a pattern that matches
// nothing, a symbolic link, a path outside the current folder, a
// destination that overlaps an input or is not empty) are *haven.Error
// with code EINVALID, almost all found before anything is written. Other
// errors are failures of the file system, and may leave a partial bundle.
func MakeBundle(paths []string, o BundleOptions) (*Bundle, error) {
	if o.Options.Profile == nil {
		return nil, errors.New("make bundle: no profile: set BundleOptions.Options.Profile (LoadProfile)")
	}
	if strings.TrimSpace(o.To) == "" {
		return nil, haven.Errorf(haven.EINVALID, "no destination folder: give one with --to, e.g. --to release")
	}
	if len(paths) == 0 {
		return nil, haven.Errorf(haven.EINVALID, "nothing to bundle: give the files, folders or patterns (such as 'output/*.csv') to release")
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the current folder: %w", err)
	}
	srcs, patterns, roots, err := resolveInputs(paths, cwd)
	if err != nil {
		return nil, err
	}
	dir := filepath.Clean(o.To)
	if err := checkDestination(dir, roots, o.Force); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the destination folder: %w", err)
	}
	b := &Bundle{Dir: dir, Patterns: patterns}
	inputs := make([]Input, 0, len(srcs))
	for _, s := range srcs {
		f, err := copyVerified(s, dir)
		if err != nil {
			return nil, err
		}
		b.Files = append(b.Files, f)
		inputs = append(inputs, Input{Name: f.Path, Path: filepath.Join(dir, filepath.FromSlash(f.Path))})
	}
	b.Report = Check(inputs, o.Options, o.Version)
	for i, fr := range b.Report.Files {
		if fr.SHA256 != b.Files[i].SHA256 {
			return nil, fmt.Errorf("%s changed in the bundle while it was checked (sha256 %s, copied as %s): make the bundle again", fr.Path, fr.SHA256, b.Files[i].SHA256)
		}
	}
	req := b.request(o.Options.Context)
	var rj, cj, md bytes.Buffer
	if err := writeIndentedJSON(&rj, req); err != nil {
		return nil, fmt.Errorf("encode %s: %w", RequestJSONName, err)
	}
	if err := b.Report.WriteJSON(&cj); err != nil {
		return nil, fmt.Errorf("encode %s: %w", CheckJSONName, err)
	}
	req.writeMarkdown(&md)
	for _, w := range []struct {
		name string
		data []byte
	}{{CheckJSONName, cj.Bytes()}, {RequestJSONName, rj.Bytes()}, {RequestMDName, md.Bytes()}} {
		if err := WriteFileAtomic(filepath.Join(dir, w.name), w.data); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// source is a file chosen for a bundle.
type source struct {
	name string // relative, cleaned, slash-separated
	path string // on disk
	info fs.FileInfo
}

// resolveInputs expands the arguments into files (sorted by name, each
// once), the match count of each argument, and the files and folders they
// named (for the overlap check).
func resolveInputs(paths []string, cwd string) ([]source, []PatternCount, []string, error) {
	byName := map[string]source{}
	var patterns []PatternCount
	var roots []string
	for _, arg := range paths {
		var matches []string
		_, err := os.Lstat(arg)
		switch {
		case err == nil:
			matches = []string{arg}
		case hasMeta(arg):
			m, gerr := filepath.Glob(arg)
			if gerr != nil {
				return nil, nil, nil, haven.Errorf(haven.EINVALID, "%q is not a valid pattern (%v): use *, ? and [a-z] as in path/filepath.Match, and quote it", arg, gerr)
			}
			for _, x := range m {
				if !dotMatch(arg, x) {
					matches = append(matches, x)
				}
			}
			if len(matches) == 0 {
				return nil, nil, nil, haven.Errorf(haven.EINVALID, "the pattern %q matches no files: check its folder and spelling (run from the folder the paths are relative to)", arg)
			}
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, nil, haven.Errorf(haven.EINVALID, "%s does not exist: give a file, a folder or a pattern such as 'output/*.csv', relative to the current folder", arg)
		default:
			return nil, nil, nil, haven.Errorf(haven.EINVALID, "cannot read %s: %v", arg, err)
		}
		n := 0
		for _, m := range matches {
			mi, err := os.Lstat(m)
			if err != nil {
				return nil, nil, nil, haven.Errorf(haven.EINVALID, "cannot read %s: %v", m, err)
			}
			roots = append(roots, m)
			found, err := collect(m, mi, cwd)
			if err != nil {
				return nil, nil, nil, err
			}
			for _, s := range found {
				byName[s.name] = s
			}
			n += len(found)
		}
		if n == 0 {
			return nil, nil, nil, haven.Errorf(haven.EINVALID, "%s holds no files: give a folder with the outputs in it, or leave it out", arg)
		}
		patterns = append(patterns, PatternCount{Pattern: arg, Matched: n})
	}
	srcs := make([]source, 0, len(byName))
	for _, s := range byName {
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].name < srcs[j].name })
	reserved := map[string]bool{RequestJSONName: true, RequestMDName: true, CheckJSONName: true}
	for _, s := range srcs {
		if reserved[s.name] {
			return nil, nil, nil, haven.Errorf(haven.EINVALID, "%s would replace the bundle's own %s: rename it, or move it into a folder (such as output/)", s.path, s.name)
		}
	}
	return srcs, patterns, roots, nil
}

// collect returns the files at p: p itself if it is a regular file, the
// regular files under it if it is a folder. Symbolic links and other
// special files are refused.
func collect(p string, fi fs.FileInfo, cwd string) ([]source, error) {
	one := func(q string, fi fs.FileInfo) (source, error) {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return source{}, haven.Errorf(haven.EINVALID, "%s is a symbolic link, which a bundle never follows: copy the file it points to into place, or leave it out", q)
		case !fi.Mode().IsRegular():
			return source{}, haven.Errorf(haven.EINVALID, "%s is not a regular file (%s): only files can be released; leave it out", q, fi.Mode().Type())
		}
		name, err := bundleName(q, cwd)
		if err != nil {
			return source{}, err
		}
		return source{name: name, path: q, info: fi}, nil
	}
	if !fi.IsDir() {
		s, err := one(p, fi)
		if err != nil {
			return nil, err
		}
		return []source{s}, nil
	}
	var out []source
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return haven.Errorf(haven.EINVALID, "cannot read %s: %v", q, err)
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return haven.Errorf(haven.EINVALID, "cannot read %s: %v", q, err)
		}
		s, err := one(q, info)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// bundleName is a file's path in the bundle: the path as given, cleaned,
// relative to the current folder when it was absolute. A path that leads
// outside the current folder is refused.
func bundleName(p, cwd string) (string, error) {
	name := filepath.Clean(p)
	if filepath.IsAbs(name) {
		rel, err := filepath.Rel(cwd, name)
		if err != nil || escapes(rel) {
			// The current folder may be reached through a symbolic link.
			rc, err1 := filepath.EvalSymlinks(cwd)
			rd, err2 := filepath.EvalSymlinks(filepath.Dir(name))
			if err1 != nil || err2 != nil {
				return "", outsideError(p, cwd)
			}
			if rel, err = filepath.Rel(rc, filepath.Join(rd, filepath.Base(name))); err != nil || escapes(rel) {
				return "", outsideError(p, cwd)
			}
		}
		name = rel
	}
	if escapes(name) {
		return "", haven.Errorf(haven.EINVALID, "%s leads outside the current folder (..): the bundle keeps each path as given, so run haven from a folder that contains the outputs (e.g. the workspace) and give paths below it", p)
	}
	if name == "." {
		return "", haven.Errorf(haven.EINVALID, "%q is not a file name", p)
	}
	return filepath.ToSlash(name), nil
}

func outsideError(p, cwd string) error {
	return haven.Errorf(haven.EINVALID, "%s is outside the current folder %s: the bundle keeps each path relative to where haven runs, so run it from a folder that contains the outputs and give relative paths", p, cwd)
}

// escapes reports whether a cleaned relative path climbs out with "..".
func escapes(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
}

// hasMeta reports whether p holds glob metacharacters.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }

// dotMatch reports whether a glob match has a hidden element that the
// pattern matched with a wildcard (a shell would not have matched it).
func dotMatch(pattern, match string) bool {
	pe := strings.Split(filepath.ToSlash(filepath.Clean(pattern)), "/")
	me := strings.Split(filepath.ToSlash(filepath.Clean(match)), "/")
	if len(pe) != len(me) {
		return false
	}
	for i := range me {
		if strings.HasPrefix(me[i], ".") && !strings.HasPrefix(pe[i], ".") {
			return true
		}
	}
	return false
}

// checkDestination refuses a destination that is an input, is inside a
// folder given as input or holds an input, or is not an empty folder
// (unless force).
func checkDestination(dir string, roots []string, force bool) error {
	dest, err := realPath(dir)
	if err != nil {
		return fmt.Errorf("resolve the destination %s: %w", dir, err)
	}
	for _, r := range roots {
		rr, err := realPath(r)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", r, err)
		}
		switch {
		case within(dest, rr):
			return haven.Errorf(haven.EINVALID, "the destination %s is inside the input %s: choose a folder outside the outputs, e.g. --to release next to output/", dir, r)
		case within(rr, dest):
			return haven.Errorf(haven.EINVALID, "the input %s is inside the destination %s: choose a new folder for the bundle, e.g. --to release", r, dir)
		}
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return haven.Errorf(haven.EINVALID, "cannot read the destination %s: %v", dir, err)
	case !fi.IsDir():
		return haven.Errorf(haven.EINVALID, "the destination %s exists and is not a folder (a file or a link): choose a new folder name", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "cannot read the destination %s: %v", dir, err)
	}
	if len(entries) > 0 && !force {
		return haven.Errorf(haven.EINVALID, "the destination %s is not empty: choose a new folder (e.g. add the date: release-2024-05-01), or add --force to write into it (files of the same name are replaced)", dir)
	}
	return nil
}

// realPath is p made absolute with the symbolic links of its longest
// existing prefix resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for d := abs; ; d = filepath.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(r, rest), nil
		}
		if filepath.Dir(d) == d {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

// within reports whether p is root or below it.
func within(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && !escapes(rel)
}

// copyVerified copies s into dir at its name, atomically, and checks that
// the copy's SHA-256 is the source's.
func copyVerified(s source, dir string) (BundleFile, error) {
	dst := filepath.Join(dir, filepath.FromSlash(s.name))
	if err := mkdirsNoLinks(dir, filepath.Dir(s.name)); err != nil {
		return BundleFile{}, err
	}
	in, err := os.Open(s.path)
	if err != nil {
		return BundleFile{}, haven.Errorf(haven.EINVALID, "cannot read %s: %v", s.path, err)
	}
	defer in.Close()
	// The path was checked with Lstat; make sure the file opened is that
	// one and not a symbolic link put in its place since.
	if fi, err := in.Stat(); err != nil || !os.SameFile(fi, s.info) {
		return BundleFile{}, haven.Errorf(haven.EINVALID, "%s changed while the bundle was made (it is now a different file or a link): make the bundle again", s.path)
	}
	h := sha256.New()
	n, err := writeAtomicFrom(dst, io.TeeReader(in, h))
	if err != nil {
		return BundleFile{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	got, err := hashFile(dst, sha256.New())
	if err != nil {
		return BundleFile{}, fmt.Errorf("verify the copy of %s: %w", s.path, err)
	}
	if got != sum {
		os.Remove(dst)
		return BundleFile{}, fmt.Errorf("the copy of %s has sha256 %s, not the source's %s: check the disk and make the bundle again", s.path, got, sum)
	}
	return BundleFile{Path: s.name, Source: s.path, SHA256: sum, Bytes: n}, nil
}

// mkdirsNoLinks creates the folders of rel under dir, refusing any that
// exists as something other than a folder (a link would send the copy
// elsewhere).
func mkdirsNoLinks(dir, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	p := dir
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", p, err)
			}
		case err != nil:
			return fmt.Errorf("read %s: %w", p, err)
		case !fi.IsDir():
			return haven.Errorf(haven.EINVALID, "%s in the destination is not a folder (a file or a link): remove it, or choose a new destination", p)
		}
	}
	return nil
}

// writeAtomicFrom writes r to path through a temporary file in the same
// folder renamed into place, and returns the number of bytes written.
func writeAtomicFrom(path string, r io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".haven-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		ok = true
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return n, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, flushed and renamed into place, so readers never see a partial
// file and a crash leaves the old file or the new one (mode 0644).
func WriteFileAtomic(path string, data []byte) error {
	_, err := writeAtomicFrom(path, bytes.NewReader(data))
	return err
}

func hashFile(path string, h hash.Hash) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeIndentedJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Request is the release request form of a bundle (request.json): what the
// output checkers need for each file, the checker's findings and the
// context the researcher gives (from the context file, or empty to fill
// in).
type Request struct {
	Schema         string  `json:"schema"`
	RequestVerdict Verdict `json:"request_verdict"`
	Checker        struct {
		Name         string `json:"name"`
		Version      string `json:"version"`
		RulesVersion string `json:"rules_version"`
	} `json:"checker"`
	Profile struct {
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"profile"`
	// Patterns are the arguments and how many files each matched.
	Patterns []PatternCount `json:"patterns"`
	Files    []RequestFile  `json:"files"`
}

// RequestFile is one output in a release request.
type RequestFile struct {
	Path     string           `json:"path"`
	SHA256   string           `json:"sha256"`
	Bytes    int64            `json:"bytes"`
	Verdict  Verdict          `json:"verdict"`
	Findings []RequestFinding `json:"findings"`
	// Description says what the output shows.
	Description string `json:"description"`
	// Variables describe each column or variable (name -> description);
	// a table's columns are listed with empty descriptions to fill in.
	Variables map[string]string `json:"variables"`
	// Population is the underlying sample: who it is and how many.
	Population RequestPopulation `json:"population"`
	// Model is for regressions: the people, the parameters and the
	// residual degrees of freedom.
	Model RequestModel `json:"model"`
	// Related names other outputs that, combined with this one, may
	// disclose more (secondary disclosure).
	Related []string `json:"related"`
	// Controls are the disclosure controls applied, e.g. "redact<=7, round5".
	Controls string `json:"controls"`
	// LinkedTable is the table a figure was drawn from.
	LinkedTable string `json:"linked_table"`
}

// RequestFinding is a checker finding as the request form shows it.
type RequestFinding struct {
	Rule      string  `json:"rule"`
	Verdict   Verdict `json:"verdict"`
	Location  string  `json:"location"`
	Message   string  `json:"message"`
	Hint      string  `json:"hint"`
	Exception string  `json:"exception,omitempty"`
}

// RequestPopulation describes the population behind an output; Size is
// null when not given.
type RequestPopulation struct {
	Description string `json:"description"`
	Size        *int   `json:"size"`
}

// RequestModel describes a regression; each field is null when not given.
// DoF is N − Parameters when only those are given, as the D1 rule reads it.
type RequestModel struct {
	N          *int `json:"n"`
	Parameters *int `json:"parameters"`
	DoF        *int `json:"dof"`
}

// request builds the form from the report and the context.
func (b *Bundle) request(ctx *Context) *Request {
	r := b.Report
	q := &Request{Schema: RequestSchema, RequestVerdict: r.RequestVerdict, Patterns: b.Patterns, Files: []RequestFile{}}
	q.Checker.Name, q.Checker.Version, q.Checker.RulesVersion = r.Checker.Name, r.Checker.Version, r.Checker.RulesVersion
	q.Profile.Name, q.Profile.SHA256 = r.Profile.Name, r.Profile.SHA256
	if q.Patterns == nil {
		q.Patterns = []PatternCount{}
	}
	for _, fr := range r.Files {
		f := RequestFile{Path: fr.Path, SHA256: fr.SHA256, Bytes: fr.Bytes, Verdict: fr.Verdict,
			Findings: []RequestFinding{}, Variables: map[string]string{}, Related: []string{}}
		for _, x := range fr.Findings {
			f.Findings = append(f.Findings, RequestFinding{Rule: x.Rule, Verdict: x.Verdict, Location: x.Location(),
				Message: x.Message, Hint: x.Hint, Exception: x.Exception})
		}
		for _, c := range fr.Columns {
			f.Variables[c.Name] = ""
		}
		if oc := ctx.For(fr.Path); oc != nil {
			f.Description, f.Controls, f.LinkedTable = oc.Description, oc.Controls, oc.LinkedTable
			for k, v := range oc.Variables {
				f.Variables[k] = v
			}
			f.Population.Description = oc.Population.Description
			if oc.Population.Size > 0 {
				f.Population.Size = ptr(oc.Population.Size)
			}
			if m := oc.Model; m != nil {
				if m.N > 0 {
					f.Model.N = ptr(m.N)
				}
				if m.Parameters > 0 {
					f.Model.Parameters = ptr(m.Parameters)
				}
				switch {
				case m.DoF > 0:
					f.Model.DoF = ptr(m.DoF)
				case m.N > 0 && m.Parameters > 0:
					f.Model.DoF = ptr(m.N - m.Parameters)
				}
			}
			f.Related = append(f.Related, oc.Related...)
		}
		q.Files = append(q.Files, f)
	}
	return q
}

func ptr(n int) *int { return &n }

const toFill = "_(to fill in)_"

// writeMarkdown writes the form for people: the verdict, the profile, the
// patterns, then per file a table of path, sha256, size and verdict, the
// findings and the context fields.
func (q *Request) writeMarkdown(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Release request: %s\n\n", q.RequestVerdict)
	fmt.Fprintf(&b, "Checked by %s %s (rules version %s) with profile `%s` (sha256 `%s`); %d file(s).\n\n",
		q.Checker.Name, orDash(q.Checker.Version), q.Checker.RulesVersion, q.Profile.Name, q.Profile.SHA256, len(q.Files))
	b.WriteString("Complete every field marked " + toFill + " before sending this form with the files in this folder to the output checkers. ")
	b.WriteString("The checker advises; two output checkers decide.\n\n")
	b.WriteString("## Paths requested\n\n| path or pattern | files matched |\n|---|---|\n")
	for _, p := range q.Patterns {
		fmt.Fprintf(&b, "| `%s` | %d |\n", mdEscape(p.Pattern), p.Matched)
	}
	b.WriteString("\n")
	for _, f := range q.Files {
		fmt.Fprintf(&b, "## %s\n\n", f.Path)
		b.WriteString("| path | sha256 | bytes | verdict |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| `%s` | `%s` | %d | %s |\n\n", mdEscape(f.Path), f.SHA256, f.Bytes, f.Verdict)
		var findings, notes []string
		for _, x := range f.Findings {
			line := fmt.Sprintf("- **%s** %s at %s: %s", x.Rule, x.Verdict, x.Location, oneLine(x.Message))
			if x.Hint != "" {
				line += " — *" + oneLine(x.Hint) + "*"
			}
			if x.Exception != "" {
				line += " (exception: " + oneLine(x.Exception) + ")"
			}
			if x.Verdict == Pass {
				notes = append(notes, line)
			} else {
				findings = append(findings, line)
			}
		}
		if len(findings) == 0 {
			b.WriteString("**Findings:** none\n\n")
		} else {
			b.WriteString("**Findings:**\n\n" + strings.Join(findings, "\n") + "\n\n")
		}
		if len(notes) > 0 {
			b.WriteString("**Notes:**\n\n" + strings.Join(notes, "\n") + "\n\n")
		}
		field(&b, "Description", f.Description)
		if len(f.Variables) == 0 {
			field(&b, "Variables", "")
		} else {
			b.WriteString("**Variables:**\n\n")
			names := make([]string, 0, len(f.Variables))
			for k := range f.Variables {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v := oneLine(f.Variables[k])
				if v == "" {
					v = toFill
				}
				fmt.Fprintf(&b, "- `%s`: %s\n", k, v)
			}
			b.WriteString("\n")
		}
		field(&b, "Population", f.Population.Description)
		field(&b, "Population size", intOrEmpty(f.Population.Size))
		if f.Model.N == nil && f.Model.Parameters == nil && f.Model.DoF == nil {
			b.WriteString("**Model (regressions only):** " + toFill + " (n, parameters, degrees of freedom)\n\n")
		} else {
			fmt.Fprintf(&b, "**Model (regressions only):** n %s, parameters %s, degrees of freedom %s\n\n",
				intOrFill(f.Model.N), intOrFill(f.Model.Parameters), intOrFill(f.Model.DoF))
		}
		field(&b, "Related outputs", strings.Join(f.Related, ", "))
		field(&b, "Disclosure controls", f.Controls)
		if f.LinkedTable != "" {
			field(&b, "Underlying table", f.LinkedTable)
		}
	}
	io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
}

// field writes a "**Name:** value" paragraph, or the to-fill-in marker.
func field(b *strings.Builder, name, v string) {
	v = oneLine(v)
	if v == "" {
		v = toFill
	}
	fmt.Fprintf(b, "**%s:** %s\n\n", name, v)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func intOrEmpty(n *int) string {
	if n == nil {
		return ""
	}
	return fmt.Sprint(*n)
}

func intOrFill(n *int) string {
	if n == nil {
		return toFill
	}
	return fmt.Sprint(*n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
