"""The live loop around a :class:`~voicecoach.runtime.Session`: (re)opening the frame source and pacing files.

A lost microphone is logged and reopened (PortAudio re-scanned first, so a restarted sound server is found); the
audio clock keeps counting; timers and typed commands keep running while there is no audio. Files can be paced to
real time so they exercise exactly the microphone's path.

If a PortAudio call has been left behind (``audio.device.hung()``: after the sound server was killed, PortAudio
19.6's ALSA thread can loop in its error path for ever, holding the stream, using a whole core), nothing can be
reopened in this process: after ``STUCK_EXIT_S`` of that the loop raises :class:`SoundSystemStuck`, so the talk is
stored and a restart (the kiosk's service restarts by itself) gets a working sound system.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator

from .audio.frames import Frame, FrameSource
from .errors import DeviceError, InputError, SoundSystemStuck
from .notices import MicLost, MicOpened, MicWaiting, Notice
from .runtime import Session

log = logging.getLogger(__name__)

WAIT_STEP_S = 0.05  # while waiting for a device: how often timers and typed commands are served
STUCK_EXIT_S = 10.0  # a PortAudio call left behind this long while the microphone cannot reopen: give up


def run_loop(session: Session, open_source: Callable[[int], FrameSource], stop: threading.Event,
             reopen_s: float = 2.0, on_frame: Callable[[Frame], None] | None = None,
             live: bool = True, notify: Callable[[Notice], None] | None = None,
             wait_for_device: bool = False, position: int = 0) -> None:
    """Feed frames from (re)opened sources into the session until ``stop`` is set or a file source ends.

    A lost microphone is reported (``notify``: :class:`MicWaiting`, :class:`MicOpened`, :class:`MicLost`) and
    reopened every ``reopen_s`` seconds; the audio clock keeps counting so event times stay monotonic. Timers keep
    running while there is no audio. ``wait_for_device``: a named device that is not plugged in (an input error)
    is waited for like a missing one, instead of ending the loop. ``position``: the sample the audio clock starts
    at (to go on after an earlier loop over the same session).
    """
    from .audio.device import hung, reinitialize

    tell = notify or (lambda notice: None)
    waiting = False
    stuck_since: float | None = None
    while not stop.is_set():
        try:
            source = open_source(position)
        except (DeviceError, InputError) as exc:
            if isinstance(exc, InputError) and not wait_for_device:
                raise
            stuck_since = _check_stuck(stuck_since, hung())
            if not waiting:
                tell(MicWaiting(str(exc)))
                waiting = True
            _wait(session, stop, reopen_s)
            if not stop.is_set():  # a stop while waiting ends at once, not after a re-scan (up to 5 s)
                reinitialize()
            continue
        waiting, stuck_since = False, None
        device = getattr(source, "device", None)
        tell(MicOpened("default" if device is None else str(device), getattr(source, "rate", None)))
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
            tell(MicLost(str(exc)))
            waiting = True
            position += int(reopen_s * 16000)
        finally:
            source.close()
        if not stop.is_set():
            _wait(session, stop, reopen_s)
            if not stop.is_set():
                reinitialize()


def _check_stuck(since: float | None, busy: tuple[str, ...]) -> float | None:
    """When the sound system first seemed stuck (None: it is not); raise :class:`SoundSystemStuck` after
    ``STUCK_EXIT_S`` of it."""
    if not busy:
        return None
    now = time.monotonic()
    if since is None:
        return now
    if now - since >= STUCK_EXIT_S:
        raise SoundSystemStuck(f"the sound system stopped answering (it did not {busy[0]}), so the microphone "
                               "cannot be reopened; the talk is saved: start voicecoach again (the kiosk's service "
                               "restarts by itself)")
    return since


def _wait(session: Session, stop: threading.Event, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        session.tick()
        stop.wait(WAIT_STEP_S)


class PacedSource:
    """Wrap a file or generated source so frames arrive in real time, as from a microphone."""

    def __init__(self, source: FrameSource, speed: float = 1.0) -> None:
        self.source = source
        self.frame_ms = source.frame_ms
        self.speed = speed

    def frames(self) -> Iterator[Frame]:
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
