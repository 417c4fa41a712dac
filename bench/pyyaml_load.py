#!/usr/bin/env python3
"""Baseline for bench/pipeline.sh: time PyYAML's pure-Python safe loader.

Usage: pyyaml_load.py REPS NAME=FILE [NAME=FILE ...]

For each file, reads the text once, then times yaml.load(text, Loader=yaml.SafeLoader)
REPS times with time.perf_counter and prints one tab-separated line per workload:
name, median seconds, min seconds, max seconds, reps, number of actions loaded.
yaml.SafeLoader is PyYAML's pure-Python loader (not the libyaml-backed CSafeLoader), the
closest PyYAML gets to upstream OpenSAFELY's pure-Python ruyaml loader.
"""
import statistics
import sys
import time

import yaml


def main():
    reps = int(sys.argv[1])
    assert yaml.SafeLoader.__module__ == "yaml.loader", "SafeLoader is not the pure-Python loader"
    print(f"# PyYAML {yaml.__version__}, Python {sys.version.split()[0]}, "
          f"loader yaml.SafeLoader (pure Python), reps {reps}", file=sys.stderr)
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        times = []
        doc = None
        for _ in range(reps):
            t0 = time.perf_counter()
            doc = yaml.load(text, Loader=yaml.SafeLoader)
            times.append(time.perf_counter() - t0)
        n_actions = len(doc.get("actions") or {})
        print(f"{name}\t{statistics.median(times):.6f}\t{min(times):.6f}\t{max(times):.6f}\t{reps}\t{n_actions}",
              flush=True)


if __name__ == "__main__":
    main()
