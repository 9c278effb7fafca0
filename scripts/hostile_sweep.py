"""A sweep of bad input across every CLI command: what a careless (or hostile) user gives by mistake.

Each case runs ``voicecoach ...`` as a subprocess in a fresh home of its own (a config naming the partners Sam and
Alex, a journal holding one talk) and is judged on four things, printed as a table:

- ``exit``: the exit code (an error must not exit 0; a case marked ``ok`` must exit 0);
- ``tb``: whether a Python traceback or "internal error" reached stderr (never allowed);
- ``msg``: whether the error line names the problem (the case's ``needle``, a regular expression) and is one line
  (``voicecoach: error: ...`` once, nothing else on stderr but the warnings the command prints anyway);
- ``kept``: whether the stored data survived (config.toml byte-identical, the journal's talk still there and the
  file passing ``PRAGMA integrity_check``).

Cases cover files (missing, a folder, unreadable, empty, truncated, odd WAV formats, other formats renamed .wav,
a huge header, a symlink loop, spaces and non-UTF-8 bytes in paths), settings TOML (syntax, types, unknown keys,
NaN/inf/negative durations, a table for a value, empty, UTF-16, BOM), the journal and data folder (read-only, a full
disk on a small tmpfs, corrupt, a newer schema, locked by another program), the environment (no HOME, XDG dirs
that are files, an ASCII locale with non-ASCII names, a 20-column terminal, a closed stdout, a broken pipe) and
signals at each prompt (SIGINT, SIGTERM, SIGHUP). "Unreadable" runs the command as root without
CAP_DAC_OVERRIDE (``setpriv``), so the file modes count as they do for a user; the full disk needs ``mount``
(root): those cases are skipped where that cannot be done.

    PYTHONPATH=. .venv/bin/python scripts/hostile_sweep.py [--only SUBSTRING] [--json FILE] [--jobs 2] [--code DIR]

Exit code 0 when every case passed.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
CODE = {"root": REPO}  # the checkout whose voicecoach is swept (--code: an earlier one, for the "before" figures)
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
STORED_AT = float(int(time.time()) - 86_400)  # the stored talk's start (yesterday: in the report), looked for after
CONFIG = '[partners]\na_name = "Sam"\nb_name = "Alex"\n'
RATE = 16000


@dataclass
class Home:
    """A fresh home for one case: config and data folders, a scratch folder, the environment to run in."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    data_on: Path | None = None  # where the data folder is while the case runs, when not in root (a full disk)

    @property
    def cfg(self) -> Path:
        return self.root / "cfg"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @property
    def config(self) -> Path:
        return self.cfg / "config.toml"

    @property
    def journal(self) -> Path:
        return self.data / "journal.sqlite3"


@dataclass
class Case:
    """One hostile input: the command (``{s}`` is the scratch folder, ``{cfg}``/``{data}`` the home's folders)."""

    group: str
    name: str
    args: list[str]
    expect: str = "error"  # "error": non-zero exit and a named problem; "ok": exit 0; "any": either, no traceback
    needle: str = ""  # a regular expression the error line must match (case-insensitive)
    prep: Callable[[Home], None] | None = None
    env: dict[str, str | None] = field(default_factory=dict)  # None removes a variable
    no_dac: bool = False  # run as root without CAP_DAC_OVERRIDE: file modes count
    shell: str = ""  # run through bash instead: {vc} is the command
    signal_after: tuple[str, int, float] | None = None  # (text to wait for on the output, signal, seconds at most)
    tty_cols: int = 0  # run on a pseudo-terminal this wide
    stdin: str | None = ""  # text fed to stdin ("" is an empty stdin; None keeps a terminal's)
    keeps: bool = True  # the config and the stored talk must survive
    error_lines: int = 1  # "voicecoach: error:" lines allowed (analyze of several files: one a file, then a count)
    timeout: float = 60.0


@dataclass
class Result:
    """What a case did."""

    group: str
    name: str
    exit: int | None
    traceback: bool
    named: bool
    one_line: bool
    kept: bool
    passed: bool
    seconds: float
    error_line: str
    note: str = ""


# --- fixtures ----------------------------------------------------------------------------------------------------

def _wav(path: Path, data: bytes, rate: int = RATE, width: int = 2, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def _tone_int16(seconds: float, rate: int = RATE) -> bytes:
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()


def _raw_wav(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + 16 + 8 + len(data)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) +
            fmt + b"data" + struct.pack("<I", len(data)) + data)


def make_files(s: Path) -> None:
    """The scratch folder's hostile files, made once per home."""
    s.mkdir(parents=True, exist_ok=True)
    good = _tone_int16(2.0)
    _wav(s / "good.wav", good)
    (s / "empty.wav").write_bytes(b"")
    (s / "truncated.wav").write_bytes((s / "good.wav").read_bytes()[:3000])
    _wav(s / "header-only.wav", b"")
    _wav(s / "8k.wav", _tone_int16(2.0, 8000), rate=8000)
    _wav(s / "stereo-44k.wav", _tone_int16(2.0, 44100) * 2, rate=44100, channels=2)
    _wav(s / "8bit.wav", bytes(128 + (b >> 2) % 64 for b in good[::2]), width=1)
    (s / "float.wav").write_bytes(_raw_wav(3, 1, RATE, 32, struct.pack(f"<{RATE}f", *([0.1] * RATE))))
    (s / "double.wav").write_bytes(_raw_wav(3, 1, RATE, 64, struct.pack(f"<{RATE}d", *([0.1] * RATE))))
    (s / "24bit.wav").write_bytes(_raw_wav(1, 1, RATE, 24, bytes(3 * RATE)))
    (s / "6ch.wav").write_bytes(_raw_wav(1, 6, RATE, 16, bytes(12 * RATE)))
    (s / "mp3.wav").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x21" + bytes(33) + b"\xff\xfb\x90\x64" * 400)
    (s / "bare-mp3.wav").write_bytes(b"\xff\xfb\x90\x64" * 400)
    (s / "flac.wav").write_bytes(b"fLaC" + bytes(400))
    (s / "ogg.wav").write_bytes(b"OggS" + bytes(400))
    (s / "m4a.wav").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(400))
    (s / "text.wav").write_text("my notes, not a recording\n")
    huge = bytearray((s / "good.wav").read_bytes())
    huge[4:8] = struct.pack("<I", 0xFFFFFFF0)
    at = huge.find(b"data")
    huge[at + 4:at + 8] = struct.pack("<I", 0x7FFFFFF0)  # claims 2 GiB of audio, holds 2 s
    (s / "huge-header.wav").write_bytes(bytes(huge))
    zero_ch = bytearray((s / "good.wav").read_bytes())
    zero_ch[22:24] = struct.pack("<H", 0)
    (s / "zero-channels.wav").write_bytes(bytes(zero_ch))
    (s / "folder.wav").mkdir()
    os.symlink("loop-b.wav", s / "loop-a.wav")
    os.symlink("loop-a.wav", s / "loop-b.wav")
    os.symlink(s / "gone.wav", s / "dangling.wav")
    shutil.copy(s / "good.wav", s / "my talk.wav")
    shutil.copy(os.fsencode(s / "good.wav"), os.fsencode(s) + b"/caf\xe9.wav")
    shutil.copy(s / "good.wav", s / "unreadable.wav")
    os.chmod(s / "unreadable.wav", 0)
    (s / "readonly").mkdir()
    os.chmod(s / "readonly", 0o555)
    (s / "a-file").write_text("x\n")


def make_home(root: Path) -> Home:
    """A config naming the partners and a journal holding one talk (with one event), made by voicecoach itself."""
    sys.path.insert(0, str(CODE["root"]))
    from voicecoach.events import RaisedVoice
    from voicecoach.journal.store import Journal

    home = Home(root)
    home.cfg.mkdir(parents=True)
    home.data.mkdir()
    home.config.write_text(CONFIG)
    journal = Journal.open(home.journal)
    talk = journal.start_talk("listen", STORED_AT)
    journal.add_event(talk, RaisedVoice(t=1.0, start=0.5, speaker="A"))
    journal.close()
    make_files(home.scratch)
    home.env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICECOACH_", "XDG_"))}
    home.env.update(VOICECOACH_CONFIG_DIR=str(home.cfg), VOICECOACH_DATA_DIR=str(home.data),
                    PYTHONPATH=str(CODE["root"]), HOME=str(root / "home"), PULSE_SERVER="unix:/nonexistent",
                    LANG="C.UTF-8")
    (root / "home").mkdir()
    return home


def kept(home: Home, config_before: bytes | None) -> tuple[bool, str]:
    """Did the config and the stored talk survive?"""
    if config_before is not None and (not home.config.is_file() or home.config.read_bytes() != config_before):
        return False, "config.toml changed"
    try:
        db = sqlite3.connect(f"file:{home.journal}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            found = db.execute("SELECT COUNT(*) FROM talks WHERE started_at = ?", (STORED_AT,)).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return False, f"journal unreadable: {exc}"
    if not ok:
        return False, "journal fails integrity_check"
    return (True, "") if found == 1 else (False, "the stored talk is gone")


# --- running -----------------------------------------------------------------------------------------------------

def _expand(text: str, home: Home) -> str:
    data = home.data_on or home.data
    return text.replace("{s}", str(home.scratch)).replace("{cfg}", str(home.cfg)).replace("{data}", str(data))


def _command(case: Case, home: Home) -> list[str] | str:
    vc = [sys.executable, "-m", "voicecoach"]
    if case.shell:
        line = " ".join(map(_quote, vc))
        return _expand(case.shell, home).replace("{vc}", line)
    args = [os.fsdecode(os.fsencode(_expand(a, home))) for a in case.args]
    return (NO_DAC if case.no_dac else []) + vc + args


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _run_on_tty(cmd: list[str], env: dict[str, str], case: Case) -> tuple[int | None, str]:
    """Run on a pseudo-terminal (the case's width); send the case's signal once its text is seen. Returns the exit
    code and everything written (stdout and stderr share the terminal)."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, case.tty_cols or 80, 0, 0))
    env = dict(env, COLUMNS=str(case.tty_cols or 80), TERM="xterm")
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=CODE["root"],
                            start_new_session=True, preexec_fn=_default_sigint)
    os.close(slave)
    out = b""
    sent = False
    deadline = time.monotonic() + case.timeout
    while time.monotonic() < deadline:
        import select

        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            out += chunk
            if not chunk and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
        if case.signal_after and not sent:
            text, sig, at_most = case.signal_after
            if text.encode() in out or time.monotonic() > deadline - case.timeout + at_most:
                time.sleep(0.3)
                os.kill(proc.pid, sig)
                sent = True
    try:
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        code = None
        proc.wait()
    os.close(master)
    return code, out.decode("utf-8", "replace")


def _default_sigint() -> None:
    """SIGINT as a terminal's foreground program has it: a sweep started in the background (``... &``) would pass
    its ignored SIGINT on, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_case(case: Case, base: Path) -> Result:
    """Run one case in a fresh home under ``base`` and judge it."""
    root = Path(tempfile.mkdtemp(prefix="case-", dir=base))
    home = make_home(root)
    note = ""
    try:
        if case.prep:
            case.prep(home)
    except SkipCase as skip:
        return Result(case.group, case.name, None, False, True, True, True, True, 0.0, "", f"skipped: {skip}")
    except Exception as exc:  # the sweep's own fault: shown as a failed row, the other cases still run
        _undo(case, home)  # a tmpfs mounted before the failure is not left mounted
        return Result(case.group, case.name, None, False, False, False, False, False, 0.0, "",
                      f"setting the case up failed: {type(exc).__name__}: {exc}")
    config_before = home.config.read_bytes() if home.config.is_file() and not home.config.is_symlink() else None
    env = dict(home.env)
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = _expand(value, home)
    cmd = _command(case, home)
    start = time.monotonic()
    if case.tty_cols or case.stdin is None:
        code, err = _run_on_tty(cmd if isinstance(cmd, list) else ["bash", "-c", cmd], env, case)
    else:
        try:
            done = subprocess.run(cmd if isinstance(cmd, list) else ["bash", "-c", cmd], env=env, cwd=CODE["root"],
                                  input=case.stdin.encode(), capture_output=True, timeout=case.timeout,
                                  preexec_fn=_default_sigint)
            code, err = done.returncode, done.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            code, err = None, "(timed out)"
    seconds = time.monotonic() - start
    _undo(case, home)
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("voicecoach: error:")]
    tb = "Traceback (most recent call last)" in err or "internal error" in err
    error_line = errors[0] if errors else (lines[-1] if lines else "")
    if case.expect == "error":
        named = bool(errors) and bool(re.search(case.needle, errors[0], re.I | re.S))
        one_line = 1 <= len(errors) <= case.error_lines
        exit_ok = code not in (0, None)
    else:  # the needle is what the command should say (a warning), when the case names one
        named = not case.needle or bool(re.search(case.needle, err, re.I | re.S))
        one_line = True
        exit_ok = code == 0 if case.expect == "ok" else code is not None
    is_kept, why = kept(home, config_before) if case.keeps else (True, "")
    note = why or note
    passed = exit_ok and not tb and named and one_line and is_kept
    _clean(root)
    print(f"{'ok  ' if passed else 'FAIL'} {case.group}: {case.name}", file=sys.stderr, flush=True)
    return Result(case.group, case.name, code, tb, named, one_line, is_kept, passed, round(seconds, 1),
                  error_line[:300], note)


def _undo(case: Case, home: Home) -> None:
    """The case's own clean-up (a tmpfs unmounted, a lock holder ended), if its set-up has one."""
    cleanup = getattr(case.prep, "cleanup", None)
    if cleanup:
        try:
            cleanup(home)
        except Exception as exc:  # noqa: BLE001 - half set up: say so, go on
            print(f"clean-up of {case.group}: {case.name} failed: {exc}", file=sys.stderr)


def _clean(root: Path) -> None:
    for path in root.rglob("*"):
        try:
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o700)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


class SkipCase(Exception):
    """This machine cannot set the case up (no mount, no setpriv)."""


# --- the cases ---------------------------------------------------------------------------------------------------

def _write(rel: str, data: bytes | str) -> Callable[[Home], None]:
    def prep(home: Home) -> None:
        path = Path(_expand(rel, home))
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return prep


def _config(text: str | bytes) -> Callable[[Home], None]:
    return _write("{cfg}/config.toml", text)


def _chmod(rel: str, mode: int) -> Callable[[Home], None]:
    return lambda home: os.chmod(_expand(rel, home), mode)


def _newer_schema(home: Home) -> None:
    db = sqlite3.connect(home.journal)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()


def _corrupt_page(home: Home) -> None:
    data = bytearray(home.journal.read_bytes())
    data[4096 + 100:4096 + 400] = os.urandom(300)
    home.journal.write_bytes(bytes(data))


def _full_disk(home: Home) -> None:
    """The data folder on a 256 kB tmpfs, filled: the journal copied in first."""
    mount = home.root / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True).returncode:
        raise SkipCase("cannot mount a tmpfs here")
    shutil.copytree(home.data, mount / "data")
    try:
        with open(mount / "filler", "wb") as f:
            while True:
                f.write(bytes(4096))
                f.flush()
    except OSError:
        pass  # full
    home.env["VOICECOACH_DATA_DIR"] = str(mount / "data")
    home.data_on = mount / "data"


def _full_disk_cleanup(home: Home) -> None:
    mount = home.root / "full"
    try:
        (mount / "filler").unlink(missing_ok=True)
        if (mount / "data").is_dir():
            shutil.rmtree(home.data)
            shutil.copytree(mount / "data", home.data)  # judged where it lived
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


_full_disk.cleanup = _full_disk_cleanup  # type: ignore[attr-defined]


def _locked(home: Home) -> None:
    """Another program holding the journal's write lock (a second voicecoach mid-write, an SQLite browser)."""
    code = ("import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')"
            "\nprint('locked',flush=True)\ntime.sleep(float(sys.argv[2]))\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(home.journal), "40"], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    holder.stdout.readline()
    _locked.__dict__.setdefault("holders", {})[str(home.root)] = holder


def _unlock(home: Home) -> None:
    holder = _locked.__dict__["holders"].pop(str(home.root))
    holder.kill()
    holder.wait()


_locked.cleanup = _unlock  # type: ignore[attr-defined]


def _both(*preps: Callable[[Home], None]) -> Callable[[Home], None]:
    def prep(home: Home) -> None:
        for p in preps:
            p(home)
    return prep


WAV_CASES: list[tuple[str, str, str]] = [
    # file, expect, needle (analyze's error line)
    ("missing.wav", "error", r"no such file"),
    ("folder.wav", "error", r"director|folder"),
    ("unreadable.wav", "error", r"may not read it.*chmod"),
    ("empty.wav", "error", r"empty"),
    ("header-only.wav", "error", r"no audio"),
    ("truncated.wav", "error", r"truncated|missing"),
    ("text.wav", "error", r"not a WAV"),
    ("mp3.wav", "error", r"an MP3 recording.*ffmpeg"),
    ("bare-mp3.wav", "error", r"an MP3 recording.*ffmpeg"),
    ("flac.wav", "error", r"a FLAC recording"),
    ("ogg.wav", "error", r"an Ogg recording"),
    ("m4a.wav", "error", r"an M4A recording"),
    ("zero-channels.wav", "error", r"channel"),
    ("loop-a.wav", "error", r"symbolic link that leads round in a loop.*own path"),
    ("dangling.wav", "error", r"symbolic link to .*does not exist.*own path"),
    ("8k.wav", "ok", ""),
    ("stereo-44k.wav", "ok", ""),
    ("8bit.wav", "ok", ""),
    ("float.wav", "ok", ""),
    ("double.wav", "any", ""),
    ("24bit.wav", "ok", ""),
    ("6ch.wav", "ok", ""),
    ("huge-header.wav", "any", ""),
    ("my talk.wav", "ok", ""),
    ("caf\udce9.wav", "ok", ""),
]


def wav_cases() -> list[Case]:
    """Every WAV in three commands that read one: analyze, listen --file, calibrate --from-wav."""
    cases = []
    for name, expect, needle in WAV_CASES:
        no_dac = name == "unreadable.wav"
        cases.append(Case("wav", f"analyze {name}", ["analyze", f"{{s}}/{name}"], expect, needle, no_dac=no_dac))
        cases.append(Case("wav", f"listen --file {name}", ["listen", "--no-ui", "--fast", "--file", f"{{s}}/{name}"],
                          expect, needle, no_dac=no_dac))
        if expect == "error":
            cases.append(Case("wav", f"calibrate --from-wav {name}",
                              ["calibrate", "--from-wav", f"{{s}}/{name}", "{s}/good.wav"], expect, needle,
                              no_dac=no_dac))
    return cases


CONFIG_CASES: list[tuple[str, str | bytes, str, str]] = [
    ("syntax error", "[partners\na_name = 1\n", "error", r"invalid TOML.*line"),
    ("unclosed string", '[partners]\na_name = "Sam\n', "error", r"invalid TOML.*line 2"),
    ("wrong type", '[pause]\nlength_min = "ten"\n', "error", r"pause.length_min must be a number"),
    ("unknown key", "[pause]\nlenght_min = 10\n", "error", r"pause.lenght_min.*known keys"),
    ("unknown table", "[pauses]\nlength_min = 10\n", "error", r"unknown key 'pauses'"),
    ("negative duration", "[pause]\nlength_min = -5\n", "error", r"out of range.*allowed"),
    ("zero duration", "[pause]\nlength_min = 0\n", "error", r"out of range.*allowed"),
    ("nan duration", "[pause]\nlength_min = nan\n", "error", r"nan is out of range.*allowed"),
    ("inf duration", "[pause]\nlength_min = inf\n", "error", r"inf is out of range.*allowed"),
    ("-inf duration", "[pause]\nlength_min = -inf\n", "error", r"inf is out of range"),
    ("huge integer", "[pause]\nlength_min = 99999999999999999999999\n", "error", r"out of range"),
    ("nan for an integer", "[detection]\nvad_aggressiveness = nan\n", "error", r"must be an integer"),
    ("float for an integer", "[detection]\nvad_aggressiveness = 2.5\n", "error", r"must be an integer"),
    ("out of range", "[detection]\nvad_aggressiveness = 7\n", "error", r"out of range"),
    ("a table for a value", "[pause]\nlength_min = {minutes = 10}\n", "error", r"length_min must be a number, not"),
    ("a sub-table for a value", "[pause.length_min]\nx = 1\n", "error", r"length_min must be a number"),
    ("a value for a table", "pause = 10\n", "error", r"pause must be a table"),
    ("an array of tables", "[[pause]]\nlength_min = 3\n", "error", r"pause must be a table"),
    ("a date for a time", "[kiosk]\nnightly_time = 21:30:00\n", "error", r"nightly_time must be a string"),
    ("a bad time", '[kiosk]\nnightly_time = "25:99"\n', "error", r"nightly_time"),
    ("a bad weekday", '[kiosk]\nweekly_day = "Funday"\n', "error", r"weekly_day"),
    ("a key twice", '[partners]\na_name = "Sam"\na_name = "Al"\n', "error", r"invalid TOML"),
    ("a table twice", '[partners]\na_name = "Sam"\n[partners]\nb_name = "Al"\n', "error", r"appears twice"),
    ("empty file", "", "ok", ""),
    ("only comments", "# nothing set\n", "ok", ""),
    ("a BOM", b"\xef\xbb\xbf" + CONFIG.encode(), "ok", ""),
    ("UTF-16", CONFIG.encode("utf-16"), "error", r"UTF-16|UTF-8"),
    ("UTF-16 without a BOM", CONFIG.encode("utf-16-le"), "error", r"UTF-16|UTF-8|not a text"),
    ("Latin-1 name", '[partners]\na_name = "Zoë"\n'.encode("latin-1"), "error", r"UTF-8"),
    ("binary junk", bytes(range(256)) * 4, "error", r"UTF-8|not a text|invalid TOML"),
    ("a NUL byte", b'[partners]\na_name = "S\x00m"\n', "error", r"invalid TOML|control|NUL"),
    ("CRLF line ends", CONFIG.replace("\n", "\r\n"), "ok", ""),
    ("a name with a line break", '[partners]\na_name = "Sam\\nB"\n', "error", r"a_name"),
    ("an empty name", '[partners]\na_name = ""\n', "error", r"a_name"),
    ("a relative journal file", '[journal]\nfile = "us.sqlite3"\n', "error", r"full path"),
    ("a journal file that is a folder", '[journal]\nfile = "/tmp"\n', "error", r"is a folder, not a file"),
    ("equal quiet hours", '[kiosk]\nquiet_start = "22:00"\nquiet_end = "22:00"\n', "error", r"same time"),
    ("a language with no pack", '[commands]\nlanguage = "xx"\n', "error", r"language"),
    ("a frame length not allowed", "[audio]\nframe_ms = 25\n", "error", r"frame_ms"),
]


def _config_link_loop(home: Home) -> None:
    home.config.unlink()
    os.symlink("config.toml", home.config)


def config_cases() -> list[Case]:
    """Each broken config under ``config check`` (and three other commands: every command reads it)."""
    cases = []
    for name, text, expect, needle in CONFIG_CASES:
        cases.append(Case("config", f"config check: {name}", ["config", "check"], expect, needle, prep=_config(text)))
        if expect == "error" and name in ("syntax error", "nan duration", "UTF-16", "a table for a value"):
            for args in (["report"], ["journal", "export"], ["listen", "--no-ui", "--fast", "--file", "{s}/good.wav"]):
                cases.append(Case("config", f"{' '.join(args[:2])}: {name}", args, expect, needle, prep=_config(text)))
    cases += [
        Case("config", "--config missing", ["--config", "{s}/nope.toml", "config", "check"], "error",
             r"does not exist"),
        Case("config", "--config a folder", ["--config", "{s}", "config", "check"], "error", r"folder"),
        Case("config", "--config unreadable", ["--config", "{s}/unreadable.toml", "config", "check"], "error",
             r"permission|cannot read", prep=_both(_write("{s}/unreadable.toml", CONFIG),
                                                   _chmod("{s}/unreadable.toml", 0)), no_dac=True),
        Case("config", "config.toml unreadable", ["config", "check"], "error", r"permission|cannot read",
             prep=_chmod("{cfg}/config.toml", 0), no_dac=True),
        Case("config", "config.toml a symlink loop", ["config", "check"], "error", r"symbolic link",
             prep=_config_link_loop),
        Case("config", "config folder a file", ["config", "check"], "error", r"not a (folder|directory)|a file",
             env={"VOICECOACH_CONFIG_DIR": "{s}/a-file"}),
        Case("config", "config init into a read-only folder", ["config", "init", "{s}/readonly/c.toml"], "error",
             r"permission|cannot write", no_dac=True),
        Case("config", "config init over an existing file", ["config", "init"], "error", r"--force|exists"),
        Case("config", "config init into a missing folder", ["config", "init", "{s}/no/such/c.toml"], "any", ""),
        Case("config", "config init path with spaces", ["config", "init", "{s}/my config.toml"], "ok", ""),
    ]
    return cases


JOURNAL_STATES: list[tuple[str, Callable[[Home], None] | None, dict[str, str | None], bool, str, str]] = [
    # (state, prep, env, no_dac, what a reader does (report, export), the problem named)
    ("corrupt journal", _write("{data}/journal.sqlite3", b"SQLite format 3\x00" + bytes(8000)), {}, False, "error",
     r"damaged|corrupt|not a journal|malformed"),
    ("a page destroyed", _corrupt_page, {}, False, "any", r"damaged|corrupt|malformed"),
    ("newer schema", _newer_schema, {}, False, "error", r"newer"),
    ("locked by another program", _locked, {}, False, "ok", r"another program|locked"),
    ("full disk", _full_disk, {}, False, "ok", r"disk|space|full"),
    ("read-only data folder", _chmod("{data}", 0o500), {}, True, "ok", r"read-only|writable|permission"),
    ("unreadable journal", _chmod("{data}/journal.sqlite3", 0), {}, True, "error",
     r"may not read|permission|cannot (use|read)|readable"),
    ("data folder a file", None, {"VOICECOACH_DATA_DIR": "{s}/a-file"}, False, "error", r"a-file.*(file|folder)"),
]


def journal_cases() -> list[Case]:
    """The journal and the data folder: corrupt, newer, locked, full, read-only, unreadable, in the way of a file.

    A reader (report, export) must read what it can or refuse in one line; ``listen --file`` (a replay, which
    neither reads nor writes the journal) must run whatever state it is in; ``erase`` must refuse in one line when
    it cannot erase, never say it did."""
    reads = [["report"], ["journal", "export"]]
    listen = ["listen", "--no-ui", "--fast", "--file", "{s}/good.wav"]
    erase = ["journal", "erase", "--yes"]
    cases = []
    for state, prep, env, no_dac, reader, needle in JOURNAL_STATES:
        keeps = state not in ("corrupt journal", "a page destroyed", "newer schema")
        for args in reads:
            cases.append(Case("journal", f"{' '.join(args)}: {state}", args, reader,
                              needle if reader == "error" else "", prep=prep, env=dict(env), no_dac=no_dac,
                              keeps=keeps, timeout=90))
        cases.append(Case("journal", f"listen --file: {state}", listen, "ok", "", prep=prep,  # a replay leaves
                          env=dict(env), no_dac=no_dac, keeps=keeps, timeout=90))  # the journal alone: it must run
        if state not in ("a page destroyed",):
            cases.append(Case("journal", f"journal erase --yes: {state}", erase, "error", needle, prep=prep,
                              env=dict(env), no_dac=no_dac, keeps=False, timeout=90))
    return cases


def output_cases() -> list[Case]:
    """Every option that writes a file, given what a user gives by mistake."""
    outs = [("journal export --out", ["journal", "export", "--out"]), ("report --html", ["report", "--html"]),
            ("report --svg", ["report", "--svg"]), ("say --to", ["say", "hello", "--to"]),
            ("checkin --to", ["checkin", "weather", "--answers", "not_now", "--to"]),
            ("demo --save", ["demo", "--fast", "--save"])]
    cases = []
    for label, args in outs:
        ext = ".json" if "export" in label else ".html" if "html" in label else ".svg" if "svg" in label else ".wav"
        cases += [
            Case("output", f"{label} a folder", args + ["{s}"], "error", r"folder|director"),
            Case("output", f"{label} a missing folder", args + [f"{{s}}/no/such/x{ext}"], "error", r"no/such|folder"),
            Case("output", f"{label} a read-only folder", args + [f"{{s}}/readonly/x{ext}"], "error",
                 r"permission|cannot write|writable", no_dac=True),
            Case("output", f"{label} a symlink loop", args + ["{s}/loop-a.wav"], "error", r"loop|symbolic link"),
            Case("output", f"{label} the journal", args + ["{data}/journal.sqlite3"], "error", r"journal"),
            Case("output", f"{label} on a full disk", args + [f"{{data}}/x{ext}"], "error", r"full|space",
                 prep=_full_disk),
            Case("output", f"{label} a path with spaces", args + [f"{{s}}/my out{ext}"], "ok", ""),
            Case("output", f"{label} non-UTF-8 name", args + [f"{{s}}/caf\udce9{ext}"], "ok", ""),
        ]
    return cases


def args_cases() -> list[Case]:
    """Options given values a user mistypes."""
    return [
        Case("args", "report --since 0", ["report", "--since", "0"], "error", r"since"),
        Case("args", "report --since 99999w", ["report", "--since", "99999w"], "error", r"since"),
        Case("args", "report --since 2026-02-30", ["report", "--since", "2026-02-30"], "error", r"since|date"),
        Case("args", "report --since in the future", ["report", "--since", "2999-01-01"], "any", r""),
        Case("args", "report --png without matplotlib?", ["report", "--png", "{s}/x.png"], "any", r""),
        Case("args", "report --html .txt", ["report", "--html", "{s}/x.txt"], "any", r""),
        Case("args", "say --rate -5", ["say", "hi", "--rate", "-5", "--to", "{s}/x.wav"], "error", r"rate"),
        Case("args", "say --rate nan", ["say", "hi", "--rate", "nan", "--to", "{s}/x.wav"], "error", r"rate"),
        Case("args", "say --rate 1e9", ["say", "hi", "--rate", "1e9", "--to", "{s}/x.wav"], "error", r"rate"),
        Case("args", "say --rate abc", ["say", "hi", "--rate", "abc", "--to", "{s}/x.wav"], "error", r"rate"),
        Case("args", "say an empty text", ["say", "", "--to", "{s}/x.wav"], "error", r"text|empty|nothing"),
        Case("args", "say no text", ["say", "--to", "{s}/x.wav"], "error", r"text|what to say"),
        Case("args", "say --voice nosuch", ["say", "hi", "--voice", "nosuch", "--to", "{s}/x.wav"], "error",
             r"voice"),
        Case("args", "calibrate --seconds -1", ["calibrate", "--seconds", "-1", "--from-wav", "{s}/good.wav",
                                                "{s}/good.wav"], "error", r"seconds"),
        Case("args", "calibrate --seconds nan", ["calibrate", "--seconds", "nan", "--from-wav", "{s}/good.wav",
                                                 "{s}/good.wav"], "error", r"seconds"),
        Case("args", "calibrate --seconds inf", ["calibrate", "--seconds", "inf", "--from-wav", "{s}/good.wav",
                                                 "{s}/good.wav"], "error", r"seconds"),
        Case("args", "calibrate --from-wav one file", ["calibrate", "--from-wav", "{s}/good.wav"], "error",
             r"from-wav|two"),
        Case("args", "web --port 0", ["web", "--port", "0"], "error", r"port", timeout=20),
        Case("args", "web --port 70000", ["web", "--port", "70000"], "error", r"port", timeout=20),
        Case("args", "web --port -1", ["web", "--port", "-1"], "error", r"port", timeout=20),
        Case("args", "web --port abc", ["web", "--port", "abc"], "error", r"port", timeout=20),
        Case("args", "kiosk --pretend-time nonsense", ["kiosk", "--pretend-time", "tonight"], "error",
             r"pretend-time"),
        Case("args", "kiosk --pretend-time 2026-02-30T21:00", ["kiosk", "--pretend-time", "2026-02-30T21:00"],
             "error", r"pretend-time|day"),
        Case("args", "checkin --answers nonsense", ["checkin", "weather", "--answers", "banana", "--to",
                                                    "{s}/w.wav"], "error", r"answers|banana"),
        Case("args", "checkin a path to a missing script", ["checkin", "{s}/nope.toml", "--answers", "yes", "--to",
                                                            "{s}/w.wav"], "error", r"nope"),
        Case("args", "scripts show nosuch", ["scripts", "show", "nosuch"], "error", r"nosuch"),
        Case("args", "scripts check a WAV", ["scripts", "check", "{s}/good.wav"], "error", r"good.wav"),
        Case("args", "scripts check a missing file", ["scripts", "check", "{s}/nope.toml"], "error", r"nope"),
        Case("args", "scripts check unreadable", ["scripts", "check", "{s}/unreadable.wav"], "error",
             r"permission|cannot read", no_dac=True),
        Case("args", "models download nosuch", ["models", "download", "no-such-model"], "error", r"no-such-model"),
        Case("args", "models download a bad url", ["models", "download", "x", "--url", "ftp://x/y.zip"], "error",
             r"url"),
        Case("args", "models download a text file", ["models", "download", "x", "--url", "file://{s}/a-file"],
             "error", r"zip"),
        Case("args", "models download a folder", ["models", "download", "x", "--url", "file://{s}"], "error",
             r"folder|director|zip"),
        Case("args", "--config with no value", ["--config"], "error", r"--config"),
        Case("args", "no command", [], "any", r""),
        Case("args", "--debug --quiet together", ["--debug", "--quiet", "config", "check"], "any", r""),
        Case("args", "analyze the same file twice", ["analyze", "{s}/good.wav", "{s}/good.wav"], "ok", ""),
        Case("args", "analyze a good and a bad file", ["analyze", "{s}/good.wav", "{s}/empty.wav"], "error",
             r"empty", error_lines=2),
    ]


def env_cases() -> list[Case]:
    """The environment: no HOME, XDG folders that are files, ASCII locales, narrow terminals, closed outputs."""
    names = '[partners]\na_name = "Zoë"\nb_name = "민준"\n'
    ascii_env: dict[str, str | None] = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"}
    no_home: dict[str, str | None] = {"HOME": None, "VOICECOACH_CONFIG_DIR": None, "VOICECOACH_DATA_DIR": None}
    xdg_file: dict[str, str | None] = {"VOICECOACH_CONFIG_DIR": None, "VOICECOACH_DATA_DIR": None,
                                       "XDG_CONFIG_HOME": "{s}/a-file", "XDG_DATA_HOME": "{s}/a-file"}
    cases = [
        # no HOME: run as nobody, whose passwd home (/nonexistent) does not exist either (a bare systemd service)
        Case("env", "no HOME, nobody: config check", ["config", "check"], "any", "", env=no_home, keeps=False,
             shell="cd / && env -u HOME setpriv --reuid=65534 --regid=65534 --clear-groups {vc} config check"),
        Case("env", "no HOME, nobody: report", [], "any", "", env=no_home, keeps=False,
             shell="cd / && env -u HOME setpriv --reuid=65534 --regid=65534 --clear-groups {vc} report"),
        Case("env", "no HOME, nobody: listen --file", [], "any", "", env=no_home, keeps=False,
             shell="cd / && cp {s}/good.wav /tmp/h75sweep-good.wav && chmod 644 /tmp/h75sweep-good.wav && "
                   "env -u HOME setpriv --reuid=65534 --regid=65534 --clear-groups {vc} listen --no-ui --fast "
                   "--file /tmp/h75sweep-good.wav"),
        Case("env", "no HOME, nobody: config init", [], "error", r"/nonexistent|home|folder", env=no_home,
             keeps=False,
             shell="cd / && env -u HOME setpriv --reuid=65534 --regid=65534 --clear-groups {vc} config init"),
    ]
    for args in (["config", "check"], ["config", "init"], ["report"], ["journal", "erase", "--yes"],
                 ["listen", "--no-ui", "--fast", "--file", "{s}/good.wav"]):
        expect = "error" if args[:2] in (["config", "init"], ["journal", "erase"]) else "any"
        cases.append(Case("env", f"XDG dirs a file: {' '.join(args[:2])}", args, expect, r"a-file", env=xdg_file,
                          keeps=False))
    for args in (["config", "show"], ["report"], ["scripts", "show", "nightly"], ["demo", "--fast"],
                 ["checkin", "nightly", "--answers", "yes,-,-,-,-,-,-", "--to", "{s}/n.wav"],
                 ["analyze", "{s}/good.wav"], ["listen", "--no-ui", "--fast", "--file", "{s}/good.wav"],
                 ["check", "--no-devices"]):
        cases.append(Case("env", f"ASCII locale, names Zoë/민준: {' '.join(args[:2])}", args, "any", "",
                          prep=_config(names), env=ascii_env, keeps=False))
    for args in (["--help"], ["report"], ["scripts", "list"], ["check", "--no-devices"],
                 ["listen", "--fast", "--file", "{s}/good.wav"], ["models", "list"]):
        cases.append(Case("env", f"20-column terminal: {' '.join(args[:2])}", args, "any", "", tty_cols=20,
                          prep=_config(names)))
    for pipe_args in ("report", "journal export", "config show", "scripts list", "--help", "models list",
                      "analyze {s}/good.wav", "say --voices", "listen --no-ui --fast --file {s}/good.wav",
                      "demo --fast"):
        cases.append(Case("env", f"broken pipe: {pipe_args} | head -1", [], "any", "",
                          shell=f"{{vc}} {pipe_args} | head -c 1 >/dev/null; exit ${{PIPESTATUS[0]}}"))
    for closed in (">&-", "2>&-", "<&-"):
        cases.append(Case("env", f"closed: report {closed}", [], "any", "", shell=f"{{vc}} report {closed}"))
    return cases


def signal_cases() -> list[Case]:
    """SIGINT, SIGTERM and SIGHUP at each prompt or wait."""
    waits = [
        ("journal erase's question", ["journal", "erase"], "erase", {signal.SIGINT: 130, signal.SIGTERM: None,
                                                                     signal.SIGHUP: None}),
        ("listen with no microphone", ["listen", "--no-ui"], "listening", {}),
        ("checkin's consent, no microphone", ["checkin", "nightly", "--no-ui"], "good time", {}),
        ("kiosk, no microphone", ["kiosk"], "kiosk", {}),
        ("calibrate's first instruction", ["calibrate"], "Partner|Sam|calm", {}),
        ("say", ["say", "hello there, this is a long sentence to speak slowly"], "", {}),
        ("web serving", ["web", "--port", "18765"], "http", {}),
        ("demo in real time", ["demo"], "voicecoach", {}),
    ]
    cases = []
    for label, args, text, _ in waits:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            own = [str(18700 + int(sig)) if a == "18765" else a for a in args]  # a port each: they run at once
            cases.append(Case("signal", f"{sig.name} at {label}", own, "any", "", stdin=None,
                              signal_after=(text.split("|")[0], sig, 6.0), timeout=40))
    return cases


def all_cases() -> list[Case]:
    """Every case, in table order."""
    return wav_cases() + config_cases() + journal_cases() + output_cases() + args_cases() + env_cases() + \
        signal_cases()


# --- the table ---------------------------------------------------------------------------------------------------

def print_table(results: list[Result]) -> None:
    """One row a case: verdict, exit code, traceback, one named line, data kept; the error line (cut)."""
    print(f"{'':4} {'case':64} {'exit':>4} {'tb':3} {'msg':3} {'kept':4} {'s':>5}  error line")
    for r in results:
        verdict = "ok" if r.passed else "FAIL"
        exit_code = "-" if r.exit is None else str(r.exit)
        line = (r.note + " | " if r.note else "") + r.error_line.replace("voicecoach: error: ", "")
        print(f"{verdict:4} {(r.group + ': ' + r.name)[:64]:64} {exit_code:>4} {'TB' if r.traceback else '-':3} "
              f"{'y' if r.named and r.one_line else 'n':3} {'y' if r.kept else 'LOST':4} {r.seconds:5.1f}  "
              f"{line[:150]}")
    failed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")


def main() -> int:
    """Run the sweep (or the cases whose name holds ``--only``) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run only cases whose group: name contains this")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--code", type=Path, help="sweep the voicecoach package in this folder instead (e.g. an "
                                                  "earlier commit's, from git archive)")
    options = parser.parse_args()
    if options.code:
        CODE["root"] = options.code.resolve()
    cases = [c for c in all_cases() if options.only.lower() in f"{c.group}: {c.name}".lower()]
    if options.list:
        for c in cases:
            print(f"{c.group}: {c.name}")
        return 0
    base = Path(tempfile.mkdtemp(prefix="hostile-sweep-"))
    os.chmod(base, 0o755)  # the nobody cases read the repository and run in /tmp
    try:
        with ThreadPoolExecutor(options.jobs) as pool:
            results = list(pool.map(lambda c: run_case(c, base), cases))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        Path("/tmp/h75sweep-good.wav").unlink(missing_ok=True)
    print_table(results)
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
