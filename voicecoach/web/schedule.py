"""The Rituals form: the ``[kiosk]`` schedule edited from the page, with the config file's own rules and messages.

The form's values are put into the config document as it is on disk and the whole document is validated by
:func:`voicecoach.config.config_from_dict`, so a bad value is refused with the same words ``config check`` uses
(the dotted key named). Only then is the file changed: the ``[kiosk]`` lines are edited in place (other sections,
comments and the order of keys are kept), the result is read back and checked, and it replaces the file
atomically. The kiosk notices the new file on its own (it watches the file's time stamp) and reschedules.
"""

from __future__ import annotations

import re
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

from .. import paths
from ..config import Config, KioskSettings, _toml_value, config_from_dict
from ..errors import InputError, VoicecoachError
from ..settings import read_toml_file

FORM_KEYS = ("nightly_time", "nightly_script", "weekly_day", "weekly_time", "weekly_script", "quiet_start",
             "quiet_end", "grace_min", "quiet_suggestions")
MAX_FIELD_CHARS = 200
_VALUE = r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|[^\s#]+'


class ScheduleNotSaved(VoicecoachError):
    """The schedule was valid but the file could not be written (permissions, a full disk)."""


def read_document(path: Path) -> dict[str, Any]:
    """The config file as a TOML document ({} when there is none yet; a symbolic link leading nowhere is an
    InputError, not an empty document a save would then write through the link or beside it)."""
    if not path.exists():
        from ..config import broken_link

        broken = broken_link(path)
        if broken:
            raise InputError(broken)
        return {}
    return read_toml_file(path, "config", "is this the right file? If it is, save it as UTF-8",
                          "fix the line, or recreate with: voicecoach config init --force")


def form_values(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's strings as config values: numbers where the setting is a number, a checkbox as true/false.

    A string that is not a number stays a string, so the config's own check refuses it with its own message."""
    hints = typing.get_type_hints(KioskSettings)
    out: dict[str, Any] = {}
    for key in FORM_KEYS:
        tp = hints[key]
        if tp is bool:
            out[key] = form.get(key) in ("on", "true", "1", "yes")
            continue
        raw = form.get(key)
        if raw is None:
            continue
        raw = raw.strip()[:MAX_FIELD_CHARS]
        if tp is float:
            try:
                out[key] = float(raw)
            except ValueError:
                out[key] = raw
        else:
            out[key] = raw
    return out


def validate(path: Path, form: Mapping[str, str]) -> tuple[dict[str, Any], Config]:
    """The new ``[kiosk]`` values and the whole config they make; InputError naming the key otherwise."""
    document = read_document(path)
    kiosk = dict(document.get("kiosk") or {})
    values = form_values(form)
    kiosk.update(values)
    config = config_from_dict({**document, "kiosk": kiosk}, str(path))
    _check_scripts(path, config.kiosk)
    return values, config


def _check_scripts(path: Path, kiosk: KioskSettings) -> None:
    """A ritual naming no check-in script is refused as ``config check`` refuses it (a page opened before the
    script was renamed or deleted still offers its old name)."""
    from ..app import kiosk_script_problems
    from ..checkin.library import Library

    problems = kiosk_script_problems(kiosk, Library.load())
    if problems:
        raise InputError(f"{path}: {problems[0]}")


def save(path: Path, form: Mapping[str, str]) -> KioskSettings:
    """Validate the form and, if it is good, write it into the config file atomically; returns the new schedule."""
    values, config = validate(path, form)
    old = path.read_text(encoding="utf-8-sig") if path.exists() else ""  # as read_document reads it
    text = edit_table(old, "kiosk", values)
    try:
        check = config_from_dict(_loads(text), str(path))
    except (InputError, ValueError):
        check = None
    if check is None or check.kiosk != config.kiosk:  # an unusual layout the line editor cannot follow
        from ..config import dump_toml

        text = old_document_rewritten(path, config, dump_toml)
    try:
        paths.private_dir(path.parent)
        paths.write_private(path, text)
    except OSError as exc:
        raise ScheduleNotSaved(f"cannot write {path} ({exc.strerror or exc}); the service user must be able to "
                               f"write that file and its folder (see docs/kiosk.md)") from None
    return config.kiosk


def _loads(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


REWRITTEN_MARK = "# voicecoach configuration (rewritten by the home page"


def old_document_rewritten(path: Path, config: Config, dump_toml: Any) -> str:
    """The whole config written out again (only when the [kiosk] table could not be edited in place)."""
    head = f"{REWRITTEN_MARK}; the old file is {path.name}.bak)\n"
    # the .bak keeps the couple's own file: a file this page wrote itself is not worth keeping over it
    if path.exists() and not path.read_text(encoding="utf-8", errors="replace").startswith(REWRITTEN_MARK):
        paths.write_private(path.with_name(path.name + ".bak"), path.read_bytes())
    return head + dump_toml(config)


def edit_table(text: str, table: str, values: Mapping[str, Any]) -> str:
    """``text`` with ``key = value`` lines of ``[table]`` replaced (comments after a value kept) or added."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.fullmatch(rf"\s*\[{table}\]\s*(#.*)?", line)), None)
    if start is None:
        block = [f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        return (text.rstrip("\n") + "\n\n" if text.strip() else "") + "\n".join(block) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
    missing = dict(values)
    for i in range(start + 1, end):
        m = re.fullmatch(rf"(\s*)([A-Za-z0-9_]+)(\s*=\s*)({_VALUE})(\s*(?:#.*)?)", lines[i])
        if m and m.group(2) in missing:
            lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{_toml_value(missing.pop(m.group(2)))}{m.group(5)}"
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1  # new keys go after the table's last line, before the blank lines that end it
    lines[insert_at:insert_at] = [f"{k} = {_toml_value(v)}" for k, v in missing.items()]
    return "\n".join(lines) + "\n"


def current(config: Config) -> dict[str, Any]:
    """The schedule's values as the form shows them."""
    return {f.name: getattr(config.kiosk, f.name) for f in fields(KioskSettings) if f.name in FORM_KEYS}


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size) of the config file, or None when absent: the kiosk's change detector."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
