"""Say one sentence out loud on the way out, bounded in time: for a headless box that cannot start.

The kiosk has no screen: when its settings file is refused, the one line in the journal is all there was, and the
couple heard nothing. :func:`say_bounded` speaks a sentence once with the default speech settings (the config
could not be read) on the default output device or a named one, and returns within ``timeout_s`` whatever the
speech engine or the sound system does: the work runs on a daemon thread that is left behind if it hangs. Its
warnings ("no usable speaker") are not logged meanwhile: the caller gets the reason, and its own error stays the one
line on stderr.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

ANNOUNCE_TIMEOUT_S = 20.0  # a sentence of about 6 s, espeak-ng's start, and opening the device, with room to spare


@dataclass(frozen=True)
class Announced:
    """What became of the sentence: ``spoken`` only when it was played to its end; ``reason`` otherwise."""

    spoken: bool
    reason: str = ""


def say_bounded(text: str, output: str | None = None, timeout_s: float = ANNOUNCE_TIMEOUT_S) -> Announced:
    """Speak ``text`` once with the default speech settings on ``output`` (None: the default device); returns
    within ``timeout_s`` (plus a moment), never raises. voicecoach's warnings are held back meanwhile."""
    outcome: list[Announced] = []
    worker = threading.Thread(target=lambda: outcome.append(_say(text, output, timeout_s)),
                              name="voicecoach-announce", daemon=True)
    package = logging.getLogger("voicecoach")
    level = package.level
    package.setLevel(logging.ERROR)
    try:
        worker.start()
        worker.join(timeout_s)
    finally:
        package.setLevel(level)
    if worker.is_alive() or not outcome:
        return Announced(False, f"the speech did not finish within {timeout_s:.0f} s")
    return outcome[0]


def _say(text: str, output: str | None, timeout_s: float) -> Announced:
    """The speaking itself, on the announcer's thread."""
    try:
        from .settings import SpeechSettings
        from .speaker import Speaker

        speaker = Speaker(SpeechSettings(), output=output)
        try:
            if speaker.problem:
                return Announced(False, speaker.problem)
            result = speaker.say(text).wait(timeout_s)
        finally:
            speaker.stop()
            speaker.close()
    except Exception as exc:  # noqa: BLE001 - the caller is on its way out with its own error line
        log.debug("announcing failed", exc_info=True)
        return Announced(False, f"{type(exc).__name__}: {exc}")
    if result is None:
        return Announced(False, "it did not finish")
    return Announced(result.spoken, result.reason)
