package cohortextractor

import (
	"context"
	"io"
	"os"
	"testing"
)

// BenchmarkGenerateCohort writes 10^6 patients of bench/cohort's
// 20-variable definition in each format; bench/cohort.sh measures the
// whole `haven run` with peak memory.
func BenchmarkGenerateCohort(b *testing.B) {
	src, err := os.ReadFile("../../../bench/cohort/study_definition.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{"csv", "csv.gz", "feather"} {
		b.Run(f, func(b *testing.B) {
			dir := project(b, "study_definition", string(src))
			args := []string{"generate_cohort", "--study-definition=study_definition", "--expectations-population=1000000", "--output-format", f, "--today=2026-01-01"}
			for b.Loop() {
				if _, err := Run(context.Background(), dir, args, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "patients/s")
		})
	}
}
