"""The journal store: privacy (0600, no words), schema migration, refusing bad files untouched, failures."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from voicecoach.errors import VoicecoachError
from voicecoach.commands import Command, Source
from voicecoach.events import Heard, Interruption, PauseSuggested, RaisedVoice
from voicecoach.journal.schema import CURRENT_VERSION, MIGRATIONS, TABLES, TalkFigures, TalkSource
from voicecoach.records import Answer, PauseEnd
from voicecoach.journal.files import JournalRefused, JournalUnavailable, default_path
from voicecoach.journal.store import Journal, JournalValueError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill(journal: Journal) -> int:
    """A small talk with every kind of row; returns the talk id."""
    talk = journal.start_talk("listen", 1_790_000_000.0)
    journal.add_event(talk, RaisedVoice(t=12.5, start=11.9, end=15.2, speaker="A", level_db=7.5))
    journal.add_event(talk, Interruption(t=40.1, start=39.7, speaker="B", over="A"))
    journal.add_event(talk, PauseSuggested(t=41.0, reason="3 interruptions in 60 s"))
    s = journal.add_suggestion(talk, 1_790_000_041.0, "3 interruptions in 60 s")
    journal.answer_suggestion(s, Answer.YES, 1_790_000_044.0)
    p = journal.add_pause(talk, 1_790_000_045.0, 20.0)
    journal.end_pause(p, 1_790_001_245.0, PauseEnd.COMPLETED)
    journal.end_talk(talk, 1_790_003_000.0, TalkFigures(speak_a_s=600.0, speak_b_s=500.0, raised_a_s=3.3,
                                                        raised_b_s=0.0))
    journal.add_checkin("after-pause", 1_790_001_300.0, True, 11.5, "listen")
    return talk


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


def test_new_journal_and_its_side_files_are_private_0600_in_wal_mode(path: Path) -> None:
    with Journal.open(path) as journal:
        fill(journal)
        assert journal.schema_version == CURRENT_VERSION
        assert journal._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        for f in files:
            assert f.exists(), f
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_journal_with_loose_permissions_is_tightened_to_0600(path: Path) -> None:
    Journal.open(path).close()
    os.chmod(path, 0o644)
    Journal.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_default_location_is_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "vc"))
    with Journal.open() as journal:
        assert journal.path == tmp_path / "vc" / "journal.sqlite3" == default_path()


def test_export_has_every_row_as_json_contract_dicts(path: Path) -> None:
    import json

    with Journal.open(path) as journal:
        fill(journal)
        data = journal.export()
    json.dumps(data)  # JSON-able
    assert data["schema"] == CURRENT_VERSION
    assert [e["type"] for e in data["events"]] == ["raised_voice", "interruption", "pause_suggested"]
    assert data["events"][0] == {"id": 1, "talk_id": 1, "type": "raised_voice", "t": 12.5, "start": 11.9,
                                 "end": 15.2, "speaker": "A", "level_db": 7.5}
    assert data["events"][1]["over"] == "A"
    assert data["suggestions"][0]["answer"] == "yes"
    assert data["pauses"][0]["actual_min"] == pytest.approx(20.0)
    assert data["pauses"][0]["ended_how"] == "completed"
    assert data["talks"][0]["speak_a_s"] == 600.0 and data["talks"][0]["ended_at"] == 1_790_003_000.0
    assert data["checkins"][0]["completed"] is True
    assert data["notes"] == []


@pytest.mark.parametrize("indent", [1, 2])
def test_the_export_written_as_it_is_read_is_the_same_text_as_the_whole_export(path: Path, monkeypatch,
                                                                               indent: int) -> None:
    """export_json (the commands and the page write it a chunk of rows at a time) gives exactly the text that
    json.dumps gave of the whole export, across chunk boundaries (2 rows a chunk here) and for empty tables."""
    import json

    import voicecoach.journal.store as store

    monkeypatch.setattr(store, "CHUNK_ROWS", 2)
    with Journal.open(path) as journal:
        for _ in range(3):
            fill(journal)
        journal.add_event(1, {"type": "raised_voice", "t": 1.0, "speaker": "B", "reason": "zoë's \"x\""})
        counted: dict = {}
        text = "".join(journal.export_json(indent=indent, counted=counted))
        assert text == json.dumps(journal.export(), indent=indent, ensure_ascii=False)
        assert counted == {**journal.counts()} and counted["events"] == 10 and counted["notes"] == 0
        journal.erase()
        assert "".join(journal.export_json(indent)) == json.dumps(journal.export(), indent=indent,
                                                                  ensure_ascii=False)


def test_the_words_of_a_command_are_never_stored(path: Path) -> None:
    with Journal.open(path) as journal:
        talk = journal.start_talk("kiosk", 1.0)
        journal.add_event(talk, Heard(t=3.0, reply=Command.NOT_NOW, text="not now, we are fine really",
                                      source=Source.VOICE))
        journal.add_event(talk, {"type": "future_kind", "t": 4.0, "note": "some words", "score": 2})
        events = journal.export()["events"]
        raw = path.read_bytes() + Path(f"{path}-wal").read_bytes()
    raw += path.read_bytes()  # after the final checkpoint
    assert events[0] == {"id": 1, "talk_id": 1, "type": "command", "t": 3.0, "name": "not_now", "source": "voice"}
    assert events[1] == {"id": 2, "talk_id": 1, "type": "future_kind", "t": 4.0, "score": 2}
    assert b"we are fine" not in raw and b"some words" not in raw


def test_erase_deletes_every_row_and_leaves_no_trace_in_the_files(path: Path) -> None:
    with Journal.open(path) as journal:
        fill(journal)
        journal.erase()
        data = journal.export()
        assert all(data[t] == [] for t in ("talks", "events", "suggestions", "pauses", "checkins", "notes"))
        journal.start_talk("demo", 5.0)  # still usable afterwards
    raw = path.read_bytes() + (Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b"")
    assert b"3 interruptions in 60 s" not in raw and b"after-pause" not in raw


def test_bad_values_are_a_catchable_journal_error(path: Path) -> None:
    with Journal.open(path) as journal:
        talk = journal.start_talk("listen", 0.0)
        for call in (lambda: journal.start_talk("radio", 0.0),
                     lambda: journal.answer_suggestion(99, Answer.YES, 0.0),
                     lambda: journal.add_event(999, Interruption(t=1.0)),
                     lambda: journal.end_pause(7, 1.0, PauseEnd.COMPLETED),
                     lambda: journal.end_event(99, 1.0)):
            with pytest.raises(JournalValueError):
                call()
        s = journal.add_suggestion(talk, 1.0, "r")
        with pytest.raises(VoicecoachError):  # the runtime catches VoicecoachError and carries on
            journal.answer_suggestion(s, "maybe", 2.0)  # type: ignore[arg-type] - a string is not an Answer
        journal.answer_suggestion(s, Answer.NO_ANSWER, 2.0)
        journal.end_talk(talk, 3.0)  # no figures: the columns stay empty
        assert journal.export()["suggestions"][0]["answer"] == "no_answer"
        assert journal.export()["talks"][0]["speak_a_s"] is None


def test_the_talk_figures_are_the_pipelines_statistics_in_the_talks_own_columns(path: Path) -> None:
    from voicecoach.detect.pipeline import Pipeline

    stats = Pipeline().stats()
    stats.speaking_s["A"], stats.raised_s["B"] = 12.5, 2.5
    figures = TalkFigures.of(stats)  # a field renamed in TalkStats fails here
    assert (figures.speak_a_s, figures.raised_b_s) == (12.5, 2.5)
    with Journal.open(path) as journal:
        columns = {row[1] for row in journal._conn.execute("PRAGMA table_info(talks)")}
        assert set(TalkFigures.columns()) <= columns  # ... and one renamed here fails here
        talk = journal.start_talk(TalkSource.LISTEN, 100.0)
        journal.end_talk(talk, 200.0, figures)
        row = journal.export()["talks"][0]
    assert {k: row[k] for k in TalkFigures.columns()} == {"speak_a_s": 12.5, "speak_b_s": 0.0, "raised_a_s": 0.0,
                                                          "raised_b_s": 2.5}


def test_a_raised_voice_stored_while_it_goes_on_gets_its_end(path: Path) -> None:
    with Journal.open(path) as journal:
        talk = journal.start_talk(TalkSource.LISTEN, 100.0)
        event = journal.add_event(talk, RaisedVoice(t=12.5, start=11.9, speaker="A"))
        journal.end_event(event, 19.25)
        row = journal.rows("events")[0]
        exported = journal.export()["events"][0]
    assert row["end"] == 19.25 and exported["end"] == 19.25


def test_a_talk_replayed_faster_than_real_time_is_dated_to_span_its_audio(path: Path) -> None:
    with Journal.open(path) as journal:
        fast = journal.start_talk(TalkSource.LISTEN, 1000.0)
        journal.end_talk(fast, 1003.0, audio_s=600.0)  # ten minutes of audio read in three seconds
        live = journal.start_talk(TalkSource.LISTEN, 2000.0)
        journal.end_talk(live, 2600.0, audio_s=598.0)  # live: the wall clock already spans the audio
        talks = journal.export()["talks"]
    assert (talks[0]["started_at"], talks[0]["ended_at"]) == (403.0, 1003.0)
    assert (talks[1]["started_at"], talks[1]["ended_at"]) == (2000.0, 2600.0)


# --- schema versions -----------------------------------------------------------------------------------------

def make_v1(path: Path) -> None:
    """A journal as the first released schema wrote it, with one talk and one event."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO talks (source, started_at, ended_at, speak_a_s) VALUES ('listen', 100.0, 700.0, 42.0)")
    conn.execute("INSERT INTO events (talk_id, type, t, start, speaker, data) VALUES "
                 "(1, 'interruption', 5.0, 4.5, 'B', '{\"type\": \"interruption\", \"t\": 5.0, \"start\": 4.5, "
                 "\"speaker\": \"B\"}')")
    conn.close()


def test_a_v1_journal_is_migrated_to_the_current_schema_keeping_its_data(path: Path) -> None:
    path.parent.mkdir()
    make_v1(path)
    with Journal.open(path) as journal:
        assert journal.schema_version == CURRENT_VERSION == 4
        data = journal.export()
        assert data["talks"][0]["speak_a_s"] == 42.0
        assert data["events"] == [{"id": 1, "talk_id": 1, "type": "interruption", "t": 5.0, "start": 4.5,
                                   "speaker": "B"}]
        journal.index_note(1.0, "A", "B", "x.wav", 2.0)  # the v2 table exists
        names = {r[0] for r in journal._conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"events_by_talk", "talks_by_start"} <= names


def test_a_v2_journal_gains_the_talks_suspended_seconds_and_loses_nothing(path: Path) -> None:
    """Schema 3 stores the seconds a laptop was suspended during a talk (its length leaves them out). A journal of
    schema 2 opens and is upgraded once: every row and value as it was, each old talk suspended 0 s (not known: its
    length is its wall-clock span, as the report counted it before)."""
    from datetime import datetime, timezone

    from voicecoach.journal import report as rep

    path.parent.mkdir()
    make_v1(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO notes (created_at, from_partner, to_partner, file, duration_s) VALUES "
                 "(150.0, 'A', 'B', 'note-ab.wav', 12.0)")
    before = {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}
    conn.close()
    with Journal.open(path) as journal:
        assert journal.schema_version == CURRENT_VERSION
        rows = {t: journal.rows(t) for t in TABLES}
        week = rep.build_report(journal.report_rows(), datetime(1970, 1, 1, tzinfo=timezone.utc),
                                datetime(1970, 1, 2, tzinfo=timezone.utc)).weeks[-1]
    assert {t: [tuple(r.values()) for r in rows[t]] for t in TABLES} == {
        t: [(*r, 0.0) if t == "talks" else r for r in before[t]] for t in TABLES}
    assert [r["suspended_s"] for r in rows["talks"]] == [0.0] and week.talk_min == 10.0
    with Journal.open(path) as journal:  # upgraded once: a second opening changes nothing
        assert journal.rows("talks") == rows["talks"]


def make_v3(path: Path) -> dict[str, list[tuple]]:
    """A journal as schema 3 wrote it, a row in every table (a check-in declined, one done); its rows as tuples."""
    path.parent.mkdir()
    make_v1(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (*MIGRATIONS[1], *MIGRATIONS[2]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=3")
    conn.execute("UPDATE talks SET suspended_s = 30.0 WHERE id = 1")
    conn.execute("INSERT INTO suggestions (talk_id, at, reason, answer, answered_at) VALUES "
                 "(1, 110.0, 'raised voices', 'yes', 112.0)")
    conn.execute("INSERT INTO pauses (talk_id, started_at, planned_min, ended_at, actual_min, ended_how) VALUES "
                 "(1, 113.0, 20.0, 1313.0, 20.0, 'completed')")
    conn.execute("INSERT INTO checkins (name, started_at, completed, minutes, source) VALUES "
                 "('nightly', 2000.0, 0, 0.2, 'kiosk'), ('weekly', 5000.0, 1, 44.5, 'kiosk')")
    conn.execute("INSERT INTO notes (created_at, from_partner, to_partner, file, duration_s) VALUES "
                 "(150.0, 'A', 'B', 'note-ab.wav', 12.0)")
    before = {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY id")] for t in TABLES}
    conn.close()
    return before


def test_a_v3_journal_gains_the_check_ins_ask_again_time_and_loses_nothing(path: Path) -> None:
    """Schema 4 stores the kiosk's "I'll ask again in an hour" on the declined check-in's row, so a restart keeps
    it. A schema 3 journal is upgraded once: every row and value as it was, no old check-in with a promise."""
    before = make_v3(path)
    with Journal.open(path) as journal:
        assert journal.schema_version == CURRENT_VERSION == 4
        rows = {t: journal.rows(t) for t in TABLES}
        journal.add_checkin("nightly", 9000.0, False, 0.2, "kiosk", ask_again_at=12600.0)  # the new column works
    assert {t: [tuple(r.values()) for r in rows[t]] for t in TABLES} == {
        t: [(*r, None) if t == "checkins" else r for r in before[t]] for t in TABLES}
    assert all(len(before[t]) for t in TABLES)  # a row in every table, each kept
    with Journal.open(path) as journal:  # upgraded once: a second opening changes nothing
        assert journal.rows("checkins")[:2] == rows["checkins"]
        assert journal.rows("checkins")[2]["ask_again_at"] == 12600.0 and journal.rows("talks") == rows["talks"]


def test_two_programs_opening_an_old_journal_at_once_migrate_it_once(path: Path) -> None:
    import threading

    path.parent.mkdir()
    make_v1(path)
    barrier, opened, failed = threading.Barrier(4), [], []

    def open_it() -> None:
        barrier.wait()
        try:
            opened.append(Journal.open(path))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            failed.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed and len(opened) == 4
    assert all(j.schema_version == CURRENT_VERSION for j in opened)
    assert len(opened[0].rows("talks")) == 1
    for j in opened:
        j.close()


def test_a_journal_from_a_newer_version_is_refused_and_left_byte_identical(path: Path) -> None:
    with Journal.open(path) as journal:
        fill(journal)
        journal._conn.execute(f"PRAGMA user_version={CURRENT_VERSION + 5}")
    before = digest(path)
    with pytest.raises(JournalRefused) as info:
        Journal.open(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "newer" in message and "move it aside" in message
    assert digest(path) == before


@pytest.mark.parametrize("damage", ["not_sqlite", "damaged_page", "truncated"])
def test_a_corrupt_journal_is_refused_and_left_byte_identical(path: Path, damage: str) -> None:
    with Journal.open(path) as journal:
        for _ in range(30):
            fill(journal)
    data = bytearray(path.read_bytes())
    if damage == "not_sqlite":
        data[:16] = b"this is no table"
    elif damage == "damaged_page":
        page = 4096
        data[page: page * 3] = bytes(range(256)) * (page * 2 // 256)  # garbage over pages 2 and 3
    else:
        data = data[: len(data) // 2 - 100]
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(JournalRefused) as info:
        Journal.open(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "move it aside" in message
    assert digest(path) == before


def test_an_unrelated_sqlite_database_is_refused(path: Path) -> None:
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(JournalRefused, match="not a voicecoach journal"):
        Journal.open(path)
    assert digest(path) == before


# --- unwritable storage ----------------------------------------------------------------------------------------

def test_a_full_disk_raises_journal_unavailable_and_writing_resumes_when_space_returns(path: Path) -> None:
    with Journal.open(path) as journal:
        talk = journal.start_talk("listen", 0.0)
        pages = journal._conn.execute("PRAGMA page_count").fetchone()[0]
        # A cap on the file's pages gives SQLite's own "database or disk is full" (a real disk cannot fill here).
        journal._conn.execute(f"PRAGMA max_page_count={pages + 1}")
        with pytest.raises(JournalUnavailable) as info:
            for i in range(5000):
                journal.add_event(talk, RaisedVoice(t=float(i), start=float(i), speaker="A"))
        assert "full" in str(info.value) and str(path) in str(info.value)
        stored = len(journal.export()["events"])
        journal._conn.execute("PRAGMA max_page_count=1073741823")
        journal.add_event(talk, Interruption(t=1.0))
        assert len(journal.export()["events"]) == stored + 1


def test_a_journal_path_that_is_a_folder_is_named_as_one(tmp_path: Path) -> None:
    folder = tmp_path / "journal.sqlite3"
    folder.mkdir()
    with pytest.raises(JournalUnavailable) as info:
        Journal.open(folder)
    message = str(info.value)
    assert "it is a folder, not a file" in message and "[journal] file" in message and "\n" not in message
    assert folder.is_dir() and not any(folder.iterdir())


def test_a_read_only_journal_raises_journal_unavailable(path: Path) -> None:
    with Journal.open(path) as journal:
        # query_only gives SQLite's own read-only error (file modes do not stop root, who runs CI here).
        journal._conn.execute("PRAGMA query_only=1")
        with pytest.raises(JournalUnavailable, match="readonly"):
            journal.start_talk("listen", 0.0)


RO_CHILD = """
import sys
from voicecoach.journal.files import JournalUnavailable
from voicecoach.journal.store import Journal
for path in sys.argv[1:]:
    try:
        Journal.open(path)
        print("opened")
    except JournalUnavailable as exc:
        print("unavailable:", exc)
"""


def _can_remount_read_only() -> bool:
    import shutil
    import subprocess

    if not shutil.which("unshare"):
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        script = f"mount --bind {d} {d} && mount -o remount,ro,bind {d} && ! touch {d}/x 2>/dev/null"
        probe = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_remount_read_only(), reason="needs unshare and mount (a private mount namespace)")
def test_a_truly_read_only_data_dir_gives_journal_unavailable_not_a_crash(tmp_path: Path) -> None:
    import subprocess
    import sys

    existing = tmp_path / "ro" / "old" / "journal.sqlite3"
    with Journal.open(existing) as journal:
        fill(journal)
    (tmp_path / "ro" / "new").mkdir()
    ro = tmp_path / "ro"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    # A real read-only file system: the data dir is bind-mounted read-only in a private mount namespace.
    script = f"mount --bind {ro} {ro} && mount -o remount,ro,bind {ro} && exec \"$0\" -c \"$1\" \"$2\" \"$3\""
    result = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, RO_CHILD,
                             str(ro / "new" / "journal.sqlite3"), str(existing)],
                            capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("unavailable: journal ") for line in lines), lines
    assert "Read-only file system" in lines[0]
    with Journal.open(existing) as journal:  # untouched and fine once writable again
        assert len(journal.rows("talks")) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_data_dir_raises_journal_unavailable_on_open(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(JournalUnavailable):
        Journal.open(locked / "journal.sqlite3")


def test_an_impossible_location_raises_journal_unavailable_on_open(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(JournalUnavailable) as info:
        Journal.open(tmp_path / "a_file" / "journal.sqlite3")
    assert "\n" not in str(info.value)
