package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/gen"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/gctune"
	"github.com/spf13/cobra"
)

func (a *app) dataGenerateCommand() *cobra.Command {
	var o gen.RunOptions
	var metadata, format, shard, rulesFile string
	var unreviewed, progress, asJSON bool
	var rows int64
	cmd := &cobra.Command{
		Use:   "generate --metadata META.json --rows N --output FILE [flags]",
		Short: "Generate artificial rows from approved metadata",
		Long: `Generate samples every field of a table from its approved metadata and
writes exactly --rows rows. It never reads record-level data: its only
input is the metadata.

The same metadata and seed give the same bytes, whatever the number of
workers or machines. --shard i/n writes the i-th of n parts: CSV and csv.gz
parts concatenate (cat) to the unsharded file, and 'haven data merge' joins
Parquet and Arrow parts into it. A manifest (OUTPUT.manifest.json) records
the seed, the metadata's SHA-256, the reviewer and the output's SHA-256.

Metadata must be approved ('haven data review --approve'); --unreviewed
generates from unapproved metadata and marks the output so.

Exit codes:
  0  written
  1  invalid input (unapproved or changed metadata, bad rules)
  2  usage error
  3  internal error`,
		Example: `  haven data generate --metadata apc.json --rows 1000000 --output apc.csv
  haven data generate --metadata apc.json --rows 10000000 --seed trial --format parquet --output apc.parquet
  haven data generate --metadata apc.json --rows 10000000 --shard 1/4 --output apc.part1.csv.gz`,
		Args:   cobra.NoArgs,
		PreRun: func(*cobra.Command, []string) { gctune.ForStreamingCommand() },
		RunE: func(cmd *cobra.Command, _ []string) error {
			if metadata == "" || o.Output == "" || !cmd.Flags().Changed("rows") {
				return usageError{fmt.Errorf("--metadata, --rows and --output are required")}
			}
			if rows < 0 {
				return usageError{fmt.Errorf("--rows %d: give a number of rows, 0 or more", rows)}
			}
			o.Rows = uint64(rows)
			var err error
			if o.Shard, o.Shards, err = gen.ParseShard(shard); err != nil {
				return usageError{err}
			}
			if format == "" {
				if o.Format = frame.FormatOf(o.Output); o.Format == "" {
					return usageError{fmt.Errorf("cannot tell the format of %s from its name: pass --format csv, csv.gz, parquet or arrow", o.Output)}
				}
			} else if o.Format, err = frame.ParseFormat(format); err != nil {
				return usageError{err}
			}
			rel, err := meta.OpenRelease(metadata, unreviewed)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			if !rel.Reviewed() {
				fmt.Fprintf(a.stderr, "haven: warning: %s is not approved (or changed since it was); the output is marked unreviewed\n", metadata)
			}
			if rulesFile != "" {
				if o.Rules, err = gen.LoadRules(rulesFile); err != nil {
					return haven.Errorf(haven.EINVALID, "%v", err)
				}
			}
			o.HavenVersion = buildVersion()
			var bar *progressBar
			if progress || isTerminal(a.stderr) {
				bar = newProgressBar(a.stderr, isTerminal(a.stderr))
				o.Progress = bar.update
			}
			m, err := gen.Generate(cmd.Context(), rel, o)
			if bar != nil {
				bar.finish()
			}
			if err != nil {
				return haven.Errorf(haven.EINVALID, "%s: %v", metadata, err)
			}
			for _, n := range m.Notes {
				fmt.Fprintf(a.stderr, "haven: note: %s\n", n)
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			reviewed := "approved by " + m.Reviewer
			if !m.Reviewed {
				reviewed = "UNREVIEWED metadata"
			}
			fmt.Fprintf(a.stdout, "wrote %s: %s rows (shard %s of %s), %s, table %s, seed %q, %s\n",
				o.Output, commas(m.ShardRows), m.Shard, commas(m.Rows), byteSize(m.OutputBytes), m.Table, m.Seed, reviewed)
			fmt.Fprintf(a.stdout, "  sha256 %s\n  %.2f s, %s rows/s, peak memory %s; manifest %s\n",
				m.OutputSHA256, m.WallSeconds, commas(uint64(m.RowsPerSecond)), byteSize(m.PeakRSSBytes), gen.ManifestPath(o.Output))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&metadata, "metadata", "", "approved metadata file (from 'haven data scrape')")
	f.Int64Var(&rows, "rows", 0, "number of rows to generate, exactly")
	f.StringVar(&o.Seed, "seed", gen.DefaultSeed, "seed: the same seed gives the same bytes")
	f.StringVar(&shard, "shard", "", "write part i of n (i/n, from 0/n to n-1/n)")
	f.StringVar(&o.Output, "output", "", "output file")
	f.StringVar(&format, "format", "", "csv, csv.gz, parquet or arrow (default: from the output's name)")
	f.StringVar(&o.Table, "table", "", "table to generate, when the metadata has several")
	f.StringVar(&rulesFile, "rules", "", "postprocessing rules file (YAML or JSON), applied after the metadata's own")
	f.StringVar(&o.IDPrefix, "id-prefix", gen.DefaultIDPrefix, "reserved prefix every generated string identifier must start with")
	f.IntVar(&o.Workers, "workers", 0, "goroutines generating blocks (default: the number of CPUs)")
	f.BoolVar(&unreviewed, "unreviewed", false, "generate from metadata no one approved (the output is marked so)")
	f.BoolVar(&progress, "progress", false, "show progress even when stderr is not a terminal")
	f.BoolVar(&asJSON, "json", false, "print the run manifest as JSON")
	return cmd
}

func (a *app) dataMergeCommand() *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "merge --output FILE PART...",
		Short: "Join shards of 'haven data generate --shard' into one file",
		Long: `Merge joins the parts written with --shard 0/n ... n-1/n, given in shard
order, into the file an unsharded run writes, byte for byte. CSV and csv.gz
parts are concatenated; Parquet and Arrow parts are rewritten under one
footer.

Exit codes:
  0  merged
  1  a part is missing, out of order or from another run
  2  usage error
  3  internal error`,
		Example: `  haven data merge --output apc.parquet apc.0.parquet apc.1.parquet apc.2.parquet apc.3.parquet`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, parts []string) error {
			if output == "" {
				return usageError{fmt.Errorf("--output is required")}
			}
			f := frame.FormatOf(output)
			if format != "" {
				var err error
				if f, err = frame.ParseFormat(format); err != nil {
					return usageError{err}
				}
			}
			if f == "" {
				return usageError{fmt.Errorf("cannot tell the format of %s from its name: pass --format", output)}
			}
			for _, p := range parts {
				if pf := frame.FormatOf(p); pf != "" && pf != f {
					return haven.Errorf(haven.EINVALID, "%s is %s, but the output is %s: merge parts of one format", p, pf, f)
				}
			}
			if err := gen.CheckParts(parts); err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			if err := frame.MergeFile(output, f, parts); err != nil {
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			fmt.Fprintf(a.stdout, "merged %d parts into %s\n", len(parts), output)
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", "", "merged file")
	cmd.Flags().StringVar(&format, "format", "", "format (default: from the output's name)")
	return cmd
}

// progressBar shows rows done on a terminal, redrawn in place at most ten
// times a second; off a terminal (--progress) it prints a line per 10%.
type progressBar struct {
	mu       sync.Mutex
	w        io.Writer
	live     bool
	start    time.Time
	last     time.Time
	lastTen  uint64
	drawn    bool
	finished bool
}

func newProgressBar(w io.Writer, live bool) *progressBar {
	return &progressBar{w: w, live: live, start: time.Now()}
}

func (p *progressBar) update(done, total uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.live {
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last = now
		const width = 30
		filled := width
		pct := 100.0
		if total > 0 {
			filled = int(done * width / total)
			pct = float64(done) * 100 / float64(total)
		}
		rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f%% %s/%s rows, %s rows/s ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, commas(done), commas(total), commas(uint64(rate)))
		p.drawn = true
		return
	}
	if total == 0 {
		return
	}
	if ten := done * 10 / total; ten > p.lastTen || done == total {
		p.lastTen = ten
		fmt.Fprintf(p.w, "haven: %s of %s rows (%d%%)\n", commas(done), commas(total), done*100/total)
	}
}

func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && p.drawn && !p.finished {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.finished = true
}

// commas writes n with thousands separators.
func commas(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// byteSize writes a size in B, KB, MB or GB (powers of 1,000).
func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
