"""The live loop around a :class:`~voicecoach.runtime.Session`: (re)opening the frame source and pacing files.

A lost microphone is logged and reopened; the audio clock keeps counting; timers keep running while there is no
audio. Files can be paced to real time so they exercise exactly the microphone's path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

from .audio.frames import Frame, FrameSource
from .errors import DeviceError
from .runtime import Session

log = logging.getLogger(__name__)


def run_loop(session: Session, open_source: Callable[[int], FrameSource], stop: threading.Event,
             reopen_s: float = 2.0, on_frame: Callable[[Frame], None] | None = None,
             live: bool = True) -> None:
    """Feed frames from (re)opened sources into the session until ``stop`` is set or a file source ends.

    A lost microphone is logged, and reopened every ``reopen_s`` seconds; the audio clock keeps counting so
    event times stay monotonic. Timers keep running while there is no audio.
    """
    from .audio.device import reinitialize

    position = 0
    waiting_logged = False
    while not stop.is_set():
        try:
            source = open_source(position)
        except DeviceError as exc:
            if not waiting_logged:
                log.warning("waiting for a microphone: %s", exc)
                waiting_logged = True
            _wait(session, stop, reopen_s)
            reinitialize()
            continue
        if waiting_logged:
            log.info("microphone available again")
            waiting_logged = False
        try:
            for frame in source.frames():
                session.step(frame)
                position = frame.end_sample
                if on_frame is not None:
                    on_frame(frame)
                if stop.is_set():
                    break
            else:
                if not live:
                    return  # a file source ended
        except DeviceError as exc:
            log.warning("microphone lost (%s); reopening", exc)
            waiting_logged = True
            position += int(reopen_s * 16000)
        finally:
            source.close()
        if not stop.is_set():
            _wait(session, stop, reopen_s)
            reinitialize()


def _wait(session: Session, stop: threading.Event, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        session.tick()
        stop.wait(0.1)


class PacedSource:
    """Wrap a file or generated source so frames arrive in real time, as from a microphone."""

    def __init__(self, source: FrameSource, speed: float = 1.0) -> None:
        self.source = source
        self.frame_ms = source.frame_ms
        self.speed = speed

    def frames(self) -> Iterable[Frame]:
        """Yield the wrapped frames no faster than real time."""
        t0 = time.monotonic()
        first: float | None = None
        for frame in self.source.frames():
            first = frame.start_s if first is None else first
            delay = t0 + (frame.end_s - first) / self.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield frame

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()
