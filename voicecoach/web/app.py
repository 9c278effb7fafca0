"""The page's Flask application: the guards every request passes, and the error pages.

Every request: the Host must name this computer when the page listens on loopback (no DNS rebinding); a request
body over ``[web] max_body_kb`` is refused (413); where pairing is needed (``WebSettings.needs_pairing``) nothing
but the pairing form is served to a browser without the paired session cookie (pages redirect to it, the API
answers 401); every POST must carry the session's CSRF token and, when the browser says where it comes from, come
from this page's own origin. Session cookies are signed (Flask), HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from flask import Flask, abort, jsonify, redirect, render_template, request, session, url_for

from ..config import Config
from ..errors import VoicecoachError
from .rehearsal import Rehearsals
from .security import PairingCodes, RateLimit, host_allowed, new_token, origin_allowed, same_token
from .settings import WebSettings
from .status import ConfigUnusable, Controls, StatusSource, current_config

log = logging.getLogger(__name__)

OPEN_ENDPOINTS = ("pages.pair", "pages.pair_post")  # served to a browser that has not paired


class JournalAccess:
    """The journal the page reads and erases: the kiosk's own open journal (one connection, thread-safe; it follows
    its path too, see :meth:`~voicecoach.journal.store.Journal.follow_path`), or for
    ``voicecoach web`` alone the file at ``path``, opened the first time it is needed and kept open while it is
    the same file. A page that only reads never creates a journal.

    Every request looks at the file again: one moved aside, replaced (a backup restored over it, ``mv`` of another
    journal) or copied over since it was opened is closed and the file now at ``path`` opened, so the page never
    shows a journal that is no longer the configured one. One that is gone is said on the page (put it back, or a
    talk starts a new one), not shown as an empty journal."""

    def __init__(self, path: Path, shared: Any = None) -> None:
        self.path = path
        self._shared = shared
        self._own: Any = None
        self._opened: tuple[int, ...] | None = None  # the identity of the file _own has open
        self._lost = False  # a journal was open and its file has gone from ``path``
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The open journal, or None when there is none yet; JournalUnavailable once the journal that was open
        has gone from its path (until a file is there again)."""
        if self._shared is not None:
            self._shared.follow_path()  # the kiosk's: it too takes the file now at its path (and writes there)
            return self._shared
        from ..journal.files import JournalUnavailable, file_identity
        from ..journal.store import Journal

        # file_identity changes after each of a writing kiosk's commits (each is copied into the main file at once):
        # a page beside it reopens the journal a few times a minute in a heated talk, never per request
        with self._lock:
            here = file_identity(self.path)
            if self._own is not None and here != self._opened:
                self._own.close()  # before the new file is opened: nothing of the old one lingers
                self._own, self._opened = None, None
                self._lost = here is None
                log.info("web: the journal at %s was %s since the page opened it", self.path,
                         "moved or deleted" if here is None else "replaced; the page reads the file there now")
            if here is None:
                if self._lost:
                    raise JournalUnavailable(
                        f"journal {self.path}: not found - it was moved or deleted while the page was open; put "
                        f"it back (e.g. restore it from your backup) and reload, or leave it and the next talk "
                        f"starts a new journal")
                return None
            if self._own is None:
                self._own = Journal.open(self.path)
                self._opened, self._lost = file_identity(self.path), False
            return self._own

    def close(self) -> None:
        """Close the journal this object opened (never the kiosk's)."""
        with self._lock:
            if self._own is not None:
                self._own.close()
                self._own, self._opened = None, None


@dataclass
class WebContext:
    """What the page works with (built by :mod:`voicecoach.web.runtime` or a test)."""

    config_path: Path
    journal: JournalAccess
    settings: WebSettings
    status: StatusSource
    controls: Controls | None  # None: the kiosk is not running in this process
    codes: PairingCodes
    secret: bytes
    wall: Callable[[], float]  # wall clock, epoch seconds
    local_now: Callable[[], datetime]  # local time (the kiosk's own clock)
    rehearsals: Rehearsals
    pair_limit: RateLimit
    on_schedule_saved: Callable[[Config], None] | None = None

    def config(self) -> Config:
        """The config as it is on disk now (the Rituals form may have just changed it); ConfigUnusable when the
        file cannot be used (e.g. a typo made while editing it by hand, a link to a folder no longer there)."""
        return current_config(self.config_path)


def create_app(ctx: WebContext) -> Flask:
    """The Flask app for ``ctx``."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=ctx.secret, SESSION_COOKIE_NAME="voicecoach", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict",
                      PERMANENT_SESSION_LIFETIME=timedelta(days=ctx.settings.session_days),
                      MAX_CONTENT_LENGTH=ctx.settings.max_body_kb * 1024,
                      MAX_FORM_MEMORY_SIZE=ctx.settings.max_body_kb * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["voicecoach"] = ctx
    from .pages import pages

    app.register_blueprint(pages)
    app.before_request(_guard)
    app.after_request(_headers)
    for code, text in ((400, "That request was not understood."), (404, "There is no such page."),
                       (405, "That is not allowed here."),
                       (413, f"That was too big: at most {ctx.settings.max_body_kb} KB are accepted."),
                       (429, "Too many tries. Wait a minute, then try again."),
                       (500, "Something went wrong on the box; it has been logged (journalctl -u voicecoach).")):
        app.register_error_handler(code, _error_page(code, text))
    app.register_error_handler(ConfigUnusable, _unusable_page("settings", "Settings need fixing",
                                                              "The settings file", "voicecoach config check"))
    from ..journal.files import JournalRefused, JournalUnavailable

    journal_page = _unusable_page("journal", "The journal needs fixing", "The journal", "voicecoach check")
    for kind in (JournalRefused, JournalUnavailable):  # damaged, newer, unreadable: its own line, with the fix
        app.register_error_handler(kind, journal_page)
    return app


def context() -> WebContext:
    """The current request's :class:`WebContext`."""
    from flask import current_app

    return current_app.extensions["voicecoach"]


def _guard() -> Any:
    ctx = context()
    if not host_allowed(request.host, ctx.settings.address, ctx.settings.port):
        log.warning("web: refused a request for host %r (only this computer's own names are served)", request.host)
        abort(400)
    if request.content_length is not None and request.content_length > ctx.settings.max_body_kb * 1024:
        abort(413)
    if "csrf" not in session:
        session["csrf"] = new_token()
    paired = bool(session.get("paired")) or not ctx.settings.needs_pairing
    if not paired and request.endpoint not in OPEN_ENDPOINTS:
        if request.path.startswith("/api/"):
            return jsonify(error="not paired: open the page and enter the pairing code first"), 401
        return redirect(url_for("pages.pair"))
    if request.method == "POST":
        if _unreadable_form():
            log.warning("web: refused a form that is not UTF-8 text (from %s)", request.remote_addr)
            return render_template("message.html", title="Not read", back=True,
                                   text="That form could not be read: it was not sent as UTF-8 text. Open the "
                                        "page again in a browser and send it from there."), 400
        if not origin_allowed(request.headers.get("Origin"), request.host) or \
                not same_token(request.form.get("csrf"), session.get("csrf")):
            log.warning("web: refused a form without this page's token (from %s)", request.remote_addr)
            return render_template("message.html", title="Not sent", back=True,
                                   text="That form was not sent from this page (or the page was too old): "
                                        "open the page again and send it from there."), 400
    return None


def _unreadable_form() -> bool:
    """True when a form body came but nothing could be read from it (werkzeug drops a form that is not UTF-8)."""
    return (request.mimetype == "application/x-www-form-urlencoded" and bool(request.content_length)
            and not request.form)


def _headers(response: Any) -> Any:
    """Nothing from elsewhere, no framing, no caching of private pages, no referrer to other sites."""
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                                   "media-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                                                   "base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with the page's own forms
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _unusable_page(what: str, title: str, subject: str, checker: str) -> Callable[[VoicecoachError], Any]:
    """A file the pages need (``subject``: the settings, the journal) cannot be used: its own one-line error, which
    names the fix, on the page (503), logged once per problem instead of a traceback on every page load."""
    logged: set[str] = set()

    def handler(exc: VoicecoachError) -> Any:
        why = str(exc)
        if why not in logged:
            logged.add(why)
            log.warning("web: the %s cannot be used, the pages say so until it is fixed: %s", what, why)
        text = f"{subject} cannot be used: {why}. Nothing was changed; reload this page once it is fixed " \
               f"({checker} says when it is)."
        if request.path.startswith("/api/"):
            return jsonify(error=text), 503
        return render_template("message.html", title=title, text=text, back=False), 503

    return handler


def _error_page(code: int, text: str) -> Callable[[Exception], Any]:
    def handler(_exc: Exception) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(error=text), code
        return render_template("message.html", title="Sorry", text=text, back=True), code

    return handler
