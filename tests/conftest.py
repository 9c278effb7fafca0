"""Shared fixtures: the virtual sound server, the evaluation corpus, a private home for CLI runs, CLI runners.

- ``pulse``: a running :class:`voicecoach_dev.audio_server.VirtualAudio` (16 kHz mono virtual mic ``vmic`` and speaker ``speaker``),
  one daemon per session, reset after each test. Subprocesses: pass ``env=pulse.full_env()`` (call it in the test:
  a daemon that died is restarted with a new socket). Tests using it are marked ``audio``.
- ``pulse_in_process``: ``pulse`` with ``os.environ`` pointed at it and PortAudio re-scanned, for code that opens
  devices in the test process (restored afterwards).
- ``no_sound_env``: an environment (dict) for subprocesses in which no sound server can be found.
- ``corpus``: Path of ../shared/data (or $VOICECOACH_CORPUS); skips when absent. Tests using it are marked ``corpus``.
- ``tmp_home``: VOICECOACH_CONFIG_DIR / VOICECOACH_DATA_DIR set to fresh temp folders (in os.environ too).
- ``run_cli``: run ``.venv/bin/voicecoach ARGS`` as a subprocess; returns CompletedProcess (text).
- ``no_leaked_threads`` (autouse): a test that leaves a thread running fails, naming it (see the fixture).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


from voicecoach_dev.audio_server import VirtualAudio, missing_tools

REPO = Path(__file__).resolve().parent.parent
_PULSE_VARS = ("XDG_RUNTIME_DIR", "PULSE_SERVER", "XDG_CONFIG_HOME")


def pytest_configure(config: pytest.Config) -> None:
    """Stop signals the suite was started ignoring (``nohup`` ignores SIGHUP; a background job of a shell without job
    control ignores SIGINT) go back to their defaults, so the programs the tests start (which inherit an ignored
    signal) end on the signals the tests send them: under ``nohup`` the SIGHUP cases of ``journal erase`` and
    ``demo`` waited 30-60 s for nothing and failed."""
    import signal

    for name, default in (("SIGHUP", signal.SIG_DFL), ("SIGINT", signal.default_int_handler),
                          ("SIGTERM", signal.SIG_DFL)):
        if signal.getsignal(getattr(signal, name)) is signal.SIG_IGN:
            signal.signal(getattr(signal, name), default)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the resources their fixtures need, so ``-m 'not audio'`` works."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any(n.startswith("pulse") for n in names):
            item.add_marker(pytest.mark.audio)
        if "corpus" in names:
            item.add_marker(pytest.mark.corpus)


# --- threads a test leaves behind ---------------------------------------------------------------------------------

THREAD_JOIN_BUDGET_S = 2.0  # for all the test's threads together, not per thread
THREAD_LEAKS_FILE = "VOICECOACH_THREAD_LEAKS"  # set to a path: leaks are appended there instead of failing tests


@pytest.fixture(autouse=True)
def no_leaked_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a thread (daemon or not) running: one started during the test and still alive after
    its teardown and a short join. A leaked worker lives on into later tests and logs there (a hooks worker's
    keep-alive ping failed an unrelated test's log capture minutes later, in CI only). Function fixtures the test
    uses are torn down before this check (autouse fixtures are set up first, so torn down last)."""
    before = set(threading.enumerate())  # the objects themselves (by identity): an id could be reused
    yield
    started = [t for t in threading.enumerate()
               if t not in before and t is not threading.current_thread() and not _lifelong(t)]
    if not started:
        return
    deadline = time.monotonic() + THREAD_JOIN_BUDGET_S
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in started if t.is_alive()]
    if not alive:
        return
    frames = sys._current_frames()
    described = [_describe_thread(t, frames.get(t.ident or -1)) for t in alive]
    report = os.environ.get(THREAD_LEAKS_FILE)
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.writelines(f"{request.node.nodeid}\t{line.splitlines()[0]}\n" for line in described)
        return
    pytest.fail(f"{len(alive)} thread(s) started by this test still running {THREAD_JOIN_BUDGET_S:g} s after it "
                "ended (close what the test opens: with / finally / a fixture's teardown; a product object whose "
                "close() leaves its thread running is a product bug):\n" + "\n".join(described), pytrace=False)


def _lifelong(thread: threading.Thread) -> bool:
    """A thread that lives for the whole process by design, started by whichever test needs it first. The only one:
    the shared pyttsx3 worker ('voicecoach-tts-N') of :func:`voicecoach.speech.engines.shared_worker`. Its engine is
    never destroyed (pyttsx3's espeak driver clears the process-wide callback when an engine is collected, which
    hung the live one), so one worker per engine factory serves every Speaker until the process ends. A retired
    worker (one given up on after a time-out) is not exempt: it should end."""
    engines = sys.modules.get("voicecoach.speech.engines")
    return engines is not None and any(w._thread is thread for w in list(engines._WORKERS.values()))


def _describe_thread(thread: threading.Thread, frame: Any) -> str:
    """The thread's name, daemon flag and where it is now (its innermost frames)."""
    target = getattr(thread, "_target", None)  # CPython's; gone once run() returns
    head = f"- {thread.name!r} ({'daemon' if thread.daemon else 'non-daemon'}"
    head += f", running {getattr(target, '__qualname__', target)})" if target is not None else ")"
    if frame is None:
        return head
    stack = [f for f in traceback.extract_stack(frame) if not f.name.startswith("_bootstrap")][-3:]
    return head + " at " + " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))


# --- sound server ------------------------------------------------------------------------------------------------

def skip_without_pulse() -> None:
    """Skip the calling test when PulseAudio's tools are not installed."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"virtual audio needs {', '.join(missing)} (apt-get install pulseaudio pulseaudio-utils)")


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[VirtualAudio]:
    """The session's private PulseAudio daemon (prefer ``pulse``, which also resets it after each test)."""
    skip_without_pulse()
    server = VirtualAudio().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pulse(pulse_server: VirtualAudio) -> Iterator[VirtualAudio]:
    """The virtual mic and speaker; after the test the graph is reset (players stopped, loopbacks removed, mic
    plugged back in), so one test's leftovers never reach the next."""
    yield pulse_server
    pulse_server.reset()


@pytest.fixture
def own_pulse() -> Iterator[VirtualAudio]:
    """A sound server of the test's own, for a test that kills or freezes it (the session's is shared)."""
    skip_without_pulse()
    with VirtualAudio() as server:
        yield server


@contextmanager
def in_process(server: VirtualAudio | None, extra: dict[str, str] | None = None) -> Iterator[None]:
    """Point this process's PortAudio at ``server`` (None: at no server at all), restoring afterwards."""
    from voicecoach.audio import device

    saved = {k: os.environ.get(k) for k in (*_PULSE_VARS, *(extra or {}))}
    os.environ.update(server.env if server is not None else _no_server_vars())
    os.environ.update(extra or {})
    device.reinitialize()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        device.reinitialize()


@pytest.fixture
def pulse_in_process(pulse: VirtualAudio) -> Iterator[VirtualAudio]:
    """``pulse``, with this process's environment and PortAudio pointed at it for the test."""
    with in_process(pulse):
        yield pulse


def _no_server_vars() -> dict[str, str]:
    empty = Path("/tmp/vc-no-sound")
    empty.mkdir(exist_ok=True)
    return {"XDG_RUNTIME_DIR": str(empty), "PULSE_SERVER": "unix:/nonexistent/pulse/native",
            "XDG_CONFIG_HOME": str(empty)}


@pytest.fixture
def no_sound_env() -> dict[str, str]:
    """An environment for subprocesses in which no sound server (and no sound card) can be found."""
    return {**os.environ, **_no_server_vars()}


# --- data and homes ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def corpus() -> Path:
    """The evaluation corpus (../shared/data or $VOICECOACH_CORPUS); skips when absent."""
    path = Path(os.environ.get("VOICECOACH_CORPUS") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"evaluation corpus not found at {path} (set VOICECOACH_CORPUS)")
    return path


@dataclass
class Home:
    """Private config and data folders for one test."""

    config_dir: Path
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        """The default config file inside ``config_dir``."""
        return self.config_dir / "config.toml"


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """VOICECOACH_CONFIG_DIR and VOICECOACH_DATA_DIR set to fresh temp folders (``.env`` for subprocesses)."""
    home = Home(tmp_path / "config", tmp_path / "data")
    home.config_dir.mkdir()
    home.data_dir.mkdir()
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(home.config_dir))
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(home.data_dir))
    home.env = dict(os.environ)
    return home


# --- running the CLI ---------------------------------------------------------------------------------------------

def cli_command() -> list[str]:
    """The installed ``voicecoach`` script next to this Python, or ``python -m voicecoach``."""
    script = Path(sys.executable).parent / "voicecoach"
    return [str(script)] if script.exists() else [sys.executable, "-m", "voicecoach"]


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``voicecoach ARGS`` as a subprocess: ``run_cli(*args, env=None, input=None, timeout=60)``."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*cli_command(), *map(str, args)], env=env, input=input, capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)

    return run


def stored_replay(wav: Path, env: dict[str, str], *options: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """A recording through the live loop into the journal of ``env``'s data folder (``listen --file`` stores
    nothing: :mod:`voicecoach_dev.stored_replay`); ``options``: ``--config FILE``. Text output."""
    return subprocess.run([sys.executable, "-m", "voicecoach_dev.stored_replay", str(wav), *options], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, stdin=subprocess.DEVNULL)


def signal_once_speaking(proc: subprocess.Popen, signum: int, timeout_s: float = 30) -> tuple[str, str]:
    """Send ``signum`` to ``proc`` once its prompt folder (``voicecoach-tts-<pid>-*`` in the temp folder) exists,
    i.e. while it sets up or renders its voice; its (stdout, stderr) when it has ended (killed if it has not)."""
    import tempfile

    try:
        deadline = time.monotonic() + timeout_s
        folders = f"voicecoach-tts-{proc.pid}-*"
        while not list(Path(tempfile.gettempdir()).glob(folders)):
            assert proc.poll() is None and time.monotonic() < deadline, "no prompt folder was made"
            time.sleep(0.005)
        proc.send_signal(signum)
        return proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def journal_rows(home: Home, table: str) -> list[dict]:
    """Every row of ``table`` in ``home``'s journal, as dicts (read after the program has ended)."""
    db = sqlite3.connect(home.data_dir / "journal.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(f"SELECT * FROM {table}")]
    finally:
        db.close()


# --- generated conversations ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def talk_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's escalating two-voice conversation (real TTS) as a 16 kHz WAV file, rendered once per session."""
    from voicecoach_dev.live import render_conversation

    from voicecoach.audio.wav import write_wav

    audio, _ = render_conversation()
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    write_wav(path, audio)
    return path


# --- a small real disk -------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(kib)``: a fresh tmpfs of that size (a real full disk: ENOSPC); skips where mount is not allowed."""
    mounted: list[Path] = []

    def make(kib: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0755", "tmpfs", str(folder)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({res.stderr.strip() or res.returncode})")
        mounted.append(folder)
        return folder

    try:
        yield make
    finally:
        for folder in mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def berlin_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The box's local time zone is Berlin (``datetime.now`` gives naive Berlin time, as the kiosk's ``now()``), for
    the nights the clocks change; the process's own zone is restored afterwards (``time.tzset`` again)."""
    import time
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo("Europe/Berlin")
    except ZoneInfoNotFoundError:
        pytest.skip("no time-zone data on this system")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        yield zone
    finally:
        monkeypatch.undo()
        time.tzset()
