"""Calibration: each partner speaks a few sentences at their normal level; their voice features and calm
baselines become a :class:`~voicecoach.detect.speakers.VoiceProfile` that seeds the detectors.

Pure: audio in, profile out. The guided recording is in ``voicecoach/cli/calibrate.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .detect.features import FeatureExtractor
from .detect.settings import DetectionSettings
from .detect.speakers import PartnerVoice, VoiceProfile, voice_vector
from .errors import InputError
from .sources import ArraySource

MIN_SPEECH_S = 4.0


def partner_voice(audio: NDArray[np.int16], settings: DetectionSettings, frame_ms: int = 30,
                  who: str = "partner") -> PartnerVoice:
    """Measure one partner's calm speech: mean voice vector, median level, pitch and brightness."""
    extractor = FeatureExtractor(settings, frame_ms)
    feats = [f for f in (extractor.process(frame) for frame in ArraySource(audio, frame_ms).frames())
             if f.is_speech and f.mfcc is not None]
    speech_s = len(feats) * frame_ms / 1000.0
    if speech_s < MIN_SPEECH_S:
        raise InputError(f"only {speech_s:.1f} s of speech heard from {who} (at least {MIN_SPEECH_S:.0f} s "
                         "needed): speak a little longer and closer to the microphone, then try again")
    vectors = np.array([voice_vector(f) for f in feats])
    voice = np.nanmean(vectors, axis=0)
    f0 = [f.f0_hz for f in feats if f.f0_hz > 0]
    return PartnerVoice(voice=[float(v) if not math.isnan(v) else 0.0 for v in voice],
                        calm_db=float(np.median([f.energy_db for f in feats])),
                        calm_f0_hz=float(np.median(f0)) if f0 else None,
                        calm_bright_db=float(np.median([f.bright_db for f in feats])))


def build_profile(audio_a: NDArray[np.int16], audio_b: NDArray[np.int16],
                  settings: DetectionSettings | None = None, frame_ms: int = 30,
                  names: tuple[str, str] = ("partner A", "partner B")) -> VoiceProfile:
    """The couple's profile from one recording of each partner's calm speech."""
    settings = settings or DetectionSettings()
    return VoiceProfile({"A": partner_voice(audio_a, settings, frame_ms, names[0]),
                         "B": partner_voice(audio_b, settings, frame_ms, names[1])})
