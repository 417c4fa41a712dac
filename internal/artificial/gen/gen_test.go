package gen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/rng"
)

func TestSameSeedSameBytes(t *testing.T) {
	for _, f := range frame.Formats {
		t.Run(string(f), func(t *testing.T) {
			o := Options{Rows: 5500, Seed: "s1"}
			a := generate(t, episodes(), o, f, 0, 1, 1)
			b := generate(t, episodes(), o, f, 0, 1, 4)
			if !bytes.Equal(a, b) {
				t.Fatal("1 worker and 4 workers wrote different bytes")
			}
			o.Seed = "s2"
			if c := generate(t, episodes(), o, f, 0, 1, 2); bytes.Equal(a, c) {
				t.Fatal("another seed wrote the same bytes")
			}
		})
	}
}

// Shards split on block boundaries, so their outputs concatenate (CSV) or
// merge (Parquet, Arrow) to exactly the unsharded output.
func TestShardsMakeTheUnshardedOutput(t *testing.T) {
	const rows = 7300 // 8 blocks of 1,000, the last short
	o := Options{Rows: rows, Seed: "shards"}
	for _, f := range frame.Formats {
		whole := generate(t, episodes(), o, f, 0, 1, 2)
		for _, n := range []int{2, 3, 4, 8, 11} {
			dir := t.TempDir()
			var parts []string
			for i := 0; i < n; i++ {
				p := filepath.Join(dir, fmt.Sprintf("part%02d.%s", i, f))
				if err := os.WriteFile(p, generate(t, episodes(), o, f, i, n, 2), 0o644); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, p)
			}
			var merged bytes.Buffer
			if err := frame.Merge(&merged, f, parts); err != nil {
				t.Fatalf("%s, %d shards: %v", f, n, err)
			}
			if !bytes.Equal(merged.Bytes(), whole) {
				t.Errorf("%s: %d shards merge to %d bytes that differ from the unsharded %d", f, n, merged.Len(), len(whole))
			}
			if f == frame.CSV || f == frame.CSVGz {
				var cat []byte
				for _, p := range parts {
					b, _ := os.ReadFile(p)
					cat = append(cat, b...)
				}
				if !bytes.Equal(cat, whole) {
					t.Errorf("%s: %d shards concatenated differ from the unsharded output", f, n)
				}
			}
		}
	}
}

// readCSV parses generated CSV (or gzip-compressed CSV) with encoding/csv.
func readCSV(t testing.TB, b []byte, gz bool) [][]string {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Every format holds the same values: CSV through encoding/csv, Parquet
// and Arrow through arrow-go's readers, rendered as the CSV writer renders
// them.
func TestFormatsReadBack(t *testing.T) {
	o := Options{Rows: 2500, Seed: "read"}
	g, err := New(release(t, episodes()), o)
	if err != nil {
		t.Fatal(err)
	}
	specs := g.Specs()
	want := readCSV(t, generate(t, episodes(), o, frame.CSV, 0, 1, 2), false)
	if len(want) != 2501 {
		t.Fatalf("CSV has %d records, want a header and 2,500 rows", len(want))
	}
	gz := readCSV(t, generate(t, episodes(), o, frame.CSVGz, 0, 1, 2), true)
	if fmt.Sprint(gz) != fmt.Sprint(want) {
		t.Fatal("csv.gz holds other records than csv")
	}
	for _, f := range []frame.Format{frame.Parquet, frame.Arrow} {
		p := filepath.Join(t.TempDir(), "out."+string(f))
		if err := os.WriteFile(p, generate(t, episodes(), o, f, 0, 1, 2), 0o644); err != nil {
			t.Fatal(err)
		}
		row := 1
		err := frame.ReadBlocks(p, f, func(got []frame.Spec, _ map[string]string, b *frame.Batch) error {
			for c := range got {
				if got[c].Name != specs[c].Name || got[c].Kind != specs[c].Kind {
					return fmt.Errorf("column %d is %s %s, want %s %s", c, got[c].Name, got[c].Kind, specs[c].Name, specs[c].Kind)
				}
			}
			for r := 0; r < b.Len; r++ {
				for c := range specs {
					var cell string
					if !b.Cols[c].Null(r) {
						cell = string(frame.AppendText(nil, &specs[c], &b.Cols[c], r, false))
					}
					if cell != want[row][c] {
						return fmt.Errorf("row %d column %s: %q, CSV has %q", row, specs[c].Name, cell, want[row][c])
					}
				}
				row++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if row != 2501 {
			t.Fatalf("%s: read %d rows", f, row-1)
		}
	}
}

func col(recs [][]string, name string) []string {
	for c, h := range recs[0] {
		if h == name {
			out := make([]string, 0, len(recs)-1)
			for _, r := range recs[1:] {
				out = append(out, r[c])
			}
			return out
		}
	}
	return nil
}

func tally(vals []string) map[string]int {
	m := map[string]int{}
	for _, v := range vals {
		m[v]++
	}
	return m
}

// Frequency tables and null rates are met exactly: the counts are the
// largest-remainder apportionment of the rows.
func TestExactCounts(t *testing.T) {
	const rows = 10000
	recs := readCSV(t, generate(t, episodes(), Options{Rows: rows}, frame.CSV, 0, 1, 2), false)
	// admimeth: null 5%, then 40:35:20 of the rest.
	got := tally(col(recs, "admimeth"))
	split, _ := rng.Apportion([]int64{5000, 95000}, rows)
	counts, _ := rng.Apportion([]int64{40000, 35000, 20000}, split[1])
	want := map[string]int{"": int(split[0]), "11": int(counts[0]), "21": int(counts[1]), "2A": int(counts[2])}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("admimeth counts %v, want %v", got, want)
	}
	// died: booleans keep their tokens.
	if got := tally(col(recs, "died")); got["Y"] != 500 || got["N"] != 9500 {
		t.Errorf("died counts %v, want Y 500 and N 9,500", got)
	}
	// los: 10% null; with bounds 0-400 and cuts every 10 from 10 to 190.
	los := col(recs, "los")
	nulls := 0
	for _, v := range los {
		if v == "" {
			nulls++
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 400 {
			t.Fatalf("los %q is outside its bounds", v)
		}
	}
	if nulls != 1000 {
		t.Errorf("los has %d nulls, want 1,000", nulls)
	}
	// dob: the one-week bin holds 10% of the rows.
	week := 0
	for _, v := range col(recs, "dob") {
		if v >= "2000-01-01" && v <= "2000-01-07" {
			week++
		}
	}
	if week != 1000 {
		t.Errorf("%d dates of birth fall in the week bin, want 1,000", week)
	}
}

func TestDatesSpreadEvenlyInsideBins(t *testing.T) {
	d := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{Name: "t", RowsN: 100, Fields: []meta.Field{
		{Name: "d", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2021-01-01", End: "2021-01-10", Grain: meta.GrainWeek, N: 100}}}}}}}
	recs := readCSV(t, generate(t, d, Options{Rows: 1000}, frame.CSV, 0, 1, 1), false)
	for day, n := range tally(col(recs, "d")) {
		if n != 100 {
			t.Errorf("%s has %d rows, want 100 (each of 10 days gets a tenth)", day, n)
		}
	}
}

func TestIdentifiersAreUniqueAndPrefixed(t *testing.T) {
	const rows = 1000000
	d := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{Name: "t", RowsN: 100, Fields: []meta.Field{
		{Name: "key", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9A-Z]{8}", Scope: "row"}},
		{Name: "n", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "integer", Scope: "row"}}}}}}
	g, err := New(release(t, d), Options{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	var b frame.Batch
	seen := make(map[string]struct{}, rows)
	ints := make(map[int64]struct{}, rows)
	re := regexp.MustCompile(`^TEST[0-9A-Z]{8}$`)
	for start := uint64(0); start < rows; start += 65536 {
		n := min(65536, int(rows-start))
		b.Reset(g.Specs(), start, n)
		if err := g.Fill(&b, start, n); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			s := strings.Clone(b.Cols[0].Strs[i])
			if !re.MatchString(s) {
				t.Fatalf("identifier %q does not match its pattern", s)
			}
			seen[s] = struct{}{}
			v := b.Cols[1].Ints[i]
			if v < 0 || v >= 10*rows {
				t.Fatalf("integer identifier %d is outside [0, 10N)", v)
			}
			ints[v] = struct{}{}
		}
	}
	if len(seen) != rows || len(ints) != rows {
		t.Fatalf("%d distinct pattern identifiers and %d integers among %d rows", len(seen), len(ints), rows)
	}
}

func TestSequenceKeepsNullsInPlace(t *testing.T) {
	specs := []frame.Spec{{Name: "a", Kind: frame.Date}, {Name: "b", Kind: frame.Date}, {Name: "c", Kind: frame.Date}}
	var b frame.Batch
	b.Reset(specs, 0, 1)
	day := func(s string) int64 { d, _ := parseDay(s); return d }
	b.SetNullable(0)
	b.Cols[0].Valid[0] = false
	b.Cols[1].Ints[0] = day("2020-03-01")
	b.Cols[2].Ints[0] = day("2020-01-01")
	sortSequence(&b, []int{0, 1, 2}, 1)
	if !b.Cols[0].Null(0) || b.Cols[1].Ints[0] != day("2020-01-01") || b.Cols[2].Ints[0] != day("2020-03-01") {
		t.Fatalf("(null, 2020-03-01, 2020-01-01) became (%v, %d, %d)", b.Cols[0].Null(0), b.Cols[1].Ints[0], b.Cols[2].Ints[0])
	}
	// On generated data: wherever two are present they are in order, and
	// each field keeps its own null count.
	recs := readCSV(t, generate(t, episodes(), Options{Rows: 5000}, frame.CSV, 0, 1, 2), false)
	adm, dis := col(recs, "admidate"), col(recs, "disdate")
	admNull, disNull := 0, 0
	for i := range adm {
		if adm[i] == "" {
			admNull++
		}
		if dis[i] == "" {
			disNull++
		}
		if adm[i] != "" && dis[i] != "" {
			dd := dis[i][6:10] + "-" + dis[i][3:5] + "-" + dis[i][0:2]
			if adm[i] > dd {
				t.Fatalf("row %d: admitted %s after discharge %s", i, adm[i], dd)
			}
		}
	}
	if admNull != 500 || disNull != 1000 {
		t.Errorf("nulls moved: admidate %d (want 500), disdate %d (want 1,000)", admNull, disNull)
	}
}

func TestRelationshipCardinalities(t *testing.T) {
	const rows = 60000
	recs := readCSV(t, generate(t, episodes(), Options{Rows: rows}, frame.CSV, 0, 1, 2), false)
	ids := col(recs, "patient_id")
	if len(ids) != rows {
		t.Fatalf("%d rows, want %d", len(ids), rows)
	}
	per := map[string]int{}
	runs := 0
	for i, id := range ids {
		if i == 0 || ids[i-1] != id {
			runs++
		}
		per[id]++
	}
	if runs != len(per) {
		t.Fatalf("an entity's rows are not contiguous: %d runs for %d entities", runs, len(per))
	}
	hist := map[string]int{}
	for _, n := range per {
		switch {
		case n == 1:
			hist["1"]++
		case n <= 3:
			hist["2-3"]++
		case n <= 30:
			hist["4+"]++
		default:
			t.Fatalf("an entity has %d rows, above max_children 30", n)
		}
	}
	total := float64(len(per))
	for bin, want := range map[string]float64{"1": 5.0 / 9, "2-3": 3.0 / 9, "4+": 1.0 / 9} {
		if got := float64(hist[bin]) / total; got < want-0.02 || got > want+0.02 {
			t.Errorf("share of entities with %s rows is %.3f, want %.3f", bin, got, want)
		}
	}
	// Epikeys are unique even though patient ids repeat.
	if keys := tally(col(recs, "epikey")); len(keys) != rows {
		t.Errorf("%d distinct epikeys among %d rows", len(keys), rows)
	}
}

func TestDerivedFields(t *testing.T) {
	recs := readCSV(t, generate(t, episodes(), Options{Rows: 3000}, frame.CSV, 0, 1, 2), false)
	dob, adm := col(recs, "dob"), col(recs, "admidate")
	age, band := col(recs, "startage"), col(recs, "ageband")
	d3, d4 := col(recs, "diag_3_01"), col(recs, "diag_4_01")
	cat, cnt, meth := col(recs, "diag_concat"), col(recs, "diag_count"), col(recs, "admimeth")
	for i := range dob {
		if adm[i] == "" {
			if age[i] != "" || band[i] != "" {
				t.Fatalf("row %d: no admission date but age %q band %q", i, age[i], band[i])
			}
		} else {
			by, _ := strconv.Atoi(dob[i][:4])
			ay, _ := strconv.Atoi(adm[i][:4])
			want := ay - by
			if adm[i][5:] < dob[i][5:] {
				want--
			}
			if age[i] != strconv.Itoa(want) {
				t.Fatalf("row %d: born %s, admitted %s: age %q, want %d", i, dob[i], adm[i], age[i], want)
			}
			a, _ := strconv.Atoi(age[i])
			wantBand := "0-17"
			if a >= 65 {
				wantBand = "65+"
			} else if a >= 18 {
				wantBand = "18-64"
			}
			if band[i] != wantBand {
				t.Fatalf("row %d: age %d in band %q, want %q", i, a, band[i], wantBand)
			}
		}
		if !strings.HasPrefix(d4[i], d3[i]) || len(d3[i]) != min(3, len(d4[i])) {
			t.Fatalf("row %d: %q truncates to %q", i, d4[i], d3[i])
		}
		wantCat, wantCnt := d4[i], 1
		if meth[i] != "" {
			wantCat += "|" + meth[i]
			if meth[i] != "2A" {
				wantCnt++
			}
		}
		if cat[i] != wantCat || cnt[i] != strconv.Itoa(wantCnt) {
			t.Fatalf("row %d: concat %q count %q, want %q and %d", i, cat[i], cnt[i], wantCat, wantCnt)
		}
	}
}

func TestBadMetadataAndRulesAreClearErrors(t *testing.T) {
	withRules := func(r meta.Rules) *meta.Document { d := episodes(); d.Tables[0].Postprocess = &r; return d }
	withField := func(f meta.Field) *meta.Document {
		d := episodes()
		d.Tables[0].Fields = append(d.Tables[0].Fields, f)
		return d
	}
	cases := []struct {
		name string
		doc  *meta.Document
		rows uint64
		want string
	}{
		{"no prefix", withRules(meta.Rules{Identifiers: []meta.IdentifierRule{{Field: "x", IdentifierSpec: meta.IdentifierSpec{Kind: "pattern", Pattern: "[A-Z]{10}"}}}}), 10, `does not start with the reserved prefix "TEST"`},
		{"variable length", withRules(meta.Rules{Identifiers: []meta.IdentifierRule{{Field: "x", IdentifierSpec: meta.IdentifierSpec{Pattern: "TEST[0-9]{2,4}"}}}}), 10, "fixed length"},
		{"small space", withRules(meta.Rules{Identifiers: []meta.IdentifierRule{{Field: "x", IdentifierSpec: meta.IdentifierSpec{Pattern: "TEST[0-9]{2}"}}}}), 1000, "has 100 distinct values, fewer than the 1000 rows"},
		{"derived from nothing", withRules(meta.Rules{Derived: []meta.Derived{{Name: "a", Kind: "age", From: "nope", At: "admidate"}}}), 10, "nope is not a field of the table"},
		{"derived kind", withRules(meta.Rules{Derived: []meta.Derived{{Name: "a", Kind: "mean", From: "los"}}}), 10, `unknown kind "mean"`},
		{"derived and scraped", withRules(meta.Rules{Derived: []meta.Derived{{Name: "los", Kind: "truncate", From: "admimeth", Length: 1}}}), 10, "los is already a field"},
		{"sequence of codes", withRules(meta.Rules{Sequences: [][]string{{"admidate", "admimeth"}}}), 10, "admimeth is a string field: sequences order dates"},
		{"band edges", withRules(meta.Rules{Derived: []meta.Derived{{Name: "b", Kind: "band", From: "los", Edges: []float64{10, 5}}}}), 10, "band edges must increase"},
		{"unknown type", withField(meta.Field{Name: "z", Type: "blob"}), 10, `unknown type "blob"`},
		{"bad hour", withField(meta.Field{Name: "z", Type: meta.TypeDatetime, Bins: []meta.DateBin{{Start: "2020-01-01", End: "2020-01-01", N: 5}}, Hours: []meta.Value{{V: "25", N: 5}}}), 10, `hour "25"`},
		{"bad bin", withField(meta.Field{Name: "z", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2020-01-31", End: "2020-01-01", N: 5}}}), 10, "ends (2020-01-01) before it starts"},
		{"bad layout", withField(meta.Field{Name: "z", Type: meta.TypeDate, Format: "yyyy-mm-dd", Bins: []meta.DateBin{{Start: "2020-01-01", End: "2020-01-01", N: 5}}}), 10, "does not write a date that reads back"},
	}
	for _, c := range cases {
		_, err := New(release(t, c.doc), Options{Rows: c.rows})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// The generator cannot read record-level data: neither it nor the
// expectations generator may depend on the scraper, the record readers or
// a database driver.
func TestGeneratorCannotReadRecords(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	for _, pkg := range []string{"./", "../expect", "../frame", "../meta", "../rng"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range []string{"internal/artificial/scrape", "internal/artificial/records", "modernc.org/sqlite", "github.com/jackc/pgx", "internal/store", "internal/disclosure"} {
				if strings.Contains(dep, bad) || dep == "database/sql" {
					t.Errorf("%s depends on %s, which reads records", pkg, dep)
				}
			}
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	g, err := New(release(t, episodes()), Options{Rows: 1 << 22})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, _ := frame.NewWriter(frame.CSV, io.Discard, g.Specs(), frame.WriterOptions{})
	blocks := uint64(0)
	err = frame.Run(ctx, g, w, frame.RunOptions{Rows: 1 << 22, BlockRows: 1000, First: 0, Last: (1 << 22) / 1000, Workers: 2, Progress: func(uint64) {
		if blocks++; blocks == 3 {
			cancel()
		}
	}})
	if err != context.Canceled {
		t.Fatalf("Run returned %v after cancel, want context.Canceled", err)
	}
}

// Generated free text cannot form an identifier: no digit touches a
// letter and no run of digits is longer than four.
func TestFreeTextLooksLikeNoIdentifier(t *testing.T) {
	d := &meta.Document{Schema: meta.SchemaV1, SDC: meta.DefaultSDC, Tables: []meta.Table{{Name: "t", RowsN: 100, Fields: []meta.Field{
		{Name: "note", Type: meta.TypeFreeText, Text: &meta.TextShape{Lengths: []meta.Value{{V: "7", N: 50}, {V: "30", N: 50}}, Letters: 0.5, Digits: 0.4, Spaces: 0.05, Other: 0.05}}}}}}
	recs := readCSV(t, generate(t, d, Options{Rows: 20000}, frame.CSV, 0, 1, 2), false)
	bad := regexp.MustCompile(`[a-z][0-9]|[0-9][a-z]|[0-9]{5}`)
	for _, v := range col(recs, "note") {
		if bad.MatchString(v) {
			t.Fatalf("free text %q has a digit beside a letter or five digits in a row", v)
		}
		if len(v) != 7 && len(v) != 30 {
			t.Fatalf("free text %q has length %d, not a released one", v, len(v))
		}
	}
}
