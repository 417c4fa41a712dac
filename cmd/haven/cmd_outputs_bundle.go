package main

import (
	"errors"
	"fmt"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/spf13/cobra"
)

// outputsBundleCommand is `haven outputs bundle`: copy the outputs to
// release into a folder with the checker's report and a release request
// form to complete.
func (a *app) outputsBundleCommand() *cobra.Command {
	var to, profile, contextFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "bundle --to DIR [flags] PATH...",
		Short: "Copy outputs into a release folder with a request form to complete",
		Long: `Bundle prepares a release request. It copies each output into the folder
given by --to, keeping its path (output/by_age.csv becomes
DIR/output/by_age.csv), byte for byte, and verifies each copy's SHA-256.
Then it checks the copies as 'haven outputs check' does and writes:

  request.md    the release form, for people: per file its path, sha256,
                size, verdict and findings, and the context the output
                checkers need (description, variables, population and its
                size, the model's degrees of freedom for regressions,
                related outputs, the disclosure controls applied)
  request.json  the same, for tools (schema haven.release.request/v1)
  check.json    the checker's report (schema haven.sdc.report/v1)

Context comes from --context (the same YAML file 'haven outputs check'
reads); fields it does not give are left empty, marked "(to fill in)".

Each PATH is a file, a folder (every file under it) or a glob pattern such
as 'output/*.csv' (quote it; haven expands it, and reports how many files
it matched, as the release form asks). Paths must be below the current
folder. Symbolic links are refused. The destination must be new or empty
(--force writes into a folder that is not, replacing files of the same
name), and may not be inside an input or hold one.

The bundle is written whatever the verdict, so the form can be completed.

Exit codes:
  0  every file PASS
  1  some file is REVIEW, ERROR or FAIL, or an input is wrong
  2  usage error
  3  internal error`,
		Example: `  haven outputs bundle --to release-2024-05-01 output/by_age.csv 'output/model_*.csv'
  haven outputs bundle --to release --context release.yaml output/tables/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if to == "" {
				return usageError{errors.New("--to is required: name the folder to write the bundle to, e.g. --to release")}
			}
			p, err := disclosure.LoadProfile(profile)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			opts := disclosure.Options{Profile: p}
			if contextFile != "" {
				if opts.Context, err = disclosure.LoadContext(contextFile); err != nil {
					return haven.Errorf(haven.EINVALID, "%v", err)
				}
			}
			b, err := disclosure.MakeBundle(args, disclosure.BundleOptions{To: to, Options: opts, Force: force, Version: buildVersion()})
			if err != nil {
				var he *haven.Error
				if errors.As(err, &he) {
					return err
				}
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write the bundle", Err: err}
			}
			for _, pc := range b.Patterns {
				fmt.Fprintln(a.stdout, pc)
			}
			files := "files"
			if len(b.Files) == 1 {
				files = "file"
			}
			fmt.Fprintf(a.stdout, "wrote %d %s to %s (%s, %s)\n", len(b.Files), files, b.Dir, disclosure.RequestMDName, disclosure.RequestJSONName)
			fmt.Fprintf(a.stdout, "Request verdict: %s\n", b.Report.RequestVerdict)
			if b.Report.RequestVerdict != disclosure.Pass {
				fmt.Fprintf(a.stdout, "Some files need attention: see the findings in %s.\n", disclosure.RequestMDName)
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the folder to write the bundle to (required; new or empty)")
	f.StringVar(&profile, "profile", "opensafely", "disclosure profile: opensafely, acro, sdap, ukllc, or a YAML file")
	f.StringVar(&contextFile, "context", "", "a YAML file describing the outputs (descriptions, variables, populations, models, controls)")
	f.BoolVar(&force, "force", false, "write into a destination folder that is not empty, replacing files of the same name")
	return cmd
}
