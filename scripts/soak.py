"""Soak: hours of audio through the full live loop (Session + run_loop, the microphone's code path) at full speed.

Checks what only a long run shows: memory growth after warm-up, drift of event times against the audio clock,
growth of queues. The audio is the demo's escalating two-voice conversation (real TTS) looped with changing
levels, so detectors, the coach, the speaker and the journal all keep working.

    .venv/bin/python scripts/soak.py --hours 8 [--method features] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


from voicecoach.audio.frames import SAMPLE_RATE, Frame, frames_from_array


def rss_mb() -> float:
    """Resident memory of this process now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LoopedSource:
    """Loop a conversation for ``total_s`` seconds of audio, each pass at a different level (-6 .. +3 dB)."""

    def __init__(self, audio: np.ndarray, total_s: float, frame_ms: int = 30) -> None:
        self.audio = audio
        self.total = int(total_s * SAMPLE_RATE)
        self.frame_ms = frame_ms

    def frames(self):
        """Yield frames stamped continuously across passes."""
        rng = np.random.default_rng(1)
        position = 0
        while position < self.total:
            gain = 10 ** (rng.uniform(-6, 3) / 20)
            passage = np.clip(self.audio * gain, -32768, 32767).astype(np.int16)
            for frame in frames_from_array(passage, self.frame_ms, position):
                if frame.end_sample > self.total:
                    return
                yield frame
            position += len(passage) - len(passage) % (SAMPLE_RATE * self.frame_ms // 1000)

    def close(self) -> None:
        """Nothing to release."""


def main() -> int:
    """Run the soak and print (and optionally save) its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--warmup-min", type=float, default=30.0, help="audio minutes before the memory baseline")
    ap.add_argument("--sample-min", type=float, default=10.0, help="audio minutes between memory samples")
    ap.add_argument("--method", choices=("model", "features"), help="detection.interruption.method (default: config's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vc-soak-"))
    os.environ.setdefault("VOICECOACH_DATA_DIR", str(home / "data"))
    os.environ.setdefault("VOICECOACH_CONFIG_DIR", str(home / "cfg"))
    from voicecoach import app
    from voicecoach.audio.playback import NullSink
    from voicecoach.clock import AudioClock
    from voicecoach.config import Config
    from voicecoach.demo import build_conversation
    from voicecoach.journal.schema import TalkSource
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.speech.speaker import Speaker

    config = Config()
    if args.method:
        d = config.detection
        config = replace(config, detection=replace(d, interruption=replace(d.interruption, method=args.method)))
    speaker = Speaker(config.speech, sink=NullSink())
    audio, _ = build_conversation(speaker.render)
    journal = app.open_journal(config)
    live = Live.build(config, LiveSpec(TalkSource.LISTEN, commands=False, finish_speech_s=0.0), clock=AudioClock(),
                      pipeline=app.make_pipeline(config, use_profile=False), speaker=speaker, journal=journal)
    session = live.session
    frame_s = config.audio.frame_ms / 1000.0
    stats: dict[str, float] = {"frames": 0, "events": 0, "drift_max_s": 0.0, "max_speaker_queue": 0}
    rss: list[tuple[float, float]] = []   # (audio hours, MB) after the warm-up
    warmup_frames = int(args.warmup_min * 60 / frame_s)
    sample_every = int(args.sample_min * 60 / frame_s)
    last_end = [0.0]

    original_step = session.step

    def step(frame: Frame):
        events = original_step(frame)
        for event in events:  # an event's time is the end of the frame that completed it: no drift allowed
            stats["drift_max_s"] = max(stats["drift_max_s"], abs(event.t - frame.end_s))
        stats["events"] += len(events)
        return events

    session.step = step  # type: ignore[method-assign]

    def on_frame(frame: Frame) -> None:
        n = stats["frames"] = stats["frames"] + 1
        if abs(frame.start_s - last_end[0]) > 1e-9:
            stats["drift_max_s"] = max(stats["drift_max_s"], abs(frame.start_s - last_end[0]))
        last_end[0] = frame.end_s
        if n % 1000 == 0:
            stats["max_speaker_queue"] = max(stats["max_speaker_queue"], len(speaker._queue))
        if n == warmup_frames or (n > warmup_frames and n % sample_every == 0):
            rss.append((round(frame.end_s / 3600, 3), round(rss_mb(), 2)))

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    live.on_frame(on_frame)
    live.run(lambda pos: LoopedSource(audio, args.hours * 3600, config.audio.frame_ms), live=False)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    summary = live.close()  # also stops and closes the speaker and the journal
    # growth is the floor rising: the lowest sample of the later half against the lowest of the earlier half. A
    # look's transient arrays (megabytes) can be in or out of the resident set at any one sample; a leak lifts the
    # floor. The swing (highest sample against the first) is reported beside it.
    half = len(rss) // 2
    growth = (min(r for _, r in rss[half:]) - min(r for _, r in rss[:half])) if len(rss) >= 2 else float("nan")
    swing = (max(r for _, r in rss) - rss[0][1]) if rss else float("nan")
    result = {
        "audio_hours": round(last_end[0] / 3600, 3), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "x_realtime": round(last_end[0] / wall, 1), **stats,
        "rss_after_warmup_mb": rss[0][1] if rss else None, "rss_max_mb": max(r for _, r in rss) if rss else None,
        "rss_growth_mb": round(growth, 2), "rss_swing_mb": round(swing, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "raised": summary.raised, "interruptions": summary.interruptions, "suggestions": summary.suggestions,
        "rss_series": rss,
    }
    print(f"soak: {result['audio_hours']} h of audio in {wall / 60:.1f} min ({result['x_realtime']}x real time); "
          f"memory after warm-up {result['rss_after_warmup_mb']} MB, growth {result['rss_growth_mb']} MB; "
          f"event-time drift {result['drift_max_s']} s; max speaker queue {result['max_speaker_queue']}; "
          f"{result['events']} events, {result['suggestions']} suggestions")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
