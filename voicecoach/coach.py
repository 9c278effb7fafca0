"""The coach: a pure policy for offering and running the agreed pause.

Events, heard commands and ``now`` (seconds from an injected clock) go in; actions come out
(:mod:`voicecoach.actions`). No devices, no threads, no wall clock: tests drive it with a fake clock.

Consent first: a suggestion is a question; "not now" is always honoured (and snoozes suggestions); silence gets
one gentle repeat and then nothing. Either partner can start the pause at any time with the pause phrase or the
agreed signal. The words never shame, blame or take sides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from .actions import Action, Listen, Say, Snooze, StartCheckin, StopSpeaking
from .commands import Command, Reply
from .config import PauseSettings
from .events import Event, PauseSuggested
from .records import Answer, PauseEnd, PauseEnded, PauseStarted, SuggestionAnswered, SuggestionMade

log = logging.getLogger(__name__)

ANSWERS = frozenset({Command.YES, Command.NOT_NOW, Command.PAUSE, Command.STOP, Command.HELP, Command.REPEAT})
# While the pause runs, these are heard when said on their own (no question is open then):
WELCOME_QUESTION = "Would you like a short check-in together? Say okay, or not now."
WELCOME_HELP = "Say okay to have a short check-in together about what came up, or not now to carry on without it."
DURING_PAUSE = frozenset({Command.MORE_TIME, Command.STOP, Command.HELP})


class Mode(Enum):
    """What the coach is doing."""

    LISTENING = "listening"  # following the talk
    OFFERING = "offering"  # asked whether to pause, waiting for the answer
    PAUSING = "pausing"  # the agreed pause is running
    WELCOMING = "welcoming"  # pause ended, asked whether to check in


@dataclass(frozen=True)
class CoachState:
    """A snapshot for the live view."""

    mode: Mode
    pause_left_s: float | None
    suggestions: int
    pauses: int


def _minutes(value: float) -> str:
    return f"{value:g}"


class Coach:
    """Offers the agreed pause when the talk escalates, and runs it."""

    def __init__(self, settings: PauseSettings | None = None, has_checkin: bool = True,
                 suspended: Callable[[], float] | None = None) -> None:
        """``suspended``: seconds the machine has spent suspended so far (:func:`voicecoach.clock.suspended_clock`
        on the live microphone; a fake in tests). The agreed pause is real minutes apart: time the lid was closed
        counts towards it, though ``now`` (the loop's monotonic clock, which stops in a suspend) does not show it."""
        self.settings = settings or PauseSettings()
        self.has_checkin = has_checkin
        self._suspended = suspended or (lambda: 0.0)
        self.reset()

    def reset(self) -> None:
        """Back to following the talk, with no history."""
        self.mode = Mode.LISTENING
        self._repeated = False
        self._pause_end = 0.0
        self._warned = False
        self._pause_started = 0.0
        self._slept_at_start = 0.0
        self.suggestions = 0
        self.pauses = 0
        self.declined = 0

    # --- inputs -----------------------------------------------------------------------------------------------

    def on_event(self, event: Event, now: float) -> list[Action]:
        """A detector event: a pause suggestion is offered when the coach is free."""
        if isinstance(event, PauseSuggested) and self.mode is Mode.LISTENING:
            self.mode = Mode.OFFERING
            self._repeated = False
            self.suggestions += 1
            log.debug("suggesting the pause: %s", event.reason)
            return [SuggestionMade(event.reason, event.t), Say(self.suggestion_text()),
                    Listen(self.settings.answer_s, ANSWERS)]
        return []

    def suggestion_text(self) -> str:
        """What is said to suggest the agreed pause (rendered ahead at start: it is the prompt that must be quick)."""
        return self.settings.phrase.replace("{length}", _minutes(self.settings.length_min))

    def heard(self, command: Reply | None, now: float, unprompted: bool = False) -> list[Action]:
        """An answer to the coach's question (``None``: the time ran out in silence), or, with ``unprompted``,
        a command said when no question was open (the pause phrase, the double clap)."""
        if self.mode is Mode.OFFERING:
            return self._answer_offer(command, now)
        if self.mode is Mode.WELCOMING:
            return self._answer_welcome(command, now)
        if self.mode is Mode.PAUSING:
            return self._during_pause(command, now)
        if command is Command.PAUSE:
            return self._start_pause(now, manual=True)
        if command is Command.HELP and not unprompted:
            return [Say(self._help_text())]
        return []

    def tick(self, now: float) -> list[Action]:
        """Time passes: pause cues and the pause's end."""
        if self.mode is not Mode.PAUSING:
            return []
        left = self._pause_left(now)
        warn_s = self.settings.warn_before_end_min * 60.0
        if not self._warned and warn_s > 0 and left <= warn_s:
            self._warned = True
            if left >= 30.0:  # a cue with less than half a minute left would only startle
                mins = max(1, round(left / 60.0))
                return [Say(f"{mins} minute{'s' * (mins != 1)} left in the pause. "
                            "Notice how you feel, and take your time coming back.")]
        if left <= 0:
            return self._end_pause(now, PauseEnd.COMPLETED)
        return []

    # --- state for views ------------------------------------------------------------------------------------

    def state(self, now: float) -> CoachState:
        """What the coach is doing, for the live view."""
        left = max(0.0, self._pause_left(now)) if self.mode is Mode.PAUSING else None
        return CoachState(self.mode, left, self.suggestions, self.pauses)

    def _slept(self) -> float:
        """Seconds the machine has been suspended since the pause began."""
        return max(0.0, self._suspended() - self._slept_at_start)

    def _pause_left(self, now: float) -> float:
        return self._pause_end - now - self._slept()

    @property
    def busy(self) -> bool:
        """True while a question or the pause is under way (detector suggestions are then ignored)."""
        return self.mode is not Mode.LISTENING

    # --- the flow ---------------------------------------------------------------------------------------------

    def close(self, now: float) -> list[Action]:
        """The program is stopping: a running pause ends (cut short), an open offer goes unanswered."""
        if self.mode is Mode.PAUSING:
            out = self._end_pause(now, PauseEnd.CUT_SHORT)
            self.mode = Mode.LISTENING
            return [a for a in out if isinstance(a, PauseEnded)]
        if self.mode is Mode.OFFERING:
            self.mode = Mode.LISTENING
            return [SuggestionAnswered(Answer.NO_ANSWER)]
        self.mode = Mode.LISTENING
        return []

    def _answer_offer(self, command: Reply | None, now: float) -> list[Action]:
        if command in (Command.YES, Command.PAUSE):
            return [SuggestionAnswered(Answer.YES), *self._start_pause(now, manual=False)]
        if command in (Command.NOT_NOW, Command.STOP):
            self.mode = Mode.LISTENING
            self.declined += 1
            snooze = self.settings.snooze_min
            return [SuggestionAnswered(Answer.NOT_NOW), Snooze(snooze),
                    Say(f"Okay, not now. I'll stay quiet for {_minutes(snooze)} minutes.")]
        if command is Command.HELP:
            return [Say(self._help_text()), Listen(self.settings.answer_s, ANSWERS)]
        if command is Command.REPEAT or (command is None and not self._repeated):
            self._repeated = True
            # the couple's own words again (their ``phrase``), not a pause named otherwise than they agreed it
            return [Say(f"Just checking: {self.suggestion_text()}"), Listen(self.settings.answer_s, ANSWERS)]
        # Silence after one repeat: say nothing more, and do not ask again for a while.
        self.mode = Mode.LISTENING
        return [SuggestionAnswered(Answer.NO_ANSWER), Snooze(self.settings.snooze_min)]

    def _start_pause(self, now: float, manual: bool) -> list[Action]:
        self.mode = Mode.PAUSING
        self.pauses += 1
        self._pause_started = now
        self._slept_at_start = self._suspended()
        self._pause_end = now + self.settings.length_min * 60.0
        self._warned = False
        length = _minutes(self.settings.length_min)
        opening = "Okay, taking the pause you agreed on." if manual else "Okay."
        return [StopSpeaking(),
                PauseStarted(self.settings.length_min, manual),
                Say(f"{opening} Pausing for {length} minutes. Maybe take a few slow breaths: in for four, "
                    "out for six. I'll let you both know when the time is up.")]

    def _during_pause(self, command: Reply | None, now: float) -> list[Action]:
        if command is Command.STOP:
            return self._end_pause(now, PauseEnd.ENDED_EARLY)
        if command is Command.MORE_TIME:
            self._pause_end += 5 * 60.0
            self._warned = False
            return [Say("Okay, five more minutes.")]
        if command is Command.HELP:
            return [Say("The pause is running. Say more time for five more minutes, or stop to end it.")]
        return []

    def _end_pause(self, now: float, how: PauseEnd) -> list[Action]:
        actual_min = (now - self._pause_started + self._slept()) / 60.0
        record = PauseEnded(how, round(actual_min, 2))
        # Back from the pause (or stopping it early, their choice): no suggestion while they find their way back in.
        # The detectors' cooldown counts from the suggestion, which a pause of a few minutes or more outlasts.
        quiet: list[Action] = [Snooze(self.settings.quiet_after_min)] if self.settings.quiet_after_min > 0 else []
        if self.settings.offer_checkin and self.has_checkin:
            self.mode = Mode.WELCOMING
            self._repeated = False
            return [record, *quiet,
                    Say(f"Welcome back. {WELCOME_QUESTION}"),
                    Listen(self.settings.answer_s, ANSWERS)]
        self.mode = Mode.LISTENING
        return [record, *quiet, Say("Welcome back.")]

    def _answer_welcome(self, command: Reply | None, now: float) -> list[Action]:
        if command is Command.YES:
            self.mode = Mode.LISTENING
            return [StartCheckin("after-pause", consented=True)]
        if command is Command.HELP:  # the question stays open: help is no answer to it
            return [Say(WELCOME_HELP), Listen(self.settings.answer_s, ANSWERS)]
        if command is Command.REPEAT:
            return [Say(WELCOME_QUESTION), Listen(self.settings.answer_s, ANSWERS)]
        if command is None and not self._repeated:
            self._repeated = True
            return [Listen(self.settings.answer_s, ANSWERS)]
        self.mode = Mode.LISTENING
        if command in (Command.NOT_NOW, Command.STOP):
            return [Say("Okay. I'm here if you need me.")]
        return []

    def _help_text(self) -> str:
        return ("You can say: pause, to take the agreed pause; okay or not now, to answer me; "
                "and during the pause, more time, or stop.")
