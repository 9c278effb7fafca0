"""Is the background a voice (a TV, a radio, a song)? The share of the bed's frames that are voiced.

Over a TV the interruption detector hears a steady trickle of false interruptions (the TV's voice carries a
partner's turn on through the gap before the other's, or starts under a partner), tens an hour, and they fall
together by chance often enough to make a false pause suggestion. Household noise (traffic, a dishwasher, a fan)
does not do that. What tells the two apart is cheap: the frames at the level of the bed (within
``NEAR_BED_DB`` of ``FrameFeatures.bed_db``) are mostly unvoiced over a noise, and voiced (a pitch) over speech or
song. :class:`VoiceBed` keeps that share over the last minute or so of audio (exponential, ``HALF_LIFE_S``);
the escalation policy asks interruptions over such a bed to come closer together.
"""

from __future__ import annotations

from .features import VOICED_MIN, FrameFeatures

NEAR_BED_DB = 3.0     # a frame this close to the bed level is the bed (or the partners' quietest)
HALF_LIFE_S = 60.0    # the share follows a TV switched on or off within a minute or two
MIN_BED_S = 5.0       # no judgement before this much of the bed has been heard (weighted, s)


class VoiceBed:
    """The share of the background bed's frames that are voiced; ``share`` is None until enough was heard."""

    def __init__(self, frame_ms: int = 30) -> None:
        self.frame_s = frame_ms / 1000.0
        self._decay = 0.5 ** (self.frame_s / HALF_LIFE_S)
        self.reset()

    def reset(self) -> None:
        """Forget the bed."""
        self._voiced_s = 0.0
        self._bed_s = 0.0
        self._known = False   # once known, a busy stretch with little bed in it keeps the judgement it had

    def process(self, feats: FrameFeatures) -> None:
        """Take one frame's features (its level, voicing and the bed level as the features know it)."""
        self._voiced_s *= self._decay
        self._bed_s *= self._decay
        if feats.bed_db is None or feats.energy_db >= feats.bed_db + NEAR_BED_DB:
            return
        self._bed_s += self.frame_s
        if feats.voicing > VOICED_MIN:
            self._voiced_s += self.frame_s
        self._known = self._known or self._bed_s >= MIN_BED_S

    @property
    def share(self) -> float | None:
        """The voiced share of the bed's frames lately (None before ``MIN_BED_S`` of bed was first heard)."""
        return self._voiced_s / self._bed_s if self._known else None

    def is_voice(self, min_share: float) -> bool:
        """Whether the bed is a voice now (:func:`is_voice`)."""
        return is_voice(self.share, min_share)


def is_voice(share: float | None, min_share: float) -> bool:
    """Whether a bed with this voiced ``share`` is a voice: it reaches ``min_share``, or it is not known yet (None:
    the talk's first minute or so, read the stricter way until the bed is known); ``min_share`` 0: never."""
    return min_share > 0.0 and (share is None or share >= min_share)
