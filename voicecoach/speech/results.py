"""What really happened to a prompt: spoken, only a tone, not heard at all, or stopped (a typed result).

``Speaker.say()`` returns a :class:`PendingSpeech`; its :meth:`~PendingSpeech.wait` gives the
:class:`SpeechResult` once the prompt has been played (or could not be), so a caller never claims "spoken" for a
prompt nobody heard.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum


class Delivery(Enum):
    """How a prompt ended."""

    SPOKEN = "spoken"  # speech played through the output to its end (or written to the WAV file)
    TONE = "tone"  # no speech engine worked: only the fallback tone was played
    NOT_HEARD = "not_heard"  # no usable output device (or it failed during the prompt): nothing was played
    STOPPED = "stopped"  # cut or dropped by stop(), or the speaker was closed first


@dataclass(frozen=True)
class SpeechResult:
    """The outcome of one prompt: its text, how it ended, and why when it was not spoken."""

    text: str
    delivery: Delivery
    reason: str = ""  # e.g. "no usable output device (...)"; empty when spoken

    @property
    def spoken(self) -> bool:
        """True only when the words were played to their end."""
        return self.delivery is Delivery.SPOKEN


class PendingSpeech:
    """A queued prompt; :meth:`wait` returns its :class:`SpeechResult` when it is done."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._done = threading.Event()
        self._result: SpeechResult | None = None

    def resolve(self, delivery: Delivery, reason: str = "") -> None:
        """Record the outcome (the first one counts)."""
        if self._result is None:
            self._result = SpeechResult(self.text, delivery, reason)
            self._done.set()

    def done(self) -> bool:
        """True once the outcome is known."""
        return self._done.is_set()

    def wait(self, timeout_s: float | None = None) -> SpeechResult | None:
        """The outcome, waiting up to ``timeout_s`` (None: as long as it takes); None if still pending."""
        self._done.wait(timeout_s)
        return self._result
