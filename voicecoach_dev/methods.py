"""Every interruption method on the same dev-set items, side by side (``scripts/evaluate --methods ...``).

Each method runs the whole pipeline over every item (as ``voicecoach analyze`` does) with only
``detection.interruption.method`` changed, and is scored as ``scripts/evaluate`` scores interruptions: dry and in
rooms, calm talk's false ones per hour, latency, a voice cutting in on a partner 8-14 dB louder at the microphone,
and the real AMI meetings.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from voicecoach_dev.evalkit import report
from voicecoach_dev.evalkit.devset import CATALOGUE
from voicecoach_dev.evalkit.scoring import Tally, score_interruptions

METHODS = ("stream", "gated", "model", "features")
LOUDER_DB = (8.0, 14.0)


def method_config(method: str, base: str | None, folder: Path) -> str:
    """A config file equal to ``base`` (or the defaults) but for ``detection.interruption.method``."""
    text = Path(base).read_text() if base else ""
    line = f'method = "{method}"'
    text = re.sub(r'(?m)^\s*method\s*=.*$', "", text) if "[detection.interruption]" in text else text
    if "[detection.interruption]" in text:
        text = text.replace("[detection.interruption]", "[detection.interruption]\n" + line, 1)
    else:
        text += f"\n[detection.interruption]\n{line}\n"
    path = folder / f"method-{method}.toml"
    path.write_text(text)
    return str(path)


def _at_mic_db(item: dict[str, Any], who: str, t: float) -> float | None:
    """The level a partner's turn at ``t`` reaches the microphone with: natural or at-mic level, turn gain, anger."""
    mix = item.get("mix", {})
    level = mix.get("at_mic_db", {}).get(who, item.get("partners", {}).get(who, {}).get("level_db"))
    turn = next((tr for tr in item["truth"].get("turns", ()) if tr["speaker"] == who
                 and tr["start"] - 0.05 <= t <= tr["end"]), None)
    if level is None or turn is None:
        return None
    angry = mix.get("angry_restore_db", {}).get(who, 0.0) if turn.get("voice") == "angry" else 0.0
    return level + turn.get("gain_db", 0.0) + angry


def louder_holder(items: list[dict[str, Any]], results: dict[str, tuple[list, float]]) -> Tally:
    """Recall over true interruptions whose interrupted partner is 8-14 dB louder at the microphone."""
    t = Tally()
    for it in items:
        if it["scenario"] not in CATALOGUE:   # AMI, the real call: no levels at the mic known
            continue
        truth = it["truth"]
        dets = [e for e in results[it["name"]][0] if e["type"] == "interruption"]
        m = score_interruptions(dets, [r["t"] for r in truth["interruptions"]], truth["backchannels"])
        found = {r for _, r in m.matched}
        for k, r in enumerate(truth["interruptions"]):
            over, under = _at_mic_db(it, r["over"], r["t"]), _at_mic_db(it, r["speaker"], r["t"] + 0.3)
            if over is not None and under is not None and LOUDER_DB[0] <= over - under <= LOUDER_DB[1]:
                t.n_truth += 1
                t.found += k in found
    return t


def compare(items: list[dict[str, Any]], base_config: str | None, methods: list[str],
            run_all: Callable, tally: Callable, jobs: int, log=print) -> str:
    """Run each method over ``items`` and return the Markdown table (``run_all``/``tally`` from evaluate)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            t0 = time.perf_counter()
            results = run_all(items, method_config(method, base_config, Path(tmp)), jobs)
            seconds = sum(s for _, s in results.values())
            audio = sum(it["duration_s"] for it in items)
            log(f"evaluate: method {method}: {time.perf_counter() - t0:.0f} s")
            ti = tally(items, results).get("interruption", {})
            rows.append((method, ti, louder_holder(items, results), audio / max(seconds, 1e-9)))
    return table(rows)


def _pr(t: Tally | None) -> str:
    if t is None or not t.files:
        return "-"
    return f"{t.f1:.2f} ({t.precision:.2f} / {t.recall:.2f})"


def _call(ti: dict[str, Tally]) -> str:
    """The real talks' cells: the call's true interruptions found and false ones an hour, dry / rooms, and the
    back-to-back turns' false ones an hour ('-' if not run)."""
    cells = [f"{t.found} of {t.n_truth}, {t.false_per_hour:.1f}" if t is not None else "-"
             for t in (ti.get(report.CALL), ti.get(report.CALL_ROOM))]
    turns = [f"{t.false_per_hour:.1f}" if t is not None else "-"
             for t in (ti.get(report.TURNS), ti.get(report.TURNS_ROOM))]
    return " / ".join(cells) + " | " + " / ".join(turns)


def table(rows: list[tuple[str, dict[str, Tally], Tally, float]]) -> str:
    """One row per method: F1 (P / R) dry and in rooms, calm false/h, latency, louder-holder recall, AMI, the real
    talks."""
    lines = ["### Interruptions: every method on the same talks", "",
             "| method | dry: F1 (P / R) | rooms: F1 (P / R) | false / h, calm dry | false / h, calm rooms "
             "| median latency, dry / rooms | recall, holder 8-14 dB louder | AMI: P / R "
             "| real call: found, false / h, dry / rooms | real back-to-back turns: false / h, dry / rooms "
             "| analyze speed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method, ti, louder, speed in rows:
        dry, room = ti.get(report.MIXED), ti.get(report.ROOM)
        calm, room_calm, ami = ti.get(report.CALM), ti.get(report.ROOM_CALM), ti.get("ami")
        lat = " / ".join("-" if t is None or t.latency(50) is None else f"{t.latency(50):.2f} s" for t in (dry, room))
        lines.append(
            f"| {method} | {_pr(dry)} | {_pr(room)} | {'-' if calm is None else f'{calm.false_per_hour:.1f}'} "
            f"| {'-' if room_calm is None else f'{room_calm.false_per_hour:.1f}'} | {lat} "
            f"| {louder.recall:.2f} ({louder.found} of {louder.n_truth}) "
            f"| {'-' if ami is None else f'{ami.precision:.2f} / {ami.recall:.2f}'} | {_call(ti)} | {speed:.0f}x |")
    return "\n".join(lines)
