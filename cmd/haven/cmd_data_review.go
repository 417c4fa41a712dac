package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/spf13/cobra"
)

// dataReviewCommand is `haven data review`: the automated checks on
// metadata, an HTML report for the person reviewing it, and their
// approval.
func (a *app) dataReviewCommand() *cobra.Command {
	var (
		asJSON, approve             bool
		htmlPath, reviewer, confirm string
		opts                        meta.ReviewOptions
	)
	cmd := &cobra.Command{
		Use:   "review [flags] META.json",
		Short: "Check metadata, report on it, and record a reviewer's approval",
		Long: `Review runs the automated disclosure checks (AM1-AM17) on a metadata file
written by 'haven data scrape' and prints one line per check, then one line
per finding (verdict, rule, table.field[value], what is wrong, and the fix).

  PASS    nothing found
  REVIEW  a person must look; approving acknowledges every REVIEW finding
  FAIL    a breach of disclosure control or of the metadata contract
  ERROR   the review could not be done as asked (such as thresholds below
          the scrape's)

--html writes a self-contained page (no script, nothing loaded from
elsewhere) with the checks and every field's distribution, for the person
reviewing.

--approve records that a reviewer approved these exact bytes: it reruns
the checks, refuses while any FAIL or ERROR remains, and otherwise writes
META.approval.json beside META.json (the file's SHA-256, the reviewer, the
time in UTC and the REVIEW findings acknowledged). 'haven data generate'
reads only approved metadata, and refuses metadata changed after its
approval. --confirm, when given, must be the first 12 hex digits of the
file's SHA-256, so that the approval is for the file you meant.

The thresholds default to the scrape's (the metadata's sdc block); a
review may be stricter, never laxer.

See docs/artificial-data-review.md.

Exit codes:
  0  no FAIL or ERROR (REVIEW findings are acknowledged by approving);
     with --approve, approved
  1  a FAIL or ERROR finding, an approval refused, or a metadata file that
     cannot be read
  2  usage error
  3  internal error`,
		Example: `  haven data review apc.json
  haven data review --html apc-review.html apc.json
  haven data review --json apc.json > apc-review.json
  haven data review --min-count 10 --round-base 10 apc.json
  haven data review --approve --reviewer "A. Reviewer" --confirm 0123456789ab apc.json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("review takes one metadata file, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			fl := cmd.Flags()
			if !approve && (fl.Changed("reviewer") || fl.Changed("confirm")) {
				return usageError{errors.New("--reviewer and --confirm go with --approve")}
			}
			if approve && !fl.Changed("reviewer") {
				return usageError{errors.New("--approve needs --reviewer NAME, the person approving")}
			}
			if approve {
				if err := meta.CheckReviewer(reviewer); err != nil {
					return usageError{errors.New(err.Error())} // a command-line mistake: exit 2
				}
			}
			for _, f := range []struct {
				name string
				v    int64
			}{{"min-count", opts.MinCount}, {"round-base", opts.RoundBase}, {"long-value", int64(opts.LongValue)}, {"rare-count", opts.RareCount}} {
				if fl.Changed(f.name) && f.v < 1 {
					return usageError{fmt.Errorf("--%s %d: give a number of at least 1", f.name, f.v)}
				}
			}
			if htmlPath != "" {
				h := filepath.Clean(htmlPath)
				if h == filepath.Clean(path) || h == filepath.Clean(meta.ApprovalPath(path)) {
					return usageError{fmt.Errorf("--html %s would overwrite the metadata or its approval: name another file", htmlPath)}
				}
			}

			doc, raw, err := meta.Load(path)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					return &haven.Error{Code: haven.EINVALID, Message: "cannot read the metadata file", Err: err}
				}
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			rep := meta.Review(doc, opts)
			rep.Metadata, rep.MetadataSHA256 = path, meta.SHA256(raw)

			var approveErr error
			var approvalFile string
			if approve {
				var ap *meta.Approval
				ap, approveErr = meta.NewApproval(path, raw, rep, meta.ApproveOptions{
					Reviewer: reviewer, Confirm: confirm, HavenVersion: buildVersion(),
				})
				if approveErr == nil {
					if approvalFile, err = meta.WriteApproval(path, ap); err != nil {
						return &haven.Error{Code: haven.EINTERNAL, Message: "cannot record the approval", Err: err}
					}
					rep.Approval = ap
				}
			}
			if htmlPath != "" {
				if err := meta.WriteHTMLFile(htmlPath, doc, rep); err != nil {
					return &haven.Error{Code: haven.EINVALID, Message: "cannot write the HTML report " + htmlPath, Err: err}
				}
			}

			if asJSON {
				err = rep.WriteJSON(a.stdout)
			} else {
				err = rep.WriteText(a.stdout)
			}
			if err != nil {
				return &haven.Error{Code: haven.EINTERNAL, Message: "cannot write the report", Err: err}
			}
			if !asJSON {
				if htmlPath != "" {
					fmt.Fprintf(a.stdout, "wrote the HTML report %s\n", htmlPath)
				}
				if ap := rep.Approval; ap != nil {
					fmt.Fprintf(a.stdout, "approved by %s at %s: %s, sha256 %s, %d REVIEW findings acknowledged; wrote %s\n",
						ap.Reviewer, ap.ApprovedAt, path, ap.MetadataSHA256, len(ap.Acknowledged), approvalFile)
				} else if desc, ok := meta.DescribeApproval(path, raw); ok && !approve {
					fmt.Fprintln(a.stdout, desc)
				}
			}
			if approveErr != nil {
				return approveErr
			}
			if rep.Verdict.Blocks() {
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "write the report as JSON (schema haven.artificial.review/v1)")
	f.StringVar(&htmlPath, "html", "", "also write a self-contained HTML report to `FILE`")
	f.Int64Var(&opts.MinCount, "min-count", 0, "review minimum count `k` (default: the metadata's sdc.min_count; never lower)")
	f.Int64Var(&opts.RoundBase, "round-base", 0, "review rounding `base` (default: the metadata's sdc.round_base; never lower)")
	f.IntVar(&opts.LongValue, "long-value", 5, "AM5 looks at values longer than `N` characters")
	f.Int64Var(&opts.RareCount, "rare-count", 100, "AM5 looks at values held by fewer than `N` records")
	f.BoolVar(&approve, "approve", false, "record the approval of the metadata (needs --reviewer; refused while any FAIL or ERROR remains)")
	f.StringVar(&reviewer, "reviewer", "", "the `NAME` of the person approving")
	f.StringVar(&confirm, "confirm", "", "the first 12 hex digits of the metadata's sha256 (`HEX12`), to approve only that file")
	return cmd
}
