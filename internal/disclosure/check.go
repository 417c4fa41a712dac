package disclosure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// RulesVersion changes whenever a rule's meaning changes.
const RulesVersion = "1"

// Options configure a check.
type Options struct {
	Profile *Profile
	// IgnoreLimits skips F2a and F2b (size and row limits), to check files
	// that a backend would not release as they are (benchmarks, drafts).
	IgnoreLimits bool
	// Context is the researcher's description of the outputs (a sidecar),
	// nil for none.
	Context *Context
}

// FileReport is the result for one file.
type FileReport struct {
	Path     string    `json:"path"`
	SHA256   string    `json:"sha256"`
	Bytes    int64     `json:"bytes"`
	Kind     string    `json:"kind"`
	Rows     int       `json:"rows,omitempty"`
	Verdict  Verdict   `json:"verdict"`
	Columns  []Column  `json:"columns,omitempty"`
	Findings []Finding `json:"findings"`

	// tables are the file's checked tables, for the cross-file rules.
	tables []*checker
}

// fileKind names a file's kind from its extension.
func fileKind(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv"
	case ".html", ".htm":
		return "html"
	case ".svg", ".svgz":
		return "svg"
	case ".png", ".jpg", ".jpeg", ".gif":
		return "image"
	case ".json":
		return "json"
	case ".txt", ".log", ".md":
		return "text"
	}
	return "other"
}

// CheckFile checks one file's bytes. path is how the file is named in the
// report (relative to what the user gave).
func CheckFile(path string, data []byte, opts Options) FileReport {
	p := opts.Profile
	sum := sha256.Sum256(data)
	fr := FileReport{Path: path, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data)), Kind: fileKind(path)}
	add := func(f Finding) {
		f.File = path
		fr.Findings = append(fr.Findings, f)
	}
	// F1: file type and hidden paths.
	ext := strings.ToLower(filepath.Ext(path))
	if !p.AllowsType(ext) {
		allowed := strings.Join(p.FileTypes, " ")
		if allowed == "" {
			allowed = "anything but " + strings.Join(p.FileTypesBlocked, " ")
		}
		add(Finding{Rule: "F1", Verdict: Fail, Message: fmt.Sprintf("file type %q may not be released under the %s profile", ext, p.Name),
			Evidence: map[string]any{"extension": ext}, Hint: "export the output as one of: " + allowed})
	}
	for _, part := range strings.Split(filepath.ToSlash(path), "/") {
		if strings.HasPrefix(part, ".") && part != "." && part != ".." {
			add(Finding{Rule: "F1", Verdict: Fail, Message: fmt.Sprintf("%s is a hidden file or folder", part),
				Hint: "rename it without the leading dot, or leave it out of the request"})
			break
		}
	}
	// F2a: size.
	if !opts.IgnoreLimits && p.Limits.MaxBytes > 0 && fr.Bytes > p.Limits.MaxBytes {
		add(Finding{Rule: "F2a", Verdict: Fail, Message: fmt.Sprintf("the file is %d bytes, over the limit of %d (%s)", fr.Bytes, p.Limits.MaxBytes, humanBytes(p.Limits.MaxBytes)),
			Evidence: map[string]any{"bytes": fr.Bytes, "limit": p.Limits.MaxBytes}, Hint: "release a smaller summary of it"})
	}
	switch fr.Kind {
	case "csv":
		checkCSV(&fr, data, opts, add)
	case "html", "svg":
		for _, f := range CheckHTML(path, data, p.HTMLStyles, p.T()) {
			if fr.Kind == "svg" && f.Rule == "F7d" {
				continue // an SVG is a figure: F7e below
			}
			add(f)
		}
		if fr.Kind == "svg" {
			add(Finding{Rule: "F7e", Verdict: Review, Message: "an image: a person must check it against the table it was drawn from",
				Hint: "add the underlying aggregated table (CSV) to the request and name it in the context's linked_table"})
		}
	case "image":
		add(Finding{Rule: "F7e", Verdict: Review, Message: "an image: a person must check it against the table it was drawn from",
			Hint: "add the underlying aggregated table (CSV) to the request and name it in the context's linked_table"})
	case "json", "text":
		checkText(path, data, p, add)
	}
	sortFindings(fr.Findings)
	for _, f := range fr.Findings {
		fr.Verdict = max(fr.Verdict, f.Verdict)
	}
	if fr.Findings == nil {
		fr.Findings = []Finding{}
	}
	return fr
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

var reNumberToken = regexp.MustCompile(`-?\d[\d,]*(\.\d+)?%?`)

// checkText gives every text, log, Markdown or JSON file F7d: a person
// must read it; its small integers are listed first.
func checkText(path string, data []byte, p *Profile, add func(Finding)) {
	small, others := []string{}, []string{}
	for _, tok := range reNumberToken.FindAllString(string(data), -1) {
		var v Value
		n, ok := parseNumber(tok, &v)
		if ok && v.Decimals == 0 && !v.Percent && n >= 1 && n <= float64(p.T()) {
			small = append(small, tok)
		} else {
			others = append(others, tok)
		}
	}
	nums := append(small, others...)
	if len(nums) > 50 {
		nums = nums[:50]
	}
	add(Finding{Rule: "F7d", Verdict: Review, Message: "free-form output: a person must read every number in it",
		Evidence: map[string]any{"numbers": nums, "small_integers": len(small)},
		Hint:     "where a table would do, release a CSV instead"})
}

// sortFindings orders findings by row, column, rule.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return ruleLess(a.Rule, b.Rule)
	})
}

// ruleLess orders rule ids by family then number: F1 < F2a < F7d < C1 …
func ruleLess(a, b string) bool {
	fam := func(r string) int {
		if r == "" {
			return 99
		}
		return strings.IndexByte("FCTRMDSX", r[0])
	}
	if fa, fb := fam(a), fam(b); fa != fb {
		return fa < fb
	}
	return a < b
}

func sortStrings(s []string) { sort.Strings(s) }
