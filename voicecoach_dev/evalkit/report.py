"""Targets from issue 3 and the Markdown tables printed by scripts/evaluate."""

from __future__ import annotations

from typing import Any

from .scoring import PAUSE_SLACK_S, Tally

MIXED, CALM = "mixed (all)", "calm talk (all)"


def _check(name: str, value: float | None, op: str, goal: float, note: str = "") -> dict[str, Any]:
    if value is None:
        ok = False
    else:
        ok = value >= goal if op == ">=" else value <= goal
    return {"target": name, "value": value, "goal": f"{op} {goal:g}", "pass": ok, "note": note}


def targets(t: dict[str, dict[str, Tally]]) -> list[dict[str, Any]]:
    """The issue's targets that the dev set can check, with PASS/FAIL (missing scenarios are left out)."""
    out = []
    i, r, p = t.get("interruption", {}), t.get("raised_voice", {}), t.get("pause_suggested", {})
    if i.get(MIXED) and i[MIXED].files:
        out.append(_check("interruptions: F1 on mixed talks", i[MIXED].f1, ">=", 0.85))
        out.append(_check("interruptions: median latency on mixed talks, s", i[MIXED].latency(50), "<=", 1.0))
    if "ami" in i:
        out.append(_check("interruptions: recall on real AMI (aim)", i["ami"].recall, ">=", 0.6))
        out.append(_check("interruptions: precision on real AMI (aim)", i["ami"].precision, ">=", 0.6))
    if r.get(MIXED) and r[MIXED].files:
        out.append(_check("raised voice: F1 on mixed talks", r[MIXED].f1, ">=", 0.85))
        out.append(_check("raised voice: median latency, s", r[MIXED].latency(50), "<=", 1.5))
    if "loud_partner" in r:
        out.append(_check("raised voice: events on a loud partner's calm talk", r["loud_partner"].n_det, "<=", 0))
    if p.get(MIXED) and p[MIXED].n_truth:
        out.append(_check("pause suggested: recall over escalations", p[MIXED].recall, ">=", 0.9))
    if "calm_long" in p:
        out.append(_check("pause suggested: false per hour, calm talk with noise", p["calm_long"].false_per_hour,
                          "<=", 1.0, f"{p['calm_long'].hours:.2f} h"))
    return out


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _order(rows: dict[str, Tally]) -> list[str]:
    tail = [k for k in (MIXED, CALM) if k in rows]
    ami = [k for k in rows if k.startswith("ami")]
    return [k for k in rows if k not in tail and k not in ami] + tail + ami


def detection_table(rows: dict[str, Tally], backchannels: bool) -> list[str]:
    """Precision/recall/F1/latency/false-alarm table, one row per scenario."""
    head = ("| scenario | files | hours | true | detected | correct | precision | recall | F1 | median latency s "
            "| p90 latency s | false/h | right partner |")
    lines = [head + (" false at backchannels |" if backchannels else ""),
             "|---" + "|---:" * (12 + backchannels) + "|"]
    for sc in _order(rows):
        t = rows[sc]
        name = f"**{sc}**" if sc in (MIXED, CALM) else sc
        line = (f"| {name} | {t.files} | {t.hours:.2f} | {t.n_truth} | {t.n_det} | {t.correct} | {t.precision:.2f} "
                f"| {t.recall:.2f} | {t.f1:.2f} | {_f(t.latency(50))} | {_f(t.latency(90))} "
                f"| {t.false_per_hour:.1f} | {_f(t.speaker_accuracy)} |")
        lines.append(line + (f" {t.at_backchannel} |" if backchannels else ""))
    return lines


def pause_table(rows: dict[str, Tally]) -> list[str]:
    """Escalation-window recall and false suggestions per hour, one row per scenario."""
    lines = ["| scenario | files | hours | escalation windows | caught | recall | median latency s | suggestions "
             "| false | false/h |", "|---" + "|---:" * 9 + "|"]
    for sc in _order(rows):
        t = rows[sc]
        name = f"**{sc}**" if sc in (MIXED, CALM) else sc
        rec = f"{t.recall:.2f}" if t.n_truth else "-"
        lines.append(f"| {name} | {t.files} | {t.hours:.2f} | {t.n_truth} | {t.found} | {rec} "
                     f"| {_f(t.latency(50))} | {t.n_det} | {t.false} | {t.false_per_hour:.1f} |")
    return lines


def markdown(t: dict[str, dict[str, Tally]], checks: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The whole report."""
    draw = meta.get("draw", 0)
    title = "the dev set" if not draw else f"fresh draw {draw} of the dev-set recipes (nothing was tuned on it)"
    out = [f"## voicecoach detection: evaluation on {title}", "",
           f"`{meta['command'].strip()}` at commit {meta['commit']}; config: {meta['config']}. "
           f"{meta['items']} recordings, {meta['audio_hours']:.2f} h of audio; dev set ready in {meta['build_s']} s, "
           f"analysis {meta['analyze_s']} s ({meta['x_real_time']}x real time per process).", "",
           "Mixed talks are built from real single-speaker recordings with exact ground truth; EmoDB angry takes are "
           "scaled so their speech RMS sits 8-12 dB above the same actor's neutral takes (the corpus copy is "
           "peak-normalised). AMI: a reference interruption is an overlap onset while another speaker has talked "
           ">= 1 s; the `ami (onsets >= 0.6 s)` row ignores onsets whose segment is shorter (backchannel-like); "
           "the `ami, settle_s = 0` row scores the same excerpts without waiting `detection.interruption.settle_s` "
           "after the second voice is found (the 30 s excerpts end about when that wait does).", "",
           "### Targets", "", "| target | value | goal | result |", "|---|---:|---:|---|"]
    for c in checks:
        v = c["value"]
        vs = "-" if v is None else (str(v) if isinstance(v, int) else f"{v:.2f}")
        note = f" ({c['note']})" if c["note"] else ""
        out.append(f"| {c['target']}{note} | {vs} | {c['goal']} | {'PASS' if c['pass'] else '**FAIL**'} |")
    out += ["", "`right partner`: share of matched detections naming the right partner (interrupter / raised voice), "
            "under each talk's better A/B label mapping (labels are arbitrary)."]
    if "interruption" in t:
        out += ["", "### Interruptions", "", "A detection matches a true onset r if `start` is in [r-0.5, r+1.0] s "
                "or `t` in [r, r+2.0] s (one-to-one); a detection at a backchannel is a false positive.", ""]
        out += detection_table(t["interruption"], backchannels=True)
    if "raised_voice" in t:
        out += ["", "### Raised voice", "", "A true segment is found if a detection has `t` in [start, end+0.5]; a "
                "detection is correct if its `t` is in [start, end+1.0] of a true segment.", ""]
        out += detection_table(t["raised_voice"], backchannels=False)
    if "pause_suggested" in t:
        out += ["", "### Pause suggestions", "", f"A window is caught by a suggestion with `t` in [start, end+"
                f"{PAUSE_SLACK_S:g}] s; other suggestions are false.", ""]
        out += pause_table(t["pause_suggested"])
    return "\n".join(out)
