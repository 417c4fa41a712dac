// Package expect generates dummy data from a cohort-extractor style study's
// expectations (`default_expectations` and each variable's
// `return_expectations`), the OpenSAFELY model of artificial data (spec
// section 7). No real data is involved: the package never reads records.
//
// A Plan is made once from a Study: every key and value is checked, date
// expressions are resolved against the index date, and exact counts are
// fixed, so every mistake is reported before any row exists. The plan then
// fills column batches for any range of rows; each row's values are a pure
// function of (seed, study hash, index date, row), so the output is the same
// whatever the split into batches or workers.
package expect

import (
	"fmt"
	"strings"
	"time"

	"github.com/haven-tre/haven"
)

// Algorithm is the generator's algorithm version, part of the run key and
// recorded in manifests. Any change to what a plan generates bumps it.
const Algorithm = "expect/2"

// DefaultSeed is the seed when Options.Seed is empty.
const DefaultSeed = "haven"

// MaxPopulation is the largest population size a plan accepts.
const MaxPopulation = 1_000_000_000_000

// Kind is what a variable returns.
type Kind int

// Variable kinds. The zero Kind is unset, and an error.
const (
	Date Kind = iota + 1
	Int
	Float
	Bool
	Category
)

func (k Kind) String() string {
	switch k {
	case Date:
		return "date"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Category:
		return "category"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Date formats.
const (
	FormatDay   = "YYYY-MM-DD"
	FormatMonth = "YYYY-MM"
	FormatYear  = "YYYY"
)

// Variable is one column of a study.
type Variable struct {
	Name string
	Kind Kind
	// Categories are the labels the variable can return (a codelist's
	// category column or categorised_as keys), used to check ratio labels.
	// Empty means any label.
	Categories []string
	// Expectations is the variable's return_expectations, as decoded from
	// YAML or JSON: nested map[string]any (or map[any]any) values, numbers
	// as int, float64 or json.Number, dates as strings.
	Expectations map[string]any
	// Between are static bounds applied to a date column's values: "" for
	// none, an ISO date, or a date expression. Expressions that refer to
	// other columns are checked but not applied, as upstream.
	Between [2]string
	// DateFormat is the precision dates are written at: "YYYY-MM-DD" (the
	// default when empty), "YYYY-MM" or "YYYY". Note that cohort-extractor
	// itself writes year-only dates when a date variable gives no
	// date_format; a caller translating a study definition should pass
	// "YYYY" in that case.
	DateFormat string
	// IncidenceFrom names a date variable whose blank rows this variable
	// shares: a value and the date of its match (spec 7.5 step 3). Its own
	// incidence and rate are then not used for blanking.
	IncidenceFrom string
	// Force fixes a bool variable's value on every row, as a population
	// that requires (ForceTrue) or excludes (ForceFalse) it does; the
	// variable's expectations are then not used.
	Force Force
}

// Force says whether a bool variable is fixed by the population.
type Force int8

// Forced values.
const (
	ForceNone  Force = iota // drawn from the expectations
	ForceTrue               // 1 on every row
	ForceFalse              // 0 on every row
)

// Study is what a plan is made from.
type Study struct {
	Variables           []Variable
	DefaultExpectations map[string]any
	// IndexDate is "" or an ISO YYYY-MM-DD date.
	IndexDate string
	// PopulationSize is the exact number of rows.
	PopulationSize int
}

// Options are a run's settings.
type Options struct {
	// Seed names the random stream; "" means DefaultSeed.
	Seed string
	// DefinitionSHA256 identifies the study definition; it is part of the
	// run key, so a changed study gives different values.
	DefinitionSHA256 string
	// Today is the run's pinned current date, used by "today" in date
	// expressions. The zero time means the current UTC date, read once.
	Today time.Time
	// IndexDate, when not zero, replaces the study's index date: one date
	// of an --index-date-range run.
	IndexDate time.Time
}

// Problem is one thing wrong with a study's expectations.
type Problem struct {
	// Variable names the variable, or several joined by ", " when a
	// default_expectations value is wrong for each of them; "" for the
	// study itself.
	Variable string `json:"variable,omitempty"`
	// Key is the dotted path of the value, starting with
	// "return_expectations" or "default_expectations" when the value comes
	// from one of them (e.g. "return_expectations.int.distribution").
	Key string `json:"key,omitempty"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Variable != "" {
		if strings.Contains(p.Variable, ", ") {
			fmt.Fprintf(&b, "variables %s: ", p.Variable)
		} else {
			fmt.Fprintf(&b, "variable %s: ", p.Variable)
		}
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// PlanError lists every problem found while planning. It unwraps to a
// *haven.Error with code EINVALID: the study is wrong and the user can fix
// it.
type PlanError struct {
	Problems []Problem
}

func (e *PlanError) Error() string {
	if len(e.Problems) == 1 {
		return "expectations: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "expectations: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Unwrap gives the error its code.
func (e *PlanError) Unwrap() error {
	return &haven.Error{Code: haven.EINVALID, Message: "invalid expectations"}
}
