#!/usr/bin/env python3
"""Benchmark ``voicecoach analyze`` on one core: throughput (x real time), microseconds per frame per stage,
and peak memory of a fresh ``voicecoach analyze`` process, on a 10-minute recording.

The recording is mixed from the evaluation corpus (../shared/data or $VOICECOACH_CORPUS) when present, else
generated (harmonic syllables over noise). It is cached in out/bench/.

    scripts/bench [--seconds 600] [--repeat 3] [--method NAME ...] [--config FILE] [--json FILE] [--core N | --no-pin]

Every interruption method is measured side by side unless ``--method`` names some (stream, gated, model, features).
``--config FILE``: the settings of that voicecoach TOML are measured, as ``scripts/evaluate --config`` evaluates
them (without it, the built-in defaults: never your own config file); its own interruption method alone, unless
``--method`` names others (each then with the file's other settings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

# One core means one BLAS thread too: sched_setaffinity below pins only the calling thread, and a BLAS pool
# started by importing numpy would keep running on every core (and be starved when the other core is busy).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402 - after the thread limits above

from voicecoach_dev.evalkit import corpus
from voicecoach_dev.evalkit.corpus import RATE

if TYPE_CHECKING:
    from voicecoach.events import Event

BENCH_VERSION = 2
OUT = corpus.REPO / "out" / "bench"
STAGES = {"features": ("process",), "speakers": ("process", "window_distances"), "raised": ("process",),
          "interruptions": ("process",), "overlap": ("process",), "stream": ("process",), "gate": ("process",),
          "escalation": ("process",)}
METHODS = ("stream", "gated", "model", "features")
TARGET_X_RT = 250.0
TARGET_MB = 80.0


def corpus_recording(seconds: float) -> tuple[np.ndarray, str]:
    """A long calm talk with interruptions and raised stretches over household noise, from the corpus."""
    from voicecoach_dev.evalkit import scenarios
    from voicecoach_dev.evalkit.mixing import Talk

    root = corpus.find_corpus()
    rng = np.random.default_rng(600)
    talk = Talk(rng, scenarios.partners(rng, root), corpus.backchannel_words(root))
    specs, who = scenarios.plan(rng, 60.0, "A", p_bc=0.4, lead_in=True)
    k = 0
    while sum(s.dur_s + 0.6 for s in specs) < seconds * 1.15:  # cut to length below
        more, who = scenarios.plan(rng, 40.0, who, p_interrupt=0.2, p_bc=0.3,
                                   raised={who: (k, 10.0)} if k % 3 == 1 else None)
        specs += more
        k += 1
    talk.play(specs)
    mix, _ = scenarios.finish(rng, root, talk, {"bed": True, "transients_every_s": 45.0})
    return mix[: int(seconds * RATE)], "mixed from the corpus (LibriSpeech-style talk, household noise)"


def synthetic_recording(seconds: float) -> tuple[np.ndarray, str]:
    """Harmonic 'syllables' from two alternating pitches over faint noise (no corpus needed)."""
    rng = np.random.default_rng(600)
    n = int(seconds * RATE)
    out = rng.normal(0.0, 3e-4, n).astype(np.float32)
    t, who = 0.5, 0
    while t < seconds - 1:
        f0 = (120.0, 210.0)[who] * rng.uniform(0.9, 1.1)
        for _ in range(int(rng.integers(5, 20))):
            d = rng.uniform(0.12, 0.35)
            k = int(d * RATE)
            s = int(t * RATE)
            if s + k >= n:
                break
            ph = 2 * np.pi * f0 * np.arange(k) / RATE
            syl = sum(np.sin(h * ph) / h for h in range(1, 6)) * np.hanning(k) * 0.03
            out[s: s + k] += syl.astype(np.float32)
            t += d + rng.uniform(0.05, 0.25)
        t += rng.uniform(0.2, 1.2)
        who = 1 - who
    return out, "generated (corpus absent): harmonic syllables over noise"


def recording(seconds: float) -> tuple[Path, str]:
    """The cached benchmark WAV and a description of it."""
    from voicecoach.audio.wav import write_wav

    OUT.mkdir(parents=True, exist_ok=True)
    try:
        corpus.find_corpus()
        kind = "corpus"
    except corpus.CorpusMissing:
        kind = "synthetic"
    path = OUT / f"bench-{kind}-{int(seconds)}s-v{BENCH_VERSION}.wav"
    desc_path = path.with_suffix(".txt")
    if not (path.exists() and desc_path.exists()):
        audio, desc = corpus_recording(seconds) if kind == "corpus" else synthetic_recording(seconds)
        write_wav(path, audio)
        desc_path.write_text(desc)
    return path, desc_path.read_text()


def pin_to_one_core(core: int = 0) -> str:
    """Run this process (and its children) on one core only."""
    try:
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    except (AttributeError, OSError) as exc:
        return f"not pinned ({exc})"


class _Timed:
    """Wraps a bound method and sums its run time in nanoseconds."""

    def __init__(self, fn: Callable, sink: dict[str, int], key: str) -> None:
        self.fn, self.sink, self.key = fn, sink, key

    def __call__(self, *a, **k):
        t0 = time.perf_counter_ns()
        try:
            return self.fn(*a, **k)
        finally:
            self.sink[self.key] += time.perf_counter_ns() - t0


def instrument(pipeline: Any, sink: dict[str, int]) -> list[str]:
    """Time the stage methods the pipeline has (features, speakers, raised, interruptions, escalation)."""
    found = []
    for name, methods in STAGES.items():
        stage = getattr(pipeline, name, None)
        if stage is None:
            continue
        sink.setdefault(name, 0)
        for m in methods:
            fn = getattr(stage, m, None)
            if fn is None:
                continue
            try:
                setattr(stage, m, _Timed(fn, sink, name))
            except AttributeError:  # a slotted object: fall back to a proxy in the pipeline's attribute
                proxy = type(f"Timed{name}", (), {"__getattr__": lambda self, a, s=stage: getattr(s, a)})()
                proxy.__dict__[m] = _Timed(fn, sink, name)
                setattr(pipeline, name, proxy)
            found.append(name)
    return sorted(set(found), key=list(STAGES).index)


def _config(method: str | None, config_file: str | None = None):
    """The settings of ``config_file`` (default: the built-in defaults), the interruption method overridden when
    asked."""
    from dataclasses import replace

    from voicecoach.config import Config, load_config

    config = load_config(config_file) if config_file else Config()  # never the user's own file
    if method:
        d = config.detection
        config = replace(config, detection=replace(d, interruption=replace(d.interruption, method=method)))
    return config


def measure_in_process(path: Path, repeat: int, method: str | None = None,
                       config_file: str | None = None) -> dict[str, Any]:
    """Best-of-``repeat`` throughput of analyze_file, then one instrumented pass for per-stage costs."""
    from voicecoach.audio.wav import WavSource
    from voicecoach.analysis import analyze_file
    from voicecoach.detect.pipeline import Pipeline

    config = _config(method, config_file)
    frame_ms = config.audio.frame_ms
    runs: list[float] = []
    events: list[Event] = []
    duration = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        events, duration = analyze_file(str(path), config)
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    frames = list(WavSource(path, frame_ms).frames())
    read_s = time.perf_counter() - t0
    sink: dict[str, int] = {}
    pipeline = Pipeline(config.detection, frame_ms=frame_ms)
    stages = instrument(pipeline, sink)
    t0 = time.perf_counter_ns()
    for f in frames:
        pipeline.process(f)
    pipeline.flush()
    total_ns = time.perf_counter_ns() - t0
    n = len(frames)
    per_frame = {"WAV reading + framing": read_s * 1e6 / n}
    per_frame.update({s: sink[s] / 1e3 / n for s in stages})
    per_frame["pipeline glue (the rest of Pipeline.process)"] = (total_ns - sum(sink.values())) / 1e3 / n
    checks = pipeline.overlap.checks if pipeline.overlap is not None else 0
    return {"duration_s": duration, "frames": n, "frame_ms": frame_ms, "runs_s": runs,
            "method": config.detection.interruption.method, "model_checks_per_min": checks / (duration / 60.0),
            "x_real_time": duration / min(runs), "per_frame_us": per_frame,
            "instrumented_total_us": total_ns / 1e3 / n + read_s * 1e6 / n,
            "events": {k: sum(e.type == k for e in events) for k in ("raised_voice", "interruption", "pause_suggested")}}


# A forked child inherits its parent's peak RSS (Linux keeps the high-water mark across fork and exec), so the
# measured process is started by this small launcher, never directly by the (large) benchmark process.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read().decode(errors="replace")
_, status, ru = os.wait4(p.pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "maxrss_kb": ru.ru_maxrss, "err": err[-300:],
                  "wall_s": time.perf_counter() - t0, "cpu_s": ru.ru_utime + ru.ru_stime}))
"""


def measure_cli(path: Path, method: str | None = None, config_file: str | None = None) -> dict[str, Any]:
    """Peak RSS (whole process, ru_maxrss) and wall time of a fresh ``voicecoach analyze --json FILE``, with the
    settings :func:`measure_in_process` measures (always a ``--config``: never the user's own file)."""
    from voicecoach_dev.methods import method_config

    exe = Path(sys.executable).with_name("voicecoach")
    cmd = [str(exe), "analyze", "--json", str(path)] if exe.exists() else \
        [sys.executable, "-m", "voicecoach", "analyze", "--json", str(path)]
    OUT.mkdir(parents=True, exist_ok=True)
    if method:  # the file (or the defaults) with this method
        conf = method_config(method, config_file, OUT)
    elif config_file:
        conf = str(Path(config_file).resolve())
    else:  # the defaults: an empty file
        conf = str(OUT / "bench-defaults.toml")
        Path(conf).write_text("")
    cmd[-2:-2] = ["--config", conf]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(map(str, sorted(os.sched_getaffinity(0)))), *cmd]
    out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *cmd], capture_output=True, text=True)
    try:
        res = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"bench: measuring `{' '.join(cmd)}` failed: {out.stderr.strip()[-300:]}") from None
    if res["status"]:
        raise SystemExit(f"bench: `{' '.join(cmd)}` failed ({res['status']}): {res['err'].strip()[-200:]}")
    return {"command": " ".join(cmd), "peak_rss_mb": res["maxrss_kb"] / 1024.0, "wall_s": res["wall_s"],
            "cpu_s": res["cpu_s"]}


def summary(meta: dict[str, Any], runs: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """One row per interruption method, side by side."""
    r0 = runs[0][0]
    lines = ["## voicecoach analyze: every interruption method", "",
             f"`{meta['command']}` at commit {meta['commit']}; {meta['cpu']}, {meta['pin']}; load average before: "
             f"{meta['load_before']}; recording: {r0['duration_s'] / 60:.1f} min, {meta['recording']} "
             f"({meta['wav']}); settings: {meta['config']}.", "",
             f"| method | analyze, x real time (target >= {TARGET_X_RT:.0f}x) | peak memory, MB (<= {TARGET_MB:.0f}) "
             "| interruption stage, us per frame | segmentation-model looks per minute | interruptions found |",
             "|---|---:|---:|---:|---:|---:|"]
    for r, cli in runs:
        stage = sum(v for k, v in r["per_frame_us"].items() if k in ("interruptions", "overlap", "stream", "gate"))
        lines.append(f"| {r['method']} | {r['x_real_time']:.0f}x | {cli['peak_rss_mb']:.1f} | {stage:.1f} "
                     f"| {r['model_checks_per_min']:.1f} | {r['events']['interruption']} |")
    return "\n".join(lines)


def markdown(meta: dict[str, Any], r: dict[str, Any], cli: dict[str, Any]) -> str:
    """The tables of one method."""
    budget = r["frame_ms"] * 1000.0 / TARGET_X_RT
    x, mb = r["x_real_time"], cli["peak_rss_mb"]
    lines = [f"## voicecoach analyze: benchmark of method '{r['method']}'", "",
             f"`{meta['command']}` at commit {meta['commit']}; {meta['cpu']}, {meta['pin']}; recording: "
             f"{r['duration_s'] / 60:.1f} min, {meta['recording']} ({meta['wav']}); interruption method "
             f"'{r['method']}' ({r['model_checks_per_min']:.1f} segmentation-model looks per minute); events found: "
             + ", ".join(f"{k} {v}" for k, v in r["events"].items()) + ".", "",
             "| measure | value | target | result |", "|---|---:|---:|---|",
             f"| throughput of analyze (in-process, best of {len(r['runs_s'])}) | {x:.0f}x real time "
             f"| >= {TARGET_X_RT:.0f}x | {'PASS' if x >= TARGET_X_RT else '**FAIL**'} |",
             f"| peak memory of `voicecoach analyze` (whole process, ru_maxrss) | {mb:.1f} MB | <= {TARGET_MB:.0f} MB "
             f"| {'PASS' if mb <= TARGET_MB else '**FAIL**'} |",
             f"| one core's share when running live (100 % / throughput) | {100.0 / x:.1f} % | | |",
             f"| wall time of that fresh process, start-up included | {cli['wall_s']:.2f} s "
             f"({r['duration_s'] / cli['wall_s']:.0f}x real time) | | |", "",
             f"| stage | us per {r['frame_ms']} ms frame | share |", "|---|---:|---:|"]
    total = sum(r["per_frame_us"].values())
    for k, v in r["per_frame_us"].items():
        lines.append(f"| {k} | {v:.1f} | {100 * v / total:.0f} % |")
    lines.append(f"| **total (instrumented)** | **{total:.1f}** | budget at {TARGET_X_RT:.0f}x real time: "
                 f"{budget:.0f} us |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the recording if needed, pin to one core, measure, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="recording length (default 600 = 10 minutes)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts (default 3)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write machine-readable results here")
    ap.add_argument("--core", type=int, default=0, help="the core to pin to (default 0)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    ap.add_argument("--method", choices=METHODS, action="append",
                    help="detection.interruption.method to measure (repeatable; default: all of them, or the "
                         "--config file's own)")
    ap.add_argument("--config", metavar="FILE",
                    help="voicecoach config TOML whose settings are measured (default: built-in defaults)")
    args = ap.parse_args(argv)
    if args.config is not None:
        from voicecoach.errors import VoicecoachError

        try:
            _config(None, args.config)  # a bad file in one line, before the recording is built
        except VoicecoachError as exc:
            raise SystemExit(f"bench: {exc}") from None
    pin = "not pinned (--no-pin)" if args.no_pin else pin_to_one_core(args.core)
    path, desc = recording(args.seconds)
    meta = {"command": "scripts/bench " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": _commit(), "cpu": _cpu(), "pin": pin, "recording": desc,
            "wav": os.path.relpath(path, corpus.REPO), "python": platform.python_version(),
            "numpy": np.__version__, "load_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
            "config": args.config or "defaults"}
    methods = args.method or ([None] if args.config else list(METHODS))  # None: the file's own method
    runs = [(measure_in_process(path, max(1, args.repeat), m, args.config), measure_cli(path, m, args.config))
            for m in methods]
    meta["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(summary(meta, runs))
    for r, cli in runs:
        print()
        print(markdown(meta, r, cli))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": [{"in_process": r, "cli": cli} for r, cli in runs]},
                                        indent=1))
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
    except OSError:
        pass
    return platform.machine()


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(corpus.REPO), "log", "-1", "--format=%h"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        import voicecoach

        pkg = Path(voicecoach.__file__).resolve().parent
        if pkg != corpus.REPO / "voicecoach":  # e.g. PYTHONPATH pointing at an export of the committed tree
            return f"{out} (voicecoach imported from {pkg})"
        dirty = subprocess.run(["git", "-C", str(corpus.REPO), "status", "--porcelain", "--", "voicecoach"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out + (" (+ uncommitted changes in voicecoach/)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
