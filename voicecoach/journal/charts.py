"""Weekly charts as inline SVG, drawn by voicecoach itself (no matplotlib, no files, no links).

One description of the charts (:class:`Panel`: a title, one label per week and a few :class:`Series`) is built from
a :class:`~voicecoach.journal.report.Report` by :func:`report_panels` and drawn by :func:`panel_svg` for the HTML
report, ``report --svg`` and the web page's Report tab; :mod:`voicecoach.journal.chart_png` draws the same panels
as a PNG when the couple asks for one and has matplotlib.

Every bar and point carries its exact figure (``data-series``, ``data-week``, ``data-value`` and a ``<title>``
tooltip), so a screen reader, a test or a curious partner can read the numbers behind a picture.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report import Report

WIDTH, HEIGHT = 480, 230  # the SVG's own units; it scales to the page (viewBox), legible on a phone
LEFT, RIGHT, TOP, BOTTOM = 36, 30, 52, 36  # room for the axes, the legend and the week labels
LABEL_W = 46  # a week label's width: fewer labels than weeks when the bars are narrower


class Kind(Enum):
    """How a series is drawn."""

    BAR = "bar"  # bars on the left axis (grouped, or stacked when the panel says so)
    LINE = "line"  # points joined by a line, on their own right-hand axis


@dataclass(frozen=True)
class Series:
    """One quantity per week."""

    key: str  # a stable name: talks, checkins, raised_min, interruptions, share_a, ...
    label: str  # the legend's words
    color: str
    values: tuple[float, ...]
    kind: Kind = Kind.BAR
    unit: str = ""  # for the tooltip: "min", "%", or "" for counts


@dataclass(frozen=True)
class Panel:
    """One chart: a title, one label per week (dates), and the series drawn on it."""

    key: str
    title: str
    weeks: tuple[str, ...]  # ISO dates of each week's Monday (data-week)
    labels: tuple[str, ...]  # what is written under each week ("16 Nov")
    series: tuple[Series, ...]
    stacked: bool = False
    y_max: float | None = None  # a fixed top for the left axis (100 for shares), else from the data
    integer: bool = True  # counts: whole-number ticks


# --- what is drawn ------------------------------------------------------------------------------------------------

BLUE, GREEN, GREY, AMBER, PURPLE, PINK = "#5b8db0", "#6aa667", "#a9a9a9", "#d99a4e", "#7d6fb0", "#b97aa8"


def report_panels(report: "Report", a_name: str = "Partner A", b_name: str = "Partner B") -> list[Panel]:
    """The four weekly panels of a report: talks and check-ins, raised voice and interruptions, talking time,
    pauses. Per-partner figures are limited to each partner's share of the talking time."""
    weeks = report.weeks
    iso = tuple(w.start.isoformat() for w in weeks)
    labels = tuple(f"{w.start:%d %b}" for w in weeks)

    def series(key: str, label: str, color: str, kind: Kind = Kind.BAR, unit: str = "") -> Series:
        return Series(key, label, color, tuple(float(getattr(w, key)) for w in weeks), kind, unit)

    share_a = tuple(round(w.share_a * 100, 1) if w.share_a is not None else 0.0 for w in weeks)
    share_b = tuple(round(100 - a, 1) if w.share_a is not None else 0.0 for a, w in zip(share_a, weeks))
    return [
        Panel("talks", "Talks and check-ins", iso, labels,
              (series("talks", "talks", BLUE), series("checkins", "check-ins done", GREEN))),
        Panel("raised", "Minutes of raised voice, and interruptions", iso, labels,
              (Series("raised_min", "raised voice, minutes", AMBER,
                      tuple(round(w.raised_min, 1) for w in weeks), unit="min"),
               series("interruptions", "interruptions", PURPLE, Kind.LINE)), integer=False),
        Panel("share", "Share of talking time, %", iso, labels,
              (Series("share_a", a_name, BLUE, share_a, unit="%"), Series("share_b", b_name, PINK, share_b, unit="%")),
              stacked=True, y_max=100.0),
        Panel("pauses", "Pauses", iso, labels,
              (series("pauses_suggested", "suggested", GREY), series("pauses_taken", "taken", GREEN),
               series("pauses_declined", "\"not now\"", AMBER))),
    ]


# --- drawing -------------------------------------------------------------------------------------------------------

def nice_top(value: float, integer: bool) -> tuple[float, float]:
    """A round axis top at or above ``value`` and its tick step (1-2-5 steps, four or five ticks)."""
    value = max(value, 1.0 if integer else 0.5)
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    return round(step * math.ceil(value / step - 1e-9), 9), round(step, 9)


def _num(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _tip(series: Series, label: str, value: float) -> str:
    return f"{label} - {series.label}: {_num(value)}{'%' if series.unit == '%' else ''}"


def panel_svg(panel: Panel) -> str:
    """One panel as an ``<svg>`` element for an HTML page (scales to its container; no namespace URL, so the
    page holds no address of any kind)."""
    bars = [s for s in panel.series if s.kind is Kind.BAR]
    lines = [s for s in panel.series if s.kind is Kind.LINE]
    n = max(len(panel.weeks), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    if panel.y_max is not None:
        top, step = panel.y_max, panel.y_max / 4
    else:
        peak = max((sum(vals) for vals in zip(*(s.values for s in bars))), default=0.0) if panel.stacked else \
            max((v for s in bars for v in s.values), default=0.0)
        top, step = nice_top(peak, panel.integer)

    def y(value: float, axis_top: float) -> float:
        return TOP + plot_h - plot_h * min(value, axis_top) / axis_top

    out = [f'<svg class="chart" data-panel="{panel.key}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{html.escape(panel.title)}" font-family="sans-serif" font-size="13">',
           f"<title>{html.escape(panel.title)}</title>",
           f'<text x="{LEFT}" y="16" font-size="14" fill="#333">{html.escape(panel.title)}</text>']
    out += _legend(panel.series)
    out += _left_axis(top, step, plot_w, plot_h, y)
    out += _bars(panel, bars, slot, top, y)
    for s in lines:
        out += _line(panel, s, slot, y)
    out += _week_labels(panel, slot, plot_h)
    out.append("</svg>")
    return "\n".join(out)


def _legend(series: tuple[Series, ...]) -> list[str]:
    out: list[str] = []
    x = float(LEFT)
    for s in series:
        mark = (f'<rect x="{x}" y="26" width="11" height="11" fill="{s.color}"/>' if s.kind is Kind.BAR else
                f'<circle cx="{x + 5.5}" cy="31.5" r="4" fill="{s.color}"/>')
        out.append(mark + f'<text x="{x + 16}" y="36" fill="#555">{html.escape(s.label)}</text>')
        x += 28 + 7.5 * len(s.label)
    return out


def _left_axis(top: float, step: float, plot_w: float, plot_h: float, y) -> list[str]:
    out = []
    ticks = int(round(top / step))
    for i in range(ticks + 1):
        value = step * i
        yy = y(value, top)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#777">{_num(value)}</text>')
    return out


def _bars(panel: Panel, bars: list[Series], slot: float, top: float, y) -> list[str]:
    out = []
    width = slot * 0.8 / (1 if panel.stacked else max(len(bars), 1))
    for i, (week, label) in enumerate(zip(panel.weeks, panel.labels)):
        base = 0.0
        for k, s in enumerate(bars):
            value = s.values[i]
            x = LEFT + slot * i + slot * 0.1 + (0 if panel.stacked else k * width)
            low = base if panel.stacked else 0.0
            y0, y1 = y(low, top), y(low + value, top)
            out.append(f'<rect class="bar" data-series="{s.key}" data-week="{week}" data-value="{_num(value)}" '
                       f'x="{x:.1f}" y="{y1:.1f}" width="{width:.1f}" height="{max(y0 - y1, 0):.1f}" '
                       f'fill="{s.color}"><title>{html.escape(_tip(s, label, value))}</title></rect>')
            if panel.stacked:
                base += value
    return out


def _line(panel: Panel, s: Series, slot: float, y) -> list[str]:
    top, step = nice_top(max(s.values, default=0.0), True)
    points = [(LEFT + slot * (i + 0.5), y(v, top)) for i, v in enumerate(s.values)]
    out = [f'<polyline fill="none" stroke="{s.color}" stroke-width="2" '
           f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>']
    for (px, py), week, label, value in zip(points, panel.weeks, panel.labels, s.values):
        out.append(f'<circle class="point" data-series="{s.key}" data-week="{week}" data-value="{_num(value)}" '
                   f'cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{s.color}">'
                   f'<title>{html.escape(_tip(s, label, value))}</title></circle>')
    for i in range(int(round(top / step)) + 1):
        yy = y(step * i, top)
        out.append(f'<text x="{WIDTH - RIGHT + 6}" y="{yy + 4:.1f}" fill="{s.color}">{_num(step * i)}</text>')
    return out


def _week_labels(panel: Panel, slot: float, plot_h: float) -> list[str]:
    every = max(1, math.ceil(LABEL_W / slot))
    base = TOP + plot_h
    out = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" stroke="#999"/>']
    last = len(panel.labels) - 1
    for i, label in enumerate(panel.labels):
        if (last - i) % every == 0:  # this week always has its label
            out.append(f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{base + 16}" text-anchor="middle" '
                       f'fill="#777" font-size="12">{html.escape(label)}</text>')
    return out


def report_svg(report: "Report", a_name: str = "Partner A", b_name: str = "Partner B") -> str:
    """All four panels as one standalone SVG document (``report --svg``), stacked top to bottom."""
    panels = report_panels(report, a_name, b_name)
    body = []
    for k, panel in enumerate(panels):
        inner = panel_svg(panel).replace("<svg ", f'<svg y="{k * HEIGHT}" width="{WIDTH}" height="{HEIGHT}" ', 1)
        body.append(inner)
    title = f"voicecoach: your weeks from {report.since:%d %b %Y} to {report.until:%d %b %Y}"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {WIDTH} {HEIGHT * len(panels)}" width="{WIDTH}" height="{HEIGHT * len(panels)}">\n'
            f"<title>{html.escape(title)}</title>\n"
            f'<rect width="100%" height="100%" fill="#fff"/>\n' + "\n".join(body) + "\n</svg>\n")
