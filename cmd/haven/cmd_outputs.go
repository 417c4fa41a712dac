package main

import (
	"fmt"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/haven-tre/haven/internal/gctune"
	"github.com/spf13/cobra"
)

// outputsCommand is `haven outputs …`: disclosure checks of research
// outputs and the tools that apply the controls.
func (a *app) outputsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outputs",
		Short: "Check research outputs for disclosure, and apply the controls",
		Long: `Outputs checks files a researcher wants released (CSV tables above all)
against a disclosure profile, and applies the controls that make them safe.

See docs/outputs.md for every rule, the profiles and the report format.`,
	}
	subs := append([]*cobra.Command{a.outputsCheckCommand(), a.outputsBundleCommand(), a.outputsStripHTMLCommand(), a.outputsVerifyCommand()}, a.outputsControlCommands()...)
	for _, c := range subs {
		c.RunE = runE(c.RunE)
		// Each reads its inputs, writes a result and exits: tune the
		// collector for that (internal/gctune).
		c.PreRun = func(*cobra.Command, []string) { gctune.ForBatchCommand() }
		cmd.AddCommand(c)
	}
	return cmd
}

func (a *app) outputsCheckCommand() *cobra.Command {
	var profile, contextFile string
	var asJSON, asMarkdown, ignoreLimits bool
	cmd := &cobra.Command{
		Use:   "check [flags] PATH...",
		Short: "Give every output file a verdict: PASS, REVIEW, ERROR or FAIL",
		Long: `Check reads each file (folders are walked) and applies the disclosure
rules of the profile: file types and sizes, identifiers, small counts,
rounding, totals that reveal redacted cells, rates without counts,
magnitudes, models. Every finding names its rule, the cell (row and
column), the evidence and how to fix it. The request's verdict is the
worst file verdict.

Profiles: opensafely (default), acro (alias sdap), ukllc, or a YAML file.

Exit codes:
  0  every file PASS
  1  some file is REVIEW, ERROR or FAIL
  2  usage error
  3  internal error`,
		Example: `  haven outputs check output/
  haven outputs check --profile acro --markdown tables/*.csv > report.md
  haven outputs check --context release.yaml --json output/ > report.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if asJSON && asMarkdown {
				return usageError{fmt.Errorf("--json and --markdown cannot be used together: choose one")}
			}
			p, err := disclosure.LoadProfile(profile)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			opts := disclosure.Options{Profile: p, IgnoreLimits: ignoreLimits}
			if contextFile != "" {
				if opts.Context, err = disclosure.LoadContext(contextFile); err != nil {
					return haven.Errorf(haven.EINVALID, "%v", err)
				}
			}
			inputs, err := disclosure.Expand(args)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%v; give files or folders that exist", err)
			}
			if len(inputs) == 0 {
				return haven.Errorf(haven.EINVALID, "no files found in %s", strings.Join(args, ", "))
			}
			report := disclosure.Check(inputs, opts, buildVersion())
			switch {
			case asJSON:
				err = report.WriteJSON(a.stdout)
			case asMarkdown:
				err = report.WriteMarkdown(a.stdout)
			default:
				err = report.WriteText(a.stdout)
			}
			if err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write the report", Err: err}
			}
			if report.RequestVerdict != disclosure.Pass {
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "opensafely", "disclosure profile: opensafely, acro, sdap, ukllc, or a YAML file")
	f.StringVar(&contextFile, "context", "", "a YAML file describing the outputs (descriptions, populations, models, column classes, exceptions)")
	f.BoolVar(&asJSON, "json", false, "write the report as JSON (schema haven.sdc.report/v1)")
	f.BoolVar(&asMarkdown, "markdown", false, "write the report as Markdown")
	f.BoolVar(&ignoreLimits, "ignore-limits", false, "skip the size and row limits (F2a, F2b)")
	return cmd
}
