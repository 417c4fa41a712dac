package gen

import (
	"bytes"
	"context"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// episodes is a hospital-episode-shaped table: every field type, a
// relationship, a sequence and derived fields.
func episodes() *meta.Document {
	bounds := [2]float64{0, 400}
	cuts := make([]float64, 0, 19)
	for i := 1; i <= 19; i++ {
		cuts = append(cuts, float64(i*10))
	}
	return &meta.Document{
		Schema: meta.SchemaV1, Dataset: "hes", SDC: meta.DefaultSDC,
		Tables: []meta.Table{{
			Name: "apc", RowsN: 100000, EntityKey: "patient_id", RowKey: "epikey",
			Fields: []meta.Field{
				{Name: "patient_id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "integer", Scope: "entity"}},
				{Name: "epikey", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9A-Z]{10}", Scope: "row"}},
				{Name: "dob", Type: meta.TypeDate, Format: "2006-01-02", Bins: []meta.DateBin{
					{Start: "1940-01-01", End: "1959-12-31", Grain: meta.GrainYear, N: 30000},
					{Start: "1960-01-01", End: "1999-12-31", Grain: meta.GrainYear, N: 60000},
					{Start: "2000-01-01", End: "2000-01-07", Grain: meta.GrainWeek, N: 10000}}},
				{Name: "admidate", Type: meta.TypeDate, NullN: 10000, Bins: []meta.DateBin{
					{Start: "2020-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 90000}}},
				{Name: "disdate", Type: meta.TypeDate, NullN: 20000, Format: "02/01/2006", Bins: []meta.DateBin{
					{Start: "2020-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 80000}}},
				{Name: "arrival", Type: meta.TypeDatetime, Format: "2006-01-02 15:04:05", Bins: []meta.DateBin{
					{Start: "2021-03-01", End: "2021-03-31", Grain: meta.GrainMonth, N: 100000}},
					Hours: []meta.Value{{V: "09", N: 50000}, {V: "21", N: 50000}}},
				{Name: "admimeth", Type: meta.TypeCategorical, NullN: 5000, Values: []meta.Value{{V: "11", N: 40000}, {V: "21", N: 35000}, {V: "2A", N: 20000}}},
				{Name: "diag_4_01", Type: meta.TypeCategorical, Values: []meta.Value{{V: "I219", N: 50000}, {V: "J189", N: 30000}, {V: "C, \"x\"", N: 20000}}},
				{Name: "epiorder", Type: meta.TypeInteger, Values: []meta.Value{{V: "1", N: 70000}, {V: "2", N: 20000}, {V: "3", N: 10000}}},
				{Name: "los", Type: meta.TypeInteger, NullN: 10000, Continuous: &meta.Continuous{Step: 5, Cuts: cuts, Decimals: 0, Bounds: &bounds}},
				{Name: "weight", Type: meta.TypeFloat, Continuous: &meta.Continuous{Step: 25, Cuts: []float64{60.5, 72.25, 85}, Decimals: 2}},
				{Name: "died", Type: meta.TypeBoolean, Values: []meta.Value{{V: "N", N: 95000}, {V: "Y", N: 5000}}},
				{Name: "note", Type: meta.TypeFreeText, NullN: 50000, Text: &meta.TextShape{Lengths: []meta.Value{{V: "8", N: 25000}, {V: "20", N: 25000}}, Letters: 0.8, Spaces: 0.15, Digits: 0.05}},
			},
			Relationships: []meta.Relationship{{Parent: "patient_id", Child: "epikey", MaxChildren: 30, Cardinalities: []meta.CardBin{
				{Min: 1, Max: 1, N: 5000}, {Min: 2, Max: 3, N: 3000}, {Min: 4, N: 1000}}}},
			Postprocess: &meta.Rules{
				Sequences: [][]string{{"dob", "admidate", "disdate"}},
				Derived: []meta.Derived{
					{Name: "startage", Kind: meta.DerivedAge, From: "dob", At: "admidate"},
					{Name: "ageband", Kind: meta.DerivedBand, From: "startage", Edges: []float64{0, 18, 65}},
					{Name: "diag_3_01", Kind: meta.DerivedTruncate, From: "diag_4_01", Length: 3},
					{Name: "diag_concat", Kind: meta.DerivedConcat, Fields: []string{"diag_4_01", "admimeth"}, Sep: "|"},
					{Name: "diag_count", Kind: meta.DerivedCount, Fields: []string{"diag_4_01", "admimeth"}, Exclude: []string{"2A"}},
				},
			},
		}},
	}
}

func release(t testing.TB, d *meta.Document) *meta.Release {
	t.Helper()
	raw, err := meta.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Unreviewed(d, raw)
}

// generate runs the generator to bytes in format f, shard i of n.
func generate(t testing.TB, d *meta.Document, o Options, f frame.Format, i, n, workers int) []byte {
	t.Helper()
	g, err := New(release(t, d), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := frame.NewWriter(f, &buf, g.Specs(), frame.WriterOptions{Header: i == 0, Metadata: map[string]string{"haven.seed": o.Seed}})
	if err != nil {
		t.Fatal(err)
	}
	first, last := frame.Blocks(o.Rows, blockRows, i, n)
	if err := frame.Run(context.Background(), g, w, frame.RunOptions{Rows: o.Rows, BlockRows: blockRows, First: first, Last: last, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blockRows is small in tests so that a few thousand rows make many
// blocks.
const blockRows = 1000
