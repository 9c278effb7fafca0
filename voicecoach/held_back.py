"""How long a new start must stay quiet: the couple's "not now" outlives a restart.

The snooze that "not now" asks for (and the cooldown, the hourly cap and the quiet after a pause) is kept by the
detectors in audio time, so a restart (the kiosk's service restarted after a fault or an update, the box switched
off and on, ``listen`` started again) forgot it, and the next escalation was offered at once: "Okay, not now. I'll
stay quiet for 15 minutes", then two minutes later "Shall we take the pause?". The journal holds the wall times of
every suggestion, its answer and every pause; :func:`quiet_minutes` turns those into the minutes still to hold
back. Pure: rows and ``now`` in, minutes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .config import PauseSettings
from .detect.settings import EscalationSettings

REFUSED = ("not_now", "no_answer")  # answers that ask for the snooze
HOUR_S = 3600.0


@dataclass(frozen=True)
class PastPause:
    """A pause from the journal: its start, planned length and end (None: the program died during it)."""

    started_at: float
    planned_min: float
    ended_at: float | None


@dataclass(frozen=True)
class PastSuggestion:
    """A suggestion from the journal: when it was made, its answer and when (wall clock, epoch seconds)."""

    at: float
    answer: str | None
    answered_at: float | None


def quiet_minutes(suggestions: Iterable[PastSuggestion], pauses: Iterable[PastPause], pause: PauseSettings,
                  escalation: EscalationSettings, now: float) -> float:
    """Minutes from ``now`` during which no pause may be suggested, as if the program had never stopped (0: none).

    A wall time after ``now`` (the clock was set back since) counts as ``now``: the wait is never longer than the
    longest of the snooze, the cooldown, the quiet after a pause and the hour of the cap, or what is left of a pause
    the program died in (the couple is still in it) and the quiet after it."""
    until = now
    recent: list[float] = []
    for s in suggestions:
        at = min(s.at, now)
        if at >= now - HOUR_S:
            recent.append(at)
        until = max(until, at + 60.0 * escalation.cooldown_min)
        if s.answer in REFUSED and s.answered_at is not None:
            until = max(until, min(s.answered_at, now) + 60.0 * pause.snooze_min)
    for p in pauses:
        ended = min(p.ended_at, now) if p.ended_at is not None else min(p.started_at, now) + 60.0 * p.planned_min
        until = max(until, ended + 60.0 * pause.quiet_after_min)
    if len(recent) >= escalation.max_per_hour:
        until = max(until, sorted(recent)[-escalation.max_per_hour] + HOUR_S)
    return max(0.0, until - now) / 60.0
