"""The one live assembly: build, run, close. ``listen``, ``checkin``, ``kiosk`` and ``demo`` all run through it.

:meth:`Live.build` puts the parts together (detection pipeline, speaker, command listener, journal, voice notes,
coach, check-ins, router, session, keyboard); :meth:`Live.serve` runs the loop until a signal (SIGINT, SIGTERM or
SIGHUP: all end the same clean way), the end of the input, or the caller's ``until``; :meth:`Live.close` then
ends whatever is under way (a pause or a check-in is recorded as cut short), stores the talk with its figures,
stops the keyboard reader, lets the speaker finish (or cuts it on a signal, never hanging on a stuck engine),
closes the journal and returns the summary. Every command therefore ends, stores and cleans up the same way.

The journal's writes are made on their own thread (:class:`~voicecoach.journal.writer.TalkWriter`): the loop never
waits for the disk; closing waits until everything is written (a hung disk is given up, with a line, and the
journal then left open rather than waited for). On the live microphone a voice note's save, lookup, load and delete
run on a thread of their own too (:class:`~voicecoach.journal.note_worker.NoteWorker`), waited for the same way.

Extension point (the home page and hooks, issue 18) -- one registration each, all safe to call from any thread
unless noted:

* ``live.observe(observer)``: ``observer.notify(notice)`` receives every :data:`~voicecoach.notices.Notice` on the
  loop's thread: lifecycle (:class:`~voicecoach.notices.TalkStarted`, ``MicOpened``, ``MicLost``, ``MicWaiting``,
  ``Said``, ``CheckinDue``, ``Health``, ``TalkEnded``), detector events (raised voice, interruption, pause
  suggested) and typed records (suggestion made / answered incl. "not now", pause started / ended, check-in
  started / ended / later). Register before :meth:`serve`; ``notify`` must return quickly.
* ``live.submit(Command.PAUSE, Source.WEB)``: inject a command; it takes exactly the path of the spoken one
  (a web "pause now" button starts the same consent-first pause flow as saying "pause").
* ``live.start_checkin(name)``: offer a check-in now (its consent question comes first), run on the loop thread.
* ``live.idle``: nothing is under way (no question, pause, check-in or prompt) -- read it on the loop thread or
  accept a slightly stale answer.
* ``live.on_command(command, answer)``: a command heard at any time and answered by ``answer()`` (spoken), only
  while nothing else is under way (the home page's "pairing code").
* ``live.on_frame(callback)`` / ``live.on_tick(callback)``: called on the loop thread after each frame / each
  timer tick (ticks also run while no microphone is open).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from .audio.frames import Frame, FrameSource
from .clock import Clock, LocalTime, MonotonicClock, suspend_counting_clock, suspended_clock
from .coach import Coach
from .commands import Command, Reply, Source
from .config import Config
from .errors import SoundSystemStuck
from .journal.note_worker import NoteWorker
from .journal.schema import TalkSource
from .journal.talk import TalkLog, TalkSummary
from .journal.writer import TalkWriter
from .notes_flow import NotesFlow
from .notices import Health, Notice, Observer, Part, TalkEnded, TalkStarted
from .router import Router
from .runtime import NoteStore, Session, Voice
from .runtime_loop import PacedSource, run_loop
from .stop_signals import StopOnSignals

if TYPE_CHECKING:
    from .asr.listener import CommandListener
    from .asr.worker import ListenerThread
    from .journal.store import Journal
    from .runtime import Detector
    from .ui import KeyReader

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0  # give up waiting for a hung speech engine on the way out
JOURNAL_LOOK_S = 1.0  # how often the loop looks whether the journal file at its path is still the one open


def _prepare_in_background(speaker: Voice, texts: list[str]) -> None:
    """Render ``texts`` into the speaker's cache on a thread, so the first suggestion of a talk starts without
    synthesis (a new prompt took 89 ms from say() to sound here, a cached one 53 ms; more on a Pi)."""
    prepare = getattr(speaker, "prepare", None)  # a test's or the soak's speaker may have none
    if not callable(prepare):
        return

    def render_ahead() -> None:
        try:
            prepare(texts)
        except Exception as exc:  # noqa: BLE001 - only a head start: the prompt is rendered when it is said
            # e.g. at exit, when the interpreter removed the engine's work folder under it (``demo --fast | head -1``
            # printed this thread's traceback)
            log.debug("rendering prompts ahead stopped: %s", exc)

    threading.Thread(target=render_ahead, name="voicecoach-prepare", daemon=True).start()


@dataclass(frozen=True)
class LiveSpec:
    """What a command asks of the live assembly."""

    source: TalkSource
    input: str | None = None  # microphone: number or part of its name (None: the config's)
    output: str | None = None  # speaker: number or part of its name (None: the config's; "": none)
    file: Path | None = None  # listen to a recording instead of the microphone
    fast: bool = False  # with ``file``: as fast as it can be read
    keys: bool = False  # read answers from the keyboard (stdin)
    single_keys: bool = False  # ... one key at a time (a terminal in cbreak mode)
    offer_later: bool = False  # "not now" to a check-in offers to ask again later (the kiosk)
    use_profile: bool = True  # seed the detectors with the calibration profile
    commands: bool = True  # load the speech model for spoken commands
    render_only: bool = False  # render prompts without an output device (the fast demo)
    finish_speech_s: float = 10.0  # at the end (not on a signal), let the last prompt finish for this long
    wait_for_device: bool = False  # a named microphone that is not plugged in is waited for (the kiosk)
    resilient: bool = False  # an unexpected error in the loop is logged and the loop goes on (the kiosk)
    microphone: bool = True  # without ``file``, the audio comes from the microphone (the demo feeds its own)


def pause_suspended(clock: Clock, spec: "LiveSpec") -> Callable[[], float] | None:
    """What tells the coach and the talk's record how long the machine was suspended: on the real clock and
    microphone the agreed pause is real minutes apart (a lid closed through a 20-minute pause counts), while turn
    timers in a check-in pause with the machine, and the talk's length leaves the suspend out (a gap in the
    microphone's frame stamps: "we talked 20 minutes", not 2 h 20 min); a file replayed or a fake clock has no
    suspend (None)."""
    real_time = isinstance(clock, MonotonicClock) and spec.microphone and spec.file is None
    return suspended_clock() if real_time else None


def _hold_back_after_restart(session: Session, journal: Journal, config: Config, now: float) -> None:
    """A "not now" said before a restart is still honoured: the snooze, cooldown, hourly cap and quiet after a
    pause that the journal shows are still running hold suggestions (and the kiosk's rituals) back from the start."""
    from .errors import VoicecoachError
    from .held_back import HOUR_S, PastPause, PastSuggestion, held_back

    pause, escalation = config.pause, config.detection.escalation
    since = now - max(HOUR_S, 60.0 * max(pause.snooze_min, pause.quiet_after_min, escalation.cooldown_min))
    try:
        suggestions = [PastSuggestion(r["at"], r["answer"], r["answered_at"]) for r in journal.suggestions_since(since)]
        pauses = [PastPause(r["started_at"], r["planned_min"], r["ended_at"]) for r in journal.pauses_since(since)]
    except VoicecoachError as exc:
        log.warning("cannot read the latest suggestions from the journal (a 'not now' before a restart may not be "
                    "held): %s", exc)
        return
    quiet = held_back(suggestions, pauses, pause, escalation, now)
    if quiet.minutes > 0:
        log.info("no pause suggestion for %.1f min: %s, as the journal shows", quiet.minutes, quiet.reason)
        session.hold_back(quiet.minutes)


def _every(period_s: float, clock: Clock, work: Callable[[], None]) -> Callable[[], None]:
    """A tick hook that runs ``work`` at most once per ``period_s`` of ``clock``."""
    last: list[float] = []

    def hook() -> None:
        now = clock.now()
        if not last or now - last[0] >= period_s:
            last[:] = [now]
            work()

    return hook


def _attach_listener(session: Session, listener: CommandListener, spec: LiveSpec) -> ListenerThread | None:
    """Give the session its command listener: on the live microphone on a thread of its own (returned), so the
    loop never waits for the recognizer; for a recording on the loop's thread, so a replay hears the same commands
    every time."""
    if spec.microphone and spec.file is None:
        from .asr.worker import ListenerThread

        session.listener = thread = ListenerThread(listener, session.recognised)
        return thread
    session.listener = listener
    return None


def _stop_reason(failure: Exception | None) -> str:
    """Why the loop stopped, when no signal stopped it."""
    if failure is None:
        return "end of input"
    if isinstance(failure, SoundSystemStuck):
        return "the sound system stopped answering"
    return f"an error ({failure})"


class Live:
    """A built live loop: its session and devices, observers and hooks (see the module docstring)."""

    def __init__(self, config: Config, spec: LiveSpec, session: Session, speaker: Voice,
                 listener: CommandListener | None, journal: Journal | None) -> None:
        self.config = config
        self.spec = spec
        self.session = session
        self.router = session.router
        self.speaker = speaker
        self.listener = listener
        self.journal = journal
        self.stop = threading.Event()
        self.stopped_by = ""
        self.summary: TalkSummary | None = None
        self._observers: list[Observer] = []
        self._frame_hooks: list[Callable[[Frame], None]] = []
        self._keys: KeyReader | None = None
        self._broken_observers: set[int] = set()
        self.recognizer_thread: ListenerThread | None = None  # the live microphone's recognizer, on its own thread

    # --- building ---------------------------------------------------------------------------------------------

    @classmethod
    def build(cls, config: Config, spec: LiveSpec, clock: Clock | None = None,
              on_line: Callable[[str], None] | None = None, on_unspoken: Callable[[str], None] | None = None,
              pipeline: Detector | None = None, speaker: Voice | None = None,
              journal: Journal | None | Literal["open"] = "open",
              notes: NoteStore | None | Literal["open"] = "open",
              wall: Callable[[], float] | None = None) -> "Live":
        """Assemble the live loop; every part degrades instead of failing where the product can still help.

        ``on_line`` gets every line worth showing (prompts, events); ``on_unspoken`` each prompt that could not be
        said out loud. ``pipeline``, ``speaker``, ``journal`` and ``notes`` may be given (tests, the soak);
        ``journal=None`` runs without one; ``notes=None`` records and plays no voice note, and says so when one is
        asked for (a replay, a rehearsal, the demo: not the couple's talk). ``wall``: the wall clock, epoch seconds,
        that the journal's times are stamped by (None: the real one, which the talk's record watches for being set;
        a test's pretended one)."""
        from . import app

        if spec.file is not None:
            from .audio.wav import read_header

            read_header(spec.file)  # a bad file is one line before anything starts
        if spec.output and speaker is None and not spec.wait_for_device:
            from .audio.device import find_device

            # A speaker named on the command line that matches nothing is a typo to report (exit 2, like --input),
            # not a session whose prompts nobody hears.
            find_device(spec.output, "output")
        if spec.microphone and spec.file is None and not spec.wait_for_device:
            from .audio.device import find_device

            # Likewise a microphone that matches nothing, before the talk is stored (or a check-in begins): refused
            # later, when the loop opened it, it left an empty talk in the journal that the report counted.
            find_device(spec.input if spec.input is not None else config.audio.input, "input")
        clock = clock or MonotonicClock()
        listener = app.make_listener(config, load=False) if spec.commands else None  # a bad language: fails here
        if pipeline is None:
            pipeline = app.make_pipeline(config, use_profile=spec.use_profile)
        if speaker is None:
            speaker = app.make_speaker(config, output=spec.output, render_only=spec.render_only,
                                       on_text=on_unspoken)
        if isinstance(journal, str):   # "open"
            journal = app.open_journal(config)
        kept = notes is not None  # None given: a replay, a rehearsal, the demo (no note recorded or played)
        if isinstance(notes, str):   # "open"
            notes = app.make_notes(config, journal)
        names = (config.partners.a_name, config.partners.b_name)
        steady = suspend_counting_clock() if wall is None else None  # a pretended wall clock is never set
        wall = wall or time.time
        flow = NotesFlow(names, config.journal.voice_notes, config.journal.note_max_s, wall=wall,
                         local=LocalTime().at,  # "this evening" in the zone set now, not at the start
                         kept=kept)
        checkins = app.runner_factory(config, offer_later=spec.offer_later)
        suspended = pause_suspended(clock, spec)
        coach = Coach(config.pause, has_checkin=checkins is not None, suspended=suspended)
        router = Router(coach, flow, checkins, anytime=app.anytime_commands(config))
        suggestion = coach.suggestion_text()
        if listener is not None and listener.model_path is None:  # no model to load: said in the clap wording
            suggestion = listener.pack.clap_wording(suggestion)
        _prepare_in_background(speaker, [suggestion])
        live: Live | None = None

        def notify(notice: Notice) -> None:
            if live is not None:
                live.notify(notice)

        talk: TalkLog | TalkWriter = TalkLog(None, spec.source, wall=wall,  # no journal: only counted
                                             suspended=suspended)
        if journal is not None:  # the writes on their own thread: the loop never waits for the disk
            talk = TalkWriter(journal, spec.source, wall=wall, steady=steady,
                              suspended=suspended,
                              on_trouble=lambda why: notify(Health(Part.JOURNAL, False, why)),
                              on_recovered=lambda line: notify(Health(Part.JOURNAL, True, line)))
        session = Session(pipeline, speaker, router, talk, notes=notes, clock=clock, on_line=on_line,
                          notify=notify)
        if spec.keys:
            from .ui import KEY_HELP
            session.keys_line = KEY_HELP
        if notes is not None and spec.microphone and spec.file is None:
            # the live microphone: a note's save (audio, fsyncs, the journal's lock) never holds the loop; a
            # replay keeps it on the loop's thread, so it says the same at the same frames every time
            session.note_worker = NoteWorker(notes)
        if journal is not None:  # a journal replaced on disk (a backup restored) is followed, writes or not
            session.tick_hooks.append(_every(JOURNAL_LOOK_S, clock, talk.follow))
        if journal is not None and spec.file is None and spec.source is not TalkSource.DEMO:
            _hold_back_after_restart(session, journal, config, wall())
        recognizer_thread = None
        if listener is not None:
            recognizer_thread = _attach_listener(session, listener, spec)
            session.clap_wording = listener.pack.clap_wording  # until the model loads (or if it never does)
            app.load_in_background(listener, lambda ok, why: session.call_soon(
                lambda: notify(Health(Part.SPEECH_MODEL, ok, why))))
        live = cls(config, spec, session, speaker, listener, journal)
        live.recognizer_thread = recognizer_thread
        return live

    # --- the extension point ------------------------------------------------------------------------------------

    def observe(self, observer: Observer) -> None:
        """Register an observer of every notice (see the module docstring)."""
        self._observers.append(observer)

    def notify(self, notice: Notice) -> None:
        """Pass a notice to every observer; one that raises is logged (once) and the others go on."""
        for observer in self._observers:
            try:
                observer.notify(notice)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop the loop
                if id(observer) not in self._broken_observers:
                    self._broken_observers.add(id(observer))
                    log.exception("observer %s failed (further failures are not logged)", type(observer).__name__)

    def submit(self, reply: Reply, source: Source = Source.KEYBOARD) -> None:
        """Inject a command (thread-safe): it takes the same path as the spoken one."""
        self.session.submit(reply, source)

    def start_checkin(self, name: str) -> None:
        """Offer check-in ``name`` now (thread-safe: it starts on the loop thread, consent first)."""
        self.session.call_soon(lambda: self.session.start_checkin(name))

    @property
    def idle(self) -> bool:
        """True when nothing is under way: no question, pause, check-in, voice note or prompt."""
        return self.router.idle and not self.speaker.busy()

    def on_command(self, command: Command, answer: Callable[[], str]) -> None:
        """Listen for ``command`` at any time; when nothing is under way, say what ``answer()`` returns (the home
        page's "pairing code"). Register before :meth:`serve`; ``answer`` runs on the loop thread."""
        self.session.command_hooks[command] = answer
        self.router.answered_elsewhere = self.router.answered_elsewhere | {command}
        self.router.anytime = self.router.anytime | {command}

    def on_frame(self, callback: Callable[[Frame], None]) -> None:
        """Call ``callback(frame)`` on the loop thread after each frame."""
        self._frame_hooks.append(callback)

    def on_tick(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the loop thread after each timer tick (also while no microphone is open)."""
        self.session.tick_hooks.append(callback)

    # --- running ----------------------------------------------------------------------------------------------

    def open_source(self) -> Callable[[int], FrameSource]:
        """A function(position) -> FrameSource for the spec's file or microphone."""
        config, spec = self.config, self.spec
        if spec.file is not None:
            from .audio.wav import WavSource

            file = spec.file

            def open_file(position: int) -> FrameSource:
                src = WavSource(file, frame_ms=config.audio.frame_ms)
                return src if spec.fast else PacedSource(src)

            return open_file
        from .audio.device import MicSource

        device = spec.input if spec.input is not None else (config.audio.input or None)

        def open_mic(position: int) -> FrameSource:
            return MicSource(device, frame_ms=config.audio.frame_ms, queue_blocks=config.audio.queue_frames,
                             start_sample=position).open()

        return open_mic

    def start_keys(self) -> None:
        """Read answers from the keyboard (when the spec asks for it)."""
        if self.spec.keys and self._keys is None:
            from .ui import KeyReader

            self._keys = KeyReader(lambda command: self.submit(command, Source.KEYBOARD),
                                   single_keys=self.spec.single_keys).start()

    def run(self, open_source: Callable[[int], FrameSource] | None = None,
            until: Callable[[], bool] | None = None, live: bool | None = None) -> None:
        """Run the loop until stopped, the end of a file (``live`` False) or ``until()`` is true. Blocking."""
        if until is not None:
            self.on_tick(lambda: self.stop.set() if until() else None)

        def frame_hooks(frame: Frame) -> None:
            for hook in self._frame_hooks:
                hook(frame)

        self.start_keys()
        failures = 0
        while True:
            try:
                run_loop(self.session, open_source or self.open_source(), self.stop,
                         reopen_s=self.config.audio.reopen_s, on_frame=frame_hooks,
                         live=self.spec.file is None if live is None else live, notify=self.notify,
                         wait_for_device=self.spec.wait_for_device, position=self.session.position)
                return
            except SoundSystemStuck:
                raise  # a restart is the only cure, for the kiosk too
            except Exception:  # noqa: BLE001 - resilient: whatever broke, the box keeps listening
                if not self.spec.resilient:
                    raise
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    log.exception("the live loop failed (%d time%s); it goes on", failures, "s" * (failures != 1))
                self.session.pipeline_reset()
                if self.stop.wait(self.config.audio.reopen_s):
                    return

    def serve(self, open_source: Callable[[int], FrameSource] | None = None,
              until: Callable[[], bool] | None = None,
              on_stopping: Callable[[str], None] | None = None, live: bool | None = None) -> TalkSummary:
        """Run until a signal (SIGINT, SIGTERM, SIGHUP), the end of the input or ``until()``, then close.

        ``on_stopping(reason)`` is called once the loop has stopped, before closing (reason: the signal's name,
        or "end of input"). ``live``: as for :meth:`run`."""
        self.notify(TalkStarted(self.spec.source))
        failure: Exception | None = None
        with StopOnSignals(self.stop) as signals:
            try:
                self.run(open_source, until, live)
            except KeyboardInterrupt:  # before the handlers were installed
                signals.received = signals.received or "SIGINT"
            except Exception as exc:  # noqa: BLE001 - a stuck sound system, or anything the loop did not survive
                failure = exc
            finally:
                self.stopped_by = signals.received
                if on_stopping is not None:
                    on_stopping(self.stopped_by or _stop_reason(failure))
            summary = self.close()  # still guarded: a second signal while closing does not kill it
        if failure is not None:
            raise failure  # the talk is stored (not left open in the journal); the command ends with one line
        return summary

    def close(self) -> TalkSummary:
        """End what is under way, store the talk, stop the keys and the speaker, close the journal (idempotent)."""
        if self.summary is not None:
            return self.summary
        if self._keys is not None:
            self._keys.stop()
        if self.recognizer_thread is not None:
            self.recognizer_thread.close()  # the loop has ended: so does listening for commands
        try:
            summary = self.session.finish()
        except Exception as exc:  # noqa: BLE001 - shutting down: report and go on closing
            log.warning("could not finish the talk cleanly: %s", exc)
            summary = TalkSummary()
        self.summary = summary
        written = self.session.talk.close()  # after a failed finish too: the writer ends before the journal does
        if self.session.note_worker is not None:
            written = self.session.note_worker.close() and written  # (closed by finish, unless it failed)
        self._close_speaker(cut=bool(self.stopped_by))
        if self.journal is not None and not written:
            log.warning("journal %s: left open: a writer is still waiting for the disk", self.journal.path)
        elif self.journal is not None:
            try:
                self.journal.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the journal: %s", exc)
        self.notify(TalkEnded(summary, self.stopped_by or "end of input"))
        return summary

    def _close_speaker(self, cut: bool) -> None:
        """Let the last prompt finish (not on a signal), then close; never hang on a stuck speech engine."""
        speaker = self.speaker
        if cut or self.spec.finish_speech_s <= 0:
            speaker.stop()
        else:
            speaker.wait(timeout_s=self.spec.finish_speech_s)
        closer = threading.Thread(target=speaker.close, name="voicecoach-speaker-close", daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT_S)
        if closer.is_alive():
            log.warning("the speech engine did not stop within %.0f s; leaving it", CLOSE_TIMEOUT_S)

