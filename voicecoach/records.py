"""Typed records: what the policies ask the journal to keep, one type per kind.

The coach and the check-in runner return these among their actions; the runtime's talk log stores each with the
journal method for its type (a renamed field fails a test or a type check, never silently), and the live
assembly passes each one on to its observers (the home page, hooks). No words, no audio: names, counts, times.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Answer(Enum):
    """How a pause suggestion was answered."""

    YES = "yes"
    NOT_NOW = "not_now"
    NO_ANSWER = "no_answer"
    MANUAL = "manual"  # the couple asked for the pause themselves


class PauseEnd(Enum):
    """How a pause ended."""

    COMPLETED = "completed"
    ENDED_EARLY = "ended early"  # the couple said stop
    CUT_SHORT = "cut short"  # the program was stopped during the pause


class CheckinOutcome(Enum):
    """How a check-in ended."""

    COMPLETED = "completed"
    STOPPED = "stopped"  # the couple said stop
    DECLINED = "declined"  # "not now" at the consent question
    NO_ANSWER = "no_answer"  # nobody answered the consent question
    LATER = "later"  # "ask again later"
    PAUSE = "pause"  # handed over to the agreed pause
    FAILED = "failed"  # the script could not go on (a broken script); the loop goes on
    CUT_SHORT = "cut short"  # the program was stopped during the check-in


@dataclass(frozen=True)
class SuggestionMade:
    """The agreed pause was offered; ``reason`` is the detector's, ``t`` the audio time of the suggestion."""

    reason: str
    t: float


@dataclass(frozen=True)
class SuggestionAnswered:
    """The answer to the latest suggestion."""

    answer: Answer


@dataclass(frozen=True)
class PauseStarted:
    """The agreed pause began (``manual``: asked for, not offered)."""

    planned_min: float
    manual: bool


@dataclass(frozen=True)
class PauseEnded:
    """The pause ended, after ``actual_min`` minutes."""

    how: PauseEnd
    actual_min: float


@dataclass(frozen=True)
class CheckinStarted:
    """A check-in script began (with its consent question, unless the couple had just said yes)."""

    name: str


@dataclass(frozen=True)
class CheckinEnded:
    """A check-in ended: how, how far it got, how long it took."""

    name: str
    outcome: CheckinOutcome
    steps_done: int
    steps_total: int
    minutes: float

    @property
    def completed(self) -> bool:
        """True when every step was played."""
        return self.outcome is CheckinOutcome.COMPLETED


@dataclass(frozen=True)
class CheckinLater:
    """After "not now" to an offered check-in: whether to ask again in ``after_min`` minutes."""

    name: str
    accepted: bool
    after_min: float


Record = (SuggestionMade | SuggestionAnswered | PauseStarted | PauseEnded | CheckinStarted | CheckinEnded
          | CheckinLater)
RECORD_TYPES = (SuggestionMade, SuggestionAnswered, PauseStarted, PauseEnded, CheckinStarted, CheckinEnded,
                CheckinLater)
"""The record classes, for ``isinstance`` (a type checker narrows to :data:`Record` with it)."""
