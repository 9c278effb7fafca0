"""Command recognition settings: the language pack, the Vosk model, and the double-clap signal.

``[commands]`` holds the spoken-command settings, ``[commands.clap]`` the double-clap detector's thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import section, setting


@dataclass(frozen=True)
class ClapSettings:
    """The agreed signal without words: two sharp claps 0.2-0.8 s apart mean "pause" (or "yes" to an offer)."""

    enabled: bool = setting(True, doc="listen for the double clap")
    block_ms: int = setting(5, lo=2, hi=10, doc="energy envelope resolution, ms")
    min_level_dbfs: float = setting(-40.0, lo=-70.0, hi=0.0, doc="a clap peak is at least this loud, dBFS")
    rise_db: float = setting(14.0, lo=3.0, hi=60.0,
                             doc="a clap rises this far above the level before it, dB")
    rise_ms: int = setting(10, lo=2, hi=50, doc="... within this long (a fast attack), ms")
    pre_ms: int = setting(40, lo=5, hi=500, doc="the quiet stretch before the rise that it is measured against, ms")
    context_ms: int = setting(300, lo=50, hi=3000, doc="surrounding audio a clap must stand out from, ms")
    over_context_db: float = setting(
        10.0, lo=0.0, hi=60.0,
        doc="a clap peaks this far above the surrounding audio's sustained level (80th percentile), dB")
    decay_db: float = setting(12.0, lo=3.0, hi=60.0, doc="a clap then falls this far below its peak, dB")
    decay_ms: int = setting(100, lo=10, hi=300, doc="... within this long after the peak (short, unlike speech), ms")
    min_high_ratio: float = setting(0.35, lo=0.0, hi=1.0,
                                    doc="share of the transient's energy above 1.5 kHz (broadband, unlike a door thud)")
    min_gap_s: float = setting(0.2, lo=0.05, hi=2.0, doc="the second clap comes at least this long after the first, s")
    max_gap_s: float = setting(0.8, lo=0.1, hi=3.0, doc="... and at most this long after it, s")
    quiet_before_s: float = setting(0.6, lo=0.0, hi=3.0,
                                    doc="no other transient this long before the first clap (not applause or knocking), s")
    quiet_after_s: float = setting(0.5, lo=0.0, hi=3.0,
                                   doc="no third transient this long after the second clap (delays the signal), s")
    refractory_s: float = setting(1.5, lo=0.0, hi=30.0, doc="after a double clap, ignore claps this long, s")

    def validate(self) -> str | None:
        """Cross-field check: the gap range must be a range."""
        if self.min_gap_s >= self.max_gap_s:
            return f"min_gap_s ({self.min_gap_s}) must be less than max_gap_s ({self.max_gap_s})"
        return None


@dataclass(frozen=True)
class CommandSettings:
    """Spoken commands and the Vosk model."""

    language: str = setting("en", doc="language pack for command phrases: a code (en, ko, ...) or a .toml path")
    model: str = setting("", doc="Vosk model name or path; empty = the language's default small model")
    partial_stable_ms: int = setting(
        250, lo=0, hi=2000,
        doc="accept a command from a partial result once it has held this long unchanged (0 = at once), ms")
    anytime: tuple[str, ...] = setting(
        ("pause", "leave_note", "play_notes"),
        doc="commands heard even when no answer is awaited (empty = the recognizer idles then)")
    clap: ClapSettings = section(ClapSettings)

    def validate(self) -> str | None:
        """Cross-field check: ``anytime`` names known commands."""
        from .lang import COMMAND_NAMES

        unknown = [name for name in self.anytime if name not in COMMAND_NAMES]
        if unknown:
            return f"anytime: unknown command {unknown[0]!r} (known: {', '.join(COMMAND_NAMES)})"
        return None
