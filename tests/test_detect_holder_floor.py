"""A TV voice is not a partner: an interruption needs a floor holder heard above the background bed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from test_detect_overlap import _Scripted
from voicecoach.audio.frames import SAMPLE_RATE as R, float_to_int16, frames_from_array
from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.holder_floor import HolderFloor
from voicecoach.detect.overlap import OverlapInterruptionDetector
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings
from voicecoach.events import Interruption

ONSET_S = 15.0


def _voice(f0_hz: float, seconds: float, level: float, seed: int) -> np.ndarray:
    """A voice-like signal (harmonics, vibrato, syllable-rate loudness) at RMS ``level``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * R)) / R
    phase = 2 * np.pi * np.cumsum(f0_hz * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / R
    k = np.arange(1, int(3800 / f0_hz) + 1)[:, None]
    x = (np.sin(k * phase[None, :]) / k).sum(axis=0) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2)
    return x / np.sqrt(np.mean(x ** 2)) * level + rng.normal(0, level * 0.01, len(x))


def _room(turns: list[tuple[float, float, float]], seconds: float = 18.0) -> np.ndarray:
    """Partners' turns (start_s, end_s, f0) at about -30 dBFS over a TV: a third voice 16 dB under them all along,
    with short pauses between its sentences."""
    out = np.zeros(int(seconds * R))
    for i, (a, b, f0) in enumerate(turns):
        out[int(a * R):int(a * R) + int((b - a) * R)] += _voice(f0, b - a, 0.03, i)[:int((b - a) * R)]
    tv = _voice(165.0, seconds, 0.0048, 99)
    tv[(np.arange(len(tv)) / R % 3.1) > 2.7] *= 0.05
    return out + tv


def _interruptions(audio: np.ndarray, above_bed_db: float | None = None) -> list[Interruption]:
    s = DetectionSettings()
    ir = replace(s.interruption, method="model", hint_ms=0)
    if above_bed_db is not None:
        ir = replace(ir, holder_above_bed_db=above_bed_db)
    p = Pipeline(replace(s, interruption=ir))
    # one voice all along, a second one too from ONSET_S on: what the segmentation model reports both when a
    # partner cuts in and when a partner starts talking while the TV talks
    model = _Scripted(ONSET_S)
    assert p.overlap is not None
    p.overlap.model = model   # type: ignore[assignment]
    found = []
    for frame in frames_from_array(float_to_int16(audio)):
        model.now_s = (frame.start_sample + len(frame.samples)) / R
        found += [e for e in p.process(frame) if isinstance(e, Interruption)]
    return found


# A and B take turns; at ONSET_S a partner's voice starts. Before it, the floor was either the TV alone (B had
# stopped 1.5 s earlier: a turn starting over the TV) or A, talking (a cut-in).
TURNS = [(1.0, 4.5, 120.0), (5.2, 8.8, 220.0), (9.5, 13.5, 120.0)]
OVER_THE_TV = TURNS + [(ONSET_S, 18.0, 220.0)]
CUT_IN = TURNS[:2] + [(9.5, 18.0, 120.0), (ONSET_S, 18.0, 220.0)]


def test_a_partner_starting_while_the_tv_talks_is_not_an_interruption():
    assert _interruptions(_room(OVER_THE_TV)) == []


def test_a_real_cut_in_over_the_tv_is_still_an_interruption():
    found = _interruptions(_room(CUT_IN))
    assert len(found) == 1 and abs(found[0].start - ONSET_S) < 0.1


def test_the_check_can_be_turned_off():
    assert len(_interruptions(_room(OVER_THE_TV), above_bed_db=0.0)) == 1


def _frame(t: float, energy_db: float, bed_db: float | None = -50.0, speech_db: float = -30.0) -> FrameFeatures:
    return FrameFeatures(int(t * R), t, energy_db, True, -70.0, snr_db=speech_db + 70.0, bed_db=bed_db)


def _heard(levels_db: list[float], bed_db: float | None = -50.0, speech_db: float = -30.0) -> bool:
    """Frames of 30 ms at these levels up to 2 s, then an interruption whose voice started at 2 s."""
    hf = HolderFloor(floor_ms=1000, window_ms=4000, above_bed_db=7.0)
    n = int(2.0 / 0.03)
    for i in range(n + 20):
        hf.add(_frame((i + 1) * 0.03, levels_db[min(i, len(levels_db) - 1)] if i < n else -30.0, bed_db, speech_db))
    return hf.heard(Interruption(t=2.6, start=2.0, speaker="B", over="A"))


def test_the_floor_is_judged_over_the_bed_before_the_onset():
    assert _heard([-33.0]) is True       # a partner 17 dB over the bed
    assert _heard([-46.0]) is False      # the TV: 4 dB over its own bed level
    assert _heard([-46.0], bed_db=None) is True   # no bed known yet: nothing judged
    # a quiet dry talk: the "bed" the features find is the quieter partner, 8 dB under the louder one; a floor
    # 5.5 dB over it is 0.6 of that
    assert _heard([-32.5], bed_db=-38.0) is True
    assert _heard([-36.0], bed_db=-38.0) is False
    # busy talk in a reverberant room: the "bed" is the talk itself, 4 dB under it: nothing judged
    assert _heard([-36.0], bed_db=-34.0) is True
