"""Private files and folders are owner-only whatever the umask, also when an existing file is written over
(issue 19 item 5). Each case runs under umask 022 and 000, in temporary folders."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from voicecoach import paths
from voicecoach.cli import main
from voicecoach.journal.store import Journal


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "home" / "share" / "voicecoach"))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "home" / "config" / "voicecoach"))
    return tmp_path


def test_the_first_run_makes_the_data_folder_private(dirs: Path, umask: int) -> None:
    from voicecoach.app import first_run_notice

    assert first_run_notice() is not None
    assert mode(paths.data_dir()) == 0o700
    assert mode(paths.data_dir().parent) == 0o700  # folders it had to create on the way too
    assert mode(paths.data_dir() / ".notice-shown") == 0o600


def test_the_first_run_notice_names_the_one_audio_kept_as_the_readme_does(dirs: Path, umask: int) -> None:
    """It said "no audio is stored." outright; voice notes, an opt-in, are audio kept in the data folder."""
    from voicecoach.app import first_run_notice

    notice = first_run_notice()
    assert notice is not None and notice.endswith("no audio is stored, unless you turn on voice notes for each other.")


def test_a_data_folder_left_readable_by_an_older_version_is_tightened(dirs: Path, umask: int) -> None:
    from voicecoach.app import first_run_notice

    paths.data_dir().mkdir(parents=True)
    paths.data_dir().chmod(0o755)
    first_run_notice()
    assert mode(paths.data_dir()) == 0o700


def test_config_init_writes_a_private_file(dirs: Path, umask: int, capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "init"]) == 0
    assert mode(paths.config_file()) == 0o600
    assert mode(paths.config_dir()) == 0o700
    assert main(["config", "init", "--force"]) == 0  # replacing it keeps it private
    assert mode(paths.config_file()) == 0o600


def test_a_report_written_over_a_readable_file_becomes_private(dirs: Path, umask: int,
                                                               capsys: pytest.CaptureFixture) -> None:
    from test_report import seed

    with Journal.open(paths.data_dir() / "journal.sqlite3") as journal:
        seed(journal, datetime.now().astimezone())
    page = dirs / "report.html"
    page.write_text("old")
    page.chmod(0o644)
    assert main(["report", "--html", str(page)]) == 0
    assert mode(page) == 0o600 and "<svg" in page.read_text()


@pytest.mark.parametrize("command", [["say", "Shall we take a pause?", "--to"],
                                     ["checkin", "weekly", "--answers", "not_now", "--to"]], ids=["say", "checkin"])
def test_a_voice_written_to_a_wav_is_private_also_over_a_readable_file(command: list[str], dirs: Path, umask: int,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """say --to, checkin --to and demo --save wrote their WAVs 0644 (0666 under umask 000): a voice is private, so
    they are 0600 now, as the journal and the reports are; an older readable file written over becomes 0600 too.
    (The mode is observed with stat, which works as root too.)"""
    fresh, old = dirs / "fresh.wav", dirs / "old.wav"
    old.write_bytes(b"an older file")
    old.chmod(0o644)
    for out in (fresh, old):
        assert main([*command, str(out)]) == 0
        assert mode(out) == 0o600, (out.name, oct(mode(out)))
        assert out.read_bytes()[:4] == b"RIFF"


def test_the_demo_talk_saved_over_a_readable_file_is_private(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    """demo --save: the same writer as say --to (one run, the worst case: umask 000 and an older 0644 file)."""
    out = dirs / "demo.wav"
    out.write_bytes(b"an older file")
    out.chmod(0o644)
    old_umask = os.umask(0)
    try:
        assert main(["demo", "--fast", "--save", str(out)]) == 0
    finally:
        os.umask(old_umask)
    assert mode(out) == 0o600 and out.read_bytes()[:4] == b"RIFF"


def test_a_voice_played_into_a_wav_file_sink_is_private_also_over_a_readable_file(tmp_path: Path,
                                                                                    umask: int) -> None:
    """audio.playback.WavFileSink (the speaker writing into a file) created its file with the umask's mode (0644,
    0666 under umask 000) and left an older readable file readable: it is 0600 now, as say --to's WAVs are."""
    import numpy as np

    from voicecoach.audio.playback import WavFileSink

    fresh, old = tmp_path / "fresh.wav", tmp_path / "old.wav"
    old.write_bytes(b"an older file")
    old.chmod(0o644)
    for out in (fresh, old):
        sink = WavFileSink(out, 16000, realtime=False)
        sink.write(np.zeros(1600, dtype=np.int16))
        sink.close()
        assert mode(out) == 0o600, (out.name, oct(mode(out)))
        assert out.read_bytes()[:4] == b"RIFF" and out.stat().st_size == 44 + 3200


def test_write_private_replaces_atomically_and_leaves_devices_alone(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o666)
    paths.write_private(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left
    paths.write_private(Path("/dev/null"), "discarded")  # a device is written in place, never replaced
    assert Path("/dev/null").is_char_device()


def test_write_private_writes_through_a_symlink_and_keeps_it(tmp_path: Path, umask: int) -> None:
    real, link = tmp_path / "real.html", tmp_path / "link.html"
    real.write_text("old")
    real.chmod(0o644)
    link.symlink_to(real)
    paths.write_private(link, "new")  # was: the link replaced by a new file, real.html left as it was
    assert link.is_symlink() and real.read_text() == "new" and mode(real) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "real.html"]


def test_write_private_to_a_link_like_dev_stdout_writes_to_what_it_names(tmp_path: Path) -> None:
    """/dev/stdout is a link to /proc/self/fd/1: as root, ``--out /dev/stdout > file`` replaced /dev/stdout itself
    with a plain file (the folder is writable) and the redirected file stayed empty. The same, in a temporary folder."""
    redirected = tmp_path / "redirected.json"
    with redirected.open("wb") as held:
        stdout_like = tmp_path / "stdout"
        stdout_like.symlink_to(f"/proc/self/fd/{held.fileno()}")
        paths.write_private(stdout_like, "exported")
        assert stdout_like.is_symlink()
    assert redirected.read_text() == "exported"


def test_remove_inside_refuses_what_is_not_a_plain_file_in_its_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "mine", tmp_path / "theirs.txt"
    folder.mkdir()
    outside.write_text("keep")
    (folder / "link").symlink_to(outside)
    for path in (folder / ".." / "theirs.txt", folder / "link", outside, folder):
        with pytest.raises(ValueError):
            paths.remove_inside(path, folder)
    assert outside.read_text() == "keep"
    (folder / "ours").write_text("x")
    assert paths.remove_inside(folder / "ours", folder) and not (folder / "ours").exists()


def test_a_journal_at_a_path_of_the_users_choosing_gets_private_folders_and_file(dirs: Path, umask: int) -> None:
    chosen = dirs / "Documents" / "us" / "vc.sqlite3"  # [journal] file = "~/Documents/us/vc.sqlite3"
    with Journal.open(chosen) as journal:
        journal.start_talk("listen", 1_790_000_000.0)
    assert mode(chosen) == 0o600
    assert mode(chosen.parent) == 0o700 and mode(chosen.parent.parent) == 0o700  # both folders it had to make
    assert all(mode(side) == 0o600 for side in chosen.parent.glob("vc.sqlite3-*"))
    existing = dirs / "shared"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    Journal.open(existing / "vc.sqlite3").close()
    assert mode(existing) == 0o755  # a folder that was already there is the user's: left as it is


@pytest.mark.parametrize("command", [["report"], ["journal", "export"]], ids=["report", "export"])
@pytest.mark.parametrize("before, after", [(0o444, 0o400), (0o640, 0o600), (0o400, 0o400), (0o604, 0o600)],
                         ids=["444", "640", "400", "604"])
def test_a_journal_keeps_its_owners_permissions_and_gains_none(command: list[str], before: int, after: int,
                                                                tmp_home, run_cli) -> None:
    """A journal the couple made read-only (chmod 444) became 0600, writable again, by any command (report
    included); now only group's and others' bits go. As root a permission error cannot show it: the mode is
    read."""
    db = tmp_home.data_dir / "journal.sqlite3"
    with Journal.open(db) as journal:
        journal.start_talk("listen", 1_790_000_000.0)
    db.chmod(before)
    res = run_cli(*command, env=tmp_home.env)
    assert res.returncode == 0, res.stderr
    assert mode(db) == after
    for side in (db.parent / "journal.sqlite3-wal", db.parent / "journal.sqlite3-shm"):
        assert not side.exists() or mode(side) & ~after == 0  # never more than the journal itself


@pytest.mark.parametrize("command", [["listen", "--no-ui", "--fast", "--file", "{wav}"], ["analyze", "{wav}"]],
                         ids=["listen", "analyze"])
def test_what_was_heard_redirected_to_a_new_file_is_private(command: list[str], dirs: Path, no_sound_env) -> None:
    """``listen --no-ui > log`` and ``analyze rec.wav > events``: the shell makes the file with its umask (0644), and
    it holds what was said and heard, readable by every account, while ``journal export > mine.json`` was made 0600.
    Now the same: a new empty file of this user's is made 0600; one appended to (``>>``) keeps its mode."""
    import subprocess
    import sys

    import numpy as np

    from voicecoach.audio.wav import write_wav

    wav = dirs / "talk.wav"
    t = np.arange(16000 * 2) / 16000.0
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    env = {**no_sound_env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    target, log = dirs / "out.txt", dirs / "log.txt"
    log.write_text("earlier lines\n")
    for path, how in ((target, "w"), (log, "a")):
        with open(path, how) as out:  # as the shell opens it: > or >>
            os.chmod(path, 0o644)
            subprocess.run([sys.executable, "-m", "voicecoach", *[a.format(wav=wav) for a in command]], stdout=out,
                           env=env, check=True, timeout=60, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert mode(target) == 0o600 and target.read_text().strip()
    assert mode(log) == 0o644
