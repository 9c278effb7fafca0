"""Settings of the local hooks (``[hooks]``): an MQTT broker at home and/or a local program; both off by default."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..settings import setting, shown_value

MQTT_PORT = 1883
MQTT_STRING_MAX_BYTES = 65535  # MQTT 3.1.1 section 1.5.3: a UTF-8 string (topic, user name) is at most 65535 bytes
MQTT_TOPIC_MAX_BYTES = MQTT_STRING_MAX_BYTES
# the kiosk adds its own levels under a prefix: "/sensor/voicecoach_<host>/pauses_suggested_today/config" is the
# longest, about 300 bytes for a 255-character host name
KIOSK_LEVELS_MAX_BYTES = 512
TOPIC_PREFIX_MAX_BYTES = MQTT_TOPIC_MAX_BYTES - KIOSK_LEVELS_MAX_BYTES


@dataclass(frozen=True)
class BrokerAddress:
    """Where the MQTT broker is, from ``mqtt://[user:password@]host[:port]``."""

    host: str
    port: int = MQTT_PORT
    username: str | None = None
    password: str | None = None


TLS_SCHEMES = ("mqtts", "ssl", "tls", "mqtt+ssl", "mqtt+tls")
EXAMPLE = "write it as \"mqtt://homeassistant.local:1883\""


def shown(url: str, limit: int = 80) -> str:
    """``url`` as an error message may show it: a password in it replaced by ``***`` (even one that broke it), and
    cut to ``limit`` characters (a huge value would fill the screen)."""
    text = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://[user:password@]host[:port]`` -> :class:`BrokerAddress` (user and password percent-decoded, as in
    any URL: ``%40`` for ``@``); ValueError naming what is wrong (never showing the password)."""
    parts = urlsplit(url)
    if parts.scheme.lower() in TLS_SCHEMES:
        raise ValueError(f"{shown(url)!r}: TLS is not supported; voicecoach sends counts only, in plain MQTT, to a "
                         f"broker on the home network: give the broker's plain listener, mqtt://host:1883")
    if parts.scheme != "mqtt":
        raise ValueError(f"{shown(url)!r} does not start with mqtt:// ({EXAMPLE})")
    if not parts.hostname:
        raise ValueError(f"{shown(url)!r} names no host ({EXAMPLE})")
    if any(c.isspace() or not c.isprintable() for c in parts.hostname):
        raise ValueError(f"{shown(url)!r}: a host name has no spaces ({EXAMPLE})")
    try:  # what the socket does with it: an empty or over-long part escaped as a UnicodeError, not a refusal
        parts.hostname.encode("idna")
    except UnicodeError:
        raise ValueError(f"{shown(url)!r}: the host name has a part between dots that is empty or longer than 63 "
                         f"characters ({EXAMPLE})") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{shown(url)!r}: only mqtt://host:port is allowed, no path or query (in a password, "
                         f"write # as %23, / as %2F and ? as %3F)")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{shown(url)!r}: the port must be a number from 1 to 65535")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    for what, value in (("user name", user), ("password", password)):
        if value is not None and len(value.encode("utf-8")) > MQTT_STRING_MAX_BYTES:
            raise ValueError(f"{shown(url)!r}: the {what} is longer than MQTT allows ({MQTT_STRING_MAX_BYTES} bytes "
                             f"UTF-8): give the one the broker has")
    return BrokerAddress(parts.hostname, port or MQTT_PORT, user, password)


def topic_prefix_problem(name: str, value: str, default: str) -> str | None:
    """Why ``value`` cannot be the MQTT topic prefix ``name`` (the fix said, ``default`` as the example), or None."""
    example = f'(e.g. {name} = "{default}")'
    for c in value:
        if c.isspace() or unicodedata.category(c) in ("Cc", "Cs"):
            return (f"{name} = {shown_value(value)} has a space or control character (U+{ord(c):04X}) in it, which "
                    f"an MQTT topic cannot carry: use letters, digits, - _ and inner / only {example}")
    if not value or any(c in value for c in "#+"):
        return (f"{name} = {shown_value(value)} is not a usable MQTT topic: # and + are wildcards, not allowed when "
                f"publishing; use letters, digits, - _ and inner / only {example}")
    if "" in value.split("/"):  # "a//b", "/a", "a/": a level with no name, a typo that makes another topic
        return (f"{name} = {shown_value(value)} has an empty level (// or a / at its start or end), which makes a "
                f"different topic from the one meant: use letters, digits, - _ and a single / between levels "
                f"{example}")
    if value.startswith("$"):  # MQTT 3.1.1, 4.7.2: kept for the broker's own use ($SYS)
        return (f"{name} = {shown_value(value)} starts with $, which MQTT keeps for the broker's own topics (a "
                f"subscription to # does not see them, and a broker may refuse them): start it with a letter or "
                f"digit {example}")
    size = len(value.encode("utf-8"))
    if size > TOPIC_PREFIX_MAX_BYTES:
        return (f"{name} is {size} bytes long (UTF-8); an MQTT topic is at most {MQTT_TOPIC_MAX_BYTES} bytes and the "
                f"kiosk adds up to {KIOSK_LEVELS_MAX_BYTES} of its own: shorten it to at most "
                f"{TOPIC_PREFIX_MAX_BYTES} bytes {example}")
    return None


@dataclass(frozen=True)
class HookSettings:
    """Counts-only events for the home the kiosk lives in. Never words, never audio."""

    mqtt: str = setting("", doc="MQTT broker to publish events to, mqtt://[user:password@]host:port (Home "
                                "Assistant finds the kiosk by MQTT discovery; a password's # / ? written %23 %2F "
                                "%3F); empty = off")
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
            problem = topic_prefix_problem(name, getattr(self, name), getattr(HookSettings, name))
            if problem:
                return problem
        if self.command and not self.command[0]:
            return "command: the first item must be the program to run"
        return None
