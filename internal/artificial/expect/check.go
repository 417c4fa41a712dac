package expect

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/rng"
)

// checkVariable merges and checks one variable's expectations and builds its
// sampler. Problems go to c; the returned column is only used when there are
// none.
func (p *Plan) checkVariable(c *checker, study Study, v Variable, names map[string]int) (column, ColumnInfo) {
	col := column{name: v.Name, kind: v.Kind}
	info := ColumnInfo{Name: v.Name, Kind: v.Kind.String()}
	name := v.Name
	switch v.Kind {
	case Date, Int, Float, Bool, Category:
	default:
		c.add(name, "kind", "the variable has no kind: set it to date, int, float, bool or category")
		return col, info
	}
	if v.Force != ForceNone {
		if v.Kind != Bool {
			c.add(name, "force", "only a bool variable can be fixed by the population; %s is a %s", name, v.Kind)
			return col, info
		}
		// m stays 0 for ForceFalse: every row is blank, that is 0.
		col.universal = v.Force == ForceTrue
		info.Rate = "fixed by the population"
		return col, info
	}
	switch v.DateFormat {
	case "":
		col.format = FormatDay
	case FormatDay, FormatMonth, FormatYear:
		col.format = v.DateFormat
	default:
		c.add(name, "date_format", "%q is not a date format: use YYYY-MM-DD, YYYY-MM or YYYY%s", v.DateFormat, suggest(v.DateFormat, formats))
	}
	if len(v.Expectations) == 0 && len(study.DefaultExpectations) == 0 {
		c.add(name, srcReturn, "missing, and the study has no default_expectations: give the variable return_expectations (e.g. {incidence: 0.2, date: {earliest: 2020-01-01, latest: today}}), or give the study default_expectations")
		return col, info
	}
	mg := mergeExpectations(study.DefaultExpectations, v.Expectations, func(src, path, msg string) {
		c.add(name, src+"."+path, "%s", msg)
	})
	key := func(path string) string {
		s := mg.src[path]
		if s == "" {
			s = srcReturn
		}
		return s + "." + path
	}
	for _, k := range sortedKeys(mg.m) {
		if !in(topKeys, k) {
			c.add(name, key(k), "unknown key: the keys are rate, incidence, date, category, int, float and bool%s", suggest(k, topKeys))
		}
	}

	// rate
	rate := RateExponential
	if rv, ok := mg.m["rate"]; ok {
		rs, isStr := rv.(string)
		if !isStr || !in(rates, rs) {
			c.add(name, key("rate"), "%s is not a rate: use exponential_increase (the default), uniform or universal%s", describe(rv), suggest(rs, rates))
		} else {
			rate = rs
		}
	}
	col.universal = rate == RateUniversal

	// incidence
	if iv, ok := mg.m["incidence"]; ok {
		f, isNum := number(iv)
		switch {
		case !isNum:
			c.add(name, key("incidence"), "%s is not a number: give the share of rows with a value, e.g. incidence: 0.2", describe(iv))
		case f <= 0 || f > 1:
			c.add(name, key("incidence"), "%s is outside (0, 1]: incidence is the share of rows with a value, e.g. 0.2 for one row in five (use rate: universal for a value on every row)", describe(iv))
		default:
			col.m = ceilShare(f, p.n)
		}
	} else if !col.universal && v.IncidenceFrom == "" {
		c.add(name, srcReturn+".incidence", "missing: give the share of rows with a value (e.g. incidence: 0.2) here or in default_expectations, or rate: universal for a value on every row")
	}

	// date
	var earliest, latest int64
	var hasEarliest, hasLatest, dateBad bool
	dv, hasDate := mg.m["date"]
	if hasDate {
		dm, isMap, _ := asMap(dv)
		if !isMap {
			dateBad = true
			c.add(name, key("date"), "%s is not a mapping: write date: {earliest: 2020-01-01, latest: today}", describe(dv))
		}
		for _, k := range sortedKeys(dm) {
			if !in(dateKeys, k) {
				c.add(name, key("date."+k), "unknown key: date has earliest and latest%s", suggest(k, dateKeys))
			}
		}
		for _, k := range dateKeys {
			x, ok := dm[k]
			if !ok {
				continue
			}
			d, err := p.expectationDate(x, names)
			if err != nil {
				dateBad = true
				c.add(name, key("date."+k), "%v", err)
				continue
			}
			if k == "earliest" {
				earliest, hasEarliest = d, true
			} else {
				latest, hasLatest = d, true
			}
		}
	}
	if v.Kind == Date && !dateBad {
		switch {
		case !hasDate:
			c.add(name, srcReturn+".date", "missing: a date variable needs date: {earliest: ..., latest: ...} here or in default_expectations (dates are YYYY-MM-DD, index_date, today or an expression)")
		case !hasEarliest:
			c.add(name, key("date")+".earliest", "missing: a date variable needs both ends of its window, e.g. earliest: 2020-01-01")
		case !hasLatest:
			c.add(name, key("date")+".latest", "missing: a date variable needs both ends of its window, e.g. latest: today")
		}
	}
	if hasEarliest && hasLatest && earliest > latest {
		dateBad = true
		c.add(name, key("date"), "earliest %s is after latest %s: swap them", isoDate(fromEpochDays(earliest)), isoDate(fromEpochDays(latest)))
	}

	// between
	var bounds [2]int64
	var hasBound [2]bool
	which := [2]string{"start", "end"}
	for i, b := range v.Between {
		if b == "" {
			continue
		}
		e, err := ParseDateExpr(b)
		if err != nil {
			c.add(name, "between", "the %s %v", which[i], err)
			continue
		}
		if ref := e.Column(); ref != "" {
			// Bounds relative to another column are not applied to dummy
			// data (as upstream), but the column must exist.
			if _, ok := names[ref]; !ok {
				c.add(name, "between", "the %s %q refers to %q, which is not a variable of the study: use a variable's name, index_date, today or YYYY-MM-DD%s", which[i], b, ref, suggest(ref, append(sortedNames(names), NameIndexDate, NameToday)))
			}
			continue
		}
		t, err := e.Resolve(p.index, p.hasIndex, p.today)
		if err != nil {
			c.add(name, "between", "the %s %v", which[i], err)
			continue
		}
		bounds[i], hasBound[i] = epochDays(t), true
	}
	if hasBound[0] && hasBound[1] && bounds[0] > bounds[1] {
		c.add(name, "between", "the start %s is after the end %s: swap them", isoDate(fromEpochDays(bounds[0])), isoDate(fromEpochDays(bounds[1])))
	}

	if v.Kind == Date && hasEarliest && hasLatest && !dateBad {
		lo, hi := earliest, latest
		if hasBound[0] && bounds[0] > lo {
			lo = bounds[0]
		}
		if hasBound[1] && bounds[1] < hi {
			hi = bounds[1]
		}
		if lo > hi {
			c.add(name, "between", "the expectations window %s to %s and the between bounds %s to %s do not overlap, so no date can be generated: widen %s or between",
				isoDate(fromEpochDays(earliest)), isoDate(fromEpochDays(latest)), boundText(bounds[0], hasBound[0]), boundText(bounds[1], hasBound[1]), key("date"))
		}
		col.lo, col.hi, col.rate = lo, hi, rate
		// The exponential belongs to the expectations window: mean a tenth
		// of its length, counted back from its latest date. Truncated to
		// the effective window it is again exponential with that mean,
		// counted back from the window's end (memorylessness).
		col.mu = 0.1 * float64(latest-earliest)
		if col.mu > 0 {
			col.c = 1 - rng.Exp(-float64(hi-lo+1)/col.mu)
		}
		info.Rate, info.Earliest, info.Latest, info.Format = rate, isoDate(fromEpochDays(lo)), isoDate(fromEpochDays(hi)), col.format
	}

	// category
	if cv, ok := mg.m["category"]; ok {
		labels, weights := checkCategory(c, name, key, cv, v)
		if v.Kind == Category {
			col.labels, col.weights = labels, weights
		}
	} else if v.Kind == Category {
		c.add(name, srcReturn+".category", "missing: a category variable needs category: {ratios: {%s}} (ratios adding up to 1)", exampleRatios(v.Categories))
	}

	// int and float
	for _, kk := range []struct {
		key  string
		kind Kind
	}{{"int", Int}, {"float", Float}} {
		x, ok := mg.m[kk.key]
		if !ok {
			if v.Kind == kk.kind {
				if kk.kind == Int {
					c.add(name, srcReturn+".int", "missing: an int variable needs int: {distribution: normal, mean: 50, stddev: 10}, {distribution: poisson, mean: 3} or {distribution: population_ages}")
				} else {
					c.add(name, srcReturn+".float", "missing: a float variable needs float: {distribution: normal, mean: 28, stddev: 8}")
				}
			}
			continue
		}
		d, ok := checkDistribution(c, name, key, kk.key, x)
		if ok && v.Kind == kk.kind {
			col.dist, col.mean, col.sd = d.dist, d.mean, d.sd
			info.Distribution = d.dist
			switch d.dist {
			case DistPoisson:
				col.alias, col.base = poissonTable(d.mean)
			case DistPopulationAges:
				col.alias, _ = rng.NewAlias(ageWeights())
			}
		}
	}
	// bool takes any value (upstream tests only that it is there), and a
	// bool variable gets it automatically.
	return col, info
}

func boundText(d int64, ok bool) string {
	if !ok {
		return "(open)"
	}
	return isoDate(fromEpochDays(d))
}

// expectationDate resolves a date in expectations: a fixed date or an
// expression of index_date or today. Column references have no value here.
func (p *Plan) expectationDate(x any, names map[string]int) (int64, error) {
	s, ok := dateText(x)
	if !ok {
		return 0, fmt.Errorf("%s is not a date: %s", describe(x), exprHelp)
	}
	e, err := ParseDateExpr(s)
	if err != nil {
		return 0, err
	}
	if ref := e.Column(); ref != "" {
		if _, known := names[ref]; known {
			return 0, fmt.Errorf("%q refers to the variable %q, whose values are not known when expectations are planned: use YYYY-MM-DD, index_date or today", s, ref)
		}
		return 0, fmt.Errorf("%q: unknown date name %q: use index_date, today or YYYY-MM-DD%s", s, ref, suggest(ref, []string{NameIndexDate, NameToday}))
	}
	t, err := e.Resolve(p.index, p.hasIndex, p.today)
	if err != nil {
		return 0, err
	}
	return epochDays(t), nil
}

// checkCategory checks category: {ratios: {label: share}} and returns the
// labels in byte order with integer weights.
func checkCategory(c *checker, name string, key func(string) string, cv any, v Variable) ([]string, []int64) {
	cm, isMap, _ := asMap(cv)
	if !isMap {
		c.add(name, key("category"), "%s is not a mapping: write category: {ratios: {%s}}", describe(cv), exampleRatios(v.Categories))
		return nil, nil
	}
	for _, k := range sortedKeys(cm) {
		if k != "ratios" {
			c.add(name, key("category."+k), "unknown key: category has only ratios%s", suggest(k, []string{"ratios"}))
		}
	}
	rv, ok := cm["ratios"]
	if !ok {
		c.add(name, key("category")+".ratios", "missing: write category: {ratios: {%s}}", exampleRatios(v.Categories))
		return nil, nil
	}
	rm, isMap, _ := asMap(rv)
	if !isMap || len(rm) == 0 {
		c.add(name, key("category.ratios"), "%s is not a mapping of labels to shares: write ratios: {%s}", describe(rv), exampleRatios(v.Categories))
		return nil, nil
	}
	labels := sortedKeys(rm)
	weights := make([]int64, len(labels))
	var sum float64
	bad := false
	for i, l := range labels {
		f, ok := number(rm[l])
		if !ok || f < 0 {
			bad = true
			c.add(name, key("category.ratios")+"."+l, "%s is not a share: give a number from 0 to 1", describe(rm[l]))
			continue
		}
		sum += f
		weights[i] = int64(math.Round(float64(f * ratioUnit)))
	}
	if bad {
		return nil, nil
	}
	if math.Abs(sum-1) > ratioTol {
		c.add(name, key("category.ratios"), "the ratios add up to %s, not 1: adjust them so they do (within %g)", strconv.FormatFloat(sum, 'g', 10, 64), ratioTol)
		return nil, nil
	}
	if len(v.Categories) > 0 && v.Kind == Category {
		var missing []string
		for _, l := range labels {
			if !in(v.Categories, l) {
				missing = append(missing, strconv.Quote(l))
			}
		}
		if len(missing) > 0 {
			quoted := make([]string, len(v.Categories))
			for i, l := range v.Categories {
				quoted[i] = strconv.Quote(l)
			}
			c.add(name, key("category.ratios"), "%s %s not among the categories the variable can return (%s): use only those labels",
				strings.Join(missing, ", "), map[bool]string{true: "is", false: "are"}[len(missing) == 1], strings.Join(quoted, ", "))
			return nil, nil
		}
	}
	return labels, weights
}

func exampleRatios(cats []string) string {
	if len(cats) == 0 {
		return "A: 0.6, B: 0.4"
	}
	n := min(len(cats), 3)
	parts := make([]string, n)
	share := 1 / float64(n)
	for i := 0; i < n; i++ {
		parts[i] = fmt.Sprintf("%s: %s", cats[i], strconv.FormatFloat(math.Round(share*100)/100, 'g', -1, 64))
	}
	return strings.Join(parts, ", ")
}

type distribution struct {
	dist     string
	mean, sd float64
}

// checkDistribution checks int: {...} or float: {...}.
func checkDistribution(c *checker, name string, key func(string) string, kind string, x any) (distribution, bool) {
	var d distribution
	allowed := intDists
	example := "{distribution: normal, mean: 50, stddev: 10}"
	if kind == "float" {
		allowed = []string{DistNormal}
		example = "{distribution: normal, mean: 28, stddev: 8}"
	}
	m, isMap, _ := asMap(x)
	if !isMap {
		c.add(name, key(kind), "%s is not a mapping: write %s: %s", describe(x), kind, example)
		return d, false
	}
	dv, ok := m["distribution"]
	if !ok {
		c.add(name, key(kind)+".distribution", "missing: write %s: %s", kind, example)
		return d, false
	}
	ds, _ := dv.(string)
	if !in(allowed, ds) {
		if kind == "float" {
			c.add(name, key(kind+".distribution"), "%s is not a float distribution: the only one is normal, %s", describe(dv), example)
		} else {
			c.add(name, key(kind+".distribution"), "%s is not an int distribution: use normal, poisson or population_ages%s", describe(dv), suggest(ds, allowed))
		}
		return d, false
	}
	d.dist = ds
	need := map[string][]string{DistNormal: {"mean", "stddev"}, DistPoisson: {"mean"}, DistPopulationAges: nil}[ds]
	ok = true
	for _, k := range sortedKeys(m) {
		if k != "distribution" && !in(need, k) {
			ok = false
			if k == "mean" || k == "stddev" {
				c.add(name, key(kind+"."+k), "not used by the %s distribution: remove it", ds)
			} else {
				c.add(name, key(kind+"."+k), "unknown key: %s.%s takes %s%s", kind, ds, strings.Join(append([]string{"distribution"}, need...), ", "), suggest(k, need))
			}
		}
	}
	for _, k := range need {
		v, present := m[k]
		if !present {
			ok = false
			c.add(name, key(kind)+"."+k, "missing: the %s distribution needs %s, e.g. %s: %s", ds, strings.Join(need, " and "), kind, example)
			continue
		}
		f, isNum := number(v)
		if !isNum {
			ok = false
			c.add(name, key(kind+"."+k), "%s is not a number", describe(v))
			continue
		}
		if k == "mean" {
			d.mean = f
		} else {
			d.sd = f
		}
	}
	if !ok {
		return d, false
	}
	switch {
	case d.sd < 0:
		c.add(name, key(kind+".stddev"), "%s is negative: a standard deviation is 0 or more", describe(m["stddev"]))
		return d, false
	case ds == DistPoisson && d.mean < 0:
		c.add(name, key(kind+".mean"), "%s is negative: a Poisson mean is 0 or more", describe(m["mean"]))
		return d, false
	case ds == DistPoisson && d.mean > maxPoissonMean:
		c.add(name, key(kind+".mean"), "%s is above %g, the largest Poisson mean Haven tabulates: use normal with mean %s and stddev its square root instead", describe(m["mean"]), maxPoissonMean, describe(m["mean"]))
		return d, false
	case ds == DistNormal && kind == "int" && math.Abs(d.mean)+9*d.sd > maxIntMagnitude:
		c.add(name, key(kind), "mean %s and stddev %s give integers beyond 2^53, which cannot be stored exactly: use smaller values", describe(m["mean"]), describe(m["stddev"]))
		return d, false
	case ds == DistNormal && math.Abs(d.mean)+9*d.sd > 1e300:
		c.add(name, key(kind), "mean %s and stddev %s are too large for a float column", describe(m["mean"]), describe(m["stddev"]))
		return d, false
	}
	return d, true
}

// ceilShare returns the exact count of rows with a value:
// N - floor((1 - share) N) = ceil(share N), computed on the decimal value of
// share as written (0.2 is exactly one fifth), so it matches cohort-extractor
// without its floating-point error.
func ceilShare(share float64, n uint64) uint64 {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(share, 'g', -1, 64))
	if !ok {
		return n
	}
	r.Mul(r, new(big.Rat).SetUint64(n))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsUint64() || q.Uint64() > n {
		return n
	}
	return q.Uint64()
}

// poissonTable tabulates a Poisson distribution into an alias table. Weights
// are relative to the mode and found by the ratios P(k+1)/P(k) = mean/(k+1),
// so no exponential is needed; outcomes below 2^-44 of the mode's weight are
// left out (their total is far below what a 32-bit alias coin resolves).
func poissonTable(mean float64) (*rng.Alias, int64) {
	if mean == 0 {
		a, _ := rng.NewAlias([]int64{1})
		return a, 0
	}
	const scale = 1 << 44
	mode := math.Floor(mean)
	var up, down []float64 // weights from the mode upwards, and downwards from mode-1
	for k, w := mode, 1.0; w*scale >= 0.5; k++ {
		up = append(up, w)
		w = float64(w*mean) / (k + 1)
	}
	for k, w := mode, 1.0; k > 0; k-- {
		w = float64(w*k) / mean
		if w*scale < 0.5 {
			break
		}
		down = append(down, w)
	}
	weights := make([]int64, 0, len(up)+len(down))
	for i := len(down) - 1; i >= 0; i-- {
		weights = append(weights, int64(math.Round(float64(down[i]*scale))))
	}
	for _, w := range up {
		weights = append(weights, int64(math.Round(float64(w*scale))))
	}
	a, _ := rng.NewAlias(weights)
	return a, int64(mode) - int64(len(down))
}

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedNames(names map[string]int) []string {
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
