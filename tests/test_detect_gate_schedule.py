"""The gated method's adaptive look schedule: idle looks back off while the gate stays open and nothing starts,
and a fresh rise of the streaming model's cut-in probability brings the next look forward."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from test_detect_overlap import _Scripted, _scripted_run
from test_detect_stream_detector import FRAME, Scripted
from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.overlap import OverlapInterruptionDetector
from voicecoach.detect.settings import DetectionSettings
from voicecoach.detect.stream_detector import StreamGate


def _run_rising(det: OverlapInterruptionDetector, model: _Scripted, seconds: float, rise_s: float | None) -> list:
    """Speech frames with the gate open all along; the gate's cut-in probability rises at ``rise_s`` (for one
    90 ms block)."""
    found = []
    for i in range(int(seconds / 0.03)):
        t = (i + 1) * 0.03
        model.now_s = t
        feats = FrameFeatures(i * 480, t, -30.0, True, -80.0, f0_hz=150.0)
        rising = rise_s is not None and rise_s < t <= rise_s + 0.09
        found += det.process(np.zeros(480, np.int16), feats, "A", hint=True, rising=rising)
    return found


def test_the_gate_flags_a_rise_of_the_cut_in_probability_not_a_high_plateau():
    cut = lambda t: 0.5 if 8.0 < t <= 9.0 else 0.9 if 9.0 < t <= 9.5 else 0.6 if 9.5 < t <= 11.0 else 0.0
    s = replace(DetectionSettings().interruption, gate_rise=0.3, gate_hold_ms=600, stream_block_ms=90)
    gate = StreamGate(s, Scripted(cut=cut))
    rising = [round((i + 1) * 0.03, 2) for i in range(400)
              if gate.process(np.zeros(FRAME, np.int16), (i + 1) * 0.03) and gate.rising]
    # 0 -> 0.5 at 8 s and 0.5 -> 0.9 at 9 s are rises; the plateaus and the fall to 0.6 are not
    assert rising and all(8.0 < t <= 8.3 or 9.0 < t <= 9.3 for t in rising), rising
    assert any(t <= 8.3 for t in rising) and any(t > 9.0 for t in rising)
    off = StreamGate(replace(s, gate_rise=0.0), Scripted(cut=cut))
    assert not any(off.process(np.zeros(FRAME, np.int16), (i + 1) * 0.03) and off.rising for i in range(400))


def test_idle_looks_back_off_while_the_gate_stays_open_and_start_afresh_when_it_closes():
    model = _Scripted(onset_s=99.0)   # one voice all along: every idle look is fruitless
    s = replace(DetectionSettings().interruption, gate_idle_ms=600, gate_backoff=2.0)
    backoff = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    assert _scripted_run(model, seconds=40.0, det=backoff) == []
    # waits of 0.6, 1.2, then 2.28 s (at most the span in which a window shows a whole interruption: 4 s less
    # the floor, min_run_ms and delay_ms) over the 36 s after the window fills
    assert 14 <= backoff.checks <= 18, backoff.checks
    fixed = OverlapInterruptionDetector(replace(s, gate_backoff=1.0), 30, model=model, gated=True)
    _scripted_run(model, seconds=40.0, det=fixed)
    assert fixed.checks >= 3 * backoff.checks
    # the gate closing for a moment every 5 s restarts the waits at gate_idle_ms
    blinking = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    _scripted_run(model, seconds=40.0, det=blinking, hint=lambda t: t % 5.0 > 0.1)
    assert blinking.checks >= backoff.checks + 5


def test_a_rise_brings_the_look_forward_and_a_backed_off_gate_still_finds_the_interruption():
    model = _Scripted(onset_s=20.0)
    s = replace(DetectionSettings().interruption, gate_idle_ms=600, gate_backoff=8.0)
    slow = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    found_slow = _scripted_run(model, seconds=30.0, det=slow)
    assert len(found_slow) == 1 and abs(found_slow[0].start - 20.0) < 0.03
    fast = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    found = _run_rising(fast, model, 30.0, rise_s=20.2)   # the cut-in probability rises at 20.2 s
    assert len(found) == 1 and abs(found[0].start - 20.0) < 0.03
    assert found[0].t <= 21.0 < found_slow[0].t, (found[0].t, found_slow[0].t)


class _Flicker(_Scripted):
    """Voice 1 starts over voice 0 at ``onset_s``, but looks whose window ends in [hidden_from_s, hidden_to_s) do
    not see it (the model loses a quiet voice for a while)."""

    def __init__(self, onset_s: float, hidden_from_s: float, hidden_to_s: float) -> None:
        super().__init__(onset_s)
        self.hidden = (hidden_from_s, hidden_to_s)

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        probs = super().probabilities(audio)
        if self.hidden[0] <= self.now_s < self.hidden[1]:
            probs[:] = [0, 1, 0, 0, 0, 0, 0]   # {0} alone
        return probs


def test_a_recheck_finds_a_voice_the_follow_up_looks_lost_and_no_look_follows_a_found_one():
    s = replace(DetectionSettings().interruption, gate_recheck_ms=600)
    gate = lambda t: 6.1 <= t < 6.4   # the gate open only briefly, as the second voice starts
    for recheck_ms, expected in ((0, 0), (600, 1)):
        model = _Flicker(onset_s=6.0, hidden_from_s=6.4, hidden_to_s=7.3)
        det = OverlapInterruptionDetector(replace(s, gate_recheck_ms=recheck_ms), 30, model=model, gated=True)
        found = _scripted_run(model, seconds=12.0, hint=gate, det=det)
        assert len(found) == expected, (recheck_ms, found)
    assert abs(found[0].start - 6.0) < 0.03 and 7.3 <= found[0].t <= 8.0
    # a voice found is not followed further: one look on the gate, follow-ups until it is complete, and no more
    model = _Scripted(onset_s=6.0)
    checks = {}
    for recheck_ms in (0, 600):
        det = OverlapInterruptionDetector(replace(s, gate_recheck_ms=recheck_ms), 30, model=model, gated=True)
        found = _scripted_run(model, seconds=12.0, hint=gate, det=det)
        assert len(found) == 1 and found[0].t < 6.9
        checks[recheck_ms] = det.checks
    assert checks[600] <= checks[0] - 1, checks


def test_the_look_budget_thins_idle_looks_where_the_gate_is_open_often_not_where_it_opens_rarely():
    s = replace(DetectionSettings().interruption, gate_looks_per_min=6.0)
    model = _Scripted(onset_s=99.0)
    always = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    _scripted_run(model, seconds=64.0, det=always)
    # 60 s of open gate after the window fills: the 4 looks the budget holds, then 6 a minute
    assert 8 <= always.checks <= 11, always.checks
    free = OverlapInterruptionDetector(replace(s, gate_looks_per_min=0.0), 30, model=model, gated=True)
    _scripted_run(model, seconds=64.0, det=free)
    assert free.checks >= 80
    rare = lambda t: t % 30.0 < 1.3   # the gate open 1.3 s in 30: every opening gets its idle looks
    for looks_per_min in (6.0, 0.0):
        det = OverlapInterruptionDetector(replace(s, gate_looks_per_min=looks_per_min), 30, model=model, gated=True)
        _scripted_run(model, seconds=124.0, det=det, hint=rare)
        assert det.checks == 12, (looks_per_min, det.checks)   # 4 openings after the window fills, 3 looks each
    # with the budget spent, a rise of the cut-in probability still gets a look, and its follow-ups do not wait
    # for the budget either; without one, the next idle look may come after the onset has left the window
    for rise, expected in ((True, 1), (False, 0)):
        model = _Scripted(onset_s=30.0)
        det = OverlapInterruptionDetector(s, 30, model=model, gated=True)
        found = _run_rising(det, model, 40.0, rise_s=30.2 if rise else None)
        assert len(found) == expected and all(abs(f.start - 30.0) < 0.03 for f in found), (rise, found)


def test_a_holder_span_lets_a_late_look_decide_as_an_early_one_would():
    from test_detect_overlap import _TurnChange
    s = DetectionSettings().interruption   # gate_holder_share 0.4
    late_gate = lambda t: 8.0 <= t < 8.3   # the first look comes 2 s after the onset at 6 s
    for span_ms, expected in ((0, 0), (600, 1)):
        # the holder goes on 0.5 s after the onset: 0.5 of 2 s by the late look, 0.5 of its first 0.6 s
        model = _TurnChange(onset_s=6.0, tail_s=0.5)
        det = OverlapInterruptionDetector(replace(s, gate_holder_span_ms=span_ms), 30, model=model, gated=True)
        found = _scripted_run(model, seconds=10.0, hint=late_gate, det=det)
        assert len(found) == expected, (span_ms, found)
    # a turn change (the holder stops 0.2 s after the onset: 0.33 of the span) is still no interruption
    model = _TurnChange(onset_s=6.0, tail_s=0.2)
    det = OverlapInterruptionDetector(replace(s, gate_holder_span_ms=600), 30, model=model, gated=True)
    assert _scripted_run(model, seconds=10.0, hint=late_gate, det=det) == []
