"""``voicecoach scripts list|show NAME|check FILE``: the check-in scripts, built-in and your own."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

ORDER = 14


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``scripts`` subcommand."""
    p = sub.add_parser("scripts", parents=[common], help="list, show or check check-in scripts")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="the scripts you can run (built-in and your own)")
    show = actions.add_parser("show", parents=[common], help="a script's steps, readably")
    show.add_argument("name", help="script name (see: voicecoach scripts list)")
    check = actions.add_parser("check", parents=[common], help="validate script files")
    check.add_argument("files", nargs="+", metavar="FILE",
                       help="a script .toml file (a bare name is looked for in your scripts folder too)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one scripts action."""
    if args.action == "check":
        return _check(args.files, _language_pack(args))
    from ..checkin.library import Library, user_dir

    library = Library.load()
    if args.action == "list":
        return _list(library, user_dir())
    entry = library.active(args.name)
    for broken in (e for e in library.entries if e.broken and e.name == args.name):  # an override that fails
        print(f"your {broken.path} does not load ({broken.error}); this is the built-in {args.name}, which is "
              f"used instead", file=sys.stderr)
    from . import config_of

    print(describe(entry.script, f"{entry.source}: {entry.path}", _offered(config_of(args), args.name)), end="")
    return 0


DAYS = {"mon": "Mondays", "tue": "Tuesdays", "wed": "Wednesdays", "thu": "Thursdays", "fri": "Fridays",
        "sat": "Saturdays", "sun": "Sundays"}


def _offered(config, name: str) -> str:  # noqa: ANN001 - a Config
    """When the kiosk's schedule offers the script called ``name`` ("" when it does not)."""
    kiosk = config.kiosk
    when = []
    if kiosk.nightly_time and kiosk.nightly_script == name:
        when.append(f"daily at {kiosk.nightly_time}")
    if kiosk.weekly_day and kiosk.weekly_script == name:
        when.append(f"on {DAYS[kiosk.weekly_day]} at {kiosk.weekly_time}")
    return f"the kiosk offers it {' and '.join(when)}" if when else ""


def _language_pack(args: argparse.Namespace):
    """The configured language pack, to check that the scripts' questions can be answered (None: not known)."""
    from ..asr.lang import load_language
    from ..errors import VoicecoachError
    from . import config_of

    try:
        return load_language(config_of(args).commands.language)
    except VoicecoachError:  # a broken config or language: ``voicecoach config check`` says what to fix
        return None


def _check(files: list[str], pack) -> int:
    from ..checkin.script import load_script_file, unsayable
    from ..errors import InputError
    from . import input_path

    status = 0
    for name in files:
        file = name
        try:
            input_path(name, "a file name", "a script file's path, e.g. voicecoach scripts check morning.toml")
            file = str(_script_path(name))
            script = load_script_file(file)
            problem = unsayable(script, pack) if pack is not None else None
            if problem:
                raise InputError(problem)
            note = _as_installed(Path(file))
        except InputError as exc:
            print(f"voicecoach: error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(f"OK: {file}: {script.name} \"{script.title}\", {len(script.steps)} steps, "
              f"about {script.minutes:g} min" + (f" ({note})" if note else ""))
    return status


def _as_installed(file: Path) -> str:
    """For a file in your scripts folder, how the library takes it: raises the InputError that keeps it from being
    used (its name is already another file's there), or a note ("overrides the built-in nightly"); "" elsewhere."""
    from ..checkin.library import Library, user_dir
    from ..errors import InputError

    try:
        installed = file.resolve().parent == user_dir().resolve()
    except OSError:
        return ""
    if not installed:
        return ""
    entry = next((e for e in Library.load().entries if e.path.resolve() == file.resolve()), None)
    if entry is None:
        return ""
    if entry.broken:
        raise InputError(entry.error)
    return f"overrides the built-in {entry.name}" if entry.overrides else ""


def _script_path(file: str) -> Path:
    """The file as given; a bare file name that is not here is your own script of that name (the config folder's
    ``scripts/``), as in ``scripts check morning.toml``; ``.toml`` may be left out there."""
    from ..checkin.library import user_dir
    from ..errors import InputError

    path = Path(file)
    if path.exists() or path.parent != Path("."):
        return path
    for candidate in (user_dir() / file, user_dir() / f"{file}.toml"):
        if candidate.is_file():
            return candidate
    raise InputError(f"{file}: no such file, here or in {user_dir()} (list scripts with: voicecoach scripts list)")


def _list(library, folder) -> int:
    rows = []
    for entry in library.entries:
        if entry.broken:
            rows.append((entry.name, "BROKEN", "", entry.source, entry.error))
            continue
        script = entry.script
        used = library.active(entry.name) is entry
        note = ("overrides the built-in" if entry.overrides else "") if used else "overridden by a user script"
        rows.append((entry.name, script.title, f"{script.minutes:g}", entry.source, note))
    width = max(len(r[0]) for r in rows) if rows else 4
    print(f"{'name':{width}}  {'min':>3}  {'source':7}  title")
    for name, title, minutes, source, note in rows:
        line = f"{name:{width}}  {minutes:>3}  {source:7}  {title}"
        print(line + (f"  ({note})" if note and title != "BROKEN" else ""))
        if title == "BROKEN":
            print(f"{'':{width}}  {'':>3}  {'':7}  {note}")
    timed = [n for n in library.names() if library.get(n).offer_on_schedule]
    print("The kiosk may offer these at a set time (kiosk.nightly_script, kiosk.weekly_script): "
          + (", ".join(timed) if timed else "none") + ".")
    print(f"Your own scripts go in {folder} (see: voicecoach scripts show NAME, voicecoach scripts check FILE).")
    return 0


def describe(script, where: str = "", offered: str = "") -> str:
    """A script as readable text: metadata (``offered``: when the kiosk's schedule offers it), then one numbered
    line (or a few) per step. It said "offered on a schedule" of every script whose ``offer_on_schedule`` allows it
    (weather and stress too, which the default schedule never offers)."""
    when = offered or ("suited to the kiosk's schedule" if script.offer_on_schedule else "")
    head = f"{script.name}: {script.title} (about {script.minutes:g} min" + (f"; {when}" if when else "") + ")"
    lines = [head] + ([f"  {where}"] if where else [])
    if script.description:
        lines += textwrap.wrap(script.description, 100, initial_indent="  ", subsequent_indent="  ")
    lines.append(f"   0. consent: {script.consent}")
    for step in script.steps:
        lines.extend(_describe_step(step))
    return "\n".join(lines) + "\n"


WHO_SHOWN = {"": "", "a": "partner a", "b": "partner b", "first": "who starts", "second": "the other",
             "each": "each partner in turn", "other": "the other partner"}


def _describe_step(step) -> list[str]:
    """One step: its number, type, id, who, length and title, its text, then what its type adds (steps.KINDS)."""
    from ..checkin.steps import KINDS

    kind = KINDS[step.type]
    who, length = WHO_SHOWN[step.who], kind.length(step)
    parts = [step.type] + ([f"[{step.id}]"] if step.id else []) + ([who] if who else []) + ([length] if length else [])
    label = f"{step.number:>4}. " + ", ".join(parts) + (f" ({step.title})" if step.title else "")
    return [f"{label}: {step.text}", *(f"        {line}" for line in kind.details(step))]
