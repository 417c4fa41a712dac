package meta

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// hostileDoc plants markup in every kind of name and value.
func hostileDoc() *Document {
	d := cleanDoc()
	d.Dataset = `"><img src=x onerror=alert(1)>`
	f := field(d, "DIAG")
	f.Values[0].V = "<script>alert(1)</script>"
	f.Values[1].V = "9434765919"
	d.Tables[0].Fields = append(d.Tables[0].Fields, Field{Name: "<b>bold</b>", Type: TypeCategorical, Values: []Value{{"x", 10}}})
	d.Tables[0].Postprocess.Derived[0].Labels[0] = "</td><script>"
	return d
}

func renderHTML(t *testing.T, d *Document) string {
	t.Helper()
	rep := Review(d, ReviewOptions{})
	rep.Metadata, rep.MetadataSHA256 = "META.json", strings.Repeat("ab", 32)
	var b bytes.Buffer
	if err := WriteHTML(&b, d, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLEscapes(t *testing.T) {
	out := renderHTML(t, hostileDoc())
	for _, bad := range []string{"<script", "<img", "<b>bold"} {
		if strings.Contains(out, bad) {
			t.Errorf("report contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;bold&lt;/b&gt;", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks the escaped %q", want)
		}
	}
	// As a browser would parse it: no script element, no event handler,
	// nothing loaded from elsewhere.
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	elements := map[string]int{}
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			elements[n.Data]++
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") || a.Key == "src" || a.Key == "href" {
					t.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
				}
			}
			switch n.Data {
			case "script", "img", "link", "iframe", "object", "embed", "b":
				t.Errorf("report has a <%s> element", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, el := range []string{"svg", "rect", "polyline", "table", "style"} {
		if elements[el] == 0 {
			t.Errorf("report has no <%s> element", el)
		}
	}
	if elements["style"] != 1 {
		t.Errorf("%d <style> elements, want the one inline sheet", elements["style"])
	}
	// The SVG namespace is the only URL, an identifier no browser fetches.
	rest := strings.ReplaceAll(out, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, ext := range []string{"url(", "@import", "http:", "https:", "//"} {
		if strings.Contains(rest, ext) {
			t.Errorf("report refers to something external (%q)", ext)
		}
	}
}

func TestHTMLContent(t *testing.T) {
	out := renderHTML(t, hostileDoc())
	for _, want := range []string{
		"<title>Review of",
		`<span class="badge FAIL">FAIL</span>`,
		`<tr class="FAIL"><td>FAIL</td><td>AM6</td><td class="v">apc.DIAG[9434765919]</td>`, // the finding
		`<tr class="FAIL"><td class="v">9434765919</td>`,                                    // the marked value row
		"<code>" + strings.Repeat("ab", 32) + "</code>",
		"Table <code>apc</code>",
		"<code>ADMIDATE</code>",
		"entities by rows per entity",
		"cumulative share through 98 cut-points at step 1",
		"6 bins; height is records per day",
		"Hours of the day",
		"Records per value (AM4, ascending)",
		"minimum count 5, rounding base 5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestHTMLCharts(t *testing.T) {
	// A frequency table longer than the chart shows every value in the
	// table, and the first chartMaxBars as bars.
	var vs []Value
	for i := 0; i < 75; i++ {
		vs = append(vs, Value{string(rune('A'+i%26)) + string(rune('a'+i/26)), 5})
	}
	c := barChart("value", []string{"a"}, []int64{5}, nil)
	if len(c.Bars) != 1 || c.Bars[0].H != "120.0" {
		t.Errorf("one bar: %+v", c.Bars)
	}
	labels := make([]string, len(vs))
	ns := make([]int64, len(vs))
	for i, v := range vs {
		labels[i], ns[i] = v.V, v.N
	}
	c = barChart("value", labels, ns, nil)
	if len(c.Bars) != chartMaxBars || !strings.Contains(c.Caption, "the first 60 of 75 values") {
		t.Errorf("%d bars, caption %q", len(c.Bars), c.Caption)
	}
	// Date bins: width by days, height by records per day.
	dc := dateChart([]DateBin{{"2021-01-01", "2021-01-01", GrainDay, 10}, {"2021-01-02", "2021-01-11", GrainMonth, 10}})
	if len(dc.Bars) != 2 || dc.Bars[0].W != "58.2" || dc.Bars[0].H != "120.0" || dc.Bars[1].H != "12.0" {
		t.Errorf("date bars %+v", dc.Bars)
	}
	if dateChart([]DateBin{{"bad", "", GrainDay, 5}}) != nil || barChart("v", nil, nil, nil) != nil {
		t.Error("nothing to draw must give no chart")
	}
	// A CDF through equal cut-points does not divide by zero.
	cc := cdfChart(&Continuous{Step: 25, Cuts: []float64{5, 5, 5}})
	if cc.Line != "320.0,90.0 320.0,60.0 320.0,30.0" {
		t.Errorf("cdf line %q", cc.Line)
	}
	b := [2]float64{0, 10}
	cc = cdfChart(&Continuous{Step: 25, Cuts: []float64{2.5, 5, 7.5}, Bounds: &b})
	if cc.Line != "0.0,120.0 160.0,90.0 320.0,60.0 480.0,30.0 640.0,0.0" {
		t.Errorf("cdf line with bounds %q", cc.Line)
	}
}

func TestWriteHTMLFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := cleanDoc()
	if err := WriteHTMLFile(p, d, Review(d, ReviewOptions{})); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Fatalf("report: %v %.40q", err, b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the report (no temporary file left)", len(entries))
	}
	// A nil report is made by reviewing; a nil document renders empty.
	var buf bytes.Buffer
	if err := WriteHTML(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 11254320: "11,254,320", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}
