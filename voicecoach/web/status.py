"""The Now page's status, typed: each part (microphone, speaker, speech model, journal) with a level and a line.

Two sources: :class:`LiveStatus`, fed by the running kiosk's lifecycle (the page runs inside the kiosk, and its
buttons work), and :func:`offline_status` for ``voicecoach web`` on its own (what can be known without the kiosk:
the model on disk, the journal, the schedule). The page and ``GET /api/status`` render the same object.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Protocol

from ..clock import LocalTime
from ..config import Config, KioskSettings
from ..errors import InputError, VoicecoachError


class Level(Enum):
    """How a part is doing."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"  # the kiosk is not running in this process


@dataclass(frozen=True)
class Part:
    """One part of the box and how it is."""

    name: str
    level: Level
    detail: str


@dataclass(frozen=True)
class Status:
    """Everything the Now page shows."""

    live: bool  # the kiosk runs in this process: "pause now" and "start a check-in" work
    activity: str  # listening, pause, check-in, or "not running here"
    parts: tuple[Part, ...]
    next_ritual: str  # e.g. "nightly Mon 21:30", or "" when nothing is scheduled
    quiet_hours: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``GET /api/status``."""
        return {"live": self.live, "activity": self.activity, "next_ritual": self.next_ritual or None,
                "quiet_hours": self.quiet_hours,
                "parts": {p.name: {"level": p.level.value, "detail": p.detail} for p in self.parts}}


class StatusSource(Protocol):
    """Anything that can say how the box is now."""

    def status(self) -> Status:
        """The status now."""
        ...


class Controls(Protocol):
    """What the Now page's buttons ask of a running kiosk (each goes through the same flow as the voice)."""

    def pause_now(self) -> str:
        """Start the agreed pause as if a partner had said "pause"; returns what the page should say."""
        ...

    def start_checkin(self, name: str) -> str:
        """Offer a check-in (it begins with "Is now a good time?"); returns what the page should say."""
        ...


def _schedule(kiosk: KioskSettings, now: datetime) -> tuple[str, bool]:
    from ..kiosk import RitualScheduler

    scheduler = RitualScheduler(kiosk)
    nxt = scheduler.next_due(now)
    return (f"{nxt[0]} {nxt[1]:%a %H:%M}" if nxt else ""), scheduler.in_quiet_hours(now)


def model_part(config: Config) -> Part:
    """Whether the speech model for spoken answers is on disk (without it: the double clap only)."""
    from ..asr.models import find_model

    path = find_model(config.commands)
    if path is None:
        return Part("speech model", Level.WARN, "not installed: answers come from the double clap only "
                                                 "(voicecoach models list)")
    return Part("speech model", Level.OK, f"{path.name} installed")


def journal_part(config: Config, journal_path: Path) -> Part:
    """Whether the journal is on and its file is sound: SQLite checks every page of it, read-only, once each time
    the file changes (the size of a damaged file says nothing)."""
    if not config.journal.enabled:
        return Part("journal", Level.WARN, "off ([journal] enabled = false): nothing is recorded")
    from ..journal.files import file_identity

    key = file_identity(journal_path)
    if key is None:
        return Part("journal", Level.OK, "empty so far")
    with _verdicts_lock:
        known = _verdicts.get(journal_path)
        if known is not None and known[0] == key:
            return known[1]
        part = _journal_verdict(journal_path, key[2])
        _verdicts[journal_path] = (key, part)
        return part


# The last verdict on each journal file, with the file's identity then: the check, which reads all of it, runs
# again only when the main file changed (after a write of the kiosk's, which copies each commit into it at once).
_verdicts: dict[Path, tuple[tuple[int, ...], Part]] = {}
_verdicts_lock = threading.Lock()


def _journal_verdict(journal_path: Path, size: int) -> Part:
    from ..journal.files import JournalRefused, JournalUnavailable, verify

    if size == 0:
        return Part("journal", Level.OK, "empty so far")
    try:
        verify(journal_path)
    except JournalRefused as exc:
        return Part("journal", Level.FAIL, f"{exc}; or put your backup of it in its place")
    except JournalUnavailable as exc:
        return Part("journal", Level.FAIL, str(exc))
    return Part("journal", Level.OK, f"{size // 1024} KB, checked: sound; counts and times only")


def offline_status(config: Config, journal_path: Path, now: datetime) -> Status:
    """What ``voicecoach web`` on its own can tell without the kiosk."""
    ritual, quiet = _schedule(config.kiosk, now)
    away = "the kiosk is not running in this process (start it with voicecoach kiosk and [web] enabled = true)"
    parts = (Part("microphone", Level.UNKNOWN, away), Part("speaker", Level.UNKNOWN, away),
             model_part(config), journal_part(config, journal_path))
    return Status(False, "not running here", parts, ritual, quiet)


class ConfigUnusable(VoicecoachError):
    """The config file on disk cannot be read or does not validate; the message names the key or line."""


def current_config(path: Path) -> Config:
    """The config at ``path`` as it is on disk now: the defaults when there is no file, ConfigUnusable (the pages'
    503 naming the fix) when it cannot be used, a symbolic link leading nowhere too (it was read as no file: the
    pages showed the defaults while the couple's settings were elsewhere)."""
    from ..config import load_config_file

    try:
        return load_config_file(path)
    except InputError as exc:
        raise ConfigUnusable(str(exc)) from None


@dataclass(frozen=True)
class OfflineStatus:
    """The status source of ``voicecoach web`` alone: the config read again each time (the Rituals page may have
    changed the schedule)."""

    config_path: Path
    journal_path: Path
    # the page runs for days: its "Now" follows a time zone set meanwhile (datetime.now keeps the first one)
    local_now: Callable[[], datetime] = field(default_factory=lambda: LocalTime().now)

    def status(self) -> Status:
        """The status now."""
        config = current_config(self.config_path)
        return offline_status(config, self.journal_path, self.local_now())


@dataclass
class LiveParts:
    """The running kiosk's parts as its lifecycle reports them (updated from the loop's thread)."""

    microphone: Part = Part("microphone", Level.WARN, "waiting for a microphone")
    speaker: Part = Part("speaker", Level.OK, "ready")
    speech_model: Part | None = None  # None: as on disk
    activity: str = "listening"


@dataclass
class LiveStatus:
    """Status of the kiosk running in this process: the lifecycle writes, the page reads (thread-safe)."""

    config: Config
    journal_path: Path
    now: Any  # () -> datetime, the kiosk's own wall clock (it may be a rehearsal's pretend time)
    parts: LiveParts = field(default_factory=LiveParts)
    kiosk: KioskSettings | None = None  # the schedule the kiosk runs now (None: the config's)
    speaker_ok: Any = None  # () -> bool: the speaker plays on a device (None: not known)
    # () -> str: the running kiosk's own "next:" (a ritual not yet offered, an "ask again" promise, quiet hours);
    # None: worked out from the schedule alone
    next_ritual: Callable[[], str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, **changes: Any) -> None:
        """Change some parts (microphone=Part(...), activity="pause", ...)."""
        with self._lock:
            self.parts = replace(self.parts, **changes)

    def notify(self, notice: Any) -> None:
        """The live loop's notices keep the parts up to date (an :class:`~voicecoach.notices.Observer`)."""
        changes = parts_after(notice)
        if changes:
            self.update(**changes)

    def status(self) -> Status:
        """The status now."""
        with self._lock:
            live = self.parts
        ritual, quiet = _schedule(self.kiosk or self.config.kiosk, self.now())
        if self.next_ritual is not None:
            ritual = self.next_ritual()
        model = live.speech_model or model_part(self.config)
        speaker = live.speaker
        if self.speaker_ok is not None and not self.speaker_ok():
            speaker = Part("speaker", Level.FAIL, "no output device: prompts are only written to the log")
        return Status(True, live.activity, (live.microphone, speaker, model,
                                            journal_part(self.config, self.journal_path)), ritual, quiet)


def parts_after(notice: Any) -> dict[str, Any]:
    """What a notice of the live loop changes on the Now page ({} for most)."""
    from .. import notices as n
    from ..records import CheckinEnded, CheckinStarted, PauseEnded, PauseStarted

    if isinstance(notice, n.MicOpened):
        rate = f", {notice.rate} Hz" if notice.rate else ""
        return {"microphone": Part("microphone", Level.OK, f"open (device {notice.device}{rate})")}
    if isinstance(notice, n.MicWaiting):
        return {"microphone": Part("microphone", Level.FAIL, f"waiting for a microphone: {notice.reason}")}
    if isinstance(notice, n.MicLost):
        return {"microphone": Part("microphone", Level.FAIL, f"lost: {notice.reason}")}
    if isinstance(notice, n.Health) and notice.part is n.Part.SPEECH_MODEL:
        return {"speech_model": Part("speech model", Level.OK if notice.ok else Level.WARN,
                                     notice.detail or ("loaded" if notice.ok else "not loaded"))}
    if isinstance(notice, PauseStarted):
        return {"activity": "the agreed pause"}
    if isinstance(notice, CheckinStarted):
        return {"activity": f"the {notice.name} check-in"}
    if isinstance(notice, (PauseEnded, CheckinEnded)):
        return {"activity": "listening"}
    if isinstance(notice, n.TalkEnded):
        return {"activity": "stopped"}
    return {}
