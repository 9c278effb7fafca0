"""What may leave the box: typed, counts-only hook events, and the day's running totals.

An event carries its kind, the wall time, and only labels the product made itself (a check-in script's name, how
a pause ended), never words, never audio. Raised voices and interruptions (and why a pause was suggested) are sent
only when the couple turns ``[hooks] details`` on, and even then as times and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from typing import Any, Callable

Local = Callable[[float], datetime]  # epoch seconds -> local time (aware)


def _process_local(epoch_s: float) -> datetime:
    """Local time in the zone the process started in (a long-running one passes :meth:`LocalTime.at` instead)."""
    return datetime.fromtimestamp(epoch_s).astimezone()


class HookKind(Enum):
    """The lifecycle moments a home can act on."""

    PAUSE_SUGGESTED = "pause_suggested"
    PAUSE_TAKEN = "pause_taken"  # the couple said yes, or asked for the pause themselves
    PAUSE_NOT_NOW = "pause_not_now"
    PAUSE_ENDED = "pause_ended"
    CHECKIN_DUE = "checkin_due"  # a scheduled ritual's time has come (it is offered, consent first)
    CHECKIN_STARTED = "checkin_started"  # they said yes to "Is now a good time?"
    CHECKIN_DONE = "checkin_done"
    HEALTH = "health"  # the kiosk started or stopped, the microphone came or went
    RAISED_VOICE = "raised_voice"  # only with [hooks] details = true
    INTERRUPTION = "interruption"  # only with [hooks] details = true


DETAIL_KINDS = frozenset({HookKind.RAISED_VOICE, HookKind.INTERRUPTION})


class Activity(Enum):
    """What the kiosk is doing, as a Home Assistant sensor shows it."""

    LISTENING = "listening"
    PAUSE = "pause"
    CHECKIN = "check-in"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Health:
    """The kiosk's health as its parts report it (no device names, no words)."""

    running: bool = True
    microphone: bool = False
    speech_model: bool = False

    @property
    def summary(self) -> str:
        """One word or phrase for a sensor: ok, no microphone, no speech model, stopped."""
        if not self.running:
            return "stopped"
        if not self.microphone:
            return "no microphone"
        return "ok" if self.speech_model else "no speech model"


@dataclass(frozen=True)
class DayCounts:
    """Today's totals (local day), as the sensors show them."""

    day: date | None = None
    pauses_suggested: int = 0
    pauses_taken: int = 0
    pauses_not_now: int = 0
    checkins_done: int = 0
    raised_voices: int = 0
    interruptions: int = 0

    def after(self, kind: HookKind, day: date) -> "DayCounts":
        """The totals once an event of ``kind`` happened on ``day`` (a new day starts from zero)."""
        counts = self if self.day == day else DayCounts(day)
        name = _COUNTED.get(kind)
        return replace(counts, **{name: getattr(counts, name) + 1}) if name else counts


_COUNTED = {HookKind.PAUSE_SUGGESTED: "pauses_suggested", HookKind.PAUSE_TAKEN: "pauses_taken",
            HookKind.PAUSE_NOT_NOW: "pauses_not_now", HookKind.CHECKIN_DONE: "checkins_done",
            HookKind.RAISED_VOICE: "raised_voices", HookKind.INTERRUPTION: "interruptions"}


@dataclass(frozen=True)
class HookEvent:
    """One event for the home: what happened and when; labels the product made, no words."""

    kind: HookKind
    at: float  # wall clock, epoch seconds
    checkin: str | None = None  # the script's name (nightly, weekly, ...) for check-in events
    how: str | None = None  # how a pause or check-in ended: finished, stopped, completed, declined, ...
    minutes: float | None = None  # a pause's planned length, or a check-in's length
    reason: str | None = None  # why a pause was suggested: sent only with details
    health: Health | None = None  # for HEALTH events

    def to_dict(self, details: bool = False, local: Local | None = None) -> dict[str, Any]:
        """The JSON form sent to the broker and to the program (``event_type`` as Home Assistant expects).
        ``local``: an epoch time as local time (:meth:`voicecoach.clock.LocalTime.at`; the process's zone if None)."""
        out: dict[str, Any] = {"event_type": self.kind.value,
                               "at": (local or _process_local)(self.at).isoformat(timespec="seconds")}
        for key in ("checkin", "how", "minutes"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 2) if isinstance(value, float) else value
        if self.reason is not None and details:
            out["reason"] = self.reason
        if self.health is not None:
            out["health"] = self.health.summary
            out["microphone"] = self.health.microphone
            out["speech_model"] = self.health.speech_model
        return out


@dataclass
class HomeState:
    """What the home sees of the kiosk: activity, health and today's counts (updated by each event)."""

    activity: Activity = Activity.LISTENING
    health: Health = field(default_factory=Health)
    counts: DayCounts = field(default_factory=DayCounts)

    def apply(self, event: HookEvent, local: Local | None = None) -> None:
        """Update the state with an event (counted on its local day: ``local`` as for :meth:`HookEvent.to_dict`)."""
        self.counts = self.counts.after(event.kind, (local or _process_local)(event.at).date())
        if event.kind is HookKind.PAUSE_TAKEN:
            self.activity = Activity.PAUSE
        elif event.kind is HookKind.CHECKIN_STARTED:
            self.activity = Activity.CHECKIN
        elif event.kind in (HookKind.PAUSE_ENDED, HookKind.CHECKIN_DONE):
            self.activity = Activity.LISTENING
        elif event.kind is HookKind.HEALTH and event.health is not None:
            self.health = event.health
            self.activity = Activity.STOPPED if not event.health.running else \
                Activity.LISTENING if self.activity is Activity.STOPPED else self.activity

    def roll_over(self, day: date) -> bool:
        """Start today's counts from zero on a new day; True when that changed anything."""
        if self.counts.day is None or self.counts.day == day:
            return False
        self.counts = DayCounts(day)
        return True

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        """The retained state message (the sensors read their values from it)."""
        c = self.counts
        out = {"activity": self.activity.value, "health": self.health.summary,
               "microphone": "on" if self.health.microphone else "off",
               "pauses_suggested_today": c.pauses_suggested, "pauses_taken_today": c.pauses_taken,
               "pauses_not_now_today": c.pauses_not_now, "checkins_done_today": c.checkins_done}
        if details:
            out["raised_voices_today"] = c.raised_voices
            out["interruptions_today"] = c.interruptions
        return out


def allowed(event: HookEvent, details: bool) -> bool:
    """True when ``event`` may leave the box under the couple's ``details`` choice."""
    return details or event.kind not in DETAIL_KINDS
