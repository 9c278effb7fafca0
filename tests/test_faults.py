"""Faults in the live loop: the microphone unplugged mid-talk, speech synthesis broken or hung, a data directory
that cannot be written. Real sound server, real TTS; the only fake is a hung ``espeak-ng`` (a real one cannot be
made to hang on demand).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import stored_replay
from voicecoach.audio.wav import read_wav
from voicecoach_dev.audio_server import VirtualAudio
from voicecoach_dev.live import VOICECOACH, LiveProcess, first_audible_s

EVENT_LINE = re.compile(r"^\s*(\d+\.\d)s (raised_voice|interruption|pause_suggested)")
REPLAY_FROM_S = 15   # the unplugged-microphone test's talk after the replug: from here (calm before 30 s)



def _home(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"VOICECOACH_CONFIG_DIR": str(tmp_path / "cfg"), "VOICECOACH_DATA_DIR": str(tmp_path / "data"), **extra}


def _events(text: str) -> list[str]:
    return [m.group(2) for m in map(EVENT_LINE.match, text.splitlines()) if m]


@pytest.mark.slow
@pytest.mark.parametrize("moved", [False, True], ids=["stream-ended", "stream-moved-to-monitor"])
def test_listen_survives_the_microphone_unplugged_mid_talk_and_keeps_detecting(pulse: VirtualAudio, tmp_path,
                                                                             talk_wav, moved: bool):
    # moved: PulseAudio's own way, the recording moved to the speaker's monitor (exact zeros) instead of ended
    live = LiveProcess(["listen", "--no-ui"], pulse.full_env(**_home(tmp_path)))
    sources = ""   # what the sound server records, for the message when nothing is detected
    try:
        assert live.wait_for("microphone open", 30), live.text()
        first = pulse.play_into_mic(talk_wav)
        time.sleep(8.0)
        pulse.unplug_mic(kill_streams=not moved)
        t_lost = live.wait_for("microphone lost", 10)
        assert t_lost, live.text()
        # the talk stops with the microphone gone, so that after the replug it is heard once, from its start: two
        # copies at once, offset by however long the machine's load made the waits, are a muddle in which the
        # detectors found nothing at all in one fresh-clone CI run (one copy alone: 2 raised voices, a suggestion)
        first.terminate()
        first.wait(10)
        # plugged back in halfway through voicecoach's 2 s wait before it reopens: replug_mic() loads the source,
        # then makes it the default, and a reopen between the two opens the fallback (speaker.monitor: silence,
        # no detection; 4 of 8 runs under load once the microphone's close got quicker), which its zeros then
        # give away (audio/server.py)
        time.sleep(1.0)
        t_back = time.monotonic()
        pulse.replug_mic()
        reopened = [t for t, line in live.matching("microphone open") if t > t_back]
        deadline = time.monotonic() + 5.0
        while not reopened and time.monotonic() < deadline:
            time.sleep(0.1)
            reopened = [t for t, line in live.matching("microphone open") if t > t_back]
        assert reopened and reopened[0] - t_back <= 5.0, f"not reopened within 5 s:\n{live.text()}"
        before = len(_events(live.text()))
        # After the replug the talk is heard from its 15th second, not from its start: its first 30 s are calm and
        # its first event comes at 34 s (a detector fed its first 8 s, or 3 s, then a gap finds the same events from
        # 15 s on as from 0 s). The wait ends at the pause suggestion, not at the talk's end (its last 15 s repeat the
        # kinds already found); with no suggestion it runs to the clip's end, as before.
        rest = read_wav(talk_wav)[REPLAY_FROM_S * 16000:]
        player = pulse.play_into_mic(rest)
        played = time.monotonic()
        while not [t for t, _ in live.matching("pause_suggested") if t > t_back]:
            if time.monotonic() - played > len(rest) / 16000 + 2.0:
                break
            time.sleep(0.1)
        time.sleep(2.0)
        player.terminate()
        player.wait(10)
        sources = pulse.pactl("list", "short", "source-outputs") + pulse.pactl("list", "short", "sources")
    finally:
        code = live.stop()
    out = live.text()
    assert code == 0, out
    assert "Traceback" not in out
    assert len(_events(out)) > before, f"no detection after the microphone came back:\n{out}\n{sources}"
    # No journal row lost: every detection printed is in the journal.
    export = subprocess.run([VOICECOACH, "journal", "export", "--json"], env={**os.environ, **_home(tmp_path)},
                            capture_output=True, text=True, timeout=30)
    stored = json.loads(export.stdout)
    events = [e for e in stored["events"] if e["type"] in ("raised_voice", "interruption", "pause_suggested")]
    assert len(events) == len(_events(out))


def _listen_file(tmp_path: Path, wav: Path, env_extra: dict[str, str], config: str = "") -> subprocess.CompletedProcess:
    cfg = tmp_path / "test.toml"
    cfg.write_text(config)
    env = {**os.environ, **_home(tmp_path), **env_extra}
    return subprocess.run([VOICECOACH, "--config", str(cfg), "listen", "--no-ui", "--file", str(wav), "--fast"],
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_data_dir_that_cannot_be_written_gives_one_clear_message_and_detection_goes_on(tmp_path, talk_wav):
    # /proc refuses new folders even to root: the journal cannot be created there. The live loop as listen on the
    # microphone builds it, with its journal (listen --file opens none: a recording is not the couple's talk).
    env = {**os.environ, **_home(tmp_path), "VOICECOACH_DATA_DIR": "/proc/voicecoach-test"}
    result = stored_replay(talk_wav, env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    journal_lines = [line for line in result.stderr.splitlines() if "journal" in line.lower()]
    assert len(journal_lines) == 1 and "nothing will be stored" in journal_lines[0], result.stderr
    assert _events(result.stdout), result.stdout


def test_speech_engines_missing_the_prompt_is_printed_and_the_loop_keeps_running(tmp_path, talk_wav):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "sleep"):
        os.symlink(f"/bin/{tool}", bin_dir / tool)
    result = _listen_file(tmp_path, talk_wav, {"PATH": str(bin_dir)},
                          '[speech]\nengines = ["espeak-ng"]\n')
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # never labelled "(spoken)": it was not (issue 17 item 3)
    assert "(not spoken) Shall we take" in result.stdout and "(spoken)" not in result.stdout, result.stdout
    kinds = _events(result.stdout)
    assert "pause_suggested" in kinds
    assert kinds.index("pause_suggested") < len(kinds) - 1, "detection stopped after the unspoken prompt"


def test_a_hung_speech_engine_does_not_stop_the_loop(tmp_path, talk_wav):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "espeak-ng"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")  # fault injection: a synthesis that never finishes
    fake.chmod(0o755)
    started = time.monotonic()
    result = _listen_file(tmp_path, talk_wav, {"PATH": f"{bin_dir}:{os.environ['PATH']}"},
                          '[speech]\nengines = ["espeak-ng"]\nsynth_timeout_s = 1.0\n')
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    assert "Traceback" not in result.stderr
    kinds = _events(result.stdout)
    assert "pause_suggested" in kinds and kinds.index("pause_suggested") < len(kinds) - 1, result.stdout


@pytest.mark.slow
def test_after_the_sound_server_restarts_the_next_prompt_is_heard_and_the_mic_stays(own_pulse: VirtualAudio,
                                                                                    tmp_path):
    live = LiveProcess(["listen", "--no-ui"], own_pulse.full_env(**_home(tmp_path)))
    try:
        assert live.wait_for("microphone open", 30), live.text()
        time.sleep(1.0)  # audio heard first: a talk with no audio is rightly not stored, and the rare end checks it
        own_pulse.kill_daemon()  # the sound server crashes ...
        assert live.wait_for("microphone lost", 10), live.text()
        time.sleep(1.0)
        restarted = time.monotonic()
        own_pulse.restart_daemon()  # ... and its session manager starts it again on the same socket
        deadline = time.monotonic() + 25
        while not [t for t, _ in live.matching("microphone open") if t > restarted]:
            if live.proc.poll() is not None and live.matching("stopped answering"):
                _ended_for_a_restart(live, tmp_path)  # PortAudio stuck (about 1 run in 20): see there
                return
            assert time.monotonic() < deadline, f"microphone not reopened:\n{live.text()}"
            time.sleep(0.1)
        time.sleep(1.0)
        recording = own_pulse.record_speaker()
        time.sleep(0.3)
        asked = time.monotonic()
        live.type("p")  # start the pause: it is announced out loud
        assert live.wait_for("voicecoach: ", 10), live.text()
        time.sleep(6.0)
        audio = recording.stop()
        settled = time.monotonic()
        time.sleep(4.0)
    finally:
        code = live.stop()
    out = live.text()
    assert code == 0 and "Traceback" not in out, out
    assert "(not spoken)" not in out, out
    heard = first_audible_s(audio)
    assert heard is not None, f"the prompt after the restart was not heard:\n{out}"
    lost_again = [t for t, _ in live.matching("microphone lost") if t > restarted]
    assert not lost_again, f"the microphone was dropped again after the restart ({asked=}, {settled=}):\n{out}"


def _ended_for_a_restart(live: LiveProcess, tmp_path: Path) -> None:
    """The other way a sound-server restart can end. After the kill, PortAudio 19.6's ALSA thread sometimes loops
    in its error path for ever (upstream issue 1037; 2 of 40 runs here), the microphone's close never returns and
    nothing can be reopened in the process: listen must then end by itself, in one line, with the talk stored, so
    that starting it again (the kiosk's service does) gets a working sound system."""
    code = live.stop()
    out = live.text()
    assert code == 1 and "Traceback" not in out, out
    assert "voicecoach: error: the sound system stopped answering" in out, out
    _assert_one_talk_ended(tmp_path, out)


def _assert_one_talk_ended(tmp_path: Path, out: str = "") -> None:
    """The journal holds one talk, stored as ended."""
    import sqlite3

    db = sqlite3.connect(tmp_path / "data" / "journal.sqlite3")
    try:
        ended = db.execute("SELECT ended_at FROM talks").fetchall()
    finally:
        db.close()
    assert len(ended) == 1 and ended[0][0] is not None, f"{ended}\n{out}"


def _start_then_freeze(own_pulse: VirtualAudio, tmp_path: Path) -> LiveProcess:
    """listen with its microphone open, then the sound server frozen (SIGSTOP: its socket open, never answering)."""
    live = LiveProcess(["listen", "--no-ui"], own_pulse.full_env(**_home(tmp_path)))
    if not live.wait_for("microphone open", 30):
        live.stop()
        raise AssertionError(f"the microphone did not open:\n{live.text()}")
    time.sleep(1.0)
    own_pulse.freeze_daemon()
    return live


@pytest.mark.slow
def test_ctrl_c_ends_listen_while_the_sound_server_is_frozen(own_pulse: VirtualAudio, tmp_path):
    # A frozen (SIGSTOPped) sound server keeps its socket open and never answers: PortAudio's stop of the
    # microphone stream then never returned and Ctrl-C never ended listen (2 of 2 runs before the bounded close).
    live = _start_then_freeze(own_pulse, tmp_path)
    try:
        time.sleep(0.5)
        asked = time.monotonic()
        code = live.stop(timeout_s=20)
        took = time.monotonic() - asked
    finally:
        live.stop()
        own_pulse.thaw_daemon()
    out = live.text()
    assert code == 0 and "Traceback" not in out and "Fatal Python error" not in out, out
    assert took < 12, f"{took:.1f} s to stop:\n{out}"
    assert "did not close the microphone within" in out, out   # one warning says what was left behind
    assert "Thank you for talking with care" in out, out
    _assert_one_talk_ended(tmp_path, out)


@pytest.mark.slow
def test_listen_ends_by_itself_when_the_sound_server_stays_frozen(own_pulse: VirtualAudio, tmp_path):
    # The real stuck call, made on demand: with the server frozen, the microphone's close never returns, and every
    # later open would fail at once. Before, listen waited for a microphone for ever (deaf, and with PortAudio's
    # error loop a core busy); now it ends with one line and the talk stored, and a restart gets a sound system.
    live = _start_then_freeze(own_pulse, tmp_path)
    try:
        frozen = time.monotonic()
        while live.proc.poll() is None and time.monotonic() - frozen < 40:
            time.sleep(0.2)
        took = time.monotonic() - frozen
        assert live.proc.poll() is not None, f"still running {took:.0f} s after the freeze:\n{live.text()}"
        _ended_for_a_restart(live, tmp_path)
    finally:
        live.stop()
        own_pulse.thaw_daemon()
    assert took < 30, f"{took:.1f} s to end:\n{live.text()}"
