"""Finding a known signal in a recording of it (the tests' virtual sound paths)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

BLOCK = 1600  # 100 ms at 16 kHz


def lag(captured: NDArray, source: NDArray, partial: bool = False) -> tuple[int, float]:
    """Offset of ``source`` in ``captured`` where the normalised correlation is highest, and that correlation.

    Normalised at every offset (by the energy of the stretch of ``captured`` there), so a quiet piece of speech is
    placed where it is, not where the recording is loudest. ``partial``: the recording may have ended before the
    source did (offsets up to the recording's end are tried)."""
    x, s = captured.astype(np.float64), source.astype(np.float64)
    if partial:
        x = np.concatenate((x, np.zeros(len(s) - 1)))
    n = 1 << int(np.ceil(np.log2(len(x) + len(s))))
    c = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(s, n)), n)[: len(x) - len(s) + 1]
    energy = np.concatenate(([0.0], np.cumsum(x ** 2)))
    window, own = energy[len(s):] - energy[:len(x) - len(s) + 1], (s ** 2).sum()
    # a stretch 30 dB or more below the source (silence, where the ratio is rounding over rounding) is no match
    corr = np.where(window > 1e-3 * own, c / np.sqrt(np.maximum(window, 1e-30) * own + 1e-9), 0.0)
    i = int(np.argmax(corr))
    return i, float(corr[i])


def _starts(source: NDArray, block: int, min_peak: int) -> list[int]:
    return [start for start in range(0, len(source) - block + 1, block)
            if np.abs(source[start:start + block]).max() >= min_peak]


def blocks_found(captured: NDArray, source: NDArray, block: int = BLOCK, min_corr: float = 0.999,
                 min_peak: int = 0) -> int:
    """How many ``block``-long pieces of ``source`` (those peaking at ``min_peak`` or more) appear, correlating
    over ``min_corr``, somewhere in ``captured``.

    A player or recorder starved by a loaded machine leaves a few milliseconds of silence and shifts what follows;
    each block is therefore found at its own lag, and only the block holding the gap fails. One correlation over
    the whole signal falls apart instead (0.03 and 0.51 in two CI runs). A near-silent block (a pause in speech)
    cannot be placed by its correlation: ``min_peak`` leaves those out.
    """
    return sum(lag(captured, source[start:start + block])[1] > min_corr for start in _starts(source, block, min_peak))


def blocks_with_sound(source: NDArray, block: int = BLOCK, min_peak: int = 0) -> int:
    """How many ``block``-long pieces of ``source`` peak at ``min_peak`` or more (what :func:`blocks_found` looks
    for)."""
    return len(_starts(source, block, min_peak))
