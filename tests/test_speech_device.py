"""The Speaker on a real (virtual PulseAudio) sound device: what it plays is what the speaker monitor records."""

from __future__ import annotations

import time

import numpy as np

from voicecoach.audio.playback import DeviceSink, NullSink
from voicecoach.speech.settings import SpeechSettings
from voicecoach.speech.speaker import Speaker
from voicecoach_dev.signal_match import BLOCK, blocks_found, blocks_with_sound, lag

PROMPT = "Shall we take the twenty minute pause we agreed on? Say okay, or not now."


def test_prompt_reaches_the_speaker_whole_and_is_speaking_covers_it(pulse_in_process):
    recording = pulse_in_process.record_speaker()
    time.sleep(0.3)  # let parecord connect
    with Speaker(SpeechSettings(), output=None) as speaker:
        assert isinstance(speaker.sink, DeviceSink)
        audio, rate = speaker.render(PROMPT, sample_rate=speaker.sink.sample_rate)
        duration = len(audio) / rate
        speaker.say(PROMPT)
        while not speaker.is_speaking():
            time.sleep(0.001)
        on = time.monotonic()
        while speaker.is_speaking():
            time.sleep(0.001)
        off = time.monotonic()
    time.sleep(0.3)
    recorded = recording.stop()
    assert rate == 16000
    # the virtual path is bit-exact: every 100 ms of the prompt is there, but a recorder or player starved by a
    # loaded machine may break a block or two (a whole-prompt correlation fell to 0.51 in CI on one such gap)
    found, blocks = blocks_found(recorded, audio, min_peak=1000), blocks_with_sound(audio, min_peak=1000)
    assert blocks > 30 and found >= blocks - 2, (found, blocks)
    end = int(np.flatnonzero(np.abs(audio) > 300)[-1]) + 1  # the last 100 ms of sound: closing must not drop it
    assert lag(recorded, audio[end - BLOCK:end])[1] > 0.99
    # speaking from the first sample handed over until the device has played the last one
    assert duration <= off - on < duration + 0.3, (off - on, duration)


def test_stop_on_the_device_silences_it_quickly(pulse_in_process):
    recording = pulse_in_process.record_speaker()
    time.sleep(0.3)
    with Speaker(SpeechSettings(), output=None) as speaker:
        audio, _ = speaker.render(PROMPT, sample_rate=speaker.sink.sample_rate)
        speaker.say(PROMPT)
        while not speaker.is_speaking():
            time.sleep(0.001)
        time.sleep(1.0)
        speaker.stop()
        stopped = time.monotonic()
        while speaker.is_speaking():
            time.sleep(0.001)
        silent_after = time.monotonic() - stopped
        device_latency_s = speaker.sink.latency_s
    time.sleep(0.3)
    recorded = recording.stop()
    loud = np.flatnonzero(np.abs(recorded) > 300)
    heard_s = (loud[-1] - loud[0]) / 16000 if len(loud) else 0.0
    assert silent_after < device_latency_s + 0.2, (silent_after, device_latency_s)  # what the device holds
    assert 0.8 < heard_s < 1.5 < len(audio) / 16000  # about the second that played, not the whole prompt


def test_unknown_output_device_degrades_to_text(pulse_in_process):
    shown: list[str] = []
    with Speaker(SpeechSettings(), output="no-such-device", on_text=shown.append) as speaker:
        assert isinstance(speaker.sink, NullSink)
        speaker.say("Shall we take a pause?")
        assert speaker.wait(5)
    assert shown == ["Shall we take a pause?"]


def test_a_lost_speaker_is_reopened_for_later_prompts(pulse_in_process):
    class Unplugged(NullSink):
        """Fake for a speaker pulled out mid-prompt (the virtual speaker cannot be unplugged): writes fail."""

        audible = True

        def write(self, block):
            raise OSError("device unplugged")

    shown: list[str] = []
    with Speaker(SpeechSettings(), output=None, on_text=shown.append, reopen_s=0.0) as speaker:
        assert isinstance(speaker.sink, DeviceSink)
        speaker.sink.close()
        speaker.sink = Unplugged()
        speaker.say("This one is lost.")
        assert speaker.wait(5)
        assert shown == ["This one is lost."]
        speaker.say("This one is heard again.")
        assert speaker.wait(10)
        assert isinstance(speaker.sink, DeviceSink)
    assert shown == ["This one is lost."]
