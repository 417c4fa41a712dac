"""Reading the pipeline's files and writing outputs, for the study's scripts.

The scripts run from the project root (the working directory), with paths
relative to it. A missing or malformed input stops the script with a message
that says which file, where, and which action produces it; outputs are
written to a temporary file in the same folder and renamed into place, so a
reader never sees half a file.
"""

import csv
import gzip
import os
import sys
import tempfile


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


def open_text(path):
    """Open a CSV file for reading, gzip-compressed when its name ends .gz."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return open(path, newline="", encoding="utf-8")


def check_columns(path, header, required):
    """Stop when header lacks one of the required columns."""
    missing = [c for c in required if c not in header]
    if missing:
        raise StudyError(
            f"{path}:1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(the header has {', '.join(header)}); check the dataset definition that produces it"
        )


def read_rows(path, required=()):
    """Yield (line number, row as a dict) from a CSV or CSV.GZ file, after
    checking its header has the required columns."""
    try:
        f = open_text(path)
    except FileNotFoundError:
        raise StudyError(f"{path} does not exist") from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except (OSError, EOFError) as e:
            raise StudyError(f"{path}: cannot read it: {e}") from None
        if header is None:
            raise StudyError(f"{path} is empty: it should start with a header line")
        check_columns(path, header, required)
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise StudyError(f"{path}:{reader.line_num}: {len(row)} cells but the header has {len(header)} columns")
                yield reader.line_num, dict(zip(header, row))
        except (OSError, EOFError) as e:
            raise StudyError(f"{path}: cannot read it (is it a complete gzip file?): {e}") from None


def atomic_write(path, write):
    """Call write(f) on a temporary file next to path, then rename it over path."""
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
