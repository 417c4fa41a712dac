package datasetreport

import (
	"cmp"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/records"
)

// topN is how many values of a categorical column are listed; the rest
// are counted together as other values.
const topN = 20

// targetBins is about how many bins a number column's histogram has.
const targetBins = 10

// showExtremes says whether number columns show their exact minimum and
// maximum. Each is one record's value, which disclosure rules for
// released outputs treat as identifying, so by default the rows are
// present but withheld.
var showExtremes = false

// identifierColumn is summarised by type and missing values only, as
// upstream does: its distribution describes pseudonyms, not patients.
const identifierColumn = "patient_id"

// binning is a histogram's equal-width bins: bin i holds values in
// [lo + i*step, lo + (i+1)*step).
type binning struct {
	lo, step float64
	n        int
	isInt    bool
	single   bool // every value is lo: one bin
	dec      int  // decimals of the edges
}

// newBinning chooses round-numbered bins covering [min, max]; false when
// the range is too wide to bin.
func newBinning(lo, hi float64, isInt bool) (*binning, bool) {
	span := hi - lo
	switch {
	case math.IsNaN(span) || math.IsInf(span, 0) || span < 0:
		return nil, false
	case span == 0:
		return &binning{lo: lo, step: 1, n: 1, isInt: isInt, single: true}, true
	}
	var step float64
	if isInt && span < 2*targetBins {
		step = 1
	} else {
		raw := span / targetBins
		base := math.Pow(10, math.Floor(math.Log10(raw)))
		step = 10 * base
		for _, m := range []float64{1, 2, 5} {
			if m*base >= raw {
				step = m * base
				break
			}
		}
		if isInt && step < 1 {
			step = 1
		}
	}
	start := math.Floor(lo/step) * step
	n := int(math.Floor((hi-start)/step)) + 1
	if n < 1 || n > 4*targetBins || math.IsInf(start, 0) {
		return nil, false
	}
	return &binning{lo: start, step: step, n: n, isInt: isInt, dec: max(0, int(-math.Floor(math.Log10(step))))}, true
}

// index is the bin holding v.
func (b *binning) index(v float64) int {
	if b.single {
		return 0
	}
	i := int(math.Floor((v - b.lo) / b.step))
	return min(max(i, 0), b.n-1)
}

func (b *binning) edge(i int) string {
	e := b.lo + float64(i)*b.step
	if e == 0 {
		e = 0 // no "-0"
	}
	if b.isInt {
		return strconv.FormatFloat(e, 'f', 0, 64)
	}
	return strconv.FormatFloat(e, 'f', b.dec, 64)
}

// label names bin i.
func (b *binning) label(i int) string {
	switch {
	case b.single:
		return formatNumber(b.lo)
	case b.isInt && b.step == 1:
		return b.edge(i)
	case b.isInt:
		last := b.lo + float64(i+1)*b.step - 1
		return b.edge(i) + " to " + strconv.FormatFloat(last, 'f', 0, 64)
	}
	return b.edge(i) + " to under " + b.edge(i+1)
}

// formatNumber writes a statistic: whole numbers as integers, others
// with six significant digits (no exponent below a quadrillion).
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e15:
		if v == 0 {
			v = 0
		}
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1e5 && a < 1e15:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// view is what the template renders.
type view struct {
	Input    string
	Rows     string
	Columns  int
	Rule     string
	Overview []overviewRow
	Sections []section
}

type overviewRow struct {
	ID, Name, Type, Missing, MissingPct string
}

type section struct {
	ID, Name, Type, Missing, MissingPct string
	Notes                               []string
	Stats                               []stat
	Table                               *table
}

type stat struct{ Label, Value string }

type table struct {
	Caption  string
	Heading  string // of the label column
	Rows     []tableRow
	Chart    chart
	PctTitle string
}

type tableRow struct{ Label, Count, Pct string }

// chart is a bar per table row, heights proportional to the released
// counts (a withheld count has no bar).
type chart struct {
	W, H, Base string
	Bars       []bar
}

type bar struct{ X, Y, W, H string }

const (
	chartW = 400.0
	chartH = 80.0
)

func svgNum(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

func newChart(counts []controlled) chart {
	c := chart{W: svgNum(chartW), H: svgNum(chartH + 1), Base: svgNum(chartH + 0.5)}
	var top int64
	for _, n := range counts {
		if n.ok {
			top = max(top, n.n)
		}
	}
	if len(counts) == 0 {
		return c
	}
	bw := chartW / float64(len(counts))
	for i, n := range counts {
		if !n.ok || top == 0 {
			continue
		}
		h := chartH * float64(n.n) / float64(top)
		c.Bars = append(c.Bars, bar{X: svgNum(float64(i)*bw + 0.5), Y: svgNum(chartH - h), W: svgNum(max(bw-1, 0.5)), H: svgNum(h)})
	}
	return c
}

// newTable builds a distribution table from raw counts, controlling each.
func newTable(caption, heading string, labels []string, raw []int64, present controlled) *table {
	t := &table{Caption: caption, Heading: heading, PctTitle: "% of values present"}
	counts := make([]controlled, len(raw))
	for i, n := range raw {
		counts[i] = ctl(n)
		t.Rows = append(t.Rows, tableRow{Label: labels[i], Count: counts[i].String(), Pct: counts[i].percentOf(present)})
	}
	t.Chart = newChart(counts)
	return t
}

// buildView summarises a profile for the report; every count passes
// through control on its way in.
func buildView(input string, p *profile, hist [][]int64, bins []*binning) *view {
	rows := ctl(p.rows)
	v := &view{Input: input, Rows: rows.String(), Columns: len(p.cols), Rule: ruleText}
	for j, c := range p.cols {
		id := "c" + strconv.Itoa(j+1)
		missing := ctl(c.nulls)
		typ := c.typ()
		s := section{ID: id, Name: c.name, Type: typ.String(), Missing: missing.String(), MissingPct: missing.percentOf(rows)}
		v.Overview = append(v.Overview, overviewRow{ID: id, Name: c.name, Type: s.Type, Missing: s.Missing, MissingPct: s.MissingPct})
		present := ctl(c.n)
		switch {
		case c.name == identifierColumn:
			s.Notes = append(s.Notes, "An identifier column: its values are not summarised.")
		case typ == typeEmpty:
			s.Notes = append(s.Notes, "Every value is missing.")
		case typ == typeBool:
			s.Table = boolTable(c, present)
		case typ == typeCategorical:
			if c.overflow {
				s.Notes = append(s.Notes, "More than "+groupDigits(int64(maxDistinct))+" distinct values: too many to tabulate.")
			} else {
				s.Table = categoryTable(c, present)
			}
		case typ.numeric():
			numberSummary(&s, c, present, hist[j], bins[j])
		case typ == typeDate || typ == typeDatetime:
			s.Table = dateTable(c, present)
		}
		v.Sections = append(v.Sections, s)
	}
	return v
}

func boolTable(c *column, present controlled) *table {
	var raw [2]int64
	words := c.kind != records.Text || !c.canBool01 // typed booleans and true/false text
	for j, k := range c.keys {
		if words {
			if w := boolWord([]byte(k)); w >= 0 {
				raw[w] += c.counts[j]
			}
			continue
		}
		if f, err := strconv.ParseFloat(k, 64); err == nil && (f == 0 || f == 1) {
			raw[int(f)] += c.counts[j]
		}
	}
	labels := []string{"0", "1"}
	if words {
		labels = []string{"false", "true"}
	}
	return newTable("Counts of each value.", "Value", labels, raw[:], present)
}

func categoryTable(c *column, present controlled) *table {
	order := make([]int, len(c.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(c.counts[b], c.counts[a]), strings.Compare(c.keys[a], c.keys[b]))
	})
	var shown []int
	var other int64
	for _, i := range order {
		if _, ok := control(c.counts[i]); ok && len(shown) < topN {
			shown = append(shown, i)
			continue
		}
		other += c.counts[i]
	}
	// List by released count, so that the order reveals nothing the
	// rounded counts do not.
	slices.SortStableFunc(shown, func(a, b int) int {
		na, _ := control(c.counts[a])
		nb, _ := control(c.counts[b])
		return cmp.Or(cmp.Compare(nb, na), strings.Compare(c.keys[a], c.keys[b]))
	})
	var labels []string
	var raw []int64
	for _, i := range shown {
		labels = append(labels, c.keys[i])
		raw = append(raw, c.counts[i])
	}
	caption := "Counts of each value."
	if other > 0 {
		labels = append(labels, "(all other values)")
		raw = append(raw, other)
		caption = "Counts of the " + strconv.Itoa(len(shown)) + " most common values whose counts can be shown; values beyond them, and values too rare to show, are counted together as all other values."
		if len(shown) == 0 {
			caption = "No value is common enough to show on its own; all are counted together."
		}
	}
	return newTable(caption, "Value", labels, raw, present)
}

func numberSummary(s *section, c *column, present controlled, hist []int64, b *binning) {
	if !present.ok {
		s.Notes = append(s.Notes, "Too few values are present to summarise them safely.")
		return
	}
	isInt := c.typ() == typeInt
	qs := []float64{0.25, 0.5, 0.75}
	var qv []float64
	if c.overflow {
		qv = c.sk.quantiles(qs)
		s.Notes = append(s.Notes, "The column has more than "+groupDigits(int64(maxDistinct))+
			" distinct values, so its quartiles are estimates (each within about half a percent of the values of its true position); the histogram counts are exact.")
	} else {
		vals := c.values()
		for _, q := range qs {
			qv = append(qv, exactQuantile(vals, c.n, q))
		}
		if b != nil {
			hist = make([]int64, b.n)
			for _, vc := range vals {
				hist[b.index(vc.v)] += vc.n
			}
		}
	}
	lo, hi := redacted, redacted
	if showExtremes {
		lo, hi = formatNumber(c.min), formatNumber(c.max)
	} else {
		s.Notes = append(s.Notes, "The minimum and maximum are each one record's value, so they are withheld; the histogram shows the range of the values in round-numbered bins.")
	}
	s.Stats = []stat{
		{"Minimum", lo},
		{"Lower quartile", formatNumber(qv[0])},
		{"Median", formatNumber(qv[1])},
		{"Upper quartile", formatNumber(qv[2])},
		{"Maximum", hi},
	}
	if b == nil {
		s.Notes = append(s.Notes, "The values span too wide a range for a histogram.")
		return
	}
	labels := make([]string, b.n)
	for i := range labels {
		labels[i] = b.label(i)
	}
	caption := "Counts of values in equal-width bins."
	if !isInt && !b.single {
		caption += " Each bin holds values from its lower edge up to, but not including, its upper edge."
	}
	s.Table = newTable(caption, "Range", labels, hist, present)
}

// exactQuantile is the q-quantile of n values (sorted distinct values with
// counts), interpolating linearly between the two nearest order
// statistics.
func exactQuantile(vals []valCount, n int64, q float64) float64 {
	h := q * float64(n-1)
	lo := int64(math.Floor(h))
	a, b := orderStat(vals, lo), orderStat(vals, min(lo+1, n-1))
	return a + (h-float64(lo))*(b-a)
}

// orderStat is the k-th smallest value (0-based).
func orderStat(vals []valCount, k int64) float64 {
	var cum int64
	for _, vc := range vals {
		cum += vc.n
		if k < cum {
			return vc.v
		}
	}
	return vals[len(vals)-1].v
}

// dateTable counts dates per month when they span at most three years,
// else per year, decade or century, whichever first gives at most 40
// rows. Every period between the first and the last is listed.
func dateTable(c *column, present controlled) *table {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for m := range c.months {
		first, last = min(first, m), max(last, m)
	}
	if last-first < 36 {
		var labels []string
		var raw []int64
		for m := first; m <= last; m++ {
			y, mo := floorDiv(m, 12), m-floorDiv(m, 12)*12+1
			labels = append(labels, year(y)+"-"+pad2(mo))
			raw = append(raw, c.months[m])
		}
		return newTable("Counts of dates in each month.", "Month", labels, raw, present)
	}
	fy, ly := floorDiv(first, 12), floorDiv(last, 12)
	width, name := int64(1), "year"
	for _, w := range []struct {
		n    int64
		name string
	}{{1, "year"}, {10, "decade"}, {100, "century"}, {1000, "millennium"}} {
		width, name = w.n, w.name
		if floorDiv(ly, w.n)-floorDiv(fy, w.n) < 40 {
			break
		}
	}
	counts := map[int64]int64{}
	for m, n := range c.months {
		counts[floorDiv(floorDiv(m, 12), width)] += n
	}
	var labels []string
	var raw []int64
	for p := floorDiv(fy, width); p <= floorDiv(ly, width); p++ {
		if width == 1 {
			labels = append(labels, year(p))
		} else {
			labels = append(labels, year(p*width)+" to "+year(p*width+width-1))
		}
		raw = append(raw, counts[p])
	}
	heading := strings.ToUpper(name[:1]) + name[1:]
	return newTable("Counts of dates in each "+name+".", heading, labels, raw, present)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func year(y int64) string {
	s := strconv.FormatInt(y, 10)
	if y >= 0 && len(s) < 4 {
		s = strings.Repeat("0", 4-len(s)) + s
	}
	return s
}

// render writes the report.
func render(w io.Writer, v *view) error {
	return reportTemplate.Execute(w, v)
}

// The page loads nothing and runs nothing: no script, no style sheet or
// style attribute (release rules treat styles as a place to hide content,
// disclosure rule F7b), no font or image, no event handler; html/template
// escapes every value taken from the data. Presentation uses plain HTML
// attributes (table borders, SVG fill and stroke).
var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dataset report: {{.Input}}</title>
</head>
<body>
<h1>Dataset report</h1>
<p class="v">{{.Input}}</p>
<h2>Summary</h2>
<table border="1" cellpadding="4">
<tr><th>Rows</th><td class="n count">{{.Rows}}</td></tr>
<tr><th>Columns</th><td class="n">{{.Columns}}</td></tr>
</table>
<p class="rule">Disclosure control: {{.Rule}}</p>
<h2>Columns</h2>
<table border="1" cellpadding="4">
<tr><th>Column</th><th>Type</th><th>Missing</th><th>% missing</th></tr>
{{range .Overview}}<tr><td class="v"><a href="#{{.ID}}">{{.Name}}</a></td><td>{{.Type}}</td><td class="n count">{{.Missing}}</td><td class="n">{{.MissingPct}}</td></tr>
{{end}}</table>
{{range .Sections}}
<section id="{{.ID}}">
<h3 class="v">{{.Name}}</h3>
<table border="1" cellpadding="4">
<tr><th>Type</th><td>{{.Type}}</td></tr>
<tr><th>Missing</th><td class="n count">{{.Missing}}</td></tr>
<tr><th>% missing</th><td class="n">{{.MissingPct}}</td></tr>
</table>
{{range .Notes}}<p class="caption">{{.}}</p>
{{end}}{{if .Stats}}<table border="1" cellpadding="4">
{{range .Stats}}<tr><th>{{.Label}}</th><td class="n">{{.Value}}</td></tr>
{{end}}</table>
{{end}}{{with .Table}}<svg width="{{.Chart.W}}" height="{{.Chart.H}}" viewBox="0 0 {{.Chart.W}} {{.Chart.H}}" role="img" aria-label="Bar chart of the counts in the table below">
<line x1="0" y1="{{.Chart.Base}}" x2="{{.Chart.W}}" y2="{{.Chart.Base}}" stroke="#888"></line>
{{range .Chart.Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#4a6fa5"></rect>
{{end}}</svg>
<table border="1" cellpadding="4">
<tr><th>{{.Heading}}</th><th>Count</th><th>{{.PctTitle}}</th></tr>
{{range .Rows}}<tr><td class="v">{{.Label}}</td><td class="n count">{{.Count}}</td><td class="n">{{.Pct}}</td></tr>
{{end}}</table>
<p class="caption">{{.Caption}}</p>
{{end}}</section>
{{end}}
<p class="caption">Written by Haven's dataset-report. This page holds disclosure-controlled aggregates only; it loads nothing and runs no script.</p>
</body>
</html>
`))
