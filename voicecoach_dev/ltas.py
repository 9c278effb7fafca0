"""The long-term speech spectrum of dev-set talks, as the streaming model sees it: the equaliser's reference.

    .venv/bin/python -m voicecoach_dev.ltas [--split train] [--draw 1] [--mic NAME]

For each talk of the calm, calm_long and interrupt families (dry and in rooms), the spectrum the equaliser
(``voicecoach/detect/equaliser.py``) learns by the talk's end, its median band at 0; prints the mean over the talks
(``REFERENCE``) and the spread from talk to talk (``SPREAD_DB``), in dB per band. ``--mic`` hears the talks through
a microphone chain first (``evalkit.micchain``), to see what the equaliser will have to correct.
"""

from __future__ import annotations

import argparse

import numpy as np
from numpy.typing import NDArray

from voicecoach.detect.equaliser import DB, SpectrumEqualiser
from voicecoach.detect.stream_model import LogMel, N_MEL
from voicecoach_dev.evalkit import corpus, micchain
from voicecoach_dev.evalkit.devset import ensure_devset

FAMILIES = ("calm", "calm@room", "calm_long", "calm_long@room", "interrupt", "interrupt@room")


def talk_shapes(split: str, draw: int, mic: str | None = None) -> NDArray[np.float64]:
    """(talks, bands): each talk's learned long-term spectrum, natural-log units, its median band at 0."""
    items = ensure_devset(False, split=split, draw=draw, scenarios_wanted=list(FAMILIES), log=lambda m: None)
    shapes = []
    for it in items:
        x = corpus.read_wav(it["wav"]).astype(np.float32) / 32768.0
        if mic:
            x = micchain.apply(mic, x, micchain.item_speech_dbfs(it), 1)
        eq = SpectrumEqualiser(np.zeros(N_MEL), None)
        eq.process(LogMel().process(x))
        if eq.ltas is not None:
            shapes.append(eq.ltas - np.median(eq.ltas))
    return np.array(shapes)


def main(argv: list[str] | None = None) -> int:
    """Print the reference and the spread, dB per band."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=("train", "tune", "eval"))
    ap.add_argument("--draw", type=int, default=1)
    ap.add_argument("--mic", choices=sorted(micchain.CHAINS))
    args = ap.parse_args(argv)
    shapes = talk_shapes(args.split, args.draw, args.mic)
    print(f"{len(shapes)} talks")
    print("REFERENCE (dB):", ", ".join(f"{v:.1f}" for v in shapes.mean(0) / DB))
    print("SPREAD_DB:", ", ".join(f"{v:.1f}" for v in shapes.std(0) / DB))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
