// Package cohortextractor is Haven's built-in `cohortextractor` image for
// local runs: `generate_cohort` makes dummy data from a study's dataset
// definition (analysis/<name>.yaml, package dataset) and its expectations,
// and `generate_measures` computes the definition's measures over the
// extracts, both with cohort-extractor's options and file names (spec
// pipeline-and-runner §9-10, artificial-data §7-10).
//
// Differences from cohort-extractor, all deliberate:
//   - exactly population_size rows, with every date window, incidence and
//     category ratio met by construction (Haven decisions in the
//     artificial-data spec, 7.6);
//   - patient_id is the first column, as in real extracts;
//   - the output is a pure function of the definition, the population
//     size, the seed (--seed, default "haven"), the index date and the
//     date `today` resolves to, so re-running gives the same bytes and the
//     dates of a range can be written in any order;
//   - dta output is not supported: use csv, csv.gz or feather, or run the
//     real image with --executor docker.
package cohortextractor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/actions/argparse"
	"github.com/haven-tre/haven/internal/actions/dataset"
	"github.com/haven-tre/haven/internal/actions/measures"
	"github.com/haven-tre/haven/internal/actions/workspace"
	"github.com/haven-tre/haven/internal/artificial/expect"
	"github.com/haven-tre/haven/internal/artificial/frame"
)

// Program is the image name this package stands in for.
const Program = "cohortextractor"

// Env names the environment a caller may set for every run.
const (
	// EnvToday pins the date `today` resolves to (YYYY-MM-DD).
	EnvToday = "HAVEN_TODAY"
)

// formats maps cohort-extractor's --output-format values to writers.
var formats = map[string]frame.Format{
	"csv":     frame.CSV,
	"csv.gz":  frame.CSVGz,
	"feather": frame.Arrow,
}

var cohortOptions = []argparse.Option{
	{Name: "study-definition", Default: "all", Help: "the dataset definition analysis/NAME.yaml; all: every analysis/study_definition*.yaml"},
	{Name: "output-dir", Default: "output", Help: "where the files go"},
	{Name: "output-file", Help: "one output file: its folder, name and format (csv, csv.gz or feather)"},
	{Name: "output-format", Default: "csv", Help: "csv, csv.gz or feather"},
	{Name: "index-date-range", Help: `"START to END by week|month": one file per date, newest first`},
	{Name: "skip-existing", Switch: true, Help: "keep files that already exist"},
	{Name: "with-end-date-fix", Switch: true, Help: "accepted for compatibility; it changes nothing in dummy data"},
	{Name: "expectations-population", Help: "rows to generate (haven run passes project.yaml's population_size)"},
	{Name: "dummy-data-file", Help: "a file to use as the output instead of generated data"},
	{Name: "seed", Default: expect.DefaultSeed, Help: "names the random stream (Haven)"},
	{Name: "today", Help: "the date `today` resolves to, YYYY-MM-DD (Haven)"},
	{Name: "database-url", Help: "not available: the built-in cohortextractor makes dummy data only"},
}

var measureOptions = []argparse.Option{
	{Name: "study-definition", Default: "all", Help: "the dataset definition analysis/NAME.yaml whose measures to compute"},
	{Name: "output-dir", Default: "output", Help: "where the extracts are and the measures go"},
	{Name: "skip-existing", Switch: true, Help: "keep measure files that already exist"},
}

// Run is the native action: `cohortextractor generate_cohort …` or
// `cohortextractor generate_measures …`.
func Run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return 1, usage("give a command: generate_cohort or generate_measures")
	}
	var err error
	switch args[0] {
	case "generate_cohort":
		err = generateCohort(ctx, dir, args[1:], stdout)
	case "generate_measures":
		err = generateMeasures(ctx, dir, args[1:], stdout)
	case "generate_codelist_report", "cohort_report", "update_codelists", "maintain_database", "dump_cohort_sql", "dump_study_yaml":
		err = haven.Errorf(haven.EINVALID, "cohortextractor %s is not built into Haven: run it with the real image (haven run --executor docker)", args[0])
	default:
		err = usage(fmt.Sprintf("unknown command %q: use generate_cohort or generate_measures", args[0]))
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func usage(msg string) error {
	return &argparse.Error{Program: Program, Msg: msg}
}

// definitions returns the definitions a --study-definition value names.
func definitions(dir, name string) ([]*dataset.Definition, error) {
	if name != "all" {
		d, err := dataset.Load(dir, name)
		if err != nil {
			return nil, err
		}
		return []*dataset.Definition{d}, nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "analysis", "study_definition*.yaml"))
	if len(matches) == 0 {
		return nil, haven.Errorf(haven.EINVALID, "--study-definition all found no analysis/study_definition*.yaml: write a dataset definition (docs/dataset-definitions.md), or name one with --study-definition NAME")
	}
	sort.Strings(matches)
	var out []*dataset.Definition
	var errs []error
	for _, m := range matches {
		d, err := dataset.Load(dir, strings.TrimSuffix(filepath.Base(m), ".yaml"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// cohortJob is one file to write.
type cohortJob struct {
	def  *dataset.Definition
	rel  string    // workspace-relative output path
	date time.Time // zero without a range
}

func generateCohort(ctx context.Context, dir string, args []string, stdout io.Writer) error {
	v, err := argparse.Parse(Program+" generate_cohort", cohortOptions, args)
	if err != nil {
		return err
	}
	if v.Has("database-url") {
		return usage("--database-url: the built-in cohortextractor makes dummy data only; real extractions run in a secure backend")
	}
	hasPop, hasDummy := v.Has("expectations-population"), v.Get("dummy-data-file") != ""
	if hasPop && hasDummy {
		return usage("--expectations-population and --dummy-data-file cannot be used together: give one")
	}
	if !hasPop && !hasDummy {
		return usage("give --expectations-population N (haven run passes project.yaml's expectations.population_size) or --dummy-data-file PATH")
	}
	population := 0
	if hasPop {
		population, err = strconv.Atoi(v.Get("expectations-population"))
		if err != nil || population < 0 {
			return usage(fmt.Sprintf("--expectations-population %q is not a number of rows: give a whole number, e.g. 1000", v.Get("expectations-population")))
		}
	}
	today, err := todayOf(v.Get("today"))
	if err != nil {
		return err
	}

	// Where the files go.
	outDir, name, ext := v.Get("output-dir"), "input", v.Get("output-format")
	if f := v.Get("output-file"); f != "" {
		outDir = path.Dir(filepath.ToSlash(f))
		base := path.Base(filepath.ToSlash(f))
		var ok bool
		if name, ext, ok = strings.Cut(base, "."); !ok || name == "" {
			return usage(fmt.Sprintf("--output-file %q has no extension: name the file with its format, e.g. output/cohort.csv.gz", f))
		}
	}
	format, ok := formats[ext]
	if !ok {
		if ext == "dta" || ext == "dta.gz" {
			return haven.Errorf(haven.EINVALID, "the %s output format is not built into Haven: use csv, csv.gz or feather, or run the real image with haven run --executor docker", ext)
		}
		return usage(fmt.Sprintf("output format %q is not one of csv, csv.gz, feather", ext))
	}
	var dates []time.Time
	if r := v.Get("index-date-range"); r != "" {
		dates, err = expect.ParseIndexDateRange(r, today)
		if err != nil {
			return haven.Errorf(haven.EINVALID, "--index-date-range: %v", err)
		}
	}
	defs, err := definitions(dir, v.Get("study-definition"))
	if err != nil {
		return err
	}
	if _, err := workspace.MkdirAll(dir, outDir); err != nil {
		return err
	}
	var jobs []cohortJob
	for _, d := range defs {
		suffix := dataset.Suffix(d.Name)
		if len(dates) == 0 {
			jobs = append(jobs, cohortJob{def: d, rel: path.Join(outDir, name+suffix+"."+ext)})
			continue
		}
		for _, t := range dates {
			jobs = append(jobs, cohortJob{def: d, rel: path.Join(outDir, expect.OutputName(name, suffix, t, ext)), date: t})
		}
	}
	if hasDummy {
		return copyDummy(ctx, dir, v.Get("dummy-data-file"), ext, jobs, v.Has("skip-existing"), stdout)
	}

	// Plan every file before writing any, so a mistake leaves nothing.
	type planned struct {
		job  cohortJob
		plan *expect.Plan
		full string
	}
	var todo []planned
	for _, j := range jobs {
		plan, err := j.def.Plan(population, expect.Options{Seed: v.Get("seed"), Today: today, IndexDate: j.date})
		if err != nil {
			return err
		}
		full, err := workspace.Resolve(dir, j.rel)
		if err != nil {
			return err
		}
		if v.Has("skip-existing") {
			if _, err := os.Stat(full); err == nil {
				fmt.Fprintf(stdout, "Skipping %s: it exists (--skip-existing)\n", j.rel)
				continue
			}
		}
		todo = append(todo, planned{j, plan, full})
	}
	for _, d := range defs {
		fmt.Fprintf(stdout, "Generating dummy data from %s: %d rows, seed %q, today is %s, %s\n",
			d.File, population, v.Get("seed"), today.Format("2006-01-02"), expect.Algorithm)
		if len(d.NotHonoured) > 0 {
			fmt.Fprintf(stdout, "Warning: %s: the dummy data does not honour these parts of the population: %s\n",
				d.File, strings.Join(d.NotHonoured, "; "))
		}
	}

	// Small files are written side by side, large ones one at a time with
	// every core on each.
	workers := runtime.GOMAXPROCS(0)
	parallelFiles, perFile := 1, workers
	if population <= frame.DefaultBlockRows {
		parallelFiles, perFile = workers, 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, parallelFiles)
		results  = make([]string, len(todo))
	)
	for i, t := range todo {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			md := map[string]string{
				"haven.generator":         expect.Algorithm,
				"haven.seed":              t.plan.Seed(),
				"haven.definition":        t.job.def.File,
				"haven.definition_sha256": t.job.def.SHA256,
				"haven.today":             today.Format("2006-01-02"),
				"haven.dummy_data":        "true",
				"haven.population_size":   strconv.Itoa(population),
			}
			if !t.job.date.IsZero() {
				md["haven.index_date"] = t.job.date.Format("2006-01-02")
			}
			res, err := frame.WriteFile(ctx, source{t.plan}, t.full, frame.FileOptions{
				Format: format, Rows: t.plan.Rows(), Workers: perFile, Metadata: md, Fast: true,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("writing %s: %w", t.job.rel, err)
				}
				cancel()
				return
			}
			results[i] = fmt.Sprintf("Wrote %s: %d rows, %d columns, %d bytes", t.job.rel, res.Rows, len(t.plan.Specs()), res.Bytes)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Newest first, the order cohort-extractor processes a range in.
	for _, r := range results {
		if r != "" {
			fmt.Fprintln(stdout, r)
		}
	}
	return nil
}

// source adapts a plan to frame.Source.
type source struct{ p *expect.Plan }

func (s source) Specs() []frame.Spec { return s.p.Specs() }

func (s source) Fill(b *frame.Batch, start uint64, n int) error {
	s.p.Fill(b, start, n)
	return nil
}

// todayOf resolves the run's `today`: --today, else $HAVEN_TODAY, else the
// current UTC date.
func todayOf(flag string) (time.Time, error) {
	s := flag
	what := "--today"
	if s == "" {
		s, what = os.Getenv(EnvToday), EnvToday
	}
	if s == "" {
		now := time.Now().UTC()
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC), nil
	}
	t, err := expect.ParseISODate(s)
	if err != nil {
		return time.Time{}, usage(fmt.Sprintf("%s %q: %v; give a date as YYYY-MM-DD", what, s, err))
	}
	return t, nil
}

func generateMeasures(ctx context.Context, dir string, args []string, stdout io.Writer) error {
	v, err := argparse.Parse(Program+" generate_measures", measureOptions, args)
	if err != nil {
		return err
	}
	defs, err := definitions(dir, v.Get("study-definition"))
	if err != nil {
		return err
	}
	found := false
	for _, d := range defs {
		if len(d.Measures) == 0 {
			continue
		}
		found = true
		ms := make([]measures.Measure, len(d.Measures))
		for i, m := range d.Measures {
			ms[i] = measures.Measure{ID: m.ID, Numerator: m.Numerator, Denominator: m.Denominator, GroupBy: m.GroupBy, SmallNumberSuppression: m.SmallNumberSuppression, DisclosureControl: m.DisclosureControl}
		}
		if _, err := measures.Generate(ctx, measures.Options{
			Dir: dir, OutputDir: v.Get("output-dir"), Suffix: dataset.Suffix(d.Name),
			Measures: ms, SkipExisting: v.Has("skip-existing"), Stdout: stdout,
		}); err != nil {
			return err
		}
	}
	if !found {
		return haven.Errorf(haven.EINVALID, "no measures to generate: add a measures: list to %s (see docs/dataset-definitions.md)", dataset.Path(v.Get("study-definition")))
	}
	return nil
}
