"""The groups of COVID-19 codes the study counts, and the study period."""

import datetime

START = datetime.date(2020, 2, 1)
END = datetime.date(2021, 11, 28)

# (name, description): the dataset has a <name>_date column for each, and
# codecounts_week.csv a <name>_events column.
GROUPS = [
    ("probable_covid", "Probable case: clinical code"),
    ("probable_covid_pos_test", "Probable case: positive test"),
    ("suspected_covid", "Suspected case: suspected code"),
    ("suspected_covid_had_test", "Suspected case: had a test"),
    ("antigen_negative", "Negative antigen test"),
    ("sgss_positive_test", "Positive test in SGSS"),
]


def events_column(name):
    return f"{name}_events"


def week_start(d):
    """The Monday on or before d."""
    return d - datetime.timedelta(days=d.weekday())


def weeks():
    """Every week (by its Monday) that overlaps the study period."""
    w, last = week_start(START), week_start(END)
    out = []
    while w <= last:
        out.append(w)
        w += datetime.timedelta(days=7)
    return out
