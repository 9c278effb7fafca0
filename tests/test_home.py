"""The kiosk's home, wired to the live loop: notices become hook events (counts only) and the page's status; a
changed config file reaches the schedule within a second; the page's buttons take the voice's path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voicecoach import notices as n
from voicecoach.clock import FakeClock
from voicecoach.config import KioskSettings
from voicecoach.events import Interruption, RaisedVoice
from voicecoach.home import ScheduleWatch
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.talk import TalkSummary
from voicecoach.hooks.events import Health, HookKind
from voicecoach.hooks.observer import HookObserver, hook_event_for
from voicecoach.records import (Answer, CheckinEnded, CheckinOutcome, CheckinStarted, PauseEnd, PauseEnded,
                                PauseStarted, SuggestionAnswered, SuggestionMade)
from voicecoach.web.runtime import LiveControls
from voicecoach.web.status import Level, parts_after


class Sent:
    """Stands in for Hooks: what would be queued."""

    def __init__(self) -> None:
        self.events: list[tuple[HookKind, dict]] = []

    def send(self, kind: HookKind, **fields) -> None:
        self.events.append((kind, fields))


def test_each_lifecycle_record_becomes_one_counts_only_hook_event() -> None:
    cases = [(SuggestionMade("3 interruptions in 60 s", 12.0), HookKind.PAUSE_SUGGESTED),
             (SuggestionAnswered(Answer.NOT_NOW), HookKind.PAUSE_NOT_NOW),
             (PauseStarted(20.0, manual=True), HookKind.PAUSE_TAKEN),
             (PauseEnded(PauseEnd.COMPLETED, 20.0), HookKind.PAUSE_ENDED),
             (n.CheckinDue("nightly"), HookKind.CHECKIN_DUE),
             (CheckinStarted("nightly"), HookKind.CHECKIN_STARTED),
             (CheckinEnded("nightly", CheckinOutcome.COMPLETED, 5, 5, 9.5), HookKind.CHECKIN_DONE),
             (RaisedVoice(t=1.0, start=0.5, speaker="A"), HookKind.RAISED_VOICE),
             (Interruption(t=2.0, start=1.5, speaker="B", over="A"), HookKind.INTERRUPTION)]
    for notice, kind in cases:
        found = hook_event_for(notice)
        assert found is not None and found[0] is kind, notice
        for value in found[1].values():
            assert isinstance(value, (int, float)) or len(value) < 40  # labels and numbers only
    assert hook_event_for(PauseStarted(20.0, manual=True))[1] == {"minutes": 20.0, "how": "asked for"}
    assert hook_event_for(SuggestionAnswered(Answer.YES)) is None  # the pause itself says it was taken
    assert hook_event_for(n.Said("Shall we take the 20 minute pause we agreed on?")) is None  # no words at all


def test_health_is_sent_when_it_changes_and_only_then() -> None:
    sent = Sent()
    observer = HookObserver(sent)
    for notice in (n.TalkStarted(TalkSource.KIOSK), n.MicWaiting("no input device"), n.MicWaiting("no input device"),
                   n.MicOpened("2", 48000), n.Health(n.Part.SPEECH_MODEL, True, "loaded"), n.MicLost("no audio"),
                   n.MicOpened("2", 48000), n.TalkEnded(TalkSummary(), "SIGTERM")):
        observer.notify(notice)
    healths = [fields["health"] for kind, fields in sent.events if kind is HookKind.HEALTH]
    assert [h.summary for h in healths] == ["no microphone", "no speech model", "ok", "no microphone", "ok",
                                            "stopped"]
    assert healths[0] == Health(running=True, microphone=False, speech_model=False)


def test_the_pages_status_follows_the_microphone_and_what_is_under_way() -> None:
    assert parts_after(n.MicOpened("2", 48000))["microphone"].level is Level.OK
    assert parts_after(n.MicLost("unplugged"))["microphone"].level is Level.FAIL
    assert parts_after(n.Health(n.Part.SPEECH_MODEL, False, "no model"))["speech_model"].detail == "no model"
    assert parts_after(PauseStarted(20.0, manual=False)) == {"activity": "the agreed pause"}
    assert parts_after(CheckinStarted("weekly")) == {"activity": "the weekly check-in"}
    assert parts_after(RaisedVoice(t=1.0, start=0.5)) == {}


def test_a_changed_config_file_reschedules_the_kiosk_within_a_second(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[kiosk]\nnightly_time = "21:30"\n')
    clock = FakeClock()
    got: list[KioskSettings] = []
    watch = ScheduleWatch(path, KioskSettings(nightly_time="21:30"), got.append, clock.now)
    path.write_text('[kiosk]\nnightly_time = "20:15"\n# a comment\n')
    watch.tick()
    assert got == []  # looked less than a second ago
    clock.advance(1.0)
    watch.tick()
    assert [k.nightly_time for k in got] == ["20:15"]
    path.write_text('[partners]\na_name = "Sam"\n[kiosk]\nnightly_time = "20:15"\n')  # the schedule is the same
    os.utime(path, ns=(1, 1))
    clock.advance(1.0)
    watch.tick()
    assert len(got) == 1


def test_a_half_written_config_keeps_the_schedule_and_says_why(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[kiosk]\nnightly_time = "21:30"\n')
    clock = FakeClock()
    got: list[KioskSettings] = []
    watch = ScheduleWatch(path, KioskSettings(), got.append, clock.now)
    path.write_text('[kiosk]\nnightly_time = "27:99"\n')
    clock.advance(1.5)
    watch.tick()
    assert got == [] and "keeping the schedule as it was" in caplog.text and "nightly_time" in caplog.text


def test_the_pages_buttons_take_the_voices_path() -> None:
    asked: list[str] = []
    controls = LiveControls(lambda: asked.append("pause"), lambda name: asked.append(f"checkin {name}"),
                            free=lambda: True, microphone_open=lambda: True)
    assert "starting the pause" in controls.pause_now()
    assert "asks you both first" in controls.start_checkin("weekly")
    assert asked == ["pause", "checkin weekly"]
    busy = LiveControls(lambda: None, lambda name: asked.append(name), free=lambda: False,
                        microphone_open=lambda: False)
    assert "busy" in busy.start_checkin("nightly") and asked[-1] == "checkin weekly"
    assert "as soon as its microphone is back" in busy.pause_now()


def test_a_changed_schedule_is_never_offered_at_once_and_keeps_its_snoozes() -> None:
    from datetime import datetime, timedelta

    from voicecoach.kiosk import RitualScheduler

    now = datetime(2026, 11, 23, 21, 35)
    old = RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day="", quiet_start="", quiet_end=""))
    assert old.due(now) == ["nightly"]
    old.snooze("weekly", now + timedelta(hours=1))
    new = RitualScheduler(KioskSettings(nightly_time="21:33", weekly_day="", quiet_start="", quiet_end=""))
    new.carry_over(old, now)
    assert new.due(now) == []  # 21:33 has just passed: not offered because of the change
    assert new.due(now + timedelta(hours=1)) == ["weekly"]  # the snooze came along
    assert new.due(now + timedelta(days=1, minutes=-2)) == ["nightly"]  # tomorrow at 21:33 it is
    later = RitualScheduler(KioskSettings(nightly_time="21:50", weekly_day="", quiet_start="", quiet_end=""))
    later.carry_over(old, now)
    assert later.due(now + timedelta(minutes=15)) == ["nightly"]  # a time still ahead today comes today


def _kiosk_with_page(tmp_home, clock=None, on_line=None, local_now=lambda: None, **web):
    """A kiosk's live loop with its page on (``web``: [web] settings besides enabled), and what attach() made."""
    from voicecoach.audio.playback import NullSink
    from voicecoach.config import Config
    from voicecoach.home import attach
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.speech.speaker import Speaker

    config = Config()
    config = type(config)(**{**config.__dict__, "web": type(config.web)(enabled=True, **web)})
    live = Live.build(config, LiveSpec(TalkSource.KIOSK, commands=False), clock=clock, journal=None, notes=None,
                      speaker=Speaker(config.speech, sink=NullSink()), on_line=on_line)
    home = attach(live, config, tmp_home.config_file, tmp_home.data_dir / "journal.sqlite3", local_now)
    return live, home


def test_asked_for_a_pairing_code_the_kiosk_says_one_that_pairs(tmp_home) -> None:
    import re
    import time

    from voicecoach.commands import Command, Source
    from voicecoach.web.security import PairingCodes

    said: list[str] = []
    live, home = _kiosk_with_page(tmp_home, on_line=said.append, port=0, pairing="always")
    try:
        assert Command.PAIRING_CODE in live.router.hearing.commands  # listened for at any time
        live.submit(Command.PAIRING_CODE, Source.VOICE)
        live.session.tick()
        spoken = [line for line in said if "pairing code" in line]
        assert spoken, said
        digits = re.search(r"is: (\d) (\d) (\d), (\d) (\d) (\d)\.", spoken[0]).groups()
        assert PairingCodes(tmp_home.data_dir).check("".join(digits), time.time()).ok
    finally:
        home.close()
        live.close()


def test_a_page_that_cannot_listen_at_start_is_tried_again_until_it_serves(tmp_home, caplog) -> None:
    """At boot the kiosk can start before the network (an address not there yet) or while the port is still held:
    the page comes up on a later try, without a restart; the failure is said once."""
    import logging
    import socket
    import urllib.request
    from datetime import datetime

    from voicecoach.home import PAGE_RETRY_S

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    clock = FakeClock()
    with caplog.at_level(logging.WARNING, logger="voicecoach.home"):
        live, home = _kiosk_with_page(tmp_home, clock=clock, local_now=datetime.now, address="127.0.0.1", port=port)
    try:
        assert home.server is None
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and "already in use" in said[0] and "tries again every 30 s" in said[0], said
        clock.advance(PAGE_RETRY_S)
        live.session.tick()   # the port is still held: no page, nothing more said
        assert home.server is None and len(caplog.records) == 1
        holder.close()
        clock.advance(PAGE_RETRY_S - 1)
        live.session.tick()
        assert home.server is None   # not before its time
        clock.advance(1)
        live.session.tick()
        assert home.server is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.status == 200
    finally:
        holder.close()
        home.close()
        live.close()


def test_a_page_that_cannot_listen_leaves_no_thread_behind(tmp_home) -> None:
    """waitress starts its request threads before it binds: every failed try (one each 30 s while the port is held)
    left two of them running until the kiosk ended."""
    import socket
    import threading
    from datetime import datetime

    from voicecoach.home import PAGE_RETRY_S

    before = set(threading.enumerate())
    clock = FakeClock()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        live, home = _kiosk_with_page(tmp_home, clock=clock, local_now=datetime.now, address="127.0.0.1",
                                      port=holder.getsockname()[1])
        try:
            for _ in range(3):
                clock.advance(PAGE_RETRY_S)
                live.session.tick()
            assert home.server is None
            left = [t.name for t in threading.enumerate() if t not in before and t.name.startswith("waitress")]
            assert left == [], left
        finally:
            home.close()
            live.close()


def test_a_pairing_code_that_cannot_be_stored_is_said_and_the_kiosk_goes_on(tmp_home, caplog) -> None:
    """Asked for a pairing code with a data folder where it cannot be written (read-only, full; here a folder
    where the code's file goes): the OSError escaped the loop's tick (the kiosk logged a traceback, "the live loop
    failed", and reopened the microphone; the couple heard nothing). Now it says it could not, logs why in one
    line, and the loop goes on."""
    from voicecoach.commands import Command, Source
    from voicecoach.web.security import CODE_FILE

    (tmp_home.data_dir / CODE_FILE).mkdir()
    said: list[str] = []
    live, home = _kiosk_with_page(tmp_home, on_line=said.append, port=0, pairing="always")
    try:
        live.submit(Command.PAIRING_CODE, Source.VOICE)
        live.session.tick()
        assert any("could not make a pairing code" in line for line in said), said
        assert f"cannot store the pairing code in {tmp_home.data_dir}" in caplog.text
        live.submit(Command.PAIRING_CODE, Source.VOICE)  # and again: the loop is still there
        live.session.tick()
        assert sum("could not make a pairing code" in line for line in said) == 2, said
    finally:
        home.close()
        live.close()

