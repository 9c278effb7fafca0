"""Opt-in voice notes: private files in voicecoach's own notes folder, an index, nothing left behind, and nothing
else ever deleted (every deletion case here runs in temporary folders)."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from voicecoach import paths
from voicecoach.journal.notes import MARKER, VoiceNotes, VoiceNotesOff
from voicecoach.journal.store import Journal, JournalValueError


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def journal(data: Path):
    with Journal.open(data / "journal.sqlite3") as j:
        yield j


def test_a_note_is_stored_as_a_private_wav_and_comes_back_the_same(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True)
    audio = tone(1.5)
    note_id = notes.save_note(audio, "A", "B", at=1_790_000_000.0)
    [info] = notes.list_notes()
    assert (info.id, info.from_partner, info.to_partner, info.created_at) == (note_id, "A", "B", 1_790_000_000.0)
    assert info.duration_s == pytest.approx(1.5)
    assert info.path.parent == journal.notes_dir
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.notes_dir.stat().st_mode) == 0o700
    assert np.array_equal(notes.load_note(note_id), audio)
    assert journal.export()["notes"][0]["to_partner"] == "B"


def test_notes_are_listed_for_one_partner_and_deleted_with_their_file(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True)
    to_b = notes.save_note(tone(0.5), "A", "B", at=1.0)
    to_a = notes.save_note(tone(0.5), "B", "A", at=2.0)
    assert [n.id for n in notes.list_notes(to_partner="A")] == [to_a]
    path = notes.list_notes(to_partner="B")[0].path
    notes.delete_note(to_b)
    assert not path.exists()
    assert [n.id for n in notes.list_notes()] == [to_a]
    with pytest.raises(JournalValueError):
        notes.delete_note(to_b)


def test_saving_needs_the_opt_in_but_existing_notes_can_still_be_removed(journal: Journal) -> None:
    VoiceNotes(journal, enabled=True).save_note(tone(0.2), "A", "B", at=1.0)
    off = VoiceNotes(journal, enabled=False)
    with pytest.raises(VoiceNotesOff, match="voice_notes = true"):
        off.save_note(tone(0.2), "A", "B", at=2.0)
    [note] = off.list_notes()
    off.delete_note(note.id)
    assert off.list_notes() == []


def test_a_note_is_cut_at_the_longest_allowed_length(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True, max_s=1.0)
    note_id = notes.save_note(tone(3.0), "B", "A", at=1.0)
    assert len(notes.load_note(note_id)) == 16000


def test_audio_files_without_an_index_entry_are_removed_on_open(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True)
    kept = notes.save_note(tone(0.2), "A", "B", at=1.0)
    orphan = journal.notes_dir / ".note-0123456789abcdef.wav.part"  # as left by a crash mid-save
    orphan.write_bytes(b"RIFF....")
    VoiceNotes(journal, enabled=False)
    assert not orphan.exists()
    assert [n.id for n in notes.list_notes()] == [kept]


def test_erase_removes_every_voice_note_file(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True)
    for k in range(3):
        notes.save_note(tone(0.2), "A", "B", at=float(k))
    journal.erase()
    assert notes.list_notes() == []
    assert [p.name for p in journal.notes_dir.iterdir()] == [MARKER]


def test_partners_are_labelled_a_or_b(journal: Journal) -> None:
    with pytest.raises(JournalValueError):
        VoiceNotes(journal, enabled=True).save_note(tone(0.2), "Sam", "B", at=1.0)


# --- deleting only what voicecoach made, where it made it (issue 19 item 1) -----------------------------------------

def test_a_journal_in_a_users_folder_never_touches_the_files_beside_it(data: Path, tmp_path: Path) -> None:
    documents = tmp_path / "Documents"
    (documents / "notes").mkdir(parents=True)
    thesis = documents / "notes" / "thesis.txt"
    thesis.write_text("four years of work")
    lookalike = documents / "notes" / "note-0123456789abcdef.wav"  # even one named like a note
    lookalike.write_bytes(b"RIFF mine")
    with Journal.open(documents / "vc.sqlite3") as journal:
        notes = VoiceNotes(journal, enabled=True)  # opening sweeps orphans
        notes.save_note(tone(0.2), "A", "B", at=1.0)
        assert paths.is_inside(notes.dir, data / "notes")
        journal.erase()
        VoiceNotes(journal, enabled=False)
    assert thesis.read_text() == "four years of work"
    assert lookalike.read_bytes() == b"RIFF mine"


def test_two_journals_keep_their_notes_apart(data: Path, tmp_path: Path) -> None:
    with Journal.open(data / "journal.sqlite3") as first, Journal.open(tmp_path / "other.sqlite3") as second:
        kept = VoiceNotes(first, enabled=True).save_note(tone(0.2), "A", "B", at=1.0)
        VoiceNotes(second, enabled=True)  # its sweep must not take the first journal's notes for orphans
        second.erase()
        assert [n.id for n in VoiceNotes(first, enabled=False).list_notes()] == [kept]
        assert VoiceNotes(first, enabled=False).list_notes()[0].path.is_file()


def test_only_voicecoachs_own_files_are_swept_from_its_folder(journal: Journal) -> None:
    notes = VoiceNotes(journal, enabled=True)
    notes.save_note(tone(0.2), "A", "B", at=1.0)
    foreign = [journal.notes_dir / name for name in ("thesis.txt", "note-backup.wav", "x.wav.part")]
    for path in foreign:
        path.write_text("mine")
    (journal.notes_dir / "sub").mkdir()
    VoiceNotes(journal, enabled=False)
    journal.erase()
    assert all(p.read_text() == "mine" for p in foreign)
    assert (journal.notes_dir / "sub").is_dir()


def test_a_folder_without_the_marker_is_never_cleaned(data: Path) -> None:
    folder = data / "notes"
    folder.mkdir(parents=True)
    stray = folder / "note-0123456789abcdef.wav"
    stray.write_bytes(b"RIFF")
    with Journal.open(data / "journal.sqlite3") as journal:
        VoiceNotes(journal, enabled=False)
        journal.erase()
    assert stray.exists()


def test_a_tampered_index_cannot_delete_outside_the_notes_folder(journal: Journal, tmp_path: Path) -> None:
    notes = VoiceNotes(journal, enabled=True)
    notes.save_note(tone(0.2), "A", "B", at=1.0)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    for name in ("../../victim.txt", str(victim)):
        note_id = journal.index_note(2.0, "A", "B", name, 1.0)
        assert note_id not in [n.id for n in notes.list_notes()]
        notes.delete_note(note_id)
    assert victim.read_text() == "keep"


def test_a_symlink_in_the_notes_folder_is_not_followed(journal: Journal, tmp_path: Path) -> None:
    notes = VoiceNotes(journal, enabled=True)
    notes.save_note(tone(0.2), "A", "B", at=1.0)
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"keep")
    link = journal.notes_dir / "note-00000000deadbeef.wav"
    link.symlink_to(victim)
    VoiceNotes(journal, enabled=False)
    journal.erase()
    assert victim.read_bytes() == b"keep"


def test_the_notes_folder_is_private_and_marked(journal: Journal) -> None:
    VoiceNotes(journal, enabled=True).save_note(tone(0.2), "A", "B", at=1.0)
    assert stat.S_IMODE(journal.notes_dir.stat().st_mode) == 0o700
    assert (journal.notes_dir / MARKER).is_file()


def test_a_note_that_cannot_be_written_leaves_no_partial_audio(journal: Journal, monkeypatch) -> None:
    """A full disk mid-save: one error naming the fix, and the half-written audio is gone at once (not only at the
    next start), so no part of the note stays on the device."""
    import errno

    from voicecoach.journal import notes as notes_module
    from voicecoach.journal.files import JournalUnavailable

    def half_written(path, audio, rate):
        Path(path).write_bytes(b"RIFF" + bytes(4000))  # some of the note reached the disk, then it filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(notes_module, "write_wav", half_written)
    notes = VoiceNotes(journal, enabled=True)
    with pytest.raises(JournalUnavailable, match="free some disk space"):
        notes.save_note(tone(1.0), "A", "B", at=1_790_000_000.0)
    assert [p.name for p in journal.notes_dir.iterdir()] == [MARKER]
    assert notes.list_notes() == []


def _note_of_an_earlier_version(data: Path) -> tuple[Journal, Path]:
    """A note as versions before 2 December kept it: in ``data_dir()/notes``, indexed, and no marker there."""
    from voicecoach.audio.wav import write_wav

    folder = data / "notes"
    folder.mkdir(parents=True, mode=0o700)
    note = folder / "note-a07e81cbf13823c1.wav"
    write_wav(note, tone(1.0), 16000)
    journal = Journal.open(data / "journal.sqlite3")
    journal.index_note(1_796_467_730.0, "A", "B", note.name, 1.0)
    return journal, note


def test_erase_deletes_the_notes_an_earlier_version_kept_in_its_unmarked_folder(data: Path) -> None:
    journal, note = _note_of_an_earlier_version(data)
    stray = note.with_name("note-0123456789abcdef.wav")  # not in the index: left, as in any unmarked folder
    stray.write_bytes(b"RIFF")
    with journal:
        assert [n.path for n in VoiceNotes(journal, enabled=False).list_notes()] == [note]
        journal.erase()
    assert not note.exists() and stray.exists()


def test_deleting_a_note_an_earlier_version_kept_deletes_its_audio(data: Path) -> None:
    journal, note = _note_of_an_earlier_version(data)
    with journal:
        notes = VoiceNotes(journal, enabled=False)
        assert notes.load_note(1).shape == (16000,)
        notes.delete_note(1)
        assert notes.list_notes() == []
    assert not note.exists()


def _notes_beside_a_journal_elsewhere(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """A journal in ~/Documents whose note a version before 2 December kept beside it, in ~/Documents/notes, with
    the couple's own files there: (journal, the note, their files)."""
    from voicecoach.audio.wav import write_wav

    documents = tmp_path / "Documents"
    (documents / "notes").mkdir(parents=True)
    note = documents / "notes" / "note-cd5f444fba380410.wav"
    write_wav(note, tone(1.0), 16000)
    theirs = [documents / "notes" / "thesis.txt", documents / "notes" / "note-0123456789abcdef.wav"]
    for file in theirs:
        file.write_bytes(b"mine")
    with Journal.open(documents / "vc.sqlite3") as journal:
        journal.index_note(1_796_468_036.0, "A", "B", note.name, 1.0)
    return documents / "vc.sqlite3", note, theirs


def test_a_note_an_earlier_version_kept_beside_a_journal_elsewhere_is_moved_in_and_plays(data: Path,
                                                                                      tmp_path: Path) -> None:
    db, note, theirs = _notes_beside_a_journal_elsewhere(tmp_path)
    with Journal.open(db) as journal:
        notes = VoiceNotes(journal, enabled=False)
        assert notes.load_note(1).shape == (16000,)  # before: "no such file", naming the new folder
        [info] = notes.list_notes()
        assert paths.is_inside(info.path, data / "notes") and stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert not note.exists() and all(f.read_bytes() == b"mine" for f in theirs)


def test_erase_deletes_a_note_an_earlier_version_kept_beside_a_journal_elsewhere(data: Path, tmp_path: Path) -> None:
    db, note, theirs = _notes_beside_a_journal_elsewhere(tmp_path)
    with Journal.open(db) as journal:
        journal.erase()  # `journal erase` never opens the notes store
    assert not note.exists() and all(f.read_bytes() == b"mine" for f in theirs)
