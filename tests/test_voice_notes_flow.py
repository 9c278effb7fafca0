"""Voice notes by voice: leave one, play it, keep or delete it — the pure flow, and the whole path through a live
Session with the real pipeline, real TTS (played into a WAV file, or the virtual sound device) and the real
journal."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from voicecoach.actions import DeleteNote, Listen, PlayNote, RecordNote, Say
from voicecoach.commands import Command
from voicecoach.notes_flow import NoteRecorder, NotesFlow, NoteSummary
from voicecoach.runtime import SELF_HEARING_TAIL_S


def says(actions):
    return " ".join(a.text for a in actions if isinstance(a, Say))


def test_leaving_a_note_needs_the_opt_in():
    assert not any(isinstance(a, RecordNote) for a in NotesFlow(("Sam", "Alex"), enabled=False).leave())
    assert "switched off" in says(NotesFlow(("Sam", "Alex"), enabled=False).leave())
    assert RecordNote(60.0) in NotesFlow(("Sam", "Alex"), enabled=True).leave()


def test_play_my_notes_with_notes_off_says_how_to_turn_them_on_as_leave_a_note_does():
    off = NotesFlow(("Sam", "Alex"), enabled=False)
    assert says(off.play([])) == says(off.leave()) == ("Voice notes are switched off. You can turn them on in the "
                                                       "settings, under journal.")  # play: the first sentence alone


def test_playing_notes_asks_whether_to_delete_each_and_deletes_only_on_yes():
    flow = NotesFlow(("Sam", "Alex"), enabled=True, wall=lambda: 1_700_000_000.0)
    notes = [NoteSummary(1, 1_700_000_000.0 - 3600, "A"), NoteSummary(2, 1_700_000_000.0 - 600, "B")]
    first = flow.play(notes)
    assert "2 notes" in says(first) and "from Sam" in says(first) and PlayNote(1) in first
    assert not any(isinstance(a, Listen) for a in first)   # asked only once the note plays
    assert any(isinstance(a, Listen) for a in flow.played(1, True))
    second = flow.heard(Command.NOT_NOW)
    assert "Kept" in says(second) and PlayNote(2) in second and "from Alex" in says(second)
    assert not any(isinstance(a, DeleteNote) for a in second)
    flow.played(2, True)
    end = flow.heard(Command.YES)
    assert DeleteNote(2) in end and "all the notes" in says(end)
    assert not flow.active


def test_a_note_that_cannot_be_played_is_not_asked_about_and_stays_saved():
    # "yes" deletes the note asked about: a note nobody heard (its file unreadable) must not be asked about
    flow = NotesFlow(("Sam", "Alex"), enabled=True, wall=lambda: 1_700_000_000.0)
    flow.play([NoteSummary(1, 1_699_999_000.0, "A"), NoteSummary(2, 1_699_999_500.0, "B")])
    skipped = flow.played(1, False)
    assert "stays saved" in says(skipped) and PlayNote(2) in skipped
    assert not any(isinstance(a, (Listen, DeleteNote)) for a in skipped)
    assert flow.played(1, True) == []   # a late word about a note no longer current changes nothing
    flow.played(2, True)
    assert DeleteNote(2) in flow.heard(Command.YES) and not flow.active


def test_a_note_stopped_by_a_pause_ends_the_notes_quietly_and_keeps_them():
    flow = NotesFlow(("Sam", "Alex"), enabled=True, wall=lambda: 1_700_000_000.0)
    flow.play([NoteSummary(1, 1_699_999_000.0, "A"), NoteSummary(2, 1_699_999_500.0, "B")])
    assert flow.stopped(1) == []   # nothing said over the pause that stopped it, no next note, nothing deleted
    assert not flow.active and flow.heard(Command.YES) == []


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


class LiveNotes:
    """A live Session with the real pipeline, real TTS, and a real journal with voice notes on. The speaker plays
    into a WAV file (heard at once, to its end), or with ``device`` into the sound device (the virtual one)."""

    def __init__(self, tmp_path, device: bool = False, realtime: bool = False, file=None, journal_type=None) -> None:
        from voicecoach_dev.live import render_conversation
        from voicecoach import app
        from voicecoach.audio.playback import WavFileSink
        from voicecoach.config import Config
        from voicecoach.journal.notes import VoiceNotes
        from voicecoach.journal.store import Journal
        from voicecoach.journal.schema import TalkSource
        from voicecoach.runtime_live import Live, LiveSpec
        from voicecoach.speech.speaker import Speaker

        config = Config()
        config = replace(config, journal=replace(config.journal, voice_notes=True))
        self.audio, _ = render_conversation()
        self.journal = journal = (journal_type or Journal).open(tmp_path / "journal.sqlite3")
        self.notes = notes = VoiceNotes(journal, True, 60.0)
        sink = None if device else WavFileSink(tmp_path / "heard.wav", realtime=realtime)
        self.speaker = speaker = Speaker(config.speech, sink=sink)
        self.said: list[str] = []
        self.live = live = Live.build(config, LiveSpec(TalkSource.LISTEN, commands=False, file=file),
                                      on_line=self.said.append, pipeline=app.make_pipeline(config, use_profile=False),
                                      speaker=speaker, journal=journal, notes=notes)
        self.session = live.session
        self.position = 0

    def feed(self, samples) -> float:
        """Feed audio to the session frame by frame, on one audio clock; the longest step, in seconds."""
        from voicecoach.sources import ArraySource

        longest = 0.0
        for frame in ArraySource(samples, 30, self.position).frames():
            start = time.perf_counter()
            self.session.step(frame)
            longest = max(longest, time.perf_counter() - start)
        self.position += len(samples) - len(samples) % 480
        return longest

    def ask_for_note(self) -> None:
        """"Leave a note", its prompt spoken, and a second of silence once it can hear again: the note starts next."""
        self.session.submit(Command.LEAVE_NOTE)
        self.feed(np.zeros(480, np.int16))
        assert self.speaker.wait(10)
        time.sleep(SELF_HEARING_TAIL_S)  # it does not hear itself for this long after its prompt
        self.feed(np.zeros(16000, np.int16))

    def until(self, done, timeout_s: float = 10.0) -> None:
        """Tick (as the loop does between frames) until ``done()`` and the notes' thread has nothing left: on the
        live microphone a note is saved, found, loaded and deleted there, and what follows comes at a later tick."""
        worker = getattr(self.session, "note_worker", None)  # (none: the notes on the loop thread)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not (done() and (worker is None or not worker.busy)):
            self.session.tick()
            time.sleep(0.01)
        assert done(), self.said

    def close(self) -> None:
        """End the talk as the loop does at the end (its journal writer and notes threads stop: they ran on into
        later tests), then close the speaker and the journal (both already closed by it; safe twice)."""
        self.live.close()
        self.speaker.close()
        self.journal.close()


def test_a_note_left_by_voice_is_stored_played_and_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    live = LiveNotes(tmp_path)
    audio, feed, said, speaker, notes, session = (live.audio, live.feed, live.said, live.speaker, live.notes,
                                                  live.session)
    feed(audio[: 16000 * 5])  # a little talk first
    live.ask_for_note()
    feed(audio[16000 * 5: 16000 * 12])  # the note: 7 s of speech
    feed(np.zeros(16000 * 4, np.int16))  # then silence ends it
    live.until(lambda: "is saved" in " ".join(said))
    assert speaker.wait(10)
    stored = notes.list_notes()
    assert len(stored) == 1 and 5.0 < stored[0].duration_s < 11.0, (stored, said)
    session.submit(Command.PLAY_NOTES)
    feed(np.zeros(480, np.int16))
    live.until(lambda: "There is one note" in " ".join(said))
    assert speaker.wait(10)
    live.until(lambda: "Shall I delete it" in " ".join(said))  # asked once the note has played to its end
    session.submit(Command.YES)  # "shall I delete it?" -> delete
    feed(np.zeros(480, np.int16))
    live.until(lambda: "Deleted" in " ".join(said))
    assert notes.list_notes() == []
    assert "Deleted" in " ".join(said)
    live.close()


def test_a_note_saved_and_deleted_on_a_slow_disk_does_not_hold_the_live_loop(tmp_path, monkeypatch):
    """FAKE: every journal commit 0.5 s slower, holding its lock (a slow SD card: SlowJournal). A note's save (its
    audio fsynced, then indexed) and its delete ran on the loop's thread: the step that ended the note, and the one
    that said "Deleted", each waited for the disk (1.5 s and 1.2 s with every fsync 300 ms slower:
    scripts/measure_note_save.py). Now they run on the notes' own thread and the steps go on at once."""
    from test_journal_writer import SlowJournal

    class SlowerJournal(SlowJournal):
        delay_s = 0.5

    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    live = LiveNotes(tmp_path, journal_type=SlowerJournal)
    live.feed(live.audio[: 16000 * 2])
    live.ask_for_note()
    live.feed(live.audio[16000 * 5: 16000 * 9])
    live.session.talk.flush(30.0)  # the talk's own writes are not what is timed
    saving = live.feed(np.zeros(16000 * 4, np.int16))  # the silence that ends the note: it is saved
    live.until(lambda: "is saved" in " ".join(live.said), timeout_s=30.0)
    live.session.submit(Command.PLAY_NOTES)
    live.feed(np.zeros(480, np.int16))
    live.until(lambda: "There is one note" in " ".join(live.said), timeout_s=30.0)
    assert live.speaker.wait(30)
    live.until(lambda: "Shall I delete it" in " ".join(live.said), timeout_s=30.0)
    live.session.talk.flush(30.0)
    live.session.submit(Command.YES)
    deleting = live.feed(np.zeros(480, np.int16))
    live.until(lambda: "Deleted" in " ".join(live.said), timeout_s=30.0)
    assert live.notes.list_notes() == []
    live.live.close()
    assert saving < 0.25 and deleting < 0.25, (saving, deleting)


def test_a_stored_note_that_cannot_be_read_is_not_asked_about_and_yes_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    live = LiveNotes(tmp_path)
    note_id = live.notes.save_note(live.audio[: 16000 * 3], "A", "B", 1_700_000_000.0)
    stored = live.notes.list_notes()
    stored[0].path.write_bytes(b"not a wav any more")   # e.g. a damaged SD card
    live.feed(live.audio[: 16000 * 2])
    live.session.submit(Command.PLAY_NOTES)
    live.feed(np.zeros(480, np.int16))
    live.until(lambda: "couldn't play this note" in " ".join(live.said))
    assert "delete it" not in " ".join(live.said)
    live.session.submit(Command.YES)
    live.feed(np.zeros(480, np.int16))
    live.until(lambda: True)
    assert [n.id for n in live.notes.list_notes()] == [note_id] and "Deleted" not in " ".join(live.said)
    live.close()


def test_a_note_whose_playback_fails_part_way_is_not_asked_about_and_stays_saved(tmp_path, monkeypatch,
                                                                                 pulse_in_process):
    # the flow asked "keep it? say not now to delete it" as soon as the note was handed to the speaker, so a
    # playback that failed part-way (the sound system restarted, the speaker unplugged) still offered to delete a
    # note the couple had not heard whole
    from voicecoach.audio import device
    from voicecoach.audio.playback import DeviceSink

    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    live = LiveNotes(tmp_path, device=True)
    assert isinstance(live.speaker.sink, DeviceSink)
    note_id = live.notes.save_note(live.audio[: 16000 * 6], "A", "B", 1_700_000_000.0)
    live.feed(live.audio[: 16000 * 2])
    live.session.submit(Command.PLAY_NOTES)
    live.feed(np.zeros(480, np.int16))
    live.until(lambda: "There is one note" in " ".join(live.said))  # found and loaded on the notes' thread
    deadline = time.monotonic() + 20
    while not (live.speaker.is_speaking() and not live.speaker._queue) and time.monotonic() < deadline:
        time.sleep(0.02)  # until the note itself plays (the prompts before it are spoken first)
    time.sleep(1.0)
    device.reinitialize()  # PortAudio starts afresh (as after a sound-server restart): the note's stream is gone
    while "couldn't play" not in " ".join(live.said) and time.monotonic() < deadline:
        live.feed(np.zeros(480, np.int16))
        time.sleep(0.03)
    assert "couldn't play this note" in " ".join(live.said) and "delete it" not in " ".join(live.said), live.said
    live.session.submit(Command.YES)
    live.feed(np.zeros(480, np.int16))
    live.until(lambda: True)
    assert [n.id for n in live.notes.list_notes()] == [note_id] and "Deleted" not in " ".join(live.said)
    live.close()


def test_the_end_of_the_file_stops_a_long_note_playing_and_keeps_it(tmp_path, monkeypatch):
    """listen --file whose recording ended while a 40 s voice note played (or waited behind its prompts) held the
    exit: the end waited 10 s for the note, then 5 s more for the speaker ("the speech engine did not stop"). The
    end of the input ends the session now: the note stops, says so, and stays saved, to be heard whole later."""
    import wave

    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    talk = tmp_path / "talk.wav"
    from voicecoach_dev.live import render_conversation

    audio, _ = render_conversation()
    with wave.open(str(talk), "wb") as w:  # 4 s of a generated talk, heard in real time as listen --file does
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(audio[: 16000 * 4].tobytes())
    live = LiveNotes(tmp_path, realtime=True, file=talk)
    note_id = live.notes.save_note(np.tile(audio[: 16000 * 10], 4), "A", "B", 1_700_000_000.0)  # 40 s
    live.session.submit(Command.PLAY_NOTES)
    started = time.monotonic()
    live.live.serve()
    took = time.monotonic() - started
    said = " ".join(live.said)
    assert took < 4 + 4, f"the exit took {took:.1f} s after a 4 s file"
    assert "There is one note" in said and "stays saved" in said, live.said
    from voicecoach.journal.notes import VoiceNotes
    from voicecoach.journal.store import Journal

    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        assert [n.id for n in VoiceNotes(journal, True, 60.0).list_notes()] == [note_id] and "delete it" not in said


def test_a_note_being_recorded_when_the_input_ends_is_kept_as_far_as_it_got(tmp_path, monkeypatch):
    """The input ended (the file's end, or Ctrl-C) while a partner was saying a note: it was dropped without a
    word. Now it is stored as far as it got (what was said is the partner's; the silence that would have ended it
    never came), with the usual "your note is saved"."""
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path))
    live = LiveNotes(tmp_path)
    live.feed(live.audio[: 16000 * 5])
    live.ask_for_note()
    live.feed(live.audio[16000 * 5: 16000 * 12])  # 7 s of the note, then the input ends mid-sentence
    assert live.notes.list_notes() == []
    live.live.close()  # what serve does at the end of the input (it closes the journal too)
    from voicecoach.journal.notes import VoiceNotes
    from voicecoach.journal.store import Journal

    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        stored = VoiceNotes(journal, True, 60.0).list_notes()
    assert len(stored) == 1 and 5.0 < stored[0].duration_s < 9.0, (stored, live.said)
    assert "is saved" in " ".join(live.said)


def test_offering_the_notes_asks_first_and_help_or_repeat_keep_the_question_open():
    # "play my notes" heard in the talk (maybe misheard): the flow asks before a private note is played aloud
    flow = NotesFlow(("Sam", "Alex"), enabled=True, wall=lambda: 1_700_000_000.0)
    notes = [NoteSummary(1, 1_700_000_000.0 - 3600, "A")]
    asked = flow.offer(notes)
    assert says(asked) == "You have one voice note. Shall I play it? Say okay, or not now."
    assert any(isinstance(a, Listen) for a in asked) and not any(isinstance(a, PlayNote) for a in asked)
    assert flow.active
    assert says(flow.heard(Command.REPEAT)) == says(asked)
    assert says(flow.heard(Command.HELP)) == "Say okay to play them now, or not now."
    played = flow.heard(Command.YES)
    assert PlayNote(1) in played and "from Sam" in says(played) and "There is one note" not in says(played)
    flow.played(1, True)
    assert "all the notes" in says(flow.heard(Command.NOT_NOW)) and not flow.active
    refused = NotesFlow(("Sam", "Alex"), enabled=True)
    refused.offer(notes)
    assert refused.heard(None) == [] and not refused.active  # silence: nothing played, nothing said
    assert says(refused.heard(Command.YES)) == ""  # a late yes plays nothing


def test_offering_no_notes_says_what_playing_them_says():
    for flow in (NotesFlow(("Sam", "Alex"), enabled=True), NotesFlow(("Sam", "Alex"), enabled=False),
                 NotesFlow(("Sam", "Alex"), enabled=True, kept=False)):
        assert flow.offer([]) == flow.play([]) and not flow.active
    assert says(NotesFlow(("Sam", "Alex"), True, kept=False).offer([NoteSummary(1, 0.0, "A")])) == \
        says(NotesFlow(("Sam", "Alex"), True, kept=False).play([NoteSummary(1, 0.0, "A")]))
