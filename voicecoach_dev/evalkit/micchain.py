"""A laptop's microphone chain, applied to a finished dev-set mix: what a real recording goes through before voicecoach.

Every dev-set talk reaches the detectors at a healthy level (calm speech about -34 dBFS) with a flat response. A
laptop's microphone chain is not that, and ``scripts/evaluate --mic NAME`` runs the detectors on the mix after one
of these chains (after the room and the beds, before the detectors; the truth is unchanged):

- ``agc``: an operating system's automatic gain control (:func:`agc`), modelled on WebRTC's AGC2 adaptive digital
  controller, the one Chrome, PulseAudio's and PipeWire's echo-cancel modules run: a speech-level estimate over
  speech frames, a gain toward a target speech level, the gain slewing at most ``max_gain_change_db_per_s`` (AGC2's
  default 6 dB/s), at most ``max_gain_db`` (AGC2: 50 dB; 30 here), and never so much that the noise floor is raised
  above ``max_output_noise_dbfs`` (AGC2: -50 dBFS). Its defaults, in tonarino/webrtc-audio-processing's
  ``src/config.rs`` (``AdaptiveDigital::default``, mirroring WebRTC's ``GainController2::AdaptiveDigital``):
  headroom 5 dB, max gain 50 dB, initial gain 15 dB, 6 dB/s, max output noise -50 dBFS. AGC2 only amplifies; here
  the gain may also fall (``min_gain_db``) as the older analog AGC1 turns the microphone's volume down for a loud
  voice: that is the AGC that fights a raised voice hardest.
- ``laptop``: a small microphone's response (:func:`laptop_response`): a 4th-order high-pass at 200 Hz, a +6 dB
  presence peak at 4 kHz, a 4th-order low-pass at 7 kHz.
- ``quiet``: a low input gain (:func:`quiet`): calm speech at -45 dBFS, the converter's own noise at -90 dBFS,
  16-bit quantised.
- ``hot``: too much gain (:func:`hot`): calm speech at ``HOT_SPEECH_DBFS``, clipped at full scale, so the loudest
  samples of a raised voice clip (1-2 % of them on TUNE draw 1's escalations; the calm voice hardly).
- ``dc``: a DC offset (0.5 % of full scale) and 50 Hz mains hum with its odd harmonics (:func:`dc_hum`).
- ``all``: ``laptop``, then ``dc``, then ``agc``.

Functions take and return float audio in [-1, 1] at 16 kHz, are pure and seeded (the noise), and the WAV the
evaluator writes of their output is 16-bit, as every microphone's is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

RATE = 16_000
QUIET_SPEECH_DBFS = -45.0
QUIET_NOISE_DBFS = -90.0     # a laptop codec's own noise floor at a low gain (the 16-bit grid alone: about -101)
HOT_SPEECH_DBFS = -19.0      # calm speech this loud: 1.7 % of raised speech's samples clip (TUNE 1), calm 0.09 %
DC_OFFSET = 0.005            # 0.5 % of full scale (-46 dBFS): a converter with no DC blocker
HUM_HZ = 50.0
HUM_DBFS = (-60.0, -66.0, -72.0)   # 50, 150 and 250 Hz


def db_to_gain(db: float) -> float:
    """Amplitude gain of ``db`` decibels."""
    return 10.0 ** (db / 20.0)


def frame_levels_db(x: NDArray[np.floating], hop: int) -> NDArray[np.float64]:
    """The RMS level of each ``hop``-sample frame, dBFS (a ragged end is left out)."""
    n = len(x) // hop
    power = np.mean(np.square(np.asarray(x[: n * hop], dtype=np.float64).reshape(n, hop)), axis=1)
    return 10.0 * np.log10(power + 1e-12)


def speech_level_dbfs(x: NDArray[np.floating], hop: int = RATE // 100) -> float:
    """A talk's speech level, dBFS: the mean power of the 10 ms frames within 20 dB of its loud end (the 95th
    percentile), a blind stand-in for the calm level the dev set's metadata gives."""
    levels = frame_levels_db(x, hop)
    if not len(levels):
        return -100.0
    active = levels[levels >= np.percentile(levels, 95) - 20.0]
    return float(10.0 * np.log10(np.mean(10.0 ** (active / 10.0))))


def to_int16_grid(x: NDArray[np.floating]) -> NDArray[np.float32]:
    """``x`` as a 16-bit converter gives it: rounded to the int16 grid and clipped at full scale."""
    return (np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)


@dataclass(frozen=True)
class AgcSettings:
    """The automatic gain control (:func:`agc`). Times in seconds, levels in dBFS, gains in dB."""

    target_dbfs: float = -20.0          # speech level the gain aims at (AGC2 aims its speech peaks under -5 dBFS)
    attack_s: float = 0.4               # the speech-level estimate follows a rise with this time constant
    release_s: float = 2.0              # ...and a fall with this one
    max_gain_change_db_per_s: float = 6.0   # AGC2's default
    max_gain_db: float = 30.0
    min_gain_db: float = -20.0          # AGC1 turns a loud microphone down; AGC2 would be 0
    initial_gain_db: float = 15.0       # AGC2's default
    max_output_noise_dbfs: float = -50.0    # AGC2's default: the noise floor is never raised above this
    speech_margin_db: float = 10.0      # a frame this far above the noise floor is speech (the gain moves only then)
    noise_rise_db_per_s: float = 1.0    # the noise floor estimate falls at once and rises this fast
    frame_ms: int = 10                  # AGC2 works on 10 ms frames


def agc_gains_db(levels_db: NDArray[np.float64], s: AgcSettings) -> NDArray[np.float64]:
    """The gain (dB) an AGC applies in each frame, given the frames' input levels (dBFS).

    A noise floor follows the quietest frames; on speech frames (``speech_margin_db`` over it) the speech level
    estimate follows the frame level with ``attack_s`` / ``release_s``, and the gain moves toward ``target_dbfs``
    minus that estimate (within the gain limits and the noise cap) by at most ``max_gain_change_db_per_s``; off
    speech it holds, as AGC2's gain applier does.
    """
    frame_s = s.frame_ms / 1000.0
    up, down = 1.0 - math.exp(-frame_s / s.attack_s), 1.0 - math.exp(-frame_s / s.release_s)
    max_step = s.max_gain_change_db_per_s * frame_s
    rise = s.noise_rise_db_per_s * frame_s
    gains = np.empty(len(levels_db))
    gain, noise, speech = s.initial_gain_db, None, None
    for i, level in enumerate(levels_db):
        noise = level if noise is None or level < noise else noise + min(rise, level - noise)
        if level > noise + s.speech_margin_db:
            speech = level if speech is None else speech + (up if level > speech else down) * (level - speech)
            want = min(s.max_gain_db, s.max_output_noise_dbfs - noise, s.target_dbfs - speech)
            want = max(s.min_gain_db, want)
            gain += max(-max_step, min(max_step, want - gain))
        gains[i] = gain
    return gains


def agc(x: NDArray[np.floating], settings: AgcSettings | None = None) -> NDArray[np.float32]:
    """``x`` through the automatic gain control (:class:`AgcSettings`), the gain interpolated sample by sample
    between frame centres (no steps), clipped at full scale (a limiter would only soften it)."""
    s = settings or AgcSettings()
    hop = RATE * s.frame_ms // 1000
    x = np.asarray(x, dtype=np.float64)
    pad = (-len(x)) % hop
    levels = frame_levels_db(np.concatenate([x, np.zeros(pad)]), hop)
    gains = agc_gains_db(levels, s)
    # a frame's gain is decided at its end: applied from there on (causal), ramping to the next frame's
    ends = (np.arange(len(gains)) + 1) * hop
    per_sample = np.interp(np.arange(len(x)), ends, gains)
    return np.clip(x * 10.0 ** (per_sample / 20.0), -1.0, 1.0).astype(np.float32)


def _sos_filter(x: NDArray[np.floating], sos: NDArray[np.float64]) -> NDArray[np.float32]:
    from scipy.signal import sosfilt   # scipy comes with the dev extra (pyroomacoustics needs it)

    return sosfilt(sos, np.asarray(x, dtype=np.float64)).astype(np.float32)


def peaking_sos(freq_hz: float, gain_db: float, q: float, rate: int = RATE) -> NDArray[np.float64]:
    """One peaking-EQ biquad (the RBJ audio-EQ cookbook's) as a second-order section."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / rate
    alpha = math.sin(w0) / (2.0 * q)
    b = np.array([1.0 + alpha * a, -2.0 * math.cos(w0), 1.0 - alpha * a])
    den = np.array([1.0 + alpha / a, -2.0 * math.cos(w0), 1.0 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def laptop_sos(highpass_hz: float = 200.0, presence_hz: float = 4000.0, presence_db: float = 6.0,
               lowpass_hz: float = 7000.0, rate: int = RATE) -> NDArray[np.float64]:
    """The small microphone's response as second-order sections: high-pass, presence peak, low-pass."""
    from scipy.signal import butter

    hp = butter(4, highpass_hz, "highpass", fs=rate, output="sos")
    lp = butter(4, lowpass_hz, "lowpass", fs=rate, output="sos")
    return np.vstack([hp, peaking_sos(presence_hz, presence_db, 1.2, rate), lp])


def laptop_response(x: NDArray[np.floating], **kw: Any) -> NDArray[np.float32]:
    """``x`` through a small laptop microphone's response (:func:`laptop_sos`; causal, as the real one)."""
    return _sos_filter(x, laptop_sos(**kw))


def set_level(x: NDArray[np.floating], speech_dbfs: float, want_dbfs: float) -> NDArray[np.float64]:
    """``x`` scaled so that speech heard at ``speech_dbfs`` is at ``want_dbfs``."""
    return np.asarray(x, dtype=np.float64) * db_to_gain(want_dbfs - speech_dbfs)


def quiet(x: NDArray[np.floating], speech_dbfs: float, rng: np.random.Generator,
          want_dbfs: float = QUIET_SPEECH_DBFS, noise_dbfs: float = QUIET_NOISE_DBFS) -> NDArray[np.float32]:
    """A low input gain: speech at ``want_dbfs``, the converter's white noise at ``noise_dbfs``, 16-bit."""
    y = set_level(x, speech_dbfs, want_dbfs) + rng.normal(0.0, db_to_gain(noise_dbfs), len(x))
    return to_int16_grid(y)


def hot(x: NDArray[np.floating], speech_dbfs: float, want_dbfs: float = HOT_SPEECH_DBFS) -> NDArray[np.float32]:
    """Too much input gain: speech at ``want_dbfs``, clipped at full scale (16-bit)."""
    return to_int16_grid(set_level(x, speech_dbfs, want_dbfs))


def dc_hum(x: NDArray[np.floating], rng: np.random.Generator, offset: float = DC_OFFSET,
           hum_dbfs: tuple[float, ...] = HUM_DBFS, hum_hz: float = HUM_HZ) -> NDArray[np.float32]:
    """A DC offset plus mains hum (``hum_hz`` and its odd harmonics at ``hum_dbfs`` RMS each, random phases)."""
    t = np.arange(len(x)) / RATE
    y = np.asarray(x, dtype=np.float64) + offset
    for k, level in enumerate(hum_dbfs):
        y += math.sqrt(2.0) * db_to_gain(level) * np.sin(2.0 * math.pi * hum_hz * (2 * k + 1) * t
                                                         + rng.uniform(0.0, 2.0 * math.pi))
    return y.astype(np.float32)


Chain = Callable[[NDArray[np.floating], float, np.random.Generator], NDArray[np.float32]]
CHAINS: dict[str, Chain] = {
    "agc": lambda x, level, rng: agc(x),
    "laptop": lambda x, level, rng: laptop_response(x),
    "quiet": quiet,
    "hot": lambda x, level, rng: hot(x, level),
    "dc": lambda x, level, rng: dc_hum(x, rng),
    "all": lambda x, level, rng: agc(dc_hum(laptop_response(x), rng)),
}


def apply(name: str, x: NDArray[np.floating], speech_dbfs: float | None, seed: int) -> NDArray[np.float32]:
    """``x`` through the chain ``name`` (:data:`CHAINS`); ``speech_dbfs`` is the calm speech level of the talk
    (measured from ``x`` when None); ``seed`` makes its noise reproducible."""
    if name not in CHAINS:
        raise ValueError(f"unknown microphone chain {name!r} (choose from: {', '.join(CHAINS)})")
    level = speech_level_dbfs(x) if speech_dbfs is None else speech_dbfs
    return to_int16_grid(CHAINS[name](x, level, np.random.default_rng(seed)))


def item_speech_dbfs(item: dict) -> float | None:
    """A dev-set item's calm speech level at the microphone, dBFS, from its metadata (the mean over the partners,
    plus the talk's overall gain); None when the metadata does not say (the AMI excerpts)."""
    mix = item.get("mix") or {}
    levels = mix.get("at_mic_db") or {k: p["level_db"] for k, p in (item.get("partners") or {}).items()}
    if not levels:
        return None
    return float(np.mean(list(levels.values()))) + float(mix.get("gain_db", 0.0))
