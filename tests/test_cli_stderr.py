"""C libraries' stderr under the sound commands: a line repeated at once is kept once and counted, Python's own
lines and a crash's stacks go straight to the real stderr (voicecoach.cli._stderr.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

FLOOD = """
import logging, os, sys, threading
from voicecoach.cli._stderr import StderrCollapse

logging.basicConfig(stream=sys.stderr, format="%(message)s")
StderrCollapse().start()
os.write(2, b"Expression 'x' failed\\n")    # as PortAudio's stuck ALSA thread: C code writing to descriptor 2
def flood():
    for _ in range(N):
        os.write(2, b"Expression 'self->capture.ready' failed\\n")
thread = threading.Thread(target=flood)
thread.start()
thread.join()
logging.getLogger("t").warning("the product's own line")
os.write(2, b"another C line\\n")
print("voicecoach: error: the last line", file=sys.stderr)
"""


def _child(code: str, n: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code.replace("range(N)", f"range({n})")], cwd=REPO,
                          capture_output=True, timeout=120)


def test_a_flood_of_one_c_line_is_passed_on_once_with_its_count() -> None:
    done = _child(FLOOD, 300_000)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    lines = err.splitlines()
    assert lines.count("Expression 'self->capture.ready' failed") == 1, lines
    assert "(the line above 299999 more times)" in lines, lines
    # everything else arrives once, the C lines in their order; Python's lines are not held behind C's
    assert [line for line in lines if "Expression" in line or "C line" in line or "more times" in line] == [
        "Expression 'x' failed", "Expression 'self->capture.ready' failed", "(the line above 299999 more times)",
        "another C line"]
    assert "the product's own line" in lines and "voicecoach: error: the last line" in lines
    assert len(err) < 1000


def test_a_crash_still_prints_every_thread_stack() -> None:
    code = ("import faulthandler, os, signal, sys\n"
            "from voicecoach.cli._stderr import StderrCollapse\n"
            "StderrCollapse().start()\n"
            "faulthandler.enable(file=sys.stderr)\n"
            "os.kill(os.getpid(), signal.SIGSEGV)\n")
    done = _child(code)
    assert done.returncode < 0
    assert "Fatal Python error: Segmentation fault" in done.stderr.decode(), done.stderr


def test_without_a_stderr_nothing_is_guarded_and_nothing_breaks() -> None:
    code = ("import os, sys\n"
            "from voicecoach.cli._stderr import StderrCollapse\n"
            "os.close(2)\n"
            "StderrCollapse().start()\n"
            "print('ok')\n")
    done = _child(code)
    assert done.returncode == 0 and done.stdout.decode().strip() == "ok", done


QUIET = """
import os, sys, time
from voicecoach.cli._stderr import StderrCollapse

StderrCollapse().start()
for _ in range(5):
    os.write(2, b"ALSA lib pcm.c: underrun occurred\\n")
print("flooded", flush=True)
cpu = sum(os.times()[:2])
time.sleep(3.0)   # quiet: nothing more on stderr for a while
print(f"cpu {sum(os.times()[:2]) - cpu:.3f}", flush=True)
os.write(2, b"ALSA lib pcm.c: underrun occurred\\n")
time.sleep(WAIT)
"""


def test_a_repeats_count_comes_after_a_quiet_spell_not_only_with_the_next_line_or_at_exit() -> None:
    """The count was written only when a different line came or at exit: a flood that stopped left its count
    untold for as long as the program ran (the kiosk: days). Now it follows a second's quiet, the copier blocked
    in select meanwhile (no CPU spent waiting), and the same line after the spell is shown again."""
    import select
    import time

    proc = subprocess.Popen([sys.executable, "-c", QUIET.replace("WAIT", "30")], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"flooded\n"
        flooded = time.monotonic()
        err = b""
        while b"more times)\n" not in err and time.monotonic() - flooded < 4.0:
            if select.select([proc.stderr], [], [], 0.1)[0]:
                err += os.read(proc.stderr.fileno(), 4096)
        told_after = time.monotonic() - flooded
        assert err.decode().splitlines() == ["ALSA lib pcm.c: underrun occurred", "(the line above 4 more times)"]
        assert 0.5 <= told_after < 3.0, told_after  # QUIET_S is 1 s; slack for a loaded machine
        cpu = float(proc.stdout.readline().decode().split()[1])
        assert cpu < 0.1, f"{cpu:.3f} s of CPU in 3 s of quiet: the copier polls"
        while err.count(b"underrun") < 2 and time.monotonic() - flooded < 8.0:
            if select.select([proc.stderr], [], [], 0.1)[0]:
                err += os.read(proc.stderr.fileno(), 4096)
        assert err.decode().splitlines()[2:] == ["ALSA lib pcm.c: underrun occurred"]  # shown, not "1 more time"
        assert proc.poll() is None  # all of it told while the program runs
    finally:
        proc.kill()
        proc.wait()


def test_an_empty_first_line_is_passed_on_not_counted_as_a_repeat() -> None:
    """The copier compared the first line with an empty "last line": a C library's blank first line was dropped and
    "(the line above 1 more times)" written above the next one."""
    code = ("import os\n"
            "from voicecoach.cli._stderr import StderrCollapse\n"
            "StderrCollapse().start()\n"
            "os.write(2, b'\\nespeak: warning\\n')\n")
    done = _child(code)
    assert done.returncode == 0 and done.stderr.decode() == "\nespeak: warning\n", done.stderr
