"""The speaker tracker's recent voice: a quick turn change inside one stretch of speech is heard at once.

The stretch's label follows the mean of the whole stretch, so it keeps the previous partner's label for a while
after the other partner takes over without a pause; ``recent_other`` says the last 0.6 s sound like the other one,
and when they sound clearly like them (``split_ratio``) the stretch is split there and the new one named after them.
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


NO_SPLIT = SpeakerSettings(split_ratio=0.0)


def _run(voices: list[list[float]], settings: SpeakerSettings | None = NO_SPLIT) -> list[tuple[str | None, bool]]:
    """(label, recent_other) per frame for one stretch of speech (by default never split, to see the doubt)."""
    return _trace(voices, "recent_other", 0, settings)


def test_the_other_partner_taking_over_without_a_pause_is_heard_before_the_label_moves():
    seen = _run([A_VOICE] * 100 + [B_VOICE] * 40)   # 3 s of A, then B at once for 1.2 s
    assert all(label in ("A", None) and not other for label, other in seen[:100])   # None: not yet decided
    assert all(label == "A" for label, _ in seen[100:])   # the stretch's mean still says A...
    first = next(i for i, (_, other) in enumerate(seen) if other)
    assert 100 < first <= 100 + 20 + 3                     # ...the recent voice says B within 0.6 s


def test_the_stretch_splits_where_the_other_partner_takes_over_without_a_pause():
    seen = _run([A_VOICE] * 100 + [B_VOICE] * 60, None)   # the default split_ratio
    assert all(label in ("A", None) for label, _ in seen[:100])
    switched = next(i for i, (label, _) in enumerate(seen) if label == "B")
    assert 100 < switched <= 100 + 20 + 3                   # named B as soon as the recent voice is clearly B's
    assert all(label == "B" and not other for label, other in seen[switched:])


def test_a_split_begins_a_new_stretch_with_the_recent_voice():
    tracker = SpeakerTracker(SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(3)
    for i, voice in enumerate([A_VOICE] * 100 + [B_VOICE] * 30):
        tracker.process(_frame(i, voice, rng))
    assert tracker.splits == 1 and tracker.label == "B"
    assert tracker.stretch_frames < 40                      # B's words (and a few of A's last), not A's 3 s
    assert tracker.distances["B"] < tracker.distances["A"]


def test_one_partner_speaking_on_never_splits():
    tracker = SpeakerTracker(SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(4)
    for i in range(400):   # 12 s: the frame-to-frame spread alone never makes the recent voice the other's
        assert tracker.process(_frame(i, NEARER_A, rng)) in ("A", None)
    assert tracker.splits == 0


def test_a_voice_only_somewhat_nearer_the_other_partner_is_doubted_but_not_split():
    # the recent voice about 0.7 of its distance to A from B: recent_other (under 0.8), but no split (over 0.6)
    between = [a + 0.6 * (b - a) for a, b in zip(A_VOICE, B_VOICE)]
    tracker = SpeakerTracker(SpeakerSettings(), 30, VoiceProfile(
        {"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(5)
    doubted = False
    for i, voice in enumerate([A_VOICE] * 100 + [between] * 45):
        tracker.process(_frame(i, voice, rng))
        doubted = doubted or tracker.recent_other
    assert doubted and tracker.splits == 0 and tracker.label == "A"


def test_one_partner_speaking_on_is_never_in_doubt():
    assert not any(other for _, other in _run([A_VOICE] * 200))


def test_a_pause_ends_the_doubt_with_the_stretch():
    tracker = SpeakerTracker(NO_SPLIT, 30, VoiceProfile(
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


def test_a_profile_is_kept_while_one_partner_speaks_on():
    # 12 s of one partner's voice: re-clustered into two halves of that voice, it used to overwrite the profile
    # after about 10 s, and the other partner's voice was then named A too (no split: the stretch's mean decides)
    tracker = SpeakerTracker(NO_SPLIT, 30, VoiceProfile({"A": PartnerVoice(A_VOICE), "B": PartnerVoice(B_VOICE)}))
    rng = np.random.default_rng(6)
    labels = [tracker.process(_frame(i, NEARER_A, rng)) for i in range(400)]
    assert set(labels[20:]) == {"A"}
    assert np.allclose(tracker.models["B"], B_VOICE)
    for i in range(400, 700):   # then the other partner, after a pause
        tracker.process(_frame(i, B_VOICE, rng) if i >= 410 else FrameFeatures(i * 480, (i + 1) * 0.03, -80.0,
                                                                                False, -80.0))
    assert tracker.label == "B"
    assert tracker.models["A"][0] < 0.75 < tracker.models["B"][0]   # both voices, each under its own name
