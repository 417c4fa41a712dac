"""Disclosure controls for every table, chart and report this study writes.

Every moderately_sensitive output the study's scripts write goes through
these functions, in this order:

1. a count from 1 to 7 (THRESHOLD) is redacted: written as [REDACTED] in
   tables, left out of charts (and flagged there);
2. every other count is rounded to the nearest 5 (BASE), halves up;
3. rates are computed from the rounded counts, never from the true ones, and
   are redacted when either count is.

Zero stays zero: a true zero reveals nothing about a person.
"""

import math

THRESHOLD = 7
BASE = 5
REDACTED = "[REDACTED]"


def control_count(n):
    """Return the count to release: None when it must be redacted (1 to
    THRESHOLD), else n rounded to the nearest BASE (halves up)."""
    if n is None:
        return None
    n = int(n)
    if n < 0:
        raise ValueError(f"a count cannot be negative (got {n})")
    if 0 < n <= THRESHOLD:
        return None
    return (n + BASE // 2) // BASE * BASE


def format_count(c):
    """Format a controlled count (an int, or None for redacted) for a table."""
    return REDACTED if c is None else str(c)


def rate_per_1000(numerator, denominator):
    """The rate per 1,000 of two controlled counts, or None when either is
    redacted or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return 1000.0 * numerator / denominator


def format_rate(r, digits=1):
    """Format a rate computed by rate_per_1000 for a table."""
    return REDACTED if r is None else f"{r:.{digits}f}"


def parse_count(cell):
    """Read a count from a released table: an int, or None for a redacted or
    blank (suppressed) cell. Raise ValueError for anything else."""
    cell = cell.strip()
    if cell == "" or cell == REDACTED:
        return None
    try:
        value = float(cell)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0 and value == int(value)):
        raise ValueError(f"{cell!r} is not a count (a whole number, an empty cell or {REDACTED})")
    return int(value)
