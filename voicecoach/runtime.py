"""The live runtime: the only place with threads, devices and the wall clock.

Data flows one way: frames (microphone or file) -> detection pipeline -> coach / check-in runner -> actions
(speak, listen for a command, store). The runtime feeds "I am speaking now" back as ``muted`` so the product
never hears its own voice: while it speaks, and for a short tail after, the detectors neither emit events nor
update baselines, and commands are listened for only after the prompt ends.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .actions import (DeleteNote, Finished, Listen, PlayNote, Record, RecordNote, Say, Snooze, StartCheckin,
                      StopSpeaking)
from .audio.frames import Frame
from .clock import Clock, MonotonicClock
from .coach import Coach, Mode
from .config import Config
from .errors import VoicecoachError
from .events import Command, Event, Interruption, PauseSuggested, RaisedVoice
from .notes_flow import NoteRecorder, NotesFlow, NoteSummary

log = logging.getLogger(__name__)

SELF_HEARING_TAIL_S = 0.6  # after the last sample played, the room echo and input latency settle
# Commands heard outside an answer window only when said on their own (not inside a partner's sentences):
TURN_COMMANDS = ("next", "more_time", "repeat", "skip", "stop", "help")
PAUSE_COMMANDS = ("more_time", "stop", "help")


@dataclass
class TalkSummary:
    """What happened during one talk (printed at the end, stored in the journal)."""

    seconds: float = 0.0
    raised: int = 0
    interruptions: int = 0
    suggestions: int = 0
    pauses: int = 0
    declined: int = 0
    checkins: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A gentle one-paragraph summary."""
        mins = self.seconds / 60.0
        parts = [f"Talk of {mins:.0f} min" if mins >= 1 else f"Talk of {self.seconds:.0f} s"]
        parts.append(f"{self.raised} raised-voice moment{'s' * (self.raised != 1)}")
        parts.append(f"{self.interruptions} interruption{'s' * (self.interruptions != 1)}")
        if self.suggestions:
            parts.append(f"pause offered {self.suggestions}x, taken {self.pauses}x")
        elif self.pauses:
            parts.append(f"{self.pauses} pause{'s' * (self.pauses != 1)} taken")
        if self.checkins:
            parts.append("check-ins: " + ", ".join(self.checkins))
        return "; ".join(parts) + ". Thank you for talking with care."


class Session:
    """One talk: steps frames through the pipeline and the policies, and carries out their actions."""

    def __init__(self, config: Config, pipeline: Any, speaker: Any, listener: Any = None, journal: Any = None,
                 clock: Clock | None = None, source_name: str = "listen",
                 runner_factory: Callable[[str], Any] | None = None,
                 on_line: Callable[[str], None] | None = None, notes: Any = None) -> None:
        self.config = config
        self.pipeline = pipeline
        self.speaker = speaker
        self.listener = listener
        self.journal = journal
        self.clock = clock or MonotonicClock()
        self.runner_factory = runner_factory
        self.source_name = source_name
        self.on_line = on_line or (lambda line: None)
        self.coach = Coach(config.pause, has_checkin=runner_factory is not None)
        self.runner: Any = None
        self.notes = notes  # voice-note storage (journal.notes.VoiceNotes) or None
        self.notes_flow = NotesFlow((config.partners.a_name, config.partners.b_name), config.journal.voice_notes,
                                    config.journal.note_max_s, wall=time.time)
        self._recording: NoteRecorder | None = None
        self._record_pending: RecordNote | None = None
        self.summary = TalkSummary()
        self.recent: list[str] = []
        self._keys: queue.Queue[str] = queue.Queue()
        self._listen: Listen | None = None
        self._listen_owner: Any = None
        self._listen_deadline: float | None = None
        self._listen_serial = 0
        self._listen_opened = 0.0
        self._last_frame_end = 0.0
        self._journal_ok = True
        self._talk_id = self._journal_call("start_talk", source_name, time.time())
        self._suggestion_id: int | None = None
        self._pause_id: int | None = None

    # --- inputs from other threads ---------------------------------------------------------------------------

    def submit_command(self, name: str, source: str = "keyboard") -> None:
        """Queue a command typed on the keyboard (thread-safe)."""
        self._keys.put(f"{source}:{name}")

    # --- the loop body ----------------------------------------------------------------------------------------

    def muted(self) -> bool:
        """True while the product speaks and for a short tail after (it must not hear itself)."""
        if self.speaker.is_speaking():
            return True
        last_end = self.speaker.last_end()
        return last_end > 0 and time.monotonic() - last_end < SELF_HEARING_TAIL_S

    def step(self, frame: Frame) -> list[Event]:
        """Process one frame: detection, commands, timers. Returns the detector events of this frame."""
        observe = getattr(self.clock, "observe", None)
        if observe is not None:
            observe(frame.end_s)  # an audio clock: timers follow the audio, not the wall
        muted = self.muted()
        events = self.pipeline.process(frame, muted=muted)
        self._last_frame_end = frame.end_s
        if self._record_pending is not None or self._recording is not None:
            self._record_note(frame, muted)
            events = []  # one partner speaking a note is not part of the talk
        for event in events:
            self._on_detection(event)
        if not muted and self.listener is not None:
            listening = self._listen_deadline is not None
            strict = () if listening else TURN_COMMANDS if self.runner is not None else \
                PAUSE_COMMANDS if self.coach.mode is Mode.PAUSING else ()
            for command in self.listener.process(frame, listening=listening, strict=strict):
                self._on_command(command)
        self._drain_keys(frame.end_s)
        self.tick()
        return events

    def tick(self) -> None:
        """Timers: pause cues, check-in turns, answer time-outs. Call often (every frame, or while waiting)."""
        now = self.clock.now()
        if self._listen is not None and self._listen_deadline is None and not self.speaker.busy() \
                and not self.muted():
            self._listen_deadline = now + self._listen.timeout_s  # the prompt has ended: listen from now
            self._listen_serial += 1
            self._listen_opened = now
            if self.listener is not None:
                self.listener.reset()
        if self._listen_deadline is not None and now >= self._listen_deadline:
            owner = self._listen_owner
            self._clear_listen()
            self._execute(owner.heard(None, now), owner)
        self._execute(self.coach.tick(now), self.coach)
        if self.runner is not None:
            self._execute(self.runner.tick(now), self.runner)

    def listen_window(self) -> tuple[int, float] | None:
        """(serial number, opening time) of the open answer window, or None when not waiting for an answer."""
        if self._listen_deadline is None:
            return None
        return self._listen_serial, self._listen_opened

    def _drain_keys(self, t: float) -> None:
        while True:
            try:
                item = self._keys.get_nowait()
            except queue.Empty:
                return
            source, name = item.split(":", 1)
            self._on_command(Command(t=t, name=name, text=name, source=source))

    def _on_detection(self, event: Event) -> None:
        now = self.clock.now()
        self._journal_call("add_event", self._talk_id, event)
        if isinstance(event, RaisedVoice):
            self.summary.raised += 1
        elif isinstance(event, Interruption):
            self.summary.interruptions += 1
        self._remember(event)
        if self.runner is not None:
            self._execute(self.runner.on_event(event, now), self.runner)
        elif not (isinstance(event, PauseSuggested) and self.coach.busy):
            self._execute(self.coach.on_event(event, now), self.coach)

    def _on_command(self, command: Command) -> None:
        now = self.clock.now()
        log.debug("heard %s (%s)", command.name, command.source)
        self._remember(command)
        if self._listen_deadline is not None or (self._listen is not None and command.source != "voice"):
            owner = self._listen_owner
            self._clear_listen()
            self._execute(owner.heard(command.name, now), owner)
        elif self.runner is not None:
            self._execute(self.runner.heard(command.name, now), self.runner)
        elif command.name in ("leave_note", "play_notes"):
            if not self.coach.busy and not self.notes_flow.active and self._recording is None:
                self._notes_command(command.name)
        else:
            self._execute(self.coach.on_event(command, now), self.coach)

    def _record_note(self, frame: Frame, muted: bool) -> None:
        """Collect a voice note once the prompt before it has ended; store it when it is complete."""
        if self._recording is None:
            if muted or self.speaker.busy():
                return
            self._recording = NoteRecorder(self._record_pending.max_s)
            self._record_pending = None
        last = self.pipeline.last
        if not self._recording.process(frame.samples, frame.duration_ms / 1000.0, bool(getattr(last, "is_speech", 0)),
                                       getattr(last, "speaker", None)):
            return
        recorder, self._recording = self._recording, None
        sender = recorder.sender() or "A"
        to = "B" if sender == "A" else "A"
        saved = False
        if recorder.has_speech and self.notes is not None:
            try:
                self.notes.save_note(recorder.audio(), sender, to, time.time())
                saved = True
            except VoicecoachError as exc:
                log.warning("voice note not saved: %s", exc)
        self._execute(self.notes_flow.recorded(to, saved), self.notes_flow)

    def _notes_command(self, name: str) -> None:
        if name == "leave_note":
            self._execute(self.notes_flow.leave(), self.notes_flow)
            return
        listener = getattr(self.pipeline.last, "speaker", None)  # who asked, if the voice model knows
        notes = []
        if self.notes is not None:
            try:
                notes = [NoteSummary(n.id, n.created_at, n.from_partner)
                         for n in self.notes.list_notes(to_partner=listener)]
            except VoicecoachError as exc:
                log.warning("voice notes unavailable: %s", exc)
        self._execute(self.notes_flow.play(notes), self.notes_flow)

    def _clear_listen(self) -> None:
        self._listen = None
        self._listen_owner = None
        self._listen_deadline = None

    # --- actions ----------------------------------------------------------------------------------------------

    def _execute(self, actions: Iterable[Any], owner: Any) -> None:
        for action in actions:
            if isinstance(action, Say):
                self.on_line(f"voicecoach: {action.text}")
                self.speaker.say(action.text)
            elif isinstance(action, Listen):
                self._listen, self._listen_owner, self._listen_deadline = action, owner, None
            elif isinstance(action, StopSpeaking):
                self.speaker.stop()
            elif isinstance(action, Snooze):
                self.pipeline.snooze(action.minutes, self._last_frame_end)
            elif isinstance(action, Record):
                self._record(action)
            elif isinstance(action, RecordNote):
                self._record_pending = action
            elif isinstance(action, PlayNote):
                self._play_note(action.note_id)
            elif isinstance(action, DeleteNote):
                self._journal_guarded(lambda: self.notes.delete_note(action.note_id))
            elif isinstance(action, StartCheckin):
                self._start_checkin(action.name, action.consented)
            elif isinstance(action, Finished):
                self._finished(action, owner)

    def _play_note(self, note_id: int) -> None:
        if self.notes is None:
            return
        audio = self._journal_guarded(lambda: self.notes.load_note(note_id))
        if audio is not None:
            self.speaker.play(audio, 16000, label="voice note")

    def _journal_guarded(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except VoicecoachError as exc:
            log.warning("voice notes: %s", exc)
            return None

    def start_checkin(self, name: str) -> None:
        """Begin a check-in script now (from the command line, the kiosk schedule or the coach)."""
        self._start_checkin(name)

    def _start_checkin(self, name: str, consented: bool = False) -> None:
        if self.runner_factory is None:
            self.speaker.say("Okay. Take your time.")
            return
        try:
            self.runner = self.runner_factory(name)
        except VoicecoachError as exc:
            log.warning("cannot start the %s check-in: %s", name, exc)
            self.speaker.say("Sorry, I can't start that check-in right now.")
            return
        self.summary.checkins.append(name)
        self._execute(self.runner.start(self.clock.now(), consented=consented), self.runner)

    def _finished(self, action: Finished, owner: Any) -> None:
        if owner is self.runner:
            self.runner = None
            if action.reason == "pause":
                self._execute(self.coach.heard("pause", self.clock.now()), self.coach)

    def _record(self, action: Record) -> None:
        now = time.time()
        data = action.data
        if action.kind == "suggestion":
            self.summary.suggestions += 1
            self._suggestion_id = self._journal_call("add_suggestion", self._talk_id, now, data.get("reason", ""))
        elif action.kind == "suggestion_answer":
            if data.get("answer") == "not_now":
                self.summary.declined += 1
            if self._suggestion_id is not None:
                self._journal_call("answer_suggestion", self._suggestion_id, data.get("answer"), now)
        elif action.kind == "pause":
            self.summary.pauses += 1
            self._pause_id = self._journal_call("add_pause", self._talk_id, now, data.get("planned_min", 0.0))
        elif action.kind == "pause_end" and self._pause_id is not None:
            self._journal_call("end_pause", self._pause_id, now, data.get("how", ""))
        elif action.kind == "checkin":
            minutes = float(data.get("minutes", 0.0))
            self._journal_call("add_checkin", data.get("name", ""), now - minutes * 60.0,
                               bool(data.get("completed")), minutes, self.source_name)

    def _journal_call(self, method: str, *args: Any) -> Any:
        if self.journal is None:
            return None
        try:
            return getattr(self.journal, method)(*args)
        except VoicecoachError as exc:
            if self._journal_ok:
                log.warning("journal unavailable, detection goes on without it: %s", exc)
            self._journal_ok = False
            return None

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
        """End the talk: flush the detectors, store the talk's figures, return the summary."""
        for event in self.pipeline.flush():
            self._on_detection(event)
        self.summary.seconds = self._last_frame_end
        stats = getattr(self.pipeline, "stats", None)
        figures = _stats_dict(stats()) if callable(stats) else {}
        self._journal_call("end_talk", self._talk_id, time.time(), figures)
        return self.summary


def _stats_dict(stats: Any) -> dict[str, Any]:
    if stats is None:
        return {}
    if hasattr(stats, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(stats)
    return dict(stats) if isinstance(stats, dict) else {}
