"""The cheaper per-frame code computes bit for bit what the plain form computed (issue 16's speed work).

Each stage rewritten for speed is replayed over a short generated talk (two voices, a microphone's DC offset, a
laptop-like tilt, pauses) next to the plain form it replaced, kept here as the reference: a future change that
alters a result, by a rounding or an edge case, fails here rather than moving a detector's events unnoticed.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach.asr.clap import DoubleClapDetector, block_levels_db
from voicecoach.audio.frames import Frame, frames_from_array
from voicecoach.detect import equaliser as eq_module
from voicecoach.detect.dc import DcBlocker
from voicecoach.detect.equaliser import SpectrumEqualiser
from voicecoach.detect.segmentation import _taps
from voicecoach.detect.stream_model import LogMel

RATE = 16000


@pytest.fixture(scope="module")
def talk() -> np.ndarray:
    """20 s of two alternating harmonic voices with pauses, a DC offset of 0.4 % and faint noise, as int16."""
    rng = np.random.default_rng(16)
    n = 20 * RATE
    out = rng.normal(0.0, 30.0, n)
    t, who = 0.3, 0
    while t < 19.0:
        f0 = (115.0, 205.0)[who] * rng.uniform(0.9, 1.1)
        loud = 10 ** (rng.uniform(-6.0, 6.0) / 20.0)
        for _ in range(int(rng.integers(4, 12))):
            d = rng.uniform(0.1, 0.3)
            k, s = int(d * RATE), int(t * RATE)
            if s + k >= n:
                break
            ph = 2 * np.pi * f0 * np.arange(k) / RATE
            out[s:s + k] += sum(np.sin(h * ph) / h for h in range(1, 8)) * np.hanning(k) * 2500.0 * loud
            t += d + rng.uniform(0.03, 0.2)
        t += rng.uniform(0.2, 1.0)
        who = 1 - who
    out += 0.004 * 32768
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class PlainEqualiser(SpectrumEqualiser):
    """The equaliser as first written (hop by hop, np.median, np.pad, np.convolve, np.clip): the reference."""

    def process(self, mel: np.ndarray) -> np.ndarray:
        out = np.asarray(mel, dtype=np.float32).copy()
        for i, row in enumerate(np.asarray(mel, dtype=np.float64)):
            if self.speech_hops:
                out[i] += self.correction.astype(np.float32)
            if self._plain_learn(row):
                self._plain_update()
        return out

    def _plain_learn(self, row: np.ndarray) -> bool:
        level = float(np.log(np.exp(row).sum() + 1e-30))
        floor = self._floor
        rise = eq_module.FLOOR_RISE_DB_PER_HOP * eq_module.DB
        self._floor = level if floor is None or level < floor else floor + min(rise, level - floor)
        if floor is None or level < floor + eq_module.SPEECH_OVER_FLOOR_DB * eq_module.DB:
            return False
        self.speech_hops += 1
        rate = max(eq_module.RATE, 1.0 / self.speech_hops)
        self.ltas = row.copy() if self.ltas is None else self.ltas + rate * (row - self.ltas)
        return True

    def _plain_update(self) -> None:
        assert self.ltas is not None
        dev = self.reference - self.ltas
        dev -= np.median(dev)
        half = eq_module.SMOOTH_BANDS // 2
        dev = np.convolve(np.pad(dev, half, mode="edge"), self._kernel, mode="valid")
        corr = np.sign(dev) * np.clip(np.abs(dev) - self._dead, 0.0, eq_module.MAX_DB * eq_module.DB)
        self.correction = corr * min(1.0, self.speech_hops / eq_module.WARM_HOPS)


def test_the_equaliser_corrects_every_hop_as_the_plain_form_did(talk):
    mel = LogMel().process(talk.astype(np.float32) / 32768.0)
    mel[:, :6] -= 4.0   # a high-pass: a correction well beyond the dead zone
    fast, plain = SpectrumEqualiser(), PlainEqualiser()
    for start in range(0, len(mel), 9):   # the streaming model's blocks: 90 ms, nine hops
        block = mel[start:start + 9]
        # bit for bit here; bounded, not byte-equal, so that another CPU's or numpy's reduction order (the block's
        # levels are summed along rows at once, the plain form one row at a time) cannot fail it: float32 values of
        # a few natural-log units differ by a few ulps at most (1e-5), while a hop learned differently moves a
        # correction by far more
        np.testing.assert_allclose(fast.process(block), plain.process(block), rtol=0, atol=1e-5,
                                   err_msg=f"hops {start}-{start + 8}")
        np.testing.assert_allclose(fast.correction, plain.correction, rtol=0, atol=1e-5)
        assert fast.speech_hops == plain.speech_hops
    assert fast.speech_hops == plain.speech_hops > 500 and np.abs(fast.correction).max() > 0.5


def test_the_dc_blocker_shifts_every_frame_as_the_plain_form_did(talk):
    blocker = DcBlocker()
    offset, started, shifted = 0.0, False, 0
    for frame in frames_from_array(talk, 30):
        mean = float(np.mean(frame.samples, dtype=np.float64))
        offset = mean if not started else offset + blocker._rate * (mean - offset)
        started = True
        step = int(round(offset))
        plain = np.clip(frame.samples.astype(np.int32) - step, -32768, 32767).astype(np.int16)
        assert blocker.process(frame).samples.tobytes() == plain.tobytes()
        shifted += step != 0
    assert shifted > 600   # the offset was taken off nearly every frame


def test_the_clap_levels_are_the_plain_mean_of_squares(talk):
    def plain(samples: np.ndarray, block: int) -> np.ndarray:
        n = len(samples) // block
        x = samples[: n * block].astype(np.float64).reshape(n, block) / 32768.0
        return 10.0 * np.log10(np.mean(x * x, axis=1) + 1e-12)

    edges = [np.full(800, 32767, np.int16), np.full(800, -32768, np.int16), np.zeros(800, np.int16)]
    loud = np.concatenate([talk, *edges])
    for block in (80, 160, 37):
        assert block_levels_db(loud, block).tobytes() == plain(loud, block).tobytes()
    clap = DoubleClapDetector()   # and the detector still steps through the whole talk
    assert [clap.process(Frame(f.samples, f.start_sample)) for f in frames_from_array(talk, 30)].count([]) > 600


def test_the_convolution_taps_are_the_strided_view_copied():
    y = np.random.default_rng(3).normal(0.0, 1.0, (707, 60)).astype(np.float32)
    t = len(y) - 4
    view = np.lib.stride_tricks.as_strided(y, (t, 60, 5), (y.strides[0], y.strides[1], y.strides[0]))
    assert _taps(y, 5).tobytes() == view.reshape(t, -1).tobytes()
