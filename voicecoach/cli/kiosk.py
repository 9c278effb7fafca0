"""``voicecoach kiosk``: the headless, voice-only box (Raspberry Pi), run by the service manager.

It prints one ``voicecoach: <event>`` line per lifecycle event on stdout (for journalctl) and nothing per frame:
started, waiting for microphone, microphone open, microphone lost, ritual offered, ritual done / declined /
skipped, quiet hours begin / end, stopping, stopped. SIGTERM or SIGINT end it cleanly with exit code 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import datetime

from ..errors import InputError
from . import config_of

ORDER = 30
log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 5.0  # give up waiting for a hung speech engine on the way out


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``kiosk`` subcommand."""
    p = sub.add_parser("kiosk", parents=[common], help="headless, voice-only: listen always, offer scheduled rituals")
    p.add_argument("--input", metavar="DEV", help="input device: index or part of its name (default: config)")
    p.add_argument("--output", metavar="DEV", help="output device: index or part of its name (default: config)")
    # Rehearse the schedule: the kiosk's wall clock starts at this local time (tests, and trying a config out).
    p.add_argument("--pretend-time", metavar="YYYY-MM-DDTHH:MM[:SS]", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def emit(text: str) -> None:
    """One lifecycle line on stdout, flushed at once (the service manager's journal reads it)."""
    print(f"voicecoach: {text}", flush=True)


def _now_function(args: argparse.Namespace, clock):
    if not args.pretend_time:
        return datetime.now
    from ..kiosk import wall_clock_from

    try:
        start = datetime.fromisoformat(args.pretend_time)
    except ValueError:
        raise InputError(f"--pretend-time {args.pretend_time!r} is not a local time like 2026-11-23T21:29:50") from None
    return wall_clock_from(start, clock)


def run(args: argparse.Namespace) -> int:
    """Run the kiosk until SIGTERM / SIGINT."""
    from .. import app
    from ..clock import MonotonicClock
    from ..kiosk import Kiosk
    from ..runtime_loop import run_loop
    from .listen import open_source_factory

    config = config_of(args)
    args.file = None
    clock = MonotonicClock()
    kiosk = Kiosk(config.kiosk, _now_function(args, clock), clock, emit)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum, _frame) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    speaker = app.make_speaker(config, output=args.output,
                               on_text=lambda t: log.warning("could not speak out loud: %s", t))
    listener = _listener(app, config)
    journal = app.open_journal(config)
    session = kiosk.make_session(config, app.make_pipeline(config), speaker, listener, journal,
                                 _runner_factory(app, config), on_line=_session_line)
    try:
        run_loop(session, kiosk.wrap_opener(open_source_factory(config, args)), stop,
                 reopen_s=config.audio.reopen_s, on_frame=kiosk.on_frame)
    except KeyboardInterrupt:  # a second Ctrl-C before our handler was installed
        received.append("SIGINT")
    emit(f"stopping ({received[0] if received else 'end of input'})")
    _finish(session, speaker, journal)
    emit("stopped")
    return 0


def _listener(app, config):
    """The command listener; without a speech model it still hears the double clap."""
    try:
        listener = app.make_listener(config)
    except ImportError as exc:  # command recognition not installed in this build
        log.warning("spoken commands unavailable (%s): detection only", exc)
        return None
    if not getattr(listener, "has_model", True):
        log.warning("no speech model: answer with a double clap (yes), or stay silent (not now)")
    return listener


def _runner_factory(app, config):
    try:
        return app.runner_factory(config, offer_later=True)
    except ImportError as exc:  # check-ins not installed in this build
        log.warning("check-ins unavailable (%s): no rituals will be offered", exc)
        return None


def _session_line(line: str) -> None:
    """Prompts go to stdout as ``voicecoach: said: ...``; detector lines only to the debug log."""
    if line.startswith("voicecoach: "):
        emit("said: " + line[len("voicecoach: "):])
    else:
        log.debug("%s", line.strip())


def _finish(session, speaker, journal) -> None:
    """Store the talk, cut the speech, close the journal; never hang on a stuck speech engine."""
    try:
        summary = session.finish()
        log.info("%s", summary.text())
    except Exception as exc:  # noqa: BLE001 - shutting down: report and go on closing
        log.warning("could not finish the session cleanly: %s", exc)
    speaker.stop()
    closer = threading.Thread(target=speaker.close, name="voicecoach-speaker-close", daemon=True)
    closer.start()
    closer.join(CLOSE_TIMEOUT_S)
    if closer.is_alive():
        log.warning("the speech engine did not stop within %.0f s; leaving it", CLOSE_TIMEOUT_S)
    if journal is not None:
        try:
            journal.close()
        except Exception as exc:  # noqa: BLE001
            log.warning("closing the journal: %s", exc)

