"""SIGINT, SIGTERM and SIGHUP end a live loop by setting its stop event, and never hang it (voicecoach.stop_signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from conftest import REPO
from voicecoach.stop_signals import StopOnSignals

# The main thread busy in stop.wait(0) (each call takes the event's own lock): a signal then often lands while it
# holds that lock. A handler that set the event itself waited for that lock for ever (about 1 try in 2).
BUSY_WAITER = """
import os, signal, sys, threading
from voicecoach.stop_signals import StopOnSignals

for i in range(int(sys.argv[1])):
    stop = threading.Event()
    with StopOnSignals(stop) as signals:
        threading.Timer(0.001 * (i % 7), os.kill, (os.getpid(), signal.SIGTERM)).start()
        while not stop.is_set():
            stop.wait(0)
    assert signals.received == "SIGTERM", signals.received
print("all ended", flush=True)
"""


def test_a_signal_while_the_loop_waits_on_its_stop_event_never_hangs_it():
    """A SIGTERM arriving inside ``stop.wait()`` (the live loop's waits, ``voicecoach web``'s) ends the wait; it
    hung the kiosk for ever when the handler set the event itself (found after a CI run where the kiosk did not end
    within 30 s of SIGTERM)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([sys.executable, "-c", BUSY_WAITER, "40"], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # its stacks, to say where it hung
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "all ended" in out, err[-3000:]


def test_the_first_signal_is_remembered_and_the_old_handlers_come_back():
    stop = threading.Event()
    before = signal.getsignal(signal.SIGHUP)
    with StopOnSignals(stop) as signals:
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert signals.received == "SIGHUP"
    assert signal.getsignal(signal.SIGHUP) is before


def test_off_the_main_thread_it_installs_nothing():
    stop = threading.Event()
    seen: list[object] = []

    def enter() -> None:
        with StopOnSignals(stop) as signals:
            seen.append(signals._setter)

    worker = threading.Thread(target=enter)
    worker.start()
    worker.join(5)
    assert seen == [None] and not stop.is_set()
