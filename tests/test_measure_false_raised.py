"""scripts/measure_false_raised.py: what the raised-time rule would count of each false raised-voice event."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "measure_false_raised.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("measure_false_raised", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclass looks its module up while being made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_events_in_a_true_raised_stretch_are_not_false_and_a_false_one_counts_its_credit_and_raised_time(script):
    truth = [{"start": 10.0, "end": 20.0}]
    frames = np.round(0.03 * np.arange(1, 4001), 3)          # 120 s of 30 ms frames (their end times)
    raised = frames[((frames > 15.0) & (frames <= 17.0)) | ((frames > 50.0) & (frames <= 51.2))
                    | ((frames > 100.0) & (frames <= 101.0))]
    events = [(15.0, 14.0), (21.4, 20.8), (50.0, 47.0), (100.0, 99.8)]
    found = script.false_raises(events, raised, truth, 0.03, 1.5)
    # 15.0 is inside the stretch and 21.4 within its 1.5 s after: both true
    assert [f.t for f in found] == [50.0, 100.0]
    first, second = found
    assert first.credit_s == pytest.approx(1.5)               # 3 s judged before it, credited at most 1.5 s
    assert first.after_s == pytest.approx(1.2 + 1.0, abs=0.031)   # its own 1.2 s and the next one's 1.0 s within 60 s
    assert first.counted_s == pytest.approx(3.7, abs=0.031)
    assert second.credit_s == pytest.approx(0.2)
    assert second.after_s == pytest.approx(1.0, abs=0.031)


def test_no_event_no_false_raise(script):
    assert script.false_raises([], np.array([]), [], 0.03, 1.5) == []
