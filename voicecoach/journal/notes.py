"""Opt-in voice notes: 16 kHz mono WAV files (mode 0600) in voicecoach's own notes folder, indexed in the journal.

The only audio voicecoach ever keeps, and only when ``[journal] voice_notes = true``. Recording and playing are
the runtime's job; this module stores, lists, loads and deletes. A file is written under a temporary name,
flushed, renamed, and only then indexed; note files left without an index entry (a crash mid-save, or
mid-delete) are removed when the store is opened, so no audio outlives its index.

The folder is ``paths.notes_dir()`` (under the data folder, never beside a user-chosen journal file), created
0700 with a marker file. Only a folder holding the marker is ever cleaned, and only files named as this module
names them (``note-<hex>.wav`` and their ``.part`` files), one by one, each checked to be a regular file directly
inside it: whatever else is there is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .. import paths
from ..audio.frames import SAMPLE_RATE
from ..audio.wav import read_wav, write_wav
from ..errors import VoicecoachError
from .files import JournalUnavailable
from .store import Journal, JournalValueError

log = logging.getLogger(__name__)

PARTNERS = ("A", "B")
MARKER = ".voicecoach-notes"  # present only in a folder voicecoach made for its notes
MARKER_TEXT = "This folder holds voicecoach's voice notes. voicecoach deletes only its own note-*.wav files here.\n"
_NOTE_FILE = re.compile(r"note-[0-9a-f]{4,32}\.wav")
_PART_FILE = re.compile(r"\.note-[0-9a-f]{4,32}\.wav\.part")


class VoiceNotesOff(VoicecoachError):
    """Voice notes were asked for but the couple has not opted in."""


@dataclass(frozen=True)
class NoteInfo:
    """One stored voice note (metadata only)."""

    id: int
    created_at: float  # wall clock, epoch seconds
    from_partner: str
    to_partner: str
    duration_s: float
    path: Path


class VoiceNotes:
    """Voice-note storage for an open :class:`Journal`; saving needs ``enabled`` (the opt-in)."""

    def __init__(self, journal: Journal, enabled: bool, max_s: float = 60.0) -> None:
        self.journal = journal
        self.enabled = enabled
        self.max_s = max_s
        self.dir = journal.notes_dir
        self._bring_earlier()
        self._sweep_orphans()

    def _bring_earlier(self) -> None:
        """Move into :attr:`dir` the notes of this journal that a version before 2 December kept in a ``notes``
        folder beside a journal kept elsewhere (``[journal] file``): only files the index names, so nothing else
        there is touched. Before, such a note could not be played ("no such file", naming the new folder) and
        ``journal erase`` left its audio there."""
        beside = earlier_folder(self.journal.path)
        if beside == self.dir or not beside.is_dir() or beside.is_symlink():
            return
        names = [row["file"] for row in self.journal.rows("notes")]
        found = [p for p in indexed_files(beside, names) if not (self.dir / p.name).exists()]
        if not found:
            return
        try:
            make_notes_dir(self.dir)
            for note in found:
                shutil.move(note, self.dir / note.name)
                os.chmod(self.dir / note.name, 0o600)
        except OSError as exc:
            log.warning("voice notes: cannot move the notes an earlier version kept in %s to %s (%s); move the "
                        "note-*.wav files the journal lists by hand", beside, self.dir, exc.strerror or exc)
            return
        log.info("voice notes: moved %d note(s) an earlier version kept in %s to %s", len(found), beside, self.dir)

    def _sweep_orphans(self) -> None:
        indexed = {row["file"] for row in self.journal.rows("notes")}
        for file in own_files(self.dir):
            if file.name not in indexed:
                log.info("voice notes: removing %s (not in the index; left by an interrupted save)", file.name)
                _remove(file, self.dir)

    def save_note(self, audio: NDArray, from_partner: str, to_partner: str, at: float) -> int:
        """Store a note (16 kHz mono audio, int16 or float) from one partner to the other; returns its id."""
        if not self.enabled:
            raise VoiceNotesOff("voice notes are off; to opt in set voice_notes = true in the [journal] "
                                "section of the config")
        for label in (from_partner, to_partner):
            if label not in PARTNERS:
                raise JournalValueError(f"partner must be one of {PARTNERS}, not {label!r}")
        audio = np.asarray(audio)[: int(self.max_s * SAMPLE_RATE)]
        name = f"note-{secrets.token_hex(8)}.wav"
        final, tmp = self.dir / name, self.dir / f".{name}.part"
        try:
            make_notes_dir(self.dir)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            write_wav(tmp, audio, SAMPLE_RATE)
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())
            tmp.rename(final)
        except OSError as exc:
            _discard(tmp)  # the half-written audio goes now, not at the next start
            raise JournalUnavailable(f"voice notes {self.dir}: cannot save ({exc.strerror}); free some disk "
                                     f"space or make the directory writable") from None
        try:
            return self.journal.index_note(at, from_partner, to_partner, name, len(audio) / SAMPLE_RATE)
        except BaseException:
            final.unlink(missing_ok=True)
            raise

    def list_notes(self, to_partner: str | None = None) -> list[NoteInfo]:
        """Stored notes, oldest first, optionally only those for one partner."""
        out = []
        for row in self.journal.rows("notes"):
            if not is_note_name(row["file"]):
                log.warning("voice notes: ignoring index entry %s with a bad file name", row["id"])
                continue
            if to_partner is None or row["to_partner"] == to_partner:
                out.append(NoteInfo(row["id"], row["created_at"], row["from_partner"], row["to_partner"],
                                    row["duration_s"], self.dir / row["file"]))
        return out

    def load_note(self, note_id: int) -> NDArray[np.int16]:
        """The audio of one note as 16 kHz mono int16."""
        for note in self.list_notes():
            if note.id == note_id:
                return read_wav(note.path)
        raise JournalValueError(f"no voice note with id {note_id}")

    def delete_note(self, note_id: int) -> None:
        """Delete a note: its index entry, then its file."""
        name = self.journal.unindex_note(note_id)
        if is_note_name(name) and (owns(self.dir) or made_earlier(self.dir)):
            _remove(self.dir / name, self.dir)


def is_note_name(name: str) -> bool:
    """True for a file name this module gives a note or its temporary file (nothing else is ever deleted)."""
    return bool(_NOTE_FILE.fullmatch(name) or _PART_FILE.fullmatch(name))


def make_notes_dir(folder: Path) -> None:
    """Create the notes folder (0700) with its marker; an existing folder gets the marker if it has none."""
    paths.private_dir(folder)
    marker = folder / MARKER
    if not marker.is_file():
        paths.write_private(marker, MARKER_TEXT)


def owns(folder: Path) -> bool:
    """True when ``folder`` is a real folder (not a symlink) that voicecoach made for notes (it has the marker)."""
    return folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file()


def made_earlier(folder: Path) -> bool:
    """True for the default journal's notes folder, ``data_dir()/notes``, as a version before the marker left it
    (until 2 December: the same folder, unmarked). Only the notes its journal indexes are deleted from it (erase,
    deleting a note): before, they were never deleted, while both said they were gone. An unindexed file there
    stays, as in any folder without the marker."""
    return (folder == paths.data_dir() / paths.NOTES_FOLDER and folder.is_dir() and not folder.is_symlink()
            and not (folder / MARKER).is_file())


def earlier_folder(journal_path: Path) -> Path:
    """Where a version before 2 December kept the notes of the journal at ``journal_path``: beside it."""
    return Path(journal_path).parent / paths.NOTES_FOLDER


def indexed_files(folder: Path, names: list[str]) -> list[Path]:
    """The note files among ``names`` (the journal's index) that are regular files directly in ``folder``."""
    return [folder / n for n in names if is_note_name(n) and (folder / n).is_file() and not (folder / n).is_symlink()]


def own_files(folder: Path) -> list[Path]:
    """The note files (and unfinished ``.part`` files) directly in ``folder``; [] unless voicecoach owns it."""
    if not owns(folder):
        return []
    return sorted(p for p in folder.iterdir() if is_note_name(p.name) and p.is_file() and not p.is_symlink())


def remove_all(folder: Path) -> int:
    """Delete every note file voicecoach made in ``folder`` (for erase); returns how many were removed. A file that
    cannot be deleted stays (the caller sees it in :func:`own_files` and says so)."""
    return sum(_remove(p, folder, quiet=True) for p in own_files(folder))


def _discard(tmp: Path) -> None:
    """Remove an unfinished ``.part`` file after a failed save (a leftover is swept when the store opens)."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("voice notes: cannot remove the unfinished %s (%s); it is removed at the next start",
                    tmp.name, exc.strerror)


def _remove(path: Path, folder: Path, quiet: bool = False) -> bool:
    """Delete one note file; a refusal or an OS error (a read-only card) is logged, never raised: a file that
    cannot go now must not stop the journal or the notes from opening."""
    try:
        return paths.remove_inside(path, folder)
    except ValueError as exc:
        log.warning("voice notes: %s", exc)
    except OSError as exc:
        log.log(logging.DEBUG if quiet else logging.WARNING, "voice notes: cannot delete %s (%s)", path.name,
                exc.strerror)
    return False
