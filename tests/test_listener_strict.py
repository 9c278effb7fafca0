"""Commands said on their own during a check-in turn: "next" alone counts, "the next day" inside a story does not."""

from __future__ import annotations

from voicecoach.asr.lang import load_language
from voicecoach.asr.listener import CommandDecoder
from voicecoach.asr.recognizer import Transcript
from voicecoach.commands import Command

STRICT = ("next", "more_time", "stop")


def decode(texts, strict=STRICT, allowed=("pause", *STRICT)):
    pack = load_language("en")
    if allowed is not None:  # the listener listens for these only (the router's Hearing)
        pack = pack.restricted(frozenset(Command(a) for a in allowed))
    decoder = CommandDecoder(pack, partial_stable_ms=0)
    out = []
    t = 0.0
    for text, final in texts:
        t += 0.03
        words = text.split()
        unknown = words.count("[unk]")
        clean = " ".join(w for w in words if w != "[unk]")  # as the recognizer reports it
        out += decoder.update([Transcript(clean, t, final, unknown if final else 0)], t,
                              frozenset(Command(s) for s in strict))
    return [c.reply.value for c in out]


def test_a_strict_command_said_alone_counts_from_the_final_result():
    assert decode([("next", False), ("next", True)]) == ["next"]
    assert decode([("more time", True)]) == ["more_time"]


def test_a_strict_command_inside_other_words_does_not_count():
    assert decode([("[unk] next [unk]", False), ("[unk] next [unk]", True)]) == []
    assert decode([("stop [unk]", True)]) == []


def test_anytime_commands_still_count_from_partials():
    assert decode([("pause", False)]) == ["pause"]


def test_without_strict_commands_the_usual_rules_apply():
    assert decode([("[unk] next", True)], strict=(), allowed=None) == ["next"]


def test_no_word_of_a_transcript_reaches_the_log_even_at_debug(caplog):
    """A Vosk model whose graph takes no grammar (a big model with a static HCLG.fst, given as ``[commands]
    model``) hears every word of the talk, not just the commands. Two debug lines printed the transcript itself
    ("ambiguous transcript 'okay we never ...'", "final '...' revises the partial command"): words of the talk in
    the log (``--debug``, the kiosk's journalctl). They name the commands now, never the words."""
    import logging

    caplog.set_level(logging.DEBUG)
    private = "okay my sister said you never pause"  # "okay" and "pause": a tie, so the ambiguous line
    decode([(private, False), (private, True)], strict=(), allowed=None)
    decode([("pause", False), ("my sister said stop", True)], strict=(), allowed=None)  # the "revises" line
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ambiguous" in logged and "revises" in logged, logged  # both lines were reached
    assert "sister" not in logged and "never" not in logged, logged


def test_a_partial_that_stays_the_same_is_judged_once(caplog):
    """A partial naming two commands ("okay ... pause") stays the same for as long as the speaker goes on; it was
    judged again at every 30 ms frame, each time with an "ambiguous transcript" debug line: 33 lines a second in
    ``--debug`` or the kiosk's journal (measured with the Korean model on a spoken Korean talk)."""
    import logging

    caplog.set_level(logging.DEBUG)
    decode([("okay we pause", False)] * 30, strict=(), allowed=None)
    assert sum("ambiguous" in r.getMessage() for r in caplog.records) == 1
