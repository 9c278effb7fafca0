"""How an open journal keeps writing to the file at its path: one moved aside, deleted, replaced (``mv``) or
rewritten (``cp`` of a backup) while it was open is let go, and the file now at the path is opened, or a new
journal started there; one that cannot be used is tried again every :data:`RETRY_S`.

:class:`FollowsPath` is the part of :class:`~voicecoach.journal.store.Journal` that does it, with the commit's
checkpoint (:meth:`FollowsPath._settle`) that keeps every commit in the file itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from ..errors import VoicecoachError
from .files import JournalUnavailable, file_identity

log = logging.getLogger(__name__)

RETRY_S = 30.0  # a journal that could not be opened or made (a read-only or full disk) is tried again this often


class FollowsPath:
    """The file at the path, for :class:`~voicecoach.journal.store.Journal` (its state is set there, in
    ``__init__``): :meth:`follow_path` and what it needs."""

    path: Path
    generation: int
    _conn: sqlite3.Connection
    _lock: threading.Lock
    _identity: tuple[int, ...] | None
    _version: int | None
    _pending: bool
    _kept: Path | None
    _problem: VoicecoachError | None
    _tried: tuple[int, ...] | None
    _held: bool
    _what: str
    _tried_at: float | None
    _at_start: bool

    def _settle(self, conn: sqlite3.Connection) -> None:
        """After a commit: copy the WAL into the file as far as no reader holds it back (PASSIVE never waits), so the
        file alone holds the journal - one moved aside is whole, and one copied over finds no old pages waiting in
        the WAL to be written into it - then note the file as this connection left it."""
        try:
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self._pending = frames > copied
        except sqlite3.OperationalError as exc:
            log.debug("journal %s: checkpoint skipped: %s", self.path, exc)
            self._pending = True
        self._identity, self._version = file_identity(self.path), self._data_version()

    def _data_version(self) -> int | None:
        """SQLite's ``data_version``: it changes when another connection commits to the file (a second voicecoach,
        ``voicecoach web``), never for this connection's own commits nor for a file copied over it (``cp``)."""
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None

    def _written_by_another_connection(self, here: tuple[int, ...] | None) -> bool:
        """True when the file open changed only because another SQLite connection committed to it (the same file:
        SQLite keeps this connection's view right); then it is noted as it is now. A file copied over in place
        (``cp``) changes without a commit, and is let go."""
        old = self._identity
        if here is None or old is None or here[:2] != old[:2]:
            return False
        version = self._data_version()
        if version is None or version == self._version:
            return False
        self._identity, self._version = here, version
        return True

    def _keep_copied_file(self) -> str | None:
        """Keep the bytes another program copied over the open file (a backup restored with ``cp``) aside, before
        :meth:`_let_go` empties the WAL into the file: frames a reader held back would be written over the restored
        journal's pages (the old journal's rows mixed into the backup). None, or the line saying why not.

        Only when frames are waiting (a reader held the checkpoint back, :meth:`_settle`): otherwise the checkpoint
        copies nothing. Reading the file with ``open()`` drops this process's POSIX locks on it (see
        :func:`.files._probe`): what is kept does not depend on them (the connection is let go and the kept bytes are
        put back as a new file), but a second voicecoach writing the journal at that very moment is no better
        protected than when a file is moved over it (its rows of that moment stay in the file replaced)."""
        if not self._pending or self._kept is not None:
            return None
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".restored", dir=self.path.parent)
            with os.fdopen(fd, "wb") as out, open(self.path, "rb") as copied:
                shutil.copyfileobj(copied, out)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            return (f"journal {self.path} was copied over while it was open, and the copy cannot be kept safe from "
                    f"what this program had not yet written into the file ({exc.strerror or exc}); nothing is "
                    f"written until there is room beside it (or stop voicecoach and copy the backup again)")
        self._kept = Path(name)
        return None

    def follow_path(self, now: float | None = None, open_talk: tuple[int, str, float] | None = None) -> str | None:
        """Make sure the file open is the one at :attr:`path`; a line saying what changed, or None (the same file).

        A journal moved aside or deleted, replaced (``mv`` of a backup over it) or rewritten by another program
        (``cp`` of a backup over it) since this connection last wrote it is let go (what was written stays in that
        file: every commit is in the file itself, see :meth:`_settle`) and the file now at the path is opened, or a
        new journal started there when there is none; :attr:`generation` goes up, so a writer knows its ids (a
        talk's) are of the old file. A file there that cannot be opened (damaged, newer) leaves the journal with none
        open: every call raises that file's one line until a usable file is put there; one that could not be used for
        a reason that may pass (no journal could be made there: a read-only or full disk) is tried again every
        :data:`RETRY_S` of ``now`` (the caller's clock, seconds). ``open_talk`` (id, source, start) is the talk the
        caller has under way: a file moved away or replaced gets its end (``now``) before it is let go (it kept no
        end, and the report counted it as no time). Thread-safe; one ``stat`` when nothing changed."""
        from .store import Journal  # the class this is part of (store imports this module)

        with self._lock:
            here = file_identity(self.path)
            if self._problem is None and here == self._identity:
                return None
            if self._problem is None and self._held and self._written_by_another_connection(here):
                self.generation += 1  # rows may have gone (another voicecoach erased the journal): writers look
                log.debug("journal %s: written by another connection", self.path)
                return None
            if self._problem is not None and here == self._tried and not self._retry_due(now):
                return None  # the same unusable file: its line was logged when it was found
            if self._held:
                old = self._identity
                if here is None or old is None or here[:2] != old[:2]:
                    self._what = "was moved away or deleted" if here is None else "was replaced by another file"
                    self._end_talk_there(open_talk, now)
                else:
                    self._what = "was rewritten by another program (a backup copied over it?)"
                    unsafe = self._keep_copied_file()
                    if unsafe is not None:
                        if self._problem is None:
                            log.warning("%s", unsafe)
                        self._problem, self._tried = JournalUnavailable(unsafe), ()
                        return unsafe
                if not self._let_go():
                    line = (f"journal {self.path} {self._what}, but another program is still reading the file that "
                            f"was there: nothing is written until it stops (e.g. a voicecoach report or web)")
                    if self._problem is None:
                        log.warning("%s", line)
                    self._problem, self._tried = JournalUnavailable(line), ()  # () is no file: tried again
                    return line
            elif self._at_start:
                self._what = "could not be used when voicecoach started"
            else:
                self._what = "was put back" if here is not None else "is still missing"
            if self._kept is not None:  # the restored bytes, as the other program left them, at the path again
                os.replace(self._kept, self.path)
                self._kept, here = None, file_identity(self.path)
            self.generation += 1
            try:
                new = Journal.open(self.path)  # creates a journal when nothing is there
            except VoicecoachError as exc:
                again = self._problem is not None and str(self._problem) == str(exc)
                self._problem, self._tried, self._tried_at = exc, file_identity(self.path), now
                line = f"journal {self.path} {self._what}; the file there cannot be used: {exc}"
                if not again:  # tried again every RETRY_S: said once
                    log.warning("%s (tried again every %.0f s)", line, RETRY_S)
                return line
            self._conn, self._identity, self._problem, self._tried = new._conn, new._identity, None, None
            self._version, self._pending, self._held = new._version, False, True
            if self._at_start:
                self._at_start = False
                line = (f"journal {self.path} {self._what}; it can be now: writing to "
                        f"{'a new journal' if here is None else 'it'}")
                log.warning("%s", line)
                return line
            before = ("what was written before went with the file written over" if "rewritten" in self._what
                      else "what was written before stays in the file it went to")
            line = (f"journal {self.path} {self._what} while it was open: writing to the file now at that path "
                    f"({'a new journal' if here is None else 'the one there'}); {before}")
            log.warning("%s", line)
            return line

    def _retry_due(self, now: float | None) -> bool:
        """True when the file at the path, found unusable for a reason that may pass (:class:`JournalUnavailable`:
        a folder or disk that cannot be written), was last tried :data:`RETRY_S` ago or more."""
        if now is None or not isinstance(self._problem, JournalUnavailable):
            return False
        if self._tried_at is None:
            self._tried_at = now
        return abs(now - self._tried_at) >= RETRY_S

    def _end_talk_there(self, talk: tuple[int, str, float] | None, now: float | None) -> None:
        """Give the caller's talk under way its end in the file open, about to be let go (moved away, or replaced
        by another file); the talk goes on as a talk of the file at the path."""
        if talk is None or now is None:
            return
        talk_id, source, started_at = talk
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE talks SET ended_at = ? WHERE id = ? AND source = ? AND started_at = ? AND ended_at "
                         "IS NULL", (float(now), talk_id, source, float(started_at)))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.debug("journal %s: the talk's end in the file that was there: %s", self.path, exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _let_go(self) -> bool:
        """Close the connection to a file that is no longer at the path, its WAL emptied into it first: SQLite
        leaves the WAL of a moved file behind under the path's name, and the next file opened there would read its
        pages as its own. False (still open) while another connection reads the old file and holds its WAL."""
        conn = self._conn
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            conn.execute("PRAGMA busy_timeout = 10000")
        except sqlite3.Error as exc:
            log.debug("journal %s: checkpoint of the file that was there: %s", self.path, exc)
            busy = 1
        if busy:
            return False
        try:
            conn.close()
        except sqlite3.Error as exc:
            log.warning("journal %s: closing the file that was there: %s", self.path, exc)
        self._held = False
        return True
