// Package measures computes cohort-extractor measures: the work behind
// `cohortextractor generate_measures`, done natively over the extracts that
// `generate_cohort --index-date-range` wrote. Another package parses the
// dataset definition and the command line; this one finds the input files,
// computes every measure for every date, and writes the per-date and
// combined CSV files.
//
// # What upstream does
//
// The behaviour below was read from opensafely-core/cohort-extractor:
// cohortextractor/measure.py (class Measure), cohortextractor/cohortextractor.py
// (_generate_measures, _get_date_from_filename, _load_dataframe_for_measures,
// _combine_csv_files_with_dates), tests/test_measures.py and
// tests/test_smoketest.py, with pandas 1.4 and pyarrow 3 as pinned in its
// requirements.prod.txt. Where Haven differs, the difference is marked
// "Haven:".
//
// Input files. Upstream lists the output directory and keeps names matching
// input<suffix>…<date>.<ext>, where <date> is YYYY-MM-DD and <ext> is csv,
// csv.gz, feather, dta or dta.gz; anything may stand between the suffix and
// the date. Haven: the name must be exactly input<suffix>_<date>.<ext>,
// which is what generate_cohort writes. Upstream's looser pattern lets the
// default study definition (empty suffix) pick up every other definition's
// extracts too, and two files for one date then overwrite each other's
// measure file and repeat its rows in the combined file. Haven refuses two
// inputs for one date, refuses Stata files (it cannot read them), and
// reports an invalid date in a file name instead of failing on it.
// Parquet and .arrow files are not inputs, as upstream. When nothing
// matches, upstream only logs a warning; Haven returns an error naming the
// pattern and the directory.
//
// Loading. Upstream reads only the columns the measures use. From CSV,
// every column that any measure uses as a numerator or denominator is read
// as float64, even where another measure groups by it (its groups are then
// numbers, sorted numerically and written as floats); every other group-by
// column is read as a pandas category. pandas' default missing-value
// markers are switched off, so an empty group-by cell is the group "" (it
// is not dropped) and an empty numerator cell cannot be read as a number:
// the run fails. A numeric column whose every cell is True/False (or
// TRUE/FALSE, true/false) is read as 1.0/0.0, and text such as "nan" or
// "inf" as Python's float() reads it. Haven: every cell is parsed on its
// own (a number, one of those true/false words, nan or inf), and an empty
// or other cell is an error naming the file, line, column and value.
// From Feather (Arrow IPC) files columns keep their stored types: integers
// stay integers unless the column has a null (pandas then makes it
// float64), booleans stay booleans, dates and timestamps stay dates and
// timestamps. Haven: a text column used as a numerator is parsed as CSV
// text is; a date column as a numerator is an error; a boolean column with
// nulls is counted as a float column (upstream cannot sum it).
//
// population. After loading, upstream sets a column named population to
// 1 on every row (a file's own population column is never read). As a
// denominator it counts patients; as the only group (group_by ==
// ["population"]) every row falls into one group.
//
// Selecting and grouping. The measure's columns are numerator,
// denominator and the group-by columns, in that order, duplicates dropped.
// Then:
//
//   - no group_by: no grouping at all. The output has one row per patient,
//     in file order: numerator, denominator, value.
//   - group_by ["population"]: one row, every selected column summed
//     (population among them), so the columns are numerator, denominator,
//     population, value (population once if it is the denominator).
//   - otherwise: pandas groupby(group_by).sum(): the group-by columns in
//     their given order, then numerator, denominator, value. Groups are
//     sorted (categories sort as strings, so "10" before "9"; numbers
//     numerically). A row with a null key (a Feather null, or nan in a
//     numeric CSV column) is dropped. With two or more group-by columns of
//     which one is a category (any CSV text column), pandas 1.4
//     (observed=False) returns every combination of the columns' values,
//     in sorted order, and the combinations absent from the data have sums
//     of 0 (and value NaN).
//
// A numerator or denominator that is also a group-by column is an error,
// unless group_by is exactly ["population"].
//
// Sums. Floats are summed with Kahan compensation, in file order, skipping
// NaN, as pandas' groupby sum does. Integer and boolean columns sum to
// integers.
//
// Suppression (small_number_suppression=True), applied after grouping to
// the numerator column and then the denominator column (population
// included when it is the denominator), each on its own: values v with
// 0 < v <= 5 become NaN. If any were blanked, their total is 5 or less and
// the column holds values above 5, then every row holding the smallest
// value above 5 is blanked too (all of them, so that reordering the query
// cannot reveal one). Zeros and negative values are never blanked. Blanking
// turns an integer column into a float one (pandas upcasts), so its other
// values are written as floats. The value column is computed afterwards,
// so a blanked numerator or denominator blanks the value.
//
// value is numerator / denominator as floats: n/0 is inf (or -inf), 0/0
// and anything with NaN are NaN.
//
// Writing. Each measure_<id>_<date>.csv is pandas to_csv without the
// index: "\n" line ends; Python csv quoting (only fields holding a comma,
// quote or line break are quoted); integers in decimal; floats as Python's
// repr (0.1, 0.3333333333333333, 1e-05, 100000.0, 1e+16); NaN as an empty
// field; inf as inf; booleans as True/False. Group values are written as
// read: CSV text unchanged; from Feather, integers in decimal (as floats
// when the column has a null), dates as YYYY-MM-DD, timestamps as
// YYYY-MM-DD when every one is midnight and YYYY-MM-DD HH:MM:SS otherwise.
//
// Combining. After every date, measure_<id>.csv concatenates the measure's
// dated files in ascending date order, with a trailing date column
// (YYYY-MM-DD from the file name). Every file's header must equal the
// first's. It is rewritten through Python's csv module, whose default line
// end is "\r\n", so the combined file has "\r\n" line ends; Haven writes
// the same bytes.
//
// --skip-existing. A measure_<id>_<date>.csv that exists is kept, not
// recomputed, and still goes into the combined file (which is always
// rewritten); when every measure of a date is kept the input file is not
// read at all.
//
// # Haven's implementation
//
// Files are read with internal/artificial/records, streaming: one pass
// over a file computes every grouped measure of that date (memory grows
// with the number of groups, never the rows), and a second pass writes the
// one-row-per-patient measures, whose suppression needs the first pass's
// totals. Every path goes through internal/actions/workspace, and every
// output is written to a temporary file in the same directory, synced and
// renamed.
package measures
