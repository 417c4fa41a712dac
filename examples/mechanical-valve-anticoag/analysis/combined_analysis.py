"""Combine the DOAC totals released from the two backends (run locally).

Reads released_outputs/tpp/doac_rate_total.csv and
released_outputs/emis/doac_rate_total.csv (in this example, ARTIFICIAL
stand-ins for real released files: see released_outputs/README.md), adds
them up month by month, and writes:

- released_outputs/combined_rate.csv: people with a mechanical valve and
  people issued a DOAC in both backends, and the rate per 1,000;
- released_outputs/count.svg: people issued a DOAC, by month;
- released_outputs/rate.svg: the rate per 1,000, by month;
- released_outputs/count_with_mean.svg: the counts with the monthly mean of
  the six months before the pandemic (September 2019 to February 2020) and
  of its first six months (March to August 2020), each with a 95% Poisson
  confidence interval.

Disclosure controls (disclosure.py): the inputs are released, controlled
counts; a month where either backend redacted a count is redacted in the
combined table too (the sum would be unknown), the sums are controlled again
(1 to 7 redacted, rounded to 5: a no-op for sums of multiples of 5 above 7),
and the rates are computed from the combined rounded counts.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import math  # noqa: E402

import charts  # noqa: E402
from disclosure import (  # noqa: E402
    REDACTED,
    control_count,
    format_count,
    format_rate,
    parse_count,
    rate_per_1000,
)
from studyfiles import StudyError, read_table, run, write_csv, write_text  # noqa: E402

RELEASED = "released_outputs"
BACKENDS = ("tpp", "emis")
PRE_PANDEMIC = ["2019-09-01", "2019-10-01", "2019-11-01", "2019-12-01", "2020-01-01", "2020-02-01"]
PANDEMIC = ["2020-03-01", "2020-04-01", "2020-05-01", "2020-06-01", "2020-07-01", "2020-08-01"]


def read_backend(backend):
    path = f"{RELEASED}/{backend}/doac_rate_total.csv"
    try:
        _, rows = read_table(path, required=("date", "population", "doac_patients"))
    except StudyError as e:
        if "does not exist" in str(e):
            raise StudyError(
                f"{path} does not exist: combine reads the doac_rate_total.csv released from each backend; "
                f"put the released file there (this example ships artificial ones)"
            ) from None
        raise
    out = {}
    for line, row in enumerate(rows, start=2):
        d = row["date"].strip()
        if d in out:
            raise StudyError(f"{path}:{line}: date {d} appears twice")
        counts = []
        for col in ("population", "doac_patients"):
            try:
                counts.append(parse_count(row[col]))
            except ValueError as e:
                raise StudyError(f"{path}:{line}: column {col}: {e}") from None
        out[d] = tuple(counts)
    return path, out


def combine(tables):
    dates = sorted(set.intersection(*(set(t) for _, t in tables)))
    if not dates:
        raise StudyError(
            "the released files have no month in common: " + ", ".join(p for p, _ in tables)
        )
    rows = []
    for d in dates:
        pops = [t[d][0] for _, t in tables]
        doacs = [t[d][1] for _, t in tables]
        pop = None if None in pops else control_count(sum(pops))
        doac = None if None in doacs else control_count(sum(doacs))
        rows.append((d, pop, doac))
    return rows


def period_mean(rows, period, label):
    """The monthly mean of the DOAC counts over period, with the half-width
    of its 95% Poisson confidence interval; None when a month is missing or
    redacted."""
    by_date = {d: doac for d, _, doac in rows}
    values = [by_date.get(d) for d in period]
    if any(v is None for v in values):
        print(f"{label}: a month is missing or redacted; its mean is not drawn")
        return None
    total = sum(values)
    return total / len(values), 1.96 * math.sqrt(total) / len(values)


def main():
    tables = [read_backend(b) for b in BACKENDS]
    rows = combine(tables)
    out_rows = [[d, format_count(pop), format_count(doac), format_rate(rate_per_1000(doac, pop))] for d, pop, doac in rows]
    write_csv(f"{RELEASED}/combined_rate.csv", ["date", "population", "doac_patients", "doac_rate_per_1000"], out_rows)

    labels = [d[:7] for d, _, _ in rows]
    counts = [REDACTED if doac is None else doac for _, _, doac in rows]
    rates = []
    for _, pop, doac in rows:
        r = rate_per_1000(doac, pop)
        rates.append(REDACTED if r is None and (doac is None or pop is None) else r)
    source = "TPP and EMIS combined"
    write_text(
        f"{RELEASED}/count.svg",
        charts.bar_chart(
            "People with a mechanical valve issued a DOAC", labels, counts, "People issued a DOAC", subtitle=source
        ),
    )
    write_text(
        f"{RELEASED}/rate.svg",
        charts.bar_chart(
            "DOAC issues per 1,000 people with a mechanical valve", labels, rates, "Rate per 1,000", subtitle=source
        ),
    )
    overlays = []
    index = {d: i for i, (d, _, _) in enumerate(rows)}
    for period, label in ((PRE_PANDEMIC, "Sep 2019 to Feb 2020"), (PANDEMIC, "Mar to Aug 2020")):
        m = period_mean(rows, period, label)
        if m is None or period[0] not in index or period[-1] not in index:
            continue
        overlays.append({
            "start": index[period[0]], "end": index[period[-1]], "value": m[0], "ci": m[1],
            "label": f"Mean, {label} (95% CI)",
        })
    write_text(
        f"{RELEASED}/count_with_mean.svg",
        charts.bar_chart(
            "People issued a DOAC, before and during the pandemic", labels, counts, "People issued a DOAC",
            subtitle=source, overlays=overlays,
        ),
    )
    print(f"Combined {len(rows)} months from {', '.join(p for p, _ in tables)} into {RELEASED}/combined_rate.csv and 3 charts")


if __name__ == "__main__":
    run(main)
