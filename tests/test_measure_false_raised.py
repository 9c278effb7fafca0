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


def test_a_false_event_names_the_latest_transient_that_began_just_before_it(script):
    transients = [{"t": 30.0, "sound": "4-133047-A-5"}, {"t": 33.0, "sound": "4-250864-A-8"},
                  {"t": 80.0, "sound": "4-133047-A-5"}]
    cats = {"4-133047-A-5": "cat"}
    # both began before 35 s, within TRANSIENT_BEFORE_S: the later one is named (without a category: none known)
    assert script.transient_before(35.0, transients, cats) == "4-250864-A-8"
    assert script.transient_before(31.0, transients, cats) == "4-133047-A-5 (cat)"
    # one that begins after the event, or too long before it, names nothing
    assert script.transient_before(29.0, transients, cats) is None
    assert script.transient_before(33.0 + script.TRANSIENT_BEFORE_S + 0.1, transients, cats) is None
    assert script.transient_before(50.0, [], cats) is None
