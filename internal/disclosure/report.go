package disclosure

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReportSchema names the report format.
const ReportSchema = "haven.sdc.report/v1"

// Report is the result of checking a request (a set of files).
type Report struct {
	Schema  string `json:"schema"`
	Checker struct {
		Name         string `json:"name"`
		Version      string `json:"version"`
		RulesVersion string `json:"rules_version"`
	} `json:"checker"`
	Profile struct {
		Name   string   `json:"name"`
		SHA256 string   `json:"sha256"`
		Params *Profile `json:"params"`
	} `json:"profile"`
	RequestVerdict Verdict      `json:"request_verdict"`
	Files          []FileReport `json:"files"`
	CrossFile      []Finding    `json:"cross_file"`
	Exceptions     []Finding    `json:"exceptions"`
}

// Input is one file to check: its name in the report and where to read it.
type Input struct {
	Name string // as reported (slash-separated)
	Path string // on disk
}

// Expand turns the paths a user gave (files or folders) into inputs,
// folders walked in order without following symlinks. Names are relative
// to the folder given, prefixed by it.
func Expand(paths []string) ([]Input, error) {
	var out []Input
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !fi.IsDir() {
			out = append(out, Input{Name: filepath.ToSlash(filepath.Clean(p)), Path: p})
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				out = append(out, Input{Name: filepath.ToSlash(filepath.Clean(q)), Path: q})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Check checks every input and returns the request's report. Files that
// cannot be read get an ERROR finding.
func Check(inputs []Input, opts Options, version string) *Report {
	r := &Report{Schema: ReportSchema, CrossFile: []Finding{}, Exceptions: []Finding{}}
	r.Checker.Name, r.Checker.Version, r.Checker.RulesVersion = "haven", version, RulesVersion
	r.Profile.Name, r.Profile.SHA256, r.Profile.Params = opts.Profile.Name, opts.Profile.SHA256, opts.Profile
	for _, in := range inputs {
		data, err := os.ReadFile(in.Path)
		if err != nil {
			r.Files = append(r.Files, FileReport{Path: in.Name, Kind: fileKind(in.Name), Verdict: Error,
				Findings: []Finding{{Rule: "F6", Verdict: Error, File: in.Name, Message: "cannot read the file: " + err.Error()}}})
			continue
		}
		fr := CheckFile(in.Name, data, opts)
		applyExceptions(&fr, opts, r)
		r.Files = append(r.Files, fr)
	}
	crossFile(r, opts.Profile)
	for _, f := range r.Files {
		r.RequestVerdict = max(r.RequestVerdict, f.Verdict)
	}
	for _, f := range r.CrossFile {
		r.RequestVerdict = max(r.RequestVerdict, f.Verdict)
	}
	if r.Files == nil {
		r.Files = []FileReport{}
	}
	return r
}

// applyExceptions downgrades FAIL findings that the context justifies to
// REVIEW (never to PASS), except for rules the profile keeps.
func applyExceptions(fr *FileReport, opts Options, r *Report) {
	oc := opts.Context.For(fr.Path)
	if oc == nil || len(oc.Exceptions) == 0 {
		return
	}
	for i := range fr.Findings {
		f := &fr.Findings[i]
		if f.Verdict != Fail || !opts.Profile.Exceptable(f.Rule) {
			continue
		}
		for _, e := range oc.Exceptions {
			if e.Rule != f.Rule {
				continue
			}
			if len(e.Cells) > 0 {
				hit := false
				for _, cell := range e.Cells {
					if cell.Row == f.Row && (cell.Col == f.Col || cell.Column == f.Column) {
						hit = true
					}
				}
				if !hit {
					continue
				}
			}
			f.Verdict, f.Exception = Review, e.Justification
			r.Exceptions = append(r.Exceptions, *f)
			break
		}
	}
	fr.Verdict = Pass
	for _, f := range fr.Findings {
		fr.Verdict = max(fr.Verdict, f.Verdict)
	}
}

// WriteJSON writes the report as indented JSON with a final newline.
func (r *Report) WriteJSON(w io.Writer) error { return writeIndentedJSON(w, r) }

// WriteMarkdown writes the report for people: the verdict, the profile,
// a table of files, the findings (FAIL, ERROR, REVIEW) and the column
// classes.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Output check: %s\n\n", r.RequestVerdict)
	fmt.Fprintf(&b, "Profile `%s` (%s), rules version %s, %d file(s).\n\n", r.Profile.Name, short(r.Profile.SHA256), r.Checker.RulesVersion, len(r.Files))
	b.WriteString("| file | verdict | FAIL | REVIEW | sha256 |\n|---|---|---|---|---|\n")
	for _, f := range r.Files {
		nf, nr := 0, 0
		for _, x := range f.Findings {
			switch x.Verdict {
			case Fail:
				nf++
			case Review:
				nr++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s |\n", mdEscape(f.Path), f.Verdict, nf, nr, short(f.SHA256))
	}
	for _, v := range []Verdict{Fail, Error, Review} {
		var lines []string
		for _, f := range r.Files {
			for _, x := range f.Findings {
				if x.Verdict != v {
					continue
				}
				line := fmt.Sprintf("- **%s** `%s` %s: %s", x.Rule, f.Path, x.Location(), x.Message)
				if x.Hint != "" {
					line += " — *" + x.Hint + "*"
				}
				if x.Exception != "" {
					line += " (exception: " + x.Exception + ")"
				}
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "\n## %s\n\n%s\n", v, strings.Join(lines, "\n"))
		}
	}
	var cls []string
	for _, f := range r.Files {
		for _, c := range f.Columns {
			cls = append(cls, fmt.Sprintf("| %s | %s | %s | %s | %s |", mdEscape(f.Path), mdEscape(c.Name), c.Class, c.Confidence, mdEscape(strings.Join(c.Signals, "; "))))
		}
	}
	if len(cls) > 0 {
		b.WriteString("\n## Columns\n\n| file | column | class | confidence | signals |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(cls, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes one line per file and per FAIL, ERROR or REVIEW
// finding, for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "%-6s %s\n", f.Verdict, f.Path)
		for _, x := range f.Findings {
			if x.Verdict == Pass {
				continue
			}
			fmt.Fprintf(&b, "  %s[%s] %s: %s\n", x.Verdict, x.Rule, x.Location(), x.Message)
			if x.Hint != "" {
				fmt.Fprintf(&b, "      hint: %s\n", x.Hint)
			}
		}
	}
	fmt.Fprintf(&b, "\nRequest verdict: %s (profile %s %s, %d file(s))\n", r.RequestVerdict, r.Profile.Name, short(r.Profile.SHA256), len(r.Files))
	_, err := io.WriteString(w, b.String())
	return err
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
