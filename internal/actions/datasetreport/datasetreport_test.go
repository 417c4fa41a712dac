package datasetreport

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/haven-tre/haven/internal/artificial/civil"
	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/records"
	"github.com/haven-tre/haven/internal/disclosure"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run runs the action in dir and returns its exit code, error and output.
func run(t *testing.T, dir string, args ...string) (int, error, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code, err := Run(context.Background(), dir, args, &stdout, &stderr)
	return code, err, stdout.String()
}

// mustRun runs the action and fails the test unless it succeeds.
func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, err, out := run(t, dir, args...)
	if code != 0 || err != nil {
		t.Fatalf("Run(%q) = %d, %v; want 0, nil", args, code, err)
	}
	return out
}

func writeFile(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parse parses a report, failing the test if it is not HTML.
func parse(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// countCells returns the text of every count cell in the page.
func countCells(doc *html.Node) []string {
	var out []string
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "td" && hasClass(n, "count") {
			out = append(out, text(n))
		}
	}
	return out
}

// sectionOf returns the section of the report about the column name.
func sectionOf(t *testing.T, doc *html.Node, name string) *html.Node {
	t.Helper()
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode || n.Data != "section" {
			continue
		}
		for c := range n.Descendants() {
			if c.Type == html.ElementNode && c.Data == "h3" {
				if text(c) == name {
					return n
				}
				break
			}
		}
	}
	t.Fatalf("no section for column %q", name)
	return nil
}

// columnTable returns the distribution table rows (label -> count) of the
// column's section.
func columnTable(t *testing.T, doc *html.Node, name string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	for tr := range sectionOf(t, doc, name).Descendants() {
		if tr.Type != html.ElementNode || tr.Data != "tr" {
			continue
		}
		var cells []*html.Node
		for td := tr.FirstChild; td != nil; td = td.NextSibling {
			if td.Type == html.ElementNode && td.Data == "td" {
				cells = append(cells, td)
			}
		}
		if len(cells) == 3 && hasClass(cells[1], "count") {
			rows[text(cells[0])] = text(cells[1])
		}
	}
	return rows
}

// columnStats returns the number statistics (label -> value) of the
// column's section.
func columnStats(t *testing.T, doc *html.Node, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for th := range sectionOf(t, doc, name).Descendants() {
		if th.Type == html.ElementNode && th.Data == "th" && th.NextSibling != nil && hasClass(th.NextSibling, "n") {
			out[text(th)] = text(th.NextSibling)
		}
	}
	return out
}

// overviewTypes returns the type of each column from the overview table.
func overviewTypes(doc *html.Node) map[string]string {
	out := map[string]string{}
	for tr := range doc.Descendants() {
		if tr.Type != html.ElementNode || tr.Data != "tr" {
			continue
		}
		var cells []*html.Node
		for td := tr.FirstChild; td != nil; td = td.NextSibling {
			if td.Type == html.ElementNode && td.Data == "td" {
				cells = append(cells, td)
			}
		}
		if len(cells) == 4 && cells[0].FirstChild != nil && cells[0].FirstChild.Data == "a" {
			out[text(cells[0])] = text(cells[1])
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "output/input_2022-03-20.csv", readFile(t, ".", "testdata/small.csv"))
	out := mustRun(t, dir, "--input-files", "output/input_2022-03-20.csv", "--output-dir", "output/reports")
	if want := "dataset-report: output/input_2022-03-20.csv: wrote output/reports/input_2022-03-20.html\n"; out != want {
		t.Errorf("progress = %q, want %q", out, want)
	}
	got := readFile(t, dir, "output/reports/input_2022-03-20.html")
	golden := filepath.Join("testdata", "small.html")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (run go test -update after checking the change):\n%s", golden, got)
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		raw  int64
		want string
	}{
		{-1, redacted}, {0, redacted}, {1, redacted}, {3, redacted}, {5, redacted},
		{6, redacted}, {7, redacted}, // round to 5: withheld
		{8, "10"}, {10, "10"}, {12, "10"}, {13, "15"}, {17, "15"}, {18, "20"},
		{1002, "1,000"}, {1003, "1,005"}, {1234567, "1,234,565"},
	}
	for _, tt := range tests {
		if got := ctl(tt.raw).String(); got != tt.want {
			t.Errorf("ctl(%d) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestPercentOf(t *testing.T) {
	tests := []struct {
		n, total int64
		want     string
	}{
		{10, 40, "25.0%"},
		{12, 38, "25.0%"}, // 10 of 40 after rounding, not 12 of 38
		{3, 40, "—"},
		{10, 4, "—"},
	}
	for _, tt := range tests {
		if got := ctl(tt.n).percentOf(ctl(tt.total)); got != tt.want {
			t.Errorf("%d of %d = %q, want %q", tt.n, tt.total, got, tt.want)
		}
	}
}

func csvOf(header string, rows ...string) []byte {
	return []byte(header + "\n" + strings.Join(rows, "\n") + "\n")
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestDisclosure(t *testing.T) {
	// 12 rows of a, 3 of zebra, 20 of c: 35 rows, of which flag is 1 in 3.
	var rows []string
	for i, cat := range slices.Concat(repeat("a", 12), repeat("zebra", 3), repeat("c", 20)) {
		flag := "0"
		if i%12 == 0 {
			flag = "1"
		}
		rows = append(rows, cat+","+flag)
	}
	dir := t.TempDir()
	writeFile(t, dir, "output/input.csv", csvOf("cat,flag", rows...))
	mustRun(t, dir, "--input-files", "output/input.csv", "--output-dir", "output")
	page := readFile(t, dir, "output/input.html")
	doc := parse(t, page)

	cat := columnTable(t, doc, "cat")
	if cat["a"] != "10" {
		t.Errorf("a (12 rows) shows %q, want 10", cat["a"])
	}
	if cat["c"] != "20" {
		t.Errorf("c (20 rows) shows %q, want 20", cat["c"])
	}
	if _, ok := cat["zebra"]; ok {
		t.Errorf("zebra (3 rows) has a row of its own: %v", cat)
	}
	if cat["(all other values)"] != redacted {
		t.Errorf("other values (3 rows) show %q, want %s", cat["(all other values)"], redacted)
	}
	if bytes.Contains(page, []byte("zebra")) {
		t.Error("the label of a value with 3 rows appears in the report")
	}
	flag := columnTable(t, doc, "flag")
	if flag["1"] != redacted || flag["0"] != "30" {
		t.Errorf("flag = %v, want 1: %s (3 rows), 0: 30 (32 rows)", flag, redacted)
	}
	for _, c := range countCells(doc) {
		if c == redacted {
			continue
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(c, ",", ""), 10, 64)
		if err != nil || n%5 != 0 || n <= 5 {
			t.Errorf("count cell %q is neither %s nor a multiple of 5 above 5", c, redacted)
		}
	}
	if !strings.Contains(text(doc), "rounded to the nearest 5") {
		t.Error("the report does not state the disclosure rule")
	}
}

func TestExtremesWithheld(t *testing.T) {
	var rows []string
	for i := range 40 {
		rows = append(rows, strconv.Itoa(20+i%10))
	}
	rows = append(rows, "104")
	dir := t.TempDir()
	writeFile(t, dir, "in.csv", csvOf("age", rows...))
	mustRun(t, dir, "--input-files", "in.csv", "--output-dir", ".")
	page := string(readFile(t, dir, "in.html"))
	if strings.Contains(text(parse(t, []byte(page))), "104") {
		t.Error("the maximum, a single record's value, appears in the report")
	}
	if !strings.Contains(page, "<tr><th>Maximum</th><td class=\"n\">"+redacted+"</td></tr>") {
		t.Error("the maximum row is not shown as withheld")
	}
}

func TestHTMLSafety(t *testing.T) {
	const evil = "<script>alert(1)</script>"
	const evilName = `<img src=x onerror=alert(1)>`
	var rows []string
	for i := range 30 {
		v := "plain"
		if i%3 == 0 {
			v = evil
		}
		rows = append(rows, v+`,"`+strings.ReplaceAll(`" onmouseover="alert(2)`, `"`, `""`)+`",`+strconv.Itoa(i))
	}
	dir := t.TempDir()
	name := "output/in<b>put.csv"
	writeFile(t, dir, name, csvOf(`value,other,"`+evilName+`"`, rows...))
	mustRun(t, dir, "--input-files", name, "--output-dir", "output")
	page := readFile(t, dir, "output/in<b>put.html")

	if !bytes.Contains(page, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) {
		t.Error("the value <script>alert(1)</script> does not appear escaped")
	}
	if bytes.Contains(page, []byte(evil)) || bytes.Contains(page, []byte(evilName)) {
		t.Error("a value from the data appears unescaped")
	}
	doc := parse(t, page)
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script", "style", "iframe", "object", "embed", "link", "img", "image", "use", "foreignObject", "base", "form":
			t.Errorf("the report has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			switch {
			case strings.HasPrefix(key, "on"):
				t.Errorf("<%s> has an event handler attribute %s=%q", n.Data, a.Key, a.Val)
			case key == "src" || key == "xlink:href" || key == "action" || key == "srcset":
				t.Errorf("<%s> loads %s=%q", n.Data, a.Key, a.Val)
			case key == "href" && !strings.HasPrefix(a.Val, "#"):
				t.Errorf("<%s> links outside the page: href=%q", n.Data, a.Val)
			case key == "style":
				t.Errorf("<%s> has a style attribute %q", n.Data, a.Val)
			}
		}
	}
	if got := columnTable(t, doc, "value")[evil]; got != "10" {
		t.Errorf("the escaped value's count = %q, want 10", got)
	}
}

// writeFrame writes rows of specs in format f.
func writeFrame(t *testing.T, path string, f frame.Format, specs []frame.Spec, fill func(b *frame.Batch)) {
	t.Helper()
	var buf bytes.Buffer
	w, err := frame.NewWriter(f, &buf, specs, frame.WriterOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	var b frame.Batch
	fill(&b)
	p, err := w.Prepare(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFormats(t *testing.T) {
	specs := []frame.Spec{
		{Name: "patient_id", Kind: frame.Int},
		{Name: "age", Kind: frame.Int},
		{Name: "bmi", Kind: frame.Float, Decimals: 1},
		{Name: "sex", Kind: frame.String},
		{Name: "dob", Kind: frame.Date},
		{Name: "seen", Kind: frame.Datetime},
		{Name: "flag", Kind: frame.Bool, True: "true", False: "false"},
	}
	const n = 300
	fill := func(b *frame.Batch) {
		b.Reset(specs, 0, n)
		for j := range specs {
			b.SetNullable(j)
		}
		for i := range n {
			c := b.Cols
			c[0].Ints[i] = int64(i + 1)
			c[1].Ints[i] = int64(i * 7 % 91)
			c[2].Floats[i] = math.Round((15+float64(i*13%250)/10)*10) / 10
			c[3].Strs[i] = []string{"F", "M", "M"}[i%3]
			c[4].Ints[i] = civil.DaysFromCivil(1930, 1, 1) + int64(i*97%30000)
			c[5].Ints[i] = civil.DaysFromCivil(2021, 1, 1)*86400 + int64(i)*86400*2 + 3600
			c[6].Ints[i] = int64(i % 4 / 3)
			if i%9 == 0 {
				c[1].Valid[i], c[2].Valid[i], c[3].Valid[i], c[4].Valid[i] = false, false, false, false
			}
		}
	}
	dir := t.TempDir()
	writeFrame(t, filepath.Join(dir, "d/csv/input.csv"), frame.CSV, specs, fill)
	writeFile(t, dir, "d/gz/input.csv.gz", gzipped(t, readFile(t, dir, "d/csv/input.csv")))
	writeFrame(t, filepath.Join(dir, "d/arrow/input.arrow"), frame.Arrow, specs, fill)
	writeFrame(t, filepath.Join(dir, "d/feather/input.feather"), frame.Arrow, specs, fill)
	writeFrame(t, filepath.Join(dir, "d/parquet/input.parquet"), frame.Parquet, specs, fill)

	var first string
	for _, sub := range []string{"csv", "gz", "arrow", "feather", "parquet"} {
		t.Run(sub, func(t *testing.T) {
			out := "r/" + sub
			mustRun(t, dir, "--input-files", "d/"+sub+"/input.*", "--output-dir", out)
			page := readFile(t, dir, out+"/input.html")
			doc := parse(t, page)
			types := overviewTypes(doc)
			want := map[string]string{"patient_id": "integer", "age": "integer", "bmi": "float", "sex": "categorical",
				"dob": "date", "seen": "datetime", "flag": "boolean"}
			for col, typ := range want {
				if types[col] != typ {
					t.Errorf("%s: type %q, want %q", col, types[col], typ)
				}
			}
			if got := countCells(doc)[0]; got != "300" {
				t.Errorf("rows = %s, want 300", got)
			}
			// F is every third row (100), less the 34 missing: 66 rows.
			if sex := columnTable(t, doc, "sex"); sex["M"] != "200" || sex["F"] != "65" {
				t.Errorf("sex = %v, want M 200, F 65 (66 rows)", sex)
			}
			// Apart from the input's name, every format gives the same
			// report.
			body := string(page[bytes.Index(page, []byte("<h2>Summary</h2>")):])
			if first == "" {
				first = body
			} else if body != first {
				t.Errorf("the %s report differs from the CSV one:\n%s", sub, body)
			}
		})
	}
}

func TestTypeInference(t *testing.T) {
	tests := []struct {
		cells []string
		want  colType
	}{
		{[]string{"0", "1", "", "1"}, typeBool},
		{[]string{"1", "1"}, typeBool},
		{[]string{"0.0", "1.0"}, typeBool},
		{[]string{"True", "false", "TRUE"}, typeBool},
		{[]string{"1", "2", "-3", "+4"}, typeInt},
		{[]string{"1", "2.5", "1e3", ".5", "-0.25E-2"}, typeFloat},
		{[]string{"99999999999999999999"}, typeFloat}, // too big for int64
		{[]string{"2021-01-31", "2021-02", ""}, typeDate},
		{[]string{"2021-01-31T10:00:00", "2021-02-01 23:59:59.123Z", "2021-02-01T00:00+01:00", "2021-03-01"}, typeDatetime},
		{[]string{"2021-02-30"}, typeCategorical},
		{[]string{"2021-13"}, typeCategorical},
		{[]string{"2021-01-01T25:00:00"}, typeCategorical},
		{[]string{"abc", "1"}, typeCategorical},
		{[]string{"0x10"}, typeCategorical},
		{[]string{"inf", "1"}, typeCategorical},
		{[]string{"1_000"}, typeCategorical},
		{[]string{"1e", "2"}, typeCategorical},
		{[]string{"", "NA", "null", "NaN"}, typeEmpty},
		{nil, typeEmpty},
	}
	for _, tt := range tests {
		c := newColumn("x", records.Text)
		col := records.Column{Kind: records.Text}
		for _, s := range tt.cells {
			col.Text = append(col.Text, []byte(s))
		}
		c.observe(&col, len(tt.cells))
		if got := c.typ(); got != tt.want {
			t.Errorf("%q: type %s, want %s", tt.cells, got, tt.want)
		}
	}
}

func TestBinning(t *testing.T) {
	tests := []struct {
		lo, hi float64
		isInt  bool
		labels []string
	}{
		{18, 90, true, []string{"10 to 19", "20 to 29", "30 to 39", "40 to 49", "50 to 59", "60 to 69", "70 to 79", "80 to 89", "90 to 99"}},
		{1, 5, true, []string{"1", "2", "3", "4", "5"}},
		{-2, 1, true, []string{"-2", "-1", "0", "1"}},
		{7, 7, true, []string{"7"}},
		{2.5, 2.5, false, []string{"2.5"}},
		{17.1, 40.8, false, []string{"15 to under 20", "20 to under 25", "25 to under 30", "30 to under 35", "35 to under 40", "40 to under 45"}},
		{0.11, 0.52, false, []string{"0.10 to under 0.15", "0.15 to under 0.20", "0.20 to under 0.25", "0.25 to under 0.30", "0.30 to under 0.35", "0.35 to under 0.40", "0.40 to under 0.45", "0.45 to under 0.50", "0.50 to under 0.55"}},
		{-0.3, 0.3, false, []string{"-0.3 to under -0.2", "-0.2 to under -0.1", "-0.1 to under 0.0", "0.0 to under 0.1", "0.1 to under 0.2", "0.2 to under 0.3", "0.3 to under 0.4"}},
	}
	for _, tt := range tests {
		b, ok := newBinning(tt.lo, tt.hi, tt.isInt)
		if !ok {
			t.Errorf("newBinning(%v, %v): refused", tt.lo, tt.hi)
			continue
		}
		var got []string
		for i := range b.n {
			got = append(got, b.label(i))
		}
		if !slices.Equal(got, tt.labels) {
			t.Errorf("newBinning(%v, %v) labels %q, want %q", tt.lo, tt.hi, got, tt.labels)
		}
		if b.index(tt.lo) != 0 || b.index(tt.hi) != b.n-1 {
			t.Errorf("newBinning(%v, %v): min in bin %d, max in bin %d of %d", tt.lo, tt.hi, b.index(tt.lo), b.index(tt.hi), b.n)
		}
	}
	if _, ok := newBinning(-math.MaxFloat64, math.MaxFloat64, false); ok {
		t.Error("a range too wide to subtract was binned")
	}
}

func TestExactQuantile(t *testing.T) {
	vals := []valCount{{1, 1}, {2, 1}, {3, 1}, {4, 1}}
	for _, tt := range []struct{ q, want float64 }{{0, 1}, {0.25, 1.75}, {0.5, 2.5}, {0.75, 3.25}, {1, 4}} {
		if got := exactQuantile(vals, 4, tt.q); got != tt.want {
			t.Errorf("quantile %v of 1..4 = %v, want %v", tt.q, got, tt.want)
		}
	}
	repeated := []valCount{{10, 3}, {20, 1}}
	if got := exactQuantile(repeated, 4, 0.5); got != 10 {
		t.Errorf("median of 10,10,10,20 = %v, want 10", got)
	}
}

func TestSketch(t *testing.T) {
	const n = 200_000
	s := newSketch()
	for i := range n {
		// A permutation of 0..n-1, so that the values arrive unsorted.
		s.add(float64(i*7919%n), 1)
	}
	got := s.quantiles([]float64{0.25, 0.5, 0.75})
	for i, q := range []float64{0.25, 0.5, 0.75} {
		if err := math.Abs(got[i]-q*n) / n; err > 0.005 {
			t.Errorf("quantile %v = %v, want %v within half a percent of the rows (off by %.3f%%)", q, got[i], q*n, 100*err)
		}
	}
	again := newSketch()
	for i := range n {
		again.add(float64(i*7919%n), 1)
	}
	if !slices.Equal(again.quantiles([]float64{0.25, 0.5, 0.75}), got) {
		t.Error("the same stream gave different quantiles")
	}
	if newSketch().quantiles([]float64{0.5}) != nil {
		t.Error("an empty sketch gave quantiles")
	}
}

func TestOverflow(t *testing.T) {
	old := maxDistinct
	maxDistinct = 50
	t.Cleanup(func() { maxDistinct = old })

	const n = 2000
	var rows []string
	for i := range n {
		// x: 0.0 to 199.9, 2000 distinct values: 200 per bin of 20.
		rows = append(rows, fmt.Sprintf("%.1f,code%04d,%d", float64(i*7%n)/10, i, i%3))
	}
	dir := t.TempDir()
	writeFile(t, dir, "in.csv.gz", gzipped(t, csvOf("x,code,small", rows...)))
	mustRun(t, dir, "--input-files", "in.csv.gz", "--output-dir", "out")
	page := readFile(t, dir, "out/in.html")
	doc := parse(t, page)
	types := overviewTypes(doc)
	if types["x"] != "float" || types["code"] != "categorical" || types["small"] != "integer" {
		t.Errorf("types = %v", types)
	}
	x := columnTable(t, doc, "x")
	if len(x) != 10 {
		t.Errorf("x has %d bins, want 10: %v", len(x), x)
	}
	for label, count := range x {
		if count != "200" {
			t.Errorf("x bin %s = %s, want 200 (exact counts from the second pass)", label, count)
		}
	}
	body := text(doc)
	if !strings.Contains(body, "More than 50 distinct values: too many to tabulate.") {
		t.Error("the overflowing text column is not reported as such")
	}
	if bytes.Contains(page, []byte("code0001")) {
		t.Error("a value of the overflowing text column appears")
	}
	if !strings.Contains(body, "quartiles are estimates") {
		t.Error("the estimated quartiles are not marked as estimates")
	}
	stats := columnStats(t, doc, "x")
	for label, want := range map[string]float64{"Lower quartile": 50, "Median": 100, "Upper quartile": 150} {
		got, err := strconv.ParseFloat(stats[label], 64)
		if err != nil || math.Abs(got-want) > 2 {
			t.Errorf("%s of x = %q, want about %v", label, stats[label], want)
		}
	}
}

func TestDates(t *testing.T) {
	var rows []string
	for i := range 300 {
		rows = append(rows, fmt.Sprintf("%d-%02d-15", 1925+i%90, 1+i%12))
	}
	dir := t.TempDir()
	writeFile(t, dir, "in.csv", csvOf("dob", rows...))
	mustRun(t, dir, "--input-files", "in.csv", "--output-dir", ".")
	doc := parse(t, readFile(t, dir, "in.html"))
	dob := columnTable(t, doc, "dob")
	want := map[string]string{}
	for d := 1920; d <= 2010; d += 10 {
		want[fmt.Sprintf("%d to %d", d, d+9)] = ""
	}
	if len(dob) != len(want) {
		t.Fatalf("dob rows %v, want one per decade 1920s to 2010s", dob)
	}
	for label := range want {
		if _, ok := dob[label]; !ok {
			t.Errorf("no row %q in %v", label, dob)
		}
	}
	// Years 1925 to 1954 occur 4 times each, later ones 3 times: the
	// 1930s hold 40 dates and the 1960s 30.
	if dob["1930 to 1939"] != "40" || dob["1960 to 1969"] != "30" {
		t.Errorf("1930s = %s, 1960s = %s; want 40 and 30", dob["1930 to 1939"], dob["1960 to 1969"])
	}
}

func TestDeterministicAndProgress(t *testing.T) {
	dir := t.TempDir()
	small := readFile(t, ".", "testdata/small.csv")
	writeFile(t, dir, "output/a.csv", small)
	writeFile(t, dir, "output/b.csv.gz", gzipped(t, small))
	out := mustRun(t, dir, "--input-files", "output/*.csv*", "--output-dir", "output/r")
	want := "dataset-report: output/a.csv: wrote output/r/a.html\ndataset-report: output/b.csv.gz: wrote output/r/b.html\n"
	if out != want {
		t.Errorf("progress = %q, want %q", out, want)
	}
	first := readFile(t, dir, "output/r/a.html")
	mustRun(t, dir, "--input-files", "output/a.csv", "--output-dir", "output/r")
	if !bytes.Equal(first, readFile(t, dir, "output/r/a.html")) {
		t.Error("the same input gave a different report")
	}
	b := readFile(t, dir, "output/r/b.html")
	if !bytes.Equal(bytes.ReplaceAll(first, []byte("output/a.csv"), []byte("output/b.csv.gz")), b) {
		t.Error("the gzip-compressed copy gave a different report")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "output/r"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "a.html" && e.Name() != "b.html" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string
	}{
		{"no inputs", nil, []string{"--output-dir", "out"}, []string{"--input-files is required"}},
		{"no output dir", map[string]string{"in.csv": "a\n1\n"}, []string{"--input-files", "in.csv"}, []string{"--output-dir is required"}},
		{"empty input list", nil, []string{"--input-files", "--output-dir", "out"}, []string{"--input-files needs at least one value"}},
		{"pattern matches nothing", map[string]string{"output/x.txt": ""}, []string{"--input-files", "output/*.csv", "--output-dir", "out"},
			[]string{"output/*.csv", "matches no files"}},
		{"missing file", nil, []string{"--input-files", "output/input.csv", "--output-dir", "out"},
			[]string{"output/input.csv", "no such file"}},
		{"directory", map[string]string{"output/d/in.csv": "a\n1\n"}, []string{"--input-files", "output/d", "--output-dir", "out"},
			[]string{"output/d", "is a directory"}},
		{"unsupported extension", map[string]string{"in.xlsx": "x"}, []string{"--input-files", "in.xlsx", "--output-dir", "out"},
			[]string{"in.xlsx", "unsupported file type", ".csv.gz"}},
		{"stata", map[string]string{"in.dta": "x"}, []string{"--input-files", "in.dta", "--output-dir", "out"},
			[]string{"in.dta", "Stata"}},
		{"bad csv", map[string]string{"output/bad.csv": "a,b\n1,2\n3,4,5\n"}, []string{"--input-files", "output/bad.csv", "--output-dir", "out"},
			[]string{"output/bad.csv:3"}},
		{"not gzip", map[string]string{"output/bad.csv.gz": "a,b\n1,2\n"}, []string{"--input-files", "output/bad.csv.gz", "--output-dir", "out"},
			[]string{"output/bad.csv.gz", "not gzip-compressed"}},
		{"same report twice", map[string]string{"a/input.csv": "a\n1\n", "b/input.csv": "a\n1\n"},
			[]string{"--input-files", "a/input.csv", "b/input.csv", "--output-dir", "out"},
			[]string{"a/input.csv and b/input.csv", "out/input.html"}},
		{"empty report name", map[string]string{".csv": "a\n1\n"}, []string{"--input-files", ".csv", "--output-dir", "out"},
			[]string{".csv", "rename the file"}},
		{"unknown option", nil, []string{"--input-file", "x.csv", "--output-dir", "out"}, []string{"did you mean --input-files"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, dir, name, []byte(data))
			}
			code, err, _ := run(t, dir, tt.args...)
			if code != 1 || err == nil {
				t.Fatalf("Run = %d, %v; want 1 and an error", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("error %q names the host path of the workspace", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) && tt.name != "bad csv" && tt.name != "not gzip" {
				t.Errorf("the output directory was created before the inputs were checked")
			}
		})
	}
}

func TestPathAttacks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		args  func(dir string) []string
		want  string
	}{
		{"output dir up", nil, func(string) []string { return []string{"--input-files", "in.csv", "--output-dir", "../x"} }, "leaves the workspace"},
		{"output dir deep up", nil, func(string) []string { return []string{"--input-files", "in.csv", "--output-dir", "output/../../x"} }, "leaves the workspace"},
		{"output dir absolute", nil, func(string) []string { return []string{"--input-files", "in.csv", "--output-dir", outside} }, "absolute path"},
		{"input absolute", nil, func(string) []string { return []string{"--input-files", secret, "--output-dir", "out"} }, "absolute path"},
		{"input up", nil, func(string) []string { return []string{"--input-files", "../secret.csv", "--output-dir", "out"} }, "leaves the workspace"},
		{"input pattern up", nil, func(string) []string { return []string{"--input-files", "../*.csv", "--output-dir", "out"} }, "leaves the workspace"},
		{"input symlink", func(t *testing.T, dir string) {
			if err := os.Symlink(secret, filepath.Join(dir, "link.csv")); err != nil {
				t.Fatal(err)
			}
		}, func(string) []string { return []string{"--input-files", "link.csv", "--output-dir", "out"} }, "symbolic link"},
		{"input symlink by pattern", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "links"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(secret, filepath.Join(dir, "links", "link.csv")); err != nil {
				t.Fatal(err)
			}
		}, func(string) []string { return []string{"--input-files", "links/*.csv", "--output-dir", "out"} }, "matches no files"},
		{"input through symlinked directory", func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "ext")); err != nil {
				t.Fatal(err)
			}
		}, func(string) []string { return []string{"--input-files", "ext/secret.csv", "--output-dir", "out"} }, "symbolic link"},
		{"output dir symlink", func(t *testing.T, dir string) {
			if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
				t.Fatal(err)
			}
		}, func(string) []string { return []string{"--input-files", "in.csv", "--output-dir", "out"} }, "symbolic link"},
		{"report is a symlink", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, "in.html"), filepath.Join(dir, "out", "in.html")); err != nil {
				t.Fatal(err)
			}
		}, func(string) []string { return []string{"--input-files", "in.csv", "--output-dir", "out"} }, "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ws")
			writeFile(t, dir, "in.csv", []byte("a\n1\n"))
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			code, err, _ := run(t, dir, tt.args(dir)...)
			if code != 1 || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %d, %v; want 1 and an error mentioning %q", code, err, tt.want)
			}
			entries, err := os.ReadDir(outside)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("files appeared outside the workspace: %v", entries)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); !errors.Is(err, os.ErrNotExist) {
				t.Error("a directory was created beside the workspace")
			}
		})
	}
}

func TestWorkspacePrefix(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "output/in.csv", []byte("a\n1\n"))
	mustRun(t, dir, "--input-files", "/workspace/output/in.csv", "--output-dir", "/workspace/output")
	if _, err := os.Stat(filepath.Join(dir, "output/in.html")); err != nil {
		t.Error(err)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "in.csv", readFile(t, ".", "testdata/small.csv"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code, err := Run(ctx, dir, []string{"--input-files", "in.csv", "--output-dir", "out"}, &stdout, &stderr)
	if code != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %d, %v; want 1 and context.Canceled", code, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/in.html")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a cancelled run wrote a report")
	}
}

// The report passes Haven's own HTML release rules: nothing to FAIL, only
// the review every HTML output gets.
func TestReportPassesReleaseRules(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("testdata", "small.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range disclosure.CheckHTML("small.html", page, disclosure.Fail, 7) {
		if f.Verdict >= disclosure.Fail || f.Rule == "F7a" || f.Rule == "F7b" || f.Rule == "F7c" {
			t.Errorf("release rules find %s: %s", f.Rule, f.Message)
		}
	}
}
