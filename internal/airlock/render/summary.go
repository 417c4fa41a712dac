package render

import (
	"math"

	"github.com/haven-tre/haven/internal/disclosure"
)

// CSVSummary is the summary panel of a CSV file (spec §9.7).
type CSVSummary struct {
	Rows    int // data rows, the header not counted
	Columns []ColumnSummary
}

// Column types of a summary.
const (
	TypeNumeric = "numeric" // numbers, and perhaps missing or redacted cells
	TypeMixed   = "mixed"   // numbers and text
	TypeText    = "text"    // text and no numbers
	TypeEmpty   = "empty"   // only missing or redacted cells, or no rows
)

// ColumnSummary describes one column. The numeric fields are about its
// numeric cells only, and are zero (the flags false) when it has none.
type ColumnSummary struct {
	Name string
	Type string // TypeNumeric, TypeMixed, TypeText or TypeEmpty
	// Total counts every cell; Numeric, Missing and Redacted the cells
	// the disclosure checker reads as numbers, as missing ("", null, NA
	// in a non-count sense…) and as redacted ([REDACTED], *, <=7, …).
	Total, Numeric, Missing, Redacted int
	Min, Max, Sum                     float64
	// MinNonZero is the smallest magnitude of a non-zero value, 0 when
	// every value is 0.
	MinNonZero float64
	// Whether every numeric value is a multiple of 5, of 6, or is 0 or
	// 3 more than a multiple of 6 (midpoint-6 rounding).
	DivisibleBy5, DivisibleBy6, Midpoint6Rounded bool
}

// Summarise computes the summary panel of a CSV file: the disclosure
// checker reads the table (so cells count as numbers, missing or redacted
// exactly as it counts them), and a file of stacked tables is summarised
// by its first. Invalid UTF-8 is replaced first; a file that is not a
// table gives the checker's reason as the error.
func Summarise(data []byte) (*CSVSummary, error) {
	tables, err := disclosure.ParseCSV("", []byte(text(data)), nil)
	if err != nil {
		return nil, err
	}
	t := tables[0]
	s := &CSVSummary{Rows: t.Rows(), Columns: make([]ColumnSummary, len(t.Header))}
	for c, name := range t.Header {
		s.Columns[c] = summariseColumn(name, t.Columns[c])
	}
	return s, nil
}

// summariseColumn summarises one column's cells.
func summariseColumn(name string, cells []disclosure.Value) ColumnSummary {
	cs := ColumnSummary{Name: name, Total: len(cells), DivisibleBy5: true, DivisibleBy6: true, Midpoint6Rounded: true}
	texts := 0
	for _, v := range cells {
		switch v.Kind {
		case disclosure.KindMissing:
			cs.Missing++
		case disclosure.KindRedacted, disclosure.KindAmbiguous, disclosure.KindBound:
			cs.Redacted++
		case disclosure.KindText:
			texts++
		case disclosure.KindNumber:
			n := v.Num
			if cs.Numeric == 0 {
				cs.Min, cs.Max = n, n
			}
			cs.Numeric++
			cs.Min, cs.Max = min(cs.Min, n), max(cs.Max, n)
			cs.Sum += n
			if a := math.Abs(n); a > 0 && (cs.MinNonZero == 0 || a < cs.MinNonZero) {
				cs.MinNonZero = a
			}
			cs.DivisibleBy5 = cs.DivisibleBy5 && math.Mod(n, 5) == 0
			cs.DivisibleBy6 = cs.DivisibleBy6 && math.Mod(n, 6) == 0
			cs.Midpoint6Rounded = cs.Midpoint6Rounded && (n == 0 || math.Mod(n-3, 6) == 0)
		}
	}
	switch {
	case cs.Numeric > 0 && texts > 0:
		cs.Type = TypeMixed
	case cs.Numeric > 0:
		cs.Type = TypeNumeric
	case texts > 0:
		cs.Type = TypeText
	default:
		cs.Type = TypeEmpty
	}
	if cs.Numeric == 0 {
		cs.DivisibleBy5, cs.DivisibleBy6, cs.Midpoint6Rounded = false, false, false
	}
	return cs
}
