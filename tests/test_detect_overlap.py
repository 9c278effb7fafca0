"""Interruptions heard by the segmentation model, on speech synthesised with espeak-ng (two different voices)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.frames import SAMPLE_RATE as R, frames_from_array
from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.overlap import LookHint, OverlapInterruptionDetector
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings
from voicecoach.events import Interruption

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from measure_asr import synthesise  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox to synthesise speech")

HOLDER = ("I told you last week that I would be home late on Thursday, and you said that it was completely fine "
          "with you, so I really do not understand why we are arguing about it again tonight")
INTERRUPTER = "No, that is not what I said at all, listen to me"
A_START_S = 0.5


@lru_cache(maxsize=None)
def say(text: str, who: str) -> np.ndarray:
    """Speech from espeak-ng at 16 kHz, float, silence trimmed. ``who``: "A" (low male), "B" (high female)."""
    voice, pitch, speed = ("en-us+m3", 35, 160) if who == "A" else ("en-gb+f3", 70, 170)
    x = synthesise(text, voice, speed, pitch).astype(np.float32)
    loud = np.flatnonzero(np.abs(x) > 500)
    return x[loud[0]:loud[-1] + 1]


def talk(*parts: tuple[float, str, str], seconds: float = 16.0) -> np.ndarray:
    """Mix (start_s, text, who) parts at half scale into int16 audio."""
    out = np.zeros(int(seconds * R), np.float32)
    for start_s, text, who in parts:
        x = say(text, who)
        i = int(start_s * R)
        out[i:i + len(x)] += 0.5 * x[:len(out) - i]
    return np.clip(out, -32767, 32767).astype(np.int16)


def _method(name: str) -> Pipeline:
    """A pipeline with this interruption method (the tests below name the method they test, whatever the default)."""
    s = DetectionSettings()
    return Pipeline(replace(s, interruption=replace(s.interruption, method=name)))


def interruptions(audio: np.ndarray, pipeline: Pipeline | None = None,
                  muted: tuple[float, float] | None = None) -> list[Interruption]:
    p = pipeline or _method("model")
    found = []
    for f in frames_from_array(audio, 30):
        mute = muted is not None and muted[0] <= f.start_sample / R < muted[1]
        found += [e for e in p.process(f, muted=mute) if isinstance(e, Interruption)]
    return found


def test_a_partner_talking_over_the_other_is_an_interruption_heard_within_a_second():
    onset_s = 6.0
    found = interruptions(talk((A_START_S, HOLDER, "A"), (onset_s, INTERRUPTER, "B")))
    assert len(found) == 1
    e = found[0]
    assert abs(e.start - onset_s) < 0.3
    assert 0.6 <= e.t - onset_s <= 1.1    # min_run_ms (the interrupter keeps going) + a check or two
    assert (e.speaker, e.over) == ("B", "A")


@pytest.mark.parametrize("word", ["mm", "yeah", "right"])
def test_a_backchannel_under_the_speaker_is_not_an_interruption(word: str):
    assert say(word, "B").size < 0.45 * R
    assert interruptions(talk((A_START_S, HOLDER, "A"), (5.0, word, "B"))) == []


def test_taking_turns_with_a_gap_is_not_an_interruption():
    b_start = A_START_S + say(HOLDER, "A").size / R + 0.3
    assert interruptions(talk((A_START_S, HOLDER, "A"), (b_start, INTERRUPTER, "B"), seconds=b_start + 4)) == []


def test_a_partner_talking_over_the_product_is_not_an_interruption():
    # the product speaks (frames muted) while a partner talks over it: the window holds the product's voice
    audio = talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B"))
    assert interruptions(audio, muted=(A_START_S, 8.0)) == []


class _Scripted:
    """Stands in for the model to give one exact picture: voice 0 all along, voice 1 too from ``onset_s`` on (the
    logic around the model is tested here; the model itself on real speech above). ``now_s``: the window's end."""

    def __init__(self, onset_s: float, unsure_until_s: float = 0.0, pauses: bool = False) -> None:
        self.onset_s = onset_s
        self.unsure_until_s = unsure_until_s   # until then, voice 1's last 0.3 s is only 0.6 likely
        self.pauses = pauses                   # voice 0 pauses from 0.5 to 0.8 s of every second
        self.now_s = 0.0

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        from voicecoach.detect.segmentation import SegmentationModel
        steps = ((((len(audio) - 251) // 10 + 1) // 3 - 4) // 3 - 4) // 3
        times = self.now_s - len(audio) / R + SegmentationModel.step_centers_s(steps)
        probs = np.zeros((steps, 7), np.float32)
        probs[times < self.onset_s, 1] = 1.0    # {0}
        probs[times >= self.onset_s, 4] = 1.0   # {0, 1}
        if self.pauses:
            gap = (times % 1.0 >= 0.5) & (times % 1.0 < 0.8)
            probs[gap & (times < self.onset_s)] = [1, 0, 0, 0, 0, 0, 0]   # no one
            probs[gap & (times >= self.onset_s)] = [0, 0, 1, 0, 0, 0, 0]  # {1}
        if self.now_s < self.unsure_until_s:
            probs[times >= self.now_s - 0.3] = [0, 0.4, 0, 0, 0.6, 0, 0]
        return probs


def _scripted_run(model: _Scripted, muted_until_s: float = 0.0, seconds: float = 9.0,
                  hint=lambda t: True, det: OverlapInterruptionDetector | None = None) -> list[Interruption]:
    """Feed ``seconds`` of speech frames to an overlap detector around ``model``; ``hint(t)``: the features' hint."""
    samples = np.zeros(480, np.int16)
    det = det or OverlapInterruptionDetector(DetectionSettings().interruption, 30, model=model)
    found = []
    for i in range(int(seconds / 0.03)):
        feats = FrameFeatures(i * 480, (i + 1) * 0.03, -30.0, True, -80.0, f0_hz=150.0)
        model.now_s = feats.end_s
        found += det.process(samples, feats, "A", muted=feats.end_s <= muted_until_s, hint=hint(feats.end_s))
    return found


def test_no_one_holds_the_floor_while_the_product_speaks():
    for muted_until_s, expected in ((0.0, 1), (6.5, 0)):
        found = _scripted_run(_Scripted(onset_s=6.0), muted_until_s)
        # voice 1 starts over voice 0 at 6 s and goes on: an interruption, unless voice 0 was the product speaking
        assert len(found) == expected, (muted_until_s, found)
        if expected:
            assert abs(found[0].start - 6.0) < 0.03 and (found[0].speaker, found[0].over) == ("B", "A")


def test_a_run_the_model_is_unsure_of_at_its_end_waits_for_a_surer_look():
    sure = _scripted_run(_Scripted(onset_s=6.0))
    assert len(sure) == 1 and sure[0].t < 6.9
    later = _scripted_run(_Scripted(onset_s=6.0, unsure_until_s=7.5))
    assert len(later) == 1 and 7.5 <= later[0].t < 7.8 and abs(later[0].start - 6.0) < 0.03
    assert _scripted_run(_Scripted(onset_s=6.0, unsure_until_s=99.0)) == []


def test_a_holder_who_pauses_between_words_still_holds_the_floor():
    # voice 0 is silent for 0.3 s of every second (70 % of the floor): the floor is still theirs
    found = _scripted_run(_Scripted(onset_s=6.0, pauses=True))
    assert len(found) == 1 and abs(found[0].start - 6.0) < 0.03


def test_without_a_hint_from_the_features_the_model_does_not_look_for_a_new_voice():
    model = _Scripted(onset_s=6.0)
    det = OverlapInterruptionDetector(DetectionSettings().interruption, 30, model=model)
    assert _scripted_run(model, hint=lambda t: False, det=det) == [] and det.checks == 0
    # a hint lasting from 6.1 to 6.4 s: the model looks, sees voice 1 starting, and follows it without more hints
    det = OverlapInterruptionDetector(DetectionSettings().interruption, 30, model=model)
    found = _scripted_run(model, hint=lambda t: 6.1 <= t < 6.4, det=det)
    assert len(found) == 1 and abs(found[0].start - 6.0) < 0.03 and found[0].t < 6.9
    assert det.checks <= 5   # one on the hint, then one every check_every_ms until the run is long enough


def test_the_gated_method_looks_every_gate_idle_ms_while_the_gate_is_open_and_nothing_starts():
    model = _Scripted(onset_s=99.0)   # one voice all along
    s = replace(DetectionSettings().interruption, gate_idle_ms=1200)
    gated = OverlapInterruptionDetector(s, 30, model=model, gated=True)
    assert _scripted_run(model, seconds=30.0, det=gated) == []
    # the gate open all the time (hint): one look per gate_idle_ms once the window is full, not one per min_run_ms
    assert gated.checks <= (30.0 - 4.0) / (s.gate_idle_ms / 1000.0) + 1
    plain = OverlapInterruptionDetector(s, 30, model=model)
    _scripted_run(model, seconds=30.0, det=plain)
    assert plain.checks >= 1.8 * gated.checks


class _TurnChange(_Scripted):
    """Voice 0 goes on only ``tail_s`` after voice 1 starts at ``onset_s`` (a turn change heard through a room)."""

    def __init__(self, onset_s: float, tail_s: float) -> None:
        super().__init__(onset_s)
        self.tail_s = tail_s

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        from voicecoach.detect.segmentation import SegmentationModel
        probs = super().probabilities(audio)
        times = self.now_s - len(audio) / R + SegmentationModel.step_centers_s(len(probs))
        probs[times >= self.onset_s + self.tail_s] = [0, 0, 1, 0, 0, 0, 0]   # {1} alone
        return probs


def test_the_gated_method_does_not_call_a_turn_change_whose_holder_stops_soon_an_interruption():
    s = DetectionSettings().interruption   # the default gate_holder_share (0.4)
    assert s.gate_holder_share >= 0.4
    for tail_s, expected in ((0.25, 0), (0.5, 1), (9.0, 1)):   # the holder's voice (or its echo) goes on this long
        model = _TurnChange(onset_s=6.0, tail_s=tail_s)
        det = OverlapInterruptionDetector(s, 30, model=model, gated=True)
        assert len(_scripted_run(model, det=det)) == expected, tail_s
    model = _TurnChange(onset_s=6.0, tail_s=0.25)   # the 'model' method keeps its rule (holder on 0.2 s after)
    assert len(_scripted_run(model, det=OverlapInterruptionDetector(s, 30, model=model))) == 1


def _hints(hint: LookHint, frames: list[tuple]) -> list[bool]:
    return [hint.process(*f) for f in frames]


def test_a_hint_is_a_frame_towards_the_other_voice_or_evidence_and_lasts_hint_ms():
    holder_like = (True, False, True, "A", (-1.0, -1.0, 0.5, 1.5))
    other_like = (True, False, True, "A", (0.9, 0.0, 1.5, 0.5))
    evidence = (True, True, True, "A", (-1.0, -1.0, 0.5, 1.5))
    hint = LookHint(600, 30)
    assert _hints(hint, [holder_like] * 50) == [False] * 50
    assert _hints(hint, [other_like] + [holder_like] * 25) == [True] * 20 + [False] * 6
    assert _hints(hint, [evidence] + [holder_like] * 25) == [True] * 20 + [False] * 6
    hint.reset()
    assert _hints(hint, [holder_like]) == [False]


def test_when_the_features_cannot_tell_they_always_hint():
    hint = LookHint(600, 30)
    one_voice_known = (True, False, False, None, None)
    too_alike = (True, False, True, "A", None)
    assert _hints(hint, [one_voice_known] * 30) == [True] * 30
    assert _hints(LookHint(600, 30), [too_alike] * 30) == [True] * 30
    assert _hints(LookHint(600, 30), [(False, False, False, None, None)] * 3) == [False] * 3   # silence
    assert _hints(LookHint(0, 30), [(True, False, True, "A", (-1.0, -1.0, 0.5, 1.5))] * 3) == [True] * 3


def test_the_model_looks_only_during_talk_and_rarely_when_nothing_starts():
    p = _method("model")
    interruptions(np.zeros(20 * R, np.int16), p)
    assert p.overlap.checks == 0            # silence: never
    p = _method("model")
    seconds = A_START_S + say(HOLDER, "A").size / R + 1.0
    interruptions(talk((A_START_S, HOLDER, "A"), seconds=seconds), p)
    # one voice going on: once per min_run_ms at most, after the 4 s window has filled
    assert 0 < p.overlap.checks <= (seconds - 4.0) / 0.6 + 1


def test_reset_forgets_the_window_and_the_reported_onsets():
    p = _method("model")
    audio = talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B"))
    assert len(interruptions(audio, p)) == 1
    p.reset()
    assert p.overlap._filled == 0
    assert len(interruptions(audio, p)) == 1   # the same talk again: heard again


def test_the_features_method_needs_no_model():
    s = DetectionSettings()
    p = Pipeline(replace(s, interruption=replace(s.interruption, method="features")))
    assert p.overlap is None
    interruptions(talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B")), p)   # runs; too short to settle



def test_the_gated_method_hears_the_interruption_and_looks_less_on_one_voice():
    p = _method("gated")
    assert p.gate is not None and p.overlap is not None and p.stream is None
    found = interruptions(talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B")), p)
    assert len(found) == 1 and abs(found[0].start - 6.0) < 0.5
    seconds = A_START_S + say(HOLDER, "A").size / R + 1.0
    alone = talk((A_START_S, HOLDER, "A"), seconds=seconds)
    model, gated = _method("model"), _method("gated")
    interruptions(alone, model)
    interruptions(alone, gated)
    assert gated.overlap.checks < model.overlap.checks


def test_the_stream_method_needs_no_segmentation_model_hears_the_interruption_and_is_quiet_on_one_voice():
    p = _method("stream")
    assert p.overlap is None and p.gate is None and p.stream is not None
    found = interruptions(talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B")), p)
    assert len(found) == 1 and (found[0].speaker, found[0].over) == ("B", "A") and found[0].t < 6.0 + 1.5
    p.reset()
    seconds = A_START_S + say(HOLDER, "A").size / R + 1.0
    assert interruptions(talk((A_START_S, HOLDER, "A"), seconds=seconds), p) == []


def test_each_look_reuses_the_last_looks_filtering_and_sees_what_a_fresh_look_sees():
    p = _method("model")
    model = p.overlap.model
    looks: list[tuple[np.ndarray, np.ndarray | None]] = []
    filtered: list[int] = []
    probabilities, filter_outputs = model.probabilities, model.filter_outputs
    # the rows are kept as they were at the look (the detector's buffers are reused two looks later)
    model.probabilities = lambda audio, rows=None: (looks.append((audio, None if rows is None else rows.copy()))
                                                    or probabilities(audio, rows))
    model.filter_outputs = lambda wav: filtered.append(len(wav)) or filter_outputs(wav)
    try:
        assert len(interruptions(talk((A_START_S, HOLDER, "A"), (6.0, INTERRUPTER, "B")), p)) == 1
    finally:
        del model.probabilities, model.filter_outputs
    # only the first look filtered its whole window; each later one only the audio that came since the last
    assert len(looks) > 3 and filtered[0] == len(looks[0][0]) and max(filtered[1:]) < R
    for audio, rows in looks:
        assert rows is not None and np.abs(probabilities(audio, rows) - probabilities(audio)).max() < 1e-4
