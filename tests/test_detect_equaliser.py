"""The streaming model's input equaliser: a microphone's response taken off the long-term spectrum, a voice left."""

from __future__ import annotations

import numpy as np

from voicecoach.detect.equaliser import DB, REFERENCE, SpectrumEqualiser

N_MEL = len(REFERENCE)


def _talk(shape_db: np.ndarray, hops: int, rng: np.random.Generator) -> np.ndarray:
    """Log-mel hops of 'speech' with the reference's long-term shape plus ``shape_db``, alternating with quiet hops
    40 dB down (pauses, so that a noise floor is heard)."""
    speech = REFERENCE + shape_db * DB + rng.normal(0.0, 3.0 * DB, (hops, N_MEL)) - 30.0 * DB
    speech[1::4] -= 40.0 * DB
    return speech.astype(np.float32)


def _learned_shape(eq: SpectrumEqualiser, mel: np.ndarray) -> np.ndarray:
    out = eq.process(mel)
    loud = mel.sum(axis=1) > np.median(mel.sum(axis=1)) - 1.0
    return (out[loud][-500:].mean(0) - mel[loud][-500:].mean(0)) / DB   # the correction at the end, dB


def test_a_high_pass_is_taken_off_the_low_bands():
    cut = np.zeros(N_MEL)
    cut[:4] = [-25.0, -17.0, -12.0, -7.0]   # a laptop's 4th-order high-pass at 200 Hz, about
    correction = _learned_shape(SpectrumEqualiser(), _talk(cut, 6000, np.random.default_rng(1)))
    assert correction[0] > 12.0 and correction[1] > 8.0   # beyond the talks' own spread there (about 6 dB)
    assert np.abs(correction[8:]).max() < 0.5             # the rest of the spectrum left alone


def test_a_talk_within_the_usual_spread_is_not_touched():
    rng = np.random.default_rng(2)
    voice = rng.uniform(-2.0, 2.0, N_MEL)   # a voice of its own, within the 3 dB dead zone everywhere
    eq = SpectrumEqualiser()
    mel = _talk(voice, 4000, rng)
    assert np.abs(eq.process(mel) - mel).max() < 0.3 * DB   # the first hops' own noise, weighed by the warm-up


def test_the_correction_waits_for_speech_and_follows_the_talk_causally():
    eq = SpectrumEqualiser()
    cut = np.zeros(N_MEL)
    cut[0] = -30.0
    mel = _talk(cut, 2000, np.random.default_rng(3))
    first = eq.process(mel[:1])
    assert np.array_equal(first, mel[:1])   # nothing learned yet: nothing changed
    eq.process(mel[1:100])
    early = eq.correction[0]
    eq.process(mel[100:])
    assert 0.0 < early < eq.correction[0]   # it grows as the speech it heard makes it sure
    eq.reset()
    assert eq.ltas is None and not eq.correction.any()


def test_the_gate_equalises_its_input_by_default():
    from voicecoach.detect.settings import InterruptionSettings
    from voicecoach.detect.stream_detector import StreamGate

    gate = StreamGate(InterruptionSettings())
    assert isinstance(gate.runner.model.equaliser, SpectrumEqualiser)
