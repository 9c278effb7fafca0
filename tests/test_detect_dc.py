"""A microphone's DC offset is taken off before anything measures the frames (``detection.dc_block``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from voicecoach.audio.frames import frames_from_array
from voicecoach.detect.dc import DcBlocker
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings

OFFSET = 164   # 0.5 % of full scale: -46 dBFS


def _quiet_room(seconds: float, seed: int = 0) -> np.ndarray:
    """A quiet room's noise (-80 dBFS) with the converter's offset on top, int16."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0.0, 3.3, int(seconds * 16000)) + OFFSET).astype(np.int16)


def test_the_blocker_takes_a_constant_offset_off_within_a_few_time_constants():
    dc = DcBlocker(30)
    out = [dc.process(f) for f in frames_from_array(_quiet_room(20.0), 30)]
    assert abs(float(np.mean(out[-100].samples))) < 2.0
    assert abs(float(np.mean(out[0].samples))) < 2.0   # the first frame's own mean starts the estimate


def test_a_frame_with_no_offset_comes_out_the_same_object():
    dc = DcBlocker(30)
    frame = next(frames_from_array(np.zeros(480, np.int16), 30))
    assert dc.process(frame) is frame


def test_with_the_blocker_the_noise_floor_is_the_rooms_not_the_offsets():
    audio = _quiet_room(5.0)
    floors = {}
    for block in (False, True):
        pipe = Pipeline(replace(DetectionSettings(), dc_block=block))
        for frame in frames_from_array(audio, 30):
            pipe.process(frame)
        floors[block] = pipe.features.noise_db
    assert floors[False] > -47.0            # the offset's own level: quiet speech would be barely over it
    assert floors[True] < -75.0             # the room's


def test_the_pipeline_takes_the_offset_off_by_default():
    pipe = Pipeline()
    for frame in frames_from_array(_quiet_room(5.0), 30):
        pipe.process(frame)
    assert pipe.features.noise_db is not None and pipe.features.noise_db < -75.0
