"""``voicecoach check``: is this box ready to go live? One line per check, with the exact fix.

Checks: config, kiosk schedule, language pack, check-in scripts (they load, and the language can answer them), speech
model (and whether it can hear the scripts' choices), speech output (TTS), input device, output device (with
``--kiosk``, which speaks and shows nothing, none FAILs; elsewhere the prompts are shown as text: a WARN), journal,
free space, and the home page and hooks when they are on (with both off, check opens no network socket at all).
Each check is isolated: one that fails (or crashes) never stops the others. Exit 0 when
nothing FAILs (WARNs are fine: the product degrades gracefully), 1 otherwise.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import DeviceOption, config_of, print_out

ORDER = 40
log = logging.getLogger(__name__)
OK, WARN, FAIL = "OK", "WARN", "FAIL"
MIC_WAIT_S = 2.0  # a working microphone delivers its first frame well within this
NAMES = {"check_names": "names", "check_model": "speech model", "check_tts": "speech output",
         "check_input": "input device", "check_output": "output device", "check_space": "free space",
         "check_page": "home page", "check_hooks": "hooks"}


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: OK / WARN / FAIL, what was checked, what was found, and the fix."""

    status: str
    what: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``STATUS what: detail (fix: ...)`` on one line."""
        text = f"{self.status:<4} {self.what}: {self.detail}"
        return text + (f" -- fix: {self.fix}" if self.fix else "")


@dataclass
class Context:
    """What the checks share: the arguments and the config (the defaults when the config is broken)."""

    args: argparse.Namespace
    config: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``check`` subcommand."""
    p = sub.add_parser("check", parents=[common],
                       help="check config, scripts, speech model, voice, devices and journal before going live")
    p.add_argument("--input", metavar="DEV", action=DeviceOption, help="input device to check (default: config)")
    p.add_argument("--output", metavar="DEV", action=DeviceOption, help="output device to check (default: config)")
    p.add_argument("--no-devices", action="store_true", help="skip the sound device checks")
    p.add_argument("--kiosk", action="store_true",
                   help="check as for the kiosk, which speaks and shows nothing: no usable output device FAILs "
                        "(elsewhere it is a WARN: `listen` and `checkin` show the prompts as text)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every check, print one line each, exit 1 when any FAILs (also when the output's reader went away)."""
    ctx = Context(args)
    checks: list[Callable[[Context], list[Finding]]] = [
        check_config, check_names, check_schedule, check_language, check_scripts, check_model, check_tts, check_input,
        check_output,
        check_journal, check_space, check_page, check_hooks]
    failed = warned = 0
    for check in checks:  # a reader that went away (``| head -1``) is let go: the verdict is the exit status
        for finding in run_isolated(check, ctx):
            print_out(finding.line())
            failed += finding.status == FAIL
            warned += finding.status == WARN
    print_out(verdict(failed, warned))
    return 1 if failed else 0


def verdict(failed: int, warned: int) -> str:
    """The last line: ready or not, and how many warnings (a WARN line says "fix: ...", so "nothing to fix" under
    one said two things at once)."""
    if failed:
        return f"not ready: {failed} problem{'s' * (failed != 1)} to fix"
    if warned:
        return f"ready: {warned} warning{'s' * (warned != 1)} above, worth a look but not needed to go live"
    return "ready: nothing to fix"


def run_isolated(check: Callable[[Context], list[Finding]], ctx: Context) -> list[Finding]:
    """Run one check; any exception becomes a FAIL line for that check alone."""
    name = NAMES.get(check.__name__, check.__name__)
    try:
        return check(ctx)
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        log.debug("check %s crashed", name, exc_info=True)
        return [Finding(FAIL, name, f"the check itself failed: {type(exc).__name__}: {exc}",
                        "rerun with: voicecoach --debug check, and report it")]


# --- the checks ----------------------------------------------------------------------------------------------

def check_config(ctx: Context) -> list[Finding]:
    """The config file parses and every value is allowed."""
    from .. import paths
    from ..config import Config
    from ..errors import VoicecoachError

    from ..config_retired import notices_in, pinned_notice, said_elsewhere

    explicit = getattr(ctx.args, "config", None)
    path = Path(explicit) if explicit else paths.config_file()
    # keys an update removed or renamed: the kiosk starts, but the file should change (said here as WARN lines,
    # so loading the file does not log them as well)
    notices = notices_in(path) if path.is_file() else []
    said_elsewhere(notices)
    try:
        ctx.config = config_of(ctx.args)
    except VoicecoachError as exc:
        ctx.config = Config()
        return [Finding(FAIL, "config", f"{exc} (the other checks use the defaults)",
                        f"edit {path}, then run: voicecoach check"), *(Finding(WARN, "config", n) for n in notices)]
    if not path.exists():
        return [Finding(OK, "config", f"no file at {path}: using the defaults")]
    pinned = pinned_notice(path, ctx.config)  # an earlier version's defaults, written by its config init
    notices += [pinned] if pinned else []
    return ([Finding(WARN, "config", notice) for notice in notices] + _readable_by_all(path)
            or [Finding(OK, "config", f"{path}")])


def _readable_by_all(path: Path) -> list[Finding]:
    """A WARN for a config file every account may read (a file made by hand under umask 022): it holds the names
    and any broker password. Its group may read it (the kiosk's 0640, for the service's group)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return []
    if not mode & 0o004:
        return []
    return [Finding(WARN, "config", f"{path} can be read by every account on this computer (mode {mode:o}): the "
                                    f"names and any broker password in it", f"chmod o-r {path}")]


def check_names(ctx: Context) -> list[Finding]:
    """The partners' names the prompts say; the defaults ("Partner A") are a WARN: the kiosk's first words to the
    couple were "Hi Partner A and Partner B", since nothing in the set-up asked for their names."""
    from .. import paths
    from ..config import PartnerSettings

    names, default = ctx.config.partners, PartnerSettings()
    said = f"the prompts say {names.a_name!r} and {names.b_name!r}"
    unset = [key for key in ("a_name", "b_name") if getattr(names, key) == getattr(default, key)]
    if not unset:
        return [Finding(OK, "names", said)]
    path = getattr(ctx.args, "config", None) or paths.config_file()
    return [Finding(WARN, "names", f"{said} (not set)",
                    f"set [partners] {' and '.join(unset)} in {path} (take the '# ' off), e.g. a_name = \"Sam\"")]


def check_schedule(ctx: Context) -> list[Finding]:
    """The kiosk's rituals and quiet hours, as the kiosk will read them."""
    from ..kiosk import RitualScheduler

    scheduler = RitualScheduler(ctx.config.kiosk)
    return [Finding(OK, "schedule", scheduler.describe())]


def check_language(ctx: Context) -> list[Finding]:
    """The language pack for spoken commands exists and loads."""
    from ..asr.lang import BUILTIN_DIR, available_languages, load_language
    from ..errors import InputError

    language = ctx.config.commands.language
    try:
        pack = load_language(language)
    except InputError as exc:
        return [Finding(FAIL, "language", f"commands.language = {language!r}: {exc}",
                        f"set commands.language to one of {', '.join(available_languages())}, or add the pack")]
    ctx.extra["pack"] = pack
    from ..commands import Command

    unsaid = [c.value for c in pack.missing(frozenset(Command))]
    if unsaid:
        return [Finding(WARN, "language", f"{pack.name} ({pack.code}): {pack.source} has no phrase for "
                                          f"{', '.join(unsaid)}: those commands cannot be said",
                        f"add them to its [commands] (the English pack {BUILTIN_DIR / 'en.toml'} has them all)")]
    return [Finding(OK, "language", f"{pack.name} ({pack.code}): {pack.source}")]


def check_scripts(ctx: Context) -> list[Finding]:
    """Every check-in script (built-in and the user's own) loads and can be answered in the language; the scripts
    the kiosk schedules exist."""
    from ..app import kiosk_script_problems
    from ..checkin.library import Library
    from ..checkin.script import unsayable

    library = Library.load()
    findings = [Finding(FAIL, f"script {e.name}", e.error,
                        f"fix what is named above in {e.path}, then run: voicecoach scripts check {e.path}")
                for e in library.entries if e.broken]
    pack = ctx.extra.get("pack")
    problems = [(name, unsayable(library.get(name), pack)) for name in library.names()] if pack is not None else []
    findings += [Finding(FAIL, f"script {name}", problem, "add the phrases to the language pack")
                 for name, problem in problems if problem]
    good = set(library.names())
    for p in kiosk_script_problems(ctx.config.kiosk, library):
        if not any(f.what == f"script {p.name}" for f in findings):
            findings.append(Finding(FAIL, f"script {p.name}", f"kiosk.{p.key} = {p.name!r} {p.problem}",
                                    p.fix))
    if good:
        findings.insert(0, Finding(OK, "scripts", f"{len(good)} check-in script{'s' * (len(good) != 1)} load "
                                                  f"({', '.join(sorted(good))})"))
    return findings


def check_model(ctx: Context) -> list[Finding]:
    """The speech model for spoken commands is there and loads (without it: double clap only)."""
    from .. import app
    from ..errors import VoicecoachError

    if "pack" not in ctx.extra:
        return [Finding(WARN, "speech model", "not checked: the language pack is missing (see above)")]
    listener = app.make_listener(ctx.config, load=False)
    if listener.model_path is None:  # not load(): it would log the words of this WARN line a second time
        return [_missing_model(ctx, listener)]
    static = _static_graph(ctx, listener.model_path)
    try:
        loaded = listener.load()
    except VoicecoachError as exc:
        return [Finding(FAIL, "speech model", f"{exc}", "voicecoach models list, then download it again: "
                                                       "voicecoach models download NAME"), *static]
    if not loaded:
        return [_missing_model(ctx, listener)]
    return [Finding(OK, "speech model", f"{listener.model_path} loads"), *static,
            *_unheard_choices(listener.recognizer)]


def _static_graph(ctx: Context, model_path: Path) -> list[Finding]:
    """A WARN for a model whose graph is static (a big model): it ignores the command grammar, so it hears every
    word of the talk and a command may be heard in ordinary talk; a small model is the fix."""
    from ..asr.models import default_model_name, language_code
    from ..asr.recognizer import static_graph

    if not static_graph(model_path):
        return []
    small = default_model_name(language_code(ctx.config.commands.language)) or "a vosk-model-small-* model"
    return [Finding(WARN, "speech model", f"{model_path} has a static graph (HCLG.fst, which vosk loads first): it "
                    f"ignores the command grammar and hears every word of the talk, so a command may be heard in "
                    f"ordinary talk", f"use a small model: voicecoach models download {small}, and set "
                                      f"commands.model = \"{small}\" (or leave it empty)")]


def _missing_model(ctx: Context, listener: Any) -> Finding:
    """The WARN for a speech model that is not installed, with the command that downloads it."""
    from ..asr.models import language_code, missing_model_message

    message = missing_model_message(ctx.config.commands.model, language_code(ctx.config.commands.language),
                                    getattr(listener.pack, "model", ""))
    detail, _, fix = message.partition("; fix: ")
    return Finding(WARN, "speech model", detail, fix or "voicecoach models list")


def _unheard_choices(recognizer: Any) -> list[Finding]:
    """A script's choices the model cannot hear (words outside its vocabulary): picked with yes / next instead."""
    from ..checkin.library import Library

    library = Library.load()
    findings = []
    for name in library.names():
        for step in library.get(name).steps:
            unheard = recognizer.model.missing_words([o.lower() for o in step.options if "{" not in o])
            if unheard:
                words = ", ".join(sorted({w for ws in unheard.values() for w in ws}))
                findings.append(Finding(WARN, f"script {name}", f"step {step.number} ({step.type}): the speech "
                                        f"model cannot hear {words}; that choice can only be picked with yes or next",
                                        "use words the model knows, or another model"))
    return findings


def check_tts(ctx: Context) -> list[Finding]:
    """A test word can be synthesised, and by which engine."""
    from ..speech.engines import Voice, list_voices, missing_voice
    from ..speech.synth import Synthesizer

    settings = ctx.config.speech
    unknown = missing_voice(settings.voice, list_voices()) if settings.voice else False
    synth = Synthesizer(settings)
    try:
        result = synth.render("Hello.", Voice("" if unknown else settings.voice, settings.rate_wpm, settings.volume))
    finally:
        synth.close()
    if not result.is_speech:
        return [Finding(FAIL, "speech output", "no engine could speak a word: only a tone would be played",
                        "sudo apt-get install espeak-ng (and check speech.engines in the config)")]
    if unknown:
        return [Finding(WARN, "speech output", f"no TTS voice matches speech.voice = {settings.voice!r}: prompts use "
                        "the default voice", "list the voices with: voicecoach say --voices, then set speech.voice")]
    first = settings.engines[0] if settings.engines else result.engine
    if result.engine != first:
        fix = ("sudo apt-get install espeak-ng" if first == "espeak-ng" else
               "pip show pyttsx3 in .venv, or set speech.engines = [\"espeak-ng\"]")
        return [Finding(WARN, "speech output", f"{first} failed; {result.engine} speaks instead "
                                               f"({result.elapsed_s * 1000:.0f} ms for a word)", fix)]
    return [Finding(OK, "speech output", f"{result.engine} renders a word in {result.elapsed_s * 1000:.0f} ms")]


def _device_spec(ctx: Context, kind: str) -> str | None:
    arg = getattr(ctx.args, kind, None)
    return arg if arg is not None else (getattr(ctx.config.audio, kind) or None)


def _list_hint() -> str:
    return "plug the USB microphone in, list devices with: voicecoach devices (and arecord -l), then set audio.input"


def check_input(ctx: Context) -> list[Finding]:
    """An input device is there and delivers audio at a usable rate."""
    if ctx.args.no_devices:
        return [Finding(WARN, "input device", "not checked (--no-devices)")]
    from ..audio.device import MicSource, list_devices
    from ..errors import VoicecoachError

    spec = _device_spec(ctx, "input")
    try:
        inputs = [d for d in list_devices() if d.max_input_channels > 0]
    except VoicecoachError as exc:
        return [Finding(FAIL, "input device", str(exc), "sudo apt-get install libportaudio2")]
    if not inputs:
        return [Finding(FAIL, "input device", "no input device found (no sound server or card?)", _list_hint())]
    try:
        source = MicSource(spec, frame_ms=ctx.config.audio.frame_ms, stall_s=MIC_WAIT_S).open(announce=False)
    except VoicecoachError as exc:
        return [Finding(FAIL, "input device", str(exc), _list_hint())]
    try:
        next(iter(source.frames()))
    except VoicecoachError as exc:
        return [Finding(FAIL, "input device", str(exc), _list_hint())]
    finally:
        source.close()
    name = next((d.name for d in inputs if d.index == source.device or (source.device is None and
                                                                         d.is_default_input)), "default")
    note = "" if source.rate == 16000 else f" (resampled from {source.rate} Hz)"
    return [Finding(OK, "input device", f"{name} delivers audio at {source.rate} Hz{note}")]


def check_output(ctx: Context) -> list[Finding]:
    """An output device is there and opens at a usable rate. Without one the prompts are shown as text: the live
    view of ``listen`` and ``checkin`` still works (a WARN), the kiosk says nothing at all (a FAIL with ``--kiosk``)."""
    if ctx.args.no_devices:
        return [Finding(WARN, "output device", "not checked (--no-devices)")]
    from ..audio.device import list_devices
    from ..audio.playback import DeviceSink
    from ..errors import VoicecoachError

    fix = "plug in the speaker, list devices with: voicecoach devices (and aplay -l), then set audio.output"
    kiosk = getattr(ctx.args, "kiosk", False)
    status, without = ((FAIL, "the kiosk would say nothing") if kiosk else
                       (WARN, "prompts would only be shown as text (the kiosk would say nothing)"))
    try:
        outputs = [d for d in list_devices() if d.max_output_channels > 0]
    except VoicecoachError as exc:
        return [Finding(FAIL, "output device", str(exc), "sudo apt-get install libportaudio2")]
    if not outputs:
        return [Finding(status, "output device", f"no output device found: {without}", fix)]
    try:
        sink = DeviceSink(_device_spec(ctx, "output"))
    except VoicecoachError as exc:
        return [Finding(status, "output device", f"{exc}: {without}", fix)]
    rate = sink.sample_rate
    sink.close()
    name = next((d.name for d in outputs if d.index == sink.device or (sink.device is None and
                                                                        d.is_default_output)), "default")
    return [Finding(OK, "output device", f"{name} opens at {rate} Hz")]


def check_journal(ctx: Context) -> list[Finding]:
    """The journal opens (schema current) and its file and folder are writable and private."""
    if not ctx.config.journal.enabled:
        return [Finding(WARN, "journal", "switched off: nothing is kept (journal.enabled = false)")]
    from ..errors import VoicecoachError
    from ..journal.files import JournalRefused, path_for
    from ..journal.store import Journal

    path = path_for(ctx.config.journal.file)
    try:
        journal = Journal.open(path)
    except JournalRefused as exc:  # damaged, or a newer voicecoach's: a new journal beside the old one
        return [Finding(FAIL, "journal", str(exc), f"move {path} aside (keep it!) and run: voicecoach check")]
    except VoicecoachError as exc:  # its line names its own fix: moving the file aside would not help (a file
        # where its folder should be, a full disk, its mode) or would harm (another program writing it)
        return [Finding(FAIL, "journal", str(exc))]
    try:
        version = journal.schema_version
    finally:
        journal.close()
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return [Finding(FAIL, "journal", f"{path} is not writable by this user",
                        f"sudo chown -R $(id -un) {path.parent}")]
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return [Finding(WARN, "journal", f"{path} is readable by others (mode {mode:o})", f"chmod 600 {path}")]
    return [Finding(OK, "journal", f"{path} (schema {version}, writable, private)")]


def check_space(ctx: Context) -> list[Finding]:
    """Enough free space in the data folder for the journal and voice notes."""
    from .. import paths

    folder = paths.data_dir()
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("/"))
    free_mb = shutil.disk_usage(probe).free / 1e6
    if free_mb < 50:
        return [Finding(WARN, "free space", f"only {free_mb:.0f} MB free in {probe}",
                        "free some space (sudo apt-get clean; sudo journalctl --vacuum-size=50M)")]
    return [Finding(OK, "free space", f"{free_mb:.0f} MB free in {probe}")]


def check_page(ctx: Context) -> list[Finding]:
    """With ``[web] enabled``: the page's address and port can be bound now, and how phones pair."""
    web = ctx.config.web
    if not web.enabled:
        return [Finding(OK, "home page", "off ([web] enabled = false): no network for it")]
    from ..web import missing_libraries

    missing = missing_libraries()
    if missing:
        detail, _, fix = missing.partition(": run ")
        return [Finding(FAIL, "home page", detail, "run " + fix)]
    from ..web.runtime import try_listen, waiting_code_minutes

    at = f"{web.address}:{web.port}"
    try:
        try_listen(web.address, web.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return [Finding(WARN, "home page", f"{at} is in use: by the kiosk's own page if it is running now, "
                                               f"otherwise by another program",
                            "sudo systemctl status voicecoach; if it is not that, set another [web] port")]
        return [Finding(FAIL, "home page", f"cannot listen on {at} ({exc.strerror or exc})",
                        "set [web] address to 127.0.0.1, 0.0.0.0 or one of this computer's addresses")]
    findings = [Finding(OK, "home page", f"{at} can be bound")]
    if web.needs_pairing:
        left = waiting_code_minutes()
        detail = f"phones pair with a one-time code: one is waiting ({left:.0f} min left)" if left is not None \
            else "phones pair with a one-time code: none waiting now (make one when a phone needs it: voicecoach " \
                 "web --pair, or say \"pairing code\")"
        findings.append(Finding(OK, "pairing", detail))
    else:
        findings.append(Finding(OK, "pairing", f"not needed: only this computer can open {at}"))
    return findings


def check_hooks(ctx: Context) -> list[Finding]:
    """With ``[hooks] mqtt``: the broker answers one short connect; with ``[hooks] command``: the program runs."""
    hooks = ctx.config.hooks
    if not hooks.enabled:
        return [Finding(OK, "hooks", "off ([hooks] mqtt and command unset): nothing is sent anywhere")]
    findings = []
    if hooks.mqtt:
        from ..hooks.mqtt import MqttError, MqttRefused, probe_broker
        from ..hooks.settings import parse_mqtt_url

        address = parse_mqtt_url(hooks.mqtt)
        where = f"{address.host}:{address.port}"
        try:
            probe_broker(address, f"voicecoach-check-{os.getpid()}")
        except MqttRefused as exc:
            findings.append(Finding(FAIL, "MQTT broker", str(exc),
                                    "correct the user, password or address in [hooks] mqtt"))
        except MqttError as exc:
            findings.append(Finding(WARN, "MQTT broker", f"{exc}; the kiosk drops events until it answers",
                                    f"start the broker at {where}, or fix [hooks] mqtt"))
        else:
            findings.append(Finding(OK, "MQTT broker", f"{where} answers and accepts voicecoach"))
    if hooks.command:
        from ..hooks.command import program_problem

        problem = program_problem(hooks.command[0])
        findings.append(Finding(FAIL, "hook program", problem, "name a program that runs in [hooks] command")
                        if problem else
                        Finding(OK, "hook program", f"{hooks.command[0]} can be run"))
    return findings
