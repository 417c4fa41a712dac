package main

import (
	"fmt"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/spf13/cobra"
)

// outputsVerifyCommand is `haven outputs verify`: recompute the hashes of
// the files a check report or a release bundle lists, and say which
// changed since they were checked.
func (a *app) outputsVerifyCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--json] REPORT",
		Short: "Check that outputs are still the files that were checked",
		Long: `Verify recomputes the SHA-256 of every file a report lists and says, one
line per file, whether it is unchanged, changed (with the recorded and the
current hash), missing or unreadable since it was checked, then a summary.

REPORT is one of:

  a JSON report of 'haven outputs check --json'
      its paths are as given to check, so run verify from the same
      folder (absolute paths are used as they are)
  a release bundle's folder, or its request.json
      its paths are relative to the bundle folder, and must stay inside
      it: a path that is absolute or holds '..' makes the whole request
      invalid, and a symbolic link in the bundle is never followed

(A bundle's check.json names the files as they are inside the bundle:
give the bundle's folder instead.)

Exit codes:
  0  every file is unchanged
  1  some file changed, is missing, cannot be read, or was never checked
  2  usage error, or REPORT cannot be read or is not such a report
  3  internal error`,
		Example: `  haven outputs check --json output/ > check.json
  haven outputs verify check.json
  haven outputs verify release-2024-05-01
  haven outputs verify --json release-2024-05-01/request.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("verify takes one REPORT (a check report or a release bundle), got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			res, err := disclosure.Verify(args[0])
			if err != nil {
				// A REPORT that cannot be used is a mistake in what the
				// command was given: exit 2, without the generic usage
				// hint, which would not help.
				fmt.Fprintf(a.stderr, "haven: %v\n", err)
				return exitError{exitUsage}
			}
			if asJSON {
				err = res.WriteJSON(a.stdout)
			} else {
				err = res.WriteText(a.stdout)
			}
			if err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write the result", Err: err}
			}
			if !res.OK {
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the result as JSON (schema haven.outputs.verify/v1)")
	return cmd
}
