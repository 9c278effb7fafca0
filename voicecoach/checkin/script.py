"""Check-in scripts: TOML files parsed and validated into frozen dataclasses.

A script has metadata (name, title, description, approximate minutes, whether the kiosk may offer it on a
schedule) and ordered ``[[steps]]``: ``say``, ``ask``, ``turn``, ``reflect``, ``choose``, ``pause``, ``end``.
Every problem is one :class:`InputError` line naming the file, the step number and the key, e.g.
``nightly.toml: step 3 (turn): minutes = -1 is out of range (0.5 to 30)``.

Who a step is for (``for``): ``a`` or ``b``; ``first`` / ``second`` (the order chosen by a ``choose`` step with
``sets = "first"``, else a then b); ``each`` (the step is played once per partner) and ``other`` (the partner who is
not the current one). Consecutive ``each``/``other`` steps form a *round*, played for one partner, then again for
the other; successive rounds alternate who starts. Steps without ``for`` are for both.

What each step type takes and checks lives in its class in :mod:`voicecoach.checkin.steps`; this module reads the
keys every type shares, the script's metadata and its flow (targets, ids, variables), within limits that keep a
hostile file a one-line error: :data:`MAX_STEPS` steps, :data:`MAX_TEXT_CHARS` characters a text,
:data:`MAX_FILE_BYTES` in all, and no nesting deeper than the TOML reader can follow.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..commands import Command
from ..errors import InputError
from ..settings import (UNREADABLE, read_regular_file, tomllib,  # tomllib, or tomli on Python 3.10
                        unquoted_text, utf16_hint, utf16_without_bom)
from ..speech.text import is_silent
from .model import PlanItem, Script, Step, Where
from .steps import KINDS, REFLECT_MINUTES, TURN_MINUTES

if TYPE_CHECKING:
    from ..asr.lang import LanguagePack

__all__ = ["Script", "Step", "PlanItem", "STEP_TYPES", "parse_script", "load_script_file", "needed_commands",
           "unsayable", "MAX_STEPS", "MAX_TEXT_CHARS", "MAX_FILE_BYTES"]

STEP_TYPES = tuple(KINDS)
WHO = ("a", "b", "first", "second", "each", "other")
ROUND_WHO = ("each", "other")
TARGETS = ("next", "skip", "end")  # besides the id of a step
BASE_VARS = ("a", "b", "title", "approx")
PERSON_VARS = ("speaker", "listener")
LENGTH_VARS = ("minutes", "duration")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
VAR_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")

PAUSE_SECONDS = (1.0, 600.0)
WAIT_SECONDS = (2.0, 60.0)
SCRIPT_MINUTES = (1.0, 180.0)
# Limits on what a (user's) file may hold, so a broken or hostile script is one clear error, never a crash:
MAX_STEPS = 200  # steps in a file (the longest built-in has 15)
MAX_TEXT_CHARS = 2000  # characters in one text (about two minutes of speech)
MAX_FILE_BYTES = 256 * 1024
MAX_DURATIONS = 50

META_KEYS = ("name", "title", "description", "minutes", "offer_on_schedule", "consent", "alternate", "durations",
             "steps")
COMMON_KEYS = ("type", "id", "title")
QUIET_KEYS = ("end_text", "yes_text", "not_now_text")  # may be "" to say nothing
TEXT_KEYS = ("text", "title", "end_text", "yes_text", "not_now_text", "confirm", "correct_text")
MISSING_FIX = {"text": 'add text = "..." with the words to say',
               "minutes": "add minutes = 2, how long the turn lasts",
               "for": 'add for = "each" (or a, b, first, second, other): whose words are summed up'}
DEFAULT_CONSENT = "Hello {a} and {b}. Is now a good time for {title}? It takes about {approx}. Say yes, or not now."
CONSENT_NEEDS = frozenset({Command.YES, Command.NOT_NOW})  # every script opens with "Say yes, or not now"


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (a hostile file may hold huge or deeply nested values)."""
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= 60 else text[:57] + "..."


def _text(where: Where, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(f"{key} must be a string in quotes, not {_shown(value)}")
    if not value.strip() and key not in QUIET_KEYS:
        raise where.error(f"{key} is empty (write what should be said)")
    if value.strip() and is_silent(value):
        # "..." or "?" is rendered as silence: the speech engines take a silent prompt for a failed one
        raise where.error(f"{key} is {_shown(value)}, only punctuation (write the words to be said)")
    if len(value) > MAX_TEXT_CHARS:
        raise where.error(f"{key} is {len(value)} characters long (at most {MAX_TEXT_CHARS}: split it into "
                          f"several steps)")
    return value.strip()


def _number(where: Where, key: str, value: Any, lo: float, hi: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise where.error(f"{key} must be a number{unit}, not {_shown(value)}")
    if not lo <= value <= hi:
        raise where.error(f"{key} = {value!r} is out of range ({lo:g} to {hi:g})")
    return float(value)


_WRITTEN_MINUTES = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:m|min|mins|minute|minutes)?\.?\s*$", re.IGNORECASE)


def _minutes(where: Where, key: str, value: Any, durations: dict[str, float], lo: float, hi: float) -> float:
    if isinstance(value, str):
        written = _WRITTEN_MINUTES.match(value)
        if value not in durations and written:
            number = written.group(1).replace(",", ".")
            raise where.error(f"{key} = {_shown(value)} is not a number: write {key} = {number} (a plain number "
                              f"of minutes, no quotes or unit)")
        if value not in durations:
            known = ", ".join(durations) or "none defined"
            raise where.error(f"{key} = {_shown(value)} is not a duration name (in [durations]: {known})")
        value = durations[value]
    return _number(where, key, value, lo, hi, " of minutes (or a name from [durations])")


def _variables(where: Where, key: str, text: str, known: set[str]) -> None:
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise where.error(f"{key} has a stray brace ({exc}; write {{{{ or }}}} for a literal brace)") from None
    for name, spec, conv in fields:
        if spec or conv or name not in known:
            hint = ", ".join("{" + k + "}" for k in sorted(known))
            guess = "" if spec or conv else _meant(name, sorted(known), "{{{}}}")
            raise where.error(f"{key} uses unknown variable {{{name}{'!' + conv if conv else ''}"
                              f"{':' + spec if spec else ''}}} (known here: {hint}{guess})")


def _meant(word: Any, choices: Sequence[str], shown: str = "{}") -> str:
    """ "; did you mean X?" for a near miss of one of ``choices`` (a typo), else ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.7)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


def _target(where: Where, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise where.error(f"{key} must be a string: next, skip, end, or the id of a step")
    return value


def _parse_step(where: Where, number: int, raw: Any, durations: dict[str, float]) -> Step:
    where.at(number)
    if not isinstance(raw, dict):
        raise where.error("must be a table ([[steps]])")
    type_ = raw.get("type")
    if type_ is None:
        raise where.error(f"type is missing (add type = \"...\": one of {', '.join(STEP_TYPES)})")
    if type_ not in KINDS:
        guess = _meant(type_, STEP_TYPES, '"{}"')
        raise where.error(f"type = {_shown(type_)} is not a step type (use one of: {', '.join(STEP_TYPES)}{guess})")
    kind = KINDS[type_]
    where.at(number, type_)
    allowed = COMMON_KEYS + kind.keys
    for key in raw:
        if key not in allowed:
            guess = _meant(key, allowed[1:])
            raise where.error(f"unknown key '{_shown(key)[1:-1]}' (a {type_} step takes: {', '.join(allowed[1:])}"
                              f"{guess})")
    for key in kind.required:
        if key not in raw:
            fix = MISSING_FIX.get(key, "")
            raise where.error(f"{key} is missing" + (f" ({fix})" if fix else ""))
    values: dict[str, Any] = {"number": number, "type": type_}
    for key, value in raw.items():
        if key == "type":
            continue
        values.update(_parse_key(where, kind.minutes_range, key, value, durations))
    return Step(**kind.defaults(values))


def _parse_key(where: Where, minutes_range: tuple[float, float], key: str, value: Any,
               durations: dict[str, float]) -> dict[str, Any]:
    if key == "id":
        if not isinstance(value, str) or not NAME_RE.match(value) or value in TARGETS:
            raise where.error(f"id = {_shown(value)} must be a short lowercase name (letters, digits, - or _), "
                              f"not next, skip or end")
        return {"id": value}
    if key == "for":
        if value not in WHO:
            raise where.error(f"for = {_shown(value)} is not allowed (use one of: {', '.join(WHO)}; leave out for "
                              f"both)")
        return {"who": value}
    if key in TEXT_KEYS:
        return {key: _text(where, key, value)}
    if key == "minutes":
        return {"minutes": _minutes(where, key, value, durations, *minutes_range)}
    if key == "correct_minutes":
        return {key: _minutes(where, key, value, durations, *REFLECT_MINUTES)}
    if key == "seconds":
        return {key: _number(where, key, value, *PAUSE_SECONDS, unit=" of seconds")}
    if key == "wait_s":
        return {key: _number(where, key, value, *WAIT_SECONDS, unit=" of seconds")}
    if key == "warn_at":
        if not isinstance(value, list) or not 1 <= len(value) <= 10:
            raise where.error(f"warn_at must be a list of minutes left, e.g. [1] or [5, 1], not {_shown(value)}")
        return {"warn_at_min": tuple(sorted((_number(where, key, v, 0.1, 60.0, " of minutes") for v in value),
                                            reverse=True))}
    if key in ("on_yes", "on_not_now", "on_silence"):
        return {key: _target(where, key, value)}
    if key == "options":
        if not isinstance(value, list) or not 2 <= len(value) <= 6:
            raise where.error(f"options must be a list of 2 to 6 choices, not {_shown(value)}")
        opts = tuple(_text(where, key, v) for v in value)
        if len({o.lower() for o in opts}) != len(opts):
            raise where.error("options has the same choice twice")
        return {"options": opts}
    if key == "sets":
        if not isinstance(value, str) or not VAR_RE.match(value) or value in BASE_VARS + PERSON_VARS + LENGTH_VARS:
            raise where.error(f"sets = {_shown(value)} must be a new variable name (lowercase letters, digits, _), "
                              f"or \"first\" to choose who starts")
        return {"sets": value}
    if key == "default":
        return {"default": _text(where, key, value)}
    if key == "goto":
        if not isinstance(value, dict) or len(value) > 6:
            raise where.error("goto must be a table of choice = target, e.g. goto = { later = \"wrap-up\" }")
        return {"goto": tuple((str(k), _target(where, f"goto.{k}", v)) for k, v in value.items())}
    raise where.error(f"unknown key '{key}'")  # pragma: no cover - filtered by the allowed keys


def _check_step(where: Where, step: Step, known: set[str], durations: dict[str, float]) -> None:
    """Checks that need the whole step: its type's own checks, and the variables in every text."""
    where.at(step.number, step.type)
    kind = KINDS[step.type]
    kind.check(where, step)
    here = set(known) | set(durations)
    if step.who:
        here |= set(PERSON_VARS)
    if kind.has_length:
        here |= set(LENGTH_VARS)
    for key in TEXT_KEYS + ("default",):
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


def _parse_meta(where: Where, data: dict[str, Any], default_name: str) -> dict[str, Any]:
    for key in data:
        if key not in META_KEYS:
            raise where.error(f"unknown key '{_shown(key)[1:-1]}' (a script takes: {', '.join(META_KEYS)})")
    name = data.get("name", default_name)
    if "name" not in data and not NAME_RE.match(name):
        usable = usable_name(name)
        raise where.error(f"the file name {_shown(name)} is not a usable script name (lowercase letters, digits, - "
                          f"or _): rename the file to {usable}.toml, or add name = \"{usable}\"")
    if not isinstance(name, str) or not NAME_RE.match(name):
        hint = f", e.g. name = \"{usable_name(name)}\"" if isinstance(name, str) else ""
        raise where.error(f"name = {_shown(name)} must be a short lowercase name (letters, digits, - or _){hint}")
    if "title" not in data:
        raise where.error("title is missing (add: title = \"Our check-in\")")
    if "minutes" not in data:
        raise where.error("minutes is missing (add the approximate length: minutes = 10)")
    consent = _text(where, "consent", data.get("consent", DEFAULT_CONSENT))
    meta = {"name": name, "title": _text(where, "title", data["title"]),
            "description": _text(where, "description", data["description"]) if "description" in data else "",
            "minutes": _number(where, "minutes", data["minutes"], *SCRIPT_MINUTES),
            "consent": consent}
    for key, default in (("offer_on_schedule", False), ("alternate", True)):
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise where.error(f"{key} must be true or false, not {_shown(value)}")
        meta[key] = value
    durations = data.get("durations", {})
    if not isinstance(durations, dict) or len(durations) > MAX_DURATIONS:
        raise where.error(f"durations must be a table ([durations]) of at most {MAX_DURATIONS} name = minutes")
    for key, value in durations.items():
        if not VAR_RE.match(key) or key in BASE_VARS + PERSON_VARS + LENGTH_VARS:
            raise where.error(f"durations.{_shown(key)[1:-1]}: not a usable name (lowercase letters, digits, _; not "
                              f"a built-in variable)")
        _number(where, f"durations.{key}", value, TURN_MINUTES[0] / 2, TURN_MINUTES[1], " of minutes")
    meta["durations"] = tuple((k, float(v)) for k, v in durations.items())
    _variables(where, "consent", consent, set(BASE_VARS) | set(durations))
    return meta


def usable_name(text: str) -> str:
    """A script name made from ``text``: "My Script" -> "my-script", "Café" -> "cafe" (for error messages)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", ascii_text).strip("-_")[:40].rstrip("-_")
    return name or "my-script"


def _check_flow(where: Where, steps: tuple[Step, ...]) -> None:
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
                raise where.error(f"{key} = {_shown(target)} is not a step id (use one of: {known})")
    for prev, step in zip(steps, steps[1:]):
        if prev.type == "end" and not step.id:
            where.at(step.number, step.type)
            raise where.error("can never be reached: it follows an end step (give it an id and jump to it, "
                              "or remove it)")


def _load_toml(where: Where, text: str) -> dict[str, Any]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise where.error(f"the file is larger than {MAX_FILE_BYTES // 1024} KB (a check-in script is a few KB)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a text written without its quotes is named with the line to write
        raise where.error(f"invalid TOML: {unquoted_text(text, str(exc)) or exc}") from None
    except RecursionError:  # the TOML reader recurses once per level of nesting
        raise where.error("values are nested too deeply to be a check-in script (lists or tables inside "
                          "each other hundreds of levels deep)") from None


def parse_script(text: str, file: str = "script.toml", source: str = "") -> Script:
    """Parse and validate a script's TOML text; ``file`` names it in error messages."""
    where = Where(file)
    data = _load_toml(where, text)
    meta = _parse_meta(where, data, Path(file).stem)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise where.error("no steps (add at least one [[steps]] table with a type)")
    if len(raw_steps) > MAX_STEPS:
        raise where.error(f"{len(raw_steps)} steps is too many (at most {MAX_STEPS}: split it into several "
                          f"scripts)")
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
    return Step(**KINDS["end"].defaults({"number": number, "type": "end"}))


def needed_commands(script: Script) -> dict[Command, list[str]]:
    """Each command the script's prompts ask the couple to say, with where it is asked ("consent", "step 3")."""
    needs: dict[Command, list[str]] = {command: ["consent"] for command in CONSENT_NEEDS}
    for step in script.steps:
        for command in KINDS[step.type].needs(step):
            needs.setdefault(command, []).append(f"step {step.number} ({step.type})")
    return needs


def unsayable(script: Script, pack: LanguagePack) -> str | None:
    """The commands the script asks for that the language pack has no phrase for (one line), or None."""
    needs = needed_commands(script)
    missing = pack.missing(frozenset(needs))
    if not missing:
        return None
    where = Path(script.source).name if script.source else script.name
    listed = "; ".join(f"'{c.spoken}' (asked at {', '.join(needs[c][:3])}{', ...' if len(needs[c]) > 3 else ''})"
                       for c in missing)
    return (f"{where}: the language pack '{pack.code}' has no phrase for {listed}: add one to "
            f"[commands] {', '.join(c.value for c in missing)} in {pack.source}, or use another language pack")


def load_script_file(path: Path | str) -> Script:
    """Read and validate a script file; errors name the file by its name."""
    path = Path(path)
    try:
        # only a regular file is read: a named pipe would be waited on for ever (scripts list, the kiosk's start),
        # and the null device is no script (it read as one without a title)
        raw = read_regular_file(path, "check-in script", limit=MAX_FILE_BYTES, null_as_empty=False)
        if utf16_without_bom(raw):  # decodes as UTF-8 (a NUL after each letter): "invalid TOML" on a good line
            raise UnicodeDecodeError("utf-8", raw[:2], 0, 1, "UTF-16 without a byte order mark")
        text = raw.decode("utf-8-sig")  # -sig: Windows editors may start the file with a BOM
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (list scripts with: voicecoach scripts list)") from None
    except UnicodeDecodeError:
        hint = utf16_hint(raw, "is this a check-in script? If it is, save it as UTF-8")
        raise InputError(f"{path.name}: not a UTF-8 text file{hint}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a check-in script (give a script file's path, e.g. "
                         f"{path / 'NAME.toml'})") from None
    except PermissionError:  # was the bare "Permission denied"
        raise InputError(f"cannot read {path}: {UNREADABLE}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return parse_script(text, path.name, str(path))
