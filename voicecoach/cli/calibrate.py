"""``voicecoach calibrate``: each partner speaks a few sentences at their normal level; a voice profile is stored."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import numpy as np

from .. import paths
from ..errors import InputError, VoicecoachError
from . import DeviceOption, config_of, input_path

ORDER = 16
DEFAULT_SECONDS = 15.0
PROMPT = ("{name}, please talk for about {seconds} seconds at your normal, calm speaking level. "
          "You could describe your day, or read something aloud. Start when I finish speaking.")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser("calibrate", parents=[common], help="learn both partners' calm voices (a few sentences each)")
    p.add_argument("--input", metavar="DEV", action=DeviceOption, help="input device: index or part of its name")
    p.add_argument("--output", metavar="DEV", action=DeviceOption, help="output device: index or part of its name")
    p.add_argument("--seconds", type=float, default=None,
                   help=f"seconds of speech to record per partner (default: {DEFAULT_SECONDS:g}); with --from-wav: "
                        f"use the first SECONDS of each recording (default: all of it)")
    p.add_argument("--from-wav", nargs=2, metavar=("A.wav", "B.wav"),  # str: Path("") would be "."
                   help="use two recordings (one per partner) instead of the microphone")
    p.set_defaults(func=run)


def _record(config, device, seconds: float) -> np.ndarray:
    from ..audio.device import MicSource

    # not announced: "(recording NAME ...)" says it, and the log line came once per partner
    mic = MicSource(device, frame_ms=config.audio.frame_ms).open(announce=False)
    chunks = []
    try:
        for frame in mic.frames():
            chunks.append(frame.samples)
            if len(chunks) * config.audio.frame_ms / 1000.0 >= seconds:
                break
    finally:
        mic.close()
    return np.concatenate(chunks)


def _find_microphone(config, device) -> None:
    """Raise the one-line device error now when there is no such microphone, before anyone is asked to speak."""
    from ..audio.device import MicSource

    MicSource(device, frame_ms=config.audio.frame_ms)  # finds the device and its format; opens nothing


def _first_seconds(audio: np.ndarray, path: Path, seconds: float | None) -> np.ndarray:
    """The first ``seconds`` of a recording (16 kHz), as the microphone would have recorded them; all of it for
    None. A shorter recording is refused, not used whole: the voice would be learned from less than was asked for."""
    from ..audio.frames import SAMPLE_RATE

    if seconds is None:
        return audio
    wanted = int(round(seconds * SAMPLE_RATE))
    if len(audio) < wanted:
        raise InputError(f"{path} holds {len(audio) / SAMPLE_RATE:.1f} s of audio, less than --seconds {seconds:g}: "
                         f"give a longer recording or a smaller --seconds (or leave --seconds out to use all of each "
                         f"recording)")
    return audio[:wanted]


def _say(text: str, speaker, timeout_s: float) -> None:  # noqa: ANN001 - a Speaker, imported lazily
    """Print and say one line of the guidance, and wait until it has been said."""
    print(text, flush=True)
    speaker.say(text)
    speaker.wait(timeout_s=timeout_s)


def _learn(recording: np.ndarray, name: str, config):  # noqa: ANN001, ANN202 - Config, PartnerVoice: lazily
    """One partner's calm voice from their recording; too little speech is a one-line InputError naming them."""
    from ..detect.calibration import partner_voice

    try:
        return partner_voice(recording, config.detection, config.audio.frame_ms)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Guide both partners, build the profile, store it next to the journal."""
    from .. import app
    from ..audio.wav import read_wav
    from ..detect.speakers import VoiceProfile

    config = config_of(args)
    names = (config.partners.a_name, config.partners.b_name)
    if args.seconds is not None and not 5 <= args.seconds <= 120:  # written so that nan is out of range too
        raise InputError(f"--seconds {args.seconds:g} is out of range (5 to 120)")
    seconds = DEFAULT_SECONDS if args.seconds is None else args.seconds
    if args.from_wav and args.input is not None:  # was: the device ignored without a word
        raise InputError(f"--input and --from-wav both name what to learn the voices from: give --from-wav alone "
                         f"to use the two recordings, or --input {args.input} alone to record with that microphone")
    if args.from_wav:
        files = [input_path(f, "--from-wav: a file name", "one WAV file per partner, e.g. --from-wav a.wav b.wav")
                 for f in args.from_wav]
        audio = [_first_seconds(read_wav(path), path, args.seconds) for path in files]
        learned = [_learn(recording, name, config) for name, recording in zip(names, audio)]
    else:
        _find_microphone(config, args.input or config.audio.input or None)
        audio, learned = [], []
        with app.make_speaker(config, output=args.output, on_text=lambda t: None) as speaker:
            for name in names:
                _say(PROMPT.format(name=name, seconds=int(seconds)), speaker, 60.0)
                threading.Event().wait(0.7)  # let the room settle after the prompt
                print(f"(recording {name} for {seconds:g} s ...)", flush=True)
                audio.append(_record(config, args.input or config.audio.input or None, seconds))
                try:  # learned at once: the next partner is not asked to speak for a profile that cannot be made
                    learned.append(_learn(audio[-1], name, config))
                except InputError:
                    _say(f"I did not hear enough of {name}'s voice, so nothing was saved.", speaker, 30.0)
                    raise
            # said once both voices are learned (it was said first, also before "only 0.0 s of speech heard")
            _say("Thank you both. I have learned your voices.", speaker, 30.0)
    voices = dict(zip(("A", "B"), learned))
    if args.from_wav and np.array_equal(audio[0], audio[1]):  # the same file twice (or a copy): one voice as both
        first, second = args.from_wav
        raise InputError(f"{first} and {second} hold the same recording: give one recording of each partner "
                         f"({names[0]}'s first, then {names[1]}'s)")
    profile = VoiceProfile(voices)
    path = app.profile_path()
    try:
        paths.private_dir(path.parent, tighten=True)
        paths.write_private(path, profile.to_json())
    except OSError as exc:
        raise VoicecoachError(f"cannot save the voice profile to {path} ({exc.strerror or exc}); make the data "
                              f"folder writable (or set VOICECOACH_DATA_DIR) and calibrate again") from None
    for label, name in zip(("A", "B"), names):
        p = profile.partners[label]
        f0 = f", pitch {p.calm_f0_hz:.0f} Hz" if p.calm_f0_hz else ""
        print(f"{name}: calm level {p.calm_db:.1f} dBFS{f0}")
    print(f"profile saved to {path}; listen and kiosk now start from it", file=sys.stderr)
    return 0
