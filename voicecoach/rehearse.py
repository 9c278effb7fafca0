"""Rehearse a check-in offline: a scripted list of answers, a fake clock, every prompt rendered to one WAV.

A ten-minute ritual runs in seconds and produces the exact audio a couple would hear, with the silences where
they would talk. Used by ``voicecoach checkin NAME --answers ... --to FILE.wav`` and by the tests.

Answers are command names (``yes``, ``not_now``, ``next``, ``repeat``, ``more_time``, ``skip``, ``pause``,
``stop``, ``help``), ``-`` for silence, or ``!interrupt`` / ``!raised`` to inject a detector event (the listener
interrupting, a raised voice) at that point.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import NDArray

from .actions import Listen, Say
from .audio.frames import SAMPLE_RATE, resample
from .checkin.runner import Phase, ScriptRunner
from .clock import FakeClock
from .commands import Command, Option, Source, parse_reply
from .errors import InputError
from .events import Interruption, RaisedVoice
from .records import RECORD_TYPES, CheckinEnded, Record

if TYPE_CHECKING:
    from .runtime_live import Live

log = logging.getLogger(__name__)

ANSWER_DELAY_S = 1.5  # how long a person takes to answer
TALK_S = 20.0  # during a timed turn, a scripted command ("next", "more_time", ...) comes after this much talk
GAP_AFTER_SPEECH_S = 0.3


EVENTS = ("!interrupt", "!raised")  # detector events a rehearsal can inject
ANSWER_COMMANDS = ("yes", "not_now", "next", "repeat", "more_time", "skip", "pause", "stop", "help")
"""The commands a check-in listens for, as scripted answers are written (``okay``, ``no`` and the like work too)."""


def check_answers(answers: list[str], choices: frozenset[str] | None) -> None:
    """Refuse the first scripted answer a check-in could not take, before anything runs: one line that lists the
    answers allowed (``choices``: the script's own, as :meth:`ScriptRunner.choices` gives them; None: any word)."""
    allowed = {Command.named(c) for c in ANSWER_COMMANDS}
    for answer in answers:
        if answer.startswith("!"):
            if answer in EVENTS:
                continue
        else:
            reply = parse_reply(answer)
            if reply is None or reply in allowed:
                continue
            if isinstance(reply, Option) and (choices is None or reply.text in choices):
                continue
        own = f"; this script's choices: {', '.join(sorted(choices))}" if choices else ""
        raise InputError(f"--answers: {answer!r} is not an answer a check-in takes (use {', '.join(ANSWER_COMMANDS)}, "
                         f"- for silence, or {' / '.join(EVENTS)} for an event{own}; separate them with commas)")


@dataclass
class Rehearsal:
    """What a rehearsal produced."""

    lines: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    duration_s: float = 0.0
    finished: str = ""
    audio: NDArray[np.int16] | None = None


def _render_16k(render: Callable[[str], tuple[NDArray[np.int16], int]], text: str) -> NDArray[np.int16]:
    audio, rate = render(text)
    if rate != SAMPLE_RATE:
        audio = np.clip(np.round(resample(audio, rate)), -32768, 32767).astype(np.int16)
    return audio


def rehearse(runner: ScriptRunner, answers: list[str],
             render: Callable[[str], tuple[NDArray[np.int16], int]] | None = None,
             clock: FakeClock | None = None, max_s: float = 4 * 3600.0,
             on_line: Callable[[str], None] | None = None) -> Rehearsal:
    """Drive ``runner`` to its end; returns the transcript, the records and (with ``render``) the audio."""
    clock = clock or FakeClock()
    out = Rehearsal()
    pieces: list[tuple[float, NDArray[np.int16]]] = []
    queue = list(answers)
    emit = on_line or (lambda line: None)

    def line(text: str) -> None:
        out.lines.append(f"{clock.now():7.1f}s {text}")
        emit(out.lines[-1])

    pending = list(runner.start(clock.now()))
    phase, since = None, 0.0
    while (pending or not getattr(runner, "done", False)) and clock.now() < max_s:
        if not pending:
            clock.advance(1.0)
            state = getattr(runner, "state", None)
            if getattr(state, "phase", None) != phase:
                phase, since = getattr(state, "phase", None), clock.now()
            if queue and queue[0].startswith("!"):  # an event during a turn
                pending.extend(_inject(runner, queue.pop(0), clock, line))
            elif queue and phase is Phase.TIMER and clock.now() - since >= TALK_S:
                answer = queue.pop(0)
                line(f"couple: {answer.replace('_', ' ')}")
                pending.extend(runner.heard(parse_reply(answer), clock.now()))
                phase = None
            pending.extend(runner.tick(clock.now()))
            continue
        action = pending.pop(0)
        if isinstance(action, Say):
            line(f"voicecoach: {action.text}")
            seconds = 0.07 * len(action.text.split()) * 6  # ~170 words per minute when not rendered
            if render is not None:
                audio = _render_16k(render, action.text)
                pieces.append((clock.now(), audio))
                seconds = len(audio) / SAMPLE_RATE
            clock.advance(seconds + GAP_AFTER_SPEECH_S)
        elif isinstance(action, Listen):
            pending.extend(_answer(runner, queue, action, clock, line))
        elif isinstance(action, RECORD_TYPES):
            out.records.append(action)
            if isinstance(action, CheckinEnded):
                out.finished = action.outcome.value
                line(f"(finished: {action.outcome.value})")
        pending.extend(runner.tick(clock.now()))
    out.duration_s = clock.now()
    if render is not None:
        out.audio = _mix(pieces, out.duration_s)
    return out


def _answer(runner: ScriptRunner, queue: list[str], action: Listen, clock: FakeClock,
            line: Callable[[str], None]) -> list:
    actions: list = []
    while queue and queue[0].startswith("!"):
        actions.extend(_inject(runner, queue.pop(0), clock, line))
    answer = queue.pop(0) if queue else "-"
    if answer == "-":
        clock.advance(action.timeout_s)
        line("(silence)")
        return actions + list(runner.heard(None, clock.now()))
    clock.advance(ANSWER_DELAY_S)
    line(f"couple: {answer.replace('_', ' ')}")
    return actions + list(runner.heard(parse_reply(answer), clock.now()))


def _inject(runner: ScriptRunner, token: str, clock: FakeClock, line: Callable[[str], None]) -> list:
    """Feed the runner a detector event: the current listener interrupts, or raises their voice."""
    state = getattr(runner, "state", None)
    speaker = getattr(state, "speaker", None) or "A"
    listener = "B" if speaker == "A" else "A"
    now = clock.now()
    event = (Interruption(t=now, start=now - 0.5, speaker=listener, over=speaker) if token == "!interrupt"
             else RaisedVoice(t=now, start=now - 1.0, speaker=listener))
    line(f"({event.type} by {listener})")
    return list(runner.on_event(event, now))


def _mix(pieces: list[tuple[float, NDArray[np.int16]]], duration_s: float) -> NDArray[np.int16]:
    total = int(duration_s * SAMPLE_RATE) + 1
    for start, audio in pieces:
        total = max(total, int(start * SAMPLE_RATE) + len(audio))
    out = np.zeros(total, dtype=np.int16)
    for start, audio in pieces:
        i = int(start * SAMPLE_RATE)
        out[i:i + len(audio)] = audio
    return out


class ScriptedAnswers:
    """Answers a live loop from a list, as a couple would: each answer window gets the next answer after
    ``delay_s``; during a timed turn, the next answer comes after ``talk_s`` of "talk" (e.g. "next").

    ``on_out()`` is called once, on the loop thread, when an answer is due and the list is used up (a live
    check-in would otherwise wait out every turn in real time with nobody to answer)."""

    def __init__(self, answers: list[str], delay_s: float = 1.0, talk_s: float = 3.0,
                 on_answer: Callable[[str], None] | None = None,
                 on_out: Callable[[], None] | None = None) -> None:
        self.answers = [a for a in answers if not a.startswith("!")]  # detector events cannot be scripted live
        self.delay_s = delay_s
        self.talk_s = talk_s
        self.on_answer = on_answer or (lambda answer: None)
        self.on_out = on_out
        self.ran_out = False
        self._window = 0
        self._phase: tuple[Any, Any] | None = None
        self._phase_since = 0.0

    def feed(self, live: Live) -> None:
        """Call on every tick of a :class:`~voicecoach.runtime_live.Live`: submits the next answer when due."""
        if self.ran_out:
            return
        now = live.session.clock.now()
        window = live.router.window
        if window is not None:
            if window[0] != self._window and now - window[1] >= self.delay_s:
                self._window = window[0]
                self._next(live)
            return
        runner = live.router.runner
        state = runner.state if runner is not None else None
        phase = (state.phase if state else None, state.step_index if state else None)
        if phase != self._phase:
            self._phase, self._phase_since = phase, now
        elif phase[0] is Phase.TIMER and not live.speaker.busy() and now - self._phase_since >= self.talk_s:
            self._phase = None
            self._next(live)

    def _next(self, live: Live) -> None:
        if self.answers:
            self._submit(live, self.answers.pop(0))
        elif not self.ran_out:
            self.ran_out = True
            if self.on_out is not None:
                self.on_out()

    def _submit(self, live: Live, answer: str) -> None:
        self.on_answer(answer)
        reply = parse_reply(answer)
        if reply is not None:  # "-": stay silent and let the answer time run out
            live.submit(reply, Source.SCRIPT)
