package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// measureLabels are the names a person reads.
var measureLabels = map[string]string{
	MeasureTVD:         "tvd",
	MeasureBinsTVD:     "tvd (bins)",
	MeasureKS:          "ks",
	MeasureHoursTVD:    "tvd (hours)",
	MeasureLengthsTVD:  "tvd (lengths)",
	MeasureDistinct:    "distinct share",
	MeasurePrefix:      "prefix share",
	MeasureCardinality: "tvd (rows/entity)",
}

func measureLabel(name string) string {
	if l, ok := measureLabels[name]; ok {
		return l
	}
	return name
}

func num4(x float64) string { return fmt.Sprintf("%.4f", x) }

func signed4(x float64) string {
	s := fmt.Sprintf("%+.4f", x)
	if s == "-0.0000" {
		s = "+0.0000"
	}
	return s
}

func limitText(m Measure) string {
	if m.Op == "info" {
		return "-"
	}
	return m.Op + " " + num4(m.Limit)
}

// commas writes n with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// WriteJSON writes the report as indented JSON (schema
// haven.artificial.compare/v1).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for a person: what was compared, one line
// per measure (field, type, measure, value, threshold, null difference,
// verdict), the columns, the pattern scan, and the verdict with its
// reasons. It uses no colour.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	meta := r.Metadata
	if meta == "" {
		meta = "the metadata"
	}
	fmt.Fprintf(&b, "compare %s (%s, %s rows) with table %s of %s (rows_n %s)\n",
		r.Input, r.Format, commas(r.Rows), r.Table, meta, commas(r.MetadataRows))
	th := r.Thresholds
	fmt.Fprintf(&b, "thresholds: tvd <= %s, ks <= %s, |null diff| <= %s\n\n", num4(th.MaxTVD), num4(th.MaxKS), num4(th.MaxNullDiff))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tMEASURE\tVALUE\tLIMIT\tNULL DIFF\tVERDICT")
	for _, f := range r.Fields {
		if !f.Present {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\n", f.Name, f.Type, f.Verdict)
			continue
		}
		if len(f.Measures) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t(nulls only)\t-\t-\t%s\t%s\n", f.Name, f.Type, signed4(f.NullDiff), f.Verdict)
			continue
		}
		for i, m := range f.Measures {
			label := measureLabel(m.Name)
			if m.Sampled {
				label += " (sample)"
			}
			value := num4(m.Value)
			if m.Resolution > 0 {
				value += " ±" + num4(m.Resolution)
			}
			if !m.OK {
				value += " !"
			}
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, label, value, limitText(m), signed4(f.NullDiff), f.Verdict)
			} else {
				fmt.Fprintf(tw, "\t\t%s\t%s\t%s\t\t\n", label, value, limitText(m))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	c := r.Columns
	fmt.Fprintf(&b, "\ncolumns: %d expected, %d in the file", len(c.Expected), len(c.Present))
	if len(c.Missing) > 0 {
		fmt.Fprintf(&b, "; missing: %s", strings.Join(c.Missing, ", "))
	}
	var derived, unknown []string
	for _, e := range c.Extra {
		if e.Kind == ExtraDerived {
			derived = append(derived, e.Name)
		} else {
			unknown = append(unknown, e.Name)
		}
	}
	if len(derived) > 0 {
		fmt.Fprintf(&b, "; extra (derived): %s", strings.Join(derived, ", "))
	}
	if len(unknown) > 0 {
		fmt.Fprintf(&b, "; extra (not in the metadata): %s", strings.Join(unknown, ", "))
	}
	b.WriteString("\n")
	if len(r.Patterns) == 0 {
		b.WriteString("identifier-like values (NHS numbers, postcodes, e-mail addresses, phone numbers) not in the metadata: none\n")
	} else {
		for _, h := range r.Patterns {
			fmt.Fprintf(&b, "identifier-like values in %s: %s\n", h.Column, h.message())
		}
	}
	for _, f := range r.Fields {
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "note: %s: %s\n", f.Name, n)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	close := 0
	for _, f := range r.Fields {
		if f.Verdict == Close {
			close++
		}
	}
	if r.Verdict == Close {
		fmt.Fprintf(&b, "\nverdict: close (%d of %d fields close)\n", close, len(r.Fields))
	} else {
		fmt.Fprintf(&b, "\nverdict: far (%d of %d fields close)\n", close, len(r.Fields))
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
