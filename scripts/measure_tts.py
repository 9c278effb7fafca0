#!/usr/bin/env python3
"""Measure the Speaker: synthesis time per prompt (cold engine, warm engine, cache hit, espeak-ng fallback) and
the latency from ``say()`` to the first audible sample on a real (virtual PulseAudio) output device.

Usage: .venv/bin/python scripts/measure_tts.py [--repeats N]

The latency is measured by recording the speaker's monitor in this process: each input block is stamped with the
monotonic clock when its callback runs, so the first loud sample's time is known to about one input block (20 ms).
Needs pulseaudio + pulseaudio-utils (the test suite's private daemon is started and stopped here): run
``scripts/setup --test`` first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

PROMPTS = [
    "Shall we take the twenty minute pause we agreed on? Say okay, or not now.",
    "Okay. Let's pause for twenty minutes. Take a slow breath in, and a slow breath out.",
    "Two minutes left in the pause.",
    "Welcome back. Would you like a short check-in?",
    "Not now is fine. I will stay quiet for a while.",
]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:6.1f} ms"


def synthesis_times(repeats: int) -> None:
    from voicecoach.audio.playback import NullSink
    from voicecoach.speech.settings import SpeechSettings
    from voicecoach.speech.speaker import Speaker

    print("Synthesis time per prompt (16 kHz output, prompts of 30-85 characters, 1.9-5.2 s of speech)")
    with Speaker(SpeechSettings(engines=("pyttsx3",)), sink=NullSink()) as speaker:
        t = time.monotonic()
        cold = speaker.synthesize(PROMPTS[0], sample_rate=16000)
        cold_s = time.monotonic() - t
        print(f"  pyttsx3 cold (engine start + first prompt): {ms(cold_s)}  [{cold.engine}, "
              f"{cold.duration_s:.2f} s of speech]")
        warm, hit = [], []
        for i in range(repeats):
            for text in PROMPTS[1:]:
                r = speaker.synthesize(f"{text} ({i})", sample_rate=16000)
                warm.append((r.elapsed_s, r.duration_s))
                t = time.monotonic()
                speaker.synthesize(f"{text} ({i})", sample_rate=16000)
                hit.append(time.monotonic() - t)
        el = [e for e, _ in warm]
        rtf = statistics.median(e / d for e, d in warm)
        print(f"  pyttsx3 warm, new text: median {ms(statistics.median(el))}, max {ms(max(el))} "
              f"(n={len(el)}; {1 / rtf:.0f}x faster than real time)")
        print(f"  cache hit:              median {ms(statistics.median(hit))}, max {ms(max(hit))}")
    with Speaker(SpeechSettings(engines=("espeak-ng",)), sink=NullSink()) as speaker:
        el = [speaker.synthesize(f"{text} ({i})", sample_rate=16000).elapsed_s
              for i in range(repeats) for text in PROMPTS]
        print(f"  espeak-ng command (the default on Linux): median {ms(statistics.median(el))}, max {ms(max(el))} "
              f"(n={len(el)})")


class MonitorRecorder:
    """Record the speaker monitor in this process, stamping every block with the monotonic clock."""

    def __init__(self) -> None:
        from voicecoach.audio.device import find_device, sounddevice

        sd = sounddevice()
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.lock = threading.Lock()
        dev = find_device("speaker_monitor", "input")
        self.stream = sd.InputStream(device=dev, samplerate=16000, channels=1, dtype="int16", blocksize=320,
                                     latency="low", callback=self._callback)
        self.stream.start()

    def _callback(self, indata, frames, time_info, status) -> None:
        with self.lock:
            self.blocks.append((time.monotonic(), indata[:, 0].copy()))

    def first_loud_after(self, t0: float, threshold: int = 300) -> float | None:
        """Monotonic time of the first loud sample recorded after t0 (None if none)."""
        with self.lock:
            blocks = list(self.blocks)
        for stamp, block in blocks:
            if stamp < t0:
                continue
            loud = np.flatnonzero(np.abs(block) > threshold)
            if len(loud):
                return stamp - (len(block) - loud[0]) / 16000
        return None

    def last_loud_after(self, t0: float, threshold: int = 300) -> float | None:
        """Monotonic time of the last loud sample recorded after t0 (None if none)."""
        with self.lock:
            blocks = list(self.blocks)
        last = None
        for stamp, block in blocks:
            loud = np.flatnonzero(np.abs(block) > threshold)
            if stamp >= t0 and len(loud):
                last = stamp - (len(block) - loud[-1]) / 16000
        return last

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


def latency_on_device(repeats: int) -> None:
    import os

    from voicecoach_dev.audio_server import VirtualAudio

    with VirtualAudio() as server:
        os.environ.update(server.env)  # before PortAudio initialises
        from voicecoach.speech.settings import SpeechSettings
        from voicecoach.speech.speaker import Speaker

        recorder = MonitorRecorder()
        try:
            with Speaker(SpeechSettings(), output=None) as speaker:
                sink = speaker.sink
                print(f"\nOutput: {type(sink).__name__} at {sink.sample_rate} Hz, reported latency "
                      f"{ms(getattr(sink, 'latency_s', 0.0))}")
                for label, fresh in (("new prompt (synthesised)", True), ("cached prompt", False)):
                    handed, audible, margin = [], [], []
                    for i in range(repeats):
                        text = f"{PROMPTS[i % len(PROMPTS)]}" + (f" Round {i}." if fresh else "")
                        if not fresh:
                            speaker.render(text, sample_rate=sink.sample_rate)
                        time.sleep(0.3)
                        t0 = time.monotonic()
                        speaker.say(text)
                        while not speaker.is_speaking():
                            time.sleep(0.0005)
                        handed.append(time.monotonic() - t0)
                        speaker.wait()
                        end = speaker.last_end()
                        time.sleep(0.2)
                        first, last = recorder.first_loud_after(t0), recorder.last_loud_after(t0)
                        if first is not None and last is not None:
                            audible.append(first - t0)
                            margin.append(end - last)
                    print(f"  {label}: say() -> first sample handed to the output: median "
                          f"{ms(statistics.median(handed))}; say() -> first audible sample: median "
                          f"{ms(statistics.median(audible))}, max {ms(max(audible))} (n={len(audible)}); is_speaking() "
                          f"ends after the last audible sample by: median {ms(statistics.median(margin))}, "
                          f"min {ms(min(margin))}")
        finally:
            recorder.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds per measurement")
    args = parser.parse_args()
    synthesis_times(args.repeats)
    latency_on_device(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
