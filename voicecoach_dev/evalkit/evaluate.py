"""Evaluate voicecoach's detectors on the dev set (issue 3): interruptions, raised voice, pause suggestions.

Runs the same pipeline as ``voicecoach analyze`` over every dev-set recording, scores the events against the
exact ground truth, and prints Markdown tables (per scenario and overall) with the issue's targets and PASS/FAIL.

    scripts/evaluate [--quick] [--json FILE] [--jobs N] [--config FILE] [--scenario NAME ...] [--events DIR]
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
from typing import Any

from voicecoach_dev.evalkit.devset import CATALOGUE, DEFAULT_OUT, ensure_devset
from voicecoach_dev.evalkit import corpus, report
from voicecoach_dev.evalkit.scoring import Tally, attribute_speakers, score_interruptions, score_pauses, score_raised

_CONFIG = None
# the AMI excerpts (30 s) end before detection.interruption.settle_s has passed: also scored without that wait
AMI_UNSETTLED = "ami, settle_s = 0"


def _worker_init(config_path: str | None) -> None:
    global _CONFIG
    from voicecoach.config import Config, load_config

    _CONFIG = load_config(config_path) if config_path else Config()  # defaults, not the user's own file


def analyze_item(item: dict[str, Any]) -> tuple[str, list[dict[str, Any]], float]:
    """Run the analyze pipeline over one item: (name, event dicts, seconds of processing)."""
    from voicecoach.analysis import analyze_file

    t0 = time.perf_counter()
    config = _CONFIG
    if item.get("settle_s") is not None:
        ir = replace(config.detection.interruption, settle_s=item["settle_s"])
        config = replace(config, detection=replace(config.detection, interruption=ir))
    try:
        events, _ = analyze_file(item["wav"], config)
    except Exception as exc:  # name the recording: a crash deep in a detector says nothing about which file
        raise RuntimeError(f"analyze failed on {item['name']} ({item['wav']}): {type(exc).__name__}: {exc}") from exc
    return item["name"], [e.to_dict() for e in events], time.perf_counter() - t0


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
        _attribute(out, by, truth)
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
    """{task: {scenario: Tally}} plus the aggregate rows used by the targets."""
    tallies: dict[str, dict[str, Tally]] = {}
    for item in items:
        events, _ = results[item["name"]]
        for task, m in score_item(item, events).items():
            sc = "ami (onsets >= 0.6 s)" if task == "interruption_lenient" else item.get("row", item["scenario"])
            task = "interruption" if task == "interruption_lenient" else task
            if item["scenario"] == "ami" and task != "interruption":
                continue
            tallies.setdefault(task, {}).setdefault(sc, Tally()).add(m, item["duration_s"])
    for task, rows in tallies.items():
        mixed, calm = Tally(), Tally()
        for sc, t in list(rows.items()):
            if sc.startswith("ami"):
                continue
            mixed.merge(t)
            if CATALOGUE[sc][3]:
                calm.merge(t)
        rows["mixed (all)"] = mixed
        rows["calm talk (all)"] = calm
    return tallies


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
    ap.add_argument("--draw", type=int, default=0,
                    help="0: the dev set the defaults were tuned on; N > 0: a fresh draw of the same recipes")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    items = ensure_devset(args.quick, args.out, log=lambda m: print(m, file=sys.stderr), draw=args.draw)
    if args.scenario:
        unknown = set(args.scenario) - set(CATALOGUE) - {"ami"}
        if unknown:
            raise SystemExit(f"evaluate: unknown scenario {', '.join(sorted(unknown))} "
                             f"(choose from: {', '.join([*CATALOGUE, 'ami'])})")
        items = [it for it in items if it["scenario"] in args.scenario]
    items += [dict(it, name=f"{it['name']}~settle0", settle_s=0.0, row=AMI_UNSETTLED)
              for it in items if it["scenario"] == "ami"]
    t_build = time.perf_counter() - t0
    results = run_all(items, args.config, args.jobs)
    t_run = time.perf_counter() - t0 - t_build
    if args.events:
        args.events.mkdir(parents=True, exist_ok=True)
        for name, (events, _) in results.items():
            (args.events / f"{name}.json").write_text(json.dumps(events, indent=1))
    tallies = tally(items, results)
    analysed_s = sum(it["duration_s"] for it in items)
    audio_h = sum(it["duration_s"] for it in items if "row" not in it) / 3600
    meta = {"command": "scripts/evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": _git_commit(), "items": sum("row" not in it for it in items), "audio_hours": round(audio_h, 3),
            "build_s": round(t_build, 1), "analyze_s": round(t_run, 1),
            "x_real_time": round(analysed_s / max(sum(s for _, s in results.values()), 1e-9), 1),
            "config": args.config or "defaults", "quick": args.quick, "draw": args.draw}
    checks = report.targets(tallies)
    print(report.markdown(tallies, checks, meta))
    if args.json:
        doc = {"meta": meta, "targets": checks,
               "results": {task: {sc: t.to_dict() for sc, t in rows.items()} for task, rows in tallies.items()},
               "files": {name: ev for name, (ev, _) in sorted(results.items())}}
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    return 0


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
