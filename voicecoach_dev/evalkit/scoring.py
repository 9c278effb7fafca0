"""Scoring detections against ground truth, exactly as issue 3 defines it. Pure functions over plain dicts.

* Interruptions: a detection matches a true onset r if its ``start`` lies in [r-0.5, r+1.0] s or its ``t`` in
  [r, r+2.0] s; matching is one-to-one (maximum bipartite matching); unmatched detections are false positives,
  and those at a backchannel are counted separately as well.
* Raised voice: a true segment is found if a detection has ``t`` in [start, end+0.5]; a detection is correct if
  its ``t`` lies in [start, end+1.0] of some true segment.
* Pause suggestions: an escalation window is caught if a suggestion has ``t`` in [start, end+PAUSE_SLACK_S];
  suggestions outside every window (with slack) are false suggestions.

Latency is ``t`` minus the true onset (segment or window start) of the first matching detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

START_BEFORE_S, START_AFTER_S = 0.5, 1.0
EMIT_AFTER_S = 2.0
RAISED_FOUND_AFTER_S, RAISED_CORRECT_AFTER_S = 0.5, 1.0
PAUSE_SLACK_S = 5.0


def interruption_matches(det: dict[str, Any], onset: float) -> bool:
    """Whether one interruption detection may be matched to the true onset."""
    start = det.get("start")
    by_start = start is not None and onset - START_BEFORE_S <= start <= onset + START_AFTER_S
    return by_start or onset <= det["t"] <= onset + EMIT_AFTER_S


def _max_matching(n_truth: int, candidates: list[list[int]]) -> dict[int, int]:
    """Kuhn's augmenting paths: {detection index: truth index}; candidates[r] lists detections, preferred first."""
    owner: dict[int, int] = {}

    def augment(r: int, seen: set[int]) -> bool:
        for d in candidates[r]:
            if d in seen:
                continue
            seen.add(d)
            if d not in owner or augment(owner[d], seen):
                owner[d] = r
                return True
        return False

    for r in range(n_truth):
        augment(r, set())
    return owner


@dataclass
class Match:
    """Result of matching one file's detections to its truth."""

    n_truth: int = 0
    n_det: int = 0
    found: int = 0  # true items found (recall numerator)
    correct: int = 0  # detections that are correct (precision numerator)
    latencies: list[float] = field(default_factory=list)
    at_backchannel: int = 0  # false detections at a backchannel (interruptions only)
    ignored_det: int = 0  # detections matched to "don't care" truth
    matched: list[tuple[int, int]] = field(default_factory=list)  # (detection index, truth index)
    attributed: int = 0  # matched detections whose partner label is right (set by attribute_speakers)
    attributable: int = 0


def score_interruptions(dets: list[dict[str, Any]], onsets: list[float],
                        backchannels: Iterable[dict[str, Any]] = (), ignore: Iterable[int] = ()) -> Match:
    """One-to-one matching of interruption detections to true onsets; ``ignore``: truth indices not scored."""
    ignore = set(ignore)
    candidates = []
    for r in onsets:
        ok = [i for i, d in enumerate(dets) if interruption_matches(d, r)]
        candidates.append(sorted(ok, key=lambda i: abs(dets[i]["t"] - r)))
    owner = _max_matching(len(onsets), candidates)
    m = Match(n_truth=len(onsets) - len(ignore), n_det=len(dets))
    for d, r in owner.items():
        if r in ignore:
            m.ignored_det += 1
        else:
            m.found += 1
            m.latencies.append(dets[d]["t"] - onsets[r])
            m.matched.append((d, r))
    m.n_det -= m.ignored_det
    m.correct = m.found
    bcs = list(backchannels)
    for i, det in enumerate(dets):
        if i not in owner and any(interruption_matches(det, b["start"]) for b in bcs):
            m.at_backchannel += 1
    return m


def _count_found(m: Match, dets: list[dict[str, Any]], spans: list[dict[str, Any]], after_s: float) -> None:
    """Spans with a detection ``t`` in [start, end + after_s]: count them, and the first detection's latency."""
    for latency in spans_found(dets, spans, after_s):
        if latency is not None:
            m.found += 1
            m.latencies.append(latency)


def spans_found(dets: list[dict[str, Any]], spans: list[dict[str, Any]],
                after_s: float = RAISED_FOUND_AFTER_S) -> list[float | None]:
    """Per span: the latency of its first detection with ``t`` in [start, end + after_s], or None if missed."""
    out: list[float | None] = []
    for span in spans:
        hits = [d["t"] for d in dets if span["start"] <= d["t"] <= span["end"] + after_s]
        out.append(min(hits) - span["start"] if hits else None)
    return out


def score_raised(dets: list[dict[str, Any]], segments: list[dict[str, Any]],
                 turns: Iterable[dict[str, Any]] = ()) -> Match:
    """Segments found (a detection t in [start, end+0.5]) and detections correct (t in [start, end+1.0]).

    A correct detection is matched to the segment it lies in. When both partners' raised stretches overlap in
    time, it goes to the segment whose partner has a raised ``turn`` nearest the detection's ``start``: that is
    the voice it heard, and the one its partner label is checked against.
    """
    m = Match(n_truth=len(segments), n_det=len(dets))
    _count_found(m, dets, segments, RAISED_FOUND_AFTER_S)
    raised_turns = [t for t in turns if t.get("stretch") is not None]
    for i, d in enumerate(dets):
        hit = [k for k, s in enumerate(segments) if s["start"] <= d["t"] <= s["end"] + RAISED_CORRECT_AFTER_S]
        if hit:
            m.correct += 1
            m.matched.append((i, min(hit, key=lambda k: _turn_gap(d, segments[k], raised_turns))))
    return m


def _turn_gap(det: dict[str, Any], seg: dict[str, Any], turns: list[dict[str, Any]]) -> float:
    """Seconds from the detection's start to the nearest raised turn of the segment's partner inside it."""
    at = det["t"] if det.get("start") is None else det["start"]
    gaps = [max(t["start"] - at, at - t["end"], 0.0) for t in turns
            if t["speaker"] == seg["speaker"] and seg["start"] <= t["start"] and t["end"] <= seg["end"]]
    return min(gaps, default=float("inf"))


def attribute_speakers(pairs: list[tuple[str | None, str]]) -> tuple[int, int]:
    """(right, total) for (detected label, true label) pairs, under the better of the two A/B label mappings.

    The detector names partners "A"/"B" in the order it meets them, so its labels may be swapped for a whole talk.
    """
    usable = [(d, t) for d, t in pairs if t in ("A", "B")]
    same = sum(d == t for d, t in usable)
    swap = {"A": "B", "B": "A"}
    swapped = sum(swap.get(d or "") == t for d, t in usable)
    return max(same, swapped), len(usable)


def score_pauses(dets: list[dict[str, Any]], windows: list[dict[str, Any]]) -> Match:
    """Escalation windows caught by a suggestion in [start, end+slack]; other suggestions are false."""
    m = Match(n_truth=len(windows), n_det=len(dets))
    _count_found(m, dets, windows, PAUSE_SLACK_S)
    m.correct = sum(any(w["start"] <= d["t"] <= w["end"] + PAUSE_SLACK_S for w in windows) for d in dets)
    return m


@dataclass
class Tally:
    """Sums of :class:`Match` results over files, and the figures derived from them."""

    files: int = 0
    hours: float = 0.0
    n_truth: int = 0
    n_det: int = 0
    found: int = 0
    correct: int = 0
    at_backchannel: int = 0
    attributed: int = 0
    attributable: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, m: Match, duration_s: float) -> None:
        """Add one file's match."""
        self.files += 1
        self.hours += duration_s / 3600.0
        self.n_truth += m.n_truth
        self.n_det += m.n_det
        self.found += m.found
        self.correct += m.correct
        self.at_backchannel += m.at_backchannel
        self.attributed += m.attributed
        self.attributable += m.attributable
        self.latencies += m.latencies

    def merge(self, other: "Tally") -> None:
        """Add another tally."""
        for k in ("files", "hours", "n_truth", "n_det", "found", "correct", "at_backchannel", "attributed",
                  "attributable"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.latencies += other.latencies

    @property
    def precision(self) -> float:
        """Correct detections / detections (0 when nothing was detected)."""
        return self.correct / self.n_det if self.n_det else 0.0

    @property
    def recall(self) -> float:
        """Found true items / true items (0 when there is nothing to find)."""
        return self.found / self.n_truth if self.n_truth else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false(self) -> int:
        """Detections that are not correct."""
        return self.n_det - self.correct

    @property
    def false_per_hour(self) -> float:
        """False detections per hour of audio."""
        return self.false / self.hours if self.hours else 0.0

    @property
    def speaker_accuracy(self) -> float | None:
        """Share of matched detections naming the right partner (None when nothing could be checked)."""
        return self.attributed / self.attributable if self.attributable else None

    def latency(self, q: float) -> float | None:
        """Latency percentile (50 = median) in seconds, None without matches."""
        return float(np.percentile(self.latencies, q)) if self.latencies else None

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable figures."""
        return {"files": self.files, "hours": round(self.hours, 4), "true": self.n_truth, "detected": self.n_det,
                "found": self.found, "correct": self.correct, "false": self.false,
                "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "latency_median_s": _r(self.latency(50)), "latency_p90_s": _r(self.latency(90)),
                "false_per_hour": round(self.false_per_hour, 3), "false_at_backchannels": self.at_backchannel,
                "speaker_accuracy": _r(self.speaker_accuracy)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
