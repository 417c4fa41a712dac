"""DOAC prescribing for people with a mechanical heart valve: the report.

Reads the measures written by generate_measures (output/measure_*_rate.csv)
and the monthly cohort files (output/input_YYYY-MM-DD.csv, after
join_ethnicity), and writes:

- output/doac_rate_total.csv: people in the cohort, people issued a DOAC and
  people issued warfarin, and both rates per 1,000, month by month;
- output/current_doac_<breakdown>.csv: the latest month, DOAC prescribing by
  age band, sex, region, deprivation quintile, ethnicity, valve type,
  atrial fibrillation, and the DOACs issued by drug;
- output/measure_<name>.svg: the charts;
- output/notebook.html: all of the above in one page (inline SVG, no
  scripts, no styles, nothing fetched from elsewhere).

Disclosure controls (disclosure.py) apply to every count written: 1 to 7
redacted, the others rounded to the nearest 5, rates from the rounded
counts (and redacted with them). The charts draw the same controlled values
and mark redacted points. The practice-variation chart shows only the
deciles of practice-level rates (never a practice's own figures), for months
with at least MIN_PRACTICES practices of at least MIN_LIST people each.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import statistics  # noqa: E402
from collections import defaultdict  # noqa: E402

import charts  # noqa: E402
import htmlreport as h  # noqa: E402
from disclosure import (  # noqa: E402
    BASE,
    REDACTED,
    THRESHOLD,
    control_count,
    format_count,
    format_rate,
    parse_count,
    rate_per_1000,
)
from studyfiles import (  # noqa: E402
    OUTPUT_DIR,
    StudyError,
    flag,
    monthly_input_files,
    read_table,
    require_file,
    run,
    write_csv,
    write_text,
)

# Deprivation quintiles are written as words, so that a table's label column
# never mixes numbers and text.
IMD_LABELS = {
    "1": "quintile 1 (most deprived)",
    "2": "quintile 2",
    "3": "quintile 3",
    "4": "quintile 4",
    "5": "quintile 5 (least deprived)",
}

MIN_PRACTICES = 10
MIN_LIST = THRESHOLD + 1
UNKNOWN = "Unknown"

# Breakdowns by measure: (measure id, group column, title).
GROUP_MEASURES = [
    ("doac_by_region_rate", "region", "NHS region"),
    ("doac_by_age_band_rate", "age_band", "age band"),
    ("doac_by_sex_rate", "sex", "sex"),
    ("doac_by_imd_rate", "imd", "deprivation quintile"),
    ("doac_by_ethnicity_rate", "ethnicity", "ethnicity"),
    ("doac_by_valve_type_rate", "valve_type", "valve type"),
]

# Latest-month breakdowns: (file suffix, column, heading, label order).
CURRENT = [
    ("age_band", "age_band", "Age band", ["18-39", "40-49", "50-59", "60-69", "70-79", "80+"]),
    ("sex", "sex", "Sex", ["F", "M"]),
    ("region", "region", "NHS region", []),
    ("imd", "imd", "Deprivation quintile", ["1", "2", "3", "4", "5"]),
    ("ethnicity", "ethnicity", "Ethnicity", []),
    ("valve_type", "valve_type", "Valve type", ["aortic", "mitral", "multiple", "other"]),
    ("af", "atrial_fibrillation", "Atrial fibrillation", ["yes", "no"]),
]


def measure_path(measure_id):
    path = f"{OUTPUT_DIR}/measure_{measure_id}.csv"
    require_file(path, "generate_measures")
    return path


def read_measure(measure_id, numerator, denominator="population", group=None):
    """Controlled counts of a measure: {(date, group label): (num, den)}."""
    path = measure_path(measure_id)
    required = [numerator, denominator, "date"] + ([group] if group else [])
    _, rows = read_table(path, required=required)
    out = {}
    for line, row in enumerate(rows, start=2):
        counts = []
        for col in (numerator, denominator):
            try:
                counts.append(parse_count(row[col]))
            except ValueError as e:
                raise StudyError(f"{path}:{line}: column {col}: {e}") from None
        num, den = counts
        label = (row[group].strip() or UNKNOWN) if group else ""
        key = (row["date"].strip(), label)
        # A blank (suppressed) cell stays redacted; the others are controlled.
        out[key] = (
            control_count(num) if num is not None else None,
            control_count(den) if den is not None else None,
        )
    if not out:
        raise StudyError(f"{path} has no rows: generate_measures found no monthly input files")
    return out


def chart_value(num, den):
    r = rate_per_1000(num, den)
    return REDACTED if r is None and (num is None or den is None) else r


def total_table():
    doac = read_measure("doac_rate", "doac")
    warfarin = read_measure("warfarin_rate", "warfarin")
    dates = sorted({d for d, _ in doac})
    rows = []
    for d in dates:
        num, pop = doac[(d, "")]
        wnum, wpop = warfarin.get((d, ""), (None, None))
        if wpop != pop:
            raise StudyError(
                f"{OUTPUT_DIR}/measure_warfarin_rate.csv and measure_doac_rate.csv disagree on the population for {d}: "
                "both measures must use the same monthly input files (run generate_measures again)"
            )
        rows.append((d, pop, num, wnum))
    return rows


def group_series(measure_id, numerator, group, order=()):
    data = read_measure(measure_id, numerator, group=group)
    dates = sorted({d for d, _ in data})
    labels = [lab for lab in order if any(k[1] == lab for k in data)]
    labels += sorted({lab for _, lab in data} - set(labels))
    series = []
    for lab in labels:
        values = []
        for d in dates:
            if (d, lab) in data:
                values.append(chart_value(*data[(d, lab)]))
            else:
                values.append(None)
        name = IMD_LABELS.get(lab, lab) if group == "imd" else lab
        series.append({"name": name, "values": values})
    return dates, series


def month_labels(dates):
    return [d[:7] for d in dates]


def practice_deciles(files):
    """Per month, the deciles (10th to 90th centile) of practice DOAC rates
    per 1,000, or None for a month with too few practices."""
    out = []
    for date, path in files:
        _, rows = read_table(path, required=("practice", "doac"))
        per = defaultdict(lambda: [0, 0])
        for line, row in enumerate(rows, start=2):
            p = per[row["practice"].strip()]
            p[0] += 1
            p[1] += flag(row["doac"], path, line, "doac")
        rates = [1000.0 * d / n for n, d in per.values() if n >= MIN_LIST]
        if len(rates) < MIN_PRACTICES:
            out.append(None)
        else:
            out.append(statistics.quantiles(rates, n=10, method="inclusive"))
    return out


def current_breakdowns(path):
    """Latest-month tables: {suffix: (header, rows)}."""
    required = ["doac", "doac_drug"] + [col for _, col, _, _ in CURRENT]
    _, rows = read_table(path, required=required)
    tables = {}
    for suffix, col, _, order in CURRENT:
        counts = defaultdict(lambda: [0, 0])
        for line, row in enumerate(rows, start=2):
            if col == "atrial_fibrillation":
                label = "yes" if flag(row[col], path, line, col) else "no"
            else:
                label = row[col].strip() or UNKNOWN
            c = counts[label]
            c[0] += 1
            c[1] += flag(row["doac"], path, line, "doac")
        labels = [lab for lab in order if lab in counts] + sorted(set(counts) - set(order))
        out = []
        for lab in labels:
            pop, doac = (control_count(x) for x in counts[lab])
            name = IMD_LABELS.get(lab, lab) if col == "imd" else lab
            out.append([name, format_count(pop), format_count(doac), format_rate(rate_per_1000(doac, pop))])
        tables[suffix] = ([col, "population", "doac_patients", "doac_rate_per_1000"], out)
    drugs = defaultdict(int)
    for row in rows:
        if row["doac_drug"].strip():
            drugs[row["doac_drug"].strip()] += 1
    tables["drug"] = (
        ["doac_drug", "doac_patients"],
        [[d, format_count(control_count(drugs[d]))] for d in sorted(drugs)],
    )
    return tables


def main():
    files = monthly_input_files()
    parts = [
        h.paragraph(
            "People with a mechanical heart valve should be anticoagulated with warfarin: direct oral "
            "anticoagulants (DOACs) are contraindicated. This report counts, month by month, the people "
            "with a mechanical valve who were issued a DOAC, and compares it with warfarin."
        ),
        h.paragraph(
            f"Disclosure controls: every count from 1 to {THRESHOLD} is shown as {REDACTED}, every other count "
            f"is rounded to the nearest {BASE}, and rates per 1,000 are computed from the rounded counts. "
            "Charts leave redacted points out and mark them with a cross on the x axis."
        ),
    ]

    # Totals.
    totals = total_table()
    total_rows = []
    for d, pop, num, wnum in totals:
        total_rows.append([
            d, format_count(pop), format_count(num), format_rate(rate_per_1000(num, pop)),
            format_count(wnum), format_rate(rate_per_1000(wnum, pop)),
        ])
    total_header = ["date", "population", "doac_patients", "doac_rate_per_1000", "warfarin_patients", "warfarin_rate_per_1000"]
    write_csv(f"{OUTPUT_DIR}/doac_rate_total.csv", total_header, total_rows)

    dates = [t[0] for t in totals]
    svg_total = charts.line_chart(
        "People with a mechanical valve issued a DOAC",
        month_labels(dates),
        [{"name": "DOAC", "values": [chart_value(num, pop) for _, pop, num, _ in totals]}],
        "Rate per 1,000 people with a mechanical valve",
        subtitle="Whole cohort, by month",
    )
    svg_warfarin = charts.line_chart(
        "People with a mechanical valve issued warfarin",
        month_labels(dates),
        [{"name": "Warfarin", "values": [chart_value(w, pop) for _, pop, _, w in totals], "color": charts.PALETTE[2]}],
        "Rate per 1,000 people with a mechanical valve",
        subtitle="Whole cohort, by month",
    )
    figures = {"total": svg_total, "warfarin": svg_warfarin}
    parts += [
        h.heading("DOAC prescribing over time"),
        h.figure(svg_total, "DOAC issues per 1,000 people with a mechanical valve, by month."),
        h.figure(svg_warfarin, "Warfarin issues per 1,000 people with a mechanical valve, by month."),
        h.table(total_header, total_rows, caption="output/doac_rate_total.csv"),
    ]

    # Practice variation.
    deciles = practice_deciles(files)
    month_dates = [d for d, _ in files]
    series = []
    for k in range(9):
        series.append({
            "name": "median" if k == 4 else "deciles (10th to 90th centile)",
            "values": [None if q is None else q[k] for q in deciles],
            "color": charts.PALETTE[0],
            "dash": None if k == 4 else "5,4",
            "width": 2.4 if k == 4 else 1,
            "legend": k in (0, 4),
        })
    svg_deciles = charts.line_chart(
        "Practice variation in DOAC prescribing",
        month_labels(month_dates),
        [series[4]] + [s for k, s in enumerate(series) if k != 4],
        "Rate per 1,000 people with a mechanical valve",
        subtitle=f"Deciles of practice rates (practices with at least {MIN_LIST} people with a valve)",
    )
    figures["practice_deciles"] = svg_deciles
    parts += [
        h.heading("Variation between practices"),
        h.paragraph(
            "Each line is a decile of the practices' DOAC rates per 1,000 in that month; the solid line is the "
            f"median. Only practices with at least {MIN_LIST} people with a mechanical valve are included, and "
            f"a month with fewer than {MIN_PRACTICES} such practices is left blank. No practice's own figures are shown."
        ),
        h.figure(svg_deciles, "Deciles of practice-level DOAC rates per 1,000, by month."),
    ]

    # Breakdowns from the measures.
    parts.append(h.heading("DOAC prescribing by group"))
    orders = {col: order for _, col, _, order in CURRENT}
    for measure_id, group, title in GROUP_MEASURES:
        m_dates, m_series = group_series(measure_id, "doac", group, orders.get(group, ()))
        svg = charts.line_chart(
            f"People with a mechanical valve issued a DOAC, by {title}",
            month_labels(m_dates),
            m_series,
            "Rate per 1,000 people with a mechanical valve",
            subtitle=f"From output/measure_{measure_id}.csv",
        )
        name = measure_id[: -len("_rate")]
        figures[name] = svg
        parts.append(h.figure(svg, f"DOAC issues per 1,000 people with a mechanical valve, by {title}."))
    w_dates, w_series = group_series("warfarin_by_region_rate", "warfarin", "region")
    svg = charts.line_chart(
        "People with a mechanical valve issued warfarin, by NHS region",
        month_labels(w_dates),
        w_series,
        "Rate per 1,000 people with a mechanical valve",
        subtitle="From output/measure_warfarin_by_region_rate.csv",
    )
    figures["warfarin_by_region"] = svg
    parts.append(h.figure(svg, "Warfarin issues per 1,000 people with a mechanical valve, by NHS region."))

    # The latest month.
    latest_date, latest_path = files[-1]
    tables = current_breakdowns(latest_path)
    parts.append(h.heading(f"DOAC prescribing in the latest month ({latest_date[:7]})"))
    for suffix, _, heading, _ in CURRENT + [("drug", "doac_drug", "DOAC issued", [])]:
        header, rows = tables[suffix]
        path = f"{OUTPUT_DIR}/current_doac_{suffix}.csv"
        write_csv(path, header, rows)
        parts.append(h.table(header, rows, caption=f"{heading} ({path})"))

    for name, svg in figures.items():
        write_text(f"{OUTPUT_DIR}/measure_{name}.svg", svg)
    write_text(
        f"{OUTPUT_DIR}/notebook.html",
        h.page("DOAC use in people with a mechanical heart valve", parts),
    )
    print(
        f"Wrote {OUTPUT_DIR}/notebook.html, {OUTPUT_DIR}/doac_rate_total.csv, "
        f"{len(tables)} current_doac_*.csv tables and {len(figures)} charts "
        f"(counts 1-{THRESHOLD} redacted, others rounded to {BASE})"
    )


if __name__ == "__main__":
    run(main)
