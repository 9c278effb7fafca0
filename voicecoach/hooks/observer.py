"""The live loop's notices, turned into hook events: an :class:`~voicecoach.notices.Observer` for the hooks.

A pure mapping (:func:`hook_event_for`) from each typed notice to the event the home may see, plus the kiosk's
health as it changes. Prompts (``Said``) never become events: even the product's own words stay home.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import notices as n
from ..events import Interruption, RaisedVoice
from ..records import (Answer, CheckinEnded, CheckinStarted, PauseEnded, PauseStarted, SuggestionAnswered,
                       SuggestionMade)
from .events import Health, HookKind
from .runtime import Hooks


def hook_event_for(notice: Any) -> tuple[HookKind, dict[str, Any]] | None:
    """The hook event (kind and fields) for a notice, or None when the home has nothing to learn from it."""
    if isinstance(notice, SuggestionMade):
        return HookKind.PAUSE_SUGGESTED, {"reason": notice.reason}
    if isinstance(notice, SuggestionAnswered):
        return (HookKind.PAUSE_NOT_NOW, {}) if notice.answer is Answer.NOT_NOW else None
    if isinstance(notice, PauseStarted):
        return HookKind.PAUSE_TAKEN, {"minutes": notice.planned_min, "how": "asked for" if notice.manual
                                      else "offered"}
    if isinstance(notice, PauseEnded):
        return HookKind.PAUSE_ENDED, {"how": notice.how.value, "minutes": round(notice.actual_min, 2)}
    if isinstance(notice, n.CheckinDue):
        return HookKind.CHECKIN_DUE, {"checkin": notice.name}
    if isinstance(notice, CheckinStarted):
        return HookKind.CHECKIN_STARTED, {"checkin": notice.name}
    if isinstance(notice, CheckinEnded):
        return HookKind.CHECKIN_DONE, {"checkin": notice.name, "how": notice.outcome.value,
                                       "minutes": round(notice.minutes, 2)}
    if isinstance(notice, RaisedVoice):
        return HookKind.RAISED_VOICE, {}
    if isinstance(notice, Interruption):
        return HookKind.INTERRUPTION, {}
    return None


def health_after(health: Health, notice: Any) -> Health:
    """The kiosk's health once ``notice`` happened (unchanged for notices that say nothing about it)."""
    if isinstance(notice, n.TalkStarted):
        return replace(health, running=True)
    if isinstance(notice, n.TalkEnded):
        return replace(health, running=False, microphone=False)
    if isinstance(notice, n.MicOpened):
        return replace(health, microphone=True)
    if isinstance(notice, (n.MicLost, n.MicWaiting)):
        return replace(health, microphone=False)
    if isinstance(notice, n.Health) and notice.part is n.Part.SPEECH_MODEL:
        return replace(health, speech_model=notice.ok)
    return health


class HookObserver:
    """Sends each notice the home may learn about to the hooks (queued: returns at once)."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.health = Health(running=False)

    def notify(self, notice: Any) -> None:
        """One notice of the live loop."""
        health = health_after(self.health, notice)
        if health != self.health or isinstance(notice, n.TalkStarted):  # the start is always announced
            self.health = health
            self.hooks.send(HookKind.HEALTH, health=health)
        found = hook_event_for(notice)
        if found is not None:
            kind, fields = found
            self.hooks.send(kind, **fields)
