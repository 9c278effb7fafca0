"""Speaking: text-to-speech rendered to audio and played through the product's own output stream.

``from voicecoach.speech import Speaker`` (imported lazily: config loading imports this package for its settings).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Speaker", "SpeechSettings", "Rendered"]


def __getattr__(name: str) -> Any:
    """Import the public classes on first use."""
    if name == "Speaker":
        from .speaker import Speaker

        return Speaker
    if name == "Rendered":
        from .synth import Rendered

        return Rendered
    if name == "SpeechSettings":
        from .settings import SpeechSettings

        return SpeechSettings
    raise AttributeError(name)
