"""The journal's writes leave the live loop's thread: decisions never wait for the disk.

Every commit reaches the disk before it returns (``synchronous=FULL``); on a Pi's SD card an fsync can take a second.
A real slow fsync cannot be made on demand in a test: the fakes here are :class:`SlowJournal` (a real journal, real
SQLite, whose every commit then sleeps, holding the journal's lock as a slow fsync would) and :class:`HungJournal`
(one whose commits, from some point on, never finish until the test lets them: a disk that hung for good).
``scripts/measure_slow_disk.py`` measures the real thing under strace."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import numpy as np
import pytest

from voicecoach.audio.playback import NullSink
from voicecoach.config import Config
from voicecoach.events import Interruption, PauseSuggested, RaisedVoice
from voicecoach.journal.files import JournalUnavailable
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.store import Journal
from voicecoach.journal.talk import TalkLog
from voicecoach.journal.writer import TalkWriter
from voicecoach.records import Answer, PauseEnd, PauseEnded, PauseStarted, SuggestionAnswered, SuggestionMade
from voicecoach.runtime_live import Live, LiveSpec
from voicecoach.sources import ArraySource
from voicecoach.speech.speaker import Speaker

COMMIT_S = 0.3  # SlowJournal: each commit takes this much longer (an fsync on a slow SD card)


class SlowJournal(Journal):
    """FAKE: a real journal whose every commit then sleeps ``delay_s``, holding the lock as a slow fsync does."""

    delay_s = COMMIT_S

    def _settle(self, conn: sqlite3.Connection) -> None:
        time.sleep(self.delay_s)
        super()._settle(conn)


class HungJournal(Journal):
    """FAKE: a real journal whose commits, after the next ``fine`` ones, hang until ``release`` is set."""

    fine: int | None = None  # None: none hangs (while it is opened)
    release = threading.Event()

    def _settle(self, conn: sqlite3.Connection) -> None:
        if self.fine is not None:
            self.fine -= 1
            if self.fine < 0:
                self.release.wait()
        super()._settle(conn)


def _live(journal: Journal, lines: list[str]) -> Live:
    config = Config()
    return Live.build(config, LiveSpec(TalkSource.LISTEN, commands=False, finish_speech_s=0.0),
                      speaker=Speaker(config.speech, sink=NullSink()), journal=journal, notes=None,
                      on_line=lines.append)


def _suggesting(live: Live, at_s: float) -> None:
    """The real pipeline, plus a raised voice and a pause suggestion ``at_s`` seconds in."""
    pipeline = live.session.pipeline
    real = pipeline.process
    at = int(16000 * at_s)
    found = [RaisedVoice(t=at_s, start=at_s - 1.0, speaker="A"), PauseSuggested(t=at_s, reason="raised voices")]
    pipeline.process = lambda frame, muted=False: real(frame, muted=muted) + (
        found if frame.start_sample <= at < frame.start_sample + len(frame.samples) else [])


def test_a_slow_disk_does_not_hold_back_the_suggestion_and_every_row_arrives_after_the_end(tmp_path):
    """Before: the raised voice, the suggestion event and the suggestion record were committed on the loop's
    thread before the suggestion was said: 3 x 0.3 s here, seconds on an SD card."""
    lines: list[str] = []
    live = _live(SlowJournal.open(tmp_path / "journal.sqlite3"), lines)
    _suggesting(live, 1.0)
    session = live.session
    slowest = 0.0
    for frame in ArraySource(np.zeros(16000 * 2, np.int16), 30, 0).frames():
        started = time.monotonic()
        session.step(frame)
        slowest = max(slowest, time.monotonic() - started)
    said = [line for line in lines if line.startswith("voicecoach: ")]
    assert said and "pause" in said[0]
    # less than one commit (before: 3 of them in the suggestion's step, 1.26 s); generous for a loaded machine
    assert slowest < COMMIT_S, f"a frame's step took {slowest:.3f} s: it waited for the disk"
    assert session.talk.summary.suggestions == 1 and session.talk.summary.raised == 1  # counted at once
    summary = live.close()
    assert summary.suggestions == 1 and summary.raised == 1
    journal = Journal.open(tmp_path / "journal.sqlite3")
    (talk,) = journal.rows("talks")
    events = journal.rows("events")
    assert [e["type"] for e in events] == ["raised_voice", "pause_suggested"]
    assert events[0]["end"] is not None  # closed with the id its insert returned, on the writer's thread
    (suggestion,) = journal.rows("suggestions")
    assert suggestion["talk_id"] == talk["id"] and talk["ended_at"] is not None and talk["speak_a_s"] is not None


def test_the_writer_keeps_the_order_the_ids_and_the_times_the_loop_gave(tmp_path, monkeypatch):
    monkeypatch.setattr(SlowJournal, "delay_s", 0.02)
    clock = iter(float(t) for t in range(1000, 2000))
    writer = TalkWriter(SlowJournal.open(tmp_path / "j.sqlite3"), TalkSource.KIOSK, wall=lambda: next(clock))
    started = time.monotonic()
    for i in range(10):
        writer.event(RaisedVoice(t=float(i), start=float(i), speaker="A"))
        writer.raised_ended("A", i + 0.5)
        writer.event(Interruption(t=i + 0.7, start=i + 0.7, speaker="B", over="A"))
    writer.record(SuggestionMade("raised voices", 9.0))
    writer.record(SuggestionAnswered(Answer.YES))
    writer.record(PauseStarted(20.0, manual=False))
    writer.record(PauseEnded(PauseEnd.CUT_SHORT, 1.0))
    assert time.monotonic() - started < 0.2  # 34 writes queued; written at 0.02 s each they would take 0.7 s
    assert writer.summary.raised == 10 and writer.summary.interruptions == 10 and writer.summary.pauses == 1
    summary = writer.end(None, 12.0, 12.0)
    assert summary.counted and summary.suggestions == 1 and summary.pauses == 1
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        events = journal.rows("events")
        (suggestion,) = journal.rows("suggestions")
        (pause,) = journal.rows("pauses")
        (talk,) = journal.rows("talks")
    assert [e["t"] for e in events] == sorted(e["t"] for e in events) and len(events) == 20
    assert all(e["end"] is not None for e in events if e["type"] == "raised_voice")
    assert suggestion["answer"] == "yes" and pause["ended_how"] == PauseEnd.CUT_SHORT.value
    # each row has the wall time of the moment the loop gave it, not of the moment the disk got to it
    assert talk["started_at"] == 1000.0 and suggestion["at"] == 1031.0 and pause["ended_at"] == 1034.0


def test_a_disk_that_hangs_for_good_does_not_hang_the_stop(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("voicecoach.journal.writer.END_STALL_S", 0.5)
    journal = HungJournal.open(tmp_path / "journal.sqlite3")
    journal.fine, journal.release = 1, threading.Event()  # the talk's start is written, then the disk hangs
    lines: list[str] = []
    live = _live(journal, lines)
    _suggesting(live, 0.5)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            summary = live.serve(lambda position: ArraySource(np.zeros(16000, np.int16), 30, position), live=False)
        assert time.monotonic() - started < 5.0
        assert summary.suggestions == 1  # the loop's own count: right without the disk
        said = [r.getMessage() for r in caplog.records if "finished no write" in r.getMessage()]
        assert said and "not stored (the talk's end among them)" in said[0], caplog.text
        assert any("still waiting for the disk" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        journal.release.set()


def test_troubles_reach_the_caller_on_its_own_thread(tmp_path):
    journal = Journal.open(tmp_path / "j.sqlite3")
    heard: list[tuple[str, str]] = []
    writer = TalkWriter(journal, TalkSource.LISTEN, wall=time.time,
                        on_trouble=lambda why: heard.append((threading.current_thread().name, why)))

    def refuse(*args, **kwargs):
        raise JournalUnavailable("journal: disk full")

    journal._insert = refuse  # type: ignore[method-assign]
    writer.event(Interruption(t=1.0, start=1.0, speaker="B", over="A"))
    writer.end(None, 2.0, 2.0)
    assert heard == [(threading.current_thread().name, "journal: disk full")]


def test_a_second_journal_failure_in_the_same_file_is_said_again(tmp_path, caplog):
    """_ok was set back only when the talk moved to another file: a disk that filled up, was freed, and filled up
    again said nothing the second time."""
    journal = Journal.open(tmp_path / "j.sqlite3")
    troubles: list[str] = []
    talk = TalkLog(journal, TalkSource.KIOSK, wall=time.time, on_trouble=troubles.append)
    insert = journal._insert

    def refuse(*args, **kwargs):
        raise JournalUnavailable("journal: disk full")

    with caplog.at_level(logging.INFO):
        for spell in range(2):
            journal._insert = refuse  # type: ignore[method-assign]
            talk.event(Interruption(t=spell + 0.1, start=spell, speaker="B", over="A"))
            talk.event(Interruption(t=spell + 0.2, start=spell, speaker="B", over="A"))  # the same spell: quiet
            journal._insert = insert  # type: ignore[method-assign]
            talk.event(Interruption(t=spell + 0.3, start=spell, speaker="B", over="A"))
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # --quiet shows warnings only: the line that says it works again is one too, each after its failure
    assert len(said) == 4 and all("journal unavailable" in line for line in said[::2]), said
    assert all("writing again" in line for line in said[1::2]), said
    assert troubles == ["journal: disk full", "journal: disk full"]
    assert sum("writing again" in r.getMessage() for r in caplog.records) == 2
    assert len(journal.rows("events")) == 2


def test_the_journal_is_shared_safely_while_the_writer_writes(tmp_path, monkeypatch):
    """Voice notes (the loop's thread) and the page (export, report) use the same journal as the writer."""
    from voicecoach.journal.notes import VoiceNotes

    monkeypatch.setattr(SlowJournal, "delay_s", 0.005)
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    journal = SlowJournal.open(tmp_path / "j.sqlite3")
    writer = TalkWriter(journal, TalkSource.KIOSK, wall=time.time)
    notes = VoiceNotes(journal, enabled=True)
    errors: list[BaseException] = []

    def page() -> None:
        try:
            for _ in range(20):
                "".join(journal.export_json())
                journal.report_rows()
                assert journal.schema_version > 0
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    reader = threading.Thread(target=page)
    reader.start()
    for i in range(60):
        writer.event(Interruption(t=float(i), start=float(i), speaker="B", over="A"))
        if i % 20 == 0:
            notes.save_note(np.full(16000, 3000, np.int16), "A", "B", at=time.time())
            assert notes.list_notes("B")
    reader.join()
    writer.end(None, 60.0, 60.0)
    assert not errors, errors
    assert len(journal.rows("events")) == 60 and len(journal.rows("notes")) == 3
    assert journal._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_schema_version_is_read_under_the_journals_lock(tmp_path):
    """Read without it, from the page's thread, while the writer's thread was inside a transaction."""
    journal = Journal.open(tmp_path / "j.sqlite3")
    read: list[int] = []
    with journal._lock:
        reader = threading.Thread(target=lambda: read.append(journal.schema_version))
        reader.start()
        reader.join(0.2)
        assert not read  # waits for the writer
    reader.join(5.0)
    assert read and read[0] > 0


def test_a_disk_that_stopped_for_hours_bounds_the_queue_and_says_what_was_not_stored(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("voicecoach.journal.writer.MAX_QUEUED", 5)
    journal = HungJournal.open(tmp_path / "j.sqlite3")
    journal.fine, journal.release = 1, threading.Event()  # the talk's start, then the disk stops
    writer = TalkWriter(journal, TalkSource.KIOSK, wall=time.time)
    with caplog.at_level(logging.WARNING):
        for i in range(12):
            writer.event(Interruption(t=float(i), start=float(i), speaker="B", over="A"))
        assert writer.queued <= 5 and writer.summary.interruptions == 12  # counted all the same
        journal.release.set()
        assert writer.flush(10.0)
        writer.event(Interruption(t=20.0, start=20.0, speaker="B", over="A"))
        writer.end(None, 21.0, 21.0)
    said = [r.getMessage() for r in caplog.records]
    assert sum("writes are waiting for the disk" in line for line in said) == 1, said
    dropped = next(line for line in said if "the disk caught up" in line)
    stored = len(journal.rows("events"))
    assert f"; {13 - stored} writes were not stored" in dropped and 5 <= stored < 13


def test_a_journal_that_works_again_is_said_once_to_the_live_view_and_the_page(tmp_path, caplog):
    """The disk full, then freed: the failure reached the observers (the page, the hooks) as a Health notice, but
    its end never did: the page showed the journal failing for the rest of the talk. Now one Health(ok) notice
    follows, on the loop's thread, and one "writing again" line."""
    from voicecoach.notices import Health, Part

    journal = Journal.open(tmp_path / "j.sqlite3")
    lines: list[str] = []
    live = _live(journal, lines)
    seen: list[tuple[str, Health]] = []
    live.notify = lambda notice: seen.append((threading.current_thread().name, notice)) \
        if isinstance(notice, Health) else None  # type: ignore[method-assign]
    insert = journal._insert

    def refuse(*args, **kwargs):
        raise JournalUnavailable("journal: disk full")

    with caplog.at_level(logging.INFO):
        journal._insert = refuse  # type: ignore[method-assign]
        for t in (1.0, 2.0):
            live.session.talk.event(Interruption(t=t, start=t, speaker="B", over="A"))
        assert live.session.talk.flush(10.0)
        journal._insert = insert  # type: ignore[method-assign]
        for t in (3.0, 4.0):
            live.session.talk.event(Interruption(t=t, start=t, speaker="B", over="A"))
        assert live.session.talk.flush(10.0)
        live.session.talk.follow()  # the loop's look, once a second: what the writer said is passed on
    live.close()
    here = threading.current_thread().name
    assert [(name, h.ok) for name, h in seen] == [(here, False), (here, True)], seen
    assert "writing again" in seen[1][1].detail
    assert sum("writing again" in r.getMessage() for r in caplog.records) == 1
