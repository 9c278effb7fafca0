"""Wall-clock time misbehaving, as it does on the product's two machines.

A Raspberry Pi has no clock of its own: it boots on its last saved time (fake-hwclock), hours or days behind, and the
network time then sets it forward with a jump. A laptop is suspended: ``time.monotonic()`` stops (Linux) while the
wall clock runs on. Both are driven here by injected clocks (``Box``: a wall clock that can be set, and a steady one
that counts suspend and is never set), with a real journal (SQLite); nothing sleeps. The time zone is set after the
first boot: a zone file (a symbolic link into the system's zone data, as ``/etc/localtime``) replaced while it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from voicecoach.clock import LocalTime, suspend_counting_clock
from voicecoach.config import KioskSettings
from voicecoach.events import Interruption
from voicecoach.journal import report as rep
from voicecoach.journal.schema import TalkFigures, TalkSource
from voicecoach.journal.store import Journal
from voicecoach.journal.writer import TalkWriter
from voicecoach.kiosk import RitualScheduler
from voicecoach.records import Answer, PauseEnd, PauseEnded, PauseStarted, SuggestionAnswered, SuggestionMade

def near(expected):
    """Equal to within 10 ms (``pytest.approx`` alone allows 1e-6 of an epoch time: half an hour)."""
    return pytest.approx(expected, abs=0.01)


REAL = datetime(2026, 11, 23, 19, 0, tzinfo=timezone.utc).timestamp()  # when the box really starts its talk


@dataclass
class Box:
    """FAKE clocks of one machine: ``wall`` (epoch seconds, can be set) and ``steady`` (counts suspend, never set)."""

    wall_s: float
    steady_s: float = 100.0
    asleep_s: float = 5.0  # seconds spent suspended since it booted (``clock.suspended_clock``)

    def wall(self) -> float:
        return self.wall_s

    def steady(self) -> float:
        return self.steady_s

    def suspended(self) -> float:
        return self.asleep_s

    def runs(self, seconds: float) -> None:
        """Time passes (awake or suspended: both clocks move)."""
        self.wall_s += seconds
        self.steady_s += seconds

    def sleeps(self, seconds: float) -> None:
        """The machine is suspended (a laptop's lid closed): both clocks move, and so does the time suspended."""
        self.runs(seconds)
        self.asleep_s += seconds


def _an_hour_long_talk(tmp_path, box: Box, set_by_s: float) -> dict[str, list[dict]]:
    """The kiosk's talk as the live loop writes it: an interruption 10 s in, a suggestion taken, the clock set by
    ``set_by_s`` 30 s in, a pause, a second interruption, its end an hour in. Returns the journal's rows."""
    path = tmp_path / "journal.sqlite3"
    writer = TalkWriter(Journal.open(path), TalkSource.KIOSK, wall=box.wall, steady=box.steady)
    box.runs(10)
    writer.event(Interruption(t=10.0, start=10.0, speaker="B", over="A"))
    box.runs(5)
    writer.record(SuggestionMade("interruptions", 15.0))
    writer.record(SuggestionAnswered(Answer.YES))
    writer.record(PauseStarted(20.0, manual=False))
    box.runs(15)
    box.wall_s += set_by_s  # the network time sets the clock (systemd-timesyncd steps it)
    writer.follow()  # the live loop looks about once a second
    box.runs(20 * 60)
    writer.record(PauseEnded(PauseEnd.COMPLETED, 20.0))
    writer.event(Interruption(t=1800.0, start=1800.0, speaker="A", over="B"))
    box.runs(3600 - 30 - 20 * 60)
    writer.end(TalkFigures(600.0, 500.0, 20.0, 10.0), 3600.0, 3600.0)
    with Journal.open(path) as journal:
        return {table: journal.rows(table) for table in ("talks", "events", "suggestions", "pauses")}


@pytest.mark.parametrize("behind_s", [2 * 86400.0, 3 * 3600.0, -3600.0])
def test_a_talk_begun_on_a_stale_clock_is_dated_as_the_set_clock_says(tmp_path, behind_s):
    """The Pi booted ``behind_s`` behind (off for two days; an hour ahead: a clock set back). Before: the talk began
    two days ago and lasted two days and an hour, its interruptions two days early (another week of the report), its
    pause 20 min + two days long; now all is moved by the step."""
    rows = _an_hour_long_talk(tmp_path, Box(REAL - behind_s), set_by_s=behind_s)
    (talk,) = rows["talks"]
    assert talk["started_at"] == near(REAL)
    assert talk["ended_at"] - talk["started_at"] == near(3600.0)
    assert [talk["started_at"] + e["t"] for e in rows["events"]] == near([REAL + 10, REAL + 1800])
    (suggestion,) = rows["suggestions"]
    assert suggestion["at"] == near(REAL + 15) and suggestion["answered_at"] == near(REAL + 15)
    (pause,) = rows["pauses"]
    assert pause["started_at"] == near(REAL + 15) and pause["actual_min"] == near(20.25)
    week = rep.build_report(rows, datetime(2026, 11, 23, tzinfo=timezone.utc),
                            datetime(2026, 11, 29, tzinfo=timezone.utc)).weeks[0]
    assert (week.talks, week.interruptions, week.pauses_taken, round(week.talk_min)) == (1, 2, 1, 60)


def test_a_laptop_suspended_during_the_talk_keeps_its_times_and_counts_only_the_time_awake(tmp_path):
    """Suspended for two hours mid-talk (both clocks of Box run on: the steady one counts suspend): the wall clock
    was not set, so nothing is moved; the talk spans its real two hours and two minutes, but the couple talked for
    two minutes. Before: "Talk of 122 min" at the end of ``listen``, and 2 h 2 min together in the report."""
    box = Box(REAL)
    path = tmp_path / "journal.sqlite3"
    writer = TalkWriter(Journal.open(path), TalkSource.LISTEN, wall=box.wall, steady=box.steady,
                        suspended=box.suspended)
    box.runs(60)
    writer.record(SuggestionMade("raised voices", 60.0))
    box.sleeps(2 * 3600)  # the lid closed
    writer.follow()
    writer.event(Interruption(t=7290.0, start=7290.0, speaker="B", over="A"))  # the microphone's stamps skip it
    box.runs(60)
    summary = writer.end(TalkFigures(60.0, 60.0, 5.0, 0.0), 7320.0, 7320.0)
    assert summary.seconds == 120.0 and summary.text().startswith("Talk of 2 min;")
    with Journal.open(path) as journal:
        (talk,), (suggestion,) = journal.rows("talks"), journal.rows("suggestions")
        week = rep.build_report(journal.report_rows(), datetime(2026, 11, 23, tzinfo=timezone.utc),
                                datetime(2026, 11, 29, tzinfo=timezone.utc)).weeks[0]
    assert talk["started_at"] == REAL and talk["ended_at"] == REAL + 2 * 3600 + 120
    assert talk["suspended_s"] == 2 * 3600.0
    assert suggestion["at"] == REAL + 60
    assert (week.talks, week.talk_min, week.interruptions) == (1, 2.0, 1)
    exported = rep.build_report({"talks": [talk]}, datetime(2026, 11, 23, tzinfo=timezone.utc),
                                datetime(2026, 11, 29, tzinfo=timezone.utc)).weeks[0]
    assert exported.talk_min == 2.0  # a report of the export reads the same


def test_a_talk_without_a_suspend_is_its_wall_clock_span(tmp_path):
    box = Box(REAL)
    path = tmp_path / "journal.sqlite3"
    writer = TalkWriter(Journal.open(path), TalkSource.LISTEN, wall=box.wall, steady=box.steady,
                        suspended=box.suspended)
    box.runs(600)
    assert writer.end(TalkFigures(60.0, 60.0, 0.0, 0.0), 600.0, 600.0).seconds == 600.0
    with Journal.open(path) as journal:
        (talk,) = journal.rows("talks")
    assert talk["suspended_s"] == 0.0 and talk["ended_at"] - talk["started_at"] == 600.0


def test_the_live_loop_gives_its_journal_a_clock_that_counts_suspend(tmp_path):
    """The wiring: without a steady clock the talk cannot tell a set clock from time passing."""
    from voicecoach.audio.playback import NullSink
    from voicecoach.config import Config
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.speech.speaker import Speaker

    if suspend_counting_clock() is None:
        pytest.skip("no clock that counts suspend on this system")
    config = Config()
    live = Live.build(config, LiveSpec(TalkSource.KIOSK, commands=False, finish_speech_s=0.0),
                      speaker=Speaker(config.speech, sink=NullSink()), journal=Journal.open(tmp_path / "j.sqlite3"),
                      notes=None)
    try:
        assert isinstance(live.session.talk, TalkWriter) and live.session.talk._steady is not None
        assert live.session.talk._suspended is not None  # the talk's length leaves a suspend out
    finally:
        live.close()


@pytest.fixture
def zone_link(tmp_path):
    """A zone file like ``/etc/localtime`` (a link to UTC, a fresh Pi's zone), and ``set_zone(name)``: replace it as
    ``timedatectl set-timezone`` does (a new link renamed over it)."""
    import os
    import zoneinfo
    from pathlib import Path

    data = next((Path(d) for d in zoneinfo.TZPATH if (Path(d) / "Etc" / "UTC").is_file()), None)
    if data is None:
        pytest.skip("no system time-zone data")
    link = tmp_path / "localtime"
    link.symlink_to(data / "Etc" / "UTC")

    def set_zone(name: str) -> None:
        new = tmp_path / "localtime.new"
        new.symlink_to(data / name)
        os.replace(new, link)

    return link, set_zone


def test_a_time_zone_set_while_the_kiosk_runs_moves_its_rituals(zone_link):
    """A box started in UTC, its zone set to Berlin at 20:10 UTC: the nightly 21:30 comes at Berlin's 21:30 (20:30
    UTC), once; not at 21:30 UTC as well."""
    link, set_zone = zone_link
    t = datetime(2026, 11, 23, 20, 0, 30, tzinfo=timezone.utc).timestamp()
    local = LocalTime(str(link), wall=lambda: t)
    scheduler = RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day="", quiet_start="", quiet_end="",
                                              grace_min=30))
    fired = []
    for minute in range(4 * 60):
        if minute == 10:
            set_zone("Europe/Berlin")
        fired += [(datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M"), name)
                  for name in scheduler.due(local.now())]
        t += 60
    assert fired == [("20:30", "nightly")]


def test_the_kiosks_local_time_follows_a_zone_set_after_it_started(zone_link):
    """The kiosk's own ``now`` (what ``voicecoach kiosk`` runs, in a process of its own). Before: ``datetime.now``,
    and glibc never reads a changed zone file again, not even on ``time.tzset()``: UTC for good."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    link, set_zone = zone_link
    script = ("import argparse, sys, time\n"
              "from voicecoach.cli.kiosk import _now_function\n"
              "now = _now_function(argparse.Namespace(pretend_time=None), None)\n"
              "before = now().replace(tzinfo=None)\n"
              "print('ready', flush=True)\n"
              "sys.stdin.readline()\n"  # the zone is set meanwhile
              "time.tzset()\n"
              "print((now().replace(tzinfo=None) - before).total_seconds())\n")
    env = {**os.environ, "TZ": f":{link}", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             text=True, cwd=REPO)
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    set_zone("Asia/Tokyo")
    out, _ = child.communicate("go\n", timeout=60)
    assert round(float(out) / 3600) == 9  # Tokyo is 9 hours ahead of UTC (neither has summer time)


def test_a_laptop_suspended_mid_talk_is_a_gap_in_the_audio_clock(caplog):
    """The lid closed for an hour between two raised voices: the microphone's stream goes on after the resume as if
    nothing had happened. Before: the audio clock went on from where it stopped, so the two looked 3 s apart and
    made "2 raised voices in 60 s" (a pause suggested from stale state); now the hour is a gap in the stamps (as for
    blocks dropped), which the escalation's window, the events' dates and the interruption stages all see."""
    from types import SimpleNamespace

    import numpy as np

    from voicecoach.audio.device import MicSource
    from voicecoach.detect.escalation import EscalationPolicy
    from voicecoach.detect.settings import EscalationSettings
    from voicecoach.events import RaisedVoice

    suspended = [0.0]
    mic = MicSource(None, frame_ms=30, rate=16000, channels=1, suspended=lambda: suspended[0])
    mic._stream = object()  # FAKE: no PortAudio stream here; blocks are handed to the callback as PortAudio does
    noise = np.random.default_rng(1).normal(0, 300, (mic.block, 1)).astype(np.int16)
    per_block = mic.block_ms // mic.frame_ms

    def blocks(n: int) -> list:
        for _ in range(n):
            mic._callback(noise, mic.block, None, SimpleNamespace(input_overflow=False))
        return [next(frames) for _ in range(n * per_block)]

    frames = mic.frames()
    before = blocks(20)
    suspended[0] = 3600.0  # the lid closed, opened an hour later
    with caplog.at_level(logging.INFO, logger="voicecoach.audio.device"):
        after = blocks(20)
    assert after[0].start_s - before[-1].end_s == near(3600.0)
    assert caplog.text.count("suspended for 3600 s") == 1
    policy = EscalationPolicy(EscalationSettings())
    suggested = []
    for frame, raised in ((before[-3], True), (after[50], True)):
        event = RaisedVoice(t=frame.end_s, start=frame.end_s - 1.0, speaker="A")
        suggested += policy.process(frame.end_s, [event] if raised else [], raised_now=False)
    assert suggested == []
    mic._stream = None


@pytest.mark.parametrize("night_utc, expected_local", [
    (datetime(2026, 3, 28, 20, 0, tzinfo=timezone.utc), datetime(2026, 3, 29, 3, 0)),  # 02:30 is never shown
    (datetime(2026, 10, 24, 20, 0, tzinfo=timezone.utc), datetime(2026, 10, 25, 2, 30)),  # 02:30 is shown twice
])
def test_the_kiosks_local_time_keeps_a_ritual_once_on_the_nights_the_clocks_change(zone_link, night_utc,
                                                                                   expected_local):
    """The kiosk's own clock (aware, read from the zone file) on Berlin's two clock-change nights: a 02:30 ritual
    comes once, at the jump or at the first 02:30 (the scheduler's own tests drive it with datetimes they make)."""
    link, set_zone = zone_link
    set_zone("Europe/Berlin")
    t = night_utc.timestamp() + 0.5
    local = LocalTime(str(link), wall=lambda: t)
    scheduler = RitualScheduler(KioskSettings(nightly_time="02:30", weekly_day="", quiet_start="", quiet_end="",
                                              grace_min=10))
    fired = []
    for _ in range(10 * 360):  # every 10 s for 10 hours
        now = local.now()
        fired += [(now.replace(tzinfo=None, microsecond=0), name) for name in scheduler.due(now)]
        t += 10.0
    assert fired == [(expected_local, "nightly")]


# --- local days outside the kiosk's scheduler: the hooks, the page on its own, the voice notes' wording ----------

LATE_UTC = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc).timestamp()  # Tue 10:00 in Kiritimati (UTC+14)


def test_the_hooks_date_and_count_events_in_a_zone_set_while_they_run(zone_link, tmp_path):
    """The hooks' "at" and "today" followed the zone the process started in (UTC here) for good."""
    import json
    import sys

    from voicecoach.hooks.events import HookKind
    from voicecoach.hooks.runtime import Hooks, MqttPublisher
    from voicecoach.hooks.settings import HookSettings

    link, set_zone = zone_link
    local = LocalTime(str(link), wall=lambda: LATE_UTC)
    set_zone("Pacific/Kiritimati")
    out, script = tmp_path / "events.jsonl", tmp_path / "hook.py"
    script.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n")
    hooks = Hooks(HookSettings(command=(sys.executable, str(script), str(out))), hostname="pi", local=local).start()
    hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
    hooks.close()
    event = json.loads(out.read_text().splitlines()[0])
    assert event["at"].endswith("+14:00"), event

    publisher = MqttPublisher(HookSettings(mqtt="mqtt://127.0.0.1:1"), "pi", local)  # nobody there: dropped
    from voicecoach.hooks.events import HookEvent

    publisher._handle(HookEvent(HookKind.PAUSE_TAKEN, LATE_UTC))
    assert str(publisher.state.counts.day) == "2026-11-24"  # Kiritimati's Tuesday, not UTC's Monday
    assert publisher._idle() > 0 and str(publisher.state.counts.day) == "2026-11-24"  # no roll-over back


def test_a_voice_note_is_from_this_morning_in_a_zone_set_while_the_loop_runs(zone_link):
    from voicecoach.notes_flow import NotesFlow, NoteSummary

    link, set_zone = zone_link
    local = LocalTime(str(link))
    flow = NotesFlow(("Sam", "Alex"), True, wall=lambda: LATE_UTC + 1800, local=local.at)
    set_zone("Pacific/Kiritimati")
    said = " ".join(getattr(a, "text", "") for a in flow.play([NoteSummary(1, LATE_UTC, "A")]))
    assert "from this morning" in said, said  # 10:00 there; "this evening" in UTC


def test_the_page_on_its_own_follows_the_zone_set_now():
    """``voicecoach web`` alone: its "Now" (next ritual, quiet hours) took datetime.now, the zone it started in."""
    from pathlib import Path

    from voicecoach.web.status import OfflineStatus

    status = OfflineStatus(Path("config.toml"), Path("journal.sqlite3"))
    assert isinstance(getattr(status.local_now, "__self__", None), LocalTime)
    assert status.local_now().tzinfo is not None


def test_with_the_journal_off_the_summary_leaves_a_suspend_out_too():
    from voicecoach.journal.talk import TalkLog

    box = Box(REAL)
    talk = TalkLog(None, TalkSource.LISTEN, wall=box.wall, suspended=box.suspended)
    box.runs(600)
    box.sleeps(3600)
    box.runs(600)
    assert talk.end(None, 4800.0, 4800.0).text().startswith("Talk of 20 min;")
