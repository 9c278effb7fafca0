"""The journal's schema: ordered migrations, each taking the database from version N-1 to N.

``PRAGMA user_version`` holds the version. A migration runs inside one transaction together with the version
bump, so a crash mid-migration leaves the previous version intact. Never edit a released migration: add one.
Nothing here stores audio or words: only times, counts, partner labels and short machine-made reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ..detect.pipeline import TalkStats

V1 = (
    """CREATE TABLE talks (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('listen', 'kiosk', 'demo', 'checkin')),
        started_at REAL NOT NULL,           -- wall clock, epoch seconds
        ended_at REAL,                      -- null while running (or if the process died)
        speak_a_s REAL, speak_b_s REAL,     -- seconds each partner spoke
        raised_a_s REAL, raised_b_s REAL    -- seconds each partner's voice was raised
    )""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        talk_id INTEGER NOT NULL REFERENCES talks(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        t REAL NOT NULL,                    -- seconds of audio since the talk began
        start REAL, "end" REAL,
        speaker TEXT, over TEXT, reason TEXT,
        data TEXT NOT NULL                  -- the event's JSON-contract dict (free text removed)
    )""",
    """CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY,
        talk_id INTEGER REFERENCES talks(id) ON DELETE CASCADE,
        at REAL NOT NULL,                   -- wall clock, epoch seconds
        reason TEXT NOT NULL,
        answer TEXT CHECK (answer IN ('yes', 'not_now', 'no_answer', 'manual')),
        answered_at REAL
    )""",
    """CREATE TABLE pauses (
        id INTEGER PRIMARY KEY,
        talk_id INTEGER REFERENCES talks(id) ON DELETE CASCADE,
        started_at REAL NOT NULL,
        planned_min REAL NOT NULL,
        ended_at REAL,
        actual_min REAL,
        ended_how TEXT
    )""",
    """CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        started_at REAL NOT NULL,
        completed INTEGER NOT NULL CHECK (completed IN (0, 1)),
        minutes REAL NOT NULL,
        source TEXT NOT NULL
    )""",
)

V2 = (
    # Opt-in voice notes: the audio lives in files beside the journal; this is their index.
    """CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        from_partner TEXT NOT NULL,
        to_partner TEXT NOT NULL,
        file TEXT NOT NULL UNIQUE,          -- name inside the notes directory
        duration_s REAL NOT NULL
    )""",
    "CREATE INDEX events_by_talk ON events(talk_id)",
    "CREATE INDEX talks_by_start ON talks(started_at)",
)

V3 = (
    # Seconds the machine was suspended during the talk (a laptop's lid closed): in its wall-clock span, but no time
    # together. The talk's length is ended_at - started_at - suspended_s. Talks stored before it were stored without
    # knowing: 0, their length the wall-clock span, as it was.
    "ALTER TABLE talks ADD COLUMN suspended_s REAL NOT NULL DEFAULT 0",
)

V4 = (
    # The kiosk's promise after "not now" to a ritual and "yes" to "Shall I ask again in an hour?": the wall time
    # (epoch seconds) it said it would ask again, on that declined check-in's row, so a restart keeps it. NULL: no
    # promise (every other check-in, and all those stored before it).
    "ALTER TABLE checkins ADD COLUMN ask_again_at REAL",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (V1, V2, V3, V4)
"""MIGRATIONS[i] takes the schema from version i to version i + 1."""

CURRENT_VERSION = len(MIGRATIONS)

TABLES = ("talks", "events", "suggestions", "pauses", "checkins", "notes")


class TalkSource(Enum):
    """Where a talk was heard (the ``talks.source`` column)."""

    LISTEN = "listen"
    KIOSK = "kiosk"
    DEMO = "demo"
    CHECKIN = "checkin"


@dataclass(frozen=True)
class TalkFigures:
    """A talk's figures, stored in its ``talks`` row: each field is the column of the same name.

    Built from the detection pipeline's :class:`~voicecoach.detect.pipeline.TalkStats` by :meth:`of`, never by
    renaming keys of a dict: a field renamed on either side fails a test (and a type check).
    """

    speak_a_s: float  # seconds partner A spoke
    speak_b_s: float
    raised_a_s: float  # seconds partner A's voice was raised
    raised_b_s: float

    @classmethod
    def of(cls, stats: TalkStats) -> "TalkFigures":
        """The figures of a talk's statistics."""
        return cls(speak_a_s=stats.speaking_s["A"], speak_b_s=stats.speaking_s["B"],
                   raised_a_s=stats.raised_s["A"], raised_b_s=stats.raised_s["B"])

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "TalkFigures | None":
        """The figures stored in a ``talks`` row (or its export), or None when the talk has none (every column
        empty: it never ended, or ended before figures were stored). The report reads them only through here."""
        values = {name: row[name] for name in cls.columns()}
        if all(v is None for v in values.values()):
            return None
        return cls(**{name: float(v or 0.0) for name, v in values.items()})

    @property
    def raised_s(self) -> float:
        """Seconds either partner's voice was raised."""
        return self.raised_a_s + self.raised_b_s

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The ``talks`` columns these figures fill."""
        return tuple(f.name for f in fields(cls))
