// Package dataset reads Haven dataset definitions: `analysis/<name>.yaml`,
// the declarative twin of a cohort-extractor study definition
// (docs/dataset-definitions.md). A definition holds the study's index date,
// default expectations, population, variables (type, return_expectations,
// categories, date format, between, incidence_from) and measures.
//
// Parse reports every mistake in the file at once, each with its
// file:line:col, and Plan carries the positions through to the problems
// the expectations planner finds (an impossible date window, an unknown
// distribution), so a user is always pointed at the line to change.
package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/expect"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Population is the measure keyword that stands for every patient: a
// denominator of 1 per row, or a single group.
const Population = "population"

// Definition is a parsed dataset definition.
type Definition struct {
	File   string // the path as the user named it
	Name   string // the study definition's name, e.g. study_definition_ethnicity
	SHA256 string // of the file's bytes

	Description string
	// Study is what the expectations planner needs, without the
	// population size (the project's, given to Plan).
	Study expect.Study
	// Population is the population expression as written ("" for none).
	Population string
	// NotHonoured lists the parts of the population that the dummy data
	// cannot honour by construction (see docs/dataset-definitions.md).
	NotHonoured []string
	Measures    []Measure

	pos map[string]position // dotted key path → position of its value
}

// Measure is one measure of a definition.
type Measure struct {
	ID                     string
	Numerator, Denominator string
	GroupBy                []string
	SmallNumberSuppression bool
	// DisclosureControl is Haven's disclosure_control key: see
	// measures.Measure.DisclosureControl.
	DisclosureControl bool
}

type position struct{ line, col int }

// Problem is one mistake in a definition file.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

// Error lists every mistake found in a definition. It unwraps to a
// *haven.Error with code EINVALID.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the error its code.
func (e *Error) Unwrap() error {
	return &haven.Error{Code: haven.EINVALID, Message: "invalid dataset definition"}
}

var (
	topKeys      = []string{"description", "index_date", "default_expectations", "population", "variables", "measures"}
	variableKeys = []string{"type", "description", "return_expectations", "categories", "date_format", "between", "incidence_from"}
	measureKeys  = []string{"id", "numerator", "denominator", "group_by", "small_number_suppression", "disclosure_control"}
	types        = []string{"bool", "int", "float", "date", "category"}
	dateFormats  = []string{expect.FormatDay, expect.FormatMonth, expect.FormatYear}
	nameRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	measureIDRE  = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	definitionRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// maxDepth bounds how deeply expectations may nest: real ones are three
// levels deep.
const maxDepth = 16

// Path is where a study definition's YAML lives, relative to the project:
// analysis/<name>.yaml.
func Path(name string) string { return "analysis/" + name + ".yaml" }

// Suffix is what cohort-extractor adds to output names for a study
// definition: the part of its name after "study_definition"
// (study_definition_ethnicity → _ethnicity).
func Suffix(name string) string {
	return strings.TrimPrefix(name, "study_definition")
}

// Load reads the definition named name from the project in dir. file is
// how it is shown in messages (analysis/<name>.yaml). A Python study
// definition without a YAML twin is an error that explains the format.
func Load(dir, name string) (*Definition, error) {
	if !definitionRE.MatchString(name) || strings.Contains(name, "..") {
		return nil, haven.Errorf(haven.EINVALID, "--study-definition %q is not a study definition name: give the name of a file in analysis/ without its extension, e.g. --study-definition study_definition", name)
	}
	file := Path(name)
	full := filepath.Join(dir, filepath.FromSlash(file))
	info, err := os.Lstat(full)
	if err == nil && !info.Mode().IsRegular() {
		return nil, haven.Errorf(haven.EINVALID, "%s is not a regular file (a link or a directory): make it a plain YAML file", file)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missing(dir, name, file)
	}
	if err != nil {
		return nil, &haven.Error{Code: haven.EINTERNAL, Message: "cannot read " + file, Err: err}
	}
	src, err := os.ReadFile(full)
	if err != nil {
		return nil, &haven.Error{Code: haven.EINTERNAL, Message: "cannot read " + file, Err: err}
	}
	d, err := Parse(file, src)
	if err != nil {
		return nil, err
	}
	d.Name = name
	return d, nil
}

// missing explains a study definition that has no YAML file.
func missing(dir, name, file string) error {
	py := "analysis/" + name + ".py"
	if info, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(py))); err == nil && info.Mode().IsRegular() {
		return haven.Errorf(haven.EINVALID, "%s is a Python study definition, which Haven's built-in cohortextractor cannot run: "+
			"write its dummy-data twin %s (variables with their types and return_expectations; see docs/dataset-definitions.md), for example\n\n"+
			"  index_date: 2020-01-01\n"+
			"  default_expectations:\n"+
			"    date: {earliest: 1900-01-01, latest: today}\n"+
			"    rate: uniform\n"+
			"    incidence: 0.5\n"+
			"  variables:\n"+
			"    age:\n"+
			"      type: int\n"+
			"      return_expectations:\n"+
			"        rate: universal\n"+
			"        int: {distribution: population_ages}\n\n"+
			"or run the real cohort-extractor image with `haven run --executor docker`", py, file)
	}
	var others []string
	entries, _ := os.ReadDir(filepath.Join(dir, "analysis"))
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && e.Type().IsRegular() {
			others = append(others, n)
		}
	}
	hint := "create it (see docs/dataset-definitions.md)"
	if len(others) > 0 {
		best, bestD := "", 4
		for _, o := range others {
			if d := pipeline.EditDistance(name, o); d < bestD {
				best, bestD = o, d
			}
		}
		if best != "" {
			hint = fmt.Sprintf("did you mean --study-definition %s?", best)
		} else {
			hint = "the definitions in analysis/ are " + strings.Join(others, ", ")
		}
	}
	return haven.Errorf(haven.EINVALID, "study definition %s not found: there is no %s; %s", name, file, hint)
}

// parser collects problems while walking the tree.
type parser struct {
	file     string
	problems []Problem
	pos      map[string]position
}

func (p *parser) at(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Column = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) mark(path string, n *yaml.Node) {
	if n != nil {
		p.pos[path] = position{n.Line, n.Column}
	}
}

// Parse parses a definition's bytes. file names it in messages.
func Parse(file string, src []byte) (*Definition, error) {
	sum := sha256.Sum256(src)
	d := &Definition{File: file, SHA256: hex.EncodeToString(sum[:])}
	p := &parser{file: file, pos: map[string]position{}}
	root, yp := pipeline.ParseYAML(file, src)
	for _, pr := range yp {
		if pr.IsError() {
			msg := pr.Message
			if pr.Hint != "" && !strings.Contains(pr.Hint, "project.yaml") {
				msg += "; " + pr.Hint
			}
			p.problems = append(p.problems, Problem{File: file, Line: pr.Line, Column: pr.Column, Message: msg})
		}
	}
	if len(p.problems) > 0 {
		return nil, &Error{Problems: p.problems}
	}
	root = pipeline.ResolveAlias(root)
	if root == nil {
		return nil, &Error{Problems: []Problem{{File: file, Line: 1, Column: 1, Message: "the file is empty: a dataset definition needs at least `variables:` (see docs/dataset-definitions.md)"}}}
	}
	if root.Kind != yaml.MappingNode {
		p.at(root, "a dataset definition is a mapping of keys (index_date, default_expectations, population, variables, measures), not a %s", kindName(root))
		return nil, &Error{Problems: p.problems}
	}
	var variablesNode, measuresNode, populationNode *yaml.Node
	for _, kv := range pipeline.Pairs(root) {
		v := pipeline.ResolveAlias(kv.Value)
		p.mark(kv.Name, v)
		switch kv.Name {
		case "description":
			d.Description, _ = p.text(v, "description")
		case "index_date":
			s, ok := p.text(v, "index_date")
			if ok {
				if _, err := expect.ParseISODate(s); err != nil {
					p.at(v, "index_date: %v; write the index date as YYYY-MM-DD, e.g. index_date: 2020-01-01", err)
				} else {
					d.Study.IndexDate = s
				}
			}
		case "default_expectations":
			if m, ok := p.mapping(v, "default_expectations", "default_expectations", 0); ok {
				d.Study.DefaultExpectations = m
			}
		case "population":
			populationNode = v
		case "variables":
			variablesNode = v
		case "measures":
			measuresNode = v
		default:
			p.unknown(kv.Key, kv.Name, "a top-level key", topKeys)
		}
	}
	if variablesNode == nil {
		p.at(root, "missing `variables:`: a dataset definition declares its variables (see docs/dataset-definitions.md)")
	} else {
		p.variables(d, variablesNode)
	}
	if populationNode != nil {
		p.population(d, populationNode)
	}
	if measuresNode != nil {
		p.measures(d, measuresNode)
	}
	if len(p.problems) > 0 {
		return nil, &Error{Problems: p.problems}
	}
	d.pos = p.pos
	return d, nil
}

func (p *parser) unknown(key *yaml.Node, name, what string, known []string) {
	hint := ""
	if s := closest(name, known); s != "" {
		hint = fmt.Sprintf("; did you mean %s?", s)
	} else {
		hint = fmt.Sprintf("; the keys are %s", strings.Join(known, ", "))
	}
	p.at(key, "unknown key %q as %s%s", name, what, hint)
}

func closest(name string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := pipeline.EditDistance(name, k); d < bestD && d < len(k) {
			best, bestD = k, d
		}
	}
	return best
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty value"
		}
		return fmt.Sprintf("value (%s)", n.Value)
	}
	return "node"
}

// text returns a scalar's text. Dates, numbers and booleans are accepted
// as their text too, since a name or a date written plain is not quoted.
func (p *parser) text(n *yaml.Node, what string) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.at(n, "%s must be a text value, not a %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// mapping converts a mapping node to nested Go values (map[string]any,
// []any, string, int64, float64, bool, nil), marking positions under path.
func (p *parser) mapping(n *yaml.Node, path, what string, depth int) (map[string]any, bool) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s must be a mapping of keys, not a %s", what, kindName(n))
		return nil, false
	}
	m := map[string]any{}
	ok := true
	for _, kv := range pipeline.Pairs(n) {
		v := pipeline.ResolveAlias(kv.Value)
		sub := path + "." + kv.Name
		p.mark(sub, v)
		x, good := p.value(v, sub, depth+1)
		ok = ok && good
		m[kv.Name] = x
	}
	return m, ok
}

func (p *parser) value(n *yaml.Node, path string, depth int) (any, bool) {
	if depth > maxDepth {
		p.at(n, "%s is nested more than %d levels deep: expectations are at most a few levels deep", path, maxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		return p.mapping(n, path, path, depth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			c = pipeline.ResolveAlias(c)
			x, good := p.value(c, fmt.Sprintf("%s[%d]", path, i), depth+1)
			ok = ok && good
			out = append(out, x)
		}
		return out, ok
	case yaml.ScalarNode:
		return scalar(n), true
	}
	p.at(n, "%s has a value Haven cannot read", path)
	return nil, false
}

// scalar converts a resolved scalar: YAML 1.2 core types, dates as text.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	case "!!int":
		if i, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0); ok {
			if i.IsInt64() {
				return int(i.Int64())
			}
			f, _ := new(big.Float).SetInt(i).Float64()
			return f
		}
		return n.Value
	case "!!float":
		s := strings.ToLower(strings.ReplaceAll(n.Value, "_", ""))
		switch s {
		case ".inf", "+.inf":
			s = "inf"
		case "-.inf":
			s = "-inf"
		case ".nan":
			s = "nan"
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return n.Value
	}
	return n.Value
}

func (p *parser) variables(d *Definition, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.at(n, "variables must be a mapping of variable names to their definitions, not a %s", kindName(n))
		return
	}
	pairs := pipeline.Pairs(n)
	if len(pairs) == 0 {
		p.at(n, "variables is empty: declare at least one variable")
		return
	}
	for _, kv := range pairs {
		v := pipeline.ResolveAlias(kv.Value)
		name := kv.Name
		path := "variables." + name
		p.mark(path, kv.Key)
		switch {
		case name == expect.PatientID:
			p.at(kv.Key, "variable patient_id: the name is reserved for the identifier column every output starts with; rename the variable")
			continue
		case name == Population:
			p.at(kv.Key, "variable population: the name is reserved for measures (every patient); rename the variable")
			continue
		case !nameRE.MatchString(name):
			p.at(kv.Key, "variable %q: a name is letters, digits and _, not starting with a digit (it becomes a column name)", name)
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.at(v, "variable %s must be a mapping with at least `type:`, not a %s", name, kindName(v))
			continue
		}
		vr := expect.Variable{Name: name}
		var typeSeen, formatSeen bool
		for _, f := range pipeline.Pairs(v) {
			fv := pipeline.ResolveAlias(f.Value)
			fpath := path + "." + f.Name
			p.mark(fpath, fv)
			switch f.Name {
			case "description":
			case "type":
				typeSeen = true
				s, ok := p.text(fv, "variable "+name+": type")
				if !ok {
					continue
				}
				switch s {
				case "bool":
					vr.Kind = expect.Bool
				case "int":
					vr.Kind = expect.Int
				case "float":
					vr.Kind = expect.Float
				case "date":
					vr.Kind = expect.Date
				case "category":
					vr.Kind = expect.Category
				default:
					hint := ""
					if c := closest(s, types); c != "" {
						hint = fmt.Sprintf("; did you mean %s?", c)
					}
					p.at(fv, "variable %s: type %q is not a type: use bool, int, float, date or category%s", name, s, hint)
				}
			case "return_expectations":
				if m, ok := p.mapping(fv, fpath, "variable "+name+": return_expectations", 0); ok {
					vr.Expectations = m
				}
			case "categories":
				if fv.Kind != yaml.SequenceNode {
					p.at(fv, "variable %s: categories must be a list of labels, e.g. categories: [F, M]", name)
					continue
				}
				for _, c := range fv.Content {
					c = pipeline.ResolveAlias(c)
					if s, ok := p.text(c, "variable "+name+": each category"); ok {
						vr.Categories = append(vr.Categories, s)
					}
				}
			case "date_format":
				formatSeen = true
				s, ok := p.text(fv, "variable "+name+": date_format")
				if ok && !slices.Contains(dateFormats, s) {
					p.at(fv, "variable %s: date_format %q is not a date format: use YYYY-MM-DD, YYYY-MM or YYYY", name, s)
				} else {
					vr.DateFormat = s
				}
			case "between":
				if fv.Kind != yaml.SequenceNode || len(fv.Content) != 2 {
					p.at(fv, "variable %s: between must be a list of two dates, e.g. between: [2020-01-01, index_date] (null for no bound)", name)
					continue
				}
				for i, b := range fv.Content {
					b = pipeline.ResolveAlias(b)
					p.mark(fmt.Sprintf("%s[%d]", fpath, i), b)
					if b.Kind == yaml.ScalarNode && b.ShortTag() == "!!null" {
						continue
					}
					s, ok := p.text(b, "variable "+name+": each bound of between")
					if !ok {
						continue
					}
					if _, err := expect.ParseDateExpr(s); err != nil {
						p.at(b, "variable %s: between: %v", name, err)
						continue
					}
					vr.Between[i] = s
				}
			case "incidence_from":
				if s, ok := p.text(fv, "variable "+name+": incidence_from"); ok {
					vr.IncidenceFrom = s
				}
			default:
				p.unknown(f.Key, f.Name, "a key of variable "+name, variableKeys)
			}
		}
		if !typeSeen {
			p.at(kv.Key, "variable %s has no type: add `type:` (bool, int, float, date or category)", name)
		}
		if vr.Kind != expect.Date && vr.Kind != 0 {
			if formatSeen {
				p.at(v, "variable %s: date_format applies to date variables only; remove it or make the variable type: date", name)
			}
			if vr.Between != [2]string{} {
				p.at(v, "variable %s: between applies to date variables only; remove it or make the variable type: date", name)
			}
		}
		if vr.Kind == expect.Date && !formatSeen {
			// cohort-extractor writes the year alone when a date variable
			// has no date_format.
			vr.DateFormat = expect.FormatYear
		}
		if len(vr.Categories) > 0 && vr.Kind != expect.Category && vr.Kind != 0 {
			p.at(v, "variable %s: categories apply to category variables only; remove them or make the variable type: category", name)
		}
		d.Study.Variables = append(d.Study.Variables, vr)
	}
}

// population reads `a and not b …`: bool variables it requires or
// excludes are fixed; anything else is recorded as not honoured.
func (p *parser) population(d *Definition, n *yaml.Node) {
	s, ok := p.text(n, "population")
	if !ok {
		return
	}
	d.Population = s
	kinds := map[string]int{}
	for i, v := range d.Study.Variables {
		kinds[v.Name] = i
	}
	words := strings.Fields(s)
	var atoms [][]string
	cur := []string{}
	for _, w := range words {
		if strings.EqualFold(w, "and") {
			atoms = append(atoms, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, w)
	}
	atoms = append(atoms, cur)
	type fix struct {
		i     int
		force expect.Force
	}
	var fixes []fix
	for _, a := range atoms {
		text := strings.Join(a, " ")
		force := expect.ForceTrue
		if len(a) == 2 && strings.EqualFold(a[0], "not") {
			force, a = expect.ForceFalse, a[1:]
		}
		if len(a) != 1 || !nameRE.MatchString(a[0]) {
			d.NotHonoured = append(d.NotHonoured, text)
			continue
		}
		i, known := kinds[a[0]]
		if !known {
			p.at(n, "population: %q is not a variable of this definition; declare it under variables (a bool), or fix the name", a[0])
			continue
		}
		if d.Study.Variables[i].Kind != expect.Bool {
			d.NotHonoured = append(d.NotHonoured, text)
			continue
		}
		fixes = append(fixes, fix{i, force})
	}
	if len(atoms) == 1 && len(atoms[0]) == 0 {
		p.at(n, "population is empty: write it as `name and not name` over bool variables, or remove it")
		return
	}
	for _, f := range fixes {
		v := &d.Study.Variables[f.i]
		if v.Force != expect.ForceNone && v.Force != f.force {
			p.at(n, "population both requires and excludes %s, so nobody is in it: fix the population", v.Name)
			continue
		}
		v.Force = f.force
	}
}

func (p *parser) measures(d *Definition, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "measures must be a list of measures, each a mapping with id, numerator and denominator")
		return
	}
	ids := map[string]bool{}
	for i, item := range n.Content {
		item = pipeline.ResolveAlias(item)
		where := fmt.Sprintf("measures[%d]", i)
		if item.Kind != yaml.MappingNode {
			p.at(item, "%s must be a mapping with id, numerator and denominator, not a %s", where, kindName(item))
			continue
		}
		var m Measure
		seen := map[string]bool{}
		for _, kv := range pipeline.Pairs(item) {
			v := pipeline.ResolveAlias(kv.Value)
			seen[kv.Name] = true
			switch kv.Name {
			case "id":
				if s, ok := p.text(v, where+": id"); ok {
					switch {
					case !measureIDRE.MatchString(s):
						p.at(v, "%s: id %q may hold only letters, digits and _ (it names the files measure_<id>.csv)", where, s)
					case ids[s]:
						p.at(v, "%s: id %s is used by another measure: give each measure its own id", where, s)
					default:
						ids[s] = true
						m.ID = s
						where = "measure " + s
					}
				}
			case "numerator", "denominator":
				if s, ok := p.text(v, where+": "+kv.Name); ok {
					if !nameRE.MatchString(s) {
						p.at(v, "%s: %s %q is not a column name", where, kv.Name, s)
					} else if kv.Name == "numerator" {
						m.Numerator = s
					} else {
						m.Denominator = s
					}
				}
			case "group_by":
				switch v.Kind {
				case yaml.SequenceNode:
					for _, g := range v.Content {
						if s, ok := p.text(pipeline.ResolveAlias(g), where+": each group_by column"); ok {
							m.GroupBy = append(m.GroupBy, s)
						}
					}
				case yaml.ScalarNode:
					if v.ShortTag() != "!!null" {
						m.GroupBy = []string{v.Value}
					}
				default:
					p.at(v, "%s: group_by must be a column name or a list of them", where)
				}
				for _, g := range m.GroupBy {
					if !nameRE.MatchString(g) {
						p.at(v, "%s: group_by %q is not a column name", where, g)
					}
				}
			case "small_number_suppression":
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
					p.at(v, "%s: small_number_suppression must be true or false", where)
				} else {
					m.SmallNumberSuppression = scalar(v).(bool)
				}
			case "disclosure_control":
				if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
					p.at(v, "%s: disclosure_control must be true or false", where)
				} else {
					m.DisclosureControl = scalar(v).(bool)
				}
			default:
				p.unknown(kv.Key, kv.Name, "a key of "+where, measureKeys)
			}
		}
		if m.DisclosureControl && len(m.GroupBy) == 0 {
			p.at(item, "%s: disclosure_control needs group_by (a row per patient cannot be released): add group_by, or group_by: population for one row", where)
		}
		for _, k := range []string{"id", "numerator", "denominator"} {
			if !seen[k] {
				p.at(item, "%s has no %s: a measure needs id, numerator and denominator", where, k)
			}
		}
		d.Measures = append(d.Measures, m)
	}
}

// Plan checks the definition's expectations for a population of n rows and
// returns the generator's plan. Problems carry the definition's positions.
func (d *Definition) Plan(n int, opts expect.Options) (*expect.Plan, error) {
	st := d.Study
	st.PopulationSize = n
	if opts.DefinitionSHA256 == "" {
		opts.DefinitionSHA256 = d.SHA256
	}
	plan, err := expect.NewPlan(st, opts)
	var pe *expect.PlanError
	if errors.As(err, &pe) {
		out := make([]Problem, 0, len(pe.Problems))
		for _, pr := range pe.Problems {
			out = append(out, d.locate(pr))
		}
		return nil, &Error{Problems: out}
	}
	return plan, err
}

// locate finds where in the file an expectations problem lies: the most
// specific key path that has a position.
func (d *Definition) locate(pr expect.Problem) Problem {
	out := Problem{File: d.File, Message: pr.String()}
	var path string
	vars := strings.Split(pr.Variable, ", ")
	switch {
	case strings.HasPrefix(pr.Key, "default_expectations"):
		path = pr.Key
	case pr.Key == "population_size":
		out.Message = pr.String() + " (population_size comes from project.yaml's expectations, or --expectations-population)"
		return out
	case pr.Variable != "" && len(vars) == 1:
		path = "variables." + pr.Variable
		if pr.Key != "" && pr.Key != "kind" {
			path += "." + pr.Key
		}
	case pr.Key == "index_date":
		path = "index_date"
	}
	for path != "" {
		if at, ok := d.pos[path]; ok {
			out.Line, out.Column = at.line, at.col
			break
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return out
}

// Columns returns the output columns a generated file has: patient_id,
// then the variables in order.
func (d *Definition) Columns() []string {
	out := []string{expect.PatientID}
	for _, v := range d.Study.Variables {
		out = append(out, v.Name)
	}
	return out
}
