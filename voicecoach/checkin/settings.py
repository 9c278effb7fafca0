"""Check-in settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class CheckinSettings:
    """Check-in behaviour."""

    more_time_s: float = setting(60.0, lo=10.0, hi=600.0, doc="seconds added by 'more time'")
