"""Scenario recipes for the dev set: each builds one deterministic two-person talk with ground truth.

Every recipe takes a :class:`Ctx`: the corpus, the split its voices and noises come from (tune or eval), and
whether the talk is heard through a simulated room (each partner at their own distance, ``rooms``) or dry.

A raised voice is a voice that changes, not a level that rises: every raised stretch is an EmoDB actor's angry
takes, their level restored 8-12 dB above the same actor's neutral takes (the corpus copy is peak-normalised).
A partner who only gets louder with the same voice is leaning in (``lean_in``) and is calm talk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from . import corpus, rooms
from .mixing import Partner, Talk, TurnSpec, add_bed, add_events
from .splits import Split

BASE_LEVEL_DB = -34.0  # calm speech level of an average partner, dBFS (speech-active RMS; at 1 m in a room)
LEAN_DB = (6.0, 10.0)   # leaning in (or a level-only rise in a dry talk): same voice, this much louder
ANGRY_RESTORE_DB = (8.0, 12.0)  # EmoDB angry takes: speech RMS above the same actor's neutral takes
QUIET_RAISE_DB = 9.0    # the quiet partner's angry takes: this far over their own calm (about the loud one's calm)
SNR_DB = (10.0, 20.0)
ROOM_APART_DB = (10.0, 15.0)   # loud_partner in a room: the partners this far apart at the microphone
QUICK_SHARE = 0.5       # quick_turns: this share of the turn changes is quick (mixing.QUICK_GAP_S)
TV_SHARE = 0.5          # in a room, a bed is a TV or radio with speech in it this often
BED_DISTANCE_M = (1.5, 4.0)
TV_VOICES = 4
LEAN_TRIES = 4
LEGACY_GROUPS = ("librispeech", "sisec", "arctic", "two_speakers")


@dataclass(frozen=True)
class Ctx:
    """Where a recipe takes its material from and how the talk is heard."""

    root: Path
    split: Split | None = None     # None: every voice and noise (legacy callers such as scripts/bench)
    in_room: bool = False


def plan(rng: np.random.Generator, seconds: float, first: str, *, p_interrupt: float = 0.0, p_bc: float = 0.35,
         raised: dict[str, tuple[int, float]] | None = None, escalation: int | None = None,
         voice: dict[str, str] | None = None, lead_in: bool = False, min_turns: int = 0,
         lean: dict[str, tuple[int, float]] | None = None) -> tuple[list[TurnSpec], str]:
    """Alternating turns for about ``seconds`` (and at least ``min_turns`` each); returns specs and who is next.

    ``raised`` maps a partner to (stretch id, gain dB): all their turns in this stretch are raised (``voice`` says
    with which takes). ``lean`` maps a partner to (lean id, gain dB): their turns are spoken from nearer the mic
    (in a room the position "near"; dry, the gain).
    """
    specs: list[TurnSpec] = []
    who, t = first, 0.0
    raised, voice, lean = raised or {}, voice or {}, lean or {}
    while t < seconds or len(specs) < 2 * min_turns:
        interrupts = bool(specs) and rng.random() < p_interrupt and not (lead_in and not specs)
        dur = float(rng.uniform(2.0, 6.5))
        if specs and interrupts:  # an interrupted turn must be long enough to be 30-80 % through
            specs[-1] = replace(specs[-1], dur_s=max(specs[-1].dur_s, float(rng.uniform(4.5, 8.0))),
                                backchannel=False)
        stretch, gain = raised.get(who, (None, 0.0))
        lean_id, lean_gain = lean.get(who, (None, 0.0))
        specs.append(TurnSpec(who, dur, gain_db=gain + lean_gain, interrupts=interrupts,
                              backchannel=rng.random() < p_bc, stretch=stretch, escalation=escalation,
                              voice=voice.get(who, "calm"), position="near" if lean_id is not None else "",
                              lean=lean_id))
        t += dur + 0.6
        who = "B" if who == "A" else "A"
    return specs, who


def _pool(ctx: Ctx) -> dict[str, list[corpus.Voice]]:
    if ctx.split is None:
        groups = corpus.voices(ctx.root)
        return {g: groups[g] for g in LEGACY_GROUPS}
    return {g: vs for g, vs in corpus.voices_in(ctx.root, ctx.split).items() if vs}


def pick_voice(rng: np.random.Generator, ctx: Ctx, sex: str) -> corpus.Voice:
    """One voice of the given sex from the split (any corpus group)."""
    every = [v for vs in _pool(ctx).values() for v in vs if v.sex == sex]
    return every[int(rng.integers(len(every)))]


def pick_pair(rng: np.random.Generator, root: Path | Ctx) -> tuple[corpus.Voice, corpus.Voice]:
    """Two voices of different sex, mostly from the same corpus group (same recording conditions)."""
    ctx = root if isinstance(root, Ctx) else Ctx(root)
    groups = _pool(ctx)
    if ctx.split is None:
        names = list(LEGACY_GROUPS)
        group = groups[names[rng.choice(4, p=[0.7, 0.16, 0.07, 0.07])]]
    else:
        both = [g for g, vs in groups.items() if {v.sex for v in vs} == {"F", "M"}]
        group = groups[both[int(rng.integers(len(both)))]] if both and rng.random() < 0.6 else \
            [v for vs in groups.values() for v in vs]
    f = [v for v in group if v.sex == "F"]
    m = [v for v in group if v.sex == "M"]
    if not f or not m:
        group = groups.get("librispeech") or [v for vs in groups.values() for v in vs]
        f, m = [v for v in group if v.sex == "F"], [v for v in group if v.sex == "M"]
    pair = [f[rng.integers(len(f))], m[rng.integers(len(m))]]
    if rng.random() < 0.5:
        pair.reverse()
    return pair[0], pair[1]


def partners(rng: np.random.Generator, root: Path | Ctx, spread_db: float = 2.0,
             loud_db: float = 0.0) -> dict[str, Partner]:
    """Partner A and B with natural levels around the base level; ``loud_db`` makes A that much louder than B."""
    a, b = pick_pair(rng, root)
    la = BASE_LEVEL_DB + rng.uniform(-spread_db, spread_db)
    lb = BASE_LEVEL_DB + rng.uniform(-spread_db, spread_db)
    if loud_db:
        la, lb = BASE_LEVEL_DB + loud_db / 2, BASE_LEVEL_DB - loud_db / 2
    return {"A": Partner(a, float(la)), "B": Partner(b, float(lb))}


def _actors(rng: np.random.Generator, ctx: Ctx) -> list[corpus.EmoActor]:
    """EmoDB actors of the split, a female and a male one in random order."""
    actors = corpus.emodb(ctx.root) if ctx.split is None else corpus.emodb_in(ctx.root, ctx.split)
    f = [a for a in actors.values() if a.neutral.sex == "F"]
    m = [a for a in actors.values() if a.neutral.sex == "M"]
    pair = [f[rng.integers(len(f))], m[rng.integers(len(m))]]
    if rng.random() < 0.5:
        pair.reverse()
    return pair


def _angry_partner(rng: np.random.Generator, actor: corpus.EmoActor, level_db: float,
                   restore_db: float | None = None) -> Partner:
    restore = float(rng.uniform(*ANGRY_RESTORE_DB)) if restore_db is None else restore_db
    return Partner(actor.neutral, level_db, actor.angry, restore)


def raiser_partners(rng: np.random.Generator, ctx: Ctx, both: bool = False,
                    spread_db: float = 2.0) -> tuple[dict[str, Partner], list[str]]:
    """Partners where one (or ``both``) can really raise their voice: EmoDB actors with neutral and angry takes.

    The other partner of a one-raiser talk is any voice of the other sex. Returns partners and who can raise.
    """
    actors = _actors(rng, ctx)
    level = lambda: BASE_LEVEL_DB + float(rng.uniform(-spread_db, spread_db))  # noqa: E731
    if both:
        return {"A": _angry_partner(rng, actors[0], level()), "B": _angry_partner(rng, actors[1], level())}, ["A", "B"]
    actor = actors[0]
    other = pick_voice(rng, ctx, "M" if actor.neutral.sex == "F" else "F")
    raiser = "A" if rng.random() < 0.5 else "B"
    parts = {raiser: _angry_partner(rng, actor, level()), ("B" if raiser == "A" else "A"): Partner(other, level())}
    return parts, [raiser]


def _talk(rng: np.random.Generator, ctx: Ctx, parts: dict[str, Partner]) -> Talk:
    return Talk(rng, parts, corpus.backchannel_words(ctx.root, ctx.split))


def _conversation(rng: np.random.Generator, talk: Talk, raisers: list[str], *, p_interrupt: float, stretches: int,
                  lead_s: float = 35.0, body_s: float = 55.0) -> None:
    """Calm lead-in, then a body with interruptions and raised (angry) stretches separated by calm."""
    specs, who = plan(rng, lead_s, "A", p_bc=0.4, lead_in=True)
    if stretches == 0:
        more, who = plan(rng, body_s, who, p_interrupt=p_interrupt, p_bc=0.35)
        specs += more
    for k in range(stretches):
        raiser = raisers[k % len(raisers)]
        more, who = plan(rng, float(rng.uniform(20, 30)), who, p_interrupt=p_interrupt, p_bc=0.2,
                         raised={raiser: (k, 0.0)}, voice={raiser: "angry"}, min_turns=3)
        specs += more
        more, who = plan(rng, float(rng.uniform(15, 25)), who, p_interrupt=p_interrupt, p_bc=0.35)
        specs += more
    talk.play(specs)


def calm(rng, ctx, minutes=1.5):
    """Calm turn-taking with natural gaps and backchannels."""
    talk = _talk(rng, ctx, partners(rng, ctx))
    talk.play(plan(rng, minutes * 60, "A", p_bc=0.45)[0])
    return talk, {}


def quick_turns(rng, ctx):
    """Calm turn-taking where half the turn changes are quick: the next voice starts within 0.12 s of the last one
    stopping, as real talk often does (the other families never leave less than 0.15 s). In a room the last voice's
    reverberation runs on under the next one's first words: not a second voice."""
    talk = _talk(rng, ctx, partners(rng, ctx))
    talk.quick_share = QUICK_SHARE
    talk.play(plan(rng, 90.0, "A", p_bc=0.4)[0])
    return talk, {}


def interrupt(rng, ctx):
    """Turn-taking where about a third of the turns start by interrupting."""
    talk = _talk(rng, ctx, partners(rng, ctx))
    _conversation(rng, talk, [], p_interrupt=0.35, stretches=0, lead_s=20.0, body_s=70.0)
    return talk, {}


def raised(rng, ctx):
    """Calm lead-in, then one or two raised stretches: a real raised voice (EmoDB angry takes, level restored)."""
    parts, raisers = raiser_partners(rng, ctx)
    talk = _talk(rng, ctx, parts)
    _conversation(rng, talk, raisers, p_interrupt=0.0, stretches=int(rng.integers(1, 3)))
    return talk, _restored(parts)


def emodb(rng, ctx):
    """Both partners EmoDB actors: neutral takes for calm turns, angry takes (level restored) for a raised stretch."""
    parts, _ = raiser_partners(rng, ctx, both=True)
    talk = _talk(rng, ctx, parts)
    raiser = "A" if rng.random() < 0.5 else "B"
    specs, who = plan(rng, 30.0, "A", p_bc=0.3, lead_in=True)
    more, who = plan(rng, float(rng.uniform(16, 24)), who, p_bc=0.1, raised={raiser: (0, 0.0)},
                     voice={raiser: "angry"}, min_turns=3)
    specs += more
    specs += plan(rng, 15.0, who, p_bc=0.3)[0]
    talk.play(specs)
    return talk, _restored(parts)


def _restored(parts: dict[str, Partner]) -> dict[str, Any]:
    return {"angry_restore_db": {k: round(p.angry_db, 2) for k, p in parts.items() if p.angry is not None}}


def loud_partner(rng, ctx):
    """Partners of very different loudness (6-10 dB natural; in a room 10-15 dB at the mic): calm, no raised voice."""
    loud = float(rng.uniform(6.0, 10.0))
    parts = partners(rng, ctx, loud_db=loud)
    extra: dict[str, Any] = {"loud_partner_db": round(loud, 2)}
    if ctx.in_room:   # nearer, and naturally louder: 10-15 dB apart where it counts, at the microphone
        room, gains = _room(rng, ctx, {"A": float(rng.uniform(0.5, 1.5)), "B": float(rng.uniform(2.0, 3.5))})
        apart = float(rng.uniform(*ROOM_APART_DB))
        natural = float(np.clip(apart - (gains["A"] - gains["B"]), 0.0, 12.0))
        parts["A"].level_db, parts["B"].level_db = BASE_LEVEL_DB + natural / 2, BASE_LEVEL_DB - natural / 2
        extra = {"loud_partner_db": round(natural, 2), "apart_at_mic_db": round(natural + gains["A"] - gains["B"], 2),
                 "room": room}
    if rng.random() < 0.5:  # the loud partner is not always the one who starts
        parts = {"A": parts["B"], "B": parts["A"]}
        if "room" in extra:
            extra["room"] = _swap_sources(extra["room"])
    talk = _talk(rng, ctx, parts)
    talk.play(plan(rng, 90.0, "A", p_interrupt=0.08, p_bc=0.4)[0])
    return talk, extra


def quiet_raise(rng, ctx):
    """A quiet partner (8-10 dB under the loud one) really raises their voice, about up to the loud one's calm level."""
    actor = _actors(rng, ctx)[0]
    loud_voice = pick_voice(rng, ctx, "M" if actor.neutral.sex == "F" else "F")
    apart = float(rng.uniform(8.0, 10.0))
    quiet = _angry_partner(rng, actor, BASE_LEVEL_DB - apart / 2, QUIET_RAISE_DB)
    parts = {"A": Partner(loud_voice, BASE_LEVEL_DB + apart / 2), "B": quiet}
    extra: dict[str, Any] = {"apart_db": round(apart, 2), "angry_restore_db": {"B": QUIET_RAISE_DB}}
    if ctx.in_room:
        room, gains = _room(rng, ctx)
        natural = apart - (gains["A"] - gains["B"])   # the same gap at the microphone
        parts["A"].level_db, parts["B"].level_db = BASE_LEVEL_DB + natural / 2, BASE_LEVEL_DB - natural / 2
        extra["room"] = room
    talk = _talk(rng, ctx, parts)
    specs, who = plan(rng, 40.0, "A", p_bc=0.35, lead_in=True)
    more, who = plan(rng, float(rng.uniform(16, 24)), who, p_bc=0.1, raised={"B": (0, 0.0)},
                     voice={"B": "angry"}, min_turns=3)
    specs += more + plan(rng, 20.0, who, p_bc=0.35)[0]
    talk.play(specs)
    return talk, extra


def levels(rng, ctx, gain_db: float = 0.0):
    """A whole talk (interruptions, one raised stretch) played at a different overall level."""
    parts, raisers = raiser_partners(rng, ctx)
    talk = _talk(rng, ctx, parts)
    _conversation(rng, talk, raisers, p_interrupt=0.25, stretches=1)
    return talk, {"gain_db": gain_db, **_restored(parts)}


def noise(rng, ctx):
    """Interruptions and a raised stretch over household noise, music or a TV at 10-20 dB SNR, plus transients."""
    parts, raisers = raiser_partners(rng, ctx)
    talk = _talk(rng, ctx, parts)
    _conversation(rng, talk, raisers, p_interrupt=0.25, stretches=1)
    return talk, {"bed": True, "transients_every_s": 30.0, **_restored(parts)}


def escalation(rng, ctx, kind: str = "both"):
    """Calm minute, then an escalation window (sustained raised voice and/or repeated interruptions), then calm."""
    both = kind != "interruptions" and rng.random() < 0.5
    parts, raisers = raiser_partners(rng, ctx, both=both)
    talk = _talk(rng, ctx, parts)
    specs, who = plan(rng, 60.0, "A", p_bc=0.4, lead_in=True)
    gains = {r: (k, 0.0) for k, r in enumerate(raisers)} if kind != "interruptions" else {}
    p_int = {"raised": 0.0, "interruptions": 0.7, "both": 0.5}[kind]
    more, who = plan(rng, float(rng.uniform(50, 70)), who, p_interrupt=p_int, p_bc=0.0, raised=gains, escalation=0,
                     voice={r: "angry" for r in gains})
    specs += more
    specs += plan(rng, 25.0, who, p_bc=0.4)[0]
    talk.play(specs)
    return talk, {"escalation_kind": kind, "bed": rng.random() < 0.5, **_restored(parts)}


def calm_long(rng, ctx):
    """Five minutes of calm talk over household noise, music or a TV (10-20 dB SNR) with transient sounds."""
    talk = _talk(rng, ctx, partners(rng, ctx, spread_db=3.0))
    talk.play(plan(rng, 300.0, "A", p_bc=0.4)[0])
    return talk, {"bed": True, "transients_every_s": 40.0, "gain_db": float(rng.uniform(-6.0, 3.0))}


def lean_in(rng, ctx):
    """Three minutes of calm talk where a partner leans in for about a minute: +6-10 dB, the same voice.

    In a room the partner really moves (from 2-3.5 m to where the level at the mic is 6-10 dB higher); dry, the
    level rises by as much. Either way nobody raises their voice: any raised-voice event here is false.
    """
    parts = partners(rng, ctx)
    lean = {who: float(rng.uniform(*LEAN_DB)) for who in ("A", "B")}
    extra: dict[str, Any] = {}
    if ctx.in_room:
        far = {w: float(rng.uniform(2.0, 3.5)) for w in ("A", "B")}
        room, gains = _room(rng, ctx, far)
        for who in ("A", "B"):
            room, lean[who] = _lean_position(rng, room, who, lean[who])
        extra["room"] = room
        gain = {w: 0.0 for w in ("A", "B")}   # the room makes the change of level: no gain on top
    else:
        gain = lean
    extra["lean_db"] = {w: round(v, 2) for w, v in lean.items()}
    talk = _talk(rng, ctx, parts)
    first = "A" if rng.random() < 0.5 else "B"
    specs, who = plan(rng, float(rng.uniform(35, 50)), "A", p_bc=0.4, lead_in=True)
    for k, leaner in enumerate((first, "B" if first == "A" else "A")):
        more, who = plan(rng, float(rng.uniform(45, 70)), who, p_bc=0.35, lean={leaner: (k, gain[leaner])},
                         min_turns=3)
        specs += more
        more, who = plan(rng, float(rng.uniform(15, 25)), who, p_bc=0.4)
        specs += more
    talk.play(specs)
    return talk, extra


def _room(rng: np.random.Generator, ctx: Ctx, distances: dict[str, float] | None = None):
    """A drawn, calibrated room and each partner's gain at the microphone (dB)."""
    room, rirs = rooms.impulse_responses(rooms.draw_room(rng, distances))
    return room, {k: rooms.gain_db(h) for k, h in rirs.items()}


def _lean_position(rng: np.random.Generator, room, who: str, want_db: float):
    """Add ``who``-near where the level at the mic is about ``want_db`` above their seat; returns (room, dB)."""
    base, rirs = rooms.impulse_responses(room)
    far = rirs[who]
    seat = base.source(who).distance_m
    e_far = float(np.sum(np.square(far, dtype=np.float64)))
    reverb = max(e_far - 1.0 / seat ** 2, 0.0)   # energy beyond the direct path, about the same anywhere
    ask = want_db
    best: tuple[float, Any, float] | None = None
    for _ in range(LEAN_TRIES):   # the direct-plus-diffuse guess is a few dB off: correct it by what was heard
        near = 1.0 / math.sqrt(max(e_far * 10 ** (ask / 10) - reverb, 1e-9))
        trial = base.with_source(f"{who}-near", float(np.clip(near, 0.3, seat - 0.3)), rng)
        trial, rirs = rooms.impulse_responses(trial)
        got = rooms.gain_db(rirs[f"{who}-near"]) - rooms.gain_db(far)
        if best is None or abs(got - want_db) < abs(best[0] - want_db):
            best = (got, trial, ask)
        if abs(got - want_db) < 0.75:
            break
        ask += want_db - got
    assert best is not None
    return best[1], best[0]


def _swap_sources(room):
    """The same room with partners A and B trading places."""
    names = {"A": "B", "B": "A"}
    return replace(room, sources=tuple(replace(s, name=names.get(s.name, s.name)) for s in room.sources))


Recipe = Callable[..., tuple[Talk, dict[str, Any]]]


def finish(rng: np.random.Generator, root: Path | Ctx, talk: Talk, extra: dict[str, Any]
           ) -> tuple[NDArray[np.float32], dict]:
    """Render the talk (through a room when the context says so), add beds and transients, apply the overall gain."""
    ctx = root if isinstance(root, Ctx) else Ctx(root)
    info: dict[str, Any] = {}
    room = extra.pop("room", None)
    if ctx.in_room and room is None:
        room, _ = _room(rng, ctx)
    sounds = corpus.noises(ctx.root, ctx.split)
    bed_kind = None
    if extra.pop("bed", False):
        bed_kind = "tv" if ctx.in_room and ctx.split is not None and rng.random() < TV_SHARE else "noise"
    if room is not None:
        if bed_kind or extra.get("transients_every_s"):
            room = room.with_source("bed", float(rng.uniform(*BED_DISTANCE_M)), rng)
        room, rirs = rooms.impulse_responses(room)
        mix = talk.render(room=room)
        at_mic = {k: p.level_db + rooms.gain_db(rirs[k]) for k, p in talk.partners.items()}
        speech_db = float(np.mean(list(at_mic.values())))
        info["room"] = room.describe()
        info["at_mic_db"] = {k: round(v, 2) for k, v in at_mic.items()}
    else:
        mix, rirs, speech_db = talk.render(), None, talk.speech_level_db()
    if bed_kind:
        name, bed = _bed(rng, ctx, talk, bed_kind, sounds, len(mix))
        if rirs is not None:
            bed = rooms.render(bed, rirs["bed"])
        snr = float(rng.uniform(*SNR_DB))
        mix = add_bed(mix, bed, snr, speech_db, rng)
        info["bed"] = {"sound": name, "snr_db": round(snr, 2), "kind": bed_kind}
    every = extra.pop("transients_every_s", None)
    if every:
        events = np.zeros_like(mix)
        # in a room the sounds are made where the bed is and heard through it: placed at the level they will have
        shift = rooms.gain_db(rirs["bed"]) if rirs is not None else 0.0
        info["transients"] = add_events(events, sounds["events"], every, (-8.0, 2.0), speech_db - shift, rng)
        mix += rooms.render(events, rirs["bed"]) if rirs is not None else events
    gain = extra.pop("gain_db", 0.0)
    if gain:
        mix *= 10 ** (gain / 20)
    info["gain_db"] = round(gain, 2)
    info["clipped_fraction"] = round(float(np.mean(np.abs(mix) >= 1.0)), 6)
    info.update(extra)
    return mix, info


def _bed(rng: np.random.Generator, ctx: Ctx, talk: Talk, kind: str, sounds: dict, n: int
         ) -> tuple[str, NDArray[np.float32]]:
    """A background: a corpus bed, or a TV made of voices of the split that are not the partners' (plus music)."""
    beds = sounds["beds"]
    if kind == "tv":
        from .beds import tv_bed

        taken = {p.calm.name for p in talk.partners.values()}
        voices = [v for vs in _pool(ctx).values() for v in vs if v.name not in taken]
        chosen = [voices[int(i)] for i in rng.choice(len(voices), size=min(TV_VOICES, len(voices)), replace=False)]
        music = [x for k, x in beds if k.startswith("music/")]
        tune = music[int(rng.integers(len(music)))] if music and rng.random() < 0.7 else None
        name = "tv: " + ", ".join(v.name for v in chosen) + (" + music" if tune is not None else "")
        return name, tv_bed(rng, n / corpus.RATE + 1.0, [v.tape for v in chosen], tune)[:n]
    name, bed = beds[int(rng.integers(len(beds)))]
    return name, bed
