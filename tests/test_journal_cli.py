"""``voicecoach journal export|erase|path``: exit codes, confirmation, and the data the couple gets back."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from voicecoach.cli import main
from voicecoach.events import Interruption
from voicecoach.journal.files import JournalUnavailable
from voicecoach.journal.store import Journal, JournalBusy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def filled(dirs: Path) -> Path:
    path = dirs / "data" / "journal.sqlite3"
    with Journal.open(path) as journal:
        talk = journal.start_talk("kiosk", 1_790_000_000.0)
        journal.add_event(talk, Interruption(t=3.0, start=2.5, speaker="A", over="B"))
        journal.add_checkin("weekly", 1_790_000_100.0, True, 30.0, "kiosk")
    return path


def run_cli(dirs: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "voicecoach", *args], stdin=stdin, capture_output=True,
                          text=True, env=env, timeout=30)


def test_path_prints_the_journal_location(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["journal", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(dirs / "data" / "journal.sqlite3")


def test_path_follows_the_journal_file_setting(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    config = dirs / "c.toml"
    config.write_text(f'[journal]\nfile = "{dirs / "elsewhere.db"}"\n')
    assert main(["--config", str(config), "journal", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(dirs / "elsewhere.db")


def test_a_relative_journal_file_is_refused_naming_the_full_path_to_write(dirs: Path) -> None:
    """``[journal] file = "us.sqlite3"``: it was taken from the current folder, so ``listen`` in one folder and
    ``report`` or ``journal erase`` in another each found a different journal ("nothing to erase" while the talks
    stayed in the other one). Now one line, exit 2, before any journal is made."""
    (dirs / "config").mkdir()
    (dirs / "config" / "config.toml").write_text('[journal]\nfile = "us.sqlite3"\n')
    for argv in (["path"], ["erase", "--yes"], ["export"]):
        result = run_cli(dirs, "journal", *argv)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"voicecoach: error: {dirs / 'config' / 'config.toml'}: journal: file = 'us.sqlite3' "
                                 f"is a relative path, so the journal would be wherever voicecoach is started from; "
                                 f"write the full path, e.g. file = \"~/us.sqlite3\", or leave it empty for the "
                                 f"data folder\n")
    assert not (ROOT / "us.sqlite3").exists()


def test_export_prints_json_to_stdout(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    filled(dirs)
    assert main(["journal", "export", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "voicecoach-journal"
    assert data["events"][0]["type"] == "interruption" and data["checkins"][0]["name"] == "weekly"


def test_export_to_a_file_is_private(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    filled(dirs)
    out = dirs / "export.json"
    assert main(["journal", "export", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["talks"][0]["source"] == "kiosk"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "(talks: 1, events: 1, pauses: 0, checkins: 1, notes: 0)" in capsys.readouterr().err  # not "1 talks"


def test_export_redirected_to_a_new_file_is_private(dirs: Path) -> None:
    """README's ``journal export --json > mine.json``: the shell makes mine.json with its umask (0644 under 022), so
    every account on a shared laptop could read the couple's journal, while ``--out`` wrote 0600. An export that
    starts an empty regular file of this user's is made 0600 too; a file it appends to (``>>``) keeps its mode."""
    filled(dirs)
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    target, log = dirs / "mine.json", dirs / "log.txt"
    log.write_text("earlier lines\n")
    for path, mode in ((target, "w"), (log, "a")):
        with open(path, mode) as out:  # as the shell opens it: > or >>
            os.chmod(path, 0o644)
            subprocess.run([sys.executable, "-m", "voicecoach", "journal", "export"], stdout=out, env=env,
                           check=True, timeout=30, stdin=subprocess.DEVNULL)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and json.loads(target.read_text())["talks"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o644


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_export_over_an_existing_readable_file_makes_it_private(dirs: Path, umask: int) -> None:
    filled(dirs)
    out = dirs / "export.json"
    out.write_text("old")
    out.chmod(0o644)
    old = os.umask(umask)
    try:
        assert main(["journal", "export", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["talks"][0]["source"] == "kiosk"


def test_export_to_a_folder_is_one_line_and_exit_2(dirs: Path) -> None:
    journal = filled(dirs)
    before = journal.read_bytes()
    result = run_cli(dirs, "journal", "export", "--out", str(dirs))  # was: "(Is a directory)", exit 1
    assert result.returncode == 2
    assert result.stderr == (f"voicecoach: error: cannot write {dirs}: it is a directory (give a file name ending "
                             f"in .json)\n")
    assert journal.read_bytes() == before


@pytest.mark.parametrize("target", ["journal.sqlite3", "journal.sqlite3-wal", "profile.json"])
def test_export_over_a_file_voicecoach_keeps_is_refused_and_the_file_kept(target: str, dirs: Path) -> None:
    """``journal export --out`` naming the journal itself replaced it by its own export (exit 0, every talk gone
    with the next open); now one line, exit 2, every file as it was."""
    journal = filled(dirs)
    kept = dirs / "data" / target
    if not kept.exists():
        kept.write_bytes(b"\x37\x7f\x06\x82 pages" if target.endswith("-wal") else b'{"calm": 1}')
    before = {p.name: p.read_bytes() for p in (journal, kept)}
    result = run_cli(dirs, "journal", "export", "--out", str(kept))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"voicecoach: error: cannot write {kept}: it is a file voicecoach keeps in its data "
                             f"folder {dirs / 'data'}, and the output would replace it (choose another file name "
                             f"ending in .json)\n")
    assert {p.name: p.read_bytes() for p in (journal, kept)} == before


def test_export_over_a_journal_kept_elsewhere_is_refused(dirs: Path) -> None:
    """A journal moved out of the data folder with ``[journal] file``, or any other SQLite database, is refused
    as an output too."""
    elsewhere = dirs / "us.sqlite3"
    (dirs / "config").mkdir()
    (dirs / "config" / "config.toml").write_text(f'[journal]\nfile = "{elsewhere}"\n')
    with Journal.open(elsewhere) as journal:
        journal.start_talk("listen", 1_790_000_000.0)
    before = elsewhere.read_bytes()
    result = run_cli(dirs, "journal", "export", "--out", str(elsewhere))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"voicecoach: error: cannot write {elsewhere}: it is an SQLite database")
    assert result.stderr.count("\n") == 1 and elsewhere.read_bytes() == before


def test_export_can_replace_its_own_earlier_export(dirs: Path) -> None:
    filled(dirs)
    out = dirs / "mine.json"
    for _ in range(2):
        assert run_cli(dirs, "journal", "export", "--out", str(out)).returncode == 0
    assert json.loads(out.read_text())["talks"][0]["source"] == "kiosk"


def test_export_to_an_empty_out_is_one_line_naming_the_option(dirs: Path) -> None:
    """``--out "$FILE"`` with the variable unset: it was "cannot write .: it is a directory"."""
    journal = filled(dirs)
    before = journal.read_bytes()
    result = run_cli(dirs, "journal", "export", "--out", "")
    assert result.returncode == 2
    assert result.stderr == ("voicecoach: error: --out is empty: give a file name ending in .json, e.g. --out "
                             "journal.json\n")
    assert journal.read_bytes() == before


@pytest.mark.parametrize("argv", [["journal", "export"], ["journal", "erase", "--yes"], ["report"]])
def test_a_journal_link_that_leads_nowhere_is_named_not_taken_for_an_empty_journal(argv: list[str], dirs: Path) -> None:
    """The journal a symbolic link to a drive that is not connected: export printed an empty journal and erase said
    "nothing to erase: there is no journal at ...", exit 0 (report: "Nothing in the journal ... yet"), while
    listen said it could not use it "(No such file or directory); check that <folder> is writable". Now each says
    what the link is, exit 1, and leaves it as it was."""
    link = dirs / "data" / "journal.sqlite3"
    link.parent.mkdir()
    target = dirs / "usb" / "journal.sqlite3"
    link.symlink_to(target)
    result = run_cli(dirs, *argv)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (f"voicecoach: error: journal {link}: it is a symbolic link to {target} that cannot be "
                             f"followed (No such file or directory); connect the drive it is on, or point the link at "
                             f"the journal\n")  # not "- talks are not recorded until then": nothing records here
    assert result.stdout == ""
    assert link.is_symlink() and not target.parent.exists()


def test_export_without_a_journal_is_empty_and_creates_nothing(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["journal", "export"]) == 0
    assert json.loads(capsys.readouterr().out)["talks"] == []
    assert not (dirs / "data" / "journal.sqlite3").exists()


def test_export_of_a_corrupt_journal_is_one_line_and_exit_1(dirs: Path) -> None:
    path = dirs / "data" / "journal.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"garbage" * 500)
    result = run_cli(dirs, "journal", "export")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "move it aside" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == b"garbage" * 500


def test_erase_without_a_terminal_or_yes_refuses_with_exit_2(dirs: Path) -> None:
    path = filled(dirs)
    result = run_cli(dirs, "journal", "erase")
    assert result.returncode == 2
    assert "--yes" in result.stderr and result.stderr.count("\n") == 1
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


def test_erase_with_yes_empties_the_journal(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    path = filled(dirs)
    assert main(["journal", "erase", "--yes"]) == 0
    assert "Erased 1 talk, 1 event, 1 check-in and 0 voice notes" in capsys.readouterr().out
    with Journal.open(path) as journal:
        assert journal.rows("talks") == [] and journal.rows("events") == []


def _erase_on_a_terminal(dirs: Path, typed: bytes) -> tuple[int, str]:
    """Run ``journal erase`` with a real pseudo-terminal as stdin and type an answer."""
    master, slave = pty.openpty()
    try:
        os.write(master, typed)
        result = run_cli(dirs, "journal", "erase", stdin=slave)
    finally:
        os.close(master)
        os.close(slave)
    return result.returncode, result.stdout


def test_erase_on_a_terminal_asks_and_erases_only_when_confirmed(dirs: Path) -> None:
    path = filled(dirs)
    code, out = _erase_on_a_terminal(dirs, b"no\n")
    assert code == 1 and "Nothing was erased." in out
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1
    code, out = _erase_on_a_terminal(dirs, b"erase\n")
    assert code == 0 and "Erased" in out
    with Journal.open(path) as journal:
        assert journal.rows("talks") == []


@pytest.mark.parametrize("typed", [b"yes\n", b"y\n", b"Yes please\n"])
def test_yes_to_the_erase_question_says_why_nothing_was_erased(dirs: Path, typed: bytes) -> None:
    """"Type 'erase' to confirm" answered with "yes": it said only "Nothing was erased.", leaving the couple to
    wonder why their yes did not count."""
    path = filled(dirs)
    code, out = _erase_on_a_terminal(dirs, typed)
    assert code == 1 and "Nothing was erased. Only the word erase confirms it" in out, out
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


def test_ctrl_c_at_the_erase_question_says_nothing_was_erased(dirs: Path) -> None:
    """Ctrl-C at the question: "voicecoach: interrupted" alone, not saying whether anything was erased."""
    from voicecoach_dev.terminal import Terminal

    from conftest import cli_command

    path = filled(dirs)
    term = Terminal([*cli_command(), "journal", "erase"], dict(os.environ))
    try:
        assert term.wait_for("Type 'erase' to confirm: ", 30), term.text()
        term.type("\x03")
        assert term.wait(30) == 130, term.text()
    finally:
        term.kill()
    out = term.text()
    assert "Nothing was erased." in out and "voicecoach: interrupted" in out, out
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "window closed"])
def test_a_signal_at_the_erase_question_says_nothing_was_erased(dirs: Path, how: str) -> None:
    """SIGTERM or SIGHUP (the terminal window closed) while "Type 'erase'" waited: it ended with no word at all,
    erased or not. Now: "Nothing was erased: stopped before you confirmed.", exit 128 + the signal, every talk
    still there."""
    import signal

    from voicecoach_dev.terminal import Terminal

    from conftest import cli_command

    path = filled(dirs)
    term = Terminal([*cli_command(), "journal", "erase"], {**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert term.wait_for("Type 'erase' to confirm: ", 30), term.text()
        if how == "window closed":
            term.close_window()
        else:
            term.proc.send_signal(getattr(signal, how))
        code = term.wait(30)
    finally:
        term.kill()
    if how == "window closed":  # nobody is left to read a line: the end is no success
        assert code != 0, term.text()
    else:
        assert code == 128 + getattr(signal, how), term.text()
        out = term.text()
        assert "Nothing was erased: stopped before you confirmed." in out and "Traceback" not in out, out
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


def test_erase_on_a_terminal_ended_with_ctrl_d_erases_nothing_and_says_so(dirs: Path) -> None:
    """Ctrl-D (end of input) at the confirmation: it was "voicecoach: error: internal error: EOFError:  (rerun with
    --debug and report it)". Now it is no answer: "Nothing was erased.", exit 1, every talk still there."""
    path = filled(dirs)
    code, out = _erase_on_a_terminal(dirs, b"\x04")
    assert code == 1 and "Nothing was erased." in out and "internal error" not in out
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


def test_erase_without_a_journal_has_nothing_to_do(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["journal", "erase"]) == 0
    assert "nothing to erase" in capsys.readouterr().out


def _profile(dirs: Path) -> Path:
    """A calibration profile in the data folder (its content does not matter to the erase: a damaged one goes too)."""
    profile = dirs / "data" / "profile.json"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text('{"version": 1, "partners": {"A": {"calm_db": -30.0}, "B": {"calm_db": -28.0}}}')
    return profile


def test_erase_deletes_the_voice_profile_too_and_names_what_is_kept(dirs: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """``journal erase`` erased the journal and said nothing of ``profile.json``, calibrate's per-partner voice data
    in the same folder: a couple asking to erase kept their voices on disk without knowing. Now the same "erase"
    deletes it, and the last line says what stays (the settings, with the names) and how to remove it."""
    filled(dirs)
    profile = _profile(dirs)
    (dirs / "config").mkdir()
    (dirs / "config" / "config.toml").write_text('[partners]\na_name = "Sam"\nb_name = "Alex"\n')
    assert main(["journal", "erase", "--yes"]) == 0
    out = capsys.readouterr().out
    assert not profile.exists()
    assert "Erased 1 talk, 1 event, 1 check-in, 0 voice notes and the voice profile calibrate learned" in out, out
    assert f"Kept: your settings in {dirs / 'config' / 'config.toml'} (your names" in out, out
    (dirs / "config" / "config.toml.bak").write_text('[partners]\na_name = "Sam"\n')  # config init --force's copy
    assert main(["journal", "erase", "--yes"]) == 0
    assert (f"Kept: your settings in {dirs / 'config' / 'config.toml'} and {dirs / 'config' / 'config.toml.bak'} "
            f"(your names and rituals: delete those files to remove them)") in capsys.readouterr().out
    assert sorted(p.name for p in (dirs / "data").iterdir() if not p.name.startswith("journal.sqlite3")) == []


def test_erase_on_a_kiosk_names_its_lines_in_the_system_log(dirs: Path, monkeypatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    """On a box where install-kiosk put the service, its log (journalctl -u voicecoach) keeps a line for each prompt
    it said ("said: Shall we take the 20 minute pause we agreed on? ..."), with the time: when voices were raised,
    when a ritual was declined. The erase cannot remove them; it says they are kept, and how they go."""
    from voicecoach import app

    filled(dirs)
    unit = dirs / "voicecoach.service"
    monkeypatch.setattr(app, "KIOSK_UNIT", unit)
    assert main(["journal", "erase", "--yes"]) == 0
    assert "system log" not in capsys.readouterr().out
    unit.write_text("[Unit]\n")
    assert main(["journal", "erase", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Kept: the kiosk's lines in the system log (journalctl -u voicecoach: what it said, and when;" in out, out
    assert out.rstrip().endswith("and any export or report you saved yourself."), out


def test_erase_names_the_voice_notes_another_journal_left_in_the_data_folder(dirs: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    """Voice notes recorded while ``[journal] file`` pointed elsewhere live in the data folder's
    ``notes/journal-<hash>``; back on the default journal, ``journal erase`` said "Erased ... 0 voice notes ... empty
    now" and the other journal's notes, the one kind of audio voicecoach keeps, stayed without a word. They belong
    to that journal, so they are not deleted; the erase names them, where they are and how to remove them."""
    import numpy as np

    from voicecoach.journal.notes import VoiceNotes

    elsewhere = dirs / "elsewhere.sqlite3"
    with Journal.open(elsewhere) as journal:
        VoiceNotes(journal, True, 60.0).save_note(np.full(16000 * 2, 800, np.int16), "A", "B", 1_790_000_000.0)
    folder = next((dirs / "data" / "notes").glob("journal-*"))
    filled(dirs)
    assert main(["journal", "erase", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "0 voice notes" in out and len(list(folder.glob("note-*.wav"))) == 1
    assert f"1 voice note of another journal (the note-*.wav files in {folder}: delete them to remove it)" in out, out


def test_erase_with_the_journal_held_by_a_reader_still_deletes_the_voice_profile(dirs: Path, monkeypatch,
                                                                                capsys: pytest.CaptureFixture) -> None:
    filled(dirs)
    profile = _profile(dirs)

    def busy(self, wait_s: float = 10.0) -> None:  # noqa: ANN001 - a kiosk reading it (see the reader tests above)
        raise JournalBusy("journal: everything was deleted, but another program is still reading the journal")

    monkeypatch.setattr(Journal, "erase", busy)
    assert main(["journal", "erase", "--yes"]) == 1
    assert not profile.exists()
    assert "another program is still reading the journal" in capsys.readouterr().err


def test_erase_with_the_journal_locked_by_a_writer_erases_nothing_and_keeps_the_voice_profile(
        dirs: Path, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    # the journal's deletes rolled back (another program held its write lock): the profile was deleted all the same
    path = filled(dirs)
    profile = _profile(dirs)
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, **{**k, "timeout": 0.2}))
    writer = real_connect(str(path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a writer: the journal is read and counted, its deletes are refused
    try:
        assert main(["journal", "erase", "--yes"]) == 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "another program is writing to it" in err and err.rstrip().endswith("nothing was erased"), err
    assert profile.exists()
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1


def test_erase_that_deletes_the_rows_but_not_every_note_file_says_the_profile_went(
        dirs: Path, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    filled(dirs)
    profile = _profile(dirs)

    def left(self, wait_s: float = 10.0) -> None:  # noqa: ANN001 - rows gone, a note file that would not go
        raise JournalUnavailable("journal: every entry was erased, but 1 voice note file(s) could not be deleted")

    monkeypatch.setattr(Journal, "erase", left)
    assert main(["journal", "erase", "--yes"]) == 1
    err = capsys.readouterr().err
    assert not profile.exists() and "could not be deleted" in err
    assert err.rstrip().endswith("the voice profile calibrate learned was erased"), err


def test_erase_on_a_terminal_asks_about_the_voice_profile_and_keeps_it_on_no(dirs: Path) -> None:
    filled(dirs)
    profile = _profile(dirs)
    code, out = _erase_on_a_terminal(dirs, b"no\n")
    assert code == 1 and "the voice profile calibrate learned" in out and profile.exists(), out
    code, out = _erase_on_a_terminal(dirs, b"erase\n")
    assert code == 0 and not profile.exists(), out


def test_erase_with_only_a_voice_profile_erases_it(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    """No journal yet (calibrate run, never listened): "nothing to erase" left the voices behind."""
    profile = _profile(dirs)
    assert main(["journal", "erase", "--yes"]) == 0
    out = capsys.readouterr().out
    assert not profile.exists()
    assert "Erased the voice profile calibrate learned" in out and "nothing to erase" not in out, out


def test_erase_that_cannot_delete_the_voice_profile_says_so_and_exits_1(dirs: Path, monkeypatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    path = filled(dirs)
    _profile(dirs)
    from voicecoach import paths

    real = paths.remove_inside

    def refuse(target, folder):  # noqa: ANN001, ANN202 - a read-only card, an immutable file
        if Path(target).name == "profile.json":
            raise PermissionError(1, "Operation not permitted", str(target))
        return real(target, folder)

    monkeypatch.setattr(paths, "remove_inside", refuse)
    assert main(["journal", "erase", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "the voice profile" in err and "could not be deleted" in err and "delete it by hand" in err, err
    with Journal.open(path) as journal:
        assert journal.rows("talks") == []  # the journal was still erased


def test_journal_needs_an_action(dirs: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["journal"])
    assert info.value.code == 2


def test_erase_while_another_program_writes_names_it_and_keeps_everything(
        dirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Another program holding the journal's write lock (an SQLite browser with unsaved changes, a stuck second
    voicecoach): it was "cannot use it (database is locked); check that <folder> is writable by this user and the
    disk is not full", a fix that fixes nothing. Now the line names the other program; nothing is erased."""
    path = filled(dirs)
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, **{**k, "timeout": 0.2}))
    writer = real_connect(str(path), isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["journal", "erase", "--yes"]) == 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"voicecoach: error: journal {path}: another program is writing to it and kept it locked")
    assert "writable" not in err and "disk" not in err
    monkeypatch.undo()
    with Journal.open(path) as journal:
        assert len(journal.rows("talks")) == 1 and len(journal.rows("events")) == 1


def _hold_a_read_transaction(path: Path) -> sqlite3.Connection:
    """Another program reading the journal: an open transaction on an old snapshot."""
    reader = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM events").fetchone()
    return reader


def _secret_filled(dirs: Path) -> Path:
    path = filled(dirs)
    with Journal.open(path) as journal:
        for k in range(50):
            journal.add_suggestion(None, 1_790_000_000.0 + k, f"SECRET-REASON-{k}")
    return path


def test_erase_while_another_reader_holds_the_journal_does_not_claim_it_is_wiped(dirs: Path) -> None:
    path = _secret_filled(dirs)
    reader = _hold_a_read_transaction(path)
    try:
        with Journal.open(path) as journal:
            with pytest.raises(JournalBusy, match="another program is still reading"):
                journal.erase(wait_s=0.2)
            assert journal.rows("suggestions") == []  # the rows are gone from the journal ...
    finally:
        reader.close()
    with Journal.open(path) as journal:  # ... and once the reader let go, erasing again wipes the file
        journal.erase(wait_s=0.2)
    assert b"SECRET-REASON" not in path.read_bytes()


def test_erase_waits_for_a_short_reader_and_then_wipes_the_file(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    path = _secret_filled(dirs)
    reader = _hold_a_read_transaction(path)
    timer = threading.Timer(0.5, reader.close)
    timer.start()
    try:
        assert main(["journal", "erase", "--yes"]) == 0
    finally:
        timer.join()
    assert "is empty now" in capsys.readouterr().out
    assert b"SECRET-REASON" not in path.read_bytes()
    wal = Path(f"{path}-wal")
    assert not wal.exists() or b"SECRET-REASON" not in wal.read_bytes()


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_the_erase_lets_it_finish(dirs: Path, name: str) -> None:
    """SIGTERM (``systemctl stop``, a shutdown) or SIGHUP (the terminal closed) once the erase has begun: it killed
    the erase where it stood. Its worst moment: the rows deleted, the checkpoint waiting for a reader (the kiosk) to
    copy the emptied journal over the old one: killed there (exit -15, not a word), the voice profile was never
    deleted and the deleted rows' bytes stayed in the file until some other program's checkpoint (here the
    reader's, as it closes). Now the erase goes to its end, says so, and then stops (exit 128 + the signal). (Only
    the question before it ends on a signal: nothing was erased then.)"""
    import signal
    import time

    path = _secret_filled(dirs)
    profile = _profile(dirs)
    reader = _hold_a_read_transaction(path)
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "voicecoach", "journal", "erase", "--yes"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        look = sqlite3.connect(str(path), isolation_level=None)
        deadline = time.monotonic() + 30
        while look.execute("SELECT count(*) FROM suggestions").fetchone()[0]:  # not yet deleted
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        look.close()
        time.sleep(0.2)
        assert proc.poll() is None  # the checkpoint waits for the reader (up to 10 s)
        proc.send_signal(getattr(signal, name))
        time.sleep(0.5)
        reader.close()  # the kiosk stopped: the checkpoint can copy the emptied journal over
        out, err = proc.communicate(timeout=30)
    finally:
        reader.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + getattr(signal, name), (out, err)
    assert "is empty now" in out and err == f"voicecoach: stopped ({name})\n", (out, err)
    assert not profile.exists()
    assert b"SECRET-REASON" not in path.read_bytes()
    wal = Path(f"{path}-wal")
    assert not wal.exists() or b"SECRET-REASON" not in wal.read_bytes()


def test_erase_that_cannot_delete_a_voice_note_file_says_so_in_one_line(dirs: Path, monkeypatch, capsys) -> None:
    """A note file the erase cannot delete (a read-only card, an immutable file): the audio is still on the
    device, so the erase must not claim the journal is empty, nor end in an internal error; the next start still
    opens the journal and its notes."""
    import numpy as np

    from voicecoach import paths
    from voicecoach.journal.notes import VoiceNotes

    path = filled(dirs)
    with Journal.open(path) as journal:
        VoiceNotes(journal, enabled=True).save_note(np.zeros(16000, np.int16), "A", "B", at=1_790_000_000.0)
        notes_dir = journal.notes_dir

    def refuse(target, folder):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(paths, "remove_inside", refuse)
    assert main(["journal", "erase", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert "empty now" not in out and "internal error" not in err
    assert len(err.strip().splitlines()) == 1 and str(notes_dir) in err and "delete" in err
    with Journal.open(path) as journal:
        assert journal.rows("talks") == [] and journal.rows("notes") == []
        VoiceNotes(journal, enabled=True)  # the unremovable leftover does not stop the notes from opening


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_export_to_stdout_on_a_full_disk_is_one_line_not_an_internal_error(dirs: Path) -> None:
    """``journal export --json > mine.json`` on a full disk: the file is incomplete, so say so in one line with the
    fix (exit 1), never 'internal error: OSError'."""
    filled(dirs)
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "voicecoach", "journal", "export", "--json"],
                                stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE, text=True, env=env,
                                timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "voicecoach: error: cannot write the export to standard output (No space left on device): what was "
        "written is incomplete; free some space, or write it elsewhere with --out FILE"]


def _fill(disk: Path) -> None:
    """Write to ``disk`` until it is full."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"x" * 4096)
    finally:
        os.close(fd)


@pytest.mark.parametrize("held", [False, True], ids=["closed", "held open by another program"])
def test_erase_on_a_full_disk_says_so_and_that_nothing_was_erased(dirs: Path, small_disk, held: bool) -> None:
    """On a full disk the erase said only "cannot use it (disk I/O error); check that ... writable by this user and
    the disk is not full" (or "(database or disk is full)" while the kiosk held the journal open, with "- talks are
    not recorded until then"). Now one line names the full disk, says nothing was erased and how to go on; exit 1,
    no traceback, every row still there once space is freed. And the voice profile beside it is still there: it was
    deleted all the same, while the line said nothing in the journal was erased (the couple typed erase for both)."""
    disk = small_disk(512)
    path = disk / "journal.sqlite3"
    profile = disk / "profile.json"
    profile.write_text('{"version": 1, "partners": {"A": {"calm_db": -30.0}, "B": {"calm_db": -28.0}}}')
    with Journal.open(path) as journal:
        talk = journal.start_talk("kiosk", 1_790_000_000.0)
        for i in range(200):
            journal.add_event(talk, Interruption(t=float(i), start=2.5, speaker="A", over="B"))
        with contextlib.ExitStack() as stack:
            if held:  # the kiosk: its journal (and the journal's WAL and shared memory) open
                stack.callback(journal.close)
            else:
                journal.close()
            _fill(disk)
            env = {**os.environ, "VOICECOACH_DATA_DIR": str(disk), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
                   "PYTHONPATH": str(ROOT)}
            result = subprocess.run([sys.executable, "-m", "voicecoach", "journal", "erase", "--yes"], env=env,
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"voicecoach: error: journal {path}: the disk it is on is full ("), \
        result.stderr
    assert lines[0].endswith("was erased; free some space there and run the erase again"), lines
    assert "nothing was erased" in lines[0] and "not recorded" not in lines[0]
    assert profile.exists(), "the voice profile was deleted though nothing was erased"
    (disk / "filler").unlink()
    with Journal.open(path) as journal:
        assert len(journal.rows("events")) == 200


def add_events(path: Path, count: int, talk_id: int = 1) -> None:
    """``count`` raised voices in talk ``talk_id``, written straight by SQLite (quick, as a year of a kiosk)."""
    data = json.dumps({"type": "raised_voice", "t": 1.0, "start": 0.5, "end": 2.0, "speaker": "A"})
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO events(talk_id, type, t, start, \"end\", speaker, data) "
                         "VALUES (?, 'raised_voice', ?, 0.5, 2.0, 'A', ?)",
                         [(talk_id, float(i), data) for i in range(count)])
    conn.close()


def peak_bytes(call) -> int:  # noqa: ANN001 - a callable
    import tracemalloc

    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_and_report_of_a_big_journal_read_it_a_chunk_at_a_time(dirs: Path, capsys) -> None:
    """export and report read the whole journal into memory (rows, then the JSON text): years of a kiosk's events
    grow without bound on a Pi (50,000 events: about 50 MB more). Now the export is written as it is read and the
    report summed by SQLite's queries, a chunk of rows at a time; the figures are the same. 20,000 events are enough
    to tell (read whole, they take 13 MB, and the bound is 5 MB) in a third of 50,000's time under tracemalloc."""
    path = filled(dirs)
    add_events(path, 20_000)
    out = dirs / "export.json"
    peak = peak_bytes(lambda: main(["journal", "export", "--out", str(out)]))
    assert "(talks: 1, events: 20001, pauses: 0, checkins: 1, notes: 0)" in capsys.readouterr().err
    data = json.loads(out.read_text())
    assert len(data["events"]) == 20_001 and data["events"][-1]["end"] == 2.0
    assert peak < 5_000_000, f"export: {peak / 1e6:.0f} MB at the peak"
    printed = dirs / "printed.json"
    with open(printed, "w") as stdout, contextlib.redirect_stdout(stdout):  # a file, not capsys's memory
        peak = peak_bytes(lambda: main(["journal", "export"]))
    assert json.loads(printed.read_text()) == data
    assert peak < 5_000_000, f"export to stdout: {peak / 1e6:.0f} MB at the peak"
    peak = peak_bytes(lambda: main(["report", "--since", "2026-09-01"]))
    assert "Raised voices: 8 h 20 min in all" in capsys.readouterr().out  # 20,000 x 1.5 s, from the events
    assert peak < 5_000_000, f"report: {peak / 1e6:.0f} MB at the peak"


def test_export_to_a_pipe_closed_part_way_says_it_is_incomplete(dirs: Path) -> None:
    """``journal export | ssh box 'cat > backup.json'`` with the connection lost part-way: the export ended with exit
    0 and not a word, and the cut-off backup looked whole. Now one line says so, exit 1, no traceback."""
    path = filled(dirs)
    add_events(path, 3000)  # about 400 KB of JSON: more than a pipe holds
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "voicecoach", "journal", "export"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    got = proc.stdout.read(1000)  # the reader takes the beginning, then goes away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 1
    assert got.startswith(b"{") and err.splitlines() == [
        "voicecoach: error: the program reading the export stopped before its end (a closed pipe): what it got is "
        "incomplete; run it again, or write it to a file with --out FILE"], err


def _read_only_mount_works() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind -o ro / /"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def run_on_a_read_only_folder(dirs: Path, folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``voicecoach ARGS`` in its own mount namespace where ``folder`` is a read-only bind mount of itself (a
    journal on a read-only disk: as root, a folder's permissions would not stop SQLite)."""
    env = {**os.environ, "VOICECOACH_DATA_DIR": str(dirs / "data"), "VOICECOACH_CONFIG_DIR": str(dirs / "config"),
           "PYTHONPATH": str(ROOT)}
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(folder), sys.executable, "-m",
                           "voicecoach", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.skipif(not _read_only_mount_works(), reason="needs unshare -m and mount (root in a container)")
@pytest.mark.parametrize("writer", ["none", "kiosk open"], ids=["closed", "kiosk-open"])
def test_export_and_report_read_a_journal_on_a_read_only_disk(dirs: Path, writer: str) -> None:
    """They only read, but they opened the journal for writing: on a read-only disk or folder both exited 1
    ("unable to open database file ... check that the folder is writable"). Now read-only, also while a kiosk
    beside it has rows in its WAL not yet in the file; nothing is created there."""
    import time

    path = filled(dirs)
    folder = path.parent
    kiosk = None
    if writer == "kiosk open":
        kiosk = Journal.open(path)
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM talks").fetchone()  # holds the next rows in the WAL
        now = time.time()
        kiosk.end_talk(kiosk.start_talk("kiosk", now - 120.0), now - 60.0)
    before = sorted(p.name for p in folder.iterdir())
    try:
        export = run_on_a_read_only_folder(dirs, folder, "journal", "export")
        report = run_on_a_read_only_folder(dirs, folder, "report", "--since", "2026-01-01")
    finally:
        if kiosk is not None:
            reader.close()
            kiosk.close()
    assert export.returncode == 0 and report.returncode == 0, export.stderr + report.stderr
    data = json.loads(export.stdout)
    assert len(data["talks"]) == (2 if kiosk else 1) and data["checkins"][0]["name"] == "weekly"
    assert "Talks: " in report.stdout and export.stderr == report.stderr == ""
    if kiosk is None:
        assert sorted(p.name for p in folder.iterdir()) == before  # no -wal or -shm made (none could be)
