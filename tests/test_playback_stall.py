"""A speaker stream that stops calling back is opened again, and the sound plays on.

PortAudio 19.6's ALSA stream over PulseAudio now and then never calls back again after an underrun (once in 29
loaded runs of test_faults' sound-server restart: the prompt after the restart stalled, and was printed instead of
heard). The virtual speaker cannot be made to stall on demand, so here the stream is aborted behind the sink's
back: it stops calling back, as the stalled one did, with audio still waiting.
"""

from __future__ import annotations

import time


from voicecoach.audio.playback import REOPEN_AFTER_S, DeviceSink
from voicecoach.speech.settings import SpeechSettings
from voicecoach.speech.speaker import Speaker

from test_playback_idle import loud_runs, tone


def test_a_stream_that_stops_calling_back_mid_sound_is_opened_again_and_the_sound_plays_on(pulse_in_process):
    recording = pulse_in_process.record_speaker()
    time.sleep(0.3)  # let parecord connect
    sink = DeviceSink(None)
    audio = tone(1.5, 440)
    try:
        for i in range(0, 8000, 320):   # half a second handed over: playing
            sink.write(audio[i:i + 320])
        sink._stream.abort()   # the stall: no more callbacks
        stalled = time.monotonic()
        for i in range(8000, len(audio), 320):
            sink.write(audio[i:i + 320])   # before: DeviceError after 2 s ("stopped taking audio")
        while sink.pending_s() > 0 and time.monotonic() - stalled < 5:
            time.sleep(0.005)
        took = time.monotonic() - stalled
        reopens = sink.reopens
    finally:
        sink.close()
    time.sleep(0.3)
    runs = loud_runs(recording.stop())
    assert reopens == 1
    # the tone's last second plays from the new stream; at most what the old stream held (its device buffer and
    # the block it had, about 0.2 s) is lost
    assert sum(length for _, length in runs) >= 1.5 - 0.25, runs
    assert took < 1.0 + REOPEN_AFTER_S + 1.0, took   # the rest of the tone, the wait, the reopen


def test_a_sound_handed_over_whole_is_not_waited_for_for_ever_when_its_stream_stalls(pulse_in_process):
    recording = pulse_in_process.record_speaker()
    time.sleep(0.3)
    sink = DeviceSink(None)
    try:
        sink.write(tone(0.08, 440))   # shorter than the buffer: all of it handed over at once
        sink._stream.abort()
        stalled = time.monotonic()
        while sink.pending_s() > 0 and time.monotonic() - stalled < 5:   # before: pending for ever
            time.sleep(0.005)
        took = time.monotonic() - stalled
        reopens = getattr(sink, "reopens", 0)
    finally:
        sink.close()
    time.sleep(0.3)
    runs = loud_runs(recording.stop())
    assert took < REOPEN_AFTER_S + 1.0 and reopens == 1, (took, reopens)
    assert [round(length, 2) for _, length in runs] == [0.08], runs


def test_a_speaker_whose_output_fails_after_the_last_write_reports_the_prompt_as_text():
    """The sink's stall check in ``pending_s`` can end the output after every block was written (a reopen that
    fails): the prompt is then shown as text, as for a failed write, with no traceback."""
    from voicecoach.audio.playback import NullSink

    class FailsWhileWaiting(NullSink):
        audible = True

        def pending_s(self) -> float:
            raise OSError("the speaker stopped taking audio")

    shown: list[str] = []
    with Speaker(SpeechSettings(), sink=FailsWhileWaiting(), on_text=shown.append) as speaker:
        speaker.say("First.")
        assert speaker.wait(5)
        assert isinstance(speaker.sink, NullSink) and not speaker.sink.audible
    assert shown == ["First."]
