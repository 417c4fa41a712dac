"""Hand-written SVG charts (line and bar), with the standard library only.

The charts use presentation attributes (fill, stroke, font-size) and never
style elements, style attributes, scripts or links, so they are plain
pictures an output checker can read as they are and embed in an HTML report.

A value is a number, None (no data: nothing drawn) or disclosure.REDACTED
(a count of 1 to 7 was redacted): a redacted point is left out of the line
or bar and marked with a cross on the x axis, and the chart's note says so.
"""

import math
import re
from html import escape

from disclosure import BASE, REDACTED, THRESHOLD

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]
FONT = 'font-family="sans-serif"'
REDACTED_NOTE = f"× on the x axis: value redacted (a count from 1 to {THRESHOLD}); counts rounded to the nearest {BASE}"


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def nice_axis(top, ticks=5):
    """Return (axis_max, step) for an axis from 0 that shows top."""
    if top <= 0:
        return 1.0, 0.2
    raw = top / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if step >= raw:
            break
    return step * math.ceil(top / step - 1e-9), step


def _fmt_tick(v, step):
    digits = 0
    while digits < 6 and abs(round(step, digits) - step) > 1e-9:
        digits += 1
    return f"{v:,.{digits}f}"


def _legend_width(labels):
    """Room for a legend of these labels at font size 12."""
    return min(320, 40 + 7 * max((len(lab) for lab in labels), default=0))


class _Frame:
    """The plot area, axes, title and labels shared by both chart kinds."""

    def __init__(self, title, x_labels, y_label, x_label, top, subtitle, note, legend_labels=(), y_max=None):
        self.title, self.x_labels, self.y_label, self.x_label = title, list(x_labels), y_label, x_label
        self.subtitle, self.note = subtitle, note
        # A legend goes on the right, or below the chart when its labels
        # are too long to leave room for the plot.
        need = _legend_width(legend_labels) if legend_labels else 0
        self.legend_below = need > 240
        extra = 20 * len(legend_labels) + 8 if self.legend_below else 0
        right = 24 + (need if legend_labels and not self.legend_below else 0)
        self.left, self.right_pad, self.top, self.bottom = 78, right, 66 if subtitle else 50, 112 + extra
        self.width = 900
        self.plot_w = self.width - self.left - self.right_pad
        self.height = 470 + extra
        self.plot_h = self.height - self.top - self.bottom
        self.y_max, self.step = nice_axis(top if y_max is None else y_max)
        self.parts = []

    def x(self, i):
        return self.left + (i + 0.5) * self.plot_w / max(len(self.x_labels), 1)

    def y(self, v):
        return self.top + self.plot_h * (1 - min(v, self.y_max) / self.y_max)

    def add(self, s):
        self.parts.append(s)

    def axes(self):
        left, top, w, h = self.left, self.top, self.plot_w, self.plot_h
        add = self.add
        # Horizontal grid lines and y tick labels.
        for k in range(int(round(self.y_max / self.step)) + 1):
            v = k * self.step
            yy = self.y(v)
            add(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="#dddddd" stroke-width="1"/>')
            add(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end" font-size="12" {FONT}>{escape(_fmt_tick(v, self.step))}</text>')
        # Axes.
        add(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#333333" stroke-width="1.2"/>')
        add(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#333333" stroke-width="1.2"/>')
        # x tick labels: at most about 18, rotated.
        n = len(self.x_labels)
        every = max(1, math.ceil(n / 18))
        for i, label in enumerate(self.x_labels):
            xx = self.x(i)
            add(f'<line x1="{xx:.1f}" y1="{top + h}" x2="{xx:.1f}" y2="{top + h + 4}" stroke="#333333" stroke-width="1"/>')
            if i % every == 0:
                add(
                    f'<text x="{xx:.1f}" y="{top + h + 14}" text-anchor="end" font-size="11" {FONT} '
                    f'transform="rotate(-45 {xx:.1f} {top + h + 14})">{escape(str(label))}</text>'
                )
        # Titles.
        add(f'<text x="{self.width / 2:.0f}" y="24" text-anchor="middle" font-size="16" font-weight="bold" {FONT}>{escape(self.title)}</text>')
        if self.subtitle:
            add(f'<text x="{self.width / 2:.0f}" y="44" text-anchor="middle" font-size="12" fill="#444444" {FONT}>{escape(self.subtitle)}</text>')
        add(
            f'<text x="18" y="{top + h / 2:.0f}" text-anchor="middle" font-size="13" {FONT} '
            f'transform="rotate(-90 18 {top + h / 2:.0f})">{escape(self.y_label)}</text>'
        )
        add(f'<text x="{left + w / 2:.0f}" y="{top + h + 82:.0f}" text-anchor="middle" font-size="13" {FONT}>{escape(self.x_label)}</text>')
        if self.note:
            add(f'<text x="{left}" y="{top + h + 102:.0f}" font-size="11" fill="#555555" {FONT}>{escape(self.note)}</text>')

    def redacted_mark(self, i, color):
        xx, yy = self.x(i), self.top + self.plot_h
        self.add(
            f'<path d="M{xx - 4:.1f},{yy - 4:.1f} L{xx + 4:.1f},{yy + 4:.1f} M{xx - 4:.1f},{yy + 4:.1f} L{xx + 4:.1f},{yy - 4:.1f}" '
            f'stroke="{color}" stroke-width="1.6" fill="none"/>'
        )

    def legend(self, entries):
        """entries: (label, color, dash or None, kind) with kind line or box."""
        if self.legend_below:
            x0, y0 = self.left, self.top + self.plot_h + 126
        else:
            x0, y0 = self.left + self.plot_w + 16, self.top + 6
        for k, (label, color, dash, kind) in enumerate(entries):
            yy = y0 + k * 20
            if kind == "box":
                self.add(f'<rect x="{x0}" y="{yy - 9}" width="18" height="10" fill="{color}"/>')
            else:
                d = f' stroke-dasharray="{dash}"' if dash else ""
                self.add(f'<line x1="{x0}" y1="{yy - 4}" x2="{x0 + 18}" y2="{yy - 4}" stroke="{color}" stroke-width="2.2"{d}/>')
            self.add(f'<text x="{x0 + 24}" y="{yy}" font-size="12" {FONT}>{escape(label)}</text>')

    def svg(self, alt):
        head = (
            f'<svg xmlns="{SVG_NS}" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img" aria-label="{escape(alt)}">'
        )
        body = "\n".join(self.parts)
        return f"{head}\n<title>{escape(alt)}</title>\n<rect x=\"0\" y=\"0\" width=\"{self.width}\" height=\"{self.height}\" fill=\"#ffffff\"/>\n{body}\n</svg>\n"


def line_chart(title, x_labels, series, y_label, x_label="Month", subtitle=None, note=None, y_max=None, show_legend=None):
    """A line chart.

    series: a list of dicts with name, values (aligned with x_labels), and
    optionally color, dash (an SVG dash pattern), width and legend (False
    to leave the series out of the legend). A line breaks where a value is
    missing or redacted. The legend is shown when there is more than one
    series, or when show_legend is True."""
    numbers = [v for s in series for v in s["values"] if _num(v)]
    any_redacted = any(v == REDACTED for s in series for v in s["values"])
    if any_redacted:
        note = f"{note}. {REDACTED_NOTE}" if note else REDACTED_NOTE
    shown = [s["name"] for s in series if s.get("legend", True)]
    if show_legend is None:
        show_legend = len(series) > 1
    legend = shown if show_legend else []
    fr = _Frame(title, x_labels, y_label, x_label, max(numbers, default=0), subtitle, note, legend, y_max)
    fr.axes()
    entries = []
    for k, s in enumerate(series):
        color = s.get("color") or PALETTE[k % len(PALETTE)]
        dash = s.get("dash")
        width = s.get("width", 2)
        segment = []
        segments = []
        for i, v in enumerate(s["values"]):
            if _num(v):
                segment.append((fr.x(i), fr.y(v)))
            else:
                if segment:
                    segments.append(segment)
                segment = []
                if v == REDACTED:
                    fr.redacted_mark(i, color)
        if segment:
            segments.append(segment)
        d = f' stroke-dasharray="{dash}"' if dash else ""
        for seg in segments:
            if len(seg) == 1:
                px, py = seg[0]
                fr.add(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>')
                continue
            pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in seg)
            fr.add(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"{d}/>')
        if s.get("legend", True):
            entries.append((s["name"], color, dash, "line"))
    if legend:
        fr.legend(entries)
    return fr.svg(title)


def bar_chart(title, x_labels, values, y_label, x_label="Month", subtitle=None, note=None, overlays=(), color=PALETTE[0]):
    """A bar chart, one bar per x label.

    overlays: dicts with start and end (indices of the first and last bar
    covered), value (drawn as a horizontal line across those bars), ci (half
    the width of an error bar drawn at their middle, or None) and label."""
    numbers = [v for v in values if _num(v)]
    tops = [o["value"] + (o.get("ci") or 0) for o in overlays]
    if any(v == REDACTED for v in values):
        note = f"{note}. {REDACTED_NOTE}" if note else REDACTED_NOTE
    legend = [y_label] + [o["label"] for o in overlays] if overlays else []
    fr = _Frame(title, x_labels, y_label, x_label, max(numbers + tops, default=0), subtitle, note, legend)
    fr.axes()
    n = len(values)
    bar_w = fr.plot_w / max(n, 1) * 0.7
    base = fr.top + fr.plot_h
    for i, v in enumerate(values):
        if _num(v):
            yy = fr.y(v)
            fr.add(f'<rect x="{fr.x(i) - bar_w / 2:.1f}" y="{yy:.1f}" width="{bar_w:.1f}" height="{base - yy:.1f}" fill="{color}"/>')
        elif v == REDACTED:
            fr.redacted_mark(i, "#333333")
    entries = [(y_label, color, None, "box")] if overlays else []
    for k, o in enumerate(overlays):
        oc = o.get("color") or ["#000000", "#d62728", "#2ca02c"][k % 3]
        x1 = fr.x(o["start"]) - bar_w / 2
        x2 = fr.x(o["end"]) + bar_w / 2
        yy = fr.y(o["value"])
        fr.add(f'<line x1="{x1:.1f}" y1="{yy:.1f}" x2="{x2:.1f}" y2="{yy:.1f}" stroke="{oc}" stroke-width="2.5"/>')
        ci = o.get("ci")
        if ci:
            xm = (x1 + x2) / 2
            lo, hi = fr.y(max(o["value"] - ci, 0)), fr.y(o["value"] + ci)
            fr.add(f'<line x1="{xm:.1f}" y1="{lo:.1f}" x2="{xm:.1f}" y2="{hi:.1f}" stroke="{oc}" stroke-width="1.6"/>')
            for yb in (lo, hi):
                fr.add(f'<line x1="{xm - 6:.1f}" y1="{yb:.1f}" x2="{xm + 6:.1f}" y2="{yb:.1f}" stroke="{oc}" stroke-width="1.6"/>')
        entries.append((o["label"], oc, None, "line"))
    if legend:
        fr.legend(entries)
    return fr.svg(title)


def panel_grid(title, panels, columns=2):
    """Several charts (from line_chart or bar_chart) side by side in one SVG,
    columns to a row, under a common title."""
    if not panels:
        raise ValueError("panel_grid needs at least one chart")
    head = f'<svg xmlns="{SVG_NS}" '
    sizes = []
    for svg in panels:
        m = re.match(re.escape(head) + r'width="(\d+)" height="(\d+)" ', svg)
        if not m:
            raise ValueError("panel_grid takes charts made by line_chart or bar_chart")
        sizes.append((int(m.group(1)), int(m.group(2))))
    top = 44
    col_w = max(w for w, _ in sizes)
    row_h = [max(h for _, h in sizes[i : i + columns]) for i in range(0, len(sizes), columns)]
    total_w, total_h = col_w * min(columns, len(panels)), top + sum(row_h)
    out = [
        f'<svg xmlns="{SVG_NS}" width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{total_w}" height="{total_h}" fill="#ffffff"/>',
        f'<text x="{total_w / 2:.0f}" y="28" text-anchor="middle" font-size="20" font-weight="bold" {FONT}>{escape(title)}</text>',
    ]
    for k, svg in enumerate(panels):
        x, y = (k % columns) * col_w, top + sum(row_h[: k // columns])
        out.append(f'<svg x="{x}" y="{y}" ' + svg[len(head):].rstrip("\n"))
    out.append("</svg>")
    return "\n".join(out) + "\n"
