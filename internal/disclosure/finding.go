// Package disclosure checks research outputs for statistical disclosure
// (docs/outputs.md): every file gets a verdict, every finding a stable rule
// id, the cell it is about, its evidence and a hint. It also applies the
// controls (redaction, rounding, midpoint-6, secondary suppression, HTML
// stripping) whose results the checker passes.
//
// The checker never modifies a file.
package disclosure

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Verdict is a finding's, a file's or a request's outcome. The order is
// severity: PASS < REVIEW < ERROR < FAIL.
type Verdict int

const (
	Pass   Verdict = iota // an informational note
	Review                // a person must look; never released automatically
	Error                 // the file cannot be checked
	Fail                  // a definite breach under the active profile
)

var verdictNames = [...]string{"PASS", "REVIEW", "ERROR", "FAIL"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// MarshalJSON writes the verdict's name.
func (v Verdict) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// UnmarshalJSON reads a verdict's name.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := ParseVerdict(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// ParseVerdict reads PASS, REVIEW, ERROR or FAIL (any case).
func ParseVerdict(s string) (Verdict, error) {
	for i, n := range verdictNames {
		if strings.EqualFold(s, n) {
			return Verdict(i), nil
		}
	}
	return Pass, fmt.Errorf("unknown verdict %q: use PASS, REVIEW, ERROR or FAIL", s)
}

// Worst returns the most severe of the verdicts (PASS for none).
func Worst(vs ...Verdict) Verdict {
	w := Pass
	for _, v := range vs {
		w = max(w, v)
	}
	return w
}

// Cell is a position in a table: a 1-based data row (the header is not
// counted) and a 1-based column with its header text. Row 0 means the
// finding is about a whole column; Col 0 about a whole row or the file.
type Cell struct {
	Row    int    `json:"row"`
	Col    int    `json:"col"`
	Column string `json:"column,omitempty"`
}

// Finding is one rule firing on a file, a column, a row or a cell.
type Finding struct {
	Rule    string  `json:"rule"` // stable id: F1, C1, T2, …
	Verdict Verdict `json:"verdict"`
	File    string  `json:"file"`
	// Row is the 1-based data row, 0 for a file- or column-level finding.
	Row int `json:"row,omitempty"`
	// Column is the header text and Col its 1-based index; empty and 0 for
	// a file- or row-level finding.
	Column string `json:"column,omitempty"`
	Col    int    `json:"col,omitempty"`
	// Cells are further coordinates when the evidence spans cells.
	Cells []Cell `json:"cells,omitempty"`
	// Evidence holds rule-specific values (the count, the threshold, …).
	Evidence map[string]any `json:"evidence,omitempty"`
	Message  string         `json:"message"`
	Hint     string         `json:"hint,omitempty"`
	// Confidence is that of the column classification behind the finding
	// (high, medium, low), when one is.
	Confidence string `json:"confidence,omitempty"`
	// Exception is the justification that downgraded the finding.
	Exception string `json:"exception,omitempty"`
	// Also lists the rules of the same family that fired on the same cell
	// but gave way to this one.
	Also []string `json:"also,omitempty"`
}

// Location describes where a finding is, for text output: "row 3, column
// patients", "column patients", "row 3" or "file".
func (f Finding) Location() string {
	switch {
	case f.Row > 0 && f.Column != "":
		return fmt.Sprintf("row %d, column %s", f.Row, f.Column)
	case f.Column != "":
		return "column " + f.Column
	case f.Row > 0:
		return fmt.Sprintf("row %d", f.Row)
	}
	return "file"
}
