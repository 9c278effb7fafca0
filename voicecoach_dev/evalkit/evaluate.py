"""Evaluate voicecoach's detectors on the dev set (issue 3): interruptions, raised voice, pause suggestions.

Runs the same pipeline as ``voicecoach analyze`` over every dev-set recording, scores the events against the
exact ground truth, and prints Markdown tables (per scenario and overall) with the issue's targets and PASS/FAIL.

    scripts/evaluate [--quick] [--split eval|tune] [--draw N ...] [--json FILE] [--jobs N] [--config FILE]
                     [--scenario NAME ...] [--events DIR] [--mic agc|laptop|quiet|hot|dc|all]

``--draw`` given more than once pools those draws in one report (each draw's talks named ``dN/...``): what three
runs of one draw each would count, summed, with medians over all the talks.

Every family is scored dry and through simulated rooms (``<family>@room``), side by side, and the room talks also
by RT60 band and by the distance of the partner who raised their voice or interrupted. ``--mic NAME`` hears every
talk through a laptop's microphone chain first (``micchain``: automatic gain control, a small microphone's response,
a low or a too high input gain, DC and hum); the truth is unchanged.

Real recordings are scored on rows of their own, outside the mixed talks' aggregates: the AMI meeting excerpts, a
real two-party phone call (``call``, calm, so every raised-voice event and pause suggestion on it is false) and four
voices taking back-to-back turns (``turns``: interruptions only, every one false), each also heard through three
rooms a draw (``call@room``, ``turns@room``; not with ``--quick``): ``realtalks``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicecoach_dev.evalkit.devset import CATALOGUE, DEFAULT_OUT, OWN_ROWS, SPLITS, ensure_devset, folder_name
from voicecoach_dev.evalkit import corpus, escalations, micchain, realtalks, report
from voicecoach_dev.evalkit.scoring import (Tally, attribute_speakers, score_interruptions, score_pauses,
                                            score_raised, spans_found)

if TYPE_CHECKING:
    from voicecoach.config import Config

_CONFIG: Config | None = None   # set in each worker (and in-process) by _worker_init
# the AMI excerpts (30 s) end before detection.interruption.settle_s has passed: also scored without that wait
AMI_UNSETTLED = "ami, settle_s = 0"
REAL = ("ami", *realtalks.SCENARIOS)   # real recordings: scored on their own rows, never in the aggregates


def _worker_init(config_path: str | None) -> None:
    global _CONFIG
    from voicecoach.config import Config, load_config

    _CONFIG = load_config(config_path) if config_path else Config()  # defaults, not the user's own file


def analyze_item(item: dict[str, Any]) -> tuple[str, list[dict[str, Any]], float]:
    """Run the analyze pipeline over one item: (name, event dicts, seconds of processing)."""
    from voicecoach.analysis import analyze_file

    t0 = time.perf_counter()
    config = _CONFIG
    if config is None:
        raise RuntimeError("analyze_item needs _worker_init(config_path) first (the pool's initializer does it)")
    if item.get("settle_s") is not None:
        ir = replace(config.detection.interruption, settle_s=item["settle_s"])
        config = replace(config, detection=replace(config.detection, interruption=ir))
    try:
        if item.get("mic"):
            events = _analyze_through_mic(item, config)
        else:
            events, _ = analyze_file(item["wav"], config)
    except Exception as exc:  # name the recording: a crash deep in a detector says nothing about which file
        raise RuntimeError(f"analyze failed on {item['name']} ({item['wav']}): {type(exc).__name__}: {exc}") from exc
    return item["name"], [e.to_dict() for e in events], time.perf_counter() - t0


def _analyze_through_mic(item: dict[str, Any], config: Any) -> list:
    """The item's mix through the microphone chain ``item["mic"]``, written as the 16-bit WAV a microphone gives,
    then analysed (seeded by the item's name and the chain's)."""
    import tempfile
    import zlib

    from voicecoach.analysis import analyze_file
    from voicecoach.audio.wav import write_wav
    from voicecoach_dev.evalkit import micchain

    x = corpus.read_wav(item["wav"]).astype(np.float32) / 32768.0
    seed = zlib.crc32(f"{item.get('seed_name', item['name'])}/{item['mic']}".encode())
    y = micchain.apply(item["mic"], x, micchain.item_speech_dbfs(item), seed)
    with tempfile.TemporaryDirectory(prefix="voicecoach-mic-") as tmp:
        wav = Path(tmp) / "mic.wav"
        write_wav(wav, y)
        return analyze_file(str(wav), config)[0]


def run_all(items: list[dict[str, Any]], config_path: str | None, jobs: int) -> dict[str, tuple[list, float]]:
    """Events of every item, in parallel processes when ``jobs`` > 1."""
    if jobs <= 1:
        _worker_init(config_path)
        return {n: (ev, s) for n, ev, s in map(analyze_item, items)}
    import multiprocessing as mp

    with mp.get_context("fork").Pool(jobs, _worker_init, (config_path,)) as pool:
        return {n: (ev, s) for n, ev, s in pool.imap_unordered(analyze_item, items)}


def score_item(item: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-file matches for the three tasks (AMI also scored leniently, without backchannel-like onsets)."""
    truth = item["truth"]
    by = {k: [e for e in events if e["type"] == k] for k in ("interruption", "raised_voice", "pause_suggested")}
    onsets = [r["t"] for r in truth["interruptions"]]
    out = {"interruption": score_interruptions(by["interruption"], onsets, truth["backchannels"]),
           "raised_voice": score_raised(by["raised_voice"], truth["raised"], truth.get("turns", ())),
           "pause_suggested": score_pauses(by["pause_suggested"], truth["escalations"])}
    if item["scenario"] != "ami":
        _attribute(out, by, truth)   # the real talks too: their speakers are A, B (, C, D)
    elif "row" not in item:   # the lenient score once, on the default run
        short = [i for i, r in enumerate(truth["interruptions"]) if r.get("short")]
        out["interruption_lenient"] = score_interruptions(by["interruption"], onsets, (), ignore=short)
    return out


def _attribute(out: dict[str, Any], by: dict[str, list], truth: dict[str, Any]) -> None:
    """Who interrupted, who raised their voice: right under the file's better A/B label mapping."""
    pairs = {"interruption": [(by["interruption"][d].get("speaker"), truth["interruptions"][r]["speaker"])
                              for d, r in out["interruption"].matched],
             "raised_voice": [(by["raised_voice"][d].get("speaker"), truth["raised"][r]["speaker"])
                              for d, r in out["raised_voice"].matched]}
    everything = pairs["interruption"] + pairs["raised_voice"]
    swap = attribute_speakers(everything)[0] > sum(d == t for d, t in everything)
    for task, ps in pairs.items():
        if swap:
            ps = [({"A": "B", "B": "A"}.get(d or "", d), t) for d, t in ps]
        out[task].attributed = sum(d == t for d, t in ps if t in ("A", "B"))
        out[task].attributable = sum(t in ("A", "B") for _, t in ps)


def tally(items: list[dict[str, Any]], results: dict[str, tuple[list, float]]) -> dict[str, dict[str, Tally]]:
    """{task: {scenario: Tally}} plus the aggregate rows used by the targets (dry and in rooms apart)."""
    tallies: dict[str, dict[str, Tally]] = {}
    for item in items:
        events, _ = results[item["name"]]
        for task, m in score_item(item, events).items():
            sc = "ami (onsets >= 0.6 s)" if task == "interruption_lenient" else item.get("row", item["scenario"])
            task = "interruption" if task == "interruption_lenient" else task
            if item["scenario"] in ("ami", *realtalks.INTERRUPTIONS_ONLY) and task != "interruption":
                continue
            tallies.setdefault(task, {}).setdefault(sc, Tally()).add(m, item["duration_s"])
    for task, rows in tallies.items():
        agg = {k: Tally() for k in (report.MIXED, report.CALM, report.ROOM, report.ROOM_CALM, report.ROOM_CALM_NOISE)}
        for sc, t in list(rows.items()):
            if sc not in CATALOGUE or sc in OWN_ROWS:   # AMI, the real talks, quick turns: rows of their own
                continue
            room, calm = sc.endswith("@room"), CATALOGUE[sc][3]
            agg[report.ROOM if room else report.MIXED].merge(t)
            if calm:
                agg[report.ROOM_CALM if room else report.CALM].merge(t)
            if room and sc.split("@")[0] == "calm_long":
                agg[report.ROOM_CALM_NOISE].merge(t)
        rows.update({k: t for k, t in agg.items() if t.files})
    return tallies


RT60_BANDS = ((0.0, 0.4, "RT60 < 0.4 s"), (0.4, 0.6, "RT60 0.4-0.6 s"), (0.6, 9.9, "RT60 >= 0.6 s"))
DISTANCE_BANDS = ((0.0, 1.5, "< 1.5 m"), (1.5, 2.5, "1.5-2.5 m"), (2.5, 9.9, ">= 2.5 m"))


def band(value: float, bands: tuple[tuple[float, float, str], ...]) -> str:
    """The name of the band ``value`` falls in (``bands``: (low, high, name), low inclusive)."""
    return next(name for lo, hi, name in bands if lo <= value < hi)


def room_breakdown(items: list[dict[str, Any]], results: dict[str, tuple[list, float]]
                   ) -> dict[str, dict[str, Tally]]:
    """Room talks by RT60 band ({task: {band: Tally}}) and true events by the distance of the partner behind them
    (``raised_voice by distance`` and ``interruption by distance``: recall and latency only)."""
    out: dict[str, dict[str, Tally]] = {}
    for item in items:
        room = item.get("mix", {}).get("room")
        if not room or item["scenario"] not in CATALOGUE or item["scenario"] in OWN_ROWS:
            continue
        events, _ = results[item["name"]]
        rt60 = band(room["rt60_s"], RT60_BANDS)
        for task, m in score_item(item, events).items():
            out.setdefault(task, {}).setdefault(rt60, Tally()).add(m, item["duration_s"])
        dist = {k: v["distance_m"] for k, v in room["sources"].items()}
        truth = item["truth"]
        raised = [e for e in events if e["type"] == "raised_voice"]
        for seg, latency in zip(truth["raised"], spans_found(raised, truth["raised"])):
            _add_event(out, "raised_voice by distance", band(dist[seg["speaker"]], DISTANCE_BANDS), latency)
        m = score_interruptions([e for e in events if e["type"] == "interruption"],
                                [r["t"] for r in truth["interruptions"]], truth["backchannels"])
        found = {r: m.latencies[k] for k, (_, r) in enumerate(m.matched)}
        for r, onset in enumerate(truth["interruptions"]):
            _add_event(out, "interruption by distance", band(dist[onset["speaker"]], DISTANCE_BANDS), found.get(r))
    return out


def _add_event(out: dict[str, dict[str, Tally]], task: str, band: str, latency: float | None) -> None:
    t = out.setdefault(task, {}).setdefault(band, Tally())
    t.n_truth += 1
    if latency is not None:
        t.found += 1
        t.latencies.append(latency)


def main(argv: list[str] | None = None) -> int:
    """Build the dev set if needed, analyse, score, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (well under a minute)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write machine-readable results here")
    ap.add_argument("--jobs", type=int, default=1, help="parallel analysis processes (default 1; the box has 2 cores)")
    ap.add_argument("--config", help="voicecoach config TOML to evaluate (default: built-in defaults)")
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable), e.g. interrupt, ami")
    ap.add_argument("--events", type=Path, metavar="DIR", help="write each item's detected events as JSON here")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dev-set cache folder")
    ap.add_argument("--draw", type=int, action="append",
                    help="which draw of the recipes (fresh talks for each N; default 0); repeat it to pool several "
                         "draws in one report (each draw's items named dN/...)")
    ap.add_argument("--split", choices=sorted(SPLITS), default="eval",
                    help="eval (default): talks of held-out voices and noises, the figures to report; tune: talks "
                         "of the voices and noises settings are chosen on; train: the overlap model's training "
                         "voices, more voices to tune a rule on (not for interruption figures; no emodb family)")
    ap.add_argument("--mic", choices=sorted(micchain.CHAINS),
                    help="hear every talk through this laptop microphone chain first (micchain.py), truth unchanged")
    ap.add_argument("--no-room", action="store_true", help="dry talks only (no simulated rooms)")
    ap.add_argument("--methods", metavar="LIST",
                    help="also every interruption method side by side: 'all' or e.g. 'stream,model'")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.scenario:
        unknown = set(args.scenario) - set(CATALOGUE) - set(REAL)
        if unknown:
            raise SystemExit(f"evaluate: unknown scenario {', '.join(sorted(unknown))} "
                             f"(choose from: {', '.join([*CATALOGUE, *REAL])})")
    wanted = list(args.scenario or [])
    if args.no_room:
        wanted = [sc for sc in (wanted or [*CATALOGUE, *REAL]) if not sc.endswith("@room")]
    draws = sorted(set(args.draw or [0]))
    items = []
    for draw in draws:
        built = ensure_devset(args.quick, args.out, log=lambda m: print(m, file=sys.stderr), draw=draw,
                              split=args.split, scenarios_wanted=wanted or None)
        built += _real_items(args, draw, wanted or None)
        items += built if len(draws) == 1 else [pooled_name(it, draw) for it in built]
    items += [dict(it, name=f"{it['name']}~settle0", settle_s=0.0, row=AMI_UNSETTLED)
              for it in items if it["scenario"] == "ami"]
    if args.mic:
        items = [dict(it, mic=args.mic) for it in items]
    t_build = time.perf_counter() - t0
    results = run_all(items, args.config, args.jobs)
    t_run = time.perf_counter() - t0 - t_build
    if args.events:
        args.events.mkdir(parents=True, exist_ok=True)
        for name, (events, _) in results.items():
            path = args.events / f"{name}.json"
            path.parent.mkdir(exist_ok=True)   # dN/ in a pooled run
            path.write_text(json.dumps(events, indent=1))
    tallies = tally(items, results)
    breakdown = room_breakdown(items, results)
    analysed_s = sum(it["duration_s"] for it in items)
    audio_h = sum(it["duration_s"] for it in items if "row" not in it) / 3600
    meta = {"command": "scripts/evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": _git_commit(), "items": sum("row" not in it for it in items), "audio_hours": round(audio_h, 3),
            "build_s": round(t_build, 1), "analyze_s": round(t_run, 1),
            "x_real_time": round(analysed_s / max(sum(s for _, s in results.values()), 1e-9), 1),
            "config": args.config or "defaults", "quick": args.quick,
            "draw": draws[0] if len(draws) == 1 else draws, "split": args.split,
            "mic": args.mic or "none"}
    checks = report.targets(tallies, breakdown) + _louder_checks(items, results)
    kinds = escalations.by_kind(items, results)
    print("\n".join([report.markdown(tallies, checks, meta, breakdown), *escalations.table(kinds)]))
    if args.methods:
        from voicecoach_dev import methods

        wanted = list(methods.METHODS) if args.methods == "all" else args.methods.split(",")
        print("\n" + methods.compare(items, args.config, wanted, run_all, tally, args.jobs,
                                     log=lambda m: print(m, file=sys.stderr)))
    if args.json:
        doc = {"meta": meta, "targets": checks,
               "results": {task: {sc: t.to_dict() for sc, t in rows.items()} for task, rows in tallies.items()},
               "rooms": {task: {b: t.to_dict() for b, t in rows.items()} for task, rows in breakdown.items()},
               "escalation_kinds": {k: r.to_dict() for k, r in kinds.items()},
               "files": {name: ev for name, (ev, _) in sorted(results.items())}}
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    return 0


def _real_items(args: argparse.Namespace, draw: int, wanted: list[str] | None) -> list[dict[str, Any]]:
    """The real talks (``realtalks``): as recorded, and heard in this draw's rooms (not with ``--quick``)."""
    folder = args.out / folder_name(args.split, draw)
    folder.mkdir(parents=True, exist_ok=True)
    return realtalks.real_items(corpus.find_corpus(), folder, draw, SPLITS[args.split], args.split, wanted,
                                rooms_too=not args.quick)


def pooled_name(item: dict[str, Any], draw: int) -> dict[str, Any]:
    """``item`` of draw ``draw`` in a pooled run: named ``dN/name`` (every draw has a ``calm-00``); its own name
    kept as ``seed_name``, so whatever is seeded by the name (the microphone chain) is as in a run of that draw."""
    return dict(item, name=f"d{draw}/{item['name']}", seed_name=item.get("seed_name", item["name"]))


def _louder_checks(items: list[dict[str, Any]], results: dict[str, tuple[list, float]]) -> list[dict[str, Any]]:
    """The louder-holder recall targets (issue 16), dry and in rooms, for the default run's items."""
    from voicecoach_dev.methods import louder_holder

    scored = [it for it in items if "row" not in it]
    return report.louder_targets(louder_holder([it for it in scored if not it.get("room")], results),
                                 louder_holder([it for it in scored if it.get("room")], results))


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(corpus.REPO), "log", "-1", "--format=%h %s"], capture_output=True,
                             text=True, timeout=5)
        import voicecoach

        pkg = Path(voicecoach.__file__).resolve().parent
        if pkg != corpus.REPO / "voicecoach":  # e.g. PYTHONPATH pointing at an export of the committed tree
            return f"{out.stdout.strip()[:70]} (voicecoach imported from {pkg})"
        dirty = subprocess.run(["git", "-C", str(corpus.REPO), "status", "--porcelain", "--", "voicecoach"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip()[:70] + (" (+ uncommitted changes in voicecoach/)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    try:
        sys.exit(main())
    except corpus.CorpusMissing as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        sys.exit(2)
