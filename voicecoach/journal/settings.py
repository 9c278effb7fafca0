"""Journal settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class JournalSettings:
    """What is stored, and where."""

    enabled: bool = setting(True, doc="keep a private journal of talks and events (never audio or words)")
    file: str = setting("", doc="journal file; empty = journal.sqlite3 in the user data dir")
    voice_notes: bool = setting(False, doc="opt in to recording voice notes for each other (stored locally)")
    note_max_s: float = setting(60.0, lo=5.0, hi=300.0, doc="longest voice note, seconds")
