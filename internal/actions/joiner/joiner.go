// Package joiner is Haven's native implementation of the cohort-joiner
// reusable action (opensafely-actions/cohort-joiner; projects pin v0.0.44).
// It left-joins each file matched by --lhs with the single --rhs file on
// patient_id and writes every result to --output-dir under the left-hand
// file's name, in the left-hand file's format.
//
// # What the upstream action does
//
// Read from its analysis/cohort_joiner.py, tests/test_cohort_joiner.py,
// README.md and action.yaml (tag v0.0.44, and the later history of those
// files):
//
//   - Options: --lhs (required) is one glob pattern, expanded by the action
//     itself; --rhs (required) is one file; --output-dir defaults to
//     output/joined and is created when missing. Each option takes a
//     single value; given twice, the last one wins.
//   - The join is a pandas merge with how="left" on patient_id: every
//     left-hand row is kept, in order; right-hand patients absent from the
//     left-hand file are dropped; a left-hand patient absent from the
//     right-hand file gets empty (NaN) right-hand columns.
//   - Output columns are the left-hand columns in their order, then the
//     right-hand columns other than patient_id in theirs. A column other
//     than patient_id present in both files is kept twice, renamed with
//     pandas' suffixes: name_x for the left-hand copy and name_y for the
//     right-hand copy.
//   - A patient_id repeated in the right-hand file silently repeats the
//     matching left-hand rows, once per right-hand row.
//   - Formats are chosen by the file name's suffixes: .csv, .csv.gz,
//     .feather, .dta and .dta.gz are read and written; anything else stops
//     the action with a Python traceback. CSV is written by pandas, so
//     values are re-typed on the way (an integer column with a missing
//     match becomes 1.0, 2.0, ...).
//   - A pattern matching no file makes the action do nothing and succeed;
//     the job then fails later because its declared outputs are missing.
//   - The action refuses an output folder that is the folder of any input.
//     It does not notice two left-hand files with the same name in
//     different folders (the second overwrites the first). Versions after
//     v0.0.44 also refuse a glob pattern as --rhs.
//
// # What Haven does differently, and why
//
//   - Values are never re-typed. A CSV output line is the left-hand line as
//     it was read (same bytes, same quoting) followed by the right-hand
//     cells as they were read; a missing match gives empty cells. Arrow
//     (Feather v2) outputs keep every column's Arrow type, dictionaries
//     included; a missing match gives nulls. The output is Arrow IPC file
//     format with LZ4 compression, as pyarrow writes Feather v2.
//   - Mixed formats work as upstream: a CSV right-hand file joined to an
//     Arrow left-hand file has its columns typed the way pandas would read
//     them (whole numbers, other numbers, True/False booleans, otherwise
//     strings; pandas' missing-value words such as NA become nulls), except
//     that a column of whole numbers stays int64 with nulls where pandas
//     would turn it into floats. An Arrow right-hand file joined to a CSV
//     left-hand file is written as pandas would write it (True/False,
//     dates as YYYY-MM-DD, floats as Python prints them).
//   - Formats are chosen by how the name ends (case aside), not by all of
//     its dotted suffixes, so input_2020.01.csv is a CSV file where
//     upstream refuses it.
//   - A patient_id repeated in the right-hand file is an error naming the
//     file, the id and both lines: the right-hand file must have one row
//     per patient, and silently multiplying rows is never what a
//     researcher wants. An empty patient_id in the right-hand file is an
//     error too; in a left-hand file it simply matches nothing.
//   - Patient ids match as pandas would match them after reading: "7",
//     "007" and "7.0" are the same patient, whatever the file formats.
//   - Columns in both files are renamed name_x and name_y as upstream does,
//     so that analysis code written against OpenSAFELY keeps working; a
//     warning on stderr says so. If a new name clashes with another column
//     the action stops, where pandas would write two columns of one name.
//   - A pattern matching no file, a missing right-hand file, a file
//     without a patient_id column, a repeated column name within one file,
//     two left-hand files that would write the same output, and an
//     unsupported format are clear errors naming the file and the fix.
//     Stata (.dta) files are not supported: Haven reads and writes CSV,
//     gzip-compressed CSV and Feather/Arrow.
//   - Every path must stay in the job's workspace: absolute paths other
//     than /workspace/... (or the workspace's own folder, which the
//     executor maps /workspace to), "..", and symbolic links are refused.
//     As in Python's glob, a "*" does not match names starting with a dot;
//     matches are joined in name order.
//   - Every mistake exits with code 1 (upstream's command-line mistakes
//     exit with 2, its other failures with a Python traceback).
//   - Outputs are written atomically (a temporary file in the output
//     folder, synced, then renamed), and one progress line per file goes
//     to stdout.
package joiner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/haven-tre/haven/internal/actions/argparse"
	"github.com/haven-tre/haven/internal/actions/workspace"
)

// Program is the action's name in messages.
const Program = "cohort-joiner"

// DefaultOutputDir is where joined files go when --output-dir is not given.
const DefaultOutputDir = "output/joined"

// key is the column the files are joined on.
const key = "patient_id"

var options = []argparse.Option{
	{Name: "lhs", Required: true, Help: "glob pattern of the left-hand files, e.g. output/input_20*.csv.gz"},
	{Name: "rhs", Required: true, Help: "the right-hand file, one row per patient, e.g. output/input_end.csv.gz"},
	{Name: "output-dir", Default: DefaultOutputDir, Help: "folder for the joined files (created if missing; default " + DefaultOutputDir + ")"},
}

// Run is the cohort-joiner native action: it joins every file matching
// --lhs with --rhs on patient_id and writes the results to --output-dir.
// dir is the job's workspace; every path is confined to it. A mistake in
// the command or the files returns exit code 1 and an error saying what to
// fix.
func Run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
	return run(ctx, dir, args, stdout, stderr, memory.DefaultAllocator)
}

// run is Run with the Arrow allocator chosen (tests check it for leaks).
func run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer, mem memory.Allocator) (int, error) {
	vals, err := argparse.Parse(Program, options, args)
	if err != nil {
		var ae *argparse.Error
		if errors.As(err, &ae) {
			fmt.Fprint(stderr, ae.Usage)
		}
		return 1, err
	}
	j := &job{ctx: ctx, dir: dir, stdout: stdout, stderr: stderr, mem: mem}
	if err := j.run(vals.Get("lhs"), vals.Get("rhs"), vals.Get("output-dir")); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return 1, fmt.Errorf("%s: stopped: %w", Program, ctx.Err())
		}
		return 1, err
	}
	return 0, nil
}

// job is one run of the action.
type job struct {
	ctx            context.Context
	dir            string
	stdout, stderr io.Writer
	mem            memory.Allocator
}

// format is a data file format, chosen by the file name.
type format int

const (
	formatCSV format = iota + 1
	formatCSVGz
	formatArrow
)

// formatOf returns the format a file name ends with, or an error saying
// which names are supported.
func formatOf(rel string) (format, error) {
	name := strings.ToLower(path.Base(rel))
	switch {
	case strings.HasSuffix(name, ".csv.gz"):
		return formatCSVGz, nil
	case strings.HasSuffix(name, ".csv"):
		return formatCSV, nil
	case strings.HasSuffix(name, ".feather"), strings.HasSuffix(name, ".arrow"):
		return formatArrow, nil
	case strings.HasSuffix(name, ".dta"), strings.HasSuffix(name, ".dta.gz"):
		return 0, fmt.Errorf("%s: Stata files (.dta, .dta.gz) are not supported by Haven's cohort-joiner: write the cohorts as .csv, .csv.gz or .feather (cohortextractor's --output-format option)", rel)
	}
	return 0, fmt.Errorf("%s: cannot join this kind of file: name the files .csv, .csv.gz or .feather (Feather/Arrow IPC, also .arrow)", rel)
}

func (f format) isCSV() bool { return f == formatCSV || f == formatCSVGz }

// relPath turns a path from the command into a clean workspace-relative
// path. The executor maps /workspace/... in arguments to the same place
// under dir, so a path under dir is taken back to its relative form
// before the workspace rules apply.
func (j *job) relPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		d := filepath.Clean(j.dir)
		c := filepath.Clean(p)
		if c == d {
			return ".", nil
		}
		if r, ok := strings.CutPrefix(c, d+string(filepath.Separator)); ok {
			p = filepath.ToSlash(r)
		}
	}
	return workspace.Clean(p)
}

func (j *job) run(lhsPattern, rhsArg, outArg string) error {
	rhsRel, err := j.relPath(rhsArg)
	if err != nil {
		return fmt.Errorf("--rhs %v", err)
	}
	outRel, err := j.relPath(outArg)
	if err != nil {
		return fmt.Errorf("--output-dir %v", err)
	}
	lhsPattern, lhsRels, err := j.expand(lhsPattern)
	if err != nil {
		return err
	}
	rhsFormat, err := formatOf(rhsRel)
	if err != nil {
		return fmt.Errorf("--rhs %v", err)
	}
	rhsFull, err := workspace.Resolve(j.dir, rhsRel)
	if err != nil {
		return fmt.Errorf("--rhs %v", err)
	}
	if err := checkInputFile(rhsFull, rhsRel, "--rhs"); err != nil {
		if strings.ContainsAny(rhsRel, "*?[") {
			return fmt.Errorf("--rhs %s: no such file; --rhs takes one file, not a pattern: name the right-hand file exactly", rhsRel)
		}
		return err
	}

	// Check every output before writing any.
	needText, needArrow := false, false
	outputs := make([]string, len(lhsRels))
	formats := make([]format, len(lhsRels))
	byOutput := map[string]string{}
	for i, l := range lhsRels {
		if formats[i], err = formatOf(l); err != nil {
			return fmt.Errorf("--lhs %s matches %v", lhsPattern, err)
		}
		if formats[i].isCSV() {
			needText = true
		} else {
			needArrow = true
		}
		if path.Dir(l) == outRel {
			return fmt.Errorf("--output-dir %s: is the folder of the left-hand file %s, so the output would replace its input: choose another folder, e.g. --output-dir %s", outRel, l, DefaultOutputDir)
		}
		outputs[i] = path.Join(outRel, path.Base(l))
		if prev, ok := byOutput[outputs[i]]; ok {
			return fmt.Errorf("--lhs %s matches %s and %s, which would both be written to %s: make the pattern match files with different names", lhsPattern, prev, l, outputs[i])
		}
		byOutput[outputs[i]] = l
		if l == rhsRel {
			fmt.Fprintf(j.stderr, "warning: --lhs %s also matches the right-hand file %s: it is joined with itself, as cohort-joiner does; narrow the pattern (e.g. input_20*) to leave it out\n", lhsPattern, rhsRel)
		}
	}
	if path.Dir(rhsRel) == outRel {
		return fmt.Errorf("--output-dir %s: is the folder of the right-hand file %s: choose another folder, e.g. --output-dir %s", outRel, rhsRel, DefaultOutputDir)
	}

	if full, err := workspace.Resolve(j.dir, outRel); err != nil {
		return fmt.Errorf("--output-dir %v", err)
	} else if info, err := os.Lstat(full); err == nil && !info.IsDir() {
		return fmt.Errorf("--output-dir %s: is a file, not a folder: choose a folder for the joined files, e.g. --output-dir %s", outRel, DefaultOutputDir)
	}

	rhs, err := j.loadRHS(rhsFull, rhsRel, rhsFormat, needText, needArrow)
	if err != nil {
		return err
	}
	defer rhs.release()

	outFull, err := workspace.MkdirAll(j.dir, outRel)
	if err != nil {
		return fmt.Errorf("--output-dir %v", err)
	}
	for i, l := range lhsRels {
		if err := j.ctx.Err(); err != nil {
			return err
		}
		if err := j.joinFile(l, formats[i], rhs, outputs[i], outFull); err != nil {
			return err
		}
	}
	return nil
}

// expand turns the --lhs pattern into its workspace-relative form and the
// sorted workspace-relative paths of the files it matches.
func (j *job) expand(pattern string) (string, []string, error) {
	rel, err := j.relPath(pattern)
	if err != nil {
		return "", nil, fmt.Errorf("--lhs %v", err)
	}
	if !strings.ContainsAny(rel, "*?[\\") {
		full, err := workspace.Resolve(j.dir, rel)
		if err != nil {
			return "", nil, fmt.Errorf("--lhs %v", err)
		}
		if err := checkInputFile(full, rel, "--lhs"); err != nil {
			return "", nil, err
		}
		return rel, []string{rel}, nil
	}
	matches, err := workspace.Glob(j.dir, rel)
	if err != nil {
		return "", nil, fmt.Errorf("--lhs %v", err)
	}
	var out []string
	for _, m := range matches {
		if !hidden(rel, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("--lhs %s matches no file: check the pattern, and that the actions making these files are in this action's needs (symbolic links are never matched)", rel)
	}
	sort.Strings(out)
	return rel, out, nil
}

// hidden reports whether a wildcard of pattern matched a name starting
// with a dot in match, which Python's glob never does ("output/*.csv"
// matches neither output/.x.csv nor, with "*/x.csv", .tmp/x.csv).
func hidden(pattern, match string) bool {
	ps, ms := strings.Split(pattern, "/"), strings.Split(match, "/")
	if len(ps) != len(ms) {
		return false
	}
	for i, p := range ps {
		if strings.HasPrefix(ms[i], ".") && !strings.HasPrefix(p, ".") {
			return true
		}
	}
	return false
}

// checkInputFile says clearly why full (rel in messages) cannot be read.
func checkInputFile(full, rel, opt string) error {
	info, err := os.Lstat(full)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s %s: no such file: check the path, and that the action making it is in this action's needs", opt, rel)
	case err != nil:
		return fmt.Errorf("%s %s: %v", opt, rel, osErr(err))
	case info.IsDir():
		return fmt.Errorf("%s %s: is a folder: give a data file", opt, rel)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s %s: is not a regular file", opt, rel)
	}
	return nil
}

// joinFile joins one left-hand file and writes its output atomically.
func (j *job) joinFile(lhsRel string, f format, rhs *rhsTable, outRel, outDir string) error {
	lhsFull, err := workspace.Resolve(j.dir, lhsRel)
	if err != nil {
		return fmt.Errorf("--lhs %v", err)
	}
	outFull, err := workspace.Resolve(j.dir, outRel)
	if err != nil {
		return fmt.Errorf("--output-dir %v", err)
	}
	tmp, err := os.CreateTemp(outDir, "."+path.Base(outRel)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: cannot create the output: %v", outRel, osErr(err))
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var rows int64
	if f.isCSV() {
		rows, err = j.joinCSV(lhsFull, lhsRel, f, rhs, tmp)
	} else {
		rows, err = j.joinArrow(lhsFull, lhsRel, rhs, tmp)
	}
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %v", outRel, osErr(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %v", outRel, osErr(err))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("%s: %v", outRel, osErr(err))
	}
	if err := os.Rename(tmp.Name(), outFull); err != nil {
		return fmt.Errorf("%s: %v", outRel, osErr(err))
	}
	fmt.Fprintf(j.stdout, "Joined %s with %s: %d %s -> %s\n", lhsRel, rhs.rel, rows, plural(rows, "row", "rows"), outRel)
	return nil
}

// osErr drops the host path from a file system error: messages name files
// by their workspace paths.
func osErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// outputNames returns the output's column names: the left-hand names,
// then the right-hand names other than patient_id, with names in both
// files suffixed _x and _y as pandas does. It also returns the renamed
// columns for the warning, and an error if a new name clashes.
func outputNames(lhsRel string, lhs []string, rhs *rhsTable) (lhsOut, rhsOut, both []string, err error) {
	inRHS := make(map[string]bool, len(rhs.names))
	for _, n := range rhs.names {
		inRHS[n] = true
	}
	lhsOut = make([]string, len(lhs))
	for i, n := range lhs {
		lhsOut[i] = n
		if n != key && inRHS[n] {
			both = append(both, n)
			lhsOut[i] = n + "_x"
		}
	}
	isBoth := make(map[string]bool, len(both))
	for _, n := range both {
		isBoth[n] = true
	}
	rhsOut = make([]string, len(rhs.names))
	for i, n := range rhs.names {
		rhsOut[i] = n
		if isBoth[n] {
			rhsOut[i] = n + "_y"
		}
	}
	// Where each output column comes from, for the message on a clash.
	seen := map[string]string{}
	for _, side := range []struct {
		file       string
		out, names []string
	}{{lhsRel, lhsOut, lhs}, {rhs.rel, rhsOut, rhs.names}} {
		for i, n := range side.out {
			from := fmt.Sprintf("column %s of %s", side.names[i], side.file)
			if n != side.names[i] {
				from += ", renamed because both files have it"
			}
			if prev, ok := seen[n]; ok {
				return nil, nil, nil, fmt.Errorf("joining %s with %s would make two columns named %s (%s; %s): as cohort-joiner does, a column in both files is renamed with _x and _y; rename or drop one of these columns in its study definition",
					lhsRel, rhs.rel, n, prev, from)
			}
			seen[n] = from
		}
	}
	return lhsOut, rhsOut, both, nil
}

// warnBoth tells the researcher about columns renamed because they are in
// both files.
func (j *job) warnBoth(lhsRel, rhsRel string, both []string) {
	if len(both) == 0 {
		return
	}
	var xs, ys []string
	for _, n := range both {
		xs = append(xs, n+"_x")
		ys = append(ys, n+"_y")
	}
	n := int64(len(both))
	fmt.Fprintf(j.stderr, "warning: %s %s %s in both %s and %s: as cohort-joiner does, the joined file has %s (left-hand values) and %s (right-hand values); to keep one copy under its own name, drop the %s from one of the study definitions\n",
		plural(n, "column", "columns"), strings.Join(both, ", "), plural(n, "is", "are"), lhsRel, rhsRel,
		strings.Join(xs, ", "), strings.Join(ys, ", "), plural(n, "column", "columns"))
}

// checkNames refuses a file whose header repeats a name or lacks
// patient_id, and returns patient_id's position.
func checkNames(rel string, names []string) (int, error) {
	pos := -1
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if seen[n] {
			return 0, fmt.Errorf("%s: the column name %q appears twice: each column needs its own name", rel, n)
		}
		seen[n] = true
		if n == key {
			pos = i
		}
	}
	if pos < 0 {
		shown := names
		if len(shown) > 10 {
			shown = append(shown[:10:10], "...")
		}
		return 0, fmt.Errorf("%s: has no %s column (its columns are %s): cohort-joiner joins on %s, so both files must have it, as cohortextractor's outputs do",
			rel, key, strings.Join(shown, ", "), key)
	}
	return pos, nil
}
