package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/scrape"
	"github.com/spf13/cobra"
)

// dataScrapeCommand is `haven data scrape`: real tables in, metadata out.
func (a *app) dataScrapeCommand() *cobra.Command {
	var (
		inputs, rels      []string
		ids, exclude      []string
		output, dataset   string
		threshold, rounds int64
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "scrape --input FILE [--input FILE...] --output META.json [flags]",
		Short: "Read real tables and write disclosure-controlled metadata",
		Long: `Scrape reads real tables inside the secure zone, one pass over each file,
and writes metadata: each column's type and aggregates only, never a
record. Every count is disclosure-controlled: a raw count below the
threshold k (--threshold) is dropped, and the rest are rounded to the
nearest multiple of --rounding.

Inputs are CSV (.csv, or gzip-compressed .csv.gz / .gz), Parquet (.parquet)
and Arrow IPC / Feather v2 (.arrow, .feather). Each becomes one table,
named after its file (patients.csv.gz is table patients). A CSV needs a
header row; cells that are empty or NA, NULL, null or NaN are nulls.

Types are inferred from the values: boolean, integer and float (a
frequency table with up to 100 distinct values, percentile cut-points
beyond), date and datetime (coarsened date bins), categorical (up to
5,000 distinct values), free text (its shape only) and identifier
(a pattern for making new ones; no value is ever kept). Columns named in
--id-columns, and columns named like known identifiers (patient_id,
nhs_number, pseudo_hesid, epikey, ...), are always identifiers.

--relationship PARENT:CHILD records, for each table holding the column
PARENT, how many rows each PARENT value (an entity, such as a patient)
has, as a top-coded histogram; PARENT becomes the table's entity key and
CHILD, when given and present, its row key.

The metadata must be reviewed before release: see 'haven data review'.
See docs/artificial-data-scrape.md.

Exit codes:
  0  the metadata was written
  1  invalid input: an unreadable or malformed file, an unknown column
  2  usage error
  3  internal error`,
		Example: `  haven data scrape --input apc.csv.gz --output apc.json
  haven data scrape --input patients.parquet --input events.parquet \
      --relationship patient_id:event_id --output cohort.json --dataset cohort
  haven data scrape --input apc.csv --id-columns HESID,EPIKEY --threshold 8 --output apc.json --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q: give input files with --input FILE", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(inputs) == 0 {
				return usageError{errors.New("no input: give at least one --input FILE (.csv, .csv.gz, .parquet, .arrow or .feather)")}
			}
			if output == "" {
				return usageError{errors.New("no output: give --output META.json")}
			}
			if threshold < 1 {
				return usageError{fmt.Errorf("--threshold %d: give a whole number of at least 1 (5 is NHS Digital's default, 8 OpenSAFELY's)", threshold)}
			}
			if rounds < 1 {
				return usageError{fmt.Errorf("--rounding %d: give a whole number of at least 1 (1 means no rounding; 5 is the default)", rounds)}
			}
			opts := scrape.Options{
				Inputs: inputs, IDColumns: scrapeList(ids), Exclude: scrapeList(exclude),
				MinCount: threshold, RoundBase: rounds, Dataset: dataset, HavenVersion: buildVersion(),
			}
			for _, r := range rels {
				rel, err := scrape.ParseRelationship(r)
				if err != nil {
					return usageError{fmt.Errorf("--relationship: %v", err)}
				}
				opts.Relationships = append(opts.Relationships, rel)
			}
			outAbs, _ := filepath.Abs(output)
			for _, in := range inputs {
				if inAbs, _ := filepath.Abs(in); inAbs == outAbs {
					return usageError{fmt.Errorf("--output %s is also an input: write the metadata to another file", output)}
				}
			}
			if fi, err := os.Stat(filepath.Dir(outAbs)); err != nil || !fi.IsDir() {
				return haven.Errorf(haven.EINVALID, "cannot write %s: the folder %s does not exist; create it first", output, filepath.Dir(output))
			}
			if fi, err := os.Stat(output); err == nil && fi.IsDir() {
				return haven.Errorf(haven.EINVALID, "cannot write %s: it is a folder; give a file name such as %s", output, filepath.Join(output, "metadata.json"))
			}
			var prog *scrapeProgress
			if isTerminal(a.stderr) && a.getenv("TERM") != "dumb" {
				prog = &scrapeProgress{w: a.stderr, now: time.Now}
				opts.Progress = prog.update
			}
			res, err := scrape.Run(cmd.Context(), opts)
			prog.finish()
			if err != nil {
				return err
			}
			raw, err := meta.WriteFile(output, res.Document)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					return &haven.Error{Code: haven.EINVALID, Message: "cannot write " + output, Err: pe.Err}
				}
				return err
			}
			if asJSON {
				return writeScrapeJSON(a.stdout, output, raw, res)
			}
			writeScrapeText(a.stdout, output, raw, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&inputs, "input", "i", nil, "a table to scrape: .csv, .csv.gz, .gz, .parquet, .arrow or .feather (repeat for more tables)")
	f.StringVarP(&output, "output", "o", "", "metadata file to write (JSON)")
	f.StringSliceVar(&ids, "id-columns", nil, "comma-separated columns that are identifiers: no value of theirs is kept")
	f.StringSliceVar(&exclude, "exclude", nil, "comma-separated columns left out of the metadata entirely")
	f.Int64Var(&threshold, "threshold", meta.DefaultSDC.MinCount, "k: counts below it are dropped")
	f.Int64Var(&rounds, "rounding", meta.DefaultSDC.RoundBase, "rounding base for the counts that remain")
	f.StringArrayVar(&rels, "relationship", nil, "PARENT:CHILD columns: rows per PARENT value, CHILD as the row key (PARENT: for none); repeatable")
	f.StringVar(&dataset, "dataset", "", "dataset name (default: the first table's name)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func scrapeList(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func writeScrapeText(w io.Writer, output string, raw []byte, res *scrape.Result) {
	d := res.Document
	fmt.Fprintf(w, "wrote %s: %s, dataset %s, k=%d, rounding %d, percentiles %s, sha256 %s\n",
		output, plural(len(d.Tables), "table"), d.Dataset, d.SDC.MinCount, d.SDC.RoundBase, d.Scrape.Percentiles, meta.SHA256(raw)[:12])
	for _, t := range res.Tables {
		fmt.Fprintf(w, "\ntable %s (%s): rows_n %d\n", t.Name, t.Input, t.RowsN)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  field\ttype\tnulls\tkept\tdropped\tdetail")
		for _, f := range t.Fields {
			fmt.Fprintf(tw, "  %s\t%s\t%.1f%%\t%d\t%d\t%s\n", f.Name, f.Type, 100*f.NullRate, f.Kept, f.Dropped, f.Detail)
		}
		tw.Flush()
		if mt := d.Table(t.Name); mt != nil {
			for _, r := range mt.Relationships {
				child := r.Child
				if child == "" {
					child = "(no row key)"
				}
				fmt.Fprintf(w, "  relationship %s -> %s: %s, top bin %d or more rows\n", r.Parent, child, plural(len(r.Cardinalities), "cardinality bin"), r.MaxChildren)
			}
		}
	}
	fmt.Fprintf(w, "\nReview the metadata before it leaves the secure zone: haven data review %s\n", output)
}

func writeScrapeJSON(w io.Writer, output string, raw []byte, res *scrape.Result) error {
	d := res.Document
	out := struct {
		Output      string                `json:"output"`
		SHA256      string                `json:"sha256"`
		Dataset     string                `json:"dataset"`
		SDC         meta.SDC              `json:"sdc"`
		Percentiles string                `json:"percentiles"`
		Tables      []scrape.TableSummary `json:"tables"`
	}{output, meta.SHA256(raw), d.Dataset, d.SDC, d.Scrape.Percentiles, res.Tables}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// scrapeProgress prints one progress line on a terminal, at most four
// times a second, and clears it at the end.
type scrapeProgress struct {
	w     io.Writer
	now   func() time.Time
	last  time.Time
	width int
}

func (p *scrapeProgress) update(pr scrape.Progress) {
	now := p.now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	pct := 0.0
	if pr.Total > 0 {
		pct = 100 * float64(pr.Done) / float64(pr.Total)
	}
	line := fmt.Sprintf("scraping %s: %s of %s (%.0f%%)", filepath.Base(pr.Input), scrapeBytes(pr.Done), scrapeBytes(pr.Total), pct)
	pad := ""
	if len(line) < p.width {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

func (p *scrapeProgress) finish() {
	if p == nil || p.width == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
}

func scrapeBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
