package measures

import (
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

var update = flag.Bool("update", false, "rewrite golden files")

var goldenMeasures = []Measure{
	{ID: "asthma_by_region", Numerator: "has_asthma", Denominator: "population", GroupBy: []string{"region"}, SmallNumberSuppression: true},
	{ID: "asthma_by_sex_and_region", Numerator: "has_asthma", Denominator: "population", GroupBy: []string{"sex", "region"}},
	{ID: "deaths", Numerator: "died", Denominator: "population", GroupBy: []string{"population"}},
	{ID: "bmi", Numerator: "bmi", Denominator: "population"},
	{ID: "asthma_by_age", Numerator: "has_asthma", Denominator: "population", GroupBy: []string{"age_band"}, SmallNumberSuppression: true},
}

// featherKinds are the types the Feather inputs store; an empty region
// and a nan death become nulls.
var featherKinds = map[string]frame.Kind{
	"patient_id": frame.Int, "sex": frame.String, "region": frame.String, "age_band": frame.String,
	"has_asthma": frame.Bool, "died": frame.Int, "bmi": frame.Float,
}

// TestGolden computes the measures over testdata/inputs (three index dates)
// stored as csv, csv.gz and feather, and compares every file written, and
// the progress lines, with testdata/golden/<format>. csv and csv.gz share
// their golden files.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/inputs/input_*.csv")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, format := range []string{"csv", "csv.gz", "feather"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			for _, in := range inputs {
				text, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				name := strings.TrimSuffix(filepath.Base(in), ".csv") + "." + format
				switch format {
				case "csv":
					writeFile(t, dir, "output/"+name, text)
				case "csv.gz":
					writeFile(t, dir, "output/"+name, gzipped(t, string(text)))
				case "feather":
					writeFeather(t, dir, "output/"+name, featherColumns(t, string(text)))
				}
			}
			paths, progress, err := generate(t, Options{Dir: dir, Measures: goldenMeasures})
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(format, ".gz"))
			got := map[string]string{"progress.txt": progress}
			for _, p := range paths {
				got[filepath.Base(p)] = readFile(t, dir, p)
			}
			if *update && format != "csv.gz" {
				if err := os.RemoveAll(golden); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(golden, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, content := range got {
					if err := os.WriteFile(filepath.Join(golden, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			entries, err := os.ReadDir(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create the golden files)", err)
			}
			var want []string
			for _, e := range entries {
				want = append(want, e.Name())
				b, err := os.ReadFile(filepath.Join(golden, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if got[e.Name()] != string(b) {
					t.Errorf("%s differs from %s:\ngot\n%s\nwant\n%s", e.Name(), golden, got[e.Name()], b)
				}
			}
			var names []string
			for name := range got {
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("files written %v, golden files %v", names, want)
			}
		})
	}
}

func featherColumns(t *testing.T, text string) []fcol {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]fcol, len(rows[0]))
	for i, name := range rows[0] {
		kind, ok := featherKinds[name]
		if !ok {
			t.Fatalf("no Feather type for column %s", name)
		}
		cols[i] = fcol{name: name, kind: kind}
		for _, row := range rows[1:] {
			v := row[i]
			if v == "" && kind == frame.String || v == "nan" && kind == frame.Int {
				v = "null"
			}
			cols[i].vals = append(cols[i].vals, v)
		}
	}
	return cols
}
