"""Reading the pipeline's files and writing outputs, for the study's scripts.

The scripts run from the project root (the working directory), with paths
relative to it. A missing or malformed input stops the script with a message
that says which file, where, and which action produces it; outputs are
written to a temporary file in the same folder and renamed into place, so a
reader never sees half a file.
"""

import csv
import os
import re
import sys
import tempfile

OUTPUT_DIR = "output"
MONTHLY_INPUT = re.compile(r"^input_(\d{4}-\d{2}-\d{2})\.csv$")

# Field size limit for csv: large enough for any cell this study writes.
csv.field_size_limit(1 << 24)


class StudyError(Exception):
    """A problem with the study's inputs, reported without a traceback."""


def run(main):
    """Run main(), turning a StudyError into a message and exit status 1."""
    try:
        main()
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


def require_file(path, action):
    """Stop with a clear message when path is missing."""
    if not os.path.isfile(path):
        raise StudyError(
            f"{path} does not exist: it is an output of the {action} action; "
            f"run it first (haven run {action}) or check that this action lists it in needs:"
        )


def monthly_input_files(directory=OUTPUT_DIR):
    """The monthly cohort files, as (date, path) sorted by date."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    found = sorted(
        (m.group(1), os.path.join(directory, name))
        for name in names
        if (m := MONTHLY_INPUT.match(name))
    )
    if not found:
        raise StudyError(
            f"no monthly cohort files {directory}/input_YYYY-MM-DD.csv found: they are outputs of "
            "the generate_study_population action (joined with ethnicity by join_ethnicity); "
            "run them first"
        )
    return found


def read_table(path, required=()):
    """Read a CSV file into (header, rows), rows as dicts. Stop when a
    required column is missing or a row has the wrong number of cells."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise StudyError(f"{path} does not exist") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise StudyError(f"{path} is empty: it should start with a header line")
        check_columns(path, header, required)
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise StudyError(
                    f"{path}:{reader.line_num}: {len(row)} cells but the header has {len(header)} columns"
                )
            rows.append(dict(zip(header, row)))
    return header, rows


def check_columns(path, header, required):
    """Stop when header lacks one of the required columns."""
    missing = [c for c in required if c not in header]
    if missing:
        raise StudyError(
            f"{path}:1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header has {', '.join(header)}); check the dataset definition that produces it"
        )


def flag(cell, path, line, column):
    """Read a 0/1 boolean cell (cohort-extractor writes booleans as 0 and 1)."""
    c = cell.strip()
    if c in ("0", "0.0", ""):
        return False
    if c in ("1", "1.0"):
        return True
    raise StudyError(f"{path}:{line}: column {column}: {cell!r} is not a boolean (0 or 1)")


def atomic_write(path, write):
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_csv(path, header, rows):
    """Write a CSV file atomically."""

    def write(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)

    atomic_write(path, write)


def write_text(path, text):
    """Write a text file atomically."""
    atomic_write(path, lambda f: f.write(text))
