"""A PortAudio call that never returns must not keep voicecoach from ending: stopping or closing a stream, and
PortAudio's terminate at exit, are bounded (see :mod:`voicecoach.audio.device`).

A really hung PortAudio call cannot be made on demand in-process, so these use a FAKE stream whose ``stop()``
blocks until the test releases it (the live test with a frozen sound server is in tests/test_faults.py).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import pytest

from voicecoach.audio import device


class HungStream:
    """FAKE PortAudio stream: ``stop()`` blocks until ``release`` is set, as ``Pa_StopStream`` did on
    a stream of a frozen PulseAudio (it never returned)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = False

    def stop(self) -> None:
        self.release.wait()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def short_timeouts(monkeypatch):
    monkeypatch.setattr(device, "CLOSE_TIMEOUT_S", 0.5, raising=False)
    monkeypatch.setattr(device, "REINIT_TIMEOUT_S", 0.5, raising=False)
    monkeypatch.setattr(device, "EXIT_TIMEOUT_S", 0.5, raising=False)
    yield
    _until_free()


def _until_free() -> None:
    """Wait until a released fake's call has returned and its thread has let go of the PortAudio lock."""
    deadline = time.monotonic() + 5.0
    while getattr(device, "hung", tuple)() and time.monotonic() < deadline:
        time.sleep(0.02)
    if device.portaudio_lock().acquire(timeout=5.0):
        device.portaudio_lock().release()


def _ends_within(call, seconds: float) -> float | None:
    """Run ``call`` on a daemon thread; how long it took, or None if it was still running after ``seconds``."""
    done = threading.Event()
    started = time.monotonic()

    def run() -> None:
        call()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return time.monotonic() - started if done.wait(seconds) else None


def test_a_microphone_whose_stop_never_returns_is_left_behind_with_one_warning(short_timeouts, caplog):
    mic = device.MicSource(None, rate=16000, channels=1)   # no PortAudio query: the format is given
    stream = HungStream()
    mic._stream, mic._generation = stream, device.generation()
    try:
        with caplog.at_level(logging.WARNING, logger="voicecoach.audio.device"):
            took = _ends_within(mic.close, 5.0)
        assert took is not None, "closing a microphone whose stop() hangs never returned"
        assert took < 2.0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "close the microphone" in warnings[0], warnings
        assert device.hung() == ("close the microphone",)
        # while it hangs, the next PortAudio call gives up at once instead of queueing behind it
        took = _ends_within(device.reinitialize, 5.0)
        assert took is not None and took < 1.0, took
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # still one warning
    finally:
        stream.release.set()
    deadline = time.monotonic() + 5.0
    while device.hung() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert device.hung() == (), "a call that returned after all is forgotten"
    assert stream.closed  # the stop returned, so the close went ahead


def test_the_speaker_stream_close_is_bounded_too(short_timeouts):
    stream = HungStream()
    try:
        took = _ends_within(lambda: device.close_stream(stream, device.generation(), "speaker"), 5.0)
        assert took is not None and took < 2.0, took
    finally:
        stream.release.set()


def test_portaudio_terminate_at_exit_is_skipped_while_a_call_hangs_and_bounded_otherwise(short_timeouts,
                                                                                        monkeypatch):
    ran: list[str] = []
    with monkeypatch.context() as m:
        m.setattr(device, "EXIT_TIMEOUT_S", 5.0)   # a quick terminate is not cut short, even on a busy machine
        assert device.terminate_at_exit(lambda: ran.append("terminate"))
    assert ran == ["terminate"]

    release = threading.Event()
    took = _ends_within(lambda: ran.append(str(device.terminate_at_exit(release.wait))), 5.0)  # FAKE: hangs
    release.set()
    assert took is not None and took < 2.0 and ran[-1] == "False", (took, ran)
    _until_free()

    stream = HungStream()
    try:
        device.close_stream(stream, device.generation(), "microphone")
        assert device.hung()
        assert device.terminate_at_exit(lambda: ran.append("terminate while hung")) is False
        assert "terminate while hung" not in ran  # it would close the hung stream again and hang with it
    finally:
        stream.release.set()


EXITING_WHILE_HUNG = r"""
import logging, sys, threading
logging.basicConfig(level=logging.WARNING)
from voicecoach.audio import device
device.CLOSE_TIMEOUT_S = 0.5
device.sounddevice()   # the real sounddevice and PortAudio: its exit handler is the one that hung

class HungStream:   # FAKE: stop() never returns, as Pa_StopStream on a frozen PulseAudio's stream
    def stop(self):
        threading.Event().wait()
    def close(self):
        pass

mic = device.MicSource(None, rate=16000, channels=1)
mic._stream, mic._generation = HungStream(), device.generation()
mic.close()
print("closed; hung:", device.hung(), flush=True)
sys.exit(3)
"""


def test_the_process_exits_with_its_own_code_while_a_stream_close_hangs(no_sound_env):
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-c", EXITING_WHILE_HUNG], env=no_sound_env, capture_output=True,
                                text=True, timeout=20)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the process did not exit with a stream close hung: {exc.stdout!r} {exc.stderr!r}")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "closed; hung: ('close the microphone',)" in result.stdout, result.stderr
    assert "did not close the microphone within" in result.stderr
    assert time.monotonic() - started < 15
