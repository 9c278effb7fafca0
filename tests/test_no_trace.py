"""A replay (``listen --file``), the demo and a kiosk rehearsal (``--pretend-time``) are not the couple's evening:
they leave no trace in the journal and send nothing out. The hooks are proved silent with the real parts the hook
tests use: a real Mosquitto broker watched by a real ``mosquitto_sub``, and a real program as ``[hooks] command``
that writes down every event it is given."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from conftest import REPO, cli_command
from test_kiosk_live import Kiosk
from voicecoach_dev.broker import Broker, free_port, missing_tools
from voicecoach_dev.live import LiveProcess

needs_broker = pytest.mark.skipif(bool(missing_tools()), reason="needs Debian's mosquitto and mosquitto-clients")
NOT_NOW_HELD = "as the journal shows"  # the live loop's line when the journal holds its suggestions back


def _a_couples_journal(home) -> Path:
    """The journal of a couple who use voicecoach: last week's talk with a pause they took."""
    from voicecoach.journal.schema import TalkSource
    from voicecoach.journal.store import Journal

    path = Path(home.data_dir) / "journal.sqlite3"
    with Journal.open(path) as journal:
        journal.add_checkin("nightly", datetime.now().timestamp() - 7 * 86400, True, 10.0, TalkSource.KIOSK)
    return path


def _hook_program(tmp_path: Path) -> tuple[Path, Path]:
    """A real program for ``[hooks] command``: it appends each event it gets on stdin to a file."""
    out = tmp_path / "hook-events.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(f"import sys\nwith open({str(out)!r}, 'a') as f:\n    f.write(sys.stdin.read() + '\\n')\n")
    return script, out


def _hooks_config(broker: Broker, script: Path, port: int | None = None) -> str:
    page = f"[web]\nenabled = true\nport = {port}\n" if port else ""
    return (f'{page}[hooks]\nmqtt = "{broker.url}"\ncommand = ["{sys.executable}", "{script}"]\n'
            "[checkin]\nanswer_s = 2.0\n[audio]\nreopen_s = 0.5\n")


def test_a_replay_leaves_the_couples_journal_as_it_was(run_cli, tmp_home, talk_wav):
    """``listen --file`` stored its talk, events and its suggestion, unanswered ("no answer", which holds the next
    suggestion back like "not now"), in the couple's journal, dated now; the next live ``listen`` then offered no
    pause for 15 minutes because of a recording. Now a replay neither reads nor writes the journal: it says so in
    one line, and what it would have stored is what it prints (the events, the suggestion, the summary)."""
    path = _a_couples_journal(tmp_home)
    before = path.read_bytes()
    heard = run_cli("listen", "--file", talk_wav, "--fast", "--no-ui", env=tmp_home.env, input="", timeout=120)
    assert heard.returncode == 0, heard.stderr
    assert path.read_bytes() == before  # no talk, no event, no suggestion of the replay's in the couple's journal
    lines = heard.stdout.splitlines()
    said = [line for line in lines if "the journal is neither read nor written" in line]
    assert len(said) == 1 and said[0].startswith(f"replaying {talk_wav.name}"), heard.stdout
    assert any("pause_suggested" in line for line in lines), heard.stdout  # what it would have stored, printed
    assert "pause offered 1x" in lines[-1], lines[-1]


@dataclass
class FreshReplay:
    """``listen --file talk.wav --fast --no-ui`` run once in a fresh home: its result, what the data folder held
    right after it, and the home's environment (for a live talk after it)."""

    result: subprocess.CompletedProcess
    journal_made: bool
    notice_marked: bool
    env: dict[str, str]


@pytest.fixture(scope="module")
def fresh_replay(tmp_path_factory, talk_wav) -> FreshReplay:
    """One replay in a fresh home serves the three tests that each made the same one (8-9 s each): no journal, the
    first-run notice left to the first live talk, and a live ``listen`` after it (the only test that goes on to
    use the home, after the data folder's state was noted here)."""
    folder = tmp_path_factory.mktemp("fresh")
    env = {**os.environ, "VOICECOACH_CONFIG_DIR": str(folder / "config"), "VOICECOACH_DATA_DIR": str(folder / "data")}
    for key in ("VOICECOACH_CONFIG_DIR", "VOICECOACH_DATA_DIR"):
        Path(env[key]).mkdir()
    result = subprocess.run([*cli_command(), "listen", "--file", str(talk_wav), "--fast", "--no-ui"], env=env,
                            input="", capture_output=True, text=True, timeout=120, cwd=REPO)
    data = folder / "data"
    return FreshReplay(result, (data / "journal.sqlite3").exists(), (data / ".notice-shown").exists(), env)


def test_a_replay_in_a_fresh_home_creates_no_journal(fresh_replay):
    heard = fresh_replay.result
    assert heard.returncode == 0, heard.stderr
    assert not fresh_replay.journal_made, "the replay made journal.sqlite3 in the data folder"


def test_a_replay_leaves_the_first_run_notice_to_the_first_live_talk(fresh_replay):
    """A replay marked the once-only notice (not therapy, not for relationships with violence or fear) as shown:
    a couple who tried a recording first never saw it at their first real talk."""
    res = fresh_replay.result
    assert res.returncode == 0, res.stderr
    assert "not meant for relationships with violence or fear" in res.stderr
    assert not fresh_replay.notice_marked, "the replay left .notice-shown in the data folder"


def test_a_live_listen_after_a_replay_is_not_held_back(pulse, fresh_replay):
    """The user's symptom: a replay, then ``listen`` on the microphone, which said "no pause suggestion for 15.0
    min: ..., as the journal shows" (the replay's unanswered suggestion) and offered nothing."""
    replay = fresh_replay.result
    assert replay.returncode == 0, replay.stderr
    live = LiveProcess(["listen", "--no-ui"], pulse.full_env(**{k: v for k, v in fresh_replay.env.items()
                                                                  if k.startswith("VOICECOACH")}))
    try:
        assert live.wait_for("voicecoach is listening", 30), live.text()
        time.sleep(1.0)
    finally:
        code = live.stop()
    assert code == 0, live.text()
    assert NOT_NOW_HELD not in live.text(), live.text()


@needs_broker
def test_a_replay_and_the_demo_send_no_hook(run_cli, tmp_home, tmp_path, talk_wav):
    """Neither plugs in the hooks (only the kiosk does): with a broker and a program configured, nothing reaches
    either, though the replay and the demo both suggest a pause."""
    script, out = _hook_program(tmp_path)
    with Broker() as broker, broker.subscribe("#") as sub:
        tmp_home.config_file.write_text(_hooks_config(broker, script))
        for args in (("listen", "--file", talk_wav, "--fast", "--no-ui"), ("demo", "--fast")):
            ran = run_cli(*args, env=tmp_home.env, input="", timeout=180)
            assert ran.returncode == 0, ran.stderr
            assert "pause offered 1x" in ran.stdout, ran.stdout
        time.sleep(0.5)
        assert sub.on("#") == []
    assert not out.exists()


def _rehearse(start_kiosk, env: dict[str, str], *extra: str):
    """A rehearsal with no sound device (it waits for a microphone) run long enough for its hooks to announce it."""
    kiosk = start_kiosk(env, "--pretend-time", "2026-11-23T21:29:50", *extra)
    kiosk.wait_for("voicecoach: waiting for microphone", 30)
    time.sleep(2.0)  # the hooks connect at start, on their own thread
    code, _ = kiosk.terminate()
    assert code == 0, kiosk.stderr
    return kiosk


@pytest.fixture
def start_kiosk():
    running: list[Kiosk] = []

    def start(env: dict[str, str], *args: str) -> Kiosk:
        running.append(Kiosk(env, *args))
        return running[-1]

    yield start
    for kiosk in running:
        kiosk.stop()


@pytest.fixture
def quiet_env(no_sound_env, tmp_home) -> dict[str, str]:
    return {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}


@needs_broker
def test_a_rehearsal_sends_no_hook_and_serves_no_page_unless_asked(quiet_env, tmp_home, tmp_path, start_kiosk):
    """``kiosk --pretend-time`` ran the hooks as configured: it announced itself to Home Assistant ("online", then
    "offline" at its end, over the real kiosk's), and its pretend rituals (``checkin_due`` at a pretended 21:30)
    reached the home's automations. Now a rehearsal sends nothing unless ``--with-hooks`` asks for it, and says so
    in its first line; the page is not served either (its Journal tab is the couple's journal)."""
    script, out = _hook_program(tmp_path)
    port = free_port()
    with Broker() as broker, broker.subscribe("#") as sub:
        tmp_home.config_file.write_text(_hooks_config(broker, script, port))
        kiosk = _rehearse(start_kiosk, quiet_env)
        time.sleep(0.5)
        assert sub.on("#") == [], sub.on("#")[:5]
        assert not out.exists()
        with_hooks = _rehearse(start_kiosk, quiet_env, "--with-hooks")
        sub.wait_for("voicecoach/+/availability", lambda m: m.payload == "online")  # asked for: sent
    assert "event_type" in out.read_text()  # and the program ran
    first = next(line for line in kiosk.lines if "rehearsal from" in line)
    assert "no hook is sent (--with-hooks sends them)" in first and "the page is off" in first, first
    assert "the hooks are sent (--with-hooks)" in next(line for line in with_hooks.lines if "rehearsal from" in line)


def test_a_rehearsals_hook_events_carry_the_time_it_pretends(quiet_env, tmp_home, tmp_path, start_kiosk):
    """``--with-hooks`` sent the rehearsal's events stamped with the real time ("at": this afternoon, for a
    rehearsal of 21:30): an automation keyed to the time could not be rehearsed. Now they carry the pretended time
    the rehearsal runs on (the program hook's events here; the broker's are the same events)."""
    import json

    script, out = _hook_program(tmp_path)
    tmp_home.config_file.write_text(f'[hooks]\ncommand = ["{sys.executable}", "{script}"]\n[audio]\nreopen_s = 0.5\n')
    env = {**quiet_env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # this tree's voicecoach
    _rehearse(start_kiosk, env, "--with-hooks")
    events = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert events, out.read_text()
    assert all(e["at"].startswith("2026-11-23T21:29:5") for e in events), events


def test_a_rehearsal_serves_no_page(quiet_env, tmp_home, start_kiosk):
    port = free_port()
    tmp_home.config_file.write_text(f"[web]\nenabled = true\nport = {port}\n")
    kiosk = start_kiosk(quiet_env, "--pretend-time", "2026-11-23T12:00:00")
    kiosk.wait_for("voicecoach: waiting for microphone", 30)
    time.sleep(1.0)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        code, _ = kiosk.terminate()
    assert code == 0, kiosk.stderr


def test_with_hooks_without_a_rehearsal_is_refused(run_cli, tmp_home):
    """The kiosk always sends its hooks; ``--with-hooks`` alone would be an option with no effect."""
    ran = run_cli("kiosk", "--with-hooks", env=tmp_home.env)
    assert ran.returncode == 2
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--with-hooks" in lines[0] and "--pretend-time" in lines[0], ran.stderr


def test_voice_notes_asked_for_in_a_replay_are_said_to_be_left_alone():
    """A replay or a rehearsal (``notes=None``) said "Okay. Say your note after this ... I'll keep it for the other
    one of you", recorded, then "I didn't keep a note this time."; "play my notes" said "There are no notes
    waiting." with the couple's notes waiting. Both now say plainly that notes are left alone this time."""
    from voicecoach.actions import RecordNote, Say
    from voicecoach.notes_flow import NOTES_NOT_HERE, NoteSummary, NotesFlow

    flow = NotesFlow(("Sam", "Alex"), enabled=True, kept=False)
    assert flow.leave() == [Say(NOTES_NOT_HERE)] and not any(isinstance(a, RecordNote) for a in flow.leave())
    assert flow.play([NoteSummary(1, 1_700_000_000.0, "A")]) == [Say(NOTES_NOT_HERE)] and not flow.active
    assert "switched off" in flow.__class__(("Sam", "Alex"), enabled=False, kept=False).leave()[0].text


def test_a_replay_records_and_plays_no_voice_note(tmp_home, tmp_path):
    """``listen --file`` with voice notes on and a note waiting: "l" (leave a note) and "v" (play my notes) typed."""
    import subprocess

    import numpy as np

    from conftest import REPO, cli_command
    from voicecoach.audio.wav import write_wav
    from voicecoach.journal.notes import VoiceNotes
    from voicecoach.journal.store import Journal

    tmp_home.config_file.write_text("[journal]\nvoice_notes = true\n")
    path = Path(tmp_home.data_dir) / "journal.sqlite3"
    with Journal.open(path) as journal:
        note = (np.random.default_rng(1).standard_normal(16000 * 2) * 3000).astype(np.int16)
        VoiceNotes(journal, True, 60.0).save_note(note, "A", "B", time.time() - 3600)
    before = path.read_bytes()
    wav = tmp_path / "quiet.wav"
    write_wav(wav, np.zeros(16000 * 6, np.int16))
    proc = subprocess.Popen([*cli_command(), "listen", "--file", str(wav), "--no-ui"], env=tmp_home.env, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    for key in ("l", "v"):
        time.sleep(1.5)
        proc.stdin.write(key + "\n")
        proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "command 'leave_note'" in out and "command 'play_notes'" in out, out  # both keys were taken
    assert out.count("voicecoach: Voice notes are left alone this time") == 2, out
    assert "Say your note" not in out and "There is one note" not in out, out
    assert path.read_bytes() == before


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_rehearsal_with_the_page_and_hooks_set_up_opens_no_network_socket(tmp_home, tmp_path, quiet_env):
    """The same, at the system-call level (as test_privacy traces the kiosk with both off): with ``[web]`` on and
    ``[hooks] mqtt`` set, a rehearsal opens no Internet socket at all (it opened the page's and the broker's)."""
    import re
    import subprocess

    from voicecoach_dev.live import VOICECOACH, PipeReader

    tmp_home.config_file.write_text(f'[web]\nenabled = true\nport = {free_port()}\n'
                                    f'[hooks]\nmqtt = "mqtt://127.0.0.1:{free_port()}"\n')
    log = tmp_path / "strace.log"
    proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=socket,connect,bind", "-o", str(log), VOICECOACH,
                             "kiosk", "--pretend-time", "2026-11-23T12:00:00"], env=quiet_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = PipeReader(proc.stdout)
    try:
        if output.wait_for("waiting for microphone", 60) is not None:
            time.sleep(2.0)  # time for any thread the page or the hooks started to open its socket
    finally:
        for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
            subprocess.run(["kill", "-TERM", pid], check=False)  # the kiosk itself, under strace
        proc.wait(timeout=30)
        output.join()
    out = output.text()
    assert "no hook is sent" in out and "voicecoach: stopped" in out, out
    calls = log.read_text()
    assert "socket(AF_UNIX" in calls, "strace saw nothing"
    assert not re.findall(r"socket\((AF_INET6?|AF_PACKET)\b|(connect|bind)\(\d+, \{sa_family=AF_INET6?", calls)
