"""``voicecoach listen``: the live loop on a laptop (or anywhere with a microphone)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Callable

from ..errors import InputError
from . import DeviceOption, config_of, input_path, log_above, print_line

if TYPE_CHECKING:
    from ..audio.frames import Frame
    from ..notices import Notice

ORDER = 10
log = logging.getLogger(__name__)


# What --no-ui does to the keyboard, the same for listen and checkin (ui.KeyReader with single_keys=False).
NO_UI_KEYS = "answers typed as a word or key, then Enter (the terminal is left in its usual mode)"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``listen`` subcommand."""
    p = sub.add_parser("listen", parents=[common],
                       help="listen to a talk and offer the agreed pause (scripts/run's default)")
    add_device_args(p)
    p.add_argument("--no-ui", action="store_true", help=f"plain log lines instead of the live view; {NO_UI_KEYS}")
    p.add_argument("--file", metavar="WAV",  # a str: Path("") would be "." (then called a directory)
                   help="listen to a recording instead of the microphone (in real time); the journal is neither "
                        "read nor written")
    p.add_argument("--fast", action="store_true", help="with --file: as fast as possible (no real-time pacing)")
    p.set_defaults(func=run)


def add_device_args(p: argparse.ArgumentParser) -> None:
    """--input/--output device options."""
    p.add_argument("--input", metavar="DEV", action=DeviceOption, help="input device: index or part of its name")
    p.add_argument("--output", metavar="DEV", action=DeviceOption, help="output device: index or part of its name")


class ListenLines:
    """The lifecycle lines of ``listen``: listening once the microphone (or file) is open, waiting without one."""

    def __init__(self, say_line: Callable[[str], None], keys_help: str, listening_line: bool = True) -> None:
        self.say_line = say_line
        self.keys_help = keys_help
        self.listening_line = listening_line  # a check-in prints its keys itself and asks at once: no such line

    def notify(self, notice: Notice) -> None:
        """Print what the couple needs to know about the microphone."""
        from ..notices import MicLost, MicOpened, MicWaiting

        if isinstance(notice, MicOpened):
            if self.listening_line:
                self.say_line("voicecoach is listening. " + self.keys_help)
        elif isinstance(notice, MicWaiting):
            log.warning("waiting for a microphone: %s. Until one is there, the keys work (%s)", notice.reason,
                        self.keys_help)
        elif isinstance(notice, MicLost):
            log.warning("microphone lost (%s); reopening", notice.reason)


def run(args: argparse.Namespace) -> int:
    """Run the live loop until Ctrl-C, SIGTERM or SIGHUP (or the end of --file); print the summary."""
    from .. import app
    from ..journal.schema import TalkSource
    from ..runtime_live import Live, LiveSpec
    from ..ui import KEY_HELP, LiveView, can_redraw, single_keys_wanted

    file = None if args.file is None else input_path(args.file, "--file", "a WAV file's path, e.g. --file talk.wav")
    if args.fast and args.file is None:
        raise InputError("--fast needs --file (it reads a recording as fast as it can; a microphone is always "
                         "heard in real time)")
    if args.file is not None and args.input is not None:  # was: the device ignored without a word
        raise InputError(f"--input and --file both name what to listen to: give --file {args.file} alone to hear "
                         f"the recording, or --input {args.input} alone to hear that microphone")
    config = config_of(args)
    use_ui = not args.no_ui and can_redraw(sys.stdout)
    view = LiveView(names=(config.partners.a_name, config.partners.b_name)) if use_ui else None
    say_line = view.line if view else print_line
    spec = LiveSpec(TalkSource.LISTEN, input=args.input, output=args.output, file=file, fast=args.fast,
                    keys=True, single_keys=single_keys_wanted(args.no_ui))
    # A recording is not the couple's talk, as the kiosk's rehearsal is not their evening: its journal is neither
    # read nor written. Its unanswered suggestion, stored as tonight's, held the next live listen back for
    # [pause] snooze_min; its talk and events entered their report, dated now; "play my notes" said in it played
    # (and a "yes" deleted) their notes. What it would have stored is what it prints.
    replay = file is not None
    live = Live.build(config, spec, on_line=say_line, on_unspoken=lambda t: say_line(f"(not spoken) {t}"),
                      journal=None if replay else "open", notes=None if replay else "open")
    if file is not None:
        say_line(f"replaying {file.name}: the journal is neither read nor written")
    # once the talk can start (a command line refused above has not shown it); a replay shows it but leaves it to
    # be shown again at the couple's first live talk, which it was not
    notice = app.first_run_notice(remember=not replay)
    if notice:
        print(notice + "\n", file=sys.stderr)
    live.observe(ListenLines(say_line, KEY_HELP))
    if view is not None:
        session = live.session
        def redraw(frame: Frame) -> None:
            runner = session.router.runner
            view.draw(frame.end_s, session.pipeline.last, session.router.coach.state(session.clock.now()),
                      runner.state if runner is not None else None)

        live.on_frame(redraw)
    try:
        if view is None:
            summary = live.serve()
        else:
            with log_above(view):  # a warning gets its own line, the status line drawn again under it
                summary = live.serve()
    finally:
        if view is not None:
            view.close()
    print(summary.text(), flush=True)
    return 0
