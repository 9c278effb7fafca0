"""scripts/measure_speaker_labels.py: the share of single-speaker speech frames the tracker names right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "measure_speaker_labels.py"


def _label_counts():
    spec = importlib.util.spec_from_file_location("measure_speaker_labels", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.label_counts


def _inputs(labels: list[int], speech: list[bool]) -> np.ndarray:
    """Rows as replay.frame_inputs makes them: end_s, is_speech, ..., label (0 none, 1 A, 2 B) in column 5."""
    rows = np.zeros((len(labels), 10))
    rows[:, 0] = 0.03 * (np.arange(len(labels)) + 1)
    rows[:, 1] = speech
    rows[:, 5] = labels
    return rows


def test_the_tracker_s_own_names_are_matched_to_the_partners_and_overlap_is_left_out():
    item = {"truth": {"turns": [{"start": 0.0, "end": 1.2, "speaker": "A"},
                                {"start": 0.9, "end": 2.4, "speaker": "B"}]}}
    # frames 0-29 (middles 0.015-0.885 s): A alone; 30-39: both speak; 40-79: B alone
    labels = [2] * 30 + [1] * 50   # the tracker calls the first partner "B" and the second "A"
    labels[45] = 2                 # one frame of B's turn given A's name
    labels[70:74] = [0] * 4        # four frames of B's turn not named yet
    speech = [True] * 80
    speech[60] = False             # not speech: counts nowhere
    counts = _label_counts()(item, _inputs(labels, speech))
    assert counts["speech"] == 30 + 40 - 1
    assert counts["named"] == 30 + 40 - 1 - 4
    assert counts["right"] == counts["named"] - 1


def test_a_talk_without_turns_counts_nothing():
    assert not _label_counts()({"truth": {}}, _inputs([1, 1], [True, True]))
