"""Actions: what the pure policy objects (the coach, the check-in runner) ask the runtime to do.

Policies never touch devices or the wall clock: they take events, commands and ``now`` (seconds from an injected
clock) and return a list of actions. Only the runtime carries them out (speak, listen, store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Say:
    """Speak this text (queued after anything already being said)."""

    text: str
    cue: str = ""  # optional short sound before the words: "" | "chime" | "soft"


@dataclass(frozen=True)
class Listen:
    """After the current speech ends (plus the self-hearing tail), listen for a command for ``timeout_s``.

    The runtime answers with ``heard(name, now)``: a command name from ``commands`` (or any command when
    empty), or ``None`` when the time ran out in silence.
    """

    timeout_s: float
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopSpeaking:
    """Stop speaking now (mid-prompt) and drop queued prompts."""


@dataclass(frozen=True)
class Snooze:
    """Hold back pause suggestions for ``minutes`` ("not now" is always honoured)."""

    minutes: float


@dataclass(frozen=True)
class RecordNote:
    """After the current speech ends, record a voice note (until a few seconds of silence, at most ``max_s``)."""

    max_s: float


@dataclass(frozen=True)
class PlayNote:
    """Play a stored voice note."""

    note_id: int


@dataclass(frozen=True)
class DeleteNote:
    """Delete a stored voice note."""

    note_id: int


@dataclass(frozen=True)
class Record:
    """Store a journal row: ``kind`` is e.g. "suggestion", "suggestion_answer", "pause", "checkin"."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartCheckin:
    """Hand over to a check-in script (e.g. "after-pause" when a pause ends and the couple agrees)."""

    name: str
    consented: bool = False  # the couple has just said yes: the script need not ask "is now a good time?" again


@dataclass(frozen=True)
class Finished:
    """The policy's activity ended (a pause or a check-in); ``reason`` is for logs and the journal."""

    reason: str = ""


Action = (Say | Listen | StopSpeaking | Snooze | RecordNote | PlayNote | DeleteNote | Record | StartCheckin
          | Finished)
