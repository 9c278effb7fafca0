"""Raised-voice figures in seconds: the detector replayed over cached per-frame inputs of the dev set.

The raised-voice detector sees only each frame's features and the speaker tracker's label and flags, and nothing
it decides feeds back into them. So those inputs are computed once per recording (about 350x real time) and cached
in ``out/replay/``; the detector is then replayed over them (a few thousand times real time) with any raised-voice
settings, giving exactly the raised-voice events the full pipeline gives. Scored as ``scripts/evaluate`` scores them.

    scripts/replay-raised [--split eval|tune|train] [--draw N ...] [--scenario NAME ...] [--config FILE]
                          [--against FILE]

``--against`` replays a second configuration and prints both side by side, with every raised stretch found
later, sooner, lost or gained. Pause suggestions also need the interruptions: use ``scripts/evaluate`` for those.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from voicecoach.config import Config, load_config
from voicecoach.detect.features import FeatureExtractor, FrameFeatures
from voicecoach.detect.raised import RaisedVoiceDetector
from voicecoach.detect.settings import DetectionSettings, RaisedSettings
from voicecoach.detect.speakers import SpeakerTracker
from voicecoach.events import RaisedVoice
from voicecoach_dev.evalkit.scoring import Tally, score_raised, spans_found

CACHE = Path(__file__).resolve().parents[2] / "out" / "replay"
LABELS = (None, "A", "B")
COLUMNS = 9   # end_s, is_speech, f0_hz, energy_db, bright_db, label (0 none, 1 A, 2 B), new_stretch, recent_other,
              # unsure


def frame_inputs(wav: str | Path, settings: DetectionSettings, frame_ms: int = 30) -> NDArray[np.float64]:
    """What the raised-voice detector is given for each frame of ``wav`` (one row per frame, ``COLUMNS``)."""
    from voicecoach.audio.wav import WavSource

    features = FeatureExtractor(settings, frame_ms)
    speakers = SpeakerTracker(settings.speakers, frame_ms, None)
    rows = []
    for frame in WavSource(str(wav), frame_ms=frame_ms).frames():
        f = features.process(frame)
        label = speakers.process(f)
        known = label if len(speakers.models) == 2 else None   # as the pipeline: no partner until both are told
        rows.append((f.end_s, f.is_speech, f.f0_hz, f.energy_db, f.bright_db, LABELS.index(known),
                     speakers.stretch_frames == 1 and f.is_speech, speakers.recent_other, speakers.unsure))
    return np.asarray(rows, dtype=np.float64).reshape(-1, COLUMNS)


def replay(inputs: NDArray[np.float64], settings: RaisedSettings, frame_ms: int = 30) -> list[RaisedVoice]:
    """The raised-voice events a detector with ``settings`` gives over cached ``inputs``."""
    detector = RaisedVoiceDetector(settings, frame_ms)
    events: list[RaisedVoice] = []
    for end_s, speech, f0, energy, bright, label, new_stretch, other, unsure in inputs.tolist():
        f = FrameFeatures(0, end_s, energy, bool(speech), 0.0, f0, 0.0, bright)
        events += detector.process(f, LABELS[int(label)], False, bool(new_stretch), bool(other), bool(unsure))
    return events


def cached_inputs(item: dict[str, Any], settings: DetectionSettings, frame_ms: int = 30,
                  cache: Path = CACHE) -> NDArray[np.float64]:
    """``frame_inputs`` of a dev-set item, from the cache when there (keyed by the item's folder and name)."""
    wav = Path(item["wav"])
    path = cache / wav.parent.name / f"{item['name']}.npy"
    if path.exists():
        return np.load(path)
    inputs = frame_inputs(wav, settings, frame_ms)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.npy")
    np.save(tmp, inputs)
    os.replace(tmp, path)
    return inputs


def key(item: dict[str, Any]) -> str:
    """An item's name with its draw: the same names come back in every draw."""
    return f"draw {item['draw']} {item['name']}"


def summary(t: Tally) -> str:
    """``found/stretches, false events, median latency`` of a tally of raised-voice matches."""
    med = f"{statistics.median(t.latencies):.2f} s" if t.latencies else "-"
    return f"{t.found}/{t.n_truth} found, {t.n_det - t.correct} false, median {med}"


def score(items: list[dict[str, Any]], events: dict[str, list[RaisedVoice]]
          ) -> tuple[dict[str, Tally], dict[str, list[float | None]]]:
    """Per family (dry and ``@room`` apart) and in all (``TOTAL``) tallies, and per item each true stretch's
    latency (None: missed)."""
    table: dict[str, Tally] = {"TOTAL": Tally()}
    latency: dict[str, list[float | None]] = {}
    for item in items:
        dets = [e.to_dict() for e in events[key(item)]]
        truth = item["truth"]
        m = score_raised(dets, truth["raised"], truth.get("turns", ()))
        for row in (item["scenario"], "TOTAL"):
            table.setdefault(row, Tally()).add(m, item["duration_s"])
        latency[key(item)] = spans_found(dets, truth["raised"])
    return table, latency


def changes(before: dict[str, list[float | None]], after: dict[str, list[float | None]]) -> list[str]:
    """Every true raised stretch found later, sooner (by over 10 ms), lost or gained."""
    out = []
    for name, lats in before.items():
        for k, (b, a) in enumerate(zip(lats, after[name])):
            if b is None and a is not None:
                out.append(f"{name} stretch {k}: gained, {a:.2f} s")
            elif b is not None and a is None:
                out.append(f"{name} stretch {k}: lost (was {b:.2f} s)")
            elif b is not None and a is not None and abs(a - b) > 0.01:
                out.append(f"{name} stretch {k}: {'later' if a > b else 'sooner'} {b:.2f} -> {a:.2f} s")
    return out


def _settings(path: str | None) -> Config:
    return load_config(path) if path else Config()   # defaults, not the user's own file


def main(argv: list[str] | None = None) -> int:
    """Command line: replay the raised-voice detector over draws of the dev set and print its figures."""
    from voicecoach_dev.evalkit.devset import SPLITS, ensure_devset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=SPLITS, default="tune")
    ap.add_argument("--draw", type=int, nargs="+", default=[1])
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable), e.g. lean_in")
    ap.add_argument("--config", help="a voicecoach TOML whose [detection.raised] is replayed (default: defaults)")
    ap.add_argument("--against", help="a second TOML, replayed too and compared with the first")
    args = ap.parse_args(argv)
    base = _settings(args.config)
    items = [it for d in args.draw for it in ensure_devset(draw=d, split=args.split, scenarios_wanted=args.scenario)
             if it["scenario"] != "ami"]
    inputs = {key(it): cached_inputs(it, base.detection, base.audio.frame_ms) for it in items}
    runs = [base] + ([_settings(args.against)] if args.against else [])
    results = []
    for cfg in runs:
        events = {key(it): replay(inputs[key(it)], cfg.detection.raised, cfg.audio.frame_ms) for it in items}
        results.append(score(items, events))
    for family in sorted(results[0][0]):
        print(f"{family:22s} " + " | ".join(summary(r[0][family]) for r in results))
    if args.against:
        for line in changes(results[0][1], results[1][1]):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
