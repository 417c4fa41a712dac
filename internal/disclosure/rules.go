package disclosure

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// line is a row or column of a 2-D table that has a total: the cells
// (row, col pairs, 0-based) and the total's cell.
type line struct {
	cells [][2]int
	total [2]int
	what  string // "row 3" or "column female"
}

// lines lists the table's lines: rows across the columns a total column
// sums, and count columns down the rows above a total row.
func (c *checker) lines() []line {
	t := c.t
	var out []line
	for tc, col := range c.cols {
		if len(col.TotalOf) == 0 {
			continue
		}
		for r := 0; r < t.Rows(); r++ {
			l := line{total: [2]int{r, tc}, what: fmt.Sprintf("row %d", r+1)}
			for _, ci := range col.TotalOf {
				l.cells = append(l.cells, [2]int{r, ci})
			}
			out = append(out, l)
		}
	}
	for _, tr := range c.totalRows {
		group := c.groupOf(tr)
		for ci, col := range c.cols {
			if !col.Class.IsCount() {
				continue
			}
			l := line{total: [2]int{tr, ci}, what: "column " + col.Name}
			for _, r := range group {
				l.cells = append(l.cells, [2]int{r, ci})
			}
			out = append(out, l)
		}
	}
	return out
}

// groupOf lists the rows a total row sums: in long format, the rows that
// share every other label and key with it ("Female, All" sums the Female
// rows); otherwise every row that is not a total.
func (c *checker) groupOf(tr int) []int {
	t := c.t
	var keys []int
	totalKey := -1
	for ci, col := range c.cols {
		if col.Class != ClassLabel && col.Class != ClassKey {
			continue
		}
		if totalKey < 0 && isTotalLabel(t.Columns[ci][tr].Raw) {
			totalKey = ci
			continue
		}
		keys = append(keys, ci)
	}
	var rows []int
	for r := 0; r < t.Rows(); r++ {
		if r == tr || c.isTotalRow(r) {
			continue
		}
		same := true
		for _, k := range keys {
			if !strings.EqualFold(t.Columns[k][r].Raw, t.Columns[k][tr].Raw) {
				same = false
				break
			}
		}
		if same {
			rows = append(rows, r)
		}
	}
	return rows
}

func (c *checker) isTotalRow(r int) bool {
	for _, tr := range c.totalRows {
		if tr == r {
			return true
		}
	}
	return false
}

func (c *checker) hidden(v Value, ci int) bool {
	return v.Kind == KindRedacted || v.Kind == KindBound || (v.Kind == KindAmbiguous && c.cols[ci].Class.IsCount())
}

// totalRules: T1 notes, T2/T3 recovery of redacted cells, T5 totals that
// are not sums of the displayed cells.
func (c *checker) totalRules() {
	t, p := c.t, c.p
	T := float64(p.T())
	for tc, col := range c.cols {
		if len(col.TotalOf) > 0 {
			c.add(c.finding("T1", Pass, -1, tc, fmt.Sprintf("column %s is the total of %d other columns", col.Name, len(col.TotalOf)), "", nil))
		}
	}
	for _, tr := range c.totalRows {
		c.add(c.finding("T1", Pass, tr, -1, fmt.Sprintf("row %d is a total row", tr+1), "", nil))
	}
	// A total row whose group is empty sums nothing here.
	ls := c.lines()
	if len(ls) == 0 {
		return
	}
	// Exact recovery, chained: known values per cell.
	known := map[[2]int]float64{}
	routes := map[[2]int][]string{}
	uses := map[[2]int][][2]int{} // recovered cells a recovery relied on
	val := func(cell [2]int) (float64, bool) {
		v := t.Columns[cell[1]][cell[0]]
		if v.Kind == KindNumber {
			return v.Num, true
		}
		x, ok := known[cell]
		return x, ok
	}
	lineRounded := func(l line) bool {
		if p.Rounding.Required || c.rounded[l.total[1]] {
			return true
		}
		for _, cell := range l.cells {
			if c.rounded[cell[1]] {
				return true
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for _, l := range ls {
			if lineRounded(l) {
				continue
			}
			all := append([][2]int{l.total}, l.cells...)
			var missing [][2]int
			for _, cell := range all {
				if _, ok := val(cell); !ok {
					if c.hidden(t.Columns[cell[1]][cell[0]], cell[1]) {
						missing = append(missing, cell)
					} else {
						missing = append(missing, cell, cell) // unknown, not recoverable
					}
				}
			}
			if len(missing) != 1 {
				continue
			}
			m := missing[0]
			tot, _ := val(l.total)
			sum := 0.0
			for _, cell := range l.cells {
				if cell != m {
					x, _ := val(cell)
					sum += x
				}
			}
			var dep [][2]int
			for _, cell := range all {
				if _, ok := known[cell]; ok && cell != m {
					dep = append(dep, cell)
					dep = append(dep, uses[cell]...)
				}
			}
			var x float64
			var route string
			if m == l.total {
				x = sum
				route = fmt.Sprintf("%s: total = %g", l.what, x)
			} else {
				x = tot - sum
				route = fmt.Sprintf("%s: %g − %g = %g", l.what, tot, sum, x)
			}
			known[m] = x
			uses[m] = dep
			routes[m] = append(routes[m], route)
			changed = true
		}
	}
	// Every route to each small recovered cell: any line through it whose
	// other cells are all known, visible or recovered.
	for m, x := range known {
		if (x < 1 || x > T) && !(x == 0 && p.Zeros == "fail") {
			continue
		}
		for _, l := range ls {
			all := append([][2]int{l.total}, l.cells...)
			in := false
			for _, cell := range all {
				in = in || cell == m
			}
			if !in {
				continue
			}
			var dep [][2]int
			complete := true
			for _, cell := range all {
				if cell == m {
					continue
				}
				if _, ok := val(cell); !ok {
					complete = false
					break
				}
				if _, rec := known[cell]; rec {
					dep = append(dep, cell)
				}
			}
			if !complete || len(dep) == 0 {
				continue
			}
			for _, d := range dep {
				if !slices.Contains(uses[m], d) {
					uses[m] = append(uses[m], d)
				}
			}
			routes[m] = append(routes[m], fmt.Sprintf("%s, using the recovered %s", l.what, cellNames(t, dep)))
		}
	}
	// Cells whose recovery enables a FAIL are listed in that finding.
	enabling := map[[2]int]bool{}
	for cell, x := range known {
		if x >= 1 && x <= T || x == 0 && p.Zeros == "fail" {
			for _, d := range uses[cell] {
				enabling[d] = true
			}
		}
	}
	cells := make([][2]int, 0, len(known))
	for cell := range known {
		cells = append(cells, cell)
	}
	sort.Slice(cells, func(i, j int) bool {
		return cells[i][0] < cells[j][0] || cells[i][0] == cells[j][0] && cells[i][1] < cells[j][1]
	})
	for _, cell := range cells {
		x := known[cell]
		r, ci := cell[0], cell[1]
		var rs []string
		for _, d := range uses[cell] {
			rs = append(rs, routes[d]...)
		}
		ev := map[string]any{"recovered": x, "routes": append(rs, routes[cell]...), "T": p.T()}
		small := x >= 1 && x <= T || x == 0 && p.Zeros == "fail"
		switch {
		case small:
			f := c.finding("T2", c.severity(ci, Fail), r, ci, fmt.Sprintf("the redacted cell can be recovered from the totals: it is %g", x),
				"recompute totals from the displayed cells, or suppress a second cell in each line (haven outputs protect)", ev)
			for _, d := range uses[cell] {
				f.Cells = append(f.Cells, Cell{Row: d[0] + 1, Col: d[1] + 1, Column: t.Header[d[1]]})
			}
			c.cellFinding(f)
		case x > T && enabling[cell]:
			// Listed in the cells of the finding it enables.
		case x > T || x == 0:
			c.cellFinding(c.finding("T2", Review, r, ci, fmt.Sprintf("the redacted cell can be recovered from the totals (%g), so its suppression protects nothing", x),
				"suppress only what is needed, and recompute totals from the displayed cells", ev))
		}
	}
	// T3 (rounded lines, one hidden cell) and T5.
	h := float64(p.Rounding.Base / 2)
	for _, l := range ls {
		rounded := lineRounded(l)
		tv := t.Columns[l.total[1]][l.total[0]]
		if tv.Kind != KindNumber {
			continue
		}
		var hiddenCells [][2]int
		sum, shown := 0.0, 0
		ok := true
		for _, cell := range l.cells {
			v := t.Columns[cell[1]][cell[0]]
			switch {
			case v.Kind == KindNumber:
				sum += v.Num
				shown++
			case c.hidden(v, cell[1]):
				hiddenCells = append(hiddenCells, cell)
			default:
				ok = false
			}
		}
		if !ok {
			continue
		}
		if len(hiddenCells) == 2 {
			_, r0 := known[hiddenCells[0]]
			_, r1 := known[hiddenCells[1]]
			if !r0 && !r1 {
				c.smallGroupRule(l, tv.Num, sum, shown, hiddenCells, rounded)
			}
		}
		if !rounded {
			continue
		}
		if p.Rounding.Required && tv.Num != sum {
			c.add(c.finding("T5", Review, l.total[0], l.total[1], fmt.Sprintf("the total %g is not the sum of the displayed cells of %s (%g)", tv.Num, l.what, sum),
				"recompute totals as sums of the displayed, rounded cells after redaction", map[string]any{"total": tv.Num, "sum_displayed": sum}))
		}
		if len(hiddenCells) != 1 || c.isTotalCell(hiddenCells[0][0], hiddenCells[0][1]) {
			continue // a hidden total is not a small primary cell
		}
		if p.Rounding.Required && tv.Num == sum {
			// The total is the sum of the displayed cells, as the profile
			// asks: it says nothing about the redacted one.
			continue
		}
		lo := 1.0
		if p.Zeros == "fail" {
			lo = 0
		}
		sLo := (tv.Num - h) - (sum + h*float64(shown))
		sHi := (tv.Num + h) - (sum - h*float64(shown))
		a, b := math.Max(lo, sLo), math.Min(T, sHi)
		cell := hiddenCells[0]
		ev := map[string]any{"interval": []float64{a, b}, "T": p.T()}
		switch {
		case a > b:
			c.cellFinding(c.finding("T3", Review, cell[0], cell[1], fmt.Sprintf("the totals of %s are inconsistent with a redacted cell at or below %g", l.what, T), "check the totals", ev))
		case a == b:
			c.cellFinding(c.finding("T3", c.severity(cell[1], Fail), cell[0], cell[1], fmt.Sprintf("the redacted cell can be recovered from the rounded totals: it is %g", a), "haven outputs protect", ev))
		case a > lo || b < T:
			c.cellFinding(c.finding("T3", Review, cell[0], cell[1], fmt.Sprintf("the rounded totals narrow the redacted cell to %g–%g", a, b), "haven outputs protect", ev))
		}
	}
}

// ratio is an inferred rate: column r ≈ scale · a / b.
type ratio struct {
	r, a, b int
	scale   float64
	share   bool // a percent share of a's column sum (b is -1)
}

var scales = []float64{1, 100, 1000, 1e4, 1e5}

// ratios infers, for each rate or percent column, its numerator and
// denominator columns in the same table.
func (c *checker) ratios() []ratio {
	t := c.t
	var out []ratio
	var ints []int
	for ci, col := range c.cols {
		if col.Class.IsCount() {
			ints = append(ints, ci)
		}
	}
	for rc, col := range c.cols {
		if col.Class != ClassRate && col.Class != ClassPercent {
			continue
		}
		found := false
		for _, a := range ints {
			for _, b := range ints {
				if a == b || found {
					continue
				}
				for _, s := range scales {
					// A sample of rows first: most pairs fail at once.
					if rows, match := c.ratioMatches(rc, a, b, s, 64); rows >= 2 && float64(match) < 0.9*float64(rows) {
						continue
					}
					rows, match := c.ratioMatches(rc, a, b, s, -1)
					if rows >= 2 && float64(match) >= 0.9*float64(rows) {
						out = append(out, ratio{r: rc, a: a, b: b, scale: s})
						found = true
						break
					}
				}
			}
		}
		if found {
			continue
		}
		// Shares of a total row: the total row shows 100 (or 1) and each
		// row's share is its count over the total row's count.
		if a, s, ok := c.shareOfTotalRow(rc, ints); ok {
			out = append(out, ratio{r: rc, a: a, b: -1, scale: s, share: true})
			continue
		}
		// Shares: a percent column summing to 100 (or 1), of a count column.
		sum, n := 0.0, 0
		tol := 0.0
		for r := 0; r < t.Rows(); r++ {
			if v := t.Columns[rc][r]; v.Kind == KindNumber && !c.isTotalRow(r) {
				sum += v.Num
				tol += v.Tolerance()
				n++
			}
		}
		for _, s := range []float64{100, 1} {
			if n >= 2 && math.Abs(sum-s) <= tol+1e-9 && len(ints) > 0 {
				out = append(out, ratio{r: rc, a: ints[0], b: -1, scale: s, share: true})
				break
			}
		}
	}
	return out
}

// ratioTol is r's display tolerance widened by the rounding of a and b.
func (c *checker) ratioTol(rv, av, bv Value, s float64, a, b int) float64 {
	tol := rv.Tolerance() + 1e-9
	if c.rounded[a] || c.rounded[b] {
		h := float64(c.p.Rounding.Base / 2)
		hiB := math.Max(bv.Num-h, 1)
		tol += math.Abs(s*(av.Num+h)/hiB - s*av.Num/bv.Num)
	}
	return tol
}

// rateRules: R1, R3, R4, R5.
func (c *checker) rateRules() {
	t, p := c.t, c.p
	T := float64(p.T())
	rs := c.ratios()
	has := map[int]bool{}
	for _, rt := range rs {
		has[rt.r] = true
		if rt.share {
			c.shareRule(rt)
			continue
		}
		for r := 0; r < t.Rows(); r++ {
			rv, av, bv := t.Columns[rt.r][r], t.Columns[rt.a][r], t.Columns[rt.b][r]
			if rv.Kind != KindNumber {
				continue
			}
			// R3: the shown rate is not what the displayed counts give.
			if av.Kind == KindNumber && bv.Kind == KindNumber && bv.Num != 0 {
				want := rt.scale * av.Num / bv.Num
				if diff := math.Abs(rv.Num - want); diff > rv.Tolerance()+1e-9 {
					v, why := Review, "the shown rate is not what the displayed counts give"
					if diff <= c.ratioTol(rv, av, bv, rt.scale, rt.a, rt.b) {
						v, why = c.severity(rt.a, Fail), "the shown rate was computed from unrounded counts"
					}
					rr := r
					c.cell("R3", v, r, rt.r, func(v Verdict) Finding {
						return c.finding("R3", v, rr, rt.r, fmt.Sprintf("%s: %s gives %s / %s = %.*f", why, rv.Raw, av.Raw, bv.Raw, int(rv.Decimals)+1, want),
							"compute rates from the rounded counts you display", map[string]any{"shown": rv.Num, "recomputed": want})
					})
				}
			}
			for _, part := range []struct {
				v  Value
				ci int
			}{{av, rt.a}, {bv, rt.b}} {
				if part.v.Kind == KindNumber && part.v.Num >= 1 && part.v.Num <= T {
					c.cellFinding(c.finding("R1", c.severity(part.ci, Fail), r, rt.r, fmt.Sprintf("the rate is computed from %s = %g, at or below %g", t.Header[part.ci], part.v.Num, T),
						"redact the rate with its counts", map[string]any{"count": part.v.Num, "T": p.T()}))
				}
			}
		}
	}
	for rc, col := range c.cols {
		if col.Class != ClassRate && col.Class != ClassPercent {
			continue
		}
		if d := c.denominatorFor(rc); !has[rc] && d >= 0 {
			c.percentOfDenominator(rc, d)
		} else if !has[rc] && (c.oc == nil || len(c.oc.Variables) == 0) {
			ev := map[string]any{}
			fr := []string{}
			for r := 0; r < t.Rows() && len(fr) < 10; r++ {
				v := t.Columns[rc][r]
				if v.Kind != KindNumber {
					continue
				}
				scale := 1.0
				if col.Class == ClassPercent || v.Percent || c.maxOf(rc) > 1 {
					scale = 100
				}
				n, d := smallestFraction(v.Num/scale, v.Tolerance()/scale)
				fr = append(fr, fmt.Sprintf("row %d: %d/%d", r+1, n, d))
			}
			ev["smallest_fractions"] = fr
			c.add(c.finding("R4", Review, -1, rc, fmt.Sprintf("column %s is a rate or percentage with no counts behind it in the file", col.Name),
				"add the rounded numerator and denominator columns (underlying counts required)", ev))
		}
		c.shareRecoveryRule(rc)
		proportion := c.maxOf(rc) <= 1 && !c.anyPercentSign(rc)
		for r := 0; r < t.Rows(); r++ {
			v := t.Columns[rc][r]
			if c.isTotalRow(r) || v.Kind != KindNumber || t.Rows() < 2 {
				continue
			}
			whole := col.Class == ClassPercent && v.Num == 100 || proportion && v.Num == 1
			if v.Num == 0 || whole {
				c.cellFinding(c.finding("R5", Review, r, rc, fmt.Sprintf("%s in a subgroup: everyone or no one in it has the attribute (class disclosure)", v.Raw),
					"check the group is not identifiable, or merge categories", nil))
			}
		}
	}
}

func (c *checker) maxOf(ci int) float64 {
	m := math.Inf(-1)
	for _, v := range c.t.Columns[ci] {
		if v.Kind == KindNumber {
			m = math.Max(m, v.Num)
		}
	}
	return m
}

// shareRule is R3 for a percent share of a count column's total: shown
// percentages that the displayed counts do not give.
func (c *checker) shareRule(rt ratio) {
	t := c.t
	total := 0.0
	for r := 0; r < t.Rows(); r++ {
		if v := t.Columns[rt.a][r]; v.Kind == KindNumber && !c.isTotalRow(r) {
			total += v.Num
		}
	}
	if len(c.totalRows) == 1 {
		if v := t.Columns[rt.a][c.totalRows[0]]; v.Kind == KindNumber {
			total = v.Num // the shares are of the total shown
		}
	}
	if total == 0 {
		return
	}
	var bad []int
	for r := 0; r < t.Rows(); r++ {
		rv, av := t.Columns[rt.r][r], t.Columns[rt.a][r]
		if rv.Kind != KindNumber || av.Kind != KindNumber || c.isTotalRow(r) {
			continue
		}
		if math.Abs(rt.scale*av.Num/total-rv.Num) > rv.Tolerance()+1e-9 {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return
	}
	for _, r := range bad {
		rv, av := t.Columns[rt.r][r], t.Columns[rt.a][r]
		c.cellFinding(c.finding("R3", c.severity(rt.a, Fail), r, rt.r, fmt.Sprintf("%s is not %s of the displayed total %g (that gives %.*f): it was computed from unrounded counts", rv.Raw, t.Header[rt.a]+" "+av.Raw, total, rv.Decimals, rt.scale*av.Num/total),
			"compute percentages from the rounded counts you display", map[string]any{"shown": rv.Num, "recomputed": rt.scale * av.Num / total, "total": total}))
	}
}

// smallestFraction finds the fraction n/d with the smallest d within tol
// of x (0 ≤ x ≤ 1 expected), by the Stern–Brocot search.
func smallestFraction(x, tol float64) (int, int) {
	if x < 0 {
		x = -x
	}
	whole := math.Floor(x)
	x -= whole
	if x <= tol {
		return int(whole), 1
	}
	if 1-x <= tol {
		return int(whole) + 1, 1
	}
	ln, ld, hn, hd := 0, 1, 1, 1
	for i := 0; i < 10000; i++ {
		mn, md := ln+hn, ld+hd
		m := float64(mn) / float64(md)
		switch {
		case math.Abs(m-x) <= tol:
			return mn + int(whole)*md, md
		case m < x:
			ln, ld = mn, md
		default:
			hn, hd = mn, md
		}
	}
	return int(math.Round(x*1e6)) + int(whole)*1e6, 1e6
}

// magnitudeRules: M1, M2, M3.
func (c *checker) magnitudeRules() {
	t, p := c.t, c.p
	T := float64(p.T())
	nCol := c.nColumn()
	for ci, col := range c.cols {
		switch {
		case col.Class.IsMagnitude():
			if nCol < 0 {
				c.add(c.finding("M1", Review, -1, ci, fmt.Sprintf("column %s summarises values but the table gives no number of people behind it", col.Name),
					"add an n column with the (rounded) number of people each value describes", nil))
				continue
			}
			for r := 0; r < t.Rows(); r++ {
				nv := t.Columns[nCol][r]
				if t.Columns[ci][r].Kind != KindNumber || nv.Kind != KindNumber {
					continue
				}
				if nv.Num <= T {
					c.cellFinding(c.finding("M1", c.severity(nCol, Fail), r, ci, fmt.Sprintf("this %s describes %g people, at or below %g", col.Class, nv.Num, T),
						"redact it, or merge groups", map[string]any{"n": nv.Num, "T": p.T()}))
				}
				if col.Class == ClassSD {
					sd := t.Columns[ci][r].Num
					switch {
					case nv.Num <= 2:
						c.cellFinding(c.finding("M3", Fail, r, ci, "a standard deviation of two or fewer values reveals them", "redact it", map[string]any{"n": nv.Num}))
					case sd == 0:
						c.cellFinding(c.finding("M3", Review, r, ci, "a standard deviation of 0: everyone in the group has the same value", "check it discloses nothing about the group", map[string]any{"n": nv.Num}))
					}
				}
			}
		case col.Class == ClassMin || col.Class == ClassMax:
			if c.oc != nil {
				if _, ok := c.oc.DesignLimits[col.Name]; ok {
					continue
				}
			}
			v := Review
			if p.Endpoints == "fail" {
				v = Fail
			}
			c.add(c.finding("M2", v, -1, ci, fmt.Sprintf("column %s shows a minimum or maximum, which is one person's value", col.Name),
				"drop it, or declare it a design limit (for example the age range sampled) in the context's design_limits", nil))
		}
	}
}

// modelRules: D1 (degrees of freedom) and D3 (signs of separation).
func (c *checker) modelRules() {
	t, p := c.t, c.p
	var coef, se, ci, pv, dofCol, nCol = -1, -1, -1, -1, -1, -1
	for i, col := range c.cols {
		switch col.Class {
		case ClassCoef:
			if coef < 0 {
				coef = i
			}
		case ClassSE:
			se = i
		case ClassCILower, ClassCIUpper:
			ci = i
		case ClassP:
			pv = i
		case ClassDoF:
			// A residual DoF column says so, or holds one value above 2
			// (per-term Wald df of 1 are not residual DoF).
			if strings.Contains(strings.ToLower(col.Name), "resid") || constantAbove(t.Columns[i], 2) {
				dofCol = i
			}
		}
		if col.Class.IsCount() && (strings.EqualFold(col.Name, "n") || strings.EqualFold(col.Name, "n_obs") || strings.EqualFold(col.Name, "nobs")) {
			nCol = i
		}
	}
	if coef < 0 || (se < 0 && ci < 0 && pv < 0) {
		return
	}
	dof := -1.0
	var src string
	switch {
	case c.oc != nil && c.oc.Model != nil && c.oc.Model.DoF > 0:
		dof, src = float64(c.oc.Model.DoF), "context: model.dof"
	case c.oc != nil && c.oc.Model != nil && c.oc.Model.N > 0 && c.oc.Model.Parameters > 0:
		dof, src = float64(c.oc.Model.N-c.oc.Model.Parameters), "context: model.n − model.parameters"
	case dofCol >= 0:
		for _, v := range t.Columns[dofCol] {
			if v.Kind == KindNumber {
				dof, src = v.Num, "column "+t.Header[dofCol]
				break
			}
		}
	case nCol >= 0:
		for _, v := range t.Columns[nCol] {
			if v.Kind == KindNumber {
				dof, src = v.Num-float64(t.Rows()), "column "+t.Header[nCol]+" less the number of terms"
				break
			}
		}
	}
	switch {
	case dof < 0:
		c.add(c.finding("D1", Review, -1, -1, "a regression table without its residual degrees of freedom, or N and the number of parameters",
			"give model: {dof: …} or {n: …, parameters: …} in the context", nil))
	case dof < float64(p.MinDoF):
		c.add(c.finding("D1", Fail, -1, -1, fmt.Sprintf("the model has %g residual degrees of freedom, fewer than %d", dof, p.MinDoF),
			"fit the model on more people or with fewer parameters", map[string]any{"dof": dof, "min_dof": p.MinDoF, "source": src}))
	}
	for r := 0; r < t.Rows(); r++ {
		b := t.Columns[coef][r]
		if b.Kind == KindNumber && math.Abs(b.Num) > 15 {
			c.cellFinding(c.finding("D3", Review, r, coef, fmt.Sprintf("coefficient %s is implausibly large: a category may have few or no events (separation)", b.Raw), "check the events in each category", nil))
		}
		if se >= 0 {
			if s := t.Columns[se][r]; s.Kind == KindNumber && s.Num == 0 {
				c.cellFinding(c.finding("D3", Review, r, se, "a standard error of 0", "check the events in each category", nil))
			}
		}
	}
}

// cellNames names 0-based cells as "(row, column)" for evidence.
func cellNames(t *Table, cells [][2]int) string {
	var out []string
	for _, c := range cells {
		out = append(out, fmt.Sprintf("(%d, %s)", c[0]+1, t.Header[c[1]]))
	}
	return strings.Join(out, ", ")
}

// ratioMatches counts the rows (at most limit with values, all for -1)
// where column rc ≈ s · a / b within tolerance.
func (c *checker) ratioMatches(rc, a, b int, s float64, limit int) (rows, match int) {
	t := c.t
	for r := 0; r < t.Rows(); r++ {
		rv, av, bv := t.Columns[rc][r], t.Columns[a][r], t.Columns[b][r]
		if rv.Kind != KindNumber || av.Kind != KindNumber || bv.Kind != KindNumber || bv.Num == 0 {
			continue
		}
		rows++
		if math.Abs(rv.Num-s*av.Num/bv.Num) <= c.ratioTol(rv, av, bv, s, a, b) {
			match++
		}
		if limit > 0 && rows >= limit {
			break
		}
	}
	return rows, match
}

// anyPercentSign reports whether a column shows any value with a % sign.
func (c *checker) anyPercentSign(ci int) bool {
	for _, v := range c.t.Columns[ci] {
		if v.Kind == KindNumber && v.Percent {
			return true
		}
	}
	return false
}

// nColumn picks the column that gives the number of people in each row of
// a summary table: one named n (or count, total, patients), else the first
// count column; -1 for none.
func (c *checker) nColumn() int {
	first := -1
	for ci, col := range c.cols {
		if !col.Class.IsCount() {
			continue
		}
		if first < 0 {
			first = ci
		}
		switch strings.ToLower(strings.Join(headerWords(col.Name), "_")) {
		case "n", "count", "total", "patients", "n_patients", "number", "total_n":
			return ci
		}
	}
	return first
}

// constantAbove reports whether every number in a column is the same value,
// greater than min.
func constantAbove(col []Value, min float64) bool {
	first, seen := 0.0, false
	for _, v := range col {
		if v.Kind != KindNumber {
			continue
		}
		if !seen {
			first, seen = v.Num, true
		} else if v.Num != first {
			return false
		}
	}
	return seen && first > min
}

// denominatorFor finds, for a rate or percent column with no numerator in
// the table, a count column that is its denominator: one classed as a
// denominator, or named population, total or n; -1 for none.
func (c *checker) denominatorFor(rc int) int {
	for ci, col := range c.cols {
		if col.Class == ClassDenominator {
			return ci
		}
	}
	for ci, col := range c.cols {
		if !col.Class.IsCount() {
			continue
		}
		switch strings.ToLower(strings.Join(headerWords(col.Name), "_")) {
		case "population", "total", "n", "denominator", "total_n", "n_total", "at_risk", "n_risk":
			return ci
		}
	}
	return -1
}

// ratioHeader reports whether a column's name says it holds a ratio.
func ratioHeader(name string) bool {
	switch strings.ToLower(strings.Join(headerWords(name), "_")) {
	case "value", "ratio", "proportion", "prop", "rate", "fraction":
		return true
	}
	return false
}

// percentOfDenominator is R2: the numerator a shown percentage and its
// denominator imply. Every integer it can be in [1, T] is FAIL, some is
// REVIEW; a single possible integer that is not a multiple of the base,
// beside rounded counts, says the percentage came from unrounded counts.
func (c *checker) percentOfDenominator(rc, d int) {
	t, p := c.t, c.p
	T := float64(p.T())
	scale := 1.0
	if c.cols[rc].Class == ClassPercent || c.anyPercentSign(rc) || c.maxOf(rc) > 1 {
		scale = 100
	}
	// Decimals no larger than 1 under a ratio's name (cohort-extractor's
	// measure files call num/den "value") are a ratio, not a percentage,
	// when nothing else says percent.
	if scale == 100 && c.cols[rc].Confidence == Low && !c.anyPercentSign(rc) && c.maxOf(rc) <= 1 && ratioHeader(c.cols[rc].Name) {
		scale = 1
	}
	hd := 0.0
	if c.rounded[d] {
		hd = float64(p.Rounding.Base / 2)
	}
	for r := 0; r < t.Rows(); r++ {
		pv, dv := t.Columns[rc][r], t.Columns[d][r]
		if pv.Kind != KindNumber || dv.Kind != KindNumber || dv.Num <= 0 || c.isTotalRow(r) {
			continue
		}
		tol := pv.Tolerance()
		lo := math.Ceil((pv.Num-tol)/scale*(dv.Num-hd) - 1e-9)
		hi := math.Floor((pv.Num+tol)/scale*(dv.Num+hd) + 1e-9)
		lo = math.Max(lo, 0)
		if hi < lo {
			continue
		}
		ev := map[string]any{"numerator_interval": []float64{lo, hi}, "denominator": dv.Num, "T": p.T()}
		rr := r
		switch {
		case lo >= 1 && hi <= T:
			c.cell("R2", c.severity(d, Fail), r, rc, func(v Verdict) Finding {
				return c.finding("R2", v, rr, rc, fmt.Sprintf("%s of %s means %g–%g people, at or below %g", pv.Raw, dv.Raw, lo, hi, T),
					"redact the percentage with its small count", ev)
			})
		case lo <= T && hi >= 1 && lo <= hi:
			c.cell("R2", Review, r, rc, func(v Verdict) Finding {
				return c.finding("R2", v, rr, rc, fmt.Sprintf("%s of %s may mean %g–%g people, some of them at or below %g", pv.Raw, dv.Raw, lo, hi, T),
					"show fewer decimals, or redact the percentage", ev)
			})
		case lo == hi && p.Rounding.Required && int64(lo)%int64(p.Rounding.Base) != 0:
			c.cell("R2", c.severity(d, Fail), r, rc, func(v Verdict) Finding {
				return c.finding("R2", v, rr, rc, fmt.Sprintf("%s of %s pins the numerator to %g, which is not rounded: the percentage was derived from unrounded counts", pv.Raw, dv.Raw, lo),
					"compute percentages from the rounded counts you display", ev)
			})
		}
	}
}
