"""The evaluation kit: scoring rules of issue 3 on hand-made events, AMI reference onsets, the talk mixer's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


from voicecoach_dev.evalkit import ami
from voicecoach_dev.evalkit.corpus import RATE, Voice
from voicecoach_dev.evalkit.mixing import Partner, Talk, TurnSpec
from voicecoach_dev.evalkit.scoring import Tally, score_interruptions, score_pauses, score_raised


def intr(t: float, start: float | None = None) -> dict:
    return {"type": "interruption", "t": t, "start": t - 0.3 if start is None else start, "speaker": "B", "over": "A"}


def ev(t: float) -> dict:
    return {"t": t}


# --- interruptions ---------------------------------------------------------------------------------------------

def test_interruption_matches_by_start_within_half_a_second_before_to_one_after():
    assert score_interruptions([intr(t=9.0, start=9.5)], [10.0]).found == 1
    assert score_interruptions([intr(t=9.0, start=11.0)], [10.0]).found == 1
    assert score_interruptions([intr(t=9.0, start=9.4)], [10.0]).found == 0
    assert score_interruptions([intr(t=9.0, start=11.1)], [10.0]).found == 0


def test_interruption_matches_by_emission_time_up_to_two_seconds_after_onset():
    assert score_interruptions([intr(t=12.0, start=20.0)], [10.0]).found == 1
    assert score_interruptions([intr(t=12.1, start=20.0)], [10.0]).found == 0
    assert score_interruptions([intr(t=9.9, start=20.0)], [10.0]).found == 0


def test_interruption_matching_is_one_to_one():
    m = score_interruptions([intr(10.2), intr(10.6)], [10.0])
    assert (m.found, m.correct, m.n_det, m.n_truth) == (1, 1, 2, 1)
    assert m.latencies == [pytest.approx(0.2)]


def test_interruption_matching_finds_the_maximum_pairing():
    # The first detection fits both onsets, the second only the first: both onsets must be matched.
    dets = [intr(t=11.0, start=10.6), intr(t=10.3, start=10.0)]
    m = score_interruptions(dets, [10.0, 10.5])
    assert m.found == 2


def test_detection_at_a_backchannel_is_a_false_positive_and_counted():
    m = score_interruptions([intr(20.4)], [], backchannels=[{"start": 20.0, "end": 20.4, "speaker": "B"}])
    assert (m.found, m.correct, m.n_det, m.at_backchannel) == (0, 0, 1, 1)


def test_ignored_onsets_neither_count_as_misses_nor_make_false_positives():
    m = score_interruptions([intr(5.2)], [5.0, 9.0], ignore=[0])
    assert (m.n_truth, m.found, m.n_det) == (1, 0, 0)


# --- raised voice and pauses -------------------------------------------------------------------------------------

SEG = [{"start": 10.0, "end": 20.0}]


def test_raised_segment_found_until_half_a_second_after_its_end():
    assert score_raised([ev(20.5)], SEG).found == 1
    assert score_raised([ev(20.6)], SEG).found == 0
    assert score_raised([ev(9.9)], SEG).found == 0


def test_raised_detection_correct_until_one_second_after_the_end():
    m = score_raised([ev(12.0), ev(20.9), ev(21.1), ev(5.0)], SEG)
    assert (m.n_det, m.correct, m.found) == (4, 2, 1)
    assert m.latencies == [pytest.approx(2.0)]


def test_raised_detection_in_both_partners_stretches_is_matched_to_the_voice_it_heard():
    segs = [{"start": 10.0, "end": 40.0, "speaker": "A"}, {"start": 12.0, "end": 38.0, "speaker": "B"}]
    turns = [{"speaker": "A", "start": 10.0, "end": 14.0, "stretch": 0},
             {"speaker": "B", "start": 14.5, "end": 20.0, "stretch": 0},
             {"speaker": "A", "start": 20.5, "end": 25.0, "stretch": 0},
             {"speaker": "A", "start": 25.5, "end": 27.0, "stretch": None}]
    dets = [dict(ev(16.0), start=15.0), dict(ev(22.0), start=21.0), dict(ev(13.0), start=12.5)]
    m = score_raised(dets, segs, turns)
    assert [segs[k]["speaker"] for _, k in m.matched] == ["B", "A", "A"]
    assert [k for _, k in score_raised(dets, segs).matched] == [0, 0, 0]   # without turns: the first segment


def test_pause_recall_over_windows_and_false_suggestions_outside():
    windows = [{"start": 60.0, "end": 120.0}, {"start": 300.0, "end": 360.0}]
    m = score_pauses([ev(90.0), ev(200.0), ev(124.0)], windows)
    assert (m.n_truth, m.found, m.n_det, m.correct) == (2, 1, 3, 2)


def test_tally_reports_zeros_without_detections():
    t = Tally()
    t.add(score_interruptions([], [1.0, 5.0]), 3600.0)
    d = t.to_dict()
    assert (d["precision"], d["recall"], d["f1"], d["false_per_hour"]) == (0.0, 0.0, 0.0, 0.0)
    assert d["latency_median_s"] is None


def test_tally_figures():
    t = Tally()
    t.add(score_interruptions([intr(10.5), intr(30.0)], [10.0, 50.0]), 1800.0)
    assert (t.precision, t.recall, t.f1) == (0.5, 0.5, 0.5)
    assert t.false_per_hour == pytest.approx(2.0)
    assert t.latency(50) == pytest.approx(0.5)


# --- AMI reference onsets ----------------------------------------------------------------------------------------

def test_ami_onset_counts_only_when_the_other_held_the_floor_a_second():
    segs = [(0.0, 5.0, "X"), (2.0, 4.0, "Y"), (4.5, 4.8, "Z"), (5.2, 6.0, "X"), (6.5, 8.0, "Y"), (6.9, 7.0, "X")]
    refs = ami.reference_interruptions(segs)
    assert [(r["t"], r["speaker"], r["over"], r["short"]) for r in refs] == [
        (2.0, "Y", "X", False), (4.5, "Z", "X", True)]


def test_ami_own_segments_a_moment_apart_are_one_stretch():
    assert ami.merge_turns([(0.0, 1.0, "X"), (1.1, 2.0, "X"), (3.0, 4.0, "X")]) == [
        (0.0, 2.0, "X"), (3.0, 4.0, "X")]


# --- the talk mixer's ground truth -------------------------------------------------------------------------------

def synthetic_voice(f0: float, seed: int) -> Voice:
    """Harmonic 'syllables' of 150-400 ms separated by 100-300 ms gaps (a stand-in for speech)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(40):
        n = int(rng.uniform(0.15, 0.4) * RATE)
        t = np.arange(n) / RATE
        parts.append(0.1 * np.sin(2 * np.pi * f0 * t) * np.hanning(n) ** 0.2)
        parts.append(np.zeros(int(rng.uniform(0.1, 0.3) * RATE)))
    x = np.concatenate(parts) + rng.normal(0.0, 1e-4, sum(len(p) for p in parts))  # a faint noise floor
    return Voice(f"tone{f0:.0f}", "F" if f0 > 165 else "M", "synthetic", [x.astype(np.float32)])


def make_talk(seed: int = 1) -> Talk:
    rng = np.random.default_rng(seed)
    word = (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(0.3 * RATE)) / RATE)).astype(np.float32)
    parts = {"A": Partner(synthetic_voice(210.0, 1), -30.0), "B": Partner(synthetic_voice(110.0, 2), -30.0)}
    return Talk(rng, parts, [word])


def test_interruption_truth_is_30_to_80_percent_into_a_turn_and_overlaps_half_to_two_seconds():
    talk = make_talk()
    specs = [TurnSpec("A" if i % 2 == 0 else "B", 6.0, interrupts=i % 2 == 1) for i in range(8)]
    talk.play(specs)
    truth = talk.truth()
    assert len(truth["interruptions"]) == 4
    for it in truth["interruptions"]:
        held = next(t for t in truth["turns"] if t["speaker"] == it["over"] and t["start"] < it["t"] < t["end"])
        assert 0.5 - 1e-3 <= held["end"] - it["t"] <= 2.0 + 1e-3
        new = next(t for t in truth["turns"] if t["speaker"] == it["speaker"] and abs(t["start"] - it["t"]) < 1e-3)
        assert new["end"] > held["end"]


def _gaps(talk: Talk) -> np.ndarray:
    turns = talk.truth()["turns"]
    return np.array([b["start"] - a["end"] for a, b in zip(turns, turns[1:]) if a["speaker"] != b["speaker"]])


def test_quick_turn_changes_come_only_where_asked_and_leave_no_overlap():
    specs = [TurnSpec("A" if i % 2 == 0 else "B", 3.0) for i in range(40)]
    plain, again, quick = make_talk(5), make_talk(5), make_talk(5)
    quick.quick_share = 0.5
    for talk in (plain, again, quick):
        talk.play(specs)
    assert [t["start"] for t in plain.turns] == [t["start"] for t in again.turns]   # no draw spent when 0
    slow, fast = _gaps(plain), _gaps(quick)
    assert slow.min() >= 0.15 - 1e-3 and fast.min() >= -1e-3 and not quick.truth()["interruptions"]
    assert 10 <= int(np.sum(fast < 0.12 + 1e-3)) <= 30   # about half of the 39 changes


def _speaking_share(talk: Talk, turn: dict, a_s: float, b_s: float) -> float:
    """Share of 10 ms frames of a placed turn's own audio in [a_s, b_s) (timeline seconds) within 20 dB of its peak."""
    start, x, _ = talk.placements[turn["_placement"]]
    n = len(x) // 160
    db = 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1) + 1e-12)
    a, b = int((a_s - start / RATE) * 100), int((b_s - start / RATE) * 100)
    return float(np.mean(db[max(a, 0):b] > db.max() - 20.0))


@pytest.mark.parametrize("check", [True, False])
def test_the_interrupted_partner_really_speaks_before_and_during_the_overlap(check):
    shares = []
    for seed in range(4):
        talk = make_talk(seed)
        if not check:   # what the mixer did before it knew where each voice speaks
            talk.masks = type("NoMasks", (dict,), {"__setitem__": lambda *a: None})()
        talk.play([TurnSpec("A" if i % 2 == 0 else "B", 6.0, interrupts=i % 2 == 1) for i in range(16)])
        for it in talk.interruptions:
            held = next(t for t in talk.turns if t["speaker"] == it["over"] and t["start"] < it["t"] < t["end"])
            shares.append((_speaking_share(talk, held, it["t"] - 1.0, it["t"]),
                           _speaking_share(talk, held, it["t"], it["t"] + it["overlap_s"])))
    shares = np.array(shares)
    assert len(shares) >= 20
    ok = (shares[:, 0] >= 0.45) & (shares[:, 1] >= 0.45)
    assert ok.all() if check else not ok.all()


def test_in_a_chain_of_interruptions_no_one_interrupts_while_still_finishing_their_own_turn():
    onsets = 0
    for seed in range(4):
        talk = make_talk(seed)
        talk.play([TurnSpec("A" if i % 2 == 0 else "B", 3.5, interrupts=i > 0) for i in range(20)])
        for it in talk.interruptions:
            own = [t["end"] for t in talk.turns if t["speaker"] == it["speaker"] and t["start"] < it["t"] - 1e-3]
            assert not own or it["t"] >= max(own) + 0.3 - 1e-3
            onsets += 1
    assert onsets >= 10


def test_a_turn_starts_on_speech_not_on_a_click_in_the_pause_before_it():
    rng = np.random.default_rng(3)
    t = np.arange(int(0.5 * RATE)) / RATE
    syllable = 0.1 * np.sin(2 * np.pi * 150 * t)
    pause = rng.normal(0.0, 1e-3, int(1.5 * RATE))   # a noisy pause, 30 dB under the speech...
    pause[int(0.5 * RATE):int(0.5 * RATE) + 80] += 0.05   # ...with a 5 ms click a second before the speech
    clip = np.concatenate([syllable, pause, syllable, pause, syllable]).astype(np.float32)
    from voicecoach_dev.evalkit.corpus import trim
    assert abs(len(trim(clip)) - len(clip)) < 0.03 * RATE       # speech at both ends: nothing to cut
    lead = np.concatenate([pause, syllable]).astype(np.float32)
    assert abs(len(trim(lead)) - 0.5 * RATE) < 0.03 * RATE      # the click is not where the turn starts
    voice = Voice("clicky", "M", "synthetic", [clip] * 4)
    for seed in range(10):
        x = voice.excerpt(np.random.default_rng(seed), 2.0)
        assert np.sqrt(np.mean(np.square(x[: int(0.1 * RATE)]))) > 0.03   # its first 100 ms are speech


def test_backchannels_are_short_words_inside_the_other_partners_turn():
    talk = make_talk(2)
    talk.play([TurnSpec("A" if i % 2 == 0 else "B", 5.0, backchannel=True) for i in range(6)])
    truth = talk.truth()
    assert truth["backchannels"] and not truth["interruptions"]
    for bc in truth["backchannels"]:
        assert bc["end"] - bc["start"] < 0.6
        assert any(t["speaker"] != bc["speaker"] and t["start"] < bc["start"] < t["end"] for t in truth["turns"])


def test_raised_stretch_becomes_one_segment_over_its_turns_and_is_louder():
    talk = make_talk(3)
    specs = [TurnSpec("A" if i % 2 == 0 else "B", 4.0, gain_db=10.0 if i in (2, 4) else 0.0,
                      stretch=0 if i in (2, 4) else None) for i in range(7)]
    talk.play(specs)
    seg, = talk.truth()["raised"]
    turns = talk.truth()["turns"]
    assert (seg["start"], seg["end"]) == (turns[2]["start"], turns[4]["end"])
    mix = talk.render()
    rms = lambda t: float(np.sqrt(np.mean(mix[int(t["start"] * RATE): int(t["end"] * RATE)] ** 2)))  # noqa: E731
    assert 20 * np.log10(rms(turns[2]) / rms(turns[0])) == pytest.approx(10.0, abs=2.0)


# --- the real corpus ---------------------------------------------------------------------------------------------

@pytest.mark.corpus
def test_quick_dev_set_has_consistent_truth_and_scores(tmp_path, capsys):
    import os

    corpus_dir = Path(os.environ.get("VOICECOACH_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (corpus_dir / "voices").is_dir():
        pytest.skip("evaluation corpus absent (../shared/data or $VOICECOACH_CORPUS)")
    from voicecoach_dev.evalkit import devset
    from voicecoach_dev.evalkit import evaluate

    wanted = ["interrupt", "raised", "lean_in@room", "quiet_raise@room", "ami"]
    items = devset.ensure_devset(quick=True, out=tmp_path, log=lambda m: None, split="tune", scenarios_wanted=wanted)
    mixed = [it for it in items if it["scenario"] != "ami"]
    assert sorted({it["scenario"] for it in mixed}) == sorted(wanted[:-1]) and any(it["scenario"] == "ami" for it in items)
    for it in mixed:
        truth = it["truth"]
        for r in truth["interruptions"]:
            assert any(t["speaker"] == r["over"] and t["start"] < r["t"] < t["end"] for t in truth["turns"])
        assert all(b["end"] - b["start"] < 0.6 for b in truth["backchannels"])
        # a raised voice is a voice that changes: never an ordinary voice made louder
        assert all(s["voice"] == "angry" and s["gain_db"] == 0.0 for s in truth["raised"])
        for v in it["mix"].get("angry_restore_db", {}).values():
            assert 8.0 <= v <= 12.0
        assert it["room"] == it["scenario"].endswith("@room") == ("room" in it["mix"])
    lean = next(it for it in mixed if it["scenario"] == "lean_in@room")
    assert len(lean["truth"]["lean"]) == 2 and not lean["truth"]["raised"] and lean["calm"]
    assert all(5.0 <= v <= 11.0 for v in lean["mix"]["lean_db"].values())   # measured through the room
    room = lean["mix"]["room"]
    assert 0.15 <= room["rt60_s"] <= 0.9 and all(0.3 <= s["distance_m"] <= 3.6 for s in room["sources"].values())
    light = tmp_path / "features.toml"   # the light interruption method: the scoring is what is tested here
    light.write_text('[detection.interruption]\nmethod = "features"\n')
    assert evaluate.main(["--quick", "--split", "tune", "--out", str(tmp_path), "--scenario", "lean_in@room",
                          "--scenario", "ami", "--scenario", "escalation", "--config", str(light)]) == 0
    out = capsys.readouterr().out
    assert "### Targets" in out and "| ami |" in out and "| ami, settle_s = 0 |" in out
    assert "### Dry and in rooms" in out and "rooms: raised-voice events when a partner leans in" in out
    assert "### Pause latency by kind of escalation" in out and "| raised | 1 |" in out   # escalation-00: raised


@pytest.mark.corpus
def test_several_draws_pooled_in_one_run_count_what_the_runs_of_each_count(corpus, tmp_path, monkeypatch, capsys):
    """``--draw 1 --draw 2``: one report over both draws, each draw's talks named dN/..., every tally the sum of the
    two single-draw runs' (the figures of a held-out table come from three draws pooled)."""
    import json

    from voicecoach_dev.evalkit import evaluate

    monkeypatch.setenv("VOICECOACH_CORPUS", str(corpus))
    light = tmp_path / "features.toml"   # the light interruption method: the pooling is what is tested here
    light.write_text('[detection.interruption]\nmethod = "features"\n')
    common = ["--quick", "--split", "tune", "--out", str(tmp_path / "set"), "--scenario", "interrupt",
              "--scenario", "raised", "--config", str(light)]
    docs = {}
    for name, draws in (("one", ["--draw", "1"]), ("two", ["--draw", "2"]), ("both", ["--draw", "2", "--draw", "1"])):
        assert evaluate.main([*common, *draws, "--json", str(tmp_path / f"{name}.json"),
                              "--events", str(tmp_path / name)]) == 0
        docs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert "evaluation on draws 1 and 2 of the tuning voices and noises, pooled" in capsys.readouterr().out
    both = docs["both"]
    assert both["meta"]["draw"] == [1, 2] and docs["one"]["meta"]["draw"] == 1
    assert sorted(both["files"]) == sorted([f"d1/{n}" for n in docs["one"]["files"]]
                                           + [f"d2/{n}" for n in docs["two"]["files"]])
    assert all(both["files"][f"d1/{n}"] == ev for n, ev in docs["one"]["files"].items())
    assert (tmp_path / "both" / "d2").is_dir()
    for task, rows in both["results"].items():
        for row, t in rows.items():
            for key in ("files", "true", "detected", "correct", "false"):
                assert t[key] == docs["one"]["results"][task][row][key] + docs["two"]["results"][task][row][key]


def test_speaker_attribution_forgives_a_swap_of_labels_for_the_whole_talk():
    from voicecoach_dev.evalkit.scoring import attribute_speakers

    assert attribute_speakers([("B", "A"), ("A", "B"), ("B", "A")]) == (3, 3)
    assert attribute_speakers([("A", "A"), ("A", "B"), (None, "A")]) == (1, 3)


def test_a_fresh_draw_is_other_talks_in_its_own_folder_beside_the_dev_set(tmp_path):
    from voicecoach_dev.evalkit import devset

    names = devset.item_names(quick=True)
    assert all(devset.item_seed(n, 1) != devset.item_seed(n, 0) for n in names)
    assert all(devset.item_seed(n, 1, "tune") != devset.item_seed(n, 1, "eval") for n in names)
    assert devset.item_seed(names[0], 0) == devset.BASE_SEED ^ __import__("zlib").crc32(names[0].encode())
    (tmp_path / "v1").mkdir()   # an older builder's folder goes; the other draw of this builder stays
    (tmp_path / "v1" / devset.MARKER).touch()
    keep = tmp_path / devset.folder_name("tune", 0)
    keep.mkdir()
    (keep / devset.MARKER).touch()
    import os

    corpus_dir = Path(os.environ.get("VOICECOACH_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (corpus_dir / "voices").is_dir():
        pytest.skip("evaluation corpus absent (../shared/data or $VOICECOACH_CORPUS)")
    items = devset.ensure_devset(quick=True, out=tmp_path, log=lambda m: None, draw=2, scenarios_wanted=["calm"])
    mixed = [it for it in items if it["scenario"] != "ami"]
    assert mixed and all(devset.folder_name("eval", 2) in it["wav"] and it["draw"] == 2 for it in mixed)
    assert all(it["split"] == "eval" for it in mixed)
    from voicecoach_dev.evalkit.splits import Split, split_of

    assert all(split_of(p["voice"]) is Split.EVAL for it in mixed for p in it["partners"].values())
    assert keep.is_dir() and not (tmp_path / "v1").exists()


def test_a_source_recording_loses_its_recorders_dc_offset(tmp_path):
    """A reader whose recording sits 0.1 of full scale off zero mixes as a voice, not as a DC pulse per utterance."""
    from voicecoach.audio.wav import write_wav
    from voicecoach_dev.evalkit.corpus import load_audio

    t = np.arange(RATE) / RATE
    speech = 0.05 * np.sin(2 * np.pi * 150 * t)
    path = tmp_path / "offset.wav"
    write_wav(path, np.round((speech - 0.1) * 32768).astype(np.int16))
    x = load_audio(path)
    assert abs(float(x.mean())) < 1e-4                       # the offset is gone (int16 rounding: < 3e-5)
    assert float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) == pytest.approx(0.05 / np.sqrt(2), rel=1e-3)


def test_evaluate_reports_the_recall_of_a_voice_cutting_in_under_a_louder_one_dry_and_in_rooms():
    """Issue 16's louder-holder target is a row of every default run (it was printed only with --methods)."""
    from voicecoach_dev.evalkit import evaluate

    def item(name: str, room: bool, over_db: float) -> dict:
        turns = [{"speaker": "A", "start": 0.0, "end": 10.0}, {"speaker": "B", "start": 5.0, "end": 9.0}]
        return {"name": name, "scenario": "interrupt@room" if room else "interrupt", "room": room,
                "partners": {"A": {"level_db": over_db}, "B": {"level_db": 0.0}},
                "truth": {"turns": turns, "backchannels": [],
                          "interruptions": [{"t": 5.0, "speaker": "B", "over": "A"}]}}

    items = [item("dry-found", False, 10.0), item("dry-missed", False, 12.0), item("dry-equal", False, 0.0),
             item("room-found", True, 9.0)]
    hit = [{"type": "interruption", "t": 5.6, "start": 5.1, "speaker": "B", "over": "A"}]
    results = {"dry-found": (hit, 1.0), "dry-missed": ([], 1.0), "dry-equal": (hit, 1.0), "room-found": (hit, 1.0)}
    rows = {c["target"].rsplit(", ", 1)[-1]: c for c in evaluate._louder_checks(items, results)}
    assert rows["dry"]["note"] == "1 of 2" and rows["dry"]["value"] == 0.5 and not rows["dry"]["pass"]
    assert rows["rooms"]["note"] == "1 of 1" and rows["rooms"]["pass"]
    assert evaluate._louder_checks(items[2:3], results) == []   # no louder holder: no row
