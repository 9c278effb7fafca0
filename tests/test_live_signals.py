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
