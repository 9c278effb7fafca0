#!/usr/bin/env python3
"""Instructions per second of audio (valgrind) for ``voicecoach analyze`` and for the live loop's processing path:
a count that does not depend on the machine's load, unlike CPU time on a machine shared with other work.

The work runs once under ``valgrind --tool=callgrind``, counting only while the work itself runs (the worker calls
it from inside ``itertools.starmap``, and callgrind collects only inside ``starmap_next``): start-up, imports and
loading the models are left out, the first frame's lazy set-up is in. Slow: callgrind runs Python about 30-80 times
slower (one minute of audio: about 5-10 minutes of CPU).

    .venv/bin/python scripts/measure_instructions.py analyze WAV [--seconds 60] [--config FILE]
    .venv/bin/python scripts/measure_instructions.py listen WAV [--seconds 60] [--config FILE]

``analyze``: :func:`voicecoach.analysis.analyze_file` with the default settings, as ``voicecoach analyze`` runs it,
on the first ``--seconds`` of the WAV (16 kHz mono). ``--config FILE``: the settings of that voicecoach TOML instead
of the defaults, for both, as ``scripts/evaluate --config`` takes it (without it: the built-in defaults, never your
own config file). ``listen``: the live assembly ``listen`` builds
(:class:`~voicecoach.runtime_live.Live`: pipeline, router, coach, the clap listener on the loop's thread, the
journal written on its own thread), fed as the microphone feeds it (90 ms blocks cut into 30 ms frames by
:class:`~voicecoach.audio.frames.Framer`, checked for digital silence), with an audio clock and a speaker with no
output device; the device's own thread and the sound server are not counted. Without valgrind it says so, exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from itertools import starmap
from typing import Callable, Iterator, TypeVar

REPO = Path(__file__).resolve().parent.parent
BLOCK_MS = 90   # the microphone's block (audio.device.BLOCK_MS)
T = TypeVar("T")


def run_marked(work: Callable[[], T]) -> T:
    """``work()``, called from inside a C function used for nothing else (``itertools.starmap``'s next), so that
    ``valgrind --tool=callgrind --collect-atstart=no --toggle-collect=starmap_next`` counts only this work."""
    return next(starmap(work, [()]))


def settings(config_file: Path | None):  # noqa: ANN201 - a voicecoach Config, imported lazily
    """The settings measured: ``config_file``'s, or the built-in defaults (never the user's own file)."""
    from voicecoach.config import Config, load_config

    return load_config(config_file) if config_file is not None else Config()


def worker_analyze(wav: Path, config_file: Path | None = None) -> str:
    """One ``analyze`` of ``wav``; a line saying what it found."""
    from voicecoach.analysis import analyze_file

    config = settings(config_file)
    events, duration = run_marked(lambda: analyze_file(str(wav), config))
    return f"{duration:.1f} s, {len(events)} events"


class MicLikeSource:
    """The WAV's audio as the microphone delivers it: blocks of BLOCK_MS through a Framer, checked for silence."""

    def __init__(self, wav: Path, frame_ms: int, start_sample: int = 0) -> None:
        from voicecoach.audio.wav import read_wav

        self.audio = read_wav(wav)
        self.frame_ms = frame_ms
        self.start_sample = start_sample

    def frames(self) -> Iterator:
        """Yield the frames, block by block."""
        from voicecoach.audio.frames import SAMPLE_RATE, Framer
        from voicecoach.audio.server import DigitalSilence

        framer = Framer(self.frame_ms, self.start_sample)
        silence = DigitalSilence(SAMPLE_RATE)
        block = SAMPLE_RATE * BLOCK_MS // 1000
        for i in range(0, len(self.audio) - block + 1, block):
            mono = self.audio[i:i + block].copy()   # the callback's copy
            silence.process(mono)
            yield from framer.push(mono)

    def close(self) -> None:
        """Nothing to release."""


def worker_listen(wav: Path, config_file: Path | None = None) -> str:
    """The live loop over ``wav`` as the microphone would feed it; a line saying what it found."""
    home = Path(tempfile.mkdtemp(prefix="vc-instr-"))
    os.environ["VOICECOACH_DATA_DIR"] = str(home / "data")
    os.environ["VOICECOACH_CONFIG_DIR"] = str(home / "cfg")
    from voicecoach.audio.playback import NullSink
    from voicecoach.clock import AudioClock
    from voicecoach.journal.schema import TalkSource
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.speech.speaker import Speaker

    config = settings(config_file)
    speaker = Speaker(config.speech, sink=NullSink())
    spec = LiveSpec(TalkSource.LISTEN, file=wav, fast=True, use_profile=False, finish_speech_s=0.0)
    live = Live.build(config, spec, clock=AudioClock(), speaker=speaker, on_line=lambda line: None)
    source = MicLikeSource(wav, config.audio.frame_ms)
    run_marked(lambda: live.run(lambda position: source, live=False))
    summary = live.close()
    overlap = getattr(live.session.pipeline, "overlap", None)
    looks = overlap.checks if overlap is not None else 0
    shutil.rmtree(home, ignore_errors=True)
    return (f"{live.session.position / 16000:.1f} s, {summary.interruptions} interruptions, {summary.raised} raised, "
            f"{looks} looks")


def cut(wav: Path, seconds: float, out: Path) -> Path:
    """The first ``seconds`` of ``wav`` (16 kHz mono int16) written to ``out``."""
    from voicecoach.audio.wav import read_wav, write_wav

    write_wav(out, read_wav(wav)[: int(seconds * 16000)])
    return out


def count(what: str, wav: Path, work: Path, config_file: Path | None = None) -> tuple[int, str, float]:
    """Instructions of the worker's marked work under callgrind, its line, and the run's wall time."""
    out = work / f"callgrind.{what}.out"
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1")
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=starmap_next",
           f"--callgrind-out-file={out}", sys.executable, __file__, "--worker", what, str(wav)]
    if config_file is not None:
        cmd += ["--config", str(config_file.resolve())]
    t0 = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - t0
    if run.returncode:
        raise SystemExit(f"measure_instructions: {' '.join(cmd)} failed: {run.stderr.strip()[-500:]}")
    found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(errors="replace"), re.M)
    if found is None:
        raise SystemExit(f"measure_instructions: no totals in {out}")
    return int(found.group(1)), run.stdout.strip().splitlines()[-1], wall


def main(argv: list[str] | None = None) -> int:
    """Measure and print the instructions per second of audio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("analyze", "listen"))
    ap.add_argument("wav", type=Path, help="a 16 kHz mono WAV at least --seconds long")
    ap.add_argument("--seconds", type=float, default=60.0, help="audio measured, from the start (default 60)")
    ap.add_argument("--config", type=Path, metavar="FILE",
                    help="voicecoach config TOML whose settings are measured (default: built-in defaults)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker = worker_analyze if args.what == "analyze" else worker_listen
        print(worker(args.wav, args.config), flush=True)
        return 0
    if args.config is not None:
        from voicecoach.errors import VoicecoachError

        try:
            settings(args.config)  # a bad file in one line, before minutes under valgrind
        except VoicecoachError as exc:
            print(f"measure_instructions: {exc}", file=sys.stderr)
            return 2
    if shutil.which("valgrind") is None:
        print("measure_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="vc-valgrind-"))
    try:
        wav = cut(args.wav, args.seconds, work / f"first-{args.seconds:g}s.wav")
        instructions, line, wall = count(args.what, wav, work, args.config)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.what}: {instructions / args.seconds / 1e6:.1f} M instructions per second of audio "
          f"({instructions} over the first {args.seconds:g} s: {line}; {wall:.0f} s under valgrind; settings: "
          f"{args.config or 'defaults'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
