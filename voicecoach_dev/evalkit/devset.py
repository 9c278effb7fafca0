"""Build the voicecoach dev set: mixed two-person talks with exact ground truth, plus the real AMI excerpts.

Every scenario family comes twice: dry (a sum of close-microphone recordings) and ``<family>@room`` (each partner
heard through a simulated living room at their own distance, ``rooms``). A draw is built from one split of the
corpus (``splits``): ``--split tune`` draws are for choosing settings, ``--split eval`` draws (the default) are held
out and are what the README reports. Deterministic (a fixed seed per item, split and draw) and cached in
out/devset/v<BUILDER_VERSION>-<split>-d<draw>/ (git-ignored): an item is built only when its WAV or JSON is missing,
and a new builder version starts fresh folders.

    .venv/bin/python -m voicecoach_dev.evalkit.devset [--quick] [--split tune|eval] [--draw N] [--out DIR] [--list]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from voicecoach_dev.evalkit import ami, corpus, scenarios
from voicecoach_dev.evalkit.corpus import RATE
from voicecoach_dev.evalkit.splits import Split

BUILDER_VERSION = 8   # 8: every source recording's DC offset taken off (corpus.load_audio)
BASE_SEED = 20261123
DRAW_STEP = 1_000_003
DEFAULT_OUT = corpus.REPO / "out" / "devset"
MARKER = ".voicecoach-devset"
LEVEL_GAINS_DB = (-12.0, -9.0, -6.0, -3.0, 0.0, 2.0, 4.0, 6.0)
ESCALATION_KINDS = ("raised", "interruptions", "both")

ROOM = "@room"
SPLITS = {"tune": Split.TUNE, "eval": Split.EVAL, "train": Split.TRAIN}   # train: more voices to tune a rule on (the
# overlap model was trained on them: interruption figures there are not held out; no EmoDB actor is in it)
# family -> (recipe, items in the full set, items in --quick, whether it is calm talk for false-alarm rates);
# each family also has a room variant "<family>@room" with as many items
FAMILIES: dict[str, tuple[Any, int, int, bool]] = {
    "calm": (scenarios.calm, 6, 1, True),
    "interrupt": (scenarios.interrupt, 10, 1, False),
    "raised": (scenarios.raised, 8, 1, False),
    "emodb": (scenarios.emodb, 5, 1, False),
    "loud_partner": (scenarios.loud_partner, 5, 1, True),
    "quiet_raise": (scenarios.quiet_raise, 5, 1, False),
    "levels": (scenarios.levels, 4, 0, False),
    "noise": (scenarios.noise, 6, 1, False),
    "escalation": (scenarios.escalation, 9, 1, False),
    "calm_long": (scenarios.calm_long, 6, 1, True),
    "lean_in": (scenarios.lean_in, 10, 1, True),
    "quick_turns": (scenarios.quick_turns, 6, 0, True),
}
# families scored on rows of their own, not in the aggregates (added after the figures the README compares with)
OWN_ROWS = ("quick_turns", f"quick_turns{ROOM}")
CATALOGUE: dict[str, tuple[Any, int, int, bool]] = {
    **FAMILIES, **{f + ROOM: v for f, v in FAMILIES.items()}}
AMI_QUICK = ("ami-sample", "ami-trn09", "ami-dev00")


def item_names(quick: bool) -> list[str]:
    """Names of the mixed items in the (quick) dev set, in a stable order."""
    return [f"{sc}-{i:02d}" for sc, (_, full, q, _) in CATALOGUE.items() for i in range(q if quick else full)]


def family(scenario: str) -> str:
    """The family of a scenario name: ``noise@room`` -> ``noise``."""
    return scenario.removesuffix(ROOM)


def _recipe_args(scenario: str, index: int) -> dict[str, Any]:
    scenario = family(scenario)
    if scenario == "levels":
        return {"gain_db": LEVEL_GAINS_DB[index % len(LEVEL_GAINS_DB)]}
    if scenario == "escalation":
        return {"kind": ESCALATION_KINDS[index % len(ESCALATION_KINDS)]}
    return {}


def item_seed(name: str, draw: int = 0, split: str = "eval") -> int:
    """The seed of one item; another ``draw`` or ``split`` gives fresh talks from the same recipes."""
    salt = 0 if split == "eval" else zlib.crc32(split.encode())
    return ((BASE_SEED + DRAW_STEP * draw) ^ zlib.crc32(name.encode())) + salt


def folder_name(split: str, draw: int) -> str:
    """The cache folder of one draw: ``v7-eval-d1``."""
    return f"v{BUILDER_VERSION}-{split}-d{draw}"


def build_item(root: Path, name: str, folder: Path, draw: int = 0, split: str = "eval") -> dict[str, Any]:
    """Build one mixed item (WAV + JSON) into ``folder``; returns its JSON."""
    scenario, index = name.rsplit("-", 1)
    recipe, _, _, is_calm = CATALOGUE[scenario]
    seed = item_seed(name, draw, split)
    rng = np.random.default_rng(seed)
    ctx = scenarios.Ctx(root, SPLITS[split], scenario.endswith(ROOM))
    talk, extra = recipe(rng, ctx, **_recipe_args(scenario, int(index)))
    mix, info = scenarios.finish(rng, ctx, talk, dict(extra))
    from voicecoach.audio.wav import write_wav

    wav = folder / f"{name}.wav"
    write_wav(wav, mix)
    meta = {"name": name, "scenario": scenario, "family": family(scenario), "room": ctx.in_room,
            "builder": BUILDER_VERSION, "draw": draw, "split": split, "seed": seed, "wav": wav.name,
            "duration_s": round(len(mix) / RATE, 3), "calm": is_calm,
            "partners": {k: {"voice": p.calm.name, "sex": p.calm.sex, "level_db": round(p.level_db, 2)}
                         for k, p in talk.partners.items()},
            "mix": info, "truth": talk.truth()}
    tmp = folder / f"{name}.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    tmp.replace(folder / f"{name}.json")  # the JSON is written last: its presence means the item is complete
    return meta


def ensure_devset(quick: bool = False, out: Path = DEFAULT_OUT, log=print, draw: int = 0,
                  split: str = "eval", scenarios_wanted: list[str] | None = None) -> list[dict[str, Any]]:
    """All items (mixed ones built when missing, then the AMI excerpts), each with an absolute ``wav`` path.

    ``split`` "tune" builds talks from the voices and noises settings may be chosen on; "eval" from held-out ones
    (what is reported). ``draw`` picks fresh talks from the same recipes. ``scenarios_wanted``: build only these.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (choose from: {', '.join(SPLITS)})")
    root = corpus.find_corpus()
    version = f"v{BUILDER_VERSION}"
    folder = out / folder_name(split, draw)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()
    for old in out.glob("v*"):  # only folders an older builder made (never whatever else --out points at)
        if old.name.split("-")[0] != version and (old / MARKER).is_file():
            shutil.rmtree(old, ignore_errors=True)   # another evaluate (another draw) may be removing it too
    items, built, t0 = [], 0, time.perf_counter()
    for name in item_names(quick):
        if scenarios_wanted and name.rsplit("-", 1)[0] not in scenarios_wanted:
            continue
        path = folder / f"{name}.json"
        meta = json.loads(path.read_text()) if path.exists() and (folder / f"{name}.wav").exists() else None
        if meta is None or meta.get("builder") != BUILDER_VERSION:
            meta = build_item(root, name, folder, draw, split)
            built += 1
        meta["wav"] = str(folder / meta["wav"])
        items.append(meta)
    if built:
        log(f"devset: built {built} items in {time.perf_counter() - t0:.1f} s into {folder}")
    ami_items = ami.ami_items(root)
    if quick:
        ami_items = [it for it in ami_items if it["name"] in AMI_QUICK]
    if scenarios_wanted and "ami" not in scenarios_wanted:
        ami_items = []
    for it in ami_items:
        it["duration_s"] = corpus.read_wav(it["wav"]).shape[0] / RATE
        it["calm"] = False
    return items + ami_items


def parse_draws(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The measuring scripts' common options: ``--split``, ``--draw N ...``, ``--scenario NAME`` (repeatable) and
    ``--config F`` (a voicecoach TOML; none: the built-in defaults, not the user's own file)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--split", choices=SPLITS, default="tune")
    ap.add_argument("--draw", type=int, nargs="+", default=[1])
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    ap.add_argument("--config", help="a voicecoach TOML (default: the built-in defaults)")
    return ap.parse_args(argv)


def mixed_items(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The mixed talks of the draws and scenarios :func:`parse_draws` chose, draw by draw (AMI excerpts left out:
    they have no partners' turns)."""
    for draw in args.draw:
        for item in ensure_devset(draw=draw, split=args.split, scenarios_wanted=args.scenario):
            if item["scenario"] != "ami":
                yield item


def main(argv: list[str] | None = None) -> int:
    """Build (or refresh) the dev set and print a summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the small subset used by evaluate --quick")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"cache folder (default {DEFAULT_OUT})")
    ap.add_argument("--list", action="store_true", help="print one line per item")
    ap.add_argument("--draw", type=int, default=0, help="which draw of the recipes (fresh talks for each N)")
    ap.add_argument("--split", choices=sorted(SPLITS), default="eval",
                    help="eval: held-out voices and noises (reported); tune: the ones settings are chosen on; "
                         "train: the overlap model's training voices (more voices to tune a rule on)")
    args = ap.parse_args(argv)
    items = ensure_devset(args.quick, args.out, log=lambda m: print(m, file=sys.stderr), draw=args.draw,
                          split=args.split)
    by: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by.setdefault(it["scenario"], []).append(it)
    print("| scenario | items | minutes | interruptions | backchannels | raised segments | escalations |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for sc, its in by.items():
        n = lambda k: sum(len(i["truth"][k]) for i in its)  # noqa: E731
        mins = sum(i["duration_s"] for i in its) / 60
        print(f"| {sc} | {len(its)} | {mins:.1f} | {n('interruptions')} | {n('backchannels')} | {n('raised')} "
              f"| {n('escalations')} |")
    if args.list:
        for it in items:
            print(it["name"], it["wav"], f"{it['duration_s']:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except corpus.CorpusMissing as exc:
        print(f"devset: error: {exc}", file=sys.stderr)
        sys.exit(2)
