package measures

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

var oneMeasure = []Measure{{ID: "m", Numerator: "died", Denominator: "population", GroupBy: []string{"sex"}}}

// TestErrors checks that each mistake is reported with what is wrong, where
// and how to fix it, and that nothing is written.
func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		gz       map[string]string // written gzip-compressed
		opts     Options
		wantAll  []string
		wantNone bool // no measure file may exist afterwards
	}{
		{
			name:    "no input files",
			files:   map[string]string{"output/input.csv": "died\n1\n", "output/input_2021-01-01.parquet": "x"},
			wantAll: []string{"no input files in output", "input_<YYYY-MM-DD>.{csv,csv.gz,feather}", "generate_cohort", "--index-date-range", "input.csv", "input_2021-01-01.parquet"},
		},
		{
			name:    "no input files with a suffix",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Suffix: "_ethnicity"},
			wantAll: []string{"input_ethnicity_<YYYY-MM-DD>", "input_2021-01-01.csv"},
		},
		{
			name:    "no output directory",
			files:   map[string]string{"analysis/x.txt": ""},
			wantAll: []string{"output directory output does not exist", "generate_cohort with --index-date-range"},
		},
		{
			name:    "output directory is a file",
			files:   map[string]string{"output": "x"},
			wantAll: []string{"output directory output is a file"},
		},
		{
			name:    "missing column",
			files:   map[string]string{"output/input_2021-01-01.csv": "patient_id,dead,sex\n1,1,F\n"},
			wantAll: []string{`measure "m"`, `column "died" (numerator)`, "output/input_2021-01-01.csv", "patient_id, dead, sex", "check the measure's numerator"},
		},
		{
			name:    "missing group column",
			files:   map[string]string{"output/input_2021-01-01.csv": "patient_id,died\n1,1\n"},
			wantAll: []string{`column "sex" (group_by)`, "patient_id, died"},
		},
		{
			name:    "not a number, after a quoted field spanning lines",
			files:   map[string]string{"output/input_2021-01-01.csv": "patient_id,note,died,sex\n1,\"line one\nline two\",0,F\n2,ok,yes,M\n"},
			wantAll: []string{"output/input_2021-01-01.csv:4:6:", `column "died" (numerator of measure "m")`, `"yes", which is not a number`},
		},
		{
			name:    "not a number in a gzip file",
			gz:      map[string]string{"output/input_2021-01-01.csv.gz": "died,sex\n1,F\n\n2,M\nthree,F\n"},
			wantAll: []string{"output/input_2021-01-01.csv.gz:5:1:", `"three"`},
		},
		{
			name:    "empty numerator",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n,M\n"},
			wantAll: []string{"output/input_2021-01-01.csv:3:1:", `column "died"`, "is empty", "writes 0 for a missing number"},
		},
		{
			name:    "Stata file",
			files:   map[string]string{"output/input_2021-01-01.dta": "x"},
			wantAll: []string{"output/input_2021-01-01.dta", "Stata", "--output-format"},
		},
		{
			name:    "two inputs for one date",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n", "output/input_2021-01-01.csv.gz": "x"},
			wantAll: []string{"input_2021-01-01.csv", "input_2021-01-01.csv.gz", "both inputs for 2021-01-01", "keep one"},
		},
		{
			name:    "not a date",
			files:   map[string]string{"output/input_2021-02-30.csv": "died,sex\n1,F\n"},
			wantAll: []string{"output/input_2021-02-30.csv", "2021-02-30", "not a date"},
		},
		{
			name:    "ragged CSV",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n2\n"},
			wantAll: []string{"output/input_2021-01-01.csv:3:", "header has 2"},
		},
		{
			name:    "no measures",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{}},
			wantAll: []string{"no measures"},
		},
		{
			name:    "bad id",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{{ID: "../evil", Numerator: "died", Denominator: "population"}}},
			wantAll: []string{`"../evil"`, "letters, digits and _"},
		},
		{
			name:  "duplicate id",
			files: map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts: Options{Measures: []Measure{
				{ID: "a", Numerator: "died", Denominator: "population"},
				{ID: "a", Numerator: "died", Denominator: "population"},
			}},
			wantAll: []string{`"a" is used twice`},
		},
		{
			name:    "numerator also grouped",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{{ID: "a", Numerator: "died", Denominator: "population", GroupBy: []string{"sex", "died"}}}},
			wantAll: []string{`column "died" is both the numerator and a group_by column`},
		},
		{
			name:    "denominator also grouped",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{{ID: "a", Numerator: "died", Denominator: "population", GroupBy: []string{"population", "sex"}}}},
			wantAll: []string{`column "population" is both the denominator and a group_by column`},
		},
		{
			name:    "group listed twice",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{{ID: "a", Numerator: "died", Denominator: "population", GroupBy: []string{"sex", "sex"}}}},
			wantAll: []string{`lists "sex" twice`},
		},
		{
			name:    "no denominator",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Measures: []Measure{{ID: "a", Numerator: "died"}}},
			wantAll: []string{`measure "a" has no denominator`},
		},
		{
			name:    "suffix with a separator",
			files:   map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"},
			opts:    Options{Suffix: "/../x"},
			wantAll: []string{"path separator"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := workspaceWith(t, tt.files)
			for name, content := range tt.gz {
				writeFile(t, dir, name, gzipped(t, content))
			}
			o := tt.opts
			o.Dir = dir
			if o.Measures == nil {
				o.Measures = oneMeasure
			}
			paths, _, err := generate(t, o)
			if err == nil {
				t.Fatalf("no error; wrote %v", paths)
			}
			for _, w := range tt.wantAll {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("error %q names the host path of the workspace", err)
			}
			if len(paths) != 0 {
				t.Errorf("wrote %v", paths)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "output", "*measure_*"))
			if len(left) != 0 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
}

func TestFeatherErrors(t *testing.T) {
	dir := t.TempDir()
	writeFeather(t, dir, "output/input_2021-01-01.feather", []fcol{
		{"when", frame.Date, []string{"2021-01-01", "2021-01-02"}},
		{"note", frame.String, []string{"1", "lots"}},
		{"sex", frame.String, []string{"F", "M"}},
	})
	_, _, err := generate(t, Options{Dir: dir, Measures: []Measure{{ID: "m", Numerator: "when", Denominator: "population"}}})
	if err == nil || !strings.Contains(err.Error(), `column "when" (numerator) in output/input_2021-01-01.feather holds dates`) {
		t.Errorf("date numerator: got %v", err)
	}
	_, _, err = generate(t, Options{Dir: dir, Measures: []Measure{{ID: "m", Numerator: "note", Denominator: "population", GroupBy: []string{"sex"}}}})
	if err == nil || !strings.Contains(err.Error(), `output/input_2021-01-01.feather: row 2: column "note"`) || !strings.Contains(err.Error(), `"lots"`) {
		t.Errorf("text numerator: got %v", err)
	}
}

// TestCombineHeaders: a kept dated file whose header differs from the
// others stops the combined file, naming both files.
func TestCombineHeaders(t *testing.T) {
	dir := workspaceWith(t, map[string]string{
		"output/input_2021-01-01.csv":        "died,sex\n1,F\n",
		"output/input_2021-02-01.csv":        "died,sex\n1,F\n",
		"output/measure_m_2021-02-01.csv":    "sex,deaths,population,value\nF,1.0,1,1.0\n",
		"output/measure_m.csv":               "old\n",
		"output/measure_m_2021-03-01.csv":    "stale, no input for this date\n",
		"output/input_ethnicity_2021-01.csv": "ignored\n",
	})
	_, _, err := generate(t, Options{Dir: dir, Measures: oneMeasure, SkipExisting: true})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"output/measure_m_2021-01-01.csv and output/measure_m_2021-02-01.csv have different headers", "sex,died,population,value", "sex,deaths,population,value", "--skip-existing"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if got := readFile(t, dir, "output/measure_m.csv"); got != "old\n" {
		t.Errorf("the combined file was changed: %q", got)
	}
}

func TestSkipExisting(t *testing.T) {
	files := map[string]string{
		"output/input_2021-01-01.csv": "died,sex\n1,F\n0,M\n",
		"output/input_2021-02-01.csv": "died,sex\n1,F\n1,M\n",
	}
	measures := []Measure{
		{ID: "a", Numerator: "died", Denominator: "population", GroupBy: []string{"sex"}},
		{ID: "b", Numerator: "died", Denominator: "population", GroupBy: []string{"population"}},
	}
	dir := workspaceWith(t, files)
	if _, _, err := generate(t, Options{Dir: dir, Measures: measures}); err != nil {
		t.Fatal(err)
	}
	// A kept file is recognisable, and the January input now cannot be
	// read: if it were read the run would fail.
	writeFile(t, dir, "output/measure_a_2021-01-01.csv", []byte("sex,died,population,value\nX,9.0,9,1.0\n"))
	writeFile(t, dir, "output/input_2021-01-01.csv", []byte("died,sex\nnot a number,F\n"))
	os.Remove(filepath.Join(dir, "output/measure_b_2021-02-01.csv"))

	paths, progress, err := generate(t, Options{Dir: dir, Measures: measures, SkipExisting: true})
	if err != nil {
		t.Fatal(err)
	}
	wantPaths := []string{"output/measure_b_2021-02-01.csv", "output/measure_a.csv", "output/measure_b.csv"}
	if strings.Join(paths, " ") != strings.Join(wantPaths, " ") {
		t.Errorf("wrote %v, want %v", paths, wantPaths)
	}
	for _, w := range []string{
		"kept output/measure_a_2021-01-01.csv (--skip-existing)",
		"kept output/measure_b_2021-01-01.csv (--skip-existing)",
		"kept output/measure_a_2021-02-01.csv (--skip-existing)",
		"wrote output/measure_b_2021-02-01.csv (1 row)",
	} {
		if !strings.Contains(progress, w) {
			t.Errorf("progress %q does not say %q", progress, w)
		}
	}
	wantA := "sex,died,population,value,date\r\nX,9.0,9,1.0,2021-01-01\r\nF,1.0,1,1.0,2021-02-01\r\nM,1.0,1,1.0,2021-02-01\r\n"
	if got := readFile(t, dir, "output/measure_a.csv"); got != wantA {
		t.Errorf("combined a:\n%q\nwant\n%q", got, wantA)
	}
	if got := readFile(t, dir, "output/measure_b_2021-02-01.csv"); got != "died,population,value\n2.0,2,1.0\n" {
		t.Errorf("recomputed b: %q", got)
	}

	// Without --skip-existing everything is recomputed, so the broken
	// input is read.
	_, _, err = generate(t, Options{Dir: dir, Measures: measures})
	if err == nil || !strings.Contains(err.Error(), `"not a number"`) {
		t.Errorf("without --skip-existing: got %v", err)
	}
}

// TestConfinement: every path stays inside the workspace, whatever the
// options or the files say.
func TestConfinement(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("died,sex\n1,F\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	input := map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"}

	check := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
		entries, _ := os.ReadDir(outside)
		if len(entries) != 1 {
			t.Errorf("files appeared outside the workspace: %v", entries)
		}
		if b, _ := os.ReadFile(secret); string(b) != "died,sex\n1,F\n" {
			t.Errorf("a file outside the workspace changed: %q", b)
		}
	}

	t.Run("output dir with ..", func(t *testing.T) {
		dir := workspaceWith(t, input)
		_, _, err := generate(t, Options{Dir: dir, OutputDir: "../" + filepath.Base(outside), Measures: oneMeasure})
		check(t, err, "leaves the workspace")
	})
	t.Run("output dir ../x", func(t *testing.T) {
		dir := workspaceWith(t, input)
		_, _, err := generate(t, Options{Dir: dir, OutputDir: "../x", Measures: oneMeasure})
		check(t, err, "leaves the workspace")
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
			t.Error("../x was created")
		}
	})
	t.Run("absolute output dir", func(t *testing.T) {
		dir := workspaceWith(t, input)
		_, _, err := generate(t, Options{Dir: dir, OutputDir: outside, Measures: oneMeasure})
		check(t, err, "absolute path")
	})
	t.Run("output dir is a link", func(t *testing.T) {
		dir := workspaceWith(t, nil)
		if err := os.Symlink(outside, filepath.Join(dir, "output")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, outside, "input_2021-01-01.csv", []byte("died,sex\n1,F\n"))
		defer os.Remove(filepath.Join(outside, "input_2021-01-01.csv"))
		_, _, err := generate(t, Options{Dir: dir, Measures: oneMeasure})
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("got %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(outside, "measure_*")); len(left) != 0 {
			t.Errorf("wrote outside the workspace: %v", left)
		}
	})
	t.Run("input is a link", func(t *testing.T) {
		dir := workspaceWith(t, map[string]string{"output/keep": ""})
		if err := os.Symlink(secret, filepath.Join(dir, "output", "input_2021-01-01.csv")); err != nil {
			t.Fatal(err)
		}
		_, _, err := generate(t, Options{Dir: dir, Measures: oneMeasure})
		check(t, err, "symbolic link")
	})
	t.Run("output file is a link", func(t *testing.T) {
		for _, skip := range []bool{false, true} {
			dir := workspaceWith(t, input)
			if err := os.Symlink(secret, filepath.Join(dir, "output", "measure_m_2021-01-01.csv")); err != nil {
				t.Fatal(err)
			}
			_, _, err := generate(t, Options{Dir: dir, Measures: oneMeasure, SkipExisting: skip})
			check(t, err, "symbolic link")
		}
	})
	t.Run("combined file is a link", func(t *testing.T) {
		dir := workspaceWith(t, input)
		if err := os.Symlink(secret, filepath.Join(dir, "output", "measure_m.csv")); err != nil {
			t.Fatal(err)
		}
		_, _, err := generate(t, Options{Dir: dir, Measures: oneMeasure})
		check(t, err, "symbolic link")
	})
}

func TestCancelled(t *testing.T) {
	dir := workspaceWith(t, map[string]string{"output/input_2021-01-01.csv": "died,sex\n1,F\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	paths, err := Generate(ctx, Options{Dir: dir, Measures: oneMeasure})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if len(paths) != 0 {
		t.Errorf("wrote %v", paths)
	}
}

// TestOutputDirOption: a non-default output directory (also written as
// /workspace/...) and a suffix select the inputs, and the paths returned
// are workspace-relative.
func TestOutputDirOption(t *testing.T) {
	dir := workspaceWith(t, map[string]string{
		"out/cohorts/input_eth_2021-01-01.csv": "died,sex\n1,F\n",
		"out/cohorts/input_2021-01-01.csv":     "broken\n",
	})
	paths, _, err := generate(t, Options{Dir: dir, OutputDir: "/workspace/out/cohorts/", Suffix: "_eth", Measures: oneMeasure})
	if err != nil {
		t.Fatal(err)
	}
	want := "out/cohorts/measure_m_2021-01-01.csv out/cohorts/measure_m.csv"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("wrote %s, want %s", got, want)
	}
}
