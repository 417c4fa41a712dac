package disclosure

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// checker carries one table's check.
type checker struct {
	t    *Table
	p    *Profile
	cols []Column
	oc   *OutputContext
	add  func(Finding)
	// rounded[c]: the column's non-zero values are all multiples of the
	// profile's base (or the profile requires rounding).
	rounded []bool
	// mp6[c]: midpoint-6 column (declared, suffixed, or the C7 pattern).
	mp6 []bool
	// undeclaredMP6[c]: the pattern without the declaration (C7).
	undeclaredMP6 []bool
	// totalRows are the 0-based rows whose label says total.
	totalRows []int
	// cellRules records, per cell, the C or T rule already reported, so
	// the family's precedence holds.
	cellRules map[[2]int]string
	cap       *capper
	// rowCounts and rowNonzero count, per row, the count cells with a
	// number and those non-zero (for C2's class disclosure), on first use.
	rowCounts, rowNonzero []int32
	// colCounts and colNonzero: the same per column, total rows left out.
	colCounts, colNonzero []int
}

// checkCSV parses a CSV file and applies the F, C, T, R, M and D rules.
func checkCSV(fr *FileReport, data []byte, opts Options, add func(Finding)) {
	p := opts.Profile
	tables, err := ParseCSV(fr.Path, data, p)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			f := Finding{Rule: "F6", Verdict: Error, Message: pe.Error(), Hint: pe.Hint}
			if pe.Line > 0 {
				f.Evidence = map[string]any{"line": pe.Line}
			}
			add(f)
			return
		}
		add(Finding{Rule: "F6", Verdict: Error, Message: err.Error()})
		return
	}
	if len(tables) > 1 {
		lines := make([]int, len(tables))
		for i, t := range tables {
			lines[i] = t.FirstLine
		}
		add(Finding{Rule: "F6s", Verdict: Review, Message: fmt.Sprintf("%d tables are stacked in one file; each is checked on its own", len(tables)),
			Evidence: map[string]any{"header_lines": lines}, Hint: "write one table per file"})
	}
	oc := opts.Context.For(fr.Path)
	for _, t := range tables {
		fr.Rows += t.Rows()
		if !opts.IgnoreLimits && p.Limits.MaxCSVRows > 0 && t.Rows() > p.Limits.MaxCSVRows {
			add(Finding{Rule: "F2b", Verdict: Fail, Message: fmt.Sprintf("the table has %d data rows, over the limit of %d", t.Rows(), p.Limits.MaxCSVRows),
				Evidence: map[string]any{"rows": t.Rows(), "limit": p.Limits.MaxCSVRows}, Hint: "aggregate further: a table this long is close to record level"})
		}
		var overrides map[string]Class
		if oc != nil {
			overrides = oc.Columns
		}
		cols := classify(t, overrides)
		fr.Columns = append(fr.Columns, cols...)
		capped := newCapper(add)
		c := &checker{t: t, p: p, cols: cols, oc: oc, add: capped.add, cap: capped, cellRules: map[[2]int]string{}}
		c.run()
		capped.flush()
		fr.tables = append(fr.tables, c)
	}
}

func (c *checker) run() {
	c.fileRules()
	c.prepareColumns()
	c.countRules()
	c.totalRules()
	c.rateRules()
	c.magnitudeRules()
	c.modelRules()
	c.survivalRules()
}

// finding builds a finding at a 0-based row (-1 for none) and column (-1
// for none).
func (c *checker) finding(rule string, v Verdict, row, col int, msg, hint string, ev map[string]any) Finding {
	f := Finding{Rule: rule, Verdict: v, Message: msg, Hint: hint, Evidence: ev}
	if row >= 0 {
		f.Row = row + 1
	}
	if col >= 0 {
		f.Column, f.Col = c.t.Header[col], col+1
		f.Confidence = c.cols[col].Confidence
	}
	return f
}

var (
	reGPPractice = regexp.MustCompile(`^[A-Z]\d{5}$`)
	reONSSmall   = regexp.MustCompile(`^E(01|02|06|07|08|09|38|54)\d{6}$`)
	geoHeaders   = map[string]bool{"practice": true, "msoa": true, "lsoa": true, "ccg": true, "stp": true, "icb": true, "lad": true, "local_authority": true, "practice_id": true, "practice_code": true}
)

// fileRules: F3 (identifiers), F4 (record-level shape), F5 (geography).
func (c *checker) fileRules() {
	t := c.t
	for ci, col := range c.cols {
		if col.Class == ClassIdentifier {
			c.add(c.finding("F3", Fail, -1, ci, fmt.Sprintf("column %s identifies people: the file is patient-level data", col.Name),
				"release aggregated counts only, never a column of person identifiers", nil))
		}
	}
	if c.oc != nil && c.oc.Population.Size > 0 && t.Rows() >= c.oc.Population.Size/2 && t.Rows() > 1 {
		c.add(c.finding("F4", Review, -1, -1, fmt.Sprintf("the table has %d rows, at least half of the declared population of %d: it may be record level", t.Rows(), c.oc.Population.Size),
			"aggregate the rows into groups", map[string]any{"rows": t.Rows(), "population": c.oc.Population.Size}))
	}
	if !c.p.GeographyPolicy {
		return
	}
	for ci, h := range t.Header {
		low := strings.ToLower(strings.Join(headerWords(h), "_"))
		if geoHeaders[low] {
			c.add(c.finding("F5", Fail, -1, ci, fmt.Sprintf("column %s names small areas or organisations (practices, LSOAs, MSOAs, CCGs, STPs, local authorities), which may not be released", h),
				"aggregate to NHS England regions or remove the column", nil))
			continue
		}
		for r, v := range t.Columns[ci] {
			if v.Kind == KindText && (len(v.Raw) == 6 && reGPPractice.MatchString(v.Raw) || len(v.Raw) == 9 && reONSSmall.MatchString(v.Raw)) {
				c.add(c.finding("F5", Fail, r, ci, fmt.Sprintf("%s is a GP practice or small-area code", v.Raw),
					"aggregate to NHS England regions or remove the column", map[string]any{"value": v.Raw}))
				break
			}
		}
	}
}

// prepareColumns works out rounding and midpoint-6 per count column, and
// the rows that are totals.
func (c *checker) prepareColumns() {
	t, p := c.t, c.p
	n := len(c.cols)
	c.rounded, c.mp6, c.undeclaredMP6 = make([]bool, n), make([]bool, n), make([]bool, n)
	for ci, col := range c.cols {
		if !col.Class.IsCount() {
			continue
		}
		nonzero, multBase, mod6is3, mult6 := 0, 0, 0, 0
		for _, v := range t.Columns[ci] {
			if v.Kind != KindNumber || v.Num == 0 || !v.IsInt() {
				continue
			}
			nonzero++
			x := int64(v.Num)
			if x%int64(p.Rounding.Base) == 0 {
				multBase++
			}
			if x%6 == 3 {
				mod6is3++
			}
			if x%6 == 0 {
				mult6++
			}
		}
		c.rounded[ci] = p.Rounding.Required || (nonzero > 0 && multBase == nonzero)
		declared := col.Midpoint6 || col.Derived || (c.oc != nil && strings.Contains(c.oc.Controls, "midpoint6"))
		pattern := nonzero >= 3 && (mod6is3 == nonzero || (mult6 == nonzero && len(col.TotalOf) > 0))
		if declared {
			c.mp6[ci] = true
		} else if pattern && p.Rounding.Midpoint6 || pattern && !p.Rounding.Midpoint6 && mod6is3 == nonzero {
			c.mp6[ci], c.undeclaredMP6[ci] = true, true
		}
	}
	for r := 0; r < t.Rows(); r++ {
		for ci, col := range c.cols {
			if col.Class != ClassLabel && col.Class != ClassKey {
				continue
			}
			if isTotalLabel(t.Columns[ci][r].Raw) {
				c.totalRows = append(c.totalRows, r)
				break
			}
		}
	}
}

func isTotalLabel(s string) bool {
	// Most labels are not totals: reject them by length and first letter
	// before lower-casing.
	if len(s) < 3 || len(s) > 16 {
		return false
	}
	switch s[0] | 0x20 {
	case 't', 'a', 'o', 's', 'g', ' ' | 0x20:
	default:
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "total", "all", "overall", "sum", "totals", "all patients", "grand total":
		return true
	}
	return false
}

// severity lowers FAIL to REVIEW for columns not classified with high
// confidence.
func (c *checker) severity(ci int, v Verdict) Verdict {
	if v == Fail && c.cols[ci].Confidence != High {
		return Review
	}
	return v
}

// countRules: C0–C7 on every count column.
func (c *checker) countRules() {
	t, p := c.t, c.p
	T := p.T()
	base := p.Rounding.Base
	minRounded := int64(math.Round(float64(p.MinCount)/float64(base))) * int64(base) // round(min_count) to the base
	var roundedCols, unroundedCols []int
	for ci, col := range c.cols {
		// C0: numbers mixed with unknown text, in any numeric-looking column.
		st := col.stats
		if st.numbers > 0 && st.texts > 0 && col.Class != ClassLabel && col.Class != ClassKey {
			var strs []string
			for _, v := range t.Columns[ci] {
				if v.Kind == KindText && len(strs) < 5 {
					strs = append(strs, v.Raw)
				}
			}
			c.add(c.finding("C0", Review, -1, ci, fmt.Sprintf("column %s mixes numbers with text it does not recognise: %s", col.Name, strings.Join(quoteAll(strs), ", ")),
				"write redacted cells as [REDACTED] and missing ones as empty", map[string]any{"strings": strs}))
		}
		if !col.Class.IsCount() {
			continue
		}
		// Declared midpoint-6 columns skip C1 and C3 (3 labels 1–6); an
		// undeclared pattern (C7) gets them, capped at REVIEW.
		mp6 := c.mp6[ci] && !c.undeclaredMP6[ci]
		capped := func(v Verdict) Verdict {
			v = c.severity(ci, v)
			if c.undeclaredMP6[ci] && v == Fail {
				return Review
			}
			return v
		}
		if c.undeclaredMP6[ci] {
			c.add(c.finding("C7", Review, -1, ci, fmt.Sprintf("column %s looks midpoint-6 rounded (every non-zero value is 3 more than a multiple of 6) but is not declared so", col.Name),
				"add the suffix _midpoint6 to the column name (or _midpoint6_derived for sums of such columns)", nil))
		}
		if st.numbers > st.ints {
			c.add(c.finding("C6", Review, -1, ci, fmt.Sprintf("column %s is a count but holds non-integer values (weighted or averaged counts? thresholds apply to the unweighted numbers)", col.Name),
				"show unweighted counts, or declare the column's class in the context", nil))
		}
		if !mp6 && !c.cols[ci].Derived {
			if c.rounded[ci] && !p.Rounding.Required {
				roundedCols = append(roundedCols, ci)
			} else if !c.rounded[ci] {
				unroundedCols = append(unroundedCols, ci)
			}
		}
		var share5, share10, share6, shareMP6, nonzero int
		for r, v := range t.Columns[ci] {
			if v.Kind != KindNumber || !v.IsInt() {
				continue
			}
			x := int64(v.Num)
			if x != 0 {
				nonzero++
				if x%5 == 0 {
					share5++
				}
				if x%10 == 0 {
					share10++
				}
				if x%6 == 0 {
					share6++
				}
				if x%6 == 3 {
					shareMP6++
				}
			}
			if c.isTotalCell(r, ci) {
				// Totals are checked by the T rules, but must be rounded too.
				if p.Rounding.Required && !mp6 && !c.cols[ci].Derived && x > 0 && x%int64(base) != 0 {
					c.cell("C3", capped(Fail), r, ci, func(v Verdict) Finding {
						return c.finding("C3", v, r, ci, fmt.Sprintf("total %d is not rounded to the nearest %d", x, base),
							"totals are sums of the rounded cells: recompute them after rounding (haven outputs round)", map[string]any{"value": x, "base": base})
					})
				}
				continue
			}
			switch {
			case x < 0:
				continue
			case x == 0:
				c.zeroRule(r, ci)
			case mp6:
				// A midpoint-6 label: 3 stands for 1–6, so no C1 or C3.
			case c.rounded[ci] && x%int64(base) == 0 && x < minRounded:
				c.cell("C4", capped(Fail), r, ci, func(v Verdict) Finding {
					f := c.finding("C4", v, r, ci, fmt.Sprintf("%d cannot come from redacting counts at or below %d and then rounding to %d: the true value was %d–%d", x, T, base, max(1, x-int64(base)/2), x+int64(base)/2),
						"redact before rounding: counts at or below "+fmt.Sprint(T)+" become [REDACTED], then round the rest (haven outputs round)", map[string]any{"value": x, "T": T, "base": base})
					if x <= int64(T) {
						f.Also = []string{"C1"}
					}
					return f
				})
			case x <= int64(T):
				c.cell("C1", capped(Fail), r, ci, func(v Verdict) Finding {
					f := c.finding("C1", v, r, ci, fmt.Sprintf("count %d is at or below %d", x, T),
						"redact it, then recompute totals from the displayed cells (haven outputs round)", map[string]any{"value": x, "T": T})
					if p.Rounding.Required && x%int64(base) != 0 {
						f.Also = []string{"C3"}
					}
					return f
				})
			case p.Rounding.Required && x%int64(base) != 0:
				c.cell("C3", capped(Fail), r, ci, func(v Verdict) Finding {
					return c.finding("C3", v, r, ci, fmt.Sprintf("count %d is not rounded to the nearest %d", x, base),
						"round counts to the nearest "+fmt.Sprint(base)+" after redacting (haven outputs round)", map[string]any{"value": x, "base": base})
				})
			}
		}
		if p.Rounding.Required && !c.mp6[ci] && nonzero > 0 && share5 < nonzero {
			c.add(c.finding("C3", Pass, -1, ci, fmt.Sprintf("column %s: %d of %d non-zero values are multiples of 5", col.Name, share5, nonzero), "",
				map[string]any{"nonzero": nonzero, "divisible_by_5": share5, "divisible_by_10": share10, "divisible_by_6": share6, "midpoint6_pattern": shareMP6}))
		}
	}
	// C5: mixed rounding within the file.
	bases := map[int]bool{}
	for _, ci := range roundedCols {
		b := 5
		all10 := true
		for _, v := range t.Columns[ci] {
			if v.Kind == KindNumber && v.Num != 0 && int64(v.Num)%10 != 0 {
				all10 = false
			}
		}
		if all10 {
			b = 10
		}
		bases[b] = true
	}
	if (len(roundedCols) > 0 && len(unroundedCols) > 0) || len(bases) > 1 {
		names := func(cs []int) []string {
			var out []string
			for _, ci := range cs {
				out = append(out, c.t.Header[ci])
			}
			return out
		}
		c.add(c.finding("C5", Review, -1, -1, "count columns in this table are rounded differently", "round every count column to one base",
			map[string]any{"rounded": names(roundedCols), "unrounded": names(unroundedCols)}))
	}
}

// isTotalCell reports whether a cell is in a total row or a total column.
func (c *checker) isTotalCell(r, ci int) bool {
	if len(c.cols[ci].TotalOf) > 0 {
		return true
	}
	for _, tr := range c.totalRows {
		if tr == r {
			return true
		}
	}
	return false
}

// zeroRule is C2.
func (c *checker) zeroRule(r, ci int) {
	switch c.p.Zeros {
	case "fail":
		c.cellFinding(c.finding("C2", c.severity(ci, Fail), r, ci, "a zero count: zeros are disclosive under the "+c.p.Name+" profile",
			"redact zeros, or merge the category", map[string]any{"value": 0}))
	case "review":
		c.cellFinding(c.finding("C2", Review, r, ci, "a zero count: a person must decide whether it discloses something about a group",
			"", map[string]any{"value": 0}))
	default:
		// Class disclosure: in its row, exactly one non-total count cell is non-zero.
		if c.rowCounts == nil {
			c.rowCounts, c.rowNonzero = make([]int32, c.t.Rows()), make([]int32, c.t.Rows())
			for cj, col := range c.cols {
				if !col.Class.IsCount() || len(col.TotalOf) > 0 || c.mp6[cj] && col.Derived {
					continue
				}
				for row, v := range c.t.Columns[cj] {
					if v.Kind == KindNumber {
						c.rowCounts[row]++
						if v.Num != 0 {
							c.rowNonzero[row]++
						}
					}
				}
			}
		}
		if c.colCounts == nil {
			c.colCounts, c.colNonzero = make([]int, len(c.cols)), make([]int, len(c.cols))
			for cj := range c.cols {
				for row, v := range c.t.Columns[cj] {
					if v.Kind == KindNumber && !c.isTotalRow(row) {
						c.colCounts[cj]++
						if v.Num != 0 {
							c.colNonzero[cj]++
						}
					}
				}
			}
		}
		if (c.rowCounts[r] >= 2 && c.rowNonzero[r] == 1) || (c.colCounts[ci] >= 2 && c.colNonzero[ci] == 1) {
			c.cellFinding(c.finding("C2", Review, r, ci, "a zero beside one non-zero count: one category holds the whole group (class disclosure)",
				"check that the group is not identifiable, or merge categories", map[string]any{"value": 0}))
		}
	}
}

// cell adds the finding build makes for a 0-based cell, unless one of the
// rule's family is there or the rule has listed MaxCellFindings cells of
// the column already; then build is never called (it formats messages,
// which long tables cannot afford per cell).
func (c *checker) cell(rule string, v Verdict, r, ci int, build func(v Verdict) Finding) {
	key := [2]int{r + 1, ci + 1}
	if prev, ok := c.cellRules[key]; ok && prev[:1] == rule[:1] {
		return
	}
	if c.cap != nil && c.cap.over(rule, ci+1, v, r+1, c.t.Header[ci], c.cols[ci].Confidence) {
		return
	}
	c.cellRules[key] = rule
	f := build(v)
	if c.cap != nil {
		c.cap.next(f)
		return
	}
	c.add(f)
}

// cellFinding adds a finding for a cell unless one of its family is there.
func (c *checker) cellFinding(f Finding) {
	key := [2]int{f.Row, f.Col}
	fam := f.Rule[:1]
	if prev, ok := c.cellRules[key]; ok && prev[:1] == fam {
		return
	}
	c.cellRules[key] = f.Rule
	c.add(f)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// MaxCellFindings is how many cell findings of one rule one column gets in
// a report; the rest are counted in one column-level finding of the same
// rule and verdict, so a long table with a systematic problem gives a
// readable report.
const MaxCellFindings = 25

// capper limits cell findings per rule, column and verdict.
type capper struct {
	next  func(Finding)
	seen  map[capKey]int
	extra map[capKey]*Finding
	order []capKey
}

type capKey struct {
	rule    string
	col     int
	verdict Verdict
}

func newCapper(next func(Finding)) *capper {
	return &capper{next: next, seen: map[capKey]int{}, extra: map[capKey]*Finding{}}
}

// over counts a cell finding about to be made and reports whether the
// rule has listed its MaxCellFindings cells of the column already (the
// cell is then only counted).
func (k *capper) over(rule string, col int, v Verdict, row int, column, confidence string) bool {
	key := capKey{rule, col, v}
	k.seen[key]++
	if k.seen[key] <= MaxCellFindings {
		return false
	}
	if e, ok := k.extra[key]; ok {
		e.Evidence["more_cells"] = e.Evidence["more_cells"].(int) + 1
		return true
	}
	k.extra[key] = &Finding{Rule: rule, Verdict: v, Column: column, Col: col, Confidence: confidence,
		Evidence: map[string]any{"more_cells": 1, "first_more_row": row}}
	k.order = append(k.order, key)
	return true
}

func (k *capper) add(f Finding) {
	if f.Row == 0 || f.Col == 0 {
		k.next(f)
		return
	}
	key := capKey{f.Rule, f.Col, f.Verdict}
	k.seen[key]++
	if k.seen[key] <= MaxCellFindings {
		k.next(f)
		return
	}
	if e, ok := k.extra[key]; ok {
		e.Evidence["more_cells"] = e.Evidence["more_cells"].(int) + 1
		return
	}
	k.extra[key] = &Finding{Rule: f.Rule, Verdict: f.Verdict, Column: f.Column, Col: f.Col, Confidence: f.Confidence, Hint: f.Hint,
		Evidence: map[string]any{"more_cells": 1, "first_more_row": f.Row}}
	k.order = append(k.order, key)
}

// flush adds one finding per rule and column that went over the cap.
func (k *capper) flush() {
	for _, key := range k.order {
		e := k.extra[key]
		e.Message = fmt.Sprintf("%d more cells in column %s (from row %d) break rule %s the same way; only the first %d are listed",
			e.Evidence["more_cells"], e.Column, e.Evidence["first_more_row"], e.Rule, MaxCellFindings)
		k.next(*e)
	}
}
