package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// VerifySchema names the format of Verify's JSON result.
const VerifySchema = "haven.outputs.verify/v1"

// VerifyStatus says how a file compares with the hash a report recorded.
type VerifyStatus string

// The statuses of a verified file. Only VerifyUnchanged means the file is
// the one that was checked.
const (
	// VerifyUnchanged: the file's SHA-256 is the one recorded.
	VerifyUnchanged VerifyStatus = "unchanged"
	// VerifyChanged: the file exists and its SHA-256 differs.
	VerifyChanged VerifyStatus = "changed"
	// VerifyMissing: there is no file at the path.
	VerifyMissing VerifyStatus = "missing"
	// VerifyUnreadable: something is at the path but it cannot be hashed:
	// it cannot be opened, is a folder, or (in a bundle) is or passes
	// through a symbolic link, which Verify never follows.
	VerifyUnreadable VerifyStatus = "unreadable"
	// VerifyUnrecorded: the report records no hash for the file (the
	// checker could not read it), so it was never checked.
	VerifyUnrecorded VerifyStatus = "unrecorded"
)

// The kinds of report Verify reads.
const (
	VerifyKindCheck  = "check"  // a report of 'haven outputs check --json' (haven.sdc.report/v1)
	VerifyKindBundle = "bundle" // a release bundle's request.json (haven.release.request/v1)
)

// VerifyResult is the outcome of Verify: each file the report lists, with
// its status.
type VerifyResult struct {
	Schema string `json:"schema"`
	// Report is the file read (a bundle folder's request.json when a
	// folder was given).
	Report string `json:"report"`
	// Kind is VerifyKindCheck or VerifyKindBundle.
	Kind string `json:"kind"`
	// ReportSchema is the report's own schema.
	ReportSchema string `json:"report_schema"`
	// Base is the folder the report's relative paths were resolved
	// against: "." (the current folder) for a check report, the bundle's
	// folder for a request.json.
	Base string `json:"base"`
	// OK is true when every file is unchanged.
	OK bool `json:"ok"`
	// Counts has the number of files of each status.
	Counts VerifyCounts `json:"counts"`
	// Files are in the report's order.
	Files []VerifiedFile `json:"files"`
}

// VerifyCounts counts the files of each status.
type VerifyCounts struct {
	Files      int `json:"files"`
	Unchanged  int `json:"unchanged"`
	Changed    int `json:"changed"`
	Missing    int `json:"missing"`
	Unreadable int `json:"unreadable"`
	Unrecorded int `json:"unrecorded"`
}

// VerifiedFile is one file of a report and how it compares.
type VerifiedFile struct {
	// Path is the path the report lists.
	Path string `json:"path"`
	// File is where it was looked for on disk.
	File   string       `json:"file"`
	Status VerifyStatus `json:"status"`
	// ExpectedSHA256 and ExpectedBytes are what the report recorded.
	ExpectedSHA256 string `json:"expected_sha256"`
	ExpectedBytes  int64  `json:"expected_bytes"`
	// SHA256 and Bytes are the file's now; empty and 0 when it could not
	// be read.
	SHA256 string `json:"sha256,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	// Problem says why a missing, unreadable or unrecorded file could not
	// be compared.
	Problem string `json:"problem,omitempty"`
}

// verifyDoc is the part of both report formats Verify reads.
type verifyDoc struct {
	Schema *string `json:"schema"`
	Files  *[]struct {
		Path   *string `json:"path"`
		SHA256 string  `json:"sha256"`
		Bytes  int64   `json:"bytes"`
	} `json:"files"`
}

// Verify recomputes the SHA-256 of every file a report lists and says
// which changed since the report was written. report is one of:
//
//   - a JSON report of 'haven outputs check --json' (ReportSchema): its
//     paths are as given on the check's command line, so they are read
//     relative to the current folder (absolute paths as they are);
//   - a release bundle's request.json (RequestSchema): its paths are
//     relative to the bundle's folder, the folder holding request.json;
//   - a bundle's folder, for its request.json.
//
// A bundle's paths must stay inside its folder: an absolute path, or one
// with a ".." element, makes the whole request.json invalid, and a file
// that is, or lies under, a symbolic link is never followed (it is
// VerifyUnreadable), since a bundle holds only regular files.
//
// The error is non-nil only when the report itself cannot be used: it
// cannot be read, is not one of these formats, lists no files, records a
// malformed hash or (for a bundle) a path outside the bundle. Files that
// changed, are missing or cannot be read are statuses in the result.
func Verify(report string) (*VerifyResult, error) {
	file := report
	fi, err := os.Stat(report)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: give the JSON report of 'haven outputs check --json', or a release bundle (its folder or request.json)", report)
		}
		return nil, fmt.Errorf("cannot read %s: %v", report, err)
	}
	if fi.IsDir() {
		file = filepath.Join(report, RequestJSONName)
		if _, err := os.Stat(file); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s is a folder without a %s, so it is not a release bundle: give the bundle's folder (written by 'haven outputs bundle'), or a JSON report of 'haven outputs check --json'", report, RequestJSONName)
			}
			return nil, fmt.Errorf("cannot read %s: %v", file, err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", file, err)
	}
	notReport := func(why string) error {
		return fmt.Errorf("%s is not a haven outputs report or request.json: %s; give the JSON that 'haven outputs check --json' wrote (schema %s), or a release bundle's folder or %s (schema %s)", file, why, ReportSchema, RequestJSONName, RequestSchema)
	}
	var doc verifyDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, notReport(jsonProblem(data, err))
	}
	if dec.More() {
		return nil, notReport("it holds more than one JSON value")
	}
	res := &VerifyResult{Schema: VerifySchema, Report: file, Files: []VerifiedFile{}}
	switch {
	case doc.Schema == nil:
		return nil, notReport(`it has no "schema" field`)
	case *doc.Schema == ReportSchema:
		res.Kind, res.Base = VerifyKindCheck, "."
	case *doc.Schema == RequestSchema:
		res.Kind, res.Base = VerifyKindBundle, filepath.Dir(file)
	default:
		return nil, notReport(fmt.Sprintf("its schema is %q", *doc.Schema))
	}
	res.ReportSchema = *doc.Schema
	if doc.Files == nil {
		return nil, notReport(`it has no "files" list`)
	}
	if len(*doc.Files) == 0 {
		return nil, fmt.Errorf("%s lists no files, so there is nothing to verify: haven never writes an empty report; check or bundle the outputs again", file)
	}

	var root *os.Root
	if res.Kind == VerifyKindBundle {
		// First make sure every path stays inside the bundle: a single
		// path outside it means the request was not written by haven.
		for i, f := range *doc.Files {
			if f.Path == nil {
				return nil, fmt.Errorf("%s: file %d has no path: the request is damaged; make the bundle again", file, i+1)
			}
			if why := unsafeBundlePath(*f.Path); why != "" {
				return nil, fmt.Errorf("%s: file %d has the path %q, which %s: verify never reads outside the bundle folder (%s), and 'haven outputs bundle' lists only paths inside it, so this request.json has been edited or was not written by haven; nothing was verified. Make the bundle again", file, i+1, *f.Path, why, res.Base)
			}
		}
		root, err = os.OpenRoot(res.Base)
		if err != nil {
			return nil, fmt.Errorf("cannot open the bundle folder %s: %v", res.Base, err)
		}
		defer root.Close()
	}
	for i, f := range *doc.Files {
		if f.Path == nil || strings.TrimSpace(*f.Path) == "" {
			return nil, notReport(fmt.Sprintf("file %d has no path", i+1))
		}
		if f.SHA256 != "" && !isSHA256Hex(f.SHA256) {
			return nil, fmt.Errorf("%s: file %d (%s) records the sha256 %q, which is not 64 hexadecimal digits: the report is damaged; check or bundle the outputs again", file, i+1, *f.Path, f.SHA256)
		}
		vf := VerifiedFile{Path: *f.Path, ExpectedSHA256: strings.ToLower(f.SHA256), ExpectedBytes: f.Bytes}
		if res.Kind == VerifyKindBundle {
			vf.File = filepath.Join(res.Base, filepath.FromSlash(*f.Path))
			verifyInRoot(root, &vf)
		} else {
			vf.File = filepath.FromSlash(*f.Path)
			verifyOnDisk(&vf)
		}
		res.Files = append(res.Files, vf)
	}
	res.count()
	return res, nil
}

// unsafeBundlePath says why a path listed in a request.json would lead
// outside the bundle, or "" when it stays inside.
func unsafeBundlePath(p string) string {
	switch {
	case strings.TrimSpace(p) == "":
		return "is empty"
	case path.IsAbs(p) || filepath.IsAbs(filepath.FromSlash(p)) || filepath.VolumeName(filepath.FromSlash(p)) != "":
		return "is absolute"
	case strings.ContainsRune(p, 0):
		return "holds a NUL byte"
	}
	for _, el := range strings.Split(filepath.ToSlash(p), "/") {
		if el == ".." {
			return `climbs out of the folder with ".."`
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return "is not a path inside the folder"
	}
	return ""
}

// verifyOnDisk hashes a check report's file, following the path as the
// check did.
func verifyOnDisk(vf *VerifiedFile) {
	if vf.ExpectedSHA256 == "" {
		vf.Status, vf.Problem = VerifyUnrecorded, "the report records no sha256: the checker could not read the file, so it was never checked"
		return
	}
	f, err := os.Open(vf.File)
	if err != nil {
		setOpenError(vf, err)
		return
	}
	defer f.Close()
	hashOpened(vf, f)
}

// verifyInRoot hashes a bundle's file through root, refusing symbolic
// links on the way.
func verifyInRoot(root *os.Root, vf *VerifiedFile) {
	if vf.ExpectedSHA256 == "" {
		vf.Status, vf.Problem = VerifyUnrecorded, "the request records no sha256 for the file, so it was never checked"
		return
	}
	name := filepath.FromSlash(path.Clean(vf.Path))
	parts := strings.Split(filepath.ToSlash(name), "/")
	for i := range parts {
		prefix := filepath.Join(parts[:i+1]...)
		fi, err := root.Lstat(prefix)
		if err != nil {
			setOpenError(vf, err)
			return
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			what := "it is a symbolic link"
			if i < len(parts)-1 {
				what = "it lies under the symbolic link " + filepath.ToSlash(prefix)
			}
			vf.Status, vf.Problem = VerifyUnreadable, what+" in the bundle, which verify never follows (a bundle holds only regular files): put the file itself in its place, or make the bundle again"
			return
		}
	}
	f, err := root.Open(name)
	if err != nil {
		setOpenError(vf, err)
		return
	}
	defer f.Close()
	hashOpened(vf, f)
}

func setOpenError(vf *VerifiedFile, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		vf.Status, vf.Problem = VerifyMissing, "no file at this path"
		return
	}
	vf.Status, vf.Problem = VerifyUnreadable, "cannot read it: "+pathErrText(err)
}

// pathErrText is an error without the path an *fs.PathError repeats.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// hashOpened hashes an open file and sets the status.
func hashOpened(vf *VerifiedFile, f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		vf.Status, vf.Problem = VerifyUnreadable, "cannot read it: "+pathErrText(err)
		return
	}
	if !fi.Mode().IsRegular() {
		vf.Status, vf.Problem = VerifyUnreadable, fmt.Sprintf("it is not a regular file (%s)", describeMode(fi.Mode()))
		return
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		vf.Status, vf.Problem = VerifyUnreadable, "cannot read it: "+pathErrText(err)
		return
	}
	vf.SHA256, vf.Bytes = hex.EncodeToString(h.Sum(nil)), n
	if vf.SHA256 == vf.ExpectedSHA256 {
		vf.Status = VerifyUnchanged
	} else {
		vf.Status = VerifyChanged
	}
}

func describeMode(m fs.FileMode) string {
	if m.IsDir() {
		return "a folder"
	}
	return m.Type().String()
}

func (r *VerifyResult) count() {
	c := VerifyCounts{Files: len(r.Files)}
	for _, f := range r.Files {
		switch f.Status {
		case VerifyUnchanged:
			c.Unchanged++
		case VerifyChanged:
			c.Changed++
		case VerifyMissing:
			c.Missing++
		case VerifyUnreadable:
			c.Unreadable++
		case VerifyUnrecorded:
			c.Unrecorded++
		}
	}
	r.Counts = c
	r.OK = c.Unchanged == c.Files
}

// WriteJSON writes the result as indented JSON (schema
// haven.outputs.verify/v1) with a final newline.
func (r *VerifyResult) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }

// WriteText writes one line per file (its status and where it is on
// disk, with the hashes of a changed file and the problem of one that
// could not be compared), then a summary line.
func (r *VerifyResult) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "%-10s %s\n", f.Status, f.File)
		switch {
		case f.Status == VerifyChanged:
			fmt.Fprintf(&b, "           expected sha256 %s (%d bytes)\n", f.ExpectedSHA256, f.ExpectedBytes)
			fmt.Fprintf(&b, "           actual   sha256 %s (%d bytes)\n", f.SHA256, f.Bytes)
		case f.Problem != "" && f.Status != VerifyMissing:
			fmt.Fprintf(&b, "           %s\n", f.Problem)
		}
	}
	c := r.Counts
	files := "files"
	if c.Files == 1 {
		files = "file"
	}
	if r.OK {
		fmt.Fprintf(&b, "%d %s verified against %s: all unchanged\n", c.Files, files, r.Report)
	} else {
		var parts []string
		for _, x := range []struct {
			n    int
			what string
		}{{c.Unchanged, "unchanged"}, {c.Changed, "changed"}, {c.Missing, "missing"}, {c.Unreadable, "unreadable"}, {c.Unrecorded, "unrecorded"}} {
			if x.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
			}
		}
		fmt.Fprintf(&b, "%d %s verified against %s: %s; the outputs are not the ones checked, so check them again before release\n", c.Files, files, r.Report, strings.Join(parts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// jsonProblem says why data did not decode as a report, with the line.
func jsonProblem(data []byte, err error) string {
	line := func(off int64) int { return 1 + bytes.Count(data[:min(max(int(off), 0), len(data))], []byte("\n")) }
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("it is not valid JSON (line %d: %v)", line(se.Offset), err)
	case errors.As(err, &te):
		return fmt.Sprintf("line %d: the field %q holds a %s where haven writes a %s", line(te.Offset), te.Field, te.Value, te.Type)
	case errors.Is(err, io.EOF):
		return "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it is not valid JSON (the file ends early)"
	}
	return "it is not valid JSON (" + err.Error() + ")"
}
