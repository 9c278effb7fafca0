"""The product's parts, each built on its own (the live assembly, :mod:`voicecoach.runtime_live`, puts them
together; ``calibrate``, ``check`` and the home page use some of them alone).

Each builder degrades instead of failing where the product can still help: no speech model -> commands come
from the keyboard and the double-clap signal; no output device -> prompts are printed; journal unavailable ->
detection goes on without it; a broken user script -> reported once, the other scripts go on.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import paths
from .commands import Command
from .config import Config, KioskSettings
from .errors import VoicecoachError

if TYPE_CHECKING:
    from .asr.listener import CommandListener
    from .checkin.library import Library
    from .checkin.runner import ScriptRunner
    from .journal.notes import VoiceNotes
    from .journal.store import Journal
    from .speech.speaker import Speaker

log = logging.getLogger(__name__)

NOTICE = (
    "voicecoach is a reminder of the agreement you made together: it notices raised voices and interruptions and "
    "offers the pause you chose. It is not therapy, not a diagnosis and not a judge, and it never takes sides. "
    "It is not meant for relationships with violence or fear: if you feel unsafe, please contact local emergency "
    "services or a domestic-violence helpline. Everything stays on this device; no audio is stored, unless you turn "
    "on voice notes for each other."  # was "no audio is stored." alone: untrue once they are on (an opt-in)
)


def first_run_notice(remember: bool = True) -> str | None:
    """The plain statement of what voicecoach is and is not, once per installation (None after the first).
    ``remember`` False shows it without counting it as shown (a replay of a recording: not the couple's first talk)."""
    marker = paths.data_dir() / ".notice-shown"
    if marker.exists():
        return None
    if not remember:
        return NOTICE
    try:
        paths.private_dir(marker.parent, tighten=True)  # the data folder: 0700 whatever the umask
        paths.write_private(marker, "")
    except OSError as exc:
        log.debug("cannot write %s: %s", marker, exc)
    return NOTICE


def profile_path() -> Path:
    """Where ``voicecoach calibrate`` stores the couple's voice profile."""
    return paths.data_dir() / "profile.json"


PROFILE_WHAT = "the voice profile calibrate learned"  # how erase names it, on the command line and the page


def erase_profile() -> bool:
    """Delete the calibration profile (each partner's voice: level, pitch, timbre); True if there was one.

    ``journal erase`` and the page's erase call it after the journal's: the profile is personal data kept beside
    the journal, not in it. Raises OSError (or ValueError for something that is not a plain file) when it stays."""
    path = profile_path()
    return paths.remove_inside(path, path.parent)


KIOSK_UNIT = Path("/etc/systemd/system/voicecoach.service")  # where scripts/install-kiosk puts the service


def kept_after_erase(config_file: Path, journal_file: Path) -> list[str]:
    """What an erase of the journal at ``journal_file`` leaves on this device, each with how to remove it (for
    ``journal erase`` and the page's Erase): other journals' voice notes in the data folder, the settings (the
    names), and on a kiosk its lines in the system log (what it said, when)."""
    files = [f for f in (config_file, config_file.with_name(config_file.name + ".bak")) if f.exists()]
    kept = [f"{count} voice note{'' if count == 1 else 's'} of another journal (the note-*.wav files in {folder}: "
            f"delete them to remove {'it' if count == 1 else 'them'})" for folder, count in _other_notes(journal_file)]
    if files:
        kept.append("your settings in " + " and ".join(map(str, files)) + " (your names and rituals: delete "
                    + ("that file" if len(files) == 1 else "those files") + " to remove them)")
    if KIOSK_UNIT.exists():
        kept.append("the kiosk's lines in the system log (journalctl -u voicecoach: what it said, and when; "
                    "sudo journalctl --rotate --vacuum-time=1s clears the whole system log, or it goes by the "
                    "system's own schedule)")
    return kept + ["any export or report you saved yourself"]


def _other_notes(journal_file: Path) -> list[tuple[Path, int]]:
    """The voice-note folders in the data folder that belong to other journals than ``journal_file`` (a
    ``[journal] file`` used before, the default journal's), with how many note files each holds; the empty left
    out."""
    from .journal.notes import own_files

    root = paths.data_dir() / paths.NOTES_FOLDER
    if not root.is_dir() or root.is_symlink():
        return []
    mine = paths.notes_dir(journal_file)
    found = [(folder, len(own_files(folder))) for folder in [root, *sorted(root.glob("journal-*"))] if folder != mine]
    return [(folder, count) for folder, count in found if count]


def load_profile() -> Any:
    """The calibration profile, or None (a damaged profile is reported and ignored)."""
    path = profile_path()
    if not path.exists():
        return None
    from .detect.speakers import VoiceProfile

    try:
        profile = VoiceProfile.from_json(path.read_text(encoding="utf-8"))
        for label, voice in profile.partners.items():  # from_json keeps the baselines as found in the file
            _check_baselines(label, voice)
        return profile
    except Exception as exc:  # noqa: BLE001 - any damage: ignore the profile, keep running
        log.warning("ignoring the voice profile %s (%s); run voicecoach calibrate again", path, exc)
        return None


def _check_baselines(label: str, voice: Any) -> None:
    """Raise ValueError naming the first calm baseline that is not a finite number (a pitch: a positive one)."""
    for name in ("calm_db", "calm_f0_hz", "calm_bright_db"):
        value = getattr(voice, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} of partner {label} is {value!r}, not a number")
        if name == "calm_f0_hz" and value < 0:  # 0 means "no pitch measured"; below it the pitch is nonsense
            raise ValueError(f"{name} of partner {label} is {value!r}, not a pitch")


def make_pipeline(config: Config, use_profile: bool = True) -> Any:
    """The detection pipeline, seeded by the calibration profile when there is one."""
    from .detect.pipeline import Pipeline

    profile = load_profile() if use_profile else None
    return Pipeline(config.detection, frame_ms=config.audio.frame_ms, profile=profile)


def make_speaker(config: Config, output: str | None = None, to_wav: Path | None = None,
                 on_text: Callable[[str], None] | None = None, render_only: bool = False) -> Speaker:
    """The Speaker: the output device (or a WAV file); prints the text when no device can be used."""
    from .audio.playback import AudioSink, NullSink, WavFileSink
    from .speech.speaker import Speaker

    sink: AudioSink | None = None
    if to_wav is not None:
        sink = WavFileSink(to_wav)
    elif render_only:
        sink = NullSink()
    return Speaker(config.speech, output=output if output is not None else (config.audio.output or None),
                   sink=sink, on_text=on_text)


def make_listener(config: Config, load: bool = True,
                  on_loaded: Callable[[bool, str], None] | None = None) -> CommandListener:
    """The command listener (vosk + double clap). Without a model it warns once and uses the clap only.

    With ``load`` the model loads on a background thread (:func:`load_in_background`). A language with no pack is
    an :class:`~voicecoach.errors.InputError` here, before anything else is opened."""
    from .asr.listener import CommandListener

    listener = CommandListener(config.commands, config.commands.language)
    if load:
        load_in_background(listener, on_loaded)
    return listener


def load_in_background(listener: Any, on_loaded: Callable[[bool, str], None] | None = None) -> None:
    """Load the listener's model on a thread (seconds: the loop runs meanwhile, with the clap only), then call
    ``on_loaded(ok, detail)`` from that thread."""
    def load_model() -> None:
        try:
            ok = listener.load()
            detail = str(listener.model_path) if ok else "no speech model: the double clap and keys only"
        except VoicecoachError as exc:
            log.warning("%s", exc)
            ok, detail = False, str(exc)
        if on_loaded is not None:
            on_loaded(ok, detail)

    threading.Thread(target=load_model, name="voicecoach-model-load", daemon=True).start()


def anytime_commands(config: Config) -> frozenset[Command]:
    """The commands heard even when no answer is awaited (``commands.anytime``, validated with the config)."""
    return frozenset(c for c in (Command.named(name) for name in config.commands.anytime) if c is not None)


def open_journal(config: Config) -> Journal | None:
    """The journal, or None when it is switched off. One that cannot be opened is a journal with no file open
    (:meth:`Journal.unopened`): detection runs without it, and the live loop tries the file again every
    ``RETRY_S`` (a folder read-only at boot, a disk full; it was never tried again)."""
    if not config.journal.enabled:
        return None
    from .journal.files import path_for
    from .journal.follow import RETRY_S
    from .journal.store import Journal

    path = path_for(config.journal.file)
    try:
        return Journal.open(path)
    except VoicecoachError as exc:
        log.warning("journal not available, nothing will be stored until it is (tried again every %.0f s): %s",
                    RETRY_S, exc)
        return Journal.unopened(path, exc)


def make_notes(config: Config, journal: Journal | None) -> VoiceNotes | None:
    """Voice-note storage beside the journal (saving works only with ``[journal] voice_notes = true``)."""
    if journal is None or not journal.usable:  # no file open (yet): as without a journal
        return None
    from .journal.notes import VoiceNotes

    try:
        return VoiceNotes(journal, config.journal.voice_notes, config.journal.note_max_s)
    except VoicecoachError as exc:
        log.warning("voice notes unavailable: %s", exc)
        return None


def runner_factory(config: Config, offer_later: bool = False, report_broken: bool = True
                   ) -> Callable[[str], ScriptRunner]:
    """A function that builds a check-in runner for a script name (the scripts are read afresh each time).

    Broken user scripts are reported once, here (unless ``report_broken`` is False: a caller that only checks a
    name before the live loop reports them); they never stop the other scripts (a broken override leaves the
    built-in in use)."""
    from .checkin.library import Library
    from .checkin.runner import ScriptRunner

    if report_broken:
        report_broken_scripts()
    names = (config.partners.a_name, config.partners.b_name)

    def make(name: str) -> ScriptRunner:
        return ScriptRunner(Library.load().get(name), names, config.checkin, offer_later=offer_later,
                            speech_wpm=config.speech.rate_wpm)

    return make


_reported_broken: set[tuple[str, int, str]] = set()  # (file, its mtime_ns, error) warned about in this process
_reported_lock = threading.Lock()


def report_broken_scripts() -> None:
    """One warning for each user script that does not load (the others, and the built-in it overrides, go on).

    Once per file version in a process: the kiosk's page renders a rehearsal with a fresh runner factory each time,
    and its log repeated the same warning on every rehearsal; a file saved again (and still broken) is reported
    again."""
    from .checkin.library import Library

    library = Library.load()
    for entry in library.entries:
        if not entry.broken:
            continue
        try:
            version = entry.path.stat().st_mtime_ns
        except OSError:
            version = 0
        key = (str(entry.path), version, entry.error)
        with _reported_lock:
            if key in _reported_broken:
                continue
            _reported_broken.add(key)
        instead = f"; the built-in {entry.name} is used instead" if entry.name in library.names() else ""
        log.warning("check-in script not loaded (the others go on): %s%s", entry.error, instead)


@dataclass(frozen=True)
class ScheduleProblem:
    """A kiosk ritual the kiosk cannot offer: the setting (``nightly_script``), the script it names, what is wrong,
    and the fix."""

    key: str
    name: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"kiosk.{self.key} = {self.name!r} {self.problem} ({self.fix})"


def kiosk_script_problems(kiosk: KioskSettings, library: Library) -> list[ScheduleProblem]:
    """Each scheduled ritual whose script is not in ``library``, or whose script may not be offered at a set time
    (``offer_on_schedule = false``: the kiosk does not offer it, see :meth:`voicecoach.kiosk.Kiosk.poll`)."""
    wanted = [(kiosk.nightly_script, "nightly_script")] if kiosk.nightly_time else []
    wanted += [(kiosk.weekly_script, "weekly_script")] if kiosk.weekly_day else []
    problems = []
    for name, key in wanted:
        if name not in library.names():
            problems.append(ScheduleProblem(key, name, "names no check-in script",
                                            f"see the names with: voicecoach scripts list, then set kiosk.{key}"))
        elif not library.get(name).offer_on_schedule:
            where = library.get(name).source or "its script"
            problems.append(ScheduleProblem(
                key, name, "is a check-in not meant to be offered at a set time (offer_on_schedule = false)",
                f"set kiosk.{key} to one the kiosk may offer (voicecoach scripts list says which), or set "
                f"offer_on_schedule = true in {where}"))
    return problems


def config_problems(config: Config) -> list[str]:
    """What a valid config can still get wrong, one line each: a language with no pack, a kiosk ritual naming no
    script, a script the language cannot answer. ``config check`` refuses these; ``check`` reports them."""
    from .asr.lang import load_language
    from .checkin.library import Library
    from .checkin.script import unsayable
    from .errors import InputError

    problems = []
    pack = None
    try:
        pack = load_language(config.commands.language)
    except InputError as exc:
        problems.append(f"commands.language = {config.commands.language!r}: {exc}")
    library = Library.load()
    problems += [str(p) for p in kiosk_script_problems(config.kiosk, library)]
    journal = Path(config.journal.file).expanduser() if config.journal.file else None
    if config.journal.enabled and journal is not None and journal.is_dir():  # every command using it refuses it
        problems.append(f"journal.file = {config.journal.file!r} is a folder, not a file (set it to a file's path, "
                        f"e.g. {journal / 'journal.sqlite3'})")
    if pack is not None:
        for name in library.names():
            problem = unsayable(library.get(name), pack)
            if problem:
                problems.append(problem)
    return problems
