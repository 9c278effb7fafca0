"""The terminal side of ``listen``: a live view that does not flood the screen, and keyboard answers.

The view redraws one status line (at most a few times a second) under a scrolling list of events; ``--no-ui``
prints plain log lines instead. Keys answer questions when there is no speech model (or as well as one).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sys
import threading
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, TextIO

from .clock import MonotonicClock
from .coach import CoachState, Mode
from .commands import Command

if TYPE_CHECKING:
    from .checkin.runner import RunnerState
    from .detect.features import FrameFeatures

log = logging.getLogger(__name__)

C = Command
KEYS = {
    "y": C.YES, "o": C.YES, "n": C.NOT_NOW, "p": C.PAUSE, " ": C.PAUSE, "x": C.NEXT, "r": C.REPEAT,
    "m": C.MORE_TIME, "s": C.SKIP, "q": C.STOP, "h": C.HELP, "?": C.HELP, "l": C.LEAVE_NOTE, "v": C.PLAY_NOTES,
}
KEY_HELP = ("keys: y okay  n not now  p pause  x next  r repeat  m more time  s skip  q stop  h help  "
            "l leave a note  v play notes  Ctrl-C quit")
WORDS = {"okay": C.YES, "ok": C.YES, "no": C.NOT_NOW, "later": C.NOT_NOW, "leave a note": C.LEAVE_NOTE,
         "play my notes": C.PLAY_NOTES}


def parse_typed(text: str) -> Command | None:
    """A typed line or key -> a command (``None`` when it is not a command)."""
    t = " ".join(text.strip().lower().split())
    if not t:
        return None
    if t in WORDS:
        return WORDS[t]
    if len(t) == 1:
        return KEYS.get(t)
    return Command.named(t)


def _meter(db: float | None, width: int = 12) -> str:
    if db is None:
        return " " * width
    filled = int(max(0.0, min(1.0, (db + 60.0) / 60.0)) * width)
    return "#" * filled + "." * (width - filled)


def status_line(names: tuple[str, str], frame: FrameFeatures | None, coach: CoachState,
                checkin: RunnerState | None = None, width: int | None = None) -> str:
    """The live view's status: a level meter for whoever is speaking, then the pause time left, the check-in
    under way, or what the coach is doing. When that is wider than ``width`` columns, what is under way comes
    first and the line is cut to fit: cut at the end, a narrow terminal showed only the first meter, never the
    pause's time left."""
    level = frame.energy_db if frame is not None and frame.is_speech else None
    who = frame.speaker if frame is not None else None
    meters = " | ".join(f"{_right(name, 10)} {_meter(level if who == label else None)}"
                        for label, name in zip(("A", "B"), names))
    state = _state(coach, checkin)
    status = meters + (f" | {state}" if state else "")
    if width is None or columns(status) <= width:
        return status
    return _cut(f"{state} | {meters.lstrip()}" if state else meters.lstrip(), max(1, width))


def _char_columns(ch: str) -> int:
    """The columns a character takes on a terminal: two for a wide one (Hangul, kana, CJK), none for a combining
    mark, else one."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def columns(text: str) -> int:
    """The columns ``text`` takes on a terminal, not its length: partners called 민준 and 서연 take 8 columns, not
    4, and a status line cut to the terminal's width by length wrapped there, a new copy each redraw."""
    return sum(_char_columns(ch) for ch in text)


def _cut(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns."""
    used, end = 0, 0
    for end, ch in enumerate(text):
        used += _char_columns(ch)
        if used > width:
            return text[:end]
    return text


def _right(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns and right-aligned in them."""
    cut = _cut(text, width)
    return " " * (width - columns(cut)) + cut


def _state(coach: CoachState, checkin: RunnerState | None) -> str:
    """The pause time left, the check-in under way, or what the coach is doing ("" while it listens)."""
    left = coach.pause_left_s
    if left is not None:
        return f"pause {int(left // 60):02d}:{int(left % 60):02d} left"
    if checkin is not None:
        return f"check-in {checkin.title}"
    return QUESTIONS.get(coach.mode, "")


# What the status line says while the coach waits for an answer: the question and its keys (it said the coach's
# own mode names, "offering" and "welcoming", which tell a couple nothing; with no speech model the keys answer).
QUESTIONS = {Mode.OFFERING: "asked: the pause? y okay, n not now",
             Mode.WELCOMING: "asked: a check-in? y okay, n not now"}


def can_redraw(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal that can redraw a line in place: not a pipe or a file (journald, ``| tee``),
    and not a ``TERM=dumb`` one (an editor's shell, a serial console), which showed every redraw's escape codes."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def single_keys_wanted(no_ui: bool, stdin: TextIO | None = None) -> bool:
    """Whether ``listen`` and ``checkin`` read the keys one at a time: exactly when ``--no-ui`` was not given and
    ``stdin`` (default: ``sys.stdin``) is a terminal whose mode can be read (and so set to cbreak). Where the output
    goes does not matter: ``voicecoach listen | tee log`` still takes single keys from the keyboard, and a piped or
    redirected input is read a line at a time."""
    if no_ui:
        return False
    stream = sys.stdin if stdin is None else stdin
    try:
        import termios
    except ImportError:  # no terminal modes on this system
        return False
    try:
        fd = stream.fileno()
        if not os.isatty(fd):
            return False
        termios.tcgetattr(fd)
    except (AttributeError, ValueError, OSError, termios.error):  # closed, not a real stream, not a terminal
        return False
    return True


class LiveView:
    """Draws a status line in place and prints event lines above it."""

    def __init__(self, stream: TextIO | None = None, names: tuple[str, str] = ("A", "B"), max_hz: float = 4.0) -> None:
        self.stream = stream or sys.stdout
        self.names = names
        self.min_interval = 1.0 / max_hz
        self._last_draw = -1e9
        self._status = ""  # the status line on screen now ("" when none is drawn)
        self._gone = False  # the terminal was closed under the view
        self._lock = threading.RLock()

    def _write(self, text: str) -> None:
        """Write and flush; a terminal that is gone (its window closed: every write fails with EIO) is written to no
        more, so the loop goes on to store the talk instead of failing on its next redraw."""
        if self._gone:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self._gone = True

    def line(self, text: str) -> None:
        """Print a line above the status line."""
        with self._lock:
            self._write("\r\x1b[2K" + text + "\n" + self._status)

    def above(self, write: Callable[[], object]) -> None:
        """Run ``write``, which prints to another stream on the same terminal (a log line to stderr), with the
        status line cleared first and drawn again after: the line gets a row of its own, not the status line's end."""
        with self._lock:
            if self._status:
                self._write("\r\x1b[2K")
            try:
                write()
            finally:
                if self._status:
                    self._write(self._status)

    def draw(self, now: float, frame: FrameFeatures | None, coach: CoachState,
             checkin: RunnerState | None = None) -> None:
        """Redraw the status line (rate-limited) from the last frame's features, the coach and a running check-in."""
        if now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        # One row at most: a wrapped line is not redrawn in place but pushed up, a new copy each redraw.
        status = status_line(self.names, frame, coach, checkin, width=shutil.get_terminal_size().columns - 1)
        with self._lock:
            self._status = status
            self._write("\r\x1b[2K" + status)

    def close(self) -> None:
        """Leave the cursor on a fresh line."""
        with self._lock:
            self._status = ""  # not drawn again by a later line
            self._write("\r\x1b[2K")


class KeyReader:
    """Reads answers from stdin on a daemon thread: single keys on a terminal, whole lines otherwise.

    Single keys put the terminal in cbreak mode, and put it back in it each time the program is continued in the
    foreground after a stop (Ctrl-Z, then ``fg``): the shell gives the terminal back in its usual mode then, and
    every key waited for an Enter (and was echoed) for the rest of the talk.

    The SIGCONT handler only notes that the program was continued; the keys thread sets the mode (within
    ``_wait_in_foreground``'s step, 0.25 s). Python runs a handler on the main thread between two bytecodes, wherever
    that thread is: setting the mode there, and logging when it failed (the window closed), took logging's lock and
    wrote to stderr, so the handler waited for any thread that held the lock, or re-entered a write the main thread
    was in the middle of (the class of hang fixed in :mod:`voicecoach.stop_signals`)."""

    def __init__(self, on_command: Callable[[Command], None], single_keys: bool | None = None) -> None:
        self.on_command = on_command
        self.single_keys = single_keys_wanted(False) if single_keys is None else single_keys
        self._old: Any = None
        self._saved_sigcont: Any = None
        self._continued: queue.SimpleQueue[int] = queue.SimpleQueue()  # one item per SIGCONT, taken by the thread
        self._thread = threading.Thread(target=self._run, name="keys", daemon=True)

    def start(self) -> "KeyReader":
        """Start reading (puts the terminal in cbreak mode for single keys)."""
        if sys.stdin is None or sys.stdin.closed:
            return self
        if self.single_keys:
            try:
                import termios
                import tty

                self._old = termios.tcgetattr(sys.stdin.fileno())
                tty.setcbreak(sys.stdin.fileno())
            except Exception:  # noqa: BLE001 - not a real terminal after all
                self.single_keys = False
            else:
                self._on_continue()
        self._thread.start()
        return self

    def _on_continue(self) -> None:
        """Set cbreak mode again after SIGCONT (only the main thread may set a handler; elsewhere it is not reset)."""
        import signal

        if not hasattr(signal, "SIGCONT") or threading.current_thread() is not threading.main_thread():
            return
        self._saved_sigcont = signal.signal(signal.SIGCONT, self._note_continued)

    def _note_continued(self, signum: int, _frame: Any) -> None:
        # the SIGCONT handler: no lock may be taken here (see the class), a reentrant put only
        self._continued.put(signum)

    def _cbreak_again(self) -> None:
        """Cbreak mode again, when the terminal is still there and this program is in its foreground (a program
        continued in the background, ``bg``, that set the mode would be stopped again by SIGTTOU). Keys typed since
        ``fg``, while the shell's line-at-a-time mode was still in force, are kept (``TCSANOW``, not setcbreak's
        default ``TCSAFLUSH``): set by this thread up to a step after ``fg``, the mode flushed a key typed at once."""
        if self._old is None:
            return
        try:
            import termios
            import tty

            fd = sys.stdin.fileno()
            if not _in_background(fd):
                tty.setcbreak(fd, termios.TCSANOW)
        except Exception:  # noqa: BLE001 - the terminal is gone or not ours: the keys just wait for Enter
            log.debug("could not set the terminal's single-key mode again", exc_info=True)

    def _run(self) -> None:
        try:
            number = sys.stdin.fileno()
            fd: int | None = number
            terminal = os.isatty(number)
        except (AttributeError, OSError, ValueError):  # a stream with no file (a test's StringIO)
            fd, terminal = None, False
        try:
            while True:
                # a pipe's or a file's lines may wait in the stream's buffer, so only a terminal is waited on
                # brought back by fg after bg (no SIGCONT then: the job was running), or after Ctrl-Z (SIGCONT)
                if terminal and fd is not None and _wait_in_foreground(fd, self._continued):
                    self._cbreak_again()
                if self.single_keys and fd is not None:
                    text = os.read(fd, 1).decode(errors="ignore")
                    name = KEYS.get(text.lower())
                else:
                    text = sys.stdin.readline()
                    name = parse_typed(text)
                if not text:
                    return
                if name:
                    self.on_command(name)
        except (OSError, ValueError):
            return

    def stop(self) -> None:
        """Restore the terminal's mode; a terminal that is gone (its window closed) needs none and gets none: the
        error that restoring it raised there ended the program before the talk was stored."""
        if self._saved_sigcont is not None:
            import signal

            try:
                signal.signal(signal.SIGCONT, self._saved_sigcont)
            except ValueError:  # not the main thread: the handler stays, and finds no mode to set
                pass
            self._saved_sigcont = None
        old, self._old = self._old, None
        if old is None:
            return
        import termios

        try:
            fd = sys.stdin.fileno()
            if _in_background(fd):  # the shell's mode is in force; setting one would stop this program (SIGTTOU)
                return
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
        except (termios.error, OSError, ValueError) as exc:
            log.debug("the terminal's mode was not restored: %s", exc)


def _wait_in_foreground(fd: int, continued: queue.SimpleQueue[int] | None = None, step_s: float = 0.25) -> bool:
    """Wait until there is something to read on ``fd`` while this program is in the terminal's foreground; True
    when it was in the background meanwhile, or was continued (an item in ``continued``, put by a SIGCONT handler):
    the terminal's mode is then to be set again. A read in the background (Ctrl-Z, then ``bg``) stops the whole
    program (SIGTTIN): the talk went unheard until ``fg``, and ``kill %1`` (SIGTERM) stopped it again before it
    could store the talk."""
    import select

    was_background = False
    while True:
        if _in_background(fd):
            was_background = True
            MonotonicClock().sleep(step_s)
            continue
        if _took_any(continued):
            return True
        if was_background or select.select([fd], [], [], step_s)[0]:
            return was_background


def _took_any(items: queue.SimpleQueue[int] | None) -> bool:
    """Empty ``items``; True when there was anything in it."""
    took = False
    while items is not None:
        try:
            items.get_nowait()
        except queue.Empty:
            break
        took = True
    return took


def _in_background(fd: int) -> bool:
    """True when ``fd`` is this program's controlling terminal and another process group has its foreground (Ctrl-Z
    then ``bg``): stopped there by SIGTTOU, a SIGTERM's clean end waited for an ``fg`` that never came."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:  # not the controlling terminal
        return False
