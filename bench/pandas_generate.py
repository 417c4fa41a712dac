#!/usr/bin/env python3
"""Baseline for bench/data.sh: sample artificial rows from Haven metadata
with numpy and write them with pandas' to_csv, as a Python generator of
artificial data would.

Usage: pandas_generate.py META.json ROWS OUT.csv

It reads the same metadata file as `haven data generate` and samples every
field the same way in distribution (not in bytes): identifiers drawn
without replacement from [0, 10N), frequency tables by numpy choice with
the released weights, date bins by weight then a uniform day inside,
continuous fields by cut-point bin then uniform inside, nulls at the
released rate. Then DataFrame.to_csv(index=False).
"""
import json
import sys

import numpy as np
import pandas as pd


def main():
    meta_path, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(meta_path) as f:
        doc = json.load(f)
    table = doc["tables"][0]
    rows_n = table["rows_n"]
    rng = np.random.default_rng(20261121)
    cols = {}
    for field in table["fields"]:
        name, typ = field["name"], field["type"]
        if typ == "identifier":
            cols[name] = rng.choice(10 * rows, size=rows, replace=False)
            continue
        null_rate = field.get("null_n", 0) / rows_n if rows_n else 0
        nulls = rng.random(rows) < null_rate
        if "values" in field:
            vals = [v["v"] for v in field["values"]]
            w = np.array([v["n"] for v in field["values"]], dtype=float)
            if typ == "integer":
                vals = np.array([int(v) for v in vals])
            elif typ == "float":
                vals = np.array([float(v) for v in vals])
            else:
                vals = np.array(vals, dtype=object)
            s = pd.Series(vals[rng.choice(len(vals), size=rows, p=w / w.sum())])
        elif "bins" in field:
            starts = np.array([np.datetime64(b["start"]) for b in field["bins"]])
            ends = np.array([np.datetime64(b["end"]) for b in field["bins"]])
            w = np.array([b["n"] for b in field["bins"]], dtype=float)
            k = rng.choice(len(starts), size=rows, p=w / w.sum())
            span = (ends - starts).astype(int) + 1
            days = starts[k] + (rng.random(rows) * span[k]).astype(int).astype("timedelta64[D]")
            s = pd.Series(days)
        elif "continuous" in field:
            c = field["continuous"]
            cuts = np.array(c["cuts"], dtype=float)
            k = rng.integers(0, len(cuts) - 1, size=rows)
            x = cuts[k] + rng.random(rows) * (cuts[k + 1] - cuts[k])
            x = np.round(x, c["decimals"])
            s = pd.Series(x.astype(int) if typ == "integer" else x)
        else:
            s = pd.Series([None] * rows)
        if typ == "integer" or typ == "boolean":
            s = s.astype("object")
        s[nulls] = None
        cols[name] = s
    df = pd.DataFrame(cols)
    float_fmt = None
    df.to_csv(out, index=False, float_format=float_fmt, date_format="%Y-%m-%d")


if __name__ == "__main__":
    main()
