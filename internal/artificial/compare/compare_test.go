package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// exactMeasures come from the generator's exact counts (and stratified
// positions inside bins), so they are all but zero; the others come from
// independent draws and carry sampling noise.
var exactMeasures = map[string]bool{MeasureTVD: true, MeasureBinsTVD: true, MeasureKS: true}

// Generated data is close to its metadata in every format: on 100,000
// rows the exact-count measures are below 0.005 (TVD) and 0.01 (KS), the
// drawn ones (hours of day, text lengths, rows per entity) below 0.01, and
// identifiers are unique and prefixed.
func TestGeneratedDataIsClose(t *testing.T) {
	dir := t.TempDir()
	for _, f := range frame.Formats {
		t.Run(string(f), func(t *testing.T) {
			path := generate(t, dir, episodes(), 100000, f)
			r, err := Compare(episodes(), "", path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != Close || len(r.Failures) > 0 {
				var b bytes.Buffer
				r.WriteText(&b)
				t.Fatalf("verdict %s, want close:\n%s", r.Verdict, b.String())
			}
			if r.Rows != 100000 || r.Format != string(f) || r.Table != "apc" {
				t.Errorf("rows %d, format %s, table %s", r.Rows, r.Format, r.Table)
			}
			if !r.Columns.OK || len(r.Columns.Missing) > 0 {
				t.Errorf("columns: %+v", r.Columns)
			}
			want := []Extra{{"startage", ExtraDerived}, {"diag_3_01", ExtraDerived}}
			if !slices.Equal(r.Columns.Extra, want) {
				t.Errorf("extra columns %v, want %v", r.Columns.Extra, want)
			}
			if len(r.Patterns) > 0 {
				t.Errorf("patterns found: %+v", r.Patterns)
			}
			if len(r.Fields) != len(episodes().Tables[0].Fields) {
				t.Fatalf("%d fields, want one per metadata field", len(r.Fields))
			}
			for _, fr := range r.Fields {
				if fr.Verdict != Close || math.Abs(fr.NullDiff) > 0.001 || fr.Invalid != 0 || fr.Outside != 0 {
					t.Errorf("%s: verdict %s, null diff %v, invalid %d, outside %d", fr.Name, fr.Verdict, fr.NullDiff, fr.Invalid, fr.Outside)
				}
				for _, m := range fr.Measures {
					limit := 0.01
					switch {
					case m.Op == "info":
						continue
					case m.Op == ">=":
						if m.Value != 1 {
							t.Errorf("%s: %s = %v, want 1", fr.Name, m.Name, m.Value)
						}
						continue
					case exactMeasures[m.Name] && m.Name != MeasureKS:
						limit = 0.005
					}
					if m.Value > limit || !m.OK {
						t.Errorf("%s: %s = %v, want below %v", fr.Name, m.Name, m.Value, limit)
					}
				}
			}
			gone := field(t, r, "gone")
			if len(gone.Measures) != 0 || gone.MetadataNullShare != 1 || gone.NullShare != 1 {
				t.Errorf("the suppressed field: %+v", gone)
			}
			if m := measure(t, field(t, r, "patient_id"), MeasureDistinct); m.Op != "info" || m.Value > 0.5 || m.Value < 0.2 {
				t.Errorf("patient_id distinct share %+v: an entity key repeats on its rows", m)
			}
			measure(t, field(t, r, "patient_id"), MeasureCardinality)
			measure(t, field(t, r, "arrival"), MeasureHoursTVD)
		})
	}
}

// wrongDoc is the metadata of a deliberately wrong file: admimeth's counts
// permuted, admidate a year late, note's null count raised and los gone.
func wrongDoc() *meta.Document {
	d := episodes()
	tb := &d.Tables[0]
	tb.Field("admimeth").Values = []meta.Value{{V: "11", N: 20000}, {V: "21", N: 35000}, {V: "2A", N: 40000}}
	tb.Field("admidate").Bins = []meta.DateBin{
		{Start: "2021-01-01", End: "2021-03-31", Grain: meta.GrainQuarter, N: 30000},
		{Start: "2021-04-01", End: "2021-12-31", Grain: meta.GrainYear, N: 60000}}
	tb.Field("note").NullN = 80000
	var fields []meta.Field
	for _, f := range tb.Fields {
		if f.Name != "los" {
			fields = append(fields, f)
		}
	}
	tb.Fields = fields
	return d
}

func TestWrongDataIsFar(t *testing.T) {
	dir := t.TempDir()
	path := generate(t, dir, wrongDoc(), 50000, frame.Parquet)
	r, err := Compare(episodes(), "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Far {
		t.Fatalf("verdict %s, want far:\n%s", r.Verdict, text.String())
	}
	far := map[string]string{}
	for _, f := range r.Fields {
		if f.Verdict != Close {
			far[f.Name] = f.Verdict
		}
	}
	want := map[string]string{"admimeth": Far, "admidate": Far, "note": Far, "los": Missing}
	if fmt.Sprint(far) != fmt.Sprint(want) {
		t.Errorf("fields not close: %v, want %v\n%s", far, want, text.String())
	}
	// Swapping 20,000 and 40,000 of 95,000 non-null values moves 20,000.
	if m := measure(t, field(t, r, "admimeth"), MeasureTVD); !near(m.Value, 20000.0/95000, 0.001) || m.OK {
		t.Errorf("admimeth tvd %+v, want %.4f and not ok", m, 20000.0/95000)
	}
	adm := field(t, r, "admidate")
	for _, name := range []string{MeasureBinsTVD, MeasureKS} {
		if m := measure(t, adm, name); m.Value != 1 {
			t.Errorf("admidate a year late: %s %v, want 1", name, m.Value)
		}
	}
	if adm.Outside != 45000 {
		t.Errorf("admidate: %d dates outside the bins, want 45,000", adm.Outside)
	}
	if note := field(t, r, "note"); !near(note.NullDiff, 0.3, 0.001) || len(note.Reasons) != 1 || !strings.Contains(note.Reasons[0], "null share") {
		t.Errorf("note: null diff %v, reasons %q", note.NullDiff, note.Reasons)
	}
	if !slices.Equal(r.Columns.Missing, []string{"los"}) || r.Columns.OK {
		t.Errorf("columns %+v, want los missing", r.Columns)
	}
	for _, name := range []string{"admimeth", "admidate", "note", `"los"`} {
		if !strings.Contains(strings.Join(r.Failures, "\n"), name) {
			t.Errorf("the failures do not name %s: %q", name, r.Failures)
		}
		if !strings.Contains(text.String(), name) {
			t.Errorf("the text report does not name %s", name)
		}
	}
}

// A repeated or unprefixed row identifier fails its check.
func TestIdentifierChecks(t *testing.T) {
	dir := t.TempDir()
	path := generate(t, dir, episodes(), 20000, frame.CSV)
	var second string
	editCSV(t, path, func(i int, line string) string {
		cells := strings.SplitN(line, ",", 3)
		switch i {
		case 2:
			second = cells[1]
		case 3, 4: // two more rows repeat row 2's epikey
			cells[1] = second
		case 10:
			cells[1] = "REAL" + strings.TrimPrefix(cells[1], "TEST")
		}
		return strings.Join(cells, ",")
	})
	r, err := Compare(episodes(), "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := field(t, r, "epikey")
	if f.Verdict != Far || r.Verdict != Far {
		t.Fatalf("epikey verdict %s, overall %s: want far", f.Verdict, r.Verdict)
	}
	if m := measure(t, f, MeasureDistinct); m.OK || !near(m.Value, 19998.0/20000, 1e-9) {
		t.Errorf("distinct share %+v, want 19,998 of 20,000", m)
	}
	if m := measure(t, f, MeasurePrefix); m.OK || !near(m.Value, 19999.0/20000, 1e-9) {
		t.Errorf("prefix share %+v, want 19,999 of 20,000", m)
	}
	if !strings.Contains(strings.Join(f.Notes, " "), "2 rows repeat an earlier value") {
		t.Errorf("notes %q do not count the repeats", f.Notes)
	}
}

// Above IDRows values the identifier check keeps a hash sample; a value
// and its copies are kept or dropped together, so repeats still show.
func TestIdentifierSample(t *testing.T) {
	doc := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "t", RowsN: 100, Fields: []meta.Field{
			{Name: "id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9]{8}", Scope: "row"}}}}}}
	var b strings.Builder
	b.WriteString("id\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "TEST%08d\n", i%15000) // 5,000 values twice
	}
	path := writeFile(t, t.TempDir(), "t.csv", b.String())
	exact, err := Compare(doc, "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sampled, err := Compare(doc, "", path, Options{IDRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	e := measure(t, field(t, exact, "id"), MeasureDistinct)
	s := measure(t, field(t, sampled, "id"), MeasureDistinct)
	if e.Sampled || !near(e.Value, 0.75, 1e-9) {
		t.Errorf("exact: %+v, want 15,000 distinct of 20,000", e)
	}
	if !s.Sampled || s.OK || !near(s.Value, 0.75, 0.1) {
		t.Errorf("sampled: %+v, want about 0.75, sampled, not ok", s)
	}
	if !strings.Contains(strings.Join(field(t, sampled, "id").Notes, " "), "hash sample") {
		t.Errorf("the sampled report does not say so: %q", field(t, sampled, "id").Notes)
	}
}

// Continuous fields with more distinct values than ExactDistinct are
// measured on a histogram, within its resolution of the exact distance.
func TestContinuousHistogramFallback(t *testing.T) {
	dir := t.TempDir()
	wrong := episodes()
	wrong.Tables[0].Field("weight").Continuous.Cuts = []float64{62, 74, 86}
	for _, doc := range []*meta.Document{episodes(), wrong} {
		path := generate(t, dir, doc, 30000, frame.Arrow)
		exact, err := Compare(episodes(), "", path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hist, err := Compare(episodes(), "", path, Options{ExactDistinct: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"weight", "score", "los"} {
			e := measure(t, field(t, exact, name), MeasureKS)
			h := measure(t, field(t, hist, name), MeasureKS)
			if !strings.Contains(strings.Join(field(t, hist, name).Notes, " "), "histogram") {
				t.Errorf("%s: the notes do not say a histogram was used", name)
			}
			// Buckets narrower than the grid step hold one value each,
			// so the histogram loses nothing here.
			if e.Resolution != 0 || h.Resolution != 0 {
				t.Errorf("%s: resolutions exact %v, histogram %v, want 0", name, e.Resolution, h.Resolution)
			}
			if h.Value > e.Value+1e-9 || e.Value > h.Value+h.Resolution+1e-9 {
				t.Errorf("%s: histogram ks %v ± %v, exact %v", name, h.Value, h.Resolution, e.Value)
			}
			if e.OK != h.OK {
				t.Errorf("%s: exact ok %v, histogram ok %v", name, e.OK, h.OK)
			}
		}
	}
}

// The date sequence note appears on members a sort made far.
func TestSequenceDrift(t *testing.T) {
	doc := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "t", RowsN: 20000, Fields: []meta.Field{
			{Name: "a", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2020-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 20000}}},
			{Name: "b", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2020-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 20000}}}},
		Postprocess: &meta.Rules{Sequences: [][]string{{"a", "b"}}}}}}
	path := generate(t, t.TempDir(), doc, 20000, frame.CSV)
	r, err := Compare(doc, "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		f := field(t, r, name)
		// The minimum of two uniforms: the ECDF at the middle is 3/4.
		if m := measure(t, f, MeasureKS); f.Verdict != Far || m.Value < 0.2 {
			t.Errorf("%s: verdict %s, ks %v: sorting should show", name, f.Verdict, m.Value)
		}
		if !strings.Contains(strings.Join(f.Notes, " "), "date sequence (a, b)") {
			t.Errorf("%s: notes %q do not mention the sequence", name, f.Notes)
		}
	}
}

// Values that look like real identifiers are reported by column, pattern
// and first row, unless the metadata itself holds them. Pattern
// identifiers are not scanned: they are checked for their reserved prefix,
// and digits inside TEST4010232137 do not make it a real NHS number.
func TestPatternScan(t *testing.T) {
	nhs := "9434765919" // a valid check digit
	if !meta.ValidNHSNumber(nhs) || !meta.ValidNHSNumber("4010232137") {
		t.Fatal("the test's NHS numbers are not valid")
	}
	doc := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "t", RowsN: 10, Fields: []meta.Field{
			{Name: "code", Type: meta.TypeCategorical, Values: []meta.Value{{V: nhs, N: 5}, {V: "A1", N: 5}}},
			{Name: "ref", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9]{10}", Scope: "row"}},
			{Name: "n", Type: meta.TypeInteger, Values: []meta.Value{{V: "1", N: 10}}}}}}}
	csv := "code,ref,n,contact\n" +
		nhs + ",TEST" + nhs + ",1,\n" + // both held by the metadata
		"A1,TEST4010232137,1,call 020 7946 0958\n" +
		"A1,TEST0000000001,4010232137,write to a.b@example.org\n" +
		"SW1A 1AA,TEST0000000002,1,SW1A 1AA\n" +
		"A1,TEST0000000003,1,SW1A 1AA\n"
	path := writeFile(t, t.TempDir(), "t.csv", csv)
	r, err := Compare(doc, "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range r.Patterns {
		got = append(got, fmt.Sprintf("%s %s %d@%d", h.Column, h.Pattern, h.Rows, h.FirstRow))
	}
	want := []string{
		"code uk_postcode 1@4",
		"n nhs_number 1@3",
		"contact email 1@3",
		"contact uk_postcode 2@4",
		"contact uk_phone 1@2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Verdict != Far || field(t, r, "ref").Verdict != Close {
		t.Errorf("verdict %s, ref %s: want far and close", r.Verdict, field(t, r, "ref").Verdict)
	}
	if !strings.Contains(strings.Join(r.Failures, "\n"), "contact: 1 value looks like a UK phone number") {
		t.Errorf("failures %q do not name the extra column's hit", r.Failures)
	}
	// The report never prints a value of the file.
	var b bytes.Buffer
	r.WriteText(&b)
	r.WriteJSON(&b)
	for _, v := range []string{"4010232137", "7946", "example.org", "SW1A"} {
		if strings.Contains(b.String(), v) {
			t.Errorf("the report shows the value %q", v)
		}
	}
}

// Values that do not read as the field's type are invalid and count
// towards the distances.
func TestInvalidValues(t *testing.T) {
	doc := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "t", RowsN: 10, Fields: []meta.Field{
			{Name: "d", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2020-01-01", End: "2020-01-10", Grain: meta.GrainDay, N: 10}}},
			{Name: "i", Type: meta.TypeInteger, Values: []meta.Value{{V: "1", N: 5}, {V: "2", N: 5}}},
			{Name: "b", Type: meta.TypeBoolean, Values: []meta.Value{{V: "Y", N: 5}, {V: "N", N: 5}}},
			{Name: "x", Type: meta.TypeFloat, Continuous: &meta.Continuous{Step: 25, Cuts: []float64{1, 2, 3}}}}}}}
	var b strings.Builder
	b.WriteString("d,i,b,x\n")
	for k := range 10 {
		fmt.Fprintf(&b, "2020-01-%02d,%d,%s,%d.5\n", k+1, 1+k%2, []string{"Y", "n"}[k%2], 1+k%2)
	}
	b.WriteString("yesterday,one,maybe,lots\n")
	r, err := Compare(doc, "", writeFile(t, t.TempDir(), "t.csv", b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d", "i", "b", "x"} {
		f := field(t, r, name)
		if f.Invalid != 1 {
			t.Errorf("%s: %d invalid, want 1", name, f.Invalid)
		}
		if f.Measures[0].Value < 1.0/11-1e-9 {
			t.Errorf("%s: %s %v counts the invalid value less than fully", name, f.Measures[0].Name, f.Measures[0].Value)
		}
	}
	if v := measure(t, field(t, r, "b"), MeasureTVD).Value; !near(v, 1.0/11, 1e-9) {
		t.Errorf("boolean tokens in either case: tvd %v, want 1/11", v)
	}
}

// Metadata the generator would refuse is reported on its field, not
// mistaken for an empty one.
func TestBrokenMetadataFields(t *testing.T) {
	doc := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "t", RowsN: 10, Fields: []meta.Field{
			{Name: "x", Type: meta.TypeFloat, Continuous: &meta.Continuous{Step: 3, Cuts: []float64{1, 2}}},
			{Name: "d", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2020-02-30", End: "2020-03-01", N: 10}}},
			{Name: "s", Type: "string", Values: []meta.Value{{V: "a", N: 10}}},
			{Name: "o", Type: meta.TypeDate, Bins: []meta.DateBin{
				{Start: "2020-01-01", End: "2020-01-31", N: 10}, {Start: "2020-03-01", End: "2020-03-31", N: 10}, {Start: "2020-01-15", End: "2020-02-15", N: 10}}}}}}}
	r, err := Compare(doc, "", writeFile(t, t.TempDir(), "t.csv", "x,d,s,o\n1,2020-03-01,a,2020-01-20\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o := field(t, r, "o"); !strings.Contains(strings.Join(o.Notes, " "), "bins overlap") || o.Outside != 0 {
		t.Errorf("overlapping bins: notes %q, outside %d", o.Notes, o.Outside)
	}
	for name, want := range map[string]string{"x": "continuous step 3", "d": "date bin 1 (2020-02-30 to 2020-03-01) is not a valid bin", "s": `type "string" is not a field type`} {
		f := field(t, r, name)
		if f.Verdict != Far || !strings.Contains(strings.Join(f.Reasons, " "), want) {
			t.Errorf("%s: verdict %s, reasons %q; want far and %q", name, f.Verdict, f.Reasons, want)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	two := episodes()
	two.Tables = append(two.Tables, meta.Table{Name: "other", RowsN: 5})
	good := writeFile(t, dir, "apc.csv", "patient_id\n1\n")
	for _, c := range []struct {
		name  string
		doc   *meta.Document
		table string
		input string
		opts  Options
		want  string
	}{
		{"no such table", episodes(), "op", good, Options{}, `no table "op": it has apc`},
		{"several tables, none named", two, "", writeFile(t, dir, "x.csv", "a\n1\n"), Options{}, "2 tables (apc, other): choose"},
		{"no such file", episodes(), "", filepath.Join(dir, "nope.csv"), Options{}, "no such file"},
		{"unknown extension", episodes(), "", writeFile(t, dir, "x.txt", "a\n"), Options{}, "unknown file type"},
		{"a ragged CSV", episodes(), "", writeFile(t, dir, "r.csv", "a,b\n1,2\n3\n"), Options{}, "r.csv:3: row 2 has 1 field"},
		{"a threshold above 1", episodes(), "", good, Options{Thresholds: &Thresholds{MaxTVD: 2}}, "--max-tvd 2"},
		{"a negative threshold", episodes(), "", good, Options{Thresholds: &Thresholds{MaxKS: -0.1}}, "--max-ks -0.1"},
	} {
		_, err := Compare(c.doc, c.table, c.input, c.opts)
		var he *haven.Error
		if !errors.As(err, &he) || he.Code != haven.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want EINVALID containing %q", c.name, err, c.want)
		}
	}
	// With several tables, the file's name picks one.
	r, err := Compare(two, "", good, Options{})
	if err != nil || r.Table != "apc" {
		t.Errorf("apc.csv against two tables: table %v, error %v", r, err)
	}
}

// A file with no rows is far (nothing generated), not an error.
func TestEmptyFile(t *testing.T) {
	path := generate(t, t.TempDir(), episodes(), 0, frame.CSV)
	r, err := Compare(episodes(), "", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Far || r.Rows != 0 || field(t, r, "admimeth").Measures[0].Value != 1 {
		t.Errorf("empty file: verdict %s, rows %d", r.Verdict, r.Rows)
	}
	if !strings.Contains(strings.Join(r.Notes, " "), "10000 rows or more") {
		t.Errorf("notes %q do not warn of the small sample", r.Notes)
	}
}

func TestJSONReport(t *testing.T) {
	path := generate(t, t.TempDir(), episodes(), 2000, frame.CSVGz)
	r, err := Compare(episodes(), "apc", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["schema"] != SchemaV1 || back["format"] != "csv.gz" || back["rows"] != 2000.0 {
		t.Errorf("json: schema %v, format %v, rows %v", back["schema"], back["format"], back["rows"])
	}
	for _, key := range []string{"verdict", "columns", "fields", "patterns", "failures", "thresholds"} {
		if _, ok := back[key]; !ok {
			t.Errorf("json has no %q", key)
		}
	}
}

// Compare never panics on a file, whatever it holds.
func FuzzCompareCSV(f *testing.F) {
	f.Add("patient_id,epikey,dob,admimeth,los,weight,died,note\n1,TEST1,01/02/1950,11,3,70.5,Y,abc\n")
	f.Add("dob,arrival\n31/02/1950,2021-03-01T09:00:00\n,2021-03-01 25:00:00\n")
	f.Add("los,score,ratio\n-1e308,NaN,0.5\n1e400,inf,x\n")
	f.Add("epikey,epikey\n\"a,b\",\"\"\"\"\n")
	f.Fuzz(func(t *testing.T, csv string) {
		path := filepath.Join(t.TempDir(), "apc.csv")
		if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Compare(episodes(), "", path, Options{ExactDistinct: 4, IDRows: 4})
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatalf("the report does not encode: %v", err)
		}
		if r.Verdict != Close && r.Verdict != Far {
			t.Fatalf("verdict %q", r.Verdict)
		}
	})
}
