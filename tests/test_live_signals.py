"""Every live command ends the same clean way on SIGINT, SIGTERM or SIGHUP: the talk, pause and check-in rows
closed in the journal, the summary printed, exit code 0. Run with no sound server at all (the commands wait for a
microphone meanwhile, and keys still work), so these need no virtual audio."""

from __future__ import annotations

import signal
import time

import pytest

from conftest import journal_rows
from voicecoach_dev.live import LiveProcess


@pytest.fixture
def env(no_sound_env, tmp_home):
    tmp_home.config_file.write_text("[audio]\nreopen_s = 0.5\n")
    return {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}


def ended(proc: LiveProcess, signum: int) -> int:
    proc.proc.send_signal(signum)
    try:
        return proc.proc.wait(20)
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
        time.sleep(0.2)  # the reader thread collects the last lines


def test_listen_without_a_microphone_says_so_plainly_and_its_keys_work(env, tmp_home):
    proc = LiveProcess(["listen", "--no-ui"], env)
    assert proc.wait_for("waiting for a microphone", 30), proc.text()
    proc.type("p")
    assert proc.wait_for("taking the pause you agreed on", 10), proc.text()
    assert ended(proc, signal.SIGINT) == 0
    text = proc.text()
    assert "Error querying" not in text and "PortAudio" not in text, text
    assert "voicecoach is listening" not in text, text  # it is not: there is no microphone
    assert "1 pause taken" in text


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_listen_stopped_by_a_signal_closes_the_talk_and_the_pause_and_prints_the_summary(env, tmp_home, signum):
    proc = LiveProcess(["listen", "--no-ui"], env)
    assert proc.wait_for("waiting for a microphone", 30), proc.text()
    proc.type("p")
    assert proc.wait_for("taking the pause you agreed on", 10), proc.text()
    assert ended(proc, signum) == 0, proc.text()
    assert "Thank you for talking with care" in proc.text()
    (talk,) = journal_rows(tmp_home, "talks")
    assert talk["ended_at"] is not None
    (pause,) = journal_rows(tmp_home, "pauses")
    assert pause["ended_at"] is not None and pause["ended_how"] == "cut short", pause


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_checkin_stopped_by_a_signal_is_recorded(env, tmp_home, signum):
    proc = LiveProcess(["checkin", "weather", "--no-ui"], env)
    assert proc.wait_for("Is now a good time", 30), proc.text()
    proc.type("yes")
    assert proc.wait_for("weather", 10)
    time.sleep(1.0)
    assert ended(proc, signum) == 0, proc.text()
    assert "The check-in was cut short." in proc.text()  # not "Thank you for talking with care"
    (checkin,) = journal_rows(tmp_home, "checkins")
    assert checkin["name"] == "weather" and checkin["completed"] == 0
    (talk,) = journal_rows(tmp_home, "talks")
    assert talk["ended_at"] is not None


def test_the_kiosk_stops_cleanly_on_sighup(env, tmp_home):
    proc = LiveProcess(["kiosk"], env)  # the real clock (a rehearsal opens no journal); no microphone, no ritual
    assert proc.wait_for("voicecoach: waiting for microphone", 30), proc.text()
    assert ended(proc, signal.SIGHUP) == 0, proc.text()
    lines = [line for line in proc.text().splitlines() if line.startswith("voicecoach: ")]
    assert lines[-2:] == ["voicecoach: stopping (SIGHUP)", "voicecoach: stopped"], lines
    # no microphone ever came and nothing was done: closed, and not stored as a talk (none is left open)
    assert journal_rows(tmp_home, "talks") == []


@pytest.mark.parametrize("command", ["listen", "kiosk"])
def test_sigterm_while_it_is_being_set_up_stops_it_cleanly(env, tmp_home, command):
    """SIGTERM in a live command's first second (here: as soon as its prompt folder is made, while its speaker,
    journal and prompts are set up; longer on a Pi) killed it: no line, exit 143 (systemd's stop of the kiosk not
    a clean exit 0), its prompt folder /tmp/voicecoach-tts-<pid>-* left behind. Now the signal is kept and the loop
    stops as soon as it starts: exit 0, no traceback, the kiosk's "stopping (SIGTERM)" and "stopped", the folder
    gone, nothing left open in the journal. (``scripts/measure_start_sigterm.py`` sends it at set moments.)"""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from conftest import REPO, signal_once_speaking

    args = [sys.executable, "-m", "voicecoach", command] + (["--no-ui"] if command == "listen" else [])
    proc = subprocess.Popen(args, env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = signal_once_speaking(proc, signal.SIGTERM)
    assert proc.returncode == 0, (proc.returncode, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    assert not list(Path(tempfile.gettempdir()).glob(f"voicecoach-tts-{proc.pid}-*"))
    if command == "kiosk":
        lines = [line for line in out.splitlines() if line.startswith("voicecoach: ")]
        assert lines[-2:] == ["voicecoach: stopping (SIGTERM)", "voicecoach: stopped"], out
    else:
        assert "not counted as a talk" in out, out
    assert all(talk["ended_at"] is not None for talk in journal_rows(tmp_home, "talks"))
