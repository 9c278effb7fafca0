"""Real AMI meeting excerpts: RTTM turns -> reference interruptions.

A reference interruption is an overlap onset: a speaker starts while another speaker has already been talking for
at least 1 s. Onsets whose own segment lasts under 0.6 s are flagged ``short`` (backchannel-like): the issue's
definition counts them, and a second, lenient score ignores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HELD_FLOOR_S = 1.0
SHORT_S = 0.6
MERGE_GAP_S = 0.25  # a speaker's own segments this close are one stretch of talk


def read_rttm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """RTTM file -> {file id: [(start, end, speaker), ...]} sorted by start."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            out.setdefault(f[1], []).append((start, start + dur, f[7]))
    return {k: sorted(v) for k, v in out.items()}


def read_uem(path: Path) -> dict[str, tuple[float, float]]:
    """UEM file -> {file id: (start, end)} of the scored region."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split()
        if len(f) >= 4:
            out[f[0]] = (float(f[2]), float(f[3]))
    return out


def merge_turns(segments: list[tuple[float, float, str]], gap_s: float = MERGE_GAP_S) -> list[tuple[float, float, str]]:
    """Join each speaker's segments separated by less than ``gap_s``."""
    by: dict[str, list[list[float]]] = {}
    for s, e, spk in sorted(segments):
        runs = by.setdefault(spk, [])
        if runs and s - runs[-1][1] < gap_s:
            runs[-1][1] = max(runs[-1][1], e)
        else:
            runs.append([s, e])
    return sorted((s, e, spk) for spk, runs in by.items() for s, e in runs)


def reference_interruptions(segments: list[tuple[float, float, str]],
                            region: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    """Overlap onsets where another speaker has held the floor for >= 1 s."""
    turns = merge_turns(segments)
    out = []
    for s, e, spk in turns:
        if region and not region[0] <= s <= region[1]:
            continue
        held = [(s2, spk2) for s2, e2, spk2 in turns if spk2 != spk and s2 <= s - HELD_FLOOR_S and e2 > s]
        if held:
            over = min(held)[1]
            out.append({"t": round(s, 3), "speaker": spk, "over": over, "short": e - s < SHORT_S})
    return out


def ami_items(root: Path) -> list[dict[str, Any]]:
    """The AMI excerpts as dev-set items (the WAV stays in the corpus; truth computed from the RTTM)."""
    d = root / "conversations" / "ami"
    rttm: dict[str, list[tuple[float, float, str]]] = {}
    uem: dict[str, tuple[float, float]] = {}
    for name in ("sample", "debug.train", "debug.development"):
        if (d / f"{name}.rttm").exists():
            rttm.update(read_rttm(d / f"{name}.rttm"))
        if (d / f"{name}.uem").exists():
            uem.update(read_uem(d / f"{name}.uem"))
    items = []
    for fid in sorted(rttm):
        wav = d / f"{fid}.wav"
        if not wav.exists():
            continue
        region = uem.get(fid)
        refs = reference_interruptions(rttm[fid], region)
        items.append({"name": f"ami-{fid}", "scenario": "ami", "wav": str(wav), "region": region,
                      "truth": {"interruptions": refs, "backchannels": [], "raised": [], "escalations": []}})
    return items
