package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/compare"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/spf13/cobra"
)

func (a *app) dataCompareCommand() *cobra.Command {
	var metadata, input, table string
	var asJSON bool
	th := compare.DefaultThresholds
	cmd := &cobra.Command{
		Use:   "compare --metadata META.json --input GENERATED [flags]",
		Short: "Measure how close generated data is to its metadata",
		Long: `Compare reads a generated file (CSV, csv.gz, Parquet or Arrow) and
measures each field against the metadata it was generated from:

  frequency tables  total variation distance (TVD) of the value shares
  dates, datetimes  TVD over the date bins and Kolmogorov-Smirnov (KS)
                    distance against the bins spread evenly over their days;
                    TVD of the hour of day
  continuous        KS distance against the cut-points' distribution
  free text         TVD of the lengths
  identifiers       every value distinct and starting with the reserved
                    prefix; rows per entity (TVD) for a relationship's key

and every field's null share against null_n / rows_n. It also looks for
values that look like NHS numbers, postcodes, e-mail addresses or phone
numbers the metadata does not hold. A field is close when every measure
is within its threshold; the thresholds suit files of 10,000 rows or more.
The metadata need not be approved.

Exit codes:
  0  every field close
  1  a field far, a column missing, or invalid input
  2  usage error
  3  internal error`,
		Example: `  haven data compare --metadata apc.json --input apc.csv
  haven data compare --metadata hes.json --table apc --input apc.parquet --json
  haven data compare --metadata apc.json --input apc.csv.gz --max-tvd 0.05 --max-ks 0.05`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if metadata == "" || input == "" {
				return usageError{fmt.Errorf("--metadata and --input are required")}
			}
			for _, f := range []struct {
				name string
				v    float64
			}{{"max-tvd", th.MaxTVD}, {"max-ks", th.MaxKS}, {"max-null-diff", th.MaxNullDiff}} {
				if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
					return usageError{fmt.Errorf("--%s %v: give a number from 0 to 1", f.name, f.v)}
				}
			}
			doc, raw, err := meta.Load(metadata)
			var pe *fs.PathError
			switch {
			case errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist):
				return haven.Errorf(haven.EINVALID, "%s: no such metadata file: check the path (metadata is written by 'haven data scrape')", metadata)
			case errors.As(err, &pe):
				return &haven.Error{Code: haven.EINVALID, Message: "cannot read the metadata file " + metadata, Err: pe.Err}
			case err != nil:
				return haven.Errorf(haven.EINVALID, "%v", err)
			}
			rep, err := compare.Compare(doc, table, input, compare.Options{Thresholds: &th})
			if err != nil {
				return err
			}
			rep.Metadata, rep.MetadataSHA256 = metadata, meta.SHA256(raw)
			if asJSON {
				err = rep.WriteJSON(a.stdout)
			} else {
				err = rep.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if rep.Verdict != compare.Close {
				return exitError{exitInvalid}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&metadata, "metadata", "", "metadata file the data was generated from")
	f.StringVar(&input, "input", "", "generated file: .csv, .csv.gz, .parquet, .arrow or .feather")
	f.StringVar(&table, "table", "", "table of the metadata to compare with (default: the only one, or the one the file is named after)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (schema haven.artificial.compare/v1)")
	f.Float64Var(&th.MaxTVD, "max-tvd", th.MaxTVD, "largest total variation distance of a close field")
	f.Float64Var(&th.MaxKS, "max-ks", th.MaxKS, "largest Kolmogorov-Smirnov distance of a close field")
	f.Float64Var(&th.MaxNullDiff, "max-null-diff", th.MaxNullDiff, "largest difference of null shares of a close field")
	return cmd
}
