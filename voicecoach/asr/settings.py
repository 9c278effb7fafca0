"""Command recognition settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class CommandSettings:
    """Spoken commands and the Vosk model."""

    language: str = setting("en", doc="language pack for command phrases")
    model: str = setting("", doc="Vosk model name or path; empty = the language's default small model")
