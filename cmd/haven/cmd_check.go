package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// checkJSON is the shape of `haven check --json`.
type checkJSON struct {
	Valid    bool          `json:"valid"`
	Version  *float64      `json:"version"`
	Actions  []string      `json:"actions"`
	Problems []problemJSON `json:"problems"`
}

type problemJSON struct {
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Message  string `json:"message"`
}

func (a *app) checkCommand() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check project.yaml for mistakes",
		Long: `Check reads project.yaml and reports every problem in it at once, each with
its file:line:column, a rule code and a hint on how to fix it. It accepts
exactly the projects OpenSAFELY accepts, and also rejects dependency cycles,
'..' in output paths, unbalanced quotes and versions outside 1 to 5.

Exit status is 0 when the project is valid (warnings allowed), 1 when it has
errors, 2 for a usage mistake.`,
		Example: `  haven check
  haven check --project-dir examples/flucats
  haven check --json | jq '.problems[] | select(.severity == "error")'`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{shortLived: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := loadProject(dir)
			if err != nil {
				return err
			}
			if asJSON {
				out := checkJSON{Valid: r.Valid(), Actions: r.Actions, Problems: []problemJSON{}}
				if out.Actions == nil {
					out.Actions = []string{}
				}
				if r.Version != 0 {
					v := r.Version
					out.Version = &v
				}
				for _, p := range r.Problems {
					out.Problems = append(out.Problems, problemJSON{
						Severity: string(p.Severity), Rule: p.Rule, File: p.File,
						Line: p.Line, Column: p.Column, Message: p.Message,
					})
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				c := newColours(a.stdout, a.getenv)
				writeProblems(a.stdout, c, r.Problems)
				nerr, nwarn := len(r.Problems.Errors()), len(r.Problems.Warnings())
				if r.Valid() {
					warn := ""
					if nwarn > 0 {
						warn = fmt.Sprintf(" (%s)", plural(nwarn, "warning"))
					}
					fmt.Fprintf(a.stdout, "%s is valid: version %s, %s%s\n", r.File, versionText(r.Version), plural(len(r.Actions), "action"), warn)
				} else {
					if len(r.Problems) > 0 {
						fmt.Fprintln(a.stdout)
					}
					fmt.Fprintf(a.stdout, "%s is invalid: %s, %s\n", r.File, plural(nerr, "error"), plural(nwarn, "warning"))
				}
			}
			if !r.Valid() {
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "project-dir", ".", "the folder that holds project.yaml")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func versionText(v float64) string {
	if v == float64(int(v)) {
		return fmt.Sprintf("%d", int(v))
	}
	return fmt.Sprintf("%g", v)
}
