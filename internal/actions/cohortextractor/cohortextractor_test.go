package cohortextractor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/records"
)

var update = flag.Bool("update", false, "rewrite golden files")

const definition = `index_date: 2021-01-01
default_expectations:
  date: {earliest: 2000-01-01, latest: today}
  rate: uniform
  incidence: 0.5
population: registered and not died
variables:
  registered:
    type: bool
  died:
    type: bool
  age:
    type: int
    return_expectations:
      rate: universal
      int: {distribution: population_ages}
  sex:
    type: category
    categories: [F, M]
    return_expectations:
      rate: universal
      category: {ratios: {F: 0.5, M: 0.5}}
  bmi:
    type: float
    return_expectations:
      incidence: 0.8
      float: {distribution: normal, mean: 28, stddev: 8}
  admitted:
    type: date
    date_format: YYYY-MM-DD
    between: [index_date - 1 year, index_date]
    return_expectations:
      incidence: 0.2
      rate: exponential_increase
  admitted_year:
    type: date
    return_expectations:
      incidence: 0.2
  admission_code:
    type: category
    incidence_from: admitted
    return_expectations:
      category: {ratios: {X1: 0.75, X2: 0.25}}
measures:
  - id: died_rate
    numerator: died
    denominator: population
    group_by: sex
`

// project makes a workspace holding analysis/<name>.yaml for each pair.
func project(t testing.TB, defs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "analysis"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(defs); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, "analysis", defs[i]+".yaml"), []byte(defs[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	code, err := Run(context.Background(), dir, args, &out, &out)
	if (code == 0) != (err == nil) {
		t.Fatalf("exit code %d with error %v", code, err)
	}
	return out.String(), err
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended):\n%s", name, got)
	}
}

// File names, columns and a seeded sample are pinned: a change to any of
// them changes every study's dummy data.
func TestGenerateCohortGolden(t *testing.T) {
	dir := project(t, "study_definition", definition)
	out := mustRun(t, dir, "generate_cohort", "--study-definition", "study_definition",
		"--index-date-range", "2021-01-01 to 2021-03-01 by month", "--expectations-population=12",
		"--output-dir=output", "--today", "2024-06-30")
	names := []string{"input_2021-03-01.csv", "input_2021-02-01.csv", "input_2021-01-01.csv"}
	last := -1
	for _, n := range names {
		i := strings.Index(out, "Wrote output/"+n)
		if i < 0 {
			t.Fatalf("output does not report %s:\n%s", n, out)
		}
		if i < last {
			t.Errorf("%s reported out of order (newest first):\n%s", n, out)
		}
		last = i
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "output"))
	if len(entries) != 3 {
		t.Errorf("output holds %d entries, want exactly the 3 files", len(entries))
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, "output", n))
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, n, b)
	}
}

func TestSingleFileNamesAndSuffix(t *testing.T) {
	dir := project(t, "study_definition", definition, "study_definition_end", "variables:\n  end_flag:\n    type: bool\n    return_expectations: {incidence: 0.1}\n")
	mustRun(t, dir, "generate_cohort", "--expectations-population=5", "--output-format=csv.gz")
	for _, n := range []string{"output/input.csv.gz", "output/input_end.csv.gz"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("--study-definition all did not write %s: %v", n, err)
		}
	}
	rows := readCSV(t, filepath.Join(dir, "output/input_end.csv.gz"))
	if strings.Join(rows[0], ",") != "patient_id,end_flag" || len(rows) != 6 {
		t.Errorf("input_end = %v", rows)
	}
	// Every extract of a project holds the same patients, so they join.
	main := readCSV(t, filepath.Join(dir, "output/input.csv.gz"))
	for i := 1; i < len(rows); i++ {
		if rows[i][0] != main[i][0] {
			t.Errorf("row %d: patient_id %s in input_end, %s in input: extracts must share patients", i, rows[i][0], main[i][0])
		}
	}
	mustRun(t, dir, "generate_cohort", "--study-definition", "study_definition_end", "--expectations-population=5", "--output-file", "elsewhere/cohort.feather")
	r, err := records.Open(filepath.Join(dir, "elsewhere", "cohort_end.feather"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if strings.Join(r.Columns(), ",") != "patient_id,end_flag" || r.Kinds()[0] != records.Int {
		t.Errorf("feather columns %v kinds %v", r.Columns(), r.Kinds())
	}
}

// The same definition, population, seed and today give the same bytes in
// every format, whatever the order the dates are produced in.
func TestDeterministic(t *testing.T) {
	for _, format := range []string{"csv", "csv.gz", "feather"} {
		a := project(t, "study_definition", definition)
		b := project(t, "study_definition", definition)
		mustRun(t, a, "generate_cohort", "--study-definition=study_definition", "--expectations-population=3000", "--output-format", format, "--index-date-range", "2021-01-01 to 2021-02-01", "--today=2024-01-01")
		mustRun(t, b, "generate_cohort", "--study-definition=study_definition", "--expectations-population=3000", "--output-format", format, "--index-date-range", "2021-02-01", "--today=2024-01-01")
		name := "input_2021-02-01." + format
		x, _ := os.ReadFile(filepath.Join(a, "output", name))
		y, _ := os.ReadFile(filepath.Join(b, "output", name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s: a range and a single date give different bytes for the same date", format)
		}
		c := project(t, "study_definition", definition)
		mustRun(t, c, "generate_cohort", "--study-definition=study_definition", "--expectations-population=3000", "--output-format", format, "--index-date-range", "2021-02-01", "--today=2024-01-01", "--seed", "other")
		z, _ := os.ReadFile(filepath.Join(c, "output", name))
		if bytes.Equal(x, z) {
			t.Errorf("%s: another seed gives the same bytes", format)
		}
	}
}

// Exact population size, windows and ratios on a large sample.
func TestLargeSampleProperties(t *testing.T) {
	const n = 100_000
	dir := project(t, "study_definition", definition)
	mustRun(t, dir, "generate_cohort", "--study-definition=study_definition", "--expectations-population="+strconv.Itoa(n), "--today=2024-06-30")
	rows := readCSV(t, filepath.Join(dir, "output", "input.csv"))
	header := rows[0]
	if strings.Join(header, ",") != "patient_id,registered,died,age,sex,bmi,admitted,admitted_year,admission_code" {
		t.Fatalf("header = %v", header)
	}
	rows = rows[1:]
	if len(rows) != n {
		t.Fatalf("%d rows, want exactly %d", len(rows), n)
	}
	ids := map[string]bool{}
	var admitted, codeX1, codeX2, female, bmi int
	for _, r := range rows {
		if ids[r[0]] {
			t.Fatalf("patient_id %s repeats", r[0])
		}
		ids[r[0]] = true
		if r[1] != "1" || r[2] != "0" {
			t.Fatalf("population not honoured: registered=%s died=%s", r[1], r[2])
		}
		if age, err := strconv.Atoi(r[3]); err != nil || age < 0 || age > 120 {
			t.Fatalf("age %q", r[3])
		}
		if r[4] == "F" {
			female++
		}
		if r[5] != "0" {
			bmi++
		}
		if r[6] != "" {
			admitted++
			if r[6] < "2020-01-01" || r[6] > "2021-01-01" {
				t.Fatalf("admitted %s outside between [2020-01-01, 2021-01-01]", r[6])
			}
			switch r[8] {
			case "X1":
				codeX1++
			case "X2":
				codeX2++
			default:
				t.Fatalf("admitted row without a code: %v", r)
			}
		} else if r[8] != "" {
			t.Fatalf("a code without an admission: %v", r)
		}
		if r[7] != "" && len(r[7]) != 4 {
			t.Fatalf("admitted_year %q is not a year alone", r[7])
		}
	}
	if admitted != n/5 || female != n/2 || bmi != n*4/5 {
		t.Errorf("admitted %d (want %d), female %d (want %d), bmi %d (want %d)", admitted, n/5, female, n/2, bmi, n*4/5)
	}
	if codeX1 != admitted*3/4 || codeX2 != admitted/4 {
		t.Errorf("codes X1 %d X2 %d of %d", codeX1, codeX2, admitted)
	}
}

func TestSkipExisting(t *testing.T) {
	dir := project(t, "study_definition", definition)
	if err := os.MkdirAll(filepath.Join(dir, "output"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "output", "input_2021-02-01.csv")
	if err := os.WriteFile(keep, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, dir, "generate_cohort", "--study-definition=study_definition", "--expectations-population=5", "--index-date-range", "2021-01-01 to 2021-02-01", "--skip-existing")
	if b, _ := os.ReadFile(keep); string(b) != "kept\n" {
		t.Error("--skip-existing replaced an existing file")
	}
	if !strings.Contains(out, "Skipping output/input_2021-02-01.csv") {
		t.Errorf("no skip message:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "output", "input_2021-01-01.csv")); err != nil {
		t.Error("the missing date was not written")
	}
}

func TestDummyDataFile(t *testing.T) {
	const def = "variables:\n  age: {type: int}\n  sex: {type: category, categories: [F, M]}\n  seen: {type: date, date_format: YYYY-MM-DD}\n"
	tests := []struct {
		name, file, content, want string
	}{
		{"valid", "dummy.csv", "patient_id,age,sex,seen\n1,34,F,2020-01-02\n2,0,,\n", ""},
		{"missing file", "nope.csv", "", "dummy_data_file nope.csv does not exist"},
		{"wrong columns", "dummy.csv", "patient_id,age,gender\n1,2,F\n", "it lacks sex, seen; it has columns the definition does not declare: gender"},
		{"bad value", "dummy.csv", "patient_id,age,sex,seen\n1,34,F,2020-01-02\n2,old,X,02/01/2020\n", `dummy.csv:3: column age: "old" is not an integer`},
		{"wrong extension", "dummy.csv.gz", "x", "does not have the output format's extension .csv"},
		{"outside", "../dummy.csv", "", "leaves the workspace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, "study_definition", def)
			if tt.content != "" && !strings.HasPrefix(tt.file, "..") {
				if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := run(t, dir, "generate_cohort", "--study-definition=study_definition", "--dummy-data-file="+tt.file, "--index-date-range", "2021-01-01 to 2021-02-01 by month")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				for _, n := range []string{"input_2021-01-01.csv", "input_2021-02-01.csv"} {
					b, _ := os.ReadFile(filepath.Join(dir, "output", n))
					if string(b) != tt.content {
						t.Errorf("%s is not the dummy file verbatim: %q", n, b)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "output", "input_2021-01-01.csv")); err == nil {
				t.Error("an output was written despite the error")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	const impossible = "variables:\n  x:\n    type: date\n    return_expectations:\n      incidence: 0.5\n      date: {earliest: 2021-01-01, latest: 2020-01-01}\n"
	tests := []struct {
		name string
		defs []string
		args []string
		want string
	}{
		{"no command", nil, nil, "give a command"},
		{"unknown command", nil, []string{"generate_cohrt"}, `unknown command "generate_cohrt"`},
		{"unsupported command", nil, []string{"generate_codelist_report"}, "--executor docker"},
		{"no population", []string{"study_definition", definition}, []string{"generate_cohort"}, "give --expectations-population N"},
		{"both", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--dummy-data-file=x.csv"}, "cannot be used together"},
		{"bad population", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=lots"}, `"lots" is not a number of rows`},
		{"python only", []string{}, []string{"generate_cohort", "--study-definition=study_definition", "--expectations-population=1"}, "is a Python study definition"},
		{"definition typo", []string{"study_definition", "variables:\n  x:\n    tpye: int\n"}, []string{"generate_cohort", "--study-definition=study_definition", "--expectations-population=1"}, `analysis/study_definition.yaml:3:5: unknown key "tpye" as a key of variable x; did you mean type?`},
		{"impossible expectation", []string{"study_definition", impossible}, []string{"generate_cohort", "--study-definition=study_definition", "--expectations-population=1"}, "analysis/study_definition.yaml:6:"},
		{"bad range", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--index-date-range", "2021-03-01 to 2021-01-01"}, "--index-date-range"},
		{"dta", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--output-format=dta"}, "dta output format is not built into Haven"},
		{"bad format", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--output-format=xlsx"}, `"xlsx" is not one of csv, csv.gz, feather`},
		{"database", []string{"study_definition", definition}, []string{"generate_cohort", "--database-url=mssql://x"}, "dummy data only"},
		{"outside dir", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--output-dir=../x"}, "leaves the workspace"},
		{"absolute file", []string{"study_definition", definition}, []string{"generate_cohort", "--expectations-population=1", "--output-file=/tmp/x.csv"}, "absolute path"},
		{"no measures", []string{"study_definition", "variables:\n  x: {type: int}\n"}, []string{"generate_measures", "--study-definition=study_definition"}, "no measures to generate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.defs...)
			if tt.name == "python only" {
				_ = os.WriteFile(filepath.Join(dir, "analysis", "study_definition.py"), []byte("# python\n"), 0o644)
			}
			_, err := run(t, dir, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "output", "input.csv")); err == nil {
				t.Error("an output was written despite the error")
			}
		})
	}
}

// An output directory that is a link out of the workspace is refused, and
// nothing is written where it points.
func TestSymlinkedOutputDir(t *testing.T) {
	dir := project(t, "study_definition", definition)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "output")); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, dir, "generate_cohort", "--study-definition=study_definition", "--expectations-population=5")
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error = %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the workspace: %v", entries)
	}
}

func TestCancelled(t *testing.T) {
	dir := project(t, "study_definition", definition)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, err := Run(ctx, dir, []string{"generate_cohort", "--study-definition=study_definition", "--expectations-population=1000000"}, io.Discard, io.Discard)
	if code == 0 || err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "output", "input.csv")); err == nil {
		t.Error("a cancelled run left an output")
	}
}

func TestGenerateMeasures(t *testing.T) {
	dir := project(t, "study_definition", definition)
	mustRun(t, dir, "generate_cohort", "--study-definition=study_definition", "--expectations-population=1000",
		"--index-date-range", "2021-01-01 to 2021-03-01 by month", "--output-dir=output")
	out := mustRun(t, dir, "generate_measures", "--study-definition=study_definition", "--output-dir=output")
	for _, n := range []string{"measure_died_rate_2021-01-01.csv", "measure_died_rate_2021-02-01.csv", "measure_died_rate_2021-03-01.csv", "measure_died_rate.csv"} {
		if !strings.Contains(out, n) {
			t.Errorf("output does not mention %s:\n%s", n, out)
		}
	}
	rows := readCSV(t, filepath.Join(dir, "output", "measure_died_rate.csv"))
	if strings.Join(rows[0], ",") != "sex,died,population,value,date" {
		t.Fatalf("header = %v", rows[0])
	}
	if len(rows) != 1+3*2 {
		t.Fatalf("%d rows, want 2 sexes x 3 dates:\n%v", len(rows)-1, rows)
	}
	// The population excludes the dead, and half are female: 500 each.
	for _, r := range rows[1:] {
		if r[1] != "0.0" && r[1] != "0" || !strings.HasPrefix(r[2], "500") || r[3] != "0.0" {
			t.Errorf("row %v: want no deaths out of 500", r)
		}
	}
	if rows[1][4] != "2021-01-01" || rows[6][4] != "2021-03-01" {
		t.Errorf("dates not ascending: %v", rows)
	}
}
