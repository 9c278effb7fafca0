"""Interruptions from the streaming two-voice model, and the gate that tells the segmentation model when to look.

The model (``stream_model.py``) runs on every ``stream_block_ms`` of audio (a longer block costs less per frame
and decides up to a block later). Each 30 ms step it says how likely 0, 1 or 2 voices are and how likely it is
that a second voice has cut in on the first and goes on. :class:`StreamInterruptionDetector` (method "stream")
reports an interruption when the cut-in probability has stayed at ``stream_threshold`` or more for
``stream_confirm_ms``; it is placed where the second voice began (the start of the run of two voices before it),
and who interrupted whom comes from the speaker tracker's labels before that. One interruption per crossing:
the probability must fall below the threshold before the next. :class:`StreamGate` (method "gated") only says
whether either probability was high lately, for the segmentation model to look then and only then.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..events import Interruption
from .equaliser import SpectrumEqualiser
from .features import FrameFeatures
from .overlap import RecentLabels, partner_over
from .settings import InterruptionSettings
from .stream_model import SAMPLE_RATE, STEP_SAMPLES, StreamModel, StreamOutputs

HISTORY_S = 4.0            # outputs kept to find where the second voice began
TWO_VOICES = 0.4           # a step with P(2 voices) above this is part of the overlap...
ONSET_LOOKBACK_S = 2.5     # ...searched back this far from the decision
ONSET_GAP_S = 0.2          # a dip this long in the probability of two voices ends the run
DEFAULT_LEAD_S = 0.6       # no run of two voices found: the onset is taken this long before the decision
SAME_ONSET_S = 1.0         # onsets closer than this are one interruption


class StepModel(Protocol):
    """What the runner needs of the model: :class:`StreamModel`, or a stand-in replaying cached outputs."""

    equaliser: SpectrumEqualiser | None

    def reset(self) -> None:
        """Back to the start of a stream."""
        ...

    def process(self, samples: NDArray[np.floating]) -> StreamOutputs:
        """The outputs of the steps these samples complete."""
        ...


class StreamRunner:
    """Feeds frames to the model in blocks of ``block_ms`` and keeps the outputs of the last few seconds. Without
    a ``model``, the weights shipped for interruption method ``method`` are loaded."""

    def __init__(self, block_ms: int, model: StepModel | None = None, method: str = "gated",
                 equalise: bool = False) -> None:
        self.model: StepModel = model or StreamModel.load(method=method)
        if equalise:
            self.model.equaliser = SpectrumEqualiser()
        self._block = max(STEP_SAMPLES, block_ms * SAMPLE_RATE // 1000)
        n = int(HISTORY_S * SAMPLE_RATE / STEP_SAMPLES)
        self.voices2: deque[float] = deque(maxlen=n)
        self.cut_in: deque[float] = deque(maxlen=n)
        self.end_s: deque[float] = deque(maxlen=n)
        self.reset()

    def reset(self) -> None:
        """Forget the audio and the outputs."""
        self.model.reset()
        self._pending: list[NDArray[np.int16]] = []
        self._pending_n = 0
        self._start_s: float | None = None   # audio time of the first sample fed since the reset
        for d in (self.voices2, self.cut_in, self.end_s):
            d.clear()

    def feed(self, samples: NDArray[np.int16], end_s: float) -> StreamOutputs | None:
        """Take one frame (ending at ``end_s``); when a block is complete, run the model on it and return its
        steps' outputs, stamped with audio time."""
        if self._start_s is None:
            self._start_s = end_s - len(samples) / SAMPLE_RATE
        self._pending.append(samples)
        self._pending_n += len(samples)
        if self._pending_n < self._block:
            return None
        audio = np.concatenate(self._pending).astype(np.float32) * np.float32(1.0 / 32768.0)
        self._pending, self._pending_n = [], 0
        out = self.model.process(audio)
        out = StreamOutputs(out.voices, out.cut_in, out.end_s + self._start_s)
        self.voices2.extend(out.voices[:, 2].tolist())
        self.cut_in.extend(out.cut_in.tolist())
        self.end_s.extend(out.end_s.tolist())
        return out


class StreamInterruptionDetector:
    """Emits :class:`Interruption` from the streaming model's cut-in probability (method "stream")."""

    def __init__(self, settings: InterruptionSettings, frame_ms: int = 30, model: StepModel | None = None) -> None:
        self.settings = settings
        self.runner = StreamRunner(settings.stream_block_ms, model, "stream", settings.stream_equalise)
        self._confirm_n = max(1, settings.stream_confirm_ms * SAMPLE_RATE // 1000 // STEP_SAMPLES)
        self._labels = RecentLabels(HISTORY_S, frame_ms)
        self.reset()

    def reset(self) -> None:
        """Forget the audio, the model's state and the onsets already reported."""
        self.runner.reset()
        self._labels.reset()
        self._above = 0
        self._muted_until_s = -1e9
        self._onsets: deque[float] = deque(maxlen=8)

    def process(self, samples: NDArray[np.int16], feats: FrameFeatures, label: str | None,
                muted: bool = False) -> list[Interruption]:
        """Take one frame's samples, its features and the tracker's label; return an interruption when one is seen."""
        self._labels.add(feats.end_s, label if feats.is_speech else None)
        if muted:
            self._muted_until_s = feats.end_s
        out = self.runner.feed(samples, feats.end_s)
        if out is None:
            return []
        found: list[Interruption] = []
        threshold = self.settings.stream_threshold
        for p in out.cut_in:
            if p < threshold:
                self._above = 0
                continue
            self._above += 1
            if self._above == self._confirm_n and not muted:
                found += self._report(feats.end_s)
        return found

    def _report(self, now_s: float) -> list[Interruption]:
        """The interruption just confirmed, unless the product held the floor or it was reported already."""
        onset = self._onset()
        floor_s = self.settings.floor_ms / 1000.0
        if onset - floor_s < self._muted_until_s or any(abs(onset - t) < SAME_ONSET_S for t in self._onsets):
            return []
        self._onsets.append(onset)
        over = self._labels.before(onset, floor_s)
        return [Interruption(t=round(now_s, 3), start=round(onset, 3), speaker=partner_over(over), over=over)]

    def _onset(self) -> float:
        """Where the second voice began: the start of the latest run of two voices within ONSET_LOOKBACK_S (dips
        under ONSET_GAP_S inside the run do not end it)."""
        ends, two = list(self.runner.end_s), list(self.runner.voices2)
        decided = ends[-1]
        first = None
        gap = 0
        for i in range(len(two) - 1, -1, -1):
            if decided - ends[i] >= ONSET_LOOKBACK_S:
                break
            if two[i] > TWO_VOICES:
                first, gap = i, 0
            elif first is not None:
                gap += 1
                if gap * STEP_SAMPLES / SAMPLE_RATE >= ONSET_GAP_S:
                    break
        if first is None:
            return decided - DEFAULT_LEAD_S
        return ends[first] - STEP_SAMPLES / SAMPLE_RATE


class StreamGate:
    """Whether the streaming model heard a second voice lately (method "gated": the segmentation model's hint).

    A step is hot when its cut-in probability reaches ``gate_threshold`` or its probability of two voices reaches
    ``gate_voices``; the gate is open from ``gate_delay_ms`` to ``gate_delay_ms + gate_hold_ms`` after a hot step
    (a delay lets the second voice go on long enough for one look to confirm it)."""

    def __init__(self, settings: InterruptionSettings, model: StepModel | None = None) -> None:
        self.settings = settings
        self.runner = StreamRunner(settings.stream_block_ms, model, "gated", settings.stream_equalise)
        self._delay_s = settings.gate_delay_ms / 1000.0
        self._hold_s = settings.gate_hold_ms / 1000.0
        self._hot: deque[float] = deque()
        self.reset()

    def reset(self) -> None:
        """Forget the audio and the hot steps."""
        self.runner.reset()
        self._hot.clear()

    def process(self, samples: NDArray[np.int16], now_s: float) -> bool:
        """Take one frame; True while the gate is open (a hot step between ``gate_delay_ms + gate_hold_ms`` and
        ``gate_delay_ms`` ago)."""
        out = self.runner.feed(samples, now_s)
        if out is not None and len(out.cut_in):
            s = self.settings
            hot = (out.cut_in >= s.gate_threshold) | (out.voices[:, 2] >= s.gate_voices)
            self._hot.extend(out.end_s[hot].tolist())
        while self._hot and self._hot[0] < now_s - self._delay_s - self._hold_s:
            self._hot.popleft()
        return bool(self._hot) and self._hot[0] <= now_s - self._delay_s
