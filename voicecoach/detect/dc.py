"""A microphone's DC offset, taken off every frame before anything measures it.

A converter with no DC blocker adds a constant to every sample (0.1-1 % of full scale is common). The frames'
energy then never falls below the offset's own (-46 dBFS for 0.5 %): the noise floor sits there, quiet speech is
no more than a few dB over it, and pitch analysis sees a large component at 0 Hz. The offset is followed by a slow
running mean of the frames' means (speech has none of its own) and subtracted, in whole steps of the int16 grid.
"""

from __future__ import annotations

import numpy as np

from ..audio.frames import Frame

TIME_CONSTANT_S = 5.0   # the offset estimate's memory: a syllable's own low-frequency swing averages out


class DcBlocker:
    """Subtracts the running DC offset from each frame (:meth:`process`); :meth:`reset` forgets it."""

    def __init__(self, frame_ms: int = 30, time_constant_s: float = TIME_CONSTANT_S) -> None:
        self._rate = min(1.0, frame_ms / 1000.0 / time_constant_s)
        self.reset()

    def reset(self) -> None:
        """Forget the offset."""
        self.offset = 0.0
        self._started = False

    def process(self, frame: Frame) -> Frame:
        """The frame with the offset heard so far (this frame included) taken off."""
        # np.mean(samples, dtype=np.float64), at a tenth of its cost: the sum of int16 samples is an integer far
        # below 2**53, so float64 holds every partial sum exactly, as int64 does
        mean = float(np.add.reduce(frame.samples, dtype=np.int64)) / len(frame.samples)
        self.offset = mean if not self._started else self.offset + self._rate * (mean - self.offset)
        self._started = True
        step = int(round(self.offset))
        if step == 0:
            return frame
        samples = frame.samples.astype(np.int32)
        samples -= step
        np.maximum(samples, -32768, out=samples)   # np.clip's result on integers, without its Python wrapper
        np.minimum(samples, 32767, out=samples)
        return Frame(samples.astype(np.int16), frame.start_sample, frame.sample_rate)
