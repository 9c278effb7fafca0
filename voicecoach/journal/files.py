"""The journal's file on disk, before any connection writes it: where it lives, what is at that path (a file, a
folder, a device, a link leading nowhere, nothing yet), which file it is, and whether it is a journal this voicecoach
can use - checked read-only, so a refused file is never modified.

The errors say in one line what is wrong with the file and what to do about it: :class:`JournalRefused` for a file
that must be moved aside (corrupt, newer, not a journal), :class:`JournalUnavailable` for one that cannot be used
right now (a read-only or full disk, a folder, another program's lock).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from .. import paths
from ..errors import VoicecoachError
from ..settings import special_file_kind
from .schema import CURRENT_VERSION

FILE_NAME = "journal.sqlite3"
_SQLITE_NOTADB = 26  # "file is not a database"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # "database is locked", "database table is locked"
_SQLITE_FULL = 13  # "database or disk is full"
FULL_BELOW_BYTES = 64 * 1024  # an I/O error with less free space than this on the journal's disk: the disk is full


class JournalRefused(VoicecoachError):
    """The journal file is corrupt or from a newer voicecoach; it was left untouched."""


class JournalUnavailable(VoicecoachError):
    """The journal cannot be read or written right now (read-only directory, full disk, I/O error)."""


class JournalDiskFull(JournalUnavailable):
    """The disk the journal is on is full: SQLite says "database or disk is full", or only "disk I/O error" (its
    shared-memory file could not be made). ``then`` says what state things are in and the fix."""

    def __init__(self, path: Path, why: str, then: str = "") -> None:
        super().__init__(f"journal {path}: the disk it is on is full ({why}); "
                         f"{then or 'free some space there' + NOT_RECORDED}")
        self.path = path
        self.why = why


class NothingErased(JournalUnavailable):
    """An erase failed before it deleted anything (its deletes were rolled back: a full disk, the journal locked by
    another program): the journal is as it was, and what was to go with it (the voice profile) must stay too, so
    that "nothing was erased" stays true. The message names the reason, says nothing was erased, and the fix."""


# what a live talk or check-in adds to the reason: it goes on, unrecorded (said by export, report and erase too,
# where it read oddly: they record nothing; :func:`offline_use` takes it off there)
NOT_RECORDED = " - talks are not recorded until then"


@contextmanager
def offline_use() -> Iterator[None]:
    """Around a command that only reads or erases the journal (export, report, erase): its error's reason without
    :data:`NOT_RECORDED`."""
    try:
        yield
    except JournalUnavailable as exc:
        raise JournalUnavailable(str(exc).replace(NOT_RECORDED, "")) from None


def default_path() -> Path:
    """Where the journal lives: ``data_dir()/journal.sqlite3``."""
    return paths.data_dir() / FILE_NAME


def path_for(file_setting: str = "") -> Path:
    """The journal path for the ``[journal] file`` setting (empty: the default location)."""
    return Path(file_setting).expanduser() if file_setting else default_path()


def _refused(path: Path, problem: str) -> JournalRefused:
    return JournalRefused(f"journal {path}: {problem}; it was left untouched - move it aside "
                          f"(e.g. mv {path} {path}.old) and voicecoach starts a new journal")


def _unavailable(path: Path, exc: BaseException) -> JournalUnavailable:
    if path.is_dir():  # sqlite says only "disk I/O error"
        return JournalUnavailable(f"journal {path}: it is a folder, not a file; set [journal] file to a file's path "
                                  f"(e.g. {path / 'journal.sqlite3'}) or move the folder aside{NOT_RECORDED}")
    in_the_way = _file_in_the_way(path)
    if in_the_way is not None:
        return in_the_way
    if path.is_file() and not os.access(path, os.R_OK):  # SQLite: "unable to open database file", blamed the folder
        return JournalUnavailable(f"journal {path}: this user may not read it (permission denied); run voicecoach "
                                  f"as the user it belongs to, or make it readable and writable with: chmod u+rw "
                                  f"FILE{NOT_RECORDED}")
    if _is_busy(exc):  # not the folder nor the disk: another program's write transaction did not end in time
        return JournalUnavailable(f"journal {path}: another program is writing to it and kept it locked "
                                  f"(a second voicecoach, or an SQLite browser with unsaved changes?); close it or "
                                  f"wait for it, then try again{NOT_RECORDED}")
    why = getattr(exc, "strerror", None) or str(exc)
    if _disk_full(path, exc):  # was "cannot use it (disk I/O error); check that ... the disk is not full"
        return JournalDiskFull(path, why)
    return JournalUnavailable(f"journal {path}: cannot use it ({why}); check that {path.parent} is writable by "
                              f"this user and the disk is not full{NOT_RECORDED}")


def _disk_full(path: Path, exc: BaseException) -> bool:
    """True when the journal's disk is full: SQLite's SQLITE_FULL, ENOSPC / EDQUOT, or an I/O error on a disk with
    (next to) no space left (SQLite says only "disk I/O error" when it cannot grow its shared-memory file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
        return True
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(path.parent).free < FULL_BELOW_BYTES
    except OSError:
        return False


def _is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked": another connection held the write lock past the busy timeout."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)


def _broken_link(path: Path) -> JournalUnavailable | None:
    """The error for a journal path that is a symbolic link leading nowhere (its drive not mounted, its target
    moved, a loop), or None. It is not "no journal yet": export and report showed an empty journal, erase said there
    was nothing to erase, and opening it blamed the folder's permissions."""
    from ..paths import dangling_link

    dangling = dangling_link(path)
    if dangling is None:
        return None
    target, why = dangling
    return JournalUnavailable(f"journal {path}: it is a symbolic link to {target} that cannot be followed ({why}); "
                              f"connect the drive it is on, or point the link at the journal{NOT_RECORDED}")


def present(path: Path) -> bool:
    """True when there is a journal file at ``path``, False when there is none yet; :class:`JournalUnavailable`
    when ``path`` is a symbolic link that leads nowhere (:func:`_broken_link`) or a file stands where one of its
    folders should be (:func:`_file_in_the_way`): no journal can be made there, so "none yet" would be wrong."""
    broken = _broken_link(path) or _file_in_the_way(path, "")
    if broken is not None:
        raise broken
    return path.exists()


def _file_in_the_way(path: Path, then: str = NOT_RECORDED) -> JournalUnavailable | None:
    """The error for a journal path one of whose folders is a file (``XDG_DATA_HOME`` or ``VOICECOACH_DATA_DIR``
    set to a file, a file saved where the folder was), or None. Export and report showed an empty journal, erase
    said there was nothing to erase, and opening it said only "Not a directory"."""
    from ..paths import file_in_the_way

    blocking = file_in_the_way(path)
    if blocking is None:
        return None
    return JournalUnavailable(f"journal {path}: {blocking} is a file, not a folder, so there can be no journal "
                              f"there; move that file aside, or set VOICECOACH_DATA_DIR (or [journal] file) to a "
                              f"folder's path{then}")


def _not_a_file(path: Path) -> JournalUnavailable | None:
    """The error for a journal path that is a pipe, a device or a socket, or a symbolic link leading nowhere (None
    for a file or nothing there).

    SQLite would fail on it with a bare "disk I/O error", and making it private would chmod it: as root, a
    ``[journal] file = "/dev/null"`` took /dev/null away from every other user."""
    broken = _broken_link(path)
    if broken is not None:
        return broken
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    kind = special_file_kind(mode)
    if kind is None:
        return None
    return JournalUnavailable(f"journal {path}: it is {kind}, not a file; set [journal] file to a file's path (e.g. "
                              f"{default_path()}), or [journal] enabled = false to keep no journal{NOT_RECORDED}")


def file_identity(path: Path) -> tuple[int, ...] | None:
    """Which file is at ``path`` and as it was last changed (device, inode, size, time of the last change), or None
    when there is nothing there. A journal file replaced, moved or rewritten in place has another identity."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; an existing file keeps only its owner's permissions."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        _owner_only(path)


def _owner_only(path: Path) -> None:
    """Remove group's and others' permissions from an existing file, keeping the owner's as they are: a journal the
    couple made read-only (``chmod 444``) becomes 0400, never 0600 (it was made writable by any command, ``report``
    included)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def _probe(path: Path) -> int:
    """Check an existing journal read-only: its schema version, or :class:`JournalRefused`. Never writes it.

    Only SQLite touches the file. POSIX locks belong to the process, so closing any other descriptor of the file
    (a plain ``open()`` to read its header) drops every lock this process's connections hold on it: another
    program then takes its own close for the last one and deletes the WAL under them, and the next read here
    fails with "unable to get the page" (SQLITE_IOERR_SHORT_READ) on an intact journal. SQLite keeps its own
    descriptors open while a lock on the file is held. The read-only connection may leave empty -wal/-shm files
    beside a refused file; they are left alone (another connection might be using them)."""
    try:
        conn = _read_only_connection(path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > CURRENT_VERSION:
                raise _refused(path, f"written by a newer voicecoach (schema {version}, this one knows up to "
                                     f"{CURRENT_VERSION}); upgrade voicecoach to use it")
            check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                raise _refused(path, f"the database is damaged ({' '.join(str(check).split())[:120]})")
            if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise _refused(path, "an SQLite database that is not a voicecoach journal")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        raise _unavailable(path, exc) from None
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_NOTADB:
            raise _refused(path, "not an SQLite database (corrupt or not a journal)") from None
        raise _refused(path, f"the database is damaged ({exc})") from None
    return version


def _read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that never writes the journal or anything beside it (``mode=ro``). On a read-only disk or in a
    folder this user may not write, SQLite cannot make the -shm it needs for that: when there is no -wal (nothing
    written there but not yet in the file) the file is read as it is (``immutable=1``); a -wal it cannot read is
    the OperationalError."""
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    return sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None, check_same_thread=False)


def verify(path: Path) -> int:
    """Check the journal file at ``path`` as opening it would, read-only (nothing in it changes): SQLite's
    ``PRAGMA quick_check`` over every page, and the schema version. Returns the version; raises
    :class:`JournalRefused` (damaged, newer, not a journal) or :class:`JournalUnavailable` (unreadable, not a
    file)."""
    odd = _not_a_file(path)
    if odd is not None:
        raise odd
    return _probe(path)
