"""CPU and memory of the live loop on ONE core: ``voicecoach listen`` and ``kiosk`` on a real (virtual) microphone.

Starts a private PulseAudio with a virtual microphone (voicecoach_dev/audio_server.py), plays a conversation into it in
real time, runs the real command as a subprocess pinned to core 0 (``taskset``; ``--cores``), and samples its CPU
time and resident memory from /proc (the sound server's own CPU is not counted: a Pi runs one anyway).
Variants: without a speech model (clap only), and with a real Vosk model loaded and recognising all the time
(the Korean model from PyPI, the only one installable offline; an English small model is about the same size).

    .venv/bin/python scripts/measure_loop.py [--seconds 60] [--method stream|gated|model|features] [--json FILE]
                                             [--only listen] [--repeat N] [--threads] [--stages] [--view]
                                             [--interruption KEY=VALUE ...]

Run ``scripts/setup --test`` first: the private PulseAudio, the Korean model and Mosquitto are test packages.

``--only listen`` measures only ``listen`` without a speech model (the detection loop itself); ``--repeat N`` runs
each variant N times and reports the median and the range (CPU time is what is sampled, but other work on the
machine still adds cache and scheduler noise: repeat).

``--threads`` prints each thread's CPU and wake-ups a second (a thread that polls wakes often; the JSON always has
both). ``--stages`` adds one run of each variant under ``voicecoach_dev/stage_cpu.py``: the CPU of each stage of the
loop (the frame's step, each detector, the segmentation model's looks, the microphone's callback) and the looks a
minute, to tell where the loop's CPU goes.

``--view`` adds ``listen`` as a laptop runs it, drawing its live view (to a pseudo-terminal that is read and
dropped); the other variants print plain lines to /dev/null.

``--home`` adds the kiosk with its page and hooks on ([web] enabled, [hooks] mqtt to a real Mosquitto broker on
loopback) while a "phone" reloads the Now page every 15 s and the Report page every minute (the page's own
auto-refresh), next to the same kiosk with both off.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voicecoach_dev.broker import Broker

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds per thread of a process, keyed "name/tid" (threads that ended are not listed)."""
    return {name: cpu for name, (cpu, _) in thread_stats(pid).items()}


def thread_stats(pid: int) -> dict[str, tuple[float, int]]:
    """CPU seconds and wake-ups (voluntary context switches: each wait that ended) per thread of a process, keyed
    "name/tid" (threads that ended are not listed). A thread that polls shows as many wake-ups a second."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:
            continue   # the thread ended
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        wakeups = next((int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("voluntary_ctxt_switches:")), 0)
        out[f"{name}/{task.name}"] = ((int(fields[11]) + int(fields[12])) / TICK, wakeups)
    return out


def proc_rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def conversation_wav(path: Path, seconds: float) -> None:
    """The demo conversation (real TTS), looped to ``seconds``."""
    import numpy as np

    from voicecoach.audio.playback import NullSink
    from voicecoach.audio.wav import write_wav
    from voicecoach.config import Config
    from voicecoach.demo import build_conversation
    from voicecoach.speech.speaker import Speaker

    speaker = Speaker(Config().speech, sink=NullSink())
    audio, _ = build_conversation(speaker.render)
    speaker.close()
    reps = int(seconds * 16000 / len(audio)) + 1
    write_wav(path, np.tile(audio, reps)[: int(seconds * 16000)])


class Terminal:
    """A pseudo-terminal for a command's output (``listen`` then draws its live view), read and dropped on a
    thread (a terminal nobody reads fills up and blocks the writer)."""

    def __init__(self) -> None:
        import pty
        import threading

        self.reader_fd, self.fd = pty.openpty()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while os.read(self.reader_fd, 65536):
                pass
        except OSError:
            pass   # the command ended and the terminal closed

    def close(self) -> None:
        """Close both ends."""
        for fd in (self.fd, self.reader_fd):
            os.close(fd)


def measure(command: list[str], env: dict[str, str], seconds: float, warmup_s: float,
            cores: str = "0", terminal: bool = False) -> dict[str, Any]:
    """Run ``command`` pinned to ``cores`` (core 0 by default); CPU % of one core after warm-up, and memory.
    ``terminal``: its output goes to a pseudo-terminal (a view that redraws itself), not to /dev/null."""
    term = Terminal() if terminal else None
    proc = subprocess.Popen(["taskset", "-c", cores, *command], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL if term is None else term.fd, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup_s)
        cpu0, t0 = proc_cpu_s(proc.pid), time.monotonic()
        threads0 = thread_stats(proc.pid)
        peak = 0.0
        while time.monotonic() - t0 < seconds and proc.poll() is None:
            time.sleep(0.5)
            peak = max(peak, proc_rss_mb(proc.pid))
        cpu1, t1 = proc_cpu_s(proc.pid), time.monotonic()
        threads1 = thread_stats(proc.pid)
        rss = proc_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
        if term is not None:
            term.close()
    span = t1 - t0
    threads = {name: round(100 * (c - threads0.get(name, (0.0, 0))[0]) / span, 2) for name, (c, _) in threads1.items()}
    wakeups = {name: round((w - threads0.get(name, (0.0, 0))[1]) / span, 1) for name, (_, w) in threads1.items()}
    return {"cpu_percent_one_core": round(100 * (cpu1 - cpu0) / span, 2), "rss_mb": round(rss, 1),
            "rss_peak_mb": round(peak, 1), "seconds": round(span, 1),
            "threads_percent": {k: v for k, v in sorted(threads.items(), key=lambda kv: -kv[1]) if v > 0},
            "threads_wakeups_per_s": {k: v for k, v in sorted(wakeups.items(), key=lambda kv: -kv[1]) if v > 0}}


def measure_stages(command: list[str], env: dict[str, str], seconds: float, warmup_s: float, cores: str,
                   out: Path, terminal: bool = False) -> dict[str, Any]:
    """One more run of ``command`` (a ``voicecoach`` command line) with a CPU timer around each stage of the loop
    (``voicecoach_dev/stage_cpu.py``): per stage its calls, CPU % of one core and microseconds a call, over the
    whole run (the warm-up included), and the segmentation model's looks a minute."""
    wrapped = [sys.executable, "-m", "voicecoach_dev.stage_cpu", str(out), "--", *command[1:]]
    whole = measure(wrapped, env, seconds, warmup_s, cores, terminal)
    counts = json.loads(out.read_text())
    wall = counts.pop("process")["wall_s"]
    stages = {name: {"calls": c["calls"], "cpu_percent_one_core": round(100 * c["cpu_s"] / wall, 2),
                     "us_per_call": round(1e6 * c["cpu_s"] / c["calls"], 1)} for name, c in counts.items()}
    looks = counts.get("OverlapInterruptionDetector._check", {}).get("calls", 0)
    return {"cpu_percent_one_core_timed": whole["cpu_percent_one_core"], "wall_s": wall,
            "looks_per_minute": round(60 * looks / wall, 1), "stages": stages}


def fresh(env: dict[str, str], work: Path) -> dict[str, str]:
    """``env`` with a data folder of its own: each run starts as a first talk. In a shared one the journal held
    the suggestions of the runs before, and a run within their cooldown (``held_back.py``) made none: it never
    spoke a prompt, so it was never muted and its model looked more often (61 against 53 looks a minute)."""
    return {**env, "VOICECOACH_DATA_DIR": tempfile.mkdtemp(prefix="data-", dir=work)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run's figures (by CPU), with every run's CPU % as ``cpu_runs``."""
    cpus = sorted(r["cpu_percent_one_core"] for r in runs)
    mid = sorted(runs, key=lambda r: r["cpu_percent_one_core"])[len(runs) // 2]
    median = cpus[len(cpus) // 2] if len(cpus) % 2 else round((cpus[len(cpus) // 2 - 1] + cpus[len(cpus) // 2]) / 2, 2)
    return {**mid, "cpu_percent_one_core": median, "cpu_runs": [r["cpu_percent_one_core"] for r in runs]}


class Phone:
    """Reloads the page's Now tab every 15 s and its Report tab every minute, from a thread, until stopped."""

    def __init__(self, port: int) -> None:
        import threading

        self.port = port
        self.stop = threading.Event()
        self.loads = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import urllib.request

        n = 0
        while not self.stop.wait(15.0):
            for path in ("/now",) + (("/report",) if n % 4 == 0 else ()):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10).read()
                    self.loads += 1
                except OSError:
                    pass  # the kiosk is not up yet, or between variants
            n += 1


def home_variants(work: Path, exe: str) -> tuple[dict[str, list[str]], Broker, Phone]:
    """The kiosk with page and hooks off / on (a real broker on loopback, a phone reloading the page)."""
    from voicecoach_dev.broker import Broker, free_port

    broker = Broker().start()
    port = free_port()
    (work / "home.toml").write_text(f'[commands]\nlanguage = "en"\n\n[web]\nenabled = true\nport = {port}\n\n'
                                    f'[hooks]\nmqtt = "{broker.url}"\n')
    variants = {"kiosk, no speech model, page and hooks off": [exe, "--config", str(work / "en.toml"), "kiosk"],
                "kiosk, no speech model, page and hooks on, a phone reloading the page":
                    [exe, "--config", str(work / "home.toml"), "kiosk"]}
    return variants, broker, Phone(port)


def main() -> int:
    """Measure the variants and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--home", action="store_true", help="also the kiosk with its page and hooks on (issue 18)")
    ap.add_argument("--method", choices=("stream", "gated", "model", "features"),
                    help="detection.interruption.method (default: the configured default)")
    ap.add_argument("--interruption", action="append", default=[], metavar="KEY=VALUE",
                    help="one more [detection.interruption] setting, as TOML (e.g. gate_idle_ms=1200); repeatable")
    ap.add_argument("--only", choices=("listen",), help="only listen without a speech model")
    ap.add_argument("--threads", action="store_true", help="also print the CPU of each thread")
    ap.add_argument("--view", action="store_true",
                    help="also listen with its terminal view (on a pseudo-terminal), as a laptop runs it")
    ap.add_argument("--stages", action="store_true",
                    help="one more run of each variant with a CPU timer around each stage of the loop "
                         "(voicecoach_dev/stage_cpu.py): CPU per stage and the segmentation model's looks a minute")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant (median and range reported)")
    ap.add_argument("--cores", default="0",
                    help="cores the command may run on, as taskset takes them (default 0; '0,1' is a user's machine, "
                         "where libraries that start a thread per core, like numpy's BLAS, can use them all)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vc-loop-"))
    wav = work / "talk.wav"
    conversation_wav(wav, 4 * (args.seconds + args.warmup + 10))
    from voicecoach_dev.audio_server import VirtualAudio

    server = VirtualAudio().start()
    player = server.play_into_mic(wav)
    # this checkout's code, also in a git worktree (whose .venv/bin/voicecoach imports the main checkout's)
    base_env = server.full_env(VOICECOACH_DATA_DIR=str(work / "data"), VOICECOACH_CONFIG_DIR=str(work / "cfg"),
                               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    settings = ([f'method = "{args.method}"'] if args.method else []) + list(args.interruption)
    method = "\n[detection.interruption]\n" + "\n".join(settings) + "\n" if settings else ""
    (work / "ko.toml").write_text('[commands]\nlanguage = "ko"\n' + method)
    (work / "en.toml").write_text('[commands]\nlanguage = "en"\n' + method)
    exe = str(REPO / ".venv" / "bin" / "voicecoach")
    variants = {
        "listen, no speech model (clap only)": [exe, "--config", str(work / "en.toml"), "listen", "--no-ui"],
        "listen, Vosk model loaded, recognising all the time": [exe, "--config", str(work / "ko.toml"), "listen",
                                                               "--no-ui"],
        "kiosk, no speech model": [exe, "--config", str(work / "en.toml"), "kiosk"],
        "kiosk, Vosk model loaded, recognising all the time": [exe, "--config", str(work / "ko.toml"), "kiosk"],
    }
    if args.only == "listen":
        variants = dict(list(variants.items())[:1])
    if args.view:
        variants["listen, no speech model, its terminal view drawn"] = [exe, "--config", str(work / "en.toml"),
                                                                         "listen"]
    broker: Broker | None = None
    phone: Phone | None = None
    if args.home:
        extra, broker, phone = home_variants(work, exe)
        variants.update(extra)
    results = {}
    try:
        for name, cmd in variants.items():
            view = "--no-ui" not in cmd and cmd[-1] == "listen"
            runs = [measure(cmd, fresh(base_env, work), args.seconds, args.warmup, args.cores, terminal=view)
                    for _ in range(max(1, args.repeat))]
            results[name] = summarise(runs)
            if args.stages:
                results[name]["stage_run"] = measure_stages(cmd, fresh(base_env, work), args.seconds, args.warmup,
                                                            args.cores, work / "stages.json", terminal=view)
    finally:
        player.terminate()
        server.stop()
        if phone is not None and broker is not None:   # home_variants() starts both or neither
            phone.stop.set()
            broker.stop()
            print(f"(the phone loaded {phone.loads} pages)")
    print(f"Measured with: .venv/bin/python scripts/measure_loop.py --seconds {args.seconds:g}"
          f"{f' --method {args.method}' if args.method else ''}{f' --only {args.only}' if args.only else ''}"
          f"{''.join(f' --interruption {kv}' for kv in args.interruption)}"
          f"{f' --repeat {args.repeat}' if args.repeat > 1 else ''}{' --view' if args.view else ''}"
          f"{f' --cores {args.cores}' if args.cores != '0' else ''} "
          f"(pinned to cores {args.cores}, a conversation played into a virtual microphone)\n")
    print("| loop | CPU, % of one core (median, range) | memory (RSS), MB | peak RSS, MB |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        cpu = f"{r['cpu_percent_one_core']}"
        if len(r["cpu_runs"]) > 1:
            cpu += f" ({min(r['cpu_runs'])}-{max(r['cpu_runs'])})"
        print(f"| {name} | {cpu} | {r['rss_mb']} | {r['rss_peak_mb']} |")
    if args.threads:
        for name, r in results.items():
            print(f"\n{name}, CPU % of one core per thread (median run): "
                  + ", ".join(f"{t} {v}" for t, v in r["threads_percent"].items()))
            print("wake-ups a second per thread: "
                  + ", ".join(f"{t} {v}" for t, v in r["threads_wakeups_per_s"].items()))
    for name, r in results.items():
        if "stage_run" in r:
            run = r["stage_run"]
            print(f"\n{name}, per stage (one run with timers: {run['cpu_percent_one_core_timed']} % of one core in "
                  f"all; {run['looks_per_minute']} looks a minute over {run['wall_s']} s; stages nest)\n")
            print("| stage | calls | CPU, % of one core | us a call |")
            print("|---|---:|---:|---:|")
            for stage, v in run["stages"].items():
                print(f"| {stage} | {v['calls']} | {v['cpu_percent_one_core']} | {v['us_per_call']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
