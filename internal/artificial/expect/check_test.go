package expect

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"go.yaml.in/yaml/v3"
)

// window is a valid date expectation most cases build on.
var window = m{"earliest": "2020-01-01", "latest": "2020-12-31"}

// Every upstream error case of spec 7.3 and 7.4 is a planning error that
// names the variable and the key, and says how to fix it.
func TestPlanErrors(t *testing.T) {
	one := func(v Variable) Study { return Study{PopulationSize: 10, Variables: []Variable{v}} }
	cases := []struct {
		name     string
		study    Study
		variable string // the Problem's Variable
		key      string // the Problem's Key
		msg      string // part of the Problem's Message
	}{
		{"no expectations at all", one(Variable{Name: "v", Kind: Int}), "v", "return_expectations", "the study has no default_expectations"},
		{"unknown key", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": 0.5, "incidnce": 0.5}}), "v", "return_expectations.incidnce", "did you mean incidence?"},
		{"unknown rate", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": window, "rate": "exponential"}}), "v", "return_expectations.rate", `"exponential" is not a rate`},
		{"rate not text", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": 0.5, "rate": 3}}), "v", "return_expectations.rate", "3 is not a rate"},
		{"incidence missing", one(Variable{Name: "v", Kind: Bool, Expectations: m{"bool": true}}), "v", "return_expectations.incidence", "missing"},
		{"incidence zero", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": 0}}), "v", "return_expectations.incidence", "outside (0, 1]"},
		{"incidence above one", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": 1.5}}), "v", "return_expectations.incidence", "1.5 is outside (0, 1]"},
		{"incidence negative", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": -0.1}}), "v", "return_expectations.incidence", "outside (0, 1]"},
		{"incidence text", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": "0.5"}}), "v", "return_expectations.incidence", `"0.5" is not a number`},
		{"incidence boolean", one(Variable{Name: "v", Kind: Bool, Expectations: m{"incidence": true}}), "v", "return_expectations.incidence", "not a number"},
		{"date column without date", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5}}), "v", "return_expectations.date", "a date variable needs date"},
		{"date without earliest", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"latest": "2020-01-01"}}}), "v", "return_expectations.date.earliest", "missing"},
		{"date without latest", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2020-01-01"}}}), "v", "return_expectations.date.latest", "missing"},
		{"date not a mapping", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": "2020-01-01"}}), "v", "return_expectations.date", "not a mapping"},
		{"date unknown key", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2020-01-01", "latest": "2020-02-01", "lastest": "x"}}}), "v", "return_expectations.date.lastest", "did you mean latest?"},
		{"earliest after latest", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2021-01-01", "latest": "2020-01-01"}}}), "v", "return_expectations.date", "earliest 2021-01-01 is after latest 2020-01-01"},
		{"bad ISO date", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2020-02-30", "latest": "2020-12-01"}}}), "v", "return_expectations.date.earliest", "February 2020 has 29 days"},
		{"date not text", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": 2020, "latest": "2020-12-01"}}}), "v", "return_expectations.date.earliest", "2020 is not a date"},
		{"index_date without index", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "index_date - 1 year", "latest": "index_date"}}}), "v", "return_expectations.date.earliest", "the study has no index date"},
		{"unknown date function", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "first_day_of_week(today)", "latest": "today"}}}), "v", "return_expectations.date.earliest", "unknown date function"},
		{"unknown date unit", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "today - 1 fortnight", "latest": "today"}}}), "v", "return_expectations.date.earliest", "unknown date unit"},
		{"non-existent day", Study{PopulationSize: 1, IndexDate: "2020-01-31", Variables: []Variable{{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2019-01-01", "latest": "index_date + 1 month"}}}}}, "v", "return_expectations.date.latest", "no such date 31 February 2020"},
		{"leap day plus a year", Study{PopulationSize: 1, IndexDate: "2020-02-29", Variables: []Variable{{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2019-01-01", "latest": "index_date + 1 year"}}}}}, "v", "return_expectations.date.latest", "no such date 29 February 2021"},
		{"column reference in expectations", Study{PopulationSize: 1, Variables: []Variable{
			{Name: "a", Kind: Date, Expectations: m{"incidence": 0.5, "date": window}},
			{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "a + 1 day", "latest": "2021-01-01"}}},
		}}, "v", "return_expectations.date.earliest", `refers to the variable "a"`},
		{"unknown name in expectations", one(Variable{Name: "v", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": "idx_date", "latest": "today"}}}), "v", "return_expectations.date.earliest", `unknown date name "idx_date"`},
		{"category without ratios", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{}}}), "v", "return_expectations.category.ratios", "missing"},
		{"category column without category", one(Variable{Name: "v", Kind: Category, Categories: []string{"A", "B"}, Expectations: m{"incidence": 0.5}}), "v", "return_expectations.category", "ratios: {A: 0.5, B: 0.5}"},
		{"ratios do not sum to 1", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"A": 0.5, "B": 0.4}}}}), "v", "return_expectations.category.ratios", "add up to 0.9, not 1"},
		{"ratios just off", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"A": 0.5, "B": 0.50001}}}}), "v", "return_expectations.category.ratios", "not 1"},
		{"ratio negative", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"A": 1.5, "B": -0.5}}}}), "v", "return_expectations.category.ratios.B", "not a share"},
		{"ratio text", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"A": "1"}}}}), "v", "return_expectations.category.ratios.A", "not a share"},
		{"labels not in categories", one(Variable{Name: "v", Kind: Category, Categories: []string{"M", "F"}, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"M": 0.5, "X": 0.5}}}}), "v", "return_expectations.category.ratios", `"X" is not among the categories the variable can return ("M", "F")`},
		{"category unknown key", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratio": m{"a": 1}}}}), "v", "return_expectations.category.ratio", "did you mean ratios?"},
		{"int column without int", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5}}), "v", "return_expectations.int", "an int variable needs int"},
		{"unknown int distribution", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "binomial"}}}), "v", "return_expectations.int.distribution", `"binomial" is not an int distribution`},
		{"int distribution missing", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"mean": 3}}}), "v", "return_expectations.int.distribution", "missing"},
		{"int normal without stddev", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "normal", "mean": 3}}}), "v", "return_expectations.int.stddev", "needs mean and stddev"},
		{"poisson without mean", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson"}}}), "v", "return_expectations.int.mean", "needs mean"},
		{"poisson with stddev", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson", "mean": 2, "stddev": 1}}}), "v", "return_expectations.int.stddev", "not used by the poisson distribution"},
		{"poisson negative mean", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson", "mean": -2}}}), "v", "return_expectations.int.mean", "negative"},
		{"poisson huge mean", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson", "mean": 1e9}}}), "v", "return_expectations.int.mean", "largest Poisson mean"},
		{"negative stddev", one(Variable{Name: "v", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "normal", "mean": 3, "stddev": -1}}}), "v", "return_expectations.float.stddev", "negative"},
		{"int normal too large", one(Variable{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "normal", "mean": 1e18, "stddev": 1}}}), "v", "return_expectations.int", "beyond 2^53"},
		{"mean text", one(Variable{Name: "v", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "normal", "mean": "28", "stddev": 8}}}), "v", "return_expectations.float.mean", "not a number"},
		{"float column without float", one(Variable{Name: "v", Kind: Float, Expectations: m{"incidence": 0.5}}), "v", "return_expectations.float", "a float variable needs float"},
		{"float not normal", one(Variable{Name: "v", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "poisson", "mean": 3}}}), "v", "return_expectations.float.distribution", "the only one is normal"},
		{"float unknown key", one(Variable{Name: "v", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "normal", "mean": 3, "stddev": 1, "sd": 1}}}), "v", "return_expectations.float.sd", "unknown key"},
		{"no kind", one(Variable{Name: "v", Expectations: m{"incidence": 0.5}}), "v", "kind", "has no kind"},
		{"bad date format", one(Variable{Name: "v", Kind: Date, DateFormat: "YYYY-MM-D", Expectations: m{"incidence": 0.5, "date": window}}), "v", "date_format", "did you mean YYYY-MM-DD?"},
		{"empty window", one(Variable{Name: "v", Kind: Date, Between: [2]string{"2021-01-01", "2021-06-30"}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", "the expectations window 2020-01-01 to 2020-12-31 and the between bounds 2021-01-01 to 2021-06-30 do not overlap"},
		{"empty window open end", one(Variable{Name: "v", Kind: Date, Between: [2]string{"", "2019-06-30"}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", "between bounds (open) to 2019-06-30"},
		{"between reversed", one(Variable{Name: "v", Kind: Date, Between: [2]string{"2020-06-30", "2020-06-01"}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", "the start 2020-06-30 is after the end 2020-06-01"},
		{"between bad date", one(Variable{Name: "v", Kind: Date, Between: [2]string{"2020-06-31", ""}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", "June 2020 has 30 days"},
		{"between unknown column", one(Variable{Name: "v", Kind: Date, Between: [2]string{"admision + 1 day", ""}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", `refers to "admision", which is not a variable`},
		{"between index without index", one(Variable{Name: "v", Kind: Date, Between: [2]string{"index_date", ""}, Expectations: m{"incidence": 0.5, "date": window}}), "v", "between", "no index date"},
		{"patient_id reserved", one(Variable{Name: "patient_id", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson", "mean": 1}}}), "patient_id", "", "reserved"},
		{"duplicate name", Study{PopulationSize: 1, Variables: []Variable{{Name: "v", Kind: Bool, Expectations: m{"incidence": 0.5}}, {Name: "v", Kind: Bool, Expectations: m{"incidence": 0.5}}}}, "v", "", "used by two variables"},
		{"no name", one(Variable{Kind: Bool, Expectations: m{"incidence": 0.5}}), "", "variables[0]", "has no name"},
		{"negative population", Study{PopulationSize: -1}, "", "population_size", "negative"},
		{"bad index date", Study{PopulationSize: 1, IndexDate: "2020-1-1"}, "", "index_date", "must be YYYY-MM-DD"},
		{"incidence_from unknown", one(Variable{Name: "v", Kind: Int, IncidenceFrom: "d", Expectations: m{"int": m{"distribution": "poisson", "mean": 1}}}), "v", "incidence_from", `"d" is not a variable`},
		{"incidence_from not a date", Study{PopulationSize: 1, Variables: []Variable{
			{Name: "b", Kind: Bool, Expectations: m{"incidence": 0.5}},
			{Name: "v", Kind: Int, IncidenceFrom: "b", Expectations: m{"int": m{"distribution": "poisson", "mean": 1}}},
		}}, "v", "incidence_from", "only be shared with a date variable"},
		{"incidence_from itself", one(Variable{Name: "v", Kind: Date, IncidenceFrom: "v", Expectations: m{"date": window}}), "v", "incidence_from", "its own blank rows"},
		{"non-string key", one(Variable{Name: "v", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": map[any]any{1.5: 1}}}}), "v", "return_expectations.category.ratios", "keys must be text"},
		{"default value wrong", Study{PopulationSize: 1, DefaultExpectations: m{"incidence": 2}, Variables: []Variable{{Name: "a", Kind: Bool}, {Name: "b", Kind: Bool}}}, "a, b", "default_expectations.incidence", "outside (0, 1]"},
		{"default key unknown", Study{PopulationSize: 1, DefaultExpectations: m{"incidence": 0.5, "dates": window}, Variables: []Variable{{Name: "a", Kind: Bool}}}, "a", "default_expectations.dates", "did you mean date?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPlan(c.study, Options{Today: day("2024-01-01")})
			if err == nil {
				t.Fatal("planned without error")
			}
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PlanError: %v", err, err)
			}
			if haven.ErrorCode(err) != haven.EINVALID {
				t.Errorf("error code %q, want %q", haven.ErrorCode(err), haven.EINVALID)
			}
			for _, p := range pe.Problems {
				if p.Variable == c.variable && p.Key == c.key && strings.Contains(p.Message, c.msg) {
					if !strings.Contains(err.Error(), p.String()) {
						t.Errorf("Error() %q does not include %q", err, p.String())
					}
					return
				}
			}
			t.Errorf("no problem {variable %q, key %q, message containing %q} in:\n%v", c.variable, c.key, c.msg, err)
		})
	}
}

// Everything wrong is reported at once, and one bad default is reported
// once for all the variables it affects.
func TestPlanErrorsTogether(t *testing.T) {
	s := Study{PopulationSize: 10, DefaultExpectations: m{"incidence": 7}, Variables: []Variable{
		{Name: "a", Kind: Bool},
		{Name: "b", Kind: Int, Expectations: m{"int": m{"distribution": "gamma"}}},
		{Name: "c", Kind: Bool},
	}}
	_, err := NewPlan(s, Options{})
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("%v", err)
	}
	if len(pe.Problems) != 2 {
		t.Fatalf("%d problems, want 2:\n%v", len(pe.Problems), err)
	}
	if got := pe.Problems[0].String(); got != "variables a, b, c: default_expectations.incidence: 7 is outside (0, 1]: incidence is the share of rows with a value, e.g. 0.2 for one row in five (use rate: universal for a value on every row)" {
		t.Errorf("first problem: %s", got)
	}
	if !strings.HasPrefix(err.Error(), "expectations: 2 problems:\n  variables a, b, c: ") {
		t.Errorf("Error():\n%s", err)
	}
}

// Upstream accepts these, and so does Haven.
func TestPlanAccepts(t *testing.T) {
	cases := []struct {
		name  string
		study Study
	}{
		{"non-date column with date keys", Study{PopulationSize: 5, Variables: []Variable{{Name: "v", Kind: Int, Expectations: m{"incidence": 0.5, "date": m{"earliest": "2020-01-01"}, "int": m{"distribution": "poisson", "mean": 1}}}}}},
		{"other kinds' keys inherited from defaults", Study{PopulationSize: 5, DefaultExpectations: m{"incidence": 0.5, "date": window, "category": m{"ratios": m{"a": 0.5, "b": 0.5}}, "int": m{"distribution": "population_ages"}}, Variables: []Variable{
			{Name: "d", Kind: Date}, {Name: "i", Kind: Int}, {Name: "c", Kind: Category, Categories: []string{"a", "b"}}, {Name: "b", Kind: Bool},
		}}},
		{"labels when categories are unknown", Study{PopulationSize: 5, Variables: []Variable{{Name: "c", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"anything": 1}}}}}}},
		{"subset of categories with a zero ratio", Study{PopulationSize: 5, Variables: []Variable{{Name: "c", Kind: Category, Categories: []string{"a", "b", "c"}, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"a": 1, "b": 0}}}}}}},
		{"ratios within 1e-6", Study{PopulationSize: 5, Variables: []Variable{{Name: "c", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"a": 0.3333333, "b": 0.6666666}}}}}}},
		{"universal without incidence", Study{PopulationSize: 5, Variables: []Variable{{Name: "b", Kind: Bool, Expectations: m{"rate": "universal"}}}}},
		{"bool key with any value", Study{PopulationSize: 5, Variables: []Variable{{Name: "b", Kind: Bool, Expectations: m{"incidence": 1, "bool": "yes"}}}}},
		{"between relative to a column", Study{PopulationSize: 5, Variables: []Variable{
			{Name: "a", Kind: Date, Expectations: m{"incidence": 0.5, "date": window}},
			{Name: "b", Kind: Date, Between: [2]string{"a + 1 day", "2020-12-01"}, Expectations: m{"incidence": 0.5, "date": window}},
		}}},
		{"between as expressions", Study{PopulationSize: 5, IndexDate: "2020-06-15", Variables: []Variable{
			{Name: "b", Kind: Date, Between: [2]string{"first_day_of_month(index_date)", "last_day_of_month(index_date)"}, Expectations: m{"incidence": 0.5, "date": window}},
		}}},
		{"json numbers", Study{PopulationSize: 5, Variables: []Variable{{Name: "f", Kind: Float, Expectations: m{"incidence": json.Number("0.5"), "float": m{"distribution": "normal", "mean": json.Number("3"), "stddev": json.Number("1")}}}}}},
		{"stddev zero", Study{PopulationSize: 5, Variables: []Variable{{Name: "f", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "normal", "mean": 3, "stddev": 0}}}}}},
		{"incidence_from without incidence", Study{PopulationSize: 5, Variables: []Variable{
			{Name: "d", Kind: Date, Expectations: m{"incidence": 0.5, "date": window}},
			{Name: "v", Kind: Float, IncidenceFrom: "d", Expectations: m{"float": m{"distribution": "normal", "mean": 3, "stddev": 1}}},
		}}},
		{"unquoted YAML dates", Study{PopulationSize: 5, Variables: []Variable{{Name: "d", Kind: Date, Expectations: m{"incidence": 0.5, "date": m{"earliest": time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "latest": "2020-02-01"}}}}}},
	}
	for _, c := range cases {
		if _, err := NewPlan(c.study, Options{Today: day("2024-01-01")}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestMergeIsRecursive(t *testing.T) {
	cases := []struct {
		base, over m
		want       string
		src        map[string]string
	}{
		{
			m{"date": m{"earliest": "1900-01-01", "latest": "today"}, "rate": "uniform", "incidence": 0.2},
			m{"date": m{"earliest": "2000-01-01"}, "incidence": 0.5},
			"map[date:map[earliest:2000-01-01 latest:today] incidence:0.5 rate:uniform]",
			map[string]string{"date": srcReturn, "date.earliest": srcReturn, "date.latest": srcDefault, "incidence": srcReturn, "rate": srcDefault},
		},
		{
			m{"category": m{"ratios": m{"a": 0.5, "b": 0.5}}},
			m{"category": m{"ratios": m{"c": 1}}},
			"map[category:map[ratios:map[a:0.5 b:0.5 c:1]]]", // ratios merge key by key, as upstream
			nil,
		},
		{
			m{"int": m{"distribution": "normal", "mean": 1, "stddev": 2}},
			m{"int": "none"},
			"map[int:none]",
			map[string]string{"int": srcReturn},
		},
		{nil, m{"bool": true}, "map[bool:true]", nil},
		{m{"incidence": 0.1}, nil, "map[incidence:0.1]", map[string]string{"incidence": srcDefault}},
	}
	for _, c := range cases {
		baseBefore := fmt.Sprint(c.base)
		mg := mergeExpectations(c.base, c.over, func(src, path, msg string) { t.Errorf("bad %s %s: %s", src, path, msg) })
		if got := fmt.Sprint(mg.m); got != c.want {
			t.Errorf("merge(%v, %v) = %s, want %s", c.base, c.over, got, c.want)
		}
		if fmt.Sprint(c.base) != baseBefore {
			t.Errorf("merge modified its base: %v", c.base)
		}
		for path, want := range c.src {
			if mg.src[path] != want {
				t.Errorf("merge(%v, %v): %s from %q, want %q", c.base, c.over, path, mg.src[path], want)
			}
		}
	}
}

// Expectations as a YAML decoder gives them (the shape a dataset-definition
// parser hands over) plan as their Go equivalents do.
func TestYAMLDecodedExpectations(t *testing.T) {
	src := `
default_expectations:
  date: {earliest: 1970-01-01, latest: today}
  rate: uniform
  incidence: 0.5
variables:
  sex:
    rate: universal
    category: {ratios: {M: 0.49, F: 0.51}}
  ethnicity:
    category:
      ratios: {1: 0.8, 2: 0.1, 3: 0.1}
  died:
    date: {earliest: 2020-02-01}
`
	var doc struct {
		Default   map[string]any            `yaml:"default_expectations"`
		Variables map[string]map[string]any `yaml:"variables"`
	}
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	s := Study{PopulationSize: 1000, DefaultExpectations: doc.Default, Variables: []Variable{
		{Name: "sex", Kind: Category, Categories: []string{"M", "F"}, Expectations: doc.Variables["sex"]},
		{Name: "ethnicity", Kind: Category, Categories: []string{"1", "2", "3", "4", "5"}, Expectations: doc.Variables["ethnicity"]},
		{Name: "died", Kind: Date, Expectations: doc.Variables["died"]},
	}}
	p := mustPlan(t, s, Options{Today: day("2024-01-01")})
	info := p.Columns()
	if got := fmt.Sprint(info[1].Categories); got != "[{1 400} {2 50} {3 50}]" {
		t.Errorf("ethnicity counts %s", got)
	}
	if info[2].Earliest != "2020-02-01" || info[2].Latest != "2024-01-01" || info[2].Values != 500 {
		t.Errorf("died: %+v", info[2])
	}
	if info[0].Values != 1000 {
		t.Errorf("sex: %+v", info[0])
	}
}
