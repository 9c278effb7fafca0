"""Voice notes saved, listed, loaded and deleted on a thread of their own: the live loop never waits for the disk.

A note's save writes up to 60 s of audio, fsyncs it and indexes it in the journal (more fsyncs, and the journal's
lock, which the talk's writer may hold for a commit under way); a delete commits too. On the loop's thread they held
the detectors and the microphone's frames: 20 ms and 14 ms here, 1.5 s and 1.2 s with every fsync 300 ms slower, as
on a Raspberry Pi's SD card (``scripts/measure_note_save.py``). :class:`NoteWorker` runs each call, in order, on one
thread, and hands its result back to the loop: ``then(result)`` runs on the loop's thread at its next
:meth:`NoteWorker.pass_results` (``None`` when the call failed: a :class:`~voicecoach.errors.VoicecoachError` is
logged as one line, anything else with its traceback). :meth:`NoteWorker.close` waits for what is queued, at most
``stall_s`` without progress (a hung disk is given up with one line), so a note said as the talk ends is stored.

Only the live microphone uses this module (as :mod:`voicecoach.asr.worker`): a replay (``listen --file``) calls
the store on the loop's thread, so it says the same at the same frames every time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable, Generic, TypeVar

from ..errors import VoicecoachError

log = logging.getLogger(__name__)

S = TypeVar("S")
STALL_S = 10.0  # at the end: give up when the disk has finished no note call for this long (a hung disk)

Then = Callable[[Any], None]


class NoteWorker(Generic[S]):
    """Calls on a note store (``call(store)``), run in order on one thread; results passed back on the loop's."""

    def __init__(self, store: S, stall_s: float = STALL_S) -> None:
        self.store = store
        self.stall_s = stall_s
        self._calls: queue.Queue[tuple[Callable[[S], Any], Then | None] | None] = queue.Queue()
        self._results: queue.SimpleQueue[tuple[Then, Any]] = queue.SimpleQueue()
        self._done = 0  # calls finished (the progress close() watches)
        self._closed: bool | None = None
        self._thread = threading.Thread(target=self._run, name="voicecoach-notes", daemon=True)
        self._thread.start()

    def run(self, call: Callable[[S], Any], then: Then | None = None) -> None:
        """Queue ``call(store)``; ``then(result)`` (None: it failed) runs at a later :meth:`pass_results`."""
        if self._closed is not None:
            log.warning("voice notes: closing; a late note call is not made")
            if then is not None:
                then(None)
            return
        self._calls.put((call, then))

    def pass_results(self) -> None:
        """Run the results' ``then`` of the calls finished so far (on the loop's thread)."""
        while True:
            try:
                then, result = self._results.get_nowait()
            except queue.Empty:
                return
            then(result)

    @property
    def busy(self) -> bool:
        """Calls are queued or under way, or their results not yet passed on."""
        return self._calls.unfinished_tasks > 0 or not self._results.empty()

    def close(self) -> bool:
        """Finish what is queued and stop the thread (idempotent), then pass the results on. False when the disk
        made no progress for ``stall_s``: the thread is left behind (the journal must then not be closed)."""
        if self._closed is None:
            self._calls.put(None)
            self._closed = self._wait_for_thread()
        self.pass_results()
        return self._closed

    def _wait_for_thread(self, clock: Callable[[], float] = time.monotonic) -> bool:
        seen, since = self._done, clock()
        while self._thread.is_alive():
            self._thread.join(0.05)
            if self._done != seen:
                seen, since = self._done, clock()
            elif clock() - since >= self.stall_s:
                log.warning("voice notes: the disk finished nothing for %.0f s; stopping without it (%d note "
                            "call%s not made)", self.stall_s, self._calls.qsize(), "s" * (self._calls.qsize() != 1))
                return False
        return True

    def _run(self) -> None:
        while True:
            item = self._calls.get()
            try:
                if item is None:
                    return
                call, then = item
                result = None
                try:
                    result = call(self.store)
                except VoicecoachError as exc:
                    log.warning("voice notes: %s", exc)
                except Exception:  # noqa: BLE001 - a failed note must not stop the notes (or the loop)
                    log.exception("voice notes: a call failed")
                if then is not None:
                    self._results.put((then, result))
                self._done += 1
            finally:
                self._calls.task_done()
