package compare

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/artificial/gen"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// newAccumulator picks the measures of a field the way the generator
// picks its sampler: identifier rules and identifier fields first, then a
// frequency table when there is one, then date bins, cut-points or text
// shapes by type.
func newAccumulator(t *meta.Table, pf *plannedField, sc *scanner, o Options) accumulator {
	f := pf.field
	b := base{sc: sc}
	if pf.typ == meta.TypeIdentifier {
		return newIDAcc(t, pf, b, o)
	}
	b.metaNull = metaNullShare(t, f)
	if !slices.Contains(meta.Types, f.Type) {
		return &emptyAcc{base: b, reason: fmt.Sprintf("type %q is not a field type (use one of %s): nothing can be compared", f.Type, strings.Join(meta.Types, ", "))}
	}
	if !hasMass(f) {
		return &emptyAcc{base: b}
	}
	switch f.Type {
	case meta.TypeCategorical, meta.TypeBoolean, meta.TypeInteger, meta.TypeFloat:
		if len(f.Values) > 0 || f.Continuous == nil {
			return newValuesAcc(f, b)
		}
		return newContinuousAcc(f, b, o)
	case meta.TypeDate, meta.TypeDatetime:
		return newDatesAcc(f, b)
	case meta.TypeFreeText:
		return newTextAcc(f, b)
	}
	return &emptyAcc{base: b, reason: fmt.Sprintf("a field of type %s cannot be compared", f.Type)}
}

// metaNullShare is the metadata's null share, null_n / rows_n, as the
// generator apportions nulls. A field whose every entry was suppressed is
// generated empty, so its expected null share is 1.
func metaNullShare(t *meta.Table, f *meta.Field) float64 {
	if !hasMass(f) {
		return 1
	}
	rows := t.RowsN
	if f.NullN > rows {
		rows = f.NullN
	}
	if rows <= 0 || f.NullN <= 0 {
		return 0
	}
	return float64(f.NullN) / float64(rows)
}

// hasMass reports whether anything of the field survived disclosure
// control, by the generator's rule: the entries it samples from have a
// positive total.
func hasMass(f *meta.Field) bool {
	var total int64
	switch {
	case len(f.Values) > 0:
		for _, v := range f.Values {
			total += v.N
		}
	case len(f.Bins) > 0:
		for _, b := range f.Bins {
			total += b.N
		}
	case f.Continuous != nil:
		// Invalid cut-points have "mass": the accumulator reports them.
		_, ok, err := continuousCDF(f.Continuous)
		return ok || err != nil
	case f.Text != nil:
		return true
	}
	return total > 0
}

// base counts what every field has: rows, nulls, unreadable values and
// values outside the metadata.
type base struct {
	rows, nulls, invalid, outside int64
	metaNull                      float64
	sc                            *scanner
}

func (b *base) fill(f *Field) {
	f.Nulls, f.Invalid, f.Outside = b.nulls, b.invalid, b.outside
	f.MetadataNullShare = b.metaNull
	if b.rows > 0 {
		f.NullShare = float64(b.nulls) / float64(b.rows)
	}
}

// null reports whether row i of c is null: no value, or empty text (CSV
// has no other way to write a null).
func null(c *records.Column, i int) bool {
	return c.Null(i) || (c.Kind == records.Text && len(c.Text[i]) == 0)
}

// scanCell gives a value the metadata does not hold to the pattern
// scanner.
func (b *base) scanCell(c *records.Column, i int, row int64) {
	switch c.Kind {
	case records.Text:
		b.sc.text(c.Text[i], row)
	case records.Int:
		b.sc.integer(c.Ints[i], row)
	}
}

// scanOnly scans a column that is not a metadata field.
type scanOnly struct{ sc *scanner }

func (s *scanOnly) add(c *records.Column, n int, start int64) {
	b := &base{sc: s.sc}
	for i := 0; i < n; i++ {
		if !null(c, i) {
			b.scanCell(c, i, start+int64(i)+1)
		}
	}
}

func (s *scanOnly) finish(*Field, Thresholds) {}

// emptyAcc is a field with nothing to measure but its nulls: every value
// was suppressed (the generator writes it empty), or its type is unknown.
type emptyAcc struct {
	base
	reason string
}

func (e *emptyAcc) add(c *records.Column, n int, base int64) {
	e.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(c, i) {
			e.nulls++
			continue
		}
		e.outside++
		e.scanCell(c, i, base+int64(i)+1)
	}
}

func (e *emptyAcc) finish(f *Field, _ Thresholds) {
	e.fill(f)
	if e.reason != "" {
		f.Verdict = Far
		f.Reasons = append(f.Reasons, e.reason)
		return
	}
	f.Notes = append(f.Notes, "no value survived disclosure control: the generator writes the field empty")
}

// Value modes: how a frequency table's values are matched.
const (
	modeText = iota
	modeInt
	modeFloat
	modeBool
)

// valuesAcc compares a frequency table (categorical, boolean, discrete
// integer or float): counts per metadata value, TVD over non-null values.
type valuesAcc struct {
	base
	mode    int
	want    []int64
	counts  []int64
	byText  map[string]int32
	byInt   map[int64]int32
	byFloat map[float64]int32
	byBool  [2]int32 // entry of false and true; -1 when none
	tokens  map[string]int8
	buf     []byte
}

func newValuesAcc(f *meta.Field, b base) *valuesAcc {
	v := &valuesAcc{base: b, byText: map[string]int32{}, byInt: map[int64]int32{}, byFloat: map[float64]int32{},
		byBool: [2]int32{-1, -1}, tokens: map[string]int8{}}
	switch f.Type {
	case meta.TypeInteger:
		v.mode = modeInt
	case meta.TypeFloat:
		v.mode = modeFloat
	case meta.TypeBoolean:
		v.mode = modeBool
	}
	v.want = make([]int64, len(f.Values))
	v.counts = make([]int64, len(f.Values))
	// Two spellings of one value ("1" and "01" of an integer) are one
	// entry: the first, holding both counts.
	for i, e := range f.Values {
		k := int32(i)
		if j, ok := v.byText[e.V]; ok {
			k = j
		} else {
			v.byText[e.V] = k
		}
		if x, err := strconv.ParseInt(e.V, 10, 64); err == nil {
			if j, ok := v.byInt[x]; ok && v.mode == modeInt {
				k = j
			} else if !ok {
				v.byInt[x] = k
			}
		}
		if x, err := strconv.ParseFloat(e.V, 64); err == nil && !math.IsNaN(x) {
			if j, ok := v.byFloat[x]; ok && v.mode == modeFloat {
				k = j
			} else if !ok {
				v.byFloat[x] = k
			}
		}
		if truth, ok := boolToken(e.V); ok {
			t := b2i(truth)
			if v.byBool[t] >= 0 && v.mode == modeBool {
				k = v.byBool[t]
			} else if v.byBool[t] < 0 {
				v.byBool[t] = k
			}
		}
		v.want[k] += e.N
	}
	return v
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lookup returns the entry of row i, -1 when the value is in no entry,
// -2 when it does not read as the field's type.
func (v *valuesAcc) lookup(c *records.Column, i int) int32 {
	switch c.Kind {
	case records.Text:
		b := c.Text[i]
		switch v.mode {
		case modeInt:
			x, ok := parseInt(b)
			if !ok {
				return -2
			}
			return find(v.byInt, x)
		case modeFloat:
			x, ok := parseFloat(b)
			if !ok {
				return -2
			}
			return find(v.byFloat, x)
		case modeBool:
			t, ok := v.tokens[string(b)]
			if !ok {
				truth, valid := boolToken(string(b))
				t = -1
				if valid {
					t = int8(b2i(truth))
				}
				if len(v.tokens) < 64 {
					v.tokens[string(b)] = t
				}
			}
			if t < 0 {
				return -2
			}
			return v.byBool[t]
		}
		return find(v.byText, string(b))
	case records.Int:
		x := c.Ints[i]
		switch v.mode {
		case modeFloat:
			return find(v.byFloat, float64(x))
		case modeBool:
			if x != 0 && x != 1 {
				return -2
			}
			return v.byBool[x]
		case modeText:
			v.buf = strconv.AppendInt(v.buf[:0], x, 10)
			return find(v.byText, string(v.buf))
		}
		return find(v.byInt, x)
	case records.Float:
		x := c.Floats[i]
		switch v.mode {
		case modeInt:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return -1
			}
			return find(v.byInt, int64(x))
		case modeBool:
			return -2
		}
		return find(v.byFloat, x)
	case records.Bool:
		if v.mode == modeBool {
			return v.byBool[b2i(c.Bools[i])]
		}
		return find(v.byInt, int64(b2i(c.Bools[i])))
	case records.Date:
		if v.mode == modeText && dayInRange(c.Ints[i]) {
			return find(v.byText, meta.DayString(int32(c.Ints[i])))
		}
	}
	return -2
}

func find[K comparable](m map[K]int32, k K) int32 {
	if j, ok := m[k]; ok {
		return j
	}
	return -1
}

func (v *valuesAcc) add(c *records.Column, n int, base int64) {
	v.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(c, i) {
			v.nulls++
			continue
		}
		switch k := v.lookup(c, i); {
		case k >= 0:
			v.counts[k]++
		case k == -1:
			v.outside++
			v.scanCell(c, i, base+int64(i)+1)
		default:
			v.invalid++
			v.scanCell(c, i, base+int64(i)+1)
		}
	}
}

func (v *valuesAcc) finish(f *Field, th Thresholds) {
	v.fill(f)
	m := Measure{Name: MeasureTVD, Value: tvd(v.want, v.counts, v.outside+v.invalid), Limit: th.MaxTVD}
	m.check()
	f.Measures = append(f.Measures, m)
}

// datesAcc compares a date or datetime field: counts per date bin (TVD,
// with dates in no bin as mass outside), counts per day (KS against the
// CDF that spreads each bin's mass evenly over its days), and for
// datetimes the hour of day.
type datesAcc struct {
	base
	tp         *timeParser
	datetime   bool
	start, end []int64 // bins, sorted by start
	want       []int64
	counts     []int64
	overlap    bool
	first      int64           // first day of the table
	table      []int32         // bin of day first+i, -1 for none; nil when too wide
	dayN       []int64         // rows on day first+i
	days       map[int64]int64 // rows on days outside the table
	hours      [24]int64
	wantHours  []int64 // nil when the metadata has no hours
}

// maxDayTable bounds the day tables (12 bytes a day: the bin and the
// count of each day).
const maxDayTable = 1 << 21

func newDatesAcc(f *meta.Field, b base) accumulator {
	d := &datesAcc{base: b, datetime: f.Type == meta.TypeDatetime, days: map[int64]int64{}}
	d.tp = newTimeParser(f.Format, d.datetime)
	type bin struct{ s, e, n int64 }
	var bins []bin
	for i, x := range f.Bins {
		s, err1 := meta.ParseDay(x.Start)
		e, err2 := meta.ParseDay(x.End)
		if err1 != nil || err2 != nil || e < s {
			return &emptyAcc{base: b, reason: fmt.Sprintf("date bin %d (%s to %s) is not a valid bin: fix the metadata (review check AM12 says why)", i+1, x.Start, x.End)}
		}
		bins = append(bins, bin{int64(s), int64(e), x.N})
	}
	if !hasMass(f) {
		return &emptyAcc{base: b}
	}
	sort.SliceStable(bins, func(i, j int) bool { return bins[i].s < bins[j].s })
	maxEnd := int64(math.MinInt64)
	for _, x := range bins {
		if x.s <= maxEnd {
			d.overlap = true
		}
		maxEnd = max(maxEnd, x.e)
		d.start = append(d.start, x.s)
		d.end = append(d.end, x.e)
		d.want = append(d.want, x.n)
	}
	d.counts = make([]int64, len(bins))
	lo, hi := d.start[0], slices.Max(d.end)
	if hi-lo+1 <= maxDayTable {
		d.first = lo
		d.table = make([]int32, hi-lo+1)
		d.dayN = make([]int64, hi-lo+1)
		for i := range d.table {
			d.table[i] = -1
		}
		for j := len(bins) - 1; j >= 0; j-- { // the first bin wins an overlap
			for day := d.start[j]; day <= d.end[j]; day++ {
				d.table[day-lo] = int32(j)
			}
		}
	}
	if d.datetime && len(f.Hours) > 0 {
		d.wantHours = make([]int64, 24)
		for _, h := range f.Hours {
			if x, err := strconv.Atoi(h.V); err == nil && x >= 0 && x < 24 {
				d.wantHours[x] += h.N
			}
		}
	}
	return d
}

// binOf returns the bin holding day, or -1.
func (d *datesAcc) binOf(day int64) int {
	if d.table != nil {
		if day < d.first || day >= d.first+int64(len(d.table)) {
			return -1
		}
		return int(d.table[day-d.first])
	}
	j := sort.Search(len(d.start), func(i int) bool { return d.start[i] > day }) - 1
	for ; j >= 0; j-- {
		if day <= d.end[j] {
			return j
		}
		if !d.overlap {
			break
		}
	}
	return -1
}

func (d *datesAcc) add(c *records.Column, n int, base int64) {
	d.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(c, i) {
			d.nulls++
			continue
		}
		var secs int64
		ok := true
		switch c.Kind {
		case records.Text:
			secs, ok = d.tp.seconds(c.Text[i])
		case records.Date:
			secs = c.Ints[i] * 86400
			ok = dayInRange(c.Ints[i])
		case records.Datetime:
			secs = c.Ints[i]
		default:
			ok = false
		}
		day := floorDiv(secs, 86400)
		if !ok || !dayInRange(day) {
			d.invalid++
			d.scanCell(c, i, base+int64(i)+1)
			continue
		}
		if d.datetime {
			d.hours[(secs-day*86400)/3600]++
		}
		if d.table != nil && day >= d.first && day < d.first+int64(len(d.table)) {
			d.dayN[day-d.first]++
			if k := d.table[day-d.first]; k >= 0 {
				d.counts[k]++
			} else {
				d.outside++
			}
			continue
		}
		d.days[day]++
		if k := d.binOf(day); k >= 0 {
			d.counts[k]++
		} else {
			d.outside++
		}
	}
}

// binCDF returns the mass of the bins at or before day d (each bin's mass
// spread evenly over its days) as a function.
func (d *datesAcc) binCDF() func(day float64) float64 {
	var total float64
	for _, w := range d.want {
		total += float64(w)
	}
	if d.overlap {
		return func(day float64) float64 {
			var m float64
			for j := range d.start {
				span := float64(d.end[j] - d.start[j] + 1)
				m += float64(d.want[j]) * math.Min(math.Max((day-float64(d.start[j])+1)/span, 0), 1)
			}
			return m / total
		}
	}
	// Knots at each bin's first day and the day after its last.
	var c pwl
	var cum float64
	for j := range d.start {
		c.x = append(c.x, float64(d.start[j]))
		c.p = append(c.p, cum/total)
		cum += float64(d.want[j])
		c.x = append(c.x, float64(d.end[j]+1))
		c.p = append(c.p, cum/total)
	}
	return func(day float64) float64 { return c.at(day + 1) }
}

func (d *datesAcc) finish(f *Field, th Thresholds) {
	d.fill(f)
	m := Measure{Name: MeasureBinsTVD, Value: tvd(d.want, d.counts, d.outside+d.invalid), Limit: th.MaxTVD}
	m.check()
	f.Measures = append(f.Measures, m)

	ref := d.binCDF()
	for i, k := range d.dayN {
		if k > 0 {
			d.days[d.first+int64(i)] = k
		}
	}
	days := make([]int64, 0, len(d.days))
	var n int64
	for day, k := range d.days {
		days = append(days, day)
		n += k
	}
	n += d.invalid
	slices.Sort(days)
	ks := 1.0
	if n > 0 {
		// Unreadable dates sit above every day: they are mass the
		// reference does not have.
		ks = 0
		var cum int64
		for _, day := range days {
			ks = math.Max(ks, math.Abs(float64(cum)/float64(n)-ref(float64(day-1))))
			cum += d.days[day]
			ks = math.Max(ks, math.Abs(float64(cum)/float64(n)-ref(float64(day))))
		}
	}
	m = Measure{Name: MeasureKS, Value: ks, Limit: th.MaxKS}
	m.check()
	f.Measures = append(f.Measures, m)
	if d.overlap {
		f.Notes = append(f.Notes, "the metadata's date bins overlap (review check AM12 fails): a date counts in the first bin that holds it")
	}
	if d.wantHours != nil {
		m := Measure{Name: MeasureHoursTVD, Value: tvd(d.wantHours, d.hours[:], 0), Limit: th.MaxTVD}
		m.check()
		f.Measures = append(f.Measures, m)
	}
}

// continuousAcc compares a continuous field with the distribution through
// its cut-points, rounded to the field's decimals as the generator rounds
// values: the KS distance is exact while the field has at most
// Options.ExactDistinct distinct values (counted in a map), and measured
// on a histogram after that.
type continuousAcc struct {
	base
	cdf     pwl
	g       grid
	integer bool
	lo, hi  float64 // the outer edges, widened by half a grid step
	maxN    int
	exact   map[float64]int64
	hist    *histogram
}

func newContinuousAcc(f *meta.Field, b base, o Options) accumulator {
	cdf, ok, err := continuousCDF(f.Continuous)
	if err != nil {
		return &emptyAcc{base: b, reason: fmt.Sprintf("%v: fix the metadata (review check AM13 says why)", err)}
	}
	if !ok {
		return &emptyAcc{base: b}
	}
	c := &continuousAcc{base: b, cdf: cdf, integer: f.Type == meta.TypeInteger, maxN: o.ExactDistinct, exact: map[float64]int64{}}
	c.g = gridOf(f.Continuous.Decimals, c.integer)
	c.lo = cdf.x[0] - c.g.h/2 - 1e-9*math.Abs(cdf.x[0])
	c.hi = cdf.x[len(cdf.x)-1] + c.g.h/2 + 1e-9*math.Abs(cdf.x[len(cdf.x)-1])
	return c
}

func (c *continuousAcc) add(col *records.Column, n int, base int64) {
	c.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(col, i) {
			c.nulls++
			continue
		}
		var x float64
		ok := true
		switch col.Kind {
		case records.Float:
			x = col.Floats[i]
		case records.Int:
			x = float64(col.Ints[i])
			c.sc.integer(col.Ints[i], base+int64(i)+1)
		case records.Text:
			x, ok = parseFloat(col.Text[i])
			if c.integer && ok && x == math.Trunc(x) && math.Abs(x) < 1e11 {
				c.sc.integer(int64(x), base+int64(i)+1)
			}
		default:
			ok = false
		}
		if !ok {
			c.invalid++
			c.scanCell(col, i, base+int64(i)+1)
			continue
		}
		if x < c.lo || x > c.hi {
			c.outside++
		}
		if c.hist != nil {
			c.hist.add(x)
			continue
		}
		c.exact[x]++
		if len(c.exact) > c.maxN {
			c.hist = newHistogram(c.cdf, c.g)
			for v, k := range c.exact {
				c.hist.addN(v, k)
			}
			c.exact = nil
		}
	}
}

func (c *continuousAcc) finish(f *Field, th Thresholds) {
	c.fill(f)
	m := Measure{Name: MeasureKS, Limit: th.MaxKS}
	if c.hist != nil {
		m.Value, m.Resolution = c.hist.ks(c.invalid)
		f.Notes = append(f.Notes, fmt.Sprintf("more than %d distinct values: the KS distance is measured on a histogram of %d bins split at every cut-point, to within %s", c.maxN, histogramBins, num4(m.Resolution)))
	} else {
		values := make([]float64, 0, len(c.exact))
		for v := range c.exact {
			values = append(values, v)
		}
		slices.Sort(values)
		counts := make([]int64, len(values))
		for i, v := range values {
			counts[i] = c.exact[v]
		}
		if c.invalid > 0 {
			// Unreadable values sit above every value.
			values = append(values, math.Inf(1))
			counts = append(counts, c.invalid)
		}
		m.Value = ksExact(values, counts, c.g, c.cdf)
	}
	m.check()
	f.Measures = append(f.Measures, m)
}

// histogram counts values in buckets between sorted boundaries: bucket k
// holds [bounds[k-1], bounds[k]). The boundaries are equal steps between
// the outer edges plus, at every cut-point, the cut-point itself and half a
// grid step above it, so a point mass at a tied cut-point has a bucket of
// its own.
type histogram struct {
	cdf    pwl
	g      grid
	bounds []float64
	counts []int64
}

func newHistogram(cdf pwl, g grid) *histogram {
	lo, hi := cdf.x[0]-g.h, cdf.x[len(cdf.x)-1]+g.h
	if hi <= lo {
		hi = lo + 1
	}
	var b []float64
	for k := 0; k <= histogramBins; k++ {
		b = append(b, lo+(hi-lo)*float64(k)/histogramBins)
	}
	for _, x := range cdf.x {
		above := math.Nextafter(x, math.Inf(1))
		if g.h > 0 {
			above = x + g.h/2
		}
		b = append(b, x, above)
	}
	slices.Sort(b)
	b = slices.Compact(b)
	return &histogram{cdf: cdf, g: g, bounds: b, counts: make([]int64, len(b)+1)}
}

func (h *histogram) add(x float64) { h.addN(x, 1) }

func (h *histogram) addN(x float64, n int64) {
	// The number of boundaries at or below x is x's bucket.
	k := sort.Search(len(h.bounds), func(i int) bool { return h.bounds[i] > x })
	h.counts[k] += n
}

// ks returns the KS distance at the boundaries and its resolution: the
// largest share of the sample or of the reference inside one bucket that
// can hold more than one value, which bounds how much larger the distance
// can be between boundaries. (A bucket no wider than the grid step, or a
// point mass's own bucket, holds one value at most: the distance at its
// boundaries is the whole story.) invalid values sit above every
// boundary.
func (h *histogram) ks(invalid int64) (ks, resolution float64) {
	n := invalid
	for _, k := range h.counts {
		n += k
	}
	if n == 0 {
		return 1, 0
	}
	var cum int64
	prevF := 0.0
	for k, e := range h.bounds {
		cum += h.counts[k]
		g := float64(cum) / float64(n)
		f := h.g.below(h.cdf, e)
		ks = math.Max(ks, math.Abs(g-f))
		switch {
		case k == 0:
			// Below the first boundary the reference is 0 and the
			// sample only rises: the gap is largest at the boundary.
			resolution = math.Max(resolution, f)
		case e <= math.Nextafter(h.bounds[k-1], math.Inf(1)) || (h.g.h > 0 && e-h.bounds[k-1] <= h.g.h*(1-1e-9)):
			// One value at most.
		default:
			resolution = math.Max(resolution, math.Max(float64(h.counts[k])/float64(n), f-prevF))
		}
		prevF = f
	}
	// Above the last boundary the reference is 1 (or nearly: 1-prevF
	// bounds the rest) and the sample only rises towards it.
	resolution = math.Max(resolution, 1-prevF)
	return ks, resolution
}

// textAcc compares free text by its lengths in characters.
type textAcc struct {
	base
	want    []int64
	lengths map[int]int32 // length -> entry
	counts  []int64
	buf     []byte
}

func newTextAcc(f *meta.Field, b base) accumulator {
	if !hasMass(f) {
		return &emptyAcc{base: b}
	}
	t := &textAcc{base: b, lengths: map[int]int32{}}
	for _, l := range f.Text.Lengths {
		n, err := strconv.Atoi(l.V)
		if err != nil || n < 0 {
			continue
		}
		k, ok := t.lengths[n]
		if !ok {
			k = int32(len(t.want))
			t.lengths[n] = k
			t.want = append(t.want, 0)
		}
		t.want[k] += l.N
	}
	t.counts = make([]int64, len(t.want))
	return t
}

func (t *textAcc) add(c *records.Column, n int, base int64) {
	t.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(c, i) {
			t.nulls++
			continue
		}
		var s []byte
		switch c.Kind {
		case records.Text:
			s = c.Text[i]
			t.sc.text(s, base+int64(i)+1)
		case records.Int:
			s = strconv.AppendInt(t.buf[:0], c.Ints[i], 10)
			t.sc.integer(c.Ints[i], base+int64(i)+1)
		case records.Float:
			s = strconv.AppendFloat(t.buf[:0], c.Floats[i], 'g', -1, 64)
		default:
			t.invalid++
			continue
		}
		if k, ok := t.lengths[utf8.RuneCount(s)]; ok {
			t.counts[k]++
		} else {
			t.outside++
		}
	}
}

func (t *textAcc) finish(f *Field, th Thresholds) {
	t.fill(f)
	m := Measure{Name: MeasureLengthsTVD, Value: tvd(t.want, t.counts, t.outside+t.invalid), Limit: th.MaxTVD}
	m.check()
	f.Measures = append(f.Measures, m)
}

// idAcc checks an identifier: distinct values (64-bit hashes of the
// values, 8 bytes a row, sorted at the end; above Options.IDRows a hash
// sample), the reserved prefix of pattern identifiers, and for the parent
// key of a relationship the histogram of rows per entity.
//
// The hashes are kept in 256 buckets by their low byte: a value and its
// copies share a bucket, so each bucket is sorted and counted on its own,
// and growing one bucket copies 1/256 of the hashes, not all of them.
type idAcc struct {
	base
	pattern  bool
	prefix   []byte
	entity   *meta.Relationship // set when the identifier is a relationship's parent
	buckets  [256][]uint64
	held     int // hashes in the buckets
	maxN     int
	shift    uint // keep hashes below 2^(64-shift)
	nonNull  int64
	prefixed int64
	note     string
}

func newIDAcc(t *meta.Table, pf *plannedField, b base, o Options) accumulator {
	a := &idAcc{base: b, maxN: o.IDRows}
	id := pf.id
	if id == nil {
		a.note = "the metadata gives no identifier spec (kind, pattern, scope): only distinctness is checked"
	} else {
		if id.Kind == "pattern" || id.Kind == "" {
			a.pattern = true
			if p, err := gen.ParsePattern(id.Pattern); err == nil {
				a.prefix = []byte(p.Prefix())
			} else {
				a.note = fmt.Sprintf("the identifier pattern does not parse (%v): the prefix is not checked", err)
			}
		}
		if id.Scope == "entity" {
			for i := range t.Relationships {
				if t.Relationships[i].Parent == pf.name {
					a.entity = &t.Relationships[i]
					break
				}
			}
		}
	}
	return a
}

// fnv1a hashes a value; mix spreads the bits so that the top bits are
// uniform, which the sample relies on.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

func (a *idAcc) add(c *records.Column, n int, base int64) {
	a.rows += int64(n)
	for i := 0; i < n; i++ {
		if null(c, i) {
			a.nulls++
			continue
		}
		a.nonNull++
		var h uint64
		switch c.Kind {
		case records.Text:
			s := c.Text[i]
			h = fnv1a(s)
			if a.pattern && len(a.prefix) > 0 && len(s) >= len(a.prefix) && string(s[:len(a.prefix)]) == string(a.prefix) {
				a.prefixed++
			}
		case records.Int, records.Date, records.Datetime:
			h = mix(uint64(c.Ints[i]) ^ 0x9E3779B97F4A7C15)
		case records.Float:
			h = mix(math.Float64bits(c.Floats[i]))
		case records.Bool:
			h = mix(uint64(b2i(c.Bools[i])) + 1)
		}
		a.scanCell(c, i, base+int64(i)+1)
		if a.shift > 0 && h>>(64-a.shift) != 0 {
			continue
		}
		a.buckets[h&255] = append(a.buckets[h&255], h)
		a.held++
		if a.held >= a.maxN {
			a.halve()
		}
	}
}

// halve keeps the half of the sample whose next hash bit is 0. A value
// and its duplicates share a hash, so the sample keeps or drops them
// together and duplicates stay visible.
func (a *idAcc) halve() {
	for a.held >= a.maxN && a.shift < 63 {
		a.shift++
		a.held = 0
		for b, hs := range a.buckets {
			out := hs[:0]
			for _, h := range hs {
				if h>>(64-a.shift) == 0 {
					out = append(out, h)
				}
			}
			a.buckets[b] = out
			a.held += len(out)
		}
	}
}

func (a *idAcc) finish(f *Field, th Thresholds) {
	a.fill(f)
	sampled := a.shift > 0
	var distinct int64
	var runs []int64 // rows per distinct value
	for _, hs := range a.buckets {
		slices.Sort(hs)
		for i := 0; i < len(hs); {
			j := i + 1
			for j < len(hs) && hs[j] == hs[i] {
				j++
			}
			distinct++
			if a.entity != nil {
				runs = append(runs, int64(j-i))
			}
			i = j
		}
	}
	share := 1.0
	if a.held > 0 {
		share = float64(distinct) / float64(a.held)
	}
	if a.entity == nil {
		m := Measure{Name: MeasureDistinct, Value: share, Op: ">=", Limit: 1, Sampled: sampled}
		m.check()
		f.Measures = append(f.Measures, m)
		if dups := int64(a.held) - distinct; dups > 0 {
			what := "rows repeat"
			if dups == 1 {
				what = "row repeats"
			}
			if sampled {
				f.Notes = append(f.Notes, fmt.Sprintf("in a hash sample of %d of the %d values, %d %s an earlier value", a.held, a.nonNull, dups, what))
			} else {
				f.Notes = append(f.Notes, fmt.Sprintf("%d %s an earlier value: identifiers must be unique", dups, what))
			}
		}
	} else {
		// An entity's identifier repeats on each of its rows: its
		// distinct share is 1 / (mean rows per entity), shown for
		// information, and the rows per entity are compared with the
		// relationship's cardinalities.
		f.Measures = append(f.Measures, Measure{Name: MeasureDistinct, Value: share, Op: "info", OK: true, Sampled: sampled})
		want := make([]int64, len(a.entity.Cardinalities))
		got := make([]int64, len(want))
		var outside int64
		for i, b := range a.entity.Cardinalities {
			want[i] = b.N
		}
		for _, r := range runs {
			k := -1
			for i, b := range a.entity.Cardinalities {
				if r >= int64(b.Min) && (b.Max == 0 || r <= int64(b.Max)) {
					k = i
					break
				}
			}
			if k < 0 {
				outside++
			} else {
				got[k]++
			}
		}
		m := Measure{Name: MeasureCardinality, Value: tvd(want, got, outside), Limit: th.MaxTVD, Sampled: sampled}
		m.check()
		f.Measures = append(f.Measures, m)
	}
	if a.pattern && len(a.prefix) > 0 {
		share := 1.0
		if a.nonNull > 0 {
			share = float64(a.prefixed) / float64(a.nonNull)
		}
		m := Measure{Name: MeasurePrefix, Value: share, Op: ">=", Limit: 1}
		m.check()
		f.Measures = append(f.Measures, m)
	}
	if sampled {
		f.Notes = append(f.Notes, fmt.Sprintf("%d values: distinctness is checked on a hash sample of 1 in %d (every copy of a sampled value is kept, so repeats stay visible)", a.nonNull, uint64(1)<<a.shift))
	}
	if a.note != "" {
		f.Notes = append(f.Notes, a.note)
	}
}
