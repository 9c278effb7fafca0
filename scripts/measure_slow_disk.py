"""The live loop on a slow disk: every fsync made ``--delay-ms`` slower with strace, like a Raspberry Pi's SD card.

As ``scripts/measure_prompt_latency.py``: a private PulseAudio (voicecoach_dev/audio_server.py), the demo's
escalating two-voice conversation (real TTS) played into the virtual microphone, ``voicecoach listen --no-ui`` as a
subprocess, the virtual speaker recorded. Here voicecoach runs under ``strace -f --seccomp-bpf -e
trace=fsync,fdatasync -e inject=fsync,fdatasync:delay_exit=<delay>ms`` (strace 6.1 syntax; the delay holds only the
thread that called fsync), and once with no delay under the same strace, so the two differ only in the disk.

Reported per run and as medians: escalation (first raised turn) -> first audible word of the suggestion; the
detector's decision (its line printed) -> audible; the loop's lag at each printed event (when its line came out,
minus when its audio reached the microphone: the microphone's queue waiting for the loop; its median and largest);
how many fsyncs the process made; how long Ctrl-C took to end it; and whether every printed event is in the
journal afterwards with the talk ended.

    .venv/bin/python scripts/measure_slow_disk.py [--runs 3] [--delay-ms 300] [--no-baseline]
Run ``scripts/setup --test`` first (the private PulseAudio); strace must be installed (apt-get install strace).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from voicecoach_dev.audio_server import VirtualAudio
from voicecoach_dev.live import LiveProcess, play_and_hear, render_conversation

EVENT_LINE = re.compile(r"^\s*(\d+\.\d)s (raised_voice|interruption|pause_suggested)\b")


@dataclass
class Run:
    """One run's figures (seconds; None where nothing was heard)."""

    escalation_s: float | None
    decision_s: float | None
    lag_median_s: float
    lag_max_s: float
    fsyncs: int
    stop_s: float
    printed: int
    stored: int
    talk_ended: bool


def strace_wrapper(delay_ms: float, trace: Path) -> list[str]:
    """strace watching fsync/fdatasync of every thread, each made ``delay_ms`` slower (0: not slowed)."""
    args = ["strace", "-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-e", "trace=fsync,fdatasync"]
    if delay_ms > 0:
        args += ["-e", f"inject=fsync,fdatasync:delay_exit={delay_ms:g}ms"]
    return args + ["-o", str(trace), "--"]


def journal_rows(data_dir: Path) -> tuple[int, bool]:
    """(events stored, whether the last talk has its end) in the run's journal."""
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return 0, False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        ended = conn.execute("SELECT ended_at FROM talks ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return int(events), ended is not None and ended[0] is not None


def one_run(server: VirtualAudio, audio, first_raised: float, delay_ms: float) -> Run | None:
    """One talk through the live loop under strace; None when the microphone never opened."""
    home = Path(tempfile.mkdtemp(prefix="vc-slow-"))
    trace = home / "strace.txt"
    live = LiveProcess(["listen", "--no-ui"], server.full_env(VOICECOACH_CONFIG_DIR=str(home / "c"),
                                                              VOICECOACH_DATA_DIR=str(home / "d")),
                       wrapper=strace_wrapper(delay_ms, trace))
    try:
        t_open = live.wait_for("microphone open", 60)
        if t_open is None:
            return None
        talk = play_and_hear(server, live, audio, until=lambda t_play: t_play + len(audio) / 16000 + 2.0)
    finally:
        t_stop = time.monotonic()
        live.stop(timeout_s=60)
        stop_s = time.monotonic() - t_stop
    lags = [arrival - t_open - float(m.group(1)) for arrival, line in live.output.lines
            if (m := EVENT_LINE.match(line))]
    audible, decided = talk.audible_s(), talk.decided_s()
    stored, ended = journal_rows(home / "d")
    fsyncs = sum(1 for line in trace.read_text().splitlines() if "fsync(" in line or "fdatasync(" in line)
    shutil.rmtree(home, ignore_errors=True)
    return Run(escalation_s=None if audible is None else audible - first_raised,
               decision_s=None if audible is None or decided is None else audible - decided,
               lag_median_s=statistics.median(lags) if lags else 0.0, lag_max_s=max(lags, default=0.0),
               fsyncs=fsyncs, stop_s=stop_s, printed=len(lags), stored=stored, talk_ended=ended)


def show(run: Run) -> str:
    """One run as a line."""
    esc = "no prompt heard" if run.escalation_s is None else f"escalation -> audible {run.escalation_s:.2f} s"
    dec = "" if run.decision_s is None else f", decision -> audible {run.decision_s:.2f} s"
    return (f"{esc}{dec}; loop lag at events median {run.lag_median_s:.2f} s, max {run.lag_max_s:.2f} s; "
            f"{run.fsyncs} fsyncs; Ctrl-C -> exit {run.stop_s:.1f} s; events printed {run.printed}, stored "
            f"{run.stored}, talk ended in the journal: {'yes' if run.talk_ended else 'NO'}")


def median(values: list[float | None]) -> str:
    """The median of the known values, formatted."""
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.2f} s" if known else "-"


def main() -> int:
    """Run the slowed and (unless --no-baseline) the unslowed talks and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=300.0, help="added to every fsync (default 300)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the runs with fsync not slowed")
    args = ap.parse_args()
    if shutil.which("strace") is None:
        print("strace is not installed (apt-get install strace)")
        return 2
    audio, timeline = render_conversation()
    first_raised = next(t for t, line in timeline if line.raised)
    delays = ([] if args.no_baseline else [0.0]) + [args.delay_ms]
    ok = True
    with VirtualAudio() as server:
        for delay in delays:
            runs = []
            for _ in range(args.runs):
                run = one_run(server, audio, first_raised, delay)
                print(f"fsync +{delay:g} ms run:", "microphone never opened" if run is None else show(run),
                      flush=True)
                if run is not None:
                    runs.append(run)
            if not runs:
                ok = False
                continue
            print(f"fsync +{delay:g} ms, median of {len(runs)}: escalation -> audible "
                  f"{median([r.escalation_s for r in runs])}; decision -> audible "
                  f"{median([r.decision_s for r in runs])}; loop lag at events {median([r.lag_median_s for r in runs])}"
                  f" (largest {max(r.lag_max_s for r in runs):.2f} s); Ctrl-C -> exit "
                  f"{median([r.stop_s for r in runs])}; every printed event stored and the talk ended: "
                  f"{'yes' if all(r.stored >= r.printed and r.talk_ended for r in runs) else 'NO'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
