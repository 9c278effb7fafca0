"""Settings of the local hooks (``[hooks]``): an MQTT broker at home and/or a local program; both off by default."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..settings import setting

MQTT_PORT = 1883


@dataclass(frozen=True)
class BrokerAddress:
    """Where the MQTT broker is, from ``mqtt://[user:password@]host[:port]``."""

    host: str
    port: int = MQTT_PORT
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://host:port`` -> :class:`BrokerAddress`; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"{url!r} does not start with mqtt:// (write it as \"mqtt://homeassistant.local:1883\")")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host (write it as \"mqtt://homeassistant.local:1883\")")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: only mqtt://host:port is allowed, no path or query")
    try:
        port = parts.port or MQTT_PORT
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535") from None
    return BrokerAddress(parts.hostname, port, parts.username, parts.password)


@dataclass(frozen=True)
class HookSettings:
    """Counts-only events for the home the kiosk lives in. Never words, never audio."""

    mqtt: str = setting("", doc="MQTT broker to publish events to, mqtt://host:port (Home Assistant finds the kiosk "
                                "by MQTT discovery); empty = off")
    topic: str = setting("voicecoach", doc="topic prefix for the kiosk's own topics")
    discovery_prefix: str = setting("homeassistant", doc="Home Assistant's MQTT discovery prefix")
    command: tuple[str, ...] = setting((), doc="a local program and its arguments, run with each event as JSON on "
                                               "stdin (no shell), e.g. [\"/usr/local/bin/on-voicecoach\"]; [] = off")
    command_timeout_s: float = setting(10.0, lo=1.0, hi=300.0, doc="the program is stopped after this many seconds")
    details: bool = setting(False, doc="also send each raised voice and interruption, and why a pause was suggested "
                                       "(times and counts only, never words or audio)")

    @property
    def enabled(self) -> bool:
        """True when any hook is configured."""
        return bool(self.mqtt or self.command)

    def validate(self) -> str | None:
        """A broker address or topic that cannot work, or None."""
        if self.mqtt:
            try:
                parse_mqtt_url(self.mqtt)
            except ValueError as exc:
                return f"mqtt = {exc}"
        for name in ("topic", "discovery_prefix"):
            value = getattr(self, name)
            if not value or any(c in value for c in "#+ ") or value.startswith("/") or value.endswith("/"):
                return f"{name} = {value!r} is not a usable MQTT topic (letters, digits, - _ and inner /)"
        if self.command and not self.command[0]:
            return "command: the first item must be the program to run"
        return None
