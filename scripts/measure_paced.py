"""The same detection work fed at once and in real time: how much dearer the live loop's stages are after each wait.

The detection pipeline (the configured default, ``gated``) is fed the first ``--seconds`` of a WAV in the
microphone's blocks (``--block-ms``, 90 ms as ``audio/device.py`` opens it), cut into frames by the same
:class:`~voicecoach.audio.frames.Framer`, once as fast as it goes and once paced to real time (a sleep until each
block's audio would have arrived, as the loop waits on the microphone). Each stage's calls and CPU time (this
thread's) are counted by ``voicecoach_dev/stage_cpu.py``'s timers. The frames, the looks and the events are the
same in both runs; only the waits differ, so the difference is what a wait costs the work after it (caches and
branch predictors refilled, a core's clock coming back up), not more work. The median time of a frame by its place
in the block (first, second, third) shows how long that lasts.

    .venv/bin/python scripts/measure_paced.py WAV [--seconds 60] [--block-ms 90] [--order fast,paced]

Pin it to one core as ``measure_loop.py`` pins the loop (``taskset -c 0``). The WAV may be the talk
``measure_loop.py`` plays (its ``conversation_wav``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from voicecoach_dev import stage_cpu

REPO = Path(__file__).resolve().parent.parent
# the pipeline's stages (the loop's own are not run here)
STAGES = [stage for stage in stage_cpu.STAGES if stage[0].startswith("voicecoach.detect.")]


def run(wav: Path, seconds: float, block_ms: int, paced: bool) -> dict[str, Any]:
    """One pass; the stages' calls and CPU, the pass's CPU, wall time and looks."""
    from voicecoach import app
    from voicecoach.audio.frames import SAMPLE_RATE, Framer
    from voicecoach.audio.wav import read_wav
    from voicecoach.config import Config

    config = Config()
    pipeline = app.make_pipeline(config, use_profile=False)
    audio = read_wav(wav)[: int(seconds * SAMPLE_RATE)]
    framer = Framer(config.audio.frame_ms, 0)
    block = SAMPLE_RATE * block_ms // 1000
    for count in COUNTS.values():
        count[:] = [0, 0]
    events = 0
    by_place: list[list[int]] = [[] for _ in range(block // framer.frame_len)]   # ns a frame, by place in its block
    clock = time.thread_time_ns
    wall0, cpu0 = time.monotonic(), time.thread_time()
    for start in range(0, len(audio) - block + 1, block):
        if paced:
            delay = wall0 + (start + block) / SAMPLE_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for place, frame in enumerate(framer.push(audio[start:start + block].copy())):
            began = clock()
            events += len(pipeline.process(frame))
            by_place[place].append(clock() - began)
    cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
    looks = getattr(getattr(pipeline, "overlap", None), "checks", 0)
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 1), "looks": looks, "events": events,
            "stages": {name: (c[0], c[1] / 1e9) for name, c in COUNTS.items() if c[0]},
            "median_us_by_place": [round(statistics.median(ns) / 1000, 1) for ns in by_place if ns]}


COUNTS: dict[str, list[int]] = {}


def main() -> int:
    """Run the passes in the order asked and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wav", type=Path)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--block-ms", type=int, default=90, help="the microphone's block (audio/device.py BLOCK_MS)")
    ap.add_argument("--order", default="fast,paced", help="passes to run, in order (fast, paced; repeats allowed)")
    args = ap.parse_args()
    COUNTS.update(stage_cpu.install(STAGES))
    passes = [(kind, run(args.wav, args.seconds, args.block_ms, kind == "paced")) for kind in args.order.split(",")]
    print(f"Measured with: .venv/bin/python scripts/measure_paced.py {args.wav.name} --seconds {args.seconds:g} "
          f"--block-ms {args.block_ms} --order {args.order}\n")
    print("| stage, us a call (calls) | " + " | ".join(kind for kind, _ in passes) + " |")
    print("|---|" + "---:|" * len(passes))
    print("| the whole pass, CPU s (looks, events) | "
          + " | ".join(f"{r['cpu_s']} ({r['looks']}, {r['events']})" for _, r in passes) + " |")
    print("| a frame's Pipeline.process by its place in the block, median us | "
          + " | ".join(" / ".join(str(v) for v in r["median_us_by_place"]) for _, r in passes) + " |")
    for name in passes[0][1]["stages"]:
        calls = passes[0][1]["stages"][name][0]
        cells = [f"{1e6 * r['stages'][name][1] / r['stages'][name][0]:.1f}" for _, r in passes]
        print(f"| {name} ({calls}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
