"""Interruption: one partner starts while the other holds the floor, and keeps going.

On one microphone an overlap shows as the voice features moving from the floor holder towards the other partner
with no gap, and the level rising above the holder's own (two voices add up: overlapped frames are 3-14 dB
louder). Each speech frame scores (voice contrast + weight x level above the holder); a CUSUM accumulates the
scores above a drift, so the holder's own speech keeps it at zero. An interruption is emitted when the sum
passes a threshold and has been growing for at least ``sustain_ms``; shorter bursts are backchannels.
"""

from __future__ import annotations

import math

import numpy as np

from ..events import Interruption
from .features import FrameFeatures
from .settings import InterruptionSettings

HOLDER_LEVEL_RATE = 0.03   # per speech frame: how fast the holder's own level is followed
LEVEL_CLIP_DB = 10.0       # one very loud frame must not decide alone...
LEVEL_FLOOR_DB = 3.0        # ...but a softer interrupter, once the holder stops, costs little evidence
TIMBRE_CLIP = 2.5          # one odd frame must not decide alone
FIT_RATE = 0.02
SNR_SPAN_DB = 10.0         # each 10 dB of SNR below clean_snr_db adds one threshold's worth of evidence
MAX_NOISE_FACTOR = 3.0
GROWING_MS = 210           # at emission the evidence must have grown over this last stretch (not a fading "mm-hm")
UNVOICED_GAP_MS = 300      # this long with no pitch is no one's voice (a hiss, a door, a tap): it ends the floor
LOOKBACK_S = 2.0           # an overlap lasts up to ~2 s: earlier evidence within this is the same interrupter


class InterruptionDetector:
    """Emits :class:`Interruption` (who interrupted whom) from frames, labels and voice distances."""

    def __init__(self, settings: InterruptionSettings, frame_ms: int = 30, gap_ms: int = 240) -> None:
        self.settings = settings
        self.frame_s = frame_ms / 1000.0
        self._floor_n = max(1, settings.floor_ms // frame_ms)
        self._sustain_n = max(1, settings.sustain_ms // frame_ms)
        self._gap_n = max(1, gap_ms // frame_ms)
        self._grow_n = max(1, GROWING_MS // frame_ms)
        self._unvoiced_gap_n = max(1, UNVOICED_GAP_MS // frame_ms)
        self._frame_scale = frame_ms / 30.0   # evidence is counted per 30 ms, whatever the frame size
        self.reset()

    def reset(self) -> None:
        """Forget the floor and any candidate."""
        self.holder: str | None = None
        self._run = 0               # speech frames since the last gap
        self._silence = 0
        self._holder_db: float | None = None
        self._holder_power: float | None = None
        self._cusum = 0.0           # accumulated evidence that someone else is speaking too
        self._recent = np.zeros(self._grow_n)   # the last few CUSUM values (is it still growing?)
        self._recent_pos = 0
        self._onset_s = 0.0
        self._first_onset_s = -1e9  # where the earliest recent burst of evidence began (the overlap's start)
        self._unvoiced = 0
        self._fit_sum, self._fit_n = 0.0, 0
        self._holder_fit = 0.0
        self._last_s = -1e9
        self.evidence = False

    def process(self, feats: FrameFeatures, label: str | None,
                contrast: tuple[float, float, float, float] | None,
                muted: bool = False) -> list[Interruption]:
        """Take one frame, the stretch's partner label and the frame's voice contrast (other vs holder)."""
        self.evidence = False
        if muted:
            return []
        if not feats.is_speech or feats.quiet:
            self._silence += 1
            if self._silence >= self._gap_n:
                self._end_floor()
            return []
        self._silence = 0
        self._unvoiced = self._unvoiced + 1 if feats.f0_hz <= 0.0 else 0
        if self._unvoiced >= self._unvoiced_gap_n:
            self._end_floor()   # a voice is not unvoiced this long: the floor is free (a noise filled the gap)
            return []
        self._run += 1
        if self.holder is None:
            if label is not None and self._run >= self._floor_n:
                self.holder = label
            self._follow_holder(feats.energy_db)
            return []
        s = self.settings
        level = max(-LEVEL_FLOOR_DB, min(LEVEL_CLIP_DB, feats.energy_db - (self._holder_db or feats.energy_db)))
        if contrast is None:
            score = -1.0
        else:
            timbre, pitch, fit_holder, fit_other = contrast
            timbre = s.timbre_weight * max(-TIMBRE_CLIP, min(TIMBRE_CLIP, timbre))
            pitch = s.pitch_weight * pitch
            if feats.f0_hz <= 0.0 and s.unvoiced_neutral:
                return []   # unvoiced: too little evidence either way, the sum stays as it is
            # both must point at the other partner: a rising pitch or an odd vowel alone is the holder's own;
            # partners of the same pitch (contrast 0) are told apart by timbre alone
            voice = min(timbre, pitch) if pitch != 0.0 else timbre
            score = voice + s.level_weight_per_db * level
        before = self._cusum
        self._cusum = max(0.0, self._cusum + (score - s.drift) * self._frame_scale)
        self.evidence = self._cusum > 0.0
        then = self._recent[self._recent_pos]
        self._recent[self._recent_pos] = self._cusum
        self._recent_pos = (self._recent_pos + 1) % self._grow_n
        if before == 0.0 and self._cusum > 0.0:
            self._onset_s = feats.end_s - self.frame_s
            if self._onset_s - self._first_onset_s > LOOKBACK_S:
                self._first_onset_s = self._onset_s
            self._fit_sum, self._fit_n = 0.0, 0
        if self._cusum == 0.0:
            self._follow_holder(feats.energy_db)
            if contrast is not None:   # how well the holder's own frames fit their voice model
                self._holder_fit += FIT_RATE * (contrast[2] - self._holder_fit) if self._holder_fit else contrast[2]
            return []
        if contrast is not None:
            self._fit_sum += contrast[3]
            self._fit_n += 1
        age_s = feats.end_s - self._onset_s
        # features are less trustworthy in noise: ask for more evidence the lower the signal-to-noise ratio
        snr_db = min(feats.snr_db, (self._holder_db or 0.0) - (feats.bed_db or -100.0))
        threshold = s.threshold * min(MAX_NOISE_FACTOR, max(1.0, 1.0 + (s.clean_snr_db - snr_db) / SNR_SPAN_DB))
        if (self._cusum < threshold or age_s < s.sustain_ms / 1000.0 or self._cusum <= then
                or feats.end_s - self._last_s < s.refractory_s):
            return []
        if self._holder_fit and self._fit_n and self._fit_sum / self._fit_n > s.fit_ratio * self._holder_fit:
            return []   # not like the other partner's voice either: a laugh, a dog, a door, the TV
        over = self.holder
        speaker = None if over is None else ("B" if over == "A" else "A")
        self._last_s = feats.end_s
        self._cusum = 0.0
        self.holder = speaker
        self._holder_power = 10.0 ** (feats.energy_db / 10.0)
        self._holder_db = feats.energy_db
        start = self._first_onset_s if self._onset_s - self._first_onset_s <= LOOKBACK_S else self._onset_s
        self._first_onset_s = -1e9
        return [Interruption(t=feats.end_s, start=round(start, 3), speaker=speaker, over=over)]

    def _end_floor(self) -> None:
        """A gap: no one holds the floor; the next stretch may be the other partner."""
        self._run = 0
        self.holder = None
        self._cusum = 0.0
        self._holder_power = None
        self._first_onset_s = -1e9

    def _follow_holder(self, energy_db: float) -> None:
        """Track the holder's own speaking level (a running mean of power, in dB)."""
        power = 10.0 ** (energy_db / 10.0)
        self._holder_power = power if self._holder_power is None else (
            self._holder_power + HOLDER_LEVEL_RATE * (power - self._holder_power))
        self._holder_db = 10.0 * math.log10(self._holder_power + 1e-12)
