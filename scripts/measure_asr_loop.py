"""Does the speech recognizer hold up the live loop? The recognizer's time per frame and the loop's lag, live.

Starts a private PulseAudio with a virtual microphone (voicecoach_dev/audio_server.py) and plays the demo
conversation into it in real time (looped: speech most of the time, an escalation that makes a suggestion, so the
recognizer's grammar changes, the loop mutes itself while it speaks and the recognizer starts afresh after). For
each variant -- ``listen`` with no speech model (clap only); with the Korean Vosk model from PyPI (the only one
installable offline here) on the loop's own thread, as it ran before it had a thread of its own; and on its own
thread (``voicecoach.asr.worker``, the live microphone's path now) -- it runs this script again as a child pinned
to one core (``taskset``, like ``measure_loop.py``). The child builds the real live assembly (``Live.build``, the
microphone's path, the speaker playing into the virtual speaker) and times:

* each frame's ``Session.step`` (detection, the router, and the listener calls made on the loop's thread);
* each call of the command listener (``expect`` + ``process``), on whichever thread runs it, and what the
  recognizer did in it: a final result, a grammar change (``set_phrases``), a reset (muted audio skipped, an
  answer window opened), a decoding chunk (Kaldi decodes every 8 frames here), or nothing but queueing the audio;
* the loop's lag: how long after its microphone block reached the program (the audio callback queued it) each
  frame has been handled, so the sound server's own delivery jitter is not counted (a block holds three frames:
  the third waits for the first two); the microphone blocks waiting in the queue (90 ms each) when a frame is
  handled; blocks dropped for a full queue.

    .venv/bin/python scripts/measure_asr_loop.py [--seconds 60] [--warmup 10] [--cores 0] [--json FILE]

Run ``scripts/setup --test`` first (the private PulseAudio and the Korean model are test packages). This is a
measuring script kept beside the code it measures; it prints (it is not used by the product).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {  # name: (--child language, the recognizer on the loop's own thread)
    "no speech model (clap only)": ("en", False),
    "Vosk model (Korean), recognising all the time, on the loop's thread (before)": ("ko", True),
    "Vosk model (Korean), recognising all the time, on its own thread": ("ko", False),
}


# --- the child: one variant, in-process ------------------------------------------------------------------------

@dataclass
class Timings:
    """What the child records (times in ms): per frame of the measured stretch, and per recognizer call."""

    step_ms: list[float] = field(default_factory=list)  # the loop's Session.step
    loop_listener_ms: list[float] = field(default_factory=list)  # the loop's own listener calls within it
    recognizer_ms: list[float] = field(default_factory=list)  # CommandListener expect + process, on its thread
    kind: list[str] = field(default_factory=list)  # what the recognizer did in that call
    lag_ms: list[float] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    suggestions: int = 0
    said: int = 0
    load_lag_max_ms: float = 0.0  # the largest lag while the model was loading (before the measured stretch)
    overflows: int = 0


class Instrumented:
    """Wraps the session's step and the listener's calls with timers; classifies what the recognizer did."""

    def __init__(self, live: Any, warmup_s: float) -> None:
        self.live = live
        self.t = Timings()
        self.warmup_s = warmup_s
        self.t0 = time.monotonic()
        self.loop_listener_s = 0.0
        self.expect_s = 0.0  # the recognizer's thread: expect's time, added to the process call after it
        self.did: set[str] = set()
        self.wrapped_recognizer = False
        self.source: Any = None
        self.loaded = threading.Event()
        self._arrivals: collections.deque[float] = collections.deque()
        self._taken = time.monotonic()  # when the block the loop works on reached the program
        if live.listener is not None:
            self._wrap_recognising(live.listener)  # first: on the loop's thread it is also the session's listener
        self._wrap_step()

    def measuring(self) -> bool:
        """True once the warm-up is over (and the model is loaded, when there is one)."""
        ready = self.live.listener is None or self.live.listener.model_path is None or self.loaded.is_set()
        return ready and time.monotonic() - self.t0 >= self.warmup_s

    def _timed(self, call: Callable[..., Any], on_done: Callable[[float, Any], None]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            out = call(*args, **kwargs)
            on_done(time.perf_counter() - start, out)
            return out
        return wrapper

    def _wrap_step(self) -> None:
        session = self.live.session
        if session.listener is not None:
            def loop_listener(seconds: float, _out: Any) -> None:
                self.loop_listener_s += seconds

            session.listener.expect = self._timed(session.listener.expect, loop_listener)
            session.listener.process = self._timed(session.listener.process, loop_listener)

        def done(seconds: float, _out: Any) -> None:
            if self.measuring():
                self.t.step_ms.append(1000 * seconds)
                self.t.loop_listener_ms.append(1000 * self.loop_listener_s)
            self.loop_listener_s = 0.0

        session.step = self._timed(session.step, done)

    def _wrap_recognising(self, listener: Any) -> None:
        """The CommandListener's own calls, on whichever thread runs them."""
        def expected(seconds: float, _out: Any) -> None:
            self.expect_s += seconds

        def processed(seconds: float, _out: Any) -> None:
            if self.measuring() and self.wrapped_recognizer:
                self.t.recognizer_ms.append(1000 * (self.expect_s + seconds))
                order = ("grammar", "reset", "final", "partial", "decode")
                self.t.kind.append(next((k for k in order if k in self.did), "queue"))
            self.expect_s = 0.0
            self.did = set()

        listener.expect = self._timed(listener.expect, expected)
        process = listener.process

        def process_and_wrap(frame: Any) -> Any:
            if not self.wrapped_recognizer and listener.recognizer is not None:
                self._wrap_recognizer(listener.recognizer)
            return process(frame)

        listener.process = self._timed(process_and_wrap, processed)

    def _wrap_recognizer(self, recognizer: Any) -> None:
        self.wrapped_recognizer = True
        self.loaded.set()

        def did(kind: str) -> Callable[[float, Any], None]:
            def mark(seconds: float, out: Any) -> None:
                if kind == "process":
                    if any(tr.final for tr in out):
                        self.did.add("final")
                    elif out:
                        self.did.add("partial")
                    elif seconds > 0.001:  # a decoding chunk (0.1 ms when the audio is only queued)
                        self.did.add("decode")
                else:
                    self.did.add(kind)
            return mark

        recognizer.set_phrases = self._timed(recognizer.set_phrases, did("grammar"))
        recognizer.reset = self._timed(recognizer.reset, did("reset"))
        recognizer.process = self._timed(recognizer.process, did("process"))

    def open_source(self) -> Callable[[int], Any]:
        """The live assembly's microphone opener, keeping the source so its queue can be read."""
        opener = self.live.open_source()

        def open_and_keep(position: int) -> Any:
            self.source = source = opener(position)
            self._stamp_blocks(source._queue)
            return source

        return open_and_keep

    def _stamp_blocks(self, blocks: Any) -> None:
        """Note when each microphone block reached the program (its callback queued it) and which one the loop
        took last: the measuring script reaches into the source's queue, the product is unchanged."""
        put, get = blocks.put_nowait, blocks.get

        def put_stamped(item: Any) -> None:
            self._arrivals.append(time.monotonic())  # before the block can be taken
            try:
                put(item)
            except Exception:
                self._arrivals.pop()  # dropped (a full queue): never taken
                raise

        def get_stamped(*args: Any, **kwargs: Any) -> Any:
            item = get(*args, **kwargs)
            self._taken = self._arrivals.popleft()
            return item

        blocks.put_nowait, blocks.get = put_stamped, get_stamped

    def on_frame(self, frame: Any) -> None:
        """After each frame: how long after its block reached the program it was handled, and the blocks waiting."""
        lag = 1000 * (time.monotonic() - self._taken)
        if self.measuring():
            self.t.lag_ms.append(lag)
            self.t.queued.append(self.source.queued if self.source is not None else 0)
        else:
            self.t.load_lag_max_ms = max(self.t.load_lag_max_ms, lag)


def run_child(language: str, seconds: float, warmup_s: float, out: Path, method: str | None,
              on_loop: bool = False) -> None:
    """Build the live loop on the virtual microphone, run it for warm-up + ``seconds``, write the timings.
    ``on_loop``: the recognizer on the loop's own thread, as before it had one of its own (for comparison)."""
    from voicecoach.config import config_from_dict
    from voicecoach.journal.schema import TalkSource
    from voicecoach.notices import Said
    from voicecoach.runtime_live import Live, LiveSpec

    data: dict[str, Any] = {"commands": {"language": language}}
    if method:
        data["detection"] = {"interruption": {"method": method}}
    live = Live.build(config_from_dict(data), LiveSpec(source=TalkSource.LISTEN))
    if on_loop and live.recognizer_thread is not None:
        live.recognizer_thread.close()  # not started yet: no frame has come
        live.recognizer_thread, live.session.listener = None, live.listener
    probe = Instrumented(live, warmup_s)
    live.on_frame(probe.on_frame)

    class Counter:
        """Counts the suggestions and prompts of the measured stretch."""

        def notify(self, notice: Any) -> None:
            """One notice of the live loop."""
            if not probe.measuring():
                return
            if isinstance(notice, Said):
                probe.t.said += 1
            elif getattr(notice, "to_dict", None) and notice.to_dict().get("type") == "pause_suggested":
                probe.t.suggestions += 1

    live.observe(Counter())
    end = probe.t0 + warmup_s + seconds
    live.serve(probe.open_source(), until=lambda: time.monotonic() >= end and probe.measuring())
    if probe.source is not None:
        probe.t.overflows = probe.source.overflows
    result: dict[str, Any] = dict(probe.t.__dict__)
    if live.listener is not None and live.listener.recognizer is not None:
        result["calls_ms"] = grammar_and_reset_ms(live.listener)
    out.write_text(json.dumps(result))


def grammar_and_reset_ms(listener: Any, times: int = 40) -> dict[str, list[float]]:
    """After the run, on the same loaded model: the grammar changed back and forth between what is heard at any
    time and a suggestion's answers (as the router asks when a question opens and closes), and resets, timed."""
    from voicecoach.commands import Command, Hearing

    question = Hearing(1, frozenset({Command.YES, Command.NOT_NOW, Command.PAUSE}))
    anytime = Hearing(0, frozenset({Command.PAUSE}))
    grammars = []
    for hearing in (question, anytime):
        listener.expect(hearing)
        grammars.append(tuple(listener.decoder.pack.phrases()))
    recognizer = listener.recognizer
    out: dict[str, list[float]] = {"grammar": [], "reset": []}
    for i in range(times):
        start = time.perf_counter()
        recognizer.set_phrases(grammars[i % 2])
        out["grammar"].append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        recognizer.reset()
        out["reset"].append(1000 * (time.perf_counter() - start))
    return out


# --- the parent: the sound server, the talk, the variants, the table ---------------------------------------------

def stats(values: list[float]) -> str:
    """median / p99 / max, in ms."""
    if not values:
        return "-"
    a = np.asarray(values)
    return f"{np.median(a):.2f} / {np.percentile(a, 99):.1f} / {a.max():.1f}"


def kinds_table(t: dict[str, Any]) -> list[str]:
    """Per kind of recognizer work: calls, median and max of the listener's time in that call."""
    rows = []
    for kind in ("final", "partial", "grammar", "reset", "decode", "queue"):
        ms = [m for m, k in zip(t["recognizer_ms"], t["kind"]) if k == kind]
        if ms:
            rows.append(f"{kind} {len(ms)}: {np.median(ms):.2f} / {max(ms):.1f}")
    return rows


def main() -> int:
    """Measure both variants (or be the child for one) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured stretch of each run")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring (the model loads then)")
    ap.add_argument("--cores", default="0", help="cores the loop may run on, as taskset takes them")
    ap.add_argument("--method", choices=("stream", "gated", "model", "features"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=("en", "ko"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--on-loop", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.seconds, args.warmup, args.out, args.method, args.on_loop)
        return 0
    from measure_loop import conversation_wav  # this script's neighbour (its folder is on sys.path)
    from voicecoach_dev.audio_server import VirtualAudio

    work = Path(tempfile.mkdtemp(prefix="vc-asr-loop-"))
    wav = work / "talk.wav"
    conversation_wav(wav, 3 * (args.seconds + args.warmup + 20))
    server = VirtualAudio().start()
    player = server.play_into_mic(wav)
    env = server.full_env(VOICECOACH_DATA_DIR=str(work / "data"), VOICECOACH_CONFIG_DIR=str(work / "cfg"),
                          PYTHONPATH=str(REPO))
    results = {}
    try:
        for n, (name, (language, on_loop)) in enumerate(VARIANTS.items()):
            out = work / f"{n}.json"
            cmd = ["taskset", "-c", args.cores, sys.executable, __file__, "--child", language, "--out", str(out),
                   "--seconds", str(args.seconds), "--warmup", str(args.warmup)]
            cmd += (["--method", args.method] if args.method else []) + (["--on-loop"] if on_loop else [])
            subprocess.run(cmd, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            results[name] = json.loads(out.read_text())
    finally:
        player.terminate()
        server.stop()
    print(f"Measured with: .venv/bin/python scripts/measure_asr_loop.py --seconds {args.seconds:g} "
          f"--warmup {args.warmup:g}{f' --cores {args.cores}' if args.cores != '0' else ''}"
          f"{f' --method {args.method}' if args.method else ''} (pinned to cores {args.cores})\n")
    print("| loop | Session.step per frame, ms (median / p99 / max) | the loop's listener calls per frame, ms | "
          "loop busy, % of the audio's time (its listener calls) | recognizer per frame, ms, wherever it runs | "
          "loop lag: block arrived -> frame handled, ms | mic blocks queued (max) | frames | suggestions / prompts |")
    print("|---|---|---|---|---|---|---:|---:|---|")
    for name, t in results.items():
        audio_ms = 30.0 * len(t["step_ms"])
        busy = f"{100 * sum(t['step_ms']) / audio_ms:.1f} ({100 * sum(t['loop_listener_ms']) / audio_ms:.1f})"
        print(f"| {name} | {stats(t['step_ms'])} | {stats(t['loop_listener_ms'])} | {busy} | "
              f"{stats(t['recognizer_ms'])} | {stats(t['lag_ms'])} | {max(t['queued'], default=0)} | "
              f"{len(t['step_ms'])} | {t['suggestions']} / {t['said']} |")
    for name, t in results.items():
        print(f"\n{name}: recognizer's time by what it did (calls: median / max ms): "
              + ("; ".join(kinds_table(t)) or "none") + f". Largest lag while loading: {t['load_lag_max_ms']:.0f} ms; "
              f"blocks dropped: {t['overflows']}.")
    for name, t in results.items():
        for call, ms in t.get("calls_ms", {}).items():
            print(f"\n{name}: {call} alone, {len(ms)} times after the run (median / p99 / max ms): {stats(ms)}")
    if args.json:
        args.json.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
