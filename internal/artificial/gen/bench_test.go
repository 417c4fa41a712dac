package gen

import (
	"context"
	"io"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// Bench12 is the benchmark schema of docs/benchmarks.md: an identifier,
// three dates, two integers, two floats, three categoricals and a boolean.
func Bench12() *meta.Document {
	cuts := func(lo, step float64, n int) []float64 {
		c := make([]float64, n)
		for i := range c {
			c[i] = lo + float64(i)*step
		}
		return c
	}
	var diag []meta.Value
	for i := 0; i < 200; i++ {
		diag = append(diag, meta.Value{V: string(rune('A'+i%26)) + string(rune('0'+i/26%10)) + string(rune('0'+i%10)), N: int64(5 * (1 + i%40))})
	}
	return &meta.Document{Schema: meta.SchemaV1, Dataset: "bench", SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "bench", RowsN: 1000000,
		Fields: []meta.Field{
			{Name: "patient_id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "integer", Scope: "row"}},
			{Name: "dob", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "1930-01-01", End: "2019-12-31", Grain: meta.GrainYear, N: 1000000}}},
			{Name: "admission_date", Type: meta.TypeDate, NullN: 100000, Bins: []meta.DateBin{{Start: "2019-01-01", End: "2019-12-31", Grain: meta.GrainYear, N: 500000}, {Start: "2020-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 400000}}},
			{Name: "discharge_date", Type: meta.TypeDate, NullN: 150000, Bins: []meta.DateBin{{Start: "2019-01-01", End: "2020-12-31", Grain: meta.GrainYear, N: 850000}}},
			{Name: "age", Type: meta.TypeInteger, Continuous: &meta.Continuous{Step: 1, Cuts: cuts(1, 1, 98), Decimals: 0}},
			{Name: "length_of_stay", Type: meta.TypeInteger, Values: []meta.Value{{V: "0", N: 300000}, {V: "1", N: 250000}, {V: "2", N: 150000}, {V: "3", N: 100000}, {V: "5", N: 100000}, {V: "10", N: 100000}}},
			{Name: "bmi", Type: meta.TypeFloat, NullN: 200000, Continuous: &meta.Continuous{Step: 5, Cuts: cuts(18, 1, 19), Decimals: 1}},
			{Name: "systolic_bp", Type: meta.TypeFloat, Continuous: &meta.Continuous{Step: 10, Cuts: cuts(100, 5, 9), Decimals: 1}},
			{Name: "sex", Type: meta.TypeCategorical, Values: []meta.Value{{V: "F", N: 510000}, {V: "M", N: 490000}}},
			{Name: "region", Type: meta.TypeCategorical, Values: []meta.Value{{V: "East", N: 100000}, {V: "London", N: 150000}, {V: "North East", N: 80000}, {V: "North West", N: 120000}, {V: "South East", N: 160000}, {V: "South West", N: 100000}, {V: "West Midlands", N: 110000}, {V: "Yorkshire", N: 180000}}},
			{Name: "diagnosis", Type: meta.TypeCategorical, NullN: 50000, Values: diag},
			{Name: "died", Type: meta.TypeBoolean, Values: []meta.Value{{V: "0", N: 970000}, {V: "1", N: 30000}}},
		},
	}}}
}

func benchmarkFormat(b *testing.B, f frame.Format) {
	const rows = 1 << 20
	g, err := New(release(b, Bench12()), Options{Rows: rows})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		w, _ := frame.NewWriter(f, io.Discard, g.Specs(), frame.WriterOptions{Header: true})
		first, last := frame.Blocks(rows, frame.DefaultBlockRows, 0, 1)
		if err := frame.Run(context.Background(), g, w, frame.RunOptions{Rows: rows, First: first, Last: last, Workers: 2}); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkGenerateCSV(b *testing.B)     { benchmarkFormat(b, frame.CSV) }
func BenchmarkGenerateParquet(b *testing.B) { benchmarkFormat(b, frame.Parquet) }
