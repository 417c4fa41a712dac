package meta

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The HTML review report: one self-contained page (inline CSS, inline SVG,
// no script, nothing loaded from elsewhere) for the person reviewing the
// metadata. Every value goes through html/template, so a value such as
// "<script>" is shown, never run.

// chartMaxBars caps the bars of a frequency-table chart; the table below
// the chart always lists every value.
const chartMaxBars = 60

// chart geometry, in SVG user units.
const (
	chartW = 640.0
	chartH = 120.0
)

// WriteHTMLFile writes the HTML report of doc and its review to path,
// atomically.
func WriteHTMLFile(path string, doc *Document, rep *ReviewReport) error {
	var b bytes.Buffer
	if err := WriteHTML(&b, doc, rep); err != nil {
		return err
	}
	return WriteAtomic(path, b.Bytes())
}

// WriteHTML writes the HTML report of doc and its review rep.
func WriteHTML(w io.Writer, doc *Document, rep *ReviewReport) error {
	if doc == nil {
		doc = &Document{}
	}
	return reportTemplate.Execute(w, buildView(doc, rep))
}

type htmlView struct {
	Doc      *Document
	Rep      *ReviewReport
	Tables   []htmlTable
	Findings []Finding // findings of no table (thresholds, the document)
}

type htmlTable struct {
	Name, EntityKey, RowKey string
	RowsN                   string
	Findings                []Finding // of the table itself, not a field
	Fields                  []htmlField
	Rels                    []htmlRel
	Derived                 []Derived
}

type htmlField struct {
	Name, Type, Format, CoarsestGrain string
	NullN, NNonNull                   string
	Verdict                           Verdict
	Findings                          []Finding
	Rows                              []htmlRow // values, bins, hours or lengths
	RowsLabel                         string
	Collapse                          bool
	Chart                             *svgChart
	HourRows                          []htmlRow
	HourChart                         *svgChart
	Cuts                              []htmlRow
	CutChart                          *svgChart
	Continuous                        *Continuous
	Text                              *TextShape
	Identifier                        *IdentifierSpec
}

type htmlRow struct {
	Label, N, Share string
	Verdict         Verdict // the worst finding at this row, "" if none
}

type htmlRel struct {
	Parent, Child, MaxChildren string
	Rows                       []htmlRow
	Chart                      *svgChart
}

type svgChart struct {
	Label           string
	W, H            float64
	Bars            []svgBar
	Line            string // polyline points, for a CDF
	XMin, XMax      string
	YMax            string
	Caption         string
	BaseY, LabelY   float64
	RightX, MiddleX float64
}

type svgBar struct {
	X, Y, W, H string
	Title      string
	Flag       bool
}

// group writes n with thousands separators.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func svgNum(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

func percentOf(n, total int64) string {
	if total <= 0 {
		return ""
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
}

func buildView(doc *Document, rep *ReviewReport) *htmlView {
	if rep == nil {
		rep = Review(doc, ReviewOptions{})
	}
	v := &htmlView{Doc: doc, Rep: rep}
	// Findings by table, field and location.
	byField := map[[2]string][]Finding{}
	atLoc := map[string]Verdict{}
	for _, f := range rep.Findings {
		if f.Table == "" {
			v.Findings = append(v.Findings, f)
			continue
		}
		byField[[2]string{f.Table, f.Field}] = append(byField[[2]string{f.Table, f.Field}], f)
		atLoc[f.Location] = worseVerdict(atLoc[f.Location], f.Verdict)
	}
	for ti := range doc.Tables {
		t := &doc.Tables[ti]
		ht := htmlTable{Name: t.Name, EntityKey: t.EntityKey, RowKey: t.RowKey, RowsN: groupDigits(t.RowsN),
			Findings: byField[[2]string{t.Name, ""}]}
		if t.Postprocess != nil {
			ht.Derived = t.Postprocess.Derived
		}
		for fi := range t.Fields {
			ht.Fields = append(ht.Fields, buildField(t, &t.Fields[fi], byField[[2]string{t.Name, t.Fields[fi].Name}], atLoc))
		}
		for _, r := range t.Relationships {
			hr := htmlRel{Parent: r.Parent, Child: r.Child, MaxChildren: strconv.Itoa(r.MaxChildren)}
			var total int64
			for _, c := range r.Cardinalities {
				total += c.N
			}
			var labels []string
			var ns []int64
			for _, c := range r.Cardinalities {
				item := cardItem(c)
				hr.Rows = append(hr.Rows, htmlRow{Label: item, N: groupDigits(c.N), Share: percentOf(c.N, total),
					Verdict: atLoc[findingLoc(t.Name, r.Parent, item)]})
				labels = append(labels, item)
				ns = append(ns, c.N)
			}
			hr.Chart = barChart("entities by rows per entity", labels, ns, nil)
			ht.Rels = append(ht.Rels, hr)
		}
		v.Tables = append(v.Tables, ht)
	}
	return v
}

func buildField(t *Table, f *Field, findings []Finding, atLoc map[string]Verdict) htmlField {
	hf := htmlField{Name: f.Name, Type: f.Type, Format: f.Format, CoarsestGrain: f.CoarsestGrain,
		Verdict: VerdictPass, Findings: findings, Continuous: f.Continuous, Text: f.Text, Identifier: f.Identifier}
	if f.NullN != 0 {
		hf.NullN = groupDigits(f.NullN)
	}
	if f.NNonNull != 0 {
		hf.NNonNull = groupDigits(f.NNonNull)
	}
	for _, x := range findings {
		hf.Verdict = worseVerdict(hf.Verdict, x.Verdict)
	}
	// values tabulates and charts a frequency table; item gives a value's
	// location item, to mark the rows that have findings.
	values := func(label string, vs []Value, item func(string) string) ([]htmlRow, *svgChart) {
		var total int64
		for _, x := range vs {
			total += x.N
		}
		var rows []htmlRow
		labels := make([]string, len(vs))
		ns := make([]int64, len(vs))
		flags := make([]bool, len(vs))
		for i, x := range vs {
			vd := atLoc[findingLoc(t.Name, f.Name, item(x.V))]
			rows = append(rows, htmlRow{Label: x.V, N: groupDigits(x.N), Share: percentOf(x.N, total), Verdict: vd})
			labels[i], ns[i], flags[i] = x.V, x.N, vd != ""
		}
		return rows, barChart(label, labels, ns, flags)
	}
	switch {
	case len(f.Values) > 0:
		hf.RowsLabel = "value"
		hf.Rows, hf.Chart = values("value", f.Values, showValue)
	case len(f.Bins) > 0:
		var total int64
		for _, b := range f.Bins {
			total += b.N
		}
		for _, b := range f.Bins {
			hf.Rows = append(hf.Rows, htmlRow{Label: b.Start + " .. " + b.End + " (" + b.Grain + ")", N: groupDigits(b.N),
				Share: percentOf(b.N, total), Verdict: atLoc[findingLoc(t.Name, f.Name, binItem(b))]})
		}
		hf.RowsLabel = "date bin"
		hf.Chart = dateChart(f.Bins)
	case f.Text != nil:
		hf.RowsLabel = "length"
		hf.Rows, hf.Chart = values("length", f.Text.Lengths, func(s string) string { return "length " + showValue(s) })
	}
	if len(f.Hours) > 0 {
		hf.HourRows, hf.HourChart = values("hour", f.Hours, func(s string) string { return "hour " + showValue(s) })
		if c := hourChart(f.Hours); c != nil {
			hf.HourChart = c
		}
	}
	if c := f.Continuous; c != nil {
		for i, x := range c.Cuts {
			p := (i + 1) * c.Step
			if c.Step == 1 {
				p = i + 2
			}
			hf.Cuts = append(hf.Cuts, htmlRow{Label: strconv.Itoa(p), N: formatCut(x, c.Decimals),
				Verdict: atLoc[findingLoc(t.Name, f.Name, fmt.Sprintf("cut %d", i+1))]})
		}
		hf.CutChart = cdfChart(c)
	}
	hf.Collapse = len(hf.Rows) > 30
	return hf
}

// barChart draws one bar per value, at most chartMaxBars, heights
// proportional to the counts.
func barChart(label string, labels []string, ns []int64, flags []bool) *svgChart {
	if len(ns) == 0 {
		return nil
	}
	shown := min(len(ns), chartMaxBars)
	var top int64 = 1
	for _, n := range ns[:shown] {
		top = max(top, n)
	}
	c := newChart(label)
	bw := chartW / float64(shown)
	for i := 0; i < shown; i++ {
		h := math.Max(0, float64(ns[i])/float64(top)*chartH)
		c.Bars = append(c.Bars, svgBar{X: svgNum(float64(i)*bw + 0.5), Y: svgNum(chartH - h), W: svgNum(math.Max(bw-1, 0.5)), H: svgNum(h),
			Title: labels[i] + ": " + groupDigits(ns[i]), Flag: flags != nil && flags[i]})
	}
	c.YMax = groupDigits(top)
	c.XMin, c.XMax = labels[0], labels[shown-1]
	c.Caption = fmt.Sprintf("%d %ss", len(ns), label)
	if shown < len(ns) {
		c.Caption = fmt.Sprintf("the first %d of %d %ss, in metadata order", shown, len(ns), label)
	}
	return c
}

// hourChart draws the 24 hours of the day, empty hours as gaps; nil when
// an hour is not 0-23 (AM12 reports it) so the plain bars are drawn.
func hourChart(hours []Value) *svgChart {
	ns := make([]int64, 24)
	labels := make([]string, 24)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	for _, h := range hours {
		i, err := strconv.Atoi(h.V)
		if err != nil || i < 0 || i > 23 {
			return nil
		}
		ns[i] += h.N
	}
	c := barChart("hour", labels, ns, nil)
	c.Caption = "hours of the day, 0 to 23"
	return c
}

func newChart(label string) *svgChart {
	return &svgChart{Label: label, W: chartW, H: chartH + 18, BaseY: chartH, LabelY: chartH + 14, RightX: chartW, MiddleX: chartW / 2}
}

// dateChart draws date bins on a time axis: each bin as wide as its days,
// as high as its records per day, so coarse bins do not tower.
func dateChart(bins []DateBin) *svgChart {
	type span struct {
		s, e time.Time
		n    int64
		lbl  string
	}
	var spans []span
	var lo, hi time.Time
	for _, b := range bins {
		s, err1 := time.Parse(binDateLayout, b.Start)
		e, err2 := time.Parse(binDateLayout, b.End)
		if err1 != nil || err2 != nil || e.Before(s) {
			continue
		}
		e = e.AddDate(0, 0, 1)
		spans = append(spans, span{s, e, b.N, b.Start + ".." + b.End})
		if lo.IsZero() || s.Before(lo) {
			lo = s
		}
		if e.After(hi) {
			hi = e
		}
	}
	if len(spans) == 0 {
		return nil
	}
	total := hi.Sub(lo).Hours() / 24
	top := 0.0
	for _, sp := range spans {
		top = math.Max(top, float64(sp.n)/(sp.e.Sub(sp.s).Hours()/24))
	}
	if top <= 0 {
		top = 1
	}
	c := newChart("date bin")
	for _, sp := range spans {
		days := sp.e.Sub(sp.s).Hours() / 24
		x := sp.s.Sub(lo).Hours() / 24 / total * chartW
		w := math.Max(days/total*chartW, 0.5)
		h := math.Max(0, float64(sp.n)/days/top*chartH)
		c.Bars = append(c.Bars, svgBar{X: svgNum(x), Y: svgNum(chartH - h), W: svgNum(w), H: svgNum(h),
			Title: fmt.Sprintf("%s: %s (%.1f a day)", sp.lbl, groupDigits(sp.n), float64(sp.n)/days)})
	}
	c.XMin, c.XMax = lo.Format(binDateLayout), hi.AddDate(0, 0, -1).Format(binDateLayout)
	c.YMax = strconv.FormatFloat(top, 'f', 1, 64) + " a day"
	c.Caption = fmt.Sprintf("%d bins; height is records per day", len(spans))
	return c
}

// cdfChart draws the cumulative distribution through the cut-points (and
// the declared bounds, at 0 and 100%).
func cdfChart(c *Continuous) *svgChart {
	type pt struct{ x, p float64 }
	var pts []pt
	if c.Bounds != nil {
		pts = append(pts, pt{c.Bounds[0], 0})
	}
	for i, x := range c.Cuts {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		p := float64((i + 1) * c.Step)
		if c.Step == 1 {
			p = float64(i + 2)
		}
		pts = append(pts, pt{x, p})
	}
	if c.Bounds != nil {
		pts = append(pts, pt{c.Bounds[1], 100})
	}
	if len(pts) == 0 {
		return nil
	}
	lo, hi := pts[0].x, pts[0].x
	for _, p := range pts {
		lo, hi = math.Min(lo, p.x), math.Max(hi, p.x)
	}
	ch := newChart("percentile")
	var b strings.Builder
	for i, p := range pts {
		x := chartW / 2
		if hi > lo {
			x = (p.x - lo) / (hi - lo) * chartW
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(svgNum(x) + "," + svgNum(chartH-p.p/100*chartH))
	}
	ch.Line = b.String()
	ch.XMin, ch.XMax = formatCut(lo, c.Decimals), formatCut(hi, c.Decimals)
	ch.YMax = "100%"
	ch.Caption = fmt.Sprintf("cumulative share through %d cut-points at step %d", len(c.Cuts), c.Step)
	return ch
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"group": groupDigits,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review of {{.Doc.Dataset}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #1a1a1a; }
h1, h2, h3 { font-weight: 600; }
h3 { margin-top: 2em; border-top: 1px solid #ccc; padding-top: 0.5em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .v { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
.PASS { background: #e6f4ea; } .REVIEW { background: #fff4ce; } .FAIL, .ERROR { background: #fde2e1; }
.badge { padding: 0 0.4em; border-radius: 0.2em; font-weight: 600; }
svg { display: block; margin: 0.5em 0; }
svg rect { fill: #4a6fa5; } svg rect.flag { fill: #c5221f; }
svg polyline { fill: none; stroke: #4a6fa5; stroke-width: 2; }
svg line { stroke: #888; } svg text { font-size: 11px; fill: #444; }
.caption { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>Review of {{.Doc.Dataset}}</h1>
<p><span class="badge {{.Rep.Verdict}}">{{.Rep.Verdict}}</span> {{.Rep.Summary}}</p>
<table>
<tr><th>metadata</th><td><code>{{.Rep.Metadata}}</code></td></tr>
<tr><th>sha256</th><td><code>{{.Rep.MetadataSHA256}}</code></td></tr>
<tr><th>schema</th><td><code>{{.Doc.Schema}}</code></td></tr>
<tr><th>disclosure control</th><td>minimum count {{.Doc.SDC.MinCount}}, rounding base {{.Doc.SDC.RoundBase}}, percentile minimum per bin {{.Doc.SDC.PercentileMinPerBin}}, dates: {{.Doc.SDC.DatePolicy}}</td></tr>
<tr><th>review thresholds</th><td>minimum count {{.Rep.Thresholds.MinCount}}, rounding base {{.Rep.Thresholds.RoundBase}}; length outliers: longer than {{.Rep.Thresholds.LongValue}} characters, fewer than {{.Rep.Thresholds.RareCount}} records</td></tr>
<tr><th>scrape</th><td>Haven {{.Doc.Scrape.HavenVersion}}, {{.Doc.Scrape.ScrapedAt}}, percentiles {{.Doc.Scrape.Percentiles}}{{range .Doc.Scrape.Inputs}}, <code>{{.}}</code>{{end}}</td></tr>
<tr><th>tables</th><td>{{len .Doc.Tables}}</td></tr>
{{with .Rep.Approval}}<tr><th>approval</th><td>approved by {{.Reviewer}} at {{.ApprovedAt}}, acknowledging {{len .Acknowledged}} REVIEW findings</td></tr>{{end}}
</table>

<h2>Checks</h2>
<table>
<tr><th>id</th><th>verdict</th><th>check</th><th>examined</th><th>FAIL</th><th>ERROR</th><th>REVIEW</th></tr>
{{range .Rep.Checks}}<tr class="{{.Verdict}}"><td>{{.ID}}</td><td>{{.Verdict}}</td><td>{{.Title}}</td><td class="n">{{.Checked}} {{.Unit}}</td><td class="n">{{.Fail}}</td><td class="n">{{.Error}}</td><td class="n">{{.Review}}</td></tr>
{{end}}</table>

<h2>Findings</h2>
{{if .Rep.Findings}}<table>
<tr><th>verdict</th><th>rule</th><th>location</th><th>finding</th><th>fix</th></tr>
{{range .Rep.Findings}}<tr class="{{.Verdict}}"><td>{{.Verdict}}</td><td>{{.Rule}}</td><td class="v">{{.Location}}</td><td>{{.Message}}</td><td>{{.Hint}}</td></tr>
{{end}}</table>{{else}}<p>No findings.</p>{{end}}

<h2>Records per value (AM4, ascending)</h2>
{{if .Rep.Ratios}}<table>
<tr><th>table.field</th><th>records</th><th>values</th><th>ratio</th></tr>
{{range .Rep.Ratios}}<tr><td class="v">{{.Table}}.{{.Field}}</td><td class="n">{{group .Records}}</td><td class="n">{{.Values}}</td><td class="n">{{printf "%.2f" .Ratio}}</td></tr>
{{end}}</table>{{else}}<p>No frequency tables.</p>{{end}}

{{range .Tables}}
<h2>Table <code>{{.Name}}</code></h2>
<p>{{.RowsN}} rows{{if .EntityKey}}; entity key <code>{{.EntityKey}}</code>{{end}}{{if .RowKey}}; row key <code>{{.RowKey}}</code>{{end}}; {{len .Fields}} fields.</p>
{{range .Findings}}<p class="{{.Verdict}}">{{.Verdict}} {{.Rule}} <code>{{.Location}}</code>: {{.Message}}</p>{{end}}
{{range .Fields}}
<h3><code>{{.Name}}</code> <span class="badge {{.Verdict}}">{{.Verdict}}</span></h3>
<p>type <code>{{.Type}}</code>{{if .Format}}, format <code>{{.Format}}</code>{{end}}{{if .CoarsestGrain}}, coarsest grain {{.CoarsestGrain}}{{end}}{{if .NNonNull}}; {{.NNonNull}} non-null{{end}}{{if .NullN}}; {{.NullN}} null{{else}}; no released nulls{{end}}</p>
{{range .Findings}}<p class="{{.Verdict}}">{{.Verdict}} {{.Rule}} <code>{{.Location}}</code>: {{.Message}}</p>{{end}}
{{with .Identifier}}<p>Generated identifiers: kind <code>{{.Kind}}</code>{{if .Pattern}}, pattern <code>{{.Pattern}}</code>{{end}}, scope {{.Scope}}.</p>{{end}}
{{with .Text}}<p>Free-text shape: letters {{.Letters}}, digits {{.Digits}}, spaces {{.Spaces}}, other {{.Other}}.</p>{{end}}
{{with .Chart}}{{template "chart" .}}{{end}}
{{if .Rows}}{{if .Collapse}}<details><summary>{{len .Rows}} rows</summary>{{end}}<table><tr><th>{{.RowsLabel}}</th><th>count</th><th>share</th></tr>
{{range .Rows}}<tr{{with .Verdict}} class="{{.}}"{{end}}><td class="v">{{.Label}}</td><td class="n">{{.N}}</td><td class="n">{{.Share}}</td></tr>
{{end}}</table>{{if .Collapse}}</details>{{end}}{{end}}
{{with .HourChart}}<p>Hours of the day:</p>{{template "chart" .}}{{end}}
{{if .HourRows}}<details><summary>{{len .HourRows}} hours</summary><table><tr><th>hour</th><th>count</th><th>share</th></tr>
{{range .HourRows}}<tr{{with .Verdict}} class="{{.}}"{{end}}><td class="v">{{.Label}}</td><td class="n">{{.N}}</td><td class="n">{{.Share}}</td></tr>
{{end}}</table></details>{{end}}
{{with .CutChart}}{{template "chart" .}}{{end}}
{{with .Continuous}}<p>Percentile step {{.Step}}, {{len .Cuts}} cut-points, {{.Decimals}} decimals{{with .Bounds}}, bounds {{index . 0}} to {{index . 1}}{{end}}.</p>{{end}}
{{if .Cuts}}<details><summary>cut-points</summary><table><tr><th>percentile</th><th>cut-point</th></tr>
{{range .Cuts}}<tr{{with .Verdict}} class="{{.}}"{{end}}><td class="n">{{.Label}}</td><td class="n">{{.N}}</td></tr>
{{end}}</table></details>{{end}}
{{end}}
{{range .Rels}}
<h3>Rows per <code>{{.Parent}}</code>{{if .Child}} (rows keyed by <code>{{.Child}}</code>){{end}}</h3>
<p>max_children {{.MaxChildren}}</p>
{{with .Chart}}{{template "chart" .}}{{end}}
<table><tr><th>rows per entity</th><th>entities</th><th>share</th></tr>
{{range .Rows}}<tr{{with .Verdict}} class="{{.}}"{{end}}><td>{{.Label}}</td><td class="n">{{.N}}</td><td class="n">{{.Share}}</td></tr>
{{end}}</table>
{{end}}
{{if .Derived}}<h3>Derived fields</h3><table><tr><th>name</th><th>kind</th><th>from</th><th>labels</th></tr>
{{range .Derived}}<tr><td><code>{{.Name}}</code></td><td>{{.Kind}}</td><td><code>{{.From}}{{range .Fields}} {{.}}{{end}}</code></td><td class="v">{{range .Labels}}{{.}} {{end}}</td></tr>
{{end}}</table>{{end}}
{{end}}
<p class="caption">Written by haven data review. This page holds aggregates only; it loads nothing and runs no script.</p>
</body>
</html>
{{define "chart"}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Caption}}">
<line x1="0" y1="{{.BaseY}}" x2="{{.RightX}}" y2="{{.BaseY}}"></line>
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"{{if .Flag}} class="flag"{{end}}><title>{{.Title}}</title></rect>
{{end}}{{if .Line}}<polyline points="{{.Line}}"></polyline>
{{end}}<text x="0" y="{{.LabelY}}">{{.XMin}}</text><text x="{{.RightX}}" y="{{.LabelY}}" text-anchor="end">{{.XMax}}</text><text x="{{.MiddleX}}" y="{{.LabelY}}" text-anchor="middle">max {{.YMax}}</text>
</svg>
<p class="caption">{{.Caption}}</p>{{end}}
`))
