package meta

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a person: a header, one line per check
// (id, verdict, title, what it examined and how many findings), one line
// per finding, and a closing line that says what to do next.
func (r *ReviewReport) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	name := r.Metadata
	if name == "" {
		name = "metadata"
	}
	fmt.Fprintf(b, "review of %s (dataset %s)\n", name, showValue(r.Dataset))
	if r.MetadataSHA256 != "" {
		fmt.Fprintf(b, "sha256 %s\n", r.MetadataSHA256)
	}
	t := r.Thresholds
	fmt.Fprintf(b, "thresholds: min count %d, round base %d (the scrape's: %d, %d)\n\n",
		t.MinCount, t.RoundBase, t.ScrapeMinCount, t.ScrapeRoundBase)
	for _, c := range r.Checks {
		fmt.Fprintf(b, "%-5s %-7s %s (%s)\n", c.ID, c.Verdict, c.Title, checkCounts(c))
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(b, "%-7s %-5s %s: %s", f.Verdict, f.Rule, f.Location, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(b, ". Fix: %s", f.Hint)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + r.Summary() + "\n")
	return b.Flush()
}

func checkCounts(c CheckResult) string {
	s := fmt.Sprintf("%d %s", c.Checked, c.Unit)
	var parts []string
	for _, p := range []struct {
		n int
		v Verdict
	}{{c.Fail, VerdictFail}, {c.Error, VerdictError}, {c.Review, VerdictReview}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.v))
		}
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

// Summary is the report's closing line: the verdict and what to do next.
func (r *ReviewReport) Summary() string {
	c := r.Counts
	switch {
	case r.Verdict.Blocks():
		ids := r.blockingRules()
		return fmt.Sprintf("%s: %d FAIL, %d ERROR and %d REVIEW findings (%s); the metadata cannot be approved until the FAIL and ERROR findings are fixed",
			r.Verdict, c.Fail, c.Error, c.Review, strings.Join(ids, ", "))
	case r.Verdict == VerdictReview:
		return fmt.Sprintf("REVIEW: no FAIL; %d REVIEW findings need a person's judgement, and approving (--approve --reviewer NAME) acknowledges them", c.Review)
	}
	return "PASS: no findings; approve with --approve --reviewer NAME"
}

// blockingRules lists the ids of the checks with FAIL or ERROR findings.
func (r *ReviewReport) blockingRules() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Verdict.Blocks() {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// WriteJSON writes the report as indented JSON (schema
// haven.artificial.review/v1).
func (r *ReviewReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
