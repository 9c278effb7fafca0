"""Raised voice: a partner's VOICE changes (pitch up, more energy above 1 kHz) and gets louder than their own calm.

A raised voice is vocal effort: the pitch rises (anger: typically 4-12 semitones), the spectrum tilts up (more
energy above 1 kHz in voiced speech: typically 6-11 dB), and the level rises. A partner who leans towards the
microphone, or a couple who move nearer it, only gets louder: the same pitch, the same tilt. So the voice change
is required, not just a bonus: a level rise with an unchanged voice is a change of distance, and after
``adapt_after_s`` of it that partner's baseline moves to the new level instead of firing.

Per partner a calm baseline (level, pitch, tilt of voiced frames) is tracked by a robust running quantile over their
calm speech (a sign-step tracker, so a shout cannot drag it), and is frozen while they are raised. Entering needs
enough evidence for ``hold_ms`` of speech; leaving needs the level to drop below the exit level for ``release_ms``;
then a refractory time. A naturally loud partner is compared with their own baseline; a quiet partner who raises
their voice to about the loud one's calm level is heard, as long as their raised level is within
``over_other_db`` of the other partner's calm level (a guard against frames given to the wrong partner).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..events import RaisedVoice
from .features import FrameFeatures
from .settings import RaisedSettings

MIN_VOICED_SHARE = 0.3     # coughs, door bangs and most noise are unvoiced
GLOBAL_SPEED = 5.0         # baseline speed-up when everyone got louder (moved nearer the microphone)
RESUM_EVERY = 2000
BASELINE_QUANTILE = 0.75   # calm loudness varies a lot within a voice: compare with its loud-but-calm end
WARM_PERCENTILE_EVERY = 10  # frames between percentile updates while warming up
RECENT_OTHER_S = 30.0      # the other partner's loudness counts for this long after they spoke
UNCHANGED_VOICE = 0.35     # a voice-change score under this is the same voice (louder only: nearer the mic)
VOICE_MIN_SHARE = 40       # % of the voice window (in voiced frames) needed before the voice is judged at all


@dataclass
class Baseline:
    """One partner's calm-speech reference and raised-voice state."""

    level_db: float | None = None
    f0_st: float | None = None
    bright_db: float | None = None
    calm_s: float = 0.0
    warm_levels: list[float] = field(default_factory=list)   # calm levels heard while warming up
    loud_unsupported_s: float = 0.0
    raised: bool = False
    onset_s: float = 0.0
    evidence_frames: int = 0
    last_loud_s: float = -1e9
    ended_s: float = -1e9
    raised_s: float = 0.0
    recent_excess_db: float = 0.0
    recent_s: float = -1e9
    recent_change: float = 0.0
    recent_level_db: float = 0.0


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


class RaisedVoiceDetector:
    """Emits :class:`RaisedVoice` when a partner is clearly louder than their own calm speech."""

    def __init__(self, settings: RaisedSettings, frame_ms: int = 30) -> None:
        self.settings = settings
        self.frame_s = frame_ms / 1000.0
        self._win_n = max(2, settings.level_window_ms // frame_ms)
        self._voice_n = max(2, settings.voice_window_ms // frame_ms)
        self._voice_min = max(1, self._voice_n * VOICE_MIN_SHARE // 100)
        self._hold_n = max(1, settings.hold_ms // frame_ms)
        self.reset()

    def reset(self) -> None:
        """Forget baselines and state."""
        self.partners: dict[str, Baseline] = {}
        self._recent: deque[tuple[float, float, float]] = deque()   # (power, f0 semitones or nan, brightness)
        self._sums = [0.0, 0.0, 0.0, 0]     # power, voiced semitones, brightness, voiced frames
        self._voice: deque[tuple[float, float]] = deque()   # (semitones, tilt) of the stretch's last voiced frames
        self._voice_sums = [0.0, 0.0]
        self._pushes = 0
        self._together_s = 0.0
        self._label: str | None = None
        self._last_speech_s = -1e9
        self.active: str | None = None   # partner currently raised and speaking
        self.excess_db = 0.0

    def seed(self, label: str, level_db: float | None, f0_hz: float | None, bright_db: float | None) -> None:
        """Start a partner's baseline from a calibration profile."""
        b = self.partners.setdefault(label, Baseline())
        b.level_db, b.bright_db = level_db, bright_db
        b.f0_st = 12.0 * math.log2(f0_hz / 100.0) if f0_hz else None
        b.calm_s = self.settings.baseline_speech_s if level_db is not None else 0.0

    def process(self, feats: FrameFeatures, label: str | None, muted: bool = False,
                new_stretch: bool = False) -> list[RaisedVoice]:
        """Take one frame and its partner label (None while undecided); returns a confirmed RaisedVoice.

        ``new_stretch``: this speech follows a gap, so the level window starts afresh (it may be the other
        partner); frames before the label is decided still count towards the stretch's level.
        """
        self.active = None
        if muted or not feats.is_speech:
            return self._release(feats.end_s)
        # a pause of a few hundred ms inside a turn (between sentences) keeps the windows: the turn goes on,
        # unless the label, once decided, says it is the other partner
        resumed = new_stretch and feats.end_s - self._last_speech_s <= self.settings.resume_gap_ms / 1000.0
        if (new_stretch and not resumed) or (label is not None and self._label is not None and label != self._label):
            self._clear()   # a new turn or a new partner: their own level only
            for b in self.partners.values():
                b.evidence_frames = 0
        if label is not None or (new_stretch and not resumed):
            self._label = label
        self._last_speech_s = feats.end_s
        self._push(feats)
        n = len(self._recent)
        if label is None or n < self._win_n // 2:
            return self._release(feats.end_s)
        b = self.partners.setdefault(label, Baseline())
        power, _, _, voiced = self._sums
        level = 10.0 * math.log10(max(power, 0.0) / n + 1e-12)
        nv = len(self._voice)
        # the voice is judged over a longer stretch of voiced speech than the level: pitch and tilt wander more
        f0_st = self._voice_sums[0] / nv if nv >= self._voice_min else None
        bright = self._voice_sums[1] / nv if nv >= self._voice_min else None
        events = self._judge(b, label, level, f0_st, bright, voiced / n, feats.end_s)
        if b.raised:
            self.active = label
            b.raised_s += self.frame_s
        return events + self._release(feats.end_s)

    def _push(self, feats: FrameFeatures) -> None:
        """Add a speech frame to the level window (running sums: no per-frame array work).

        Pitch and tilt come from voiced frames only: the tilt of a hiss (s, sh) says nothing about vocal effort.
        """
        voiced = feats.f0_hz > 0
        semitones = 12.0 * math.log2(feats.f0_hz / 100.0) if voiced else math.nan
        item = (10.0 ** (feats.energy_db / 10.0), semitones, feats.bright_db if voiced else 0.0)
        self._recent.append(item)
        self._add(item, 1)
        if len(self._recent) > self._win_n:
            self._add(self._recent.popleft(), -1)
        if voiced:
            self._voice.append((semitones, feats.bright_db))
            self._voice_sums[0] += semitones
            self._voice_sums[1] += feats.bright_db
            if len(self._voice) > self._voice_n:
                old = self._voice.popleft()
                self._voice_sums[0] -= old[0]
                self._voice_sums[1] -= old[1]
        self._pushes += 1
        if self._pushes % RESUM_EVERY == 0:   # running sums drift in floating point: start them afresh
            items, voice = list(self._recent), list(self._voice)
            self._clear()
            for it in items:
                self._recent.append(it)
                self._add(it, 1)
            self._voice.extend(voice)
            self._voice_sums = [sum(v[0] for v in voice), sum(v[1] for v in voice)]

    def _add(self, item: tuple[float, float, float], sign: int) -> None:
        sums = self._sums
        sums[0] += sign * item[0]
        sums[2] += sign * item[2]
        if item[1] == item[1]:   # voiced (not NaN)
            sums[1] += sign * item[1]
            sums[3] += sign

    def _clear(self) -> None:
        self._recent.clear()
        self._sums = [0.0, 0.0, 0.0, 0]
        self._voice.clear()
        self._voice_sums = [0.0, 0.0]

    def _voice_change(self, b: Baseline, f0_st: float | None, bright: float | None) -> tuple[float, float]:
        """(evidence bonus dB, voice-change score) of the window against the partner's calm voice.

        The score adds the pitch rise in units of ``pitch_rise_st`` and the rise of the voiced tilt in units of
        ``tilt_rise_db``: 1 is a clearly changed voice; leaning in scores about 0.
        """
        s = self.settings
        pitch = f0_st - b.f0_st if f0_st is not None and b.f0_st is not None else 0.0
        tilt = bright - b.bright_db if bright is not None and b.bright_db is not None else 0.0
        bonus = min(s.pitch_weight_db_per_st * max(0.0, pitch) + s.bright_weight * max(0.0, tilt), s.max_bonus_db)
        if bright is not None and b.bright_db is not None and tilt < s.min_tilt_rise_db:
            # pitch alone is ambiguous: the other partner's higher voice given to this one looks the same
            return bonus, min(max(0.0, pitch) / s.pitch_rise_st, s.min_change * 0.99)
        return bonus, max(0.0, pitch) / s.pitch_rise_st + max(0.0, tilt) / s.tilt_rise_db

    def _judge(self, b: Baseline, label: str, level: float, f0_st: float | None, bright: float | None,
               voiced_share: float, now_s: float) -> list[RaisedVoice]:
        """Compare with the baseline; learn the baseline from calm speech."""
        s = self.settings
        if b.level_db is None or b.calm_s < s.baseline_speech_s:
            self._learn(b, level, f0_st, bright, warm=True)
            return []
        excess = level - b.level_db
        bonus, change = self._voice_change(b, f0_st, bright)
        self.excess_db = excess
        others = [o.level_db for k, o in self.partners.items() if k != label and o.level_db is not None
                  and o.calm_s >= s.baseline_speech_s]
        above_other = not others or level - max(others) >= s.over_other_db
        b.recent_excess_db, b.recent_s, b.recent_change, b.recent_level_db = excess, now_s, change, level
        louder = self._everyone_louder(label, excess, now_s) if change < UNCHANGED_VOICE and (
            f0_st is not None or bright is not None) else []
        if louder:
            self._together_s += self.frame_s
        elif excess < s.min_level_db:
            self._together_s = max(0.0, self._together_s - self.frame_s)
        if louder and self._together_s >= s.together_adapt_s:
            # both partners louder for a while with no change of voice: nearer the microphone, or the gain changed
            b.evidence_frames = 0
            self._learn(b, level, f0_st, bright, warm=False, speed=GLOBAL_SPEED)
            for o in louder:   # the other partner's baseline moves up too, and their stretch ends
                step = self.settings.baseline_rate_db_per_s * self.frame_s * GLOBAL_SPEED
                o.level_db = min(o.recent_level_db, (o.level_db or o.recent_level_db) + step)
                o.recent_excess_db = o.recent_level_db - o.level_db
            return []
        evidence = (excess + bonus >= s.enter_db and excess >= s.min_level_db and change >= s.min_change
                    and above_other and voiced_share >= MIN_VOICED_SHARE)
        if b.raised:
            if excess >= s.exit_db:
                b.last_loud_s = now_s
            return []
        judged = f0_st is not None or bright is not None   # enough voiced speech in this turn to judge the voice
        if excess >= s.min_level_db and judged and change < UNCHANGED_VOICE:
            # louder, same voice: nearer the microphone. Once that has lasted, the baseline moves to the new level.
            b.loud_unsupported_s += self.frame_s
            if b.loud_unsupported_s >= s.adapt_after_s:
                self._learn(b, level, f0_st, bright, warm=False, speed=s.distance_rate_db_per_s
                            / max(s.baseline_rate_db_per_s, 1e-6))
                b.evidence_frames = 0
                return []
        elif judged and change >= s.min_change:   # a changed voice: whatever it is, not a change of distance
            b.loud_unsupported_s = max(0.0, b.loud_unsupported_s - self.frame_s)
        if evidence:
            if b.evidence_frames == 0:
                b.onset_s = now_s - len(self._recent) * self.frame_s
            b.evidence_frames += 1
            if b.evidence_frames >= self._hold_n:
                b.raised = True   # counted as raised time either way; reported only after the refractory time
                b.last_loud_s = now_s
                b.evidence_frames = 0
                if now_s - b.ended_s >= s.refractory_s:
                    return [RaisedVoice(t=now_s, start=round(b.onset_s, 3), end=None, speaker=label,
                                        level_db=round(excess, 1))]
            return []
        b.evidence_frames = max(0, b.evidence_frames - 2)
        if excess < s.min_level_db:
            b.loud_unsupported_s = max(0.0, b.loud_unsupported_s - self.frame_s)
            # a voice that has changed teaches nothing about the calm one (the start of a raised turn is often
            # not yet loud enough)
            self._learn(b, level, f0_st, bright, warm=False, voice=change < s.min_change / 2)
        return []

    def _everyone_louder(self, label: str, excess: float, now_s: float) -> list[Baseline]:
        """The other partners who, heard recently, were also well above their own baseline with no support."""
        if excess < self.settings.min_level_db:
            return []
        return [o for k, o in self.partners.items()
                if k != label and now_s - o.recent_s <= RECENT_OTHER_S and o.recent_change < UNCHANGED_VOICE
                and o.recent_excess_db >= 0.6 * excess and o.level_db is not None]

    def _learn(self, b: Baseline, level: float, f0_st: float | None, bright: float | None, warm: bool,
               speed: float = 1.0, voice: bool = True) -> None:
        """A percentile of the calm levels while warming up, then a quantile (sign-step) tracker."""
        b.calm_s += self.frame_s
        if warm or b.level_db is None:
            k = min(1.0, self.frame_s / max(b.calm_s, self.frame_s))
            b.warm_levels.append(level)
            b.level_db = float(np.percentile(b.warm_levels, 100.0 * BASELINE_QUANTILE)) if (
                len(b.warm_levels) % WARM_PERCENTILE_EVERY == 0 or b.level_db is None) else b.level_db
            if bright is not None:
                b.bright_db = bright if b.bright_db is None else b.bright_db + k * (bright - b.bright_db)
            if f0_st is not None:
                b.f0_st = f0_st if b.f0_st is None else b.f0_st + k * (f0_st - b.f0_st)
            return
        step = self.settings.baseline_rate_db_per_s * self.frame_s * speed
        # a quantile tracker: the baseline settles where BASELINE_QUANTILE of calm windows lie below it
        b.level_db += 2.0 * step * (BASELINE_QUANTILE if level > b.level_db else BASELINE_QUANTILE - 1.0)
        if not voice:
            return
        if bright is not None:
            b.bright_db = bright if b.bright_db is None else b.bright_db + (step if bright > b.bright_db else -step)
        if f0_st is not None and b.f0_st is not None:
            b.f0_st += step if f0_st > b.f0_st else -step

    def _release(self, now_s: float) -> list[RaisedVoice]:
        """End raised stretches that have been quiet for release_ms."""
        limit = self.settings.release_ms / 1000.0
        for b in self.partners.values():
            if b.raised and now_s - b.last_loud_s >= limit:
                b.raised = False
                b.ended_s = now_s
                b.loud_unsupported_s = 0.0
        return []
