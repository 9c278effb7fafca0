"""The rows a report sums, read from a journal by SQL a chunk at a time
(:meth:`~voicecoach.journal.store.Journal.report_rows`): talks, interruptions, suggestions, pauses and check-ins of
the period, the demo's left out - a report of years of events never holds them all in memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from .schema import TalkFigures

if TYPE_CHECKING:
    from .report import SuggestionRow, TalkRow
    from .store import Journal


_NOT_DEMO = "source != 'demo'"  # talks of ``voicecoach demo`` (older versions stored them) are not the couple's
_OF_THE_COUPLE = "(talk_id IS NULL OR talk_id NOT IN (SELECT id FROM talks WHERE source = 'demo'))"


class JournalReportRows:
    """What a report sums, read from the journal by SQL a chunk at a time (see :meth:`Journal.report_rows`)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def talks(self, lo: float, hi: float) -> Iterator["TalkRow"]:
        """The couple's talks that began in the period, with their raised events' seconds."""
        from .report import TalkRow

        figures = ", ".join(f"t.{c}" for c in TalkFigures.columns())
        rows = self._journal.select(
            f'SELECT t.id, t.started_at, t.ended_at, t.suspended_s, {figures}, (SELECT COALESCE(SUM(MAX(0.0, e."end" - '
            f'COALESCE(e.start, e."end"))), 0.0) FROM events e WHERE e.talk_id = t.id AND e.type = \'raised_voice\' '
            f'AND e."end" IS NOT NULL) AS raised_events_s FROM talks t WHERE t.{_NOT_DEMO} AND t.started_at '
            f'BETWEEN ? AND ? AND t.id > ? ORDER BY t.id LIMIT ?', (lo, hi))
        for r in rows:
            yield TalkRow(r["started_at"], r["ended_at"], TalkFigures.from_row(r), float(r["raised_events_s"]),
                          float(r["suspended_s"]))

    def interruptions(self, lo: float, hi: float) -> Iterator[float]:
        """The wall-clock time of each interruption in the couple's talks, in the period."""
        rows = self._journal.select(
            f"SELECT e.id, t.started_at + e.t AS at FROM events e JOIN talks t ON t.id = e.talk_id "
            f"WHERE e.type = 'interruption' AND t.{_NOT_DEMO} AND t.started_at + e.t BETWEEN ? AND ? "
            f"AND e.id > ? ORDER BY e.id LIMIT ?", (lo, hi))
        return (r["at"] for r in rows)

    def suggestions(self, lo: float, hi: float) -> Iterator["SuggestionRow"]:
        """The pauses suggested in the period."""
        from .report import SuggestionRow

        rows = self._journal.select(f"SELECT id, at, answer FROM suggestions WHERE {_OF_THE_COUPLE} AND at BETWEEN "
                                    f"? AND ? AND id > ? ORDER BY id LIMIT ?", (lo, hi))
        return (SuggestionRow(r["at"], r["answer"]) for r in rows)

    def pauses(self, lo: float, hi: float) -> Iterator[float]:
        """The start of each pause taken in the period."""
        rows = self._journal.select(f"SELECT id, started_at FROM pauses WHERE {_OF_THE_COUPLE} AND started_at "
                                    f"BETWEEN ? AND ? AND id > ? ORDER BY id LIMIT ?", (lo, hi))
        return (r["started_at"] for r in rows)

    def checkins_done(self, lo: float, hi: float) -> Iterator[float]:
        """The start of each completed check-in in the period."""
        rows = self._journal.select(f"SELECT id, started_at FROM checkins WHERE completed = 1 AND {_NOT_DEMO} AND "
                                    f"started_at BETWEEN ? AND ? AND id > ? ORDER BY id LIMIT ?", (lo, hi))
        return (r["started_at"] for r in rows)
