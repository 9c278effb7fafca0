"""Helpers for declaring validated settings: ``setting(default, lo=, hi=, choices=, doc=)``.

Each domain declares its own frozen dataclass of settings next to its code; :mod:`voicecoach.config` composes
them, reads TOML and validates every value against the bounds declared here, naming the dotted key on error.
Field names carry their unit (``hold_ms``, ``margin_db``, ``length_min``).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import field
from pathlib import Path
from typing import Any

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def setting(default: Any, *, lo: float | None = None, hi: float | None = None,
            choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A dataclass field with a default, an allowed range or set of choices, and a one-line description."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc}
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for list settings")
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A nested settings section field whose default is the section's defaults."""
    return field(default_factory=cls)


def shown_value(value: Any, limit: int = 60) -> str:
    """A value for a one-line error, as TOML spells it (``true``, ``'text'``, ``[1, 2]``), cut to ``limit``
    characters (a careless or hostile file may hold a huge or deeply nested value)."""
    try:
        text = _toml_spelling(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _toml_spelling(value: Any) -> str:
    """``value`` as it is written in TOML: ``21:30:00`` and ``{ minutes = 10 }``, not Python's
    ``datetime.time(21, 30)`` and ``{'minutes': 10}`` (unquoted times and inline tables are common slips)."""
    import datetime

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat().replace("T", " ")
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_spelling(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_spelling(v) for v in value) + "]"
    return repr(value)


def read_toml_file(path: Path, label: str, utf8_hint: str, toml_fix: str, missing: str | None = None,
                   example: str = "NAME.toml") -> dict[str, Any]:
    """Read a TOML file; every failure is an :class:`InputError` of one line naming the file and the fix.

    ``label`` names the kind of file ("config", "language pack"); ``missing`` is the message for a file that does
    not exist (default: the OS error); ``example`` is a file name to suggest inside a folder given instead.
    """
    try:
        raw = read_regular_file(path, label)
        if raw and not raw.strip(b"\x00"):  # tomllib: "Invalid statement (at line 1, column 1)"
            anew = toml_fix.split(", or ")[-1] if ", or " in toml_fix else "write it again"
            raise InputError(f"{path}: it holds only zero bytes ({len(raw):,}): it was damaged (a power cut while "
                             f"an editor saved it?); put a backup in its place, or {anew}")
        if utf16_without_bom(raw):  # valid UTF-8 to the decoder (a NUL after each letter), nonsense to tomllib
            raise UnicodeDecodeError("utf-8", raw[:2], 0, 1, "UTF-16 without a byte order mark")
        return tomllib.loads(raw.decode("utf-8-sig"))  # -sig: Windows editors may start with a BOM
    except FileNotFoundError:
        if missing is None:
            raise InputError(f"cannot read {label} {path}: no such file") from None
        raise InputError(missing) from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a {label} file (give the file's path, e.g. "
                         f"{path / example})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file{utf16_hint(raw, utf8_hint)}") from None
    except tomllib.TOMLDecodeError as exc:
        text = raw.decode("utf-8-sig", "replace")
        twice = table_twice(text, str(exc)) or unquoted_text(text, str(exc))
        raise InputError(f"{path}: invalid TOML: {twice}" if twice else f"{path}: invalid TOML: {exc} ({toml_fix})") \
            from None
    except RecursionError:  # tomllib recurses per nesting level: [[[[...]]]] thousands deep
        raise InputError(f"{path}: invalid TOML: arrays or tables nested too deeply ({toml_fix})") from None
    except PermissionError:  # was the bare "Permission denied"
        raise InputError(f"cannot read {label} {path}: {UNREADABLE}") from None
    except OSError as exc:
        raise InputError(f"cannot read {label} {path}: {exc.strerror}") from None


_TWICE = re.compile(r"Cannot declare \(((?:'[^']*',? ?)+)\) twice \(at line (\d+)")


def table_twice(text: str, message: str) -> str | None:
    """tomllib's "Cannot declare ('web',) twice (at line 344, ...)" in the words of the file, or None for another
    error: the table, both its lines and the fix. The usual cause is a ``[web]`` block pasted from a guide at the end
    of a file that ``config init`` wrote, which already holds ``[web]`` with each setting as a comment."""
    found = _TWICE.match(message)
    if found is None:
        return None
    name = ".".join(re.findall(r"'([^']*)'", found.group(1)))
    header = re.compile(r"\s*\[\s*" + r"\s*\.\s*".join(map(re.escape, name.split("."))) + r"\s*\]\s*(#.*)?$")
    second = int(found.group(2))
    first = next((n for n, line in enumerate(text.splitlines()[:second - 1], 1) if header.match(line)), None)
    where = f"lines {first} and {second}" if first is not None else f"line {second}, after it was already set"
    return (f"[{name}] appears twice ({where}): a table may appear once, so put these settings under the first "
            f"[{name}] (where a line is a comment, take the '# ' off it) and delete the second [{name}] line")


UNREADABLE = ("this user may not read it (permission denied); run voicecoach as a user who may (the file's owner), "
              "or make it readable with: chmod u+r FILE")
_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_BARE_VALUE = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=\s*([^\s\"'\[{#][^#]*?)\s*(#.*)?$")


def unquoted_text(text: str, message: str) -> str | None:
    """tomllib's error for a value written without its quotes (``a_name = Sam``, ``nightly_time = 21:30``: TOML's
    times need seconds) in the words of the file: the line, the key and the line to write instead; None for another
    error. tomllib said "Invalid value (at line 2, column 10)" and the fix suggested was ``config init --force``."""
    found = _AT_LINE.search(message)
    lines = text.splitlines()
    if found is None or not 1 <= int(found.group(1)) <= len(lines):
        return None
    number = int(found.group(1))
    bare = _BARE_VALUE.match(lines[number - 1])
    if bare is None:
        return None
    key, value = bare.group(1), bare.group(2)
    try:
        tomllib.loads(f"x = {value}")
        return None  # a TOML value after all: the error is something else
    except tomllib.TOMLDecodeError:
        pass
    shown = value if len(value) <= 40 else value[:37] + "..."
    first = value.split()[0]
    try:  # "length_min = 10 min": a number with a word after it
        tomllib.loads(f"x = {first}")
    except tomllib.TOMLDecodeError:
        return f"line {number}: {key} = {shown} needs quotes around the text: write {key} = \"{shown}\""
    return (f"line {number}: {key} = {shown} is not one value: write the number (or true, false) alone, e.g. "
            f"{key} = {first}, or text in quotes")


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def utf16_without_bom(raw: bytes) -> bool:
    """True for text saved as UTF-16 with no byte order mark ("UTF-16 LE" in some editors, PowerShell's
    ``Out-File -Encoding unicode`` piped through tools that drop it): a zero byte beside each ASCII letter. It
    decodes as UTF-8, so tomllib said "Invalid initial character for a key part (at line 1, column 2)" and
    suggested ``config init --force``, which throws the settings away."""
    head = raw[:400]
    return len(head) >= 4 and any(head) and (head[1::2].count(0) >= len(head) // 2 * 0.9 or
                               head[0::2].count(0) >= len(head) // 2 * 0.9)


def utf16_hint(raw: bytes, otherwise: str) -> str:
    """The end of a "not a UTF-8 text file" error for a file's bytes ``raw``: one saved as UTF-16 (Windows
    Notepad's "Unicode", which starts with its byte order mark, or the same without it) is told how to save it
    instead; any other gets `` (otherwise)``."""
    if raw[:2] in _UTF16_BOMS or utf16_without_bom(raw):
        return ": it is saved as UTF-16 (\"Unicode\" in Windows Notepad); save it again as UTF-8"
    return f" ({otherwise})"


MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024  # far above any config or language pack; a bigger "file" is a mistake
_NOT_FILES = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
              (stat.S_ISSOCK, "a socket"))


def special_file_kind(mode: int) -> str | None:
    """What a path of this ``st_mode`` is when it is neither a regular file nor a folder ("a named pipe", "a device",
    "a socket"), for one-line errors; None for a file or a folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")


def read_regular_file(path: Path, label: str, limit: int = MAX_TEXT_FILE_BYTES, null_as_empty: bool = True) -> bytes:
    """The bytes of the regular file at ``path``; anything else is refused at once with one line naming it.

    A named pipe with no writer would be waited on for ever and a device such as /dev/zero read until memory runs
    out, so the file is opened without blocking and looked at before a byte is read. A folder raises
    :class:`IsADirectoryError` and a missing file :class:`FileNotFoundError`, for the caller's own words. The null
    device reads as empty (``--config /dev/null``: no settings) unless ``null_as_empty`` is False (a check-in
    script read from it was an empty script: "title is missing"), when it is refused as any device is."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if null_as_empty and _is_null_device(fd):
            return b""  # --config /dev/null: nothing set, the defaults (as it always read)
        kind = special_file_kind(mode)
        if kind is not None:
            raise InputError(f"cannot read {label} {path}: it is {kind}, not a file (save the {label} as a file "
                             f"and give that file's path)")
        data = _read_at_most(file, limit + 1)
    if len(data) > limit:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        raise InputError(f"cannot read {label} {path}: it is over {size}, far too big for a {label} file (is this "
                         f"the right file?)")
    return data


_READ_CHUNK = 64 * 1024


def _read_at_most(file: Any, size: int) -> bytes:
    """At most ``size`` bytes of ``file``, read a chunk at a time: ``file.read(size)`` sets aside all of ``size``
    before reading (16 MB for a config file of a few hundred bytes, on every read of the config)."""
    chunks: list[bytes] = []
    total = 0
    while total < size:
        piece = file.read(min(_READ_CHUNK, size - total))
        if not piece:
            break
        chunks.append(piece)
        total += len(piece)
    return b"".join(chunks)


def _is_null_device(fd: int) -> bool:
    """True when ``fd`` is the null device (/dev/null), which reads as empty."""
    mine = os.fstat(fd)
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(mine.st_mode) and stat.S_ISCHR(null.st_mode) and mine.st_rdev == null.st_rdev
