"""The page's server thread (waitress, pure Python) and its live link to the kiosk: threads and the wall clock.

:class:`WebServer` serves the Flask app on ``[web] address:port`` from one thread (waitress's own loop, run in
short slices so :meth:`WebServer.close` ends it within half a second) with two worker threads for requests, a
body-size limit, and idle connections closed after 30 s.

:class:`LiveControls` carries the Now page's buttons into the kiosk through the live assembly's thread-safe entry
points (the work itself runs on the loop's thread): "pause now" is the spoken "pause" (the same command, the same
flow); "start a check-in" asks for consent first, like a scheduled ritual.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..config import Config
from ..errors import VoicecoachError
from .app import JournalAccess, WebContext, create_app
from .rehearsal import Rehearsals
from .security import PairingCodes, RateLimit, session_secret
from .settings import WebSettings
from .status import Controls, StatusSource

log = logging.getLogger(__name__)

SLICE_S = 0.5
WORKER_THREADS = 2
IDLE_CONNECTION_S = 30


def build_context(config: Config, config_path: Path, journal: JournalAccess, status: StatusSource,
                  controls: Controls | None, local_now: Callable[[], datetime] = datetime.now,
                  on_schedule_saved: Callable[[Config], None] | None = None,
                  settings: WebSettings | None = None) -> WebContext:
    """Everything the page needs, with the real clocks and the secrets from the data folder."""
    settings = settings or config.web
    return WebContext(config_path=config_path, journal=journal, settings=settings, status=status,
                      controls=controls, codes=PairingCodes(), secret=session_secret(), wall=time.time,
                      local_now=local_now, rehearsals=Rehearsals(config), pair_limit=RateLimit(),
                      on_schedule_saved=on_schedule_saved)


class WebServer:
    """The page, served by waitress on its own thread."""

    def __init__(self, ctx: WebContext) -> None:
        """Listen on ``[web] address:port`` (OSError when it cannot: then nothing is left running)."""
        from waitress import create_server
        from waitress.task import ThreadedTaskDispatcher

        self.ctx = ctx
        s = ctx.settings
        self.app = create_app(ctx)
        # waitress starts its worker threads before it binds, and a failed bind left them running for good: 2 more
        # threads on every try of a kiosk whose port was held (it tries every 30 s). Its dispatcher is made here
        # (waitress's own parameter for that) so that a failed listen stops them again.
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(WORKER_THREADS)
        try:
            self.server = create_server(self.app, host=s.address, port=s.port, threads=WORKER_THREADS,
                                        max_request_body_size=s.max_body_kb * 1024,
                                        channel_timeout=IDLE_CONNECTION_S, connection_limit=32, ident="voicecoach",
                                        clear_untrusted_proxy_headers=True, expose_tracebacks=False,
                                        _dispatcher=dispatcher)
        except BaseException:
            dispatcher.shutdown(cancel_pending=True, timeout=2)
            raise
        self.port = int(self.server.effective_port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="voicecoach-web", daemon=True)

    def _serve(self) -> None:
        from waitress import wasyncore

        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=SLICE_S, map=self.server._map, count=1)
        finally:
            self.server.task_dispatcher.shutdown(timeout=2)
            wasyncore.close_all(self.server._map)

    def start(self, announce: bool = True) -> "WebServer":
        """Serve from a background thread; ``announce``: log where the page is at INFO (the kiosk), else at DEBUG
        (``voicecoach web`` prints it itself: it was on stdout and stderr both)."""
        self._thread.start()
        log.log(logging.INFO if announce else logging.DEBUG, "web: the page is at %s",
                where(self.ctx.settings.address, self.port))
        return self

    def serve_forever(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set (the ``voicecoach web`` command's main thread waits here; it says where the
        page is itself)."""
        self.start(announce=False)
        while not stop.wait(SLICE_S):
            pass
        self.close()

    def close(self) -> None:
        """Stop serving (within about half a second) and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.ctx.rehearsals.close()
        self.ctx.journal.close()


def new_pairing_code(settings: WebSettings) -> str:
    """A new one-time pairing code, valid from now for ``settings.code_valid_min`` minutes (only its hash is kept).

    A data folder where it cannot be stored (read-only, full, a file) raises :class:`VoicecoachError`, one line."""
    codes = PairingCodes()
    try:
        return codes.new_code(time.time(), settings.code_valid_min)
    except OSError as exc:
        raise VoicecoachError(cannot_store(codes.path.parent, "the pairing code", exc)) from None


def cannot_store(folder: Path, what: str, exc: OSError) -> str:
    """One line for a web file (``what``: the pairing code, the session key) that could not be written in
    ``folder``, the data folder, with its fix."""
    return (f"cannot store {what} in {folder} ({exc.strerror or exc}); it must be a folder this user can write, "
            f"on a disk with free space (or set VOICECOACH_DATA_DIR to one)")


def waiting_code_minutes() -> float | None:
    """Minutes the waiting pairing code still works (None: no code waiting), read now."""
    return PairingCodes().minutes_left(time.time())


def try_listen(address: str, port: int) -> None:
    """Bind ``address:port`` as the page would and let go at once; OSError (e.g. EADDRINUSE) when it cannot."""
    flags = socket.AI_PASSIVE | (0 if address == "localhost" else socket.AI_NUMERICHOST)
    family, kind, proto, _, where_to = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=flags)[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: a closed page's port is free
        sock.bind(where_to)


def cannot_serve(exc: OSError, address: str, port: int, port_fix: str) -> str:
    """Why the page could not start, as one line with its fix: one of its own files (the session key) could not be
    used, the port is taken (``port_fix``: where to choose another port), or the address is not this computer's."""
    if exc.filename:  # one of the page's own files (its session key), not the address
        return (f"cannot use {exc.filename} ({exc.strerror or exc}); move it aside (a new one is made, and browsers "
                f"pair again) and start the page again")
    why = f"cannot listen on {address}:{port} ({exc.strerror or exc})"
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        return f"{why}; choose another port with {port_fix}"
    # EADDRNOTAVAIL (an address this computer does not have, e.g. one the router has since given to another
    # device), EAFNOSUPPORT (IPv6 turned off): another port would not help
    return (f"{why}; set [web] address to 127.0.0.1 (this computer only), 0.0.0.0 (every network) or one of this "
            f"computer's addresses (ip -brief address)")


def where(address: str, port: int) -> str:
    """Where to open the page: a URL, and for an address on every network the box's own name."""
    if address in ("0.0.0.0", "::"):
        return (f"http://{socket.gethostname()}.local:{port}/ from a phone on the same network "
                f"(or http://<this box's address>:{port}/)")
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/"


class LiveControls:
    """The Now page's buttons for the kiosk running in this process (each call is thread-safe)."""

    def __init__(self, pause: Callable[[], None], start_checkin: Callable[[str], None], free: Callable[[], bool],
                 microphone_open: Callable[[], bool]) -> None:
        self._pause = pause
        self._start_checkin = start_checkin
        self._free = free
        self._microphone_open = microphone_open

    def pause_now(self) -> str:
        """The spoken "pause", from the page (the same command, the same flow)."""
        self._pause()
        return "The box is starting the pause you agreed on." if self._microphone_open() else \
            "The box starts the pause as soon as its microphone is back."

    def start_checkin(self, name: str) -> str:
        """Offer check-in ``name`` now, if nothing else is under way (consent is asked first)."""
        if not self._free():
            return "The box is busy (a pause, a check-in or a question is under way); try again afterwards."
        self._start_checkin(name)
        return f"The box is offering the {name} check-in: it asks you both first whether now is a good time."
