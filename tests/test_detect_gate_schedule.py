"""The gated method's adaptive look schedule: idle looks back off while the gate stays open and nothing starts,
and a fresh rise of the streaming model's cut-in probability brings the next look forward."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from test_detect_overlap import _Scripted, _scripted_run
from test_detect_stream_detector import FRAME, Scripted
from voicecoach.detect.overlap import OverlapInterruptionDetector
from voicecoach.detect.settings import DetectionSettings
from voicecoach.detect.stream_detector import StreamGate


def test_the_gate_flags_a_rise_of_the_cut_in_probability_not_a_high_plateau():
    cut = lambda t: 0.5 if 8.0 < t <= 9.0 else 0.9 if 9.0 < t <= 9.5 else 0.6 if 9.5 < t <= 11.0 else 0.0
    s = replace(DetectionSettings().interruption, gate_rise=0.3, gate_hold_ms=600, stream_block_ms=90)
    gate = StreamGate(s, Scripted(cut=cut))
    rising = [round((i + 1) * 0.03, 2) for i in range(400)
              if gate.process(np.zeros(FRAME, np.int16), (i + 1) * 0.03) and gate.rising]
    # 0 -> 0.5 at 8 s and 0.5 -> 0.9 at 9 s are rises; the plateaus and the fall to 0.6 are not
    assert rising and all(8.0 < t <= 8.2 or 9.0 < t <= 9.2 for t in rising), rising
    assert any(t <= 8.2 for t in rising) and any(t > 9.0 for t in rising)
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
    found = []
    for i in range(int(30.0 / 0.03)):   # the cut-in probability rises at 20.2 s (for one 90 ms block)
        t = (i + 1) * 0.03
        model.now_s = t
        from voicecoach.detect.features import FrameFeatures
        feats = FrameFeatures(i * 480, t, -30.0, True, -80.0, f0_hz=150.0)
        found += fast.process(np.zeros(480, np.int16), feats, "A", hint=True, rising=20.2 < t <= 20.29)
    assert len(found) == 1 and abs(found[0].start - 20.0) < 0.03
    assert found[0].t <= 21.0 < found_slow[0].t, (found[0].t, found_slow[0].t)
