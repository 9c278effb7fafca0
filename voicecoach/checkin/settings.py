"""Check-in settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class CheckinSettings:
    """Check-in behaviour."""

    more_time_s: float = setting(60.0, lo=10.0, hi=600.0, doc="seconds added by 'more time'")
    answer_s: float = setting(8.0, lo=2.0, hi=60.0, doc="seconds to wait for an answer to a check-in question")
    offer_later_min: float = setting(60.0, lo=5.0, hi=720.0,
                                     doc="after 'not now' to a scheduled check-in, offer to ask again after "
                                         "this many minutes")
    reminder_gap_s: float = setting(60.0, lo=10.0, hi=600.0,
                                    doc="at most one \"it's your partner's turn\" reminder per this many seconds")
    reminders_per_turn: int = setting(2, lo=0, hi=10, doc="most turn reminders in one turn (0 = never remind)")
    offer_pause: bool = setting(True, doc="a raised voice during a check-in may offer the agreed pause (once)")
