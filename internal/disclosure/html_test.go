package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// htmlFixture reads testdata/html/name.
func htmlFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "html", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// htmlRuleCounts returns how many findings each rule gave.
func htmlRuleCounts(fs []Finding) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Rule]++
	}
	return m
}

// htmlOnly returns the findings of rule.
func htmlOnly(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// htmlTableText returns the visible text of every <th> and <td> of data,
// in document order (text inside <script> and <style> is not visible).
func htmlTableText(t testing.TB, data []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var cells []string
	var text func(n *html.Node, b *strings.Builder)
	text = func(n *html.Node, b *strings.Builder) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			text(c, b)
		}
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && (n.Data == "td" || n.Data == "th") {
			var b strings.Builder
			text(n, &b)
			cells = append(cells, strings.TrimSpace(b.String()))
		}
	}
	return cells
}

const htmlPNGBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFElEQVR4nGL6z8DwnwEZAAIAAP//HxcCAa7PZcoAAAAASUVORK5CYII="

// htmlInputs are the documents every test of the package's HTML code runs
// on, fixtures and inline.
func htmlInputs(t testing.TB) map[string][]byte {
	in := map[string][]byte{}
	for _, name := range []string{"report.html", "figure.svg", "clean.html", "nearmiss.html"} {
		in[name] = htmlFixture(t, name)
	}
	for name, s := range map[string]string{
		"noscript.html":  `<p>a</p><noscript><style>p{}</style><img src=x onerror="alert(1)"><p>7 cases</p></noscript>`,
		"noscript-mxss":  `<noscript><p title="</noscript><script>alert(1)</script>">x</p></noscript>`,
		"svg-animate":    `<svg><a><set attributeName="href" to="javascript:alert(1)"/><animate attributeName="onclick" values="a;b"/><text>go</text></a></svg>`,
		"frames.html":    `<iframe srcdoc="<script>alert(1)</script>"></iframe><object data="x.swf"></object><embed src="y.swf"><meta http-equiv="Refresh" content="0;url=javascript:alert(1)"><base href="https://evil.example/">`,
		"js-tricks.html": "<a href=\"java\tscript:alert(1)\">a</a><a href=\"\x01 javascript:alert(1)\">b</a><a href=\"&#106;avascript:alert(1)\">c</a><a href=\"VBScript:msgbox(1)\">d</a><form action=\"javascript:x\"><button formaction=\"JAVASCRIPT:y\">e</button></form>",
		"style-rel.html": `<link rel="Alternate StyleSheet" href="b.css"><link rel="preload" href="c.css"><p style="">x</p>`,
		"srcset.html":    `<img srcset="data:image/png;base64,` + htmlPNGBase64 + ` 1x, big.png 2x" src="small.png">`,
		"table-mixed":    `<table><tr><th onclick="s()">n</th><td style="color:red">5<script>document.write(6)</script></td><td><span onmouseover="x()">1,234</span></td></tr></table>`,
		"one-attr.html":  `<p one="1" ON="x">ok</p>`,
		"comment.html":   `<!-- 3 patients in Leeds --><p>9</p><!--[if IE]><script>x()</script><![endif]-->`,
	} {
		in[name] = []byte(s)
	}
	return in
}

func TestCheckHTML(t *testing.T) {
	in := htmlInputs(t)
	tests := []struct {
		name string
		// want is the number of occurrences of each rule (Evidence
		// "count"); F7d is always 1.
		want map[string]int
	}{
		{"report.html", map[string]int{"F7a": 7, "F7b": 5, "F7c": 3}},
		{"figure.svg", map[string]int{"F7a": 3, "F7b": 3, "F7c": 1}},
		{"clean.html", map[string]int{}},
		{"nearmiss.html", map[string]int{}},
		{"noscript.html", map[string]int{"F7a": 1, "F7b": 1}},
		{"noscript-mxss", map[string]int{"F7a": 1}},
		{"svg-animate", map[string]int{"F7a": 2}},
		{"frames.html", map[string]int{}},
		{"js-tricks.html", map[string]int{"F7a": 6}},
		{"style-rel.html", map[string]int{"F7b": 2}},
		{"srcset.html", map[string]int{"F7c": 1}},
		{"table-mixed", map[string]int{"F7a": 3, "F7b": 1}},
		// "one" starts with "on": fail closed, as browsers may add
		// handlers; StripHTML drops it too.
		{"one-attr.html", map[string]int{"F7a": 2}},
		{"comment.html", map[string]int{"F7a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := CheckHTML(tt.name, in[tt.name], Review, 7)
			got := map[string]int{}
			for _, f := range fs {
				if f.File != tt.name || f.Row != 0 || f.Col != 0 {
					t.Errorf("finding %+v: want File %q and no row or column", f, tt.name)
				}
				if f.Rule == "F7d" {
					continue
				}
				if c, ok := f.Evidence["count"].(int); ok {
					got[f.Rule] = c
				} else {
					t.Errorf("finding %+v has no count", f)
				}
			}
			want := map[string]int{}
			for r, n := range tt.want {
				if n > 0 {
					want[r] = n
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("counts = %v, want %v\n%s", got, want, htmlDump(fs))
			}
			if n := htmlRuleCounts(fs)["F7d"]; n != 1 {
				t.Errorf("%d F7d findings, want 1", n)
			}
			for _, f := range fs {
				var v Verdict
				switch f.Rule {
				case "F7a":
					v = Fail
				case "F7b":
					v = Review // the styles argument
				case "F7c", "F7d":
					v = Review
				default:
					t.Errorf("unexpected rule %s", f.Rule)
				}
				if f.Verdict != v {
					t.Errorf("%s verdict %v, want %v", f.Rule, f.Verdict, v)
				}
			}
			// Rules sorted, and deterministic.
			order := []string{"F6", "F7a", "F7b", "F7c", "F7d"}
			if !slices.IsSortedFunc(fs, func(a, b Finding) int {
				return slices.Index(order, a.Rule) - slices.Index(order, b.Rule)
			}) {
				t.Errorf("findings not in rule order:\n%s", htmlDump(fs))
			}
			if again := CheckHTML(tt.name, in[tt.name], Review, 7); !reflect.DeepEqual(fs, again) {
				t.Error("two checks of the same input differ")
			}
		})
	}
}

func htmlDump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.Rule + " " + f.Verdict.String() + " " + f.Message + "\n")
	}
	return b.String()
}

func TestCheckHTMLReportEvidence(t *testing.T) {
	fs := CheckHTML("output/report.html", htmlFixture(t, "report.html"), Fail, 7)

	type ea struct{ element, attribute string }
	var got []ea
	for _, f := range htmlOnly(fs, "F7a") {
		a, _ := f.Evidence["attribute"].(string)
		got = append(got, ea{f.Evidence["element"].(string), a})
		if f.Hint != htmlHintScripts {
			t.Errorf("F7a hint %q", f.Hint)
		}
	}
	want := []ea{{"script", ""}, {"script", ""}, {"body", "onload"}, {"a", "href"}, {"button", "onmouseover"}, {"button", "onclick"}, {"td", "onclick"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("F7a evidence = %v, want %v", got, want)
	}
	a := htmlOnly(fs, "F7a")
	if a[0].Message != "HTML contains a <script> element" || a[0].Evidence["src"] != "https://cdn.example.org/plotly-2.0.min.js" {
		t.Errorf("first script finding: %+v", a[0])
	}
	if a[3].Evidence["scheme"] != "javascript" {
		t.Errorf("javascript: URL finding: %+v", a[3])
	}

	got = nil
	for _, f := range htmlOnly(fs, "F7b") {
		if f.Verdict != Fail {
			t.Errorf("F7b verdict %v, want the styles argument FAIL", f.Verdict)
		}
		a, _ := f.Evidence["attribute"].(string)
		got = append(got, ea{f.Evidence["element"].(string), a})
	}
	want = []ea{{"link", "rel"}, {"style", ""}, {"h1", "style"}, {"th", "style"}, {"td", "style"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("F7b evidence = %v, want %v", got, want)
	}

	c := htmlOnly(fs, "F7c")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>`
	for i, w := range []struct {
		mt    string
		bytes int
	}{{"image/png", 77}, {"image/svg+xml", len(svg)}, {"image/png", 77}} {
		if c[i].Evidence["media_type"] != w.mt || c[i].Evidence["bytes"] != w.bytes {
			t.Errorf("F7c %d evidence = %v, want %s, %d bytes", i, c[i].Evidence, w.mt, w.bytes)
		}
		if c[i].Verdict != Review || c[i].Hint != htmlHintData {
			t.Errorf("F7c %d: %+v", i, c[i])
		}
	}

	d := htmlOnly(fs, "F7d")[0]
	wantNumbers := []string{"5", "1,234", "0.4%", "18", "39", "1,100", "40", "134"}
	if !reflect.DeepEqual(d.Evidence["numbers"], wantNumbers) {
		t.Errorf("numbers = %v, want %v", d.Evidence["numbers"], wantNumbers)
	}
	if d.Evidence["small_integers"] != 1 || d.Message != "HTML output: a person must read every number in it" {
		t.Errorf("F7d = %+v", d)
	}
}

func TestCheckHTMLCleanTable(t *testing.T) {
	fs := CheckHTML("t.html", htmlFixture(t, "clean.html"), Fail, 7)
	if len(fs) != 1 || fs[0].Rule != "F7d" || fs[0].Verdict != Review {
		t.Fatalf("findings:\n%s", htmlDump(fs))
	}
	// "Table 1" is the title.
	want := []string{"1", "3", "1,000", "1,520", "12.5", "0.2"}
	if got := fs[0].Evidence["numbers"]; !reflect.DeepEqual(got, want) {
		t.Errorf("numbers = %v, want %v", got, want)
	}
	if fs[0].Evidence["small_integers"] != 2 {
		t.Errorf("small_integers = %v, want 2", fs[0].Evidence["small_integers"])
	}
	// With a threshold of 0 nothing is small.
	fs = CheckHTML("t.html", htmlFixture(t, "clean.html"), Fail, 0)
	if fs[0].Evidence["small_integers"] != 0 {
		t.Errorf("threshold 0: small_integers = %v", fs[0].Evidence["small_integers"])
	}
}

func TestCheckHTMLNearMiss(t *testing.T) {
	fs := CheckHTML("n.html", htmlFixture(t, "nearmiss.html"), Fail, 7)
	if len(fs) != 1 || fs[0].Rule != "F7d" {
		t.Fatalf("near misses flagged:\n%s", htmlDump(fs))
	}
}

func TestCheckHTMLCap(t *testing.T) {
	var b strings.Builder
	for range 25 {
		b.WriteString(`<script>x()</script><p style="a">1</p>`)
	}
	for i := range 60 {
		b.WriteString("<p>" + strings.Repeat("9", i%3+2) + "</p>")
	}
	fs := CheckHTML("big.html", []byte(b.String()), Review, 7)
	counts := htmlRuleCounts(fs)
	if counts["F7a"] != 20 || counts["F7b"] != 20 {
		t.Errorf("findings per rule = %v, want 20 each", counts)
	}
	for _, f := range fs {
		switch f.Rule {
		case "F7a", "F7b":
			if f.Evidence["count"] != 25 {
				t.Errorf("%s count = %v, want 25", f.Rule, f.Evidence["count"])
			}
		case "F7d":
			nums := f.Evidence["numbers"].([]string)
			if len(nums) != 50 || f.Evidence["count"] != 85 || f.Evidence["small_integers"] != 25 {
				t.Errorf("F7d evidence: %d numbers, %v", len(nums), f.Evidence)
			}
			if !slices.Equal(nums[:25], slices.Repeat([]string{"1"}, 25)) {
				t.Errorf("small integers not first: %v", nums)
			}
		}
	}
}

func TestCheckHTMLNotUTF8(t *testing.T) {
	fs := CheckHTML("bad.html", []byte("<p>caf\xe9</p><script>x()</script>"), Review, 7)
	if len(fs) == 0 || fs[0].Rule != "F6" || fs[0].Verdict != Error || fs[0].Hint != "save the file as UTF-8" {
		t.Fatalf("findings:\n%s", htmlDump(fs))
	}
	if !strings.Contains(fs[0].Message, "UTF-8") || fs[0].Evidence["offset"] != 6 {
		t.Errorf("F6 = %+v", fs[0])
	}
	if got := htmlRuleCounts(fs); got["F7a"] != 1 || got["F7d"] != 1 {
		t.Errorf("the rest is still checked: %v", got)
	}
}

func TestHTMLScanNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Total 1,234 patients; 5 deaths (0.4%)", []string{"1,234", "5", "0.4%"}},
		{"-3 and (−2.5) and 10-20", []string{"-3", "−2.5", "10", "20"}},
		{"v2 H1N1 5th x1 COVID19 3mg", nil},
		{"1,2345 and 12,34 and 1,234,567.89%", []string{"1", "2345", "12", "34", "1,234,567.89%"}},
		{"ends with 7.", []string{"7"}},
		{"version 1.2.3", []string{"1.2"}},
		{"n=4; p<0.05", []string{"4", "0.05"}},
		{"2020-03-05", []string{"2020", "03", "05"}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		htmlScanNumbers(tt.in, func(s string) { got = append(got, s) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("htmlScanNumbers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for tok, want := range map[string]bool{"1": true, "7": true, "07": true, "8": false, "0": false, "-3": false, "5%": false, "5.0": false, "1,000": false} {
		if got := htmlIsSmallInt(tok, 7); got != want {
			t.Errorf("htmlIsSmallInt(%q, 7) = %v", tok, got)
		}
	}
}

func TestStripHTML(t *testing.T) {
	for name, data := range htmlInputs(t) {
		t.Run(name, func(t *testing.T) {
			res, err := StripHTML(data)
			if err != nil {
				t.Fatal(err)
			}
			fs := CheckHTML(name, res.HTML, Fail, 7)
			if bad := append(htmlOnly(fs, "F7a"), htmlOnly(fs, "F7b")...); len(bad) > 0 {
				t.Errorf("stripped output still has:\n%s\n%s", htmlDump(bad), res.HTML)
			}
			if got := htmlOnly(fs, "F7c"); len(got) > 0 {
				t.Errorf("stripped output still has data: URIs:\n%s", htmlDump(got))
			}
			if before, after := htmlTableText(t, data), htmlTableText(t, res.HTML); !slices.Equal(before, after) {
				t.Errorf("table text changed:\n before %q\n after  %q", before, after)
			}
			again, err := StripHTML(data)
			if err != nil || !bytes.Equal(again.HTML, res.HTML) || !reflect.DeepEqual(again, res) {
				t.Error("two strips of the same input differ")
			}
			for _, p := range res.Payloads {
				sum := sha256.Sum256(p.Data)
				if h := hex.EncodeToString(sum[:]); p.SHA256 != h || !strings.HasPrefix(p.Name, h+".") {
					t.Errorf("payload %s: SHA256 %s, want %s", p.Name, p.SHA256, h)
				}
				if !bytes.Contains(res.HTML, []byte(p.Name)) {
					t.Errorf("payload %s is not referred to", p.Name)
				}
			}
			// Stripping is idempotent.
			twice, err := StripHTML(res.HTML)
			if err != nil || len(twice.Removed) != 0 {
				t.Errorf("second strip removed %q (err %v)", twice.Removed, err)
			}
		})
	}
}

func TestStripHTMLReport(t *testing.T) {
	res, err := StripHTML(htmlFixture(t, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>`
	if len(res.Payloads) != 2 {
		t.Fatalf("payloads: %+v", res.Payloads)
	}
	pngSum := res.Payloads[0].SHA256
	svgSum := sha256.Sum256([]byte(svg))
	if p := res.Payloads[0]; p.MediaType != "image/png" || len(p.Data) != 77 || !bytes.HasPrefix(p.Data, []byte("\x89PNG\r\n")) || p.Name != pngSum+".png" {
		t.Errorf("png payload: %s %s %d bytes", p.Name, p.MediaType, len(p.Data))
	}
	if p := res.Payloads[1]; p.MediaType != "image/svg+xml" || string(p.Data) != svg || p.Name != hex.EncodeToString(svgSum[:])+".svg" {
		t.Errorf("svg payload: %s %s %q", p.Name, p.MediaType, p.Data)
	}
	want := []string{
		"moved 2 data: URIs to " + pngSum + ".png (image/png, 77 bytes)",
		"moved data: URI to " + hex.EncodeToString(svgSum[:]) + ".svg (image/svg+xml, " + strconv.Itoa(len(svg)) + " bytes)",
		"removed <link rel=stylesheet> (1)",
		"removed <script> (2)",
		"removed <style> (1)",
		"removed javascript: URL in href attribute (1)",
		"removed onclick attribute (2)",
		"removed onload attribute (1)",
		"removed onmouseover attribute (1)",
		"removed style attribute (3)",
	}
	if !slices.Equal(res.Removed, want) {
		t.Errorf("Removed =\n%s\nwant\n%s", strings.Join(res.Removed, "\n"), strings.Join(want, "\n"))
	}
	out := string(res.HTML)
	for _, keep := range []string{
		`<link rel="icon" href="favicon.png"/>`,
		`<a href="https://example.org/methods">methods</a>`,
		`<a href="appendix.html">appendix</a>`,
		`<a>details</a>`,
		`<img alt="Figure 3" src="figures/figure3.png"/>`,
		`<img alt="Figure 1" src="` + pngSum + `.png"/>`,
		`<td class="count">134</td>`,
		`<p>Total 1,234 patients; 5 deaths (0.4%)</p>`,
		`<h1>Cohort summary</h1>`,
	} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lacks %s:\n%s", keep, out)
		}
	}
}

func TestStripHTMLSVG(t *testing.T) {
	res, err := StripHTML(htmlFixture(t, "figure.svg"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.HTML)
	if !strings.HasPrefix(out, "<svg ") || !strings.HasSuffix(out, "</svg>") {
		t.Errorf("an SVG input should give an SVG document:\n%s", out)
	}
	for _, keep := range []string{`xmlns="http://www.w3.org/2000/svg"`, `xmlns:xlink="http://www.w3.org/1999/xlink"`, `viewBox="0 0 200 120"`, `<text x="60" y="15">250</text>`, `<a href="https://example.org/">`} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lacks %s:\n%s", keep, out)
		}
	}
	if len(res.Payloads) != 1 || res.Payloads[0].MediaType != "image/png" || len(res.Payloads[0].Data) != 77 {
		t.Errorf("payloads: %+v", res.Payloads)
	} else if !strings.Contains(out, `xlink:href="`+res.Payloads[0].Name+`"`) {
		t.Errorf("image does not refer to its payload:\n%s", out)
	}
	want := []string{"moved data: URI to " + res.Payloads[0].Name + " (image/png, 77 bytes)",
		"removed <script> (1)", "removed <style> (1)", "removed comment (1)", "removed processing instruction (2)",
		"removed javascript: URL in xlink:href attribute (1)", "removed onclick attribute (1)", "removed style attribute (1)"}
	slices.Sort(want)
	if !slices.Equal(res.Removed, want) {
		t.Errorf("Removed = %q, want %q", res.Removed, want)
	}
}

func TestStripHTMLRemoves(t *testing.T) {
	tests := []struct {
		name, in  string
		removed   []string
		keep, not []string
	}{
		{
			name:    "frames",
			in:      string(htmlInputs(t)["frames.html"]),
			removed: []string{"removed <base> (1)", "removed <embed> (1)", "removed <iframe> (1)", "removed <meta http-equiv=refresh> (1)", "removed <object> (1)"},
			not:     []string{"iframe", "evil", "swf", "refresh"},
		},
		{
			name:    "srcset",
			in:      string(htmlInputs(t)["srcset.html"]),
			removed: []string{"removed srcset attribute with data: URIs (1)"},
			keep:    []string{`<img src="small.png"/>`},
		},
		{
			name: "near misses",
			in:   string(htmlInputs(t)["nearmiss.html"]),
			keep: []string{`data-onclick="toggle()"`, `title="javascript:alert(1)"`, `data-style="color: red"`, `<link rel="icon" href="favicon.png"/>`,
				`href="https://example.org/javascript:guide"`, `src="images/data:plot.png"`, `<p data-onclick="toggle()" title="javascript:alert(1)" class="onload style">javascript: is a language</p>`},
		},
		{
			name:    "noscript",
			in:      string(htmlInputs(t)["noscript-mxss"]),
			removed: []string{"removed <noscript> (1)", "removed <script> (1)"},
			not:     []string{"alert"},
		},
		{
			name:    "svg animation",
			in:      string(htmlInputs(t)["svg-animate"]),
			removed: []string{"removed attributeName attribute animating an event handler (1)", "removed javascript: URL in to attribute (1)"},
			keep:    []string{`<set attributeName="href"></set>`, `<text>go</text>`},
		},
		{
			name:    "percent-encoded data with fragment",
			in:      `<svg><use href="data:image/svg+xml,%3Csvg%3E%3Cg%20id%3D%22a%22%2F%3E%3C%2Fsvg%3E#a"/></svg>`,
			removed: []string{"moved data: URI to " + htmlSum(`<svg><g id="a"/></svg>`) + ".svg (image/svg+xml, 22 bytes)"},
			keep:    []string{`href="` + htmlSum(`<svg><g id="a"/></svg>`) + `.svg#a"`},
		},
		{
			name:    "undecodable base64",
			in:      `<img src="data:image/png;base64,!!!!"><a href="data:text/csv,a%2Cb%0A1%2C2">csv</a>`,
			removed: []string{"moved data: URI to " + htmlSum("a,b\n1,2") + ".csv (text/csv, 7 bytes)", "removed undecodable data: URI in src attribute (1)"},
			keep:    []string{`<img/>`, `<a href="` + htmlSum("a,b\n1,2") + `.csv">csv</a>`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := StripHTML([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Removed, tt.removed) && !(len(tt.removed) == 0 && len(res.Removed) == 0) {
				t.Errorf("Removed = %q, want %q", res.Removed, tt.removed)
			}
			for _, k := range tt.keep {
				if !bytes.Contains(res.HTML, []byte(k)) {
					t.Errorf("output lacks %s:\n%s", k, res.HTML)
				}
			}
			for _, n := range tt.not {
				if bytes.Contains(bytes.ToLower(res.HTML), []byte(n)) {
					t.Errorf("output still has %s:\n%s", n, res.HTML)
				}
			}
		})
	}
}

func htmlSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestHTMLTooDeep(t *testing.T) {
	deep := []byte(strings.Repeat("<div>", 1000) + "5")
	fs := CheckHTML("deep.html", deep, Fail, 7)
	if len(fs) != 1 || fs[0].Rule != "F6" || fs[0].Verdict != Error || fs[0].Hint == "" {
		t.Errorf("findings:\n%s", htmlDump(fs))
	}
	if _, err := StripHTML(deep); err == nil || !strings.Contains(err.Error(), "cannot parse") {
		t.Errorf("err = %v", err)
	}
}

func TestStripHTMLNotUTF8(t *testing.T) {
	_, err := StripHTML([]byte("<p>na\xefve</p>"))
	if err == nil || !strings.Contains(err.Error(), "not UTF-8") || !strings.Contains(err.Error(), "offset 5") {
		t.Errorf("err = %v, want one saying the file is not UTF-8", err)
	}
}

func FuzzStripHTML(f *testing.F) {
	in := htmlInputs(f)
	for _, name := range slices.Sorted(maps.Keys(in)) {
		f.Add(in[name])
	}
	for _, s := range []string{
		"", "<", "<svg><style><img src=x onerror=alert(1)>", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
		"<plaintext><script>", "<table><script>x</script>5</table>", "<template><script>x</script></template>",
		"<svg><foreignObject><p style=x>1</p></foreignObject></svg>", "<noscript><noscript><style>",
		"<select><style>a{}</style></select>", "<xmp><script></xmp>", "<a href='data:,x'>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := StripHTML(data)
		if err != nil {
			return
		}
		for _, fd := range CheckHTML("fuzz.html", res.HTML, Fail, 7) {
			if fd.Rule == "F7a" || fd.Rule == "F7b" {
				t.Fatalf("stripped output has %s (%s):\n%q\nfrom\n%q", fd.Rule, fd.Message, res.HTML, data)
			}
		}
	})
}
