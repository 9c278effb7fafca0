"""The one registry of command names, and what a heard answer can be.

Every command the product understands is a member of :class:`Command`; language packs map phrases to these
members, the keyboard maps keys to them, and the coach, the check-in runner and the voice-notes flow compare
against them. Nothing outside this module spells a command as a bare string, so a renamed command fails loudly
(``Command("typo")`` raises) instead of silently never matching.

An answer to a question is a :class:`Command` or, where the question offers its own choices (a check-in's
``choose`` step: "now, or later?"), an :class:`Option` naming the choice that was said.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Command(Enum):
    """A command: what a partner said, clapped, typed or pressed on the home page."""

    YES = "yes"
    NOT_NOW = "not_now"
    PAUSE = "pause"
    NEXT = "next"
    REPEAT = "repeat"
    MORE_TIME = "more_time"
    SKIP = "skip"
    STOP = "stop"
    HELP = "help"
    LEAVE_NOTE = "leave_note"
    PLAY_NOTES = "play_notes"
    PAIRING_CODE = "pairing_code"  # say a one-time code to pair a phone with the home page (issue 18)

    @classmethod
    def named(cls, name: str) -> "Command | None":
        """The command called ``name`` ("not_now", "not now", "more time"), or None."""
        key = name.strip().lower().replace(" ", "_")
        return _BY_NAME.get(key)

    @property
    def spoken(self) -> str:
        """The name as said in a prompt: "not now", "more time"."""
        return self.value.replace("_", " ")


_BY_NAME = {c.value: c for c in Command}
COMMAND_NAMES: tuple[str, ...] = tuple(c.value for c in Command)


class Source(Enum):
    """Where a command came from."""

    VOICE = "voice"
    CLAP = "clap"
    KEYBOARD = "keyboard"
    SCRIPT = "script"  # scripted answers (rehearsals, the demo)
    WEB = "web"  # the home page (issue 18)


@dataclass(frozen=True)
class Option:
    """One of a question's own choices, as said (e.g. "later" in "now, or later?")."""

    text: str


Reply = Command | Option
"""An answer to a question: a command, or one of the question's own choices."""


@dataclass(frozen=True)
class ClapChoice:
    """A choice as a prompt offers it, for when only the double clap is heard: the words of the prompt that ask
    for a spoken choice ("Say now or later."), the option a double clap picks, and the one silence leaves."""

    spoken: str
    clap: str
    silence: str


@dataclass(frozen=True)
class Hearing:
    """What the recognizer should listen for now.

    ``window`` numbers the open answer window (0: none is open); while one is open ``commands`` and ``options``
    are what the question asked for (plus the commands heard at any time). With no window open, ``commands`` are
    those heard at any time. ``strict``: those heard only when said on their own, a final transcript that is the
    phrase and nothing else (the live loop's router puts every command there but "not now" at a question).
    ``strict_options``: the question's own choices, too, count only said on its own.
    ``decoys``: commands whose phrases are in the recognizer's grammar but never acted on, so that talk has more
    words to fall on than the few that act.
    """

    window: int
    commands: frozenset[Command]
    options: tuple[str, ...] = ()
    strict: frozenset[Command] = frozenset()
    decoys: frozenset[Command] = frozenset()
    strict_options: bool = False

    @property
    def listening(self) -> bool:
        """True while an answer window is open."""
        return self.window != 0


EVERYTHING = Hearing(0, frozenset(Command))
"""Listen for every command (a listener used on its own, outside the live loop)."""


def parse_commands(names: tuple[str, ...] | list[str]) -> frozenset[Command]:
    """Command members for a list of names; ValueError naming the first unknown one."""
    out = set()
    for name in names:
        command = Command.named(name)
        if command is None:
            raise ValueError(f"unknown command {name!r} (known: {', '.join(COMMAND_NAMES)})")
        out.add(command)
    return frozenset(out)


_ALIASES = {"okay": Command.YES, "ok": Command.YES, "no": Command.NOT_NOW, "time out": Command.PAUSE,
            "time_out": Command.PAUSE}


def parse_reply(text: str) -> Reply | None:
    """A scripted answer: a command name ("not_now", "more time", or "okay", "no"), "-" or "" for silence, and
    anything else one of a question's own choices ("later")."""
    t = " ".join(text.strip().lower().split())
    if t in ("", "-"):
        return None
    return Command.named(t) or _ALIASES.get(t) or Option(t)
