"""Voice notes by voice: leave one, play it, keep or delete it — the pure flow, and the whole path through a live
Session with the real pipeline, real TTS (played into a null sink) and the real journal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from voicecoach.actions import DeleteNote, Listen, PlayNote, RecordNote, Say
from voicecoach.commands import Command
from voicecoach.notes_flow import NoteRecorder, NotesFlow, NoteSummary


def says(actions):
    return " ".join(a.text for a in actions if isinstance(a, Say))


def test_leaving_a_note_needs_the_opt_in():
    assert not any(isinstance(a, RecordNote) for a in NotesFlow(("Sam", "Alex"), enabled=False).leave())
    assert "switched off" in says(NotesFlow(("Sam", "Alex"), enabled=False).leave())
    assert RecordNote(60.0) in NotesFlow(("Sam", "Alex"), enabled=True).leave()


def test_playing_notes_asks_to_keep_each_and_deletes_on_not_now():
    flow = NotesFlow(("Sam", "Alex"), enabled=True, wall=lambda: 1_700_000_000.0)
    notes = [NoteSummary(1, 1_700_000_000.0 - 3600, "A"), NoteSummary(2, 1_700_000_000.0 - 600, "B")]
    first = flow.play(notes)
    assert "2 notes" in says(first) and "from Sam" in says(first)
    assert PlayNote(1) in first and any(isinstance(a, Listen) for a in first)
    second = flow.heard(Command.YES)
    assert "Kept" in says(second) and PlayNote(2) in second and "from Alex" in says(second)
    end = flow.heard(Command.NOT_NOW)
    assert DeleteNote(2) in end and "all the notes" in says(end)
    assert not flow.active


def test_no_notes_waiting_is_said_plainly():
    assert "no notes" in says(NotesFlow(("Sam", "Alex"), enabled=True).play([]))


def test_recorder_ends_after_silence_and_names_the_sender():
    rec = NoteRecorder(max_s=60, silence_end_s=3.0)
    frame = np.ones(480, np.int16)
    for _ in range(100):  # 3 s of speech by B
        assert not rec.process(frame, 0.03, True, "B")
    done = [rec.process(frame * 0, 0.03, False, None) for _ in range(101)]
    assert done[-1] and not done[0]
    assert rec.sender() == "B" and rec.has_speech
    assert len(rec.audio()) < 101 * 480 + 100 * 480


def test_recorder_gives_up_when_nobody_speaks():
    rec = NoteRecorder(max_s=60, start_timeout_s=2.0)
    finished = [rec.process(np.zeros(480, np.int16), 0.03, False, None) for _ in range(70)]
    assert finished[-1] and not rec.has_speech


def test_a_note_left_by_voice_is_stored_played_and_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    from voicecoach_dev.live import render_conversation
    from voicecoach import app
    from voicecoach.audio.playback import NullSink
    from voicecoach.config import Config
    from voicecoach.journal.notes import VoiceNotes
    from voicecoach.journal.store import Journal
    from voicecoach.journal.schema import TalkSource
    from voicecoach.runtime_live import Live, LiveSpec
    from voicecoach.sources import ArraySource
    from voicecoach.speech.speaker import Speaker

    config = Config()
    config = replace(config, journal=replace(config.journal, voice_notes=True))
    audio, timeline = render_conversation()
    journal = Journal.open(tmp_path / "journal.sqlite3")
    notes = VoiceNotes(journal, True, 60.0)
    speaker = Speaker(config.speech, sink=NullSink())
    said: list[str] = []
    live = Live.build(config, LiveSpec(TalkSource.LISTEN, commands=False), on_line=said.append,
                      pipeline=app.make_pipeline(config, use_profile=False), speaker=speaker, journal=journal,
                      notes=notes)
    session = live.session
    position = 0

    def feed(samples):
        nonlocal position
        for frame in ArraySource(samples, 30, position).frames():
            session.step(frame)
        position += len(samples) - len(samples) % 480

    feed(audio[: 16000 * 5])  # a little talk first
    session.submit(Command.LEAVE_NOTE)
    feed(np.zeros(480, np.int16))
    assert speaker.wait(10)
    feed(np.zeros(16000, np.int16))
    feed(audio[16000 * 5: 16000 * 12])  # the note: 7 s of speech
    feed(np.zeros(16000 * 4, np.int16))  # then silence ends it
    assert speaker.wait(10)
    stored = notes.list_notes()
    assert len(stored) == 1 and 5.0 < stored[0].duration_s < 11.0, (stored, said)
    assert "is saved" in " ".join(said)
    session.submit(Command.PLAY_NOTES)
    feed(np.zeros(480, np.int16))
    assert "There is one note" in " ".join(said)
    session.submit(Command.NOT_NOW)  # "would you like to keep it?" -> delete
    feed(np.zeros(480, np.int16))
    assert notes.list_notes() == []
    assert "Deleted" in " ".join(said)
    speaker.close()
    journal.close()
