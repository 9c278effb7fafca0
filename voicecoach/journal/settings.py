"""Journal settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import setting


@dataclass(frozen=True)
class JournalSettings:
    """What is stored, and where."""

    enabled: bool = setting(True, doc="keep a private journal of talks and events (never audio or words)")
    file: str = setting("", doc="journal file; empty = journal.sqlite3 in the user data dir")
    voice_notes: bool = setting(False, doc="opt in to recording voice notes for each other (stored locally)")
    note_max_s: float = setting(60.0, lo=5.0, hi=300.0, doc="longest voice note, seconds")

    def validate(self) -> str | None:
        """A relative ``file``, or None: it would be taken from wherever voicecoach is started, so ``listen`` in
        one folder and ``report`` or ``journal erase`` in another would each find a different journal (or none)."""
        if self.file and not Path(self.file).expanduser().is_absolute():
            example = f"~/{Path(self.file).as_posix()}"
            return (f"file = {self.file!r} is a relative path, so the journal would be wherever voicecoach is "
                    f"started from; write the full path, e.g. file = \"{example}\", or leave it empty for the data "
                    f"folder")
        return None
