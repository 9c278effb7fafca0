"""The Speaker: queued in order, never blocking the caller, stop mid-prompt, and exact 'is speaking' timing.

These run real synthesis into a WAV-file sink paced in real time (as a device would be).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from voicecoach.audio.playback import NullSink, WavFileSink
from voicecoach.audio.wav import read_wav
from voicecoach.speech import engines
from voicecoach.speech.settings import SpeechSettings
from voicecoach.speech.speaker import Speaker

LONG = ("When you are ready, let us both take a slow breath in, and a slow breath out, and then we can come back "
        "to the talk in twenty minutes, calmer and kinder to each other.")


def wait_until(predicate, timeout_s: float = 5.0, step_s: float = 0.002) -> float:
    """Poll until predicate() is true; return the time.monotonic() when it was seen true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step_s)
    raise AssertionError("condition not reached in time")


def test_say_returns_at_once_and_prompts_play_in_order(tmp_path: Path):
    path = tmp_path / "out.wav"
    texts = ["First.", "Second prompt.", "And the third one."]
    sink = WavFileSink(path, 16000, realtime=False)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        expected = [speaker.render(t, sample_rate=16000)[0] for t in texts]  # cached: say() reuses them
        start = time.monotonic()
        for t in texts:
            speaker.say(t)
        assert time.monotonic() - start < 0.05
        assert speaker.busy()
        assert speaker.wait(10)
        assert not speaker.busy() and not speaker.is_speaking()
        assert speaker.cache_info()["hits"] == 3
    assert np.array_equal(read_wav(path), np.concatenate(expected))


def test_is_speaking_covers_exactly_the_prompt(tmp_path: Path):
    sink = WavFileSink(tmp_path / "out.wav", 16000, realtime=True)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        audio, rate = speaker.render("Let us take the pause we agreed on.", sample_rate=16000)
        duration = len(audio) / rate
        said = time.monotonic()
        speaker.say("Let us take the pause we agreed on.")
        on = wait_until(speaker.is_speaking)
        off = wait_until(lambda: not speaker.is_speaking(), timeout_s=duration + 2)
        last_end = speaker.last_end()
        speaker.wait(2)
    assert on - said < 0.1  # a cached prompt starts at once
    assert abs((off - on) - duration) < 0.1
    assert abs(last_end - off) < 0.02


def test_stop_cuts_the_prompt_and_drops_the_queue(tmp_path: Path):
    path = tmp_path / "out.wav"
    sink = WavFileSink(path, 16000, realtime=True)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        full = len(speaker.render(LONG, sample_rate=16000)[0])
        speaker.say(LONG)
        speaker.say("This must never be heard.")
        wait_until(speaker.is_speaking)
        time.sleep(0.5)
        stopped = time.monotonic()
        speaker.stop()
        quiet = wait_until(lambda: not speaker.busy(), timeout_s=2)
        assert not speaker.is_speaking()
    assert quiet - stopped < 0.2
    written = len(read_wav(path))
    assert 0.4 * 16000 < written < 0.5 * full  # about 0.5 s plus the sink's lead, far from the whole prompt


def test_speaking_after_stop_works(tmp_path: Path):
    sink = WavFileSink(tmp_path / "out.wav", 16000, realtime=False)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        speaker.say(LONG)
        speaker.stop()
        speaker.say("Welcome back.")
        assert speaker.wait(5)
        n = len(speaker.render("Welcome back.", sample_rate=16000)[0])
    assert sink.samples_written >= n


def test_without_an_audible_output_the_text_is_reported():
    shown: list[str] = []
    with Speaker(SpeechSettings(), sink=NullSink(), on_text=shown.append) as speaker:
        speaker.say("Shall we take a pause?")
        speaker.say("   ")  # nothing to say: ignored
        assert speaker.wait(5)
        assert not speaker.is_speaking()
    assert shown == ["Shall we take a pause?"]


def test_a_failing_output_degrades_to_text():
    class BrokenSink(NullSink):
        """An output that fails on the first write, like a device unplugged mid-prompt."""

        audible = True

        def write(self, block):
            raise OSError("device unplugged")

    shown: list[str] = []
    with Speaker(SpeechSettings(), sink=BrokenSink(), on_text=shown.append) as speaker:
        speaker.say("First.")
        speaker.say("Second.")
        assert speaker.wait(5)
        assert isinstance(speaker.sink, NullSink) and not speaker.sink.audible
    assert shown == ["First.", "Second."]


def test_hung_synthesis_never_blocks_the_caller(tmp_path: Path):
    release = threading.Event()

    class Hanging:
        """Fake engine whose runAndWait never returns (a real hang cannot be produced on demand)."""

        driver_name = "fake"

        def connect(self, *a): pass
        def getProperty(self, name): return [] if name == "voices" else ""
        def setProperty(self, *a): pass
        def save_to_file(self, *a): pass
        def runAndWait(self): release.wait()

    sink = WavFileSink(tmp_path / "out.wav", 16000, realtime=False)
    try:
        settings = SpeechSettings(engines=("pyttsx3", "espeak-ng"), synth_timeout_s=0.3)
        with Speaker(settings, sink=sink, engine_factory=Hanging) as speaker:
            start = time.monotonic()
            speaker.say("Are you both okay to go on?")
            assert time.monotonic() - start < 0.05
            assert speaker.wait(5)
    finally:
        release.set()
        engines.wait_for_abandoned(10.0)  # the next test's pyttsx3 would wait for it
    assert sink.samples_written > 16000 * 0.8  # spoken by the espeak-ng fallback


def test_close_finishes_queued_prompts(tmp_path: Path):
    sink = WavFileSink(tmp_path / "out.wav", 16000, realtime=False)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        speaker.say("Goodbye for now.")
    assert sink.samples_written > 16000 * 0.5
    assert speaker.last_end() > 0


def test_prepared_prompts_start_from_the_cache(tmp_path: Path):
    sink = WavFileSink(tmp_path / "out.wav", 16000, realtime=False)
    with Speaker(SpeechSettings(), sink=sink) as speaker:
        speaker.prepare(["Shall we take a pause?", "Welcome back."])
        speaker.say("Welcome back.")
        assert speaker.wait(5)
        assert speaker.cache_info() == {"hits": 1, "misses": 2, "size": 2}


# --- what really happened (issue 17 item 3) and long prompts (issue 19 item 4) -------------------------------------

def test_each_prompt_reports_what_really_happened(tmp_path: Path):
    from voicecoach.speech.results import Delivery

    with Speaker(SpeechSettings(), sink=WavFileSink(tmp_path / "out.wav", 16000, realtime=False)) as speaker:
        assert speaker.say("Shall we take a pause?").wait(10).delivery is Delivery.SPOKEN
    with Speaker(SpeechSettings(), sink=NullSink()) as speaker:
        result = speaker.say("Nobody hears this.").wait(10)
        assert result.delivery is Delivery.NOT_HEARD and not result.spoken
    with Speaker(SpeechSettings(engines=()), sink=WavFileSink(tmp_path / "t.wav", 16000, realtime=False)) as speaker:
        result = speaker.say("Only a tone.").wait(10)
        assert result.delivery is Delivery.TONE and "speech engine" in result.reason
    with Speaker(SpeechSettings(), sink=WavFileSink(tmp_path / "s.wav", 16000, realtime=True)) as speaker:
        first, second = speaker.say(LONG), speaker.say("Dropped.")
        wait_until(speaker.is_speaking)
        speaker.stop()
        assert first.wait(5).delivery is Delivery.STOPPED and second.wait(5).delivery is Delivery.STOPPED


def test_a_huge_prompt_is_cut_and_spoken_in_pieces_never_crashing_or_running_for_minutes(tmp_path: Path, caplog):
    from voicecoach.speech.text import MAX_PROMPT_CHARS

    consent = "Is now a good time for the nightly check-in? Say yes, or not now. " * 500  # 33 kB
    path = tmp_path / "out.wav"
    started = time.monotonic()
    with Speaker(SpeechSettings(), sink=WavFileSink(path, 16000, realtime=False)) as speaker:
        result = speaker.say(consent).wait(120)
    elapsed = time.monotonic() - started
    assert result is not None and result.spoken
    assert "was cut" in caplog.text
    seconds = len(read_wav(path)) / 16000
    assert 60 < seconds < MAX_PROMPT_CHARS / 10  # about two minutes of speech, not forty
    assert elapsed < 60, elapsed  # 32 kB took 40 s of CPU and never finished


def test_long_text_is_split_at_sentence_ends_into_short_pieces():
    from voicecoach.speech.text import MAX_CHUNK_CHARS, limit_prompt, split_for_speech

    text = " ".join(f"Sentence {k} is here." for k in range(100))
    chunks = split_for_speech(text)
    assert all(len(c) <= MAX_CHUNK_CHARS for c in chunks) and all(c.endswith(".") for c in chunks)
    assert " ".join(chunks) == text
    run_on = "word " * 2000
    assert all(len(c) <= MAX_CHUNK_CHARS for c in split_for_speech(run_on.strip()))
    cut, was_cut = limit_prompt(text * 3)
    assert was_cut and cut.endswith(".") and len(cut) <= 2000
    assert limit_prompt("Short.") == ("Short.", False)


def test_closing_while_prompts_are_rendered_ahead_warns_of_nothing(caplog):
    # the live loop renders the suggestion ahead on a thread; a talk that ends at once closed the speaker under it,
    # and the render failed into the next engine with warnings (8 of 10 one-second `listen --file` runs)
    import logging

    texts = ["Shall we take the twenty minute pause we agreed on?", "Say okay, or not now.", "Welcome back."]
    with caplog.at_level(logging.WARNING):
        for delay_s in (0.0, 0.005, 0.01, 0.02, 0.04):
            speaker = Speaker(SpeechSettings(), sink=NullSink())
            ahead = threading.Thread(target=speaker.prepare, args=(texts,))
            ahead.start()
            time.sleep(delay_s)
            speaker.close()
            ahead.join(10.0)
            assert not ahead.is_alive()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
