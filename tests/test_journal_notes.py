"""Opt-in voice notes: private files beside the journal, an index, and nothing left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from voicecoach.journal.notes import VoiceNotes, VoiceNotesOff
from voicecoach.journal.store import Journal, JournalValueError


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)


@pytest.fixture
def journal(tmp_path: Path):
    with Journal.open(tmp_path / "journal.sqlite3") as j:
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
    orphan = journal.notes_dir / ".note-0123.wav.part"  # as left by a crash mid-save
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
    assert list(journal.notes_dir.iterdir()) == []


def test_partners_are_labelled_a_or_b(journal: Journal) -> None:
    with pytest.raises(JournalValueError):
        VoiceNotes(journal, enabled=True).save_note(tone(0.2), "Sam", "B", at=1.0)
