"""Language packs and turning transcripts into commands (English at the transcript level; no model needed)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from voicecoach.commands import ClapChoice, Command, Option
from voicecoach.asr.lang import BUILTIN_DIR, COMMAND_NAMES, load_language, match_command, normalize, pack_from_dict
from voicecoach.asr.listener import CommandDecoder
from voicecoach.asr.recognizer import Transcript
from voicecoach.errors import InputError


@pytest.fixture(scope="module")
def en():
    return load_language("en")


@pytest.mark.parametrize("text, command", [
    ("yes", "yes"), ("Okay.", "yes"), ("ok", "yes"), ("sure", "yes"), ("let's do it", "yes"), ("Let’s do it!", "yes"),
    ("not now", "not_now"), ("no", "not_now"), ("later", "not_now"), ("no thanks", "not_now"),
    ("pause", "pause"), ("time out", "pause"), ("timeout", "pause"), ("let's pause", "pause"),
    ("next", "next"), ("repeat", "repeat"), ("say again", "repeat"), ("again", "repeat"),
    ("more time", "more_time"), ("one more minute", "more_time"), ("skip", "skip"),
    ("stop", "stop"), ("quit", "stop"), ("end", "stop"), ("help", "help"),
    ("um yes", "yes"), ("could we have one more minute please", "more_time"),
])
def test_english_phrases_map_to_their_commands(en, text, command):
    assert en.match_command(text) is Command(command)


@pytest.mark.parametrize("text", ["now", "not", "I know", "nothing", "yesterday", "nobody", "noon", "okayish",
                                  "timer", "the weekend", "pauses", "helpful", "", "   ", "[unk]"])
def test_words_that_merely_contain_a_phrase_match_nothing(en, text):
    assert en.match_command(text) is None


def test_not_now_is_never_heard_as_yes_or_now(en):
    assert en.match_command("not now") is Command.NOT_NOW
    assert en.match_command("well not now") is Command.NOT_NOW
    assert all(m.command is Command.NOT_NOW for m in en.find("not now"))


def test_the_longest_phrase_wins_and_a_tie_between_commands_is_no_command(en):
    assert en.match_command("say again") is Command.REPEAT
    assert en.match_command("okay let's pause") is Command.PAUSE  # "let's pause" (2 words) beats "okay" (1)
    assert en.match_command("yes no") is None
    assert en.match_command("stop next") is None


def test_module_level_match_command_uses_english():
    assert match_command("not now") is Command.NOT_NOW


def test_normalize_keeps_inner_apostrophes_and_drops_punctuation():
    assert normalize("Let's  PAUSE, ok?") == ("let's", "pause", "ok")
    assert normalize("'quoted'") == ("quoted",)


def test_every_builtin_pack_can_say_every_command():
    codes = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))
    assert {"en", "ko"} <= set(codes)
    for code in codes:  # a new command (e.g. pairing_code) needs its phrases in every pack shipped
        pack = load_language(code)
        assert pack.missing(frozenset(Command)) == [], code
        assert {c.value for c in pack.commands} == set(COMMAND_NAMES) and pack.model


@pytest.mark.parametrize("code", sorted(p.stem for p in BUILTIN_DIR.glob("*.toml")))
def test_every_builtin_pack_has_every_table_and_key_the_english_one_has(code):
    """The test above held every pack to the English one's [commands] only, and the one below it asserted that
    the Korean pack had no [clap_only] table: a Korean couple with no speech model was told "Say yes" when only
    the double clap could be heard. Every table (and every key of it) of en.toml is in every pack shipped."""
    english = tomllib.loads((BUILTIN_DIR / "en.toml").read_text(encoding="utf-8"))
    pack = tomllib.loads((BUILTIN_DIR / f"{code}.toml").read_text(encoding="utf-8"))
    for name, table in english.items():
        assert name in pack, f"{code}.toml has no {name!r}"
        if isinstance(table, dict):
            assert isinstance(pack[name], dict) and set(table) <= set(pack[name]), \
                f"{code}.toml's [{name}] lacks {sorted(set(table) - set(pack[name]))}"


def test_a_user_pack_in_the_config_dir_overrides_the_builtin(tmp_home):
    (tmp_home.config_dir / "lang").mkdir()
    (tmp_home.config_dir / "lang" / "en.toml").write_text('[commands]\nyes = ["aye"]\n', "utf-8")
    pack = load_language("en")
    assert pack.match_command("aye") is Command.YES
    assert pack.match_command("yes") is None


def test_a_pack_can_be_given_by_path(tmp_path):
    path = tmp_path / "xx.toml"
    path.write_text('code = "xx"\n[commands]\nyes = ["ja"]\nnot_now = ["nein", "nicht jetzt"]\n', "utf-8")
    pack = load_language(str(path))
    assert pack.code == "xx"
    assert pack.match_command("nicht jetzt") is Command.NOT_NOW


@pytest.mark.parametrize("data, words", [
    ({"commands": {"maybe": ["maybe"]}}, "unknown command 'commands.maybe'"),
    ({"commands": {"yes": "yes"}}, "commands.yes must be a non-empty list"),
    ({"commands": {"yes": []}}, "commands.yes must be a non-empty list"),
    ({"commands": {"yes": ["!!"]}}, "no words"),
    ({"commands": {"yes": ["go"], "next": ["Go"]}}, "given to both commands.yes and commands.next"),
    ({"commands": {}}, "needs a [commands] table"),
    ({"commandz": {}}, "unknown key 'commandz'"),
])
def test_bad_packs_are_one_line_errors_naming_the_key(data, words):
    with pytest.raises(InputError) as err:
        pack_from_dict(data, "pack.toml")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_missing_or_broken_pack_files_are_one_line_errors(tmp_path, tmp_home):
    with pytest.raises(InputError, match="no language pack for 'zz'.*available: en, ko"):
        load_language("zz")
    with pytest.raises(InputError, match="does not exist"):
        load_language(str(tmp_path / "none.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[commands\n", "utf-8")
    with pytest.raises(InputError, match="invalid TOML"):
        load_language(str(bad))


# --- from a transcript stream to commands (pure; the Vosk part is tested with the Korean model) -------------------

def feed(decoder: CommandDecoder, events: list[tuple[float, str, bool]], until: float, step: float = 0.02,
         allowed=None) -> list[tuple[float, str]]:
    if allowed is not None:  # what the listener does when it expects only these commands
        decoder.pack = decoder.pack.restricted(frozenset(Command(a) for a in allowed))
    """Replay (t, text, final) transcripts frame by frame up to ``until``; returns (t, command) pairs."""
    out, pending, t = [], sorted(events), 0.0
    while t <= until + 1e-9:
        now = [Transcript(text, when, final) for when, text, final in pending if when <= t + 1e-9]
        pending = [e for e in pending if e[0] > t + 1e-9]
        out += [(round(c.t, 2), c.to_dict()["name"]) for c in decoder.update(now, t)]
        t = round(t + step, 6)
    return out


def test_a_stable_partial_is_acted_on_before_the_final_and_not_reported_twice(en):
    decoder = CommandDecoder(en, partial_stable_ms=240)
    heard = feed(decoder, [(1.02, "yes", False), (1.8, "yes", True)], until=2.5)
    assert heard == [(1.26, "yes")]


def test_a_partial_that_changes_before_it_is_stable_waits(en):
    decoder = CommandDecoder(en, partial_stable_ms=240)
    heard = feed(decoder, [(1.02, "no", False), (1.14, "yes", False), (1.8, "yes", True)], until=2.5)
    assert heard == [(1.38, "yes")]


def test_a_partial_naming_two_commands_waits_for_the_final(en):
    decoder = CommandDecoder(en, partial_stable_ms=0)
    heard = feed(decoder, [(1.0, "yes stop", False), (1.8, "stop", True)], until=2.0)
    assert heard == [(1.8, "stop")]


def test_a_partial_that_could_still_grow_into_another_command_waits():
    pack = pack_from_dict({"commands": {"yes": ["okay"], "skip": ["okay skip it"]}}, "test.toml")
    decoder = CommandDecoder(pack, partial_stable_ms=0)
    assert feed(decoder, [(1.0, "okay", False), (1.5, "okay", True)], until=2.0) == [(1.5, "yes")]
    decoder.reset()
    assert feed(decoder, [(1.0, "okay", False), (1.2, "okay skip it", False), (1.5, "okay skip it", True)],
                until=2.0) == [(1.2, "skip")]


def test_each_utterance_gives_its_own_command(en):
    decoder = CommandDecoder(en, partial_stable_ms=0)
    heard = feed(decoder, [(1.0, "next", False), (1.5, "next", True), (2.0, "repeat", True)], until=2.5)
    assert heard == [(1.0, "next"), (2.0, "repeat")]


def test_empty_and_unknown_speech_give_no_command(en):
    decoder = CommandDecoder(en, partial_stable_ms=0)
    assert feed(decoder, [(1.0, "", True), (2.0, "", False), (2.5, "", True)], until=3.0) == []


def test_only_allowed_commands_are_reported_outside_an_answer_window(en):
    decoder = CommandDecoder(en, partial_stable_ms=0)
    events = [(1.0, "yes", True), (2.0, "pause", True)]
    assert feed(decoder, events, until=2.5, allowed={"pause"}) == [(2.0, "pause")]


def test_a_questions_own_choices_are_heard_as_themselves_and_win_over_a_command(en):
    asked = en.restricted(frozenset({Command.YES, Command.NEXT}), ("now", "later"))
    assert asked.match_command("now") == Option("now")
    assert asked.match_command("later") == Option("later")  # "later" is also a "not now" phrase in English
    assert asked.match_command("yes") is Command.YES and asked.match_command("stop") is None
    assert "now" in asked.phrases() and "stop" not in asked.phrases()


def test_a_pack_names_the_commands_it_cannot_say():
    pack = pack_from_dict({"commands": {"yes": ["ja"]}}, "xx.toml")
    assert pack.missing(frozenset({Command.YES, Command.NOT_NOW, Command.NEXT})) == [Command.NOT_NOW, Command.NEXT]


def test_the_clap_only_wording_replaces_the_spoken_answers_and_keeps_through_a_restricted_pack():
    pack = load_language("en").restricted(frozenset({Command.YES}))
    assert pack.clap_wording("Is now a good time? Say yes, or not now.") == \
        "Is now a good time? Clap twice for yes, or stay quiet for not now."
    pack = load_language("ko")  # the prompts are English in every pack: so are their clap wordings
    assert pack.clap_wording("Is now a good time? Say yes, or not now.") == \
        "Is now a good time? Clap twice for yes, or stay quiet for not now."


@pytest.mark.parametrize("table", [["Say yes"], {"Say yes": 2}, {"": "Clap"}])
def test_a_bad_clap_only_table_names_the_table(table):
    with pytest.raises(InputError, match=r"\[clap_only\]"):
        pack_from_dict({"commands": {"yes": ["yes"]}, "clap_only": table}, "pack.toml")


def test_a_choice_is_worded_from_its_own_options_in_every_pack():
    """A choice has no row of its own in [clap_only]: "Say now or later." was said as written with no model."""
    choice = ClapChoice("Say Alex or Sam.", clap="Sam", silence="Alex")
    for code in ("en", "ko"):
        assert load_language(code).clap_wording("Who would like to begin? Say Alex or Sam.", choice) == \
            "Who would like to begin? Clap twice for Sam, or stay quiet for Alex.", code
    assert load_language("en").clap_wording("Say Alex or Sam.") == "Say Alex or Sam."  # no choice given: as written


def test_a_choice_asked_again_after_silence_goes_on_the_sentence_in_lower_case_in_every_pack():
    """Was "Just checking: Clap twice for now, ...": a capital in the middle of the sentence."""
    choice = ClapChoice("now? Say yes, or next.", clap="now", silence="later")
    for code in ("en", "ko"):
        assert load_language(code).clap_wording("Just checking: now? Say yes, or next.", choice) == \
            "Just checking: clap twice for now, or stay quiet for later.", code
    # a wording that opens with an option's name keeps the name as written
    pack = pack_from_dict({"commands": {"yes": ["yes"]}, "clap_choice": "{clap}: clap twice. {silence}: quiet."},
                          "xx.toml")
    assert pack.clap_wording("Just checking: now? Say yes, or next.", ClapChoice("now? Say yes, or next.", "Sam",
                                                                                 "Alex")) == \
        "Just checking: Sam: clap twice. Alex: quiet."


@pytest.mark.parametrize("wording", [3, "Clap twice for {clap}.", "Clap for {clap}, quiet for {silence} {other}."])
def test_a_bad_clap_choice_names_the_key(wording):
    with pytest.raises(InputError, match=r"clap_choice"):
        pack_from_dict({"commands": {"yes": ["yes"]}, "clap_choice": wording}, "pack.toml")
