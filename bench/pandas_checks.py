#!/usr/bin/env python3
"""Baseline for bench/outputs.sh: two disclosure checks of CSV tables in pandas.

Usage: pandas_checks.py PATH [PATH ...]

Each PATH is a CSV file or a folder (its *.csv files, sorted). Every file is read with
pandas.read_csv; its count columns are the integer columns whose header has a word naming
a count (the words bench/outputsgen writes, which `haven outputs check` also knows). For
each count column the script does ONLY these two checks, vectorised:

  low count:  0 < v <= 7      (haven's C1, and C4 for a 5, in the opensafely profile)
  rounding:   v % 5 != 0      (haven's C3)

and prints one tab-separated line per count column: file, column, cells with a low count,
cells not rounded to 5. A last line, starting with #, gives the totals and the seconds
spent (from the first import to the last line). Nothing else of what haven does (column
classes, zeros, totals, rates, the report) is done here, so this is the floor of what a
pandas script needs for the same two rules.

Run it with /usr/bin/python3 and Debian's python3-pandas (sudo apt-get install -y
python3-pandas); bench/outputs.sh installs it when it runs as root.
"""
import time

T0 = time.perf_counter()

import os  # noqa: E402
import sys  # noqa: E402

try:
    import pandas as pd  # noqa: E402
except ImportError:
    sys.exit(f"pandas_checks.py: {sys.executable} has no pandas; install it with: sudo apt-get install -y python3-pandas")

COUNT_WORDS = {"patients", "cases", "deaths", "admissions", "registered", "vaccinated", "events", "referrals"}
THRESHOLD = 7  # opensafely: min_count 8, T = 7
BASE = 5


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(".csv"):
                    yield os.path.join(p, name)
        else:
            yield p


def is_count(name, dtype):
    words = name.lower().replace("-", "_").replace(" ", "_").split("_")
    return pd.api.types.is_integer_dtype(dtype) and any(w in COUNT_WORDS for w in words)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = []
    nfiles = ncols = nlow = nunrounded = 0
    for path in files(sys.argv[1:]):
        df = pd.read_csv(path)
        nfiles += 1
        for col in df.columns:
            s = df[col]
            if not is_count(col, s.dtype):
                continue
            low = int(((s > 0) & (s <= THRESHOLD)).sum())
            unrounded = int((s % BASE != 0).sum())
            out.append(f"{path}\t{col}\t{low}\t{unrounded}")
            ncols += 1
            nlow += low
            nunrounded += unrounded
    sys.stdout.write("\n".join(out) + "\n")
    print(f"# files {nfiles}, count columns {ncols}, low counts {nlow}, not rounded {nunrounded}, "
          f"seconds {time.perf_counter() - T0:.3f}, pandas {pd.__version__}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
