"""Weekly trends from the journal: a gentle terminal summary, charts (SVG, or PNG with the extra), an HTML page.

Progress, not scores: the words describe what the couple did (talks, pauses, check-ins) and how things moved,
never who was "worse". Per-partner figures are limited to each partner's share of talking time.
Pure functions of an export dict and the times passed in. The charts are SVG drawn by
:mod:`voicecoach.journal.charts`; only a PNG asked for by name needs matplotlib (:mod:`.chart_png`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from .. import paths
from ..errors import InputError, VoicecoachError
from .charts import panel_svg, report_panels, report_svg
from .schema import TalkFigures, TalkSource

MAX_WEEKS = 520


@dataclass
class Week:
    """What happened in one week (Monday to Sunday, local time)."""

    start: date
    talks: int = 0
    talk_min: float = 0.0
    raised_min: float = 0.0
    interruptions: int = 0
    speak_a_s: float = 0.0
    speak_b_s: float = 0.0
    pauses_suggested: int = 0
    pauses_taken: int = 0
    pauses_declined: int = 0
    checkins: int = 0

    @property
    def share_a(self) -> float | None:
        """Partner A's share of the talking time (0..1), or None when nobody spoke."""
        total = self.speak_a_s + self.speak_b_s
        return self.speak_a_s / total if total > 0 else None

    @property
    def empty(self) -> bool:
        """True when nothing at all was recorded this week."""
        return not (self.talks or self.pauses_suggested or self.pauses_taken or self.checkins)


@dataclass
class Report:
    """Weekly bins from the week containing ``since`` to the week containing ``until``."""

    since: datetime
    until: datetime
    weeks: list[Week] = field(default_factory=list)

    @property
    def total(self) -> Week:
        """All weeks added up."""
        out = Week(self.weeks[0].start if self.weeks else self.since.date())
        for w in self.weeks:
            for name in WEEK_FIELDS:
                setattr(out, name, getattr(out, name) + getattr(w, name))
        return out

    @property
    def empty(self) -> bool:
        """True when the period holds nothing."""
        return all(w.empty for w in self.weeks)


# --- building ----------------------------------------------------------------------------------------------------

def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``12w`` or an ISO date (``2026-01-01``) -> the start of the period, in ``now``'s time zone. A
    duration may start with a minus (``-3w``, as ``date -d -3weeks`` reads): the same period back."""
    m = re.fullmatch(r"\s*-?\s*(\d+)\s*([dw])\s*", text.lower())
    if m:
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        if not 1 <= days <= MAX_WEEKS * 7:
            raise InputError(f"--since {text}: choose between 1d and {MAX_WEEKS}w")
        return now - timedelta(days=days)
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--since {text!r}: use a number of days or weeks (30d, 12w) or a date (2026-01-01)") \
            from None
    since = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
    if since > now:
        raise InputError(f"--since {text}: that date is in the future")
    if (now - since).days > MAX_WEEKS * 7:
        raise InputError(f"--since {text}: at most {MAX_WEEKS} weeks back")
    return since


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def last_weeks(weeks: int, now: datetime) -> datetime:
    """The start of a period of ``weeks`` whole weeks ending with this one: Monday 00:00, ``weeks - 1`` weeks ago."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise InputError(f"weeks={weeks}: choose between 1 and {MAX_WEEKS}")
    monday = _monday(now.date()) - timedelta(weeks=weeks - 1)
    return datetime(monday.year, monday.month, monday.day, tzinfo=now.tzinfo)


@dataclass(frozen=True)
class TalkRow:
    """One talk as a report sums it."""

    started_at: float  # wall clock, epoch seconds
    ended_at: float | None
    figures: TalkFigures | None  # None: none stored (an old or cut-off talk)
    raised_events_s: float  # seconds of raised voice in its stored events: stands in for missing figures
    suspended_s: float = 0.0  # seconds the machine was suspended during it (a laptop's lid closed)

    @property
    def length_s(self) -> float:
        """Seconds the talk lasted, the time the machine was suspended not counted; 0 when it has no end."""
        return max(0.0, self.ended_at - self.started_at - self.suspended_s) if self.ended_at else 0.0


@dataclass(frozen=True)
class SuggestionRow:
    """A suggested pause and its answer (None: not answered)."""

    at: float
    answer: str | None


class ReportRows(Protocol):
    """What a report sums, read one row at a time, with the demo talks and what belongs to them left out. Each
    method gives the rows of the period ``lo``..``hi`` (epoch seconds) or more; the report keeps its own bounds."""

    def talks(self, lo: float, hi: float) -> Iterable[TalkRow]:
        """The talks that began in the period."""
        ...

    def interruptions(self, lo: float, hi: float) -> Iterable[float]:
        """The wall-clock time of each interruption."""
        ...

    def suggestions(self, lo: float, hi: float) -> Iterable[SuggestionRow]:
        """The pauses suggested (and the manual ones, which the report leaves out)."""
        ...

    def pauses(self, lo: float, hi: float) -> Iterable[float]:
        """The start of each pause taken."""
        ...

    def checkins_done(self, lo: float, hi: float) -> Iterable[float]:
        """The start of each completed check-in."""
        ...


def build_report(data: Mapping[str, Any] | ReportRows, since: datetime, until: datetime) -> Report:
    """Sum a journal's rows (read as they come: :meth:`~voicecoach.journal.store.Journal.report_rows`) or an export
    dict into weekly bins between ``since`` and ``until`` (aware datetimes).

    Talks from ``voicecoach demo`` (a generated conversation, stored by older versions) and what belongs to them
    are left out: they are not the couple's."""
    rows: ReportRows = ExportRows(data) if isinstance(data, Mapping) else data
    tz: tzinfo | None = until.tzinfo
    first, last = _monday(since.date()), _monday(until.date())
    report = Report(since, until, [Week(first + timedelta(weeks=i)) for i in range((last - first).days // 7 + 1)])
    lo, hi = since.timestamp(), until.timestamp()

    def week_of(ts: float | None) -> Week | None:
        if ts is None or not lo <= ts <= hi:
            return None
        index = (_monday(datetime.fromtimestamp(ts, tz).date()) - first).days // 7
        return report.weeks[index] if 0 <= index < len(report.weeks) else None

    for at in rows.interruptions(lo, hi):
        if w := week_of(at):
            w.interruptions += 1
    for t in rows.talks(lo, hi):
        if not (w := week_of(t.started_at)):
            continue
        w.talks += 1
        w.talk_min += t.length_s / 60
        if t.figures is None:  # no figures stored (an old or cut-off talk): its raised events' lengths instead
            w.raised_min += t.raised_events_s / 60
            continue
        w.speak_a_s += t.figures.speak_a_s
        w.speak_b_s += t.figures.speak_b_s
        w.raised_min += t.figures.raised_s / 60
    for s in rows.suggestions(lo, hi):
        if (w := week_of(s.at)) and s.answer != "manual":
            w.pauses_suggested += 1
            w.pauses_declined += s.answer == "not_now"
    for started in rows.pauses(lo, hi):
        if w := week_of(started):
            w.pauses_taken += 1
    for started in rows.checkins_done(lo, hi):
        if w := week_of(started):
            w.checkins += 1
    return report


class ExportRows:
    """:class:`ReportRows` of a journal export dict (all in memory: tests, and an export read back)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        demo = TalkSource.DEMO.value
        self._demo = {t["id"] for t in data.get("talks", []) if t.get("source") == demo}
        self._data = data

    def _rows(self, table: str) -> list[dict[str, Any]]:
        return [r for r in self._data.get(table, []) if r.get("talk_id") not in self._demo]

    def talks(self, lo: float, hi: float) -> Iterable[TalkRow]:
        """The talks (all of them)."""
        raised: dict[int, float] = {}
        for e in self._rows("events"):
            if e.get("type") == "raised_voice" and e.get("end") is not None:
                raised[e["talk_id"]] = raised.get(e["talk_id"], 0.0) + max(0.0, e["end"] - e.get("start", e["end"]))
        return [TalkRow(t["started_at"], t.get("ended_at"), TalkFigures.from_row(t), raised.get(t["id"], 0.0),
                        float(t.get("suspended_s") or 0.0))  # an export from before schema 3 has none
                for t in self._data.get("talks", []) if t["id"] not in self._demo]

    def interruptions(self, lo: float, hi: float) -> Iterable[float]:
        """The time of each interruption: its talk's start and its time in the talk."""
        talk_start = {t["id"]: t["started_at"] for t in self._data.get("talks", [])}
        return [talk_start.get(e["talk_id"], 0) + e["t"] for e in self._rows("events")
                if e.get("type") == "interruption"]

    def suggestions(self, lo: float, hi: float) -> Iterable[SuggestionRow]:
        """Every suggestion."""
        return [SuggestionRow(s["at"], s.get("answer")) for s in self._rows("suggestions")]

    def pauses(self, lo: float, hi: float) -> Iterable[float]:
        """Every pause's start."""
        return [p["started_at"] for p in self._rows("pauses")]

    def checkins_done(self, lo: float, hi: float) -> Iterable[float]:
        """Every completed check-in's start."""
        return [c["started_at"] for c in self._data.get("checkins", [])
                if c.get("completed") and c.get("source") != TalkSource.DEMO.value]


WEEK_FIELDS = tuple(f.name for f in fields(Week) if f.name != "start")  # the counts and times added up


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-able data (``GET /api/report``): the period, every week and the totals."""
    def week(w: Week) -> dict[str, Any]:
        out: dict[str, Any] = {"week": w.start.isoformat()}
        out.update({k: round(getattr(w, k), 2) if isinstance(getattr(w, k), float) else getattr(w, k)
                    for k in WEEK_FIELDS})
        out["share_a"] = None if w.share_a is None else round(w.share_a, 3)
        return out

    total = week(report.total)
    del total["week"]
    return {"since": report.since.isoformat(timespec="seconds"), "until": report.until.isoformat(timespec="seconds"),
            "weeks": [week(w) for w in report.weeks], "total": total}


# --- words -------------------------------------------------------------------------------------------------------

def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _minutes(m: float) -> str:
    if m >= 90:
        return f"{int(m // 60)} h {int(round(m % 60))} min"
    return f"{m:.0f} min" if m >= 1 or m == 0 else "under a minute"


def _period(report: Report) -> str:
    return f"{report.since:%a %d %b %Y} to {report.until:%a %d %b %Y}"


def encouragement(report: Report) -> list[str]:
    """A few kind, factual observations about how things moved (never blame, never a score)."""
    lines = []
    active = [w for w in report.weeks if w.talks]
    if len(active) >= 2:
        earlier = sum(w.raised_min for w in active[:-1]) / (len(active) - 1)
        latest = active[-1].raised_min
        if latest < earlier * 0.8:
            lines.append("Raised voices took up less time in your latest talks than before. That is progress.")
        elif latest > earlier * 1.25 and latest >= 1:
            lines.append("Your latest talks had harder moments. That happens; the pause is there when you need it.")
    total = report.total
    if total.pauses_taken:
        lines.append(f"You stepped away to cool down {_times(total.pauses_taken)}: "
                     "that takes trust and care.")
    if total.checkins:
        lines.append(f"You made time for {_plural(total.checkins, 'check-in')} together.")
    return lines


def summary_text(report: Report, a_name: str = "Partner A", b_name: str = "Partner B") -> str:
    """The short terminal summary, followed by one line per week."""
    if report.empty:
        return (f"Nothing in the journal from {_period(report)} yet.\n"
                "When you use voicecoach (listen, the kiosk or a check-in), your talks, pauses and check-ins "
                "will show up here.\n")
    t = report.total
    out = [f"Your weeks from {_period(report)}", ""]
    out.append(f"  Talks: {t.talks}" + (f", {_minutes(t.talk_min)} together." if t.talk_min else "."))
    out.append(f"  Raised voices: {_minutes(t.raised_min)} in all; interruptions: {t.interruptions}.")
    if t.share_a is not None:
        out.append(f"  Talking time: {a_name} {t.share_a:.0%}, {b_name} {1 - t.share_a:.0%}.")
    out.append(f"  Pauses: suggested {_times(t.pauses_suggested)}, taken {t.pauses_taken}, "
               f"\"not now\" {t.pauses_declined}.")
    out.append(f"  Check-ins done: {t.checkins}.")
    extra = encouragement(report)
    if extra:
        out += [""] + [f"  {line}" for line in extra]
    out += ["", f"  {'week of':11} {'talks':>5} {'raised':>7} {'interr.':>7} {'talking A/B':>11} "
                f"{'pauses s/t/n':>12} {'check-ins':>9}"]
    for w in report.weeks:
        share = f"{w.share_a:.0%}/{1 - w.share_a:.0%}" if w.share_a is not None else "-"
        pauses = f"{w.pauses_suggested}/{w.pauses_taken}/{w.pauses_declined}"
        out.append(f"  {w.start:%d %b %Y} {w.talks:>5} {w.raised_min:>5.1f} m {w.interruptions:>7} {share:>11} "
                   f"{pauses:>12} {w.checkins:>9}")
    out.append(f"  (talking A/B: {a_name} / {b_name}; pauses: suggested / taken / \"not now\")")
    return "\n".join(out) + "\n"


# --- pictures ----------------------------------------------------------------------------------------------------

def _title(report: Report) -> str:
    return f"voicecoach: your weeks from {report.since:%d %b %Y} to {report.until:%d %b %Y}"


def chart_png(report: Report, a_name: str = "Partner A", b_name: str = "Partner B") -> tuple[bytes, int]:
    """The weekly-trends chart as PNG bytes (needs the ``report`` extra), and the number of weekly bins drawn."""
    from .chart_png import panels_png

    return panels_png(report_panels(report, a_name, b_name), _title(report)), len(report.weeks)


def write_png(report: Report, path: Path | str, a_name: str = "Partner A", b_name: str = "Partner B") -> int:
    """Write the PNG chart to ``path`` (needs the ``report`` extra); returns the number of weekly bins drawn."""
    png, bins = chart_png(report, a_name, b_name)
    _write(Path(path), png)
    return bins


def write_svg(report: Report, path: Path | str, a_name: str = "Partner A", b_name: str = "Partner B") -> int:
    """Write the chart as one SVG file (drawn by voicecoach itself); returns the number of weekly bins drawn."""
    _write(Path(path), report_svg(report, a_name, b_name).encode("utf-8"))
    return len(report.weeks)


PAGE_CSS = """
body { font-family: sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; color: #333; line-height: 1.5; }
h1 { font-weight: normal; font-size: 1.5em; }
p { margin: 0.3em 0; }
svg.chart { display: block; width: 100%; height: auto; margin: 1em 0; }
pre { background: #f6f6f4; padding: 1em; overflow-x: auto; }
.note { color: #777; font-size: 0.9em; }
"""


def html_page(report: Report, a_name: str = "Partner A", b_name: str = "Partner B") -> str:
    """A single self-contained HTML page: summary, the charts as inline SVG, inline CSS, no links, no scripts."""
    text = summary_text(report, a_name, b_name)
    body_lines, table = text.split("\n\n  week of", 1) if "\n\n  week of" in text else (text, "")
    paragraphs = "".join(f"<p>{html.escape(line.strip())}</p>" for line in body_lines.splitlines()[1:]
                         if line.strip())
    table_html = f"<pre>{html.escape('  week of' + table)}</pre>" if table else ""
    charts = "\n".join(panel_svg(p) for p in report_panels(report, a_name, b_name))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>voicecoach: your weeks</title>
<style>{PAGE_CSS}</style></head><body>
<h1>{html.escape(text.splitlines()[0])}</h1>
{paragraphs}
{charts}
{table_html}
<p class="note">Made by voicecoach on this computer from your private journal. Nothing was sent anywhere.</p>
</body></html>
"""


def write_html(report: Report, path: Path | str, a_name: str = "Partner A", b_name: str = "Partner B") -> None:
    """Write the self-contained HTML report to ``path``."""
    _write(Path(path), html_page(report, a_name, b_name).encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    """Write a private file (mode 0600, also over an existing file: a report tells a couple's story)."""
    try:
        paths.write_private(path, data)
    except OSError as exc:
        raise VoicecoachError(f"cannot write {path} ({exc.strerror}); choose another file") from None
