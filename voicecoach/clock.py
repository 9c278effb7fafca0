"""Clocks: the only place outside the runtime that reads wall-clock time.

:class:`LocalTime` is the kiosk's local wall time, in the zone the system is set to *now* (not at the start).

Pure objects (detectors, the coach, the script runner) take ``now`` values from an injected clock so that tests
drive them with :class:`FakeClock` and a WAV replays exactly like live audio.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime, timezone, tzinfo
from typing import Callable, Protocol

log = logging.getLogger(__name__)

SYSTEM_ZONE_FILE = "/etc/localtime"


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
        self._asleep = 0.0

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

    def suspend(self, seconds: float) -> None:
        """Model a suspend of the machine: the monotonic ``now`` stands still, :meth:`suspended` grows."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._asleep += seconds

    def suspended(self) -> float:
        """Seconds spent in modelled suspends (what :func:`suspended_clock` tells of the real machine)."""
        return self._asleep


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
    """A clock that runs on while the machine is suspended but is never set (seconds since it booted), or None.

    Linux's ``CLOCK_BOOTTIME`` (macOS's ``CLOCK_MONOTONIC`` counts sleep too). The wall clock minus this one changes
    only when the system clock is *set* (a Raspberry Pi's first network time after booting on its last saved time,
    a ``date -s``), never across a suspend, when ``time.monotonic()`` stops on Linux and would look like a step."""
    if hasattr(time, "CLOCK_BOOTTIME"):
        return lambda: time.clock_gettime(time.CLOCK_BOOTTIME)
    if sys.platform == "darwin":
        return lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
    return None


def suspended_clock() -> Callable[[], float] | None:
    """Seconds the machine has spent suspended since it booted (Linux: ``CLOCK_BOOTTIME - CLOCK_MONOTONIC``), or
    None where that cannot be told. It grows by the length of each suspend (a laptop's lid closed), and not while a
    process is merely stopped (Ctrl-Z) or busy."""
    if not hasattr(time, "CLOCK_BOOTTIME"):
        return None
    return lambda: time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)


def boot_id() -> str | None:
    """This boot of the machine's id (Linux: ``/proc/sys/kernel/random/boot_id``), or None where it cannot be told:
    a reading of :func:`suspend_counting_clock` means something only within the boot it was taken in."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


class LocalTime:
    """Local wall time (an aware datetime) in the zone the system is set to now, followed when it is changed.

    A running process's C library keeps the zone it read first: glibc reads neither a changed ``/etc/localtime`` nor
    a changed TZ file again, not even on ``time.tzset()``. So ``datetime.now()`` in a kiosk started before its zone
    was set (``raspi-config`` or ``timedatectl set-timezone`` after the first boot) kept the old zone until it was
    restarted: the nightly ritual came at the old zone's 21:30. Here the zone file is looked at on every call (a
    ``stat``) and read again when it changed. ``TZ`` naming a zone (``Europe/Berlin``) is that zone for good (a
    process's environment does not change); a POSIX rule (``CET-1CEST``) or no zone file at all: the C library's
    zone, as an offset."""

    def __init__(self, zone_file: str | None = None, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self._file, self._zone = (zone_file, None) if zone_file is not None else _zone_source(os.environ.get("TZ"))
        self._seen: tuple[int, int, int, int, str] | None = None

    def now(self) -> datetime:
        """The local time now, aware (``tzinfo`` the zone in use)."""
        t = self.wall()
        zone = self._zone_now()
        return datetime.fromtimestamp(t, zone) if zone is not None else datetime.fromtimestamp(t).astimezone()

    def at(self, epoch_s: float) -> datetime:
        """The local time (aware) of the instant ``epoch_s``, in the zone the system is set to now."""
        zone = self._zone_now()
        return datetime.fromtimestamp(epoch_s, zone) if zone is not None else \
            datetime.fromtimestamp(epoch_s).astimezone()

    def _zone_now(self) -> tzinfo | None:
        if self._file is None:
            return self._zone
        try:
            st = os.stat(self._file)
            seen = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, os.path.realpath(self._file))
        except OSError:
            return self._zone if self._zone is not None else timezone.utc  # glibc's zone without the file
        if seen != self._seen:
            self._read(seen)
        return self._zone

    def _read(self, seen: tuple[int, int, int, int, str]) -> None:
        from zoneinfo import ZoneInfo

        name = seen[4].split("zoneinfo/", 1)[-1] if "zoneinfo/" in seen[4] else seen[4]
        try:
            with open(self._file or SYSTEM_ZONE_FILE, "rb") as f:
                zone = ZoneInfo.from_file(f, key=name)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the time zone in %s (%s): local time stays as it was", self._file, exc)
            self._seen = seen
            return
        if self._seen is not None:
            log.info("the time zone is now %s (was %s): local times follow it", name, self._zone)
        self._zone, self._seen = zone, seen


def _zone_source(tz: str | None) -> tuple[str | None, tzinfo | None]:
    """(zone file to follow, fixed zone) for a ``TZ`` value: unset, the system's file; ``:/path`` or ``/path``, that
    file; a zone's name, that zone; anything else (a POSIX rule), neither (the C library's own)."""
    if tz is None:
        return SYSTEM_ZONE_FILE, None
    name = tz[1:] if tz.startswith(":") else tz
    if name.startswith("/"):
        return name, None
    from zoneinfo import ZoneInfo

    try:
        return None, ZoneInfo(name or "UTC")
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None, None
