"""``voicecoach listen``: the live loop on a laptop (or anywhere with a microphone)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from . import config_of

ORDER = 10
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``listen`` subcommand."""
    p = sub.add_parser("listen", parents=[common], help="listen to a talk and offer the agreed pause (default)")
    add_device_args(p)
    p.add_argument("--no-ui", action="store_true", help="plain log lines instead of the live view")
    p.add_argument("--file", metavar="WAV", help="listen to a recording instead of the microphone (in real time)")
    p.add_argument("--fast", action="store_true", help="with --file: as fast as possible (no real-time pacing)")
    p.set_defaults(func=run)


def add_device_args(p: argparse.ArgumentParser) -> None:
    """--input/--output device options."""
    p.add_argument("--input", metavar="DEV", help="input device: index or part of its name")
    p.add_argument("--output", metavar="DEV", help="output device: index or part of its name")


def open_source_factory(config, args):
    """A function(position) -> FrameSource for the microphone or ``--file``."""
    if getattr(args, "file", None):
        from ..audio.wav import WavSource, read_header
        from ..runtime_loop import PacedSource

        read_header(args.file)  # fail early with a one-line error

        def open_file(position: int):
            src = WavSource(args.file, frame_ms=config.audio.frame_ms)
            return src if args.fast else PacedSource(src)

        return open_file
    from ..audio.device import MicSource

    device = args.input if args.input is not None else (config.audio.input or None)

    def open_mic(position: int):
        return MicSource(device, frame_ms=config.audio.frame_ms, queue_blocks=config.audio.queue_frames,
                         start_sample=position).open()

    return open_mic


def run(args: argparse.Namespace) -> int:
    """Run the live loop until Ctrl-C (or the end of --file)."""
    from .. import app
    from ..runtime import Session
    from ..runtime_loop import run_loop
    from ..ui import KEY_HELP, KeyReader, LiveView

    config = config_of(args)
    notice = app.first_run_notice()
    if notice:
        print(notice + "\n", file=sys.stderr)
    use_ui = not args.no_ui and sys.stdout.isatty()
    view = LiveView(names=(config.partners.a_name, config.partners.b_name)) if use_ui else None
    say_line = view.line if view else (lambda text: print(text, flush=True))
    open_source = open_source_factory(config, args)
    speaker = app.make_speaker(config, output=args.output, on_text=lambda t: say_line(f"(not spoken) {t}"))
    listener = app.make_listener(config)
    journal = app.open_journal(config)
    session = Session(config, app.make_pipeline(config), speaker, listener, journal, source_name="listen",
                      runner_factory=_factory_or_none(app, config), on_line=say_line,
                      notes=app.make_notes(config, journal))
    keys = KeyReader(session.submit_command, single_keys=use_ui).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    say_line("voicecoach is listening. " + KEY_HELP)
    on_frame = None
    if view is not None:
        on_frame = lambda frame: view.draw(frame.end_s, session.pipeline, session.coach.state(session.clock.now()),
                                           session.runner)
    try:
        run_loop(session, open_source, stop, reopen_s=config.audio.reopen_s, on_frame=on_frame,
                 live=not args.file)
    except KeyboardInterrupt:
        pass
    finally:
        keys.stop()
        if view:
            view.close()
        summary = session.finish()
        speaker.wait(timeout_s=10.0)
        speaker.close()
    print(summary.text(), flush=True)
    return 0


def _factory_or_none(app, config):
    try:
        return app.runner_factory(config)
    except ImportError:  # check-ins not installed in this build
        return None
