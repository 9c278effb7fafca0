"""Real talks in the dev set (voicecoach_dev/evalkit/realtalks.py): their truth, their rooms, their rows in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicecoach_dev.evalkit import realtalks


def _rttm(root: Path, turns: list[tuple[float, float, str]]) -> None:
    d = realtalks.folder(root)
    d.mkdir(parents=True)
    lines = [f"SPEAKER {realtalks.CALL_ID} 1 {s:.2f} {e - s:.2f} <NA> <NA> {spk} <NA> <NA>" for s, e, spk in turns]
    (d / f"{realtalks.CALL_ID}.rttm").write_text("\n".join(lines) + "\n")


def test_an_overlap_is_an_interruption_only_if_the_holder_goes_on_and_the_newcomer_is_not_a_backchannel(tmp_path):
    _rttm(tmp_path, [
        (0.0, 5.0, "spk_A"), (4.8, 9.0, "spk_B"),      # B starts 0.2 s before A ends: a turn change, early
        (10.0, 16.0, "spk_A"), (12.0, 12.3, "spk_B"),  # "mm" while A talks: a backchannel
        (14.0, 15.0, "spk_B"),                          # B cuts in for 1 s, A goes on 2 s: an interruption
        (16.5, 17.5, "spk_B"),                          # after a gap: no overlap at all
    ])
    truth = realtalks.truth(tmp_path)
    assert [(r["t"], r["speaker"], r["over"]) for r in truth["interruptions"]] == [(14.0, "B", "A")]
    assert [b["start"] for b in truth["backchannels"]] == [12.0]
    assert [(e["start"], e["overlap_s"]) for e in truth["early_turns"]] == [(4.8, 0.2)]
    assert truth["raised"] == [] and truth["escalations"] == []
    assert {t["speaker"] for t in truth["turns"]} == {"A", "B"}


def test_without_the_call_in_the_corpus_there_are_no_call_items(tmp_path):
    _rttm(tmp_path, [(0.0, 1.0, "spk_A")])   # turns but no audio
    assert not realtalks.available(tmp_path)
    assert realtalks.real_items(tmp_path, tmp_path / "out", 1, None, "eval", None) == []


@pytest.mark.corpus
def test_a_room_item_is_the_whole_call_heard_through_a_room_with_the_same_truth(corpus: Path, tmp_path, monkeypatch):
    if not realtalks.available(corpus):
        pytest.skip("the corpus has no SpokenWOZ call")
    from voicecoach_dev.evalkit import corpus as corpus_mod
    from voicecoach_dev.evalkit.splits import Split

    monkeypatch.setattr(realtalks, "ROOM_ITEMS", 1)
    monkeypatch.setenv("VOICECOACH_CORPUS", str(corpus))
    dry, room = realtalks.real_items(corpus, tmp_path, 3, Split.EVAL, "eval", [realtalks.CALL, realtalks.CALL_ROOM])
    assert dry["scenario"] == realtalks.CALL and room["scenario"] == realtalks.CALL_ROOM
    assert dry["truth"]["interruptions"] == room["truth"]["interruptions"]
    assert len(dry["truth"]["interruptions"]) >= 1 and dry["calm"] and room["calm"]
    heard = corpus_mod.read_wav(room["wav"])
    assert abs(len(heard) / corpus_mod.RATE - dry["duration_s"]) < 0.01
    mix = room["mix"]
    assert 0.15 <= mix["room"]["rt60_s"] <= 0.9 and set(mix["room"]["sources"]) == {"A", "B", "bed"}
    assert 10.0 <= mix["bed"]["snr_db"] <= 20.0 and mix["clipped_fraction"] < 1e-4
    # built once: the same draw again reads the cached item, another draw is another room
    again = realtalks.real_items(corpus, tmp_path, 3, Split.EVAL, "eval", [realtalks.CALL_ROOM])
    assert [it["seed"] for it in again] == [room["seed"]]
    assert realtalks.room_seed(0, 4, "eval") != room["seed"]
    assert np.any(heard)


@pytest.mark.corpus
def test_evaluate_scores_the_real_call_on_rows_of_its_own(corpus: Path, tmp_path, capsys, monkeypatch):
    if not realtalks.available(corpus):
        pytest.skip("the corpus has no SpokenWOZ call")
    from voicecoach_dev.evalkit import evaluate

    monkeypatch.setenv("VOICECOACH_CORPUS", str(corpus))
    light = tmp_path / "features.toml"   # the light interruption method: the rows are what is tested here
    light.write_text('[detection.interruption]\nmethod = "features"\n')
    assert evaluate.main(["--quick", "--out", str(tmp_path), "--scenario", "call", "--scenario", "turns",
                          "--config", str(light)]) == 0
    out = capsys.readouterr().out
    assert "| call | 1 |" in out and "a real call (calm, two parties): audio | 0.05 h | - |" in out
    assert "| turns | 1 |" in out and "real back-to-back turns (4 voices): false interruptions" in out
    assert "| a real calm call, dry: pause suggestions |" in out
    assert "calm talk, dry (all)" not in out   # the call stays out of the mixed talks' aggregates


def test_the_emphasis_script_says_in_one_line_when_the_corpus_has_no_call(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    (tmp_path / "voices").mkdir()   # a corpus, but without conversations/spokenwoz
    env = {**os.environ, "PYTHONPATH": str(REPO), "VOICECOACH_CORPUS": str(tmp_path)}
    done = subprocess.run([sys.executable, "scripts/measure_call_emphasis.py", "--draw", "1"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no SpokenWOZ call" in done.stderr


def test_back_to_back_turns_are_cut_into_one_track_per_speaker_with_a_list_of_turn_changes(tmp_path):
    from voicecoach.audio.wav import write_wav

    d = realtalks.RECORDINGS[realtalks.TURNS].folder(tmp_path)
    d.mkdir(parents=True)
    (d / f"{realtalks.TURNS_ID}.segments").write_text("0\t1.0\tspeakerX\n1.0\t2.0\tspeakerY\n2.0\t2.5\tspeakerY\n"
                                                      "2.5\t3.0\tspeakerX\n")
    rate = 16000
    tone = 0.1 * np.sin(2 * np.pi * 440 * (np.arange(3 * rate) + 0.5) / rate)   # never 0 (and no DC to take off)
    write_wav(d / f"{realtalks.TURNS_ID}.wav", tone.astype(np.float32))
    truth = realtalks.turns_truth(tmp_path)
    assert truth["interruptions"] == [] and truth["turn_changes"] == [1.0, 2.5]
    assert [t["speaker"] for t in truth["turns"]] == ["A", "B", "B", "A"]   # named in the order they first speak
    tracks = realtalks.RECORDINGS[realtalks.TURNS].sources(tmp_path)
    assert set(tracks) == {"A", "B"}
    a, b = tracks["A"], tracks["B"]
    assert np.all(a[:rate] != 0) and np.all(a[rate:int(2.5 * rate)] == 0) and np.all(a[int(2.5 * rate):] != 0)
    assert np.all(b[rate:int(2.5 * rate)] != 0) and not np.any(b[:rate])
    assert realtalks.RECORDINGS[realtalks.TURNS].available(tmp_path)
    assert not realtalks.RECORDINGS[realtalks.CALL].available(tmp_path)


@pytest.mark.corpus
def test_the_turns_in_a_room_put_each_voice_at_its_own_place(corpus: Path, tmp_path, monkeypatch):
    rec = realtalks.RECORDINGS[realtalks.TURNS]
    if not rec.available(corpus):
        pytest.skip("the corpus has no back-to-back turns")
    from voicecoach_dev.evalkit.splits import Split

    monkeypatch.setattr(realtalks, "ROOM_ITEMS", 1)
    dry, room = realtalks.real_items(corpus, tmp_path, 3, Split.EVAL, "eval", [realtalks.TURNS, realtalks.TURNS_ROOM])
    assert dry["scenario"] == realtalks.TURNS and room["scenario"] == realtalks.TURNS_ROOM
    assert set(room["mix"]["room"]["sources"]) == {"A", "B", "C", "D", "bed"}
    assert room["truth"]["interruptions"] == [] and len(room["truth"]["turn_changes"]) == 6
