"""Voice notes by voice: "leave a note" records one for the other partner, "play my notes" plays them and asks
whether to delete each: only "yes" deletes; "not now" (and "no", "later"), "stop" and silence keep the note. A
pure policy (commands and ``now`` in, actions out); the runtime records and plays.

"play my notes" heard in the talk may be a mishearing (the Korean model heard it 58 times in 19 minutes of English
talk): a private note must not be played aloud unasked, so then the flow asks first (:meth:`NotesFlow.offer`);
asked for by key, typed or from the page, the notes play at once (:meth:`NotesFlow.play`).

Some people open up more easily in their own time: a note is a way to say something without an immediate
reaction. Opt-in only (``[journal] voice_notes = true``); notes stay on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from .actions import Action, DeleteNote, Listen, PlayNote, RecordNote, Say
from .commands import Command, Reply

KEEP_ANSWERS = frozenset({Command.YES, Command.NOT_NOW, Command.STOP, Command.REPEAT, Command.HELP})
PLAY_ANSWERS = KEEP_ANSWERS  # to "Shall I play them?": yes plays; not now, stop and silence play nothing
ANSWER_S = 8.0  # how long each of the flow's questions waits for its answer


@dataclass(frozen=True)
class NoteSummary:
    """What the flow needs to know about a stored note."""

    id: int
    created_at: float  # epoch seconds
    from_partner: str  # "A" | "B"


def _process_local(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s)


def _when(epoch_s: float, now_epoch_s: float, local: Callable[[float], datetime] = _process_local) -> str:
    day = local(epoch_s)
    today = local(now_epoch_s).date()
    part = "morning" if day.hour < 12 else "afternoon" if day.hour < 18 else "evening"
    if day.date() == today:
        return f"this {part}"
    if (today - day.date()).days == 1:
        return f"yesterday {part}"
    return f"{day.strftime('%A')} {part}"


# what "leave a note" and "play my notes" both say while voice notes are off (the opt-in)
NOTES_OFF = "Voice notes are switched off. You can turn them on in the settings, under journal."
# ... and while they are on but not kept here: a replay, a rehearsal, the demo (the journal neither read nor written)
NOTES_NOT_HERE = "Voice notes are left alone this time: nothing is recorded, and your notes keep waiting."


class NotesFlow:
    """Leaving and playing voice notes, one step at a time."""

    def __init__(self, names: tuple[str, str], enabled: bool, max_s: float = 60.0,
                 wall: Callable[[], float] = lambda: 0.0,
                 local: Callable[[float], datetime] = _process_local, kept: bool = True) -> None:
        """``wall``: epoch seconds now; ``local``: an epoch time as local time (:meth:`voicecoach.clock.LocalTime.at`
        in a long-running process, so "this evening" follows a time zone set while it runs); ``kept`` False: notes
        are on but this session keeps none and plays none (a replay, a rehearsal: :data:`NOTES_NOT_HERE`)."""
        self.names = {"A": names[0], "B": names[1]}
        self.wall = wall  # epoch seconds, for "a note from yesterday evening"
        self.local = local
        self.enabled = enabled
        self.kept = kept
        self.max_s = max_s
        self._queue: list[NoteSummary] = []
        self._current: NoteSummary | None = None
        self._offered: list[NoteSummary] | None = None  # "Shall I play them?" asked about these, not yet answered
        self.active = False

    def leave(self) -> list[Action]:
        """Someone said "leave a note"."""
        if not self.enabled:
            return [Say(NOTES_OFF)]
        if not self.kept:  # was "Okay. Say your note ...", then "I didn't keep a note this time."
            return [Say(NOTES_NOT_HERE)]
        seconds = int(self.max_s)
        return [Say(f"Okay. Say your note after this, up to {seconds} seconds. "
                    "When you stop talking for a few seconds, I'll keep it for the other one of you."),
                RecordNote(self.max_s)]

    def recorded(self, to_partner: str | None, saved: bool) -> list[Action]:
        """The runtime finished recording (``saved`` False: nothing was said, or it could not be stored)."""
        if not saved:
            return [Say("I didn't keep a note this time.")]
        name = self.names.get(to_partner or "", "your partner")
        return [Say(f"Thank you. Your note for {name} is saved.")]

    def play(self, notes: Sequence[NoteSummary]) -> list[Action]:
        """Someone said "play my notes": ``notes`` are those waiting for them (oldest first)."""
        if not self.enabled and not notes:
            return [Say(NOTES_OFF)]  # was the first sentence alone: how to turn them on said only for "leave"
        if self.enabled and not self.kept:  # was "There are no notes waiting.", with the couple's notes waiting
            return [Say(NOTES_NOT_HERE)]
        if not notes:
            return [Say("There are no notes waiting.")]
        self._queue = list(notes)
        self.active = True
        count = len(notes)
        intro = "There is one note." if count == 1 else f"There are {count} notes."
        return [Say(intro), *self._next()]

    def offer(self, notes: Sequence[NoteSummary]) -> list[Action]:
        """"play my notes" heard in the talk (it may be a mishearing): ask before playing anything aloud. With no
        note to play this says what :meth:`play` says; the notes play only after a "yes" (or the double clap)."""
        if not notes or (self.enabled and not self.kept):
            return self.play(notes)
        self._offered = list(notes)
        self.active = True
        return self._offer_question()

    def _offer_question(self) -> list[Action]:
        count = len(self._offered or ())
        what = "one voice note. Shall I play it?" if count == 1 else f"{count} voice notes. Shall I play them?"
        return [Say(f"You have {what} Say okay, or not now."), Listen(ANSWER_S, PLAY_ANSWERS)]

    def _answer_offer(self, command: Reply | None) -> list[Action]:
        """The answer to "Shall I play them?": only a yes plays; silence ends it without a word (nobody may have
        asked: the request may have been misheard), a refusal with one short line."""
        if command is Command.YES:
            self._queue, self._offered = list(self._offered or ()), None
            return self._next()
        if command in (Command.REPEAT, Command.PLAY_NOTES):  # "play my notes" again: still only a yes plays them
            return self._offer_question()
        if command is Command.HELP:
            return [Say("Say okay to play them now, or not now."), Listen(ANSWER_S, PLAY_ANSWERS)]
        self._offered, self.active = None, False
        return [] if command is None else [Say("Okay. Your notes will wait.")]

    def heard(self, command: Reply | None, now: float = 0.0) -> list[Action]:
        """The answer to "shall I delete this note?" (``None``: silence, which keeps it). Deleting takes a "yes":
        "not now", "no" and "later" are refusals, and a refusal never destroys anything (before, "not now" deleted
        it). Or the answer to "Shall I play them?" (:meth:`offer`)."""
        if self._offered is not None:
            return self._answer_offer(command)
        note = self._current
        if note is None:
            return []
        if command is Command.REPEAT:
            return [PlayNote(note.id)]   # asked again once it has played (:meth:`played`)
        if command is Command.HELP:
            return [Say("Say yes to delete this note, or not now to keep it."), *self._ask()]
        if command is Command.STOP:
            self._queue, self._current, self.active = [], None, False
            return [Say("Okay. The rest will wait for later.")]
        out: list[Action] = []
        if command is Command.YES:
            out += [DeleteNote(note.id), Say("Deleted.")]
        else:
            out += [Say("Kept.")]
        return out + self._next()

    def _next(self) -> list[Action]:
        if not self._queue:
            self._current, self.active = None, False
            return [Say("That's all the notes.")]
        note = self._current = self._queue.pop(0)
        sender = self.names.get(note.from_partner, "your partner")
        when = _when(note.created_at, self.wall(), self.local)
        return [Say(f"A note from {sender}, from {when}."), PlayNote(note.id)]

    def played(self, note_id: int, ok: bool) -> list[Action]:
        """The runtime played note ``note_id`` to its end (``ok`` False: it could not be loaded, or its playback
        failed part-way). Only a note heard whole is asked about: "not now" deletes it, and nobody should delete a
        note they did not hear."""
        note = self._current
        if note is None or note.id != note_id:
            return []
        if ok:
            return self._ask()
        return [Say("Sorry, I couldn't play this note, so it stays saved."), *self._next()]

    def stopped(self, note_id: int) -> list[Action]:
        """The note's playback was stopped by something else (a pause began): the notes wait, all of them kept,
        and nothing is said over what stopped it."""
        note = self._current
        if note is None or note.id != note_id:
            return []
        self._queue, self._current, self.active = [], None, False
        return []

    def set_aside(self) -> None:
        """The couple asked for the pause while one of the flow's questions was open: the notes wait, every one
        kept, and nothing is said over the pause."""
        self._queue, self._current, self._offered, self.active = [], None, None, False

    def _ask(self) -> list[Action]:
        return [Say("Shall I delete it? Say yes to delete it, or not now to keep it."), Listen(ANSWER_S, KEEP_ANSWERS)]


class NoteRecorder:
    """Collects a voice note frame by frame: ends after ``silence_end_s`` of silence following speech, at
    ``max_s``, or (empty) when nobody starts speaking within ``start_timeout_s``. Pure: frames in."""

    def __init__(self, max_s: float, silence_end_s: float = 3.0, start_timeout_s: float = 8.0) -> None:
        self.max_s = max_s
        self.silence_end_s = silence_end_s
        self.start_timeout_s = start_timeout_s
        self._chunks: list = []
        self._labels: dict[str, int] = {}
        self._seconds = 0.0
        self._speech_s = 0.0
        self._since_speech = 0.0
        self.done = False

    def process(self, samples, seconds: float, is_speech: bool, speaker: str | None) -> bool:
        """Add one frame; True once the note is complete."""
        if self.done:
            return True
        self._chunks.append(samples)
        self._seconds += seconds
        if is_speech:
            self._speech_s += seconds
            self._since_speech = 0.0
            if speaker:
                self._labels[speaker] = self._labels.get(speaker, 0) + 1
        else:
            self._since_speech += seconds
        ended = self._speech_s > 0 and self._since_speech >= self.silence_end_s
        never_started = self._speech_s == 0 and self._seconds >= self.start_timeout_s
        self.done = ended or never_started or self._seconds >= self.max_s
        return self.done

    @property
    def has_speech(self) -> bool:
        """At least a second of speech was recorded."""
        return self._speech_s >= 1.0

    def audio(self):
        """The note as one int16 array, without the trailing silence."""
        import numpy as np

        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        keep = len(audio) - int(max(0.0, self._since_speech - 0.5) * 16000)
        return audio[:max(0, keep)]

    def sender(self) -> str | None:
        """The partner heard most in the note, if the speaker model knew."""
        return max(self._labels, key=lambda label: self._labels[label]) if self._labels else None
