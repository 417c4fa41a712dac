package measures

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/actions/workspace"
)

// Population is the special column name that is 1 for every patient: as a
// denominator it counts patients, and as the only group it puts everyone in
// one group.
const Population = "population"

// Threshold is the largest count small-number suppression blanks.
const Threshold = 5

// DefaultOutputDir is the directory generate_measures reads and writes when
// Options.OutputDir is empty, as upstream.
const DefaultOutputDir = "output"

// Measure is one measure of a dataset definition.
type Measure struct {
	// ID names the output files measure_<id>_<date>.csv and
	// measure_<id>.csv: letters, digits and _ only.
	ID string
	// Numerator and Denominator are column names of numeric or boolean
	// columns; Denominator (or Numerator) may be "population", which is 1
	// for every patient.
	Numerator, Denominator string
	// GroupBy lists the columns to group by. nil (or empty) means no
	// grouping at all: as upstream, the output then has one row per
	// patient. ["population"] puts every patient in one group, giving one
	// row.
	GroupBy                []string
	SmallNumberSuppression bool
	// DisclosureControl (a Haven extension, off by default) applies the
	// controls a careful researcher applies before asking for release,
	// after any small-number suppression: numerator and denominator counts
	// from 1 to RedactAt are blanked, the others rounded to the nearest
	// multiple of RoundTo, and value is computed from what remains. It
	// needs GroupBy: a row per patient cannot be released.
	DisclosureControl bool
}

// The thresholds of Measure.DisclosureControl.
const (
	RedactAt = 7
	RoundTo  = 5
)

// Options configure Generate.
type Options struct {
	Dir          string    // the job's scratch workspace (all paths are inside it)
	OutputDir    string    // workspace-relative directory holding the input files and receiving the measures; DefaultOutputDir when empty
	Suffix       string    // "" or e.g. "_ethnicity": files are input<Suffix>_<date>.<ext>
	Measures     []Measure // the measures to compute, in definition order
	SkipExisting bool      // upstream --skip-existing: keep measure_<id>_<date>.csv files that exist
	Stdout       io.Writer // progress lines, one per file written or kept; nil discards them
}

// Generate writes measure_<id>_<date>.csv for every input file and measure,
// then the combined measure_<id>.csv per measure, and returns the
// workspace-relative paths written (files kept by SkipExisting are not
// among them).
func Generate(ctx context.Context, o Options) ([]string, error) {
	if o.Dir == "" {
		return nil, errors.New("measures: no workspace directory given")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if err := validate(o.Measures); err != nil {
		return nil, err
	}
	if strings.ContainsAny(o.Suffix, "/\\\x00") {
		return nil, fmt.Errorf("the file suffix %q holds a path separator: a suffix is part of a file name, such as _ethnicity", o.Suffix)
	}
	outDir := o.OutputDir
	if outDir == "" {
		outDir = DefaultOutputDir
	}
	rel, err := workspace.Clean(outDir)
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	full, err := workspace.Resolve(o.Dir, rel)
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	info, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("output directory %s does not exist: run generate_cohort with --index-date-range and --output-dir %s first; it writes the input%s_<date> files generate_measures reads", rel, rel, o.Suffix)
	case err != nil:
		return nil, fmt.Errorf("output directory %s: %w", rel, err)
	case !info.IsDir():
		return nil, fmt.Errorf("output directory %s is a file, not a directory: give the directory generate_cohort wrote its files to", rel)
	}
	inputs, err := findInputs(o.Dir, rel, full, o.Suffix)
	if err != nil {
		return nil, err
	}

	g := &generator{o: o, dir: rel}
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return g.written, err
		}
		if err := g.file(ctx, in); err != nil {
			return g.written, err
		}
	}
	for i := range o.Measures {
		if err := ctx.Err(); err != nil {
			return g.written, err
		}
		if err := g.combine(ctx, &o.Measures[i], inputs); err != nil {
			return g.written, err
		}
	}
	return g.written, nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// validate checks the measures as upstream's Measure constructor does, and
// what Haven needs to name files safely.
func validate(ms []Measure) error {
	if len(ms) == 0 {
		return errors.New("no measures to compute: add a measures list to the dataset definition")
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if !idPattern.MatchString(m.ID) {
			return fmt.Errorf("measure id %q: an id may hold only letters, digits and _, since it names the files measure_<id>_<date>.csv", m.ID)
		}
		if seen[m.ID] {
			return fmt.Errorf("measure id %q is used twice: each measure needs its own id, since the id names its output files", m.ID)
		}
		seen[m.ID] = true
		if m.Numerator == "" {
			return fmt.Errorf("measure %q has no numerator: name a numeric or boolean column", m.ID)
		}
		if m.Denominator == "" {
			return fmt.Errorf("measure %q has no denominator: name a numeric or boolean column, or population", m.ID)
		}
		if m.DisclosureControl && len(m.GroupBy) == 0 {
			return fmt.Errorf("measure %q: disclosure_control needs group_by (a row per patient cannot be released); add group_by, or group_by: population for one row", m.ID)
		}
		groups := map[string]bool{}
		for _, g := range m.GroupBy {
			if g == "" {
				return fmt.Errorf("measure %q: group_by holds an empty column name", m.ID)
			}
			if groups[g] {
				return fmt.Errorf("measure %q: group_by lists %q twice: list each column once", m.ID, g)
			}
			groups[g] = true
		}
		if isPopulationGroup(m.GroupBy) {
			continue
		}
		for _, role := range []struct{ name, col string }{{"numerator", m.Numerator}, {"denominator", m.Denominator}} {
			if groups[role.col] {
				return fmt.Errorf("measure %q: column %q is both the %s and a group_by column: a measure cannot sum the column it groups by; group by population to count everyone together", m.ID, role.col, role.name)
			}
		}
	}
	return nil
}

func isPopulationGroup(g []string) bool { return len(g) == 1 && g[0] == Population }

// input is one extract generate_cohort wrote for one index date.
type input struct {
	name string // file name
	rel  string // workspace-relative path
	full string // host path
	date string // YYYY-MM-DD
	ext  string // csv, csv.gz or feather
}

// extensions are upstream's input formats.
const extensions = `csv|csv\.gz|feather|dta|dta\.gz`

// findInputs lists input<suffix>_<date>.<ext> in the output directory, in
// ascending date order.
func findInputs(dir, rel, full, suffix string) ([]input, error) {
	pattern := "input" + suffix + "_<YYYY-MM-DD>.{csv,csv.gz,feather}"
	re := regexp.MustCompile(`^input` + regexp.QuoteMeta(suffix) + `_([0-9]{4}-[0-9]{2}-[0-9]{2})\.(` + extensions + `)$`)
	entries, err := os.ReadDir(full)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", rel, err)
	}
	var inputs []input
	var others []string
	byDate := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		m := re.FindStringSubmatch(name)
		if m == nil {
			if strings.HasPrefix(name, "input") && len(others) < 5 {
				others = append(others, name)
			}
			continue
		}
		frel := path.Join(rel, name)
		if _, err := time.Parse(time.DateOnly, m[1]); err != nil {
			return nil, fmt.Errorf("%s: %s in the file name is not a date: name index-date files input%s_YYYY-MM-DD.<ext> with a real date", frel, m[1], suffix)
		}
		if strings.HasPrefix(m[2], "dta") {
			return nil, fmt.Errorf("%s: Stata files cannot be read by Haven's generate_measures: run generate_cohort with --output-format csv, csv.gz or feather", frel)
		}
		if prev, ok := byDate[m[1]]; ok {
			return nil, fmt.Errorf("%s and %s are both inputs for %s: keep one of them, since both would write measure files for that date", path.Join(rel, prev), frel, m[1])
		}
		byDate[m[1]] = name
		ffull, err := workspace.Resolve(dir, frel)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, input{name: name, rel: frel, full: ffull, date: m[1], ext: m[2]})
	}
	if len(inputs) == 0 {
		msg := fmt.Sprintf("no input files in %s: generate_measures reads files named %s, which generate_cohort writes when run with --index-date-range (and --output-dir %s); run it first", rel, pattern, rel)
		if len(others) > 0 {
			msg += fmt.Sprintf(". Files found that do not match: %s", strings.Join(others, ", "))
		}
		return nil, errors.New(msg)
	}
	sort.Slice(inputs, func(i, j int) bool { return inputs[i].date < inputs[j].date })
	return inputs, nil
}

// generator holds the state of one Generate call.
type generator struct {
	o       Options
	dir     string // workspace-relative output directory
	written []string
}

// datedName is the workspace-relative path of a measure's file for a date.
func (g *generator) datedName(m *Measure, date string) string {
	return path.Join(g.dir, "measure_"+m.ID+"_"+date+".csv")
}

func (g *generator) progress(format string, args ...any) {
	fmt.Fprintf(g.o.Stdout, format+"\n", args...)
}

// file computes the measures of one input file that need computing.
func (g *generator) file(ctx context.Context, in input) error {
	var todo []*job
	for i := range g.o.Measures {
		m := &g.o.Measures[i]
		rel := g.datedName(m, in.date)
		full, err := workspace.Resolve(g.o.Dir, rel)
		if err != nil {
			return err
		}
		if g.o.SkipExisting {
			info, err := os.Lstat(full)
			if err == nil && info.Mode().IsRegular() {
				g.progress("kept %s (--skip-existing)", rel)
				continue
			}
			if err == nil {
				return fmt.Errorf("%s exists but is not a regular file: remove it", rel)
			}
		}
		todo = append(todo, &job{m: m, rel: rel, full: full})
	}
	if len(todo) == 0 {
		return nil
	}
	c := &computation{g: g, in: in, jobs: todo}
	defer c.discard()
	if err := c.run(ctx); err != nil {
		return err
	}
	for _, j := range todo {
		if err := j.out.commit(); err != nil {
			return fmt.Errorf("%s: %w", j.rel, err)
		}
		j.out = nil
		g.written = append(g.written, j.rel)
		line := fmt.Sprintf("wrote %s (%d %s)", j.rel, j.rows, plural(j.rows, "row", "rows"))
		for _, n := range j.notes {
			line += "; " + n
		}
		g.progress("%s", line)
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
