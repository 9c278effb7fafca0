"""Clocks: the only place outside the runtime that reads wall-clock time.

Pure objects (detectors, the coach, the script runner) take ``now`` values from an injected clock so that tests
drive them with :class:`FakeClock` and a WAV replays exactly like live audio.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Protocol


class Clock(Protocol):
    """Anything that tells the time in seconds (monotonic, arbitrary origin)."""

    def now(self) -> float:
        """Seconds since an arbitrary origin."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic()``."""

    def now(self) -> float:
        """Seconds from the monotonic clock."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        time.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)

    def now(self) -> float:
        """The fake time."""
        return self._t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._t += seconds

    def sleep(self, seconds: float) -> None:
        """Advance instead of sleeping."""
        self.advance(max(0.0, seconds))


class AudioClock:
    """Time as the audio tells it: the end of the last frame processed (for replaying files at full speed)."""

    def __init__(self) -> None:
        self._t = 0.0

    def now(self) -> float:
        """Seconds of audio processed so far."""
        return self._t

    def observe(self, end_s: float) -> None:
        """A frame ending at ``end_s`` (seconds of audio) is being processed."""
        self._t = max(self._t, end_s)


def suspend_counting_clock() -> Callable[[], float] | None:
    """A clock that runs on while the machine is suspended but is never set (seconds, arbitrary origin), or None.

    Linux's ``CLOCK_BOOTTIME`` (macOS's ``CLOCK_MONOTONIC`` counts sleep too). The wall clock minus this one changes
    only when the system clock is *set* (a Raspberry Pi's first network time after booting on its last saved time,
    a ``date -s``), never across a suspend, when ``time.monotonic()`` stops on Linux and would look like a step."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return lambda: time.clock_gettime(time.CLOCK_BOOTTIME)
    if sys.platform == "darwin":
        return lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
    return None
