"""Targets from issues 3 and 15 and the Markdown tables printed by scripts/evaluate (dry and rooms side by side)."""

from __future__ import annotations

from typing import Any

from .scoring import PAUSE_SLACK_S, Tally

MIXED, CALM = "dry (all)", "calm talk, dry (all)"
ROOM, ROOM_CALM, ROOM_CALM_NOISE = "rooms (all)", "calm talk in rooms (all)", "calm talk with noise in rooms"
AGGREGATES = (MIXED, CALM, ROOM, ROOM_CALM, ROOM_CALM_NOISE)
FAR = ">= 2.5 m"
CALL, CALL_ROOM = "call", "call@room"   # the real two-party call (realtalks.py): calm, nobody raises their voice
TURNS, TURNS_ROOM = "turns", "turns@room"   # four real voices taking back-to-back turns (realtalks.py)
REAL_TALKS = (CALL, CALL_ROOM, TURNS, TURNS_ROOM)


def _check(name: str, value: float | None, op: str, goal: float, note: str = "") -> dict[str, Any]:
    if value is None:
        ok = False
    else:
        ok = value >= goal if op == ">=" else value <= goal
    return {"target": name, "value": value, "goal": f"{op} {goal:g}", "pass": ok, "note": note}


def targets(t: dict[str, dict[str, Tally]], rooms: dict[str, dict[str, Tally]] | None = None
            ) -> list[dict[str, Any]]:
    """The issues' targets that the dev set can check, with PASS/FAIL (missing scenarios are left out)."""
    out = []
    i, r, p = t.get("interruption", {}), t.get("raised_voice", {}), t.get("pause_suggested", {})
    out += _room_targets(i, r, p, rooms or {})
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
    if "lean_in" in r:
        out.append(_check("raised voice: events when a partner leans in, dry (+6-10 dB, same voice)",
                          r["lean_in"].n_det, "<=", 0, f"{r['lean_in'].hours:.2f} h"))
    if "quick_turns@room" in i:
        q = i["quick_turns@room"]
        out.append(_check("rooms: false interruptions per hour, calm talk with quick turn changes", q.false_per_hour,
                          "<=", 3.0, f"{q.n_det - q.correct} in {q.hours:.2f} h"))
    if TURNS_ROOM in i:
        out.append(_check("rooms: false interruptions per hour at real back-to-back turn changes",
                          i[TURNS_ROOM].false_per_hour, "<=", 3.0, f"{i[TURNS_ROOM].n_det} in {i[TURNS_ROOM].hours:.2f} h"))
    for sc, what in ((CALL, "a real calm call, dry"), (CALL_ROOM, "a real calm call, in rooms"),
                     ("quick_turns", "calm talk with quick turn changes, dry"),
                     ("quick_turns@room", "calm talk with quick turn changes, in rooms")):
        if sc in r:
            out.append(_check(f"{what}: raised-voice events", r[sc].n_det, "<=", 0, f"{r[sc].hours:.2f} h"))
        if sc in p:
            out.append(_check(f"{what}: pause suggestions", p[sc].n_det, "<=", 0))
    if "quiet_raise" in r:
        out.append(_check("raised voice: recall, a quiet partner really raising their voice, dry (aim)",
                          r["quiet_raise"].recall, ">=", 0.9))
    if p.get(MIXED) and p[MIXED].n_truth:
        out.append(_check("pause suggested: recall over escalations", p[MIXED].recall, ">=", 0.9))
    if "calm_long" in p:
        out.append(_check("pause suggested: false per hour, calm talk with noise", p["calm_long"].false_per_hour,
                          "<=", 1.0, f"{p['calm_long'].hours:.2f} h"))
    return out


def louder_targets(dry: Tally, rooms: Tally) -> list[dict[str, Any]]:
    """Issue 16: recall over true interruptions whose interrupted partner is 8-14 dB louder at the microphone
    (``voicecoach_dev.methods.louder_holder``), dry and in rooms; a side with no such interruption is left out."""
    return [_check(f"interruptions: recall, a voice cutting in on a partner 8-14 dB louder at the mic, {side}",
                   t.recall, ">=", 0.8, f"{t.found} of {t.n_truth}")
            for side, t in (("dry", dry), ("rooms", rooms)) if t.n_truth]


def _room_targets(i: dict[str, Tally], r: dict[str, Tally], p: dict[str, Tally],
                  rooms: dict[str, dict[str, Tally]]) -> list[dict[str, Any]]:
    """Issue 15: talks heard through simulated living rooms."""
    out = []
    if r.get(ROOM) and r[ROOM].files:
        out.append(_check("rooms: raised voice F1", r[ROOM].f1, ">=", 0.95))
        far = rooms.get("raised_voice by distance", {}).get(FAR)
        if far and far.latencies:
            out.append(_check("rooms: raised voice median latency, partner >= 2.5 m away, s", far.latency(50),
                              "<=", 1.5, f"{far.found} of {far.n_truth} found"))
    if "lean_in@room" in r:
        out.append(_check("rooms: raised-voice events when a partner leans in", r["lean_in@room"].n_det, "<=", 0,
                          f"{r['lean_in@room'].hours:.2f} h"))
    if "lean_in@room" in p:
        out.append(_check("rooms: pause suggestions when a partner leans in", p["lean_in@room"].n_det, "<=", 0))
    if "loud_partner@room" in r:
        out.append(_check("rooms: raised-voice events, partners 10-15 dB apart at the mic, calm",
                          r["loud_partner@room"].n_det, "<=", 0))
    if "quiet_raise@room" in r:
        out.append(_check("rooms: raised voice recall, a quiet partner really raising their voice (aim)",
                          r["quiet_raise@room"].recall, ">=", 0.9))
    if p.get(ROOM) and p[ROOM].n_truth:
        out.append(_check("rooms: pause suggested, recall over escalations", p[ROOM].recall, ">=", 0.95))
        out.append(_check("rooms: pause suggested, median latency after the escalation starts, s",
                          p[ROOM].latency(50), "<=", 3.0))
    if p.get(ROOM_CALM_NOISE):
        out.append(_check("rooms: false pause suggestions per hour, calm talk with noise",
                          p[ROOM_CALM_NOISE].false_per_hour, "<=", 0.5, f"{p[ROOM_CALM_NOISE].hours:.2f} h"))
    if i.get(ROOM_CALM):
        out.append(_check("rooms: false interruptions per hour of calm talk", i[ROOM_CALM].false_per_hour, "<=", 3.0,
                          f"{i[ROOM_CALM].hours:.2f} h"))
    return out


def side_by_side(t: dict[str, dict[str, Tally]]) -> list[str]:
    """The headline figures, dry and in rooms, one column each."""
    i, r, p = t.get("interruption", {}), t.get("raised_voice", {}), t.get("pause_suggested", {})
    empty = Tally()

    def row(name: str, dry: str, room: str) -> str:
        return f"| {name} | {dry} | {room} |"

    def prf(x: Tally) -> str:
        return f"{x.f1:.2f} ({x.precision:.2f} / {x.recall:.2f})" if x.files else "-"

    lines = ["| measure | dry | rooms |", "|---|---:|---:|"]
    lines.append(row("interruptions F1 (P / R)", prf(i.get(MIXED, empty)), prf(i.get(ROOM, empty))))
    lines.append(row("interruptions median latency, s", _f(i.get(MIXED, empty).latency(50)),
                     _f(i.get(ROOM, empty).latency(50))))
    lines.append(row("false interruptions per hour of calm talk", _f(i.get(CALM, empty).false_per_hour, 1),
                     _f(i.get(ROOM_CALM, empty).false_per_hour, 1)))
    lines.append(row("raised voice F1 (P / R)", prf(r.get(MIXED, empty)), prf(r.get(ROOM, empty))))
    lines.append(row("raised voice median latency, s", _f(r.get(MIXED, empty).latency(50)),
                     _f(r.get(ROOM, empty).latency(50))))
    for fam, label in (("lean_in", "raised-voice events, leaning in (calm)"),
                       ("loud_partner", "raised-voice events, a loud partner (calm)")):
        lines.append(row(label, str(r[fam].n_det) if fam in r else "-",
                         str(r[fam + "@room"].n_det) if fam + "@room" in r else "-"))
    lines.append(row("raised voice recall, quiet partner rising", _f(r["quiet_raise"].recall) if "quiet_raise" in r
                     else "-", _f(r["quiet_raise@room"].recall) if "quiet_raise@room" in r else "-"))
    pr = lambda x: f"{x.found} of {x.n_truth}" if x.n_truth else "-"  # noqa: E731
    lines.append(row("pause suggestions: escalations caught", pr(p.get(MIXED, empty)), pr(p.get(ROOM, empty))))
    lines.append(row("pause suggestions: median latency, s", _f(p.get(MIXED, empty).latency(50)),
                     _f(p.get(ROOM, empty).latency(50))))
    lines.append(row("false pause suggestions per hour of calm talk", _f(p.get(CALM, empty).false_per_hour, 1),
                     _f(p.get(ROOM_CALM, empty).false_per_hour, 1)))
    lines.append(row("pause suggestions when leaning in", str(p["lean_in"].n_det) if "lean_in" in p else "-",
                     str(p["lean_in@room"].n_det) if "lean_in@room" in p else "-"))
    if "quick_turns" in i or "quick_turns@room" in i:
        lines.append(row("false interruptions per hour, calm talk with quick turn changes",
                         *(_f(i[k].false_per_hour, 1) if k in i else "-" for k in ("quick_turns", "quick_turns@room"))))
    if any(k in i for k in REAL_TALKS):
        lines += _real_rows(i, r, p, row)
    return lines


def _real_rows(i: dict[str, Tally], r: dict[str, Tally], p: dict[str, Tally], row: Any) -> list[str]:
    """The real talks' lines of the side-by-side table: as recorded (dry) and heard in rooms."""
    def each(rows: dict[str, Tally], cell: Any, dry: str = CALL, room: str = CALL_ROOM) -> tuple[str, str]:
        return tuple(cell(rows[k]) if k in rows else "-" for k in (dry, room))  # type: ignore[return-value]

    out = [row("a real call (calm, two parties): audio", *each(i, lambda t: f"{t.hours:.2f} h")),
           row("... interruptions found", *each(i, lambda t: f"{t.found} of {t.n_truth}")),
           row("... false interruptions per hour", *each(i, lambda t: f"{t.false_per_hour:.1f}")),
           row("... raised-voice events (all false)", *each(r, lambda t: str(t.n_det))),
           row("... pause suggestions (all false)", *each(p, lambda t: str(t.n_det)))]
    if TURNS in i or TURNS_ROOM in i:
        out.append(row("real back-to-back turns (4 voices): false interruptions (per hour)",
                       *each(i, lambda t: f"{t.n_det} ({t.false_per_hour:.1f})", TURNS, TURNS_ROOM)))
    return out


def breakdown_tables(rooms: dict[str, dict[str, Tally]]) -> list[str]:
    """Room talks per RT60 band (every task) and true events per distance of the partner behind them."""
    out: list[str] = []
    by_band = [k for k in ("interruption", "raised_voice", "pause_suggested") if k in rooms]
    if by_band:
        out += ["| RT60 band | files | hours | interruptions F1 (P / R) | false interruptions/h | raised F1 (P / R) "
                "| raised latency s | escalations caught | false pauses/h |", "|---" + "|---:" * 8 + "|"]
        bands = sorted({b for k in by_band for b in rooms[k]})
        for band in bands:
            i, r, p = (rooms.get(k, {}).get(band, Tally()) for k in ("interruption", "raised_voice", "pause_suggested"))
            out.append(f"| {band} | {i.files} | {i.hours:.2f} | {i.f1:.2f} ({i.precision:.2f} / {i.recall:.2f}) "
                       f"| {i.false_per_hour:.1f} | {r.f1:.2f} ({r.precision:.2f} / {r.recall:.2f}) "
                       f"| {_f(r.latency(50))} | {p.found} of {p.n_truth} | {p.false_per_hour:.1f} |")
    for task, label in (("raised_voice by distance", "raised voices"), ("interruption by distance", "interruptions")):
        if task not in rooms:
            continue
        out += ["", f"| distance of the partner ({label}) | true | found | recall | median latency s "
                "| p90 latency s |", "|---|---:|---:|---:|---:|---:|"]
        for band, t in sorted(rooms[task].items()):
            out.append(f"| {band} | {t.n_truth} | {t.found} | {t.recall:.2f} | {_f(t.latency(50))} "
                       f"| {_f(t.latency(90))} |")
    return out


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _order(rows: dict[str, Tally]) -> list[str]:
    tail = [k for k in AGGREGATES if k in rows]
    real = [k for k in rows if k.startswith("ami")] + [k for k in REAL_TALKS if k in rows]
    return [k for k in rows if k not in tail and k not in real] + tail + real


def detection_table(rows: dict[str, Tally], backchannels: bool) -> list[str]:
    """Precision/recall/F1/latency/false-alarm table, one row per scenario."""
    head = ("| scenario | files | hours | true | detected | correct | precision | recall | F1 | median latency s "
            "| p90 latency s | false/h | right partner |")
    lines = [head + (" false at backchannels |" if backchannels else ""),
             "|---" + "|---:" * (12 + backchannels) + "|"]
    for sc in _order(rows):
        t = rows[sc]
        name = f"**{sc}**" if sc in AGGREGATES else sc
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
        name = f"**{sc}**" if sc in AGGREGATES else sc
        rec = f"{t.recall:.2f}" if t.n_truth else "-"
        lines.append(f"| {name} | {t.files} | {t.hours:.2f} | {t.n_truth} | {t.found} | {rec} "
                     f"| {_f(t.latency(50))} | {t.n_det} | {t.false} | {t.false_per_hour:.1f} |")
    return lines


def markdown(t: dict[str, dict[str, Tally]], checks: list[dict[str, Any]], meta: dict[str, Any],
             rooms: dict[str, dict[str, Tally]] | None = None) -> str:
    """The whole report."""
    draw, split = meta.get("draw", 0), meta.get("split", "eval")
    if isinstance(draw, list):   # several draws pooled
        which, them = "draws " + ", ".join(map(str, draw[:-1])) + f" and {draw[-1]}", "them"
        pooled = ", pooled"
    else:
        which, them, pooled = f"draw {draw}", "it", ""
    title = {"eval": f"{which} of the held-out (eval) voices and noises{pooled}: nothing was tuned on {them}",
             "train": f"{which} of the training voices{pooled} (the overlap model was trained on them; settings may "
                      "be chosen on these)"}.get(split, f"{which} of the tuning voices and noises{pooled} (settings "
                                                 "may be chosen on these)")
    out = [f"## voicecoach detection: evaluation on {title}", "",
           f"`{meta['command'].strip()}` at commit {meta['commit']}; config: {meta['config']}. "
           f"{meta['items']} recordings, {meta['audio_hours']:.2f} h of audio; dev set ready in {meta['build_s']} s, "
           f"analysis {meta['analyze_s']} s ({meta['x_real_time']}x real time per process).", "",
           "Mixed talks are built from real single-speaker recordings with exact ground truth; EmoDB angry takes are "
           "scaled so their speech RMS sits 8-12 dB above the same actor's neutral takes (the corpus copy is "
           "peak-normalised). AMI: a reference interruption is an overlap onset while another speaker has talked "
           ">= 1 s; the `ami (onsets >= 0.6 s)` row ignores onsets whose segment is shorter (backchannel-like); "
           "the `ami, settle_s = 0` row scores the same excerpts without waiting `detection.interruption.settle_s` "
           "after the second voice is found (the 30 s excerpts end about when that wait does). `call` is a real "
           "two-party phone call (SpokenWOZ MUL1011, 3 min, telephone band, each party on a channel of their own), "
           "`call@room` its two channels each heard through a simulated room with a noise bed: calm, so every "
           "raised-voice event and pause suggestion on it is false; its overlap onsets shorter than 0.6 s are "
           "backchannels. `turns` is four real voices taking seven back-to-back turns (42 s, no overlap), `turns@room` each "
           "turn heard from its speaker's own place in a simulated room: every interruption on it is false. "
           "`quick_turns` is calm talk where half the turn changes leave under 0.12 s (the other families at least "
           "0.15 s), on rows of its own. "
           "Scenarios named "
           "`<family>@room` are the same recipes heard through a simulated living room (RT60 0.2-0.8 s, each partner "
           "0.5-3.5 m from a microphone on a table); `lean_in` is calm talk where a partner moves nearer "
           "(+6-10 dB, same voice); raised stretches are real raised voices (EmoDB angry takes), never a louder "
           "ordinary voice.", "", "### Dry and in rooms", ""] + side_by_side(t) + [
           "", "### Targets", "", "| target | value | goal | result |", "|---|---:|---:|---|"]
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
    if rooms:
        out += ["", "### In rooms, by reverberation and distance", "",
                "RT60 as measured on the simulated impulse responses; distance of the partner who raised their "
                "voice (or interrupted) from the microphone.", ""] + breakdown_tables(rooms)
    return "\n".join(out)
