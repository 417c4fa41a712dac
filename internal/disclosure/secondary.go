package disclosure

import (
	"fmt"
	"math"
	"strings"
)

// smallGroupRule is T4: a line with a known total and two redacted cells
// whose combined size is at most T. Each cell is protected, but the pair
// is itself a small group: anyone in the line who is not in the shown
// cells is one of at most T people. (Cohort-extractor's next-smallest
// rule exists for this.) With rounding, the pair's sum is bounded as in
// T3: each shown cell and the total lie within half a base of the truth.
func (c *checker) smallGroupRule(l line, total, sum float64, shown int, hidden [][2]int, rounded bool) {
	p := c.p
	T := float64(p.T())
	for _, cell := range hidden {
		if c.isTotalCell(cell[0], cell[1]) {
			return // a hidden total is not a small primary cell
		}
	}
	h := 0.0
	if rounded {
		if p.Rounding.Required && total == sum {
			return // the total is the sum of the displayed cells: it says nothing
		}
		h = float64(p.Rounding.Base / 2)
	}
	lo := 1.0
	if p.Zeros == "fail" {
		lo = 0
	}
	sHi := (total + h) - (sum - h*float64(shown))
	if sHi > T || sHi < 2*lo {
		return
	}
	what := fmt.Sprintf("exactly %g", sHi)
	if h > 0 {
		what = fmt.Sprintf("at most %g", sHi)
	}
	f := c.finding("T4", Review, hidden[0][0], hidden[0][1],
		fmt.Sprintf("the 2 redacted cells of %s together hold %s people (the total less the shown cells), at or below %g: the suppressed group is itself small", l.what, what, T),
		"suppress a further cell of the line (haven outputs protect --mode next-smallest) or recompute the total from the displayed cells",
		map[string]any{"suppressed_sum_max": sHi, "T": p.T()})
	for _, cell := range hidden {
		f.Cells = append(f.Cells, Cell{Row: cell[0] + 1, Col: cell[1] + 1, Column: c.t.Header[cell[1]]})
	}
	c.cellFinding(f)
}

// shareWords mark a percent column as shares of one whole.
var shareWords = []string{"share", "distribution", "percent_of", "pct_of", "proportion_of", "composition"}

// shareRecoveryRule is R6: a column of shares that sum to 100 (or 1)
// over a group, with exactly one share redacted, gives the redacted share
// back as 100 less the shown ones (within their display tolerance). With
// the group's size known (a count in the total row, or the declared
// population), the share becomes a count: all of its possible values in
// [1, T] is FAIL, some is REVIEW. Without a size, a recovered share is
// REVIEW. A column is shares when its total row shows 100 (or 1) or its
// header says so (share, distribution, percent_of, …).
func (c *checker) shareRecoveryRule(rc int) {
	t, p := c.t, c.p
	T := float64(p.T())
	col := c.cols[rc]
	whole := 100.0
	if col.Class != ClassPercent && c.maxOf(rc) <= 1 && !c.anyPercentSign(rc) {
		whole = 1
	}
	type group struct {
		rows []int
		tr   int // total row, or -1
	}
	var groups []group
	for _, tr := range c.totalRows {
		if v := t.Columns[rc][tr]; v.Kind == KindNumber && math.Abs(v.Num-whole) <= v.Tolerance()+1e-9 {
			groups = append(groups, group{c.groupOf(tr), tr})
		}
	}
	if len(groups) == 0 && len(c.totalRows) == 0 {
		low := strings.ToLower(col.Name)
		for _, w := range shareWords {
			if strings.Contains(low, w) {
				var rows []int
				for r := 0; r < t.Rows(); r++ {
					rows = append(rows, r)
				}
				groups = append(groups, group{rows, -1})
				break
			}
		}
	}
	for _, g := range groups {
		hiddenRow := -1
		sum, tol := 0.0, 0.0
		ok := len(g.rows) >= 2
		for _, r := range g.rows {
			v := t.Columns[rc][r]
			switch {
			case v.Kind == KindNumber && v.Num >= 0:
				sum += v.Num
				tol += v.Tolerance()
			case (v.Kind == KindRedacted || v.Kind == KindBound || v.Kind == KindAmbiguous) && hiddenRow < 0:
				hiddenRow = r
			default:
				ok = false
			}
		}
		if !ok || hiddenRow < 0 {
			continue
		}
		if g.tr >= 0 {
			tol += t.Columns[rc][g.tr].Tolerance()
		}
		xLo, xHi := math.Max(0, whole-sum-tol), whole-sum+tol
		if xHi < 0 {
			continue // the shown shares already exceed the whole
		}
		ev := map[string]any{"recovered_share": []float64{xLo, xHi}, "shown_sum": sum}
		unit := "%"
		if whole == 1 {
			unit = ""
		}
		n := c.groupSize(rc, g.tr)
		if n <= 0 {
			c.cellFinding(c.finding("R6", Review, hiddenRow, rc,
				fmt.Sprintf("the redacted share can be recovered: the shares sum to %g, so it is %.4g–%.4g%s", whole, xLo, xHi, unit),
				"redact a second share of the group, or show the underlying rounded counts instead", ev))
			continue
		}
		cLo, cHi := math.Ceil(xLo*n/whole-1e-9), math.Floor(xHi*n/whole+1e-9)
		ev["group_size"], ev["count_interval"], ev["T"] = n, []float64{cLo, cHi}, p.T()
		inLo, inHi := math.Max(cLo, 1), math.Min(cHi, T)
		switch {
		case cLo > cHi || inLo > inHi:
			// No small count fits: the share is not a small group.
		case inLo == cLo && inHi == cHi:
			people := fmt.Sprintf("%g–%g people", cLo, cHi)
			if cLo == cHi {
				people = fmt.Sprintf("%g people", cLo)
			}
			c.cellFinding(c.finding("R6", c.severity(rc, Fail), hiddenRow, rc,
				fmt.Sprintf("the redacted share can be recovered from the other shares (%.4g–%.4g%s of %g): it stands for %s, at or below %g", xLo, xHi, unit, n, people, T),
				"redact a second share of the group, or recompute the shares from rounded counts after redaction", ev))
		default:
			c.cellFinding(c.finding("R6", Review, hiddenRow, rc,
				fmt.Sprintf("the redacted share can be recovered from the other shares (%.4g–%.4g%s of %g): it may stand for as few as %g people", xLo, xHi, unit, n, inLo),
				"redact a second share of the group, or recompute the shares from rounded counts after redaction", ev))
		}
	}
}

// groupSize is the number of people a share column's group is of: the
// count shown in its total row (when one count column shows one), or the
// declared population; 0 when unknown.
func (c *checker) groupSize(rc, tr int) float64 {
	if tr >= 0 {
		n, found := 0.0, 0
		for ci, col := range c.cols {
			if ci == rc || !col.Class.IsCount() {
				continue
			}
			if v := c.t.Columns[ci][tr]; v.Kind == KindNumber {
				n, found = v.Num, found+1
			}
		}
		if found == 1 {
			return n
		}
	}
	if c.oc != nil && c.oc.Population.Size > 0 {
		return float64(c.oc.Population.Size)
	}
	return 0
}

// shareOfTotalRow finds the count column a percent column rc is a share
// of, when the table has one total row showing 100 (or 1) in rc: each
// shown share is, within its display tolerance, scale · a[r] / a[total]
// on at least 90% of the rows where both are shown (and at least two).
func (c *checker) shareOfTotalRow(rc int, counts []int) (a int, scale float64, ok bool) {
	if len(c.totalRows) != 1 {
		return 0, 0, false
	}
	t, tr := c.t, c.totalRows[0]
	tv := t.Columns[rc][tr]
	if tv.Kind != KindNumber {
		return 0, 0, false
	}
	for _, s := range []float64{100, 1} {
		if math.Abs(tv.Num-s) > tv.Tolerance()+1e-9 {
			continue
		}
		for _, ci := range counts {
			total := t.Columns[ci][tr]
			if total.Kind != KindNumber || total.Num <= 0 {
				continue
			}
			rows, match := 0, 0
			for r := 0; r < t.Rows(); r++ {
				rv, av := t.Columns[rc][r], t.Columns[ci][r]
				if r == tr || rv.Kind != KindNumber || av.Kind != KindNumber {
					continue
				}
				rows++
				if math.Abs(s*av.Num/total.Num-rv.Num) <= rv.Tolerance()+1e-9 {
					match++
				}
			}
			if rows >= 2 && float64(match) >= 0.9*float64(rows) {
				return ci, s, true
			}
		}
	}
	return 0, 0, false
}
