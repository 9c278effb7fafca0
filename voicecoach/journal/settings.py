"""Journal settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class JournalSettings:
    """What is stored, and where."""

    enabled: bool = setting(True, doc="keep a private journal of talks and events (never audio or words)")
    voice_notes: bool = setting(False, doc="opt in to recording voice notes for each other (stored locally)")
