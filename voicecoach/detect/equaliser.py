"""The streaming model's input, equalised to the long-term speech spectrum it was trained on.

The streaming two-voice model (``stream_model.py``) was trained on talks heard with a flat response; a laptop's
small microphone is not flat (a high-pass at 150-300 Hz, a presence peak, a roll-off above about 7 kHz), and each
of these alone cost the gate a tenth of its interruptions on TUNE draw 1 (``docs/detection-history.md``, "The
microphone chain"). This equaliser learns the talk's long-term spectrum over its speech hops (the log-mel bands the
model sees), compares its shape with :data:`REFERENCE` (the same measure over the model's own kind of talks), and
adds the difference to every hop's bands: a slow, smooth correction of the microphone's response, not of a voice.

Only the shape is corrected (the model was trained on levels from -45 to -18 dBFS), only beyond ``DEAD_DB`` (the
spread of talks with a flat microphone: voices and rooms the model learned stay as they are), at most ``MAX_DB``,
and only as the speech it has heard makes the estimate sure (``WARM_HOPS``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

DB = math.log(10.0) / 10.0   # natural-log units of the log-mel power per dB
SPEECH_OVER_FLOOR_DB = 10.0  # a hop this far over the noise floor is speech (it teaches the long-term spectrum)
FLOOR_RISE_DB_PER_HOP = 0.01  # the floor falls at once and rises 1 dB per second
RATE = 1.0 / 1000.0          # the long-term spectrum's time constant: 1000 speech hops (10 s of speech)
WARM_HOPS = 500              # the correction grows to full strength over the first 5 s of speech
DEAD_DB = 3.0                # deviations of the shape under this are left alone
MAX_DB = 20.0                # the correction is at most this, dB
SMOOTH_BANDS = 3             # the deviation is averaged over this many neighbouring bands

# The long-term speech spectrum of flat-response talks, dB per band (the median band at 0), and how much it spreads
# from talk to talk (standard deviation): TRAIN draw 1 of dev-set builder 7 (the overlap model's own voices), calm,
# calm_long and interrupt, dry and in rooms, 44 talks (``voicecoach_dev.ltas``)
REFERENCE = np.array([
    7.6, 9.0, 11.5, 13.2, 13.6, 12.0, 9.2, 9.0, 9.5, 10.0, 10.6, 9.7, 7.8, 8.1, 6.5, 5.3, 3.5, 2.8, 2.2, 1.1, 0.7,
    0.7, 0.4, -0.1, -0.3, -0.1, -0.3, 0.3, -0.1, 0.0, 0.1, 0.5, 0.3, -0.3, -0.8, -0.5, -0.6, -0.4, -0.5, -0.7, -0.7,
    -0.3, -0.5, -1.3, -2.0, -2.2, -2.5, -2.9, -3.2, -3.8, -4.9, -5.2, -5.7, -6.9, -7.8, -8.3, -9.3, -10.9, -14.6,
    -15.1, -15.8, -16.7, -17.4, -18.4
]) * DB
SPREAD_DB = np.array([
    6.0, 5.7, 5.8, 5.8, 5.9, 5.7, 4.7, 4.0, 3.9, 4.4, 4.3, 4.1, 3.9, 3.7, 3.2, 2.7, 2.3, 2.2, 2.3, 2.2, 2.2, 2.1,
    2.1, 2.2, 1.8, 1.7, 1.7, 1.5, 1.1, 1.1, 1.1, 0.9, 1.2, 1.2, 1.2, 1.4, 1.6, 1.9, 2.2, 2.4, 2.4, 2.5, 2.5, 3.2,
    3.2, 3.2, 3.5, 4.0, 4.3, 4.2, 4.3, 4.6, 4.5, 4.7, 4.8, 4.8, 4.9, 6.1, 11.0, 10.9, 10.9, 11.1, 11.4, 11.4
])


class SpectrumEqualiser:
    """Adds to each hop's log-mel bands the correction that takes the talk's long-term speech spectrum to the
    shape of ``reference`` (natural-log mel power per band), beyond the talks' own ``spread_db`` in each band;
    :meth:`process` takes (hops, bands) and returns them
    corrected, learning from them as it goes (causal: a hop is corrected by what was learned before it)."""

    def __init__(self, reference: NDArray[np.floating] = REFERENCE,
                 spread_db: NDArray[np.floating] | None = SPREAD_DB) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        self.reference = ref - np.median(ref)
        # a band's deviation is left alone within the talks' own spread there (voices, rooms), at least DEAD_DB
        self._dead = np.maximum(DEAD_DB, np.zeros_like(ref) if spread_db is None else np.asarray(spread_db)) * DB
        self._kernel = np.ones(SMOOTH_BANDS) / SMOOTH_BANDS
        self.reset()

    def reset(self) -> None:
        """Forget the talk's spectrum."""
        self.ltas: NDArray[np.float64] | None = None
        self.speech_hops = 0
        self._floor: float | None = None
        self.correction = np.zeros_like(self.reference)
        self._correction32 = self.correction.astype(np.float32)

    def process(self, mel: NDArray[np.floating]) -> NDArray[np.float32]:
        """Correct and learn from consecutive hops (rows of ``mel``).

        Sequential in what it means (a hop is corrected by what was learned before it), batched in how: every hop's
        level at once, then the spectrum each speech hop leaves, then the corrections of all of them at once, each
        row by the same elementwise operations, in the same order, as hop by hop (bit for bit the same)."""
        out = np.asarray(mel, dtype=np.float32).copy()
        rows = np.asarray(mel, dtype=np.float64)
        if not len(rows):
            return out
        levels = np.log(np.exp(rows).sum(axis=1) + 1e-30).tolist()
        spectra = np.empty_like(rows)   # the long-term spectrum after each speech hop of this block
        weights: list[float] = []       # and the correction's strength then
        uses: list[int | None] = []     # per hop: the speech hop of this block whose correction it gets (-1: the
        for i, level in enumerate(levels):   # one from before this block; None: no correction yet)
            n = len(weights)
            uses.append(n - 1 if n else (-1 if self.speech_hops else None))
            if self._learn(rows[i], level):
                spectra[n] = self.ltas
                weights.append(min(1.0, self.speech_hops / WARM_HOPS))
        if weights:
            corrections = self._corrections(spectra[:len(weights)], np.array(weights))
        for i, use in enumerate(uses):
            if use is not None:
                out[i] += self._correction32 if use < 0 else corrections[use]
        if weights:
            self._correction32 = corrections[-1]
        return out

    def _learn(self, row: NDArray[np.float64], level: float) -> bool:
        """Follow the noise floor by the hop's ``level`` (natural-log mel power summed over the bands); a speech
        hop teaches the long-term spectrum (True when it did)."""
        floor = self._floor
        self._floor = level if floor is None or level < floor else floor + min(FLOOR_RISE_DB_PER_HOP * DB,
                                                                                level - floor)
        if floor is None or level < floor + SPEECH_OVER_FLOOR_DB * DB:
            return False
        self.speech_hops += 1   # the mean of all speech hops at first, then a running mean over the last 1 / RATE
        rate = max(RATE, 1.0 / self.speech_hops)
        if self.ltas is None:
            self.ltas = row.copy()
        else:   # in place: ltas + rate * (row - ltas), the same operations
            step = row - self.ltas
            step *= rate
            self.ltas += step
        return True

    def _corrections(self, spectra: NDArray[np.float64], weights: NDArray[np.float64]) -> NDArray[np.float32]:
        """The correction each long-term spectrum (a row) calls for at its strength (``weights``), as float32 rows;
        the last one becomes :attr:`correction`. Per row, the operations of the plain form: ``np.median``
        is the mean of the two middle values, ``np.pad`` repeats the edges, ``np.clip`` is a maximum then a minimum
        (its operand is never NaN or -0), and the smoothing is ``np.convolve`` itself, row by row."""
        dev = self.reference - spectra
        k, n = dev.shape
        mid = np.partition(dev, (n // 2 - 1, n // 2), axis=1)
        median = (mid[:, n // 2 - 1] + mid[:, n // 2]) / 2 if n % 2 == 0 else mid[:, n // 2]
        dev -= median[:, None]   # the level is not corrected; the median is blind to the few bands a filter cut
        half = SMOOTH_BANDS // 2
        padded = np.empty((k, n + 2 * half))
        padded[:, half:half + n] = dev
        padded[:, :half] = dev[:, :1]
        padded[:, half + n:] = dev[:, -1:]
        for j in range(k):
            dev[j] = np.convolve(padded[j], self._kernel, mode="valid")
        corr = np.abs(dev)
        corr -= self._dead
        np.maximum(corr, 0.0, out=corr)
        np.minimum(corr, MAX_DB * DB, out=corr)
        corr *= np.sign(dev)
        corr *= weights[:, None]
        self.correction = corr[-1].copy()
        return corr.astype(np.float32)
