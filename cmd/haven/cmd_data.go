package main

import "github.com/spf13/cobra"

// dataCommand is `haven data …`: artificial data from disclosure-controlled
// metadata (scrape, review, generate, compare, merge).
func (a *app) dataCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Make artificial data: scrape metadata, review it, generate and compare",
		Long: `Data makes artificial data that looks like a real table (same columns,
types, formats and plausible values) but carries no record-level
information.

  1. scrape    reads real tables inside the secure zone and writes
               disclosure-controlled metadata only
  2. review    checks the metadata, writes an HTML report for a person, and
               records their approval
  3. generate  samples rows from approved metadata, reproducibly and in
               shards
  4. compare   measures how close generated data is to the metadata

See docs/artificial-data.md.`,
	}
	for _, c := range []*cobra.Command{
		a.dataScrapeCommand(),
		a.dataReviewCommand(),
		a.dataGenerateCommand(),
		a.dataMergeCommand(),
		a.dataCompareCommand(),
	} {
		c.RunE = runE(c.RunE)
		cmd.AddCommand(c)
	}
	return cmd
}
