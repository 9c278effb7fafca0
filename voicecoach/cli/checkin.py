"""``voicecoach checkin [NAME]``: a timed check-in, talked through hands-free."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from ..errors import InputError
from . import config_of
from .listen import add_device_args, open_source_factory

ORDER = 12


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``checkin`` subcommand."""
    p = sub.add_parser("checkin", parents=[common], help="run a check-in ritual (nightly, weekly, repair, ...)")
    p.add_argument("name", nargs="?", default="nightly", help="script name (see: voicecoach scripts list)")
    add_device_args(p)
    p.add_argument("--answers", metavar="LIST",
                   help="comma-separated scripted answers (yes,next,not_now,-,!interrupt,...) instead of listening")
    p.add_argument("--to", metavar="FILE.wav", type=Path,
                   help="with --answers: rehearse offline, rendering every prompt into this WAV (in seconds)")
    p.add_argument("--no-ui", action="store_true", help="plain lines instead of the live view")
    p.set_defaults(func=run, file=None, fast=False)


def run(args: argparse.Namespace) -> int:
    """Run the check-in live, or rehearse it offline with scripted answers."""
    from .. import app

    config = config_of(args)
    make_runner = app.runner_factory(config)
    runner = make_runner(args.name)  # unknown or broken script: one-line InputError before anything starts
    if args.to is not None:
        if args.answers is None:
            raise InputError("--to needs --answers (the scripted answers for an offline rehearsal)")
        return _rehearse(config, runner, args)
    return _live(config, make_runner, args)


def _rehearse(config, runner, args) -> int:
    from ..audio.wav import write_wav
    from ..rehearse import rehearse

    answers = [a.strip() for a in args.answers.split(",") if a.strip()]
    speaker = app_speaker_for_render(config)
    try:
        result = rehearse(runner, answers, render=speaker.render, on_line=lambda line: print(line, flush=True))
    finally:
        speaker.close()
    try:
        write_wav(args.to, result.audio)
    except OSError as exc:
        raise InputError(f"cannot write {args.to}: {exc.strerror}") from None
    print(f"rehearsed {args.name}: {result.duration_s / 60:.1f} min of session time, "
          f"{len(result.lines)} lines; audio in {args.to}")
    return 0


def app_speaker_for_render(config):
    """A Speaker used only to render prompts (no device needed)."""
    from .. import app

    return app.make_speaker(config, render_only=True)


def _live(config, make_runner, args) -> int:
    from .. import app
    from ..runtime import Session
    from ..rehearse import ScriptedAnswers
    from ..runtime_loop import run_loop

    speaker = app.make_speaker(config, output=args.output, on_text=lambda t: print(f"(not spoken) {t}", flush=True))
    listener = app.make_listener(config)
    session = Session(config, app.make_pipeline(config), speaker, listener, app.open_journal(config),
                      source_name="checkin", runner_factory=make_runner,
                      on_line=lambda line: print(line, flush=True))
    answers = [a.strip() for a in (args.answers or "").split(",") if a.strip()]
    scripted = ScriptedAnswers(answers, on_answer=lambda a: print(f"(answer: {a.replace('_', ' ')})", flush=True))
    stop = threading.Event()
    started = threading.Event()

    def on_frame(frame) -> None:
        if session.runner is None and started.is_set() and not speaker.busy():
            stop.set()  # the check-in ended
        scripted.feed(session)

    if not answers:
        from ..ui import KeyReader

        KeyReader(session.submit_command, single_keys=sys.stdin.isatty()).start()
    session.start_checkin(args.name)
    started.set()
    try:
        run_loop(session, open_source_factory(config, args), stop, reopen_s=config.audio.reopen_s,
                 on_frame=on_frame)
    except KeyboardInterrupt:
        pass
    finally:
        summary = session.finish()
        speaker.wait(timeout_s=10.0)
        speaker.close()
    print(summary.text())
    return 0
