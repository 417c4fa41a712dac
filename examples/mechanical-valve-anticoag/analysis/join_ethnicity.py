"""Add each patient's ethnicity to every monthly cohort file.

Reads output/input_ethnicity.csv (generate_study_population_ethnicity) and
rewrites each output/input_YYYY-MM-DD.csv (generate_study_population) with an
ethnicity column appended: a left join on patient_id, blank for a patient
without a recorded ethnicity. A file that already has an ethnicity column
(this action ran before) gets it replaced, so running it again gives the
same files. Each file is written to a temporary file and renamed over the
original.

The files stay highly sensitive: they are patient-level.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import csv  # noqa: E402

from studyfiles import (  # noqa: E402
    OUTPUT_DIR,
    StudyError,
    atomic_write,
    monthly_input_files,
    read_table,
    require_file,
    run,
)

ETHNICITY_FILE = f"{OUTPUT_DIR}/input_ethnicity.csv"


def load_ethnicity():
    require_file(ETHNICITY_FILE, "generate_study_population_ethnicity")
    _, rows = read_table(ETHNICITY_FILE, required=("patient_id", "ethnicity"))
    ethnicity = {}
    for line, row in enumerate(rows, start=2):
        pid = row["patient_id"].strip()
        if not pid:
            raise StudyError(f"{ETHNICITY_FILE}:{line}: empty patient_id")
        if pid in ethnicity:
            raise StudyError(f"{ETHNICITY_FILE}:{line}: patient_id {pid} appears twice; the ethnicity extract must have one row per patient")
        ethnicity[pid] = row["ethnicity"]
    return ethnicity


def join_file(path, ethnicity):
    """Rewrite path with the ethnicity column."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise StudyError(f"{path} is empty: it should start with a header line")
        if "patient_id" not in header:
            raise StudyError(f"{path}:1: no patient_id column (the header has {', '.join(header)})")
        pid_at = header.index("patient_id")
        keep = [i for i, name in enumerate(header) if name != "ethnicity"]
        out_header = [header[i] for i in keep] + ["ethnicity"]

        def write(out):
            w = csv.writer(out, lineterminator="\n")
            w.writerow(out_header)
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise StudyError(f"{path}:{reader.line_num}: {len(row)} cells but the header has {len(header)} columns")
                w.writerow([row[i] for i in keep] + [ethnicity.get(row[pid_at].strip(), "")])

        atomic_write(path, write)


def main():
    ethnicity = load_ethnicity()
    files = monthly_input_files()
    # The job log is visible to researchers: it names files, never counts
    # of patients.
    print(f"Loaded the ethnicity extract {ETHNICITY_FILE}")
    for _, path in files:
        join_file(path, ethnicity)
        print(f"{path}: ethnicity column added")
    print(f"Joined ethnicity into {len(files)} monthly files")


if __name__ == "__main__":
    run(main)
