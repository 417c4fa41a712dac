"""Count the distinct people in the study over all months.

Reads every monthly cohort file output/input_YYYY-MM-DD.csv (after
join_ethnicity) and writes output/patient_count.csv: the number of distinct
people with a mechanical valve in any month, and of those the people issued
a DOAC, and warfarin, in any month.

Disclosure controls (disclosure.py): counts from 1 to 7 are written as
[REDACTED], the others rounded to the nearest 5.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

from disclosure import control_count, format_count  # noqa: E402
from studyfiles import (  # noqa: E402
    OUTPUT_DIR,
    StudyError,
    flag,
    monthly_input_files,
    read_table,
    run,
    write_csv,
)

OUTPUT = f"{OUTPUT_DIR}/patient_count.csv"


def main():
    everyone, doac, warfarin = set(), set(), set()
    files = monthly_input_files()
    for _, path in files:
        _, rows = read_table(path, required=("patient_id", "doac", "warfarin"))
        for line, row in enumerate(rows, start=2):
            pid = row["patient_id"].strip()
            if not pid:
                raise StudyError(f"{path}:{line}: empty patient_id")
            everyone.add(pid)
            if flag(row["doac"], path, line, "doac"):
                doac.add(pid)
            if flag(row["warfarin"], path, line, "warfarin"):
                warfarin.add(pid)
    rows = [
        ["mechanical_valve", format_count(control_count(len(everyone)))],
        ["mechanical_valve_doac", format_count(control_count(len(doac)))],
        ["mechanical_valve_warfarin", format_count(control_count(len(warfarin)))],
    ]
    write_csv(OUTPUT, ["group", "patients"], rows)
    print(f"Counted distinct patients over {len(files)} monthly files; wrote {OUTPUT} (redacted 1-7, rounded to 5)")


if __name__ == "__main__":
    run(main)
