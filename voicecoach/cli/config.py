"""``voicecoach config init|show|check``."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

from ..errors import InputError, VoicecoachError
from . import config_of

ORDER = 80
BAK_NOTE = "a .bak copy is kept of a file that is not just the defaults"  # the defaults need no copy


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``config`` subcommand."""
    p = sub.add_parser("config", parents=[common], help="create, show or check the config file")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", parents=[common], help="write a commented default config file")
    init.add_argument("--force", action="store_true", help=f"overwrite an existing file ({BAK_NOTE})")
    init.add_argument("path", nargs="?", help="where to write (default: the user config file)")
    actions.add_parser("show", parents=[common], help="print the effective config as TOML")
    actions.add_parser("check", parents=[common], help="validate the config file")
    p.set_defaults(func=run)


def _write_keeping_backup(target: Path, backup: Path, text: str) -> bool:
    """Write ``text`` to ``target`` (0600); an existing file that is not the defaults is kept as ``backup``. True
    when it was kept. The new file is whole on disk before the old one moves: a full disk raised OSError after the
    couple's config.toml had become config.toml.bak, leaving no config.toml (every command then ran on the
    defaults); now it leaves everything as it was."""
    from .. import paths

    # The defaults need no copy: a second --force must not replace the .bak holding the user's own file.
    kept = target.exists() and target.read_bytes() != text.encode("utf-8")
    if not kept:
        paths.write_private(target, text)  # 0600 whatever the umask
        return False
    staging = target.with_name(f".{target.name}.new")
    staging.unlink(missing_ok=True)
    try:
        paths.write_private(staging, text)
        target.replace(backup)  # a link of the user's moves as it is (its file is left alone), as before
        staging.replace(target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return True


def _quoted_home(target: Path) -> str | None:
    """The one-line error for a path beginning with a ``~`` the shell did not expand (``config init "~/vc.toml"``)
    when no such folder is here, or None: it wrote ``./~/vc.toml``, making a folder called ``~`` in the current
    folder (one ``rm -r ~`` away from the couple's home) and said "wrote ~/vc.toml"."""
    first = target.parts[0] if target.parts else ""
    if not first.startswith("~") or Path(first).exists():
        return None
    meant = Path(first).expanduser().joinpath(*target.parts[1:])
    return (f"{target}: this ~ is not your home folder (in quotes the shell leaves it as it is, and a folder called "
            f"{first} would be made here); write the path without quotes or in full, e.g. {meant}")


def _next_step(target: Path) -> str:
    """What to do with the file just written (was: "wrote ..." alone, the names and the pause left to be found)."""
    from .. import paths

    default = target.expanduser().resolve() == paths.config_file().expanduser().resolve()
    check = "voicecoach config check" if default else f"voicecoach --config {target} config check"
    return (f"next: your names go under [partners] (a_name, b_name) and the pause you agreed under [pause] "
            f"(length_min, phrase); take the '# ' off a line to change it, then check the file with: {check}")


def run(args: argparse.Namespace) -> int:
    """Run one config action."""
    from .. import config as cfg
    from .. import paths

    if args.action == "init":
        if getattr(args, "config", None) is not None and not args.config.strip():  # was: the default file written
            raise InputError(cfg.EMPTY_CONFIG_OPTION)
        if args.path is not None and not args.path.strip():
            raise InputError("the path to write is empty: give a file's path (e.g. voicecoach config init "
                             "~/voicecoach.toml), or leave it out for the default file")
        target = Path(args.path or getattr(args, "config", None) or paths.config_file())
        quoted_home = _quoted_home(target)
        if quoted_home:
            raise InputError(quoted_home)
        if target.is_dir():
            raise InputError(f"{target} is a folder, not a config file (give the file's path, e.g. "
                             f"{target / 'config.toml'})")
        broken = cfg.broken_link(target)  # was: "cannot write ...: No such file or directory (check the folder"
        if broken:
            raise InputError(broken)
        if target.exists() and not target.is_file():  # a pipe would be waited on, a device renamed away
            raise InputError(f"{target} is not a regular file (a pipe or a device); give a config file's path, "
                             f"e.g. {paths.config_file()}")
        if target.exists() and not args.force:
            raise InputError(f"{target} already exists (use --force to replace it; {BAK_NOTE})")
        existed = target.exists()
        text = cfg.default_config_text()
        backup = target.with_suffix(target.suffix + ".bak")
        try:
            paths.private_dir(target.parent)  # a missing folder is made 0700 (an existing one is left as it is)
            kept = _write_keeping_backup(target, backup, text)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the disk's failure, not the user's input
                raise VoicecoachError(f"cannot write {target}: {exc.strerror} (free some space and run it again; "
                                      f"the file there is unchanged)") from None
            blocking = paths.file_in_the_way(target)
            if blocking is not None:  # was "Not a directory (check the folder ...)": which of them?
                raise InputError(f"cannot write {target}: {blocking} is a file, not a folder (move that file "
                                 f"aside, or give another path)") from None
            raise InputError(f"cannot write {target}: {exc.strerror} (check the folder, or give another path "
                             f"with --config FILE)") from None
        print(f"wrote {target}" + (f" (your old file is {backup})" if kept else
                                    " (the old file held just these defaults: no .bak copy needed)" if existed
                                    else ""))
        print(_next_step(target))
        return 0
    config = config_of(args)
    if args.action == "show":
        print(cfg.dump_toml(config, with_docs=False), end="")
        return 0
    where = getattr(args, "config", None) or paths.config_file()
    from ..app import config_problems

    problems = config_problems(config)  # what ``voicecoach check`` would fail on besides devices
    if problems:
        raise InputError(f"{where}: " + " | ".join(problems))
    if Path(where).is_file():
        from ..config_retired import pinned_notice

        pinned = pinned_notice(Path(where), config)
        if pinned:
            print(f"note: {pinned}")
    print(f"config OK: {where}" + ("" if Path(where).exists() else " (not present: defaults in use)"))
    return 0
