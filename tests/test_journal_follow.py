"""A journal replaced on disk while a live loop (the kiosk) writes it: real files, moved, copied over, deleted.

The kiosk runs one talk for as long as it runs and shares its open journal with its page. A backup restored over the
journal (``mv`` or ``cp``), or the journal moved aside, used to leave it writing into the old file (moved away, or a
deleted one) and the page showing it; now the file at the journal's path is the one written and shown, the rows
written before stay in the file they went to, and the talk goes on as a talk of the new file."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from voicecoach.events import Interruption
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.files import JournalRefused, verify
from voicecoach.journal.store import Journal
from voicecoach.journal.talk import TalkLog
from voicecoach.journal.writer import TalkWriter
from voicecoach.records import PauseStarted


def rows(path: Path, table: str) -> list[dict]:
    """The rows of ``path`` as a fresh connection reads them (after a check of every page)."""
    verify(path)
    with Journal.open(path) as journal:
        return journal.rows(table)


def backup_with_talks(path: Path, n: int) -> None:
    with Journal.open(path) as journal:
        for i in range(n):
            talk = journal.start_talk(TalkSource.LISTEN, 100.0 + i)
            journal.end_talk(talk, 200.0 + i)


def reading(db: Path) -> sqlite3.Connection:
    """Another program in a read transaction on ``db`` (an SQLite browser left open): it holds the checkpoint back
    until it commits."""
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM talks").fetchone()
    return reader


def wall() -> float:
    wall.t += 1.0  # type: ignore[attr-defined]
    return wall.t  # type: ignore[attr-defined]


wall.t = 1000.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["moved over", "copied over"])
def test_a_backup_restored_over_the_journal_is_written_from_then_on(tmp_path, how: str, caplog) -> None:
    """mv or cp of a backup over the kiosk's journal: the next rows go to the restored file (its talks kept, the
    talk going on as a new talk there, its file whole); nothing more goes to the old one, whose rows stay in it."""
    db, backup, aside = tmp_path / "journal.sqlite3", tmp_path / "backup.sqlite3", tmp_path / "aside.sqlite3"
    backup_with_talks(backup, 2)
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    if how == "moved over":
        shutil.copyfile(db, aside)  # what was there, to compare: the rows written so far are in the file itself
        backup.replace(db)
    else:
        shutil.copyfile(db, aside)
        shutil.copyfile(backup, db)
    with caplog.at_level(logging.INFO):
        talk.event(Interruption(t=2.0, speaker="b", over="a"))
        talk.record(PauseStarted(planned_min=20.0, manual=True))
        talk.end(None, audio_s=3.0, end_s=3.0)
    journal.close()
    talks = rows(db, "talks")
    assert [t["source"] for t in talks] == ["listen", "listen", "kiosk"]  # the backup's two, then this talk
    assert [e["t"] for e in rows(db, "events")] == [2.0] and rows(db, "events")[0]["talk_id"] == talks[-1]["id"]
    assert rows(db, "pauses")[0]["talk_id"] == talks[-1]["id"] and talks[-1]["ended_at"] is not None
    old = rows(aside, "events")
    assert [e["t"] for e in old] == [1.0]  # written before: kept; nothing after
    lines = [r.getMessage() for r in caplog.records if "journal" in r.getMessage() and r.levelno >= logging.WARNING]
    assert len(lines) == 1 and str(db) in lines[0], lines
    assert ("stays in the file it went to" if how == "moved over" else "went with the file written over") in lines[0]


def test_a_journal_moved_aside_keeps_its_rows_and_a_new_one_is_started_at_the_path(tmp_path) -> None:
    db, aside = tmp_path / "journal.sqlite3", tmp_path / "kept.sqlite3"
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    db.rename(aside)  # while the kiosk has it open
    talk.event(Interruption(t=2.0, speaker="b", over="a"))
    talk.end(None, audio_s=3.0, end_s=3.0)
    journal.close()
    assert [e["t"] for e in rows(aside, "events")] == [1.0]  # the rows it wrote, all in the file moved aside
    assert [e["t"] for e in rows(db, "events")] == [2.0]


def test_the_kiosk_page_shows_the_restored_journal_and_the_loop_follows_it_unasked(tmp_path) -> None:
    """Nothing written meanwhile: the page's next request and the live loop's next look (about once a second)
    both take the file now at the path."""
    from voicecoach.audio.playback import NullSink
    from voicecoach.config import Config
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.speech.speaker import Speaker
    from voicecoach.web.app import JournalAccess

    db, backup = tmp_path / "journal.sqlite3", tmp_path / "backup.sqlite3"
    backup_with_talks(backup, 3)
    config = Config()
    live = Live.build(config, LiveSpec(TalkSource.KIOSK, commands=False), journal=Journal.open(db), notes=None,
                      speaker=Speaker(config.speech, sink=NullSink()))
    writer = live.session.talk
    assert isinstance(writer, TalkWriter)  # the talk's writes are on their own thread: waited for here
    try:
        page = JournalAccess(db, live.journal)
        assert writer.flush(10.0) and page.get().counts()["talks"] == 1
        backup.replace(db)
        assert page.get().counts()["talks"] == 3  # the page: the restored file, not the one it had open
        live.session.tick()  # the loop's look: the talk goes on in the restored file
        assert writer.flush(10.0) and page.get().counts()["talks"] == 4
    finally:
        live.close()
    # the restored file, whole; the kiosk's talk, in which nothing was heard, is removed at its end as always
    assert [t["source"] for t in rows(db, "talks")] == ["listen"] * 3


def test_an_unusable_file_put_there_is_never_written_and_the_journal_comes_back_when_fixed(tmp_path, caplog) -> None:
    db, aside = tmp_path / "journal.sqlite3", tmp_path / "aside.sqlite3"
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    db.rename(aside)
    db.write_bytes(b"not a journal at all" * 100)
    with caplog.at_level(logging.WARNING):
        talk.event(Interruption(t=1.0, speaker="a", over="b"))
        talk.event(Interruption(t=2.0, speaker="a", over="b"))
    assert db.read_bytes() == b"not a journal at all" * 100  # left untouched
    with pytest.raises(JournalRefused):
        journal.counts()
    assert 1 <= len([r for r in caplog.records if "not an SQLite database" in r.getMessage()]) <= 2
    assert rows(aside, "events") == []  # and nothing went to the file moved away
    db.unlink()
    aside.rename(db)  # put back
    talk.event(Interruption(t=3.0, speaker="a", over="b"))
    talk.end(None, audio_s=4.0, end_s=4.0)
    journal.close()
    assert [e["t"] for e in rows(db, "events")] == [3.0]
    assert len(rows(db, "talks")) == 1  # its talk found again, not a second one
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("how", ["moved over", "moved away"])
def test_while_another_program_reads_the_old_file_nothing_is_written_until_it_stops(tmp_path, how: str) -> None:
    """The old file's WAL cannot be emptied while a reader holds it: nothing is written meanwhile (not to the old
    file, not to the new one, whose WAL would be the old file's), then the file at the path (a new journal when
    there is none), once it is free."""
    db, backup = tmp_path / "journal.sqlite3", tmp_path / "backup.sqlite3"
    backup_with_talks(backup, 2)
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    reader = reading(db)  # a read transaction on the file that was there
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    if how == "moved over":
        backup.replace(db)
    else:
        db.rename(tmp_path / "aside.sqlite3")
    talk.event(Interruption(t=2.0, speaker="a", over="b"))
    assert journal.follow_path() is not None and not journal.usable
    reader.execute("COMMIT")
    reader.close()
    talk.event(Interruption(t=3.0, speaker="a", over="b"))
    talk.end(None, audio_s=4.0, end_s=4.0)
    journal.close()
    assert [e["t"] for e in rows(db, "events")] == [3.0]
    assert len(rows(db, "talks")) == (3 if how == "moved over" else 1)
    if how == "moved away":
        assert [e["t"] for e in rows(tmp_path / "aside.sqlite3", "events")] == [1.0]


def test_a_backup_copied_over_while_a_reader_held_the_wal_gets_none_of_the_old_journals_rows(tmp_path, caplog) -> None:
    """A reader held back the checkpoint, so the kiosk's last rows were still only in the WAL when ``cp`` wrote a
    backup over the file. Letting go of the file empties the WAL into it: those pages of the old journal went into
    the restored backup (its talk 1 then had the kiosk's 30 events). Now the copied bytes are kept aside first and
    put back: the restored journal holds the backup's rows and the talk going on, nothing else."""
    db, backup = tmp_path / "journal.sqlite3", tmp_path / "backup.sqlite3"
    backup_with_talks(backup, 3)
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    reader = reading(db)  # its snapshot holds the checkpoint back
    for i in range(30):
        talk.event(Interruption(t=1.0 + i, speaker="a", over="b"))
    shutil.copyfile(backup, db)
    talk.event(Interruption(t=100.0, speaker="a", over="b"))  # not written: the reader still holds the old file
    reader.execute("COMMIT")
    reader.close()
    with caplog.at_level(logging.WARNING):
        talk.event(Interruption(t=101.0, speaker="a", over="b"))
    talk.end(None, audio_s=102.0, end_s=102.0)
    journal.close()
    talks = rows(db, "talks")
    assert [t["source"] for t in talks] == ["listen", "listen", "listen", "kiosk"]
    assert [(e["talk_id"], e["t"]) for e in rows(db, "events")] == [(talks[-1]["id"], 101.0)]
    assert not list(tmp_path.glob(".journal.sqlite3.*"))  # the kept copy is the journal again, nothing left over
    assert any("copied over it" in r.getMessage() for r in caplog.records)


def test_another_voicecoach_writing_the_journal_is_no_replaced_file(tmp_path, caplog) -> None:
    """A second voicecoach (``listen`` in a terminal, ``voicecoach web``'s page) writing the kiosk's journal changed
    the file, so the kiosk took it for a backup copied over it: it logged that what it had written "went with the
    file written over" (it had not), and let go of the file and opened it again, checking every page. Now a commit
    by another SQLite connection is just that: no line, the same connection, the talk going on."""
    db = tmp_path / "journal.sqlite3"
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    connection = journal._conn
    other = ("import sys\nfrom voicecoach.journal.store import Journal\n"
             "with Journal.open(sys.argv[1]) as j:\n    j.end_talk(j.start_talk('listen', 5.0), 6.0)\n")
    subprocess.run([sys.executable, "-c", other, str(db)], check=True, timeout=60)
    with caplog.at_level(logging.INFO):
        talk.event(Interruption(t=2.0, speaker="a", over="b"))
        talk.end(None, audio_s=3.0, end_s=3.0)
    assert journal._conn is connection  # not let go, not opened again
    journal.close()
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO], caplog.records
    talks = rows(db, "talks")
    assert [t["source"] for t in talks] == ["kiosk", "listen"] and talks[0]["ended_at"] is not None
    assert [(e["talk_id"], e["t"]) for e in rows(db, "events")] == [(talks[0]["id"], 1.0), (talks[0]["id"], 2.0)]


def test_the_journal_erased_by_another_voicecoach_gets_the_talk_going_on_as_a_new_talk(tmp_home, run_cli) -> None:
    """``voicecoach journal erase --yes`` while the kiosk runs: its talk row is gone, so the talk goes on as a new
    talk (its events would otherwise name a talk that is no longer there, and fail)."""
    db = tmp_home.data_dir / "journal.sqlite3"
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    res = run_cli("journal", "erase", "--yes", env=tmp_home.env)
    assert res.returncode == 0, res.stderr
    talk.event(Interruption(t=2.0, speaker="a", over="b"))
    talk.end(None, audio_s=3.0, end_s=3.0)
    journal.close()
    talks = rows(db, "talks")
    assert len(talks) == 1 and talks[0]["ended_at"] is not None
    assert [(e["talk_id"], e["t"]) for e in rows(db, "events")] == [(talks[0]["id"], 2.0)]


def test_the_talk_in_a_file_let_go_gets_its_end(tmp_path) -> None:
    """The journal moved aside (or another file moved over it) during a talk: the talk row left in that file had no
    end, so a report of it counted the talk as no time together. It ends when the file is let go."""
    db, aside = tmp_path / "journal.sqlite3", tmp_path / "kept.sqlite3"
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=wall)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    db.rename(aside)
    talk.event(Interruption(t=2.0, speaker="b", over="a"))
    talk.end(None, audio_s=3.0, end_s=3.0)
    journal.close()
    (old,) = rows(aside, "talks")
    assert old["ended_at"] is not None and old["ended_at"] > old["started_at"]
    (new,) = rows(db, "talks")
    assert new["ended_at"] is not None


@pytest.fixture
def mount_point(tmp_path):
    """A folder bind-mounted over itself: ``set_read_only(True)`` makes it a read-only disk (root is not stopped by
    a folder's permissions), ``False`` writable again; skips where mount is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    res = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({res.stderr.strip() or res.returncode})")

    def set_read_only(read_only: bool) -> None:
        subprocess.run(["mount", "-o", f"remount,bind,{'ro' if read_only else 'rw'}", str(folder)], check=True,
                       capture_output=True)

    try:
        yield folder, set_read_only
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


class FakeWall:
    """Epoch seconds that move only when told."""

    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_new_journal_that_cannot_be_made_is_tried_again_every_30_s(small_disk, caplog) -> None:
    """The journal moved away while its disk is full: no new journal can be made there. It was never tried again
    (the same unusable file as when it failed), so nothing was stored until the kiosk was restarted. Now it is
    tried every 30 s, said once, and the talk goes on in the new journal once there is room. (A read-only folder
    is the same case; a disk cannot be made read-only while the kiosk holds its journal open for writing.)"""
    folder = small_disk(512)
    db, aside, filler = folder / "journal.sqlite3", folder / "moved.sqlite3", folder / "filler"
    clock = FakeWall()
    journal = Journal.open(db)
    talk = TalkLog(journal, TalkSource.KIOSK, wall=clock)
    talk.event(Interruption(t=1.0, speaker="a", over="b"))
    db.rename(aside)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):  # the disk full
        while os.write(fd, b"x" * 4096):
            pass
    os.close(fd)
    with caplog.at_level(logging.WARNING):
        for step in (1.0, 10.0, 10.0):
            clock.t += step
            talk.event(Interruption(t=clock.t - 1_790_000_000.0, speaker="a", over="b"))  # not stored
    filler.unlink()
    clock.t += 5.0
    talk.event(Interruption(t=30.0, speaker="a", over="b"))  # 25 s since it was tried: not yet
    clock.t += 6.0
    talk.event(Interruption(t=31.0, speaker="a", over="b"))  # 31 s: tried, made, stored
    talk.end(None, audio_s=32.0, end_s=32.0)
    journal.close()
    assert [e["t"] for e in rows(db, "events")] == [31.0]
    said = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(said) == 1 and "tried again every 30 s" in said[0], said
    assert [e["t"] for e in rows(aside, "events")] == [1.0]


def test_a_journal_that_cannot_be_made_at_start_is_tried_again(mount_point, caplog) -> None:
    """The kiosk started with its journal's folder read-only (a disk mounted late at boot): it ran without a
    journal until it was started again. Now the live loop tries it every 30 s."""
    import dataclasses

    from voicecoach import app
    from voicecoach.config import Config

    folder, set_read_only = mount_point
    db = folder / "journal.sqlite3"
    base = Config()
    config = dataclasses.replace(base, journal=dataclasses.replace(base.journal, file=str(db)))
    clock = FakeWall()
    set_read_only(True)
    try:
        journal = app.open_journal(config)
        assert journal is not None and not journal.usable
        talk = TalkLog(journal, TalkSource.KIOSK, wall=clock)
        talk.follow()  # the loop's look, once a second
        set_read_only(False)
        clock.t += 31.0
        talk.follow()
        assert journal.usable
        talk.event(Interruption(t=1.0, speaker="a", over="b"))
        talk.end(None, audio_s=2.0, end_s=2.0)
    finally:
        set_read_only(False)
    journal.close()
    assert len(rows(db, "talks")) == 1 and [e["t"] for e in rows(db, "events")] == [1.0]
    assert any("it can be now" in r.getMessage() for r in caplog.records)
