// Package datasetreport is Haven's native implementation of the
// dataset-report reusable action: for each input data file it writes one
// self-contained HTML page describing the file's columns, with every count
// disclosure-controlled so that the page can be released as a
// moderately_sensitive output.
//
// # What upstream does
//
// The reusable action (v0.0.24, the version real projects pin; later tags
// change only its build) takes two required options. --input-files is a
// single glob pattern, expanded without recursion, naming one or more
// files; a pattern that matches nothing silently produces no report.
// --output-dir is the directory the reports go to; it must already exist.
// Each report is named after its input's base name up to the first dot,
// with ".html": output/input_2022-03-20.csv.gz gives
// <output-dir>/input_2022-03-20.html. Inputs may be .csv, .csv.gz,
// .feather, .dta or .dta.gz; anything else is an error. The whole file is
// loaded into memory.
//
// Its report has a title, the input's path, a table giving each column's
// in-memory size, data type and whether it is entirely empty, and a
// section per boolean column (a true boolean type, or in a CSV file a
// number column whose values are all 0 or 1), skipping patient_id. The
// section counts each value, missing values included, with a percentage.
// Its disclosure control is to round each count to the nearest 5 and then
// withhold counts of 5 or less, which the page shows as blank (NaN).
//
// # What Haven does
//
// Options, names and the control rule are upstream's. Where upstream is
// silent or this implementation differs, the choices are:
//
//   - --input-files takes one or more values, each a path or a pattern
//     (path.Match syntax; * does not cross /). A pattern that matches
//     nothing, and a path that does not exist, are errors rather than
//     silence. Every path is confined to the job's workspace: absolute
//     paths, .. out of it and symbolic links are refused.
//   - --output-dir is created if missing. Two inputs that would write the
//     same report are an error, as is a report name that would be empty.
//   - Inputs are .csv, .csv.gz, .feather or .arrow (Arrow IPC) and, because
//     the reader supports it, .parquet. Stata .dta files are refused with
//     a message saying how to convert them. The extension is the end of the
//     name, so input_v1.2.csv is a CSV file (upstream refuses it).
//   - Files are streamed. Each column keeps counts of at most maxDistinct
//     (10,000) distinct values; a categorical column with more is reported
//     as having "more than 10,000 distinct values" without a table, and a
//     number column with more estimates its quartiles with a bounded
//     deterministic sketch while a second pass over the file counts its
//     histogram exactly.
//   - Every column is summarised, not only booleans. A CSV column (or an
//     Arrow/Parquet text column) is typed from its values: boolean if
//     every value is 0 or 1 (upstream's rule) or true/false; integer;
//     float; date if every value is YYYY-MM-DD or YYYY-MM; datetime if
//     every value is a date with a time of day; categorical otherwise.
//     Typed Arrow and Parquet columns keep their type (so an integer
//     column of 0s and 1s stays an integer, as upstream does for Feather).
//     Missing values are empty cells, nulls, and the texts NA, N/A, NaN,
//     nan, NULL and null.
//   - The page gives the row count and column count, a table of every
//     column's type and missing values (count and percentage), then per
//     column: booleans and categoricals count each value (categoricals list
//     at most the 20 most common values whose counts can be shown, and
//     count all other values, rare ones included, together, so that the
//     label of a rare value never appears); numbers give the quartiles
//     (interpolated like pandas) and a histogram of about ten
//     round-numbered bins, with rows for the minimum and maximum that are
//     withheld, since each is a single record's value (showExtremes turns
//     them on); dates count per month when they span
//     at most three years, else per year (per decade or century for very
//     long spans). Each table has an inline SVG bar chart. patient_id is
//     typed and counted for missing values only, as upstream skips it.
//   - Every count (rows, missing values, each table row) passes through
//     the upstream rule and a withheld count is written [REDACTED]; a
//     count of zero is withheld like any other small count, so the two
//     cannot be told apart. The page states the rule. Percentages are computed from released counts
//     only: missing values as a share of all rows, table rows as a share
//     of the values present. Number statistics and histograms are shown
//     only when the count of values present can itself be released.
//   - The page is built with html/template, so every name and value from
//     the data is escaped; it has no script, no event handler and loads
//     nothing. It holds no timestamp: the same input gives the same bytes.
//     It is written atomically, and one progress line per report goes to
//     standard output (it names files, never counts).
package datasetreport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/haven-tre/haven/internal/actions/argparse"
	"github.com/haven-tre/haven/internal/actions/workspace"
	"github.com/haven-tre/haven/internal/atomicfile"
)

// Program is the action's name, as it appears in messages.
const Program = "dataset-report"

var options = []argparse.Option{
	{Name: "input-files", Multi: true, Required: true, Help: "input files: paths or glob patterns (.csv, .csv.gz, .feather, .arrow, .parquet)"},
	{Name: "output-dir", Required: true, Help: "directory for the reports: <name>.html for each input <name>.<ext>"},
}

// supported lists the input name endings, longest first.
var supported = []string{".csv.gz", ".csv", ".feather", ".arrow", ".parquet"}

// job is one input and its report, as workspace-relative slash paths.
type job struct {
	input, output string
}

// Run is the native action: it writes one report per input file. A
// mistake in the command or the inputs returns exit code 1 and an error
// saying what to fix.
func Run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
	vals, err := argparse.Parse(Program, options, args)
	if err != nil {
		var ae *argparse.Error
		if errors.As(err, &ae) {
			fmt.Fprint(stderr, ae.Usage)
		}
		return 1, err
	}
	jobs, err := plan(dir, vals.List("input-files"), vals.Get("output-dir"))
	if err != nil {
		return 1, fmt.Errorf("%s: %w", Program, err)
	}
	if _, err := workspace.MkdirAll(dir, vals.Get("output-dir")); err != nil {
		return 1, fmt.Errorf("%s: --output-dir %w", Program, err)
	}
	for _, j := range jobs {
		if err := report(ctx, dir, j); err != nil {
			return 1, fmt.Errorf("%s: %w", Program, err)
		}
		fmt.Fprintf(stdout, "%s: %s: wrote %s\n", Program, j.input, j.output)
	}
	return 0, nil
}

// plan expands the inputs and names the reports, checking everything it
// can before any file is read or written.
func plan(dir string, patterns []string, outDir string) ([]job, error) {
	out, err := workspace.Clean(outDir)
	if err != nil {
		return nil, fmt.Errorf("--output-dir %w", err)
	}
	var inputs []string
	seen := map[string]bool{}
	for _, p := range patterns {
		matches, err := expand(dir, p)
		if err != nil {
			return nil, fmt.Errorf("--input-files %w", err)
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				inputs = append(inputs, m)
			}
		}
	}
	var jobs []job
	byOutput := map[string]string{}
	for _, in := range inputs {
		if err := checkExtension(in); err != nil {
			return nil, err
		}
		stem, _, _ := strings.Cut(path.Base(in), ".")
		if stem == "" {
			return nil, fmt.Errorf("--input-files %s: the report is named after the file's name up to its first dot, which is empty here: rename the file, e.g. input.csv", in)
		}
		o := path.Join(out, stem+".html")
		if prev, ok := byOutput[o]; ok {
			return nil, fmt.Errorf("--input-files: %s and %s would both write the report %s (a report is named after its input's name up to the first dot): rename one of them or use a separate action for each", prev, in, o)
		}
		byOutput[o] = in
		jobs = append(jobs, job{input: in, output: o})
	}
	return jobs, nil
}

// expand returns the files a path or pattern names, workspace-relative.
func expand(dir, p string) ([]string, error) {
	rel, err := workspace.Clean(p)
	if err != nil {
		return nil, err
	}
	if !strings.ContainsAny(rel, `*?[\`) {
		full, err := workspace.Resolve(dir, rel)
		if err != nil {
			return nil, err
		}
		info, err := os.Lstat(full)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file: check the path, and that the action producing it is listed in needs", p)
		case err != nil:
			return nil, fmt.Errorf("%s: %s", p, strings.ReplaceAll(err.Error(), full, rel))
		case info.IsDir():
			return nil, fmt.Errorf("%s: is a directory: give the data files in it, e.g. %s", p, path.Join(rel, "*.csv.gz"))
		case !info.Mode().IsRegular():
			return nil, fmt.Errorf("%s: is not a regular file", p)
		}
		return []string{rel}, nil
	}
	matches, err := workspace.Glob(dir, p)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s: the pattern matches no files: check it, and that the action producing the files is listed in needs (symbolic links are never matched)", p)
	}
	return matches, nil
}

// checkExtension refuses inputs the action cannot read.
func checkExtension(in string) error {
	lower := strings.ToLower(path.Base(in))
	for _, ext := range supported {
		if strings.HasSuffix(lower, ext) {
			return nil
		}
	}
	if strings.HasSuffix(lower, ".dta") || strings.HasSuffix(lower, ".dta.gz") {
		return fmt.Errorf("--input-files %s: Stata .dta files are not supported: write the dataset as .csv.gz or .feather instead", in)
	}
	return fmt.Errorf("--input-files %s: unsupported file type: the inputs must end in %s", in, strings.Join(supported, ", "))
}

// report writes one input's report.
func report(ctx context.Context, dir string, j job) error {
	full, err := workspace.Resolve(dir, j.input)
	if err != nil {
		return err
	}
	p, err := scan(ctx, full, j.input)
	if err != nil {
		return err
	}
	// Bins for every number column with enough values; a second pass
	// counts those whose distinct values overflowed.
	bins := make([]*binning, len(p.cols))
	need := false
	for i, c := range p.cols {
		if !c.typ().numeric() || c.name == identifierColumn {
			continue
		}
		if b, ok := newBinning(c.min, c.max, c.typ() == typeInt); ok {
			bins[i] = b
		}
	}
	hist := make([][]int64, len(p.cols))
	second := make([]*binning, len(p.cols))
	for i, c := range p.cols {
		if bins[i] != nil && c.overflow {
			if _, ok := control(c.n); ok {
				second[i], need = bins[i], true
			}
		}
	}
	if need {
		h, err := histogramPass(ctx, full, j.input, second)
		if err != nil {
			return err
		}
		copy(hist, h)
	}
	var buf strings.Builder
	if err := render(&buf, buildView(j.input, p, hist, bins)); err != nil {
		return fmt.Errorf("%s: writing the report: %w", j.output, err)
	}
	outFull, err := workspace.Resolve(dir, j.output)
	if err != nil {
		return fmt.Errorf("--output-dir %w", err)
	}
	if err := writeAtomic(outFull, []byte(buf.String())); err != nil {
		return fmt.Errorf("%s: %s", j.output, strings.ReplaceAll(err.Error(), outFull, j.output))
	}
	return nil
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so that a reader never sees part of a report.
func writeAtomic(path string, data []byte) (err error) {
	if info, err := os.Lstat(path); err == nil && info.IsDir() {
		return errors.New("is a directory: remove it or choose another --output-dir")
	}
	return atomicfile.WriteFile(path, data)
}
