"""The router: a pure policy deciding who gets each command, detector event and time-out.

Four parties can be talking with the couple: an open answer window (whoever asked the question), the check-in
runner, the voice-notes flow and the coach. The router decides which one hears what, keeps the answer window
(opened when the question has been spoken, closed by an answer or its time-out), starts and ends check-ins, and
says what the recognizer should listen for right now (:attr:`Router.hearing`). It takes ``now`` from its caller
and never reads a clock, touches a device or sleeps: tests drive it with a fake clock. The runtime carries out
the effects it returns (speak, store, record a note).

Routing rules, in order:

* an answer window is open (or a question is pending and the answer was typed, clapped or sent from the page):
  its asker gets the answer. The double clap means one thing at each prompt (:meth:`Router.clap_means`), as the
  prompt says while only the clap is heard: what the open question says it answers (``Listen.clap``: "yes" to
  every question; at a choice whose prompt was worded for the clap alone, the option it names (the first that
  silence does not leave); the pause just after a check-in's reminder of it); "next" in a check-in's timed step
  (done: go on); "pause" anywhere else;
* a check-in is running: the runner gets every command and every detector event (a pause suggestion it says
  nothing about, its one reminder given or its consent not yet asked, is withheld; its one reminder of the pause is
  an offer of the pause, counted as one: a suggestion made, answered yes when the check-in hands over to the pause;
  in the kiosk's quiet hours it gets no raised voice or suggestion, so that reminder is held back like the coach's);
* "leave a note" / "play my notes": the voice-notes flow, when nothing else is under way ("play my notes" heard
  by voice is asked about before a note plays: it may be a mishearing);
* a command an extension answers (:meth:`voicecoach.runtime_live.Live.on_command`): that extension, and only when
  nothing else is under way;
* otherwise the coach: commands ("pause" at any time) and detector events (a suggestion is offered only when the
  coach is free and suggestions are not held back, e.g. in the kiosk's quiet hours).

A policy that fails (a bug, a broken script) is logged with its traceback; a check-in is then ended and recorded
as failed, the coach starts afresh, and the loop goes on: nothing a policy does can stop the product.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from .actions import Action, DeleteNote, Listen, PlayNote, RecordNote, Say, Snooze, StartCheckin, StopSpeaking
from .checkin.runner import TURN_COMMANDS, ScriptRunner
from .coach import DURING_PAUSE, Coach, Mode
from .commands import Command, Hearing, Reply, Source
from .errors import VoicecoachError
from .events import Event, Heard, PauseSuggested, RaisedVoice
from .notes_flow import NotesFlow, NoteSummary
from .records import RECORD_TYPES, Answer, CheckinEnded, CheckinOutcome, Record, SuggestionAnswered, SuggestionMade

log = logging.getLogger(__name__)

NOTE_COMMANDS = frozenset({Command.LEAVE_NOTE, Command.PLAY_NOTES})
# in the grammar between questions whether or not they act (listen acts on the pause alone): with only the pause
# phrases and the model's unknown word to fall on, the Korean model heard English talk as the pause said on its own 54
# times in 19 minutes, with these 11; the pause in rooms 242 -> 183 of 294 (scripts/measure_false_commands.py,
# scripts/measure_pause_rooms.py). With every command's phrases: 4, but 120 of 294.
BETWEEN_QUESTIONS = frozenset({Command.PAUSE, Command.LEAVE_NOTE, Command.PLAY_NOTES, Command.PAIRING_CODE})
AT_ONCE = frozenset({Command.NOT_NOW})  # heard from a partial inside other words too: a refusal is honoured at once
STILL_FINDING = "One moment, I'm still looking for your notes."  # "play my notes" again while they are looked up
# An answer said in the last moments of its window is decided by the recognizer up to about 0.8 s after its sound
# ends (more when the recognizer's thread is behind): the time-out waits for it this long at most.
ANSWER_LATE_S = 2.0


@dataclass(frozen=True)
class FindNotes:
    """Effect: look up the voice notes waiting for whoever asked, and pass them to :meth:`Router.notes_found`."""


@dataclass(frozen=True)
class Withheld:
    """Effect: a pause suggestion was not offered (``why``: the kiosk's quiet hours, a pause or check-in under way).

    Nobody heard it, so it is not stored, shown or counted as a suggestion made."""

    event: PauseSuggested
    why: str


@dataclass(frozen=True)
class AnswerElsewhere:
    """Effect: a command an extension answers (the home page's "pairing code"); the runtime asks it and speaks."""

    command: Command


Effect = (Say | StopSpeaking | Snooze | RecordNote | PlayNote | DeleteNote | FindNotes | AnswerElsewhere | Withheld
          | Record)
"""What the router asks the runtime to carry out."""


class Asker(Protocol):
    """A policy that asks questions: it gets the answer (or None: silence) with ``heard``."""

    def heard(self, reply: Reply | None, now: float) -> Sequence[Action]:
        """The answer to its question."""
        ...


@dataclass
class _Window:
    asker: Asker
    listen: Listen
    opened_at: float | None = None  # None while the question is still being spoken
    serial: int = 0


class Router:
    """Routes commands, events and time-outs to the coach, the check-in runner, the notes flow or a question."""

    def __init__(self, coach: Coach, notes: NotesFlow, checkins: Callable[[str], ScriptRunner] | None = None,
                 anytime: frozenset[Command] = frozenset({Command.PAUSE})) -> None:
        self.coach = coach
        self.notes = notes
        self.checkins = checkins  # builds a runner for a script name; None: no check-ins in this build
        self.anytime = anytime
        self.runner: ScriptRunner | None = None
        self.hold_suggestions = False  # the kiosk's quiet hours: detector suggestions are not offered
        # False: a check-in begun now does not ask "Shall I ask again?" after "not now" (the kiosk could not keep
        # that promise: the time would fall in its quiet hours)
        self.offer_later = True
        # the couple's "not now" (or silence twice, or the way back from a pause) asked for quiet until then (the
        # caller's clock): the detectors hold their suggestions, a check-in its reminder of the pause, the kiosk
        # its rituals ("I'll stay quiet for 15 minutes")
        self.quiet_until = float("-inf")
        self.held = 0  # suggestions held back so far
        self.problem = ""  # why the latest check-in could not start
        self.answered_elsewhere: frozenset[Command] = frozenset()  # commands an extension answers, when idle
        # the latest choice was said for the clap alone (no speech model; the runtime says): a clap then picks the
        # option its words named (``Listen.clap_alone``), not yes to the one offered
        self.clap_worded = False
        self._window: _Window | None = None
        self._serial = 0
        self._note_pending = False
        self._finding = False  # "play my notes" asked, the lookup (on the notes' thread) not yet answered
        self._ask_first = False  # ... and it was heard by voice: "Shall I play them?" before any note plays
        self._reminded = False  # the running check-in offered the pause (its one reminder): not yet answered

    # --- inputs ---------------------------------------------------------------------------------------------

    def on_detection(self, event: Event, now: float) -> list[Effect]:
        """A detector event (raised voice, interruption, pause suggestion)."""
        if self.runner is not None:
            if now < self.quiet_until and isinstance(event, RaisedVoice):
                return []  # no reminder of the pause while the couple's "not now" to it holds
            if self.hold_suggestions and isinstance(event, (PauseSuggested, RaisedVoice)):
                # quiet hours: the check-in's reminder of the pause is a suggestion of it, held back as the coach's
                # is (it was spoken at night when the check-in began before them); the check-in itself goes on
                if isinstance(event, RaisedVoice):
                    return []
                self.held += 1
                return [Withheld(event, "quiet hours")]
            runner = self.runner
            effects = self._ask(runner, lambda: runner.on_event(event, now), now)
            said = any(isinstance(e, Say) for e in effects)
            if isinstance(event, PauseSuggested) and not said:
                # the check-in said nothing of a pause (its one reminder given, consent not yet asked, reminders
                # off): nobody was offered one, so it must not be stored or counted as a pause suggestion
                return [*effects, Withheld(event, "a check-in is running")]
            if said and isinstance(event, (PauseSuggested, RaisedVoice)) and self.runner is runner:
                # its one reminder of the pause: an offer of the pause like the coach's, so counted as one (it was
                # not: the summary, the report and the home's "pauses suggested" missed it, and the pause taken
                # after it counted as taken unoffered)
                self._reminded = True
                reason = event.reason if isinstance(event, PauseSuggested) else "a raised voice during a check-in"
                return [SuggestionMade(reason, event.t), *effects]
            return effects
        if isinstance(event, PauseSuggested):
            why = self._why_withheld()
            if why:
                if self.hold_suggestions:
                    self.held += 1
                return [Withheld(event, why)]
        return self._ask(self.coach, lambda: self.coach.on_event(event, now), now)

    def _why_withheld(self) -> str:
        """Why a pause suggestion cannot be offered now ("" when it can)."""
        if self.hold_suggestions:
            return "quiet hours"
        if self.coach.busy:
            return {Mode.OFFERING: "a question is open", Mode.PAUSING: "the pause is running",
                    Mode.WELCOMING: "a question is open"}.get(self.coach.mode, "busy")
        if self.notes.active or self._note_pending or self._finding:
            return "a voice note is under way"
        return ""

    def on_heard(self, heard: Heard, now: float) -> list[Effect]:
        """A command (or a question's own choice) heard from the couple."""
        reply: Reply = heard.reply
        if reply in self.answered_elsewhere:  # never in the middle of a pause, a question or a check-in
            return [AnswerElsewhere(reply)] if self.idle and isinstance(reply, Command) else []
        if heard.source is Source.CLAP:
            reply = self.clap_means
        window = self._window
        if window is not None and (window.opened_at is not None or heard.source is not Source.VOICE):
            self._window = None
            if window.asker is self.notes and reply is Command.PAUSE:
                # the pause at any time: a voice note's question took "pause" for "keep it" (or "not now") and
                # played the next note; now the notes wait, every one kept, and the pause begins
                self.notes.set_aside()
                return self._ask(self.coach, lambda: self.coach.heard(Command.PAUSE, now, unprompted=True), now)
            return self._ask(window.asker, lambda: window.asker.heard(reply, now), now)
        if self.runner is not None:
            runner = self.runner
            return self._ask(runner, lambda: runner.heard(reply, now), now)
        if reply in NOTE_COMMANDS:
            if self.coach.busy or self.notes.active or self._note_pending:
                return []
            if self._finding:  # one lookup at a time: a second one would play every note twice
                return [Say(STILL_FINDING)] if reply is Command.PLAY_NOTES else []
            if reply is Command.PLAY_NOTES:
                # heard in the talk, it may be a mishearing: the notes flow asks before playing a private note aloud
                self._finding, self._ask_first = True, heard.source is Source.VOICE
                return [FindNotes()]
            return self._ask(self.notes, self.notes.leave, now)
        if isinstance(reply, Command):
            # "help" heard in the talk is a word of it, but the h key (or a typed "help") is asked for: answered
            # (it did nothing outside a question, though every key line lists "h help")
            asked = reply is Command.HELP and heard.source is not Source.VOICE
            return self._ask(self.coach, lambda: self.coach.heard(reply, now, unprompted=not asked), now)
        return []

    def tick(self, now: float, prompt_done: bool, answer_forming: bool = False) -> list[Effect]:
        """Time passes. ``prompt_done``: nothing is being said (a pending question's window opens now).

        ``answer_forming``: audio heard inside the open window may still give its answer (the recognizer has not
        yet caught up with it, or is half-way through a phrase): the window's time-out waits for it, at most
        ``ANSWER_LATE_S`` more, so an answer said in time is heard even if the recognizer decides it late."""
        out: list[Effect] = []
        window = self._window
        if window is not None and window.opened_at is None and prompt_done:
            self._serial += 1
            window.opened_at, window.serial = now, self._serial
        if window is not None and window.opened_at is not None and self._timed_out(window, now, answer_forming):
            self._window = None
            out += self._ask(window.asker, lambda: window.asker.heard(None, now), now)
        out += self._ask(self.coach, lambda: self.coach.tick(now), now)
        if self.runner is not None:
            runner = self.runner
            out += self._ask(runner, lambda: runner.tick(now), now)
        return out

    @staticmethod
    def _timed_out(window: _Window, now: float, answer_forming: bool) -> bool:
        """The window's time is up (and, if an answer is forming, the longest wait for it is over too)."""
        assert window.opened_at is not None
        ends = window.opened_at + window.listen.timeout_s
        return now >= ends + ANSWER_LATE_S if answer_forming else now >= ends

    def start_checkin(self, name: str, now: float, consented: bool = False) -> list[Effect]:
        """Begin a check-in script now (from the command line, the kiosk schedule or the coach)."""
        if self.checkins is None:
            return [Say("Okay. Take your time.")]
        if self.runner is not None:
            log.info("a check-in is already running; not starting %s", name)
            return []
        try:
            runner = self.checkins(name)
        except VoicecoachError as exc:
            log.warning("cannot start the %s check-in: %s", name, exc)
            self.problem = str(exc)
            return [Say("Sorry, I can't start that check-in right now.")]
        runner.offer_later = runner.offer_later and self.offer_later
        self.runner, self._reminded = runner, False
        return self._ask(runner, lambda: runner.start(now, consented=consented), now)

    def notes_found(self, notes: Sequence[NoteSummary], now: float) -> list[Effect]:
        """The notes waiting for whoever said "play my notes" (after :class:`FindNotes`); not played if the couple
        asked for the pause (or a check-in began) while they were looked up: they ask again when they want them.
        Heard by voice, the notes flow asks "Shall I play them?" first (:meth:`NotesFlow.offer`)."""
        self._finding = False
        if self.coach.busy or self.runner is not None:
            log.info("the notes were found while the pause or a check-in was under way: not played now")
            return []
        play = self.notes.offer if self._ask_first else self.notes.play
        return self._ask(self.notes, lambda: play(notes), now)

    def note_recorded(self, to_partner: str | None, saved: bool, now: float) -> list[Effect]:
        """The runtime finished recording a voice note (``saved`` False: nothing said, or not stored)."""
        self._note_pending = False
        return self._ask(self.notes, lambda: self.notes.recorded(to_partner, saved), now)

    def note_played(self, note_id: int, ok: bool, now: float) -> list[Effect]:
        """The runtime played a voice note to its end (``ok`` False: it could not be loaded, or its playback
        failed part-way)."""
        return self._ask(self.notes, lambda: self.notes.played(note_id, ok), now)

    def note_stopped(self, note_id: int, now: float) -> list[Effect]:
        """A voice note's playback was stopped (a pause began, the program is closing)."""
        return self._ask(self.notes, lambda: self.notes.stopped(note_id), now)

    def close(self, now: float) -> list[Effect]:
        """The program is stopping: a running check-in and pause end, recorded as cut short. Records only."""
        out: list[Effect] = []
        if self.runner is not None:
            out += [a for a in self.runner.close(now) if isinstance(a, RECORD_TYPES)]
            out += self._reminder_answered(Answer.NO_ANSWER)
            self.runner = None
        out += [a for a in self.coach.close(now) if isinstance(a, RECORD_TYPES)]
        self._window = None
        return out

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def hearing(self) -> Hearing:
        """What the recognizer should listen for now."""
        window = self._window
        if window is not None and window.opened_at is not None:
            # an answer, too, counts only said on its own, but "not now" at once: talk going on over an open
            # question was heard as "yes" or "pause" (the pause started unasked) in 48 of 97 8-second windows of
            # the corpus's readers, said on its own in 7 (scripts/measure_false_commands.py --question)
            # A check-in's own choices too: talk over "Now, or tomorrow?" picked one in 8 of 97 windows
            # (scripts/measure_false_commands.py --choice), and "now" takes the couple back to the topic unasked
            heard = window.listen.commands | self.anytime
            return Hearing(window.serial, heard, window.listen.options, heard - AT_ONCE, strict_options=True)
        if self.runner is not None:
            strict = TURN_COMMANDS
        elif self.coach.mode is Mode.PAUSING:
            strict = DURING_PAUSE
        else:
            strict = frozenset()
        # a command nobody asked for counts only when said on its own: heard in the middle of talk, the Korean model
        # took English talk for the pause 100 times in 19 minutes, on its own 9 (scripts/measure_false_commands.py)
        acting = strict | self.anytime
        return Hearing(0, self.anytime, (), acting, BETWEEN_QUESTIONS - acting)

    @property
    def clap_means(self) -> Reply:
        """What the agreed double clap means now: the open (or pending) question's answer to it (yes; at a choice
        worded for the clap alone, the option its words name; the pause just after a check-in's reminder of it),
        a running check-in's ("next" in a timed step), else the pause."""
        if self._window is not None:
            listen = self._window.listen
            return listen.clap_alone if self.clap_worded and listen.clap_alone is not None else listen.clap
        if self.runner is not None:
            return self.runner.clap_means
        return Command.PAUSE

    @property
    def window(self) -> tuple[int, float] | None:
        """(number, opening time) of the open answer window, or None when no answer is awaited."""
        window = self._window
        if window is None or window.opened_at is None:
            return None
        return window.serial, window.opened_at

    @property
    def idle(self) -> bool:
        """True when nothing is under way: no question, check-in, pause or voice note."""
        return (self._window is None and self.runner is None and not self.coach.busy and not self.notes.active
                and not self._note_pending and not self._finding)

    # --- routing the policies' actions -----------------------------------------------------------------------

    def _ask(self, asker: Asker, call: Callable[[], Sequence[Action]], now: float) -> list[Effect]:
        """Call a policy (guarded), keep the routing actions, pass on the effects; notice a check-in's end."""
        try:
            actions = list(call())
        except Exception:  # noqa: BLE001 - a policy's bug must not stop the loop: log it, end that activity
            log.exception("%s failed; it is stopped and the rest goes on", type(asker).__name__)
            actions = self._failed(asker, now)
        out: list[Effect] = []
        for action in actions:
            if isinstance(action, Listen):
                self._window = _Window(asker, action)  # a new question replaces an older one
            elif isinstance(action, StartCheckin):
                out += self.start_checkin(action.name, now, action.consented)
            else:
                if isinstance(action, RecordNote):
                    self._note_pending = True
                out.append(action)
        runner = self.runner
        if asker is runner and runner is not None and runner.done:
            self.runner = None
            if self._window is not None and self._window.asker is runner:
                self._window = None
            ended = next((a for a in actions if isinstance(a, CheckinEnded)), None)
            took = ended is not None and ended.outcome is CheckinOutcome.PAUSE
            out += self._reminder_answered(Answer.YES if took else Answer.NO_ANSWER)
            if took:  # the runner handed over to the pause
                out += self._ask(self.coach, lambda: self.coach.heard(Command.PAUSE, now, unprompted=True), now)
        return out

    def _reminder_answered(self, answer: Answer) -> list[Effect]:
        """The answer to the check-in's reminder of the pause, once the check-in is over (none if it gave none)."""
        if not self._reminded:
            return []
        self._reminded = False
        return [SuggestionAnswered(answer)]

    def _failed(self, asker: Asker, now: float) -> list[Action]:
        if self._window is not None and self._window.asker is asker:
            self._window = None
        if asker is self.runner and self.runner is not None:
            try:
                return list(self.runner.fail(now))
            except Exception:  # noqa: BLE001 - the runner is beyond repair: record the failure ourselves
                runner, self.runner = self.runner, None
                runner.done = True
                return [CheckinEnded(runner.script.name, CheckinOutcome.FAILED, runner.steps_done,
                                     len(runner.script.plan), 0.0)]
        if asker is self.coach:
            self.coach.reset()
        return [Say("Sorry, something went wrong. I'm listening again.")]
