"""Interruption: one partner starts while the other holds the floor, and keeps going.

On one microphone an overlap shows as the level jumping above the floor holder's own level (two voices add up:
overlapped frames are 3-14 dB louder) and the voice features moving away from the holder towards the other
partner, with no gap. A candidate starts at the first such frame; it becomes an interruption when the evidence
covers ``evidence_fraction`` of the next ``sustain_ms`` of speech; shorter bursts are backchannels ("mm-hm").
"""

from __future__ import annotations

import math

import numpy as np

from ..events import Interruption
from .features import FrameFeatures
from .settings import InterruptionSettings

SHORT_FRAMES_MS = 240      # the "now" level is averaged over this much speech
HOLDER_LEVEL_RATE = 0.03   # per speech frame: how fast the holder's own level is followed
CHANGE_MARGIN = 0.1        # the window must be this much nearer the other partner than the holder


class InterruptionDetector:
    """Emits :class:`Interruption` (who interrupted whom) from frames, labels and voice distances."""

    def __init__(self, settings: InterruptionSettings, frame_ms: int = 30, gap_ms: int = 240) -> None:
        self.settings = settings
        self.frame_s = frame_ms / 1000.0
        self._floor_n = max(1, settings.floor_ms // frame_ms)
        self._sustain_n = max(1, settings.sustain_ms // frame_ms)
        self._short_n = max(1, SHORT_FRAMES_MS // frame_ms)
        self._gap_n = max(1, gap_ms // frame_ms)
        self.reset()

    def reset(self) -> None:
        """Forget the floor and any candidate."""
        self.holder: str | None = None
        self._run = 0               # speech frames since the last gap
        self._silence = 0
        self._holder_db: float | None = None
        self._holder_power: float | None = None
        self._short = np.zeros(self._short_n)
        self._short_pos = 0
        self._cand_frames = 0       # frames since the candidate began (0 = none)
        self._cand_hits = 0
        self._cand_onset = 0.0
        self._last_s = -1e9
        self.evidence = False

    def process(self, feats: FrameFeatures, label: str | None, distances: dict[str, float],
                muted: bool = False) -> list[Interruption]:
        """Take one frame, the current partner label and the recent window's distance to each partner."""
        self.evidence = False
        if muted:
            return []
        if not feats.is_speech:
            self._silence += 1
            if self._silence >= self._gap_n:
                self._run = 0
                self.holder = None
                self._cand_frames = 0
                self._holder_power = None   # the next stretch may be the other partner
            return []
        self._silence = 0
        self._run += 1
        power = 10.0 ** (feats.energy_db / 10.0)
        self._short[self._short_pos] = power
        self._short_pos = (self._short_pos + 1) % self._short_n
        if self.holder is None:
            if label is not None and self._run >= self._floor_n:
                self.holder = label
            self._follow_holder(feats.energy_db)
            return []
        now_db = 10.0 * math.log10(self._short.mean() + 1e-12)
        self.evidence = self._is_evidence(now_db, distances)
        if self._cand_frames == 0:
            if self.evidence and feats.end_s - self._last_s >= self.settings.refractory_s:
                self._cand_frames, self._cand_hits = 1, 1
                self._cand_onset = feats.end_s - self._short_n * self.frame_s / 2
            else:
                self._follow_holder(feats.energy_db)
            return []
        self._cand_frames += 1
        self._cand_hits += int(self.evidence)
        if self._cand_frames < self._sustain_n:
            return []
        done = self._cand_hits >= self.settings.evidence_fraction * self._cand_frames
        self._cand_frames = 0
        if not done:
            return []   # a backchannel or a loud word: the holder keeps the floor
        over = self.holder
        speaker = self._other(over, distances)
        self._last_s = feats.end_s
        self.holder = speaker
        self._holder_power = 10.0 ** (now_db / 10.0)
        self._holder_db = now_db
        return [Interruption(t=feats.end_s, start=round(self._cand_onset, 3), speaker=speaker, over=over)]

    def _is_evidence(self, now_db: float, distances: dict[str, float]) -> bool:
        """Louder than the holder's own level, or sounding nearer the other partner."""
        s = self.settings
        jump = self._holder_db is not None and now_db - self._holder_db >= s.jump_db
        other = [d for k, d in distances.items() if k != self.holder]
        own = distances.get(self.holder)
        changed = bool(other) and own is not None and min(other) + CHANGE_MARGIN < own and own >= s.change_distance
        return jump or changed

    def _follow_holder(self, energy_db: float) -> None:
        """Track the holder's own speaking level (a running mean of power, in dB)."""
        power = 10.0 ** (energy_db / 10.0)
        self._holder_power = power if self._holder_power is None else (
            self._holder_power + HOLDER_LEVEL_RATE * (power - self._holder_power))
        self._holder_db = 10.0 * math.log10(self._holder_power + 1e-12)

    @staticmethod
    def _other(holder: str | None, distances: dict[str, float]) -> str | None:
        """The partner who is not the holder (None while only one partner is known)."""
        for label in ("A", "B"):
            if label != holder and (label in distances or holder is not None):
                return label
        return None
