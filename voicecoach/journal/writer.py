"""The talk's journal writes on their own thread: the live loop never waits for the disk.

Every commit of the journal reaches the disk before it returns (``synchronous=FULL``: an fsync or three). On a
Raspberry Pi's SD card one fsync can take 100 ms to over a second, and between an escalation and its spoken
suggestion about four commits happen: on the loop's thread, the suggestion and the microphone's frames waited for
them (``scripts/measure_slow_disk.py``: with every fsync 300 ms slower, escalation -> audible went from 1.6 s to
5.8 s, the loop fell 3 s behind the microphone).

:class:`TalkWriter` is a :class:`~voicecoach.journal.talk.TalkLog` run on one writer thread behind a queue. The loop
only counts (the summary and the open raised voices are kept on its side, so they are right at once) and enqueues;
the writer runs the TalkLog's calls one by one, in order, with the ids they return, each stamped with the wall time
it was enqueued at. :meth:`TalkWriter.end` queues the talk's end and waits until everything is written; a disk that
makes no progress for :data:`END_STALL_S` is given up with one line saying what is not stored, so a stop never
hangs for ever. A line about the journal's trouble reaches ``on_trouble`` on the loop's thread, at its next call;
its end (writes work again) reaches ``on_recovered`` the same way.

What a kill (SIGKILL, the plug pulled) loses grows from the write in flight to the writes still queued: normally
none (a commit takes milliseconds), on a slow SD card those of the last second or so.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from ..events import Event, RaisedVoice
from ..records import Record
from .schema import TalkFigures, TalkSource
from .store import Journal
from .talk import TalkLog, TalkSummary

log = logging.getLogger(__name__)

END_STALL_S = 10.0  # at the end: give up when the disk has finished no write for this long (a hung disk)
MAX_QUEUED = 10_000  # writes waiting at most (hours of a heated talk on a disk that stopped); past it, dropped
_STOP = None

Job = Callable[[TalkLog], object]


class TalkWriter:
    """One talk stored by a writer thread; ``summary`` and ``open_raised`` are the caller's, right at once.

    Call every method from one thread (the live loop's); the journal itself is shared with other threads (the
    page, voice notes) through its own lock."""

    def __init__(self, journal: Journal, source: TalkSource, wall: Callable[[], float],
                 on_trouble: Callable[[str], None] | None = None,
                 on_recovered: Callable[[str], None] | None = None, stall_s: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 steady: Callable[[], float] | None = None,
                 suspended: Callable[[], float] | None = None) -> None:
        self.summary = TalkSummary(checkin_talk=source is TalkSource.CHECKIN)
        self.open_raised: dict[str, None] = {}  # speakers whose raised stretch goes on (their stored ids: writer's)
        self.journal = journal
        self.stall_s = END_STALL_S if stall_s is None else stall_s
        self._monotonic = monotonic  # measures the end's wait for a stalled disk (injected: no clock read here)
        self._wall = wall
        self._steady = steady  # a clock that counts suspend and is never set: the talk sees the wall clock set
        self._suspended = suspended  # seconds the machine has spent suspended: not counted in the talk's length
        self._suspended_at_start = suspended() if suspended is not None else 0.0
        self._on_trouble = on_trouble or (lambda why: None)
        self._on_recovered = on_recovered or (lambda line: None)
        # said by the writer, passed on by the caller: (False, why) a failure, (True, line) writing again
        self._troubles: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self._queue: queue.Queue[tuple[float, float, float, Job] | None] = queue.Queue()
        self._now = 0.0  # the wall time of the write under way (when it was enqueued)
        self._steady_now = 0.0  # and the steady clock's then
        self._suspended_now = 0.0  # and the seconds suspended then
        self._talk: TalkLog | None = None
        self._written = 0  # writes finished (the progress :meth:`close` watches)
        self._failed = False  # a write raised something unexpected (logged once per spell)
        self._follow_queued = False
        self._dropped = 0
        self._closed: bool | None = None  # the result of close(), once closed
        self._put(lambda _: None)  # the first write: the writer makes the TalkLog (its talk row) stamped now
        self._thread = threading.Thread(target=self._run, args=(source,), name="voicecoach-journal", daemon=True)
        self._thread.start()

    # --- the caller's side (the live loop) --------------------------------------------------------------------

    def event(self, event: Event) -> None:
        """A detector event: counted now, stored by the writer."""
        self._pass_troubles()
        self.summary.count_event(event)
        if isinstance(event, RaisedVoice) and event.speaker is not None and event.end is None:
            self.open_raised[event.speaker] = None
        self._put(lambda talk: talk.event(event))

    def raised_ended(self, speaker: str, end_s: float) -> None:
        """``speaker``'s raised stretch ended at ``end_s`` (seconds of audio): its stored event is closed."""
        self.open_raised.pop(speaker, None)
        self._put(lambda talk: talk.raised_ended(speaker, end_s))

    def record(self, record: Record) -> None:
        """A policy's record: counted now, stored by the writer."""
        self._pass_troubles()
        self.summary.count_record(record)
        self._put(lambda talk: talk.record(record))

    def follow(self) -> None:
        """Have the writer look at the journal file at its path (:meth:`TalkLog.follow`); one look queued at most."""
        self._pass_troubles()
        if self._follow_queued:
            return

        def look(talk: TalkLog) -> None:
            self._follow_queued = False
            talk.follow()

        self._follow_queued = self._put(look)

    def end(self, figures: TalkFigures | None, audio_s: float, end_s: float) -> TalkSummary:
        """The talk is over: its end is queued, and everything queued is written before this returns (or given up
        after :data:`END_STALL_S` without progress, with one line)."""
        self.open_raised.clear()
        asleep = self._suspended() - self._suspended_at_start if self._suspended is not None else 0.0
        self.summary.close(audio_s, asleep)
        self._put(lambda talk: talk.end(figures, audio_s, end_s), always=True)
        self.close()
        return self.summary

    def close(self) -> bool:
        """Write what is queued and stop the writer (idempotent). False when the disk made no progress for
        ``stall_s``: the writer is left behind (it may hold the journal: do not close it), what was still queued
        is not stored, and a line says so."""
        if self._closed is not None:
            return self._closed
        self._queue.put(_STOP)
        seen, since = self._written, self._monotonic()
        while self._thread.is_alive():
            self._thread.join(0.05)
            if self._written != seen:
                seen, since = self._written, self._monotonic()
            elif self._monotonic() - since >= self.stall_s:
                left = self._queue.qsize()  # the stop among them
                log.warning("journal %s: the disk finished no write for %.0f s; stopping without it: the write under "
                            "way and %d more of this talk are not stored (the talk's end among them)",
                            self.journal.path, self.stall_s, max(0, left - 1))
                self._closed = False
                self._pass_troubles()
                return False
        self._closed = True
        self._pass_troubles()
        return True

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is written (a test, or a reader of what was just stored); False
        after ``timeout_s``."""
        if self._closed is not None:
            return self._closed
        done = threading.Event()
        self._put(lambda _: done.set(), always=True)
        return done.wait(timeout_s)

    @property
    def queued(self) -> int:
        """Writes waiting (the one under way not counted)."""
        return self._queue.qsize()

    def _put(self, job: Job, always: bool = False) -> bool:
        """Queue ``job`` stamped with the wall (and steady) time now; False when it was not (closed, or too many
        waiting)."""
        if self._closed is not None:
            return False
        if not always and self._queue.qsize() >= MAX_QUEUED:
            self._dropped += 1
            if self._dropped == 1:
                log.warning("journal %s: %d writes are waiting for the disk; further ones are not stored until it "
                            "catches up", self.journal.path, MAX_QUEUED)
            return False
        if self._dropped and self._queue.qsize() < MAX_QUEUED // 2:
            log.warning("journal %s: the disk caught up; %d writes were not stored", self.journal.path, self._dropped)
            self._dropped = 0
        self._queue.put((self._wall(), self._steady() if self._steady is not None else 0.0,
                         self._suspended() if self._suspended is not None else 0.0, job))
        return True

    def _pass_troubles(self) -> None:
        while True:
            try:
                ok, why = self._troubles.get_nowait()
            except queue.Empty:
                return
            (self._on_recovered if ok else self._on_trouble)(why)

    # --- the writer's thread ------------------------------------------------------------------------------------

    def _run(self, source: TalkSource) -> None:
        """Run the queued writes in order until the stop."""
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._now, self._steady_now, self._suspended_now, job = item
            try:
                if self._talk is None:
                    self._talk = TalkLog(self.journal, source, wall=lambda: self._now,
                                         on_trouble=lambda why: self._troubles.put((False, why)),
                                         on_recovered=lambda line: self._troubles.put((True, line)),
                                         steady=None if self._steady is None else lambda: self._steady_now,
                                         suspended=None if self._suspended is None else lambda: self._suspended_now)
                job(self._talk)
                self._failed = False
            except Exception:  # noqa: BLE001 - a bug in one write must not stop the others
                if not self._failed:
                    log.exception("journal %s: a write failed (further failures in a row are not logged)",
                                  self.journal.path)
                self._failed = True
            self._written += 1
