"""Settings of the home page (``[web]``): off unless enabled, this computer only unless an address is named."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..settings import setting

LOOPBACK_NAMES = ("localhost",)


def is_loopback(address: str) -> bool:
    """True for an address only this computer can reach (127.0.0.0/8, ::1, localhost)."""
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebSettings:
    """The kiosk's own page: where it listens and how a phone pairs with it."""

    enabled: bool = setting(False, doc="start the home page together with the kiosk (voicecoach web starts it alone)")
    address: str = setting("127.0.0.1", doc="address to listen on: 127.0.0.1 = this computer only; 0.0.0.0 = "
                                            "every network of this computer (phones need the pairing code)")
    port: int = setting(8470, lo=1024, hi=65535, doc="port to listen on")
    pairing: str = setting("auto", choices=("auto", "always"),
                           doc="auto: a pairing code is needed on any address but this computer's own; "
                               "always: on this computer too")
    code_valid_min: float = setting(10.0, lo=1.0, hi=60.0, doc="a pairing code works for this many minutes, once")
    session_days: float = setting(90.0, lo=1.0, hi=400.0, doc="a paired phone stays paired this many days")
    max_body_kb: int = setting(16, lo=1, hi=1024, doc="largest request body accepted, KB (bigger ones are refused)")

    @property
    def needs_pairing(self) -> bool:
        """True when a browser must pair before it sees anything private."""
        return self.pairing == "always" or not is_loopback(self.address)

    def validate(self) -> str | None:
        """An address that is not an IP address (or localhost), or None."""
        if self.address in LOOPBACK_NAMES:
            return None
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return (f"address = {self.address!r} is not an IP address (use 127.0.0.1 for this computer only, "
                    f"0.0.0.0 for every network, or one of this computer's addresses)")
        return None
