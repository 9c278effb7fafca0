"""One talk's rows in the journal, and its summary: typed events and records in, journal calls out.

:class:`TalkLog` stores each detector event and each :mod:`record <voicecoach.records>` with the journal method for
its type, closes a raised-voice event when its stretch ends, and keeps the counts for the summary printed at the
end. A talk in which no audio was heard and nothing was done (no pause, suggestion or check-in) is removed again
at its end: it is not counted. A journal that cannot be written is logged once per failure spell (again once it has
worked again and fails anew) and detection goes on without it; no journal at all (switched off) just counts.
Wall-clock times come from the injected ``wall`` function: the log never reads a clock. With ``steady`` (a clock
that counts suspend but is never set: :func:`voicecoach.clock.suspend_counting_clock`) a *setting* of the system
clock during the talk is seen (a Raspberry Pi has no clock of its own: it boots on its last saved time, hours or
days behind, and the network time then jumps it forward), and what the talk stored before it is moved by the step:
otherwise the talk was dated at the old time, its events (seconds of audio after that start) with it, and its
length counted the step.

Its calls wait for the disk: the live loop runs it on a writer thread (:class:`~voicecoach.journal.writer.TalkWriter`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from ..errors import VoicecoachError
from ..events import Event, Interruption, RaisedVoice
from ..records import (Answer, CheckinEnded, CheckinLater, CheckinOutcome, CheckinStarted, PauseEnded, PauseStarted,
                       Record, SuggestionAnswered, SuggestionMade)
from .schema import TalkFigures, TalkSource
from .store import Journal

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOCK_STEP_S = 2.0  # the wall clock moved this much more (or less) than the steady one: it was set
CLOSING = "Thank you for talking with care."
# a check-in's closing words by how it ended, in the runner's own words for that end (completed, or handed over to
# the agreed pause: the talk's own CLOSING)
CHECKIN_CLOSING = {
    CheckinOutcome.STOPPED: "Stopped at your word. Thank you both for the time.",
    CheckinOutcome.CUT_SHORT: "The check-in was cut short. It is there again whenever you're ready.",
    CheckinOutcome.DECLINED: "Not now, then. Another time.",
    CheckinOutcome.NO_ANSWER: "No answer, so it did not begin. Another time.",
    CheckinOutcome.LATER: "Another time, then.",
    CheckinOutcome.FAILED: "Sorry, the check-in could not go on.",
}


@dataclass
class TalkSummary:
    """What happened during one talk (printed at the end)."""

    seconds: float = 0.0
    raised: int = 0
    interruptions: int = 0
    suggestions: int = 0
    pauses: int = 0
    declined: int = 0
    checkins: list[str] = field(default_factory=list)
    counted: bool = True  # False: no audio arrived (no microphone came, or it stopped first) and nothing was done
                          # (no pause, suggestion or check-in): not stored as a talk
    # the talk is a check-in (``voicecoach checkin``): its closing words follow how the check-in ended
    checkin_talk: bool = False
    ended: CheckinOutcome | None = None  # how the latest check-in ended

    def count_event(self, event: Event) -> None:
        """Count a detector event (a raised voice, an interruption)."""
        if isinstance(event, RaisedVoice):
            self.raised += 1
        elif isinstance(event, Interruption):
            self.interruptions += 1

    def count_record(self, record: Record) -> None:
        """Count a policy's record (a suggestion, a "not now", a pause, a check-in)."""
        if isinstance(record, SuggestionMade):
            self.suggestions += 1
        elif isinstance(record, SuggestionAnswered):
            self.declined += record.answer is Answer.NOT_NOW
        elif isinstance(record, PauseStarted):
            self.pauses += 1
        elif isinstance(record, CheckinStarted):
            self.checkins.append(record.name)
        elif isinstance(record, CheckinEnded):
            self.ended = record.outcome

    def close(self, audio_s: float, suspended_s: float = 0.0) -> None:
        """The talk is over after ``audio_s`` seconds of audio, ``suspended_s`` of them the machine suspended (a
        laptop's lid closed: a gap in the microphone's frame stamps, no time together): whether it counts."""
        self.seconds = max(0.0, audio_s - suspended_s)
        # a microphone that never came is no talk, unless the couple used it anyway (a pause by key, a check-in)
        self.counted = audio_s > 0 or bool(self.suggestions or self.pauses or self.declined or self.checkins)

    def text(self) -> str:
        """A gentle one-paragraph summary."""
        if not self.counted:
            parts = ["Nothing was heard (no audio arrived), so this is not counted as a talk"]
        else:
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
        return "; ".join(parts) + (f". {self.closing()}" if self.counted else ".")

    def closing(self) -> str:
        """The last words: a check-in stopped, cut short or not begun is not thanked for "talking with care"."""
        if self.checkin_talk and self.ended is not None:
            return CHECKIN_CLOSING.get(self.ended, CLOSING)
        return CLOSING


class TalkLog:
    """Stores one talk as it happens; ``summary`` counts it."""

    def __init__(self, journal: Journal | None, source: TalkSource, wall: Callable[[], float],
                 on_trouble: Callable[[str], None] | None = None,
                 on_recovered: Callable[[str], None] | None = None,
                 steady: Callable[[], float] | None = None,
                 suspended: Callable[[], float] | None = None) -> None:
        self.journal = journal
        self.on_trouble = on_trouble or (lambda why: None)
        self.on_recovered = on_recovered or (lambda line: None)  # writes work again after a failure spell
        self.source = source
        self.wall = wall  # epoch seconds
        self.summary = TalkSummary(checkin_talk=source is TalkSource.CHECKIN)
        # a journal that could not be opened was said at its opening (app.open_journal): not said again here
        self._ok = journal is None or journal.usable
        self._said = False  # the failure under way was logged here (so is its end; the journal says its own)
        self._generation = journal.generation if journal is not None else 0
        self._steady = steady
        self._started_at = wall()
        self._steady_at_start = steady() if steady is not None else 0.0
        self._suspended = suspended  # seconds the machine has spent suspended (None: a replay, a fake clock)
        self._suspended_at_start = suspended() if suspended is not None else 0.0
        self._talk_id = self._write(lambda j: j.start_talk(source, self._started_at))
        self._suggestion_id: int | None = None
        self._pause_id: int | None = None
        self._ask_again: dict[str, CheckinLater] = {}  # "ask again later" accepted, before the check-in's end
        self.open_raised: dict[str, int | None] = {}  # speaker -> stored raised-voice event whose stretch goes on

    def _write(self, call: Callable[[Journal], T]) -> T | None:
        """Run one journal call; a failure is logged (once per spell: until a call works again) and detection goes
        on."""
        if self.journal is None:
            return None
        try:
            result = call(self.journal)
        except VoicecoachError as exc:
            if self._ok:
                log.warning("journal unavailable, detection goes on without it: %s", exc)
                self._ok, self._said = False, True
                self.on_trouble(str(exc))
            return None
        if not self._ok:
            self._back(f"journal {self.journal.path}: writing again")
        return result

    def _back(self, line: str) -> None:
        """Writes work again after a failure spell: ``on_recovered`` is told once (the live view, the page), the
        line logged if the failure was logged here (the journal logs its own comeback: "it can be now"), and the
        journal's next failure is said again."""
        self._ok = True
        if self._said:  # as visible as the failure's warning: one who saw "cannot write" (even --quiet) sees this
            log.warning("%s", line)
        self._said = False
        self.on_recovered(line)

    def follow(self) -> None:
        """Write to the journal file at the journal's path from now on (see :meth:`Journal.follow_path`): one moved
        away, replaced or copied over since is let go, never written again. When the file there does not hold this
        talk (another journal, a backup, a new one), the talk goes on as a new talk row there: the ids of the old
        file's rows (an open suggestion, pause or raised voice) are not used in it. Called before every write, and by
        the live loop about once a second so the page never shows a file that is no longer the journal."""
        journal = self.journal
        if journal is None:
            return
        talk = self._talk_id
        journal.follow_path(now=self.wall(), open_talk=None if talk is None else (talk, self.source.value,
                                                                                 self._started_at))
        if journal.generation == self._generation or not journal.usable:
            self._follow_clock()
            return  # the same file; or none to write to: this talk is looked for again once there is one
        self._generation = journal.generation
        if talk is not None and self._write(lambda j: j.talk_is(talk, self.source, self._started_at)):
            self._follow_clock()
            return  # the same file after all (rewritten in place by another voicecoach): the talk goes on in it
        self._started_at = self.wall()
        self._steady_at_start = self._steady() if self._steady is not None else 0.0
        self._suspended_at_start = self._suspended() if self._suspended is not None else 0.0
        self._talk_id = self._write(lambda j: j.start_talk(self.source, self._started_at))
        self._suggestion_id = self._pause_id = None
        self.open_raised = {speaker: None for speaker in self.open_raised}
        if self._talk_id is not None:  # (a journal that works again was said by _write)
            log.info("journal %s: this talk goes on there as talk %d", journal.path, self._talk_id)

    def _follow_clock(self) -> None:
        """The system clock was set since the talk began (the wall clock moved :data:`CLOCK_STEP_S` more or less
        than the steady one): the talk's start and the times stored with it are moved by the step, once."""
        talk = self._talk_id
        if self._steady is None or talk is None:
            return
        step = self.wall() - (self._started_at + self._steady() - self._steady_at_start)
        if abs(step) < CLOCK_STEP_S:
            return
        if self._write(lambda j: j.clock_was_set(talk, step)) is None:
            return  # not stored: the same step is tried again at the next write
        self._started_at += step
        log.info("the system clock was set by %+.0f s during this talk: its start and times moved with it", step)

    def event(self, event: Event) -> None:
        """A detector event: stored (a raised voice stays open until :meth:`raised_ended`) and counted."""
        self.follow()
        talk = self._talk_id
        stored = self._write(lambda j: j.add_event(talk, event)) if talk is not None else None
        self.summary.count_event(event)
        if isinstance(event, RaisedVoice) and event.speaker is not None and event.end is None:
            self.open_raised[event.speaker] = stored

    def raised_ended(self, speaker: str, end_s: float) -> None:
        """``speaker``'s raised stretch ended at ``end_s`` (seconds of audio): close its stored event."""
        self.follow()
        event_id = self.open_raised.pop(speaker, None)
        if event_id is not None:
            self._write(lambda j: j.end_event(event_id, end_s))

    def record(self, record: Record) -> None:
        """A policy's record: stored in its table and counted."""
        self.follow()
        now = self.wall()
        talk = self._talk_id
        self.summary.count_record(record)
        if isinstance(record, SuggestionMade):
            self._suggestion_id = self._write(lambda j: j.add_suggestion(talk, now, record.reason))
        elif isinstance(record, SuggestionAnswered):
            suggestion = self._suggestion_id
            if suggestion is not None:
                self._write(lambda j: j.answer_suggestion(suggestion, record.answer, now))
        elif isinstance(record, PauseStarted):
            self._pause_id = self._write(lambda j: j.add_pause(talk, now, record.planned_min))
        elif isinstance(record, PauseEnded):
            pause, self._pause_id = self._pause_id, None
            if pause is not None:
                self._write(lambda j: j.end_pause(pause, now, record.how))
        elif isinstance(record, CheckinEnded):
            ask_again_at = self._ask_again_at(record, now)
            self._write(lambda j: j.add_checkin(record.name, now - record.minutes * 60.0, record.completed,
                                                record.minutes, self.source, ask_again_at))
        elif isinstance(record, CheckinLater):
            log.debug("check-in %s: ask again later: %s", record.name, record.accepted)
            if record.accepted:
                self._ask_again[record.name] = record
            else:
                self._ask_again.pop(record.name, None)

    def _ask_again_at(self, ended: CheckinEnded, now: float) -> float | None:
        """When the kiosk promised to ask again for a check-in that ended declined "until later" (the
        :class:`CheckinLater` accepted just before its end), as wall time; None for any other end."""
        later = self._ask_again.pop(ended.name, None)
        if later is None or ended.outcome is not CheckinOutcome.LATER:
            return None
        return now + later.after_min * 60.0

    def end(self, figures: TalkFigures | None, audio_s: float, end_s: float) -> TalkSummary:
        """The talk is over: raised stretches still open end at ``end_s``; the talk row gets its figures."""
        self.follow()
        for speaker in list(self.open_raised):
            self.raised_ended(speaker, end_s)
        done = self.summary
        asleep = self.suspended_s()
        done.close(audio_s, asleep)
        talk = self._talk_id
        if talk is not None and not done.counted:  # its wall time is no time together
            self._write(lambda j: j.discard_talk(talk))
        elif talk is not None:
            self._write(lambda j: j.end_talk(talk, self.wall(), figures, audio_s, asleep))
        return self.summary

    def suspended_s(self) -> float:
        """Seconds the machine has spent suspended since the talk began (its row began: see :meth:`follow`)."""
        return self._suspended() - self._suspended_at_start if self._suspended is not None else 0.0

    def close(self) -> bool:
        """Nothing is left to write (every call wrote before it returned): True."""
        return True
