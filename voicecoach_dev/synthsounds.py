"""Generated background sounds for the two-voice model's training talks: no recording, so no licence to honour.

Music (chords on a beat; plucked strings), machine hum, dishes and running water, traffic, babble from voices the
caller gives, coloured noise and knocks. Each returns float32 audio at 16 kHz with unit RMS (knocks: a list of
placed bursts). They are rough sketches of the real thing, varied at random, so that a model trained on them does
not learn one recording's quirks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

RATE = 16000


def _unit(x: NDArray) -> NDArray[np.float32]:
    return (x / max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-9)).astype(np.float32)


def _band(x: NDArray, lo_hz: float, hi_hz: float) -> NDArray:
    """``x`` with everything outside lo_hz-hi_hz removed (FFT mask, smooth edges)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    gain = 1.0 / (1.0 + (lo_hz / np.maximum(f, 1.0)) ** 4) / (1.0 + (f / hi_hz) ** 4)
    return np.fft.irfft(spec * gain, len(x))
def synthetic_music(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """Generated music (no recording, no licence): chords of harmonic notes on a beat, a bass line, a hi-hat."""
    n = int(seconds * RATE)
    out = np.zeros(n, np.float32)
    beat = int(RATE * 60.0 / rng.uniform(70, 150))
    root_hz = float(rng.uniform(90, 220))
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    # one period of a note: six harmonics, brighter or duller; notes index it with their own phase (a wavetable)
    size = 2048
    period = np.arange(size) / size
    tilt = rng.uniform(1.0, 2.0)
    table = sum(np.sin(2 * np.pi * h * period + rng.uniform(0, 6.3)) / h ** tilt for h in range(1, 7))
    t = np.arange(2 * beat) / RATE
    env = np.exp(-rng.uniform(2.0, 8.0) * t)
    for start in range(0, n, beat):
        notes = root_hz * 2.0 ** (rng.choice(scale, size=int(rng.integers(1, 4)), replace=False) / 12.0)
        if (start // beat) % 2 == 0:
            notes = np.append(notes, root_hz / 2)
        idx = (np.outer(notes, t) * size).astype(np.int64) % size
        seg = (table[idx].sum(0) * env)[: n - start]
        out[start:start + len(seg)] += seg.astype(np.float32)
        if rng.random() < 0.7:   # a hi-hat: a short burst of high noise
            k = min(int(0.04 * RATE), n - start)
            out[start:start + k] += (np.diff(rng.standard_normal(k + 1)) * np.exp(-np.arange(k) / 120.0) * 0.5
                                     ).astype(np.float32)
    return _unit(out)


def coloured_noise(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """Stationary noise with a random spectral tilt and hum, sometimes swelling like a machine."""
    n = int(seconds * RATE)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0)
    spec *= (f / 1000.0) ** (rng.uniform(-1.5, 0.5) / 2)
    x = np.fft.irfft(spec, n)
    if rng.random() < 0.4:
        hum = float(rng.choice([50.0, 60.0, 100.0, 120.0]))
        x += 0.5 * np.std(x) * np.sin(2 * np.pi * hum * np.arange(n) / RATE)
    if rng.random() < 0.4:
        x *= 1.0 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.1, 1.5) * np.arange(n) / RATE)
    return (x / np.std(x)).astype(np.float32)


def knocks(rng: np.random.Generator, n: int, every_s: float) -> list[tuple[int, NDArray[np.float32]]]:
    """Transient sounds (a knock, a clap, a cup set down): decaying resonant noise bursts at random times."""
    out = []
    t = rng.uniform(0.2, 1.0) * every_s
    while t * RATE < n - RATE:
        k = int(rng.uniform(0.03, 0.25) * RATE)
        burst = rng.standard_normal(k) * np.exp(-np.arange(k) / (k / rng.uniform(3, 8)))
        f0 = rng.uniform(150, 3000)
        burst = burst + 3 * np.sin(2 * np.pi * f0 * np.arange(k) / RATE) * np.exp(-np.arange(k) / (k / 4))
        out.append((int(t * RATE), (burst / np.std(burst)).astype(np.float32)))
        t += rng.uniform(0.5, 1.5) * every_s
    return out


def plucked(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """Plucked strings (Karplus-Strong): a guitar-like melody over arpeggiated chords."""
    n = int(seconds * RATE)
    out = np.zeros(n + RATE * 3)
    root = float(rng.uniform(80, 200))
    step = int(RATE * 60.0 / rng.uniform(60, 160) / rng.choice([1, 2]))
    scale = np.array([0, 2, 3, 5, 7, 8, 10, 12, 14, 15, 17, 19, 24])
    damping = rng.uniform(0.990, 0.999)
    for start in range(0, n, step):
        for _ in range(int(rng.integers(1, 3))):
            f = root * 2.0 ** (rng.choice(scale) / 12.0)
            p = max(2, int(RATE / f))
            length = int(rng.uniform(0.4, 2.5) * RATE) // p * p
            y = np.empty(length)
            y[:p] = rng.uniform(-1, 1, p)
            for k in range(p, length, p):   # each period: the last one averaged with its neighbour, damped
                prev = y[k - p:k]
                y[k:k + p] = damping * 0.5 * (prev + np.roll(prev, 1))
            out[start:start + length] += y * rng.uniform(0.3, 1.0)
    return _unit(out[:n])


def hum(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """A fridge, fan or transformer: mains harmonics, a motor's whine, broadband air noise, switching on and off."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    mains = float(rng.choice([50.0, 60.0]))
    x = sum(rng.uniform(0.05, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) for k in range(1, 9))
    if rng.random() < 0.5:
        x = x + rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(200, 1500) * t)
    air = _band(rng.standard_normal(n), rng.uniform(50, 300), rng.uniform(1500, 6000))
    x = x / np.std(x) + rng.uniform(0.3, 2.0) * air / np.std(air)
    if rng.random() < 0.4:   # the compressor stops and starts
        on = np.repeat(rng.random(int(seconds / 5) + 1) < 0.7, 5 * RATE)[:n]
        x = x * np.convolve(on.astype(float), np.ones(800) / 800, mode="same") + 0.1 * air / np.std(air)
    return _unit(x)


def dishes(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """Washing up: running water (band noise that bubbles) and the clink of plates and cutlery."""
    n = int(seconds * RATE)
    water = _band(rng.standard_normal(n), rng.uniform(300, 1500), rng.uniform(4000, 7500))
    bubbles = np.repeat(rng.gamma(0.7, 1.0, n // 160 + 1), 160)[:n]
    x = water * np.convolve(bubbles, np.ones(320) / 320, mode="same") * rng.uniform(0.2, 1.0)
    t = rng.exponential(1.0 / rng.uniform(0.3, 3.0))
    while t * RATE < n:
        k = int(rng.uniform(0.05, 0.4) * RATE)
        tt = np.arange(k) / RATE
        clink = sum(np.sin(2 * np.pi * rng.uniform(1500, 7500) * tt) * np.exp(-tt * rng.uniform(8, 60))
                    for _ in range(int(rng.integers(2, 6))))
        s = int(t * RATE)
        seg = clink[: n - s] * rng.uniform(0.5, 4.0) * np.std(x + 1e-3)
        x[s:s + len(seg)] += seg
        t += rng.exponential(1.0 / rng.uniform(0.3, 3.0))
    return _unit(x)


def traffic(rng: np.random.Generator, seconds: float) -> NDArray[np.float32]:
    """Traffic outside: low rumble that swells as cars pass."""
    n = int(seconds * RATE)
    rumble = _band(np.cumsum(rng.standard_normal(n)) * 0.02 + rng.standard_normal(n), 30, rng.uniform(800, 3000))
    env = np.full(n, 0.3)
    t = rng.uniform(0, 4)
    while t < seconds:
        width = rng.uniform(1.0, 4.0)
        env += rng.uniform(0.5, 3.0) * np.exp(-0.5 * ((np.arange(n) / RATE - t) / width) ** 2)
        t += rng.exponential(rng.uniform(2, 8))
    return _unit(rumble * env)


def babble(rng: np.random.Generator, seconds: float, voices: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    """A crowd (a cafe, a party next door): six to twelve voices at once, none of them near."""
    n = int(seconds * RATE)
    x = np.zeros(n)
    for i in rng.choice(len(voices), size=min(len(voices), int(rng.integers(6, 13))), replace=False):
        v = voices[int(i)]
        reps = n // len(v) + 2
        off = int(rng.integers(len(v)))
        x += np.tile(v, reps)[off:off + n] * 10 ** (rng.uniform(-6, 3) / 20)
    return _unit(_band(x, 100, rng.uniform(3000, 7000)))
