"""The validated form of a check-in script: frozen dataclasses shared by the parser, the step types and the runner.

A :class:`Script` has its metadata, its ``steps`` (each a :class:`Step`, whose ``type`` names its
:mod:`step type <voicecoach.checkin.steps>`) and its ``plan``: the order the steps are played in (a *round* of
``each``/``other`` steps is played twice, once per partner).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Step:
    """One validated step; texts are templates with ``{variables}``; unused fields keep their defaults."""

    number: int  # 1-based position in the file, for messages
    type: str
    id: str = ""
    title: str = ""
    who: str = ""  # "" (both) | a | b | first | second | each | other
    text: str = ""
    minutes: float = 0.0  # turn / reflect length
    seconds: float = 0.0  # pause length
    warn_at_min: tuple[float, ...] = ()  # spoken warnings at these minutes left
    end_text: str = ""
    wait_s: float | None = None  # ask: answer time (None = the settings' answer_s)
    on_yes: str = "next"
    on_not_now: str = "next"
    on_silence: str = "next"
    yes_text: str = ""
    not_now_text: str = ""
    confirm: str = ""
    correct_text: str = ""
    correct_minutes: float = 1.0
    options: tuple[str, ...] = ()
    sets: str = ""
    default: str = ""
    goto: tuple[tuple[str, str], ...] = ()  # (option, target)


@dataclass(frozen=True)
class PlanItem:
    """One position in the played order: a step, its round (-1 when none) and the pass (0 or 1) through it."""

    step: int  # index into Script.steps
    round: int = -1
    pass_no: int = 0


@dataclass(frozen=True)
class Script:
    """A validated check-in script."""

    name: str
    title: str
    description: str
    minutes: float
    offer_on_schedule: bool
    consent: str
    alternate: bool
    durations: tuple[tuple[str, float], ...]  # named lengths in minutes, usable as {name} and minutes = "name"
    steps: tuple[Step, ...]
    plan: tuple[PlanItem, ...]
    source: str = ""  # the file it came from ("" when parsed from text)

    def step_at(self, item: PlanItem) -> Step:
        """The step a plan item plays."""
        return self.steps[item.step]


class Where:
    """Builds the one-line error messages: file, step number and type, key."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.step = ""

    def at(self, number: int, type_: str = "") -> None:
        """Errors from now on are about this step."""
        self.step = f"step {number}" + (f" ({type_})" if type_ else "")

    def error(self, message: str) -> InputError:
        """The error to raise: ``file: step N (type): message``."""
        return InputError(f"{self.file}: {self.step + ': ' if self.step else ''}{message}")
