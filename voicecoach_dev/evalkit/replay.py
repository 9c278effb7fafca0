"""Raised-voice figures in seconds: the detector replayed over cached per-frame inputs of the dev set.

The raised-voice detector sees only each frame's features and the speaker tracker's label and flags, and nothing
it decides feeds back into them. So those inputs are computed once per recording (about 350x real time) and cached
in ``out/replay/``; the detector is then replayed over them (a few thousand times real time) with any raised-voice
settings, giving exactly the raised-voice events the full pipeline gives. Scored as ``scripts/evaluate`` scores them.

    scripts/replay-raised [--split eval|tune|train] [--draw N ...] [--scenario NAME ...] [--config FILE]
                          [--against FILE]

``--against`` replays a second configuration and prints both side by side, with every raised stretch found
later, sooner, lost or gained. ``--pauses FOLDER`` also replays the pause policy: it needs the interruptions, which
the raised-voice detector does not change, so they are taken from a full run's saved events (``scripts/evaluate
--events FOLDER``); the replayed suggestions are the full run's exactly when the settings are the same.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

from voicecoach.config import Config, load_config
from voicecoach.detect.escalation import EscalationPolicy
from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.raised import RaisedVoiceDetector
from voicecoach.detect.settings import DetectionSettings, RaisedSettings
from voicecoach.detect.voice_bed import VoiceBed, is_voice
from voicecoach.events import Event, Interruption, PauseSuggested, RaisedVoice
from voicecoach_dev.evalkit.evaluate import DISTANCE_BANDS, band as distance_band, tally
from voicecoach_dev.evalkit.scoring import Tally, score_raised, spans_found

CACHE = Path(__file__).resolve().parents[2] / "out" / "replay"
LABELS = (None, "A", "B")
COLUMNS = 12  # end_s, is_speech, f0_hz, energy_db, bright_db, label (0 none, 1 A, 2 B), new_stretch, recent_other,
              # unsure, the voice bed's share (voice_bed.py), A's and B's voice-model pitch (NaN: none)
CACHE_VERSION = "v13"   # in the cache's file names: change it when a column, or what computes one, changes


def frame_inputs(wav: str | Path, settings: DetectionSettings, frame_ms: int = 30) -> NDArray[np.float64]:
    """What the raised-voice detector is given for each frame of ``wav`` (one row per frame, ``COLUMNS``), from the
    pipeline's own front end (:meth:`Pipeline.hear`: its DC blocker, the features, the speaker tracker)."""
    from voicecoach.audio.wav import WavSource

    pipeline = Pipeline(settings, frame_ms)
    speakers = pipeline.speakers
    bed = VoiceBed(frame_ms)
    rows = []
    for frame in WavSource(str(wav), frame_ms=frame_ms).frames():
        _, f, label = pipeline.hear(frame)
        bed.process(f)
        known = pipeline.partner(label)
        rows.append((f.end_s, f.is_speech, f.f0_hz, f.energy_db, f.bright_db, LABELS.index(known),
                     speakers.stretch_frames == 1 and f.is_speech, speakers.recent_other, speakers.unsure,
                     math.nan if bed.share is None else bed.share, *_pitches(speakers.model_pitches_st())))
    return np.asarray(rows, dtype=np.float64).reshape(-1, COLUMNS)


def _pitches(voices: dict[str, float]) -> tuple[float, float]:
    """A's and B's voice-model pitch, NaN where unknown (the cache's last two columns)."""
    return voices.get("A", math.nan), voices.get("B", math.nan)


def frame_voices(a_st: float, b_st: float) -> dict[str, float]:
    """The cache's last two columns as ``RaisedVoiceDetector.process`` takes them."""
    return {k: v for k, v in (("A", a_st), ("B", b_st)) if not math.isnan(v)}


def replay(inputs: NDArray[np.float64], settings: RaisedSettings, frame_ms: int = 30,
           escalation: EscalationPolicy | None = None, interruptions: Sequence[Interruption] = ()) -> list[Event]:
    """The raised-voice events a detector with ``settings`` gives over cached ``inputs``; with an ``escalation``
    policy, also its pause suggestions, given the ``interruptions`` a full run found (each fed to the policy on the
    frame that ends at its time ``t``, as the pipeline emits it)."""
    detector = RaisedVoiceDetector(settings, frame_ms)
    pending = sorted(interruptions, key=lambda e: e.t)
    k = 0
    events: list[Event] = []
    bed_share = escalation.settings.voice_bed_share if escalation is not None else 0.0
    for end_s, speech, f0, energy, bright, label, new_stretch, other, unsure, voice_bed, a_st, b_st in inputs.tolist():
        f = FrameFeatures(0, end_s, energy, bool(speech), 0.0, f0, 0.0, bright)
        now: list[Event] = list(detector.process(f, LABELS[int(label)], False, bool(new_stretch), bool(other),
                                                 bool(unsure), frame_voices(a_st, b_st)))
        if escalation is not None:
            while k < len(pending) and pending[k].t <= end_s + 1e-6:
                now.append(pending[k])
                k += 1
            voice = is_voice(None if math.isnan(voice_bed) else voice_bed, bed_share)
            now += escalation.process(end_s, now, detector.active is not None, False, voice)
        events += now
    return events


def cached_inputs(item: dict[str, Any], settings: DetectionSettings, frame_ms: int = 30,
                  cache: Path = CACHE) -> NDArray[np.float64]:
    """``frame_inputs`` of a dev-set item, from the cache when there (keyed by the item's folder and name)."""
    wav = Path(item["wav"])
    path = cache / wav.parent.name / f"{item['name']}.{CACHE_VERSION}.npy"
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


def score(items: list[dict[str, Any]], events: dict[str, list[Event]]
          ) -> tuple[dict[str, Tally], dict[str, list[float | None]]]:
    """Per family (dry and ``@room`` apart) and in all (``TOTAL``) tallies, and per item each true stretch's
    latency (None: missed)."""
    table: dict[str, Tally] = {"TOTAL": Tally()}
    latency: dict[str, list[float | None]] = {}
    for item in items:
        dets = [e.to_dict() for e in events[key(item)] if isinstance(e, RaisedVoice)]
        truth = item["truth"]
        m = score_raised(dets, truth["raised"], truth.get("turns", ()))
        for row in (item["scenario"], "TOTAL"):
            table.setdefault(row, Tally()).add(m, item["duration_s"])
        latency[key(item)] = spans_found(dets, truth["raised"])
        room = item.get("mix", {}).get("room")
        for seg, found in zip(truth["raised"], latency[key(item)]) if room else ():
            band = distance_band(room["sources"][seg["speaker"]]["distance_m"], DISTANCE_BANDS)
            t = table.setdefault(f"rooms, partner {band}", Tally())
            t.n_truth += 1
            if found is not None:
                t.found += 1
                t.latencies.append(found)
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


def saved_interruptions(folder: Path, item: dict[str, Any]) -> list[Interruption]:
    """The interruptions a full run (``scripts/evaluate --events folder``) found in ``item``."""
    path = folder / f"{item['name']}.json"
    if not path.exists():
        raise SystemExit(f"replay-raised: {path} is missing: run scripts/evaluate --split {item['split']} "
                         f"--draw {item['draw']} --events {folder} first")
    return [Interruption(t=e["t"], start=e["start"], speaker=e.get("speaker"), over=e.get("over"))
            for e in json.loads(path.read_text()) if e["type"] == "interruption"]


def pause_figures(items: list[dict[str, Any]], events: dict[str, list[Event]]) -> dict[str, Tally]:
    """Pause suggestions scored as ``scripts/evaluate`` scores them, per family and in its aggregate rows."""

    rows: dict[str, Tally] = {}
    for draw in sorted({it["draw"] for it in items}):
        mine = [it for it in items if it["draw"] == draw]
        results = {it["name"]: ([e.to_dict() for e in events[key(it)]], 0.0) for it in mine}
        for row, t in tally(mine, results).get("pause_suggested", {}).items():
            rows.setdefault(row, Tally()).merge(t)
    return rows


def pause_summary(t: Tally, calm: bool) -> str:
    """``caught/escalations, median latency``, and for calm talk ``false suggestions (per hour)``."""
    med = f"{statistics.median(t.latencies):.1f} s" if t.latencies else "-"
    return f"{t.false} false ({t.false_per_hour:.2f}/h)" if calm else f"{t.found}/{t.n_truth} caught, median {med}"


def _settings(path: str | None) -> Config:
    return load_config(path) if path else Config()   # defaults, not the user's own file


def main(argv: list[str] | None = None) -> int:
    """Command line: replay the raised-voice detector over draws of the dev set and print its figures."""
    from voicecoach_dev.evalkit.devset import CATALOGUE, SPLITS, ensure_devset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=SPLITS, default="tune")
    ap.add_argument("--draw", type=int, nargs="+", default=[1])
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable), e.g. lean_in")
    ap.add_argument("--config", help="a voicecoach TOML whose [detection.raised] is replayed (default: defaults)")
    ap.add_argument("--against", help="a second TOML, replayed too and compared with the first")
    ap.add_argument("--pauses", metavar="FOLDER",
                    help="also replay the pause policy, with the interruptions a full run saved here "
                         "(scripts/evaluate --events FOLDER; '{draw}' in it stands for each draw's number)")
    args = ap.parse_args(argv)
    base = _settings(args.config)
    items = [it for d in args.draw for it in ensure_devset(draw=d, split=args.split, scenarios_wanted=args.scenario)
             if it["scenario"] != "ami"]
    inputs = {key(it): cached_inputs(it, base.detection, base.audio.frame_ms) for it in items}
    runs = [base] + ([_settings(args.against)] if args.against else [])
    cuts = ({key(it): saved_interruptions(Path(args.pauses.format(draw=it["draw"])), it) for it in items}
            if args.pauses else {})
    results, pauses = [], []
    for cfg in runs:
        d = cfg.detection
        events = {key(it): replay(inputs[key(it)], d.raised, cfg.audio.frame_ms,
                                  EscalationPolicy(d.escalation, cfg.audio.frame_ms, d.interruption.method)
                                  if args.pauses else None, cuts.get(key(it), ()))
                  for it in items}
        results.append(score(items, events))
        if args.pauses:
            pauses.append(pause_figures(items, events))
    for family in sorted(results[0][0]):
        print(f"{family:22s} " + " | ".join(summary(r[0][family]) for r in results))
    for row in sorted(pauses[0]) if pauses else ():
        calm = CATALOGUE[row][3] if row in CATALOGUE else "calm" in row
        if row in CATALOGUE and not (calm or pauses[0][row].n_truth):
            continue   # a family with no escalation and not calm: its suggestions are neither caught nor false
        print(f"pauses {row:32s} " + " | ".join(pause_summary(p.get(row, Tally()), calm) for p in pauses))
    if args.against:
        for line in changes(results[0][1], results[1][1]):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
