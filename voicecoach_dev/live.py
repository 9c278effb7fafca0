"""Helpers for end-to-end tests: run ``voicecoach`` as a subprocess on the virtual sound device and watch it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent
VOICECOACH = str(REPO / ".venv" / "bin" / "voicecoach")


class PipeReader:
    """A child's text pipe, read on a daemon thread as it comes; each line kept with its arrival time (monotonic).

    Every pipe of a child that runs for a while needs one: a pipe nobody reads fills up (64 kB) and the child's next
    write blocks (a kiosk's last line once waited for ever behind PortAudio's flood, a78d2b0). A line repeated at
    once is kept once with a count (PortAudio's ALSA error path once printed one line 4.7 million times, and the
    whole output went into the test's failure message)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self.written = 0  # lines as the child wrote them, before repeats were collapsed
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        last, repeats = None, 0
        for line in stream:
            line = line.rstrip("\n")
            with self._lock:
                self.written += 1
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

    @property
    def ended(self) -> bool:
        """The child closed the pipe (it exited) and every line has been read."""
        return not self._thread.is_alive()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait until the pipe has been read to its end (after the child exited)."""
        self._thread.join(timeout_s)

    def text(self) -> str:
        """Everything read so far, one line per line."""
        with self._lock:
            return "\n".join(line for _, line in self.lines)

    def matching(self, needle: str) -> list[tuple[float, str]]:
        """Lines containing ``needle``, with their arrival times."""
        with self._lock:
            return [(t, line) for t, line in self.lines if needle in line]

    def wait_for(self, needle: str, timeout_s: float) -> float | None:
        """Wait until a line containing ``needle`` arrives; its arrival time, or None after ``timeout_s`` or once
        the pipe has ended without one."""
        end = time.monotonic() + timeout_s
        while True:
            ended = self.ended   # read before looking: a line read just before the end is still seen
            hits = self.matching(needle)
            if hits:
                return hits[0][0]
            if ended or time.monotonic() >= end:
                return None
            time.sleep(0.05)


class LiveProcess:
    """A running ``voicecoach`` subprocess whose stdout/stderr lines are collected with their arrival times.

    ``wrapper`` runs it under another command (``strace ... --``): signals then go to voicecoach itself, the
    wrapper's child (strace with ``-o FILE`` ignores Ctrl-C)."""

    def __init__(self, args: list[str], env: dict[str, str], wrapper: list[str] | None = None) -> None:
        # faulthandler in the child: on a hang, SIGABRT makes it print every thread's stack (see stop())
        env = {**env, "PYTHONFAULTHANDLER": "1"}
        self.wrapped = bool(wrapper)
        self.proc = subprocess.Popen([*(wrapper or []), VOICECOACH, *args], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert self.proc.stdout is not None
        self.output = PipeReader(self.proc.stdout)

    def text(self) -> str:
        """Everything printed so far."""
        return self.output.text()

    def wait_for(self, needle: str, timeout_s: float) -> float | None:
        """Wait until a line containing ``needle`` appears; returns its arrival time (monotonic) or None."""
        return self.output.wait_for(needle, timeout_s)

    def matching(self, needle: str) -> list[tuple[float, str]]:
        """Lines containing ``needle``, with their arrival times."""
        return self.output.matching(needle)

    def send_signal(self, signum: int) -> None:
        """Signal voicecoach (not the wrapper it runs under, if any)."""
        pid = self.proc.pid
        if self.wrapped:
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                children = []
            if not children:
                return
            pid = int(children[0])
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

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
            self.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.output.join()
            raise AssertionError("voicecoach did not stop within %.0f s on Ctrl-C; the end of its output:\n%s"
                                 % (timeout_s, self.text()[-6000:])) from None
        self.output.join()
        return self.proc.returncode


def first_audible_s(audio: NDArray[np.int16], threshold: int = 1000, after_s: float = 0.0) -> float | None:
    """Time (s) of the first sample above ``threshold`` at or after ``after_s`` in a 16 kHz recording."""
    start = int(after_s * 16000)
    loud = np.flatnonzero(np.abs(audio[start:].astype(np.int32)) > threshold)
    return (start + loud[0]) / 16000 if len(loud) else None


@dataclass
class HeardTalk:
    """A talk played into the virtual microphone while the speaker was recorded (:func:`play_and_hear`)."""

    heard: NDArray[np.int16]  # the speaker, from ``t_rec`` on
    t_rec: float              # time.monotonic() when the speaker's recording began
    t_play: float             # ... and when the talk began playing
    t_decided: float | None   # ... and when the first pause suggestion was printed (None: never)

    def audible_s(self) -> float | None:
        """Seconds into the talk when the first prompt was heard from the speaker, or None."""
        onset = first_audible_s(self.heard)
        return None if onset is None else onset + self.t_rec - self.t_play

    def decided_s(self) -> float | None:
        """Seconds into the talk when the pause suggestion was printed, or None."""
        return None if self.t_decided is None else self.t_decided - self.t_play


@dataclass
class Playing:
    """A talk being played into the virtual microphone while the speaker is recorded (:func:`start_playing`)."""

    recording: Any   # the speaker's recording: ``.stop()`` returns what it heard
    player: Any      # the process playing the talk
    t_rec: float     # monotonic time the recording began
    t_play: float    # ...and the talk


def start_playing(server: Any, audio: NDArray[np.int16]) -> Playing:
    """Record ``server``'s speaker, and play ``audio`` into its microphone 0.5 s later."""
    recording = server.record_speaker()
    t_rec = time.monotonic()
    time.sleep(0.5)
    t_play = time.monotonic()
    return Playing(recording, server.play_into_mic(audio), t_rec, t_play)


def play_and_hear(server: Any, live: LiveProcess, audio: NDArray[np.int16],
                  until: Callable[[float], float]) -> HeardTalk:
    """:func:`start_playing`, wait (90 s at most) for ``live`` to print a pause suggestion, then keep recording
    until the monotonic time ``until(t_play)``."""
    playing = start_playing(server, audio)
    t_decided = live.wait_for("pause_suggested", 90)
    time.sleep(max(0.0, until(playing.t_play) - time.monotonic()))
    heard = playing.recording.stop()
    playing.player.terminate()
    return HeardTalk(heard, playing.t_rec, playing.t_play, t_decided)


def render_conversation(extra_raised_s: float = 0.0):
    """The demo's escalating two-voice conversation (real TTS); returns (audio, timeline)."""
    from voicecoach.audio.playback import NullSink
    from voicecoach.demo import CONVERSATION, build_conversation
    from voicecoach.speech.settings import SpeechSettings
    from voicecoach.speech.speaker import Speaker

    speaker = Speaker(SpeechSettings(), sink=NullSink())
    try:
        raised = tuple(line for line in CONVERSATION if line.raised) if extra_raised_s else ()
        return build_conversation(speaker.render, CONVERSATION + raised)
    finally:
        speaker.close()
