"""Actions: what the pure policy objects (the coach, the check-in runner, the voice-notes flow) ask for.

Policies never touch devices or the wall clock: they take events, answers and ``now`` (seconds from an injected
clock) and return a list of actions. The router (:mod:`voicecoach.router`) keeps the routing ones to itself
(``Listen``, ``StartCheckin``) and hands the rest to the runtime, which carries them out (speak, store, record).
Journal records (:mod:`voicecoach.records`) are actions too: one type per kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from .commands import ClapChoice, Command, Reply
from .records import Record

ALL_COMMANDS: frozenset[Command] = frozenset(Command)


@dataclass(frozen=True)
class Say:
    """Speak this text (queued after anything already being said)."""

    text: str
    cue: str = ""  # optional short sound before the words: "" | "chime" | "soft"
    # a choice it offers: said as the language pack's clap_choice wording while only the double clap is heard
    choice: ClapChoice | None = None


@dataclass(frozen=True)
class Listen:
    """After the current speech ends (plus the self-hearing tail), wait ``timeout_s`` for an answer.

    The asker then gets ``heard(reply, now)``: one of ``commands``, one of ``options`` (the question's own
    choices, as :class:`~voicecoach.commands.Option`), or ``None`` when the time ran out in silence. The
    recognizer listens for exactly these (plus the commands heard at any time). ``clap`` is what the agreed double
    clap answers to this question, as its words say while only the clap is heard ("Clap twice for yes");
    ``clap_alone``, when set, what it answers instead where the question was worded for the clap alone (at a
    choice, the option its words name: "Clap twice for now, or stay quiet for later.").
    """

    timeout_s: float
    commands: frozenset[Command] = ALL_COMMANDS
    options: tuple[str, ...] = ()
    clap: Command = Command.YES
    clap_alone: Reply | None = None


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
class StartCheckin:
    """Hand over to a check-in script (e.g. "after-pause" when a pause ends and the couple agrees)."""

    name: str
    consented: bool = False  # the couple has just said yes: the script need not ask "is now a good time?" again


Action = Say | Listen | StopSpeaking | Snooze | RecordNote | PlayNote | DeleteNote | StartCheckin | Record
