"""How close each false raised-voice event comes to a pause suggestion by the raised-time rule alone.

A raised-voice event outside every true raised stretch is false. The escalation policy suggests a pause once the
raised voice in its window reaches ``detection.escalation.raised_s``: the raised frames after the event plus the
speech before it that the detector judged (at most ``onset_credit_s``). This prints, per false event, that credit
and the raised time in the 60 s after it, and how many talks reach each ``raised_s`` tried, so a shorter wait can
be weighed against the false suggestions it would add. Interruptions are left out (their rules count apart).
The raised-voice detector is replayed over the cached frame inputs (``replay.cached_inputs``).

Each false event also names the transient sound the dev set dropped into the talk up to ``TRANSIENT_BEFORE_S``
before it (its ESC-50 category when the corpus's ``labels.csv`` is at hand), and the last line says how many of the
talks reaching the current ``raised_s`` had one: a cat's meow or a sheep's bleat in a calm talk is heard as a
raised voice (thirty-fifth pass).

    PYTHONPATH=. .venv/bin/python scripts/measure_false_raised.py [--split eval] [--draw 31 32 ...]
                                                                   [--scenario NAME ...] [--config F]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

WINDOW_S = 60.0           # the escalation policy's window (its default window_s)
MATCH_BEFORE_S = 0.5      # an event this close before a true raised stretch is that stretch's (as the scorer says)
MATCH_AFTER_S = 1.5       # ...and this long after its end
THRESHOLDS_S = (2.0, 2.5, 3.0)
TRANSIENT_BEFORE_S = 6.0  # a transient that began this long before a false event (ESC-50 clips last 5 s) is named


@dataclass(frozen=True)
class FalseRaise:
    """A raised-voice event outside every true raised stretch, and what the raised-time rule would count of it."""

    t: float            # when the event was emitted, s
    credit_s: float     # the speech before it credited to the raised time
    after_s: float      # raised-voice time in the WINDOW_S after the event
    transient: str | None = None   # the transient sound that began up to TRANSIENT_BEFORE_S before it

    @property
    def counted_s(self) -> float:
        """What the raised-time rule counts at most for this event's stretch."""
        return self.credit_s + self.after_s


def false_raises(events: Sequence[tuple[float, float]], raised: np.ndarray, truth: Sequence[dict[str, Any]],
                 frame_s: float, onset_credit_s: float) -> list[FalseRaise]:
    """The false events among ``events`` ((t, onset start) pairs), with ``raised`` the end times of the frames in
    which a voice was raised; ``truth`` the true raised stretches (``start``, ``end``)."""
    out = []
    for t, start in events:
        if any(r["start"] - MATCH_BEFORE_S <= t <= r["end"] + MATCH_AFTER_S for r in truth):
            continue
        after = float(np.count_nonzero((raised > t) & (raised <= t + WINDOW_S))) * frame_s
        out.append(FalseRaise(t=t, credit_s=min(max(0.0, t - start), onset_credit_s), after_s=after))
    return out


def transient_before(t: float, transients: Sequence[dict[str, Any]], categories: dict[str, str]) -> str | None:
    """The latest transient of the talk's mix (``{"t": start, "sound": name}``) that began within
    ``TRANSIENT_BEFORE_S`` before ``t``, as ``name (category)`` when ``categories`` knows it; None if none did."""
    near = [x for x in transients if t - TRANSIENT_BEFORE_S <= x["t"] <= t]
    if not near:
        return None
    sound = str(max(near, key=lambda x: x["t"])["sound"])
    return f"{sound} ({categories[sound]})" if sound in categories else sound


def sound_categories() -> dict[str, str]:
    """ESC-50 clip name -> category, from the corpus's ``noise/esc50/labels.csv`` (empty when it is not there)."""
    import csv

    from voicecoach_dev.evalkit.corpus import CorpusMissing, find_corpus

    try:
        path = find_corpus() / "noise" / "esc50" / "labels.csv"
    except CorpusMissing:
        return {}
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {row["filename"].removesuffix(".wav"): row["category"] for row in csv.DictReader(f)}


def replay_raised(inputs: np.ndarray, settings: Any, frame_ms: int) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The raised-voice detector over cached frame inputs: its events as (t, onset start) and the end times of the
    frames in which a voice was raised (as the escalation policy counts them)."""
    from voicecoach.detect.features import FrameFeatures
    from voicecoach.detect.raised import RaisedVoiceDetector
    from voicecoach_dev.evalkit.replay import LABELS, frame_voices

    detector = RaisedVoiceDetector(settings, frame_ms)
    events, raised = [], []
    for end_s, speech, f0, energy, bright, label, new_stretch, other, unsure, _, a_st, b_st in inputs.tolist():
        f = FrameFeatures(0, end_s, energy, bool(speech), 0.0, f0, 0.0, bright)
        for e in detector.process(f, LABELS[int(label)], False, bool(new_stretch), bool(other), bool(unsure),
                                  frame_voices(a_st, b_st)):
            events.append((e.t, e.start))
        if detector.active is not None:
            raised.append(end_s)
    return events, np.asarray(raised, dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    """Print each false raised-voice event's credit and raised time, and the talks that reach each raised_s."""
    from voicecoach.config import Config, load_config
    from voicecoach_dev.evalkit.devset import mixed_items, parse_draws
    from voicecoach_dev.evalkit.replay import cached_inputs

    args = parse_draws(__doc__.split("\n\n")[0], argv)
    cfg = load_config(args.config) if args.config else Config()   # the defaults, not the user's own file
    frame_ms, credit = cfg.audio.frame_ms, cfg.detection.escalation.onset_credit_s
    thresholds = sorted({*THRESHOLDS_S, cfg.detection.escalation.raised_s})
    reached = dict.fromkeys(thresholds, 0)
    after_transient = 0
    categories = sound_categories()
    hours = 0.0
    for item in mixed_items(args):
        hours += item["duration_s"] / 3600.0
        events, raised = replay_raised(cached_inputs(item, cfg.detection, frame_ms), cfg.detection.raised, frame_ms)
        found = false_raises(events, raised, item["truth"]["raised"], frame_ms / 1000.0, credit)
        transients = item.get("mix", {}).get("transients", [])
        found = [replace(f, transient=transient_before(f.t, transients, categories)) for f in found]
        for f in found:
            print(f"{args.split} {item['draw']} {item['name']:22s} t {f.t:7.2f} s  credit {f.credit_s:.2f} s  "
                  f"raised after {f.after_s:5.2f} s" + (f"  after {f.transient}" if f.transient else ""))
        worst = max(found, key=lambda f: f.counted_s, default=None)   # the false event the rule counts most of
        counted = worst.counted_s if worst else 0.0
        for s in thresholds:
            reached[s] += counted >= s
        after_transient += bool(worst and worst.transient and counted >= cfg.detection.escalation.raised_s)
    print(f"{hours:.1f} h; talks whose false raised voice reaches raised_s: "
          + ", ".join(f"{s:g} s: {n}" for s, n in reached.items())
          + f" ({after_transient} of the {reached[cfg.detection.escalation.raised_s]} at "
            f"{cfg.detection.escalation.raised_s:g} s just after a transient sound)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
