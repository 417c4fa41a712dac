"""Count COVID-19 codes recorded in primary care, week by week.

Reads output/input.csv.gz (generate_cohort): one row per patient with the
date of the first code of each group (codegroups.GROUPS) in the study period.
Writes output/caseness/codecounts_week.csv: one row per week (starting on a
Monday) from the week of 1 February 2020 to the week of 28 November 2021,
with the number of patients whose first code of each group fell in it.

Disclosure controls (disclosure.py): a weekly count from 1 to 7 is written as
[REDACTED]; every other count is rounded to the nearest 5. The job log gives
no counts.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import datetime  # noqa: E402

from codegroups import END, GROUPS, START, events_column, week_start, weeks  # noqa: E402
from disclosure import BASE, THRESHOLD, control_count, format_count  # noqa: E402
from studyfiles import StudyError, read_rows, require_file, run, write_csv  # noqa: E402

INPUT = "output/input.csv.gz"
OUTPUT = "output/caseness/codecounts_week.csv"


def parse_date(cell, line, column):
    try:
        return datetime.date.fromisoformat(cell)
    except ValueError:
        raise StudyError(
            f"{INPUT}:{line}: column {column}: {cell!r} is not a date YYYY-MM-DD; "
            "give the variable date_format: YYYY-MM-DD in analysis/study_definition.yaml"
        ) from None


def main():
    require_file(INPUT, "generate_cohort")
    columns = [f"{name}_date" for name, _ in GROUPS]
    all_weeks = weeks()
    counts = {name: dict.fromkeys(all_weeks, 0) for name, _ in GROUPS}
    outside = 0
    for line, row in read_rows(INPUT, required=["patient_id"] + columns):
        for (name, _), column in zip(GROUPS, columns):
            cell = row[column].strip()
            if not cell:
                continue
            d = parse_date(cell, line, column)
            if not START <= d <= END:
                outside += 1
                continue
            counts[name][week_start(d)] += 1
    rows = []
    for w in all_weeks:
        rows.append([w.isoformat()] + [format_count(control_count(counts[name][w])) for name, _ in GROUPS])
    write_csv(OUTPUT, ["week_start"] + [events_column(name) for name, _ in GROUPS], rows)
    if outside:
        print(f"Some dates fell outside {START} to {END} and were not counted")
    print(
        f"Wrote {OUTPUT}: {len(rows)} weeks x {len(GROUPS)} code groups "
        f"(counts 1-{THRESHOLD} redacted, others rounded to the nearest {BASE})"
    )


if __name__ == "__main__":
    run(main)
