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


@dataclass(frozen=True)
class HeldBack:
    """How long a new start stays quiet (minutes from now; 0: not at all) and why, in the couple's words."""

    minutes: float
    reason: str


def quiet_minutes(suggestions: Iterable[PastSuggestion], pauses: Iterable[PastPause], pause: PauseSettings,
                  escalation: EscalationSettings, now: float) -> float:
    """Minutes from ``now`` during which no pause may be suggested (0: none); see :func:`held_back`."""
    return held_back(suggestions, pauses, pause, escalation, now).minutes


def held_back(suggestions: Iterable[PastSuggestion], pauses: Iterable[PastPause], pause: PauseSettings,
              escalation: EscalationSettings, now: float) -> HeldBack:
    """How long from ``now`` no pause may be suggested, as if the program had never stopped, and which of the
    journal's rows holds it back longest (the start said only "a 'not now', a pause or the hourly cap").

    A wall time after ``now`` (the clock was set back since) counts as ``now``: the wait is never longer than the
    longest of the snooze, the cooldown, the quiet after a pause and the hour of the cap, or what is left of a pause
    the program died in (the couple is still in it) and the quiet after it."""
    until, reason = now, ""

    def hold(end: float, why: str) -> None:
        nonlocal until, reason
        if end > until:
            until, reason = end, why

    recent: list[float] = []
    for s in suggestions:
        at = min(s.at, now)
        if at >= now - HOUR_S:
            recent.append(at)
        hold(at + 60.0 * escalation.cooldown_min,
             f"a pause was suggested {_ago(now - at)} (none for {escalation.cooldown_min:g} min after one)")
        if s.answer in REFUSED and s.answered_at is not None:
            said = "'not now' was said" if s.answer == "not_now" else "a suggestion went unanswered"
            hold(min(s.answered_at, now) + 60.0 * pause.snooze_min,
                 f"{said} {_ago(now - min(s.answered_at, now))} ({pause.snooze_min:g} min of quiet after it)")
    for p in pauses:
        if p.ended_at is not None:
            ended = min(p.ended_at, now)
            why = f"the pause ended {_ago(now - ended)} ({pause.quiet_after_min:g} min of quiet after a pause)"
        else:
            ended = min(p.started_at, now) + 60.0 * p.planned_min
            why = (f"the {p.planned_min:g} minute pause begun {_ago(now - min(p.started_at, now))} is still under way "
                   f"(the program stopped during it), then {pause.quiet_after_min:g} min of quiet")
        hold(ended + 60.0 * pause.quiet_after_min, why)
    if len(recent) >= escalation.max_per_hour:
        hold(sorted(recent)[-escalation.max_per_hour] + HOUR_S,
             f"{len(recent)} suggestions in the last hour (at most {escalation.max_per_hour} an hour)")
    return HeldBack(max(0.0, until - now) / 60.0, reason)


def _ago(seconds: float) -> str:
    """'just now', '1 min ago', '12 min ago'."""
    minutes = round(seconds / 60.0)
    return "just now" if minutes < 1 else f"{minutes} min ago"
