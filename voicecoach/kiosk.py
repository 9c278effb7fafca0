"""The headless kiosk: a pure ritual scheduler, and the assembly that runs rituals around a live Session.

:class:`RitualScheduler` is pure: it is asked ``due(now)`` with a local ``datetime`` (injected, so a test can run a
whole week of times in milliseconds) and answers which check-in scripts' time has come. Each occurrence fires once;
nothing fires in quiet hours (which may span midnight); a time missed by more than ``grace_min`` (the box was off
or busy) is not replayed late.

:class:`Kiosk` wires the scheduler, a :class:`~voicecoach.runtime.Session` and the microphone together and reports
one ``voicecoach: <event>`` line per lifecycle event through ``emit``. It never touches devices or the wall clock
itself: the runtime feeds it frames, and the datetime and monotonic clock are injected.

Quiet hours: no ritual is offered, and the agreed pause is not *suggested* out loud either (the detectors and the
journal keep running). Asking for the pause yourself ("pause", the double clap) always works, and a pause or
check-in already under way is never cut off when quiet hours begin. ``kiosk.quiet_suggestions = true`` lets pause
suggestions through at night too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from typing import Any, Callable, Iterator

from .actions import Finished, Record
from .audio.frames import Frame
from .clock import Clock
from .config import KioskSettings
from .errors import DeviceError, InputError
from .events import Event, PauseSuggested

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POLL_S = 1.0  # how often the kiosk asks the scheduler
DECLINED = ("declined", "no_answer", "not_now")  # check-in endings at the consent question


def parse_hhmm(text: str) -> dtime | None:
    """``"21:30"`` -> time(21, 30); ``""`` -> None. Raises ValueError for anything else."""
    if not text:
        return None
    hours, minutes = text.split(":")
    return dtime(int(hours), int(minutes))


@dataclass(frozen=True)
class Ritual:
    """One scheduled check-in: a script name, a time of day and, for weekly ones, a weekday (0 = Monday)."""

    name: str
    at: dtime
    weekday: int | None = None

    def last_occurrence(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before ``now``."""
        moment = datetime.combine(now.date(), self.at)
        if self.weekday is None:
            return moment if moment <= now else moment - timedelta(days=1)
        moment -= timedelta(days=(now.weekday() - self.weekday) % 7)
        return moment if moment <= now else moment - timedelta(days=7)


class RitualScheduler:
    """Which rituals are due now: once per occurrence, never in quiet hours, never hours late."""

    def __init__(self, settings: KioskSettings | None = None) -> None:
        self.settings = settings or KioskSettings()
        s = self.settings
        self.grace = timedelta(minutes=s.grace_min)
        self.rituals: list[Ritual] = []
        nightly = parse_hhmm(s.nightly_time)
        if nightly is not None:
            self.rituals.append(Ritual(s.nightly_script, nightly))
        if s.weekly_day and s.weekly_time:
            self.rituals.append(Ritual(s.weekly_script, parse_hhmm(s.weekly_time), DAYS.index(s.weekly_day)))
        self._quiet = (parse_hhmm(s.quiet_start), parse_hhmm(s.quiet_end))
        self.reset()

    def reset(self) -> None:
        """Forget which occurrences fired and every snooze."""
        self._fired: dict[str, datetime] = {}
        self._snoozed: dict[str, datetime] = {}

    def in_quiet_hours(self, now: datetime) -> bool:
        """True inside the quiet hours (start inclusive, end exclusive; a span may cross midnight)."""
        start, end = self._quiet
        if start is None or end is None or start == end:
            return False
        t = now.time()
        return start <= t < end if start < end else (t >= start or t < end)

    def due(self, now: datetime) -> list[str]:
        """Script names whose time has come at ``now``; each is returned once per occurrence (or snooze)."""
        if self.in_quiet_hours(now):
            return []
        names: list[str] = []
        for name, until in list(self._snoozed.items()):
            if now >= until:
                del self._snoozed[name]
                if now - until <= self.grace:
                    names.append(name)
        for ritual in self.rituals:
            moment = ritual.last_occurrence(now)
            if self._fired.get(ritual.name) == moment or now - moment > self.grace:
                continue
            self._fired[ritual.name] = moment
            if ritual.name not in names and ritual.name not in self._snoozed:
                names.append(ritual.name)
        return names

    def snooze(self, name: str, until: datetime) -> None:
        """Offer ``name`` again at ``until`` ("Shall I ask again in an hour?" - yes)."""
        self._snoozed[name] = until

    def next_due(self, now: datetime) -> tuple[str, datetime] | None:
        """The next scheduled ritual after ``now`` and when (ignoring quiet hours and snoozes), for the log."""
        upcoming = []
        for ritual in self.rituals:
            step = timedelta(days=7 if ritual.weekday is not None else 1)
            upcoming.append((ritual.last_occurrence(now) + step, ritual.name))
        upcoming += [(until, name) for name, until in self._snoozed.items() if until > now]
        if not upcoming:
            return None
        moment, name = min(upcoming)
        return name, moment

    def describe(self) -> str:
        """The schedule in a few words, for the start-up line."""
        s = self.settings
        parts = [f"{r.name} {DAYS[r.weekday] + ' ' if r.weekday is not None else 'daily '}{r.at:%H:%M}"
                 for r in self.rituals] or ["no rituals scheduled"]
        if self._quiet[0] is not None and self._quiet[0] != self._quiet[1]:
            parts.append(f"quiet {s.quiet_start}-{s.quiet_end}")
        return ", ".join(parts)


# --- the assembly ------------------------------------------------------------------------------------------------

class QuietGate:
    """Wraps the detection pipeline: drops pause *suggestions* while ``held()`` is true; everything else passes."""

    def __init__(self, pipeline: Any, held: Callable[[], bool]) -> None:
        self.pipeline = pipeline
        self.held = held
        self.dropped = 0

    def process(self, frame: Frame, muted: bool = False) -> list[Event]:
        """The wrapped pipeline's events for this frame, minus held-back suggestions."""
        events = self.pipeline.process(frame, muted=muted)
        if events and self.held():
            kept = [e for e in events if not isinstance(e, PauseSuggested)]
            self.dropped += len(events) - len(kept)
            return kept
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)  # flush, snooze, stats, reset, ... of the wrapped pipeline


class WatchedRunner:
    """Wraps a check-in runner and reports how it ended (the ``Finished`` and ``checkin`` record it returns)."""

    def __init__(self, runner: Any, name: str, on_end: Callable[[str, str, dict[str, Any]], None]) -> None:
        self.runner = runner
        self.name = name
        self.on_end = on_end
        self.record: dict[str, Any] = {}

    def _watch(self, actions: Any) -> list[Any]:
        actions = list(actions)
        for action in actions:
            if isinstance(action, Record) and action.kind in ("checkin", "checkin_later"):
                self.record.update(action.data)
            elif isinstance(action, Finished):
                self.on_end(self.name, action.reason, self.record)
        return actions

    def start(self, now: float, consented: bool = False) -> list[Any]:
        """Start the wrapped runner."""
        return self._watch(self.runner.start(now, consented=consented))

    def tick(self, now: float) -> list[Any]:
        """Time passes."""
        return self._watch(self.runner.tick(now))

    def heard(self, command: str | None, now: float) -> list[Any]:
        """An answer (or silence)."""
        return self._watch(self.runner.heard(command, now))

    def on_event(self, event: Event, now: float) -> list[Any]:
        """A detector event during the check-in."""
        return self._watch(self.runner.on_event(event, now))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)


class WatchedSource:
    """Wraps a frame source and reports the moment it is lost."""

    def __init__(self, source: Any, on_lost: Callable[[Exception], None]) -> None:
        self.source = source
        self.on_lost = on_lost
        self.frame_ms = getattr(source, "frame_ms", 30)

    def frames(self) -> Iterator[Frame]:
        """The wrapped source's frames; a DeviceError is reported, then re-raised for the runtime to reopen."""
        try:
            yield from self.source.frames()
        except DeviceError as exc:
            self.on_lost(exc)
            raise

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()


class Kiosk:
    """Runs scheduled rituals around a live Session, with consent first, and reports lifecycle lines."""

    def __init__(self, settings: KioskSettings, now: Callable[[], datetime], clock: Clock,
                 emit: Callable[[str], None]) -> None:
        self.settings = settings
        self.scheduler = RitualScheduler(settings)
        self.now = now
        self.clock = clock
        self.emit = emit
        self.session: Any = None
        self.quiet = False
        self.active: str | None = None  # the ritual the kiosk offered and that is still running
        self.pending: list[tuple[str, datetime]] = []
        self._last_poll: float | None = None
        self._waiting = False

    # --- wiring (before and after the Session is built) ---------------------------------------------------------

    def wrap_pipeline(self, pipeline: Any) -> Any:
        """The pipeline, with pause suggestions held back in quiet hours (unless allowed by the settings)."""
        if self.settings.quiet_suggestions:
            return pipeline
        return QuietGate(pipeline, lambda: self.quiet)

    def wrap_factory(self, factory: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
        """A runner factory whose runners report how each ritual ended (None: no check-ins, no rituals)."""
        if factory is None:
            self.scheduler.rituals = []
            return None

        def make(name: str) -> Any:
            try:
                return WatchedRunner(factory(name), name, self._runner_ended)
            except Exception as exc:
                if name == self.active:
                    self.active = None
                    self.emit(f"ritual failed {name}: {exc}")
                raise

        return make

    def wrap_opener(self, open_source: Callable[[int], Any]) -> Callable[[int], Any]:
        """An opener that reports waiting / open / lost, and waits (instead of failing) for a named device."""

        def open_watched(position: int) -> Any:
            try:
                source = open_source(position)
            except (DeviceError, InputError) as exc:
                if not self._waiting:
                    self._waiting = True
                    self.emit(f"waiting for microphone ({exc})")
                raise DeviceError(str(exc)) from None
            self._waiting = False
            device = getattr(source, "device", None)
            rate = getattr(source, "rate", None)
            detail = f" (device {'default' if device is None else device}" + (f", {rate} Hz)" if rate else ")")
            self.emit("microphone open" + detail)
            return WatchedSource(source, self._lost)

        return open_watched

    def make_session(self, config: Any, pipeline: Any, speaker: Any, listener: Any, journal: Any,
                     runner_factory: Callable[[str], Any] | None, on_line: Callable[[str], None]) -> Any:
        """Build the Session the kiosk runs (quiet-hours gate and watched check-ins wired in) and attach to it."""
        from .runtime import Session

        from .app import make_notes

        session = Session(config, self.wrap_pipeline(pipeline), speaker, listener, journal, clock=self.clock,
                          source_name="kiosk", runner_factory=self.wrap_factory(runner_factory), on_line=on_line,
                          notes=make_notes(config, journal))
        self.attach(session)
        return session

    def attach(self, session: Any) -> None:
        """Use ``session`` from now on; announces the start and the schedule."""
        self.session = session
        now = self.now()
        self.quiet = self.scheduler.in_quiet_hours(now)
        nxt = self.scheduler.next_due(now)
        self.emit(f"started ({self.scheduler.describe()}"
                  + (f"; next: {nxt[0]} {nxt[1]:%a %H:%M}" if nxt else "") + ")"
                  + (" - quiet hours now" if self.quiet else ""))

    # --- the loop hook ----------------------------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """Called by the runtime after each frame; polls the schedule about once a second."""
        self.poll()

    def poll(self, force: bool = False) -> None:
        """Ask the scheduler what is due and offer it when the session is free."""
        t = self.clock.now()
        if not force and self._last_poll is not None and t - self._last_poll < POLL_S:
            return
        self._last_poll = t
        now = self.now()
        quiet = self.scheduler.in_quiet_hours(now)
        if quiet != self.quiet:
            self.quiet = quiet
            self.emit("quiet hours begin" if quiet else "quiet hours end")
        for name in self.scheduler.due(now):
            if name not in [p[0] for p in self.pending] and name != self.active:
                self.pending.append((name, now))
        self._offer_pending(now)

    def free(self) -> bool:
        """True when nothing is under way: no check-in, no pause or question, nothing being said."""
        s = self.session
        return (s is not None and s.runner is None and not s.coach.busy and s.listen_window() is None
                and not s.speaker.busy())

    def _offer_pending(self, now: datetime) -> None:
        if not self.pending or self.active is not None:
            return
        if self.quiet:
            for name, _ in self.pending:
                self.emit(f"ritual skipped {name} (quiet hours)")
            self.pending.clear()
            return
        for name, at in [p for p in self.pending if now - p[1] > self.scheduler.grace]:
            self.pending.remove((name, at))
            self.emit(f"ritual skipped {name} (busy for more than {self.settings.grace_min:g} min)")
        if not self.pending or not self.free():
            return
        name, _ = self.pending.pop(0)
        self.active = name
        self.emit(f"ritual offered {name}")
        self.session.start_checkin(name)  # the script itself begins with "Is now a good time?"
        if self.session.runner is None and self.active == name:  # could not start (the session said sorry)
            self.active = None

    # --- reports ------------------------------------------------------------------------------------------------

    def _runner_ended(self, name: str, reason: str, record: dict[str, Any]) -> None:
        if name != self.active:
            return
        self.active = None
        reason = reason or ("completed" if record.get("completed") else "ended")
        if reason == "later" or record.get("accepted"):
            until = self.now() + timedelta(minutes=float(record.get("after_min", 60.0)))
            self.scheduler.snooze(name, until)
            self.emit(f"ritual declined {name} (later: asking again at {until:%H:%M})")
        elif reason in DECLINED:
            self.emit(f"ritual declined {name} ({reason})")
        elif record.get("completed") or reason == "completed":
            self.emit(f"ritual done {name} (completed)")
        else:
            self.emit(f"ritual done {name} ({reason}, {record.get('steps_done', '?')} of "
                      f"{record.get('steps_total', '?')} steps)")

    def _lost(self, exc: Exception) -> None:
        self.emit(f"microphone lost ({exc})")


def wall_clock_from(start: datetime, clock: Clock) -> Callable[[], datetime]:
    """A ``now()`` that starts at ``start`` and advances with ``clock`` (for rehearsing the schedule)."""
    origin = clock.now()
    return lambda: start + timedelta(seconds=clock.now() - origin)
