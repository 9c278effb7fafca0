"""The one live assembly (runtime_live.Live): its extension point (observers, injected commands, hooks), the journal
rows it closes, and the kiosk's resilience. Real pipeline, real TTS into a null sink, real journal."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voicecoach.audio.playback import NullSink
from voicecoach.audio.wav import read_wav
from voicecoach.commands import Command, Source
from voicecoach.config import Config
from voicecoach.events import Interruption, PauseSuggested, RaisedVoice
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.store import Journal
from voicecoach.notices import MicOpened, Said, TalkEnded, TalkStarted
from voicecoach.records import PauseEnd, PauseEnded, PauseStarted, SuggestionMade
from voicecoach.runtime_live import Live, LiveSpec
from voicecoach.sources import ArraySource
from voicecoach.speech.speaker import Speaker


class Seen:
    """An observer that keeps every notice."""

    def __init__(self) -> None:
        self.notices: list = []

    def notify(self, notice) -> None:
        self.notices.append(notice)

    def of(self, kind) -> list:
        return [n for n in self.notices if isinstance(n, kind)]


@pytest.fixture
def build(tmp_path):
    made: list[Live] = []

    def make(spec: LiveSpec | None = None, **kwargs) -> Live:
        config = Config()
        journal = Journal.open(tmp_path / "journal.sqlite3")
        live = Live.build(config, spec or LiveSpec(TalkSource.LISTEN, commands=False, finish_speech_s=5.0),
                          speaker=Speaker(config.speech, sink=NullSink()), journal=journal, notes=None, **kwargs)
        made.append(live)
        return live

    yield make
    for live in made:
        live.close()


def source(audio):
    return lambda position: ArraySource(audio, 30, position)


def test_an_observer_sees_the_talk_its_events_and_records_in_order(build, talk_wav):
    live = build()
    seen = Seen()
    live.observe(seen)
    summary = live.serve(source(read_wav(talk_wav)), live=False)
    kinds = [type(n) for n in seen.notices]
    assert kinds[0] is TalkStarted and kinds[1] is MicOpened and kinds[-1] is TalkEnded
    assert seen.of(TalkEnded)[0].summary is summary
    assert len(seen.of(RaisedVoice)) == summary.raised  # (raised voices during its own prompt are not heard)
    assert len(seen.of(Interruption)) == summary.interruptions >= 1
    suggested = seen.of(PauseSuggested)
    assert suggested and seen.of(SuggestionMade)[0].reason == suggested[0].reason
    assert any("Shall we take" in n.text for n in seen.of(Said))


def test_a_command_injected_from_another_thread_takes_the_spoken_path(build):
    live = build()
    seen = Seen()
    live.observe(seen)
    web = threading.Thread(target=live.submit, args=(Command.PAUSE, Source.WEB))
    web.start()
    web.join()
    live.run(source(np.zeros(16000, np.int16)), live=False)
    assert seen.of(PauseStarted) == [PauseStarted(20.0, manual=True)]
    assert not live.idle
    live.close()
    assert seen.of(PauseEnded)[0].how is PauseEnd.CUT_SHORT  # closed while it ran: recorded, not left open
    rows = Journal.open(live.journal.path).rows("pauses")
    assert rows[0]["ended_at"] is not None and rows[0]["ended_how"] == "cut short"


def test_a_check_in_started_from_another_thread_asks_for_consent_first(build):
    live = build()
    seen = Seen()
    live.observe(seen)
    threading.Thread(target=live.start_checkin, args=("weather",)).start()
    live.run(source(np.zeros(16000, np.int16)), live=False)
    assert live.router.runner is not None and "Say yes, or not now" in seen.of(Said)[0].text


def test_an_observer_that_fails_is_logged_once_and_the_loop_goes_on(build, caplog, talk_wav):
    live = build()

    class Broken:
        def notify(self, notice) -> None:
            raise ValueError("a bug in a page")

    seen = Seen()
    live.observe(Broken())
    live.observe(seen)
    live.serve(source(read_wav(talk_wav)[: 16000 * 20]), live=False)
    assert len([r for r in caplog.records if "Broken failed" in r.getMessage()]) == 1
    assert seen.of(TalkEnded)


def _fail_on_frame(live, n: int) -> None:
    """The live assembly's real pipeline, except that frame ``n`` raises (a detector bug)."""
    real = live.session.pipeline.process
    calls = {"n": 0}

    def failing(frame, muted=False):
        calls["n"] += 1
        if calls["n"] == n:
            raise ZeroDivisionError("a detector bug")
        return real(frame, muted=muted)

    live.session.pipeline.process = failing


def test_the_kiosk_goes_on_after_an_unexpected_error_in_the_loop(build, caplog):
    live = build(LiveSpec(TalkSource.KIOSK, commands=False, resilient=True, finish_speech_s=0.0))
    _fail_on_frame(live, 10)
    live.config = Config()  # reopen at once
    frames = []
    live.on_frame(lambda frame: frames.append(frame.start_sample))
    live.on_frame(lambda frame: live.stop.set() if len(frames) >= 50 else None)
    live.run(source(np.zeros(16000 * 10, np.int16)))
    assert "a detector bug" in caplog.text and len(frames) >= 50
    assert frames == sorted(frames)  # the audio clock went on, never back


def test_a_stuck_sound_system_ends_even_the_kiosk_with_the_talk_stored(build, monkeypatch, tmp_path):
    """After the sound server is killed, PortAudio 19.6's ALSA thread can loop for ever holding the microphone's
    stream, and every later open fails at once (``device.hung()``). Reopening for ever would leave the box deaf
    with a core busy: the loop gives up, even in the kiosk, so the talk is stored and its service restarts it.
    The hung call is faked (``hung()`` patched): a real one cannot be made on demand."""
    import dataclasses

    from voicecoach import runtime_loop
    from voicecoach.audio import device
    from voicecoach.errors import SoundSystemStuck

    monkeypatch.setattr(device, "hung", lambda: ("close the microphone",))
    monkeypatch.setattr(device, "reinitialize", lambda: None)
    monkeypatch.setattr(runtime_loop, "STUCK_EXIT_S", 0.5, raising=False)
    live = build(LiveSpec(TalkSource.KIOSK, commands=False, resilient=True, wait_for_device=True,
                          finish_speech_s=0.0))
    live.config = dataclasses.replace(live.config, audio=dataclasses.replace(live.config.audio, reopen_s=0.2))
    seen = Seen()
    live.observe(seen)

    def stuck(position):
        raise device.PortAudioHung("the sound system is still busy (close the microphone); cannot open")

    guard = threading.Timer(10.0, live.stop.set)  # the old code reopens for ever: end it and fail below
    guard.start()
    try:
        with pytest.raises(SoundSystemStuck, match="stopped answering"):
            live.serve(stuck)
    finally:
        guard.cancel()
    assert seen.of(TalkEnded) and live.summary is not None  # closed like any other end
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        talks = journal.rows("talks")
    assert talks == []  # no audio ever came: closed, and not left in the journal as a talk


def test_a_stop_while_waiting_for_the_microphone_ends_without_a_rescan_first(build, monkeypatch):
    """SIGTERM (the stop) to a kiosk waiting for a microphone: the loop ends at once. It re-scanned PortAudio first,
    up to 5 s more (``REINIT_TIMEOUT_S``), and the re-scan's import of sounddevice on the loop's own thread could
    wait without end behind a first import that hung."""
    import dataclasses

    from voicecoach.audio import device
    from voicecoach.errors import DeviceError

    rescans: list[bool] = []  # for each re-scan: was the stop already set?
    live = build(LiveSpec(TalkSource.KIOSK, commands=False, resilient=True, wait_for_device=True,
                          finish_speech_s=0.0))
    monkeypatch.setattr(device, "reinitialize", lambda: rescans.append(live.stop.is_set()))
    live.config = dataclasses.replace(live.config, audio=dataclasses.replace(live.config.audio, reopen_s=0.3))

    def no_microphone(position):
        raise DeviceError("no input device found")

    stopper = threading.Timer(1.0, live.stop.set)  # during the fourth wait (0.3 s each)
    stopper.start()
    try:
        live.serve(no_microphone)
    finally:
        stopper.cancel()
        stopper.join()
    assert rescans and True not in rescans, rescans


def test_a_talk_in_which_no_audio_was_heard_is_not_stored_or_counted(build, tmp_path):
    """listen left waiting for a microphone that never came (or stopped before any audio arrived) was stored as a
    talk: the report counted it, and its wall time as minutes together."""
    from datetime import datetime, timedelta, timezone

    from voicecoach.journal.report import build_report

    summary = build().serve(source(np.zeros(0, np.int16)), live=False)
    assert not summary.counted and "Talk of" not in summary.text() and "Thank you" not in summary.text()
    assert summary.text() == "Nothing was heard (no audio arrived), so this is not counted as a talk."
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        assert journal.rows("talks") == []
        now = datetime.now(timezone.utc)
        report = build_report(journal.export(), now - timedelta(days=1), now + timedelta(days=1))
    assert report.total.talks == 0 and report.total.talk_min == 0


def test_a_pause_taken_by_key_while_no_audio_came_keeps_its_talk(tmp_path):
    # the microphone failed, but the couple used the product (a pause by key): that is a talk, and counted
    from voicecoach.journal.talk import TalkLog

    clock = iter(range(1000, 2000, 60))
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        talk = TalkLog(journal, TalkSource.LISTEN, wall=lambda: float(next(clock)))
        talk.record(PauseStarted(20.0, manual=True))
        talk.record(PauseEnded(PauseEnd.CUT_SHORT, 1.0))
        summary = talk.end(None, 0.0, 0.0)
        assert summary.counted and "Thank you for talking with care" in summary.text()
        (stored,) = journal.rows("talks")
        (pause,) = journal.rows("pauses")
    assert pause["talk_id"] == stored["id"] and pause["ended_at"] is not None and stored["ended_at"] is not None


def test_a_talk_with_audio_is_stored_and_counted_even_if_silent(build, tmp_path):
    summary = build().serve(source(np.zeros(1600, np.int16)), live=False)
    assert summary.counted and summary.text().startswith("Talk of 0 s")
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        (talk,) = journal.rows("talks")
    assert talk["ended_at"] is not None and talk["speak_a_s"] == 0.0


def test_a_failure_that_ends_listen_still_stores_the_talk_so_far(build, tmp_path, talk_wav):
    """Only a stuck sound system closed the talk: any other error (PortAudio missing, a detector bug) left it open
    in the journal, without its figures or its end, and the journal unclosed."""
    live = build()
    seen = Seen()
    live.observe(seen)
    _fail_on_frame(live, 200)
    with pytest.raises(ZeroDivisionError, match="a detector bug"):
        live.serve(source(read_wav(talk_wav)), live=False)
    assert seen.of(TalkEnded) and live.summary is not None  # closed like any other end
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        (talk,) = journal.rows("talks")
    assert talk["ended_at"] is not None and talk["speak_a_s"] is not None


def test_the_suggestion_is_rendered_ahead_so_the_first_one_starts_from_the_cache(build):
    import time

    from voicecoach.speech.text import split_for_speech

    live = build()
    speaker = live.speaker
    text = live.router.coach.suggestion_text()
    assert "20 minute pause" in text
    deadline = time.monotonic() + 10.0
    while speaker.cache_info()["size"] < len(split_for_speech(text)) and time.monotonic() < deadline:
        time.sleep(0.02)
    misses = speaker.cache_info()["misses"]
    speaker.say(text).wait(10.0)
    info = speaker.cache_info()
    assert info["misses"] == misses and info["hits"] >= 1, info


def _suggesting_at(build, t_s: float):
    """A live assembly whose real pipeline also suggests a pause ``t_s`` seconds in; returns (live, the live lines,
    what observers saw)."""
    lines: list[str] = []
    live = build(on_line=lines.append)
    seen = Seen()
    live.observe(seen)
    pipeline = live.session.pipeline
    real = pipeline.process
    offered = PauseSuggested(t=t_s, reason="raised voices for 3 s in 60 s")
    at = int(16000 * t_s)
    pipeline.process = lambda frame, muted=False: real(frame, muted=muted) + (
        [offered] if frame.start_sample <= at < frame.start_sample + len(frame.samples) else [])
    return live, lines, seen


def test_a_suggestion_nobody_heard_is_not_stored_shown_or_counted_as_made(build):
    """A pause suggestion while the pause runs is dropped: the journal, the live lines, the observers and the
    summary must not say a pause was offered."""
    # the real pipeline, plus a pause suggestion 5 s in (while the pause asked for from the page runs)
    live, lines, seen = _suggesting_at(build, 5.0)
    pipeline = live.session.pipeline
    withdrawn: list[float] = []
    pipeline.withdraw = withdrawn.append   # the policy is told: no cooldown or hourly cap for it
    live.submit(Command.PAUSE, Source.WEB)
    summary = live.serve(source(np.zeros(16000 * 8, np.int16)), live=False)
    assert withdrawn == [5.0]
    assert seen.of(PauseStarted) and not seen.of(SuggestionMade) and not seen.of(PauseSuggested)
    assert summary.suggestions == 0 and not any("pause_suggested" in line for line in lines)
    journal = Journal.open(live.journal.path)
    assert journal.rows("suggestions") == [] and journal.rows("events") == []


def test_a_suggestion_during_a_check_in_that_says_nothing_of_it_is_not_stored_or_shown(build):
    """The check-in is asking "Is now a good time?": a pause suggestion then is not offered by anyone, so the
    journal, the live lines and the observers must not say one was (it read as a pause suggested)."""
    live, lines, seen = _suggesting_at(build, 1.0)
    live.session.start_checkin("nightly")
    summary = live.serve(source(np.zeros(16000 * 3, np.int16)), live=False)
    assert not seen.of(PauseSuggested) and not seen.of(SuggestionMade)
    assert summary.suggestions == 0 and not any("pause_suggested" in line for line in lines), lines
    journal = Journal.open(live.journal.path)
    assert journal.rows("suggestions") == [] and journal.rows("events") == []


def test_the_pause_counts_a_suspend_only_on_the_real_clock_and_microphone():
    from pathlib import Path

    from voicecoach.clock import FakeClock, MonotonicClock, suspended_clock
    from voicecoach.runtime_live import pause_suspended

    mic = LiveSpec(TalkSource.LISTEN)
    told = pause_suspended(MonotonicClock(), mic)
    assert (told is None) == (suspended_clock() is None)  # Linux: CLOCK_BOOTTIME - CLOCK_MONOTONIC
    assert pause_suspended(FakeClock(), mic) is None
    assert pause_suspended(MonotonicClock(), LiveSpec(TalkSource.LISTEN, file=Path("talk.wav"))) is None
    assert pause_suspended(MonotonicClock(), LiveSpec(TalkSource.LISTEN, microphone=False)) is None
