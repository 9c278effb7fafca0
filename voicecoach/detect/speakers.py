"""Who is speaking: an online two-partner voice model, learned without help or seeded from a calibration profile.

Each speech frame gives a voice vector: 12 mel cepstra (no c0, so loudness does not matter) scaled by their
typical spread, plus pitch in units of 6 semitones. A window of recent speech is averaged and compared with the
partners' mean vectors (root-mean-square distance). The first stretch of speech founds partner "A"; speech far
enough from A for long enough founds "B"; after that each window goes to the nearer partner, with hysteresis.

The stretch's label follows the mean of the whole stretch, so when the other partner takes over within one stretch
(a quick turn change, in a room often bridged by the last one's reverberation) it keeps the previous partner's
label for seconds. The last ``RECENT_MS`` of speech are therefore also compared with both partners:
``recent_other`` says they sound clearly more like the other partner, and ``unsure`` that the stretch is a near
tie between the two (the label is not changed by either; the raised-voice detector is wary meanwhile). When the
recent speech is much nearer the other partner (``split_ratio``), the other partner has taken over: the stretch
is split there, and a new one, named after them, begins with that recent speech (thirty-first pass).

A new stretch is named only after ``decide_ms`` of speech, and a partner's own turn is cut into stretches by every
breath. Speech that resumes within ``CONTINUE_GAP_MS`` of a named stretch is therefore named after ``CONTINUE_MS``
as the same partner when it sounds clearly like them (and left unnamed until ``decide_ms`` otherwise).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..paths import write_private
from .features import N_MFCC, FrameFeatures
from .settings import SpeakerSettings

# Typical spread of each cepstrum across speech frames (measured on LibriSpeech): makes dimensions comparable.
# Then divided by their within-speaker spread over ~0.6 s, so that every dimension counts alike.
MFCC_SCALE = np.array([7.9, 3.9, 3.6, 2.6, 2.0, 1.8, 1.5, 1.2, 1.2, 1.2, 1.0, 1.0]) * np.array(
    [0.35, 0.38, 0.39, 0.39, 0.38, 0.39, 0.39, 0.43, 0.40, 0.37, 0.44, 0.39])
PITCH_UNIT_ST = 6.0 * 0.43
DIM = N_MFCC + 1
PARTNERS = ("A", "B")
UNIT_MS = 1200             # clustering unit: up to this much speech of one stretch
MAX_UNITS = 200            # ~4 minutes of speech: the model keeps following the voices
RECLUSTER_UNITS = 2        # re-cluster after this many new units
MIN_UNITS_FOR_TWO = 8
MIN_SHARE = 0.12           # the smaller partner must have at least this share of the units
KMEANS_ITERATIONS = 6
LABEL_EVERY = 3            # speech frames between label decisions
MIN_PITCH_GAP = 0.5        # partners' pitches closer than this (x 2.6 semitones) say nothing about who speaks
RAISED_PITCH_WEIGHT = 0.4  # pitch above a partner's model counts this much when labelling (a raised voice rises)
MIN_TIMBRE_GAP = 1.2       # partners of one pitch must be this far apart in timbre (RMS of the scaled cepstra;
                           # partners of different pitch are typically 0.7-1.0) to be told apart by timbre alone
RECENT_MS = 600            # the recent voice: this much of the stretch's last speech...
RECENT_MARGIN = 0.8        # ...is the other partner's when at most this share of its distance to the labelled one
                           # (TUNE draws 1-6 of builder 7, with raised.DOUBT_CHANGE: lean-in and loud-partner raised
                           # events 10 -> 2, raised F1 dry 0.992 the same, rooms 0.962 -> 0.969; 0.9: a raise lost
                           # and the same 2; 0.7: 4)
CONTINUE_GAP_MS = 600      # speech resuming within this much silence after a named stretch...
CONTINUE_MS = 150          # ...is named after this much of it (not the full decide_ms), as the partner before...
CONTINUE_MARGIN = 0.8      # ...while it sounds clearly like them: at most this share of its distance to the other
                           # (TUNE draws 1-2 of builder 7: unnamed speech frames 20-29 % -> 14-21 %, wrong ones
                           # +0.3-1.3 points; 0.6: half the gain; 0.9, 90 ms or 1200 ms: about the same)


def voice_vector(feats: FrameFeatures) -> NDArray[np.float64]:
    """The scaled voice vector of a speech frame (pitch is NaN when unvoiced)."""
    v = np.empty(DIM)
    v[:N_MFCC] = feats.mfcc / MFCC_SCALE
    v[N_MFCC] = 12.0 * math.log2(feats.f0_hz / 100.0) / PITCH_UNIT_ST if feats.f0_hz > 0 else math.nan
    return v


def distance(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Root-mean-square difference over the dimensions both vectors have."""
    d = a - b
    d = d[~np.isnan(d)]
    return float(math.sqrt(float(np.dot(d, d)) / len(d))) if len(d) else 0.0


def label_distance(v: NDArray[np.float64], model: NDArray[np.float64]) -> float:
    """:func:`distance` for choosing whose voice this is: pitch ABOVE a partner's model counts only in part.

    A raised voice goes up in pitch (anger: 4-12 semitones) while keeping its timbre; at full weight that rise
    made a man's angry voice 'sound like' his higher-pitched partner, whose baseline it was then compared with.
    """
    d = v - model
    rise = d[N_MFCC]
    if rise == rise and rise > 0.0:
        d = d.copy()
        d[N_MFCC] = rise * RAISED_PITCH_WEIGHT
    d = d[~np.isnan(d)]
    return float(math.sqrt(float(np.dot(d, d)) / len(d))) if len(d) else 0.0


@dataclass
class PartnerVoice:
    """One partner's voice features and calm-speech baselines (what calibration records)."""

    voice: list[float] = field(default_factory=list)   # scaled voice vector (see voice_vector)
    calm_db: float | None = None                        # calm speech level, dBFS
    calm_f0_hz: float | None = None
    calm_bright_db: float | None = None


@dataclass
class VoiceProfile:
    """Both partners' voices and calm baselines; seeds the speaker model and the raised-voice baselines."""

    partners: dict[str, PartnerVoice] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise as a JSON object."""
        return json.dumps({"version": 1, "partners": {k: asdict(v) for k, v in self.partners.items()}})

    @classmethod
    def from_json(cls, text: str) -> "VoiceProfile":
        """Parse what :meth:`to_json` wrote (raises ValueError on anything else)."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("partners"), dict):
            raise ValueError("not a voicecoach voice profile")
        partners = {}
        for label, p in data["partners"].items():
            if label not in PARTNERS:
                raise ValueError(f"unknown partner label {label!r} in voice profile")
            voice = [float(x) for x in p.get("voice", [])]
            if voice and len(voice) != DIM:
                raise ValueError(f"voice vector of partner {label} has {len(voice)} values, expected {DIM}")
            partners[label] = PartnerVoice(voice, p.get("calm_db"), p.get("calm_f0_hz"), p.get("calm_bright_db"))
        return cls(partners)

    def save(self, path: Path | str) -> None:
        """Write the profile to an owner-only (0600) file: a voice print is personal data."""
        write_private(path, self.to_json())

    @classmethod
    def load(cls, path: Path | str) -> "VoiceProfile":
        """Read a profile file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


class SpeakerTracker:
    """Labels speech frames "A"/"B"; the partners are found by re-clustering recent stretches of speech."""

    def __init__(self, settings: SpeakerSettings, frame_ms: int = 30, profile: VoiceProfile | None = None) -> None:
        self.settings = settings
        self.frame_ms = frame_ms
        self._profile = profile
        self._decide_n = max(1, settings.decide_ms // frame_ms)
        self._unit_n = max(self._decide_n, UNIT_MS // frame_ms)
        self._gap_n = max(1, settings.gap_ms // frame_ms)
        self._noisy_gap_n = max(self._gap_n, settings.noisy_gap_ms // frame_ms)
        self._switch_n = max(1, 300 // (frame_ms * LABEL_EVERY))
        self._recent_n = max(LABEL_EVERY, RECENT_MS // frame_ms)
        self._continue_gap_n = CONTINUE_GAP_MS // frame_ms
        self._continue_n = max(1, CONTINUE_MS // frame_ms)
        self._split_ratio = settings.split_ratio
        self.reset()

    def reset(self) -> None:
        """Forget the partners (unless a profile seeds them) and the current stretch."""
        self.models: dict[str, NDArray[np.float64]] = {}
        if self._profile is not None:
            for label, p in self._profile.partners.items():
                if len(p.voice) == DIM:
                    self.models[label] = np.array(p.voice, dtype=np.float64)
        self._seeded = len(self.models) == 2
        self._seeds = dict(self.models)
        self._stretch = _Accumulator()
        self._unit = _Accumulator()
        self._unit_frames = 0
        self.separation = 0.0
        self._units = np.zeros((MAX_UNITS, DIM))
        self._n_units = 0
        self._unit_next = 0
        self._new_units = 0
        self.label: str | None = None
        self.stretch_frames = 0        # speech frames in the current stretch (turn)
        self.silence_frames = 10 ** 6
        self.distances: dict[str, float] = {}
        self._switch = 0
        self.last_mfcc: NDArray[np.float64] | None = None   # scaled cepstra of the last speech frame
        self.last_pitch = math.nan                          # its scaled pitch (NaN when unvoiced)
        self._contrast_cache: dict[str, tuple] = {}
        self._recent = _Window(self._recent_n)
        self.recent_other = False   # the last RECENT_MS of the stretch sound clearly like the other partner
        self.unsure = False         # the stretch's voice is about as far from the other partner as from its label
        self._previous: str | None = None   # the last stretch's label
        self._gap_before = 10 ** 6          # silent frames before the current stretch
        self._recent_ratio = math.inf
        self.splits = 0   # stretches split where the voice changed partner (for measurement)

    def process(self, feats: FrameFeatures, muted: bool = False) -> str | None:
        """Take one frame's features; returns the current partner label (or None)."""
        label = self._process(feats, muted)
        if label is None or len(self.models) != 2:
            self.recent_other = self.unsure = False
        return label

    def _process(self, feats: FrameFeatures, muted: bool) -> str | None:
        if not feats.is_speech or feats.quiet or feats.mfcc is None:
            self.silence_frames += 1
            # in noise, soft speech sounds fall under the floor: a short dip there is not a turn boundary
            noisy = 0.0 < feats.snr_db < self.settings.noisy_snr_db
            if self.silence_frames >= (self._noisy_gap_n if noisy else self._gap_n) and self.stretch_frames:
                self._end_stretch()
            return self.label if self.stretch_frames else None
        if muted:
            return self.label
        if not self.stretch_frames:
            self._gap_before = self.silence_frames
        self.silence_frames = 0
        self.stretch_frames += 1
        m = feats.mfcc / MFCC_SCALE
        pitch = 12.0 * math.log2(feats.f0_hz / 100.0) / PITCH_UNIT_ST if feats.f0_hz > 0 else math.nan
        self.last_mfcc, self.last_pitch = m, pitch
        self._stretch.add(m, pitch)
        self._unit.add(m, pitch)
        self._recent.add(m, pitch)
        if self._unit.frames >= self._unit_n:
            self._close_unit()
        if self.stretch_frames < self._decide_n or not self.models:
            return self._continued()
        if self.label is not None and self.stretch_frames % LABEL_EVERY:
            return self.label   # the label moves slowly: re-deciding every few frames is enough
        self.distances = {k: label_distance(self.stretch_vector(), m) for k, m in self.models.items()}
        self._choose()
        self._judge_recent()
        if self.recent_other and self._split_ratio > 0.0 and self._recent_ratio < self._split_ratio:
            self._split()
        self._judge_sure()
        return self.label

    def _continued(self) -> str | None:
        """Before the stretch is decided: the previous stretch's partner when speech resumed after a short gap
        and sounds clearly like them so far (the same partner going on after a breath); otherwise None."""
        self.label = None
        prev = self._previous
        if (prev is None or len(self.models) != 2 or prev not in self.models
                or self._gap_before > self._continue_gap_n or self.stretch_frames < self._continue_n):
            return None
        other = "B" if prev == "A" else "A"
        v = self.stretch_vector()
        if label_distance(v, self.models[prev]) < CONTINUE_MARGIN * label_distance(v, self.models[other]):
            self.label = prev
        return self.label

    def _judge_recent(self) -> None:
        """Whether the stretch's last RECENT_MS sound clearly more like the other partner than the labelled one.

        Judged once the stretch holds twice that much speech (before, the stretch's mean is the recent voice).
        """
        self._recent_ratio = math.inf   # not judged now: no split on an old judgement
        if len(self.models) != 2 or self.label not in self.models:
            return
        if self.stretch_frames < 2 * self._recent_n or not self._recent.full:
            return
        other = "B" if self.label == "A" else "A"
        v = self._recent.mean()
        self._recent_ratio = label_distance(v, self.models[other]) / max(label_distance(v, self.models[self.label]),
                                                                        1e-9)
        self.recent_other = self._recent_ratio < RECENT_MARGIN

    def _judge_sure(self) -> None:
        """Whether the stretch's label is a near tie: its voice is about as far from the other partner (a turn's
        first words, named after decide_ms, can be; a partner who leans in and is named as the other one is then
        judged against that one's calm voice). ``unsure_ratio`` 0.8 (0.9: half the gain), chosen on TRAIN draws 1-11
        of dry lean-in talks (7 raised-voice events and a false pause suggestion there, all a leaning partner named
        as the other one, -> 0; 7.4 h) and TUNE draw 1 (lean-in and calm talk unchanged; raised stretches found in
        rooms 40 -> 37 of 40, dry median latency 1.9 -> 2.2 s, dry pause latency 8.6 -> 14.6 s). Since the
        seventeenth pass the raised-voice detector still learns while unsure (TUNE draw 1: rooms 39 of 40, dry
        2.07 s; draw 2: dry raised recall 0.97 -> 1.00; TRAIN 1-11 still 0 events)."""
        if len(self.models) != 2 or self.label not in self.distances:
            self.unsure = False
            return
        other = "B" if self.label == "A" else "A"
        self.unsure = self.distances[self.label] >= self.settings.unsure_ratio * self.distances.get(other, math.inf)

    def model_pitches_st(self) -> dict[str, float]:
        """Each partner's voice-model pitch (semitones over 100 Hz), once both voices are told apart."""
        if len(self.models) != 2:
            return {}
        return {k: float(m[-1]) * PITCH_UNIT_ST for k, m in self.models.items() if m[-1] == m[-1]}

    def stretch_vector(self) -> NDArray[np.float64]:
        """Mean voice vector of the current stretch (turn) so far."""
        return self._stretch.mean()

    def contrast(self, holder: str) -> tuple[float, float, float, float] | None:
        """How much more the last speech frame sounds like the other partner than like ``holder``.

        Returns (timbre, pitch, fit_holder, fit_other): the cepstral part scaled so the holder's own frames
        average -1 and the other's +1; the pitch part in [-1, 1] (0 when unvoiced or when both partners have the
        same pitch); and the frame's RMS cepstral distance to each partner (how well it fits either voice).
        None until both partners are known, and when their voices differ too little to tell apart per frame.
        """
        other = "B" if holder == "A" else "A"
        if self.last_mfcc is None or holder not in self.models or other not in self.models:
            return None
        cached = self._contrast_cache.get(holder)
        if cached is None:
            # |m-mh|^2 - |m-mo|^2 = 2 m.(mo-mh) + |mh|^2 - |mo|^2: one dot product per frame
            mh, mo = self.models[holder], self.models[other]
            dm = mo[:N_MFCC] - mh[:N_MFCC]
            sep2 = max(float(np.dot(dm, dm)), 1e-9)
            offset = (float(np.dot(mh[:N_MFCC], mh[:N_MFCC])) - float(np.dot(mo[:N_MFCC], mo[:N_MFCC]))) / sep2
            ph, po = float(mh[N_MFCC]), float(mo[N_MFCC])
            # one pitch and close timbres: the model cannot tell these two voices apart frame by frame
            apart = abs(po - ph) >= MIN_PITCH_GAP or sep2 >= MIN_TIMBRE_GAP ** 2 * N_MFCC
            cached = (2.0 * dm / sep2, offset, ph, po, sep2,
                      mh[:N_MFCC].copy(), float(np.dot(mh[:N_MFCC], mh[:N_MFCC])), apart)
            self._contrast_cache[holder] = cached
        weights, offset, ph, po, sep2, mh_vec, mh_norm2, apart = cached
        if not apart:
            return None
        m = self.last_mfcc
        timbre = float(np.dot(m, weights)) + offset
        dist2_h = max(0.0, float(np.dot(m, m)) - 2.0 * float(np.dot(m, mh_vec)) + mh_norm2)
        dist2_o = max(0.0, dist2_h - timbre * sep2)
        pitch = 0.0
        p = self.last_pitch
        if p == p and abs(po - ph) >= MIN_PITCH_GAP:
            pitch = max(-1.0, min(1.0, (abs(p - ph) - abs(p - po)) / abs(po - ph)))
        return timbre, pitch, math.sqrt(dist2_h / N_MFCC), math.sqrt(dist2_o / N_MFCC)

    def _split(self) -> None:
        """The stretch's last RECENT_MS sound clearly like the other partner: a turn change with no gap (or one the
        last voice's reverberation bridged). The stretch ends there and a new one, the other partner's, begins with
        that recent speech, so neither partner's voice is judged with the other's words in it."""
        other = "B" if self.label == "A" else "A"
        self._close_unit()
        self._stretch.clear()
        recent = self._recent.items()
        for v in recent:
            self._stretch.add(v[:N_MFCC], float(v[N_MFCC]))
        self.stretch_frames = len(recent)
        self._gap_before = 0
        self._switch = 0
        self.label = other
        self.distances = {k: label_distance(self.stretch_vector(), m) for k, m in self.models.items()}
        self.recent_other = False
        self.splits += 1

    def _close_unit(self) -> None:
        """Store the voice of the last stretch of speech as one clustering unit."""
        if self._unit.frames >= self._decide_n:
            self._add_unit(self._unit.mean())
        self._unit.clear()

    def _end_stretch(self) -> None:
        """A gap: the stretch ends; its unfinished unit is kept if long enough."""
        self._close_unit()
        self._stretch.clear()   # the next stretch may be the other partner: do not mix the two
        self._recent.clear()
        self.stretch_frames = 0
        self._switch = 0
        self._previous = self.label
        self.label = None
        self.recent_other = self.unsure = False

    def _choose(self) -> None:
        """Nearest partner for this window, with hysteresis inside a stretch."""
        nearest = min(self.distances, key=self.distances.__getitem__)
        if self.label is None or self.label not in self.models:
            self.label = nearest
            self._switch = 0
        elif nearest != self.label:
            self._switch += 1
            if self._switch >= self._switch_n:
                self.label = nearest
                self._switch = 0
        else:
            self._switch = 0

    def _add_unit(self, vec: NDArray[np.float64] | None) -> None:
        """Store one ~0.6 s unit of a partner's voice; re-cluster every few units."""
        if vec is None:
            return
        if np.isnan(vec[-1]):
            vec = vec.copy()
            vec[-1] = self._units[: self._n_units, -1].mean() if self._n_units else 0.0
        self._units[self._unit_next] = vec
        self._unit_next = (self._unit_next + 1) % MAX_UNITS
        self._n_units = min(self._n_units + 1, MAX_UNITS)
        self._new_units += 1
        if self._new_units >= RECLUSTER_UNITS or not self.models:
            self._new_units = 0
            self._recluster()

    def _recluster(self) -> None:
        """Two-means over the stored units; two partners when the clusters stand apart and both are sizeable (until
        then the partners known, or a profile's, are kept)."""
        units = self._units[: self._n_units]
        if self._n_units < MIN_UNITS_FOR_TWO:
            if not self._seeded:
                self.models = {"A": units.mean(axis=0)}
            return
        starts = [_principal_split(units)]
        if "A" in self.models and "B" in self.models:
            prev = np.stack([self.models["A"], self.models["B"]])
            starts.append(np.where(np.isnan(prev), units.mean(axis=0), prev))
        best = min((_two_means(units, c) for c in starts), key=lambda r: r[0])
        sse, cents, assign = best
        if "A" in self.models and "B" in self.models:
            # keep the labels stable: A stays the centroid nearer the old A
            old_a = self.models["A"]
            if distance(cents[1], old_a) < distance(cents[0], old_a):
                cents = cents[::-1].copy()
                assign = 1 - assign
        share = min(np.mean(assign == 0), np.mean(assign == 1))
        spread = math.sqrt(sse / len(units) / DIM)
        self.separation = distance(cents[0], cents[1]) / max(spread, 1e-6)
        if share >= MIN_SHARE and self.separation >= self.settings.new_partner_distance and self._as_profile(cents):
            self.models = {"A": cents[0], "B": cents[1]}   # two voices stand apart: follow them
        elif "B" not in self.models:
            self.models = {"A": units.mean(axis=0)}
        # otherwise the partners known are kept, a profile's too: one partner's monologue, re-clustered into two
        # halves of one voice, used to overwrite a profile after about 10 s, and the labels then flipped at random
        self._contrast_cache.clear()

    def _as_profile(self, cents: NDArray[np.float64]) -> bool:
        """Whether two centroids are the profile's two voices, each nearer its own partner's (always, unseeded)."""
        if not self._seeded:
            return True
        a, b = self._seeds["A"], self._seeds["B"]
        return distance(cents[0], a) < distance(cents[0], b) and distance(cents[1], b) < distance(cents[1], a)


class _Accumulator:
    """Running mean of voice vectors: cepstra always, pitch only over voiced frames."""

    def __init__(self) -> None:
        self.mfcc = np.zeros(N_MFCC)
        self.clear()

    def clear(self) -> None:
        """Start afresh."""
        self.mfcc[:] = 0.0
        self.frames = 0
        self.pitch = 0.0
        self.voiced = 0

    def add(self, mfcc: NDArray[np.float64], pitch: float) -> None:
        """Add one frame (pitch NaN when unvoiced)."""
        self.mfcc += mfcc
        self.frames += 1
        if pitch == pitch:
            self.pitch += pitch
            self.voiced += 1

    def mean(self) -> NDArray[np.float64]:
        """The mean voice vector so far."""
        out = np.empty(DIM)
        out[:N_MFCC] = self.mfcc / max(self.frames, 1)
        out[N_MFCC] = self.pitch / self.voiced if self.voiced else math.nan
        return out


class _Window:
    """The last ``n`` voice vectors of a stretch."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._items: deque[NDArray[np.float64]] = deque(maxlen=n)

    @property
    def full(self) -> bool:
        """Whether ``n`` frames are in the window."""
        return len(self._items) == self.n

    def clear(self) -> None:
        """Start afresh."""
        self._items.clear()

    def add(self, mfcc: NDArray[np.float64], pitch: float) -> None:
        """Add one frame (pitch NaN when unvoiced), dropping the oldest beyond ``n``."""
        v = np.empty(DIM)
        v[:N_MFCC] = mfcc
        v[N_MFCC] = pitch
        self._items.append(v)

    def items(self) -> list[NDArray[np.float64]]:
        """The voice vectors in the window, oldest first."""
        return list(self._items)

    def mean(self) -> NDArray[np.float64]:
        """The mean voice vector: cepstra over all frames, pitch over the voiced ones (NaN when none is)."""
        a = np.array(self._items)
        out = a.mean(axis=0)
        voiced = a[:, N_MFCC][~np.isnan(a[:, N_MFCC])]
        out[N_MFCC] = voiced.mean() if len(voiced) else math.nan
        return out


def _principal_split(units: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two starting centroids: the means of the units either side of the main axis of variation."""
    centred = units - units.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    side = centred @ vecs[:, -1] > 0
    if side.all() or not side.any():
        return units[[0, -1]].copy()
    return np.stack([units[side].mean(axis=0), units[~side].mean(axis=0)])


def _two_means(units: NDArray[np.float64], cents: NDArray[np.float64]) -> tuple[float, NDArray, NDArray]:
    """A few Lloyd iterations; returns (within-cluster sum of squares, centroids, assignment)."""
    cents = cents.copy()
    for _ in range(KMEANS_ITERATIONS):
        d = ((units[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2)
        assign = np.argmin(d, axis=1)
        for k in (0, 1):
            members = units[assign == k]
            if len(members):
                cents[k] = members.mean(axis=0)
    d = ((units[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2)
    assign = np.argmin(d, axis=1)
    return float(d.min(axis=1).sum()), cents, assign
