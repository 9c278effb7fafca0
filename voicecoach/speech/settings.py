"""Speech (text-to-speech) settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class SpeechSettings:
    """Voice, rate and volume of the spoken prompts."""

    voice: str = setting("", doc="TTS voice id or part of its name; empty = engine default")
    rate_wpm: int = setting(160, lo=80, hi=300, doc="speaking rate, words per minute")
    volume: float = setting(0.9, lo=0.0, hi=1.0, doc="speech volume, 0..1")
