"""The script runner: a pure policy that talks a couple through a check-in script.

Commands, detector events and ``now`` (seconds from an injected clock) go in; actions
(:mod:`voicecoach.actions`) come out. No devices, no threads, no wall clock: tests drive a 45-minute ritual
with a fake clock in milliseconds.

Protocol with the runtime: ``start(now)`` once; ``heard(name, now)`` for each command (or ``None`` when a
``Listen`` ran out in silence); ``on_event(event, now)`` for detector events; ``tick(now)`` often (time warnings and
the end of timed turns come from here). The runner asks with ``Listen`` only when it waits for an answer (questions
and choices); during timed turns it emits no ``Listen``, so a person talking is not parsed for answers, but commands
the runtime hears anyway ("next", "more time", a key press) are honoured. A new ``Listen`` replaces an older one.

Consent first: every script opens with "Is now a good time?"; "not now" ends it kindly. Silence gets one gentle
re-prompt, then the script moves on or ends, as fits the step: it never nags.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..actions import Action, Finished, Listen, Record, Say
from ..events import Command, Event, Interruption, PauseSuggested, RaisedVoice
from .script import PlanItem, Script, Step
from .settings import CheckinSettings
from .words import minutes_text, spoken_duration

log = logging.getLogger(__name__)

COMMANDS = ("yes", "not_now", "pause", "next", "repeat", "more_time", "skip", "stop", "help")
ALIASES = {"okay": "yes", "ok": "yes", "no": "not_now", "not now": "not_now", "more time": "more_time",
           "time out": "pause", "time_out": "pause"}
LABELS = ("A", "B")  # detector labels of partners a and b
MOVE_ON = "Okay, moving on."
TAKE_YOUR_TIME = "Take your time."
MIN_LEFT_FOR_REMINDER_S = 20.0


@dataclass(frozen=True)
class RunnerState:
    """A snapshot for the live view."""

    step_index: int  # position in the played order: 0 while asking consent, 1.. for steps
    step_count: int  # steps in the played order (rounds count once per partner)
    step_number: int  # the step's number in the script file (0 for consent)
    step_type: str  # "consent", "offer_later", a step type, or "done"
    phase: str  # "consent" | "later" | "ask" | "choose" | "confirm" | "timer" | "done"
    title: str  # the step's title, else the script's
    speaker: str | None  # label ("A"/"B") of who has the floor now; None when both or nobody
    speaker_name: str | None
    listener_name: str | None
    seconds_left: float | None  # of the running timer


@dataclass
class _Timer:
    kind: str  # turn | reflect | correct | pause
    holder: int | None  # index of the partner who has the floor
    started: float  # when the prompt is expected to have ended
    deadline: float
    warn_all_s: tuple[float, ...]  # warning thresholds, seconds left, descending
    warn_s: list[float]  # thresholds not yet spoken
    prompt: str
    reminders: int = 0
    last_reminder: float = -math.inf


def normalize(command: str | None) -> str | None:
    """A command name as the runner uses it: "not now" -> "not_now", "okay" -> "yes"."""
    if command is None:
        return None
    name = command.strip().lower()
    return ALIASES.get(name, name.replace(" ", "_"))


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
        self._pos = -1
        self._phase = "consent"
        self._timer: _Timer | None = None
        self._silences = 0
        self._cursor = 0
        self._order = (0, 1)
        self._round_first: dict[int, int] = {}
        self._next_first = 0
        self._steps_done = 0
        self._started = 0.0
        self._now = 0.0
        self._speech_until = 0.0
        self._offered_pause = False
        self._acts: list[Action] = []
        self._vars: dict[str, str] = {}  # values picked in choose steps (their defaults until then)
        self._vars = {s.sets: self._render_plain(s.default) for s in script.steps if s.sets and s.sets != "first"}

    # --- inputs -----------------------------------------------------------------------------------------------

    def start(self, now: float, consented: bool = False) -> list[Action]:
        """Begin: ask for consent (unless the couple has just said yes to this check-in)."""
        self._started = self._now = self._speech_until = now
        if consented:
            return self._flush(self._enter(0))
        self._say(self._render_plain(self.script.consent))
        return self._flush(self._listen())

    def heard(self, command: str | None, now: float) -> list[Action]:
        """A command was heard (or ``None``: the answer time ran out in silence)."""
        if self.done:
            return []
        self._now = self._speech_until = now  # an answer comes after the prompt has been spoken
        raw = (command or "").strip().lower()
        cmd = normalize(command)
        if cmd == "stop":
            return self._flush(self._finish("stopped", "Okay, we'll stop here. Thank you both for the time."))
        if cmd == "pause":  # the runtime runs the agreed pause (with its own words)
            return self._flush(self._finish("pause"))
        if cmd == "help":
            self._say(self._help())
            return self._flush(self._relisten())
        handler = {"consent": self._on_consent, "later": self._on_later, "ask": self._on_ask,
                   "choose": self._on_choose, "confirm": self._on_confirm, "timer": self._on_timer}[self._phase]
        return self._flush(handler(cmd, raw))

    def on_event(self, event: Event, now: float) -> list[Action]:
        """A detector event: a listener interrupting gets a gentle reminder; a raised voice may offer the pause."""
        if self.done:
            return []
        self._now = now
        if isinstance(event, Command):
            return self.heard(event.name, now)
        if isinstance(event, Interruption):
            return self._flush(self._remind(event))
        if isinstance(event, (RaisedVoice, PauseSuggested)):
            return self._flush(self._offer_pause())
        return []

    def tick(self, now: float) -> list[Action]:
        """Time passes: spoken time warnings, and the end of a timed turn."""
        self._now = now
        timer = self._timer
        if self.done or self._phase != "timer" or timer is None:
            return []
        left = timer.deadline - now
        if left <= 0:
            return self._flush(self._timer_end(early=False))
        due = [w for w in timer.warn_s if left <= w]
        if not due:
            return []
        timer.warn_s = [w for w in timer.warn_s if w < left]
        self._say(f"{_capital(spoken_duration(min(due)))} left.", cue="soft")
        return self._flush([])

    @property
    def state(self) -> RunnerState:
        """Where the script is, who has the floor, and the seconds left on the running timer."""
        count = len(self.script.plan)
        if self.done or self._pos < 0:
            kind = "done" if self.done else ("consent" if self._phase == "consent" else "offer_later")
            return RunnerState(count + 1 if self.done else 0, count, 0, kind, self._phase, self.script.title,
                               None, None, None, None)
        step = self._step()
        holder = self._timer.holder if self._timer is not None else self._who(step, self._item())
        left = max(0.0, self._timer.deadline - self._now) if self._timer is not None else None
        return RunnerState(self._pos + 1, count, step.number, step.type, self._phase, step.title or self.script.title,
                           LABELS[holder] if holder is not None else None,
                           self.names[holder] if holder is not None else None,
                           self.names[1 - holder] if holder is not None else None, left)

    # --- saying things ----------------------------------------------------------------------------------------

    def _say(self, text: str, cue: str = "") -> None:
        """Queue a prompt and keep track of when the queued speech should end (timers start after it)."""
        if not text:
            return
        self._acts.append(Say(text, cue))
        self._speech_until = max(self._speech_until, self._now) + len(text.split()) * 60.0 / self.speech_wpm

    def _flush(self, tail: list[Action]) -> list[Action]:
        out, self._acts = self._acts + tail, []
        return out

    def _listen(self, extra_s: float = 0.0) -> list[Action]:
        step = self._step() if self._pos >= 0 and not self.done else None
        wait = step.wait_s if step is not None and step.wait_s is not None else self.settings.answer_s
        commands = COMMANDS
        if self._phase == "choose" and step is not None:
            commands += tuple(o.lower() for o in self._options(step) if len(o.split()) == 1)
        return [Listen(wait + extra_s, commands)]

    def _relisten(self) -> list[Action]:
        return [] if self._phase in ("timer", "done") else self._listen()

    def _variables(self, step: Step | None = None, length_s: float | None = None) -> dict[str, str]:
        out = {"a": self.names[0], "b": self.names[1], "title": self.script.title,
               "approx": spoken_duration(self.script.minutes * 60.0)}
        out.update({name: spoken_duration(m * 60.0) for name, m in self.script.durations})
        out.update(self._vars)
        if step is not None:
            who = self._who(step, self._item())
            if who is not None:
                out.update(speaker=self.names[who], listener=self.names[1 - who])
        if length_s is not None:
            out.update(minutes=minutes_text(length_s / 60.0), duration=spoken_duration(length_s))
        return out

    def _render(self, template: str, length_s: float | None = None) -> str:
        return template.format_map(_Missing(self._variables(self._step(), length_s))) if template else ""

    def _render_plain(self, template: str) -> str:
        return template.format_map(_Missing(self._variables())) if template else ""

    # --- where we are -----------------------------------------------------------------------------------------

    def _item(self) -> PlanItem:
        return self.script.plan[self._pos]

    def _step(self) -> Step:
        return self.script.step_at(self._item())

    def _who(self, step: Step, item: PlanItem) -> int | None:
        """Index of the partner a step is for (the speaker), or None for both."""
        fixed = {"a": 0, "b": 1, "first": self._order[0], "second": self._order[1]}
        if step.who in fixed:
            return fixed[step.who]
        if step.who in ("each", "other"):
            first = self._round_first.get(item.round, self._next_first)
            current = first if item.pass_no == 0 else 1 - first
            return current if step.who == "each" else 1 - current
        return None

    def _enter(self, pos: int) -> list[Action]:
        """Start the step at ``pos`` in the played order (or finish after the last)."""
        self._pos, self._silences, self._timer = pos, 0, None
        if pos >= len(self.script.plan):
            return self._finish("completed")
        item, step = self._item(), self._step()
        if item.round >= 0 and item.round not in self._round_first:
            self._round_first[item.round] = self._next_first
            if self.script.alternate:
                self._next_first = 1 - self._next_first
        if step.type == "say":
            self._say(self._render(step.text))
            self._steps_done += 1
            return self._enter(pos + 1)
        if step.type == "end":
            self._say(self._render(step.text))
            self._steps_done += 1
            return self._finish("completed")
        if step.type in ("ask", "choose"):
            self._phase, self._cursor = step.type, 0
            self._say(self._render(step.text) if step.type == "ask" else self._choose_intro(step))
            return self._listen()
        who = self._who(step, item)
        if step.type == "turn":
            return self._start_timer("turn", who, step.minutes * 60.0, step.warn_at_min, step.text)
        if step.type == "reflect":
            return self._start_timer("reflect", 1 - who if who is not None else None, step.minutes * 60.0,
                                     step.warn_at_min, step.text)
        return self._start_timer("pause", None, step.seconds, (), step.text)

    def _go(self, target: str, counted: bool = True) -> list[Action]:
        """Leave the current step for a branch target: next, skip (the following step), end, or a step id."""
        if counted:
            self._steps_done += 1
        if target == "next":
            return self._enter(self._pos + 1)
        if target == "skip":
            return self._enter(self._pos + 2)
        if target == "end":
            self._say(self._render_plain(self.script.steps[-1].text))
            return self._finish("completed")
        index = next(i for i, item in enumerate(self.script.plan) if self.script.step_at(item).id == target)
        return self._enter(index)

    def _finish(self, reason: str, text: str = "") -> list[Action]:
        self._say(text)
        self.done, self._phase, self._timer = True, "done", None
        data = {"name": self.script.name, "completed": reason == "completed", "reason": reason,
                "steps_done": self._steps_done, "steps_total": len(self.script.plan),
                "minutes": round((self._now - self._started) / 60.0, 2)}
        log.info("check-in %s ended: %s (%d of %d steps)", self.script.name, reason, self._steps_done,
                 len(self.script.plan))
        return [Record("checkin", data), Finished(reason)]

    # --- timed phases -----------------------------------------------------------------------------------------

    def _start_timer(self, kind: str, holder: int | None, seconds: float, warn_min: tuple[float, ...],
                     template: str) -> list[Action]:
        prompt = self._render(template, seconds)
        self._say(prompt)
        started = max(self._speech_until, self._now)
        warn = tuple(w * 60.0 for w in warn_min)
        self._phase = "timer"
        self._timer = _Timer(kind, holder, started, started + seconds, warn, list(warn), prompt)
        return []

    def _timer_end(self, early: bool) -> list[Action]:
        timer, step = self._timer, self._step()
        assert timer is not None
        self._timer = None
        times_up = "" if early or timer.kind == "pause" else "Time's up."
        if timer.kind == "reflect":
            self._phase, self._silences = "confirm", 0
            self._say(_join(times_up, self._render(step.confirm)))
            return self._listen()
        self._say(_join(times_up, self._render(step.end_text)))
        return self._go("next")

    def _on_timer(self, cmd: str | None, raw: str) -> list[Action]:
        timer = self._timer
        assert timer is not None
        left = timer.deadline - self._now
        if cmd == "next" or (cmd is None and left <= 1.0):
            return self._timer_end(early=cmd == "next")
        if cmd == "more_time":
            timer.deadline += self.settings.more_time_s
            left += self.settings.more_time_s
            timer.warn_s = [w for w in timer.warn_all_s if w < left - 1.0]
            self._say(f"Okay, {spoken_duration(self.settings.more_time_s)} more.")
        elif cmd == "repeat":
            elapsed = self._now - timer.started
            self._say(_join(timer.prompt, f"About {spoken_duration(left)} left." if elapsed > 30 else ""))
        elif cmd == "skip":
            self._say(MOVE_ON)
            return self._go("next", counted=False)
        return []  # anything else during someone's turn: let them talk

    def _remind(self, event: Interruption) -> list[Action]:
        """The partner without the floor talked over the one with it: a gentle, rate-limited reminder."""
        timer = self._timer
        if self._phase != "timer" or timer is None or timer.holder is None:
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
        self._say(f"It's {self.names[timer.holder]}'s turn for {more}.", cue="soft")
        return []

    def _offer_pause(self) -> list[Action]:
        if self._offered_pause or not self.settings.offer_pause or self._phase in ("consent", "later"):
            return []
        self._offered_pause = True
        self._say("Just a reminder: if either of you would like the pause you agreed on, say pause.", cue="soft")
        return self._relisten()

    # --- questions --------------------------------------------------------------------------------------------

    def _common(self, cmd: str | None, prompt: str) -> list[Action] | None:
        """repeat and more time, the same for every question; None when ``cmd`` is something else."""
        if cmd == "repeat":
            self._say(prompt)
            return self._listen()
        if cmd == "more_time":
            self._say(TAKE_YOUR_TIME)
            return self._listen(self.settings.more_time_s)
        return None

    def _on_consent(self, cmd: str | None, raw: str) -> list[Action]:
        if cmd in ("yes", "next", "skip"):
            return self._enter(0)
        if cmd == "not_now":
            if not self.offer_later:
                return self._finish("declined", "That's okay. Another time.")
            self._phase = "later"
            later = spoken_duration(self.settings.offer_later_min * 60.0)
            self._say(f"That's okay. Shall I ask again in {later}? Say yes, or not now.")
            return self._listen()
        if cmd is None:
            if self._silences:
                return self._finish("no_answer")  # nobody answered twice: leave them be, quietly
            self._silences += 1
            self._say("Is now a good time? Say yes, or not now.")
            return self._listen()
        return self._common(cmd, self._render_plain(self.script.consent)) or self._listen()

    def _on_later(self, cmd: str | None, raw: str) -> list[Action]:
        minutes = self.settings.offer_later_min
        if cmd in ("repeat", "more_time"):
            return self._common(cmd, f"Shall I ask again in {spoken_duration(minutes * 60.0)}?") or []
        accepted = cmd == "yes"
        record = Record("checkin_later", {"name": self.script.name, "accepted": accepted, "after_min": minutes})
        if accepted:
            self._say(f"Okay. I'll ask again in {spoken_duration(minutes * 60.0)}.")
        else:
            self._say("Okay. Whenever you're ready.")
        return [record] + self._finish("later" if accepted else "declined")

    def _on_ask(self, cmd: str | None, raw: str) -> list[Action]:
        step = self._step()
        if cmd == "yes":
            self._say(self._render(step.yes_text))
            return self._go(step.on_yes)
        if cmd == "not_now":
            self._say(self._render(step.not_now_text))
            return self._go(step.on_not_now)
        if cmd == "next":
            return self._go("next")
        if cmd == "skip":
            self._say(MOVE_ON)
            return self._go("next", counted=False)
        if cmd is None:
            if self._silences:
                return self._go(step.on_silence)
            self._silences += 1
            self._say("Just checking: " + self._render(step.text))
            return self._listen()
        return self._common(cmd, self._render(step.text)) or self._listen()

    def _options(self, step: Step) -> list[str]:
        return [self._render(o) for o in step.options]

    def _choose_intro(self, step: Step) -> str:
        options = self._options(step)
        if all(len(o.split()) == 1 for o in options):
            listing = ", ".join(options[:-1]) + " or " + options[-1]
            return f"{self._render(step.text)} Say {listing}."
        return f"{self._render(step.text)} Say yes when you hear the one you want, or next. {options[0]}?"

    def _choose_help(self) -> str:
        options = self._options(self._step())
        return f"Say one of: {', '.join(options)}. Or say next to hear them one by one, and yes to pick one."

    def _on_choose(self, cmd: str | None, raw: str) -> list[Action]:
        step = self._step()
        options = self._options(step)
        lowered = [o.lower() for o in options]
        if raw in lowered:
            return self._pick(lowered.index(raw))
        if cmd == "yes":
            return self._pick(self._cursor)
        if cmd in ("next", "not_now"):
            self._cursor = (self._cursor + 1) % len(options)
            self._say(f"{options[self._cursor]}?")
            return self._listen()
        if cmd == "skip":
            self._say(MOVE_ON)
            return self._pick(step.options.index(step.default), quiet=True, counted=False)
        if cmd is None:
            if self._silences:
                default = step.options.index(step.default)
                self._say(f"Let's go with {options[default]}.")
                return self._pick(default, quiet=True)
            self._silences += 1
            self._say(f"Just checking: {options[self._cursor]}? Say yes, or next.")
            return self._listen()
        if cmd == "repeat":
            self._cursor = 0
        return self._common(cmd, self._choose_intro(step)) or self._listen()

    def _pick(self, index: int, quiet: bool = False, counted: bool = True) -> list[Action]:
        step = self._step()
        chosen = self._options(step)[index]
        if step.sets == "first":
            first = 0 if step.options[index] == "{a}" else 1
            self._order, self._next_first = (first, 1 - first), first
        elif step.sets:
            self._vars[step.sets] = chosen
        if not quiet:
            self._say(f"Okay, {chosen}.")
        return self._go(dict(step.goto).get(step.options[index], "next"), counted=counted)

    def _on_confirm(self, cmd: str | None, raw: str) -> list[Action]:
        step = self._step()
        who = self._who(step, self._item())
        if cmd == "yes":
            self._say(self._render(step.end_text))
            return self._go("next")
        if cmd == "not_now":  # something was missed: the speaker adds it
            return self._start_timer("correct", who, step.correct_minutes * 60.0, (), step.correct_text)
        if cmd == "more_time":  # the listener wants to go on summing up
            listener = 1 - who if who is not None else None
            more = self.settings.more_time_s
            text = f"Okay, {spoken_duration(more)} more" + (f", {self.names[listener]}." if listener is not None
                                                           else ".")
            return self._start_timer("reflect", listener, more, (), text.replace("{", "{{").replace("}", "}}"))
        if cmd == "next":
            return self._go("next")
        if cmd == "skip":
            self._say(MOVE_ON)
            return self._go("next", counted=False)
        if cmd is None:
            if self._silences:
                return self._go("next")
            self._silences += 1
            self._say("Just checking: " + self._render(step.confirm))
            return self._listen()
        return self._common(cmd, self._render(step.confirm)) or self._listen()

    def _help(self) -> str:
        rest = "You can also say repeat, more time, skip, pause, or stop."
        return {
            "consent": "Say yes to begin, or not now. You can also say stop.",
            "later": "Say yes, and I'll ask again later, or not now.",
            "ask": f"Say yes, or not now. {rest}",
            "choose": f"{self._choose_help()} {rest}",
            "confirm": f"Say yes if that was right, or not now to add something. {rest}",
        }.get(self._phase, "Say next when you're done, or more time, repeat, skip, pause, or stop.")


class _Missing(dict):
    """Formatting values; a variable that is somehow unset is left as written rather than crashing a session."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
