"""How often the speaker tracker names the partner who is speaking, per dev-set family.

Over every frame of speech where the truth has exactly one partner speaking, the share the tracker gives that
partner's label (each talk's labels matched to its partners the way that agrees most: the tracker's "A" is whoever
spoke first, not the truth's "A"), and the share it leaves unnamed. The frames come from the pipeline's own front
end (``replay.frame_inputs``), run afresh with the settings given, so ``--config`` may change the tracker's own.

    PYTHONPATH=. .venv/bin/python scripts/measure_speaker_labels.py [--split tune] [--draw 1 2 3] [--config F]
                                                                     [--scenario NAME ...]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np


def label_counts(item: dict[str, Any], inputs: np.ndarray) -> Counter[str]:
    """``right``, ``named`` (labelled frames where one partner speaks) and ``speech`` (all such speech frames)."""
    turns = item["truth"].get("turns", [])
    if not turns:
        return Counter()
    spans = np.array([[t["start"], t["end"]] for t in turns])
    who = np.array([t["speaker"] for t in turns])
    mid = inputs[:, 0] - 0.015   # each frame's middle (its end less half a 30 ms frame)
    inside = (spans[None, :, 0] <= mid[:, None]) & (mid[:, None] <= spans[None, :, 1])
    one = (inside.sum(axis=1) == 1) & (inputs[:, 1] > 0)
    truth = who[np.argmax(inside, axis=1)]
    label = np.array(["", "A", "B"])[inputs[:, 5].astype(int)]
    named = one & (label != "")
    agree = int(np.sum(label[named] == truth[named]))
    n = int(named.sum())
    return Counter(right=max(agree, n - agree), named=n, speech=int(one.sum()))


def main(argv: list[str] | None = None) -> int:
    """Print, per family, the share of speech frames named right and the share left unnamed."""
    from voicecoach.config import Config, load_config
    from voicecoach_dev.evalkit.devset import mixed_items, parse_draws
    from voicecoach_dev.evalkit.replay import frame_inputs

    args = parse_draws(__doc__.split("\n\n")[0], argv)
    cfg = load_config(args.config) if args.config else Config()   # the defaults, not the user's own file
    rows: dict[str, Counter[str]] = {}
    for item in mixed_items(args):
        counts = label_counts(item, frame_inputs(item["wav"], cfg.detection, cfg.audio.frame_ms))
        for row in (item["scenario"], "ALL"):
            rows.setdefault(row, Counter()).update(counts)
    print(f"{'family':22s} {'named right':>12s} {'unnamed':>8s} {'speech h':>9s}")
    for row, c in sorted(rows.items()):
        if c["speech"]:
            print(f"{row:22s} {c['right'] / max(1, c['named']):12.3f} {1 - c['named'] / c['speech']:8.2f} "
                  f"{c['speech'] * 0.03 / 3600:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
