"""``voicecoach demo``: the whole loop on a built-in escalating conversation, no microphone needed."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..clock import MonotonicClock
from ..errors import InputError
from . import DeviceOption, check_wav_output, config_of, write_wav_output

ORDER = 14
PAUSE_SILENCE_S = 30  # silence fed after the talk, while the pause ends and the welcome-back question is answered


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", parents=[common], help="hear what voicecoach does, on a generated conversation")
    p.add_argument("--output", metavar="DEV", action=DeviceOption, help="output device: index or part of its name")
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
    from ..audio.frames import SAMPLE_RATE
    from .. import app
    from ..demo import build_conversation, demo_answers, describe
    from ..journal.schema import TalkSource
    from ..rehearse import ScriptedAnswers
    from ..runtime_live import Live, LiveSpec
    from ..stop_signals import StopOnSignals
    from ..runtime_loop import PacedSource
    from ..sources import ArraySource

    if args.save is not None:  # before anything is rendered: a bad name is the one line, exit 2
        check_wav_output(Path(args.save), "--save")
    if args.output is not None and args.fast:  # was: ignored without a word
        raise InputError(f"--fast only prints the demo (nothing is played), so --output {args.output} would not be "
                         f"used: leave out --output, or --fast to hear the demo on that device")
    if args.output and not args.fast:  # a typo, as for listen and say: not a demo nobody hears
        from ..audio.device import find_device

        find_device(args.output, "output")
    config = config_of(args)
    names = (config.partners.a_name, config.partners.b_name)
    print("voicecoach demo: two generated voices talk, start interrupting each other, then raise their voices.")
    clock = DemoClock()

    def show(text: str) -> None:
        print(f"  >> {text}" if text.startswith("voicecoach:") else f"  .. {text}", flush=True)

    spec = LiveSpec(TalkSource.DEMO, output="" if args.fast else args.output, render_only=args.fast,
                    use_profile=False, commands=False, finish_speech_s=30.0, microphone=False)
    # Each prompt is printed once, as its "  >> voicecoach:" line: not a second time as "(no speaker) ..." when
    # nothing can play it (--fast, or no sound device); the warning that prompts are shown as text still comes.
    speaker = app.make_speaker(config, output=spec.output, render_only=spec.render_only, on_text=lambda text: None)
    # The talk is generated, not the couple's: nothing of it goes into their journal (nor their report).
    live = Live.build(config, spec, clock=clock, on_line=show, speaker=speaker, journal=None, notes=None)
    print("(rendering the conversation...)", flush=True)
    audio, timeline = build_conversation(speaker.render)
    if args.save is not None:
        write_wav_output(args.save, audio)
    lines = describe(timeline, names)
    answers = ScriptedAnswers(demo_answers(), delay_s=0.0 if args.fast else 1.5, on_answer=lambda answer: print(
        f"(the couple says: {answer.replace('_', ' ').replace('yes', 'okay')})", flush=True))

    def narrate(frame) -> None:
        while lines and lines[0][0] <= frame.end_s:
            print(f"{lines.pop(0)[1]}", flush=True)

    live.on_frame(narrate)
    live.on_tick(lambda: answers.feed(live))
    wrap = (lambda src: src) if args.fast else PacedSource
    coach = live.router.coach

    def more(source_audio):
        return lambda pos: wrap(ArraySource(source_audio, config.audio.frame_ms, pos))

    def after_the_talk() -> None:
        """Skip the pause's 20 minutes, then let the pause end and the welcome-back question be answered."""
        if coach.state(clock.now()).pause_left_s is not None:
            live.speaker.wait(timeout_s=30.0)
            left = coach.state(clock.now()).pause_left_s or 0.0
            print(f"(fast-forward: the couple takes their {config.pause.length_min:g} minute pause)", flush=True)
            clock.offset += left + 0.1
        silence = np.zeros(int(SAMPLE_RATE * PAUSE_SILENCE_S), dtype=np.int16)
        for _ in range(4):
            if live.stop.is_set() or (not coach.busy and not live.speaker.busy()):
                break
            live.run(more(silence), live=False)

    with StopOnSignals(live.stop) as signals:
        live.run(more(audio), live=False)
        after_the_talk()
        live.stopped_by = signals.received
    summary = live.close()
    print(summary.text())
    return 0
