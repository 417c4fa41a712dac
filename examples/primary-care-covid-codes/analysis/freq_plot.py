"""Plot the weekly counts of COVID-19 codes.

Reads output/caseness/codecounts_week.csv (counts) and writes
output/caseness/plots.svg: four panels, probable cases (clinical code,
positive test), suspected cases (suspected code, had a test), positive tests
in SGSS, and negative antigen tests, each a line per code group over the
weeks, with the group's total N in the legend.

The counts are already controlled (counts.py: 1 to 7 redacted, the others
rounded to 5). A redacted week is left out of its line and marked with a
cross on the x axis; N is the sum of the weeks shown, so it leaves the
redacted weeks out, and the legend says so.
"""

import sys

sys.dont_write_bytecode = True  # leave no __pycache__ among the job's files

import charts  # noqa: E402
from codegroups import GROUPS, events_column  # noqa: E402
from disclosure import REDACTED, parse_count  # noqa: E402
from studyfiles import StudyError, read_rows, require_file, run, write_text  # noqa: E402

INPUT = "output/caseness/codecounts_week.csv"
OUTPUT = "output/caseness/plots.svg"

PANELS = [
    ("Primary care: probable COVID-19", ["probable_covid", "probable_covid_pos_test"]),
    ("Primary care: suspected COVID-19", ["suspected_covid", "suspected_covid_had_test"]),
    ("SGSS: positive tests", ["sgss_positive_test"]),
    ("Primary care: negative antigen tests", ["antigen_negative"]),
]


def main():
    require_file(INPUT, "counts")
    descriptions = dict(GROUPS)
    used = [name for _, names in PANELS for name in names]
    weeks, values = [], {name: [] for name in used}
    for line, row in read_rows(INPUT, required=["week_start"] + [events_column(n) for n in used]):
        weeks.append(row["week_start"])
        for name in used:
            cell = row[events_column(name)]
            try:
                n = parse_count(cell)
            except ValueError as e:
                raise StudyError(f"{INPUT}:{line}: column {events_column(name)}: {e}") from None
            values[name].append(REDACTED if n is None else n)
    if not weeks:
        raise StudyError(f"{INPUT} has no weeks: run the counts action again")
    panels = []
    for title, names in PANELS:
        series = []
        for name in names:
            shown = [v for v in values[name] if v != REDACTED]
            partial = len(shown) < len(values[name])
            label = f"{descriptions[name]}, N={sum(shown):,}" + (" (excl. redacted weeks)" if partial else "")
            series.append({"name": label, "values": values[name]})
        panels.append(
            charts.line_chart(
                title, weeks, series, "Patients per week (first code)", x_label="Week starting",
                subtitle="First code of each group per patient, by week", show_legend=True,
            )
        )
    write_text(OUTPUT, charts.panel_grid("COVID-19 codes recorded in primary care, by week", panels))
    print(f"Wrote {OUTPUT} ({len(panels)} panels over {len(weeks)} weeks)")


if __name__ == "__main__":
    run(main)
