package gen

import (
	"context"
	"io"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// bench12 is the benchmark schema of docs/benchmarks.md
// (bench/data/bench12.json): an identifier, three dates, two integers, two
// floats, three categoricals and a boolean.
func bench12(b *testing.B) *meta.Document {
	d, _, err := meta.Load("../../../bench/data/bench12.json")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchmarkFormat(b *testing.B, f frame.Format) {
	const rows = 1 << 20
	g, err := New(release(b, bench12(b)), Options{Rows: rows})
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
