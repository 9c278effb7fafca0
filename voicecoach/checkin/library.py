"""The script library: built-in scripts from the package, plus the user's own in ``<config dir>/scripts/*.toml``.

A user script extends the built-ins, or overrides one with the same name. A broken user script is logged and listed
as broken, and never stops the other scripts from loading (a broken override leaves the built-in in use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import InputError
from .script import Script, load_script_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One script file as found: its script, or the one-line error that keeps it from loading."""

    name: str
    path: Path
    source: str  # "builtin" | "user"
    script: Script | None = None
    error: str = ""
    overrides: bool = False  # a user script replacing a built-in of the same name

    @property
    def broken(self) -> bool:
        """True when the file could not be loaded."""
        return self.script is None


def builtin_dir() -> Path:
    """The folder of the built-in scripts."""
    return Path(__file__).resolve().parent / "builtin"


def user_dir() -> Path:
    """The folder of the user's own scripts."""
    return paths.config_dir() / "scripts"


def _load_folder(folder: Path, source: str) -> list[Entry]:
    entries: list[Entry] = []
    try:
        files = sorted(folder.glob("*.toml"))
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc)
        return entries
    for file in files:
        try:
            script = load_script_file(file)
        except InputError as exc:
            log.debug("check-in script not loaded: %s", exc)  # reported by whoever lists or uses the library
            entries.append(Entry(file.stem, file, source, error=str(exc)))
            continue
        entries.append(Entry(script.name, file, source, script))
    return entries


class Library:
    """All loadable scripts by name, and every file found (including broken ones)."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries: list[Entry] = []
        self._scripts: dict[str, Script] = {}
        for entry in entries:
            if entry.script is not None and entry.name in self._scripts:
                previous = next(e for e in reversed(self.entries) if e.name == entry.name and not e.broken)
                if previous.source == entry.source:  # two user files with the same name: keep the first
                    entry = Entry(entry.name, entry.path, entry.source,
                                  error=f"{entry.path.name}: name {entry.name!r} is already used by "
                                        f"{previous.path.name} (rename one of them)")
                    log.debug("check-in script not loaded: %s", entry.error)
                else:
                    entry = Entry(entry.name, entry.path, entry.source, entry.script, overrides=True)
            if entry.script is not None:
                self._scripts[entry.name] = entry.script
            self.entries.append(entry)

    @classmethod
    def load(cls, user_folder: Path | None = None) -> "Library":
        """Built-ins, then the user's scripts (``user_folder`` or the config dir's ``scripts``)."""
        entries = _load_folder(builtin_dir(), "builtin")
        entries += _load_folder(user_folder if user_folder is not None else user_dir(), "user")
        return cls(entries)

    def names(self) -> list[str]:
        """Names of the loadable scripts, sorted."""
        return sorted(self._scripts)

    def get(self, name: str) -> Script:
        """The script called ``name``; an InputError names the choices (and the error, if that file is broken)."""
        if name in self._scripts:
            return self._scripts[name]
        broken = [e for e in self.entries if e.broken and e.name == name]
        if broken:
            raise InputError(f"script {name!r} is broken: {broken[-1].error}")
        if "/" in name or name.endswith(".toml"):  # a file's path: scripts are run by name, from the scripts folder
            raise InputError(f"{name!r} is a file's path, but check-in scripts are named: copy the file into "
                             f"{user_dir()} and give its name (e.g. {Path(name).stem}); check the file first with: "
                             f"voicecoach scripts check {name}")
        raise InputError(f"no check-in script called {name!r} (available: {', '.join(self.names())}; "
                         f"see: voicecoach scripts list)")

    def active(self, name: str) -> Entry:
        """The entry whose script is used for ``name``."""
        script = self.get(name)
        return next(e for e in reversed(self.entries) if e.script is script)


def load_script(name: str, user_folder: Path | None = None) -> Script:
    """The script called ``name`` (a user script overrides the built-in)."""
    return Library.load(user_folder).get(name)
