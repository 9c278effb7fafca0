"""The speaker's output stream stops when idle (no wake-ups to play silence) and starts again for the next sound."""

from __future__ import annotations

import time

import numpy as np

from voicecoach.audio.playback import DeviceSink

RATE = 16000


def tone(seconds: float, hz: float) -> np.ndarray:
    """A pure tone at a tenth of full scale."""
    return (3000 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.int16)


def play(sink: DeviceSink, audio: np.ndarray) -> None:
    """Write in 20 ms blocks, as the Speaker does, and wait until it has been heard."""
    for i in range(0, len(audio), 320):
        sink.write(audio[i:i + 320])
    deadline = time.monotonic() + 5
    while sink.pending_s() > 0 and time.monotonic() < deadline:
        time.sleep(0.005)


def loud_runs(recorded: np.ndarray) -> list[tuple[float, float]]:
    """(start, length) in seconds of each stretch louder than a third of the tones, at 10 ms resolution."""
    env = np.abs(recorded[: len(recorded) // 160 * 160]).reshape(-1, 160).max(1) > 1000
    edges = np.flatnonzero(np.diff(np.r_[0, env.astype(int), 0]))
    return [(a / 100, (b - a) / 100) for a, b in zip(edges[::2], edges[1::2])]


def test_an_idle_output_stream_stops_and_the_next_sound_is_heard_whole(pulse_in_process):
    recording = pulse_in_process.record_speaker()
    time.sleep(0.3)  # let parecord connect
    sink = DeviceSink(None, idle_stop_s=0.2)
    try:
        play(sink, tone(0.5, 440))
        time.sleep(0.6)   # idle for longer than idle_stop_s plus the device latency
        seen = sink.callbacks
        time.sleep(0.5)
        idle_callbacks = sink.callbacks - seen
        play(sink, tone(0.5, 660))
        restarts = sink.restarts
    finally:
        sink.close()
    time.sleep(0.3)
    runs = loud_runs(recording.stop())
    assert idle_callbacks == 0   # a running stream would call back every 20 ms (25 times)
    assert restarts == 1
    # both tones whole (bit-exact virtual path; 10 ms resolution), the second after the pause
    assert [round(length, 2) for _, length in runs] == [0.5, 0.5], runs
    assert runs[1][0] - runs[0][0] > 1.0


def test_a_writer_late_after_the_first_block_still_gets_the_sound_heard_whole(pulse_in_process):
    """A loaded machine can hold the writer back right after a sound's first 20 ms block (at the stream's restart,
    1 run in 7 with a busy loop beside the test): that block alone reached the device, which then played silence
    until the writer came back. The start of a sound now waits for a full buffer, or for the writer's
    ``pending_s`` (all of it handed over), so the sound is heard whole, both after an idle stop and on a running
    stream."""
    recording = pulse_in_process.record_speaker()
    sink = DeviceSink(None, idle_stop_s=0.2)
    try:
        played = []
        for running in (True, False):
            if not running:
                time.sleep(0.6)   # the stream stops while idle
            restarts = sink.restarts
            audio = tone(0.5, 440 if running else 660)
            sink.write(audio[:320])
            time.sleep(0.15)   # the writer held back: longer than the device's buffer
            play(sink, audio[320:])
            played.append((running, sink.restarts - restarts))
    finally:
        sink.close()
    time.sleep(0.3)
    runs = loud_runs(recording.stop())
    assert played == [(True, 0), (False, 1)], played   # the first on the running stream, the second restarted it
    assert [round(length, 2) for _, length in runs] == [0.5, 0.5], runs
