"""The most recent months of the DOAC totals, for a quick update.

Reads output/doac_rate_total.csv (generate_notebook) and writes the rows of
its latest RECENT_MONTHS months to output/doac_rate_total_recent.csv. The
values are copied as they are: generate_notebook already applied the
disclosure controls (1 to 7 redacted, rounded to 5, rates from the rounded
counts), and this script checks that every count it copies is controlled.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

from disclosure import BASE, THRESHOLD, parse_count  # noqa: E402
from studyfiles import OUTPUT_DIR, StudyError, read_table, require_file, run, write_csv  # noqa: E402

RECENT_MONTHS = 6
SOURCE = f"{OUTPUT_DIR}/doac_rate_total.csv"
OUTPUT = f"{OUTPUT_DIR}/doac_rate_total_recent.csv"
COUNT_COLUMNS = ("population", "doac_patients", "warfarin_patients")


def main():
    require_file(SOURCE, "generate_notebook")
    header, rows = read_table(SOURCE, required=("date",) + COUNT_COLUMNS)
    for line, row in enumerate(rows, start=2):
        for col in COUNT_COLUMNS:
            try:
                n = parse_count(row[col])
            except ValueError as e:
                raise StudyError(f"{SOURCE}:{line}: column {col}: {e}") from None
            if n is not None and (n % BASE or 0 < n <= THRESHOLD):
                raise StudyError(
                    f"{SOURCE}:{line}: column {col}: {n} is not a controlled count "
                    f"(counts must be 0, redacted, or multiples of {BASE} above {THRESHOLD}); run generate_notebook again"
                )
    rows.sort(key=lambda r: r["date"])
    recent = rows[-RECENT_MONTHS:]
    write_csv(OUTPUT, header, [[r[c] for c in header] for r in recent])
    if recent:
        print(f"Wrote {OUTPUT}: {recent[0]['date']} to {recent[-1]['date']}")
    else:
        print(f"Wrote {OUTPUT}: {SOURCE} has no months")


if __name__ == "__main__":
    run(main)
