"""Per-stage CPU of the real ``voicecoach`` command: its CLI run with a thread-CPU timer around each stage.

    python -m voicecoach_dev.stage_cpu OUT.json -- --config FILE listen --no-ui

Each stage in :data:`STAGES` (the loop's step and tick, each detector, the segmentation model's looks, the
microphone's callback and queue) is wrapped once, before the command starts, by a function that adds the calling
thread's CPU time (``time.thread_time_ns``) and one call to the stage's count. When the command ends (a signal, the
end of input) the counts are written to ``OUT.json``: ``{"Class.method": {"calls": N, "cpu_s": S}, ...}`` with the
process's CPU and wall time since the wrapper started. Stages nest (``Pipeline.process`` holds the detectors), so
their times are not to be added up. The timers cost about a microsecond a call (two clock reads), a few tenths of a
percent of a core in all: compare stages with each other, and the whole process without this wrapper
(``scripts/measure_loop.py`` measures both).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

# (module, class, method): the live loop's path, outside in
STAGES = [
    ("voicecoach.runtime", "Session", "step"),
    ("voicecoach.runtime", "Session", "tick"),
    ("voicecoach.runtime", "Session", "muted"),
    ("voicecoach.detect.pipeline", "Pipeline", "process"),
    ("voicecoach.detect.dc", "DcBlocker", "process"),
    ("voicecoach.detect.features", "FeatureExtractor", "process"),
    ("voicecoach.detect.speakers", "SpeakerTracker", "process"),
    ("voicecoach.detect.raised", "RaisedVoiceDetector", "process"),
    ("voicecoach.detect.stream_detector", "StreamGate", "process"),
    ("voicecoach.detect.stream_detector", "StreamInterruptionDetector", "process"),
    ("voicecoach.detect.overlap", "OverlapInterruptionDetector", "process"),
    ("voicecoach.detect.overlap", "OverlapInterruptionDetector", "_check"),
    ("voicecoach.detect.segmentation", "SegmentationModel", "probabilities"),
    ("voicecoach.detect.segmentation", "SegmentationModel", "_bilstm"),
    ("voicecoach.detect.escalation", "EscalationPolicy", "process"),
    ("voicecoach.asr.listener", "CommandListener", "process"),
    ("voicecoach.audio.device", "MicSource", "_callback"),
    ("voicecoach.audio.device", "MicSource", "_next_block"),
    ("voicecoach.audio.frames", "Framer", "push"),
    ("voicecoach.coach", "Coach", "state"),          # asked by the terminal view's redraw, every frame
    ("voicecoach.ui", "LiveView", "draw"),
]


def _timed(method: Callable[..., Any], count: list[int]) -> Callable[..., Any]:
    """``method`` adding its calls and its thread's CPU nanoseconds to ``count``."""
    clock = time.thread_time_ns

    @functools.wraps(method)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = clock()
        try:
            return method(*args, **kwargs)
        finally:
            count[0] += 1
            count[1] += clock() - began

    return timed


def install(stages: list[tuple[str, str, str]] = STAGES) -> dict[str, list[int]]:
    """Wrap every stage's method; the live counts, ``{"Class.method": [calls, cpu_ns]}``."""
    counts: dict[str, list[int]] = {}
    for module, cls_name, name in stages:
        cls = getattr(importlib.import_module(module), cls_name)
        counts[f"{cls_name}.{name}"] = count = [0, 0]
        setattr(cls, name, _timed(getattr(cls, name), count))
    return counts


def report(counts: dict[str, list[int]], wall0: float, cpu0: float) -> dict[str, Any]:
    """The counts as JSON-ready figures, with the process's CPU and wall seconds since ``wall0`` / ``cpu0``."""
    out: dict[str, Any] = {name: {"calls": c[0], "cpu_s": round(c[1] / 1e9, 4)} for name, c in counts.items() if c[0]}
    out["process"] = {"wall_s": round(time.monotonic() - wall0, 2), "cpu_s": round(time.process_time() - cpu0, 3)}
    return out


def main(argv: list[str]) -> int:
    """``OUT.json -- voicecoach's arguments``: run the command with the timers, write the counts when it ends."""
    if len(argv) < 2 or argv[1] != "--":
        print("usage: python -m voicecoach_dev.stage_cpu OUT.json -- VOICECOACH_ARGS...", file=sys.stderr)
        return 2
    out = Path(argv[0])
    counts = install()
    wall0, cpu0 = time.monotonic(), time.process_time()
    atexit.register(lambda: out.write_text(json.dumps(report(counts, wall0, cpu0), indent=1)))
    from voicecoach.cli import main as voicecoach

    sys.argv = ["voicecoach", *argv[2:]]
    return voicecoach()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
