"""What makes the real call's false interruptions in rooms: a voice rising in emphasis, or any rise in level?

The real call (``voicecoach_dev/evalkit/realtalks.py``) heard through rooms has false interruptions almost only
where one party's voice rises about 8 dB in emphasis within their own turn (87.4-88.9 s and 149.1-149.9 s of
SpokenWOZ MUL1011). This builds the same rooms (the same draws, beds and seeds as ``scripts/evaluate``) three ways
and prints each room's interruptions with the default settings:

- ``as-is``: the call as recorded;
- ``flat``: those two stretches of party B brought down by ``--db`` (their emphasis kept, their rise in level gone);
- ``bump``: the call as recorded plus a plain gain of ``--db`` for 1.2 s in the middle of each of party A's turns
  longer than 3 s (a level rise of the same voice, no emphasis).

    PYTHONPATH=. .venv/bin/python scripts/measure_call_emphasis.py [--draw 31 35 41] [--db 8] [--mode as-is flat bump]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

RISES_S = ((87.6, 88.9), (149.1, 149.9))   # party B's rises in emphasis
BUMP_S = 1.2
RAMP_S = 0.03


def altered(mode: str, db: float, root: Path, load: Callable[[Path], np.ndarray]) -> Callable[[Path], np.ndarray]:
    """A stand-in for ``corpus.load_audio`` (``load``, the real one) that alters the call's channels as ``mode``
    asks."""
    from voicecoach_dev.evalkit import corpus, realtalks

    gain = np.float32(10 ** (db / 20))

    def loader(path: Path) -> np.ndarray:
        x = load(path).copy()
        name = Path(path).name
        if mode == "flat" and name.endswith("chB.wav"):
            for a, b in RISES_S:
                x[int(a * corpus.RATE): int(b * corpus.RATE)] /= gain
        if mode == "bump" and name.endswith("chA.wav"):
            for turn in realtalks.truth(root)["turns"]:
                if turn["speaker"] == "A" and turn["end"] - turn["start"] > 3.0:
                    i = int((turn["start"] + turn["end"]) / 2 * corpus.RATE)
                    n, r = int(BUMP_S * corpus.RATE), int(RAMP_S * corpus.RATE)
                    env = np.full(n, gain, np.float32)
                    env[:r], env[-r:] = np.linspace(1, gain, r), np.linspace(gain, 1, r)
                    x[i: i + n] *= env[: len(x) - i]
        return x

    return loader


def main(argv: list[str] | None = None) -> int:
    """Print the interruptions found in each room of each draw, for each mode."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draw", type=int, nargs="+", default=[31, 35, 41])
    ap.add_argument("--db", type=float, default=8.0)
    ap.add_argument("--mode", nargs="+", default=["as-is", "flat", "bump"], choices=["as-is", "flat", "bump"])
    args = ap.parse_args(argv)
    from voicecoach.analysis import analyze_file
    from voicecoach.config import Config
    from voicecoach.events import Interruption
    from voicecoach_dev.evalkit import corpus, realtalks
    from voicecoach_dev.evalkit.splits import Split

    root = corpus.find_corpus()
    if not realtalks.available(root):
        print("measure_call_emphasis: error: the corpus has no SpokenWOZ call (conversations/spokenwoz)",
              file=sys.stderr)
        return 2
    original = corpus.load_audio
    for mode in args.mode:
        setattr(corpus, "load_audio", altered(mode, args.db, root, original) if mode != "as-is" else original)
        total = 0
        with tempfile.TemporaryDirectory() as tmp:
            for draw in args.draw:
                for index in range(realtalks.ROOM_ITEMS):
                    meta = realtalks.build_room_item(root, index, Path(tmp), draw, Split.EVAL, "eval")
                    events, _ = analyze_file(str(Path(tmp) / meta["wav"]), Config())
                    found = [round(e.t, 1) for e in events if isinstance(e, Interruption)]
                    total += len(found)
                    print(f"{mode:6s} EVAL {draw} room {index}: interruptions at {found} s", flush=True)
        print(f"{mode}: {total} interruptions in {len(args.draw) * realtalks.ROOM_ITEMS} rooms")
    setattr(corpus, "load_audio", original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
