"""The kiosk in its home: the page (``[web]``) and the hooks (``[hooks]``) plugged into the one live assembly.

:func:`attach` registers, on a built :class:`~voicecoach.runtime_live.Live`, what the config turns on: the hooks'
observer (counts-only events to the broker or a program), the page's live status and buttons, and a watch on the
config file so a schedule saved from the page (or by hand) reaches the kiosk without a restart. With both off it
registers nothing and opens nothing: the kiosk stays without a network socket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .config import Config, KioskSettings, load_config
from .errors import VoicecoachError

log = logging.getLogger(__name__)

WATCH_EVERY_S = 1.0  # how often the config file's time stamp is looked at
PAGE_RETRY_S = 30.0  # a page that could not listen (network not up at boot, port held) is tried again this often


@dataclass
class Home:
    """What :func:`attach` started; :meth:`close` stops it (after the loop ends)."""

    server: Any = None  # web.runtime.WebServer
    hooks: Any = None  # hooks.runtime.Hooks

    def close(self) -> None:
        """Stop the page and send the hooks' last events (each waits a few seconds at most)."""
        if self.server is not None:
            self.server.close()
        if self.hooks is not None:
            self.hooks.close()


class ScheduleWatch:
    """Notices a changed config file and hands the new ``[kiosk]`` schedule to the kiosk (on the loop thread)."""

    def __init__(self, path: Path, current: KioskSettings, reschedule: Callable[[KioskSettings], None],
                 clock: Callable[[], float]) -> None:
        from .web.schedule import file_stamp

        self.path = path
        self.current = current
        self.reschedule = reschedule
        self.clock = clock
        self._stamp = file_stamp(path)
        self._last_look = clock()

    def tick(self) -> None:
        """Look at the file at most once a second; reschedule when its ``[kiosk]`` table changed."""
        from .web.schedule import file_stamp

        now = self.clock()
        if now - self._last_look < WATCH_EVERY_S:
            return
        self._last_look = now
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            kiosk = load_config(self.path).kiosk if self.path.exists() else KioskSettings()
        except VoicecoachError as exc:  # a half-edited file: keep the schedule running, say why once
            log.warning("config changed but cannot be used, keeping the schedule as it was: %s", exc)
            return
        if kiosk != self.current:
            self.current = kiosk
            self.reschedule(kiosk)


def attach(live: Any, config: Config, config_path: Path, journal_path: Path, local_now: Callable[[], datetime],
           reschedule: Callable[[KioskSettings], None] | None = None, hooks: bool = True, page: bool = True,
           next_ritual: Callable[[], str] | None = None, wall: Callable[[], float] | None = None) -> Home:
    """Plug the page and the hooks the config turns on into ``live``; returns them for :meth:`Home.close`.
    ``hooks`` / ``page`` False leave them out whatever the config says (a rehearsal: not the couple's evening);
    ``next_ritual``: the running kiosk's own "next:" line, for the Now page; ``wall``: epoch seconds now for the
    hooks' events and "today" (a rehearsal's pretended time; None: the system's)."""
    home = Home()
    if config.hooks.enabled and hooks:
        from .clock import LocalTime
        from .hooks.observer import HookObserver
        from .hooks.runtime import Hooks

        home.hooks = Hooks(config.hooks, local=LocalTime() if wall is None else LocalTime(wall=wall)).start()
        live.observe(HookObserver(home.hooks))
    status = None
    from .web import missing_libraries

    missing = missing_libraries() if config.web.enabled and page else None
    if missing:  # an update added them and the set-up was not run again: the kiosk itself goes on
        log.warning("web: %s; the kiosk goes on without its page", missing)
    elif config.web.enabled and page:
        status = _page_status(live, config, journal_path, local_now)
        status.next_ritual = next_ritual
        make_server = _page_maker(live, config, config_path, journal_path, local_now, status)
        home.server = _try_page(make_server, config, first=True)
        if home.server is None:  # e.g. the network not up yet at boot, or the port still held: tried again
            live.on_tick(_page_retry(home, make_server, config, live.session.clock.now))
    if reschedule is not None:
        def rescheduled(kiosk: KioskSettings) -> None:
            reschedule(kiosk)
            if status is not None:
                status.kiosk = kiosk  # the Now page shows the schedule the kiosk now runs

        watch = ScheduleWatch(config_path, config.kiosk, rescheduled, live.session.clock.now)
        live.on_tick(watch.tick)
    return home


def _page_status(live: Any, config: Config, journal_path: Path, local_now: Callable[[], datetime]) -> Any:
    """The page's live status (web.status.LiveStatus), observing ``live`` from now on, page or not."""
    from .audio.playback import NullSink
    from .web.status import LiveStatus

    status = LiveStatus(config, journal_path, local_now,
                        speaker_ok=lambda: not isinstance(getattr(live.speaker, "sink", None), NullSink))
    live.observe(status)
    return status


def _page_maker(live: Any, config: Config, config_path: Path, journal_path: Path,
                local_now: Callable[[], datetime], status: Any) -> Callable[[], Any]:
    """A function that builds the page's server (web.runtime.WebServer, not yet serving); OSError when it cannot."""
    from .commands import Command, Source
    from .web.app import JournalAccess
    from .web.runtime import LiveControls, WebServer, build_context

    if config.web.needs_pairing:
        live.on_command(Command.PAIRING_CODE, lambda: spoken_pairing_code(config))
    microphone_open = lambda: status.status().parts[0].level.value == "ok"  # noqa: E731
    controls = LiveControls(lambda: live.submit(Command.PAUSE, Source.WEB), live.start_checkin,
                            lambda: live.idle, microphone_open)

    def make() -> Any:
        return WebServer(build_context(config, config_path, JournalAccess(journal_path, live.journal), status,
                                       controls, local_now))

    return make


def _try_page(make_server: Callable[[], Any], config: Config, first: bool) -> Any:
    """The page's server, serving; None when it cannot listen yet (said once, on the ``first`` try)."""
    from .web.runtime import cannot_serve

    try:
        server = make_server()
    except OSError as exc:
        if first:
            log.warning("web: %s; the kiosk goes on without its page and tries again every %.0f s",
                        cannot_serve(exc, config.web.address, config.web.port, "[web] port"), PAGE_RETRY_S)
        return None
    if not first:
        log.warning("web: the page could listen after all; it is up now")
    return server.start()


def _page_retry(home: Home, make_server: Callable[[], Any], config: Config,
                clock: Callable[[], float]) -> Callable[[], None]:
    """A tick hook that tries to start the page every ``PAGE_RETRY_S`` until it serves."""
    last = [clock()]

    def retry() -> None:
        if home.server is not None or clock() - last[0] < PAGE_RETRY_S:
            return
        last[0] = clock()
        home.server = _try_page(make_server, config, first=False)

    return retry


def spoken_pairing_code(config: Config) -> str:
    """A new pairing code, as the kiosk says it when asked ("pairing code"): digit by digit, twice."""
    from .web.runtime import new_pairing_code

    try:
        code = new_pairing_code(config.web)
    except VoicecoachError as exc:  # the data folder read-only or full: said, and the kiosk goes on
        log.warning("web: %s", exc)
        return "Sorry, I could not make a pairing code: the kiosk cannot write its data folder."
    digits = ", ".join(" ".join(part) for part in (code[:3], code[3:]))
    minutes = f"{config.web.code_valid_min:g}"
    return (f"Your pairing code for the home page is: {digits}. Again: {digits}. "
            f"It works once, for {minutes} minutes.")
