"""``voicecoach web``: the kiosk's page on its own (report, rituals, journal), or ``--pair`` for a pairing code.

The page also starts with the kiosk when ``[web] enabled = true``; run on its own it shows what can be known
without the kiosk and its Now buttons are off. It listens on ``[web] address`` (127.0.0.1: this computer only);
on any other address, or with ``pairing = "always"``, a browser must pair with a one-time code first.
"""

from __future__ import annotations

import argparse
import logging
import threading
from dataclasses import replace
from pathlib import Path

from ..errors import InputError, VoicecoachError
from . import config_of

ORDER = 62
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``web`` subcommand."""
    p = sub.add_parser("web", parents=[common], help="the kiosk's own page: report, rituals, journal (local)")
    p.add_argument("--port", type=int, metavar="N", help="port to listen on (default: [web] port, 8470)")
    p.add_argument("--pair", action="store_true",
                   help="show a one-time pairing code for a phone, then exit (the page may be running)")
    p.add_argument("--forget-browsers", action="store_true",
                   help="unpair every browser that paired before, then exit")
    p.set_defaults(func=run)


def config_path(args: argparse.Namespace) -> Path:
    """The config file the page edits (``--config`` or the user's default file)."""
    from .. import paths

    explicit = getattr(args, "config", None)
    return Path(explicit) if explicit else paths.config_file()


def run(args: argparse.Namespace) -> int:
    """Show a pairing code, forget the browsers, or serve the page until Ctrl-C, SIGTERM or SIGHUP."""
    from ..web import missing_libraries

    missing = missing_libraries()
    if missing:
        raise VoicecoachError(missing)
    from ..web.runtime import new_pairing_code
    from ..web.security import session_secret

    config = config_of(args)
    settings = config.web
    if args.port is not None:
        if not 1024 <= args.port <= 65535:
            raise InputError(f"--port {args.port}: choose a port from 1024 to 65535")
        settings = replace(settings, port=args.port)
    if args.pair:
        code = new_pairing_code(settings)
        print(f"Pairing code: {code[:3]} {code[3:]}  (works once, for {settings.code_valid_min:g} minutes)")
        if not settings.needs_pairing:
            print(f"(The page listens on {settings.address} only, so this computer's browser needs no code; set "
                  f"[web] address to pair a phone.)")
        return 0
    if args.forget_browsers:
        try:
            session_secret(rotate=True)
        except OSError as exc:
            from .. import paths
            from ..web.runtime import cannot_store

            raise VoicecoachError(cannot_store(paths.data_dir(), "a new session key", exc)) from None
        print("Every browser that paired before must pair again (a running page needs a restart to notice).")
        return 0
    return _serve(args, config, settings)


def _serve(args: argparse.Namespace, config, settings) -> int:  # noqa: ANN001 - Config, WebSettings
    from ..journal.files import path_for
    from ..web.app import JournalAccess
    from ..web.runtime import WebServer, build_context, cannot_serve
    from ..web.status import OfflineStatus

    from ..clock import LocalTime

    journal = path_for(config.journal.file)
    path = config_path(args)
    local_now = LocalTime().now  # the page and its status follow a time zone set while it runs
    try:
        server = WebServer(build_context(config, path, JournalAccess(journal), OfflineStatus(path, journal, local_now),
                                         None, local_now=local_now, settings=settings))
    except OSError as exc:
        raise VoicecoachError(cannot_serve(exc, settings.address, settings.port, "--port or [web] port")) from None
    from ..stop_signals import StopOnSignals
    from ..web.runtime import where

    stop = threading.Event()
    with StopOnSignals(stop):  # SIGINT, SIGTERM and SIGHUP (was exit 129 without a word) end it with its line
        print(f"voicecoach: the page is at {where(settings.address, server.port)}"
              + (" (pairing needed: voicecoach web --pair)" if settings.needs_pairing else ""), flush=True)
        server.serve_forever(stop)
    print("voicecoach: page stopped", flush=True)
    return 0
