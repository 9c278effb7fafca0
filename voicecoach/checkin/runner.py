"""The script runner: a pure policy that talks a couple through a check-in script.

Answers, detector events and ``now`` (seconds from an injected clock) go in; actions
(:mod:`voicecoach.actions`, records from :mod:`voicecoach.records`) come out. No devices, no threads, no wall
clock: tests drive a 45-minute ritual with a fake clock in milliseconds.

Protocol with the router: ``start(now)`` once; ``heard(reply, now)`` for each answer (a
:class:`~voicecoach.commands.Command`, a question's own :class:`~voicecoach.commands.Option`, or ``None`` when a
``Listen`` ran out in silence); ``on_event(event, now)`` for detector events; ``tick(now)`` often (time warnings and
the end of timed turns come from here); ``close(now)`` when the program stops. The runner asks with ``Listen`` only
when it waits for an answer (questions and choices); during timed turns it emits no ``Listen``, so a person talking
is not parsed for answers, but commands the router hears anyway ("next", "more time", a key press) are honoured.

Each step type is a class in :mod:`voicecoach.checkin.steps`; the runner keeps the phases (:class:`Phase`), the
timers, the consent question and the order of play. Steps are entered in a loop, never by recursion, so a script
of any allowed length runs in constant stack depth.

Consent first: every script opens with "Is now a good time?"; "not now" ends it kindly. Silence gets one gentle
re-prompt, then the script moves on or ends, as fits the step: it never nags.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from enum import Enum

from ..actions import Action, Listen, Say
from ..commands import ClapChoice, Command, Option, Reply
from ..events import Event, Interruption, PauseSuggested, RaisedVoice
from ..lognotes import NOTICED
from ..records import CheckinEnded, CheckinLater, CheckinOutcome, CheckinStarted
from .model import PlanItem, Script, Step
from .settings import CheckinSettings
from .steps import KINDS, MOVE_ON, Choose, Timer
from .words import minutes_text, spoken_duration

log = logging.getLogger(__name__)

# What a check-in question listens for (and what "help" offers):
COMMANDS = frozenset({Command.YES, Command.NOT_NOW, Command.PAUSE, Command.NEXT, Command.REPEAT,
                      Command.MORE_TIME, Command.SKIP, Command.STOP, Command.HELP})
# During a timed turn nobody is asked anything: these count when said on their own, not inside a partner's talk.
TURN_COMMANDS = frozenset({Command.NEXT, Command.MORE_TIME, Command.REPEAT, Command.SKIP, Command.STOP,
                           Command.HELP})
PAUSE_ONLY = frozenset({Command.PAUSE})  # what the reminder of the pause listens for during a timed step
LABELS = ("A", "B")  # detector labels of partners a and b
TAKE_YOUR_TIME = "Take your time."
MIN_LEFT_FOR_REMINDER_S = 20.0


class Phase(Enum):
    """What the runner is waiting for."""

    CONSENT = "consent"  # the answer to "is now a good time?"
    LATER = "later"  # the answer to "shall I ask again later?"
    ASK = "ask"  # the answer to an ask step
    CHOOSE = "choose"  # a choice
    CONFIRM = "confirm"  # did the listener get it?
    TIMER = "timer"  # a timed turn, reflection or quiet moment
    DONE = "done"


@dataclass(frozen=True)
class RunnerState:
    """A snapshot for the live view."""

    step_index: int  # position in the played order: 0 while asking consent, 1.. for steps
    step_count: int  # steps in the played order (rounds count once per partner)
    step_number: int  # the step's number in the script file (0 for consent)
    step_type: str  # "consent", "offer_later", a step type, or "done"
    phase: Phase
    title: str  # the step's title, else the script's
    speaker: str | None  # label ("A"/"B") of who has the floor now; None when both or nobody
    speaker_name: str | None
    listener_name: str | None
    seconds_left: float | None  # of the running timer


@dataclass
class _Timer:
    kind: Timer
    holder: int | None  # index of the partner who has the floor
    started: float  # when the prompt is expected to have ended
    deadline: float
    warn_all_s: tuple[float, ...]  # warning thresholds, seconds left, descending
    warn_s: list[float]  # thresholds not yet spoken
    prompt: str
    reminders: int = 0
    last_reminder: float = -math.inf


class ScriptRunner:
    """Talks a couple through one check-in script, step by step, hands-free."""

    def __init__(self, script: Script, names: tuple[str, str], settings: CheckinSettings | None = None,
                 offer_later: bool = False, speech_wpm: float = 160.0) -> None:
        self.script = script
        self.names = (names[0], names[1])
        self.settings = settings or CheckinSettings()
        self.offer_later = offer_later
        self.speech_wpm = speech_wpm
        self.done = False
        self.phase = Phase.CONSENT
        self.silences = 0  # silent answers to the current question
        self.cursor = 0  # the option a choose step is offering
        self.steps_done = 0
        self._pos = -1
        self._timer: _Timer | None = None
        self._order = (0, 1)
        self._round_first: dict[int, int] = {}
        self._next_first = 0
        self._started = 0.0
        self._now = 0.0
        self._speech_until = 0.0
        self._offered_pause = False
        self._acts: list[Action] = []
        self.variables: dict[str, str] = {}  # values picked in choose steps (their defaults until then)
        self.variables = {s.sets: self._render_plain(s.default) for s in script.steps
                          if s.sets and s.sets != "first"}

    # --- inputs -----------------------------------------------------------------------------------------------

    def start(self, now: float, consented: bool = False) -> list[Action]:
        """Begin: ask for consent (unless the couple has just said yes to this check-in)."""
        self._started = self._now = self._speech_until = now
        self._acts.append(CheckinStarted(self.script.name))
        if consented:
            return self._flush(self._enter(0))
        self.say(self._render_plain(self.script.consent))
        return self._flush(self.listen())

    def heard(self, reply: Reply | None, now: float) -> list[Action]:
        """An answer was heard (or ``None``: the answer time ran out in silence)."""
        if self.done:
            return []
        self._now = self._speech_until = now  # an answer comes after the prompt has been spoken
        if reply is Command.STOP and self.phase in (Phase.CONSENT, Phase.LATER):
            # "stop" to "is now a good time?" (or to "shall I ask again?") is a refusal, the firmest one: declined,
            # with no "shall I ask again?" (the kiosk skips a ritual due with it, as for "not now")
            return self._flush(self.finish(CheckinOutcome.DECLINED, "That's okay. Another time."))
        if reply is Command.STOP:
            return self._flush(self.finish(CheckinOutcome.STOPPED,
                                           "Okay, we'll stop here. Thank you both for the time."))
        if reply is Command.PAUSE:  # the router runs the agreed pause (with its own words)
            return self._flush(self.finish(CheckinOutcome.PAUSE))
        if reply is Command.HELP:
            help_text = self._help()
            step = self._step() if self.phase is Phase.CHOOSE else None
            if step is not None:  # a choice's help offers it again from its start ("say next to hear them ...");
                # without a model it is said as what a clap picks and what silence leaves, like the choice itself
                self.cursor = 0
            self.say(help_text, choice=Choose.clap_choice(self, step, help_text) if step is not None else None)
            return self._flush(self._relisten())
        if self.phase is Phase.CONSENT:
            return self._flush(self._on_consent(reply))
        if self.phase is Phase.LATER:
            return self._flush(self._on_later(reply))
        if self.phase is Phase.TIMER:
            return self._flush(self._on_timer(reply))
        step = self._step()
        return self._flush(KINDS[step.type].handle(self, step, reply))

    def on_event(self, event: Event, now: float) -> list[Action]:
        """A detector event: a listener interrupting gets a gentle reminder; a raised voice may offer the pause."""
        if self.done:
            return []
        self._now = now
        if isinstance(event, Interruption):
            return self._flush(self._remind(event))
        if isinstance(event, (RaisedVoice, PauseSuggested)):
            return self._flush(self._offer_pause())
        return []

    def tick(self, now: float) -> list[Action]:
        """Time passes: spoken time warnings, and the end of a timed turn."""
        self._now = now
        timer = self._timer
        if self.done or self.phase is not Phase.TIMER or timer is None:
            return []
        left = timer.deadline - now
        if left <= 0:
            return self._flush(self._timer_end(early=False))
        due = [w for w in timer.warn_s if left <= w]
        if not due:
            return []
        timer.warn_s = [w for w in timer.warn_s if w < left]
        self.say(f"{_capital(spoken_duration(min(due)))} left.", cue="soft")
        return self._flush([])

    def close(self, now: float) -> list[Action]:
        """The program is stopping: an unfinished check-in is recorded as cut short."""
        if self.done:
            return []
        self._now = now
        return [a for a in self.finish(CheckinOutcome.CUT_SHORT) if not isinstance(a, Say)]

    def fail(self, now: float) -> list[Action]:
        """The script could not go on (a bug or a broken script): end it kindly, recorded as failed."""
        self._now = now
        self._acts = []
        return self._flush(self.finish(CheckinOutcome.FAILED, "Sorry, something went wrong with this check-in. "
                                                              "Let's stop it here."))

    @property
    def clap_means(self) -> Command:
        """What the agreed double clap means while no question is open: in a timed step (a turn, a reflection, a
        quiet moment) "next", done: go on (a couple with no speech model moves on at their own pace); else the
        pause. An open question says its own (:attr:`Listen.clap`)."""
        return Command.NEXT if self.phase is Phase.TIMER else Command.PAUSE

    @property
    def state(self) -> RunnerState:
        """Where the script is, who has the floor, and the seconds left on the running timer."""
        count = len(self.script.plan)
        if self.done or self._pos < 0:
            kind = "done" if self.done else ("consent" if self.phase is Phase.CONSENT else "offer_later")
            return RunnerState(count + 1 if self.done else 0, count, 0, kind, self.phase, self.script.title,
                               None, None, None, None)
        step = self._step()
        holder = self._timer.holder if self._timer is not None else self.who(step)
        left = max(0.0, self._timer.deadline - self._now) if self._timer is not None else None
        return RunnerState(self._pos + 1, count, step.number, step.type, self.phase, step.title or self.script.title,
                           LABELS[holder] if holder is not None else None,
                           self.names[holder] if holder is not None else None,
                           self.names[1 - holder] if holder is not None else None, left)

    def choices(self) -> frozenset[str] | None:
        """Every choice this script's ``choose`` steps can offer, as said (lowercase), to check scripted answers
        against; None when a choice names a value picked at an earlier step (any word may then be one)."""
        out: set[str] = set()
        for step in self.script.steps:
            if step.type != "choose":
                continue
            for first in (0, 1):  # {speaker} and {listener} depend on who has the turn: both ways round
                values = {**self._variables(), "speaker": self.names[first], "listener": self.names[1 - first]}
                for option in step.options:
                    if any("{" + name + "}" in option for name in self.variables):
                        return None
                    out.add(" ".join(option.format_map(_Missing(values)).lower().split()))
        return frozenset(out)

    # --- the step API (used by the step types) ---------------------------------------------------------------

    def say(self, text: str, cue: str = "", choice: ClapChoice | None = None) -> None:
        """Queue a prompt and keep track of when the queued speech should end (timers start after it); ``choice``:
        the choice it offers, said for a clap while no speech model is loaded."""
        if not text:
            return
        self._acts.append(Say(text, cue, choice))
        self._speech_until = max(self._speech_until, self._now) + len(text.split()) * 60.0 / self.speech_wpm

    def listen(self, extra_s: float = 0.0) -> list[Action]:
        """Wait for an answer to the current question (a choose step's options are listened for too)."""
        step = self._step() if self._pos >= 0 and not self.done else None
        wait = step.wait_s if step is not None and step.wait_s is not None else self.settings.answer_s
        if self.phase is not Phase.CHOOSE or step is None:
            return [Listen(wait + extra_s, COMMANDS)]
        options = tuple(self.options(step))
        # offered from its start and worded for the clap alone (no speech model), a choice's clap picks the option
        # its words name; otherwise a clap is yes to the option offered ("the holidays?")
        alone = Option(options[Choose.clap_pick(step)]) if self.cursor == 0 else None
        return [Listen(wait + extra_s, COMMANDS, options, clap_alone=alone)]

    def render(self, template: str, length_s: float | None = None) -> str:
        """A step's text with its variables filled in ({speaker}, {minutes}, the couple's choices...)."""
        return template.format_map(_Missing(self._variables(self._step(), length_s))) if template else ""

    def options(self, step: Step) -> list[str]:
        """A choose step's options as said."""
        return [self.render(o) for o in step.options]

    def who(self, step: Step) -> int | None:
        """Index of the partner the current step is for (the speaker), or None for both."""
        item = self._item()
        fixed = {"a": 0, "b": 1, "first": self._order[0], "second": self._order[1]}
        if step.who in fixed:
            return fixed[step.who]
        if step.who in ("each", "other"):
            first = self._round_first.get(item.round, self._next_first)
            current = first if item.pass_no == 0 else 1 - first
            return current if step.who == "each" else 1 - current
        return None

    def set_first(self, first: int) -> None:
        """Who starts from now on (a choose step with ``sets = "first"``)."""
        self._order, self._next_first = (first, 1 - first), first

    def common(self, reply: Reply | None, prompt: str) -> list[Action] | None:
        """repeat and more time, the same for every question; None when ``reply`` is something else."""
        if reply is Command.REPEAT:
            self.say(prompt)
            return self.listen()
        if reply is Command.MORE_TIME:
            self.say(TAKE_YOUR_TIME)
            return self.listen(self.settings.more_time_s)
        return None

    def go(self, target: str, counted: bool = True) -> list[Action]:
        """Leave the current step for a branch target: next, skip (the following step), end, or a step id."""
        if counted:
            self.steps_done += 1
        if target == "next":
            return self._enter(self._pos + 1)
        if target == "skip":
            return self._enter(self._pos + 2)
        if target == "end":
            self.say(self._render_plain(self.script.steps[-1].text))
            return self.finish(CheckinOutcome.COMPLETED)
        index = next(i for i, item in enumerate(self.script.plan) if self.script.step_at(item).id == target)
        return self._enter(index)

    def finish(self, outcome: CheckinOutcome, text: str = "") -> list[Action]:
        """End the check-in (after saying ``text``): the record of how it went."""
        self.say(text)
        self.done, self.phase, self._timer = True, Phase.DONE, None
        log.info("check-in %s ended: %s (%d of %d steps)", self.script.name, outcome.value, self.steps_done,
                 len(self.script.plan), extra=NOTICED)
        return [CheckinEnded(self.script.name, outcome, self.steps_done, len(self.script.plan),
                             round((self._now - self._started) / 60.0, 2))]

    def start_timer(self, kind: Timer, holder: int | None, seconds: float, warn_min: tuple[float, ...],
                    template: str) -> list[Action]:
        """Say the step's prompt, then time ``seconds`` from when it should have been spoken."""
        prompt = self.render(template, seconds)
        self.say(prompt)
        started = max(self._speech_until, self._now)
        warn = tuple(w * 60.0 for w in warn_min)
        self.phase = Phase.TIMER
        self._timer = _Timer(kind, holder, started, started + seconds, warn, list(warn), prompt)
        return []

    # --- internals ------------------------------------------------------------------------------------------

    def _flush(self, tail: list[Action]) -> list[Action]:
        out, self._acts = self._acts + tail, []
        return out

    def _relisten(self) -> list[Action]:
        return [] if self.phase in (Phase.TIMER, Phase.DONE) else self.listen()

    def _variables(self, step: Step | None = None, length_s: float | None = None) -> dict[str, str]:
        out = {"a": self.names[0], "b": self.names[1], "title": self.script.title,
               "approx": spoken_duration(self.script.minutes * 60.0)}
        out.update({name: spoken_duration(m * 60.0) for name, m in self.script.durations})
        out.update(self.variables)
        if step is not None:
            who = self.who(step)
            if who is not None:
                out.update(speaker=self.names[who], listener=self.names[1 - who])
        if length_s is not None:
            out.update(minutes=minutes_text(length_s / 60.0), duration=spoken_duration(length_s))
        return out

    def _render_plain(self, template: str) -> str:
        return template.format_map(_Missing(self._variables())) if template else ""

    def _item(self) -> PlanItem:
        return self.script.plan[self._pos]

    def _step(self) -> Step:
        return self.script.step_at(self._item())

    def _enter(self, pos: int) -> list[Action]:
        """Start the step at ``pos`` in the played order, going on through steps that are done at once (a loop,
        so any number of ``say`` steps in a row costs no stack); finish after the last."""
        while True:
            self._pos, self.silences, self._timer = pos, 0, None
            if pos >= len(self.script.plan):
                return self.finish(CheckinOutcome.COMPLETED)
            item, step = self._item(), self._step()
            if item.round >= 0 and item.round not in self._round_first:
                self._round_first[item.round] = self._next_first
                if self.script.alternate:
                    self._next_first = 1 - self._next_first
            actions = KINDS[step.type].enter(self, step)
            if actions is not None:
                return actions
            self.steps_done += 1
            pos += 1

    def _timer_end(self, early: bool) -> list[Action]:
        timer, step = self._timer, self._step()
        assert timer is not None
        self._timer = None
        times_up = "" if early or timer.kind is Timer.PAUSE else "Time's up."
        return KINDS[step.type].after_timer(self, step, timer.kind, times_up)

    def _on_timer(self, reply: Reply | None) -> list[Action]:
        timer = self._timer
        assert timer is not None
        left = timer.deadline - self._now
        if reply is Command.NEXT or (reply is None and left <= 1.0):
            return self._timer_end(early=reply is Command.NEXT)
        if reply is Command.MORE_TIME:
            timer.deadline += self.settings.more_time_s
            left += self.settings.more_time_s
            timer.warn_s = [w for w in timer.warn_all_s if w < left - 1.0]
            self.say(f"Okay, {spoken_duration(self.settings.more_time_s)} more.")
        elif reply is Command.REPEAT:
            elapsed = self._now - timer.started
            self.say(_join(timer.prompt, f"About {spoken_duration(left)} left." if elapsed > 30 else ""))
        elif reply is Command.SKIP:
            self.say(MOVE_ON)
            return self.go("next", counted=False)
        return []  # anything else during someone's turn: let them talk

    def _remind(self, event: Interruption) -> list[Action]:
        """The partner without the floor talked over the one with it: a gentle, rate-limited reminder."""
        timer = self._timer
        if self.phase is not Phase.TIMER or timer is None or timer.holder is None:
            return []
        who = LABELS.index(event.speaker) if event.speaker in LABELS else None
        left = timer.deadline - self._now
        if who is None or who == timer.holder or left < MIN_LEFT_FOR_REMINDER_S or self._now < timer.started:
            return []
        if timer.reminders >= self.settings.reminders_per_turn or \
                self._now - timer.last_reminder < self.settings.reminder_gap_s:
            return []
        timer.reminders += 1
        timer.last_reminder = self._now
        more = "another minute" if left <= 90 else f"another {spoken_duration(round(left / 60.0) * 60.0)}" \
            if left <= 300 else "now"
        self.say(f"It's {self.names[timer.holder]}'s turn for {more}.", cue="soft")
        return []

    def _offer_pause(self) -> list[Action]:
        if self._offered_pause or not self.settings.offer_pause or self.phase in (Phase.CONSENT, Phase.LATER):
            return []
        self._offered_pause = True
        self.say("Just a reminder: if either of you would like the pause you agreed on, say pause.", cue="soft")
        # for the answer time after it, the double clap means the pause (as the reminder says with no speech
        # model: "..., clap twice."), not "next" or "yes" to the question it interrupted
        if self.phase is Phase.TIMER:
            return [Listen(self.settings.answer_s, PAUSE_ONLY, clap=Command.PAUSE)]
        return [replace(a, clap=Command.PAUSE, clap_alone=None) if isinstance(a, Listen) else a
                for a in self._relisten()]

    def _on_consent(self, reply: Reply | None) -> list[Action]:
        if reply in (Command.YES, Command.NEXT, Command.SKIP):
            return self._enter(0)
        if reply is Command.NOT_NOW:
            if not self.offer_later:
                return self.finish(CheckinOutcome.DECLINED, "That's okay. Another time.")
            self.phase = Phase.LATER
            later = spoken_duration(self.settings.offer_later_min * 60.0)
            self.say(f"That's okay. Shall I ask again in {later}? Say yes, or not now.")
            return self.listen()
        if reply is None:
            if self.silences:
                return self.finish(CheckinOutcome.NO_ANSWER)  # nobody answered twice: leave them be, quietly
            self.silences += 1
            self.say("Is now a good time? Say yes, or not now.")
            return self.listen()
        return self.common(reply, self._render_plain(self.script.consent)) or self.listen()

    def _on_later(self, reply: Reply | None) -> list[Action]:
        minutes = self.settings.offer_later_min
        if reply in (Command.REPEAT, Command.MORE_TIME):
            return self.common(reply, f"Shall I ask again in {spoken_duration(minutes * 60.0)}?") or []
        accepted = reply is Command.YES
        record = CheckinLater(self.script.name, accepted, minutes)
        if accepted:
            self.say(f"Okay. I'll ask again in {spoken_duration(minutes * 60.0)}.")
        else:
            self.say("Okay. Whenever you're ready.")
        return [record, *self.finish(CheckinOutcome.LATER if accepted else CheckinOutcome.DECLINED)]

    def _help(self) -> str:
        if self.phase is Phase.CONSENT:
            return "Say yes to begin, or not now. You can also say stop."
        if self.phase is Phase.LATER:
            return "Say yes, and I'll ask again later, or not now."
        if self.phase in (Phase.ASK, Phase.CHOOSE, Phase.CONFIRM):
            step = self._step()
            return KINDS[step.type].help(self, step)
        return "Say next when you're done, or more time, repeat, skip, pause, or stop."


class _Missing(dict):
    """Formatting values; a variable that is somehow unset is left as written rather than crashing a session."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
