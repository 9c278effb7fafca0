"""What the live loop tells its observers: every typed record, detector event and lifecycle moment.

An observer (the kiosk's log lines, the home page, hooks) implements :class:`Observer` and is registered once with
:meth:`voicecoach.runtime_live.Live.observe`. It receives, in order, on the loop's thread:

* lifecycle: :class:`TalkStarted`, :class:`TalkEnded`, :class:`MicWaiting`, :class:`MicOpened`, :class:`MicLost`,
  :class:`Said` (a prompt), :class:`CheckinDue` (the kiosk's schedule), :class:`Health` (speech model, journal);
* detector events (:mod:`voicecoach.events`): raised voice, interruption, pause suggested (only one that is
  offered: a suggestion withheld in quiet hours or while the coach is busy is not passed on);
* records (:mod:`voicecoach.records`): suggestion made and answered ("not now" included), pause started and
  ended, check-in started, ended, or to be asked again later.

``notify`` must return quickly (queue the work for a thread of your own); an observer that raises is logged and
the loop goes on. No words the couple said ever reach an observer: prompts are the product's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from .events import Event
from .journal.schema import TalkSource
from .journal.talk import TalkSummary
from .records import Record


@dataclass(frozen=True)
class TalkStarted:
    """The loop started (listen, kiosk, checkin or demo)."""

    source: TalkSource


@dataclass(frozen=True)
class TalkEnded:
    """The loop ended; ``summary`` is what was printed."""

    summary: TalkSummary
    reason: str = ""  # e.g. "SIGTERM", "end of input"


@dataclass(frozen=True)
class MicWaiting:
    """No microphone can be opened; the loop tries again every few seconds (``reason`` says why)."""

    reason: str


@dataclass(frozen=True)
class MicOpened:
    """The microphone (or the input file) is open and delivering audio."""

    device: str  # "default", a device number, or a file name
    rate: int | None = None


@dataclass(frozen=True)
class MicLost:
    """The microphone stopped delivering audio (unplugged, the sound server went away)."""

    reason: str


@dataclass(frozen=True)
class Said:
    """A prompt was handed to the speaker (printed as text when no output device works)."""

    text: str


@dataclass(frozen=True)
class CheckinDue:
    """A scheduled check-in's time has come (the kiosk offers it when nothing else is under way)."""

    name: str


class Part(Enum):
    """A part of the product whose health is reported."""

    SPEECH_MODEL = "speech model"
    JOURNAL = "journal"


@dataclass(frozen=True)
class Health:
    """A part is working (``ok``) or not, and why."""

    part: Part
    ok: bool
    detail: str = ""


Lifecycle = TalkStarted | TalkEnded | MicWaiting | MicOpened | MicLost | Said | CheckinDue | Health
Notice = Lifecycle | Event | Record


class Observer(Protocol):
    """Receives every notice of the live loop (see the module docstring)."""

    def notify(self, notice: Notice) -> None:
        """One notice; return quickly."""
        ...
