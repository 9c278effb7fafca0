#!/usr/bin/env python3
"""Train the streaming two-voice model: build TRAIN and TUNE material, train, export the weights and reference.

    scripts/train-overlap --method gated  # the real run for the gate's weights (1.5-2 h on 2 shared cores)
    scripts/train-overlap --method stream # ...for the weights the "stream" method runs alone (the same, on more)
    scripts/train-overlap --candidate     # the same run, weights and reference into --out only (nothing shipped)
    scripts/train-overlap --smoke         # a tiny run (about a minute) into out/h2-overlap/smoke, nothing shipped

Each method's weights (``stream_model.WEIGHTS``) have their own recipe (:data:`RECIPES`): the material builder
versions trained and validated on (1000 TRAIN and 100 TUNE talks of each) and the number of updates; the rest is
``overlaptrain.TrainConfig``. The reference goes to ``tests/data/<weights file>-reference.npz``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from voicecoach.detect.stream_model import WEIGHTS, weights_path
from voicecoach_dev import overlapdata
from voicecoach_dev.evalkit import corpus
from voicecoach_dev.evalkit.splits import Split

OUT = corpus.REPO / "out" / "h2-overlap"
TEST_DATA = corpus.REPO / "tests" / "data"


class Recipe(NamedTuple):
    """What trains one method's shipped weights, besides TrainConfig's defaults."""

    builders: tuple[int, ...]   # overlapdata builder versions, trained on together (in this order)
    updates: int


RECIPES = {"gated": Recipe(builders=(1,), updates=2400),        # stream-overlap.npz, the first training
           "stream": Recipe(builders=(1, 2), updates=2700)}     # stream-alone.npz, twice the talks and more beds


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    from voicecoach_dev.overlaptrain import TrainConfig

    d = TrainConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a tiny run that ships nothing (checks the whole path)")
    ap.add_argument("--candidate", action="store_true",
                    help="write the weights and the reference into --out, not over the shipped ones")
    ap.add_argument("--method", choices=sorted(WEIGHTS), default="stream",
                    help="which method's weights to train: the recipe, the weights file, the reference "
                         "(default stream)")
    ap.add_argument("--builders", help="material builder versions, e.g. 1,2 (default: the method's recipe)")
    ap.add_argument("--talks", type=int, default=1000,
                    help="TRAIN talks of each builder version to build and train on (default 1000)")
    ap.add_argument("--tune-talks", type=int, default=100,
                    help="TUNE talks of each builder version for validation (default 100)")
    ap.add_argument("--updates", type=int, help="optimiser updates (default: the method's recipe)")
    ap.add_argument("--seed", type=int, default=d.seed, help=f"seed of the crops and the weights (default {d.seed})")
    ap.add_argument("--threads", type=int, default=d.threads,
                    help=f"PyTorch threads (default {d.threads}: on a shared machine a second thread mostly waits)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"material and run folder (default {OUT})")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build, train, export; print one line per validation and a summary."""
    args = parse(argv)
    from voicecoach_dev import overlaptrain as ot

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    recipe = RECIPES[args.method]
    builders = [int(b) for b in args.builders.split(",")] if args.builders else list(recipe.builders)
    config = replace(ot.TrainConfig(), updates=args.updates or recipe.updates, seed=args.seed, threads=args.threads)
    talks, tune_talks, out = args.talks, args.tune_talks, args.out
    if args.smoke:
        config = replace(config, updates=6, batch=4, crop_steps=100, validate_every=3)
        talks, tune_talks, out = 4, 2, args.out / "smoke"
    root = corpus.find_corpus()
    t0 = time.perf_counter()
    train_dirs = [overlapdata.build(root, Split.TRAIN, talks, out / "material", log=say, builder=b) for b in builders]
    tune_dirs = [overlapdata.build(root, Split.TUNE, tune_talks, out / "material", log=say, builder=b)
                 for b in builders]
    build_s = time.perf_counter() - t0
    net, info = ot.train(overlapdata.load(*train_dirs), overlapdata.load(*tune_dirs), config, report=say)
    aside = args.smoke or args.candidate   # a candidate is judged first (voicecoach_dev.overlapeval), shipped after
    shipped = weights_path(args.method)
    weights = out / shipped.name if aside else shipped
    reference = (out if aside else TEST_DATA) / f"{shipped.stem}-reference.npz"
    arrays = ot.export(net, weights)
    worst = ot.reference(net, arrays, reference)
    info.update({"command": "scripts/train-overlap " + " ".join(argv if argv is not None else sys.argv[1:]),
                 "build_minutes": round(build_s / 60, 2), "method": args.method, "builders": builders,
                 "weights": str(weights),
                 "weights_bytes": weights.stat().st_size, "reference": str(reference),
                 "numpy_vs_pytorch_max_abs": worst})
    (out / "run.json").write_text(json.dumps(info, indent=1))
    say(f"train-overlap: {info['parameters']} parameters, {info['train_hours']:.1f} h of TRAIN talks, "
        f"{info['minutes']:.1f} min training (+{info['build_minutes']:.1f} min building); weights {weights} "
        f"({info['weights_bytes'] / 1024:.0f} KiB); numpy vs PyTorch on the reference: {worst:.2e}; log {out / 'run.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except corpus.CorpusMissing as exc:
        print(f"train-overlap: error: {exc}", file=sys.stderr)
        sys.exit(2)
