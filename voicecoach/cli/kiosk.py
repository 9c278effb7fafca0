"""``voicecoach kiosk``: the headless, voice-only box (Raspberry Pi), run by the service manager.

It prints one ``voicecoach: <event>`` line per lifecycle event on stdout (for journalctl) and nothing per frame:
started, waiting for microphone, microphone open, microphone lost, ritual offered, ritual done / declined /
skipped / failed, quiet hours begin / end, said: <prompt>, stopping, stopped; rehearsal from ... with
``--pretend-time`` (and on a refused settings file: its error line at once on stderr, then said: or
could not say it out loud:, before exit 2). SIGTERM, SIGINT or SIGHUP end it
cleanly with exit code 0. It never exits on an error it can survive: a broken user script is reported once and
skipped, a failing check-in is ended, a lost microphone is waited for.

A settings file it cannot use is the one error it cannot survive (exit 2, one line): nobody reads that line on a
box without a screen, so the kiosk first says out loud, once, that its settings need fixing
(:data:`SETTINGS_PROBLEM`, with the default voice, bounded in time), and the service does not start it again
(``RestartPreventExitStatus=2``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..errors import InputError
from . import DeviceOption, config_of

ORDER = 30
log = logging.getLogger(__name__)
SETTINGS_PROBLEM = ("voicecoach can't start: there is a problem in its settings file. Run voicecoach check on the "
                    "computer to see it.")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``kiosk`` subcommand."""
    p = sub.add_parser("kiosk", parents=[common], help="headless, voice-only: listen always, offer scheduled rituals")
    p.add_argument("--input", metavar="DEV", action=DeviceOption,
                   help="input device: index or part of its name (default: config)")
    p.add_argument("--output", metavar="DEV", action=DeviceOption,
                   help="output device: index or part of its name (default: config)")
    p.add_argument("--pretend-time", metavar="YYYY-MM-DDTHH:MM[:SS]",
                   help="rehearse the schedule: the kiosk's clock starts at this local time and runs at normal speed "
                        "(e.g. 2026-11-23T21:29:50); the journal is neither read nor written, no hook is sent and "
                        "the page is off")
    p.add_argument("--with-hooks", action="store_true",
                   help="with --pretend-time: send the hooks ([hooks]) as the kiosk would; a rehearsal's pretend "
                        "events then reach your home automation")
    p.set_defaults(func=run)


def emit(text: str) -> None:
    """One lifecycle line on stdout, flushed at once (the service manager's journal reads it)."""
    print(f"voicecoach: {text}", flush=True)


def _now_function(args: argparse.Namespace, clock):
    if not args.pretend_time:
        from ..clock import LocalTime

        return LocalTime().now  # follows a time zone set while the kiosk runs (datetime.now keeps the first)
    from ..kiosk import wall_clock_from

    try:
        start = datetime.fromisoformat(args.pretend_time)
    except ValueError:
        raise InputError(f"--pretend-time {args.pretend_time!r} is not a local time like 2026-11-23T21:29:50") from None
    return wall_clock_from(start, clock)


def run(args: argparse.Namespace) -> int:
    """Run the kiosk until SIGTERM, SIGINT or SIGHUP."""
    from ..clock import MonotonicClock, suspend_counting_clock
    from ..journal.schema import TalkSource
    from ..kiosk import Kiosk
    from ..runtime_live import Live, LiveSpec

    if args.with_hooks and not args.pretend_time:  # the kiosk itself always sends them: an option with no effect
        raise InputError("--with-hooks is for a rehearsal (with --pretend-time); the kiosk always sends the hooks "
                         "[hooks] sets up: leave out --with-hooks")
    config = _config_or_say_why(args)
    if config is None:
        return InputError.exit_code  # its line was written at once (_config_or_say_why), not again at exit
    from ..app import config_problems
    from ..lognotes import DropNoticed

    for handler in logging.getLogger().handlers:  # a fact a lifecycle line below says is not logged again
        handler.addFilter(DropNoticed())
    for problem in config_problems(config):  # config check refuses these; the kiosk still pauses, so it goes on
        log.warning("%s (the kiosk goes on without it; fix it, then see: voicecoach check)", problem)
    clock = MonotonicClock()
    kiosk = Kiosk(config.kiosk, _now_function(args, clock), clock, emit,
                  booted_s=None if args.pretend_time else suspend_counting_clock())  # CLOCK_BOOTTIME: since boot
    spec = LiveSpec(TalkSource.KIOSK, input=args.input, output=args.output, offer_later=True, finish_speech_s=0.0,
                    wait_for_device=True, resilient=True)
    # A rehearsal (--pretend-time) is not the couple's evening, as the demo is not their talk: its journal is neither
    # read (check-ins the couple did after the pretended day held every ritual back: nothing was offered) nor written
    # (its check-ins were counted in their report, and its "ask again at" was kept by the service after a restart).
    rehearsal = bool(args.pretend_time)
    live = Live.build(config, spec, clock=clock, on_line=lambda line: log.debug("%s", line.strip()),
                      on_unspoken=lambda t: log.warning("could not speak out loud: %s", t),
                      journal=None if rehearsal else "open", notes=None if rehearsal else "open")
    if rehearsal:
        emit(f"rehearsal from {kiosk.now():%a %d %b %H:%M:%S}: {_rehearsal_leaves(config, args.with_hooks)}")
    kiosk.attach(live)
    # Nor does a rehearsal reach the home: its pretend events (a "checkin_due" at a pretended 21:30, its "online"
    # and "offline") went to Home Assistant and the program as the real kiosk's; --with-hooks sends them, to rehearse
    # an automation. The page is off: its Journal and Report tabs are the couple's journal (an erase from it would
    # reach their real one), its Now tab would show the pretended evening on the phones as if it were theirs, and a
    # pairing code it said would be kept in the data folder; its Rituals tab has a rehearsal of its own.
    home = _home(args, config, live, kiosk, hooks=not rehearsal or args.with_hooks, page=not rehearsal)
    try:
        summary = live.serve(on_stopping=lambda why: emit(f"stopping ({why})"))
    finally:
        home.close()
    log.info("%s", summary.text())
    emit("stopped")
    return 0


def _rehearsal_leaves(config: Config, with_hooks: bool) -> str:
    """What a rehearsal leaves alone, for its first line."""
    if not with_hooks:
        hooks = "no hook is sent (--with-hooks sends them)"
    elif config.hooks.enabled:
        hooks = "the hooks are sent (--with-hooks)"
    else:
        hooks = "no hook is set up to send ([hooks] mqtt and command unset)"
    return f"the journal is neither read nor written, {hooks} and the page is off"


def _config_or_say_why(args: argparse.Namespace) -> Config | None:
    """The config; or None for one refused (an :class:`InputError`): its error line is written at once, naming the
    problem and the fix (it came only at exit, hours later on a box waiting out the quiet hours, so
    ``journalctl -u voicecoach`` said nothing of it meanwhile), then it is said out loud (exit 2 follows)."""
    try:
        return config_of(args)
    except InputError as exc:
        from ..speech.announce import say_bounded

        log.debug("the settings file was refused", exc_info=True)
        again = ", then: sudo systemctl restart voicecoach" if os.environ.get("INVOCATION_ID") else \
            ", then start the kiosk again"  # INVOCATION_ID: systemd runs it as a service
        print(f"voicecoach: error: cannot start: {exc}; fix it{again}", file=sys.stderr, flush=True)
        if _wait_out_quiet_hours(args):  # stopped meanwhile (systemctl stop): nothing said at night
            return None
        said = say_bounded(SETTINGS_PROBLEM, output=args.output if args.output is not None else _raw_output(args))
        emit(f"said: {SETTINGS_PROBLEM}" if said.spoken else f"could not say it out loud: {said.reason}")
        return None


def _wait_out_quiet_hours(args: argparse.Namespace) -> bool:
    """In the quiet hours the refused file names (or the default ones), wait for their end before saying so out
    loud: a box restarted at night (a power cut, a reboot) said it at 3 in the morning. The clock is asked every
    second, so a Pi whose clock is set at boot goes by the right time; SIGTERM or SIGHUP ends the wait (systemctl
    stop: True, and nothing is said)."""
    from ..clock import MonotonicClock
    from ..config import KioskSettings
    from ..kiosk import RitualScheduler
    from ..early_signals import early_stop_signal

    kiosk, default = _raw_table(args, "kiosk"), KioskSettings()
    start, end = (kiosk.get(key, getattr(default, key)) for key in ("quiet_start", "quiet_end"))
    try:
        if not isinstance(start, str) or not isinstance(end, str):
            raise ValueError("not a time")
        scheduler = RitualScheduler(KioskSettings(nightly_time="", weekly_day="", quiet_start=start, quiet_end=end))
    except ValueError:  # a quiet time the file writes wrongly: the default quiet hours
        scheduler = RitualScheduler(KioskSettings(nightly_time="", weekly_day=""))
    clock = MonotonicClock()
    try:
        now = _now_function(args, clock)
    except InputError:  # a bad --pretend-time: the settings file's error is the one to report
        return bool(early_stop_signal())
    if not scheduler.in_quiet_hours(now()):
        return bool(early_stop_signal())
    emit(f"quiet hours now ({scheduler.describe().removeprefix('no rituals scheduled, ')}): it says so out loud "
         "when they end")
    while scheduler.in_quiet_hours(now()) and not early_stop_signal():
        clock.sleep(1.0)  # a signal is seen within a second
    return bool(early_stop_signal())


def _raw_table(args: argparse.Namespace, name: str) -> dict:
    """Table ``name`` of the settings file as written, if it can be read at all (the file was refused)."""
    from .. import paths
    from ..settings import tomllib

    try:
        file = Path(args.config) if getattr(args, "config", None) else paths.config_file()
        table = tomllib.loads(file.read_bytes().decode("utf-8-sig")).get(name, {})
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        return {}
    return table if isinstance(table, dict) else {}


def _raw_output(args: argparse.Namespace) -> str | None:
    """``[audio] output`` as the refused settings file writes it, if it can be read at all (a speaker reachable
    only by its name is where the couple listens); None: the default device."""
    output = _raw_table(args, "audio").get("output")
    return str(output) if isinstance(output, (str, int)) and not isinstance(output, bool) and str(output) else None


def _home(args: argparse.Namespace, config, live, kiosk, hooks: bool, page: bool):  # noqa: ANN001, ANN202
    """The page and hooks the config turns on ([web], [hooks]) unless ``page`` / ``hooks`` are False; a watch on the
    config file for the schedule. (config, live, kiosk, the result: Config, Live, Kiosk, Home.)"""
    from ..home import attach
    from ..journal.files import path_for
    from .web import config_path

    # a rehearsal's events are stamped with the time it pretends (was the real one: a "checkin_due" at a pretended
    # 21:30 said it was sent at 14:02, and "today"'s counts began again on the real day)
    wall = (lambda: kiosk.now().timestamp()) if args.pretend_time else None
    return attach(live, config, config_path(args), path_for(config.journal.file), kiosk.now,
                  reschedule=kiosk.reschedule, hooks=hooks, page=page, next_ritual=lambda: kiosk.next_line,
                  wall=wall)
