package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

var fixedNow = func() time.Time { return time.Date(2025, 1, 31, 10, 0, 0, 0, time.FixedZone("X", 3600)) }

func writeCSV(t testing.TB, dir, name string, header []string, rows [][]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t testing.TB, o Options) (*Result, []byte) {
	t.Helper()
	if o.Now == nil {
		o.Now = fixedNow
	}
	if o.HavenVersion == "" {
		o.HavenVersion = "test"
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	raw, err := meta.Encode(res.Document)
	if err != nil {
		t.Fatal(err)
	}
	// The document must survive the strict decoder.
	if _, err := meta.Decode("out.json", raw); err != nil {
		t.Fatalf("the metadata does not decode: %v", err)
	}
	checkSDC(t, res.Document)
	return res, raw
}

// checkSDC walks the document: every count is 0 (omitted or dropped) or at
// least k and a multiple of the base.
func checkSDC(t testing.TB, d *meta.Document) {
	t.Helper()
	k, base := d.SDC.MinCount, d.SDC.RoundBase
	check := func(where string, n int64, zeroOK bool) {
		if n == 0 && zeroOK {
			return
		}
		if n < k || n%base != 0 {
			t.Errorf("%s: count %d breaks k=%d, base=%d", where, n, k, base)
		}
	}
	for _, tb := range d.Tables {
		check(tb.Name+".rows_n", tb.RowsN, true)
		for _, f := range tb.Fields {
			w := tb.Name + "." + f.Name
			check(w+".null_n", f.NullN, true)
			check(w+".n_nonnull", f.NNonNull, true)
			for _, v := range f.Values {
				check(w+"["+v.V+"]", v.N, false)
			}
			for _, v := range f.Hours {
				check(w+".hours["+v.V+"]", v.N, false)
			}
			for _, b := range f.Bins {
				check(w+".bins["+b.Start+"]", b.N, false)
			}
			if f.Text != nil {
				for _, v := range f.Text.Lengths {
					check(w+".lengths["+v.V+"]", v.N, false)
				}
			}
			if f.Continuous != nil {
				for i := 1; i < len(f.Continuous.Cuts); i++ {
					if f.Continuous.Cuts[i] < f.Continuous.Cuts[i-1] {
						t.Errorf("%s: cut-points decrease at %d: %v", w, i, f.Continuous.Cuts)
					}
				}
			}
			if f.Type == meta.TypeIdentifier && (len(f.Values) > 0 || len(f.Bins) > 0 || f.Text != nil || f.Continuous != nil) {
				t.Errorf("%s: an identifier carries aggregates", w)
			}
			if f.Type == meta.TypeIdentifier && f.Identifier != nil && f.Identifier.Kind == "pattern" && !strings.HasPrefix(f.Identifier.Pattern, IDPrefix) {
				t.Errorf("%s: pattern %q lacks the prefix", w, f.Identifier.Pattern)
			}
		}
		for _, r := range tb.Relationships {
			for _, c := range r.Cardinalities {
				check(tb.Name+".relationship["+strconv.Itoa(c.Min)+"]", c.N, false)
			}
		}
	}
}

func field(t testing.TB, d *meta.Document, table, name string) *meta.Field {
	t.Helper()
	tb := d.Table(table)
	if tb == nil {
		t.Fatalf("no table %q", table)
	}
	f := tb.Field(name)
	if f == nil {
		t.Fatalf("no field %s.%s", table, name)
	}
	return f
}

// mixedRows builds a table with one column of every kind.
func mixedRows(n int, r *rand.Rand) ([]string, [][]string, map[string][]string) {
	header := []string{"b01", "byn", "small_int", "big_int", "flt", "visit", "dmy", "admission_date", "code8", "stamp",
		"cat", "mixed", "zeros", "comment", "ref", "seq", "declared", "patient_id", "empty", "spaced"}
	secrets := map[string][]string{}
	var rows [][]string
	words := []string{"pain", "in", "left", "arm", "since", "monday", "no", "fever", "history", "of", "asthma"}
	for i := 0; i < n; i++ {
		var comment []string
		for j := 0; j < 3+r.IntN(8); j++ {
			comment = append(comment, words[r.IntN(len(words))])
		}
		c := strings.Join(comment, " ") + fmt.Sprintf(" case %d", i)
		ref := fmt.Sprintf("ZQ%07dX", 1000000+i*7)
		seq := strconv.Itoa(900000000 + i*13)
		decl := fmt.Sprintf("DX%06d", 500000+i)
		pid := strconv.Itoa(700000000 + i)
		secrets["comment"] = append(secrets["comment"], c)
		secrets["ref"] = append(secrets["ref"], ref)
		secrets["seq"] = append(secrets["seq"], seq)
		secrets["declared"] = append(secrets["declared"], decl)
		secrets["patient_id"] = append(secrets["patient_id"], pid)
		day := 18262 + r.IntN(60)
		y, m, d := meta.CivilFromDays(int32(day))
		mixed := strconv.Itoa(r.IntN(5))
		if i%3 == 0 {
			mixed = []string{"low", "high"}[r.IntN(2)]
		}
		flt := strconv.FormatFloat(float64(r.IntN(100000))/100, 'f', 2, 64)
		empty := "x"
		if i%2 == 0 {
			empty = "NA"
		}
		rows = append(rows, []string{
			strconv.Itoa(r.IntN(2)),
			[]string{"Y", "N"}[r.IntN(2)],
			strconv.Itoa(r.IntN(10)),
			strconv.Itoa(r.IntN(1000)),
			flt,
			meta.DayString(int32(day)),
			fmt.Sprintf("%02d/%02d/%04d", d, m, y),
			fmt.Sprintf("%04d%02d%02d", y, m, d),
			strconv.Itoa(10000000 + r.IntN(200)),
			fmt.Sprintf("%sT%02d:%02d:00Z", meta.DayString(int32(day)), r.IntN(24), r.IntN(60)),
			[]string{"red", "green", "blue"}[r.IntN(3)],
			mixed,
			[]string{"01", "02", "10"}[r.IntN(3)],
			`"` + c + `"`,
			ref, seq, decl, pid, empty,
			[]string{`"White British"`, `"Asian or Asian British"`}[r.IntN(2)],
		})
	}
	return header, rows, secrets
}

func TestInferenceCSV(t *testing.T) {
	dir := t.TempDir()
	header, rows, secrets := mixedRows(2000, rand.New(rand.NewPCG(1, 1)))
	p := writeCSV(t, dir, "mixed.csv", header, rows)
	res, raw := run(t, Options{Inputs: []string{p}, IDColumns: []string{"declared"}})
	d := res.Document
	for _, tc := range []struct {
		name, typ, format string
	}{
		{"b01", meta.TypeBoolean, ""},
		{"byn", meta.TypeBoolean, ""},
		{"small_int", meta.TypeInteger, ""},
		{"big_int", meta.TypeInteger, ""},
		{"flt", meta.TypeFloat, ""},
		{"visit", meta.TypeDate, "2006-01-02"},
		{"dmy", meta.TypeDate, "02/01/2006"},
		{"admission_date", meta.TypeDate, "20060102"},
		{"code8", meta.TypeInteger, ""},
		{"stamp", meta.TypeDatetime, "2006-01-02T15:04:05Z"},
		{"cat", meta.TypeCategorical, ""},
		{"mixed", meta.TypeCategorical, ""},
		{"zeros", meta.TypeCategorical, ""},
		{"comment", meta.TypeFreeText, ""},
		{"ref", meta.TypeIdentifier, ""},
		{"seq", meta.TypeIdentifier, ""},
		{"declared", meta.TypeIdentifier, ""},
		{"patient_id", meta.TypeIdentifier, ""},
		{"empty", meta.TypeCategorical, ""},
		{"spaced", meta.TypeCategorical, ""},
	} {
		f := field(t, d, "mixed", tc.name)
		if f.Type != tc.typ || f.Format != tc.format {
			t.Errorf("%s: type %s format %q, want %s %q", tc.name, f.Type, f.Format, tc.typ, tc.format)
		}
	}
	// Details of the released aggregates.
	if f := field(t, d, "mixed", "b01"); len(f.Values) != 2 || f.Values[0].V != "0" || f.Values[1].V != "1" {
		t.Errorf("b01 values %+v", f.Values)
	}
	if f := field(t, d, "mixed", "small_int"); len(f.Values) != 10 || f.Values[0].V != "0" || f.Values[9].V != "9" {
		t.Errorf("small_int values %+v", f.Values)
	}
	if f := field(t, d, "mixed", "big_int"); f.Continuous == nil || f.Continuous.Step != 1 || len(f.Continuous.Cuts) != 98 || f.Continuous.Decimals != 0 {
		t.Errorf("big_int continuous %+v", f.Continuous)
	}
	if f := field(t, d, "mixed", "flt"); f.Continuous == nil || f.Continuous.Decimals != 2 {
		t.Errorf("flt continuous %+v", f.Continuous)
	}
	if f := field(t, d, "mixed", "stamp"); len(f.Hours) == 0 || len(f.Bins) == 0 {
		t.Errorf("stamp: hours %v bins %v", f.Hours, f.Bins)
	}
	if f := field(t, d, "mixed", "zeros"); len(f.Values) != 3 || f.Values[0].V != "01" {
		t.Errorf("zeros values %+v", f.Values)
	}
	if f := field(t, d, "mixed", "ref"); f.Identifier.Kind != "pattern" || f.Identifier.Pattern != "TEST[0-9A-Z]{8}" || f.Identifier.Scope != "row" {
		t.Errorf("ref identifier %+v", f.Identifier)
	}
	if f := field(t, d, "mixed", "seq"); f.Identifier.Kind != "integer" {
		t.Errorf("seq identifier %+v", f.Identifier)
	}
	if f := field(t, d, "mixed", "empty"); f.NullN != 1000 || f.NNonNull != 1000 || len(f.Values) != 1 {
		t.Errorf("empty: null_n %d n_nonnull %d values %v", f.NullN, f.NNonNull, f.Values)
	}
	if f := field(t, d, "mixed", "comment"); f.Text == nil || len(f.Text.Lengths) == 0 || f.Text.Letters < 0.5 || f.Text.Spaces == 0 {
		t.Errorf("comment shape %+v", f.Text)
	}
	if d.Tables[0].RowsN != 2000 || d.Dataset != "mixed" || d.Scrape.ScrapedAt != "2025-01-31T09:00:00Z" || d.Scrape.Percentiles != "exact" {
		t.Errorf("table/scrape info: rows_n %d dataset %q %+v", d.Tables[0].RowsN, d.Dataset, d.Scrape)
	}
	if !reflect.DeepEqual(d.Scrape.Inputs, []string{"mixed.csv"}) || d.Scrape.HavenVersion != "test" {
		t.Errorf("scrape info %+v", d.Scrape)
	}
	// No identifier value and no free text appears in the metadata bytes.
	for col, vals := range secrets {
		for _, v := range vals {
			if bytes.Contains(raw, []byte(v)) {
				t.Fatalf("value %q of %s appears in the metadata", v, col)
			}
		}
	}
	// Summary lines agree with the document.
	if len(res.Tables) != 1 || len(res.Tables[0].Fields) != len(header) {
		t.Fatalf("summary %+v", res.Tables)
	}
	if s := res.Tables[0].Fields[len(header)-2]; s.Name != "empty" || s.NullRate != 0.5 {
		t.Errorf("summary of empty: %+v", s)
	}
}

// Columns with more distinct values than the categorical limit take the
// overflow path; their types must match the small-table path.
func TestInferenceOverflow(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	const n = 12000
	header := []string{"num", "when", "note", "key", "intkey", "shortcat", "late_text"}
	var rows [][]string
	var keys []string
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("K%08d", 3*i+1)
		keys = append(keys, key)
		late := strconv.Itoa(r.IntN(100))
		if i == n-1 {
			late = "NotANumber"
		}
		rows = append(rows, []string{
			strconv.FormatFloat(r.NormFloat64()*10+50, 'f', 3, 64),
			meta.DayString(int32(10000 + r.IntN(8000))),
			fmt.Sprintf("\"free text %d with words\"", i),
			key,
			strconv.Itoa(10000000 + 7*i),
			[]string{"a", "b"}[i%2],
			late + fmt.Sprintf(".%d", i),
		})
	}
	p := writeCSV(t, dir, "big.csv", header, rows)
	res, raw := run(t, Options{Inputs: []string{p}})
	d := res.Document
	want := map[string]string{
		"num": meta.TypeFloat, "when": meta.TypeDate, "note": meta.TypeFreeText, "key": meta.TypeIdentifier,
		"intkey": meta.TypeIdentifier, "shortcat": meta.TypeCategorical, "late_text": meta.TypeIdentifier,
	}
	for name, typ := range want {
		if f := field(t, d, "big", name); f.Type != typ {
			t.Errorf("%s: type %s, want %s", name, f.Type, typ)
		}
	}
	if f := field(t, d, "big", "num"); f.Continuous == nil || f.Continuous.Decimals != 3 || len(f.Continuous.Cuts) != 98 {
		t.Errorf("num continuous %+v", f.Continuous)
	}
	if f := field(t, d, "big", "intkey"); f.Identifier.Kind != "integer" {
		t.Errorf("intkey %+v", f.Identifier)
	}
	if f := field(t, d, "big", "key"); f.Identifier.Pattern != "TEST[0-9A-Z]{8}" {
		t.Errorf("key %+v", f.Identifier)
	}
	for _, k := range keys {
		if bytes.Contains(raw, []byte(k)) {
			t.Fatalf("key %s leaked", k)
		}
	}
	if bytes.Contains(raw, []byte("free text")) {
		t.Fatal("free text leaked")
	}
}

// A column of 8-digit numbers is integer unless its name says date; a
// date-named column with a non-date among 8-digit numbers is integer.
func TestCompactDates(t *testing.T) {
	dir := t.TempDir()
	var rows [][]string
	for i := 0; i < 60; i++ {
		rows = append(rows, []string{"2020010" + strconv.Itoa(1+i%9), "2020010" + strconv.Itoa(1+i%9), "2020013" + strconv.Itoa(i%3)})
	}
	rows = append(rows, []string{"20200101", "20200101", "20201332"})
	p := writeCSV(t, dir, "c.csv", []string{"DOB", "reference", "event_date"}, rows)
	res, _ := run(t, Options{Inputs: []string{p}})
	for name, typ := range map[string]string{"DOB": meta.TypeDate, "reference": meta.TypeInteger, "event_date": meta.TypeInteger} {
		if f := field(t, res.Document, "c", name); f.Type != typ {
			t.Errorf("%s: %s, want %s", name, f.Type, typ)
		}
	}
}

func TestRelationships(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	var pats, evs [][]string
	ev := 0
	var ids []string
	for i := 0; i < 400; i++ {
		pid := fmt.Sprintf("P%09d", 123456+i*31)
		ids = append(ids, pid)
		pats = append(pats, []string{pid, []string{"M", "F"}[r.IntN(2)]})
		k := []int{1, 1, 2, 2, 3, 4}[r.IntN(6)]
		if i < 3 {
			k = 40 + i // a few heavy users, top-coded away
		}
		for j := 0; j < k; j++ {
			ev++
			evs = append(evs, []string{pid, fmt.Sprintf("E%08d", 7000000+ev), "X"})
		}
	}
	pp := writeCSV(t, dir, "patients.csv", []string{"pid", "sex"}, pats)
	ep := writeCSV(t, dir, "events.csv.gz.csv", []string{"pid", "eid", "code"}, evs)
	res, raw := run(t, Options{Inputs: []string{pp, ep}, Relationships: []Relationship{{Parent: "pid", Child: "eid"}}, Dataset: "cohort"})
	d := res.Document
	if d.Dataset != "cohort" {
		t.Errorf("dataset %q", d.Dataset)
	}
	pt, et := d.Table("patients"), d.Table("events.csv.gz")
	if pt == nil || et == nil {
		t.Fatalf("tables %v", d.Tables)
	}
	if pt.EntityKey != "pid" || pt.RowKey != "" || et.EntityKey != "pid" || et.RowKey != "eid" {
		t.Errorf("keys: patients %q/%q events %q/%q", pt.EntityKey, pt.RowKey, et.EntityKey, et.RowKey)
	}
	if f := et.Field("pid"); f.Type != meta.TypeIdentifier || f.Identifier.Scope != "entity" {
		t.Errorf("pid in events: %+v %+v", f, f.Identifier)
	}
	if f := et.Field("eid"); f.Type != meta.TypeIdentifier || f.Identifier.Scope != "row" {
		t.Errorf("eid: %+v", f)
	}
	if len(et.Relationships) != 1 || et.Relationships[0].Child != "eid" {
		t.Fatalf("relationships %+v", et.Relationships)
	}
	rel := et.Relationships[0]
	top := rel.Cardinalities[len(rel.Cardinalities)-1]
	if top.Max != 0 || rel.MaxChildren != top.Min || top.Min > 4 {
		t.Errorf("top bin %+v, max_children %d: the three heavy users must be top-coded", top, rel.MaxChildren)
	}
	for _, c := range rel.Cardinalities {
		if c.Min >= 40 {
			t.Errorf("a heavy user's cardinality %d is released", c.Min)
		}
	}
	if len(pt.Relationships) != 1 || pt.Relationships[0].Cardinalities[0].Min != 1 {
		t.Errorf("patients relationship %+v", pt.Relationships)
	}
	for _, id := range ids {
		if bytes.Contains(raw, []byte(id)) {
			t.Fatalf("entity id %s leaked", id)
		}
	}
}

func TestCardinalities(t *testing.T) {
	k5 := meta.DefaultSDC
	for _, tc := range []struct {
		name string
		hist map[int]int64
		sdc  meta.SDC
		want []meta.CardBin
		max  int
	}{
		{"interior merge", map[int]int64{1: 100, 2: 50, 3: 3, 5: 2, 9: 6}, k5,
			[]meta.CardBin{{Min: 1, Max: 1, N: 100}, {Min: 2, Max: 2, N: 50}, {Min: 3, Max: 5, N: 5}, {Min: 9, N: 5}}, 9},
		{"top accumulates", map[int]int64{1: 20, 7: 1, 8: 2, 30: 1, 31: 1}, k5,
			[]meta.CardBin{{Min: 1, Max: 1, N: 20}, {Min: 7, N: 5}}, 7},
		{"bottom remainder merges up", map[int]int64{20: 5, 3: 6, 2: 1, 1: 2}, k5,
			[]meta.CardBin{{Min: 1, Max: 3, N: 10}, {Min: 20, N: 5}}, 20},
		{"remainder into the top", map[int]int64{10: 5, 1: 3}, k5,
			[]meta.CardBin{{Min: 1, N: 10}}, 1},
		{"too few entities", map[int]int64{1: 2, 2: 2}, k5, nil, 0},
		{"k8", map[int]int64{1: 100, 2: 9, 3: 7, 4: 1}, meta.SDC{MinCount: 8, RoundBase: 5},
			[]meta.CardBin{{Min: 1, Max: 1, N: 100}, {Min: 2, Max: 2, N: 10}, {Min: 3, N: 10}}, 3},
		{"zero entries ignored", map[int]int64{0: 9, 1: 5, 2: 0}, k5, []meta.CardBin{{Min: 1, N: 5}}, 1},
	} {
		got, max := Cardinalities(tc.hist, tc.sdc)
		if !reflect.DeepEqual(got, tc.want) || max != tc.max {
			t.Errorf("%s: got %+v max %d, want %+v max %d", tc.name, got, max, tc.want, tc.max)
		}
	}
}

// Property: over random histograms the bins are ascending and disjoint,
// every raw bin total (recomputed from the histogram) is at least k, every
// entity is counted once, and only the top bin is open.
func TestCardinalitiesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for iter := 0; iter < 2000; iter++ {
		s := meta.SDC{MinCount: int64(1 + r.IntN(10)), RoundBase: 1}
		hist := map[int]int64{}
		var total int64
		for i := 0; i < r.IntN(30); i++ {
			c := 1 + r.IntN(60)
			n := int64(r.IntN(12))
			hist[c] += n
			total += n
		}
		bins, max := Cardinalities(hist, s)
		if total < s.MinCount {
			if bins != nil {
				t.Fatalf("%v: bins %v from %d entities", hist, bins, total)
			}
			continue
		}
		var sum int64
		prevMax := 0
		for i, b := range bins {
			open := i == len(bins)-1
			if open != (b.Max == 0) {
				t.Fatalf("%v: bin %d %+v open=%v", hist, i, b, b.Max == 0)
			}
			if b.Min <= prevMax || (!open && b.Max < b.Min) {
				t.Fatalf("%v: bins overlap or are unordered: %+v", hist, bins)
			}
			var raw int64
			for c, n := range hist {
				if c >= b.Min && (open || c <= b.Max) {
					raw += n
				}
			}
			if raw < s.MinCount || raw != b.N {
				t.Fatalf("%v: bin %+v holds %d raw entities (k=%d)", hist, b, raw, s.MinCount)
			}
			sum += raw
			prevMax = b.Max
		}
		if sum != total || max != bins[len(bins)-1].Min {
			t.Fatalf("%v: bins %v cover %d of %d entities, max %d", hist, bins, sum, total, max)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeCSV(t, dir, "good.csv", []string{"a", "b"}, [][]string{{"1", "2"}})
	bad := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"ragged", Options{Inputs: []string{bad("ragged.csv", "a,b,c\n1,2,3\n1,2\n")}}, "ragged.csv:3: row 2 has 2 fields, the header has 3"},
		{"bad quote", Options{Inputs: []string{bad("quote.csv", "a,b\n1,x\"y\n")}}, "quote.csv:2: a quote"},
		{"utf8", Options{Inputs: []string{bad("latin.csv", "a,b\n1,caf\xe9\n")}}, "latin.csv:2: byte 6 of the line (0xE9) is not valid UTF-8"},
		{"empty", Options{Inputs: []string{bad("empty.csv", "")}}, "empty.csv: the file is empty: a CSV needs a header row"},
		{"missing", Options{Inputs: []string{filepath.Join(dir, "nope.csv")}}, "nope.csv: no such file"},
		{"no inputs", Options{}, "no input files"},
		{"duplicate tables", Options{Inputs: []string{good, writeCSV(t, sub, "good.csv", []string{"a"}, nil)}}, `would both be table "good"`},
		{"duplicate columns", Options{Inputs: []string{bad("dup.csv", "a,b,a\n")}}, `column name "a" appears twice (columns 1 and 3)`},
		{"unnamed column", Options{Inputs: []string{bad("unnamed.csv", ",b\n")}}, "column 1 has no name"},
		{"unknown id column", Options{Inputs: []string{good}, IDColumns: []string{"zz"}}, `--id-columns names "zz"`},
		{"unknown exclude", Options{Inputs: []string{good}, Exclude: []string{"zz"}}, `--exclude names "zz"`},
		{"unknown parent", Options{Inputs: []string{good}, Relationships: []Relationship{{Parent: "pid"}}}, `no input has the parent column "pid"`},
		{"unknown child", Options{Inputs: []string{good}, Relationships: []Relationship{{Parent: "a", Child: "c"}}}, `no input has both "a" and "c"`},
		{"excluded key", Options{Inputs: []string{good}, Exclude: []string{"a"}, Relationships: []Relationship{{Parent: "a"}}}, "both excluded and part of --relationship"},
		{"bad sdc", Options{Inputs: []string{good}, MinCount: -1}, "sdc.min_count is -1"},
	} {
		_, err := Run(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
			continue
		}
		if haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("%s: error code %q, want invalid", tc.name, haven.ErrorCode(err))
		}
	}
}

func TestParseRelationship(t *testing.T) {
	for in, want := range map[string]Relationship{
		"patient_id:episode_id": {"patient_id", "episode_id"},
		"patient_id:":           {"patient_id", ""},
		" a : b ":               {"a", "b"},
	} {
		got, err := ParseRelationship(in)
		if err != nil || got != want {
			t.Errorf("ParseRelationship(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"patient_id", ":b", "a:b:c", "a:a", ""} {
		if _, err := ParseRelationship(in); err == nil {
			t.Errorf("ParseRelationship(%q) accepted", in)
		}
	}
}

func TestHeaderOnlyAndExclude(t *testing.T) {
	dir := t.TempDir()
	p := writeCSV(t, dir, "h.csv", []string{"a", "secret", "c"}, nil)
	res, raw := run(t, Options{Inputs: []string{p}, Exclude: []string{"secret"}})
	tb := res.Document.Tables[0]
	if tb.RowsN != 0 || len(tb.Fields) != 2 || tb.Fields[0].Type != meta.TypeCategorical {
		t.Errorf("header-only table %+v", tb)
	}
	if bytes.Contains(raw, []byte("secret")) {
		t.Error("an excluded column's name is in the metadata")
	}
}

// The same input gives the same bytes.
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	header, rows, _ := mixedRows(700, rand.New(rand.NewPCG(8, 8)))
	p := writeCSV(t, dir, "d.csv", header, rows)
	_, a := run(t, Options{Inputs: []string{p}})
	_, b := run(t, Options{Inputs: []string{p}})
	if !bytes.Equal(a, b) {
		t.Fatal("two scrapes of one file differ")
	}
}

// Small tables: counts below k disappear but every field keeps its type.
func TestSmallTableSuppression(t *testing.T) {
	dir := t.TempDir()
	p := writeCSV(t, dir, "s.csv", []string{"sex", "age", "dob"}, [][]string{
		{"M", "40", "1980-01-01"}, {"F", "41", "1980-02-01"}, {"M", "40", "1980-03-01"},
	})
	res, _ := run(t, Options{Inputs: []string{p}})
	tb := res.Document.Tables[0]
	if tb.RowsN != 0 {
		t.Errorf("rows_n %d from 3 rows", tb.RowsN)
	}
	for _, f := range tb.Fields {
		if len(f.Values)+len(f.Bins) != 0 || f.NNonNull != 0 {
			t.Errorf("%s released %+v", f.Name, f)
		}
	}
	if got := []string{tb.Fields[0].Type, tb.Fields[1].Type, tb.Fields[2].Type}; !reflect.DeepEqual(got, []string{"categorical", "integer", "date"}) {
		t.Errorf("types %v", got)
	}
}

func TestProgressAndCancel(t *testing.T) {
	dir := t.TempDir()
	header, rows, _ := mixedRows(300, rand.New(rand.NewPCG(2, 2)))
	p := writeCSV(t, dir, "p.csv", header, rows)
	var last Progress
	calls := 0
	run(t, Options{Inputs: []string{p}, Progress: func(pr Progress) { last = pr; calls++ }})
	fi, _ := os.Stat(p)
	if calls == 0 || last.Done != fi.Size() || last.Total != fi.Size() {
		t.Errorf("progress: %d calls, last %+v, size %d", calls, last, fi.Size())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Inputs: []string{p}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scrape: %v", err)
	}
}

// FuzzScrape: scraping any bytes as a CSV file never panics, and whatever
// it releases obeys disclosure control.
func FuzzScrape(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("id,d\n1,2020-01-01\n2,2020-01-02T10:00:00Z\n"))
	f.Add([]byte("x\n0\n1\nNA\n"))
	f.Add([]byte("\"a\nb\",c\n\"\"\"\",1e5\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), Options{Inputs: []string{p}, Now: fixedNow, Relationships: nil})
		if err != nil {
			if haven.ErrorCode(err) != haven.EINVALID {
				t.Fatalf("error %v is not an invalid-input error", err)
			}
			return
		}
		if _, err := meta.Encode(res.Document); err != nil {
			t.Fatal(err)
		}
		checkSDC(t, res.Document)
	})
}
