"""Check-in scripts: TOML files parsed and validated into frozen dataclasses.

A script has metadata (name, title, description, approximate minutes, whether the kiosk may offer it on a
schedule) and ordered ``[[steps]]``: ``say``, ``ask``, ``turn``, ``reflect``, ``choose``, ``pause``, ``end``.
Every problem is one :class:`InputError` line naming the file, the step number and the key, e.g.
``nightly.toml: step 3 (turn): minutes = -1 is out of range (0.5 to 30)``.

Who a step is for (``for``): ``a`` or ``b``; ``first`` / ``second`` (the order chosen by a ``choose`` step with
``sets = "first"``, else a then b); ``each`` (the step is played once per partner) and ``other`` (the partner who is
not the current one). Consecutive ``each``/``other`` steps form a *round*, played for one partner, then again for
the other; successive rounds alternate who starts. Steps without ``for`` are for both.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..settings import tomllib  # tomllib, or tomli on Python 3.10

STEP_TYPES = ("say", "ask", "turn", "reflect", "choose", "pause", "end")
WHO = ("a", "b", "first", "second", "each", "other")
ROUND_WHO = ("each", "other")
TARGETS = ("next", "skip", "end")  # besides the id of a step
BASE_VARS = ("a", "b", "title", "approx")
PERSON_VARS = ("speaker", "listener")
LENGTH_VARS = ("minutes", "duration")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
VAR_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")

TURN_MINUTES = (0.5, 30.0)
REFLECT_MINUTES = (0.25, 10.0)
PAUSE_SECONDS = (1.0, 600.0)
WAIT_SECONDS = (2.0, 60.0)
SCRIPT_MINUTES = (1.0, 180.0)

META_KEYS = ("name", "title", "description", "minutes", "offer_on_schedule", "consent", "alternate", "durations",
             "steps")
COMMON_KEYS = ("type", "id", "title")
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "say": ("text", "for"),
    "ask": ("text", "for", "wait_s", "on_yes", "on_not_now", "on_silence", "yes_text", "not_now_text"),
    "turn": ("text", "for", "minutes", "warn_at", "end_text"),
    "reflect": ("text", "for", "minutes", "warn_at", "confirm", "correct_text", "correct_minutes", "end_text"),
    "choose": ("text", "options", "sets", "default", "goto"),
    "pause": ("text", "seconds", "end_text"),
    "end": ("text",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "say": ("text",), "ask": ("text",), "turn": ("minutes",), "reflect": ("for",), "choose": ("text",),
    "pause": (), "end": (),
}
QUIET_KEYS = ("end_text", "yes_text", "not_now_text")  # may be "" to say nothing
DEFAULT_CONSENT = "Hello {a} and {b}. Is now a good time for {title}? It takes about {approx}. Say yes, or not now."


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


class _Where:
    """Builds the one-line error messages: file, step number and type, key."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.step = ""

    def at(self, number: int, type_: str = "") -> None:
        self.step = f"step {number}" + (f" ({type_})" if type_ else "")

    def error(self, message: str) -> InputError:
        return InputError(f"{self.file}: {self.step + ': ' if self.step else ''}{message}")


def _text(where: _Where, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(f"{key} must be a string in quotes, not {value!r}")
    if not value.strip() and key not in QUIET_KEYS:
        raise where.error(f"{key} is empty (write what should be said)")
    return value.strip()


def _number(where: _Where, key: str, value: Any, lo: float, hi: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise where.error(f"{key} must be a number{unit}, not {value!r}")
    if not lo <= value <= hi:
        raise where.error(f"{key} = {value!r} is out of range ({lo:g} to {hi:g})")
    return float(value)


def _minutes(where: _Where, key: str, value: Any, durations: dict[str, float], lo: float, hi: float) -> float:
    if isinstance(value, str):
        if value not in durations:
            known = ", ".join(durations) or "none defined"
            raise where.error(f"{key} = {value!r} is not a duration name (in [durations]: {known})")
        value = durations[value]
    return _number(where, key, value, lo, hi, " of minutes (or a name from [durations])")


def _variables(where: _Where, key: str, text: str, known: set[str]) -> None:
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise where.error(f"{key} has a stray brace ({exc}; write {{{{ or }}}} for a literal brace)") from None
    for name, spec, conv in fields:
        if spec or conv or name not in known:
            hint = ", ".join("{" + k + "}" for k in sorted(known))
            raise where.error(f"{key} uses unknown variable {{{name}{'!' + conv if conv else ''}"
                              f"{':' + spec if spec else ''}}} (known here: {hint})")


def _target(where: _Where, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise where.error(f"{key} must be a string: next, skip, end, or the id of a step")
    return value


def _parse_step(where: _Where, number: int, raw: Any, durations: dict[str, float]) -> Step:
    where.at(number)
    if not isinstance(raw, dict):
        raise where.error("must be a table ([[steps]])")
    type_ = raw.get("type")
    if type_ is None:
        raise where.error(f"type is missing (add type = \"...\": one of {', '.join(STEP_TYPES)})")
    if type_ not in STEP_TYPES:
        raise where.error(f"type = {type_!r} is not a step type (use one of: {', '.join(STEP_TYPES)})")
    where.at(number, type_)
    allowed = COMMON_KEYS + STEP_KEYS[type_]
    for key in raw:
        if key not in allowed:
            raise where.error(f"unknown key '{key}' (a {type_} step takes: {', '.join(allowed[1:])})")
    for key in REQUIRED[type_]:
        if key not in raw:
            raise where.error(f"{key} is missing")
    values: dict[str, Any] = {"number": number, "type": type_}
    for key, value in raw.items():
        if key == "type":
            continue
        values.update(_parse_key(where, type_, key, value, durations))
    return Step(**_with_defaults(type_, values))


def _parse_key(where: _Where, type_: str, key: str, value: Any, durations: dict[str, float]) -> dict[str, Any]:
    if key == "id":
        if not isinstance(value, str) or not NAME_RE.match(value) or value in TARGETS:
            raise where.error(f"id = {value!r} must be a short lowercase name (letters, digits, - or _), "
                              f"not next, skip or end")
        return {"id": value}
    if key == "for":
        if value not in WHO:
            raise where.error(f"for = {value!r} is not allowed (use one of: {', '.join(WHO)}; leave out for both)")
        return {"who": value}
    if key in ("text", "title", "end_text", "yes_text", "not_now_text", "confirm", "correct_text"):
        return {key: _text(where, key, value)}
    if key == "minutes":
        bounds = TURN_MINUTES if type_ == "turn" else REFLECT_MINUTES
        return {"minutes": _minutes(where, key, value, durations, *bounds)}
    if key == "correct_minutes":
        return {key: _minutes(where, key, value, durations, *REFLECT_MINUTES)}
    if key == "seconds":
        return {key: _number(where, key, value, *PAUSE_SECONDS, unit=" of seconds")}
    if key == "wait_s":
        return {key: _number(where, key, value, *WAIT_SECONDS, unit=" of seconds")}
    if key == "warn_at":
        if not isinstance(value, list) or not value:
            raise where.error(f"warn_at must be a list of minutes left, e.g. [1] or [5, 1], not {value!r}")
        return {"warn_at_min": tuple(sorted((_number(where, key, v, 0.1, 60.0, " of minutes") for v in value),
                                            reverse=True))}
    if key in ("on_yes", "on_not_now", "on_silence"):
        return {key: _target(where, key, value)}
    if key == "options":
        if not isinstance(value, list) or not 2 <= len(value) <= 6:
            raise where.error(f"options must be a list of 2 to 6 choices, not {value!r}")
        opts = tuple(_text(where, key, v) for v in value)
        if len({o.lower() for o in opts}) != len(opts):
            raise where.error("options has the same choice twice")
        return {"options": opts}
    if key == "sets":
        if not isinstance(value, str) or not VAR_RE.match(value) or value in BASE_VARS + PERSON_VARS + LENGTH_VARS:
            raise where.error(f"sets = {value!r} must be a new variable name (lowercase letters, digits, _), "
                              f"or \"first\" to choose who starts")
        return {"sets": value}
    if key == "default":
        return {"default": _text(where, key, value)}
    if key == "goto":
        if not isinstance(value, dict):
            raise where.error("goto must be a table of choice = target, e.g. goto = { later = \"wrap-up\" }")
        return {"goto": tuple((str(k), _target(where, f"goto.{k}", v)) for k, v in value.items())}
    raise where.error(f"unknown key '{key}'")  # pragma: no cover - filtered by the allowed keys


def _default_warnings(minutes: float) -> tuple[float, ...]:
    if minutes >= 10:
        return (5.0, 1.0)
    if minutes >= 2:
        return (1.0,)
    return ()


def _with_defaults(type_: str, v: dict[str, Any]) -> dict[str, Any]:
    """Fill in the default prompts, so ``scripts show`` and the runner see the same effective texts."""
    who = v.get("who", "")
    if type_ == "turn":
        if who:
            v.setdefault("text", "{speaker}, you have {duration}. {listener}, just listen for now.")
            v.setdefault("end_text", "Thank you, {speaker}.")
        else:
            v.setdefault("text", "You have {duration} to talk it through together.")
        v.setdefault("warn_at_min", _default_warnings(v["minutes"]))
    elif type_ == "reflect":
        v.setdefault("minutes", 1.0)
        v.setdefault("text", "{listener}, in your own words, what did you hear {speaker} say?")
        v.setdefault("confirm", "{speaker}, did {listener} get it? Say yes, or not now if something was missed.")
        v.setdefault("correct_text", "{speaker}, what would you add? Take {duration}.")
        v.setdefault("end_text", "Thank you both.")
    elif type_ == "choose":
        if v.get("sets") == "first":
            v.setdefault("options", ("{a}", "{b}"))
        v.setdefault("default", v.get("options", ("",))[0])
    elif type_ == "pause":
        v.setdefault("seconds", 30.0)
        v.setdefault("text", "Let's take a quiet moment. Just breathe.")
    elif type_ == "end":
        v.setdefault("text", "That's the end. Thank you both.")
    return v


def _check_step(where: _Where, step: Step, known: set[str], durations: dict[str, float]) -> None:
    """Checks that need the whole step: ranges relative to each other, variables in every text."""
    where.at(step.number, step.type)
    if step.type == "choose":
        if step.sets == "first" and step.options != ("{a}", "{b}") and step.options != ("{b}", "{a}"):
            raise where.error("options must be [\"{a}\", \"{b}\"] (or be left out) with sets = \"first\"")
        if not step.options:
            raise where.error("options is missing (or use sets = \"first\" to choose who starts)")
        if step.default not in step.options:
            raise where.error(f"default = {step.default!r} is not one of the options")
        for option, _ in step.goto:
            if option not in step.options:
                raise where.error(f"goto.{option} is not one of the options ({', '.join(step.options)})")
    if step.type in ("turn", "reflect"):
        for left in step.warn_at_min:
            if left >= step.minutes:
                raise where.error(f"warn_at = {left:g} must be less than minutes ({step.minutes:g})")
    here = set(known) | set(durations)
    if step.who:
        here |= set(PERSON_VARS)
    if step.type in ("turn", "reflect", "pause"):
        here |= set(LENGTH_VARS)
    for key in ("text", "title", "end_text", "yes_text", "not_now_text", "confirm", "correct_text", "default"):
        _variables(where, key, getattr(step, key), here)
    for i, option in enumerate(step.options):
        _variables(where, f"options[{i + 1}]", option, set(known) | set(durations))


def _make_plan(steps: tuple[Step, ...]) -> tuple[PlanItem, ...]:
    """The played order: rounds (runs of each/other steps) are played twice, once per partner."""
    plan: list[PlanItem] = []
    i, rounds = 0, 0
    while i < len(steps):
        if steps[i].who not in ROUND_WHO:
            plan.append(PlanItem(i))
            i += 1
            continue
        j = i
        while j < len(steps) and steps[j].who in ROUND_WHO:
            j += 1
        for pass_no in (0, 1):
            plan.extend(PlanItem(k, rounds, pass_no) for k in range(i, j))
        rounds += 1
        i = j
    return tuple(plan)


def _parse_meta(where: _Where, data: dict[str, Any], default_name: str) -> dict[str, Any]:
    for key in data:
        if key not in META_KEYS:
            raise where.error(f"unknown key '{key}' (a script takes: {', '.join(META_KEYS)})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise where.error(f"name = {name!r} must be a short lowercase name (letters, digits, - or _)")
    if "title" not in data:
        raise where.error("title is missing (add: title = \"Our check-in\")")
    if "minutes" not in data:
        raise where.error("minutes is missing (add the approximate length: minutes = 10)")
    meta = {"name": name, "title": _text(where, "title", data["title"]),
            "description": _text(where, "description", data["description"]) if "description" in data else "",
            "minutes": _number(where, "minutes", data["minutes"], *SCRIPT_MINUTES),
            "consent": _text(where, "consent", data.get("consent", DEFAULT_CONSENT))}
    for key, default in (("offer_on_schedule", False), ("alternate", True)):
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise where.error(f"{key} must be true or false, not {value!r}")
        meta[key] = value
    durations = data.get("durations", {})
    if not isinstance(durations, dict):
        raise where.error("durations must be a table ([durations]) of name = minutes")
    for key, value in durations.items():
        if not VAR_RE.match(key) or key in BASE_VARS + PERSON_VARS + LENGTH_VARS:
            raise where.error(f"durations.{key}: not a usable name (lowercase letters, digits, _; not a built-in "
                              f"variable)")
        _number(where, f"durations.{key}", value, TURN_MINUTES[0] / 2, TURN_MINUTES[1], " of minutes")
    meta["durations"] = tuple((k, float(v)) for k, v in durations.items())
    _variables(where, "consent", meta["consent"], set(BASE_VARS) | set(durations))
    return meta


def _check_flow(where: _Where, steps: tuple[Step, ...]) -> None:
    """Targets exist, ids are unique, variables are set before use, and every step can be reached."""
    ids: dict[str, int] = {}
    for step in steps:
        if step.id:
            if step.id in ids:
                where.at(step.number, step.type)
                raise where.error(f"id = {step.id!r} is already used by step {ids[step.id]}")
            ids[step.id] = step.number
    for step in steps:
        where.at(step.number, step.type)
        targets = [("on_yes", step.on_yes), ("on_not_now", step.on_not_now), ("on_silence", step.on_silence)]
        targets += [(f"goto.{o}", t) for o, t in step.goto]
        for key, target in targets:
            if target not in TARGETS and target not in ids:
                known = ", ".join(list(TARGETS) + list(ids))
                raise where.error(f"{key} = {target!r} is not a step id (use one of: {known})")
    for prev, step in zip(steps, steps[1:]):
        if prev.type == "end" and not step.id:
            where.at(step.number, step.type)
            raise where.error("can never be reached: it follows an end step (give it an id and jump to it, "
                              "or remove it)")


def parse_script(text: str, file: str = "script.toml", source: str = "") -> Script:
    """Parse and validate a script's TOML text; ``file`` names it in error messages."""
    where = _Where(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise where.error(f"invalid TOML: {exc}") from None
    meta = _parse_meta(where, data, Path(file).stem)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise where.error("no steps (add at least one [[steps]] table with a type)")
    durations = dict(meta["durations"])
    steps: list[Step] = [_parse_step(where, n, raw, durations) for n, raw in enumerate(raw_steps, start=1)]
    set_vars: set[str] = set()
    for step in steps:
        _check_step(where, step, set(BASE_VARS) | set_vars, durations)
        if step.sets and step.sets != "first":
            set_vars.add(step.sets)
    if steps[-1].type != "end":
        steps.append(_with_end(len(steps) + 1))
    _check_flow(where, tuple(steps))
    return Script(steps=tuple(steps), plan=_make_plan(tuple(steps)), source=source, **meta)


def _with_end(number: int) -> Step:
    return Step(**_with_defaults("end", {"number": number, "type": "end"}))


def load_script_file(path: Path | str) -> Script:
    """Read and validate a script file; errors name the file by its name."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (list scripts with: voicecoach scripts list)") from None
    except UnicodeDecodeError:
        raise InputError(f"{path.name}: not a UTF-8 text file (is this a check-in script?)") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return parse_script(text, path.name, str(path))
