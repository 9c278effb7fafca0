"""Check-in step types: one class each, registered in :data:`KINDS`.

A step type says how its ``[[steps]]`` table is read (``keys``, ``required``, :meth:`StepKind.defaults`), what is
checked once the whole step is known (:meth:`StepKind.check`), which commands its questions need the language to
say (:meth:`StepKind.needs`, checked by ``voicecoach scripts check``), and how it runs: :meth:`StepKind.enter` when
the runner reaches it, :meth:`StepKind.handle` for an answer to its question, :meth:`StepKind.after_timer` when its
timer runs out, and :meth:`StepKind.help` for "help"; ``voicecoach scripts show`` prints its :meth:`StepKind.length`
and :meth:`StepKind.details`. A new step type is one class here plus one line in :data:`KINDS`; the parser, the
runner and ``scripts show`` need no change.

Steps talk to the runner through its small step API (``say``, ``render``, ``listen``, ``go``, ``finish``,
``start_timer``, ``who``, ``common``, ``phase``, ``silences``, ``cursor``); see
:class:`~voicecoach.checkin.runner.ScriptRunner`.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from ..actions import Action
from ..commands import ClapChoice, Command, Option, Reply
from ..records import CheckinOutcome
from .model import Step, Where
from .words import spoken_duration

if TYPE_CHECKING:  # the runner imports this module
    from .runner import ScriptRunner

MOVE_ON = "Okay, moving on."
REST_HELP = "You can also say repeat, more time, skip, pause, or stop."
TURN_MINUTES = (0.5, 30.0)
REFLECT_MINUTES = (0.25, 10.0)


class Timer(Enum):
    """What a running timer is for."""

    TURN = "turn"  # one partner (or both) talks
    REFLECT = "reflect"  # the listener sums up
    CORRECT = "correct"  # the speaker adds what was missed
    PAUSE = "pause"  # a quiet moment


class StepKind:
    """Base class of the step types: the defaults suit a step that is said and then done."""

    name = ""
    keys: tuple[str, ...] = ()  # keys a step of this type takes, besides type, id and title
    required: tuple[str, ...] = ()
    minutes_range: tuple[float, float] = TURN_MINUTES  # bounds of ``minutes`` when the type takes it
    has_length = False  # its texts may use {minutes} and {duration}

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        """Fill in the default prompts, so ``scripts show`` and the runner see the same effective texts."""
        return values

    def check(self, where: Where, step: Step) -> None:
        """Checks that need the whole step (raise ``where.error(...)``)."""

    def needs(self, step: Step) -> frozenset[Command]:
        """The commands its prompts ask the couple to say (the language pack must have a phrase for each)."""
        return frozenset()

    def length(self, step: Step) -> str:
        """How long the step lasts, in words, for ``scripts show`` ("" when it has no timer)."""
        return ""

    def details(self, step: Step) -> list[str]:
        """The lines ``scripts show`` prints under the step's text: its warnings, answers or choices."""
        return []

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        """The runner reached the step: its actions, or None when the step is done at once (the runner goes on)."""
        run.say(run.render(step.text))
        return None

    def handle(self, run: ScriptRunner, step: Step, reply: Reply | None) -> list[Action]:
        """An answer (None: silence) to this step's question."""
        return []

    def after_timer(self, run: ScriptRunner, step: Step, timer: Timer, times_up: str) -> list[Action]:
        """The step's timer ran out (or "next" ended it early): thank the speaker and go on."""
        run.say(_join(times_up, run.render(step.end_text)))
        return run.go("next")

    def help(self, run: ScriptRunner, step: Step) -> str:
        """What to say to "help" while this step's question is open."""
        return "Say next when you're done, or more time, repeat, skip, pause, or stop."

    @staticmethod
    def otherwise(run: ScriptRunner, reply: Reply | None, prompt: str, on_silence: str) -> list[Action]:
        """The answers every yes / not now question takes alike: next, skip, silence (one gentle re-prompt, then
        ``on_silence``), repeat and more time."""
        if reply is Command.NEXT:
            return run.go("next")
        if reply is Command.SKIP:
            run.say(MOVE_ON)
            return run.go("next", counted=False)
        if reply is None:
            if run.silences:
                return run.go(on_silence)
            run.silences += 1
            run.say("Just checking: " + prompt)
            return run.listen()
        return run.common(reply, prompt) or run.listen()


class Say(StepKind):
    """Say something, then go straight on."""

    name = "say"
    keys = ("text", "for")
    required = ("text",)


class End(StepKind):
    """The closing words; the check-in is complete."""

    name = "end"
    keys = ("text",)

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        values.setdefault("text", "That's the end. Thank you both.")
        return values

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        run.say(run.render(step.text))
        run.steps_done += 1
        return run.finish(CheckinOutcome.COMPLETED)


class Ask(StepKind):
    """A yes / not now question, each answer (and silence) leading on to a step."""

    name = "ask"
    keys = ("text", "for", "wait_s", "on_yes", "on_not_now", "on_silence", "yes_text", "not_now_text")
    required = ("text",)

    def needs(self, step: Step) -> frozenset[Command]:
        return frozenset({Command.YES, Command.NOT_NOW})

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        from .runner import Phase

        run.phase, run.cursor = Phase.ASK, 0
        run.say(run.render(step.text))
        return run.listen()

    def handle(self, run: ScriptRunner, step: Step, reply: Reply | None) -> list[Action]:
        if reply is Command.YES:
            run.say(run.render(step.yes_text))
            return run.go(step.on_yes)
        if reply is Command.NOT_NOW:
            run.say(run.render(step.not_now_text))
            return run.go(step.on_not_now)
        return self.otherwise(run, reply, run.render(step.text), step.on_silence)

    def help(self, run: ScriptRunner, step: Step) -> str:
        return f"Say yes, or not now. {REST_HELP}"

    def details(self, step: Step) -> list[str]:
        return [f"yes -> {step.on_yes}; not now -> {step.on_not_now}; silence -> {step.on_silence}"]


class Choose(StepKind):
    """A choice between 2 to 6 options, said directly (one-word options) or picked one by one with yes / next."""

    name = "choose"
    keys = ("text", "options", "sets", "default", "goto")
    required = ("text",)

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("sets") == "first":
            values.setdefault("options", ("{a}", "{b}"))
        values.setdefault("default", values.get("options", ("",))[0])
        return values

    def check(self, where: Where, step: Step) -> None:
        if step.sets == "first" and step.options != ("{a}", "{b}") and step.options != ("{b}", "{a}"):
            raise where.error("options must be [\"{a}\", \"{b}\"] (or be left out) with sets = \"first\"")
        if not step.options:
            raise where.error("options is missing (or use sets = \"first\" to choose who starts)")
        if step.default not in step.options:
            raise where.error(f"default = {step.default!r} is not one of the options")
        for option, _ in step.goto:
            if option not in step.options:
                raise where.error(f"goto.{option} is not one of the options ({', '.join(step.options)})")

    def needs(self, step: Step) -> frozenset[Command]:
        return frozenset({Command.YES, Command.NEXT})

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        from .runner import Phase

        run.phase, run.cursor = Phase.CHOOSE, 0
        return self._ask(run, step)

    def _ask(self, run: ScriptRunner, step: Step) -> list[Action]:
        """Offer the choice from its start: its text, then how to answer (said for a clap when no model is loaded)."""
        run.cursor = 0
        options = run.options(step)
        if all(len(o.split()) == 1 for o in options):
            spoken = "Say " + ", ".join(options[:-1]) + " or " + options[-1] + "."
        else:
            spoken = f"Say yes when you hear the one you want, or next. {options[0]}?"
        run.say(f"{run.render(step.text)} {spoken}", choice=self.clap_choice(run, step, spoken))
        return run.listen()

    @staticmethod
    def clap_pick(step: Step) -> int:
        """The option a double clap picks while a choice is offered from its start: the first one that silence
        does not leave (the default), so a couple with no speech model can pick either of two options."""
        default = step.options.index(step.default)
        return 1 if default == 0 else 0

    @staticmethod
    def clap_choice(run: ScriptRunner, step: Step, spoken: str) -> ClapChoice | None:
        """``spoken`` (the words that ask for a spoken choice) with what a clap picks and silence leaves; None once
        the options are being offered one by one (a clap is then yes to the one offered)."""
        if run.cursor != 0:
            return None
        options = run.options(step)
        return ClapChoice(spoken, options[Choose.clap_pick(step)], options[step.options.index(step.default)])

    def handle(self, run: ScriptRunner, step: Step, reply: Reply | None) -> list[Action]:
        options = run.options(step)
        lowered = [o.lower() for o in options]
        if isinstance(reply, Option) and reply.text.strip().lower() in lowered:
            return self._pick(run, step, lowered.index(reply.text.strip().lower()))
        if reply is Command.YES:
            return self._pick(run, step, run.cursor)
        if reply in (Command.NEXT, Command.NOT_NOW):
            run.cursor = (run.cursor + 1) % len(options)
            if reply is Command.NOT_NOW and run.cursor == 0:
                # "no" to the last option too: every one refused, so it is not offered round again (it was, for as
                # long as they said no); the script goes on with its default, as after silence
                default = step.options.index(step.default)
                run.say(f"Okay. Let's go with {options[default]} for now.")
                return self._pick(run, step, default, quiet=True)
            run.say(f"{options[run.cursor]}?")
            return run.listen()
        if reply is Command.SKIP:
            run.say(MOVE_ON)
            return self._pick(run, step, step.options.index(step.default), quiet=True, counted=False)
        if reply is None:
            if run.silences:
                default = step.options.index(step.default)
                run.say(f"Let's go with {options[default]}.")
                return self._pick(run, step, default, quiet=True)
            run.silences += 1
            spoken = f"{options[run.cursor]}? Say yes, or next."
            run.say(f"Just checking: {spoken}", choice=Choose.clap_choice(run, step, spoken))
            return run.listen()
        if reply is Command.REPEAT:
            return self._ask(run, step)
        return run.common(reply, "") or run.listen()

    @staticmethod
    def _pick(run: ScriptRunner, step: Step, index: int, quiet: bool = False, counted: bool = True) -> list[Action]:
        chosen = run.options(step)[index]
        if step.sets == "first":
            run.set_first(0 if step.options[index] == "{a}" else 1)
        elif step.sets:
            run.variables[step.sets] = chosen
        if not quiet:
            run.say(f"Okay, {chosen}.")
        return run.go(dict(step.goto).get(step.options[index], "next"), counted=counted)

    def help(self, run: ScriptRunner, step: Step) -> str:
        options = run.options(step)
        return (f"Say one of: {', '.join(options)}. Or say next to hear them one by one, and yes to pick one. "
                f"{REST_HELP}")

    def details(self, step: Step) -> list[str]:
        goto = dict(step.goto)
        options = ", ".join(o + (f" -> {goto[o]}" if o in goto else "") for o in step.options)
        return [f"choices: {options}" + (f"; sets {{{step.sets}}}" if step.sets else "")]


class Turn(StepKind):
    """One partner talks (or both), timed, with spoken warnings; the other listens."""

    name = "turn"
    keys = ("text", "for", "minutes", "warn_at", "end_text")
    required = ("minutes",)
    minutes_range = TURN_MINUTES
    has_length = True

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("who", ""):
            values.setdefault("text", "{speaker}, you have {duration}. {listener}, this is your time to listen.")
            values.setdefault("end_text", "Thank you, {speaker}.")
        else:
            values.setdefault("text", "You have {duration} to talk it through together.")
        values.setdefault("warn_at_min", default_warnings(values["minutes"]))
        return values

    def check(self, where: Where, step: Step) -> None:
        _check_warnings(where, step)

    def needs(self, step: Step) -> frozenset[Command]:
        return frozenset({Command.NEXT})

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        return run.start_timer(Timer.TURN, run.who(step), step.minutes * 60.0, step.warn_at_min, step.text)

    def length(self, step: Step) -> str:
        return spoken_duration(step.minutes * 60.0)

    def details(self, step: Step) -> list[str]:
        return _warning_lines(step)


class Reflect(StepKind):
    """The listener sums up what they heard (timed); then the speaker confirms, or adds what was missed."""

    name = "reflect"
    keys = ("text", "for", "minutes", "warn_at", "confirm", "correct_text", "correct_minutes", "end_text")
    required = ("for",)
    minutes_range = REFLECT_MINUTES
    has_length = True

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        values.setdefault("minutes", 1.0)
        values.setdefault("text", "{listener}, in your own words, what did you hear {speaker} say?")
        values.setdefault("confirm", "{speaker}, did {listener} get it? Say yes, or not now if something was missed.")
        values.setdefault("correct_text", "{speaker}, what would you add? You have {duration}.")
        values.setdefault("end_text", "Thank you both.")
        return values

    def check(self, where: Where, step: Step) -> None:
        _check_warnings(where, step)

    def needs(self, step: Step) -> frozenset[Command]:
        return frozenset({Command.YES, Command.NOT_NOW})

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        who = run.who(step)
        return run.start_timer(Timer.REFLECT, 1 - who if who is not None else None, step.minutes * 60.0,
                               step.warn_at_min, step.text)

    def after_timer(self, run: ScriptRunner, step: Step, timer: Timer, times_up: str) -> list[Action]:
        if timer is not Timer.REFLECT:
            return super().after_timer(run, step, timer, times_up)
        from .runner import Phase

        run.phase, run.silences = Phase.CONFIRM, 0
        run.say(_join(times_up, run.render(step.confirm)))
        return run.listen()

    def handle(self, run: ScriptRunner, step: Step, reply: Reply | None) -> list[Action]:
        who = run.who(step)
        if reply is Command.YES:
            run.say(run.render(step.end_text))
            return run.go("next")
        if reply is Command.NOT_NOW:  # something was missed: the speaker adds it
            return run.start_timer(Timer.CORRECT, who, step.correct_minutes * 60.0, (), step.correct_text)
        if reply is Command.MORE_TIME:  # the listener wants to go on summing up
            listener = 1 - who if who is not None else None
            more = run.settings.more_time_s
            text = f"Okay, {spoken_duration(more)} more" + (f", {run.names[listener]}." if listener is not None
                                                           else ".")
            return run.start_timer(Timer.REFLECT, listener, more, (), text.replace("{", "{{").replace("}", "}}"))
        return self.otherwise(run, reply, run.render(step.confirm), "next")

    def help(self, run: ScriptRunner, step: Step) -> str:
        return f"Say yes if that was right, or not now to add something. {REST_HELP}"

    def length(self, step: Step) -> str:
        return spoken_duration(step.minutes * 60.0)

    def details(self, step: Step) -> list[str]:
        return [*_warning_lines(step), f"then: {step.confirm}",
                f"if not: {step.correct_text} ({spoken_duration(step.correct_minutes * 60.0)})"]


class Pause(StepKind):
    """A quiet moment of a few seconds."""

    name = "pause"
    keys = ("text", "seconds", "end_text")
    has_length = True

    def defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        values.setdefault("seconds", 30.0)
        values.setdefault("text", "Let's take a quiet moment, just to breathe.")
        return values

    def enter(self, run: ScriptRunner, step: Step) -> list[Action] | None:
        return run.start_timer(Timer.PAUSE, None, step.seconds, (), step.text)

    def length(self, step: Step) -> str:
        return spoken_duration(step.seconds)


KINDS: dict[str, StepKind] = {kind.name: kind for kind in (Say(), Ask(), Turn(), Reflect(), Choose(), Pause(), End())}
"""Every step type by its ``type`` name, in the order the docs list them."""


def default_warnings(minutes: float) -> tuple[float, ...]:
    """Spoken time warnings for a turn of ``minutes``: at 5 and 1 minutes left for long turns, 1 for short."""
    if minutes >= 10:
        return (5.0, 1.0)
    if minutes >= 2:
        return (1.0,)
    return ()


def _warning_lines(step: Step) -> list[str]:
    """``scripts show``'s line for a timed step's spoken warnings (none when it has none)."""
    if not step.warn_at_min:
        return []
    return ["warnings at " + ", ".join(spoken_duration(w * 60.0) for w in step.warn_at_min) + " left"]


def _check_warnings(where: Where, step: Step) -> None:
    for left in step.warn_at_min:
        if left >= step.minutes:
            raise where.error(f"warn_at = {left:g} must be less than minutes ({step.minutes:g})")


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)
