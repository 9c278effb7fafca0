"""The voice bed: is the background a voice (a TV) or a noise? On frames, and on synthesised talk over each."""

from __future__ import annotations

import numpy as np
import pytest

from test_detect_overlap import HOLDER, INTERRUPTER, pytestmark as needs_espeak, say
from voicecoach.audio.frames import SAMPLE_RATE as R, frames_from_array
from voicecoach.detect.features import FeatureExtractor, FrameFeatures
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings
from voicecoach.detect.voice_bed import MIN_BED_S, VoiceBed


def frame(i: float, energy_db: float, voicing: float, bed_db: float | None = -50.0) -> FrameFeatures:
    return FrameFeatures(int(i * 480), (i + 1) * 0.03, energy_db, False, -80.0, voicing=voicing, bed_db=bed_db)


def test_the_share_is_unknown_until_enough_bed_was_heard_and_then_counts_voiced_bed_frames():
    bed = VoiceBed(30)
    n_min = int(MIN_BED_S / 0.03)
    for i in range(n_min - 10):
        bed.process(frame(i, -49.0, 0.9 if i % 2 else 0.1))
    assert bed.share is None and bed.is_voice(0.3)   # unknown: the stricter reading
    for i in range(n_min - 10, 4 * n_min):
        bed.process(frame(i, -49.0, 0.9 if i % 2 else 0.1))
        bed.process(frame(i, -20.0, 0.9))             # a partner's speech, far over the bed: not the bed
        bed.process(frame(i, -60.0, 0.9, bed_db=None))   # no bed known yet: nothing
    assert bed.share == pytest.approx(0.5, abs=0.02)
    assert bed.is_voice(0.3) and not bed.is_voice(0.6) and not bed.is_voice(0.0)
    for i in range(4 * n_min, 4 * n_min + int(600 / 0.03)):   # ten minutes of busy talk: no bed heard
        bed.process(frame(i, -20.0, 0.9))
    assert bed.share == pytest.approx(0.5, abs=0.02)   # the judgement stands (unknown would read as a voice)
    bed.reset()
    assert bed.share is None


def test_the_share_follows_a_tv_switched_off_within_a_few_minutes():
    bed = VoiceBed(30)
    for i in range(int(120 / 0.03)):
        bed.process(frame(i, -49.0, 0.9))
    assert bed.share == pytest.approx(1.0)
    for i in range(int(120 / 0.03), int(300 / 0.03)):
        bed.process(frame(i, -49.0, 0.0))
    assert bed.share is not None and bed.share < 0.15


def _talk_over(bed: np.ndarray, seconds: float = 90.0) -> np.ndarray:
    """Two partners taking turns (0.6 s gaps) over ``bed`` (float, looped, 12 dB under them), as int16."""
    out = np.zeros(int(seconds * R), np.float32)
    t, turn = 0.5, 0
    while t < seconds:
        x = say(HOLDER if turn % 2 == 0 else INTERRUPTER, "AB"[turn % 2])
        i = int(t * R)
        out[i:i + len(x)] += 0.5 * x[:len(out) - i]
        t += len(x) / R + 0.6
        turn += 1
    speech_rms = float(np.sqrt(np.mean(out[out != 0] ** 2)))
    loop = np.resize(bed, len(out))
    out += loop * (speech_rms / float(np.sqrt(np.mean(loop ** 2)))) * 10 ** (-12 / 20)   # 12 dB under the talk
    out += 30.0 * np.random.default_rng(1).standard_normal(len(out)).astype(np.float32)   # the room's hiss
    return np.clip(out, -32767, 32767).astype(np.int16)


def _share(audio: np.ndarray) -> float | None:
    features, bed = FeatureExtractor(DetectionSettings(), 30), VoiceBed(30)
    for f in frames_from_array(audio, 30):
        bed.process(features.process(f))
    return bed.share


@needs_espeak
def test_talk_over_a_tv_voice_has_a_voice_bed_and_talk_over_noise_has_none():
    rng = np.random.default_rng(5)
    lines = ("The weather tomorrow will be mostly dry with sunny spells in the afternoon",
             "And now the news from around the country", "Our reporter has been to the harbour",
             "Traffic is heavy on the ring road tonight")
    pause = np.zeros(int(0.3 * R), np.float32)   # a presenter breathes between sentences
    tv = np.concatenate([part for k, line in enumerate(lines) for part in (say(line, "AB"[k % 2]), pause)])
    noise = np.cumsum(rng.standard_normal(30 * R)).astype(np.float32)   # a rumble (brown noise)...
    noise = noise - np.convolve(noise, np.ones(400) / 400, "same") + 0.3 * rng.standard_normal(30 * R)  # ...and hiss
    over_tv, over_noise = _share(_talk_over(tv)), _share(_talk_over(noise.astype(np.float32)))
    assert over_tv is not None and over_tv >= 0.3, over_tv
    assert over_noise is not None and over_noise < 0.15, over_noise


@pytest.mark.parametrize("voice", [True, False])
def test_the_pipeline_tells_the_policy_whether_the_bed_is_a_voice(monkeypatch, voice: bool):
    seen: list[bool] = []
    asked: list[float] = []
    p = Pipeline()
    real = p.escalation.process

    def spy(now_s, events, raised_now, muted=False, voice_bed=False):
        seen.append(voice_bed)
        return real(now_s, events, raised_now, muted, voice_bed)

    monkeypatch.setattr(p.escalation, "process", spy)
    monkeypatch.setattr(p.voice_bed, "is_voice", lambda min_share: asked.append(min_share) or voice)
    for f in frames_from_array(np.zeros(3 * R, np.int16), 30):
        p.process(f)
    assert seen and set(seen) == {voice}
    assert set(asked) == {DetectionSettings().escalation.voice_bed_share}
