package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/spf13/cobra"
)

// controlFlags says which flags an apply command takes beyond --profile,
// --columns, --audit and --force.
type controlFlags struct {
	threshold, token, base, mode bool
}

// controlApply is the control an apply command runs.
type controlApply func(data []byte, o disclosure.ControlOptions, mode string) ([]byte, []disclosure.AuditEntry, error)

// outputsControlCommands are `haven outputs redact|round|midpoint6|protect`:
// the commands that apply disclosure controls to a CSV table and write a
// new file and an audit log of every cell they changed.
func (a *app) outputsControlCommands() []*cobra.Command {
	return []*cobra.Command{
		a.outputsControlCommand("redact", "Redact small counts in a CSV table",
			`Redact replaces each count at or below T (the profile's min_count - 1; 7
under opensafely) with the profile's redaction token. Zeros are kept, or
redacted too under profiles where zeros fail (ukllc). A rate or percentage
whose numerator or denominator is redacted is redacted with it.

Redact does not round and does not touch totals: a total beside a redacted
cell may reveal it. Use 'haven outputs round' (redact then round, totals
recomputed) or 'haven outputs protect' for tables with totals.`,
			`  haven outputs redact output/table.csv output/table_redacted.csv
  haven outputs redact --profile acro --columns cases,controls in.csv out.csv`,
			controlFlags{threshold: true, token: true},
			func(data []byte, o disclosure.ControlOptions, _ string) ([]byte, []disclosure.AuditEntry, error) {
				return disclosure.Redact(data, o)
			}),
		a.outputsControlCommand("round", "Redact then round the counts of a CSV table",
			`Round applies redact-then-round, in that order, to the count columns:
each count at or below T becomes the redaction token and every other count
is rounded to the nearest base (5 under opensafely), half up. Zeros are
kept, or redacted under profiles where zeros fail. A count that is already
a multiple of the base and above T never changes.

Totals (a column that sums the other count columns, rows labelled total,
all or overall) are then recomputed as sums of the displayed cells, and
rates and percentages are recomputed from the rounded counts, with the
decimals they showed, or redacted with their numerator or denominator.`,
			`  haven outputs round output/table.csv output/table_rounded.csv
  haven outputs round --columns patients --audit audit.csv in.csv out.csv`,
			controlFlags{threshold: true, token: true, base: true},
			func(data []byte, o disclosure.ControlOptions, _ string) ([]byte, []disclosure.AuditEntry, error) {
				return disclosure.Round(data, o)
			}),
		a.outputsControlCommand("midpoint6", "Round the counts of a CSV table with midpoint-6 rounding",
			`Midpoint6 rounds the count columns with midpoint-6 rounding: 0 stays 0 and
x > 0 becomes 6*ceil(x/6) - 3, so 1-6 show as 3, 7-12 as 9, and so on; no
redaction is needed. Each rounded column is renamed with the suffix
_midpoint6, so the checker knows 3 labels 1-6. A total column is
recomputed as the sum of the rounded values and renamed with
_midpoint6_derived; total rows and rates are recomputed too.

The profile must recognise midpoint-6 rounding (opensafely does).`,
			`  haven outputs midpoint6 output/counts.csv output/counts_midpoint6.csv`,
			controlFlags{},
			func(data []byte, o disclosure.ControlOptions, _ string) ([]byte, []disclosure.AuditEntry, error) {
				return disclosure.Midpoint6(data, o)
			}),
		a.outputsControlCommand("protect", "Suppress cells so that no redacted count can be recovered from totals",
			`Protect applies secondary suppression, so that no redacted cell can be
recovered from the table's totals. Modes:

  recompute-totals  redact then round as 'haven outputs round': totals
                    become sums of the displayed cells (the default when
                    the profile requires rounding, as opensafely does)
  complementary     keep the true totals: redact counts at or below T,
                    then, wherever a row or column with a total has
                    exactly one hidden cell, also hide its smallest
                    non-zero cell, until no hidden cell can be worked out;
                    then round when the profile requires it (the default
                    otherwise)
  next-smallest     cohort-extractor's rule, keeping the true totals:
                    redact counts at or below T, then, wherever the hidden
                    cells of a row or column with a total add up to T or
                    less, also hide every cell equal to its next-smallest
                    value, until nothing changes; then round when the
                    profile requires it. It protects each line on its
                    own: in a table with both row and column totals use
                    complementary if protect reports a recoverable cell

The result is checked under the profile; if a small count, an unrounded
count or a recoverable cell remains, protect writes nothing and says which
cells are at fault.`,
			`  haven outputs protect output/table.csv output/table_protected.csv
  haven outputs protect --profile acro --mode complementary in.csv out.csv
  haven outputs protect --profile acro --mode next-smallest in.csv out.csv`,
			controlFlags{threshold: true, token: true, mode: true},
			disclosure.Protect),
	}
}

// outputsControlCommand builds one apply command.
func (a *app) outputsControlCommand(name, short, long, example string, fl controlFlags, apply controlApply) *cobra.Command {
	var profile, token, mode, audit, manifest string
	var columns []string
	var threshold, base int
	var force bool
	cmd := &cobra.Command{
		Use:   name + " [flags] IN OUT",
		Short: short,
		Long: long + `

IN is a CSV file; the result is written to OUT, a new file (the command
refuses to overwrite IN, and refuses an existing OUT unless --force is
given). Cells the control does not change are written exactly as they
were. The audit log, OUT.audit.csv unless --audit says otherwise, lists
every changed cell as row,column,before,after,reason; it may hold the
values the control hid, so keep it inside the workspace and never release
it.

--manifest FILE records the controls in FILE, a context file as
'haven outputs check --context' and 'haven outputs bundle --context' read
it (created if missing): the entry for OUT (its path relative to the
current folder) gets controls, such as redact<=7,round5 or midpoint6, and
for midpoint6 the renamed columns are declared counts. Other entries, and
OUT's other fields, are kept.

Exit codes:
  0  the file was written
  1  the input cannot be processed, OUT exists, or the manifest cannot
     be read or updated
  2  usage error
  3  internal error`,
		Example: example,
		Args:    cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			if threshold < 0 {
				return usageError{fmt.Errorf("--threshold %d is negative: give the largest count to redact, or leave it out to use the profile's", threshold)}
			}
			if base < 0 {
				return usageError{fmt.Errorf("--base %d is negative: give a rounding base of at least 1, or leave it out to use the profile's", base)}
			}
			switch mode {
			case "", disclosure.ProtectRecomputeTotals, disclosure.ProtectComplementary, disclosure.ProtectNextSmallest:
			default:
				return usageError{fmt.Errorf("unknown --mode %q: use %s or %s (or %s, cohort-extractor's rule)", mode, disclosure.ProtectRecomputeTotals, disclosure.ProtectComplementary, disclosure.ProtectNextSmallest)}
			}
			audit := audit
			if audit == "" {
				audit = out + ".audit.csv"
			}
			if sameFile(in, out) {
				return usageError{fmt.Errorf("OUT %s is the input file: write the result to a new file, such as %s", out, suggestOut(in, name))}
			}
			if sameFile(audit, in) || sameFile(audit, out) {
				return usageError{fmt.Errorf("--audit %s is the input or the output file: give the audit log a name of its own", audit)}
			}
			if manifest != "" && (sameFile(manifest, in) || sameFile(manifest, out) || sameFile(manifest, audit)) {
				return usageError{fmt.Errorf("--manifest %s is the input, the output or the audit log: give the manifest a name of its own, such as release.yaml", manifest)}
			}
			p, err := disclosure.LoadProfile(profile)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			if manifest != "" {
				// A manifest that cannot be updated is found before OUT is
				// written.
				if err := disclosure.CheckManifest(manifest); err != nil {
					return haven.Errorf(haven.EINVALID, "--manifest: %v (nothing was written)", err)
				}
			}
			if !force {
				for _, f := range []string{out, audit} {
					if _, err := os.Lstat(f); err == nil {
						return haven.Errorf(haven.ECONFLICT, "%s already exists: choose another file name, or add --force to overwrite it", f)
					}
				}
			}
			data, err := os.ReadFile(in)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return haven.Errorf(haven.EINVALID, "cannot read %s: the file does not exist; give the path of a CSV file", in)
				}
				return haven.Errorf(haven.EINVALID, "cannot read %s: %v", in, err)
			}
			opts := disclosure.ControlOptions{Profile: p, Columns: columns, Threshold: threshold, Base: base, Token: token}
			result, entries, err := apply(data, opts, mode)
			if err != nil {
				var pe *disclosure.ParseError
				if errors.As(err, &pe) && pe.Hint != "" {
					return haven.Errorf(haven.EINVALID, "%s: %v; %s", in, err, pe.Hint)
				}
				if mode == disclosure.ProtectNextSmallest && errors.Is(err, disclosure.ErrNoSafeTable) {
					// Next-smallest protects each line on its own; cells
					// recovered across crossing totals need complementary.
					return haven.Errorf(haven.EINVALID, "%s: %v (next-smallest protects each row and column on its own: --mode complementary also protects cells that crossing totals reveal)", in, err)
				}
				return haven.Errorf(haven.EINVALID, "%s: %v", in, err)
			}
			if err := disclosure.WriteFileAtomic(audit, disclosure.AuditCSV(entries)); err != nil {
				return haven.Errorf(haven.EINVALID, "cannot write the audit log: %v", err)
			}
			if err := disclosure.WriteFileAtomic(out, result); err != nil {
				return haven.Errorf(haven.EINVALID, "cannot write %s: %v", out, err)
			}
			cells := 0
			for _, e := range entries {
				if e.Row > 0 {
					cells++
				}
			}
			noun := "cells"
			if cells == 1 {
				noun = "cell"
			}
			fmt.Fprintf(a.stdout, "wrote %s: %d %s changed (audit: %s)\n", out, cells, noun, audit)
			if manifest == "" {
				return nil
			}
			controls := disclosure.DeclaredControls(name, p, opts, mode)
			key, err := manifestKey(out)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "wrote %s but did not update the manifest %s: %v", out, manifest, err)
			}
			from, err := disclosure.UpdateManifest(manifest, key, controls, disclosure.RenamedColumns(entries))
			if err != nil {
				return haven.Errorf(haven.EINVALID, "wrote %s but did not update the manifest %s: %v; fix it, then run the command again with --force", out, manifest, err)
			}
			fmt.Fprintf(a.stdout, "declared %s in %s: controls %s", key, manifest, controls)
			if from != "" {
				fmt.Fprintf(a.stdout, " (its other fields copied from the entry %s, which matched it before)", from)
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "opensafely", "disclosure profile: opensafely, acro, sdap, ukllc, or a YAML file")
	f.StringSliceVar(&columns, "columns", nil, "the count columns to treat, comma-separated (default every count column)")
	if fl.threshold {
		f.IntVar(&threshold, "threshold", 0, "redact counts at or below `N` (default the profile's T, min_count - 1)")
	}
	if fl.base {
		f.IntVar(&base, "base", 0, "round to the nearest `N` (default the profile's rounding base)")
	}
	if fl.token {
		f.StringVar(&token, "token", "", "the `text` that replaces a redacted cell (default the profile's redaction_token)")
	}
	if fl.mode {
		f.StringVar(&mode, "mode", "", "recompute-totals, complementary or next-smallest (default recompute-totals when the profile requires rounding, else complementary)")
	}
	f.StringVar(&audit, "audit", "", "write the audit log to `FILE` (default OUT.audit.csv)")
	f.BoolVar(&force, "force", false, "overwrite OUT and the audit log if they exist")
	f.StringVar(&manifest, "manifest", "", "record the controls applied in the context `FILE` (YAML, as check --context reads; created if missing)")
	return cmd
}

// sameFile reports whether two paths name one file: the same cleaned
// absolute path, or the same existing file.
func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 == nil && err2 == nil && aa == bb {
		return true
	}
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}

// suggestOut proposes an output name beside the input.
func suggestOut(in, control string) string {
	ext := filepath.Ext(in)
	return in[:len(in)-len(ext)] + "_" + control + ext
}

// manifestKey is OUT's path as 'haven outputs check' and 'bundle' name it:
// cleaned and slash-separated, relative to the current folder when an
// absolute path lies under it.
func manifestKey(out string) (string, error) {
	p := filepath.Clean(out)
	if filepath.IsAbs(p) {
		cwd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("cannot find the current folder: %v", err)
		}
		if rel, err := filepath.Rel(cwd, p); err == nil && filepath.IsLocal(rel) {
			p = rel
		}
	}
	return filepath.ToSlash(p), nil
}
