"""The speaker tracker's recent voice: a quick turn change inside one stretch of speech is heard at once.

The stretch's label follows the mean of the whole stretch, so it keeps the previous partner's label for a while
after the other partner takes over without a pause; ``recent_other`` says the last 0.6 s sound like the other one.
"""

from __future__ import annotations

import numpy as np

from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.settings import SpeakerSettings
from voicecoach.detect.speakers import DIM, MFCC_SCALE, PITCH_UNIT_ST, PartnerVoice, SpeakerTracker, VoiceProfile

A_VOICE = [0.0] * (DIM - 1) + [1.0]   # scaled voice vectors (see voice_vector): A low, B higher and brighter
B_VOICE = [1.5] * (DIM - 1) + [3.0]


def _frame(i: int, voice: list[float], rng: np.random.Generator) -> FrameFeatures:
    """One speech frame of a voice, with frame-to-frame spread."""
    v = np.array(voice) + rng.normal(0.0, 0.3, DIM)
    f0_hz = 100.0 * 2 ** (v[-1] * PITCH_UNIT_ST / 12.0)
    return FrameFeatures(i * 480, (i + 1) * 0.03, -30.0, True, -80.0, f0_hz=f0_hz, voicing=0.9,
                         mfcc=v[:-1] * MFCC_SCALE)


def _trace(voices: list[list[float]], flag: str, seed: int,
           settings: SpeakerSettings | None = None) -> list[tuple[str | None, bool]]:
    """(label, the tracker's ``flag``) per frame for one stretch of speech, both partners known from a profile."""
    tracker = SpeakerTracker(settings or SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(seed)
    out = []
    for i, voice in enumerate(voices):
        out.append((tracker.process(_frame(i, voice, rng)), getattr(tracker, flag)))
    return out


def _run(voices: list[list[float]]) -> list[tuple[str | None, bool]]:
    """(label, recent_other) per frame for one stretch of speech."""
    return _trace(voices, "recent_other", 0)


def test_the_other_partner_taking_over_without_a_pause_is_heard_before_the_label_moves():
    seen = _run([A_VOICE] * 100 + [B_VOICE] * 40)   # 3 s of A, then B at once for 1.2 s
    assert all(label in ("A", None) and not other for label, other in seen[:100])   # None: not yet decided
    assert all(label == "A" for label, _ in seen[100:])   # the stretch's mean still says A...
    first = next(i for i, (_, other) in enumerate(seen) if other)
    assert 100 < first <= 100 + 20 + 3                     # ...the recent voice says B within 0.6 s


def test_one_partner_speaking_on_is_never_in_doubt():
    assert not any(other for _, other in _run([A_VOICE] * 200))


def test_a_pause_ends_the_doubt_with_the_stretch():
    tracker = SpeakerTracker(SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(1)
    for i, voice in enumerate([A_VOICE] * 60 + [B_VOICE] * 30):
        tracker.process(_frame(i, voice, rng))
    assert tracker.recent_other
    for i in range(90, 100):   # 300 ms of silence: a turn boundary
        tracker.process(FrameFeatures(i * 480, (i + 1) * 0.03, -80.0, False, -80.0))
    assert not tracker.recent_other


def _unsure(voices: list[list[float]], settings: SpeakerSettings | None = None) -> list[tuple[str | None, bool]]:
    """(label, unsure) per frame for one stretch of speech."""
    return _trace(voices, "unsure", 2, settings)


MIDWAY = [(a + b) / 2 for a, b in zip(A_VOICE, B_VOICE)]   # as far from both partners: a near tie
NEARER_A = [a + 0.2 * (b - a) for a, b in zip(A_VOICE, B_VOICE)]


def test_a_stretch_that_sounds_about_as_much_like_either_partner_is_unsure():
    seen = _unsure([MIDWAY] * 40)
    assert all(label is None and not unsure for label, unsure in seen[:14])   # not named yet: nothing to doubt
    assert all(label is not None and unsure for label, unsure in seen[15:])


def test_a_stretch_clearly_nearer_one_partner_is_sure():
    seen = _unsure([NEARER_A] * 40)
    assert all(not unsure for _, unsure in seen) and seen[-1][0] == "A"


def test_the_unsure_ratio_above_one_turns_the_doubt_off():
    assert not any(unsure for _, unsure in _unsure([MIDWAY] * 40, SpeakerSettings(unsure_ratio=10.0)))
