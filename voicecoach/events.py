"""Typed events: what the detectors and the coach report.

The same objects are logged, stored in the journal, printed as JSON lines by ``voicecoach analyze --json`` and
asserted in tests. Times are seconds of audio since the stream began.

JSON contract (keys never change meaning; new types and keys may be added):

* ``{"type": "raised_voice", "t": 12.34, "start": 11.90, "end": 15.20, "speaker": "A"}``
* ``{"type": "interruption", "t": 40.10, "start": 39.70, "speaker": "B", "over": "A"}``
* ``{"type": "pause_suggested", "t": 41.00, "reason": "3 interruptions in 60 s"}``

``t`` is when the event was emitted (the earliest moment a live system could act), ``start`` the estimated onset,
``end`` may be null when not yet known, ``speaker``/``over`` are partner labels ("A", "B") or null.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from .commands import Command, Option, Reply, Source


@dataclass(frozen=True)
class Event:
    """Base class: every event has a type name and an emission time ``t`` in seconds of audio."""

    type: ClassVar[str] = "event"
    t: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON-contract dictionary, ``type`` first, times rounded to milliseconds."""
        out: dict[str, Any] = {"type": self.type}
        for key, value in asdict(self).items():
            out[key] = round(value, 3) if isinstance(value, float) else value
        return out

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class RaisedVoice(Event):
    """A partner's voice is raised relative to their own calm baseline."""

    type: ClassVar[str] = "raised_voice"
    start: float = 0.0
    end: float | None = None
    speaker: str | None = None
    level_db: float | None = None  # loudness above the partner's calm baseline, dB


@dataclass(frozen=True)
class Interruption(Event):
    """A partner started speaking while the other held the floor, and kept going."""

    type: ClassVar[str] = "interruption"
    start: float = 0.0
    speaker: str | None = None
    over: str | None = None


@dataclass(frozen=True)
class PauseSuggested(Event):
    """The talk has escalated enough to offer the agreed pause."""

    type: ClassVar[str] = "pause_suggested"
    reason: str = ""


@dataclass(frozen=True)
class Heard(Event):
    """A command (or one of a question's own choices) was heard: spoken, clapped, typed or sent from the page.

    Its contract dictionary keeps the names of the first version: ``{"type": "command", "name": "not_now",
    "text": "not now", "source": "voice"}`` (``name`` is the command, or the choice as said).
    """

    type: ClassVar[str] = "command"
    reply: Reply
    text: str = ""
    source: Source = Source.VOICE

    @property
    def command(self) -> Command | None:
        """The command heard, or None when a question's own choice was heard."""
        return self.reply if isinstance(self.reply, Command) else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-contract dictionary (``name`` for the command or choice, ``source`` as a word)."""
        name = self.reply.value if isinstance(self.reply, Command) else self.reply.text
        return {"type": self.type, "t": round(self.t, 3), "name": name, "text": self.text,
                "source": self.source.value}


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (RaisedVoice, Interruption, PauseSuggested, Heard)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its contract dictionary (unknown keys are ignored)."""
    cls = EVENT_TYPES[data["type"]]
    if cls is Heard:
        name = str(data.get("name", ""))
        reply: Reply = Command.named(name) or Option(name)
        return Heard(t=float(data["t"]), reply=reply, text=str(data.get("text", "")),
                     source=Source(data.get("source", "voice")))
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
