package compare

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/gen"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// episodes is hand-built metadata with every field type the generator
// knows, a relationship, an ordered date sequence that never reorders
// (every date of birth is before every admission) and derived fields.
func episodes() *meta.Document {
	bounds := [2]float64{0, 400}
	var losCuts []float64
	for i := 1; i <= 19; i++ {
		losCuts = append(losCuts, float64(i*i))
	}
	// Step-1 cut-points with ties: a point mass at 0.
	var scoreCuts []float64
	for j := 0; j < 98; j++ {
		x := float64(j-20) * 0.5
		if x < 0 {
			x = 0
		}
		scoreCuts = append(scoreCuts, x)
	}
	return &meta.Document{
		Schema: meta.SchemaV1, Dataset: "hes", SDC: meta.DefaultSDC,
		Tables: []meta.Table{{
			Name: "apc", RowsN: 100000, EntityKey: "patient_id", RowKey: "epikey",
			Fields: []meta.Field{
				{Name: "patient_id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "integer", Scope: "entity"}},
				{Name: "epikey", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9A-Z]{10}", Scope: "row"}},
				{Name: "dob", Type: meta.TypeDate, Format: "02/01/2006", Bins: []meta.DateBin{
					{Start: "1940-01-01", End: "1959-12-31", Grain: meta.GrainYear, N: 30000},
					{Start: "1960-01-01", End: "1999-12-31", Grain: meta.GrainYear, N: 60000},
					{Start: "2000-01-01", End: "2000-01-07", Grain: meta.GrainWeek, N: 5000},
					{Start: "2001-03-04", End: "2001-03-04", Grain: meta.GrainDay, N: 5000}}},
				{Name: "admidate", Type: meta.TypeDate, NullN: 10000, Bins: []meta.DateBin{
					{Start: "2020-01-01", End: "2020-03-31", Grain: meta.GrainQuarter, N: 30000},
					{Start: "2020-04-01", End: "2020-12-31", Grain: meta.GrainYear, N: 60000}}},
				{Name: "arrival", Type: meta.TypeDatetime, Bins: []meta.DateBin{
					{Start: "2021-03-01", End: "2021-03-31", Grain: meta.GrainMonth, N: 100000}},
					Hours: []meta.Value{{V: "09", N: 50000}, {V: "21", N: 30000}, {V: "23", N: 20000}}},
				{Name: "admimeth", Type: meta.TypeCategorical, NullN: 5000, Values: []meta.Value{{V: "11", N: 40000}, {V: "21", N: 35000}, {V: "2A", N: 20000}}},
				{Name: "diag_4_01", Type: meta.TypeCategorical, Values: []meta.Value{{V: "I219", N: 50000}, {V: "J189", N: 30000}, {V: "C, \"x\"", N: 20000}}},
				{Name: "epiorder", Type: meta.TypeInteger, Values: []meta.Value{{V: "1", N: 70000}, {V: "2", N: 20000}, {V: "3", N: 10000}}},
				{Name: "los", Type: meta.TypeInteger, NullN: 10000, NNonNull: 90000, Continuous: &meta.Continuous{Step: 5, Cuts: losCuts, Decimals: 0, Bounds: &bounds}},
				{Name: "weight", Type: meta.TypeFloat, NNonNull: 100000, Continuous: &meta.Continuous{Step: 25, Cuts: []float64{60.5, 72.25, 85}, Decimals: 2}},
				{Name: "score", Type: meta.TypeFloat, NNonNull: 100000, Continuous: &meta.Continuous{Step: 1, Cuts: scoreCuts, Decimals: 1}},
				{Name: "ratio", Type: meta.TypeFloat, Values: []meta.Value{{V: "0.5", N: 60000}, {V: "1.25", N: 40000}}},
				{Name: "died", Type: meta.TypeBoolean, Values: []meta.Value{{V: "N", N: 95000}, {V: "Y", N: 5000}}},
				{Name: "note", Type: meta.TypeFreeText, NullN: 50000, Text: &meta.TextShape{Lengths: []meta.Value{{V: "8", N: 25000}, {V: "20", N: 25000}}, Letters: 0.85, Spaces: 0.15}},
				{Name: "gone", Type: meta.TypeCategorical, NullN: 100000},
			},
			Relationships: []meta.Relationship{{Parent: "patient_id", Child: "epikey", MaxChildren: 30, Cardinalities: []meta.CardBin{
				{Min: 1, Max: 1, N: 5000}, {Min: 2, Max: 3, N: 3000}, {Min: 4, N: 1000}}}},
			Postprocess: &meta.Rules{
				Sequences: [][]string{{"dob", "admidate"}},
				Derived: []meta.Derived{
					{Name: "startage", Kind: meta.DerivedAge, From: "dob", At: "admidate"},
					{Name: "diag_3_01", Kind: meta.DerivedTruncate, From: "diag_4_01", Length: 3},
				},
			},
		}},
	}
}

// generate writes rows of doc in format f to a file in dir and returns its
// path.
func generate(t testing.TB, dir string, doc *meta.Document, rows uint64, f frame.Format) string {
	t.Helper()
	raw, err := meta.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "apc."+string(f))
	_, err = gen.Generate(context.Background(), meta.Unreviewed(doc, raw), gen.RunOptions{
		Options: gen.Options{Rows: rows, Seed: "compare"}, Output: out, Format: f, Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// field returns the report's field named name.
func field(t testing.TB, r *Report, name string) *Field {
	t.Helper()
	for i := range r.Fields {
		if r.Fields[i].Name == name {
			return &r.Fields[i]
		}
	}
	t.Fatalf("the report has no field %s", name)
	return nil
}

// measure returns the field's measure named name.
func measure(t testing.TB, f *Field, name string) Measure {
	t.Helper()
	for _, m := range f.Measures {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("field %s has no measure %s (it has %v)", f.Name, name, f.Measures)
	return Measure{}
}

// writeFile writes text to name in dir.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// editCSV rewrites a CSV file line by line.
func editCSV(t testing.TB, path string, edit func(i int, line string) string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	for i := range lines {
		lines[i] = edit(i, lines[i])
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
