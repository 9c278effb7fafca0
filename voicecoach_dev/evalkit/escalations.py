"""How soon the pause is offered, per kind of escalation: from the window's start and from its first sign.

The dev set's escalations are of three kinds (``devset.ESCALATION_KINDS``): raised voices only, interruptions only,
or both. Their pause latencies differ by an order of magnitude: a raised voice can be heard within its first
seconds, while interruptions alone must add up (``detection.escalation.interruptions`` of them) before they say
anything. Pooled, the median falls between the two groups and a few escalations moving shifts it by seconds, so
this breaks it down.

An escalation window opens with its first turn, which is often the calm partner's (where only one partner raises
their voice): nothing can be heard of the escalation before its **first sign**, the first raised turn or the first
true interruption in it. The latency from the first sign is what the detectors and the policy take; the latency
from the window's start (the scored figure) adds whatever calm turn came first.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from .devset import ESCALATION_KINDS as KINDS
from .scoring import PAUSE_SLACK_S, spans_found


@dataclass
class KindRow:
    """The escalations of one kind (dry or in rooms): how many, and each caught one's latency two ways."""

    escalations: int = 0
    from_start: list[float] = field(default_factory=list)
    from_sign: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """For the evaluation's JSON."""
        return {"escalations": self.escalations, "caught": len(self.from_start),
                "median_from_start_s": _median(self.from_start), "median_from_sign_s": _median(self.from_sign)}


def first_sign(truth: dict[str, Any], window: dict[str, Any]) -> float:
    """When an escalation window's first sign comes: its first raised stretch's start or its first true
    interruption, whichever is earlier (the window's start if it has neither)."""
    starts = [s["start"] for s in truth.get("raised", ()) if window["start"] <= s["start"] <= window["end"]]
    onsets = [i["t"] for i in truth.get("interruptions", ()) if window["start"] <= i["t"] <= window["end"]]
    return min(starts + onsets, default=window["start"])


def by_kind(items: list[dict[str, Any]], results: dict[str, tuple[list, float]]) -> dict[str, KindRow]:
    """Rows ``"<kind>"`` (dry) and ``"<kind> in rooms"`` over the items that are escalations of a known kind; a
    window is caught by the first suggestion in [start, end + the scoring's slack], as ``score_pauses`` counts."""
    rows: dict[str, KindRow] = {}
    for item in items:
        kind = item.get("mix", {}).get("escalation_kind")
        if kind not in KINDS or "row" in item:
            continue
        row = rows.setdefault(f"{kind} in rooms" if item.get("room") else kind, KindRow())
        pauses = [e for e in results[item["name"]][0] if e["type"] == "pause_suggested"]
        windows = item["truth"]["escalations"]
        for w, latency in zip(windows, spans_found(pauses, windows, PAUSE_SLACK_S)):
            row.escalations += 1
            if latency is not None:
                row.from_start.append(latency)
                row.from_sign.append(latency + w["start"] - first_sign(item["truth"], w))
    return {k: rows[k] for k in (*KINDS, *(f"{k} in rooms" for k in KINDS)) if k in rows}


def table(rows: dict[str, KindRow]) -> list[str]:
    """The Markdown section (nothing when no item was an escalation of a known kind)."""
    if not rows:
        return []
    out = ["", "### Pause latency by kind of escalation", "",
           "From the window's start (the scored latency) and from its first sign: the first raised turn or true "
           "interruption in it (the window may open with a calm turn).", "",
           "| escalation kind | escalations | caught | median from the start s | median from the first sign s |",
           "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        out.append(f"| {name} | {r.escalations} | {len(r.from_start)} | {_fmt(_median(r.from_start))} "
                   f"| {_fmt(_median(r.from_sign))} |")
    return out


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"
