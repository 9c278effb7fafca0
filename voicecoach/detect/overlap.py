"""Interruption from the segmentation model: a second voice starts while the first holds the floor, and goes on.

Every ``check_every_ms`` of talk the model is run on the last ``model_window_ms`` of audio. Within that window
an interruption is a local speaker X whose current run of speech began (at the onset) while another speaker Y
was speaking, Y having spoken for ``floor_ms`` before it, and X has now gone on for ``min_run_ms``. A backchannel
("mm-hm", "right") is shorter than ``min_run_ms`` and never counts; nor does a run whose last 100 ms the model
is unsure of (mean probability under ``end_confidence``): near a window's end the model sometimes carries a
backchannel's label on into the holder's voice. The model's last steps see little of the future, so the window
is judged up to ``delay_ms`` before its end.

The model costs about 25 ms of CPU a look (a 4 s window; each look reuses the filtering of the audio it shares
with the last one), so it looks only when something can be found: not while the product speaks,
not when the recent audio is not nearly all speech (an interruption needs ``floor_ms`` + ``min_run_ms`` of speech
with no gap), and, when the last look saw no second voice starting, not before ``min_run_ms`` has passed (no
interruption can be complete sooner) nor without a hint from the light voice features (:class:`LookHint`) in the
last ``hint_ms``. Once a second voice is seen starting it looks every ``check_every_ms`` for ``min_run_ms``. Who
interrupted whom comes from the speaker tracker's labels before the onset.

With the "gated" method the hint is the streaming model's gate (``stream_detector.StreamGate``), idle looks come
every ``gate_idle_ms``, and an interruption also needs the floor holder to be heard in ``gate_holder_share`` of the
second voice's run so far: a holder that fell silent soon after the onset was a turn change heard through a room's
reverberation or over a TV, not a partner being talked over.
"""

from __future__ import annotations

from collections import Counter, deque

import numpy as np
from numpy.typing import NDArray

from ..events import Interruption
from .features import FrameFeatures
from .segmentation import SAMPLE_RATE, SegmentationModel, SlidingFilters
from .settings import InterruptionSettings

SPEECH_FRACTION = 0.7      # of the frames the rule looks at: less speech than this cannot hold an interruption
HOLDER_ACTIVE = 0.6        # the holder is active in this share of the steps of floor_ms before the onset...
OVERLAP_S = 0.2            # ...and still speaking, on average, over this long after it
SAME_ONSET_S = 1.0         # onsets closer than this are one interruption seen by several checks
END_S = 0.1                # end_confidence is the interrupter's mean probability over this last stretch
HINT_TIMBRE = 0.5          # a frame this far towards the other partner's timbre (holder -1, other +1) is a hint


class LookHint:
    """Whether the light voice features hint that a second voice may have begun; the model's idle looks wait for one.

    A frame hints when the features' own interruption evidence is above zero (their running sum of voice contrast
    and level over the holder's), when it sounds more like the other partner than the floor holder (timbre
    contrast above ``HINT_TIMBRE``), or when the features cannot tell: before both partners are known, or when
    the partners are too alike to compare frame by frame. A hint lasts ``hint_ms``; ``hint_ms = 0`` always hints.
    """

    def __init__(self, hint_ms: int, frame_ms: int = 30) -> None:
        self._last_n = hint_ms // frame_ms
        self.reset()

    def reset(self) -> None:
        """Forget the last hint."""
        self._left = 0

    def process(self, is_speech: bool, evidence: bool, two_voices: bool, holder: str | None,
                contrast: tuple[float, float, float, float] | None) -> bool:
        """Take one frame's evidence, whether both partners are known, the floor holder and the voice contrast."""
        if self._last_n <= 0:
            return True
        unsure = not two_voices or (holder is not None and contrast is None)
        towards_other = holder is not None and contrast is not None and contrast[0] > HINT_TIMBRE
        if evidence or (is_speech and (unsure or towards_other)):
            self._left = self._last_n
        else:
            self._left = max(0, self._left - 1)
        return self._left > 0


class RecentLabels:
    """The speaker tracker's partner labels of the last few seconds: who held the floor before an onset."""

    def __init__(self, seconds: float, frame_ms: int) -> None:
        self._labels: deque[tuple[float, str | None]] = deque(maxlen=int(seconds * 1000) // frame_ms + 1)

    def reset(self) -> None:
        """Forget every label."""
        self._labels.clear()

    def add(self, end_s: float, label: str | None) -> None:
        """One frame's label (None off speech), stamped with the frame's end."""
        self._labels.append((end_s, label))

    def before(self, onset_s: float, floor_s: float) -> str | None:
        """The label the tracker gave most of the speech in the ``floor_s`` before ``onset_s``."""
        votes = Counter(lab for t, lab in self._labels if onset_s - floor_s <= t <= onset_s and lab is not None)
        return votes.most_common(1)[0][0] if votes else None


def partner_over(over: str | None) -> str | None:
    """The partner who interrupted the one labelled ``over`` (None when unknown)."""
    return None if over is None else ("B" if over == "A" else "A")


class OverlapInterruptionDetector:
    """Emits :class:`Interruption` from audio frames, using :class:`SegmentationModel` on a sliding window."""

    def __init__(self, settings: InterruptionSettings, frame_ms: int = 30,
                 model: SegmentationModel | None = None, gated: bool = False) -> None:
        self.settings = settings
        self.frame_ms = frame_ms
        self.model = model or SegmentationModel.load()
        self._filters = SlidingFilters()   # looks share most of their audio, so its filtering too
        self._window = np.zeros(settings.model_window_ms * SAMPLE_RATE // 1000, np.float32)
        self._every_n = max(1, settings.check_every_ms // frame_ms)
        idle_ms = settings.gate_idle_ms if gated else settings.min_run_ms
        self._idle_n = max(self._every_n, idle_ms // frame_ms)
        self._holder_share = settings.gate_holder_share if gated else 0.0
        need_ms = settings.floor_ms + settings.min_run_ms + settings.delay_ms
        self._need_n = max(1, need_ms // frame_ms)
        self.checks = 0
        self.reset()

    def reset(self) -> None:
        """Forget the audio, the labels and the onsets already reported."""
        self._window[:] = 0.0
        self._pos = 0               # the ring buffer's next write position
        self._samples = 0           # samples taken since the reset
        self._filters.reset()
        self._filled = 0
        self._end_s = 0.0
        self._speech: deque[bool] = deque(maxlen=self._need_n)
        self._labels = RecentLabels(len(self._window) / SAMPLE_RATE, self.frame_ms)
        self._since_check = 0
        self._wait_n = self._every_n
        self._often_until_s = -1.0
        self._muted_until_s = -1e9   # the end of the product's last words: no one "held the floor" before this
        self._onsets: deque[float] = deque(maxlen=8)

    def process(self, samples: NDArray[np.int16], feats: FrameFeatures, label: str | None,
                muted: bool = False, hint: bool = True) -> list[Interruption]:
        """Take one frame's samples, its features and the tracker's label; return an interruption when one is seen.

        ``hint``: the voice features hint at a second voice (:class:`LookHint`); without one the model looks only
        while following a voice it has seen starting."""
        n, size = len(samples), len(self._window)
        first = min(n, size - self._pos)
        self._window[self._pos:self._pos + first] = samples[:first]
        self._window[:n - first] = samples[first:]
        self._pos = (self._pos + n) % size
        self._samples += n
        self._filled = min(len(self._window), self._filled + n)
        self._end_s = feats.end_s
        self._labels.add(feats.end_s, label if feats.is_speech else None)
        self._speech.append(feats.is_speech and not feats.quiet and not muted)
        self._since_check += 1
        if muted:
            self._speech.clear()   # the product's own voice is in the window: wait until it has passed
            self._muted_until_s = feats.end_s
            return []
        if (self._since_check < self._wait_n or self._filled < len(self._window)
                or (not hint and self._end_s >= self._often_until_s)
                or len(self._speech) < self._need_n or sum(self._speech) < SPEECH_FRACTION * self._need_n):
            return []
        self._since_check = 0
        self.checks += 1
        events, starting = self._check()
        if starting:   # keep looking often until that voice has had time to go on (one look may miss it)
            self._often_until_s = self._end_s + self.settings.min_run_ms / 1000.0
        self._wait_n = self._every_n if self._end_s < self._often_until_s else self._idle_n
        return events

    def _check(self) -> tuple[list[Interruption], bool]:
        """Run the model once; returns the interruption seen (if any) and whether a second voice is starting."""
        s = self.settings
        audio = np.concatenate([self._window[self._pos:], self._window[:self._pos]])
        if isinstance(self.model, SegmentationModel):
            probs = self.model.probabilities(audio, self._filters.rows(self.model, audio, self._samples - len(audio)))
        else:   # a stand-in (tests) is asked for the window alone
            probs = self.model.probabilities(audio)
        active = SegmentationModel.activity(probs)   # the model normalises its input
        start_s = self._end_s - len(self._window) / SAMPLE_RATE
        centers = start_s + SegmentationModel.step_centers_s(len(active))
        step_s = centers[1] - centers[0]
        end = int(np.searchsorted(centers, self._end_s - s.delay_ms / 1000.0))
        on = active[:end] > s.activity_threshold
        floor_n, overlap_n = int(s.floor_ms / 1000.0 / step_s), max(1, int(OVERLAP_S / step_s))
        tail_n = max(1, int(END_S / step_s))
        starting = False
        for x in range(active.shape[1]):
            if not on[end - 1, x]:
                continue
            off = np.flatnonzero(~on[:, x])
            onset = int(off[-1]) + 1 if len(off) else 0
            if onset < floor_n or centers[onset - floor_n] < self._muted_until_s:
                continue   # too early in the window, or the "holder" may be the product's own voice
            held = [y for y in range(active.shape[1]) if y != x
                    and on[onset - floor_n:onset, y].mean() >= HOLDER_ACTIVE
                    and active[onset:onset + overlap_n, y].mean() > s.activity_threshold]
            onset_s = float(centers[onset])
            if not held or any(abs(onset_s - t) < SAME_ONSET_S for t in self._onsets):
                continue
            long_enough = (end - onset) * step_s >= s.min_run_ms / 1000.0
            if not long_enough or active[end - tail_n:end, x].mean() < s.end_confidence:
                starting = True   # a second voice has begun over the first (or the model is unsure it goes on)
                continue
            self._onsets.append(onset_s)
            if max(on[onset:end, y].mean() for y in held) < self._holder_share:
                continue   # the "holder" fell silent soon after: a turn change heard through a room or over a TV
            over = self._labels.before(onset_s, s.floor_ms / 1000.0)
            return [Interruption(t=round(self._end_s, 3), start=round(onset_s, 3), speaker=partner_over(over),
                                 over=over)], False
        return [], starting
