package expect

import (
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

// BenchmarkFill fills 65,536-row batches of the mixed study (patient_id and
// nine columns of every kind); rows/s is reported per batch size.
func BenchmarkFill(b *testing.B) {
	const batch = 65536
	p := mustPlan(b, mixedStudy(1<<24), Options{})
	var fb frame.Batch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := uint64(i%256) * batch
		p.Fill(&fb, start, batch)
	}
	b.ReportMetric(float64(b.N)*batch/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkNewPlan(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := NewPlan(mixedStudy(1000000), Options{Today: day("2024-01-01")}); err != nil {
			b.Fatal(err)
		}
	}
}
