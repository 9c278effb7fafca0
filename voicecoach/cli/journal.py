"""``voicecoach journal export|erase|path``: the couple owns its data."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Iterable, Iterator

from .. import paths
from ..errors import InputError, VoicecoachError
from . import Terminated, check_output_option, config_of, drop_stdout, raise_terminated

ORDER = 60


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``journal`` subcommand."""
    p = sub.add_parser("journal", parents=[common], help="export, erase or locate the private journal")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", parents=[common], help="print everything in the journal as JSON")
    export.add_argument("--json", action="store_true", help="JSON output (the default and only format)")
    export.add_argument("--out", metavar="FILE", help="write to FILE (mode 0600, also when it replaces a file) "
                                                       "instead of stdout")
    erase = actions.add_parser("erase", parents=[common], help="delete every talk, event and voice note, and the voice profile calibrate learned")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    actions.add_parser("path", parents=[common], help="print where the journal is kept")
    p.set_defaults(func=run)


def journal_path(args: argparse.Namespace) -> Path:
    """The journal file named by the config (``[journal] file``) or the default location."""
    from ..journal.files import path_for

    return path_for(config_of(args).journal.file)


def run(args: argparse.Namespace) -> int:
    """Run one journal action."""
    path = journal_path(args)
    if args.action == "path":
        print(path)
        return 0
    from ..journal.files import offline_use

    with offline_use():  # "talks are not recorded until then" is for a live talk, not said here
        if args.action == "export":
            check_output_option(args.out, "--out", ".json", "journal.json")
            return _export(path, args.out)
        return _erase(path, args.yes, Path(args.config).expanduser() if getattr(args, "config", None)
                      else paths.config_file())


def _open(path: Path, read_only: bool = False):  # noqa: ANN202 - a Journal, imported lazily
    from ..journal.store import Journal

    return Journal.open_for_reading(path) if read_only else Journal.open(path)


def _export(path: Path, out: str | None) -> int:
    """Write the export as the journal is read (a chunk of rows at a time: years of a kiosk's events never sit in
    memory at once)."""
    from ..journal.schema import CURRENT_VERSION, TABLES
    from ..journal.files import present

    counted: dict[str, int] = {}
    with ExitStack() as stack:
        if present(path):  # a symbolic link leading nowhere is refused, not exported as empty
            journal = stack.enter_context(_open(path, read_only=True))
            text: Iterable[str] = _then_newline(journal.export_json(indent=2, counted=counted))
        else:
            empty = {"format": "voicecoach-journal", "schema": CURRENT_VERSION, **{t: [] for t in TABLES}}
            text = [json.dumps(empty, indent=2, ensure_ascii=False) + "\n"]
        if out is None:  # "> mine.json" was made 0600 at the start (cli.PRIVATE_STDOUT)
            _to_stdout(text)
            return 0
        try:
            paths.write_private(out, text)  # 0600 even over an existing file; replaced only once written whole
        except OSError as exc:
            raise VoicecoachError(f"cannot write {out} ({exc.strerror}); choose another file") from None
    counts = ", ".join(f"{t}: {counted.get(t, 0)}" for t in ("talks", "events", "pauses", "checkins", "notes"))
    print(f"exported the journal to {out} ({counts}); it is private: keep it safe", file=sys.stderr)
    return 0


def _then_newline(pieces: Iterable[str]) -> Iterator[str]:
    yield from pieces
    yield "\n"


def _to_stdout(text: Iterable[str]) -> None:
    """Print the export as it comes; a write that fails (``> mine.json`` on a full disk, or a pipe whose reader
    stopped: ``| ssh box 'cat > backup.json'`` with the connection lost) is one line saying the output is
    incomplete, exit 1 (a closed pipe ended it with exit 0 and nothing said, a cut-off backup taken for whole)."""
    try:
        for piece in text:
            sys.stdout.write(piece)
        sys.stdout.flush()
    except BrokenPipeError:
        drop_stdout()
        raise VoicecoachError("the program reading the export stopped before its end (a closed pipe): what it got "
                              "is incomplete; run it again, or write it to a file with --out FILE") from None
    except OSError as exc:
        drop_stdout()
        raise VoicecoachError(f"cannot write the export to standard output ({exc.strerror}): what was written is "
                              f"incomplete; free some space, or write it elsewhere with --out FILE") from None


def _erase(path: Path, yes: bool, config_file: Path) -> int:
    """Erase the journal and the calibration profile beside it (both personal), after one confirmation; then say
    what is kept on this device and how to remove it (before, the profile stayed without a word)."""
    from .. import app
    from ..journal.files import JournalDiskFull, NothingErased, present

    profile = app.profile_path()
    has_profile = os.path.lexists(profile)
    if not present(path) and not has_profile:  # a link leading nowhere is refused: the journal may be on a drive
        print(f"nothing to erase: there is no journal at {path} and no voice profile")
        print(_kept(config_file, path))  # another journal's voice notes, the settings: there may still be some
        return 0
    with ExitStack() as stack:
        try:
            journal = stack.enter_context(_open(path)) if present(path) else None
        except JournalDiskFull as full:  # not opened, so nothing erased (the voice profile neither)
            raise JournalDiskFull(full.path, full.why, "nothing was erased; free some space there and run the "
                                                       "erase again") from None
        parts = _journal_what(journal.counts()) if journal is not None else []  # counted by SQLite, not read
        parts += [app.PROFILE_WHAT] if has_profile else []
        what = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        if not yes and not _confirmed(what, path if journal is not None else profile):
            return 1
        held: list[int] = []
        stack.enter_context(_signals_held(held))  # from here the erase goes to its end (see _signals_held)
        problems = []
        try:
            if journal is not None:
                journal.erase()
        except NothingErased:  # the journal is as it was: the profile stays too, so "nothing was erased" is true
            raise
        except VoicecoachError as exc:  # erased, not wholly: the profile goes all the same (erase typed for both)
            problems.append(str(exc))
        if has_profile:
            kept = _erase_profile(profile)
            problems += kept
            if problems and not kept:  # the journal's line alone would leave the profile's fate unsaid
                problems.append(f"{app.PROFILE_WHAT} was erased")
        if problems:
            raise VoicecoachError("; and ".join(problems))
    where = f" The journal at {path} is empty now." if journal is not None else ""
    print(f"Erased {what}.{where}")
    print(_kept(config_file, path))
    if held:  # stopped while it erased: it finished first, and said so; now it stops as asked
        raise Terminated(held[0])
    return 0


def _journal_what(counts: dict[str, int]) -> list[str]:
    """["1 talk", "2 events", "0 check-ins", "1 voice note"]."""
    return [_n(counts["talks"], "talk"), _n(counts["events"], "event"), _n(counts["checkins"], "check-in"),
            _n(counts["notes"], "voice note")]


def _confirmed(what: str, where: Path) -> bool:
    """Ask on the terminal; True only for the word erase (no terminal: refused, exit 2)."""
    if not sys.stdin.isatty():
        raise InputError(f"refusing to erase {what} without confirmation: run it in a terminal, or add --yes")
    try:
        with _stopped_by_signals():
            answer = input(f"Erase {what} from {where}? This cannot be undone. Type 'erase' to confirm: ")
    except EOFError:  # Ctrl-D at the question (was: "internal error: EOFError"): no answer, so no erase
        print()
        answer = ""
    except KeyboardInterrupt:  # was "voicecoach: interrupted" alone: erased or not?
        print("\nNothing was erased.", flush=True)
        raise
    except Terminated:  # SIGTERM or SIGHUP (the terminal closed) while it waited: it ended with no word at all
        with suppress(OSError):  # after SIGHUP there may be no terminal left to say it on
            print("\nNothing was erased: stopped before you confirmed.", flush=True)
        raise
    answer = answer.strip().lower()
    if answer != "erase":
        # "yes" is the natural answer to a question: say why it did not erase (was "Nothing was erased.")
        print("Nothing was erased." + (" Only the word erase confirms it: to erase, run voicecoach journal "
                                       "erase again and type erase." if answer else ""))
        return False
    return True


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`~voicecoach.cli.Terminated` while the question waits (as Ctrl-C raises
    KeyboardInterrupt), so the answer is said: nothing was erased; a signal someone ignores (nohup) stays ignored.

    Raising from the signal handler is safe here, and only here: under it runs ``input()`` alone, before anything
    is erased. The journal is open but only read (its counts; no transaction is left open, no lock of voicecoach's
    is held), and the exception closes it on its way out. Even when the signal lands as the handlers are put back,
    after "erase" was typed, the erase has not begun: "nothing was erased" stays true. The erase itself is never
    interrupted: :func:`_signals_held`."""
    before = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            before[signum] = signal.signal(signum, raise_terminated)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@contextmanager
def _signals_held(held: list[int]) -> Iterator[None]:
    """SIGTERM and SIGHUP are noted in ``held`` while the erase runs, not acted on: the caller finishes the erase,
    says what it did, and then stops. Killed where it stood (the default), its worst moment (the rows deleted, the
    checkpoint waiting up to 10 s for a reader such as the kiosk) left the voice profile undeleted and the deleted
    rows' bytes in the file until another program's checkpoint, without a word; raising there instead would do the
    same with a line. The handler only appends to a list (no lock, no I/O); a signal someone ignores (nohup) stays
    ignored."""
    before = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            before[signum] = signal.signal(signum, lambda number, _frame: held.append(number))
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _erase_profile(profile: Path) -> list[str]:
    """Delete the calibration profile; [] or the line saying it stays."""
    from .. import app

    try:
        app.erase_profile()
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a plain file"
        return [f"{app.PROFILE_WHAT} at {profile} could not be deleted ({why}): it holds each partner's voice; "
                f"delete it by hand"]
    return []


def _kept(config_file: Path, journal_file: Path) -> str:
    """What an erase leaves on this device, and how to remove it."""
    from .. import app

    kept = app.kept_after_erase(config_file, journal_file)
    return "Kept: " + (kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])}, and {kept[-1]}") + "."


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
