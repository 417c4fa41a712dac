package disclosure

import (
	"fmt"
	"math"
	"strings"
)

// This file holds the survival rules (disclosure spec, section 7.7): S1
// (too few people leave the risk set at a step), S2 (a risk set that is not
// rounded) and S3 (a time resolution so fine that steps approach single
// people). They apply only to tables detected as life tables: Kaplan-Meier
// estimates, survfit summaries, lifelines event tables.

const (
	// survivalMaxSteps is the most steps one curve may have before S3
	// asks whether the time resolution is finer than it needs to be.
	survivalMaxSteps = 50
	// mp6StepMin is the fewest people per step behind midpoint-6 life
	// tables: OpenSAFELY's Kaplan-Meier action coarsens time so that each
	// step has at least 6, then rounds with midpoint-6 (spec 1.2, 1.4).
	mp6StepMin = 6
	// survivalMaxListed is how many rows S2 and S3 name in their evidence.
	survivalMaxListed = MaxCellFindings
)

// Life-table header vocabularies, matched against a header's words
// joined by "_" once a trailing "midpoint6" or "midpoint6_derived" is
// dropped ("n.risk", "N at risk" and "n_risk_midpoint6" all name the risk
// set). The lists are deliberately narrow: a table is a life table only
// when several of them agree.
var (
	// survTimeHeaders ranks time headers, best first (1).
	survTimeHeaders = wordRank("time", "times", "t", "day", "days", "week", "weeks", "month", "months", "year", "years",
		"time_days", "time_weeks", "time_months", "time_years", "follow_up", "followup", "follow_up_time",
		"time_to_event", "survival_time", "surv_time", "event_time", "interval", "tstop", "end_time")
	survRiskHeaders = wordSet("n_risk", "nrisk", "at_risk", "atrisk", "n_at_risk", "n_atrisk", "number_at_risk",
		"num_at_risk", "no_at_risk", "numbers_at_risk", "risk_set", "n_risk_set", "number_risk")
	survEventHeaders = wordSet("n_event", "n_events", "nevent", "nevents", "event", "events", "number_of_events",
		"num_events", "number_events", "no_events", "deaths", "death", "n_deaths", "died", "n_died", "failures",
		"n_failures", "observed")
	survCensorHeaders = wordSet("n_censor", "n_censored", "ncensor", "ncensored", "censor", "censored", "censoring",
		"number_censored", "num_censored", "n_cens", "cens")
	survRemovedHeaders = wordSet("removed", "n_removed", "leaving", "n_leaving", "n_leave", "left_risk_set")
	survEstimateWords  = wordSet("surv", "survival", "survivor", "km", "kaplan")
)

func wordRank(words ...string) map[string]int {
	m := make(map[string]int, len(words))
	for i, w := range words {
		m[w] = i + 1
	}
	return m
}

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// survHeader normalises a header for the vocabularies above.
func survHeader(h string) (joined string, words []string) {
	words = headerWords(h)
	if n := len(words); n >= 2 && words[n-1] == "derived" && words[n-2] == "midpoint6" {
		words = words[:n-2]
	} else if n >= 1 && words[n-1] == "midpoint6" {
		words = words[:n-1]
	}
	return strings.Join(words, "_"), words
}

// lifeTable is a detected life table: its columns (0-based, -1 when
// absent) and its curves, each the rows of one stratum in time order.
type lifeTable struct {
	time, atRisk, events, censored, removed, surv int
	curves                                        [][]int
}

// step is what S1 worked out for one row of a curve.
type step struct {
	row     int     // 0-based
	leaving float64 // as displayed
	ok      bool    // leaving is known
}

// survivalRules: S1, S2 and S3 on a detected life table.
func (c *checker) survivalRules() {
	lt, ok := c.detectLifeTable()
	if !ok {
		return
	}
	minStep := c.p.SurvivalMinStep
	if minStep <= 0 {
		// A site profile without survival_min_step: the count threshold.
		minStep = c.p.MinCount
	}
	var steps [][]step
	for _, rows := range lt.curves {
		steps = append(steps, c.leavingRule(lt, rows, minStep))
	}
	c.riskSetRule(lt)
	c.resolutionRule(lt, steps, minStep)
}

// detectLifeTable finds a time column, a risk-set column, and an events,
// censored, removed or survival-estimate column, with a risk set that
// never grows within a curve. Anything less is not treated as a life
// table: "time" alone names many things.
func (c *checker) detectLifeTable() (lifeTable, bool) {
	t := c.t
	lt := lifeTable{time: -1, atRisk: -1, events: -1, censored: -1, removed: -1, surv: -1}
	if t.Rows() < 2 {
		return lt, false
	}
	first := func(cur *int, ci int) {
		if *cur < 0 {
			*cur = ci
		}
	}
	timeRank := len(survTimeHeaders)
	for ci, h := range t.Header {
		joined, words := survHeader(h)
		switch {
		case survTimeHeaders[joined] > 0:
			// The best-ranked time header: "time" beats "interval".
			if rank := survTimeHeaders[joined]; rank < timeRank || lt.time < 0 {
				lt.time, timeRank = ci, rank
			}
		case survRiskHeaders[joined]:
			if c.countValues(ci) {
				first(&lt.atRisk, ci)
			}
		case survEventHeaders[joined]:
			if c.countValues(ci) {
				first(&lt.events, ci)
			}
		case survCensorHeaders[joined]:
			if c.countValues(ci) {
				first(&lt.censored, ci)
			}
		case survRemovedHeaders[joined]:
			if c.countValues(ci) {
				first(&lt.removed, ci)
			}
		default:
			for _, w := range words {
				if survEstimateWords[w] {
					first(&lt.surv, ci)
					break
				}
			}
		}
	}
	if lt.time < 0 || lt.atRisk < 0 || (lt.events < 0 && lt.censored < 0 && lt.removed < 0 && lt.surv < 0) {
		return lt, false
	}
	lt.curves = c.curves(lt)
	// The risk set never grows along a curve; an "at risk" column that
	// does (a monthly population in an incidence table) is not one.
	longest := 0
	for _, rows := range lt.curves {
		longest = max(longest, len(rows))
		prev := math.Inf(1)
		for _, r := range rows {
			v := t.Columns[lt.atRisk][r]
			if v.Kind != KindNumber {
				continue
			}
			if v.Num > prev {
				return lt, false
			}
			prev = v.Num
		}
	}
	return lt, longest >= 2
}

// countValues reports whether a column's numbers are non-negative whole
// numbers, at least two of them (redacted and missing cells aside).
func (c *checker) countValues(ci int) bool {
	n := 0
	for _, v := range c.t.Columns[ci] {
		if v.Kind == KindText {
			return false
		}
		if v.Kind != KindNumber {
			continue
		}
		if !v.IsInt() || v.Num < 0 {
			return false
		}
		n++
	}
	return n >= 2
}

// curves splits the rows into one curve per stratum: a new curve starts
// where a text label (a stratum name) changes or time stops increasing.
// Total rows belong to no curve.
func (c *checker) curves(lt lifeTable) [][]int {
	t := c.t
	lifeCols := map[int]bool{lt.time: true, lt.atRisk: true, lt.events: true, lt.censored: true, lt.removed: true, lt.surv: true}
	var strata []int
	for ci, col := range c.cols {
		if !lifeCols[ci] && (col.Class == ClassLabel || col.Class == ClassKey) && col.stats.numbers == 0 {
			strata = append(strata, ci)
		}
	}
	var out [][]int
	var cur []int
	prev := -1
	for r := 0; r < t.Rows(); r++ {
		if c.isTotalRow(r) {
			continue
		}
		if prev >= 0 && c.newCurve(lt, strata, prev, r) {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, r)
		prev = r
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (c *checker) newCurve(lt lifeTable, strata []int, prev, r int) bool {
	t := c.t
	for _, ci := range strata {
		if t.Columns[ci][prev].Raw != t.Columns[ci][r].Raw {
			return true
		}
	}
	a, b := t.Columns[lt.time][prev], t.Columns[lt.time][r]
	return a.Kind == KindNumber && b.Kind == KindNumber && b.Num <= a.Num
}

// isMP6 reports whether a column holds midpoint-6 labels or sums of them.
func (c *checker) isMP6(ci int) bool {
	return ci >= 0 && (c.mp6[ci] || c.cols[ci].Midpoint6 || c.cols[ci].Derived)
}

// low is the fewest people a displayed count v of column ci can stand
// for: v itself, or for a midpoint-6 label (which covers v-2 to v+3) v-2,
// or for a sum or difference of labels (…_midpoint6_derived) v-5.
func (c *checker) low(ci int, v float64) float64 {
	switch {
	case v <= 0 || !c.isMP6(ci):
		return v
	case c.cols[ci].Derived:
		return max(0, v-5)
	}
	return max(1, v-2)
}

// high is the most people a displayed count v of column ci can stand
// for: v+3 for a midpoint-6 label, v+5 for a sum or difference of labels.
func (c *checker) high(ci int, v float64) float64 {
	switch {
	case v <= 0 || !c.isMP6(ci):
		return v
	case c.cols[ci].Derived:
		return v + 5
	}
	return v + 3
}

// allMultiples reports whether every non-zero number in a column is a
// whole multiple of base.
func (c *checker) allMultiples(ci, base int) bool {
	for _, v := range c.t.Columns[ci] {
		if v.Kind == KindNumber && v.Num != 0 && (!v.IsInt() || int64(v.Num)%int64(base) != 0) {
			return false
		}
	}
	return true
}

// timeAt names a row's step for messages: "time 30 (row 4)".
func (c *checker) timeAt(lt lifeTable, r int) string {
	if raw := c.t.Columns[lt.time][r].Raw; raw != "" {
		return fmt.Sprintf("%s %s (row %d)", c.t.Header[lt.time], raw, r+1)
	}
	return fmt.Sprintf("row %d", r+1)
}

// leavingRule is S1 on one curve. The people leaving the risk set at a
// step are, in order of preference, a removed column, events + censored,
// or the fall in the risk set to the next step. It returns the steps for
// S3.
func (c *checker) leavingRule(lt lifeTable, rows []int, minStep int) []step {
	t, p := c.t, c.p
	num := func(ci, r int) (float64, bool) {
		if ci < 0 {
			return 0, false
		}
		v := t.Columns[ci][r]
		return v.Num, v.Kind == KindNumber
	}
	// The rounding half-width of the risk set, when it is rounded.
	riskHalf := 0.0
	if b := p.Rounding.Base; b > 1 && !c.isMP6(lt.atRisk) && c.allMultiples(lt.atRisk, b) {
		riskHalf = float64(b / 2)
	}
	// Midpoint-6 steps answer to the Kaplan-Meier action's minimum where
	// the profile recognises midpoint-6, else to min_step.
	mp6Min := minStep
	if p.Rounding.Midpoint6 {
		mp6Min = min(minStep, mp6StepMin)
	}
	hint := fmt.Sprintf("coarsen the time steps (for example days → weeks, or weeks → months) so that at least %d people leave the risk set at each step, or merge this step with the next", minStep)
	out := make([]step, len(rows))
	for k, r := range rows {
		out[k].row = r
		var (
			leaving, lo, hi float64
			mp6             bool
			col             = -1
			detail          string
			ev              = map[string]any{"time": t.Columns[lt.time][r].Raw, "min_step": minStep}
			cells           []Cell
		)
		if x, ok := num(lt.removed, r); ok {
			leaving, lo, hi, col = x, c.low(lt.removed, x), c.high(lt.removed, x), lt.removed
			mp6 = c.isMP6(lt.removed)
			detail = fmt.Sprintf("%s %s", t.Header[lt.removed], t.Columns[lt.removed][r].Raw)
			ev["removed"] = x
		} else if e, ok := num(lt.events, r); ok {
			if cn, ok := num(lt.censored, r); ok {
				leaving, col = e+cn, lt.events
				lo, hi = c.low(lt.events, e)+c.low(lt.censored, cn), c.high(lt.events, e)+c.high(lt.censored, cn)
				mp6 = c.isMP6(lt.events) || c.isMP6(lt.censored)
				detail = fmt.Sprintf("%s %s + %s %s", t.Header[lt.events], t.Columns[lt.events][r].Raw, t.Header[lt.censored], t.Columns[lt.censored][r].Raw)
				ev["events"], ev["censored"] = e, cn
				cells = []Cell{{Row: r + 1, Col: lt.censored + 1, Column: t.Header[lt.censored]}}
			}
		}
		if col < 0 && k+1 < len(rows) {
			next := rows[k+1]
			a, ok1 := num(lt.atRisk, r)
			b, ok2 := num(lt.atRisk, next)
			if ok1 && ok2 {
				leaving, col = a-b, lt.atRisk
				mp6 = c.isMP6(lt.atRisk)
				switch {
				case mp6:
					lo, hi = max(0, leaving-5), leaving+5
				default:
					lo, hi = max(0, leaving-2*riskHalf), leaving+2*riskHalf
				}
				detail = fmt.Sprintf("%s falls from %s to %s by the next step", t.Header[lt.atRisk], t.Columns[lt.atRisk][r].Raw, t.Columns[lt.atRisk][next].Raw)
				ev["n_risk"], ev["next_n_risk"] = a, b
				cells = []Cell{{Row: next + 1, Col: lt.atRisk + 1, Column: t.Header[lt.atRisk]}}
			}
		}
		if col < 0 {
			continue
		}
		out[k].leaving, out[k].ok = leaving, true
		ev["leaving"] = leaving
		if leaving <= 0 {
			continue // nobody left: the step tells nothing about anyone
		}
		where := c.timeAt(lt, r)
		switch {
		case mp6:
			if lo >= float64(mp6Min) {
				continue
			}
			ev["midpoint6"], ev["fewest"], ev["most"], ev["step_min"] = true, lo, hi, mp6Min
			c.cell("S1", Review, r, col, func(v Verdict) Finding {
				f := c.finding("S1", v, r, col, fmt.Sprintf("at %s, %g leave the risk set in midpoint-6 counts (%s): the true number is %g to %g, possibly fewer than %d",
					where, leaving, detail, max(1, lo), hi, mp6Min),
					fmt.Sprintf("check this step: merge it with the next, or coarsen the time steps before midpoint-6 rounding, so that at least %d people leave the risk set at each step", mp6Min), ev)
				f.Cells = cells
				return f
			})
		case hi < float64(minStep):
			rounding := ""
			if hi > leaving {
				rounding = fmt.Sprintf(" (at most %g with the rounding)", hi)
				ev["most"] = hi
			}
			c.cell("S1", c.severity(col, Fail), r, col, func(v Verdict) Finding {
				f := c.finding("S1", v, r, col, fmt.Sprintf("at %s, only %g leave the risk set (%s), fewer than %d%s", where, leaving, detail, minStep, rounding), hint, ev)
				f.Cells = cells
				return f
			})
		case leaving < float64(minStep):
			// A rounded risk set: the displayed fall is small, but the true
			// one may reach min_step.
			ev["fewest"], ev["most"] = lo, hi
			c.cell("S1", Review, r, col, func(v Verdict) Finding {
				f := c.finding("S1", v, r, col, fmt.Sprintf("at %s, %g leave the risk set (%s); with the rounding the true number is %g to %g, possibly fewer than %d",
					where, leaving, detail, lo, hi, minStep), hint, ev)
				f.Cells = cells
				return f
			})
		}
	}
	return out
}

// riskSetRule is S2: a risk set shown exactly lets anyone subtract
// consecutive values and recover each step's count.
func (c *checker) riskSetRule(lt lifeTable) {
	t, p := c.t, c.p
	ci := lt.atRisk
	col := c.cols[ci]
	base := p.Rounding.Base
	var want string
	var fits func(x int64) bool
	switch {
	case col.Derived:
		want = "sums of midpoint-6 labels (multiples of 3)"
		fits = func(x int64) bool { return x%3 == 0 }
	case c.isMP6(ci):
		want = "midpoint-6 labels (3 more than a multiple of 6)"
		fits = func(x int64) bool { return x%6 == 3 }
	case c.isMP6(lt.events) || c.isMP6(lt.censored) || c.isMP6(lt.removed):
		// Derived from midpoint-6 event and censoring counts.
		want = fmt.Sprintf("multiples of %d or sums of midpoint-6 labels (multiples of 3)", base)
		fits = func(x int64) bool { return x%int64(base) == 0 || x%3 == 0 }
	default:
		want = fmt.Sprintf("multiples of %d", base)
		fits = func(x int64) bool { return x%int64(base) == 0 }
	}
	var rows []int
	var values []string
	checked, bad := 0, 0
	for r, v := range t.Columns[ci] {
		if v.Kind != KindNumber {
			continue
		}
		checked++
		if v.Num == 0 || (v.IsInt() && fits(int64(v.Num))) {
			continue
		}
		bad++
		if len(rows) < survivalMaxListed {
			rows, values = append(rows, r+1), append(values, v.Raw)
		}
	}
	if bad == 0 {
		return
	}
	ev := map[string]any{"rows": rows, "values": values, "not_fitting": bad, "checked": checked, "scheme": want}
	if bad > len(rows) {
		ev["more_rows"] = bad - len(rows)
	}
	listed := joinInts(rows)
	if bad > len(rows) {
		listed += fmt.Sprintf(" and %d more", bad-len(rows))
	}
	c.add(c.finding("S2", Review, -1, ci, fmt.Sprintf("risk set %s: %d of %d values are not %s (rows %s), so subtracting consecutive values gives the exact number leaving at each step",
		col.Name, bad, checked, want, listed),
		fmt.Sprintf("round the risk set to the nearest %d, or derive it from rounded (or midpoint-6) event and censoring counts, so that differences between steps are not exact", base), ev))
}

// resolutionRule is S3: too many steps, or one-unit steps that each
// remove few people.
func (c *checker) resolutionRule(lt lifeTable, steps [][]step, minStep int) {
	t := c.t
	var reasons []string
	ev := map[string]any{}
	longest, at := 0, 0
	for _, rows := range lt.curves {
		if len(rows) > longest {
			longest, at = len(rows), rows[0]
		}
	}
	if longest > survivalMaxSteps {
		reasons = append(reasons, fmt.Sprintf("a curve has %d steps (from row %d), more than %d", longest, at+1, survivalMaxSteps))
		ev["steps"], ev["max_steps"] = longest, survivalMaxSteps
	}
	limit := 2 * float64(minStep)
	var rows []int
	n := 0
	for _, curve := range steps {
		for k, s := range curve {
			if !s.ok || s.leaving <= 0 || s.leaving >= limit || !c.unitStep(lt, curve, k) {
				continue
			}
			n++
			if len(rows) < survivalMaxListed {
				rows = append(rows, s.row+1)
			}
		}
	}
	if n > 0 {
		listed := joinInts(rows)
		if n > len(rows) {
			listed += fmt.Sprintf(" and %d more", n-len(rows))
		}
		reasons = append(reasons, fmt.Sprintf("%d steps one %s apart have fewer than %d people (twice the minimum of %d) leaving the risk set (rows %s)",
			n, unitName(t.Header[lt.time]), int(limit), minStep, listed))
		ev["unit_steps"], ev["unit_step_rows"], ev["limit"] = n, rows, int(limit)
	}
	if len(reasons) == 0 {
		return
	}
	c.add(c.finding("S3", Review, -1, lt.time, "the life table's time resolution is fine: "+strings.Join(reasons, "; "),
		fmt.Sprintf("coarsen the time steps (for example days → weeks, or weeks → months) to at most %d steps per curve, with at least %d people leaving the risk set at each", survivalMaxSteps, 2*minStep), ev))
}

// unitStep reports whether step k of a curve is one time unit from its
// neighbour before or after.
func (c *checker) unitStep(lt lifeTable, curve []step, k int) bool {
	col := c.t.Columns[lt.time]
	at := func(i int) (float64, bool) {
		if i < 0 || i >= len(curve) {
			return 0, false
		}
		v := col[curve[i].row]
		return v.Num, v.Kind == KindNumber
	}
	x, ok := at(k)
	if !ok {
		return false
	}
	if y, ok := at(k - 1); ok && x-y == 1 {
		return true
	}
	if y, ok := at(k + 1); ok && y-x == 1 {
		return true
	}
	return false
}

// unitName names a time column's unit for messages: "day" for "days",
// otherwise "time unit".
func unitName(h string) string {
	joined, _ := survHeader(h)
	for _, u := range []string{"day", "week", "month", "year"} {
		if strings.HasPrefix(joined, u) || strings.HasSuffix(joined, "_"+u+"s") {
			return u
		}
	}
	return "time unit"
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
