package expect

import (
	"fmt"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/rng"
)

// PatientID is the name of the identifier column every output starts with.
const PatientID = "patient_id"

// Rates, the shape of generated dates.
const (
	RateExponential = "exponential_increase"
	RateUniform     = "uniform"
	RateUniversal   = "universal"
)

// Distributions of int and float expectations.
const (
	DistNormal         = "normal"
	DistPoisson        = "poisson"
	DistPopulationAges = "population_ages"
)

// Limits on distribution parameters: beyond them values would not fit the
// column, or a Poisson table would be too large to build.
const (
	maxPoissonMean  = 1e7
	maxIntMagnitude = 1 << 53
)

var (
	topKeys   = []string{"rate", "incidence", "date", "category", "int", "float", "bool"}
	rates     = []string{RateExponential, RateUniform, RateUniversal}
	intDists  = []string{DistNormal, DistPoisson, DistPopulationAges}
	dateKeys  = []string{"earliest", "latest"}
	formats   = []string{FormatDay, FormatMonth, FormatYear}
	ratioTol  = 1e-6
	ratioUnit = 1e12 // ratios are taken to 12 decimal places as integer weights
)

// Plan is a checked study, ready to fill rows.
type Plan struct {
	n        uint64
	specs    []frame.Spec
	cols     []column
	ids      rng.Perm
	today    time.Time
	index    time.Time
	hasIndex bool
	seed     string
	sha      string
	runKey   []byte
	info     []ColumnInfo
}

// ColumnInfo describes what a plan will generate for one column: the exact
// number of rows with a value, the resolved date window, the exact category
// counts. It is meant for manifests and messages.
type ColumnInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Values is the exact number of rows that carry a value; the others
	// are blank (null dates and categories, 0 for numbers and booleans).
	Values uint64 `json:"values"`
	// IncidenceFrom names the date column whose blank rows this one shares.
	IncidenceFrom string `json:"incidence_from,omitempty"`
	// Rate, Earliest and Latest describe a date column: the window is the
	// expectations' window intersected with the variable's between bounds.
	Rate     string `json:"rate,omitempty"`
	Earliest string `json:"earliest,omitempty"`
	Latest   string `json:"latest,omitempty"`
	Format   string `json:"date_format,omitempty"`
	// Distribution of an int or float column.
	Distribution string `json:"distribution,omitempty"`
	// Categories are the exact count of each label, in label order.
	Categories []LabelCount `json:"categories,omitempty"`
}

// LabelCount is the exact number of rows with one category label.
type LabelCount struct {
	Label string `json:"label"`
	N     uint64 `json:"n"`
}

// column is a variable's sampler.
type column struct {
	name      string
	kind      Kind
	universal bool     // every row has a value
	m         uint64   // rows with a value
	mask      rng.Perm // row g has a value iff mask.At(g) < m (unless universal)
	maskFrom  int      // index of the column whose mask is used (itself by default)
	key       rng.Key  // per-row draws

	// category
	sigma   rng.Perm // over [0, m): spreads labels independently of the mask
	bounds  []uint64
	labels  []string
	weights []int64 // the ratios as integer weights, label order

	// date
	lo, hi int64   // effective window, days since 1970-01-01
	rate   string  // RateExponential, RateUniform or RateUniversal
	mu     float64 // mean of the exponential offset, in days
	c      float64 // 1 - exp(-(hi-lo+1)/mu): the truncation's mass
	format string

	// int and float
	dist     string
	mean, sd float64
	alias    *rng.Alias
	base     int64 // value of the alias table's first outcome
}

// checker collects problems.
type checker struct {
	problems []Problem
}

func (c *checker) add(variable, key, format string, args ...any) {
	c.problems = append(c.problems, Problem{Variable: variable, Key: key, Message: fmt.Sprintf(format, args...)})
}

// NewPlan checks a study and fixes everything a run needs: resolved date
// windows, exact counts, alias tables and keys. Every problem in the study is
// reported at once, as a *PlanError.
func NewPlan(study Study, opts Options) (*Plan, error) {
	c := &checker{}
	p := &Plan{seed: opts.Seed, sha: opts.DefinitionSHA256}
	if p.seed == "" {
		p.seed = DefaultSeed
	}
	switch {
	case study.PopulationSize < 0:
		c.add("", "population_size", "%d is negative: give the number of rows to generate, e.g. population_size: 1000", study.PopulationSize)
	case uint64(study.PopulationSize) > MaxPopulation:
		c.add("", "population_size", "%d is more than the %d rows a run can make: generate fewer", study.PopulationSize, uint64(MaxPopulation))
	default:
		p.n = uint64(study.PopulationSize)
	}
	today := opts.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	p.today = civil(dateOf(today))
	switch {
	case !opts.IndexDate.IsZero():
		p.index, p.hasIndex = civil(dateOf(opts.IndexDate)), true
	case study.IndexDate != "":
		t, err := ParseISODate(study.IndexDate)
		if err != nil {
			c.add("", "index_date", "%v; the study's index date must be YYYY-MM-DD", err)
		} else {
			p.index, p.hasIndex = t, true
		}
	}

	names := map[string]int{}
	for i, v := range study.Variables {
		switch {
		case v.Name == "":
			c.add("", fmt.Sprintf("variables[%d]", i), "a variable has no name: give every variable a name")
		case v.Name == PatientID:
			c.add(v.Name, "", "patient_id is reserved for the identifier column every output starts with: rename the variable")
		default:
			if _, dup := names[v.Name]; dup {
				c.add(v.Name, "", "the name is used by two variables: give each variable its own name")
			} else {
				names[v.Name] = i
			}
		}
	}

	p.cols = make([]column, len(study.Variables))
	p.info = make([]ColumnInfo, len(study.Variables))
	for i, v := range study.Variables {
		p.cols[i], p.info[i] = p.checkVariable(c, study, v, names)
	}
	// Shared masks, once every column is known.
	for i, v := range study.Variables {
		p.cols[i].maskFrom = i
		if v.IncidenceFrom == "" {
			continue
		}
		j, ok := names[v.IncidenceFrom]
		switch {
		case !ok:
			c.add(v.Name, "incidence_from", "%q is not a variable of the study: name the date variable whose blank rows this one shares", v.IncidenceFrom)
		case j == i:
			c.add(v.Name, "incidence_from", "a variable cannot share its own blank rows: name a different date variable, or leave incidence_from empty")
		case study.Variables[j].Kind != Date:
			c.add(v.Name, "incidence_from", "%q is a %s variable: blank rows can only be shared with a date variable (the date of a match)", v.IncidenceFrom, study.Variables[j].Kind)
		case study.Variables[j].IncidenceFrom != "":
			c.add(v.Name, "incidence_from", "%q shares its own blank rows with %q: name %q directly", v.IncidenceFrom, study.Variables[j].IncidenceFrom, study.Variables[j].IncidenceFrom)
		default:
			p.cols[i].maskFrom = j
		}
	}
	if len(c.problems) > 0 {
		return nil, &PlanError{Problems: dedupe(c.problems)}
	}
	p.finish()
	return p, nil
}

// dedupe merges identical problems that a default_expectations value causes
// in several variables into one naming them all.
func dedupe(ps []Problem) []Problem {
	type key struct{ k, m string }
	at := map[key]int{}
	var out []Problem
	for _, p := range ps {
		if strings.HasPrefix(p.Key, srcDefault) {
			kk := key{p.Key, p.Message}
			if i, ok := at[kk]; ok {
				out[i].Variable += ", " + p.Variable
				continue
			}
			at[kk] = len(out)
		}
		out = append(out, p)
	}
	return out
}
