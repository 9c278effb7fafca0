"""The speaker tracker after a breath: speech resuming after a short gap is named at once when it sounds like the
partner before it, and the voice vector keeps a voice that changes level, tilt or distance nearer its own partner.

The voices of the last test are generated (a pulse train through vowel formants; two vocal tracts of different
length), so nothing here needs the corpus.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach.audio.frames import frames_from_array
from voicecoach.detect.features import N_MFCC, FeatureExtractor, FrameFeatures
from voicecoach.detect.settings import DetectionSettings, SpeakerSettings
from voicecoach.detect.speakers import (CONTINUE_MS, DIM, MFCC_SCALE, PITCH_UNIT_ST, PartnerVoice, SpeakerTracker,
                                        VoiceProfile)

A_VOICE = [0.0] * (DIM - 1) + [1.0]   # voice vectors (see voice_vector): A low, B higher and brighter
B_VOICE = [1.5] * (DIM - 1) + [3.0]
RATE = 16000


def _frame(i: int, voice: list[float] | None, rng: np.random.Generator) -> FrameFeatures:
    """One frame: speech of a voice (with frame-to-frame spread), or silence when ``voice`` is None."""
    if voice is None:
        return FrameFeatures(i * 480, (i + 1) * 0.03, -60.0, False, -80.0, quiet=True)
    v = np.array(voice) + rng.normal(0.0, 0.3, DIM)
    return FrameFeatures(i * 480, (i + 1) * 0.03, -30.0, True, -80.0, voicing=0.9,
                         f0_hz=100.0 * 2 ** (v[-1] * PITCH_UNIT_ST / 12.0), mfcc=v[:-1] * MFCC_SCALE)


def _labels_after_gap(first: list[float], gap_frames: int, then: list[float]) -> list[str | None]:
    """Labels of the 12 speech frames that follow 2 s of ``first`` and a gap (both partners known from a profile)."""
    tracker = SpeakerTracker(SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(3)
    frames = [first] * 66 + [None] * gap_frames + [then] * 12
    labels = [tracker.process(_frame(i, v, rng)) for i, v in enumerate(frames)]
    return labels[-12:]


def test_the_same_partner_after_a_breath_is_named_within_a_few_frames():
    labels = _labels_after_gap(A_VOICE, 8, A_VOICE)   # 0.24 s gap: a breath
    named_from = CONTINUE_MS // 30 - 1
    assert labels[:named_from - 1] == [None] * (named_from - 1)
    assert labels[named_from:] == ["A"] * (12 - named_from)   # decide_ms (450 ms) would leave all 12 unnamed


def test_the_other_partner_after_a_short_gap_is_not_given_the_last_label():
    assert "A" not in _labels_after_gap(A_VOICE, 8, B_VOICE)


def test_after_a_long_gap_the_stretch_waits_for_the_full_decision():
    assert _labels_after_gap(A_VOICE, 40, A_VOICE) == [None] * 12   # 1.2 s: a new turn, whoever it is


VOWELS = [(730, 1090, 2440, 3400), (270, 2290, 3010, 3700), (530, 1840, 2480, 3500), (570, 840, 2410, 3300),
          (300, 870, 2240, 3300), (660, 1720, 2410, 3400)]   # a, i, e, o, u, ae: F1-F4 of an adult male, Hz


def _resonate(x: np.ndarray, f_hz: float, bw_hz: float) -> np.ndarray:
    """A two-pole resonance (one formant)."""
    r = np.exp(-np.pi * bw_hz / RATE)
    a1, a2 = 2 * r * np.cos(2 * np.pi * f_hz / RATE), -r * r
    y = np.zeros_like(x)
    y[:2] = x[:2]
    for n in range(2, len(x)):
        y[n] = x[n] + a1 * y[n - 1] + a2 * y[n - 2]
    return y * (1 - r)


def _voice(rng: np.random.Generator, tract: float, f0_hz: float, seconds: float = 4.0) -> np.ndarray:
    """Vowels of 150-300 ms with short pauses: a pulse train (jittered pitch) through formants scaled by ``tract``."""
    parts = []
    for _ in range(int(seconds / 0.28)):
        n = int(rng.uniform(0.15, 0.3) * RATE)
        f0 = f0_hz * 2 ** (rng.normal(0.0, 1.0) / 12)
        phase = np.cumsum(np.full(n, f0 / RATE) * (1 + 0.01 * np.sin(np.arange(n) / 400.0)))
        y = np.diff(np.floor(phase), prepend=0.0) + 0.02 * rng.standard_normal(n)
        for k, f in enumerate(VOWELS[int(rng.integers(len(VOWELS)))]):
            y = _resonate(y, f * tract, 60.0 + 40.0 * k)
        parts += [y * np.hanning(n) ** 0.2, np.zeros(int(rng.uniform(0.03, 0.08) * RATE))]
    x = np.concatenate(parts)
    return x / np.sqrt(np.mean(x ** 2))


def _tilted(x: np.ndarray, a: float) -> np.ndarray:
    """More energy at high frequencies (as vocal effort gives): a first-order pre-emphasis."""
    y = x.copy()
    y[1:] -= a * x[:-1]
    return y / np.sqrt(np.mean(y ** 2))


def _far(rng: np.random.Generator, x: np.ndarray, rt60_s: float = 0.5) -> np.ndarray:
    """Heard from across a room: a direct path and an exponentially decaying diffuse tail 3x stronger."""
    n = int(rt60_s * RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    tail *= np.sqrt(3.0 / np.sum(tail ** 2))
    y = np.convolve(x, np.concatenate([[1.0], np.zeros(int(0.004 * RATE)), tail]))[: len(x)]
    return y / np.sqrt(np.mean(y ** 2))


def _timbre(x: np.ndarray, level_db: float) -> np.ndarray:
    """Mean scaled cepstra (the tracker's timbre) of the speech frames the features find in ``x`` at ``level_db``."""
    noise = np.random.default_rng(1).standard_normal(RATE + len(x)) * 10 ** ((level_db - 45) / 20)
    pcm = np.concatenate([np.zeros(RATE), x * 10 ** (level_db / 20)]) + noise
    fe = FeatureExtractor(DetectionSettings(), 30)
    rows = [f.mfcc for f in (fe.process(fr) for fr in frames_from_array(
        np.clip(pcm * 32768, -32768, 32767).astype(np.int16), 30)) if f.is_speech and not f.quiet and f.mfcc is not None]
    assert len(rows) > 40
    return np.array(rows).mean(axis=0)[:N_MFCC] / MFCC_SCALE


@pytest.mark.parametrize("change", ["louder and tilted up", "far, in a room", "far and louder, tilted up"])
def test_a_voice_that_changes_level_tilt_or_distance_stays_nearer_its_own_partner(change):
    # unscaled cepstra fail this (distance ratios 0.82, 0.97, 0.74): the scale is what makes it hold
    rng = np.random.default_rng(7)
    a = _timbre(_voice(rng, 1.0, 110.0), -32.0)
    b = _timbre(_voice(rng, 0.87, 125.0), -32.0)    # a tract 13 % shorter: formants 15 % higher
    x = _voice(rng, 1.0, 110.0 * 2 ** (4 / 12))     # A again (other vowels), 4 semitones up
    if "tilted" in change:
        x = _tilted(x, 0.6)
    if "far" in change:
        x = _far(rng, x)
    changed = _timbre(x, -22.0 if "louder" in change else -38.0)
    to_a, to_b = np.linalg.norm(changed - a), np.linalg.norm(changed - b)
    assert to_a < 0.8 * to_b, (to_a, to_b)
