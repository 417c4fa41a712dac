package expect

import (
	"fmt"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// PopulationSize returns the dummy-data population size of a validated
// project (spec 7.1), as internal/pipeline resolved it: the file's
// expectations.population_size in version 3, 1000 before version 3, and an
// error from version 4, where cohort-extractor (and with it expectations)
// was removed.
func PopulationSize(p *pipeline.Pipeline) (int, error) {
	if !p.HasExpectations {
		return 0, haven.Errorf(haven.EINVALID,
			"%s: version %s has no expectations: cohort-extractor was removed in project version 4, so there is no population size for dummy data; generate the dataset with ehrQL, or keep the project at version 3",
			p.File, versionText(p.Version))
	}
	if p.PopulationSize < 0 {
		return 0, haven.Errorf(haven.EINVALID, "%s: expectations.population_size is %d: give the number of dummy rows, e.g. population_size: 1000", p.File, p.PopulationSize)
	}
	if p.PopulationSize > MaxPopulation {
		return 0, haven.Errorf(haven.EINVALID, "%s: expectations.population_size is %d, more than the %d rows a run can make: use a smaller population_size", p.File, p.PopulationSize, int64(MaxPopulation))
	}
	return int(p.PopulationSize), nil
}

// ProjectPopulation checks project.yaml source (named file in messages) and
// returns its population size. A missing or malformed expectations section
// is reported with its position and fix; any other problem in the file is
// reported as its first error, since a project that does not validate runs
// no action at all.
func ProjectPopulation(file string, src []byte) (int, error) {
	r := pipeline.Check(file, src)
	if r.Pipeline != nil {
		return PopulationSize(r.Pipeline)
	}
	errs := r.Problems.Errors()
	for _, pr := range errs {
		if strings.HasPrefix(pr.Rule, "expectations-") {
			return 0, problemError(pr)
		}
	}
	if len(errs) == 0 { // cannot happen: a report without a pipeline has an error
		return 0, haven.Errorf(haven.EINVALID, "%s: the project is invalid", file)
	}
	return 0, problemError(errs[0])
}

func problemError(pr pipeline.Problem) error {
	msg := fmt.Sprintf("%s:%d:%d: %s", pr.File, pr.Line, pr.Column, pr.Message)
	if pr.Hint != "" {
		msg += " (" + pr.Hint + ")"
	}
	return &haven.Error{Code: haven.EINVALID, Message: msg}
}

func versionText(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprint(v)
}
