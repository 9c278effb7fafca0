"""A partner's calm voice, as the raised-voice detector knows it, and how far a turn's voice has changed from it.

Per partner a :class:`Baseline` holds the calm level (a running quantile of calm windows: the loud-but-calm end,
so a shout cannot drag it), pitch and tilt (energy above 1 kHz in voiced speech), and how much pitch and tilt
spread from frame to frame in calm speech, and how the partner's calm turns sit against that calm voice as the
voice window fills (a bias taken off a turn's rise); plus the detector's per-partner state. :func:`voice_change`
scores a turn's voice (:class:`TurnVoice`) against it, with a confidence bound from that calm spread.
:func:`calm_level_db` measures a calm level the same way for calibration profiles.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from .settings import RaisedSettings

BASELINE_QUANTILE = 0.75   # calm loudness varies a lot within a voice: compare with its loud-but-calm end
WARM_PERCENTILE_EVERY = 10  # frames between percentile updates while warming up
VOICED_PER_MEASURE = 3     # voiced frames per independent pitch/tilt measurement (analysed every 2nd frame, and a
                           # syllable's pitch and tilt move slowly): the standard error of a mean over n voiced
                           # frames is the spread per frame times sqrt(VOICED_PER_MEASURE / n)
PITCH_SD_ST = 4.0          # a partner's calm spread per voiced frame until their own is learned (calm speech on
TILT_SD_DB = 6.5           # the tuning voices: 4.2 semitones and 6.6 dB)
SPREAD_RATE = 0.005        # per voiced calm frame: how fast the learned spread follows (after the first ones)
MAD_TO_SD = 1.25           # mean absolute deviation -> standard deviation (normal distribution)
FILL_EDGES = (6, 10, 14, 18, 24, 32)   # a turn's voice window filling up (effective voiced frames): the bins in which
                           # a partner's calm turns are compared with their calm voice
FILL_RATE = 0.003          # per calm frame: how fast a bin's bias follows (after the first ones)
FILL_MIN = 150             # calm frames a bin needs before its bias is used
FILL_CAP = 3.0             # at most this much (semitones, dB) is taken off a turn's rise as the partner's own bias
PITCH_TILT_RHO = 0.14      # correlation of a calm turn's pitch and tilt wander (TUNE draws 1-3 of builder 8, calm
                           # families, ~0.6 s means per talk and speaker: median 0.14, per frame 0.11)
SPREAD_FLOOR = 0.6         # the learned calm spread never below this share of the typical one: the first frames
                           # learned under-state it (TUNE draws 1-3 of builder 7: a dry lean-in event gone)


@dataclass
class Baseline:
    """One partner's calm-speech reference and raised-voice state."""

    level_db: float | None = None
    f0_st: float | None = None
    bright_db: float | None = None
    f0_mad_st: float | None = None       # calm spread of pitch per voiced frame (mean absolute deviation)
    bright_mad_db: float | None = None   # ...and of the tilt
    spread_frames: int = 0
    calm_s: float = 0.0
    warm_levels: list[float] = field(default_factory=list)   # calm levels heard while warming up
    loud_unsupported_s: float = 0.0
    raised: bool = False
    onset_s: float = 0.0
    evidence_frames: int = 0
    last_loud_s: float = -1e9
    ended_s: float = -1e9
    mismatch_s: float = 0.0        # the calm pitch this long far from the tracker's voice of this partner (speech)
    raised_s: float = 0.0
    recent_excess_db: float = 0.0
    recent_s: float = -1e9
    recent_change: float = 0.0
    recent_level_db: float = 0.0
    fill_n: list[int] = field(default_factory=lambda: [0] * (len(FILL_EDGES) + 1))
    fill_pitch: list[float] = field(default_factory=lambda: [0.0] * (len(FILL_EDGES) + 1))   # mean rise, st
    fill_tilt: list[float] = field(default_factory=lambda: [0.0] * (len(FILL_EDGES) + 1))    # mean rise, dB

    def spreads(self) -> tuple[float, float]:
        """Calm spread per voiced frame: (pitch semitones, tilt dB), typical values until learned."""
        if self.f0_mad_st is None or self.bright_mad_db is None:
            return PITCH_SD_ST, TILT_SD_DB
        return (max(MAD_TO_SD * self.f0_mad_st, SPREAD_FLOOR * PITCH_SD_ST),
                max(MAD_TO_SD * self.bright_mad_db, SPREAD_FLOOR * TILT_SD_DB))

    def learn(self, level: float, f0_st: float | None, bright: float | None, frame_voice: tuple[float, float] | None,
              frame_s: float, step_db: float, warm: bool, voice: bool = True) -> None:
        """Learn from one calm frame: a percentile of the calm levels while warming up, then a quantile (sign-step)
        tracker moving by ``step_db``. ``level``, ``f0_st`` and ``bright`` are the turn's window means (None: not
        enough voiced speech); ``frame_voice`` is this frame's (semitones, tilt) when voiced; ``voice``: learn the
        pitch and tilt too (not only the level)."""
        self.calm_s += frame_s
        if voice:
            self.learn_spread(frame_voice)
        if warm or self.level_db is None:
            k = min(1.0, frame_s / max(self.calm_s, frame_s))
            self.warm_levels.append(level)
            self.level_db = float(np.percentile(self.warm_levels, 100.0 * BASELINE_QUANTILE)) if (
                len(self.warm_levels) % WARM_PERCENTILE_EVERY == 0 or self.level_db is None) else self.level_db
            if bright is not None:
                self.bright_db = bright if self.bright_db is None else self.bright_db + k * (bright - self.bright_db)
            if f0_st is not None:
                self.f0_st = f0_st if self.f0_st is None else self.f0_st + k * (f0_st - self.f0_st)
            return
        # a quantile tracker: the baseline settles where BASELINE_QUANTILE of calm windows lie below it
        self.level_db += 2.0 * step_db * (BASELINE_QUANTILE if level > self.level_db else BASELINE_QUANTILE - 1.0)
        if not voice:
            return
        if bright is not None:
            self.bright_db = bright if self.bright_db is None else self.bright_db + (
                step_db if bright > self.bright_db else -step_db)
        if f0_st is not None and self.f0_st is not None:
            self.f0_st += step_db if f0_st > self.f0_st else -step_db

    def learn_spread(self, frame_voice: tuple[float, float] | None) -> None:
        """How far this calm voiced frame's (semitones, tilt) lies from the calm means (a running mean absolute
        deviation: the first frames averaged, then an exponential average)."""
        if frame_voice is None or self.f0_st is None or self.bright_db is None:
            return
        st, tilt = frame_voice
        self.spread_frames += 1
        rate = max(SPREAD_RATE, 1.0 / self.spread_frames)
        dev_f0, dev_tilt = abs(st - self.f0_st), abs(tilt - self.bright_db)
        self.f0_mad_st = dev_f0 if self.f0_mad_st is None else self.f0_mad_st + rate * (dev_f0 - self.f0_mad_st)
        self.bright_mad_db = dev_tilt if self.bright_mad_db is None else self.bright_mad_db + rate * (
            dev_tilt - self.bright_mad_db)

    def learn_fill(self, voice: TurnVoice) -> None:
        """Learn how this partner's calm turns sound against their calm voice at this fill of the voice window.

        The calm voice is learned only from windows close to it (a changed voice teaches nothing about the calm
        one), so a partner whose calm speech wanders high (a livelier passage, the first words of a turn) is
        judged against a voice lower than their calm average. This bias, per fill, is what the calm level's own
        windows (any voice) show; :func:`voice_change` takes it off a turn's rise.
        """
        if self.f0_st is None or self.bright_db is None:
            return
        k = bisect_right(FILL_EDGES, voice.effective)
        self.fill_n[k] += 1
        rate = max(FILL_RATE, 1.0 / self.fill_n[k])
        self.fill_pitch[k] += rate * (voice.f0_st - self.f0_st - self.fill_pitch[k])
        self.fill_tilt[k] += rate * (voice.bright_db - self.bright_db - self.fill_tilt[k])

    def fill_bias(self, effective: float) -> tuple[float, float]:
        """The partner's own calm rise (semitones, dB) at this fill of the voice window: 0 until learned, at most
        ``FILL_CAP``, never negative (a calm voice that sits low says nothing about a raise)."""
        k = bisect_right(FILL_EDGES, effective)
        if self.fill_n[k] < FILL_MIN:
            return 0.0, 0.0
        return min(FILL_CAP, max(0.0, self.fill_pitch[k])), min(FILL_CAP, max(0.0, self.fill_tilt[k]))


@dataclass(frozen=True)
class TurnVoice:
    """The current turn's voiced speech so far: mean pitch (semitones re 100 Hz), mean tilt (dB), voiced frames."""

    f0_st: float
    bright_db: float
    voiced: int
    effective: float   # the voiced frames' effective number under their weights


def calm_level_db(energies_db: list[float], settings: RaisedSettings, frame_ms: int = 30) -> float:
    """A calm baseline measured the way the detector measures loudness (for calibration profiles).

    ``energies_db``: per-frame levels of a partner's calm speech frames. The detector compares the power over
    ``level_window_ms`` of speech with the BASELINE_QUANTILE of such windows in calm speech.
    """
    n = max(1, settings.level_window_ms // frame_ms)
    power = 10.0 ** (np.asarray(energies_db, dtype=np.float64) / 10.0)
    if len(power) >= n:
        power = np.convolve(power, np.ones(n) / n, mode="valid")
    return float(np.percentile(10.0 * np.log10(power + 1e-12), 100.0 * BASELINE_QUANTILE))


def voice_change(s: RaisedSettings, b: Baseline, voice: TurnVoice | None) -> tuple[float, float, float]:
    """(evidence bonus dB, voice-change score, its lower confidence bound) of ``voice`` against ``b``'s calm voice.

    The score adds the pitch rise in units of ``pitch_rise_st`` and the rise of the voiced tilt in units of
    ``tilt_rise_db``: 1 is a clearly changed voice; leaning in scores about 0. The bound first takes
    ``confidence_z`` standard errors off each rise (the partner's own calm spread per frame, over the voiced
    frames heard so far); when both rose, ``joint_confidence_z`` standard errors of their sum off the score.
    """
    if voice is None or b.f0_st is None or b.bright_db is None:
        return 0.0, 0.0, 0.0
    bias_pitch, bias_tilt = b.fill_bias(voice.effective)
    pitch, tilt = voice.f0_st - b.f0_st - bias_pitch, voice.bright_db - b.bright_db - bias_tilt
    bonus = min(s.pitch_weight_db_per_st * max(0.0, pitch) + s.bright_weight * max(0.0, tilt), s.max_bonus_db)
    pitch_sd, tilt_sd = b.spreads()
    margin = s.confidence_z * math.sqrt(VOICED_PER_MEASURE / voice.effective)
    pitch_low, tilt_low = pitch - margin * pitch_sd, tilt - margin * tilt_sd
    if tilt < s.min_tilt_rise_db:
        # pitch alone is ambiguous: the other partner's higher voice given to this one looks the same
        cap = s.min_change * 0.99
        return bonus, min(max(0.0, pitch) / s.pitch_rise_st, cap), min(max(0.0, pitch_low) / s.pitch_rise_st, cap)
    change = max(0.0, pitch) / s.pitch_rise_st + max(0.0, tilt) / s.tilt_rise_db
    if pitch > 0.0 and s.joint_confidence_z > 0.0:
        # both rose: the bound on their sum. Taking the bound off each rise and adding them assumes the two wander
        # together, which calm speech does not (PITCH_TILT_RHO), so a voice both higher and brighter was sure only
        # well after it was clear (thirty-fourth pass)
        a, c = pitch_sd / s.pitch_rise_st, tilt_sd / s.tilt_rise_db
        spread = math.sqrt(a * a + c * c + 2.0 * PITCH_TILT_RHO * a * c)
        joint = s.joint_confidence_z * math.sqrt(VOICED_PER_MEASURE / voice.effective) * spread
        return bonus, change, max(0.0, change - joint)
    sure = max(0.0, pitch_low) / s.pitch_rise_st + max(0.0, tilt_low) / s.tilt_rise_db
    return bonus, change, sure
