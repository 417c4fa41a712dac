package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/expect"
)

// The example in docs/dataset-definitions.md is kept in testdata so the
// documentation cannot drift from what parses.
func TestDocsExampleParsesAndPlans(t *testing.T) {
	src, err := os.ReadFile("testdata/docs_example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../../docs/dataset-definitions.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), string(src)) {
		t.Fatal("testdata/docs_example.yaml differs from the example in docs/dataset-definitions.md: copy the example again")
	}
	d, err := Parse("analysis/study_definition.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Columns(), ","); got != "patient_id,registered,died,age,sex,practice,bmi,first_covid_test,covid_test_code" {
		t.Errorf("columns = %s", got)
	}
	if d.Study.IndexDate != "2020-01-01" {
		t.Errorf("index date = %q", d.Study.IndexDate)
	}
	byName := map[string]expect.Variable{}
	for _, v := range d.Study.Variables {
		byName[v.Name] = v
	}
	if byName["registered"].Force != expect.ForceTrue || byName["died"].Force != expect.ForceFalse {
		t.Errorf("population fixes registered=%v died=%v", byName["registered"].Force, byName["died"].Force)
	}
	if byName["first_covid_test"].DateFormat != expect.FormatDay || byName["first_covid_test"].Between != [2]string{"index_date", "index_date + 1 year"} {
		t.Errorf("first_covid_test = %+v", byName["first_covid_test"])
	}
	if byName["covid_test_code"].IncidenceFrom != "first_covid_test" {
		t.Errorf("incidence_from = %q", byName["covid_test_code"].IncidenceFrom)
	}
	if len(d.Measures) != 1 || d.Measures[0].ID != "covid_test_rate" || strings.Join(d.Measures[0].GroupBy, ",") != "practice" || !d.Measures[0].SmallNumberSuppression {
		t.Errorf("measures = %+v", d.Measures)
	}
	plan, err := d.Plan(1000, expect.Options{Today: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Columns() {
		switch c.Name {
		case "registered":
			if c.Values != 1000 {
				t.Errorf("registered has %d values, want every row", c.Values)
			}
		case "died":
			if c.Values != 0 {
				t.Errorf("died has %d values, want none", c.Values)
			}
		case "first_covid_test":
			if c.Earliest != "2020-01-01" || c.Latest != "2021-01-01" || c.Values != 300 {
				t.Errorf("first_covid_test = %+v", c)
			}
		}
	}
}

func TestYearOnlyWithoutDateFormat(t *testing.T) {
	d := mustParse(t, "variables:\n  x:\n    type: date\n    return_expectations: {incidence: 1, date: {earliest: 2020-01-01, latest: 2020-12-31}}\n")
	if f := d.Study.Variables[0].DateFormat; f != expect.FormatYear {
		t.Errorf("date_format = %q, want YYYY as cohort-extractor writes", f)
	}
}

func mustParse(t *testing.T, src string) *Definition {
	t.Helper()
	d, err := Parse("analysis/study_definition.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // each a substring of one problem line, in order
	}{
		{"empty", "", []string{":1:1: the file is empty"}},
		{"not a mapping", "- a\n", []string{":1:1: a dataset definition is a mapping"}},
		{"yaml syntax", "variables:\n  x: [\n", []string{"YAML syntax error"}},
		{"duplicate key", "variables:\n  x: {type: int}\n  x: {type: int}\n", []string{":3:3:", "duplicate"}},
		{"no variables", "index_date: 2020-01-01\n", []string{":1:1: missing `variables:`"}},
		{"top-level typo", "varaibles:\n  x: {type: int}\n", []string{`:1:1: unknown key "varaibles" as a top-level key; did you mean variables?`, "missing `variables:`"}},
		{"variable key typo", "variables:\n  age:\n    type: int\n    retrun_expectations: {rate: universal}\n", []string{`:4:5: unknown key "retrun_expectations" as a key of variable age; did you mean return_expectations?`}},
		{"type typo", "variables:\n  age:\n    type: integer\n", []string{`:3:11: variable age: type "integer" is not a type`}},
		{"no type", "variables:\n  age:\n    description: x\n", []string{":2:3: variable age has no type"}},
		{"bad index date", "index_date: 2020-02-30\nvariables:\n  x: {type: int}\n", []string{":1:13: index_date:"}},
		{"reserved patient_id", "variables:\n  patient_id: {type: int}\n", []string{":2:3: variable patient_id: the name is reserved"}},
		{"bad name", "variables:\n  2x: {type: int}\n", []string{`:2:3: variable "2x": a name is letters`}},
		{"date_format on int", "variables:\n  x:\n    type: int\n    date_format: YYYY\n", []string{"date_format applies to date variables only"}},
		{"bad date_format", "variables:\n  x:\n    type: date\n    date_format: DD/MM/YYYY\n", []string{`:4:18: variable x: date_format "DD/MM/YYYY" is not a date format`}},
		{"between shape", "variables:\n  x:\n    type: date\n    between: 2020-01-01\n", []string{":4:14: variable x: between must be a list of two dates"}},
		{"between expression", "variables:\n  x:\n    type: date\n    between: [index_date + 1 fortnight, null]\n", []string{":4:15: variable x: between:"}},
		{"categories not list", "variables:\n  x:\n    type: category\n    categories: A\n", []string{":4:17: variable x: categories must be a list"}},
		{"population unknown", "population: registred\nvariables:\n  registered: {type: bool}\n", []string{`:1:13: population: "registred" is not a variable`}},
		{"population contradiction", "population: a and not a\nvariables:\n  a: {type: bool}\n", []string{"both requires and excludes a"}},
		{"measure missing keys", "variables:\n  x: {type: int}\nmeasures:\n  - id: m\n", []string{":4:5: measure m has no numerator", ":4:5: measure m has no denominator"}},
		{"measure bad id", "variables:\n  x: {type: int}\nmeasures:\n  - {id: a-b, numerator: x, denominator: population}\n", []string{`id "a-b" may hold only`}},
		{"measure duplicate id", "variables:\n  x: {type: int}\nmeasures:\n  - {id: m, numerator: x, denominator: population}\n  - {id: m, numerator: x, denominator: population}\n", []string{":5:10: measures[1]: id m is used by another measure"}},
		{"measure key typo", "variables:\n  x: {type: int}\nmeasures:\n  - {id: m, numerator: x, denominator: population, groupby: x}\n", []string{`unknown key "groupby" as a key of measure m; did you mean group_by?`}},
		{"suppression not bool", "variables:\n  x: {type: int}\nmeasures:\n  - {id: m, numerator: x, denominator: population, small_number_suppression: yes}\n", []string{"small_number_suppression must be true or false"}},
		{"disclosure control without group_by", "variables:\n  x: {type: int}\nmeasures:\n  - {id: m, numerator: x, denominator: population, disclosure_control: true}\n", []string{":4:5: measure m: disclosure_control needs group_by"}},
		{"custom tag", "variables: !!python/object:os.system {}\n", []string{"tag"}},
		{"every problem at once", "varaibles: 1\nindex_date: 1\nvariables:\n  a: {type: x}\n  b: {}\n",
			[]string{"unknown key \"varaibles\"", "index_date:", "type \"x\"", "variable b has no type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("analysis/study_definition.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *Error", err, err)
			}
			var he *haven.Error
			if !errors.As(err, &he) || he.Code != haven.EINVALID {
				t.Errorf("error does not unwrap to EINVALID")
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, msg)
				}
				at += i
			}
			for _, p := range de.Problems {
				if p.File != "analysis/study_definition.yaml" {
					t.Errorf("problem without the file: %+v", p)
				}
			}
		})
	}
}

// Expectation problems found when planning point at the key to change.
func TestPlanErrorsHavePositions(t *testing.T) {
	src := `index_date: 2020-01-01
default_expectations:
  date: {earliest: 1900-01-01, latest: today}
  rate: uniform
  incidence: 0.5
variables:
  admitted:
    type: date
    date_format: YYYY-MM-DD
    return_expectations:
      date: {earliest: 2021-01-01, latest: 2019-01-01}
  age:
    type: int
    return_expectations:
      int: {distribution: gaussian, mean: 50}
  sex:
    type: category
    categories: [F, M]
    return_expectations:
      category: {ratios: {F: 0.5, X: 0.5}}
`
	d := mustParse(t, src)
	_, err := d.Plan(100, expect.Options{Today: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, w := range []string{
		"analysis/study_definition.yaml:11:", "variable admitted",
		"analysis/study_definition.yaml:15:", "gaussian",
		"analysis/study_definition.yaml:20:", "X",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("plan error lacks %q:\n%s", w, msg)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	mkdir := func(p string) { _ = os.MkdirAll(filepath.Join(dir, p), 0o755) }
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("analysis")
	write("analysis/study_definition.py", "from cohortextractor import StudyDefinition\n")
	_, err := Load(dir, "study_definition")
	if err == nil || !strings.Contains(err.Error(), "analysis/study_definition.py is a Python study definition") ||
		!strings.Contains(err.Error(), "analysis/study_definition.yaml") || !strings.Contains(err.Error(), "--executor docker") {
		t.Errorf("python-only error = %v", err)
	}
	write("analysis/study_definition_end.yaml", "variables:\n  x: {type: int}\n")
	_, err = Load(dir, "study_definition_edn")
	if err == nil || !strings.Contains(err.Error(), "did you mean --study-definition study_definition_end?") {
		t.Errorf("typo error = %v", err)
	}
	d, err := Load(dir, "study_definition_end")
	if err != nil || d.Name != "study_definition_end" || Suffix(d.Name) != "_end" {
		t.Errorf("Load = %+v, %v", d, err)
	}
	for _, bad := range []string{"../x", "a/b", "", ".hidden"} {
		if _, err := Load(dir, bad); err == nil {
			t.Errorf("Load(%q) gave no error", bad)
		}
	}
	// A definition that is a link to a file elsewhere is refused.
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("variables:\n  x: {type: int}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "analysis", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "linked"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlinked definition: %v", err)
	}
}

func TestSuffix(t *testing.T) {
	for in, want := range map[string]string{"study_definition": "", "study_definition_ethnicity": "_ethnicity", "cohort": "cohort"} {
		if got := Suffix(in); got != want {
			t.Errorf("Suffix(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	src, _ := os.ReadFile("testdata/docs_example.yaml")
	f.Add(src)
	f.Add([]byte("variables:\n  x: {type: date, between: [a, b]}\nmeasures: [{id: m}]\npopulation: a and not\n"))
	f.Add([]byte("a: &a [*a]\nvariables: *a\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		d, err := Parse("f.yaml", src)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		_, _ = d.Plan(10, expect.Options{Today: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	})
}
