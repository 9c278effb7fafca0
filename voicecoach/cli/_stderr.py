"""What C libraries write to stderr, with a line repeated at once kept once and counted.

PortAudio 19.6's ALSA thread, stuck after a microphone was unplugged or the sound server died (upstream issue 1037),
prints the same line in a loop until the process ends: 10.8 million lines in the 13 s before ``kiosk`` gives up
(measured in ``tests/test_kiosk_live.py``), about 1 GB into the terminal under ``listen``'s live view, or into the
Pi's journal. :class:`StderrCollapse` puts a pipe on file descriptor 2 for the commands that open sound devices:
what C code (PortAudio, ALSA, espeak-ng, Vosk) and child programs write there is copied to the real stderr by a
thread that keeps a line repeated at once once, followed by ``(the line above N more times)`` when another line
comes, after ``QUIET_S`` without one (a flood that stopped is told at once, not when the program ends), or at
exit; a line repeated after such a spell is shown again, then counted anew. Python's own
``sys.stderr``, the log and :mod:`faulthandler` write to the real stderr directly, so they never wait behind C's
lines and a crash's stacks are never lost with the process.

Only for a real process (``voicecoach.cli.main`` with no ``argv``): never inside a test runner's process.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import select
import sys
import threading

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 16
DRAIN_S = 1.0  # at exit, how long the copier may take to pass on what is left in the pipe
QUIET_S = 1.0  # a repeat's count is written once the pipe has been quiet this long


class StderrCollapse:
    """File descriptor 2 through a pipe whose lines are passed on with repeats collapsed (see the module)."""

    def __init__(self) -> None:
        self._real = -1   # a duplicate of the real stderr
        self._pipe = -1   # the pipe's read end
        self._thread: threading.Thread | None = None
        self._last: bytes | None = None  # the line last passed on (None: none to count repeats of)
        self._repeats = 0

    def start(self) -> "StderrCollapse":
        """Put the pipe on file descriptor 2 and point ``sys.stderr`` and the log at the real stderr."""
        try:
            sys.stderr.flush()
            real = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return self   # no stderr to guard (closed, or not a file)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._real, self._pipe = real, read_end
        stream = io.TextIOWrapper(io.FileIO(real, "w", closefd=False), encoding=sys.stderr.encoding or "utf-8",
                                  errors=getattr(sys.stderr, "errors", None) or "backslashreplace",
                                  line_buffering=True)
        old, sys.stderr = sys.stderr, stream
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(stream)
        self._thread = threading.Thread(target=self._copy, name="voicecoach-stderr", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """At exit: close the pipe's write side and pass on what is left in it. File descriptor 2 then goes to
        /dev/null, not the real stderr: a PortAudio thread still stuck would flood that until the process ends."""
        if self._real < 0:
            return
        try:
            sys.stderr.flush()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)   # this process's last writer of the pipe: the copier then reads to its end
            os.close(null)
        except (OSError, ValueError):
            return
        if self._thread is not None:
            self._thread.join(DRAIN_S)

    def _copy(self) -> None:
        """Pass on the pipe's lines, a line repeated at once once with its count (the copier thread)."""
        pending = b""
        while True:
            if self._repeats and not self._readable_within(QUIET_S):
                self._write(self._flush_count())
                self._last = None  # the same line again later is shown again: "the line above" is the count now
                continue
            try:
                chunk = os.read(self._pipe, CHUNK_BYTES)
            except OSError:
                chunk = b""
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            self._write(self._collapse(lines))
        self._write(self._collapse([pending] if pending else []) + self._flush_count())

    def _readable_within(self, seconds: float) -> bool:
        """Wait (blocked in select, not polling) until the pipe has something to read or ``seconds`` pass."""
        try:
            return bool(select.select([self._pipe], [], [], seconds)[0])
        except (OSError, ValueError):
            return True  # the read then says what is wrong

    def _collapse(self, lines: list[bytes]) -> bytes:
        """The lines to write now, after the ones repeated at once are counted."""
        if self._last is not None and lines.count(self._last) == len(lines):   # the flood's own case, at C speed
            self._repeats += len(lines)
            return b""
        out = []
        for line in lines:
            if line == self._last:
                self._repeats += 1
                continue
            out.append(self._flush_count())
            out.append(line + b"\n")
            self._last = line
        return b"".join(out)

    def _flush_count(self) -> bytes:
        if not self._repeats:
            return b""
        times = "time" if self._repeats == 1 else "times"
        said, self._repeats = f"(the line above {self._repeats} more {times})\n".encode(), 0
        return said

    def _write(self, data: bytes) -> None:
        while data:
            try:
                data = data[os.write(self._real, data):]
            except OSError:
                return   # the real stderr is gone (a closed terminal): nothing to tell
