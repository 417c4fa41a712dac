package pipeline

import (
	"go.yaml.in/yaml/v3"
)

// LatestVersion is the newest project.yaml format version.
const LatestVersion = 5

// RunAll is the reserved action name that means "every action".
const RunAll = "run_all"

// DefaultPopulationSize is the dummy-data population size versions 1 and 2
// use, whatever the file says.
const DefaultPopulationSize = 1000

// Position is a place in a file: 1-based line and column.
type Position struct {
	Line   int
	Column int
}

// Pipeline is a validated project.yaml.
type Pipeline struct {
	File    string  // the path the project was read from, as the user named it
	Version float64 // the format version, 1 to 5
	// Actions in file order. A user action named run_all (allowed with a
	// warning before version 5) is kept here but never runs.
	Actions []*Action
	// PopulationSize is expectations.population_size: the file's value in
	// version 3, 1000 in versions 1 and 2, and 0 from version 4 on, where
	// expectations are gone.
	PopulationSize int64
	// HasExpectations is false from version 4 on.
	HasExpectations bool

	byID  map[string]int // action id -> index in Actions
	order []string       // topological order, computed once
}

// Action is one step of a pipeline.
type Action struct {
	ID            string
	Pos           Position // of the action's name
	Run           Command
	Needs         []string // direct dependencies, in file order
	Outputs       Outputs
	Config        *yaml.Node // the `config` mapping, or nil
	DummyDataFile string     // "" when not set
}

// Output is one named output pattern.
type Output struct {
	Name    string
	Pattern string
	Level   string
	Pos     Position
}

// Outputs holds an action's output patterns by privacy level. A level that
// is absent is nil; one written as `{}` is present and empty.
type Outputs struct {
	HighlySensitive     []Output
	ModeratelySensitive []Output
	MinimallySensitive  []Output
	present             [3]bool
}

// Level returns the outputs of one privacy level.
func (o *Outputs) Level(level string) []Output {
	switch level {
	case HighlySensitive:
		return o.HighlySensitive
	case ModeratelySensitive:
		return o.ModeratelySensitive
	case MinimallySensitive:
		return o.MinimallySensitive
	}
	return nil
}

// Has reports whether a privacy level is present (perhaps empty).
func (o *Outputs) Has(level string) bool {
	for i, l := range Levels {
		if l == level {
			return o.present[i]
		}
	}
	return false
}

// NumLevels counts the privacy levels present.
func (o *Outputs) NumLevels() int {
	n := 0
	for _, p := range o.present {
		if p {
			n++
		}
	}
	return n
}

// All returns every output, highly then moderately then minimally
// sensitive, each level in file order.
func (o *Outputs) All() []Output {
	var all []Output
	all = append(all, o.HighlySensitive...)
	all = append(all, o.ModeratelySensitive...)
	all = append(all, o.MinimallySensitive...)
	return all
}

// all is All without copying when only one level is present, the usual case.
func (o *Outputs) all() []Output {
	switch {
	case len(o.ModeratelySensitive) == 0 && len(o.MinimallySensitive) == 0:
		return o.HighlySensitive
	case len(o.HighlySensitive) == 0 && len(o.MinimallySensitive) == 0:
		return o.ModeratelySensitive
	case len(o.HighlySensitive) == 0 && len(o.ModeratelySensitive) == 0:
		return o.MinimallySensitive
	}
	return o.All()
}

func (o *Outputs) add(out Output) {
	switch out.Level {
	case HighlySensitive:
		o.HighlySensitive = append(o.HighlySensitive, out)
	case ModeratelySensitive:
		o.ModeratelySensitive = append(o.ModeratelySensitive, out)
	case MinimallySensitive:
		o.MinimallySensitive = append(o.MinimallySensitive, out)
	}
}

func (o *Outputs) markPresent(level string) {
	for i, l := range Levels {
		if l == level {
			o.present[i] = true
		}
	}
}

// Action returns the action with the given id, or nil.
func (p *Pipeline) Action(id string) *Action {
	if i, ok := p.byID[id]; ok {
		return p.Actions[i]
	}
	return nil
}

// AllActions lists every action id in file order except a user action
// named run_all: what `run_all` runs.
func (p *Pipeline) AllActions() []string {
	ids := make([]string, 0, len(p.Actions))
	for _, a := range p.Actions {
		if a.ID != RunAll {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// Images returns the distinct image:tag references the actions use, in
// first-use order, with `latest` shown as v1.
func (p *Pipeline) Images() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range p.Actions {
		ref := a.Run.ImageRef()
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}

// IsDatabaseAction reports whether the action gets database access.
func (a *Action) IsDatabaseAction() bool { return a.Run.IsDatabaseAction() }
