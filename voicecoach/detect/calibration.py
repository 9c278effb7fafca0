"""Build a :class:`VoiceProfile` from a few seconds of each partner's calm speech (what `calibrate` records)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..audio.frames import frames_from_array
from .dc import DcBlocker
from .features import FeatureExtractor
from .calm_voice import calm_level_db
from .settings import DetectionSettings
from .speakers import DIM, PartnerVoice, VoiceProfile, voice_vector

MIN_SPEECH_S = 3.0


def partner_voice(audio: NDArray[np.int16], settings: DetectionSettings | None = None,
                  frame_ms: int = 30) -> PartnerVoice:
    """One partner's voice vector and calm baselines from a 16 kHz mono recording of their calm speech.

    Raises ValueError when the recording holds less than a few seconds of speech.
    """
    settings = settings or DetectionSettings()
    fe = FeatureExtractor(settings, frame_ms)
    frames = frames_from_array(audio, frame_ms)
    if settings.dc_block:   # as the pipeline hears the talk
        dc = DcBlocker(frame_ms)
        frames = (dc.process(fr) for fr in frames)
    feats = [f for f in (fe.process(fr) for fr in frames) if f.is_speech]
    if len(feats) * frame_ms / 1000.0 < MIN_SPEECH_S:
        raise ValueError(f"only {len(feats) * frame_ms / 1000.0:.1f} s of speech heard; "
                         f"at least {MIN_SPEECH_S:g} s is needed (speak a little longer, nearer the microphone)")
    vectors = np.array([voice_vector(f) for f in feats])
    voice = np.nanmean(vectors, axis=0) if not np.all(np.isnan(vectors[:, -1])) else np.append(
        vectors[:, :-1].mean(axis=0), math.nan)
    level = calm_level_db([f.energy_db for f in feats], settings.raised, frame_ms)
    voiced = [f for f in feats if f.f0_hz > 0]   # the raised-voice detector compares the tilt of voiced frames
    f0 = [f.f0_hz for f in voiced]
    return PartnerVoice(
        voice=[float(x) if x == x else 0.0 for x in voice[:DIM]],
        calm_db=round(level, 2),
        calm_f0_hz=round(float(np.median(f0)), 1) if f0 else None,
        calm_bright_db=round(float(np.mean([f.bright_db for f in voiced])), 2) if voiced else None,
    )


def build_profile(recordings: dict[str, NDArray[np.int16]], settings: DetectionSettings | None = None,
                  frame_ms: int = 30) -> VoiceProfile:
    """A profile from calm recordings keyed by partner label ("A", "B")."""
    return VoiceProfile({label: partner_voice(audio, settings, frame_ms) for label, audio in recordings.items()})
