"""The private journal: an SQLite file (0600, WAL, fsync on every commit) of talks, events, pauses and check-ins.

Never audio, never words: events are stored as their JSON-contract dicts with any free text removed. Wall-clock
times (epoch seconds) are always passed in by the caller; the store never reads a clock.

Crash safety: every write is its own committed transaction, and ``synchronous=FULL`` makes each commit durable
before the call returns, so killing the process (or pulling the plug on a kiosk) loses at most the write in flight.
A corrupt file, or one written by a newer voicecoach, is refused with one line naming it and is never modified.
Write failures (read-only directory, full disk) raise :class:`JournalUnavailable` for the runtime to log and go on.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from dataclasses import asdict
from typing import Any, Iterator, Mapping

from .. import paths
from ..errors import VoicecoachError
from ..events import Event
from ..records import Answer, PauseEnd
from .files import (NOT_RECORDED, JournalDiskFull, JournalUnavailable, NothingErased, _not_a_file, _owner_only,
                    _private_file, _probe, _read_only_connection, _refused, _unavailable, default_path, file_identity)
from .follow import FollowsPath
from .report_rows import JournalReportRows
from .schema import CURRENT_VERSION, MIGRATIONS, TABLES, TalkFigures, TalkSource

log = logging.getLogger(__name__)

SOURCES = tuple(s.value for s in TalkSource)
# String-valued event keys that are labels, not words anyone said; every other string is dropped on the way in.
_LABEL_KEYS = frozenset({"type", "speaker", "over", "reason", "name", "source"})
CHUNK_ROWS = 500  # rows read at a time by the readers of a whole table (export, report)
# what an erase on a full disk says (after "the disk it is on is full (why); "): the state things are in, the fix
ERASE_AGAIN_NOTHING = "nothing was erased; free some space there and run the erase again"
ERASE_AGAIN_COMPACT = ("every entry was erased, but their old bytes stay in the file until it is compacted; free "
                       "some space there and run the erase again")


class JournalBusy(JournalUnavailable):
    """Erased, but another connection still holds the old pages, so they are not yet wiped from the disk."""


class JournalValueError(VoicecoachError, ValueError):
    """A write with a bad value (unknown id, source or answer): a bug in the caller, logged, never fatal."""


class Journal(FollowsPath):
    """An open journal. Thread-safe; every write method commits before it returns."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.notes_dir = paths.notes_dir(path)  # never beside a user-chosen journal file: see paths.notes_dir
        self._lock = threading.Lock()
        self.generation = 0  # how many times :meth:`follow_path` found the file's rows changed under it: let go of
                             # the file open and took the one at path, or another connection wrote to it
        self._identity = file_identity(path)  # the file open, as this connection last left it
        self._version = self._data_version()  # SQLite's count of other connections' commits, as last seen
        self._pending = False  # the WAL holds frames not yet copied into the file (a reader held them back)
        self._kept: Path | None = None  # the bytes another program copied over the file, kept from the checkpoint
        self._problem: VoicecoachError | None = None  # why no file is open (the one at path could not be opened)
        self._tried: tuple[int, ...] | None = None  # the file at path that could not be opened (not tried again)
        self._held = True  # _conn is open (False once it let go of a file no longer at the path)
        self._what = ""  # what happened to the file at the path, for the line said once a file is open again
        self._tried_at: float | None = None  # when (the caller's ``now``) the file at path was last tried
        self._at_start = False  # no file was ever open (:meth:`unopened`)

    # --- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str | None = None) -> "Journal":
        """Open (creating and migrating as needed) the journal at ``path`` or the default location."""
        path = Path(path) if path is not None else default_path()
        try:
            paths.private_dir(path.parent)  # folders it makes are 0700 whatever the umask; existing ones kept
            odd = _not_a_file(path)
            if odd is not None:
                raise odd
            if path.exists() and path.stat().st_size > 0:
                _probe(path)  # refuses a corrupt or newer file before anything can write to it
            _private_file(path)
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
        except OSError as exc:
            raise _unavailable(path, exc) from None
        except sqlite3.OperationalError as exc:
            raise _unavailable(path, exc) from None
        journal = cls(conn, path)
        try:
            journal._configure()
            journal._migrate()
        except sqlite3.OperationalError as exc:
            conn.close()
            raise _unavailable(path, exc) from None
        except BaseException:
            conn.close()
            raise
        journal._identity, journal._version = file_identity(path), journal._data_version()
        return journal

    @classmethod
    def unopened(cls, path: Path | str, problem: VoicecoachError) -> "Journal":
        """A journal whose file could not be opened (``problem``, e.g. its folder read-only at boot): every call
        raises that until :meth:`follow_path` opens the file at ``path``, tried again every
        :data:`~voicecoach.journal.follow.RETRY_S` (it ran without a journal until it was started again)."""
        journal = cls(sqlite3.connect(":memory:", check_same_thread=False), Path(path))
        journal._held, journal._problem, journal._tried = False, problem, file_identity(journal.path)
        journal._at_start = True
        return journal

    @classmethod
    def open_for_reading(cls, path: Path | str) -> "Journal":
        """The journal at ``path`` for a command that only reads it (``report``, ``journal export``): opened as
        :meth:`open` does, or, where that cannot write (a read-only disk or folder: it exited 1 there), read-only
        (:func:`.files._read_only_connection`). Every writing method of a journal opened read-only fails."""
        path = Path(path)
        try:
            return cls.open(path)
        except JournalUnavailable as first:
            try:
                return cls._read_only(path)
            except JournalUnavailable:
                raise first from None

    @classmethod
    def _read_only(cls, path: Path) -> "Journal":
        odd = _not_a_file(path)
        if odd is not None:
            raise odd
        version = _probe(path)
        if version != CURRENT_VERSION:
            raise JournalUnavailable(f"journal {path}: it is from an older voicecoach (schema {version} of "
                                     f"{CURRENT_VERSION}) and must be updated once, which cannot be written where it "
                                     f"is; copy it to a writable folder and point [journal] file at the copy")
        try:
            conn = _read_only_connection(path)
        except sqlite3.OperationalError as exc:
            raise _unavailable(path, exc) from None
        return cls(conn, path)

    def _configure(self) -> None:
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("journal %s: WAL mode unavailable (%s); using %s", self.path, mode, mode)
        conn.execute("PRAGMA synchronous=FULL")  # each commit reaches the disk: power loss keeps it too
        conn.execute("PRAGMA foreign_keys=ON")
        for side in ("-wal", "-shm"):
            p = Path(f"{self.path}{side}")
            if p.exists():
                _owner_only(p)

    def _migrate(self) -> None:
        """Apply the missing migrations, one transaction each; the version is re-read under the write lock,
        so two processes opening an old journal at once migrate it once. An up-to-date journal is only read:
        a reader (report, export) never waits for the writer's lock."""
        if self.schema_version == CURRENT_VERSION:
            return
        while True:
            with self._tx() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > CURRENT_VERSION:
                    raise _refused(self.path, f"written by a newer voicecoach (schema {version})")
                if version == CURRENT_VERSION:
                    return
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version + 1}")
            log.debug("journal %s: schema %d -> %d", self.path, version, version + 1)

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._lock:  # the connection is shared: the page reads this while the talk's writer commits
            return int(self._db().execute("PRAGMA user_version").fetchone()[0])

    # --- writing ---------------------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; failures to write become :class:`JournalUnavailable`."""
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                self._settle(conn)
            except sqlite3.IntegrityError as exc:
                raise JournalValueError(f"journal: {exc} (an unknown id?)") from None
            except (sqlite3.OperationalError, OSError) as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise _unavailable(self.path, exc) from None
            except sqlite3.DatabaseError as exc:
                raise _unavailable(self.path, exc) from None

    def _insert(self, table: str, row: Mapping[str, Any]) -> int:
        cols = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        with self._tx() as conn:
            cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
            assert cur.lastrowid is not None   # always set after an INSERT
            return cur.lastrowid

    def _update(self, table: str, row_id: int, row: Mapping[str, Any]) -> None:
        sets = ", ".join(f'"{k}" = ?' for k in row)
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*row.values(), row_id))
            if cur.rowcount != 1:
                raise JournalValueError(f"journal: no {table} row with id {row_id}")

    def start_talk(self, source: TalkSource | str, started_at: float) -> int:
        """Record the start of a talk (``source``: listen, kiosk, demo or checkin); returns its id."""
        return self._insert("talks", {"source": _source(source).value, "started_at": float(started_at)})

    def end_talk(self, talk_id: int, ended_at: float, figures: TalkFigures | None = None,
                 audio_s: float = 0.0, suspended_s: float = 0.0) -> None:
        """Record the end of a talk, with its figures (None: not known, the columns stay empty).

        ``audio_s`` is the length of audio heard: a talk replayed from a file faster than real time is dated back
        so that it spans its audio and ends at ``ended_at``, and its events (stamped in seconds of audio from the
        talk's start) fall inside it. ``suspended_s``: seconds the machine was suspended during the talk (a
        laptop's lid closed), not counted in its length."""
        row: dict[str, Any] = {"ended_at": float(ended_at), "suspended_s": max(0.0, float(suspended_s))}
        if figures is not None:
            row.update({k: float(v) for k, v in asdict(figures).items()})
        with self._lock:
            found = self._db().execute("SELECT started_at FROM talks WHERE id = ?", (talk_id,)).fetchone()
        if found is not None and audio_s > 0 and float(ended_at) - float(found[0]) < audio_s:
            row["started_at"] = float(ended_at) - float(audio_s)
        self._update("talks", talk_id, row)

    def discard_talk(self, talk_id: int) -> None:
        """Remove a talk in which no audio was heard and nothing was done (the microphone never came, or it stopped
        first): it is no talk to count. Its events go with it (there are none without audio)."""
        with self._tx() as conn:
            if conn.execute("DELETE FROM talks WHERE id = ?", (talk_id,)).rowcount != 1:
                raise JournalValueError(f"journal: no talks row with id {talk_id}")

    def clock_was_set(self, talk_id: int, step_s: float) -> bool:
        """The system clock was set forward (or back) by ``step_s`` during talk ``talk_id``: its start and the wall
        times stored with it so far (suggestions and answers, pauses) are moved by as much, in one transaction, so
        they read as the corrected clock would have stamped them (its events are seconds after the start)."""
        with self._tx() as conn:
            if conn.execute("UPDATE talks SET started_at = started_at + ? WHERE id = ?",
                            (step_s, talk_id)).rowcount != 1:
                raise JournalValueError(f"journal: no talks row with id {talk_id}")
            conn.execute("UPDATE suggestions SET at = at + ?1, answered_at = answered_at + ?1 WHERE talk_id = ?2",
                         (step_s, talk_id))
            conn.execute("UPDATE pauses SET started_at = started_at + ?1, ended_at = ended_at + ?1 WHERE talk_id = ?2",
                         (step_s, talk_id))
        return True

    def add_event(self, talk_id: int, event: Event | Mapping[str, Any]) -> int:
        """Store a detector event (an :class:`Event` or its contract dict), without any free text."""
        data = clean_event(event.to_dict() if isinstance(event, Event) else dict(event))
        row = {"talk_id": talk_id, "type": data["type"], "t": float(data["t"]),
               **{k: data.get(k) for k in ("start", "end", "speaker", "over", "reason")},
               "data": json.dumps(data, ensure_ascii=False)}
        return self._insert("events", row)

    def end_event(self, event_id: int, end: float) -> None:
        """Set the end (seconds of audio) of a stored event that was stored while it went on (a raised voice)."""
        with self._tx() as conn:
            found = conn.execute("SELECT data FROM events WHERE id = ?", (event_id,)).fetchone()
            if found is None:
                raise JournalValueError(f"journal: no events row with id {event_id}")
            data = json.loads(found[0])
            data["end"] = round(float(end), 3)
            conn.execute('UPDATE events SET "end" = ?, data = ? WHERE id = ?',
                         (float(end), json.dumps(data, ensure_ascii=False), event_id))

    def add_suggestion(self, talk_id: int | None, at: float, reason: str) -> int:
        """Record that a pause was suggested (wall time ``at``, the detector's reason); returns its id."""
        return self._insert("suggestions", {"talk_id": talk_id, "at": float(at), "reason": str(reason)})

    def answer_suggestion(self, suggestion_id: int, answer: Answer, at: float) -> None:
        """Record the answer to a suggestion."""
        if not isinstance(answer, Answer):
            raise JournalValueError(f"answer must be an Answer ({', '.join(a.value for a in Answer)}), "
                                    f"not {answer!r}")
        self._update("suggestions", suggestion_id, {"answer": answer.value, "answered_at": float(at)})

    def add_pause(self, talk_id: int | None, started_at: float, planned_min: float) -> int:
        """Record the start of a pause of ``planned_min`` minutes; returns its id."""
        row = {"talk_id": talk_id, "started_at": float(started_at), "planned_min": float(planned_min)}
        return self._insert("pauses", row)

    def end_pause(self, pause_id: int, ended_at: float, how: PauseEnd) -> None:
        """Record the end of a pause and how it ended."""
        if not isinstance(how, PauseEnd):
            raise JournalValueError(f"how must be a PauseEnd, not {how!r}")
        with self._lock:
            found = self._db().execute("SELECT started_at FROM pauses WHERE id = ?", (pause_id,)).fetchone()
        if found is None:
            raise JournalValueError(f"journal: no pauses row with id {pause_id}")
        actual = max(0.0, (float(ended_at) - found[0]) / 60.0)
        self._update("pauses", pause_id, {"ended_at": float(ended_at), "actual_min": actual,
                                          "ended_how": how.value})

    def add_checkin(self, name: str, started_at: float, completed: bool, minutes: float,
                    source: TalkSource | str, ask_again_at: float | None = None) -> int:
        """Record a check-in (script name, start, whether it was completed, its length, where it ran).

        ``ask_again_at``: it was declined with "ask again later" accepted, to be asked again at this wall time (the
        kiosk's promise, kept across a restart); None for every other check-in."""
        row = {"name": name, "started_at": float(started_at), "completed": int(bool(completed)),
               "minutes": float(minutes), "source": _source(source).value,
               "ask_again_at": float(ask_again_at) if ask_again_at is not None else None}
        return self._insert("checkins", row)

    def index_note(self, created_at: float, from_partner: str, to_partner: str, file: str,
                   duration_s: float) -> int:
        """Add a voice-note file (already written in ``notes_dir``) to the index; returns its id."""
        row = {"created_at": float(created_at), "from_partner": from_partner, "to_partner": to_partner,
               "file": file, "duration_s": float(duration_s)}
        return self._insert("notes", row)

    def unindex_note(self, note_id: int) -> str:
        """Remove a voice note from the index; returns its file name (the caller deletes the file)."""
        with self._tx() as conn:
            found = conn.execute("SELECT file FROM notes WHERE id = ?", (note_id,)).fetchone()
            if found is None:
                raise JournalValueError(f"journal: no voice note with id {note_id}")
            conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
        return str(found[0])

    # --- reading, erasing ------------------------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one journal table, oldest first, as plain dicts (all in memory: small tables and tests;
        :meth:`iter_rows` reads a big one a chunk at a time)."""
        return list(self.iter_rows(table))

    def iter_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """The rows of one journal table, oldest first, as plain dicts, read :data:`CHUNK_ROWS` at a time."""
        if table not in TABLES:
            raise JournalValueError(f"unknown journal table {table!r}")
        return self.select(f"SELECT * FROM {table} WHERE id > ? ORDER BY id LIMIT ?")

    def select(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a read-only query, as dicts, read :data:`CHUNK_ROWS` at a time (memory stays bounded however
        big the journal grows).

        ``sql`` selects a row id as its first column and ends ``... AND <id> > ? ORDER BY <id> LIMIT ?``: each
        chunk is its own short statement, run to its end under the lock, so a writer sharing this connection (the
        kiosk) waits at most one chunk and a slow consumer (a browser downloading the export) holds nothing. A row
        written meanwhile may or may not be included."""
        after = -(2 ** 63)
        while True:
            with self._lock:
                try:
                    cur = self._db().execute(sql, (*params, after, CHUNK_ROWS))
                    names = [d[0] for d in cur.description]
                    chunk = cur.fetchall()
                except sqlite3.DatabaseError as exc:
                    raise JournalUnavailable(f"journal {self.path}: cannot read ({exc})") from None
            for row in chunk:
                yield dict(zip(names, row))
            if len(chunk) < CHUNK_ROWS:
                return
            after = chunk[-1][0]

    def suggestions_since(self, since: float) -> list[dict[str, Any]]:
        """Pause suggestions made or answered at or after wall time ``since`` (demos aside): ``at``, ``answer``,
        ``answered_at``."""
        return list(self.select(
            "SELECT s.id, s.at, s.answer, s.answered_at FROM suggestions s LEFT JOIN talks t ON t.id = s.talk_id "
            "WHERE (s.at >= ? OR s.answered_at >= ?) AND COALESCE(t.source, '') != 'demo' AND s.id > ? "
            "ORDER BY s.id LIMIT ?", (since, since)))

    def pauses_since(self, since: float) -> list[dict[str, Any]]:
        """Pauses that ended at or after wall time ``since``, or have no end and were planned to end by then (the
        program died during them), demos aside: ``started_at``, ``planned_min``, ``ended_at`` (None: no end)."""
        rows = self.select(
            "SELECT p.id, p.started_at, p.planned_min, p.ended_at FROM pauses p LEFT JOIN talks t ON t.id = p.talk_id "
            "WHERE COALESCE(p.ended_at, p.started_at + 60.0 * p.planned_min) >= ? AND COALESCE(t.source, '') != 'demo' "
            "AND p.id > ? ORDER BY p.id LIMIT ?", (since,))
        return list(rows)

    def counts(self) -> dict[str, int]:
        """How many rows each journal table holds (counted by SQLite: no row is read into memory)."""
        with self._lock:
            try:
                conn = self._db()
                return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                        for table in TABLES}
            except sqlite3.DatabaseError as exc:
                raise JournalUnavailable(f"journal {self.path}: cannot read ({exc})") from None

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """One table's rows as the export has them (an event as its contract dict, a check-in's ``completed`` as
        true/false), read a chunk at a time."""
        for row in self.iter_rows(table):
            if table == "events":
                row = {"id": row["id"], "talk_id": row["talk_id"], **json.loads(row["data"])}
            elif table == "checkins":
                row = {**row, "completed": bool(row["completed"])}
            yield row

    def report_rows(self) -> JournalReportRows:
        """The rows a report sums (:class:`~voicecoach.journal.report.ReportRows`), selected and joined by SQLite
        and read a chunk at a time: a report of years of events never holds them all in memory."""
        return JournalReportRows(self)

    def export(self) -> dict[str, Any]:
        """Everything in the journal as one JSON-able dict (voice notes as metadata only), all in memory: the
        commands and the page write :meth:`export_json` as it is read instead."""
        out: dict[str, Any] = {"format": "voicecoach-journal", "schema": self.schema_version}
        for table in TABLES:
            out[table] = list(self.export_rows(table))
        return out

    def export_json(self, indent: int = 2, counted: dict[str, int] | None = None) -> Iterator[str]:
        """The export as JSON text, in pieces as the rows are read: the same text as ``json.dumps(self.export(),
        indent=indent, ensure_ascii=False)``, in memory a chunk of rows at a time whatever the journal's size.
        ``counted`` (when given) gets each table's number of rows as it is written."""
        pad = " " * indent
        head = {"format": "voicecoach-journal", "schema": self.schema_version}
        yield "{\n" + "".join(f"{pad}{json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items())
        for i, table in enumerate(TABLES):
            piece, n = [f"{pad}{json.dumps(table)}: "], 0
            for row in self.export_rows(table):
                text = json.dumps(row, indent=indent, ensure_ascii=False).replace("\n", "\n" + pad * 2)
                piece.append(("[\n" if n == 0 else ",\n") + pad * 2 + text)
                n += 1
                if len(piece) >= CHUNK_ROWS:
                    yield "".join(piece)
                    piece = []
            piece.append((f"\n{pad}]" if n else "[]") + (",\n" if i < len(TABLES) - 1 else "\n"))
            yield "".join(piece)
            if counted is not None:
                counted[table] = n
        yield "}"

    def erase(self, wait_s: float = 10.0) -> None:
        """Delete every row and every voice note, then VACUUM and checkpoint so nothing lingers in the file or its WAL.

        Raises :class:`NothingErased` when it failed before deleting anything (the caller then keeps what it would
        have erased with the journal); any other :class:`JournalUnavailable` comes after the rows were deleted.

        Another connection reading the journal (an old snapshot: the kiosk, a report) keeps the deleted rows' pages
        in the file until it lets go; the checkpoint waits up to ``wait_s`` for it, then raises
        :class:`JournalBusy` (the rows are gone from the journal, their bytes not yet from the disk)."""
        from .notes import earlier_folder, indexed_files, made_earlier, own_files, remove_all

        earlier: list[Path] = []
        try:
            with self._tx() as conn:
                names = [r[0] for r in conn.execute("SELECT file FROM notes")]
                if made_earlier(self.notes_dir):  # an earlier version's unmarked folder: the notes the index names
                    earlier = indexed_files(self.notes_dir, names)
                beside = earlier_folder(self.path)  # before 2 December a journal elsewhere kept its notes beside it
                if beside != self.notes_dir and beside.is_dir() and not beside.is_symlink():
                    earlier += indexed_files(beside, names)
                for table in reversed(TABLES):
                    conn.execute(f"DELETE FROM {table}")
        except JournalDiskFull as full:  # the deletes were rolled back: everything is as it was
            raise NothingErased(str(JournalDiskFull(self.path, full.why, ERASE_AGAIN_NOTHING))) from None
        except JournalUnavailable as exc:  # locked by another program, an I/O error: rolled back as well
            raise NothingErased(f"{str(exc).replace(NOT_RECORDED, '')}; nothing was erased") from None
        remove_all(self.notes_dir)  # only voicecoach's own note files, in its own marked folder
        for note in earlier:
            self._remove_note(note)
        left = own_files(self.notes_dir) + [note for note in earlier if note.exists()]
        with self._lock:
            conn = self._db()
            try:
                conn.execute("VACUUM")
                conn.execute(f"PRAGMA busy_timeout = {max(0, int(wait_s * 1000))}")
                busy, wal_frames, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError as exc:
                trouble = _unavailable(self.path, exc)
                if isinstance(trouble, JournalDiskFull):  # VACUUM writes a copy of the file first
                    raise JournalDiskFull(self.path, trouble.why, ERASE_AGAIN_COMPACT) from None
                raise trouble from None
            finally:
                conn.execute("PRAGMA busy_timeout = 10000")
                self._identity = file_identity(self.path)
        if left:
            raise JournalUnavailable(f"journal {self.path}: every entry was erased, but {len(left)} voice note "
                                     f"file(s) in {self.notes_dir} could not be deleted; delete them by hand "
                                     f"(or make the folder writable) and run the erase again")
        if busy or (wal_frames > 0 and copied < wal_frames):
            raise JournalBusy(f"journal {self.path}: everything was deleted, but another program is still reading "
                              f"the journal, so the old data stays in the file until it stops; stop it (e.g. the "
                              f"kiosk: sudo systemctl stop voicecoach) and run the erase again")

    def _remove_note(self, note: Path) -> None:
        """Delete one note file an earlier version left (a failure is counted by the caller, not raised)."""
        try:
            paths.remove_inside(note, note.parent)
        except (OSError, ValueError) as exc:
            log.warning("voice notes: cannot delete %s (%s)", note, exc)

    def close(self) -> None:
        """Close the database (safe to call twice)."""
        with self._lock:
            self._conn.close()

    # --- the file at the path ----------------------------------------------------------------------------------
    # follow_path and the checkpoint after each commit are FollowsPath's, in follow.py

    def _db(self) -> sqlite3.Connection:
        """The open connection, or the reason there is none (:meth:`follow_path` could not open the new file)."""
        if self._problem is not None:
            raise self._problem
        return self._conn

    @property
    def usable(self) -> bool:
        """False while no file can be written (see :meth:`follow_path`)."""
        return self._problem is None

    def talk_is(self, talk_id: int, source: TalkSource | str, started_at: float) -> bool:
        """True when the journal holds talk ``talk_id`` begun at ``started_at`` by ``source`` (the same talk, not
        one of another file that has the same id)."""
        with self._lock:
            try:
                found = self._db().execute("SELECT source, started_at FROM talks WHERE id = ?", (talk_id,)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise JournalUnavailable(f"journal {self.path}: cannot read ({exc})") from None
        return found is not None and found[0] == _source(source).value and float(found[1]) == float(started_at)

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _source(source: TalkSource | str) -> TalkSource:
    try:
        return source if isinstance(source, TalkSource) else TalkSource(source)
    except ValueError:
        raise JournalValueError(f"talk source must be one of {SOURCES}, not {source!r}") from None


def clean_event(data: dict[str, Any]) -> dict[str, Any]:
    """An event's contract dict with every free-text value removed (labels and numbers kept)."""
    if "type" not in data or "t" not in data:
        raise JournalValueError(f"not an event dict (needs 'type' and 't'): {data!r}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str) and key not in _LABEL_KEYS:
            continue  # e.g. Command.text: the words heard are never stored
        if value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out
