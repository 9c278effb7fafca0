"""The headless kiosk: a pure ritual scheduler, and the observer that runs rituals on the live loop.

:class:`RitualScheduler` is pure: it is asked ``due(now)`` with a local ``datetime`` (injected, so a test can run a
whole week of times in milliseconds) and answers which check-in scripts' time has come. Each occurrence fires once;
nothing fires in quiet hours (which may span midnight); a time missed by more than ``grace_min`` (the box was off
or busy) is not replayed late.

:class:`Kiosk` is an observer of the live assembly (:mod:`voicecoach.runtime_live`): it reports one
``voicecoach: <event>`` line per lifecycle notice through ``emit``, polls the schedule after each frame and offers
a ritual when nothing else is under way, and holds back pause suggestions in quiet hours. Two rituals due at once
(the nightly and the weekly at the same minute) are offered the weekly first, and "not now" to it skips the other.
"Shall I ask again in an hour?" - "yes" is a promise kept across a restart: the journal holds its time on the declined
check-in's row, and :meth:`Kiosk.attach` snoozes the ritual until then again (:func:`promised_asks`).
It never touches devices or the wall clock itself: the datetime and monotonic clock are injected. In the first
:data:`BOOT_SETTLE_S` after the machine booted no ritual is offered: a Raspberry Pi has no clock of its own and starts
on the time it last saved (fake-hwclock) until the network sets it, seconds later; a box switched off at 21:40 with
the 21:30 ritual not yet offered and switched on the next morning asked for it at once, at 8 in the morning.

Quiet hours: no ritual is offered, and the agreed pause is not *suggested* out loud either (the detectors and the
journal keep running). Asking for the pause yourself ("pause"; the double clap, except in a check-in's timed step,
where it means "next") always works, and a pause or
check-in already under way is never cut off when quiet hours begin. ``kiosk.quiet_suggestions = true`` lets pause
suggestions through at night too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .audio.frames import Frame
from .clock import Clock
from .config import KioskSettings
from .errors import VoicecoachError
from .journal.schema import TalkSource
from .notices import CheckinDue, MicLost, MicOpened, MicWaiting, Notice, Said
from .records import CheckinEnded, CheckinLater, CheckinOutcome

if TYPE_CHECKING:
    from .runtime_live import Live

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POLL_S = 1.0  # how often the kiosk asks the scheduler
BOOT_SETTLE_S = 120.0  # no ritual this soon after the machine booted: a Pi's clock may still be its last saved time
DECLINED = (CheckinOutcome.DECLINED, CheckinOutcome.NO_ANSWER)  # check-in endings at the consent question


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
        """The latest scheduled moment at or before ``now`` (on the wall clock: naive, or in ``now``'s zone)."""
        moment = datetime.combine(now.date(), self.at, tzinfo=now.tzinfo)
        if self.weekday is None:
            return moment if moment <= now else moment - timedelta(days=1)
        moment -= timedelta(days=(now.weekday() - self.weekday) % 7)
        return moment if moment <= now else moment - timedelta(days=7)


def late_s(moment: datetime, now: datetime) -> float:
    """Real seconds from the last time the wall clock read ``moment`` to ``now`` (negative: not yet).

    Not ``now - moment``, which counts wall-clock hours: on the night the clocks go forward, 02:30 is never shown
    and 03:00 counted as 30 minutes after it, so a 02:30 ritual with less grace was never offered. Each fold of an
    hour shown twice is tried, and the later one taken; a time the clock skips is due from the jump on (counted late
    only from an hour after it)."""
    return now.timestamp() - max(moment.replace(fold=f).timestamp() for f in (0, 1))


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
        weekly = parse_hhmm(s.weekly_time)
        if s.weekly_day and weekly is not None:
            self.rituals.append(Ritual(s.weekly_script, weekly, DAYS.index(s.weekly_day)))
        self._quiet = (parse_hhmm(s.quiet_start), parse_hhmm(s.quiet_end))
        self._started: list[tuple[str, datetime]] = []  # check-ins already in the journal (already_offered)
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
                if late_s(until, now) <= self.grace.total_seconds():
                    names.append(name)
        for ritual in sorted(self.rituals, key=lambda r: r.weekday is None):  # the weekly one first
            moment = ritual.last_occurrence(now)
            if self._fired.get(ritual.name) == moment or late_s(moment, now) > self.grace.total_seconds():
                continue
            if self._begun_since(ritual.name, moment):
                self._fired[ritual.name] = moment
                continue
            self._fired[ritual.name] = moment
            if ritual.name not in names and ritual.name not in self._snoozed:
                names.append(ritual.name)
        return names

    def carry_over(self, old: "RitualScheduler", now: datetime) -> None:
        """Take over from ``old`` (the schedule was changed): its snoozes are kept, and every ritual's latest moment
        counts as passed, so changing a time never makes a ritual be offered at once."""
        self._snoozed = dict(old._snoozed)
        self._started = list(old._started)
        for ritual in self.rituals:
            self._fired[ritual.name] = ritual.last_occurrence(now)

    def already_offered(self, started: Iterable[tuple[str, datetime]], now: datetime) -> None:
        """Check-ins that began (``(name, start)``, e.g. from the journal) count as this occurrence's offer: a
        kiosk restarted after the couple did or declined the ritual does not ask again within the grace time.

        They are kept and checked whenever a ritual comes due, not only against ``now``: a Pi has no clock of its
        own and may start hours behind (its last saved time) until the network sets it, so the check-in the couple
        did tonight lay "in the future" at the start and was asked for again at the box's 21:30, or once the clock
        jumped forward."""
        self._started = list(started)
        for ritual in self.rituals:
            moment = ritual.last_occurrence(now)
            if self._begun_since(ritual.name, moment):
                self._fired[ritual.name] = moment

    def _begun_since(self, name: str, moment: datetime) -> bool:
        """True when check-in ``name`` began at or after ``moment`` (a later start still counts: the clock was
        behind)."""
        return any(began == name and at.timestamp() >= moment.timestamp() for began, at in self._started)

    def can_ask_at(self, until: datetime) -> bool:
        """Whether a ritual snoozed until ``until`` would be asked then: outside quiet hours, or in quiet hours that
        end within the grace time after it (it is asked when they end). Else "I'll ask again" would be a promise
        the kiosk never keeps."""
        if not self.in_quiet_hours(until):
            return True
        end = datetime.combine(until.date(), self._quiet[1] or dtime(0), tzinfo=until.tzinfo)
        if end < until:
            end += timedelta(days=1)
        return late_s(until, end) <= self.grace.total_seconds()

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

    def next_offer(self, now: datetime, not_before: datetime | None = None) -> tuple[str, datetime, datetime] | None:
        """What the kiosk will really offer next, as ``(name, when, due)``: a ritual or an "ask again" promise that is
        due now (``when`` is then ``now``) or later, moved to the end of quiet hours, past ``not_before`` (the
        settling after a boot, the couple's "not now" to the pause) and left out when that makes it more than
        ``grace_min`` late, as :meth:`due` would. ``due`` is the time it was set for (for the start-up line)."""
        start = max(now, not_before) if not_before is not None else now
        found = [(when, name, until) for name, until in self._snoozed.items()
                 if (when := self._offered_at(until, start)) is not None]
        for ritual in self.rituals:
            step = timedelta(days=7 if ritual.weekday is not None else 1)
            moment = ritual.last_occurrence(now)
            if (self._fired.get(ritual.name) == moment or self._begun_since(ritual.name, moment)
                    or ritual.name in self._snoozed):
                moment += step
            for _ in range(3):  # the next occurrences: one its quiet hours swallow is never offered
                when = self._offered_at(moment, start)
                if when is not None:
                    found.append((when, ritual.name, moment))
                    break
                moment += step
        if not found:
            return None
        weekly = {r.name for r in self.rituals if r.weekday is not None}
        when, name, due = min(found, key=lambda f: (f[0], f[1] not in weekly))  # the weekly first, as due() does
        return name, when, due

    def _offered_at(self, moment: datetime, start: datetime) -> datetime | None:
        """When ``moment``'s ritual is offered if nothing is under way from ``start`` on; None: never (too late)."""
        when = max(moment, start)
        if self.in_quiet_hours(when):
            end = datetime.combine(when.date(), self._quiet[1] or dtime(0), tzinfo=when.tzinfo)
            when = end if end > when else end + timedelta(days=1)
        return when if late_s(moment, when) <= self.grace.total_seconds() else None

    def describe(self) -> str:
        """The schedule in a few words, for the start-up line."""
        s = self.settings
        parts = [f"{r.name} {DAYS[r.weekday] + ' ' if r.weekday is not None else 'daily '}{r.at:%H:%M}"
                 for r in self.rituals] or ["no rituals scheduled"]
        if self._quiet[0] is not None and self._quiet[0] != self._quiet[1]:
            parts.append(f"quiet {s.quiet_start}-{s.quiet_end}")
        return ", ".join(parts)


def _may_be_timed(name: str) -> bool:
    """False when the check-in script ``name`` says it is not to be offered at a set time (a missing script is left
    to the check-in runner, which says so when it is started)."""
    from .checkin.library import Library

    library = Library.load()
    return name not in library.names() or library.get(name).offer_on_schedule


# --- the kiosk on the live loop ------------------------------------------------------------------------------

class Kiosk:
    """Runs scheduled rituals on a live loop, with consent first, and reports lifecycle lines."""

    def __init__(self, settings: KioskSettings, now: Callable[[], datetime], clock: Clock,
                 emit: Callable[[str], None], booted_s: Callable[[], float] | None = None) -> None:
        """``booted_s``: seconds since the machine booted (None: not known, no wait after a boot)."""
        self.settings = settings
        self.booted_s = booted_s
        self.scheduler = RitualScheduler(settings)
        self.now = now
        self.clock = clock
        self.emit = emit
        self.live: Live | None = None
        self.quiet = False
        self.active: str | None = None  # the ritual the kiosk offered and that is still running
        self._active_due: datetime | None = None  # when it came due
        self.pending: list[tuple[str, datetime]] = []
        self._last_poll: float | None = None
        self._later: dict[str, CheckinLater] = {}
        self.next_line = ""  # what will be offered next and when, as the start-up line says it (the page shows it)

    def attach(self, live: Live) -> None:
        """Run on ``live`` from now on (one registration: observer and frame hook); announce the schedule."""
        self.live = live
        live.observe(self)
        live.on_frame(self.on_frame)
        if live.router.checkins is None:
            self.scheduler.rituals = []  # no check-ins in this build: no rituals
        now = self.now()
        rows = _checkins(live)
        self.scheduler.already_offered(checkins_started(rows), now)
        promised = promised_asks(rows, now, self.scheduler.grace) if live.router.checkins is not None else []
        for name, until in promised:  # "I'll ask again in an hour", said before a restart: a promise kept
            self.scheduler.snooze(name, until)
        self._set_quiet(self.scheduler.in_quiet_hours(now))
        nxt = self.next_line = self._next_offer(now)
        self.emit(f"started ({self.scheduler.describe()}" + (f"; next: {nxt}" if nxt else "") + ")"
                  + (" - quiet hours now" if self.quiet else ""))
        for name, until in promised:
            self.emit(f"ritual later {name} (asking again at {until:%H:%M}, as said before the restart)")

    def _next_offer(self, now: datetime) -> str:
        """The start-up line's "next:": what will really be offered next and when ("" when nothing is)."""
        waits = []  # what holds every ritual back from the start: the settling after a boot, a "not now" kept
        if self.booted_s is not None and self.booted_s() < BOOT_SETTLE_S:
            waits.append((now + timedelta(seconds=BOOT_SETTLE_S - self.booted_s()), "2 min after the boot"))
        if self.live is not None and self.live.router.quiet_until > self.live.session.clock.now():
            held_s = self.live.router.quiet_until - self.live.session.clock.now()
            waits.append((now + timedelta(seconds=held_s), "when the pause's snooze ends"))
        not_before, held = max(waits) if waits else (None, "")
        nxt = self.scheduler.next_offer(now, not_before)
        if nxt is None:
            return ""
        name, when, due = nxt
        if when <= now:
            return f"{name} now (due {due:%a %H:%M})"
        if when <= due:
            return f"{name} {when:%a %H:%M}"
        why = held if not_before is not None and when <= not_before else "when the quiet hours end"
        return f"{name} {when:%a %H:%M} (due {due:%H:%M}, {why})"

    def reschedule(self, settings: KioskSettings) -> None:
        """Use a changed schedule from now on (the config file was edited, e.g. from the home page): no restart."""
        now = self.now()
        scheduler = RitualScheduler(settings)
        scheduler.carry_over(self.scheduler, now)
        if self.live is not None and self.live.router.checkins is None:
            scheduler.rituals = []
        self.settings, self.scheduler = settings, scheduler
        self._set_quiet(scheduler.in_quiet_hours(now))
        self.emit(f"schedule changed: {scheduler.describe()}")
        self.next_line = self._next_offer(now)

    # --- notices ------------------------------------------------------------------------------------------------

    def notify(self, notice: Notice) -> None:
        """One line per lifecycle notice; a ritual's end is reported (and "later" snoozes it)."""
        if isinstance(notice, MicWaiting):
            self.emit(f"waiting for microphone ({notice.reason})")
        elif isinstance(notice, MicOpened):
            self.emit(f"microphone open (device {notice.device}" + (f", {notice.rate} Hz)" if notice.rate else ")"))
        elif isinstance(notice, MicLost):
            self.emit(f"microphone lost ({notice.reason})")
        elif isinstance(notice, Said):
            self.emit(f"said: {notice.text}")
        elif isinstance(notice, CheckinLater):
            self._later[notice.name] = notice
        elif isinstance(notice, CheckinEnded):
            self._ritual_ended(notice)

    def on_frame(self, frame: Frame) -> None:
        """Called by the loop after each frame; polls the schedule about once a second."""
        self.poll()

    def poll(self, force: bool = False) -> None:
        """Ask the scheduler what is due and offer it when the loop is free."""
        t = self.clock.now()
        if not force and self._last_poll is not None and t - self._last_poll < POLL_S:
            return
        self._last_poll = t
        now = self.now()
        quiet = self.scheduler.in_quiet_hours(now)
        if quiet != self.quiet:
            self._set_quiet(quiet)
            self.emit("quiet hours begin" if quiet else "quiet hours end")
        if self.live is not None:  # "Shall I ask again in an hour?" only when the kiosk would ask then
            later = now + timedelta(minutes=self.live.config.checkin.offer_later_min)
            self.live.router.offer_later = self.scheduler.can_ask_at(later)
        if self.booted_s is not None and self.booted_s() < BOOT_SETTLE_S:
            return  # the schedule is not asked yet (it would count a ritual as fired by a clock about to be set)
        for name in self.scheduler.due(now):
            if name in [p[0] for p in self.pending] or name == self.active:
                continue
            if not _may_be_timed(name):  # config check and the page refuse it; an older config file may still say it
                self.emit(f"ritual skipped {name} (its script has offer_on_schedule = false: not for a set time)")
                continue
            self.pending.append((name, now))
        self._offer_pending(now)
        self.next_line = self._next_offer(now)  # once a second, on the loop's thread (the page only reads it)

    def free(self) -> bool:
        """True when nothing is under way (no check-in, no pause or question, nothing being said) and the couple
        has not asked for quiet: after "not now" to the pause ("I'll stay quiet for 15 minutes") a ritual waits for
        the snooze to end (it is offered then, if still within its grace time), and likewise after the pause."""
        if self.live is None or not self.live.idle:
            return False
        return self.live.session.clock.now() >= self.live.router.quiet_until

    def _set_quiet(self, quiet: bool) -> None:
        self.quiet = quiet
        if self.live is not None:
            self.live.router.hold_suggestions = quiet and not self.settings.quiet_suggestions

    def _offer_pending(self, now: datetime) -> None:
        if not self.pending or self.active is not None:
            return
        if self.quiet:
            for name, _ in self.pending:
                self.emit(f"ritual skipped {name} (quiet hours)")
            self.pending.clear()
            return
        grace_s = self.scheduler.grace.total_seconds()
        for name, at in [p for p in self.pending if now.timestamp() - p[1].timestamp() > grace_s]:  # real time
            self.pending.remove((name, at))
            self.emit(f"ritual skipped {name} (busy for more than {self.settings.grace_min:g} min)")
        if not self.pending or not self.free() or self.live is None:
            return
        name, self._active_due = self.pending.pop(0)
        self.active = name
        self.emit(f"ritual offered {name}")
        self.live.notify(CheckinDue(name))
        self.live.session.start_checkin(name)  # the script itself begins with "Is now a good time?"
        if self.live.router.runner is None and self.active == name:  # it could not start (the loop said sorry)
            self.active = None
            self.emit(f"ritual failed {name} ({self.live.router.problem or 'it could not start'})")

    def _ritual_ended(self, ended: CheckinEnded) -> None:
        name = ended.name
        later = self._later.pop(name, None)
        if name != self.active:
            if ended.outcome is CheckinOutcome.LATER:  # begun from the page: "I'll ask again" is a promise too
                self._ask_later(name, later)
            return
        self.active = None
        if ended.outcome is CheckinOutcome.LATER:
            self._ask_later(name, later)
        elif ended.outcome in DECLINED:
            self.emit(f"ritual declined {name} ({ended.outcome.value})")
        elif ended.completed:
            self.emit(f"ritual done {name} (completed)")
        else:
            self.emit(f"ritual done {name} ({ended.outcome.value}, {ended.steps_done} of {ended.steps_total} steps)")
        if ended.outcome is CheckinOutcome.LATER or ended.outcome in DECLINED:
            self._skip_due_with(name)

    def _ask_later(self, name: str, later: CheckinLater | None) -> None:
        """Keep "Okay. I'll ask again in an hour.": offer ``name`` again then."""
        until = self.now() + timedelta(minutes=later.after_min if later is not None else 60.0)
        self.scheduler.snooze(name, until)
        self.emit(f"ritual declined {name} (later: asking again at {until:%H:%M})")

    def _skip_due_with(self, declined: str) -> None:
        """A "not now" to a ritual is not followed at once by another that came due with it (the nightly and the
        weekly at the same minute): that one is skipped for this time, not asked right after."""
        for name, at in [p for p in self.pending if p[1] == self._active_due]:
            self.pending.remove((name, at))
            self.emit(f"ritual skipped {name} (due with {declined}, which was declined)")


def _checkins(live: Live) -> list[dict[str, Any]]:
    """The check-ins in the journal, demos aside; none when there is no journal to read."""
    if live.journal is None or not live.journal.usable:
        return []
    try:
        rows = live.journal.rows("checkins")
    except VoicecoachError as exc:
        log.warning("cannot read the check-ins already done from the journal: %s", exc)
        return []
    return [row for row in rows if row.get("source") != TalkSource.DEMO.value]


def checkins_started(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, datetime]]:
    """(name, local start) of each check-in row (for :meth:`RitualScheduler.already_offered`)."""
    return [(row["name"], datetime.fromtimestamp(row["started_at"])) for row in rows]


def promised_asks(rows: Iterable[Mapping[str, Any]], now: datetime, grace: timedelta) -> list[tuple[str, datetime]]:
    """The "ask again at" promises among the check-in rows that a new start keeps, as (name, local time).

    A promise is kept when the latest check-in of its name (by start) is the one declined with it: a check-in of that
    name begun after the decline (done from the page, declined again) replaces it. One whose time passed more than
    ``grace`` ago is left, as a ritual missed while the box was off; one that came due within it is asked at once."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row["name"] not in latest or row["started_at"] >= latest[row["name"]]["started_at"]:
            latest[row["name"]] = row
    promised = []
    for name, row in latest.items():
        at = row.get("ask_again_at")
        if at is not None and now.timestamp() - at <= grace.total_seconds():
            promised.append((name, datetime.fromtimestamp(at, now.tzinfo)))  # naive ``now``: naive local time
    return promised


def wall_clock_from(start: datetime, clock: Clock) -> Callable[[], datetime]:
    """A ``now()`` that starts at ``start`` and advances with ``clock`` (for rehearsing the schedule)."""
    origin = clock.now()
    return lambda: start + timedelta(seconds=clock.now() - origin)
