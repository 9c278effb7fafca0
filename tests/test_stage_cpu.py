"""voicecoach_dev.stage_cpu: the per-stage CPU timers that scripts/measure_loop.py --stages runs the command under."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

from voicecoach_dev import stage_cpu

REPO = Path(__file__).resolve().parent.parent


class Busy:
    """A stage that keeps its thread busy for a while."""

    def work(self, seconds: float) -> str:
        """Spin for ``seconds`` of this thread's CPU time."""
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass
        return "done"


def test_a_wrapped_stage_counts_its_calls_and_cpu_and_still_returns(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "Busy", type("Busy", (Busy,), {}))   # the wrapper is not left behind
    counts = stage_cpu.install([(__name__, "Busy", "work")])
    busy = sys.modules[__name__].Busy()
    assert [busy.work(0.02), busy.work(0.02)] == ["done", "done"]
    calls, cpu_ns = counts["Busy.work"]
    assert calls == 2 and 0.04 <= cpu_ns / 1e9 < 0.5
    figures = stage_cpu.report(counts, time.monotonic(), time.process_time())
    assert figures["Busy.work"]["calls"] == 2 and "wall_s" in figures["process"]


def test_every_stage_named_exists():
    """A renamed method would leave measure_loop.py --stages failing at start-up, after minutes of set-up."""
    for module, cls, name in stage_cpu.STAGES:
        assert callable(getattr(getattr(importlib.import_module(module), cls), name)), (module, cls, name)


def test_the_command_runs_under_the_timers_and_writes_them(tmp_path):
    out = tmp_path / "stages.json"
    done = subprocess.run([sys.executable, "-m", "voicecoach_dev.stage_cpu", str(out), "--", "--version"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "process" in json.loads(out.read_text())


def test_without_the_separator_it_says_how_to_call_it(tmp_path):
    assert stage_cpu.main([str(tmp_path / "x.json")]) == 2
