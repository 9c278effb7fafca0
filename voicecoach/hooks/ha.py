"""Home Assistant MQTT discovery: the kiosk as one device with a few sensors and an event entity.

Pure: builds the topics and retained payloads; :mod:`voicecoach.hooks.runtime` sends them. Topics:

- ``<topic>/<node>/availability``: ``online`` / ``offline`` (the broker sends ``offline`` by itself when the kiosk
  vanishes: the MQTT last will), retained;
- ``<topic>/<node>/state``: the kiosk's activity, health and today's counts as JSON, retained;
- ``<topic>/<node>/event``: each event as JSON with ``event_type`` (Home Assistant's ``event`` entity), not retained;
- ``<discovery_prefix>/<component>/<node>/<object>/config``: one discovery message per entity, retained.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .. import __version__
from .events import DETAIL_KINDS, HookKind
from .settings import HookSettings


@dataclass(frozen=True)
class Message:
    """One MQTT message to publish."""

    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True)
class Topics:
    """The kiosk's own topics under ``[hooks] topic``."""

    node: str
    base: str

    @property
    def availability(self) -> str:
        """``online`` / ``offline``."""
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        """The retained state JSON."""
        return f"{self.base}/state"

    @property
    def event(self) -> str:
        """One JSON message per event."""
        return f"{self.base}/event"


def node_id(hostname: str) -> str:
    """A discovery-safe id for this kiosk, from the computer's name (``voicecoach_livingroom_pi``)."""
    return "voicecoach_" + (re.sub(r"[^a-z0-9_]+", "_", hostname.lower()).strip("_") or "kiosk")


def topics_for(settings: HookSettings, hostname: str) -> Topics:
    """The topics of the kiosk on ``hostname``."""
    node = node_id(hostname)
    return Topics(node, f"{settings.topic}/{node}")


# (object id, name, state key, icon, unit); counts are "total_increasing" per day
SENSORS = (
    ("activity", "Activity", "activity", "mdi:account-voice", None),
    ("health", "Health", "health", "mdi:heart-pulse", None),
    ("pauses_suggested_today", "Pauses suggested today", "pauses_suggested_today", "mdi:hand-back-left", "pauses"),
    ("pauses_taken_today", "Pauses taken today", "pauses_taken_today", "mdi:coffee", "pauses"),
    ("pauses_not_now_today", "\"Not now\" today", "pauses_not_now_today", "mdi:clock-outline", "answers"),
    ("checkins_done_today", "Check-ins done today", "checkins_done_today", "mdi:account-heart", "check-ins"),
)
DETAIL_SENSORS = (
    ("raised_voices_today", "Raised voices today", "raised_voices_today", "mdi:volume-high", "moments"),
    ("interruptions_today", "Interruptions today", "interruptions_today", "mdi:account-multiple", "interruptions"),
)


def discovery(settings: HookSettings, topics: Topics, hostname: str) -> list[Message]:
    """The retained discovery messages: one sensor per figure, one event entity for the lifecycle events."""
    device = {"identifiers": [topics.node], "name": f"voicecoach ({hostname})", "manufacturer": "voicecoach",
              "model": "pause-and-check-in kiosk", "sw_version": __version__}
    common = {"availability_topic": topics.availability, "device": device}
    out = []
    sensors = SENSORS + (DETAIL_SENSORS if settings.details else ())
    for obj, name, key, icon, unit in sensors:
        config = {**common, "name": name, "unique_id": f"{topics.node}_{obj}", "state_topic": topics.state,
                  "value_template": f"{{{{ value_json.{key} }}}}", "icon": icon}
        if unit:
            config.update(unit_of_measurement=unit, state_class="total_increasing")
        out.append(_config(settings, "sensor", topics.node, obj, config))
    kinds = [k.value for k in HookKind if settings.details or k not in DETAIL_KINDS]
    event = {**common, "name": "Lifecycle", "unique_id": f"{topics.node}_lifecycle", "state_topic": topics.event,
             "event_types": kinds, "icon": "mdi:bell-outline"}
    out.append(_config(settings, "event", topics.node, "lifecycle", event))
    if not settings.details:  # a sensor left over from when details were on is removed (an empty config)
        out += [Message(f"{settings.discovery_prefix}/sensor/{topics.node}/{obj}/config", b"", True)
                for obj, *_ in DETAIL_SENSORS]
    return out


def _config(settings: HookSettings, component: str, node: str, obj: str, config: dict) -> Message:
    return Message(f"{settings.discovery_prefix}/{component}/{node}/{obj}/config",
                   json.dumps(config, sort_keys=True).encode("utf-8"), retain=True)
