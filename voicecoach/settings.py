"""Helpers for declaring validated settings: ``setting(default, lo=, hi=, choices=, doc=)``.

Each domain declares its own frozen dataclass of settings next to its code; :mod:`voicecoach.config` composes
them, reads TOML and validates every value against the bounds declared here, naming the dotted key on error.
Field names carry their unit (``hold_ms``, ``margin_db``, ``length_min``).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, *, lo: float | None = None, hi: float | None = None,
            choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A dataclass field with a default, an allowed range or set of choices, and a one-line description."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc}
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for list settings")
    return field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A nested settings section field whose default is the section's defaults."""
    return field(default_factory=cls)
