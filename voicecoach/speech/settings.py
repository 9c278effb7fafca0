"""Speech (text-to-speech) settings."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..settings import setting

ENGINES = ("pyttsx3", "espeak-ng")
# Linux: the espeak-ng command first. It is nearly as fast as pyttsx3 over libespeak-ng (22 vs 19 ms a prompt), and
# each utterance is its own process, so a crash or hang in espeak cannot take the product down (pyttsx3's read past
# the text, see engines._fix_synth_size, crashed ``demo`` in CI). Elsewhere pyttsx3 drives the system's voice.
DEFAULT_ENGINES = ("espeak-ng", "pyttsx3") if sys.platform.startswith("linux") else ENGINES


@dataclass(frozen=True)
class SpeechSettings:
    """Voice, rate and volume of the spoken prompts, and how synthesis is guarded."""

    voice: str = setting("", doc="TTS voice id or part of its name (e.g. en-us, en+f3); empty = engine default")
    rate_wpm: int = setting(160, lo=80, hi=300, doc="speaking rate, words per minute")
    volume: float = setting(0.9, lo=0.0, hi=1.0, doc="speech volume, 0..1")
    engines: tuple[str, ...] = setting(DEFAULT_ENGINES, doc="synthesis engines tried in order ('espeak-ng', "
                                       "'pyttsx3'; Linux: espeak-ng first); a short tone and the text last")
    synth_timeout_s: float = setting(2.0, lo=0.2, hi=60.0,
                                     doc="give up on one synthesis after this long (plus 20 ms per character)")
    engine_restarts: int = setting(3, lo=0, hi=100,
                                   doc="failures in a row (a hang, no audio) an engine may have before it rests")
    engine_rest_s: float = setting(600.0, lo=0.0, hi=86400.0,
                                   doc="how long a failing engine is skipped before it is tried again")
    cache_prompts: int = setting(64, lo=0, hi=10000, doc="rendered prompts kept in memory (LRU); 0 = no cache")
    block_ms: int = setting(40, lo=5, hi=200, doc="audio handed to the output per block; bounds stop() delay")

    def validate(self) -> str | None:
        """A problem with the combination of values, or None."""
        unknown = [e for e in self.engines if e not in ENGINES]
        if unknown:
            return f"engines: unknown engine {unknown[0]!r} (choose from: {', '.join(ENGINES)})"
        return None

    def timeout_for(self, text: str) -> float:
        """Seconds allowed to synthesise ``text``."""
        return self.synth_timeout_s + 0.02 * len(text)
