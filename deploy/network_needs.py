"""What the kiosk's config needs from its sandbox, for scripts/install-kiosk.

With no argument it prints the network it needs: "none", "lan" or "any", then why. "lan": the home page ([web]
enabled), or an MQTT broker on this computer or the home network. "any": a broker elsewhere, or a hook program
([hooks] command), which may reach whatever its owner made it reach. With ``--config-writes`` it prints "yes" when
the service writes its own config file (the home page's Rituals form saves the schedule there), else "no".
Reads the config named by VOICECOACH_CONFIG_DIR (a config that cannot be read is an error: install-kiosk then keeps
the network off and the config read-only).
"""

from __future__ import annotations

import ipaddress
import sys
from urllib.parse import urlsplit

from voicecoach.config import load_config

HOME_SUFFIXES = (".local", ".lan", ".home.arpa")


def at_home(host: str) -> bool:
    """True for this computer or an address (or mDNS name) on the home network."""
    if host in ("", "localhost") or host.endswith(HOME_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def needs() -> str:
    """The line install-kiosk reads: the reach, a space, and the reason."""
    config = load_config()
    if config.hooks.command:
        return "any a hook program is configured ([hooks] command)"
    if config.hooks.mqtt and not at_home(urlsplit(config.hooks.mqtt).hostname or ""):
        return "any the MQTT broker is outside the home network ([hooks] mqtt)"
    if config.web.enabled:
        return "lan the home page is on ([web] enabled)"
    if config.hooks.mqtt:
        return "lan an MQTT broker at home is configured ([hooks] mqtt)"
    return "none"


def config_writes() -> str:
    """"yes" when the service writes its config file (the page's Rituals form), else "no"."""
    return "yes" if load_config().web.enabled else "no"


if __name__ == "__main__":
    print(config_writes() if sys.argv[1:] == ["--config-writes"] else needs())
