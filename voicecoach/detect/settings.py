"""Detection settings (all thresholds of the detectors live here)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import setting


@dataclass(frozen=True)
class DetectionSettings:
    """Detector thresholds."""

    vad_aggressiveness: int = setting(2, lo=0, hi=3, doc="webrtcvad aggressiveness (0 = least, 3 = most)")
