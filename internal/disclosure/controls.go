package disclosure

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file holds the controls that make a CSV table safe to release
// (disclosure spec, section 10): redaction, redact-then-round, midpoint-6
// rounding and secondary suppression. Each is a pure function from CSV
// bytes to new CSV bytes plus an audit log of every cell it changed; the
// header and every cell a control does not touch are written exactly as
// they were read.

// ControlOptions configure Redact, Round, Midpoint6 and Protect.
type ControlOptions struct {
	// Profile supplies T, the rounding base, the zeros policy and the
	// redaction token. It is required.
	Profile *Profile
	// Columns names the count columns to treat. Empty treats every column
	// the checker classifies as a count, except columns already declared
	// midpoint-6 (…_midpoint6, …_midpoint6_derived).
	Columns []string
	// Threshold overrides T, the largest count that is redacted; 0 uses
	// the profile's T (min_count - 1).
	Threshold int
	// Base overrides the rounding base; 0 uses the profile's
	// rounding.base.
	Base int
	// Token overrides the text written in place of a redacted cell; ""
	// uses the profile's redaction_token.
	Token string
}

// AuditEntry records one cell a control changed. Row is the 1-based data
// row (the header is not counted); Row 0 records a renamed header, with
// Column its old name.
type AuditEntry struct {
	Row    int
	Column string
	Before string
	After  string
	Reason string
}

// ErrNoSafeTable is the error Protect wraps when its own check of the
// result still finds a recoverable or unrounded cell.
var ErrNoSafeTable = errors.New("protect could not reach a safe table")

// Protect modes.
const (
	// ProtectRecomputeTotals redacts then rounds, and recomputes totals as
	// sums of the displayed cells (the opensafely default).
	ProtectRecomputeTotals = "recompute-totals"
	// ProtectComplementary keeps true totals and suppresses further cells
	// until no redacted cell can be recovered from them.
	ProtectComplementary = "complementary"
	// ProtectNextSmallest keeps true totals and follows cohort-extractor:
	// wherever the suppressed cells of a line add up to T or less, every
	// cell equal to the line's next-smallest value is suppressed too.
	ProtectNextSmallest = "next-smallest"
)

// DefaultProtectMode is the Protect mode used when none is given:
// recompute-totals under profiles that require rounding (opensafely),
// complementary otherwise.
func DefaultProtectMode(p *Profile) string {
	if p != nil && p.Rounding.Required {
		return ProtectRecomputeTotals
	}
	return ProtectComplementary
}

// Redact replaces each treated count cell with 0 < v <= T by the
// redaction token; zeros are kept, or redacted too when the profile's
// zeros policy is fail. A rate or percentage whose numerator or
// denominator is redacted is redacted with it. Totals are not
// recomputed: use Round or Protect for tables with totals.
func Redact(data []byte, o ControlOptions) ([]byte, []AuditEntry, error) {
	c, err := newControl(data, o, "redact")
	if err != nil {
		return nil, nil, err
	}
	c.redactSmall(true)
	c.recomputeRates(false, "")
	return c.result()
}

// Round applies redact-then-round, in that fixed order, to the treated
// count columns: 0 < v <= T becomes the redaction token and every other
// count is rounded to the nearest base, half up (zeros are kept, or
// redacted when the profile's zeros policy is fail). A value that is
// already a multiple of the base and above T never changes. Totals
// (a column that is the sum of the other count columns, and rows labelled
// total, all or overall) then become the sums of the displayed cells of
// their line, and rates and percentages whose numerator and denominator
// are columns of the table are recomputed from the rounded counts, with
// the decimals they showed, or redacted when either part was.
func Round(data []byte, o ControlOptions) ([]byte, []AuditEntry, error) {
	c, err := newControl(data, o, "round")
	if err != nil {
		return nil, nil, err
	}
	c.redactThenRound()
	return c.result()
}

// Midpoint6 rounds the treated count columns with midpoint-6 rounding:
// 0 stays 0 and x > 0 becomes 6*ceil(x/6) - 3, so 1-6 show as 3 and no
// redaction is needed. Each treated column is renamed with the suffix
// _midpoint6 (unless it has it); a total column is recomputed as the sum
// of the rounded values and renamed with _midpoint6_derived, total rows
// become sums too, and rates are recomputed from the rounded parts. The
// profile must recognise midpoint-6 rounding (rounding.midpoint6).
func Midpoint6(data []byte, o ControlOptions) ([]byte, []AuditEntry, error) {
	c, err := newControl(data, o, "midpoint6")
	if err != nil {
		return nil, nil, err
	}
	if !c.p.Rounding.Midpoint6 {
		return nil, nil, fmt.Errorf("the %s profile does not recognise midpoint-6 rounding: use round (redact then round to %d) instead, or a profile with rounding.midpoint6: true", c.p.Name, c.p.Rounding.Base)
	}
	const why = "midpoint-6 rounding: 6*ceil(x/6) - 3"
	for col := range c.treated {
		if !c.treated[col] || col == c.totalCol {
			continue
		}
		for r := range c.rows {
			if !c.isTotalCell(r, col) && c.countCell(r, col) && c.num[r][col] > 0 {
				c.setNum(r, col, 6*math.Ceil(c.num[r][col]/6)-3, why)
			}
		}
		if !strings.HasSuffix(strings.ToLower(c.t.Header[col]), "_midpoint6") {
			c.rename(col, c.t.Header[col]+"_midpoint6")
		}
	}
	c.recomputeTotals("recomputed as the sum of the midpoint-6 rounded cells")
	if c.totalCol >= 0 && c.treated[c.totalCol] && !strings.HasSuffix(strings.ToLower(c.t.Header[c.totalCol]), "_midpoint6_derived") {
		name := c.t.Header[c.totalCol]
		if strings.HasSuffix(strings.ToLower(name), "_midpoint6") {
			name = name[:len(name)-len("_midpoint6")]
		}
		c.rename(c.totalCol, name+"_midpoint6_derived")
	}
	c.recomputeRates(true, "recomputed from the midpoint-6 rounded counts")
	return c.result()
}

// Protect applies secondary suppression, so that no redacted cell can be
// recovered from the table's totals, in one of two modes:
//
//   - recompute-totals (ProtectRecomputeTotals): as Round, totals become
//     the sums of the displayed cells.
//   - complementary (ProtectComplementary): true totals are kept. Cells
//     with 0 < v <= T (totals included) are redacted; then for every line
//     (a row across the columns a total column sums, or a count column
//     down to a total row) with exactly one hidden cell, its smallest
//     non-zero other cell is suppressed too, preferring cells that sit on
//     other lines with hidden cells, until nothing changes. When the
//     profile requires rounding, the visible cells (totals included) are
//     then rounded to the base.
//
// An empty mode is DefaultProtectMode. The result is checked under the
// profile; if any C1, C3, C4, T2 or T3 finding fails, Protect returns an
// error instead of the table.
func Protect(data []byte, o ControlOptions, mode string) ([]byte, []AuditEntry, error) {
	if mode == "" {
		mode = DefaultProtectMode(o.Profile)
	}
	if mode != ProtectRecomputeTotals && mode != ProtectComplementary && mode != ProtectNextSmallest {
		return nil, nil, fmt.Errorf("unknown protect mode %q: use %s, %s or %s", mode, ProtectRecomputeTotals, ProtectComplementary, ProtectNextSmallest)
	}
	c, err := newControl(data, o, "protect")
	if err != nil {
		return nil, nil, err
	}
	if mode == ProtectRecomputeTotals {
		c.redactThenRound()
	} else {
		c.redactSmall(true)
		if mode == ProtectNextSmallest {
			c.suppressNextSmallest()
		} else {
			c.suppressComplementary()
		}
		rounded := false
		if c.p.Rounding.Required {
			c.roundVisible(true)
			rounded = true
		}
		c.recomputeRates(rounded, "recomputed from the rounded counts")
	}
	out, audit, err := c.result()
	if err != nil {
		return nil, nil, err
	}
	if err := verifySafe(out, c.p); err != nil {
		return nil, nil, err
	}
	return out, audit, nil
}

// verifySafe checks a control's output under the profile and fails on the
// findings a control must never leave behind.
func verifySafe(out []byte, p *Profile) error {
	fr := CheckFile("protected.csv", out, Options{Profile: p, IgnoreLimits: true})
	var bad []string
	n := 0
	for _, f := range fr.Findings {
		if f.Verdict != Fail {
			continue
		}
		switch f.Rule {
		case "C1", "C3", "C4", "T2", "T3":
		default:
			continue
		}
		n++
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%s at %s: %s", f.Rule, f.Location(), f.Message))
		}
	}
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(bad) {
		more = fmt.Sprintf(" (and %d more)", n-len(bad))
	}
	return fmt.Errorf("%w: %s%s; merge small categories, or drop the totals that allow recovery, and try again", ErrNoSafeTable, strings.Join(bad, "; "), more)
}

// control is one control being applied to one table.
type control struct {
	p     *Profile
	t     *Table
	cols  []Column
	chk   *checker // the checker's view of the input (total rows, rounding, lines)
	T     float64
	base  float64
	token string
	bom   bool
	rows  int

	inHeader []string   // input header fields, as read
	header   []string   // output header fields
	fields   [][]string // input data fields, [row][col], as read
	text     [][]string // output data fields, [row][col]
	num      [][]float64
	vis      [][]bool // shows a number
	hid      [][]bool // shows a redaction
	reason   map[[2]int]string

	treated []bool // columns the control applies to
	// totalCol is the column that is the sum of parts (-1 for none).
	totalCol int
	parts    []int
	// totalRows maps each total row to the rows it sums.
	totalRows map[int][]int
	rates     []ratio
}

// newControl parses and classifies a table and works out which columns,
// totals and rates a control treats.
func newControl(data []byte, o ControlOptions, op string) (*control, error) {
	p := o.Profile
	if p == nil {
		return nil, errors.New("no disclosure profile: load one with LoadProfile (for example opensafely)")
	}
	if o.Threshold < 0 {
		return nil, fmt.Errorf("the threshold is %d: give a count of at least 1, or 0 for the profile's T (%d)", o.Threshold, p.T())
	}
	if o.Base < 0 {
		return nil, fmt.Errorf("the rounding base is %d: give a base of at least 1, or 0 for the profile's base (%d)", o.Base, p.Rounding.Base)
	}
	c := &control{p: p, T: float64(p.T()), base: float64(p.Rounding.Base), token: p.RedactionToken, totalCol: -1, reason: map[[2]int]string{}}
	if o.Threshold > 0 {
		c.T = float64(o.Threshold)
	}
	if o.Base > 0 {
		c.base = float64(o.Base)
	}
	if o.Token != "" {
		c.token = strings.TrimSpace(o.Token)
	}
	if err := checkToken(c.token, p); err != nil {
		return nil, err
	}
	tables, err := ParseCSV("input.csv", data, p)
	if err != nil {
		return nil, err
	}
	if len(tables) > 1 {
		lines := make([]string, len(tables))
		for i, t := range tables {
			lines[i] = strconv.Itoa(t.FirstLine)
		}
		return nil, fmt.Errorf("the file holds %d stacked tables (headers on lines %s): split it into one file per table, then apply %s to each", len(tables), strings.Join(lines, ", "), op)
	}
	t := tables[0]
	c.t, c.rows = t, t.Rows()
	c.bom = bytes.HasPrefix(data, []byte("\xef\xbb\xbf"))
	records, _, err := splitRecords(string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	if err != nil {
		return nil, err
	}
	records = slices.DeleteFunc(records, func(rec []string) bool { return len(rec) == 1 && strings.TrimSpace(rec[0]) == "" })
	if len(records) != c.rows+1 {
		return nil, fmt.Errorf("internal error: %d records for a table of %d rows", len(records), c.rows)
	}
	c.inHeader, c.header = records[0], slices.Clone(records[0])
	c.fields = records[1:]
	width := len(t.Header)
	c.text = make([][]string, c.rows)
	c.num = make([][]float64, c.rows)
	c.vis = make([][]bool, c.rows)
	c.hid = make([][]bool, c.rows)
	c.cols = classify(t, nil)
	c.chk = &checker{t: t, p: p, cols: c.cols, add: func(Finding) {}, cellRules: map[[2]int]string{}}
	c.chk.prepareColumns()
	for r := range c.rows {
		c.text[r] = slices.Clone(c.fields[r])
		c.num[r] = make([]float64, width)
		c.vis[r] = make([]bool, width)
		c.hid[r] = make([]bool, width)
		for col := range width {
			v := t.Columns[col][r]
			c.vis[r][col] = v.Kind == KindNumber
			c.hid[r][col] = c.chk.hidden(v, col)
			if c.vis[r][col] {
				c.num[r][col] = v.Num
			}
		}
	}

	// The columns to treat.
	selected := make([]bool, width)
	if len(o.Columns) > 0 {
		for _, name := range o.Columns {
			col := columnIndex(t.Header, name)
			if col < 0 {
				return nil, fmt.Errorf("column %q is not in the table: choose from %s", name, strings.Join(t.Header, ", "))
			}
			selected[col] = true
		}
	} else {
		for col, cl := range c.cols {
			skip := cl.Derived || cl.Midpoint6 && op != "midpoint6"
			selected[col] = cl.Class.IsCount() && !skip
		}
	}
	for col := range width {
		if !selected[col] {
			continue
		}
		for r := range c.rows {
			if v := t.Columns[col][r]; v.Kind == KindNumber && v.HasPct {
				return nil, fmt.Errorf("column %s holds a count with its percentage in one cell (%q, row %d): split it into a count column and a percent column, then apply %s", t.Header[col], v.Raw, r+1, op)
			}
		}
	}
	c.treated = selected
	c.findTotalColumn()
	if c.totalCol >= 0 {
		for _, pc := range c.parts {
			if selected[pc] {
				c.treated[c.totalCol] = true
			}
		}
	}
	c.findTotalRows()
	c.rates = c.inferRates()
	return c, nil
}

// checkToken refuses a redaction token the checker would not read as a
// redaction.
func checkToken(tok string, p *Profile) error {
	if tok == "0" {
		if p.ZeroAsMask {
			return nil
		}
		return fmt.Errorf("the redaction token 0 is allowed only under profiles that accept zero_as_mask, which %s does not: use %s", p.Name, p.RedactionToken)
	}
	if normalise(tok, newTokens(p)).Kind != KindRedacted {
		return fmt.Errorf("%q is not a redaction token the checker recognises: use [REDACTED], redacted, suppressed, supp, c, * or ~, or add it to the profile's redaction_tokens", tok)
	}
	return nil
}

// columnIndex finds a header by name: exactly, then ignoring case.
func columnIndex(header []string, name string) int {
	name = strings.TrimSpace(name)
	if i := slices.Index(header, name); i >= 0 {
		return i
	}
	found := -1
	for i, h := range header {
		if strings.EqualFold(h, name) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// findTotalColumn takes the total column the classifier inferred (a count
// column equal to the sum of the others) or, failing that, a count column
// named total, all or overall whose values are the sum of the other count
// columns within rounding tolerance.
func (c *control) findTotalColumn() {
	for col, cl := range c.cols {
		if len(cl.TotalOf) > 0 {
			c.totalCol, c.parts = col, slices.Clone(cl.TotalOf)
			return
		}
	}
	for tc, cl := range c.cols {
		if !cl.Class.IsCount() || !slices.ContainsFunc(headerWords(cl.Name), func(w string) bool { return w == "total" || w == "all" || w == "overall" }) {
			continue
		}
		var parts []int
		for col, other := range c.cols {
			if col != tc && other.Class.IsCount() && !other.Derived {
				parts = append(parts, col)
			}
		}
		if len(parts) < 2 {
			continue
		}
		rounded := c.chk.rounded[tc]
		for _, pc := range parts {
			rounded = rounded || c.chk.rounded[pc]
		}
		tol := 0.5
		if rounded {
			tol = float64(len(parts)+1)*math.Floor(c.base/2) + 0.5
		}
		exact, ok := 0, true
		for r := range c.rows {
			if !c.vis[r][tc] {
				continue
			}
			sum, hidden := 0.0, 0
			for _, pc := range parts {
				switch {
				case c.vis[r][pc]:
					sum += c.num[r][pc]
				case c.hid[r][pc]:
					hidden++
				}
			}
			tot := c.num[r][tc]
			if hidden == 0 {
				exact++
				ok = ok && math.Abs(tot-sum) <= tol
			} else {
				ok = ok && tot+tol >= sum
			}
		}
		if ok && exact > 0 {
			c.totalCol, c.parts = tc, parts
			return
		}
	}
}

// findTotalRows finds the rows whose label or key says total, all or
// overall, and the rows each sums: in a long table (a key repeated down
// the rows) those sharing its other keys, otherwise every other row.
func (c *control) findTotalRows() {
	c.totalRows = map[int][]int{}
	t := c.t
	var keys []int
	for col, cl := range c.cols {
		if cl.Class == ClassLabel || cl.Class == ClassKey {
			keys = append(keys, col)
		}
	}
	isTotal := func(r int) bool {
		for _, k := range keys {
			if isTotalLabel(t.Columns[k][r].Raw) {
				return true
			}
		}
		return false
	}
	// Grouping keys repeat a value among the rows that are not totals.
	grouping := map[int]bool{}
	for _, k := range keys {
		seen := map[string]bool{}
		for r := range c.rows {
			if isTotal(r) {
				continue
			}
			s := t.Columns[k][r].Raw
			if seen[s] {
				grouping[k] = true
			}
			seen[s] = true
		}
	}
	for r := range c.rows {
		if !isTotal(r) {
			continue
		}
		var parts []int
		for q := range c.rows {
			if q == r || isTotal(q) {
				continue
			}
			match := true
			for _, k := range keys {
				v := t.Columns[k][r]
				if isTotalLabel(v.Raw) || !grouping[k] || v.Kind == KindMissing {
					continue
				}
				if t.Columns[k][q].Raw != v.Raw {
					match = false
					break
				}
			}
			if match {
				parts = append(parts, q)
			}
		}
		if len(parts) > 0 {
			c.totalRows[r] = parts
		}
	}
}

// isTotalCell reports whether a cell is a total: in the total column or a
// total row.
func (c *control) isTotalCell(r, col int) bool {
	if col == c.totalCol {
		return true
	}
	_, ok := c.totalRows[r]
	return ok
}

// countCell reports whether a cell currently shows a count a control may
// change: a non-negative number, not a percentage or money.
func (c *control) countCell(r, col int) bool {
	v := c.t.Columns[col][r]
	return c.vis[r][col] && c.num[r][col] >= 0 && v.Kind == KindNumber && !v.Percent && !v.Money && !v.HasPct
}

// setNum shows x in a cell, as an integer when it is one; the original
// text is kept when the value does not change.
func (c *control) setNum(r, col int, x float64, why string) {
	v := c.t.Columns[col][r]
	c.vis[r][col], c.hid[r][col], c.num[r][col] = true, false, x
	if v.Kind == KindNumber && v.Num == x && !v.HasPct {
		c.text[r][col] = c.fields[r][col]
		return
	}
	c.text[r][col] = formatCount(x)
	c.reason[[2]int{r, col}] = why
}

// setRate shows a recomputed rate with the decimals (and % sign) the
// original cell showed.
func (c *control) setRate(r, col int, x float64, why string) {
	v := c.t.Columns[col][r]
	c.vis[r][col], c.hid[r][col], c.num[r][col] = true, false, x
	s := formatLike(x, v)
	if s == v.Raw {
		c.text[r][col] = c.fields[r][col]
		return
	}
	c.text[r][col] = s
	c.reason[[2]int{r, col}] = why
}

// hide shows the redaction token in a cell.
func (c *control) hide(r, col int, why string) {
	c.vis[r][col], c.hid[r][col], c.num[r][col] = false, true, 0
	if strings.TrimSpace(c.fields[r][col]) == c.token {
		c.text[r][col] = c.fields[r][col]
		return
	}
	c.text[r][col] = c.token
	c.reason[[2]int{r, col}] = why
}

// rename changes a column's header.
func (c *control) rename(col int, name string) {
	c.header[col] = name
}

func formatCount(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// formatLike writes x with as many decimals as v showed, in v's notation,
// with v's % sign. A value printed at full precision (15 or more
// decimals, as software prints floats) gets the shortest exact form.
func formatLike(x float64, v Value) string {
	prec := int(v.Decimals)
	if prec >= 15 {
		prec = -1
	}
	var s string
	if strings.ContainsAny(v.Raw, "eE") {
		s = strconv.FormatFloat(x, 'e', prec, 64)
	} else {
		s = strconv.FormatFloat(x, 'f', prec, 64)
	}
	if v.Percent {
		s += "%"
	}
	return s
}

// redactSmall hides each treated count 0 < v <= T (and zeros when the
// profile's zeros policy is fail), in totals too when withTotals is set.
func (c *control) redactSmall(withTotals bool) {
	for col := range c.treated {
		if !c.treated[col] {
			continue
		}
		for r := range c.rows {
			if !withTotals && c.isTotalCell(r, col) || !c.countCell(r, col) {
				continue
			}
			switch x := c.num[r][col]; {
			case x > 0 && x <= c.T:
				c.hide(r, col, fmt.Sprintf("redacted: %s is at or below %g", formatCount(x), c.T))
			case x == 0 && c.p.Zeros == "fail":
				c.hide(r, col, "redacted: zeros are disclosive under the "+c.p.Name+" profile")
			}
		}
	}
}

// roundVisible rounds each treated count still shown to the nearest base,
// half up, in totals too when withTotals is set.
func (c *control) roundVisible(withTotals bool) {
	why := fmt.Sprintf("rounded to the nearest %g", c.base)
	for col := range c.treated {
		if !c.treated[col] {
			continue
		}
		for r := range c.rows {
			if !withTotals && c.isTotalCell(r, col) || !c.countCell(r, col) {
				continue
			}
			c.setNum(r, col, roundHalfUp(c.num[r][col], c.base), why)
		}
	}
}

func roundHalfUp(x, base float64) float64 {
	return math.Floor(x/base+0.5) * base
}

// redactThenRound is Round: primary redaction, rounding, totals as sums
// of the displayed cells, rates from the rounded counts.
func (c *control) redactThenRound() {
	c.redactSmall(false)
	c.roundVisible(false)
	c.recomputeTotals("recomputed as the sum of the displayed cells")
	c.recomputeRates(true, "recomputed from the rounded counts")
}

// recomputeTotals sets each treated total to the sum of the displayed,
// non-redacted cells of its line: total rows first, then the total column
// on every row (so the grand total is the sum of everything shown).
func (c *control) recomputeTotals(why string) {
	rows := make([]int, 0, len(c.totalRows))
	for r := range c.totalRows {
		rows = append(rows, r)
	}
	sort.Ints(rows)
	for _, r := range rows {
		for col := range c.treated {
			if !c.treated[col] || col == c.totalCol || !(c.vis[r][col] || c.hid[r][col]) {
				continue
			}
			sum, any := 0.0, false
			for _, q := range c.totalRows[r] {
				if c.vis[q][col] {
					sum += c.num[q][col]
				}
				any = any || c.vis[q][col] || c.hid[q][col]
			}
			if any {
				c.setNum(r, col, sum, why)
			}
		}
	}
	if c.totalCol < 0 || !c.treated[c.totalCol] {
		return
	}
	tc := c.totalCol
	for r := range c.rows {
		if !(c.vis[r][tc] || c.hid[r][tc]) {
			continue
		}
		sum, any := 0.0, false
		for _, pc := range c.parts {
			if c.vis[r][pc] {
				sum += c.num[r][pc]
			}
			any = any || c.vis[r][pc] || c.hid[r][pc]
		}
		if any {
			c.setNum(r, tc, sum, why)
		}
	}
}

// rateWords name rates and percentages in headers.
var rateWords = map[string]bool{"rate": true, "percent": true, "percentage": true, "pct": true, "ratio": true, "value": true, "proportion": true, "prop": true, "share": true}

// inferRates finds, on the input values, each rate or percent column r
// with r ≈ s·a/b for count columns a and b in the same row (s in 1, 100,
// 1000, 10⁴, 10⁵), or a percent share of a count column's total.
func (c *control) inferRates() []ratio {
	t := c.t
	var counts []int
	for col, cl := range c.cols {
		if cl.Class.IsCount() {
			counts = append(counts, col)
		}
	}
	var out []ratio
	for rc, cl := range c.cols {
		named := strings.Contains(cl.Name, "%") || slices.ContainsFunc(headerWords(cl.Name), func(w string) bool { return rateWords[w] })
		if !named && cl.Class != ClassRate && cl.Class != ClassPercent || cl.Class.IsCount() {
			continue
		}
		minRows := 2
		if named {
			minRows = 1
		}
		best, bestMatch := ratio{r: -1}, 0
		for _, a := range counts {
			for _, b := range counts {
				if a == b {
					continue
				}
				for _, s := range scales {
					match, rows := 0, 0
					for r := range c.rows {
						rv, av, bv := t.Columns[rc][r], t.Columns[a][r], t.Columns[b][r]
						if rv.Kind != KindNumber || av.Kind != KindNumber || bv.Kind != KindNumber || bv.Num == 0 {
							continue
						}
						rows++
						if math.Abs(rv.Num-s*av.Num/bv.Num) <= c.chk.ratioTol(rv, av, bv, s, a, b) {
							match++
						}
					}
					if rows >= minRows && float64(match) >= 0.9*float64(rows) && match > bestMatch {
						best, bestMatch = ratio{r: rc, a: a, b: b, scale: s}, match
					}
				}
			}
		}
		if best.r >= 0 {
			out = append(out, best)
			continue
		}
		if sh, ok := c.inferShare(rc, counts); ok {
			out = append(out, sh)
		}
	}
	return out
}

// inferShare finds the count column a percent column is a share of: the
// column sums to 100 (or 1) over the rows that are not totals, and each
// value is s·a/Σa.
func (c *control) inferShare(rc int, counts []int) (ratio, bool) {
	t := c.t
	sum, tol, n := 0.0, 0.0, 0
	for r := range c.rows {
		if v := t.Columns[rc][r]; v.Kind == KindNumber && !c.chk.isTotalRow(r) {
			sum += v.Num
			tol += v.Tolerance()
			n++
		}
	}
	for _, s := range []float64{100, 1} {
		if n < 2 || math.Abs(sum-s) > tol+1e-9 {
			continue
		}
		for _, a := range counts {
			total := 0.0
			for r := range c.rows {
				if v := t.Columns[a][r]; v.Kind == KindNumber && !c.chk.isTotalRow(r) {
					total += v.Num
				}
			}
			if total == 0 {
				continue
			}
			h := 0.0
			if c.chk.rounded[a] {
				h = math.Floor(c.base / 2)
			}
			match, rows := 0, 0
			for r := range c.rows {
				rv, av := t.Columns[rc][r], t.Columns[a][r]
				if rv.Kind != KindNumber || av.Kind != KindNumber || c.chk.isTotalRow(r) {
					continue
				}
				rows++
				widen := s * h * (1/total + av.Num*float64(n)/(total*total))
				if math.Abs(rv.Num-s*av.Num/total) <= rv.Tolerance()+1e-9+widen {
					match++
				}
			}
			if rows >= 2 && float64(match) >= 0.9*float64(rows) {
				return ratio{r: rc, a: a, b: -1, scale: s, share: true}, true
			}
		}
	}
	return ratio{}, false
}

// recomputeRates redacts each rate whose numerator or denominator is
// redacted and, when recompute is set, recomputes the others from the
// counts now shown, on the rows where those changed.
func (c *control) recomputeRates(recompute bool, why string) {
	for _, rt := range c.rates {
		changed := func(r, col int) bool { return c.text[r][col] != c.fields[r][col] }
		denom, anyChanged := 0.0, false
		if rt.share {
			for r := range c.rows {
				if c.chk.isTotalRow(r) {
					continue
				}
				if c.vis[r][rt.a] {
					denom += c.num[r][rt.a]
				}
				anyChanged = anyChanged || changed(r, rt.a)
			}
		}
		for r := range c.rows {
			if c.t.Columns[rt.r][r].Kind != KindNumber {
				continue
			}
			if c.hid[r][rt.a] || !rt.share && c.hid[r][rt.b] {
				c.hide(r, rt.r, "redacted: its numerator or denominator is redacted")
				continue
			}
			if !recompute || !c.vis[r][rt.a] {
				continue
			}
			den := denom
			if !rt.share {
				if !c.vis[r][rt.b] || !changed(r, rt.a) && !changed(r, rt.b) {
					continue
				}
				den = c.num[r][rt.b]
			} else if !anyChanged {
				continue
			}
			if den == 0 {
				if rt.share || c.t.Columns[rt.b][r].Num != 0 {
					c.hide(r, rt.r, "redacted: its denominator is now 0")
				}
				continue
			}
			c.setRate(r, rt.r, rt.scale*c.num[r][rt.a]/den, why)
		}
	}
}

// ctlLine is a line of the table with a total: its cells and the total's
// cell, each [row, col].
type ctlLine struct {
	cells [][2]int
	total [2]int
	what  string
}

// protectLines lists the lines secondary suppression must make safe: the
// checker's lines, and those of grouped total rows and a total column
// found by name.
func (c *control) protectLines() []ctlLine {
	var out []ctlLine
	seen := map[string]bool{}
	add := func(l ctlLine) {
		key := fmt.Sprint(l.total, l.cells)
		if len(l.cells) == 0 || seen[key] {
			return
		}
		seen[key] = true
		out = append(out, l)
	}
	for _, l := range c.chk.lines() {
		add(ctlLine{cells: l.cells, total: l.total, what: l.what})
	}
	if c.totalCol >= 0 {
		for r := range c.rows {
			l := ctlLine{total: [2]int{r, c.totalCol}, what: fmt.Sprintf("row %d", r+1)}
			for _, pc := range c.parts {
				l.cells = append(l.cells, [2]int{r, pc})
			}
			add(l)
		}
	}
	rows := make([]int, 0, len(c.totalRows))
	for r := range c.totalRows {
		rows = append(rows, r)
	}
	sort.Ints(rows)
	for _, r := range rows {
		for col, cl := range c.cols {
			if !cl.Class.IsCount() {
				continue
			}
			l := ctlLine{total: [2]int{r, col}, what: "column " + cl.Name}
			for _, q := range c.totalRows[r] {
				l.cells = append(l.cells, [2]int{q, col})
			}
			add(l)
		}
	}
	return out
}

// suppressComplementary hides further cells until no line has exactly
// one unknown cell that is a redaction (which its total would reveal).
func (c *control) suppressComplementary() {
	lines := c.protectLines()
	byCell := map[[2]int][]int{}
	for i, l := range lines {
		for _, x := range append(slices.Clone(l.cells), l.total) {
			byCell[x] = append(byCell[x], i)
		}
	}
	hiddenIn := func(l ctlLine) (hidden, unknown int) {
		for _, x := range append(slices.Clone(l.cells), l.total) {
			if !c.vis[x[0]][x[1]] {
				unknown++
				if c.hid[x[0]][x[1]] {
					hidden++
				}
			}
		}
		return
	}
	for changed := true; changed; {
		changed = false
		for i, l := range lines {
			if h, u := hiddenIn(l); h != 1 || u != 1 {
				continue
			}
			// The smallest non-zero cell, preferring cells on other lines
			// that already hide a cell; then a zero; then the total.
			pick, bestScore := [2]int{-1, -1}, [4]float64{}
			for _, x := range l.cells {
				if !c.vis[x[0]][x[1]] {
					continue
				}
				other := 1.0
				for _, j := range byCell[x] {
					if j != i {
						if h, _ := hiddenIn(lines[j]); h > 0 {
							other = 0
							break
						}
					}
				}
				zero := 0.0
				if c.num[x[0]][x[1]] == 0 {
					zero = 1
				}
				score := [4]float64{zero, other, c.num[x[0]][x[1]], float64(x[0]*len(c.cols) + x[1])}
				if pick[0] < 0 || lessScore(score, bestScore) {
					pick, bestScore = x, score
				}
			}
			if pick[0] < 0 && c.vis[l.total[0]][l.total[1]] {
				pick = l.total
			}
			if pick[0] < 0 {
				continue
			}
			c.hide(pick[0], pick[1], fmt.Sprintf("secondary suppression: otherwise the total of %s reveals its redacted cell", l.what))
			changed = true
		}
	}
}

// suppressNextSmallest is cohort-extractor's secondary suppression
// (ProtectNextSmallest), line by line: wherever a line's total is shown
// and its suppressed cells add up to T or less (so the total less the
// shown cells would give a small number), every cell of the line equal to
// its smallest non-zero shown value is suppressed too, or the total when
// no such cell is left; repeated until nothing changes. The suppressed sum
// is that of the input's values, or the total less the shown cells when
// the input already had redactions.
func (c *control) suppressNextSmallest() {
	lines := c.protectLines()
	for changed := true; changed; {
		changed = false
		for _, l := range lines {
			tot := l.total
			if !c.vis[tot[0]][tot[1]] {
				continue
			}
			hidden, sum, shown, exact := 0, 0.0, 0.0, true
			next := math.Inf(1)
			for _, x := range l.cells {
				r, col := x[0], x[1]
				switch {
				case c.hid[r][col]:
					hidden++
					if v := c.t.Columns[col][r]; v.Kind == KindNumber {
						sum += v.Num
					} else {
						exact = false
					}
				case c.vis[r][col]:
					v := c.num[r][col]
					shown += v
					if v > 0 && v < next {
						next = v
					}
				}
			}
			if !exact {
				sum = c.num[tot[0]][tot[1]] - shown
			}
			if hidden == 0 || sum > c.T {
				continue
			}
			why := fmt.Sprintf("secondary suppression (next-smallest): the suppressed cells of %s add up to %s, at or below %g", l.what, formatCount(sum), c.T)
			if math.IsInf(next, 1) {
				c.hide(tot[0], tot[1], why+", and no other cell is left to suppress")
				changed = true
				continue
			}
			for _, x := range l.cells {
				if c.vis[x[0]][x[1]] && c.num[x[0]][x[1]] == next {
					c.hide(x[0], x[1], why)
				}
			}
			changed = true
		}
	}
}

func lessScore(a, b [4]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// result writes the table and lists the changed cells.
func (c *control) result() ([]byte, []AuditEntry, error) {
	var b bytes.Buffer
	if c.bom {
		b.WriteString("\xef\xbb\xbf")
	}
	writeCSVRecord(&b, c.header)
	for _, rec := range c.text {
		writeCSVRecord(&b, rec)
	}
	var audit []AuditEntry
	for col, h := range c.header {
		if h != c.inHeader[col] {
			audit = append(audit, AuditEntry{Row: 0, Column: c.t.Header[col], Before: c.t.Header[col], After: strings.TrimSpace(h), Reason: "header renamed to declare the control"})
		}
	}
	for r := range c.rows {
		for col := range c.text[r] {
			if c.text[r][col] == c.fields[r][col] {
				continue
			}
			why := c.reason[[2]int{r, col}]
			if why == "" {
				why = "changed"
			}
			audit = append(audit, AuditEntry{Row: r + 1, Column: c.t.Header[col], Before: c.t.Columns[col][r].Raw, After: strings.TrimSpace(c.text[r][col]), Reason: why})
		}
	}
	return b.Bytes(), audit, nil
}

// writeCSVRecord writes fields as one CSV line ending in \n, quoting only
// the fields RFC 4180 requires to be quoted.
func writeCSVRecord(b *bytes.Buffer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(f, ",\"\r\n") {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(f, `"`, `""`))
			b.WriteByte('"')
			continue
		}
		b.WriteString(f)
	}
	b.WriteByte('\n')
}

// AuditCSV renders an audit log as CSV with the header
// row,column,before,after,reason.
func AuditCSV(entries []AuditEntry) []byte {
	var b bytes.Buffer
	writeCSVRecord(&b, []string{"row", "column", "before", "after", "reason"})
	for _, e := range entries {
		writeCSVRecord(&b, []string{strconv.Itoa(e.Row), e.Column, e.Before, e.After, e.Reason})
	}
	return b.Bytes()
}
