"""Configuration: TOML read with ``tomllib``, validated into frozen dataclasses.

Unknown keys, wrong types and out-of-range values are errors that name the dotted key and what is allowed.
Sections are declared by the modules that use them; this module composes them into :class:`Config`.
"""

from __future__ import annotations

import logging
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from . import paths
from .errors import InputError
from .settings import read_toml_file, section, setting, shown_value

from .detect.settings import DetectionSettings
from .speech.settings import SpeechSettings
from .asr.settings import CommandSettings
from .checkin.settings import CheckinSettings
from .journal.settings import JournalSettings
from .web.settings import WebSettings
from .hooks.settings import HookSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioSettings:
    """Sound devices and framing."""

    input: str = setting("", doc="input device: index or part of its name; empty = system default")
    output: str = setting("", doc="output device: index or part of its name; empty = system default")
    frame_ms: int = setting(30, choices=None, lo=10, hi=30, doc="frame length, ms (10, 20 or 30)")
    queue_frames: int = setting(200, lo=10, hi=5000, doc="bounded input queue length, in device blocks")
    reopen_s: float = setting(2.0, lo=0.2, hi=60.0, doc="seconds between attempts to reopen a lost device")


MAX_NAME_CHARS = 60  # a partner's name, as spoken in prompts


@dataclass(frozen=True)
class PartnerSettings:
    """The couple: names used in spoken prompts."""

    a_name: str = setting("Partner A", doc="name of partner A (spoken in prompts)")
    b_name: str = setting("Partner B", doc="name of partner B (spoken in prompts)")

    def validate(self) -> str | None:
        """An empty name (the prompts would say "Hi  and ."), one with a line break or another control character
        (the kiosk's one-line log entries and the page would be broken up by it), or one longer than
        :data:`MAX_NAME_CHARS` (said in every prompt, each of which holds at most 2,000 characters); or None."""
        for key, default in (("a_name", "Partner A"), ("b_name", "Partner B")):
            name = getattr(self, key)
            if not name.strip():
                return f"{key} is empty (write a name, e.g. {key} = \"Sam\", or remove the line for {default!r})"
            if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
                return (f"{key} = {shown_value(name)} holds a line break or another control character (write the "
                        f"name alone on its line, e.g. {key} = \"Sam\")")
            if len(name) > MAX_NAME_CHARS:
                return (f"{key} is {len(name)} characters long, more than a name ({MAX_NAME_CHARS} at most: it is "
                        f"said in every prompt); write the name alone, e.g. {key} = \"Sam\"")
        return None


@dataclass(frozen=True)
class PauseSettings:
    """The agreed pause ("time-out") and how it is offered."""

    length_min: float = setting(20.0, lo=1.0, hi=120.0, doc="length of the agreed pause, minutes")
    phrase: str = setting(
        "Shall we take the {length} minute pause we agreed on? Say okay, or not now.",
        doc="what is said when a pause is suggested; {length} is replaced by the pause length")
    answer_s: float = setting(6.0, lo=2.0, hi=30.0, doc="seconds to wait for an answer after the suggestion")
    snooze_min: float = setting(15.0, lo=1.0, hi=240.0, doc="after 'not now', no suggestion for this many minutes")
    warn_before_end_min: float = setting(2.0, lo=0.0, hi=30.0, doc="spoken cue this many minutes before the end")
    offer_checkin: bool = setting(True, doc="offer the after-pause check-in when the pause ends")
    quiet_after_min: float = setting(5.0, lo=0.0, hi=240.0,
                                     doc="after the pause ends (on time or stopped early), no suggestion for this "
                                         "many minutes: coming back is not asked about again at once")


@dataclass(frozen=True)
class KioskSettings:
    """The headless kiosk: schedule and quiet hours (times are HH:MM, local time)."""

    nightly_time: str = setting("21:30", doc="time of the nightly check-in offer, HH:MM; empty = off")
    weekly_day: str = setting("sun", choices=("", "mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                              doc="day of the weekly meeting offer; empty = off")
    weekly_time: str = setting("18:00", doc="time of the weekly meeting offer, HH:MM")
    quiet_start: str = setting("23:00", doc="quiet hours start (no spoken offers), HH:MM; empty = no quiet hours")
    quiet_end: str = setting("07:30", doc="quiet hours end, HH:MM")
    nightly_script: str = setting("nightly", doc="check-in script offered at nightly_time")
    weekly_script: str = setting("weekly", doc="check-in script offered on weekly_day at weekly_time")
    grace_min: float = setting(30.0, lo=1.0, hi=720.0,
                               doc="a ritual missed by more than this many minutes (off, busy) is not offered late")
    quiet_suggestions: bool = setting(False, doc="also offer the agreed pause during quiet hours "
                                                 "(asking for it yourself always works)")

    def validate(self) -> str | None:
        """A badly written time, or None."""
        import re

        for name in ("nightly_time", "weekly_time", "quiet_start", "quiet_end"):
            value = getattr(self, name)
            optional = name in ("nightly_time", "quiet_start", "quiet_end")
            if value == "" and optional:
                continue
            if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
                return f"{name} = {value!r} is not a time (write it as HH:MM, e.g. \"21:30\")"
        if (self.quiet_start == "") != (self.quiet_end == ""):
            return "set both quiet_start and quiet_end, or leave both empty for no quiet hours"
        if self.quiet_start and _minute_of_day(self.quiet_start) == _minute_of_day(self.quiet_end):
            # no span at all, or all day? Neither reading is safe to guess: the couple says which
            other = "08:00" if _minute_of_day(self.quiet_start) == 7 * 60 + 30 else "07:30"  # never the same again
            return (f"quiet_end = {self.quiet_end!r} is the same time as quiet_start, so it is unclear whether "
                    f"the quiet hours last all day or not at all (for no quiet hours set quiet_start = \"\" and "
                    f"quiet_end = \"\"; otherwise write the time they end, e.g. quiet_end = \"{other}\")")
        return None


def _minute_of_day(hhmm: str) -> int:
    """Minutes since midnight of a checked ``HH:MM`` time ("7:30" and "07:30" are the same moment)."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Config:
    """All of voicecoach's settings."""

    audio: AudioSettings = section(AudioSettings)
    partners: PartnerSettings = section(PartnerSettings)
    detection: DetectionSettings = section(DetectionSettings)
    pause: PauseSettings = section(PauseSettings)
    speech: SpeechSettings = section(SpeechSettings)
    commands: CommandSettings = section(CommandSettings)
    checkin: CheckinSettings = section(CheckinSettings)
    kiosk: KioskSettings = section(KioskSettings)
    journal: JournalSettings = section(JournalSettings)
    web: WebSettings = section(WebSettings)
    hooks: HookSettings = section(HookSettings)


# --- validation --------------------------------------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, key: str, meta: typing.Mapping[str, Any], where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value, key, meta, where)
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"{where}: {key} must be a table ([{key}])")
        return _build(tp, value, key + ".", where)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: {key} must be a list of strings")
        return tuple(value)
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise InputError(f"{where}: {key} must be {_type_name(tp)}, not {shown_value(value)}"
                         f"{_quote_hint(tp, value, key)}")
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None and value not in choices:
        raise InputError(f"{where}: {key} = {shown_value(value)} is not allowed (choose one of: "
                         f"{', '.join(map(repr, choices))})")
    if value != value or (lo is not None and value < lo) or (hi is not None and value > hi):  # nan is never in range
        raise InputError(f"{where}: {key} = {shown_value(value)} is out of range (allowed {lo} to {hi})")
    return value


def _quote_hint(tp: Any, value: Any, key: str) -> str:
    """The fix for a time, date or number written without quotes where text is wanted (``nightly_time = 21:30``
    is a TOML time; the setting takes the text "21:30"), else nothing."""
    import datetime

    if tp is not str or isinstance(value, (dict, list, bool)):
        return ""
    if isinstance(value, datetime.time) and not value.second and not value.microsecond:
        text = value.strftime("%H:%M")
    else:
        text = shown_value(value)
    return f" (write it in quotes: {key.rsplit('.', 1)[-1]} = \"{text}\")"


def _build(cls: type, data: dict[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    for key in data:
        if key not in known:
            homes = [h for h in _sections_with(key) if h != prefix.rstrip(".")]
            if homes:  # a key of another section: written above its header, or under the wrong one
                tables = ", ".join(f"[{h}]" for h in homes)
                which = "that header" if len(homes) == 1 else "the one you mean"
                raise InputError(f"{where}: unknown key '{prefix}{key}': {key} belongs in {tables} (move the line "
                                 f"under {which})")
            raise InputError(f"{where}: unknown key '{prefix}{key}' (known keys: {', '.join(sorted(known))})")
    values = {}
    for name, f in known.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], prefix + name, f.metadata, where)
    obj = cls(**values)
    check = getattr(obj, "validate", None)
    if check is not None:
        problem = check()
        if problem:
            raise InputError(f"{where}: {prefix.rstrip('.')}: {problem}")
    return obj


def _sections_with(key: str, cls: type | None = None, prefix: str = "") -> list[str]:
    """The dotted names of the config sections (tables) that declare a setting called ``key``."""
    found: list[str] = []
    hints = typing.get_type_hints(cls or Config)
    for f in fields(cls or Config):
        tp = hints[f.name]
        if isinstance(tp, type) and is_dataclass(tp):
            found += _sections_with(key, tp, prefix + f.name + ".")
        elif f.name == key and prefix:
            found.append(prefix.rstrip("."))
    return found


def config_from_dict(data: dict[str, Any], where: str = "config") -> Config:
    """Validate a parsed TOML document into a :class:`Config`. A key an earlier version had (removed or renamed
    in an update) is taken out first, with one warning naming the file and the fix (:mod:`.config_retired`)."""
    from .config_retired import upgrade, warn_once

    data, notices = upgrade(data, where)
    warn_once(notices)
    config = _build(Config, data, "", where)
    if config.audio.frame_ms not in (10, 20, 30):
        raise InputError(f"{where}: audio.frame_ms = {config.audio.frame_ms} is not allowed (choose 10, 20 or 30)")
    return config


EMPTY_CONFIG_OPTION = ("--config is empty: give a config file's path (e.g. --config ~/.config/voicecoach/config.toml), "
                       "or leave --config out for the default file")


def load_config(path: Path | str | None = None) -> Config:
    """Load the config file (the user's default file, or ``path``); defaults when the default file is absent."""
    explicit = path is not None
    if explicit and not str(path).strip():  # ``--config "$VC_CONFIG"`` with the variable unset: was read as "."
        raise InputError(EMPTY_CONFIG_OPTION)
    file = Path(path) if path is not None else paths.config_file()
    if explicit and not file.exists() and broken_link(file) is None:
        raise InputError(f"config file {file} does not exist (create one with: voicecoach config init)")
    return load_config_file(file)


def load_config_file(file: Path) -> Config:
    """The config in ``file``, or the defaults when nothing is there; a symbolic link there that leads nowhere is
    an InputError (:func:`broken_link`), never the defaults. For a reader that looks again and again (the page)."""
    if not file.exists():
        broken = broken_link(file) or _file_in_the_way(file)
        if broken:
            raise InputError(broken)
        return Config()
    data = read_toml_file(file, "config", "is this the right file? If it is, save it as UTF-8",
                          "fix the line, or recreate with: voicecoach config init --force", example="config.toml")
    return config_from_dict(data, str(file))


def _file_in_the_way(file: Path) -> str | None:
    """The one-line error for a config path one of whose folders is a file (``XDG_CONFIG_HOME`` set to a file), or
    None. The settings cannot be there, so running on the defaults ("not present") would be silent."""
    blocking = paths.file_in_the_way(file)
    if blocking is None:
        return None
    return (f"config {file}: {blocking} is a file, not a folder, so no config can be there; move that file aside, "
            f"or set XDG_CONFIG_HOME (or VOICECOACH_CONFIG_DIR) to a folder, or give the file with --config FILE")


def broken_link(file: Path) -> str | None:
    """The one-line error for a config path that is a symbolic link leading nowhere (to a missing file, or round
    in a loop), or None. Such a file is not absent: the couple's settings are somewhere, and running on the
    defaults instead (other names, no quiet hours) would be silent."""
    from .paths import dangling_link

    dangling = dangling_link(file)
    if dangling is None:
        return None
    target, why = dangling
    return (f"config file {file} is a symbolic link to {target} that cannot be followed ({why}); point it at your "
            f"config file, or remove the link to use the defaults")


# --- writing -----------------------------------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _toml_string(str(value))


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _toml_string(s: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in s:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dump_toml(obj: Any, with_docs: bool = True, prefix: str = "", values_commented: bool = False) -> str:
    """Render a settings dataclass as TOML (with each setting's description and range as comments); with
    ``values_commented`` each setting is a comment too (``# key = value``), so the text sets nothing."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            tables.append((prefix + f.name, value))
            continue
        if with_docs and f.metadata.get("doc"):
            doc = f.metadata["doc"]
            lo, hi, choices = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("choices")
            if lo is not None or hi is not None:
                doc += f" [{lo} .. {hi}]"
            if choices:
                doc += f" [{' | '.join(repr(c) for c in choices)}]"
            lines.append(f"# {doc}")
        lines.append(f"{'# ' if values_commented else ''}{f.name} = {_toml_value(value)}")
    out = "\n".join(lines)
    for name, value in tables:
        body = dump_toml(value, with_docs, name + ".", values_commented)
        out += ("\n\n" if out else "") + f"[{name}]\n" + body.rstrip("\n")
    return out.strip("\n") + "\n"


def default_config_text() -> str:
    """The default config written by ``voicecoach config init``: every setting with its default, as a comment.

    Written as values, each default stayed in the couple's file for good: an update that improved a default (the
    interruption method, the escalation rules) never reached them (:data:`.config_retired.PAST_DEFAULTS`)."""
    head = ("# voicecoach configuration. Every setting is shown with its default, as a comment: to change one, remove\n"
            "# the '# ' in front of it and edit the value. Settings left as comments follow the defaults of the\n"
            "# version you run, so an update can improve them. Check it with: voicecoach config check\n")
    return head + "\n" + dump_toml(Config(), values_commented=True)


def with_overrides(config: Config, **sections: Any) -> Config:
    """A copy of ``config`` with whole sections replaced (used by tests and the CLI)."""
    return replace(config, **sections)


__all__ = ["Config", "AudioSettings", "PartnerSettings", "PauseSettings", "KioskSettings", "load_config",
           "config_from_dict", "dump_toml", "default_config_text", "with_overrides", "MISSING"]
