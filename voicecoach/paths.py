"""Where voicecoach keeps its config and private data (overridable for tests and the kiosk), and how it writes there.

Everything private is created owner-only whatever the umask: folders 0700 (:func:`private_dir`), files 0600
(:func:`write_private`, also when it replaces an existing file). Removals go through :func:`remove_inside`, which
refuses anything that is not a plain file directly inside the folder it is meant to be in.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

APP_NAME = "voicecoach"
JOURNAL_FILE = "journal.sqlite3"  # the default journal's name in data_dir()
NOTES_FOLDER = "notes"  # voice notes live only under data_dir()/notes


def config_dir() -> Path:
    """The user config directory (``$VOICECOACH_CONFIG_DIR`` overrides it)."""
    override = os.environ.get("VOICECOACH_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The user data directory for the journal, voice notes and models (``$VOICECOACH_DATA_DIR`` overrides it)."""
    override = os.environ.get("VOICECOACH_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The default config file path."""
    return config_dir() / "config.toml"


def notes_dir(journal_file: Path | str) -> Path:
    """The voice-notes folder of the journal at ``journal_file``: always inside ``data_dir()/notes``.

    Never derived from where the journal file is (a user may point ``[journal] file`` into any folder of theirs):
    the default journal's notes are in ``data_dir()/notes`` itself, any other journal's in a subfolder of it named
    by a hash of that journal's full path, so two journals never sweep each other's notes."""
    root = data_dir() / NOTES_FOLDER
    journal = Path(journal_file).expanduser().resolve()
    if journal == (data_dir() / JOURNAL_FILE).expanduser().resolve():
        return root
    key = hashlib.sha256(str(journal).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return root / f"journal-{key}"


# --- private files and folders ----------------------------------------------------------------------------------

def private_dir(path: Path | str, tighten: bool = False) -> Path:
    """Create ``path`` and any missing parents with mode 0700, whatever the umask; returns it.

    An existing folder keeps its mode unless ``tighten`` is set (for voicecoach's own data and config folders): then
    group and other permissions are removed from it when this user owns it."""
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to chmod
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask (umask 0277 would leave it unwritable)
    if not missing and tighten:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
    if not path.is_dir():
        raise NotADirectoryError(20, "not a directory", str(path))
    return path


def write_private(path: Path | str, data: bytes | str | Iterable[bytes | str]) -> None:
    """Write ``data`` (or its pieces, written as they come: a big export is never whole in memory) to ``path`` as
    an owner-only (0600) file, replacing an existing file atomically.

    The data goes to a new 0600 file beside it, is flushed to disk and renamed over ``path``, so a file that was
    0644 before is 0600 afterwards and a crash leaves either the old or the new content. Something that is not a
    regular file (a pipe, a device) and a symlink (``/dev/stdout``, a link of the user's) are written in place,
    through the link, which stays; so is a file in a folder this user may not write. A regular file written in
    place is made 0600 too. Raises OSError."""
    path = Path(path)
    raw = _pieces(data)
    if path.is_symlink() or (os.path.lexists(path) and not path.is_file()):
        _write_in_place(path, raw)
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    except PermissionError:
        if not path.is_file():
            raise
        _write_in_place(path, raw)
        return
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in raw:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pieces(data: bytes | str | Iterable[bytes | str]) -> Iterator[bytes]:
    """``data`` as bytes, piece by piece (one piece for bytes or a str)."""
    pieces: Iterable[bytes | str] = (data,) if isinstance(data, (bytes, str)) else data
    for piece in pieces:
        yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)


def _write_in_place(path: Path, raw: Iterable[bytes]) -> None:
    """Write through ``path`` (a symlink is followed, never replaced: /dev/stdout as root once became a plain file
    in /dev); a regular file written this way is made 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
        for piece in raw:
            f.write(piece)


def private_if_new(fd: int) -> None:
    """Make the file open at ``fd`` owner-only (0600) when it is an empty regular file of this user's, at its start:
    one the shell has just made for ``> mine.json`` with its umask (0644 under 022). Anything else (a terminal, a
    pipe, a file with content, appended to, or another user's) keeps its mode."""
    try:
        info = os.fstat(fd)
        if (stat.S_ISREG(info.st_mode) and info.st_size == 0 and info.st_uid == os.geteuid()
                and stat.S_IMODE(info.st_mode) & 0o077 and os.lseek(fd, 0, os.SEEK_CUR) == 0):
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & 0o600)
    except OSError:  # a descriptor that cannot be asked or changed: left as it is
        pass


def dangling_link(path: Path) -> tuple[str, str] | None:
    """For a symbolic link at ``path`` that cannot be followed (its target missing, a drive not mounted, a loop):
    (where it points, why it cannot be followed); None for anything else."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return target, exc.strerror or str(exc)
    return None   # followed meanwhile


def file_in_the_way(path: Path | str) -> Path | None:
    """The nearest of ``path``'s parent folders that exists but is not a folder (a file where the config or data
    folder should be: ``XDG_DATA_HOME`` set to a file), or None when the nearest existing parent is a folder."""
    for parent in Path(path).parents:
        if os.path.lexists(parent):
            return None if parent.is_dir() else parent
    return None


def is_inside(path: Path | str, folder: Path | str) -> bool:
    """True when ``path`` (symlinks and ``..`` resolved) lies strictly inside ``folder``."""
    resolved = Path(path).resolve()
    root = Path(folder).resolve()
    return resolved != root and resolved.is_relative_to(root)


def remove_inside(path: Path | str, folder: Path | str) -> bool:
    """Delete ``path`` if it is a regular file (not a symlink) directly inside ``folder``; True if removed.

    Anything else (a folder, a link, a path that leaves ``folder`` through ``..`` or a symlinked parent) is left
    alone and raises ValueError: callers only ever remove what they created, where they created it."""
    path = Path(path)
    if path.parent.resolve() != Path(folder).resolve() or path.name in ("", ".", ".."):
        raise ValueError(f"refusing to remove {path}: not directly inside {folder}")
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"refusing to remove {path}: not a regular file")
    path.unlink(missing_ok=True)
    return True
