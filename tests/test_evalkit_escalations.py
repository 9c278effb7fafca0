"""Pause latency by kind of escalation (evalkit/escalations.py), on hand-made truth and events."""

from __future__ import annotations

from voicecoach_dev.evalkit.escalations import by_kind, first_sign, table


def item(name: str, kind: str, room: bool, window: tuple[float, float], raised: list[float],
         cuts: list[float]) -> dict:
    return {"name": name, "room": room, "mix": {"escalation_kind": kind},
            "truth": {"escalations": [{"start": window[0], "end": window[1]}],
                      "raised": [{"start": s, "end": window[1], "speaker": "A"} for s in raised],
                      "interruptions": [{"t": t, "speaker": "B", "over": "A"} for t in cuts]}}


def pauses(*times: float) -> tuple[list, float]:
    return [{"type": "pause_suggested", "t": t} for t in times], 0.0


def test_the_first_sign_is_the_first_raised_turn_or_true_interruption_in_the_window():
    w = {"start": 60.0, "end": 120.0}
    assert first_sign({"raised": [{"start": 65.0}], "interruptions": [{"t": 63.0}]}, w) == 63.0
    assert first_sign({"raised": [{"start": 64.0}, {"start": 10.0}], "interruptions": [{"t": 130.0}]}, w) == 64.0
    assert first_sign({"raised": [], "interruptions": []}, w) == 60.0


def test_latency_per_kind_from_the_start_and_from_the_first_sign_dry_and_in_rooms_apart():
    items = [item("a", "raised", False, (60.0, 120.0), [64.0], []),     # a calm turn first: 4 s of it
             item("b", "interruptions", False, (50.0, 110.0), [], [55.0, 61.0]),
             item("c", "interruptions", True, (50.0, 110.0), [], [52.0]),
             item("d", "both", True, (40.0, 100.0), [40.0], [45.0]),
             {"name": "calm-00", "room": False, "mix": {}, "truth": {"escalations": []}}]
    results = {"a": pauses(30.0, 66.5), "b": pauses(75.0), "c": pauses(116.0), "d": pauses(41.5, 43.0),
               "calm-00": pauses(10.0)}
    rows = by_kind(items, results)
    assert list(rows) == ["raised", "interruptions", "interruptions in rooms", "both in rooms"]
    assert rows["raised"].from_start == [6.5] and rows["raised"].from_sign == [2.5]   # the suggestion before: not it
    assert rows["interruptions"].from_start == [25.0] and rows["interruptions"].from_sign == [20.0]
    assert rows["interruptions in rooms"].escalations == 1 and rows["interruptions in rooms"].from_start == []
    assert rows["both in rooms"].from_start == [1.5]   # the first suggestion in the window
    assert rows["raised"].to_dict() == {"escalations": 1, "caught": 1, "median_from_start_s": 6.5,
                                        "median_from_sign_s": 2.5}
    lines = table(rows)
    assert "| interruptions in rooms | 1 | 0 | - | - |" in lines
    assert "| raised | 1 | 1 | 6.5 | 2.5 |" in lines
    assert table({}) == []
