"""``scripts/evaluate`` with a candidate streaming model instead of the shipped weights (dev only).

    .venv/bin/python -m voicecoach_dev.overlapeval WEIGHTS [--looks FILE] <scripts/evaluate arguments>

The whole pipeline runs as ``scripts/evaluate`` runs it; only ``StreamModel.load()`` reads ``WEIGHTS`` (for whichever
method the config picks: "stream" or "gated"). ``--looks
FILE`` also counts the segmentation model's looks (JSON ``{"n": looks}``, as ``out/h14/pool.py`` reads them; divide
by the run's ``audio_hours``; in-process runs only, so with ``--jobs 1``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Point the stream model at the candidate, then run the evaluation with the remaining arguments."""
    from voicecoach.detect import overlap
    from voicecoach_dev.evalkit import evaluate
    from voicecoach_dev.overlaptune import use_weights

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print("overlapeval: error: give the candidate weights file first, then scripts/evaluate's arguments",
              file=sys.stderr)
        return 2
    use_weights(Path(args.pop(0)))
    looks_path = None
    if "--looks" in args:
        i = args.index("--looks")
        looks_path = Path(args[i + 1])
        del args[i:i + 2]
    if looks_path is None:
        return evaluate.main(args)
    looks = {"n": 0}
    check = overlap.OverlapInterruptionDetector._check

    def counted(self):
        looks["n"] += 1
        return check(self)

    overlap.OverlapInterruptionDetector._check = counted  # type: ignore[method-assign]
    try:
        return evaluate.main(args)
    finally:
        looks_path.write_text(json.dumps(looks))


if __name__ == "__main__":
    sys.exit(main())
