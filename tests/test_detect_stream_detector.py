"""Interruptions from the streaming model's outputs, and the gate: driven by a scripted model on an audio clock."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.settings import InterruptionSettings
from voicecoach.detect.stream_detector import StreamGate, StreamInterruptionDetector
from voicecoach.detect.stream_model import STEP_SAMPLES, StreamOutputs

FRAME = 480   # 30 ms


class Scripted:
    """Stands in for StreamModel: P(2 voices) and P(cut-in) are functions of the audio time of each 30 ms step."""

    def __init__(self, two=lambda t: 0.0, cut=lambda t: 0.0) -> None:
        self.two, self.cut = two, cut
        self.reset()

    def reset(self) -> None:
        self.samples = 0

    def process(self, samples: np.ndarray) -> StreamOutputs:
        first = self.samples // STEP_SAMPLES
        self.samples += len(samples)
        ends = (np.arange(first, self.samples // STEP_SAMPLES) + 1) * STEP_SAMPLES / 16000
        two = np.array([self.two(t) for t in ends], np.float32)
        voices = np.stack([np.zeros_like(two), 1 - two, two], 1)
        return StreamOutputs(voices, np.array([self.cut(t) for t in ends], np.float32), ends)


def run(model: Scripted, seconds: float = 12.0, settings: InterruptionSettings | None = None,
        muted=lambda t: False, label=lambda t: "A" if t < 6.0 else "B"):
    det = StreamInterruptionDetector(settings or InterruptionSettings(), 30, model=model)
    found = []
    for i in range(int(seconds / 0.03)):
        end = (i + 1) * 0.03
        feats = FrameFeatures(i * FRAME, end, -30.0, True, -80.0)
        found += det.process(np.zeros(FRAME, np.int16), feats, label(end), muted=muted(end))
    return found


def cutting_in(onset: float = 6.0, sure_after: float = 0.6, until: float = 9.0) -> Scripted:
    """A second voice from ``onset``; the model sure it is a cut-in from ``onset + sure_after`` to ``until``."""
    return Scripted(two=lambda t: 0.9 if onset < t <= onset + 1.2 else 0.05,
                    cut=lambda t: 0.9 if onset + sure_after < t <= until else 0.02)


def test_a_sure_cut_in_is_one_interruption_placed_where_the_second_voice_began():
    found = run(cutting_in())
    assert len(found) == 1
    e = found[0]
    assert abs(e.start - 6.0) <= 0.03 and (e.speaker, e.over) == ("B", "A")
    s = InterruptionSettings()
    # decided after stream_confirm_ms of sure steps, at the end of the block that completed them
    assert 6.6 + s.stream_confirm_ms / 1000 <= e.t <= 6.6 + (s.stream_confirm_ms + s.stream_block_ms) / 1000 + 0.031


def test_a_second_voice_the_model_never_calls_a_cut_in_is_not_an_interruption():
    assert run(Scripted(two=lambda t: 0.9 if 6.0 < t <= 6.4 else 0.05)) == []   # a backchannel


def test_one_interruption_per_crossing_of_the_threshold():
    assert len(run(cutting_in(until=11.0))) == 1
    dip = Scripted(two=lambda t: 0.9 if 6.0 < t <= 7.2 or 9.0 < t <= 10.0 else 0.05,
                   cut=lambda t: 0.9 if 6.6 < t <= 7.5 or 9.6 < t <= 10.5 else 0.02)
    assert [round(e.start, 1) for e in run(dip)] == [6.0, 9.0]


def test_a_probability_under_the_threshold_or_too_briefly_over_it_is_nothing():
    s = InterruptionSettings()
    assert run(Scripted(two=lambda t: 0.9 if t > 6 else 0.0, cut=lambda t: s.stream_threshold - 0.01)) == []
    brief = Scripted(cut=lambda t: 0.9 if 6.6 < t <= 6.6 + s.stream_confirm_ms / 1000 - 0.03 else 0.0)
    assert run(brief) == []


def test_no_one_holds_the_floor_while_the_product_speaks():
    assert len(run(cutting_in(), muted=lambda t: t <= 4.0)) == 1
    assert run(cutting_in(), muted=lambda t: t <= 5.5) == []        # the "holder" was the product's own voice
    assert run(cutting_in(), muted=lambda t: 6.3 <= t <= 7.0) == []  # nothing is decided while it speaks


def test_without_a_run_of_two_voices_the_onset_is_taken_shortly_before_the_decision():
    found = run(Scripted(cut=lambda t: 0.9 if 6.6 < t <= 8.0 else 0.0))
    assert len(found) == 1 and abs(found[0].t - found[0].start - 0.6) < 0.01


def test_reset_forgets_the_reported_onsets():
    model = cutting_in()
    det = StreamInterruptionDetector(InterruptionSettings(), 30, model=model)
    for _ in range(2):
        det.reset()
        found = []
        for i in range(400):
            feats = FrameFeatures(i * FRAME, (i + 1) * 0.03, -30.0, True, -80.0)
            found += det.process(np.zeros(FRAME, np.int16), feats, "A")
        assert len(found) == 1


def test_the_gate_opens_on_a_second_voice_or_a_cut_in_and_stays_open_gate_hold_ms():
    s = replace(InterruptionSettings(), gate_delay_ms=0, gate_hold_ms=600, stream_block_ms=30)
    gate = StreamGate(s, Scripted(two=lambda t: 0.9 if 3.0 < t <= 3.3 else 0.0,
                                  cut=lambda t: 0.9 if 8.0 < t <= 8.1 else 0.0))
    open_at = [round((i + 1) * 0.03, 2) for i in range(400)
               if gate.process(np.zeros(FRAME, np.int16), (i + 1) * 0.03)]
    assert open_at[0] == 3.03 and 3.87 <= max(t for t in open_at if t < 5) <= 3.93
    assert min(t for t in open_at if t > 5) == 8.01 and 8.67 <= max(open_at) <= 8.73


def test_a_delayed_gate_opens_gate_delay_ms_after_the_evidence_for_gate_hold_ms():
    s = replace(InterruptionSettings(), gate_delay_ms=300, gate_hold_ms=300, stream_block_ms=90)
    gate = StreamGate(s, Scripted(cut=lambda t: 0.9 if 8.0 < t <= 8.1 else 0.0))
    open_at = [round((i + 1) * 0.03, 2) for i in range(400)
               if gate.process(np.zeros(FRAME, np.int16), (i + 1) * 0.03)]
    assert 8.3 <= min(open_at) <= 8.34 and 8.67 <= max(open_at) <= 8.73


def test_a_short_dip_in_the_overlap_does_not_move_the_onset():
    dip = Scripted(two=lambda t: 0.9 if 6.0 < t <= 6.45 or 6.6 < t <= 7.2 else 0.05,
                   cut=lambda t: 0.9 if 6.9 < t <= 8.0 else 0.0)
    found = run(dip)
    assert len(found) == 1 and abs(found[0].start - 6.0) <= 0.03
    gap = Scripted(two=lambda t: 0.9 if 5.0 < t <= 5.4 or 6.0 < t <= 7.2 else 0.05,
                   cut=lambda t: 0.9 if 6.9 < t <= 8.0 else 0.0)
    assert abs(run(gap)[0].start - 6.0) <= 0.03   # an earlier, separate run of two voices is not its start
