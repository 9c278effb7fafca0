"""Who may see the page: a one-time pairing code (stored hashed), signed session cookies, CSRF tokens, a rate limit
on pairing attempts, and the Host check that keeps other web sites out of a page on this computer.

Pure where it can be: times are passed in (``now``, wall-clock epoch seconds); the files live in the data folder,
owner-only. A code is six digits, works once, for ``[web] code_valid_min`` minutes, and is thrown away after
:data:`MAX_FAILURES` wrong tries: with the rate limit, a guesser gets a handful of tries at one in a million.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import paths
from ..clock import boot_id, suspend_counting_clock

log = logging.getLogger(__name__)

CODE_FILE = "web-pairing.json"
_STEADY = suspend_counting_clock()  # CLOCK_BOOTTIME: never set, counts suspend, shared by every process
SECRET_FILE = "web-secret"
MAX_FAILURES = 10  # wrong codes before the code is thrown away (the rate limit lets 5 a minute through)
PBKDF2_ROUNDS = 200_000  # about 0.1 s on a Pi 4: slow to guess offline, quick to check once


def _hash(code: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode("ascii"), salt, PBKDF2_ROUNDS)


def normalise_code(text: str) -> str:
    """What was typed, without spaces or dashes ("123 456" -> "123456")."""
    return "".join(ch for ch in text if ch.isdigit())[:12]


@dataclass(frozen=True)
class PairResult:
    """The outcome of one pairing attempt."""

    ok: bool
    message: str


class PairingCodes:
    """The one pairing code waiting to be used, kept hashed in ``<data dir>/web-pairing.json``.

    It expires by ``steady``, a clock that is never set and counts suspend (:func:`suspend_counting_clock`, since
    boot: the same in the process that makes the code and the one that checks it), not by the wall clock: a clock
    set back (by hand, or a Pi's network time after a stale start) made a 10-minute code work for hours. A code made
    in another boot has expired. Without such a clock (``steady`` None), the wall time ``now``."""

    def __init__(self, folder: Path | None = None, steady: Callable[[], float] | None = _STEADY,
                 boot: Callable[[], str | None] = boot_id) -> None:
        self.path = (folder or paths.data_dir()) / CODE_FILE
        self.steady = steady
        self.boot = boot

    def new_code(self, now: float, valid_min: float) -> str:
        """Make a new code (replacing any earlier one); returns it. Only its hash is stored."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        salt = secrets.token_bytes(16)
        valid_s = valid_min * 60
        record = {"salt": salt.hex(), "hash": _hash(code, salt).hex(), "expires": now + valid_s, "failures": 0}
        if self.steady is not None:
            record.update(steady_expires=self.steady() + valid_s, valid_s=valid_s, boot=self.boot())
        paths.private_dir(self.path.parent)
        paths.write_private(self.path, json.dumps(record))
        return code

    def _load(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("web: pairing code file %s unreadable (%s); make a new code", self.path, exc)
            return None

    def minutes_left(self, now: float) -> float | None:
        """How long the waiting code still works, in minutes; None when no code is waiting (or it expired)."""
        record = self._load()
        if record is None or self._left_s(record, now) < 0:
            return None
        return self._left_s(record, now) / 60.0

    def _left_s(self, record: dict, now: float) -> float:
        """Seconds the code in ``record`` still works (negative: it has expired)."""
        steady_end = record.get("steady_expires")
        if self.steady is None or steady_end is None:
            return float(record.get("expires", 0)) - now
        if record.get("boot") != self.boot():
            return -1.0  # made before the machine last started: its clock's readings meant another boot
        left = float(steady_end) - self.steady()
        return left if left <= float(record.get("valid_s", 0)) else -1.0  # more than it was given: another boot

    def _discard(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def check(self, typed: str, now: float) -> PairResult:
        """Try a code: right (and in time) pairs and uses it up; wrong counts towards throwing it away."""
        record = self._load()
        if record is None:
            return PairResult(False, "There is no pairing code waiting. Make one: run voicecoach web --pair on "
                                     "the kiosk, or ask it \"pairing code\".")
        if self._left_s(record, now) < 0:
            self._discard()
            return PairResult(False, "That pairing code has expired. Make a new one.")
        code = normalise_code(typed)
        good = len(code) == 6 and hmac.compare_digest(_hash(code, bytes.fromhex(record["salt"])).hex(),
                                                      record["hash"])
        if good:
            self._discard()
            return PairResult(True, "Paired. This browser can now open the page.")
        record["failures"] = int(record.get("failures", 0)) + 1
        if record["failures"] >= MAX_FAILURES:
            self._discard()
            log.warning("web: %d wrong pairing codes; the code was thrown away", MAX_FAILURES)
            return PairResult(False, "Too many wrong codes: that code no longer works. Make a new one.")
        paths.write_private(self.path, json.dumps(record))
        return PairResult(False, "That is not the pairing code. Check the six digits and try again.")


def session_secret(folder: Path | None = None, rotate: bool = False) -> bytes:
    """The key that signs session cookies, made once (0600); ``rotate`` makes a new one (unpairs every browser)."""
    path = (folder or paths.data_dir()) / SECRET_FILE
    if not rotate:
        try:
            data = path.read_bytes()
            if len(data) >= 32:
                return data
        except FileNotFoundError:
            pass
    data = secrets.token_bytes(32)
    paths.private_dir(path.parent)
    paths.write_private(path, data)
    return data


class RateLimit:
    """At most ``limit`` events per ``window_s`` for each key (a client address), and ``overall`` for all keys."""

    def __init__(self, limit: int = 5, window_s: float = 60.0, overall: int = 20) -> None:
        self.limit, self.window_s, self.overall = limit, window_s, overall
        self._seen: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def allow(self, key: str, now: float) -> bool:
        """Record an attempt by ``key`` at ``now``; False (and not recorded) when over the limit."""
        for q in (*self._seen.values(), self._all):
            while q and now - q[0] > self.window_s:
                q.popleft()
        self._seen = {k: q for k, q in self._seen.items() if q}
        mine = self._seen.setdefault(key, deque())
        if len(mine) >= self.limit or len(self._all) >= self.overall:
            return False
        mine.append(now)
        self._all.append(now)
        return True

    def retry_after_s(self, key: str, now: float) -> int:
        """Seconds until ``key`` may try again."""
        q = self._seen.get(key) or self._all
        return max(1, int(self.window_s - (now - q[0])) + 1) if q else 1


def new_token() -> str:
    """A CSRF token for a session."""
    return secrets.token_urlsafe(24)


def same_token(sent: str | None, kept: str | None) -> bool:
    """True when a form's CSRF token is the session's (compared in constant time)."""
    return bool(sent and kept) and hmac.compare_digest(str(sent), str(kept))


def host_allowed(host: str | None, bind_address: str, port: int) -> bool:
    """For a page bound to this computer only: the browser must have asked for this computer by name or number.

    A web site that points its own name at 127.0.0.1 (DNS rebinding) sends its own name as Host and is refused.
    On any other address every Host is accepted (phones use the box's name or number); pairing guards those."""
    from .settings import is_loopback

    if not is_loopback(bind_address):
        return True
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.strip("[]") in ("127.0.0.1", "localhost", "::1", bind_address)


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """A form posted from another site (its Origin differs from the page's own host) is refused."""
    if origin is None:  # not sent (older browsers, scripts): the CSRF token still has to match
        return True
    return origin != "null" and origin.split("://", 1)[-1] == host


def session_max_age_s(days: float) -> int:
    """A session cookie's lifetime in seconds."""
    return int(days * 86400)

