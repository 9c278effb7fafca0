"""``voicecoach demo``: the whole loop on a built-in escalating conversation, no microphone needed."""

from __future__ import annotations

import argparse
import threading

import numpy as np

from ..clock import MonotonicClock
from . import config_of

ORDER = 14


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", parents=[common], help="hear what voicecoach does, on a generated conversation")
    p.add_argument("--output", metavar="DEV", help="output device: index or part of its name")
    p.add_argument("--fast", action="store_true", help="run the conversation as fast as possible (prints only)")
    p.add_argument("--save", metavar="FILE.wav", help="also save the generated conversation as a WAV")
    p.set_defaults(func=run)


class DemoClock:
    """Real time that the demo can fast-forward (to skip the 20 minutes of the pause)."""

    def __init__(self) -> None:
        self._real = MonotonicClock()
        self.offset = 0.0

    def now(self) -> float:
        """Monotonic seconds plus the skipped time."""
        return self._real.now() + self.offset


def run(args: argparse.Namespace) -> int:
    """Generate the conversation, feed it through the loop, answer the coach like a couple would."""
    from .. import app
    from ..audio.frames import SAMPLE_RATE
    from ..audio.wav import write_wav
    from ..demo import build_conversation, demo_answers, describe
    from ..rehearse import ScriptedAnswers
    from ..runtime import Session
    from ..runtime_loop import PacedSource, run_loop
    from ..sources import ArraySource

    config = config_of(args)
    names = (config.partners.a_name, config.partners.b_name)
    print("voicecoach demo: two generated voices talk, start interrupting each other, then raise their voices.")
    speaker = app.make_speaker(config, output="" if args.fast else args.output,
                               render_only=args.fast, on_text=lambda t: None)
    print("(rendering the conversation...)", flush=True)
    audio, timeline = build_conversation(speaker.render)
    if args.save:
        write_wav(args.save, audio)
    lines = describe(timeline, names)
    clock = DemoClock()

    def show(text: str) -> None:
        print(f"  >> {text}" if text.startswith("voicecoach:") else f"  .. {text}", flush=True)

    session = Session(config, app.make_pipeline(config, use_profile=False), speaker, None, None, clock=clock,
                      source_name="demo", runner_factory=app.runner_factory(config), on_line=show)
    answers = ScriptedAnswers(demo_answers(), delay_s=0.0 if args.fast else 1.5, on_answer=lambda answer: print(
        f"(the couple says: {answer.replace('_', ' ').replace('yes', 'okay')})", flush=True))
    position = [0.0]

    def on_frame(frame) -> None:
        position[0] = frame.end_s
        while lines and lines[0][0] <= frame.end_s:
            print(f"{lines.pop(0)[1]}", flush=True)
        answers.feed(session)

    stop = threading.Event()
    wrap = (lambda src: src) if args.fast else PacedSource
    run_loop(session, lambda pos: wrap(ArraySource(audio, config.audio.frame_ms)), stop, on_frame=on_frame,
             live=False)
    if session.coach.state(clock.now()).pause_left_s is not None:
        speaker.wait(timeout_s=30.0)
        left = session.coach.state(clock.now()).pause_left_s or 0.0
        print(f"(fast-forward: the couple takes their {config.pause.length_min:g} minute pause)", flush=True)
        clock.offset += left + 0.1
    silence = np.zeros(int(SAMPLE_RATE * 30), dtype=np.int16)
    start = int(position[0] * SAMPLE_RATE)
    for _ in range(4):  # let the pause end, the welcome-back question be asked and answered
        if not session.coach.busy and not speaker.busy():
            break
        run_loop(session, lambda pos: wrap(ArraySource(silence, config.audio.frame_ms, start)), stop,
                 on_frame=on_frame, live=False)
        start += len(silence)
    summary = session.finish()
    speaker.wait(timeout_s=30.0)
    speaker.close()
    print(summary.text())
    return 0
