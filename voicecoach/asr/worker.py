"""The command listener on its own thread, so the live loop never waits for the speech recognizer.

Vosk decodes a chunk of audio every eight 30 ms frames: 6-13 ms a chunk on the development machine (up to 68 ms
while it was busy), several times that on a Raspberry Pi 4 (``scripts/measure_asr_loop.py``). On the loop's thread
each chunk held back the detectors and the pause suggestion behind it. :class:`ListenerThread` takes the frames the
loop hears (never those heard while the product speaks: the loop does not hand them over) with what the router
listens for at that frame, runs the :class:`~voicecoach.asr.listener.CommandListener` on them in order on one
thread, and hands each command heard, with that frame's :class:`~voicecoach.commands.Hearing`, to ``deliver`` (the
session's inbox, which takes it only if the router still listens for exactly that: audio from before a question was
asked is no answer to it).

The thread runs at a lower priority than the loop's (nice +10 on Linux): where both want the same core, the
detectors go first and a command waits a moment; one core pinned, a step of the loop took up to 0.29 s with
decoding beside it at the same priority, 0.06-0.07 s with this, no more than with no model at all.

Until the model has loaded (or when there is none) the double clap alone listens, on the loop's thread. Only the
live microphone uses this module: a recording replayed (``listen --file``) runs the listener on the loop's
thread, so a replay gives the same commands at the same frames every time.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from typing import Callable

from ..audio.frames import Frame
from ..commands import EVERYTHING, Hearing
from ..events import Heard
from .listener import CommandListener

log = logging.getLogger(__name__)

QUEUE_FRAMES = 200  # 6 s of 30 ms frames: a recognizer further behind than that drops audio (and starts afresh)
STOP_WAIT_S = 2.0  # closing waits this long for the frame being recognised
NICER_BY = 10  # the recognizer's thread yields the core to the loop's (detection first; commands can wait a frame)


class ListenerThread:
    """``expect(hearing)`` and ``process(frame)`` as the loop calls them; the recognizer runs on its own thread."""

    def __init__(self, listener: CommandListener, deliver: Callable[[Heard, Hearing], None],
                 queue_frames: int = QUEUE_FRAMES) -> None:
        self.listener = listener
        self.deliver = deliver
        self.hearing: Hearing = EVERYTHING
        self.dropped = 0  # frames the recognizer was too far behind to take (counted, not logged per frame)
        self.failures = 0
        self._handed = 0  # frames put on the queue so far; the thread counts them done in the same order
        self._done = 0  # frames recognised, their commands delivered (written by the thread only)
        self._last_handed: tuple[Hearing, int] = (EVERYTHING, 0)  # the latest frame's hearing and number
        self._half_heard: Hearing | None = None  # a phrase is half-heard in audio listened to for this
        self._frames: queue.Queue[tuple[Frame, Hearing] | None] = queue.Queue(maxsize=queue_frames)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicecoach-recognizer", daemon=True)
        self._started = False  # the thread starts with the first frame (a loop built and never run leaves none)

    @property
    def alive(self) -> bool:
        """True while the recognizer's thread runs."""
        return self._thread.is_alive()

    @property
    def has_model(self) -> bool:
        """True once the model is loaded (spoken commands are heard, on the thread)."""
        return self.listener.has_model

    def behind(self, hearing: Hearing) -> bool:
        """True while audio handed over for ``hearing`` may still give a command: queued, being recognised, or a
        phrase half-heard. Read it before taking what was delivered: a command is delivered before its frame
        counts as done."""
        if not self._started:
            return self.listener.behind(hearing)
        last_hearing, number = self._last_handed
        return (last_hearing == hearing and number > self._done) or self._half_heard == hearing

    def expect(self, hearing: Hearing) -> None:
        """What the router listens for now; it goes with each frame handed over after this call."""
        self.hearing = hearing

    def process(self, frame: Frame) -> list[Heard]:
        """Hand the frame over and return at once: what is heard comes later, through ``deliver``.

        Until a model is loaded only the double clap listens, cheap enough for the loop's own thread (waking a
        thread for every frame would cost more): then what it hears is returned here, at once."""
        if self._stopping.is_set():
            return []
        if not self._started and self.listener.recognizer is None:
            self.listener.expect(self.hearing)
            return self.listener.process(frame)
        if not self._started:  # from now on every frame goes to the thread, in order
            self._started = True
            self._thread.start()
        try:
            self._frames.put_nowait((frame, self.hearing))
            self._handed += 1
            self._last_handed = (self.hearing, self._handed)
        except queue.Full:
            self.dropped += 1  # the recognizer sees the gap in the frames' stamps and starts afresh
            if self.dropped == 1:
                log.warning("the speech recognizer has fallen %d frames behind; audio it cannot catch up with is "
                            "left out of spoken commands (detection is not affected)", self._frames.maxsize)
        return []

    def close(self) -> None:
        """Stop the thread (the frames still queued are not recognised); waits up to ``STOP_WAIT_S``."""
        self._stopping.set()
        if not self._started:
            return
        try:
            self._frames.put_nowait(None)
        except queue.Full:
            pass  # it looks at the flag between frames
        self._thread.join(STOP_WAIT_S)
        if self._thread.is_alive():
            log.warning("the speech recognizer did not stop within %.0f s; leaving it", STOP_WAIT_S)

    def _run(self) -> None:
        _yield_to_the_loop()
        while not self._stopping.is_set():
            item = self._frames.get()
            if item is None:
                return
            frame, hearing = item
            try:
                self._recognise(frame, hearing)
            finally:
                self._done += 1

    def _recognise(self, frame: Frame, hearing: Hearing) -> None:
        """One frame through the listener; what it hears is delivered (a failure is counted and logged)."""
        try:
            self.listener.expect(hearing)
            heard = self.listener.process(frame)
            self._half_heard = hearing if self.listener.behind(hearing) else None
        except Exception:  # noqa: BLE001 - a recognizer's failure must not end spoken commands for good
            self.failures += 1
            self._half_heard = None
            if self.failures == 1 or self.failures % 1000 == 0:
                log.exception("the speech recognizer failed (%d time%s); it goes on", self.failures,
                              "s" * (self.failures != 1))
            return
        for one in heard:
            self.deliver(one, hearing)


def _yield_to_the_loop() -> None:
    """Lower the calling thread's priority by ``NICER_BY`` (Linux, where the nice value is a thread's own), so that
    on a core both want, the detectors' thread goes first; elsewhere, or if refused, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICER_BY))
    except (AttributeError, OSError) as exc:
        log.debug("the recognizer's thread keeps its priority: %s", exc)
