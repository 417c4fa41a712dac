"""The combined report across backends (run locally).

Reads what combine wrote (released_outputs/combined_rate.csv and its three
charts) and the released per-backend totals, and writes
released_outputs/report_notebook.html: the combined table, the charts
inline, the monthly means before and during the pandemic, and the latest
month in each backend. The page has no scripts, no styles and fetches
nothing.

Every number in it comes from released, controlled tables (1 to 7 redacted,
rounded to 5, rates from the rounded counts); the means are of controlled
monthly counts.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import math  # noqa: E402

import htmlreport as h  # noqa: E402
from combined_analysis import BACKENDS, PANDEMIC, PRE_PANDEMIC, RELEASED, read_backend  # noqa: E402
from disclosure import BASE, REDACTED, THRESHOLD, format_count, format_rate, parse_count, rate_per_1000  # noqa: E402
from studyfiles import StudyError, read_table, require_file, run, write_text  # noqa: E402

COMBINED = f"{RELEASED}/combined_rate.csv"
CHARTS = [
    ("count.svg", "People with a mechanical valve issued a DOAC each month, TPP and EMIS combined."),
    ("rate.svg", "DOAC issues per 1,000 people with a mechanical valve, TPP and EMIS combined."),
    (
        "count_with_mean.svg",
        "Monthly counts with the mean of September 2019 to February 2020 and of March to August 2020 "
        "(horizontal lines) and their 95% Poisson confidence intervals.",
    ),
]


def read_svg(name):
    path = f"{RELEASED}/{name}"
    require_file(path, "combine")
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    if "<svg" not in svg:
        raise StudyError(f"{path} is not an SVG image: run the combine action again")
    return svg


def means_table(rows):
    by_date = {}
    for line, r in enumerate(rows, start=2):
        try:
            by_date[r["date"]] = parse_count(r["doac_patients"])
        except ValueError as e:
            raise StudyError(f"{COMBINED}:{line}: column doac_patients: {e}") from None
    out = []
    for label, period in (("September 2019 to February 2020", PRE_PANDEMIC), ("March to August 2020", PANDEMIC)):
        values = [by_date.get(d) for d in period]
        if any(v is None for v in values):
            out.append([label, str(len(period)), REDACTED, REDACTED])
            continue
        mean = sum(values) / len(values)
        ci = 1.96 * math.sqrt(sum(values)) / len(values)
        out.append([label, str(len(period)), f"{mean:.1f}", f"{mean - ci:.1f} to {mean + ci:.1f}"])
    return out


def main():
    require_file(COMBINED, "combine")
    header, rows = read_table(COMBINED, required=("date", "population", "doac_patients", "doac_rate_per_1000"))
    parts = [
        h.paragraph(
            "DOAC prescribing for people with a mechanical heart valve, combining the totals released from "
            "the TPP and EMIS backends."
        ),
        h.paragraph(
            "In this example the released totals are ARTIFICIAL: the numbers were made up to look like "
            "released outputs and come from no patient data (see released_outputs/README.md)."
        ),
        h.paragraph(
            f"Disclosure controls: counts from 1 to {THRESHOLD} are shown as {REDACTED}, other counts are rounded "
            f"to the nearest {BASE}, and rates per 1,000 are computed from the rounded counts."
        ),
        h.heading("Both backends combined"),
    ]
    for name, caption in CHARTS:
        parts.append(h.figure(read_svg(name), caption))
    parts.append(h.heading("Before and during the pandemic"))
    parts.append(
        h.table(
            ["period", "months", "mean people issued a DOAC per month", "95% confidence interval"],
            means_table(rows),
        )
    )
    parts.append(h.heading("Latest month in each backend"))
    latest = []
    for backend in BACKENDS:
        path, table = read_backend(backend)
        if not table:
            raise StudyError(f"{path} has no months")
        d = max(table)
        pop, doac = table[d]
        latest.append([backend.upper(), d, format_count(pop), format_count(doac), format_rate(rate_per_1000(doac, pop))])
    parts.append(h.table(["backend", "date", "population", "doac_patients", "doac_rate_per_1000"], latest))
    parts.append(h.heading("Combined table"))
    parts.append(h.table(header, [[r[c] for c in header] for r in rows], caption=COMBINED))
    out = f"{RELEASED}/report_notebook.html"
    write_text(out, h.page("DOAC use in people with a mechanical heart valve: TPP and EMIS", parts))
    print(f"Wrote {out}")


if __name__ == "__main__":
    run(main)
