package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyExample copies examples/NAME as a clean checkout has it: without
// what earlier runs wrote (output/, metadata/).
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "examples", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() && (rel == "output" || rel == "metadata" || d.Name() == "__pycache__") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Every example study runs end to end with the local executor: Haven's
// built-in cohortextractor, cohort-joiner and dataset-report, and
// python3's standard library for the analyses.
func TestExamplesRunEndToEnd(t *testing.T) {
	tests := []struct {
		name   string
		python bool
		want   []string // outputs that must exist afterwards
		medium []string // moderately sensitive outputs that reach the Level-4 copy
	}{
		{"flucats", false,
			[]string{"output/input_2020-03-01.csv.gz", "output/input_2022-03-20.csv.gz", "output/input_end.csv.gz", "output/joined/input_2021-03-07.csv.gz", "output/joined/input_2022-03-20.html"},
			[]string{"output/joined/input_2022-03-20.html"}},
		{"primary-care-covid-codes", true,
			[]string{"output/input.csv.gz", "output/caseness/codecounts_week.csv", "output/caseness/plots.svg"},
			[]string{"output/caseness/codecounts_week.csv", "output/caseness/plots.svg"}},
		{"mechanical-valve-anticoag", true,
			[]string{"output/input_ethnicity.csv", "output/input_2019-01-01.csv", "output/input_2021-12-01.csv", "output/measure_doac_rate.csv", "output/notebook.html", "output/doac_rate_total_recent.csv", "output/patient_count.csv", "released_outputs/combined_rate.csv", "released_outputs/report_notebook.html"},
			[]string{"output/patient_count.csv", "output/measure_doac_rate.csv", "output/notebook.html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.python {
				needPython(t)
			}
			dir := copyExample(t, tt.name)
			medium := filepath.Join(t.TempDir(), "medium")
			r := runHaven(t, dir, "run", "run_all", "--executor", "local", "--medium-privacy-dir", medium)
			r.want(t, 0)
			for _, w := range tt.want {
				if _, err := os.Stat(filepath.Join(dir, w)); err != nil {
					t.Errorf("%s was not produced: %v", w, err)
				}
			}
			for _, w := range tt.medium {
				if _, err := os.Stat(filepath.Join(medium, w)); err != nil {
					t.Errorf("%s did not reach the Level-4 copy: %v", w, err)
				}
			}
			if _, err := os.Stat(filepath.Join(medium, "metadata", "manifest.json")); err != nil {
				t.Errorf("no Level-4 manifest: %v", err)
			}
			// The moderately sensitive tables apply the study's controls:
			// nothing in them is a definite breach (FAIL) or unreadable.
			var tables []string
			_ = filepath.WalkDir(filepath.Join(medium, "output"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(p, ".csv") {
					tables = append(tables, p)
				}
				return nil
			})
			if len(tables) > 0 {
				chk := runHaven(t, dir, append([]string{"outputs", "check"}, tables...)...)
				for _, line := range strings.Split(chk.stdout, "\n") {
					if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "ERROR") {
						t.Errorf("released table does not apply its controls: %s\n%s", line, chk.stdout)
					}
				}
			}
			st := runHaven(t, dir, "status")
			st.want(t, 0)
			for _, line := range strings.Split(strings.TrimSpace(st.stdout), "\n")[1:] {
				if !strings.Contains(line, "succeeded") {
					t.Errorf("status line %q: want succeeded", line)
				}
				action := strings.Fields(line)[0]
				if _, err := os.Stat(filepath.Join(dir, "metadata", action+".log")); err != nil {
					t.Errorf("no log for %s: %v", action, err)
				}
			}
			again := runHaven(t, dir, "run", "run_all", "--executor", "local")
			again.want(t, 0)
			if !strings.Contains(again.stdout, "All actions already completed successfully") {
				t.Errorf("a second run_all did work again:\n%s", again.stdout)
			}
		})
	}
}

// A new user's mistakes in a dataset definition or dummy data file fail
// the job with the file, the position and the fix, and leave no output.
func TestDatasetDefinitionMistakes(t *testing.T) {
	const projectYAML = `version: '3.0'
expectations:
  population_size: 100
actions:
  generate_cohort:
    run: cohortextractor:latest generate_cohort --study-definition study_definition
    outputs:
      highly_sensitive:
        cohort: output/input.csv
`
	tests := []struct {
		name       string
		definition string
		project    string
		want       []string
	}{
		{"typo", "variables:\n  age:\n    type: int\n    return_expectaitons: {rate: universal, int: {distribution: population_ages}}\n", projectYAML,
			[]string{"analysis/study_definition.yaml:4:5:", `unknown key "return_expectaitons"`, "did you mean return_expectations?"}},
		{"latest before earliest", "variables:\n  admitted:\n    type: date\n    date_format: YYYY-MM-DD\n    return_expectations:\n      incidence: 0.1\n      date: {earliest: 2022-01-01, latest: 2021-01-01}\n", projectYAML,
			[]string{"analysis/study_definition.yaml:7:", "variable admitted"}},
		{"missing dummy data file", "variables:\n  age: {type: int}\n", strings.Replace(projectYAML, "    outputs:", "    dummy_data_file: test-data/dummy.csv\n    outputs:", 1),
			[]string{"dummy_data_file test-data/dummy.csv does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{"project.yaml": tt.project, "analysis/study_definition.yaml": tt.definition})
			r := runHaven(t, dir, "run", "run_all", "--executor", "local")
			r.want(t, 1)
			all := r.stdout + r.stderr + readFile(t, filepath.Join(dir, "metadata", "generate_cohort.log"))
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic") {
				t.Errorf("a stack trace for a user mistake:\n%s", all)
			}
			if _, err := os.Stat(filepath.Join(dir, "output", "input.csv")); err == nil {
				t.Error("a failed job left its output")
			}
		})
	}
}
