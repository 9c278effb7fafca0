"""The ``voicecoach`` command line: argparse subcommands, logging set-up, and one-line errors.

The CLI layer (the only place that prints). Each subcommand lives in ``voicecoach/cli/<name>.py`` with
``register(subparsers, common)`` (which sets ``func``) and an ``ORDER`` number for the help listing; modules here
are discovered automatically.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import faulthandler
import importlib
import logging
import os
import pkgutil
import re
import signal
import sys
import typing
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Protocol

from .. import __version__
from ..config import Config, load_config
from ..errors import InputError, VoicecoachError

log = logging.getLogger("voicecoach")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line, exit 2, as for any input error
        self.exit(2, f"voicecoach: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every discovered subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="verbose logging and full tracebacks")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="only warnings and errors")
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="config file (default: the user config dir's config.toml)")
    parser = _Parser(prog="voicecoach", parents=[common],
                     description="An offline, private pause-and-check-in assistant for couples.")
    parser.add_argument("--version", action="version", version=f"voicecoach {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules = [importlib.import_module(f"{__name__}.{m.name}")
               for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub, common)
    return parser


class DeviceOption(argparse.Action):
    """An ``--input``/``--output`` device option that refuses an empty value (``--input "$MIC"`` with the variable
    unset): "" was taken as the system's default device, not the config's, without a word."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: typing.Any,
                 option_string: str | None = None) -> None:
        if not str(values).strip():
            parser.error(f"{option_string} is empty: give a device's number or part of its name (list them with: "
                         f"voicecoach devices), or leave {option_string} out for the configured device")
        setattr(namespace, self.dest, values)


def config_of(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` (or the user's default file)."""
    return load_config(getattr(args, "config", None))


_SQLITE_MAGICS = (b"SQLite format 3\x00", b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")  # a database, its -wal


def stored_file(path: Path) -> str | None:
    """What the couple keeps at ``path`` that an output written there would replace, or None.

    An existing file inside voicecoach's data or config folder (the journal and its -wal/-shm, voice notes, the
    calibration profile, config.toml) or any SQLite database or write-ahead log (a journal kept elsewhere with
    ``[journal] file``): ``journal export --out`` of the journal's own path replaced the journal by its export."""
    from .. import paths

    try:
        if not path.is_file():
            return None
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: check_writable names it
        return None
    for folder, what in ((paths.data_dir(), "data"), (paths.config_dir(), "config")):
        try:
            if real.is_relative_to(folder.expanduser().resolve()):
                return f"a file voicecoach keeps in its {what} folder {folder}"
        except (OSError, RuntimeError):
            continue
    try:
        with open(real, "rb") as file:
            head = file.read(16)
    except OSError:
        return None
    if head.startswith(_SQLITE_MAGICS):
        return "an SQLite database (a voicecoach journal?)"
    return None


def check_writable(path: Path, suffix: str) -> None:
    """Refuse an output path that cannot be written, before any work, with one line naming the fix: by opening it
    for writing (access() says yes to root even on a read-only disk). ``suffix`` is the file type asked for. A
    file the couple keeps (:func:`stored_file`) is refused too: the output would replace it."""
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory (give a file name ending in {suffix})")
    kept = stored_file(path)
    if kept is not None:
        raise InputError(f"cannot write {path}: it is {kept}, and the output would replace it (choose another "
                         f"file name ending in {suffix})")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise InputError(f"cannot write {path}: {parent} is a file, not a folder (choose another path)")
        raise InputError(f"cannot write {path}: folder {parent} does not exist (create it or choose another path)")
    existed = os.path.lexists(path)
    try:  # without blocking: a named pipe nobody reads would be waited on for ever (ENXIO at once instead)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o600))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise InputError(f"cannot write {path}: it is a named pipe that nobody is reading (start the program "
                             f"that reads it first, or give a file's path)") from None
        raise InputError(f"cannot write {path}: {exc.strerror or exc} (choose a writable path)") from None
    if not existed:
        path.unlink(missing_ok=True)


def check_output_option(value: str | None, option: str, suffix: str, example: str) -> None:
    """Refuse an output option given an empty value (``--html "$OUT"`` with the variable unset: it was taken as
    no option at all, and nothing was written without a word), then one that cannot be written
    (:func:`check_writable`). ``example`` is a file name to suggest, ending in ``suffix``."""
    if value is None:
        return
    if not value.strip():
        raise InputError(f"{option} is empty: give a file name ending in {suffix}, e.g. {option} {example}")
    check_writable(Path(value), suffix)


def input_path(value: str, what: str, example: str) -> Path:
    """``value`` as a path to read, refusing an empty one (``analyze "$WAV"`` with the variable unset): Path("")
    is ".", which was then called a directory. ``what`` names the value (``--file``, "a file name") and
    ``example`` says what to give instead."""
    if not value.strip():
        raise InputError(f"{what} is empty: give {example}")
    return Path(value)


def check_wav_output(path: Path, option: str) -> None:
    """Refuse an output option that does not name a ``.wav`` file (WAV bytes under another name open in nothing
    the user expects), then one that cannot be written (:func:`check_writable`): one line, exit 2, nothing written."""
    if not path.name:  # "", ".", "/"
        raise InputError(f"{option} needs a file name ending in .wav, e.g. {option} speech.wav")
    if path.is_dir():
        check_writable(path, ".wav")  # says it is a directory
    if not path.name.lower().endswith(".wav"):  # ".wav" alone too (Path gives it no suffix)
        raise InputError(f"{option} must name a .wav file, not {str(path)!r} (the audio is written as WAV), "
                         f"e.g. {option} {path.with_suffix('.wav').name}")
    check_writable(path, ".wav")


def write_wav_output(path: Path | str, audio: typing.Any, sample_rate: int = 16000) -> None:
    """Write an output WAV owner-only (0600: voices are private, whatever the umask, also over an older file); a
    disk that fills up meanwhile (not the user's input) is one line, exit 1."""
    from ..audio.wav import wav_bytes
    from ..paths import write_private

    try:
        write_private(path, wav_bytes(audio, sample_rate))
    except OSError as exc:
        raise VoicecoachError(f"could not write {path}: {exc.strerror or exc} (free some space, or choose another "
                              f"path)") from None


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)parser of the deepest subcommand named in ``args`` (``voicecoach config init``: init's)."""
    while True:
        found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, found[0].dest, None) if found else None
        if not found or chosen not in found[0].choices:
            return parser
        parser = found[0].choices[chosen]


def setup_logging(debug: bool, quiet: bool) -> None:
    """Log to stderr; INFO by default, DEBUG with --debug, WARNING with --quiet."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if debug else "%(message)s")


class StatusLine(Protocol):
    """A view that redraws a status line in place (:class:`voicecoach.ui.LiveView`)."""

    def above(self, write: Callable[[], object]) -> None:
        """Run ``write`` with the status line cleared first and drawn again after."""
        ...


class _AboveStatusLine(logging.Handler):
    """Emits each record through the wrapped stderr handler above the live view's status line, so a warning in the
    middle of ``listen`` gets its own line instead of being written onto the end of the status line."""

    def __init__(self, inner: logging.Handler, view: StatusLine) -> None:
        super().__init__(inner.level)
        self.inner = inner
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        """Clear the status line, write the record, draw the status line again."""
        self.view.above(lambda: self.inner.handle(record))


@contextmanager
def log_above(view: StatusLine) -> Iterator[None]:
    """While the live view is shown, the log's stderr handlers write above its status line (and as before after)."""
    root = logging.getLogger()
    swapped = [(h, _AboveStatusLine(h, view)) for h in list(root.handlers) if type(h) is logging.StreamHandler]
    for plain, above in swapped:
        root.removeHandler(plain)
        root.addHandler(above)
    try:
        yield
    finally:
        for plain, above in swapped:
            root.removeHandler(above)
            root.addHandler(plain)


SOUND_COMMANDS = frozenset({"listen", "kiosk", "checkin", "demo", "calibrate", "say"})  # C libraries' stderr collapsed
# speak and end without the live loop (whose StopOnSignals ends a talk cleanly): SIGTERM / SIGHUP end them as Ctrl-C
SPEAK_AND_END = frozenset({"say", "calibrate", "demo"})
# run the live loop (Live.serve): SIGTERM / SIGHUP while they are set up are kept, and the loop then stops at once
# (voicecoach.early_signals)
LIVE_COMMANDS = frozenset({"listen", "kiosk", "checkin"})
# their standard output is the journal's own data (an export, the weekly figures) or what was heard and said in a
# talk (listen's lines, analyze's events): "> mine.json" made by the shell with its umask is made 0600, as --out
# and --html write theirs
PRIVATE_STDOUT = frozenset({"journal", "report", "listen", "analyze"})


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: the command ends the way Ctrl-C ends it (its clean-up runs)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def raise_terminated(signum: int, _frame: object) -> None:
    """A signal handler: raise :class:`Terminated` for ``signum`` in the main thread."""
    raise Terminated(signum)


def _end_on_signals() -> None:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread instead of killing the process at once: the
    clean-up that Ctrl-C gets runs (``say`` and ``calibrate`` left their empty ``/tmp/voicecoach-tts-*`` prompt
    folder behind). Only for :data:`SPEAK_AND_END`: the live commands stop on them their own way."""
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, raise_terminated)


def no_core_dumps() -> None:
    """Leave no core file when this process crashes: its memory holds the microphone's audio, a voice note, the
    journal's rows. The core size limit is set to 0, soft and hard (so no library or child raises it again): the
    kernel then writes no ``core`` file, and systemd-coredump keeps only the stacks, not the memory. The Python
    stacks of a crash are still printed (:func:`_stacks_on_crash`).

    Not ``prctl(PR_SET_DUMPABLE, 0)``, which would stop apport's reports too: it also stops other programs of the
    same user from opening ``/proc/<pid>/root``, which PipeWire and the desktop portal read to tell a sandboxed
    client, and a failed read there can cost the microphone."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):  # Windows has no resource module
        log.debug("core dumps could not be turned off")


def _stacks_on_crash() -> None:
    """A crash inside a C library (SIGSEGV, SIGABRT) prints every thread's Python stack to stderr (the journal, on
    the kiosk) instead of dying silently, so the report says where."""
    try:
        faulthandler.enable(file=sys.stderr)
    except (AttributeError, ValueError, OSError):  # stderr without a file descriptor (captured, closed)
        pass


def print_line(text: str) -> None:
    """Print one line of a live command's output (listen, checkin) at once. When the program reading it has stopped
    (``voicecoach listen | head -1``), the rest of the output goes to the null device and the talk goes on being
    heard and stored: the closed pipe is not the couple's talk ending (it was a traceback, "observer ListenLines
    failed", from the line said when the microphone opened)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        drop_stdout()


def drop_stdout() -> None:
    """Point stdout at /dev/null, so the text still buffered is not written again (and fails again) at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured in tests)
        pass
    finally:
        os.close(null)


def standard_streams() -> None:
    """Give the process the stdin, stdout and stderr it was started without (``>&-``, ``2>&-``, ``<&-``): the
    null device on each closed descriptor, and a Python stream for it. Python left ``sys.stdout`` None there, so
    every command ended in "internal error: AttributeError" (``report 2>&-`` printed nothing at all), and the
    first file opened (the journal) took the closed descriptor's number, for C code's writes to land in."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            except OSError:
                continue
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False, errors="backslashreplace"))


# What a character that the output's encoding cannot write becomes, beyond its letters without their accents.
_PLAIN = {"\u2014": "-", "\u2013": "-", "\u2026": "...", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
          "\u00d7": "x", "\u2192": "->", "\u2264": "<=", "\u2265": ">=", "\u00a0": " ", "\u00df": "ss", "\u00e6": "ae",
          "\u00c6": "AE", "\u00f8": "o", "\u00d8": "O", "\u0153": "oe", "\u0152": "OE", "\u0142": "l", "\u0141": "L"}


def _plain(exc: UnicodeError) -> tuple[str, int]:
    """The encoding error handler ``voicecoach-plain``: each character the output cannot hold as its nearest plain
    ASCII ("Zoë" as "Zoe", "—" as "-"), "?" when it has none."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    plain = (_PLAIN.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii") or "?"
             for ch in exc.object[exc.start:exc.end])
    return "".join(plain), exc.end


def plain_where_needed() -> None:
    """stdout and stderr in an encoding that cannot hold every character (``LANG=en_US.ISO-8859-1``,
    ``PYTHONIOENCODING=ascii``) write what they cannot hold as plain ASCII: a partner called Zoë in the config,
    or the "—" of a line, ended ``config show``, ``demo``, ``checkin --to`` and ``say --voices`` with "internal
    error: UnicodeEncodeError". UTF-8 streams are left as they are."""
    codecs.register_error("voicecoach-plain", _plain)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if not encoding or reconfigure is None:
            continue
        try:
            if codecs.lookup(encoding).name not in ("utf-8", "utf-16", "utf-32"):
                reconfigure(errors="voicecoach-plain")
        except (LookupError, ValueError, OSError):
            continue


def terminal_closed(exc: BaseException) -> bool:
    """Whether ``exc`` is the input/output error of writing to a terminal that was closed (its window shut, an
    ssh connection lost): stdout or stderr is a terminal that has hung up."""
    if not isinstance(exc, OSError) or exc.errno != errno.EIO:
        return False
    try:
        import termios
    except ImportError:
        return False
    for stream in (sys.stdout, sys.stderr):
        try:
            termios.tcgetattr(stream.fileno())
        except termios.error as error:
            if error.args and error.args[0] == errno.EIO:
                return True
        except (AttributeError, ValueError, OSError):
            continue
    return False


def print_out(text: str = "", end: str = "\n") -> None:
    """Print a line of a command that also writes files: a reader of the output that went away (``| head -1``, a
    pager quit early) is let go (stdout to the null device) and the command goes on, so the files it was asked for
    are still written. ``report --html trends.html | head -1`` wrote no page, and exited 0 without a word."""
    try:
        print(text, end=end, flush=True)
    except BrokenPipeError:
        drop_stdout()


# Options whose value may start with a minus and a digit (``report --since -3w``: three weeks back). argparse takes
# such a value for an unknown option ("expected one argument") unless it is joined to its option with "=".
MINUS_VALUE_OPTIONS = frozenset({"--since"})


def join_minus_values(argv: list[str]) -> list[str]:
    """``argv`` with each ``OPTION -3w`` of :data:`MINUS_VALUE_OPTIONS` written ``OPTION=-3w`` (up to ``--``)."""
    joined: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg == "--":
            return [*joined, arg, *rest]
        if arg in MINUS_VALUE_OPTIONS:
            value = next(rest, None)
            if value is not None and re.match(r"-\d", value):
                joined.append(f"{arg}={value}")
                continue
            joined.extend([arg] if value is None else [arg, value])
            continue
        joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run the subcommand, turn failures into one line and an exit code."""
    if argv is None:  # a real process, never a test runner's
        if sys.argv[1:2] and sys.argv[1] in LIVE_COMMANDS:  # the command comes first (no option takes a value)
            from ..early_signals import keep_early_stop_signals

            keep_early_stop_signals()  # before the 0.15 s of build_parser, and the second of setting up
        no_core_dumps()
        standard_streams()
        plain_where_needed()
    try:
        parser = build_parser()  # loads every subcommand's module: the slowest part of a start (0.15 s here)
    except KeyboardInterrupt:  # Ctrl-C at once: the one line, not a traceback of an import
        print("voicecoach: interrupted", file=sys.stderr)
        return 130
    args, extra = parser.parse_known_args(join_minus_values(sys.argv[1:] if argv is None else argv))
    if argv is None and getattr(args, "command", None) in SOUND_COMMANDS:
        from ._stderr import StderrCollapse

        StderrCollapse().start()
    _stacks_on_crash()
    if argv is None and getattr(args, "command", None) in SPEAK_AND_END:
        _end_on_signals()
    if argv is None and getattr(args, "command", None) == "checkin" and getattr(args, "to", None) is not None:
        from ..early_signals import release_early_stop_signals

        kept = release_early_stop_signals()  # an offline rehearsal into a WAV file: no live loop to stop on them,
        _end_on_signals()  # so it ends as say does (it was killed: its prompt folder left in /tmp)
        if kept:
            print(f"voicecoach: stopped ({kept})", file=sys.stderr)
            return 128 + signal.Signals[kept]
    if argv is None and getattr(args, "command", None) in PRIVATE_STDOUT:
        from .. import paths

        paths.private_if_new(1)
    if extra:  # named by the subcommand that was given, whose --help lists what it takes
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    debug = getattr(args, "debug", False)
    setup_logging(debug, getattr(args, "quiet", False))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a redirect onto a full disk fails here, while its one line can still be said
        return code
    except VoicecoachError as exc:
        if debug:
            log.exception("failed")
        print(f"voicecoach: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("voicecoach: interrupted", file=sys.stderr)
        return 130
    except Terminated as stopped:
        print(f"voicecoach: stopped ({stopped.name})", file=sys.stderr)
        return 128 + stopped.signum
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback without --debug
        if terminal_closed(exc):  # nobody is there to read a line (the live commands stored the talk first)
            drop_stdout()
            return 0
        if debug:
            raise
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the world's, not a bug
            drop_stdout()  # the output redirected onto that disk (``> out.txt``) must not fail again at exit
            where = f" ({exc.filename})" if exc.filename else ""
            print(f"voicecoach: error: the disk is full{where} ({exc.strerror}): what was being written (the "
                  f"output, or a file) is incomplete; free some space and run it again", file=sys.stderr)
            return 1
        print(f"voicecoach: error: internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
