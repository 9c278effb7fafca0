"""A kiosk whose settings file is refused says so out loud once, then exits 2 (which its service does not restart);
a missing microphone is still waited for, and the sound system's own faults keep their transient exit code."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, cli_command
from voicecoach.cli.kiosk import SETTINGS_PROBLEM
from voicecoach.errors import DeviceError, InputError, SoundSystemStuck

RATE = 16000
# Values older versions took that config validation now refuses (the couple's file, unchanged by an update).
REFUSED = [
    '[kiosk]\nquiet_start = "22:00"\nquiet_end = "22:00"\n',
    '[journal]\nfile = "journal.sqlite"\n',
    '[partners]\na_name = ""\n',
]


def run_kiosk(env: dict[str, str], timeout_s: float = 60, at: str = "2026-11-23T12:00:00"
              ) -> subprocess.CompletedProcess:
    """The kiosk at local time ``at`` (by day: in quiet hours a refusal waits for their end to be said)."""
    return subprocess.run([*cli_command(), "kiosk", "--pretend-time", at], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.mark.parametrize("config", REFUSED[:1])
def test_a_refused_settings_file_is_said_out_loud_then_exit_2(config, pulse, tmp_home):
    tmp_home.config_file.write_text(config)
    recording = pulse.record_speaker()
    time.sleep(0.3)
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")})
    started = time.monotonic()
    r = run_kiosk(env)
    took = time.monotonic() - started
    time.sleep(0.3)
    audio = recording.stop()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("voicecoach: error: "), errors
    assert f"voicecoach: said: {SETTINGS_PROBLEM}" in r.stdout.splitlines(), r.stdout
    loud = np.flatnonzero(np.abs(audio) > 300)
    assert len(loud) and (loud[-1] - loud[0]) / RATE > 3.0, len(loud)  # the whole sentence, about 6 s of it
    assert took < 40, took


@pytest.mark.parametrize("config", REFUSED)
def test_without_a_sound_system_the_refusal_still_ends_at_once_with_exit_2(config, tmp_home, no_sound_env):
    tmp_home.config_file.write_text(config)
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    started = time.monotonic()
    r = run_kiosk(env)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert time.monotonic() - started < 30
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("voicecoach: error: "), r.stderr  # no "no usable speaker"
    assert "voicecoach: could not say it out loud: no usable output device" in r.stdout, r.stdout


@pytest.mark.parametrize("config, at, quiet", [
    (REFUSED[2], "2026-11-24T07:29:57", "quiet 23:00-07:30"),  # the default quiet hours
    ('[kiosk]\nquiet_start = "01:00"\nquiet_end = "03:00"\n[partners]\na_name = ""\n', "2026-11-24T02:59:57",
     "quiet 01:00-03:00"),  # the file's own
])
def test_in_quiet_hours_the_refusal_is_said_when_they_end(config, at, quiet, tmp_home, no_sound_env):
    """A box restarted at night (a power cut, a reboot) with a settings file it refuses said so out loud at once,
    at 3 in the morning; now it waits for the end of the quiet hours (the file's, or the default ones)."""
    tmp_home.config_file.write_text(config)
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    started = time.monotonic()
    r = run_kiosk(env, at=at)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert time.monotonic() - started >= 2.5
    lines = r.stdout.splitlines()
    assert lines[0] == f"voicecoach: quiet hours now ({quiet}): it says so out loud when they end", lines
    assert lines[1].startswith("voicecoach: could not say it out loud: no usable output device"), lines


def test_by_day_the_refusal_is_said_at_once(tmp_home, no_sound_env):
    tmp_home.config_file.write_text(REFUSED[2])
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    r = run_kiosk(env, at="2026-11-24T07:30:00")
    assert r.returncode == 2 and not any("quiet hours" in line for line in r.stdout.splitlines()), r.stdout


def test_a_refused_settings_file_is_not_spoken_by_other_commands(run_cli, tmp_home, no_sound_env):
    """A laptop user reads the line in the terminal: ``listen`` says nothing and says no "said:"."""
    tmp_home.config_file.write_text(REFUSED[0])
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    r = run_cli("listen", env=env, timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "said" not in r.stdout and "could not say" not in r.stdout


def test_a_missing_microphone_is_still_waited_for_not_an_exit(tmp_home, no_sound_env):
    """Exit 2 ends the service for good: a kiosk with no microphone must not use it (it waits, and exits 0)."""
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")},
           "PYTHONFAULTHANDLER": "1"}  # SIGABRT below writes every thread's stack to stderr
    # stderr into a file, and stdout read to its end: a pipe nobody read filled up with the sound library's
    # complaints while the kiosk tried the microphone again, and the kiosk then hung writing to it (once in CI)
    errors = tmp_home.data_dir.parent / "kiosk.stderr"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen([*cli_command(), "kiosk"], env=env, cwd=REPO, text=True, stdout=subprocess.PIPE,
                                stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while "waiting for microphone" not in (line := proc.stdout.readline()):
            assert line and time.monotonic() < deadline, "no 'waiting for microphone' line"
        assert proc.poll() is None
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # not ended 30 s after SIGTERM (twice in CI, never here): where it hangs
            proc.send_signal(signal.SIGABRT)
            proc.communicate(timeout=10)
            pytest.fail("the kiosk did not end within 30 s of SIGTERM; its threads at SIGABRT:\n"
                        + errors.read_text()[-6000:])
        assert proc.returncode == 0, errors.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_only_input_errors_use_the_exit_code_the_service_does_not_restart():
    """The unit's RestartPreventExitStatus names exactly the input error's code, never a sound-system fault's."""
    unit = (Path(REPO) / "deploy" / "voicecoach.service").read_text()
    prevented = {int(code) for line in re.findall(r"^RestartPreventExitStatus=(.*)$", unit, re.M)
                 for code in line.split()}
    assert prevented == {InputError.exit_code}
    assert DeviceError.exit_code not in prevented and SoundSystemStuck.exit_code not in prevented


@pytest.mark.slow
def test_a_frozen_sound_server_does_not_hold_the_refusal_up(own_pulse, tmp_home):
    """A real hang, made on demand: a SIGSTOPped sound server keeps its socket open and never answers (finding the
    speaker gives up after 5 s in the device layer). The kiosk still ends with its line and exit 2, well within
    ANNOUNCE_TIMEOUT_S (measured: 6.3 s)."""
    from voicecoach.speech.announce import ANNOUNCE_TIMEOUT_S

    tmp_home.config_file.write_text(REFUSED[0])
    env = own_pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")})
    own_pulse.freeze_daemon()
    try:
        started = time.monotonic()
        r = run_kiosk(env, timeout_s=ANNOUNCE_TIMEOUT_S + 40)
        took = time.monotonic() - started
    finally:
        own_pulse.thaw_daemon()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "Fatal Python error" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("voicecoach: error: "), r.stderr[-2000:]
    assert "voicecoach: could not say it out loud: " in r.stdout, r.stdout
    assert took < ANNOUNCE_TIMEOUT_S + 15, took


def test_say_bounded_returns_when_the_speaking_hangs(monkeypatch):
    """FAKE hang (a step that never returns cannot be made on demand in the speech engine): the caller is let go
    after ``timeout_s`` with the reason, the stuck thread left behind."""
    import threading

    from voicecoach.speech import announce

    release = threading.Event()
    monkeypatch.setattr(announce, "_say", lambda *a: release.wait() and announce.Announced(True))
    started = time.monotonic()
    said = announce.say_bounded("hello", timeout_s=0.5)
    release.set()
    assert time.monotonic() - started < 2.0
    assert not said.spoken and "did not finish within" in said.reason


def test_the_refusal_is_said_on_the_speaker_the_refused_file_names(tmp_path):
    """A speaker reachable only by its name (``[audio] output``) is where the couple listens: the sentence went to
    the default device because the file was refused as a whole. The one key is read from the raw file."""
    import argparse

    from voicecoach.cli.kiosk import _raw_output

    def output_of(text: str | bytes) -> str | None:
        file = tmp_path / "config.toml"
        file.write_bytes(text if isinstance(text, bytes) else text.encode())
        return _raw_output(argparse.Namespace(config=str(file)))

    refused = '[kiosk]\nquiet_start = "22:00"\nquiet_end = "22:00"\n'
    assert output_of(refused + '[audio]\noutput = "USB speaker"\n') == "USB speaker"
    assert output_of(refused + "[audio]\noutput = 3\n") == "3"
    assert output_of(refused) is None
    assert output_of('[audio]\noutput = "USB speaker"\n[kiosk\n') is None        # not TOML at all: the default
    assert output_of(b"\xff\xfe[audio]") is None
    assert output_of('audio = "not a table"\n') is None
    assert _raw_output(argparse.Namespace(config=str(tmp_path / "missing.toml"))) is None


def test_the_reason_is_logged_at_once_and_once_not_only_at_exit(tmp_home, no_sound_env):
    """An admin reading ``journalctl -u voicecoach`` while a refused box waits out the quiet hours saw only "the
    settings file has a problem": the reason came at exit, hours later. Now the one error line, naming the problem
    and the fix, comes first (stdout and stderr merged, as the journal has them), and not again at exit."""
    tmp_home.config_file.write_text(REFUSED[2])
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")},
           "INVOCATION_ID": "0123456789abcdef"}  # as systemd sets it for a service
    r = subprocess.run([*cli_command(), "kiosk", "--pretend-time", "2026-11-24T07:29:57"], env=env, cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 2, r.stdout
    lines = r.stdout.splitlines()
    assert lines[0].startswith("voicecoach: error: cannot start: ") and "a_name is empty" in lines[0], lines
    assert lines[0].endswith("; fix it, then: sudo systemctl restart voicecoach"), lines[0]
    assert lines[1].startswith("voicecoach: quiet hours now"), lines
    assert sum("a_name is empty" in line for line in lines) == 1, lines


def test_sigterm_while_a_refusal_waits_out_the_quiet_hours_ends_it_at_once_saying_nothing(tmp_home, no_sound_env):
    """``systemctl stop`` of a refused box waiting for the quiet hours to end: it stops within a second or two,
    exit 2 (the refused file's code: its line was written at once), and nothing is said at night. SIGTERM and
    SIGHUP are kept while a live command is set up (voicecoach.early_signals), so this wait looks for them."""
    tmp_home.config_file.write_text(REFUSED[2])
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    proc = subprocess.Popen([*cli_command(), "kiosk", "--pretend-time", "2026-11-24T02:00:00"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("voicecoach: quiet hours now")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2 and took < 5, (proc.returncode, took, out, err)
    assert "said" not in out and "could not say" not in out and "Traceback" not in err, (out, err)
