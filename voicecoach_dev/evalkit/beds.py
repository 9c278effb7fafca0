"""A TV or radio in the room: other people talking (and music under them) from a small loudspeaker.

The hardest bed for the detectors: it is speech, but nobody in the couple is saying it. Built from speech clips
of voices that are not the partners (the caller picks them from the same split) and, when given, a music bed,
band-limited like a small loudspeaker (150 Hz to 6 kHz) and lightly compressed like broadcast audio. In a room
the TV is one more source (``tv_source_name``) heard through its own impulse response.

    bed = tv_bed(rng, seconds=120.0, speech=[clip1, clip2, ...], music=music_clip)   # unit RMS, float32
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

RATE = 16000
TV_SOURCE = "tv"
SPEAKER_BAND_HZ = (150.0, 6000.0)
MUSIC_UNDER_DB = (-14.0, -6.0)      # music level under the speech, dB
TURN_S = (1.5, 6.0)                 # one TV voice talks this long before the next (or a pause)
PAUSE_S = (0.1, 1.2)
MUSIC_ONLY_SHARE = 0.15             # stretches with no speech (jingles, a scene with only music)
COMPRESS_WINDOW_S = 0.4


def tv_bed(rng: np.random.Generator, seconds: float, speech: list[NDArray[np.float32]],
           music: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """``seconds`` of a TV programme: voices taking turns from ``speech`` clips, over ``music`` if given; unit RMS.

    Each clip should be one voice at unit speech RMS (e.g. a corpus ``Voice.tape``); turns are cut from random
    places in them, so a few clips make a long, varied programme.
    """
    if not speech:
        raise ValueError("tv_bed needs at least one speech clip")
    n = int(seconds * RATE)
    voice = np.zeros(n, np.float32)
    t = int(rng.uniform(0.0, 1.0) * RATE)
    while t < n:
        dur = int(rng.uniform(*TURN_S) * RATE)
        if rng.random() >= MUSIC_ONLY_SHARE:
            clip = speech[int(rng.integers(len(speech)))]
            voice[t: t + dur] += _piece(rng, clip, dur)[: n - t] * 10 ** (rng.uniform(-3.0, 3.0) / 20)
        t += dur + int(rng.uniform(*PAUSE_S) * RATE)
    out = voice
    if music is not None and len(music):
        loop = _loop(rng, music, n)
        out = voice + loop / _rms(loop) * _rms(voice) * 10 ** (rng.uniform(*MUSIC_UNDER_DB) / 20)
    out = _compress(_band_limit(out))
    return (out / max(_rms(out), 1e-9)).astype(np.float32)


def _piece(rng: np.random.Generator, clip: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    """``n`` samples of a clip from a random offset (looped), with 20 ms fades."""
    x = _loop(rng, clip, n)
    k = min(int(0.02 * RATE), n // 2)
    if k:
        ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
        x[:k] *= ramp
        x[-k:] *= ramp[::-1]
    return x


def _loop(rng: np.random.Generator, x: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    reps = int(np.ceil((n + len(x)) / len(x)))
    off = int(rng.integers(len(x)))
    return np.tile(x, reps)[off: off + n].astype(np.float32)


def _rms(x: NDArray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _band_limit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """A small loudspeaker: little below 150 Hz or above 6 kHz (4th-order Butterworth band-pass)."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, SPEAKER_BAND_HZ, btype="bandpass", fs=RATE, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def _compress(x: NDArray[np.float32], ratio: float = 3.0) -> NDArray[np.float32]:
    """Broadcast-style level compression: loud passages brought down towards the programme's median level."""
    k = int(COMPRESS_WINDOW_S * RATE)
    if len(x) < 2 * k:
        return x
    env = np.sqrt(np.convolve(np.square(x, dtype=np.float64), np.ones(k) / k, mode="same") + 1e-12)
    ref = float(np.median(env[env > 1e-6])) if np.any(env > 1e-6) else 1.0
    gain = np.where(env > ref, (env / ref) ** (1.0 / ratio - 1.0), 1.0)
    return (x * gain).astype(np.float32)
