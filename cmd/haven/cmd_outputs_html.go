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

// outputsStripHTMLCommand is `haven outputs strip-html IN OUT`.
func (a *app) outputsStripHTMLCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "strip-html [flags] IN OUT",
		Short: "Remove scripts, styles, event handlers and embedded files from an HTML output",
		Long: `Strip-html parses an HTML (or SVG) output with an HTML5 parser and writes a
copy without <script>, <style>, stylesheet links, frames, objects and
embeds, without on… event handlers, style attributes and javascript: URLs.
Each embedded data: URI is moved to its own file beside OUT, named by its
SHA-256, so that every embedded output can be requested on its own; the
HTML then refers to it by that name. Text, headings, tables and relative
images are kept. The same input always gives the same bytes.

Exit codes:
  0  written
  1  bad input (not UTF-8, OUT exists without --force)
  2  usage error
  3  internal error`,
		Example: `  haven outputs strip-html output/report.html release/report.html`,
		Args:    cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			in, out := args[0], args[1]
			if ai, err := filepath.Abs(in); err == nil {
				if ao, err := filepath.Abs(out); err == nil && ai == ao {
					return usageError{fmt.Errorf("IN and OUT are the same file (%s): write the stripped copy elsewhere", in)}
				}
			}
			data, err := os.ReadFile(in)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "cannot read %s: %v", in, err)
			}
			res, err := disclosure.StripHTML(data)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%s: %v", in, err)
			}
			dir := filepath.Dir(out)
			targets := []string{out}
			for _, p := range res.Payloads {
				targets = append(targets, filepath.Join(dir, p.Name))
			}
			if !force {
				for _, t := range targets {
					if _, err := os.Lstat(t); err == nil {
						return haven.Errorf(haven.EINVALID, "%s already exists: choose another OUT or pass --force", t)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return haven.Errorf(haven.EINVALID, "%v", err)
					}
				}
			}
			for _, p := range res.Payloads {
				if err := disclosure.WriteFileAtomic(filepath.Join(dir, p.Name), p.Data); err != nil {
					return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write " + p.Name, Err: err}
				}
			}
			if err := disclosure.WriteFileAtomic(out, res.HTML); err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write " + out, Err: err}
			}
			for _, line := range res.Removed {
				fmt.Fprintln(a.stdout, line)
			}
			fmt.Fprintf(a.stdout, "wrote %s (%d embedded file(s) moved beside it)\n", out, len(res.Payloads))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace OUT and payload files that already exist")
	return cmd
}
