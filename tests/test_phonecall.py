"""The real call in the dev set (voicecoach_dev/evalkit/phonecall.py): its truth, its rooms, its rows in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicecoach_dev.evalkit import phonecall


def _rttm(root: Path, turns: list[tuple[float, float, str]]) -> None:
    d = phonecall.folder(root)
    d.mkdir(parents=True)
    lines = [f"SPEAKER {phonecall.CALL_ID} 1 {s:.2f} {e - s:.2f} <NA> <NA> {spk} <NA> <NA>" for s, e, spk in turns]
    (d / f"{phonecall.CALL_ID}.rttm").write_text("\n".join(lines) + "\n")


def test_an_overlap_is_an_interruption_only_if_the_holder_goes_on_and_the_newcomer_is_not_a_backchannel(tmp_path):
    _rttm(tmp_path, [
        (0.0, 5.0, "spk_A"), (4.8, 9.0, "spk_B"),      # B starts 0.2 s before A ends: a turn change, early
        (10.0, 16.0, "spk_A"), (12.0, 12.3, "spk_B"),  # "mm" while A talks: a backchannel
        (14.0, 15.0, "spk_B"),                          # B cuts in for 1 s, A goes on 2 s: an interruption
        (16.5, 17.5, "spk_B"),                          # after a gap: no overlap at all
    ])
    truth = phonecall.truth(tmp_path)
    assert [(r["t"], r["speaker"], r["over"]) for r in truth["interruptions"]] == [(14.0, "B", "A")]
    assert [b["start"] for b in truth["backchannels"]] == [12.0]
    assert [(e["start"], e["overlap_s"]) for e in truth["early_turns"]] == [(4.8, 0.2)]
    assert truth["raised"] == [] and truth["escalations"] == []
    assert {t["speaker"] for t in truth["turns"]} == {"A", "B"}


def test_without_the_call_in_the_corpus_there_are_no_call_items(tmp_path):
    _rttm(tmp_path, [(0.0, 1.0, "spk_A")])   # turns but no audio
    assert not phonecall.available(tmp_path)
    assert phonecall.call_items(tmp_path, tmp_path / "out", 1, None, "eval", None) == []


@pytest.mark.corpus
def test_a_room_item_is_the_whole_call_heard_through_a_room_with_the_same_truth(corpus: Path, tmp_path, monkeypatch):
    if not phonecall.available(corpus):
        pytest.skip("the corpus has no SpokenWOZ call")
    from voicecoach_dev.evalkit import corpus as corpus_mod
    from voicecoach_dev.evalkit.splits import Split

    monkeypatch.setattr(phonecall, "ROOM_ITEMS", 1)
    monkeypatch.setenv("VOICECOACH_CORPUS", str(corpus))
    dry, room = phonecall.call_items(corpus, tmp_path, 3, Split.EVAL, "eval", None)
    assert dry["scenario"] == phonecall.CALL and room["scenario"] == phonecall.CALL_ROOM
    assert dry["truth"]["interruptions"] == room["truth"]["interruptions"]
    assert len(dry["truth"]["interruptions"]) >= 1 and dry["calm"] and room["calm"]
    heard = corpus_mod.read_wav(room["wav"])
    assert abs(len(heard) / corpus_mod.RATE - dry["duration_s"]) < 0.01
    mix = room["mix"]
    assert 0.15 <= mix["room"]["rt60_s"] <= 0.9 and set(mix["room"]["sources"]) == {"A", "B", "bed"}
    assert 10.0 <= mix["bed"]["snr_db"] <= 20.0 and mix["clipped_fraction"] < 1e-4
    # built once: the same draw again reads the cached item, another draw is another room
    again = phonecall.call_items(corpus, tmp_path, 3, Split.EVAL, "eval", [phonecall.CALL_ROOM])
    assert [it["seed"] for it in again] == [room["seed"]]
    assert phonecall.room_seed(0, 4, "eval") != room["seed"]
    assert np.any(heard)


@pytest.mark.corpus
def test_evaluate_scores_the_real_call_on_rows_of_its_own(corpus: Path, tmp_path, capsys, monkeypatch):
    if not phonecall.available(corpus):
        pytest.skip("the corpus has no SpokenWOZ call")
    from voicecoach_dev.evalkit import evaluate

    monkeypatch.setenv("VOICECOACH_CORPUS", str(corpus))
    light = tmp_path / "features.toml"   # the light interruption method: the rows are what is tested here
    light.write_text('[detection.interruption]\nmethod = "features"\n')
    assert evaluate.main(["--quick", "--out", str(tmp_path), "--scenario", "call", "--config", str(light)]) == 0
    out = capsys.readouterr().out
    assert "| call | 1 |" in out and "a real call (calm, two parties): audio | 0.05 h | - |" in out
    assert "| a real calm call, dry: pause suggestions |" in out
    assert "calm talk, dry (all)" not in out   # the call stays out of the mixed talks' aggregates
