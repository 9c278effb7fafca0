"""Log records whose fact a lifecycle notice (:mod:`voicecoach.notices`) also carries.

``listen`` and ``checkin`` show such a fact only through the log ("microphone open: device 2 at 48000 Hz", "check-in
nightly ended: completed"); the kiosk prints every notice as a line of its own ("voicecoach: microphone open (device
2, 48000 Hz)"), and the service's journal keeps stdout and stderr together, so each fact stood there twice. A record
logged with ``extra=NOTICED`` is one of those: :class:`DropNoticed` on the kiosk's log handlers leaves it out.
"""

from __future__ import annotations

import logging

NOTICED = {"noticed": True}


class DropNoticed(logging.Filter):
    """Leave out the records logged with ``extra=NOTICED`` (a front end that prints the notices itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record whose fact a notice carries."""
        return not getattr(record, "noticed", False)
