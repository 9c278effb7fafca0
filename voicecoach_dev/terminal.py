"""A program run on a real pseudo-terminal, as in a terminal window: its controlling terminal, keys typed, the screen
read, the window resized or closed (the terminal hangs up).

``Terminal(argv, env)`` starts ``argv`` as a session leader with the pseudo-terminal as its controlling terminal and
its stdin, stdout and stderr (as a terminal emulator starts a shell). ``Terminal.shell(env)`` starts an interactive
``bash`` there instead, with job control, for Ctrl-Z and ``fg``: ``type("voicecoach listen\\n")``.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from typing import Mapping, Sequence


def _take_terminal() -> None:
    """In the child before exec: the pseudo-terminal on stdin becomes this new session's controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A process on its own pseudo-terminal; everything it writes is kept (``text()``)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], rows: int = 24, cols: int = 80,
                 cwd: str | None = None) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols)
        try:
            self.proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                         start_new_session=True, preexec_fn=_take_terminal, close_fds=True)
        finally:
            os.close(slave)
        self._out = bytearray()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, name="terminal-reader", daemon=True)
        self._reader.start()

    @classmethod
    def shell(cls, env: Mapping[str, str], rows: int = 24, cols: int = 80, cwd: str | None = None) -> "Terminal":
        """An interactive bash (no rc files) with job control, as in a terminal window."""
        return cls(["bash", "--norc", "--noprofile", "-i"], {**env, "PS1": "$ "}, rows, cols, cwd)

    def _read(self) -> None:
        """Read the output until the program's side is gone, or until the window is closed: then close it here,
        not in ``close_window``, since a read in progress holds the terminal open (no hang-up) until it returns."""
        try:
            while not self._closing.is_set():
                if not select.select([self.master], [], [], 0.05)[0]:
                    continue
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every holder of the terminal's other side is gone
                    return
                if not chunk:
                    return
                with self._lock:
                    self._out += chunk
        finally:
            if self._closing.is_set():
                os.close(self.master)

    def text(self) -> str:
        """Everything written so far (UTF-8, what cannot be decoded replaced)."""
        with self._lock:
            return self._out.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout_s: float, after: int = 0) -> bool:
        """Wait until ``needle`` appears in the output (from character ``after`` on)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if needle in self.text()[after:]:
                return True
            if not self._reader.is_alive():
                return needle in self.text()[after:]
            time.sleep(0.05)
        return False

    def type(self, keys: str | bytes) -> None:
        """Type ``keys`` (``"\\x03"`` is Ctrl-C, ``"\\x1a"`` Ctrl-Z)."""
        os.write(self.master, keys.encode() if isinstance(keys, str) else keys)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the window: the program in the foreground gets SIGWINCH."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def modes(self) -> list:
        """The terminal's modes now (``termios.tcgetattr``), e.g. ``modes()[3] & termios.ICANON``."""
        return termios.tcgetattr(self.master)

    def close_window(self) -> None:
        """Close the window: the terminal hangs up (its session leader gets SIGHUP, and writes to it fail)."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._reader.is_alive():
            self._reader.join(5)
        else:
            os.close(self.master)

    def wait(self, timeout_s: float) -> int:
        """The exit code once the process has ended (killed, and an AssertionError, after ``timeout_s``)."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout_s} s:\n{self.text()}") from None

    def session(self) -> list[int]:
        """The processes of the terminal's session (the program, or the shell and its jobs)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getsid(int(entry)) == self.proc.pid:
                        pids.append(int(entry))
                except OSError:
                    continue
        return pids

    def kill(self) -> None:
        """End every process of the terminal's session, and close the window."""
        for pid in self.session():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        self.close_window()
