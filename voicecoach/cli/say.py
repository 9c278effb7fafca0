"""``voicecoach say``: speak a sentence with the configured voice, or render it to a WAV file.

Exit 0 only when the words were really spoken (or written); 1 with one line when they could not be (no output
device, no speech engine); 2 for bad input (too long, an unwritable --to path, a bad option).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import paths
from ..errors import DeviceError, InputError, VoicecoachError
from ..settings import shown_value
from . import DeviceOption, check_wav_output, write_wav_output

ORDER = 45


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``say`` subcommand."""
    p = sub.add_parser("say", parents=[common], help="speak a sentence (or render it to a WAV file)",
                       description="Speak TEXT with the configured voice ([speech] in the config), or render it.")
    p.add_argument("text", nargs="?", default=None, help="what to say")
    p.add_argument("--to", metavar="FILE.wav", help="write the speech to this WAV file instead of playing it")
    p.add_argument("--voice", help="voice id or part of its name (see --voices), e.g. en-us or en+f3")
    p.add_argument("--rate", type=int, metavar="WPM", help="speaking rate in words per minute (80-300)")
    p.add_argument("--output", metavar="DEVICE", action=DeviceOption,
                   help="output device: index or part of its name (voicecoach devices)")
    p.add_argument("--voices", action="store_true", help="list the available voices and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Speak or render the text; one-line errors for bad input."""
    from . import config_of

    config = config_of(args)
    settings = config.speech
    if args.voices:
        _refuse_unused_with_voices(args)
        return _list_voices()
    if not args.text or not args.text.strip():
        raise InputError('nothing to say: give the text, e.g. voicecoach say "Shall we take a pause?"')
    from ..speech.text import is_silent, prompt_problem

    if is_silent(args.text):  # "...", "?", control characters: espeak-ng says nothing for these
        raise InputError(f'nothing to say in {args.text!r}: only punctuation (or control characters); give words, '
                         f'e.g. voicecoach say "Shall we take a pause?"')
    too_long = prompt_problem(args.text)
    if too_long:
        raise InputError(too_long)
    if args.rate is not None:
        if not 80 <= args.rate <= 300:
            raise InputError(f"--rate {args.rate} is out of range (allowed 80 to 300 words per minute)")
        settings = dataclasses.replace(settings, rate_wpm=args.rate)
    if args.voice is not None:
        if not args.voice.strip():  # was: the engine's default voice, not even the config's, without a word
            raise InputError("--voice is empty: give a voice id or part of its name (list them with: voicecoach say "
                             "--voices), or leave --voice out for the configured voice")
        settings = dataclasses.replace(settings, voice=args.voice)
    _require_voice(settings.voice, "--voice" if args.voice is not None else
                   f"[speech] voice in {getattr(args, 'config', None) or paths.config_file()}")
    if args.to is not None:  # --to "" too: refused, not taken as "speak it aloud"
        if args.output is not None:   # a file is written, nothing is played: the device would be ignored
            raise InputError(f"--to writes a WAV file and --output plays on a device: give one of them "
                             f"(e.g. voicecoach say {shown_value(args.text)} --output {shown_value(args.output)})")
        return _render_to(settings, args.text, Path(args.to))
    return _speak(settings, args.text, args.output if args.output is not None else config.audio.output)


def _refuse_unused_with_voices(args: argparse.Namespace) -> None:
    """``--voices`` lists the voices and exits: text or an option that would then not be used is refused (it was
    ignored without a word: ``say hi --voices --to hi.wav`` wrote nothing, exit 0)."""
    options = (("--to", args.to), ("--voice", args.voice), ("--rate", args.rate), ("--output", args.output))
    unused = [f"{option} {shown_value(value)}" for option, value in options if value is not None]
    if args.text is not None:
        unused.insert(0, f"the text {shown_value(args.text)}")
    if unused:
        raise InputError(f"--voices only lists the voices, so {' and '.join(unused)} would not be used: give "
                         f"--voices alone, or leave it out to speak")


def _require_voice(spec: str, named_by: str) -> None:
    """Refuse a voice that no installed voice matches: ``say`` is where a voice is tried, so a typo is an error
    (the live commands warn once and use the default voice; ``voicecoach check`` warns too)."""
    from ..speech.engines import list_voices, missing_voice

    if spec and missing_voice(spec, list_voices()):
        raise InputError(f"no TTS voice matches {shown_value(spec)} ({named_by}); list the voices with: voicecoach "
                         f"say --voices")  # shown cut short: a pasted paragraph is not echoed whole


def _render_to(settings, text: str, path: Path) -> int:
    from ..audio.playback import NullSink
    from ..speech.speaker import Speaker

    check_wav_output(path, "--to")
    with Speaker(settings, sink=NullSink()) as speaker:
        result = speaker.synthesize(text)
    if not result.is_speech:
        raise VoicecoachError("could not synthesise speech with any engine (see the warnings above; install "
                              "espeak-ng: sudo apt-get install espeak-ng)")
    write_wav_output(path, result.audio, result.sample_rate)
    print(f"wrote {path}: {result.duration_s:.2f} s of speech at {result.sample_rate} Hz ({result.engine}, "
          f"{1000 * result.elapsed_s:.0f} ms to synthesise)")
    return 0


def _speak(settings, text: str, output: str) -> int:
    from ..audio.device import find_device
    from ..audio.playback import DeviceSink
    from ..speech.speaker import Speaker

    device = None
    if output:
        device = find_device(output, "output")  # a wrong name is the user's input error (exit 2)
    try:
        sink = DeviceSink(device)
    except VoicecoachError as exc:
        raise DeviceError(f"could not speak: {exc}; or write the speech to a file: voicecoach say TEXT "
                          f"--to FILE.wav") from None
    with Speaker(settings, sink=sink) as speaker:
        result = speaker.say(text).wait()
    if result is None or not result.spoken:
        why = result.reason if result is not None else "it did not finish"
        raise DeviceError(f"could not speak: {why}")
    return 0


def _list_voices() -> int:
    from ..speech.engines import list_voices

    voices = list_voices()
    if not voices:
        print("No voices found (is espeak-ng installed? sudo apt-get install espeak-ng)")
        return 1
    for vid, name in voices:
        print(f"{vid:28} {name}")
    print("Choose one with --voice ID (or [speech] voice = \"ID\" in the config); add +f3, +m2, ... for variants.")
    return 0
