"""Weekly reports: the numbers behind them, gentle words, SVG charts that draw exactly those numbers, a
self-contained page, and a real PNG for those who have the extra."""

from __future__ import annotations

import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from voicecoach.errors import InputError, VoicecoachError
from voicecoach.events import Interruption, RaisedVoice
from voicecoach.journal import charts
from voicecoach.journal import report as rep
from voicecoach.journal.schema import TalkFigures
from voicecoach.journal.store import Journal
from voicecoach.records import Answer, PauseEnd

UTC = timezone.utc
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # a Sunday evening
SINCE = NOW - timedelta(weeks=12)  # Sunday 30 Aug: its week starts Monday 24 Aug -> 13 weekly bins


def seed(journal: Journal, now: datetime, weeks: int = 6) -> None:
    """One talk a week for ``weeks`` weeks, calmer each week; pauses, a "not now" and check-ins along the way."""
    for k in range(weeks):
        start = (now - timedelta(weeks=weeks - 1 - k, hours=3)).timestamp()
        talk = journal.start_talk("listen", start)
        raised = weeks - k  # moments of raised voice: 6, 5, ... 1 (30 s each)
        for i in range(raised):
            journal.add_event(talk, RaisedVoice(t=100.0 * i + 5, start=100.0 * i, end=100.0 * i + 30, speaker="A"))
        for i in range(raised // 2):
            journal.add_event(talk, Interruption(t=50.0 * i + 2, start=50.0 * i, speaker="B", over="A"))
        s = journal.add_suggestion(talk, start + 600, "3 interruptions in 60 s")
        journal.answer_suggestion(s, Answer.NOT_NOW if k == 0 else Answer.YES, start + 605)
        if k:
            p = journal.add_pause(talk, start + 606, 20.0)
            journal.end_pause(p, start + 606 + 1200, PauseEnd.COMPLETED)
        journal.end_talk(talk, start + 1800, TalkFigures(600.0, 400.0, 30.0 * raised, 0.0))
        journal.add_checkin("nightly", start + 3600, True, 12.0, "kiosk")
        journal.add_checkin("nightly", start + 7200, False, 2.0, "kiosk")  # stopped early: not counted as done


@pytest.fixture
def data(tmp_path: Path) -> dict:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        seed(journal, NOW)
        return journal.export()


# --- the numbers ---------------------------------------------------------------------------------------------

def test_weeks_run_monday_to_sunday_from_the_week_of_since_to_this_week(data: dict) -> None:
    report = rep.build_report(data, SINCE, NOW)
    assert len(report.weeks) == 13
    assert report.weeks[0].start.isoformat() == "2026-08-24" and report.weeks[-1].start.isoformat() == "2026-11-16"
    assert all(w.start.weekday() == 0 for w in report.weeks)


def test_weekly_figures_come_from_talks_events_pauses_and_checkins(data: dict) -> None:
    weeks = rep.build_report(data, SINCE, NOW).weeks[-6:]
    assert [w.talks for w in weeks] == [1] * 6
    assert [round(w.raised_min, 2) for w in weeks] == [3.0, 2.5, 2.0, 1.5, 1.0, 0.5]
    assert [w.interruptions for w in weeks] == [3, 2, 2, 1, 1, 0]
    assert all(w.share_a == pytest.approx(0.6) for w in weeks)
    assert [(w.pauses_suggested, w.pauses_taken, w.pauses_declined) for w in weeks] == \
        [(1, 0, 1)] + [(1, 1, 0)] * 5
    assert [w.checkins for w in weeks] == [1] * 6
    assert weeks[0].talk_min == pytest.approx(30.0)


def test_stored_raised_seconds_win_over_the_events_and_only_the_period_counts(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        inside = journal.start_talk("kiosk", (NOW - timedelta(days=2)).timestamp())
        journal.add_event(inside, RaisedVoice(t=1.0, start=0.0, end=600.0))
        journal.end_talk(inside, (NOW - timedelta(days=2)).timestamp() + 60, TalkFigures(0.0, 0.0, 60.0, 30.0))
        journal.start_talk("kiosk", (SINCE - timedelta(days=1)).timestamp())  # before the period
        s = journal.add_suggestion(None, (NOW - timedelta(days=1)).timestamp(), "asked for by the couple")
        journal.answer_suggestion(s, Answer.MANUAL, (NOW - timedelta(days=1)).timestamp())
        data = journal.export()
    report = rep.build_report(data, SINCE, NOW)
    assert report.total.talks == 1
    assert report.total.raised_min == pytest.approx(1.5)
    assert report.total.pauses_suggested == 0  # a pause the couple called is not a suggestion


def test_a_demo_talk_left_in_the_journal_by_an_older_version_is_not_counted(data: dict, tmp_path: Path) -> None:
    with Journal.open(tmp_path / "demo.sqlite3") as journal:
        seed(journal, NOW)
        start = (NOW - timedelta(days=1)).timestamp()
        talk = journal.start_talk("demo", start)  # what "voicecoach demo" stored before it stopped storing
        journal.add_event(talk, Interruption(t=34.0, start=33.0, speaker="A", over="B"))
        s = journal.add_suggestion(talk, start + 40, "1 raised voice and 3 interruptions in 60 s")
        journal.answer_suggestion(s, Answer.YES, start + 41)
        p = journal.add_pause(talk, start + 41, 20.0)
        journal.end_pause(p, start + 45, PauseEnd.COMPLETED)
        journal.end_talk(talk, start + 60, TalkFigures(25.0, 10.0, 7.0, 2.0))
        with_demo = journal.export()
    assert rep.report_dict(rep.build_report(with_demo, SINCE, NOW)) == rep.report_dict(rep.build_report(data, SINCE,
                                                                                                         NOW))


def test_without_stored_figures_the_raised_minutes_come_from_the_events(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        talk = journal.start_talk("listen", (NOW - timedelta(days=1)).timestamp())
        for i in range(3):
            journal.add_event(talk, RaisedVoice(t=100.0 * i + 5, start=100.0 * i, end=100.0 * i + 40))
        journal.end_talk(talk, (NOW - timedelta(days=1)).timestamp() + 600)  # figures not known
        data = journal.export()
    assert rep.build_report(data, SINCE, NOW).total.raised_min == pytest.approx(2.0)


@pytest.mark.parametrize("since", [SINCE, NOW - timedelta(weeks=3), NOW - timedelta(days=1)])
def test_the_journals_own_queries_sum_the_same_as_its_export(tmp_path: Path, monkeypatch, since: datetime) -> None:
    """The page and ``voicecoach report`` sum the journal by SQL a chunk of rows at a time (never all of it in
    memory): the same figures as the export's, demo talks left out, a talk without figures counted by its events,
    across chunk boundaries (3 rows a chunk here)."""
    import voicecoach.journal.store as store

    monkeypatch.setattr(store, "CHUNK_ROWS", 3)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        seed(journal, NOW, weeks=8)
        start = (NOW - timedelta(hours=5)).timestamp()
        demo = journal.start_talk("demo", start)
        journal.add_event(demo, Interruption(t=34.0, start=33.0, speaker="A", over="B"))
        journal.answer_suggestion(journal.add_suggestion(demo, start + 40, "x"), Answer.YES, start + 41)
        journal.add_pause(demo, start + 41, 20.0)
        journal.add_checkin("nightly", start, True, 5.0, "demo")
        journal.add_pause(None, start + 50, 20.0)  # a pause asked for outside any talk
        bare = journal.start_talk("kiosk", start + 100)
        journal.add_event(bare, RaisedVoice(t=5.0, start=1.0, end=41.0))
        journal.add_event(bare, Interruption(t=6.0, start=5.5, speaker="B", over="A"))
        expected = rep.report_dict(rep.build_report(journal.export(), since, NOW))
        assert rep.report_dict(rep.build_report(journal.report_rows(), since, NOW)) == expected
    assert expected["total"]["talks"] > 0


@pytest.mark.parametrize("text, days", [("30d", 30), ("12w", 84), ("1d", 1), (" 2W ", 14)])
def test_since_accepts_days_and_weeks(text: str, days: int) -> None:
    assert rep.parse_since(text, NOW) == NOW - timedelta(days=days)


def test_since_accepts_a_date_at_local_midnight() -> None:
    assert rep.parse_since("2026-01-01", NOW) == datetime(2026, 1, 1, tzinfo=UTC)


def test_since_with_a_minus_is_the_same_period_back() -> None:
    assert rep.parse_since("-3w", NOW) == rep.parse_since("3w", NOW) == NOW - timedelta(weeks=3)


@pytest.mark.parametrize("text", ["yesterday", "0d", "-0w", "--3w", "2027-01-01", "2026-13-01", "9999w",
                                  "1990-01-01"])
def test_bad_since_is_an_input_error_naming_the_forms_allowed(text: str) -> None:
    with pytest.raises(InputError):
        rep.parse_since(text, NOW)


# --- the words -------------------------------------------------------------------------------------------------

def test_the_summary_is_gentle_and_names_partners_only_for_their_share_of_talking(data: dict) -> None:
    text = rep.summary_text(rep.build_report(data, SINCE, NOW), "Sam", "Alex")
    assert "Talks: 6, 3 h 0 min together." in text
    assert "Talking time: Sam 60%, Alex 40%." in text
    assert "less time in your latest talks than before. That is progress." in text
    assert "You made time for 6 check-ins together." in text
    for line in text.splitlines():
        if "Sam" in line or "Alex" in line:
            assert line.strip().startswith(("Talking time:", "(talking A/B:")), line
    lowered = text.lower()
    for word in ("score", "fault", "blame", "worse", "bad", "fail"):
        assert word not in lowered
    assert len([line for line in text.splitlines() if re.match(r"  \d\d \w{3} \d{4}", line)]) == 13


def test_a_harder_week_is_met_with_kindness(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        for k, raised in enumerate((1, 1, 8)):
            start = (NOW - timedelta(weeks=2 - k, hours=3)).timestamp()
            talk = journal.start_talk("listen", start)
            journal.end_talk(talk, start + 900, TalkFigures(0.0, 0.0, 30.0 * raised, 0.0))
        data = journal.export()
    text = rep.summary_text(rep.build_report(data, SINCE, NOW))
    assert "harder moments. That happens; the pause is there when you need it." in text


def test_an_empty_journal_gets_a_kind_message() -> None:
    report = rep.build_report({}, SINCE, NOW)
    assert report.empty
    text = rep.summary_text(report)
    assert text.startswith("Nothing in the journal from")
    assert "will show up here" in text


# --- the pictures ----------------------------------------------------------------------------------------------

def svg_values(svg: str) -> dict[tuple[str, str], float]:
    """(series, week) -> the figure drawn, read back from the SVG's bars and points (parsed as XML)."""
    root = ET.fromstring(svg if svg.lstrip().startswith("<?xml") else f"<root>{svg}</root>")
    return {(e.get("data-series"), e.get("data-week")): float(e.get("data-value"))
            for e in root.iter() if e.get("data-series")}


def test_the_svg_charts_draw_every_weekly_figure_of_the_report(data: dict) -> None:
    report = rep.build_report(data, SINCE, NOW)
    panels = charts.report_panels(report, "Sam", "Alex")
    assert [p.key for p in panels] == ["talks", "raised", "share", "pauses"]
    drawn = svg_values("".join(charts.panel_svg(p) for p in panels))
    for w in report.weeks:
        week = w.start.isoformat()
        assert drawn[("talks", week)] == w.talks and drawn[("checkins", week)] == w.checkins
        assert drawn[("raised_min", week)] == pytest.approx(w.raised_min, abs=0.05)
        assert drawn[("interruptions", week)] == w.interruptions
        assert drawn[("pauses_suggested", week)] == w.pauses_suggested
        assert drawn[("pauses_taken", week)] == w.pauses_taken
        assert drawn[("pauses_declined", week)] == w.pauses_declined
        assert drawn[("share_a", week)] == pytest.approx(60.0 if w.talks else 0.0)
    assert len({week for _, week in drawn}) == 13


def test_bars_are_as_tall_as_their_figures(data: dict) -> None:
    [talks] = [p for p in charts.report_panels(rep.build_report(data, SINCE, NOW)) if p.key == "talks"]
    root = ET.fromstring(charts.panel_svg(talks))
    heights = {(r.get("data-series"), float(r.get("data-value"))): float(r.get("height"))
               for r in root.iter("rect") if r.get("data-series")}
    assert heights[("talks", 0.0)] == 0.0 and heights[("talks", 1.0)] > 0
    assert heights[("checkins", 1.0)] == pytest.approx(heights[("talks", 1.0)])


@pytest.mark.parametrize("peak, integer, top, step", [(0, True, 1, 1), (3, True, 3, 1), (7, True, 8, 2),
                                                       (13, True, 15, 5), (2.2, False, 3, 1),
                                                       (0.3, False, 0.6, 0.2)])
def test_axis_tops_are_round_numbers_at_or_above_the_peak(peak: float, integer: bool, top: float,
                                                          step: float) -> None:
    assert charts.nice_top(peak, integer) == (top, step)


def test_a_longer_period_draws_more_weekly_bins(data: dict) -> None:
    panels = charts.report_panels(rep.build_report(data, NOW - timedelta(weeks=52), NOW))
    assert all(len(p.weeks) == 53 for p in panels)
    root = ET.fromstring(charts.panel_svg(panels[0]))
    labels = [t for t in root.iter("text") if t.get("font-size") == "12"]
    assert 2 <= len(labels) <= 12 and labels[-1].text == "16 Nov"  # not 53 dates on top of each other
    xs = [float(t.get("x")) for t in labels]
    assert min(b - a for a, b in zip(xs, xs[1:])) >= charts.LABEL_W


def test_the_svg_file_is_one_standalone_image(data: dict, tmp_path: Path) -> None:
    out = tmp_path / "weeks.svg"
    assert rep.write_svg(rep.build_report(data, SINCE, NOW), out, "Sam", "Alex") == 13
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len([e for e in root if e.tag.endswith("svg")]) == 4
    assert out.stat().st_mode & 0o077 == 0


def test_the_html_page_is_one_self_contained_file_with_its_charts_inline(data: dict, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    rep.write_html(rep.build_report(data, SINCE, NOW), out, "Sam", "Alex")
    page = out.read_text(encoding="utf-8")
    assert "//" not in page and "http" not in page  # no links of any kind, not even protocol-relative ones
    for banned in ("<link", "<script", "<img", "@import", "url(", "data:"):
        assert banned not in page
    assert page.count('<svg class="chart"') == 4 and "<style>" in page
    assert "Talking time: Sam 60%, Alex 40%." in page
    drawn = svg_values(page[page.index("<svg"):page.rindex("</svg>") + 6])
    assert drawn[("talks", "2026-11-16")] == 1 and drawn[("share_b", "2026-11-16")] == 40


def test_charts_and_the_page_need_no_matplotlib(data: dict, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    report = rep.build_report(data, SINCE, NOW)
    rep.write_html(report, tmp_path / "r.html")
    rep.write_svg(report, tmp_path / "r.svg")
    with pytest.raises(VoicecoachError, match=r"'report' extra.*pip install 'voicecoach\[report\]'"):
        rep.write_png(report, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# --- a PNG, for those who have the extra -----------------------------------------------------------------------

def png_chunks(png: bytes) -> dict[bytes, list[bytes]]:
    """The chunks of a PNG, checking the signature and every CRC on the way."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, list[bytes]] = {}
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.setdefault(kind, []).append(body)
        pos += 12 + length
    assert b"IEND" in chunks
    return chunks


def test_with_the_extra_the_png_is_a_real_image_with_one_bin_per_week(data: dict, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the 'report' extra is not installed (PNG charts are optional)")
    out = tmp_path / "weeks.png"
    bins = rep.write_png(rep.build_report(data, SINCE, NOW), out, "Sam", "Alex")
    assert bins == 13
    chunks = png_chunks(out.read_bytes())
    width, height = struct.unpack(">II", chunks[b"IHDR"][0][:8])
    assert (width, height) == (900, 1000)
    texts = dict(c.split(b"\x00", 1) for c in chunks.get(b"tEXt", []))
    assert texts[b"Description"].startswith(b"weeks=13; first=2026-08-24")
    assert len(chunks[b"IDAT"][0]) > 10_000  # drawn, not blank
    assert out.stat().st_mode & 0o077 == 0


def test_the_report_takes_a_talks_figures_through_talk_figures_not_by_column_name(monkeypatch):
    """issue 17: a field renamed on the store's side or the report's fails here, not silently as zeros."""
    from dataclasses import asdict

    seen = []
    real = TalkFigures.from_row

    def spy(row):
        seen.append(row["id"])
        return real(row)

    monkeypatch.setattr(TalkFigures, "from_row", staticmethod(spy))
    start = (NOW - timedelta(hours=2)).timestamp()
    row = {"id": 7, "source": "listen", "started_at": start, "ended_at": start + 600,
           **asdict(TalkFigures(speak_a_s=120.0, speak_b_s=80.0, raised_a_s=30.0, raised_b_s=6.0))}
    total = rep.build_report({"talks": [row]}, NOW - timedelta(days=7), NOW).total
    assert seen == [7]
    assert (total.speak_a_s, total.speak_b_s, round(total.raised_min, 3)) == (120.0, 80.0, 0.6)
    assert TalkFigures.from_row({**row, **dict.fromkeys(TalkFigures.columns())}) is None  # a talk with no figures
