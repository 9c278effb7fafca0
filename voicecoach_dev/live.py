"""Helpers for end-to-end tests: run ``voicecoach`` as a subprocess on the virtual sound device and watch it."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent
VOICECOACH = str(REPO / ".venv" / "bin" / "voicecoach")


class LiveProcess:
    """A running ``voicecoach`` subprocess whose stdout/stderr lines are collected with their arrival times."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        # faulthandler in the child: on a hang, SIGABRT makes it print every thread's stack (see stop())
        env = {**env, "PYTHONFAULTHANDLER": "1"}
        self.proc = subprocess.Popen([VOICECOACH, *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Collect lines; a line repeated at once is kept once with a count (PortAudio's ALSA error path once
        printed one line 4.7 million times, and the whole output went into the test's failure message)."""
        assert self.proc.stdout is not None
        last, repeats = None, 0
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                if line == last:
                    repeats += 1
                    continue
                if repeats:
                    self.lines.append((time.monotonic(), f"(the line above {repeats} more times)"))
                last, repeats = line, 0
                self.lines.append((time.monotonic(), line))
        if repeats:
            with self._lock:
                self.lines.append((time.monotonic(), f"(the line above {repeats} more times)"))

    def text(self) -> str:
        """Everything printed so far."""
        with self._lock:
            return "\n".join(line for _, line in self.lines)

    def wait_for(self, needle: str, timeout_s: float) -> float | None:
        """Wait until a line containing ``needle`` appears; returns its arrival time (monotonic) or None."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                for t, line in self.lines:
                    if needle in line:
                        return t
            if self.proc.poll() is not None:
                time.sleep(0.2)
                with self._lock:
                    hits = [t for t, line in self.lines if needle in line]
                return hits[0] if hits else None
            time.sleep(0.05)
        return None

    def matching(self, needle: str) -> list[tuple[float, str]]:
        """Lines containing ``needle``, with their arrival times."""
        with self._lock:
            return [(t, line) for t, line in self.lines if needle in line]

    def type(self, text: str) -> None:
        """Type a line on the process's stdin (keyboard answers)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout_s: float = 20.0) -> int:
        """Ctrl-C, then wait; returns the exit code.

        If it does not stop, it is sent SIGABRT (its faulthandler prints where every thread is), then killed, and
        the error carries the end of its output, so a rare hang on the way out can be read from the test log.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self._reader.join(5)
            raise AssertionError("voicecoach did not stop within %.0f s on Ctrl-C; the end of its output:\n%s"
                                 % (timeout_s, self.text()[-6000:])) from None
        self._reader.join(5)
        return self.proc.returncode


def first_audible_s(audio: NDArray[np.int16], threshold: int = 1000, after_s: float = 0.0) -> float | None:
    """Time (s) of the first sample above ``threshold`` at or after ``after_s`` in a 16 kHz recording."""
    start = int(after_s * 16000)
    loud = np.flatnonzero(np.abs(audio[start:].astype(np.int32)) > threshold)
    return (start + loud[0]) / 16000 if len(loud) else None


def render_conversation(extra_raised_s: float = 0.0):
    """The demo's escalating two-voice conversation (real TTS); returns (audio, timeline)."""
    from voicecoach.audio.playback import NullSink
    from voicecoach.demo import CONVERSATION, build_conversation
    from voicecoach.speech.settings import SpeechSettings
    from voicecoach.speech.speaker import Speaker

    speaker = Speaker(SpeechSettings(), sink=NullSink())
    try:
        lines = CONVERSATION
        if extra_raised_s:
            raised = tuple(line for line in CONVERSATION if line.raised)
            lines = CONVERSATION + raised
        return build_conversation(speaker.render, lines)
    finally:
        speaker.close()
