"""The double clap: the agreed signal without words, in any language and with no model.

A clap is a sharp transient: its energy rises fast (``rise_db`` within ``rise_ms``) out of quieter audio, falls
back fast (``decay_db`` within ``decay_ms``; speech syllables and door rings last longer), stands out from the
surrounding audio, and is broadband (much of its energy above 1.5 kHz; a door thud or a knock is dull). Two claps
``min_gap_s``..``max_gap_s`` apart, with no other sharp transient just before or just after (applause, knocking,
rhythmic tapping), are the signal: :class:`~voicecoach.events.Heard` "pause" from :attr:`Source.CLAP`.

Everything is timed by sample positions; the energy envelope is computed per ``block_ms`` block with numpy and the
small state machine steps once per block (200 steps a second), never per sample.
"""

from __future__ import annotations

import logging
from collections import deque
from itertools import islice
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..audio.frames import SAMPLE_RATE, Frame
from ..commands import Command, Source
from ..events import Heard
from .settings import ClapSettings

log = logging.getLogger(__name__)

HIGH_BAND_HZ = 1500.0
LOW_CUT_HZ = 100.0
SPECTRUM_MS = 20
TAIL_S = 0.5


@dataclass(frozen=True)
class Transient:
    """A confirmed sharp transient: onset time (s), peak level (dBFS), share of energy above 1.5 kHz."""

    t: float
    peak_dbfs: float
    high_ratio: float
    broadband: bool


@dataclass
class _Candidate:
    onset_block: int
    peak_db: float
    peak_block: int


def block_levels_db(samples: NDArray[np.int16], block: int) -> NDArray[np.float64]:
    """Level in dBFS of each whole ``block``-sample block of int16 audio."""
    n = len(samples) // block
    # the mean of (samples / 32768) ** 2 per block, in fewer calls: the squares of int16 samples and their sums are
    # integers far below 2**53 (exact in float64), and dividing by block * 32768 ** 2 at once rounds as dividing
    # the exact (sum / 32768 ** 2) by block does
    x = samples[: n * block].astype(np.float64)
    x *= x
    power = np.add.reduce(x.reshape(n, block), axis=1)
    power /= block * 32768.0 ** 2
    return 10.0 * np.log10(power + 1e-12)


def high_band_ratio(samples: NDArray[np.int16], sample_rate: int = SAMPLE_RATE) -> float:
    """Share of the energy above 1.5 kHz (of the energy above 100 Hz) in a short stretch of audio."""
    x = samples.astype(np.float64) * np.hanning(len(samples))
    power = np.abs(np.fft.rfft(x, n=max(512, len(x)))) ** 2
    freqs = np.fft.rfftfreq(max(512, len(x)), 1.0 / sample_rate)
    total = power[freqs >= LOW_CUT_HZ].sum()
    return float(power[freqs >= HIGH_BAND_HZ].sum() / total) if total > 0 else 0.0


class DoubleClapDetector:
    """Pure streaming detector: ``process(frame) -> [Heard]`` ("pause", from the clap), and ``reset()``."""

    def __init__(self, settings: ClapSettings | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.settings = s = settings or ClapSettings()
        self.rate = sample_rate
        self.block = max(1, sample_rate * s.block_ms // 1000)
        ms = lambda v: max(1, round(v * sample_rate / 1000 / self.block))  # noqa: E731 - ms -> blocks
        self._rise = ms(s.rise_ms)
        self._pre = ms(s.pre_ms)
        self._context = max(ms(s.context_ms), self._rise + self._pre)
        self._decay = ms(s.decay_ms)
        self._confirm_s = (s.rise_ms + s.decay_ms) / 1000.0
        self.transients: list[Transient] = []  # recent confirmed transients (kept a few seconds; for tests/debug)
        self.reset()

    def reset(self) -> None:
        """Forget all state (e.g. after the stream was interrupted)."""
        self._levels: deque[float] = deque(maxlen=self._context)
        self._next_block = 0  # index of the next block to be stepped (block 0 starts at self._origin)
        self._origin: int | None = None
        self._rest = np.zeros(0, dtype=np.int16)
        self._tail = np.zeros(0, dtype=np.int16)  # the last TAIL_S of samples, ending at self._tail_end
        self._tail_end = 0
        self._cand: _Candidate | None = None
        self._pending: tuple[float, float] | None = None  # (first clap, second clap) waiting for quiet after
        self._quiet_until = 0.0
        self.transients = []

    # --- streaming ------------------------------------------------------------------------------------------------

    def process(self, frame: Frame) -> list[Heard]:
        """Feed one frame; returns the double-clap command when the signal completes in this frame."""
        if not self.settings.enabled:
            return []
        if self._origin is None or frame.start_sample != self._tail_end:
            if self._origin is not None:
                log.debug("clap detector: gap in the stream at %.2f s; starting over", frame.start_s)
            self.reset()
            self._origin = frame.start_sample
        self._tail = np.concatenate([self._tail, frame.samples])[-int(TAIL_S * self.rate):]
        self._tail_end = frame.end_sample
        audio = np.concatenate([self._rest, frame.samples])
        levels = block_levels_db(audio, self.block)
        self._rest = audio[len(levels) * self.block:]
        for level in levels.tolist():
            self._step(level)
        return self._maybe_emit(frame.end_sample / self.rate)

    def _block_time(self, index: int) -> float:
        return (self._origin + index * self.block) / self.rate  # type: ignore[operator]

    def _step(self, level: float) -> None:
        s = self.settings
        index = self._next_block
        self._next_block += 1
        cand = self._cand
        if cand is None:
            if level >= s.min_level_dbfs and len(self._levels) >= self._rise + self._pre:
                # the loudest of the pre blocks before the rise (levels are never NaN: plain max is numpy's)
                last = len(self._levels) - self._rise
                if level - max(islice(self._levels, last - self._pre, last)) >= s.rise_db:
                    history = np.fromiter(self._levels, dtype=np.float64)
                    context = np.percentile(history[:-self._rise], 80)
                    if level - context >= s.over_context_db:
                        self._cand = _Candidate(index, level, index)
        elif index - cand.onset_block < self._rise and level >= cand.peak_db:
            cand.peak_db, cand.peak_block = level, index
        elif level <= cand.peak_db - s.decay_db:
            self._confirm(cand)
            self._cand = None
        elif index - cand.peak_block >= self._decay:
            self._cand = None  # sustained: speech, a door's ring, music
        self._levels.append(level)

    def _confirm(self, cand: _Candidate) -> None:
        s = self.settings
        onset = self._origin + cand.onset_block * self.block  # type: ignore[operator]
        start = onset - self.block - (self._tail_end - len(self._tail))
        window = self._tail[max(0, start): max(0, start) + self.rate * SPECTRUM_MS // 1000]
        ratio = high_band_ratio(window, self.rate) if len(window) >= 64 else 0.0
        t = onset / self.rate
        transient = Transient(t, cand.peak_db, ratio, ratio >= s.min_high_ratio)
        log.debug("clap detector: transient at %.3f s, peak %.1f dBFS, high-band share %.2f", t, cand.peak_db, ratio)
        previous = self.transients[-1] if self.transients else None
        self.transients = [x for x in self.transients if t - x.t < 5.0] + [transient]
        if self._pending is not None and t - self._pending[1] <= s.quiet_after_s:
            self._pending = None  # a third transient soon after the pair: applause or knocking, not the signal
            return
        if previous is None or not (transient.broadband and previous.broadband) or t < self._quiet_until:
            return
        gap = t - previous.t
        before_first = [x for x in self.transients[:-2] if previous.t - x.t < s.quiet_before_s]
        slack = self.block / self.rate  # onsets are known to one block
        if s.min_gap_s - slack <= gap <= s.max_gap_s + slack and not before_first:
            self._pending = (previous.t, t)

    def _maybe_emit(self, now: float) -> list[Heard]:
        if self._pending is None:
            return []
        first, second = self._pending
        if now < second + self.settings.quiet_after_s + self._confirm_s:
            return []
        self._pending = None
        self._quiet_until = second + self.settings.refractory_s
        log.debug("clap detector: double clap at %.2f and %.2f s", first, second)
        return [Heard(t=now, reply=Command.PAUSE, text="double clap", source=Source.CLAP)]
