"""Faults one after another on a running kiosk: does it come back every time, keep detecting, and lose nothing?

Each fault is tested alone in the test suite (`tests/test_faults.py`, `tests/test_kiosk_live.py`); this script puts
them together on one kiosk for many minutes, as a home box meets them over months. A private PulseAudio
(voicecoach_dev/audio_server.py) gives a virtual microphone and speaker; the demo's escalating conversation (real
TTS) plays into the microphone all the time, so detector events keep coming. ``voicecoach kiosk`` runs as a
subprocess. At seeded random moments one fault happens:

- ``unplug``: the microphone is removed (its stream ended), put back 1-6 s later;
- ``unplug-monitor``: removed, and PulseAudio moves the stream to the speaker's monitor (exact zeros), put back;
- ``server-restart``: the sound server is killed and started again (the player too);
- ``server-freeze``: the sound server stops answering for 1-4 s (SIGSTOP), then goes on;
- ``kiosk-stall``: the kiosk itself is stopped for 0.5-3 s (SIGSTOP: a Pi busy with something else), then goes on;
- ``echo``: the kiosk's own speaker is fed back into the microphone at 0 dB for 30 s (a laptop's speaker);
- ``none``: nothing (the same watch on an undisturbed kiosk, for comparison).

After each fault the script waits for the kiosk's "microphone open" line (when it said "microphone lost") and
for the next raised voice and the next interruption stored in the journal (read-only; the talk loops every 57 s,
with both in each loop). At the end: SIGTERM, and the kiosk must stop with
exit code 0 within 5 s, with no traceback, its journal intact (`PRAGMA integrity_check`), and its memory no larger
than it was after warm-up plus a margin that is printed, not judged.

    .venv/bin/python scripts/chaos.py [--minutes 10] [--seed 1] [--gap-s 20-40] [--json FILE]

Run ``scripts/setup --test`` first: the private PulseAudio is a test package. Exit code 0 when every check held.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from voicecoach_dev.audio_server import VirtualAudio  # noqa: E402
from voicecoach_dev.live import LiveProcess  # noqa: E402

FAULTS = ("unplug", "unplug-monitor", "server-restart", "server-freeze", "kiosk-stall", "echo", "none")
RECOVER_S = 30.0   # the microphone must be open again this long after the fault ended
EVENT_S = 75.0     # and a detector event stored this long after it (the talk loops every 57 s; events in 34-53 s)
CONFIG = """[audio]
reopen_s = 0.5

[checkin]
answer_s = 2.0

[kiosk]
nightly_time = ""
weekly_day = ""
quiet_start = ""
quiet_end = ""
"""


@dataclass
class Outcome:
    """What happened around one fault (seconds from the fault's end)."""

    fault: str
    at_s: float
    held_s: float
    lost: bool = False   # the kiosk said "microphone lost" (a short move to the monitor may pass unnoticed)
    reopened_s: float | None = None
    next_raised_s: float | None = None
    next_interruption_s: float | None = None
    rss_mb: float = 0.0   # the kiosk's memory once it was watched back to health
    problems: list[str] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stored_events(journal: Path) -> dict[str, int]:
    """Detector events in the journal so far by type, read without writing anything (none before it exists)."""
    if not journal.exists():
        return {}
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5.0)
    try:
        return dict(conn.execute("SELECT type, count(*) FROM events GROUP BY type").fetchall())
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


class Bench:
    """The sound server, the endless conversation into its microphone, and the kiosk."""

    def __init__(self, work: Path, talk_wav: Path) -> None:
        self.work, self.talk_wav = work, talk_wav
        self.server = VirtualAudio().start()
        self.player = self.server.play_into_mic(talk_wav)
        cfg = work / "config.toml"
        cfg.write_text(CONFIG)
        env = self.server.full_env(VOICECOACH_DATA_DIR=str(work / "data"), VOICECOACH_CONFIG_DIR=str(work / "cfg"))
        self.journal = work / "data" / "journal.sqlite3"
        # no rituals nor quiet hours, whatever the time of the run; the real clock (a rehearsal, --pretend-time,
        # stores nothing)
        self.kiosk = LiveProcess(["--config", str(cfg), "kiosk"], env)

    def said_since(self, what: str, t: float) -> float | None:
        """Arrival time of the first kiosk line containing ``what`` after monotonic time ``t``."""
        return next((at for at, _ in self.kiosk.matching(what) if at > t), None)

    def restart_player(self) -> None:
        """The conversation again (a server restart ends the player)."""
        if self.player.poll() is None:
            self.player.terminate()
        self.player = self.server.play_into_mic(self.talk_wav)

    def close(self) -> None:
        """Stop everything that is still running."""
        if self.kiosk.proc.poll() is None:
            self.kiosk.proc.kill()
        if self.player.poll() is None:
            self.player.terminate()
        self.server.stop()


def inflict(bench: Bench, fault: str, rng: random.Random) -> float:
    """Do one fault; returns how long it was held, seconds."""
    server, pid = bench.server, bench.kiosk.proc.pid
    if fault in ("unplug", "unplug-monitor"):
        held = rng.uniform(1.0, 6.0)
        server.unplug_mic(kill_streams=fault == "unplug")
        time.sleep(held)
        server.replug_mic()
    elif fault == "server-restart":
        held = 0.0
        server.kill_daemon()
        server.restart_daemon()
        bench.restart_player()
    elif fault == "server-freeze":
        held = rng.uniform(1.0, 4.0)
        server.freeze_daemon()
        time.sleep(held)
        server.thaw_daemon()
    elif fault == "kiosk-stall":
        held = rng.uniform(0.5, 3.0)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(held)
        os.kill(pid, signal.SIGCONT)
    elif fault == "none":   # no fault: what the same watch sees on an undisturbed kiosk
        held = 0.0
    elif fault == "echo":
        held = 30.0
        module = server.loopback_speaker_to_mic(0.0)
        time.sleep(held)
        server.unload(module)
    else:
        raise ValueError(f"unknown fault {fault!r}")
    return held


def watch(bench: Bench, outcome: Outcome, ended: float, before: dict[str, int]) -> None:
    """Wait for the microphone (if the fault took it) and the next stored raised voice and interruption (each
    detector can fail alone); note what did not come."""
    deadline = ended + max(RECOVER_S, EVENT_S)
    while time.monotonic() < deadline and bench.kiosk.proc.poll() is None:
        began = ended - outcome.held_s - 0.5
        outcome.lost = outcome.lost or bench.said_since("microphone lost", began) is not None
        if outcome.reopened_s is None and outcome.lost:
            opened = bench.said_since("microphone open", began)
            if opened is not None:
                outcome.reopened_s = round(max(0.0, opened - ended), 2)
        now = stored_events(bench.journal)
        after = round(time.monotonic() - ended, 2)
        if outcome.next_raised_s is None and now.get("raised_voice", 0) > before.get("raised_voice", 0):
            outcome.next_raised_s = after
        if outcome.next_interruption_s is None and now.get("interruption", 0) > before.get("interruption", 0):
            outcome.next_interruption_s = after
        if (outcome.next_raised_s is not None and outcome.next_interruption_s is not None
                and (outcome.reopened_s is not None or not outcome.lost)):
            break
        time.sleep(0.25)
    outcome.rss_mb = round(rss_mb(bench.kiosk.proc.pid), 1)
    if bench.kiosk.proc.poll() is not None:
        outcome.problems.append(f"the kiosk exited ({bench.kiosk.proc.returncode})")
    if outcome.lost and outcome.reopened_s is None:
        outcome.problems.append(f"microphone lost, and no 'microphone open' within {RECOVER_S:.0f} s")
    for kind, seen in (("raised voice", outcome.next_raised_s), ("interruption", outcome.next_interruption_s)):
        if seen is None:
            outcome.problems.append(f"no {kind} stored within {EVENT_S:.0f} s")


def finish(bench: Bench) -> dict:
    """SIGTERM, and what the kiosk left behind."""
    proc = bench.kiosk.proc
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = proc.wait(timeout=20)
    except Exception:  # noqa: BLE001 - a kiosk that does not stop is the finding
        code = None
    took = time.monotonic() - start
    bench.kiosk.output.join()
    text = bench.kiosk.text()
    (bench.work / "kiosk.log").write_text(text)   # kept in the work folder, printed below, to read afterwards
    conn = sqlite3.connect(f"file:{bench.journal}?mode=ro", uri=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        talks = conn.execute("SELECT count(*), sum(ended_at IS NULL) FROM talks").fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    return {"exit_code": code, "stop_s": round(took, 2), "traceback": "Traceback" in text,
            "stopped_line": text.rstrip().endswith("voicecoach: stopped"), "integrity": integrity,
            "talks": talks[0], "talks_left_open": talks[1] or 0, "events": events,
            "output_lines": len(text.splitlines())}


def run(minutes: float, seed: int, gap: tuple[float, float], work: Path,
        faults: tuple[str, ...] = FAULTS) -> tuple[list[Outcome], dict]:
    """The whole run: warm-up, faults until ``minutes`` are over, the end."""
    from measure_loop import conversation_wav

    rng = random.Random(seed)
    talk = work / "talk.wav"
    conversation_wav(talk, minutes * 60 + 180)
    bench = Bench(work, talk)
    outcomes: list[Outcome] = []
    try:
        if bench.kiosk.wait_for("microphone open", 30) is None:
            raise SystemExit(f"the kiosk did not open the microphone:\n{bench.kiosk.text()[-2000:]}")
        time.sleep(20.0)   # the detectors learn the partners' calm voices
        t0 = time.monotonic()
        rss0 = rss_mb(bench.kiosk.proc.pid)
        order = list(faults)
        while time.monotonic() - t0 < minutes * 60 and bench.kiosk.proc.poll() is None:
            if not order:
                order = list(faults)
            fault = order.pop(rng.randrange(len(order)))
            events_before = stored_events(bench.journal)
            at = time.monotonic() - t0
            held = inflict(bench, fault, rng)
            outcome = Outcome(fault, round(at, 1), round(held, 2))
            watch(bench, outcome, time.monotonic(), events_before)
            outcomes.append(outcome)
            print(json.dumps(asdict(outcome)), flush=True)
            time.sleep(rng.uniform(*gap))
        rss1 = rss_mb(bench.kiosk.proc.pid)
        end = finish(bench)
        end.update(rss_after_warmup_mb=round(rss0, 1), rss_at_end_mb=round(rss1, 1),
                   minutes=round((time.monotonic() - t0) / 60, 1))
    finally:
        bench.close()
    return outcomes, end


def main() -> int:
    """Run, print a table, exit 0 when every check held."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap-s", default="20-40", help="quiet time between faults, a range in seconds")
    ap.add_argument("--faults", default=",".join(FAULTS), help="which faults, comma-separated (default: all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    faults = tuple(args.faults.split(","))
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"--faults: unknown {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
    lo, hi = (float(x) for x in args.gap_s.split("-"))
    sys.path.insert(0, str(REPO / "scripts"))
    work = Path(tempfile.mkdtemp(prefix="vc-chaos-"))
    outcomes, end = run(args.minutes, args.seed, (lo, hi), work, faults)
    print(f"\nMeasured with: .venv/bin/python scripts/chaos.py --minutes {args.minutes:g} --seed {args.seed} "
          f"--gap-s {args.gap_s}{'' if faults == FAULTS else ' --faults ' + args.faults}\n")
    print("| fault | times | microphone lost | open again, s after (max) | next raised voice stored, s after (max) | "
          "next interruption stored, s after (max) | problems |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for fault in FAULTS:
        mine = [o for o in outcomes if o.fault == fault]
        if not mine:
            continue
        reopen = [o.reopened_s for o in mine if o.reopened_s is not None]
        raised = [o.next_raised_s for o in mine if o.next_raised_s is not None]
        cut = [o.next_interruption_s for o in mine if o.next_interruption_s is not None]
        problems = sum(len(o.problems) for o in mine)
        print(f"| {fault} | {len(mine)} | {sum(o.lost for o in mine)} | {max(reopen) if reopen else '-'} | {max(raised) if raised else '-'} | "
              f"{max(cut) if cut else '-'} | {problems} |")
    print(f"\nEnd: {json.dumps(end)}\nThe kiosk's output: {work / 'kiosk.log'}")
    failed = [o for o in outcomes if o.problems]
    for o in failed:
        print(f"PROBLEM at {o.at_s} s after {o.fault}: {'; '.join(o.problems)}")
    ok = (not failed and end["exit_code"] == 0 and end["stop_s"] < 5.0 and not end["traceback"]
          and end["stopped_line"] and end["integrity"] == "ok" and not end["talks_left_open"])
    if args.json:
        args.json.write_text(json.dumps({"outcomes": [asdict(o) for o in outcomes], "end": end}, indent=1))
    print("every check held" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
