"""Scenario recipes for the dev set: each builds one deterministic two-person talk with ground truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from . import corpus
from .mixing import Partner, Talk, TurnSpec, add_bed, add_events

BASE_LEVEL_DB = -34.0  # calm speech level of an average partner, dBFS (speech-active RMS)
RAISED_DB = (8.0, 14.0)
ANGRY_RESTORE_DB = (8.0, 12.0)  # EmoDB angry takes: speech RMS above the same actor's neutral takes
SNR_DB = (10.0, 20.0)


def plan(rng: np.random.Generator, seconds: float, first: str, *, p_interrupt: float = 0.0, p_bc: float = 0.35,
         raised: dict[str, tuple[int, float]] | None = None, escalation: int | None = None,
         voice: dict[str, str] | None = None, lead_in: bool = False,
         min_turns: int = 0) -> tuple[list[TurnSpec], str]:
    """Alternating turns for about ``seconds`` (and at least ``min_turns`` each); returns specs and who is next.

    ``raised`` maps a partner to (stretch id, gain dB): all their turns in this stretch are raised.
    """
    specs: list[TurnSpec] = []
    who, t = first, 0.0
    raised = raised or {}
    voice = voice or {}
    while t < seconds or len(specs) < 2 * min_turns:
        interrupts = bool(specs) and rng.random() < p_interrupt and not (lead_in and not specs)
        dur = float(rng.uniform(2.0, 6.5))
        if specs and interrupts:  # an interrupted turn must be long enough to be 30-80 % through
            specs[-1] = replace(specs[-1], dur_s=max(specs[-1].dur_s, float(rng.uniform(4.5, 8.0))),
                                backchannel=False)
        stretch, gain = raised.get(who, (None, 0.0))
        specs.append(TurnSpec(who, dur, gain_db=gain, interrupts=interrupts, backchannel=rng.random() < p_bc,
                              stretch=stretch, escalation=escalation, voice=voice.get(who, "calm")))
        t += dur + 0.6
        who = "B" if who == "A" else "A"
    return specs, who


def pick_pair(rng: np.random.Generator, root: Path) -> tuple[corpus.Voice, corpus.Voice]:
    """Two voices of different sex from the same corpus group (same recording conditions, mostly LibriSpeech)."""
    groups = corpus.voices(root)
    names = ["librispeech", "sisec", "arctic", "two_speakers"]
    group = groups[names[rng.choice(4, p=[0.7, 0.16, 0.07, 0.07])]]
    f = [v for v in group if v.sex == "F"]
    m = [v for v in group if v.sex == "M"]
    if not f or not m:
        group = groups["librispeech"]
        f, m = [v for v in group if v.sex == "F"], [v for v in group if v.sex == "M"]
    pair = [f[rng.integers(len(f))], m[rng.integers(len(m))]]
    if rng.random() < 0.5:
        pair.reverse()
    return pair[0], pair[1]


def partners(rng: np.random.Generator, root: Path, spread_db: float = 2.0,
             loud_db: float = 0.0) -> dict[str, Partner]:
    """Partner A and B with natural levels around the base level; ``loud_db`` makes A that much louder than B."""
    a, b = pick_pair(rng, root)
    la = BASE_LEVEL_DB + rng.uniform(-spread_db, spread_db)
    lb = BASE_LEVEL_DB + rng.uniform(-spread_db, spread_db)
    if loud_db:
        la, lb = BASE_LEVEL_DB + loud_db / 2, BASE_LEVEL_DB - loud_db / 2
    return {"A": Partner(a, float(la)), "B": Partner(b, float(lb))}


def _talk(rng: np.random.Generator, root: Path, parts: dict[str, Partner]) -> Talk:
    return Talk(rng, parts, corpus.backchannel_words(root))


def _raised_stretches(rng: np.random.Generator, first: str, n: int) -> list[tuple[str, float]]:
    out, who = [], first
    for _ in range(n):
        out.append((who, float(rng.uniform(*RAISED_DB))))
        who = "B" if who == "A" else "A" if rng.random() < 0.7 else who
    return out


def _conversation(rng: np.random.Generator, talk: Talk, *, p_interrupt: float, stretches: int,
                  lead_s: float = 35.0, body_s: float = 55.0) -> None:
    """Calm lead-in, then a body with interruptions and raised stretches separated by calm."""
    specs, who = plan(rng, lead_s, "A", p_bc=0.4, lead_in=True)
    if stretches == 0:
        more, who = plan(rng, body_s, who, p_interrupt=p_interrupt, p_bc=0.35)
        specs += more
    for k, (raiser, gain) in enumerate(_raised_stretches(rng, who, stretches)):
        more, who = plan(rng, float(rng.uniform(20, 30)), who, p_interrupt=p_interrupt, p_bc=0.2,
                         raised={raiser: (k, gain)}, min_turns=3)
        specs += more
        more, who = plan(rng, float(rng.uniform(15, 25)), who, p_interrupt=p_interrupt, p_bc=0.35)
        specs += more
    talk.play(specs)


def calm(rng, root, minutes=1.5):
    """Calm turn-taking with natural gaps and backchannels."""
    talk = _talk(rng, root, partners(rng, root))
    talk.play(plan(rng, minutes * 60, "A", p_bc=0.45)[0])
    return talk, {}


def interrupt(rng, root):
    """Turn-taking where about a third of the turns start by interrupting."""
    talk = _talk(rng, root, partners(rng, root))
    _conversation(rng, talk, p_interrupt=0.35, stretches=0, lead_s=20.0, body_s=70.0)
    return talk, {}


def raised(rng, root):
    """Calm lead-in, then one or two raised stretches (+8..+14 dB, one partner over several turns)."""
    talk = _talk(rng, root, partners(rng, root))
    _conversation(rng, talk, p_interrupt=0.0, stretches=int(rng.integers(1, 3)))
    return talk, {}


def emodb(rng, root):
    """EmoDB actors: neutral takes for calm turns, angry takes (level restored +8..+12 dB) for a raised stretch."""
    actors = corpus.emodb(root)
    f = [a for a in actors.values() if a.neutral.sex == "F"]
    m = [a for a in actors.values() if a.neutral.sex == "M"]
    pair = [f[rng.integers(len(f))], m[rng.integers(len(m))]]
    if rng.random() < 0.5:
        pair.reverse()
    restore = [float(rng.uniform(*ANGRY_RESTORE_DB)) for _ in pair]
    parts = {k: Partner(a.neutral, BASE_LEVEL_DB + float(rng.uniform(-2, 2)), a.angry, r)
             for k, a, r in zip("AB", pair, restore)}
    talk = _talk(rng, root, parts)
    raiser = "A" if rng.random() < 0.5 else "B"
    specs, who = plan(rng, 30.0, "A", p_bc=0.3, lead_in=True)
    more, who = plan(rng, float(rng.uniform(16, 24)), who, p_bc=0.1, raised={raiser: (0, 0.0)},
                     voice={raiser: "angry"}, min_turns=3)
    specs += more
    specs += plan(rng, 15.0, who, p_bc=0.3)[0]
    talk.play(specs)
    return talk, {"angry_restore_db": {k: round(r, 2) for k, r in zip("AB", restore)}}


def loud_partner(rng, root):
    """Partners of very different natural loudness (6-10 dB): calm talk, no raised voice at all."""
    loud = float(rng.uniform(6.0, 10.0))
    parts = partners(rng, root, loud_db=loud)
    if rng.random() < 0.5:  # the loud partner is not always the one who starts
        parts = {"A": parts["B"], "B": parts["A"]}
    talk = _talk(rng, root, parts)
    talk.play(plan(rng, 90.0, "A", p_interrupt=0.08, p_bc=0.4)[0])
    return talk, {"loud_partner_db": round(loud, 2)}


def levels(rng, root, gain_db: float = 0.0):
    """A whole talk (interruptions, one raised stretch) played at a different overall level."""
    talk = _talk(rng, root, partners(rng, root))
    _conversation(rng, talk, p_interrupt=0.25, stretches=1)
    return talk, {"gain_db": gain_db}


def noise(rng, root):
    """Interruptions and a raised stretch over household noise or music at 10-20 dB SNR, plus transient sounds."""
    talk = _talk(rng, root, partners(rng, root))
    _conversation(rng, talk, p_interrupt=0.25, stretches=1)
    return talk, {"bed": True, "transients_every_s": 30.0}


def escalation(rng, root, kind: str = "both"):
    """Calm minute, then an escalation window (sustained raised voice and/or repeated interruptions), then calm."""
    talk = _talk(rng, root, partners(rng, root))
    specs, who = plan(rng, 60.0, "A", p_bc=0.4, lead_in=True)
    gains = {"A": (0, float(rng.uniform(*RAISED_DB)))} if kind != "interruptions" else {}
    if kind != "interruptions" and rng.random() < 0.5:
        gains["B"] = (1, float(rng.uniform(*RAISED_DB)))
    p_int = {"raised": 0.0, "interruptions": 0.7, "both": 0.5}[kind]
    more, who = plan(rng, float(rng.uniform(50, 70)), who, p_interrupt=p_int, p_bc=0.0, raised=gains, escalation=0)
    specs += more
    specs += plan(rng, 25.0, who, p_bc=0.4)[0]
    talk.play(specs)
    return talk, {"escalation_kind": kind, "bed": rng.random() < 0.5}


def calm_long(rng, root):
    """Five minutes of calm talk over household noise or music (10-20 dB SNR) with transient sounds."""
    talk = _talk(rng, root, partners(rng, root, spread_db=3.0))
    talk.play(plan(rng, 300.0, "A", p_bc=0.4)[0])
    return talk, {"bed": True, "transients_every_s": 40.0, "gain_db": float(rng.uniform(-6.0, 3.0))}


Recipe = Callable[..., tuple[Talk, dict[str, Any]]]


def finish(rng: np.random.Generator, root: Path, talk: Talk, extra: dict[str, Any]) -> tuple[NDArray[np.float32], dict]:
    """Render the talk, add background and transient sounds, apply the overall gain; returns (audio, info)."""
    mix = talk.render()
    info: dict[str, Any] = {}
    speech_db = talk.speech_level_db()
    sounds = corpus.noises(root)
    if extra.pop("bed", False):
        name, bed = sounds["beds"][rng.integers(len(sounds["beds"]))]
        snr = float(rng.uniform(*SNR_DB))
        mix = add_bed(mix, bed, snr, speech_db, rng)
        info["bed"] = {"sound": name, "snr_db": round(snr, 2)}
    every = extra.pop("transients_every_s", None)
    if every:
        info["transients"] = add_events(mix, sounds["events"], every, (-8.0, 2.0), speech_db, rng)
    gain = extra.pop("gain_db", 0.0)
    if gain:
        mix *= 10 ** (gain / 20)
    info["gain_db"] = round(gain, 2)
    info["clipped_fraction"] = round(float(np.mean(np.abs(mix) >= 1.0)), 6)
    info.update(extra)
    return mix, info
