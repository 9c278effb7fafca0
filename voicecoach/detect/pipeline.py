"""The detection pipeline: frames -> features -> detectors -> events.

The same object runs in ``voicecoach analyze`` (as fast as the file can be read) and in the live loop (one frame
every 30 ms), so a WAV replays exactly what happens live. Pure: no threads, no devices, no wall clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..audio.frames import Frame
from ..events import Event
from .settings import DetectionSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame measurements."""

    start_sample: int
    is_speech: bool
    energy_db: float


class Pipeline:
    """Runs every detector over a stream of frames and returns their events."""

    def __init__(self, settings: DetectionSettings | None = None, frame_ms: int = 30) -> None:
        import webrtcvad  # the only importer of webrtcvad

        self.settings = settings or DetectionSettings()
        self.frame_ms = frame_ms
        self._vad = webrtcvad.Vad(self.settings.vad_aggressiveness)
        self.last: FrameFeatures | None = None
        self.frames_seen = 0

    def process(self, frame: Frame, muted: bool = False) -> list[Event]:
        """Take one frame; return the events it completes. ``muted``: the product is speaking (no detection)."""
        x = frame.samples.astype(np.float32)
        energy_db = float(10.0 * np.log10(np.mean(x * x) / (32768.0 ** 2) + 1e-10))
        is_speech = self._vad.is_speech(frame.samples.tobytes(), frame.sample_rate)
        self.last = FrameFeatures(frame.start_sample, is_speech, energy_db)
        self.frames_seen += 1
        return []

    def flush(self) -> list[Event]:
        """End of stream: events still pending."""
        return []

    def reset(self) -> None:
        """Forget everything learned (a new talk)."""
        self.last = None
        self.frames_seen = 0
