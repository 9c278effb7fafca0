"""Per-frame features: speech decision (webrtcvad), energy, noise floor, pitch, spectral balance, voice timbre.

Two background levels are kept: the noise floor (the quietest frames) and the bed (a low percentile of the last
10 s, which is what music or a TV leaves between turns; webrtcvad often calls such a bed speech, so frames near it
are marked quiet). A real bed also fills the frames webrtcvad rejects, so the bed is capped by their level: in
continuous talk in a quiet room the low percentile is only the soft end of speech. This is the only module that
imports webrtcvad. Pitch, brightness and the cepstrum are computed only on speech frames (they are what the
speaker model and the raised-voice detector need, and they cost most).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..audio.frames import SAMPLE_RATE, Frame
from .settings import DetectionSettings

N_MFCC = 12
N_MEL = 24
WINDOW = 960               # 60 ms analysis window: more than three periods of a 60 Hz voice
N_FFT = 1024               # the wrapped part of the autocorrelation (lags > N_FFT - 268) falls on the
                           # window's tapered ends, where the Hann window leaves almost nothing
F0_MIN_HZ, F0_MAX_HZ = 60.0, 400.0
NOISE_SPECTRUM_MARGIN_DB = 6.0   # frames this close to the noise floor teach the noise spectrum
NOISE_SPECTRUM_EVERY = 6
NOISE_SPECTRUM_RATE = 0.1
SUBTRACTION_FLOOR = 0.05
SPEECH_LEVEL_RATE = 0.01
UNVOICED_BRIGHT_DB = 6.0   # frames this much brighter above 1 kHz than below are fricatives (checked: <2 % voiced)
BED_QUANTILE = 0.1         # the background bed: the level 10 % of the last BED_WINDOW_S fall below (music and TV
BED_WINDOW_S = 10.0        # included, which the noise floor, following the quietest moments between notes, misses)
BED_EVERY = 10             # frames between updates of the bed level (a partial sort of the window)
REJECTED_QUANTILE = 0.9    # the bed is at most this percentile of the levels of the frames the VAD rejected
REJECTED_MARGIN_DB = 6.0   # (the last BED_WINDOW_S worth of them) plus this margin,
REJECTED_MIN = 10          # and is not known before the VAD has rejected this many
BED_GAP_MARGIN_DB = 6.0    # frames this close to the bed are a gap, even when music keeps the VAD saying speech
VOICED_MIN = 0.5           # normalised autocorrelation peak above which a frame is voiced


@dataclass(slots=True)
class FrameFeatures:
    """What one frame measured. ``f0_hz`` is 0 when unvoiced or not speech; ``mfcc`` is None off speech."""

    start_sample: int
    end_s: float
    energy_db: float
    is_speech: bool
    noise_db: float
    f0_hz: float = 0.0
    voicing: float = 0.0
    bright_db: float = 0.0          # energy above 1 kHz relative to below, dB
    mfcc: NDArray[np.float64] | None = None
    speaker: str | None = None      # filled in by the speaker model
    snr_db: float = 40.0            # typical speech level above the noise floor, dB
    quiet: bool = False             # near the noise floor: a gap between words or turns, even if the VAD says speech
    bed_db: float | None = None     # level of the background bed (noise, music, TV) the talk sits on, dBFS


def _mel_matrix(n_fft: int, rate: int, n_mel: int, lo_hz: float = 80.0, hi_hz: float = 7600.0) -> NDArray:
    """Triangular mel filters as a (n_mel, n_fft//2+1) matrix."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(lo_hz), mel(hi_hz), n_mel + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(up, down))


def _dct_matrix(n_in: int, n_out: int) -> NDArray:
    """DCT-II rows 1..n_out (c0, the loudness, is left out: the speaker model must not hear loudness)."""
    k = np.arange(1, n_out + 1)[:, None]
    n = np.arange(n_in)[None, :]
    return np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)


class FeatureExtractor:
    """Turns frames into :class:`FrameFeatures`; keeps the noise floor and a short history for pitch."""

    def __init__(self, settings: DetectionSettings, frame_ms: int = 30) -> None:
        import webrtcvad  # the only importer of webrtcvad

        self.settings = settings
        self.frame_ms = frame_ms
        self._vad = webrtcvad.Vad(settings.vad_aggressiveness)
        self._frame_len = SAMPLE_RATE * frame_ms // 1000
        self._window = np.hanning(WINDOW)
        mel = _mel_matrix(N_FFT, SAMPLE_RATE, N_MEL)
        used = np.nonzero(mel.any(axis=0))[0]
        self._mel_bins = slice(int(used[0]), int(used[-1]) + 1)
        self._mel = np.ascontiguousarray(mel[:, self._mel_bins])
        self._dct = _dct_matrix(N_MEL, N_MFCC)
        hz_per_bin = SAMPLE_RATE / N_FFT
        self._low_bins = slice(int(80 / hz_per_bin), int(1000 / hz_per_bin))
        self._high_bins = slice(int(1000 / hz_per_bin), int(7000 / hz_per_bin))
        lag_lo = int(SAMPLE_RATE / F0_MAX_HZ) - 1
        self._lag_hi = int(SAMPLE_RATE / F0_MIN_HZ) + 1
        self._lags = np.arange(lag_lo, self._lag_hi + 1)
        wac = np.fft.irfft(np.abs(np.fft.rfft(self._window, N_FFT)) ** 2, N_FFT)
        self._inv_window_ac = wac[0] / wac[self._lags]
        self._rise_per_frame = settings.noise_rise_db_per_s * frame_ms / 1000.0
        self._bed_n = int(round(BED_WINDOW_S * 1000 / frame_ms))
        self._bed_every = max(1, BED_EVERY * 30 // frame_ms)
        self.reset()

    def reset(self) -> None:
        """Forget the noise floor and pitch history."""
        self._buf = np.zeros(WINDOW, dtype=np.float64)
        self.noise_db: float | None = None
        self._noise_spec: NDArray[np.float64] | None = None
        self._noise_count = 0
        self._speech_db = 0.0   # running level of speech frames, dBFS (0 = none yet)
        self._speech_run = 0
        self._last_speech: FrameFeatures | None = None
        self.bed_db: float | None = None
        self._bed_levels = np.empty(self._bed_n)   # every frame's level over the last BED_WINDOW_S, dBFS
        self._bed_count = 0
        self._rejected = np.empty(self._bed_n)     # the levels of the last frames the VAD rejected, dBFS
        self._rejected_count = 0

    def process(self, frame: Frame, muted: bool = False) -> FrameFeatures:
        """Measure one frame; ``muted`` frames are measured but teach nothing (noise floor, speech level)."""
        x = frame.samples.astype(np.float64)
        power = float(np.dot(x, x)) / (len(x) * 32768.0 ** 2)
        energy_db = 10.0 * math.log10(power + 1e-10)
        buf = self._buf
        buf[:-len(x)] = buf[len(x):]
        buf[-len(x):] = x
        vad = self._vad.is_speech(frame.samples.tobytes(), frame.sample_rate)
        if not muted:
            self._track_noise(energy_db)
            self._track_bed(energy_db, vad)
        noise = self.noise_db if self.noise_db is not None else energy_db
        s = self.settings
        is_speech = bool(vad and energy_db > s.min_speech_dbfs and energy_db > noise + s.speech_margin_db)
        feats = FrameFeatures(frame.start_sample, frame.end_s, energy_db, is_speech, noise, bed_db=self.bed_db)
        if is_speech and not muted:
            self._speech_db += SPEECH_LEVEL_RATE * (energy_db - self._speech_db) if self._speech_db else energy_db
        # in loud noise speech is only a few dB above the floor: the gap margin shrinks with the SNR
        margin = min(s.gap_margin_db, 0.4 * max(0.0, (self._speech_db or energy_db) - noise))
        feats.quiet = not is_speech or energy_db < noise + margin
        if self.bed_db is not None and self._speech_db:   # a tonal bed (music) keeps the VAD on between turns
            bed_margin = min(BED_GAP_MARGIN_DB, 0.4 * max(0.0, self._speech_db - self.bed_db))
            feats.quiet = feats.quiet or energy_db < self.bed_db + bed_margin
        feats.snr_db = (self._speech_db - noise) if self._speech_db else 0.0
        if is_speech:
            self._speech_run += 1
            last = self._last_speech
            if last is not None and self._speech_run % s.analysis_every:
                # the 60 ms analysis window moved by one frame only: reuse the last analysis
                feats.mfcc, feats.f0_hz = last.mfcc, last.f0_hz
                feats.voicing, feats.bright_db = last.voicing, last.bright_db
            else:
                self._analyse(feats)
                self._last_speech = feats
        else:
            self._speech_run = 0
            self._last_speech = None
        if not is_speech and not muted and energy_db < noise + NOISE_SPECTRUM_MARGIN_DB:
            self._learn_noise_spectrum()
        return feats

    def _learn_noise_spectrum(self) -> None:
        """Average the spectrum of background frames (every few), to subtract it from speech frames."""
        self._noise_count += 1
        if self._noise_count % NOISE_SPECTRUM_EVERY:
            return
        spec = np.fft.rfft(self._buf * self._window, N_FFT)
        p = spec.real ** 2 + spec.imag ** 2
        if self._noise_spec is None:
            self._noise_spec = p
        else:
            self._noise_spec += NOISE_SPECTRUM_RATE * (p - self._noise_spec)

    def _track_bed(self, energy_db: float, vad: bool) -> None:
        """The bed of noise or music the talk sits on: a low percentile of the last few seconds of levels.

        Capped by the frames the VAD rejects: a real bed (music, a TV) also fills those, while in continuous
        talk in a quiet room the low percentile is only the soft end of speech.
        """
        self._bed_levels[self._bed_count % self._bed_n] = energy_db
        self._bed_count += 1
        if not vad:
            self._rejected[self._rejected_count % self._bed_n] = energy_db
            self._rejected_count += 1
        n, r = min(self._bed_count, self._bed_n), min(self._rejected_count, self._bed_n)
        if self._bed_count % self._bed_every == 0 and n >= self._bed_n // 10 and r >= REJECTED_MIN:
            k = int(BED_QUANTILE * n)
            bed = float(np.partition(self._bed_levels[:n], k)[k])
            k = int(REJECTED_QUANTILE * r)
            self.bed_db = min(bed, float(np.partition(self._rejected[:r], k)[k]) + REJECTED_MARGIN_DB)

    def _track_noise(self, energy_db: float) -> None:
        """Fast-falling, slow-rising floor: follows the quietest frames, ignores speech."""
        if self.noise_db is None or energy_db < self.noise_db:
            self.noise_db = energy_db if self.noise_db is None else 0.7 * self.noise_db + 0.3 * energy_db
        else:
            self.noise_db += min(self._rise_per_frame, energy_db - self.noise_db)

    def _analyse(self, feats: FrameFeatures) -> None:
        """One FFT of the last 60 ms gives brightness, 12 mel cepstra (no c0) and, via its inverse, pitch."""
        w = self._buf * self._window
        spec = np.fft.rfft(w, N_FFT)
        p = spec.real ** 2 + spec.imag ** 2
        if self._noise_spec is not None:   # spectral subtraction: the voice, not the dishwasher
            p = np.maximum(p - self._noise_spec, SUBTRACTION_FLOOR * p)
        low = float(p[self._low_bins].sum()) + 1e-3
        high = float(p[self._high_bins].sum()) + 1e-3
        feats.bright_db = 10.0 * math.log10(high / low)
        feats.mfcc = self._dct @ np.log(self._mel @ p[self._mel_bins] + 1e-3)
        if feats.bright_db > UNVOICED_BRIGHT_DB:
            return   # a hiss (s, f, sh): no pitch to find, skip the inverse FFT
        r = np.fft.irfft(p, N_FFT)[:self._lag_hi + 2]
        if r[0] <= 0.0:
            return
        # Boersma's correction: divide by the window's own autocorrelation to undo its taper.
        nac = r[self._lags] * (self._inv_window_ac / r[0])
        inner = nac[1:-1]
        peaks = np.nonzero((inner > nac[:-2]) & (inner >= nac[2:]))[0] + 1
        if not len(peaks):
            return
        best = float(nac[peaks].max())
        # The shortest period nearly as strong as the best: avoids picking a multiple of the period.
        i = int(peaks[np.argmax(nac[peaks] >= 0.88 * best)])
        feats.voicing = float(nac[i])
        if feats.voicing >= VOICED_MIN:
            a, b, c = nac[i - 1], nac[i], nac[i + 1]
            denom = a - 2.0 * b + c
            lag = float(self._lags[i]) + (0.5 * (a - c) / denom if denom < 0 else 0.0)
            feats.f0_hz = SAMPLE_RATE / lag
