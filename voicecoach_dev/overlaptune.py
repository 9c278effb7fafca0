"""Choosing the "stream" method's settings on TUNE draws: the detector replayed over the model's cached outputs.

The streaming model runs once over each dev-set item (its outputs are cached per weights file); then the real
:class:`StreamInterruptionDetector` is replayed over those outputs for every setting in a grid, and scored as
``scripts/evaluate`` scores interruptions (AMI excerpts are left out: they are reported, never tuned on).

    .venv/bin/python -m voicecoach_dev.overlaptune --split tune --draw 1 --draw 2 [--out out/h2-devset]

The "gated" method's gate is chosen the same way, without running the segmentation model again: the
interruptions the "model" method found (``scripts/evaluate --config <method = "model"> --events DIR``) are kept
only where the gate, replayed over the cached outputs, was open within a look before each decision; how long the
gate is open stands in for the segmentation model's looks (one draw only: the events are per draw).

    .venv/bin/python -m voicecoach_dev.overlaptune --split tune --draw 1 --gate-events DIR

The gated method's ``gate_holder_share`` is chosen on a run's own events (``scripts/evaluate --config <gated with
gate_holder_share = 0> --events DIR``): the segmentation model looks once more at each interruption's decision, and
the interruption is kept for each share tried only if the floor holder was heard in that share of the second
voice's run (the detector records a vetoed onset as seen, so dropping the event is exactly what it does).

    .venv/bin/python -m voicecoach_dev.overlaptune --split tune --draw 1 --holder-events DIR

The stream method's grid replays the weights shipped for "stream", the gate's grid those shipped for "gated"
(``stream_model.WEIGHTS``). ``--weights FILE`` replays a candidate weights file instead (its outputs are cached
under its own hash); ``voicecoach_dev.overlapeval`` runs ``scripts/evaluate`` with a candidate the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach.config import Config
from voicecoach.detect.equaliser import SpectrumEqualiser
from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.stream_detector import StreamInterruptionDetector
from voicecoach.detect import stream_model
from voicecoach.detect.stream_model import SAMPLE_RATE, STEP_SAMPLES, StreamModel, StreamOutputs
from voicecoach_dev.evalkit import corpus
from voicecoach_dev.evalkit.devset import ensure_devset
from voicecoach_dev.evalkit.scoring import score_interruptions

CACHE = corpus.REPO / "out" / "h2-overlap" / "outputs"
FRAME = 480


def _weights_id(method: str) -> str:
    return hashlib.sha256(stream_model.weights_path(method).read_bytes()).hexdigest()[:12]


def use_weights(path: Path) -> None:
    """Dev only: every ``StreamModel.load()`` in this process (and the workers it forks) reads ``path`` instead of
    the shipped weights, for either method, to score a candidate model; the product never calls this. A bad file
    fails here."""
    path = Path(path).resolve()
    StreamModel.load(path)
    stream_model.weights_path = lambda method="gated": path


def model_outputs(item: dict[str, Any], method: str = "stream") -> StreamOutputs:
    """The streaming model's outputs over a whole item with the weights of ``method`` (cached by weights, folder
    and name)."""
    wav = Path(item["wav"])
    path = CACHE / _weights_id(method) / wav.parent.name / f"{wav.stem}.npz"
    if path.exists():
        with np.load(path) as z:
            return StreamOutputs(z["voices"], z["cut_in"], z["end_s"])
    audio = corpus.read_wav(wav)
    out = StreamModel.load(method=method).process(audio.astype(np.float32) / 32768.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, voices=out.voices, cut_in=out.cut_in, end_s=out.end_s)
    return out


class Replay:
    """Stands in for StreamModel: hands out cached outputs step by step as the samples arrive."""

    def __init__(self, outputs: StreamOutputs) -> None:
        self.outputs = outputs
        # set by the runner when stream_equalise is on, and ignored: the cached outputs were computed without one
        self.equaliser: SpectrumEqualiser | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the first step."""
        self.samples = 0

    def process(self, samples: np.ndarray) -> StreamOutputs:
        """The outputs of the steps these samples complete."""
        a = self.samples // STEP_SAMPLES
        self.samples += len(samples)
        b = min(self.samples // STEP_SAMPLES, len(self.outputs.cut_in))
        o = self.outputs
        return StreamOutputs(o.voices[a:b], o.cut_in[a:b], o.end_s[a:b])


def replay(outputs: StreamOutputs, duration_s: float, settings) -> list[dict[str, Any]]:
    """The detector's interruptions (as event dicts) over one item, from cached outputs."""
    det = StreamInterruptionDetector(settings, 30, model=Replay(outputs))
    silent = np.zeros(FRAME, np.int16)
    found = []
    for i in range(int(duration_s * SAMPLE_RATE) // FRAME):
        feats = FrameFeatures(i * FRAME, (i + 1) * FRAME / SAMPLE_RATE, -90.0, False, -90.0)
        found += [e.to_dict() for e in det.process(silent, feats, None)]
    return found


def score(items: list[dict[str, Any]], events: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Interruption precision, recall, F1, median latency and false per hour of calm talk: dry, room and both."""
    rows: dict[str, dict[str, float]] = {}
    for group in ("dry", "room", "all"):
        tp = n_true = n_det = 0
        lat: list[float] = []
        calm_false, calm_h = 0, 0.0
        for it in items:
            if group != "all" and it.get("room", False) != (group == "room"):
                continue
            truth = it["truth"]
            m = score_interruptions(events[it["name"]], [r["t"] for r in truth["interruptions"]],
                                    truth["backchannels"])
            tp, n_true, n_det = tp + m.found, n_true + m.n_truth, n_det + m.n_det
            lat += m.latencies
            if it.get("calm"):
                calm_false += m.n_det - m.correct
                calm_h += it["duration_s"] / 3600
        p, r = tp / max(n_det, 1), tp / max(n_true, 1)
        rows[group] = {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-9), "true": n_true,
                       "latency_s": float(np.median(lat)) if lat else float("nan"),
                       "calm_false_per_h": calm_false / max(calm_h, 1e-9)}
    return rows


GATE_FOLLOW_S = 0.81   # a look that saw a voice start keeps looking for min_run_ms (0.6 s) + one look (0.21 s)


def gate_grid(items: list[dict[str, Any]], outputs: dict[str, StreamOutputs], events_dir: Path,
              cuts: list[float], twos: list[float]) -> list[dict[str, Any]]:
    """The model method's interruptions kept by each gate setting, scored as evaluate scores them."""
    from voicecoach_dev.evalkit import report
    from voicecoach_dev.evalkit.evaluate import tally

    ir = Config().detection.interruption
    hold, delay = ir.gate_hold_ms / 1000.0, ir.gate_delay_ms / 1000.0
    events = {it["name"]: json.loads((events_dir / f"{it['name'].split('/')[0]}.json").read_text()) for it in items}
    rows = []
    for cut, two in [(None, None), *itertools.product(cuts, twos)]:
        kept, open_s = {}, 0.0
        for it in items:
            o = outputs[it["name"]]
            hot = o.end_s if cut is None else o.end_s[(o.cut_in >= cut) | (o.voices[:, 2] >= two)]
            kept[it["name"]] = ([e for e in events[it["name"]] if e["type"] != "interruption"
                                 or _opened(hot, e["t"] - GATE_FOLLOW_S - hold - delay, e["t"] - delay)], 0.0)
            open_s += hold + float(np.minimum(np.diff(hot), hold).sum()) if len(hot) else 0.0
        t = tally(items, kept)["interruption"]
        row = {"gate_threshold": cut, "gate_voices": two, "open_share": open_s / sum(i["duration_s"] for i in items),
               **{f"{k}_{m}": getattr(t[g], m) for k, g in (("dry", report.MIXED), ("room", report.ROOM))
                  for m in ("f1", "precision", "recall")},
               "calm_false_per_h": t[report.CALM].false_per_hour, "room_calm_false_per_h": t[report.ROOM_CALM].false_per_hour}
        rows.append(row)
        print(("model method (no gate)" if cut is None else f"gate cut-in {cut:.2f} two voices {two:.2f}")
              + f": open {row['open_share']:.3f}; F1 dry {row['dry_f1']:.3f} rooms {row['room_f1']:.3f}; calm false/h "
              f"{row['calm_false_per_h']:.1f} / {row['room_calm_false_per_h']:.1f}", flush=True)
    return rows


def holder_shares(item: dict[str, Any], events: list[dict[str, Any]]) -> dict[tuple[float, float], float]:
    """Per interruption (start, t): the share of the second voice's run, up to the look that found it, in which
    the floor holder was heard (the segmentation model run once more on the window that look saw)."""
    from voicecoach.detect.segmentation import SegmentationModel

    settings = Config().detection.interruption
    model = SegmentationModel.load()
    audio = corpus.read_wav(Path(item["wav"])).astype(np.float32)
    size = settings.model_window_ms * SAMPLE_RATE // 1000
    shares = {}
    for e in events:
        end = int(round(e["t"] * SAMPLE_RATE))
        if e["type"] != "interruption" or end < size:
            continue
        active = SegmentationModel.activity(model.probabilities(audio[end - size:end]))
        centers = e["t"] - size / SAMPLE_RATE + SegmentationModel.step_centers_s(len(active))
        on = active[:int(np.searchsorted(centers, e["t"] - settings.delay_ms / 1000.0))] > settings.activity_threshold
        onset = int(np.argmin(np.abs(centers - e["start"])))
        x = int(np.argmax(on[onset:, :].mean(0) - on[max(0, onset - 6):onset, :].mean(0)))
        before = max(0, onset - int(settings.floor_ms / 1000.0 / (centers[1] - centers[0])))
        holder = max((y for y in range(on.shape[1]) if y != x), key=lambda y: on[before:onset, y].mean())
        shares[(e["start"], e["t"])] = float(on[onset:, holder].mean()) if onset < len(on) else 0.0
    return shares


def holder_grid(items: list[dict[str, Any]], events_dir: Path, shares: list[float]) -> list[dict[str, Any]]:
    """A gated run's interruptions kept by each ``gate_holder_share``, scored as evaluate scores them."""
    from voicecoach_dev.evalkit import report
    from voicecoach_dev.evalkit.evaluate import tally

    events = {it["name"]: json.loads((events_dir / f"{it['name'].split('/')[0]}.json").read_text()) for it in items}
    seen = {it["name"]: holder_shares(it, events[it["name"]]) for it in items}
    rows = []
    for share in shares:
        kept = {n: ([e for e in ev if e["type"] != "interruption" or seen[n].get((e["start"], e["t"]), 1.0) >= share],
                    0.0) for n, ev in events.items()}
        t = tally(items, kept)["interruption"]
        row = {"gate_holder_share": share, **{f"{k}_{m}": getattr(t[g], m) for k, g in (("dry", report.MIXED),
               ("room", report.ROOM)) for m in ("f1", "precision", "recall")},
               "calm_false_per_h": t[report.CALM].false_per_hour, "room_calm_false_per_h": t[report.ROOM_CALM].false_per_hour}
        rows.append(row)
        print(f"holder share {share:.2f}: F1 dry {row['dry_f1']:.3f} rooms {row['room_f1']:.3f}; calm false/h "
              f"{row['calm_false_per_h']:.1f} / {row['room_calm_false_per_h']:.1f}", flush=True)
    return rows


def _opened(hot: np.ndarray, lo: float, hi: float) -> bool:
    """Whether a hot step ends within [lo, hi] (``hot`` sorted)."""
    i = int(np.searchsorted(hot, lo))
    return i < len(hot) and hot[i] <= hi


def main(argv: list[str] | None = None) -> int:
    """Cache the outputs of the draws asked for, replay the grid, print the best settings."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tune", "eval"), default="tune")
    ap.add_argument("--draw", type=int, action="append", required=True)
    ap.add_argument("--out", type=Path, default=corpus.REPO / "out" / "h2-devset")
    ap.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--confirm-ms", default="30,60,90,150")
    ap.add_argument("--gate-events", type=Path, metavar="DIR",
                    help="choose the gate instead: the model method's events of the (one) draw")
    ap.add_argument("--gate-cuts", default="0.05,0.1,0.2,0.3,0.5")
    ap.add_argument("--gate-twos", default="0.2,0.3,0.5,0.7,1.01")
    ap.add_argument("--holder-events", type=Path, metavar="DIR",
                    help="choose gate_holder_share instead: a gated run's events (with gate_holder_share = 0)")
    ap.add_argument("--holder-shares", default="0,0.2,0.3,0.4,0.5,0.6")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--weights", type=Path, help="a candidate weights file instead of the shipped one")
    args = ap.parse_args(argv)
    if args.weights:
        use_weights(args.weights)
    if args.split == "eval":
        print("overlaptune: scoring EVAL draws: report these, never choose settings on them", file=sys.stderr)
    items = [it for d in args.draw for it in ensure_devset(False, args.out, lambda m: print(m, file=sys.stderr),
                                                            draw=d, split=args.split) if it["scenario"] != "ami"]
    if args.holder_events:
        rows = holder_grid(items, args.holder_events, [float(v) for v in args.holder_shares.split(",")])
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return 0
    method = "gated" if args.gate_events else "stream"
    outputs = {it["name"] + f"/{it['draw']}": model_outputs(it, method) for it in items}
    for it in items:
        it["name"] = it["name"] + f"/{it['draw']}"
    if args.gate_events:
        rows = gate_grid(items, outputs, args.gate_events, [float(v) for v in args.gate_cuts.split(",")],
                         [float(v) for v in args.gate_twos.split(",")])
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return 0
    base = Config().detection.interruption
    results = []
    for th, conf in itertools.product(map(float, args.thresholds.split(",")), map(int, args.confirm_ms.split(","))):
        settings = replace(base, stream_threshold=th, stream_confirm_ms=conf)
        events = {it["name"]: replay(outputs[it["name"]], it["duration_s"], settings) for it in items}
        by_group = score(items, events)
        results.append({"threshold": th, "confirm_ms": conf, **{f"{g}_{k}": v for g, r in by_group.items()
                                                                for k, v in r.items()}})
        a = by_group["all"]
        print(f"threshold {th:.2f} confirm {conf:3d} ms: F1 {a['f1']:.3f} (P {a['precision']:.3f} R {a['recall']:.3f})"
              f" dry {by_group['dry']['f1']:.3f} room {by_group['room']['f1']:.3f} latency {a['latency_s']:.2f} s"
              f" calm false/h {a['calm_false_per_h']:.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
