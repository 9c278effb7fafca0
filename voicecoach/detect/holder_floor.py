"""Was the floor holder heard above the background at all? A TV voice is not a partner.

The segmentation model hears any voice: with a TV or radio talking in the room it hears the TV as one more
speaker, and a partner who starts talking while the TV talks looks to it like a second voice cutting in on a
first one that "held the floor". The microphone's level says otherwise: a partner holding the floor is well
above the background bed (the TV, music, a dishwasher: ``FrameFeatures.bed_db``), while a TV voice *is* the bed.

:class:`HolderFloor` keeps the last few seconds of frame levels. An interruption whose holder's floor (the
``floor_ms`` before the second voice's onset) averaged less than ``holder_above_bed_db`` over the bed is no
interruption; nor one under ``SHARE_OF_SPEECH`` of the partners' own speech level over the bed (in a quiet
dry talk the "bed" the features find may be the quieter partner's own voice, a few dB under the louder one's).
A "bed" under ``MIN_BED_GAP_DB`` below the partners' speech is no bed to judge by: in busy talk through a
reverberant room the features' low percentile of levels is the talk itself.
Both are taken as they stood at the onset: a bed level still settling after the decision has moved (early in a
talk a loud partner lifts it within a second) says nothing about the floor before. Nothing is judged before the
features know a bed and a speech level.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..events import Interruption
from .features import FrameFeatures

log = logging.getLogger(__name__)

SHARE_OF_SPEECH = 0.6   # ...or under this share of the partners' speech level over the bed (whichever is lower)
MIN_BED_GAP_DB = 6.0    # a bed closer than this under the partners' speech level judges nothing


class HolderFloor:
    """Judges whether an interruption's floor holder was heard above the background bed.

    ``above_bed_db`` 0 turns the check off. ``window_ms`` must cover the longest time from an onset's floor to
    the decision (the segmentation model's window).
    """

    def __init__(self, floor_ms: int, window_ms: int, above_bed_db: float, frame_ms: int = 30) -> None:
        self.floor_s = floor_ms / 1000.0
        self.above_bed_db = above_bed_db
        self._n = max(2, window_ms // frame_ms + 2)
        self.reset()

    def reset(self) -> None:
        """Forget the levels."""
        self._end_s = np.full(self._n, -np.inf)
        self._power = np.zeros(self._n)
        self._bed_db = np.full(self._n, np.nan)      # the features' bed level after each frame (NaN: none yet)
        self._speech_db = np.full(self._n, np.nan)   # ...and their speech level
        self._pos = 0

    def add(self, feats: FrameFeatures) -> None:
        """One frame's level, and the features' current bed and speech levels."""
        i = self._pos
        self._end_s[i] = feats.end_s
        self._power[i] = 10.0 ** (feats.energy_db / 10.0)
        self._bed_db[i] = math.nan if feats.bed_db is None else feats.bed_db
        self._speech_db[i] = feats.noise_db + feats.snr_db if feats.snr_db > 0.0 else math.nan
        self._pos = (i + 1) % self._n

    def floor_above_bed_db(self, onset_s: float) -> tuple[float, float] | None:
        """The mean level of the ``floor_ms`` before ``onset_s`` and the partners' speech level, both over the
        bed as it stood at the onset, dB (None: no bed or speech level known then, or no frames kept)."""
        inside = (self._end_s > onset_s - self.floor_s) & (self._end_s <= onset_s)
        if not inside.any():
            return None
        last = int(np.flatnonzero(inside)[np.argmax(self._end_s[inside])])
        bed, speech = float(self._bed_db[last]), float(self._speech_db[last])
        if math.isnan(bed) or math.isnan(speech):
            return None
        return 10.0 * math.log10(float(self._power[inside].mean()) + 1e-12) - bed, speech - bed

    def heard(self, event: Interruption) -> bool:
        """Whether ``event``'s floor holder was heard above the bed (True when it cannot be judged)."""
        if self.above_bed_db <= 0.0:
            return True
        levels = self.floor_above_bed_db(event.start)
        if levels is None:
            return True
        floor, speech = levels
        if speech < MIN_BED_GAP_DB:
            return True
        need = min(self.above_bed_db, SHARE_OF_SPEECH * speech)
        if floor >= need:
            return True
        log.debug("interruption at %.2f s dropped: its holder's floor was %.1f dB over the bed (needs %.1f)",
                  event.t, floor, need)
        return False
