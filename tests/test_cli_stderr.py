"""C libraries' stderr under the sound commands: a line repeated at once is kept once and counted, Python's own
lines and a crash's stacks go straight to the real stderr (voicecoach.cli._stderr.py)."""

from __future__ import annotations

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
