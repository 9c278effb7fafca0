"""Material for the streaming two-voice model (issue 16): talks mixed from one split's voices, truth per 10 ms hop.

Each talk is planned with the dev-set builder's own pieces (``evalkit.scenarios.plan``, ``evalkit.mixing.Talk``:
turns, backchannels, interruptions whose holder really speaks around the onset) on two voices of ONE split
(``evalkit.splits``: TRAIN for training, TUNE for validation; EVAL is never read here), then heard dry or through
a simulated living room (``evalkit.rooms``: each partner at their own distance, 0.5-3.5 m, RT60 0.2-0.8 s), over
nothing, household noise, a TV or radio with speech in it (``evalkit.beds``), generated music or coloured noise
(builder version 1), or also babble, plucked music, hum, a dishwasher, traffic and two beds at once (version 2,
``synthsounds``), at 0-25 dB SNR, with the partners 0-15 dB apart and the whole talk at -45 to -18 dBFS. Both
versions are built by this code (``--builder``); the version is part of each talk's seed and of the folder name.

Training material is also licence-clean: the weights are shipped, so TRAIN voices and noises come only from sets
whose licence allows it (LibriSpeech, VCTK samples from MIT/CC BY repositories, Speech Commands, CMU ARCTIC,
the speechbrain samples; household noise; music and transient sounds are generated). Speakers are varied by
resampling their voice 0.88-1.12x (pitch and tempo together).

Truth per 10 ms hop ``k`` (the audio from ``k * 160`` to ``(k + 1) * 160`` samples):
- ``active``: each partner speaks (their own clips' activity, gaps under 0.2 s filled);
- ``count``: how many partners speak (0, 1, 2);
- ``cut_in``: 1 from 0.5 s to 2 s after an interruption's onset (a second voice began while the first held the
  floor and goes on), -1 (not scored) in the first 0.5 s after it, 0 elsewhere (backchannels, turn-taking and
  turn changes where the next partner starts 0.05-0.3 s before the last one ends included).

    .venv/bin/python -m voicecoach_dev.overlapdata --split train --talks 1000 --builder 2 --out out/h2-overlap/material
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from voicecoach.audio.frames import float_to_int16
from voicecoach.detect.stream_model import LogMel
from voicecoach_dev import synthsounds as synth
from voicecoach_dev.evalkit import beds, corpus, rooms, scenarios
from voicecoach_dev.evalkit.mixing import Partner, Talk
from voicecoach_dev.evalkit.splits import Split, split_of

BUILDER = 2                        # the newest version; version 1 (fewer background kinds) is still built
RATE, HOP = corpus.RATE, corpus.HOP
BASE_SEED = 16_2026
FILL_GAP_HOPS = 20                 # a partner's pauses under 0.2 s are still their turn
CUT_IN_HOPS = (50, 200)            # cut_in = 1 from 0.5 s to 2 s after the onset; before it, not scored
GRAB_S = (0.05, 0.3)               # an early turn change: the next partner starts this long before the end
SPEED = (0.88, 1.12)
APART_DB = 15.0                    # partners at most this far apart at the microphone (direct sound)
SNR_DB = (0.0, 25.0)
TV_S = 24.0                        # a TV programme this long, looped under the talk
TALK_LEVEL_DB = (-45.0, -18.0)     # the talk's speech level after everything, dBFS
ROOM_SHARE = 0.6
ROOM_BANK = 48                     # rooms per build, each with several seats (impulse responses are slow)
SEATS_M = (0.5, 0.8, 1.2, 1.8, 2.5, 3.3)
ROOM_CACHE = corpus.REPO / "out" / "h2-overlap" / "rooms"
# Groups whose licence lets weights trained on them ship (see the module docstring); the rest are never trained on.
TRAINABLE_GROUPS = ("librispeech", "libri_extra", "vctk", "two_speakers", "arctic")
NC_VCTK = {"vctk-p238", "vctk-p301", "vctk-p314", "vctk-p317", "vctk-p255"}   # from a CC BY-NC repository
TRAINABLE_BEDS = ("household/",)


@dataclass
class Material:
    """What one split offers: voices, backchannel words, noise beds, and voices for a TV in the background."""

    voices: list[corpus.Voice]
    words: list[NDArray[np.float32]]
    beds: list[tuple[str, NDArray[np.float32]]]


@functools.lru_cache(maxsize=4)
def material(root: Path, split: Split) -> Material:
    """The voices, words and beds of ``split`` (for TRAIN, only those that may be trained on)."""
    if split is Split.EVAL:
        raise ValueError("the EVAL split is for reported figures only: never build training material from it")
    groups = corpus.voices(root)
    voices = [v for g, vs in groups.items() for v in vs if split_of(v.name) is split
              and (split is not Split.TRAIN or (g in TRAINABLE_GROUPS and v.name not in NC_VCTK))]
    words = [w for p, w in _words(root) if split_of(p) is split
             and (split is not Split.TRAIN or p.startswith("sc-"))]
    noise = [(k, x) for k, x in corpus.noises(root)["beds"] if split_of(k) is split
             and (split is not Split.TRAIN or k.startswith(TRAINABLE_BEDS))]
    return Material(voices, words, noise)


def _words(root: Path) -> list[tuple[str, NDArray[np.float32]]]:
    """Short words (0.15-0.58 s) from Speech Commands and FSDD with their speaker, unit speech RMS."""
    v = root / "voices"
    paths = sorted((v / "speech_commands").glob("*/*.wav")) + sorted((v / "fsdd" / "recordings").glob("*_[0-4].wav"))[::3]
    out = []
    for p in paths:
        who = "fsdd-" + p.stem.split("_")[1] if p.parent.name == "recordings" else "sc-" + p.stem.split("_")[0]
        x = corpus.trim(corpus.load_audio(p))
        if 0.15 * RATE <= len(x) < 0.58 * RATE:
            out.append((who, corpus.fade((x / max(corpus.active_rms(x), 1e-6)).astype(np.float32))))
    return out


class GrabbyTalk(Talk):
    """A talk where some turn changes start early: the next partner begins before the last one has finished."""

    grab_share: float = 0.0

    def gap_s(self) -> float:
        """Mostly the dev set's natural gap; now and then a small overlap (a negative gap)."""
        if self.rng.random() < self.grab_share:
            return -float(self.rng.uniform(*GRAB_S))
        return super().gap_s()


def _resampled(voice: corpus.Voice, factor: float) -> corpus.Voice:
    """The voice played ``factor`` times faster (pitch and tempo together), by linear interpolation."""
    x = voice.tape
    t = np.arange(0.0, len(x) - 1, factor)
    return corpus.Voice(f"{voice.name}@{factor:.2f}", voice.sex, voice.group, [np.interp(t, np.arange(len(x)), x)
                                                                               .astype(np.float32)])


def _pair(rng: np.random.Generator, mat: Material, augment: bool) -> tuple[corpus.Voice, corpus.Voice]:
    """Two different voices, of different sex three times in four."""
    vs = mat.voices
    a = vs[int(rng.integers(len(vs)))]
    want_other = rng.random() < 0.75
    pool = [v for v in vs if v.name != a.name and ((v.sex != a.sex) == want_other)] or \
           [v for v in vs if v.name != a.name]
    b = pool[int(rng.integers(len(pool)))]
    if augment:
        a, b = (_resampled(v, float(rng.uniform(*SPEED))) for v in (a, b))
    return a, b


def _specs(rng: np.random.Generator, seconds: float) -> list:
    """A calm lead-in, then stretches with interruptions, backchannels and sometimes one raised partner."""
    specs, who = scenarios.plan(rng, float(rng.uniform(10, 30)), "A", p_bc=float(rng.uniform(0.2, 0.5)),
                                lead_in=True)
    k = 0
    while sum(s.dur_s + 0.6 for s in specs) < seconds:
        raised = {who: (k, float(rng.uniform(6.0, 14.0)))} if rng.random() < 0.3 else None
        more, who = scenarios.plan(rng, float(rng.uniform(15, 30)), who, p_interrupt=float(rng.uniform(0.1, 0.6)),
                                   p_bc=float(rng.uniform(0.1, 0.45)), raised=raised)
        specs += more
        k += 1
    return specs


@dataclass
class Truth:
    """Per 10 ms hop: each partner active (2, hops), voices speaking (hops,), cut-in target (hops,)."""

    active: NDArray[np.bool_]
    count: NDArray[np.int8]
    cut_in: NDArray[np.int8]


def _owners(talk: Talk) -> list[str]:
    """The partner each placement belongs to (turns name it; the rest are backchannels, in order)."""
    owner: list[str | None] = [None] * len(talk.placements)
    for t in talk.turns:
        owner[t["_placement"]] = t["speaker"]
    rest = iter(b["speaker"] for b in talk.backchannels)
    return [o if o is not None else next(rest) for o in owner]


def _fill_gaps(mask: NDArray[np.bool_], gap: int) -> NDArray[np.bool_]:
    """Inactive runs shorter than ``gap`` between active ones become active."""
    out = mask.copy()
    on = np.flatnonzero(mask)
    if len(on) < 2:
        return out
    jumps = np.flatnonzero(np.diff(on) > 1)
    for j in jumps:
        a, b = on[j] + 1, on[j + 1]
        if b - a < gap:
            out[a:b] = True
    return out


def truth(talk: Talk, hops: int) -> Truth:
    """Frame truth of a planned and played talk (before any room: the rooms keep the direct path at sample 0)."""
    active = np.zeros((2, hops), bool)
    for (start, x, *_), who in zip(talk.placements, _owners(talk)):
        mask = corpus.activity(x)
        first = (start + HOP // 2) // HOP
        part = mask[: max(0, hops - first)]
        active["AB".index(who), first:first + len(part)] |= part
    active = np.stack([_fill_gaps(m, FILL_GAP_HOPS) for m in active])
    cut = np.zeros(hops, np.int8)
    for r in talk.interruptions:
        k = int(round(r["t"] * RATE / HOP))
        cut[k:k + CUT_IN_HOPS[0]] = -1
        cut[k + CUT_IN_HOPS[0]:k + CUT_IN_HOPS[1]] = 1
    return Truth(active, active.sum(0).astype(np.int8), cut)


@functools.lru_cache(maxsize=ROOM_BANK)
def _room(seed: int) -> tuple[dict[str, Any], dict[str, NDArray[np.float32]]]:
    """One room of the bank: seats at SEATS_M and a TV, their impulse responses (slow: built once, kept on disk)."""
    cached = ROOM_CACHE / f"room-1-{seed}.npz"   # the bank does not change with the builder version
    if cached.exists():
        with np.load(cached) as z:
            return json.loads(str(z["describe"])), {k: z[k] for k in z.files if k != "describe"}
    rng = np.random.default_rng(seed)
    room = rooms.draw_room(rng, {f"seat{i}": d for i, d in enumerate(SEATS_M)})
    room = room.with_source(beds.TV_SOURCE, float(rng.uniform(1.5, 4.0)), rng)
    room, rirs = rooms.impulse_responses(room)
    ROOM_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez(tmp, describe=json.dumps(room.describe()), **rirs)
    tmp.replace(cached)
    return room.describe(), rirs


def _looped(rng: np.random.Generator, x: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    """``n`` samples of ``x`` looped, from a random offset."""
    reps = int(np.ceil(n / len(x))) + 1
    off = int(rng.integers(len(x)))
    return np.tile(x, reps)[off:off + n]


BEDS = {"none": 0.17, "household": 0.05, "tv": 0.2, "music": 0.1, "plucked": 0.1, "noise": 0.1, "hum": 0.08,
        "dishes": 0.08, "babble": 0.06, "traffic": 0.06}
SECOND_BED = 0.2                   # a bed this often has a second one under it (a TV and the dishwasher)


def _bed_v1(rng: np.random.Generator, mat: Material, others: list[corpus.Voice],
            seconds: float) -> tuple[str, NDArray[np.float32] | None]:
    """Builder version 1's background: nothing, household noise, a TV with speech in it, music or coloured noise."""
    kind = rng.choice(["none", "household", "tv", "music", "noise"], p=[0.25, 0.15, 0.3, 0.15, 0.15])
    if kind == "household" and mat.beds:
        name, x = mat.beds[int(rng.integers(len(mat.beds)))]
        x = _looped(rng, x, int(seconds * RATE))
        return name, x / max(float(np.std(x)), 1e-9)
    if kind == "tv" and others:
        music = synth.synthetic_music(rng, 20.0) if rng.random() < 0.5 else None
        picks = [others[int(i)].tape for i in rng.choice(len(others), size=min(4, len(others)), replace=False)]
        programme = beds.tv_bed(rng, TV_S, picks, music)   # its level compressor is slow: a short programme, looped
        return "tv", _looped(rng, programme, int(seconds * RATE))
    if kind == "music":
        return "music (generated)", synth.synthetic_music(rng, seconds)
    if kind == "noise":
        return "noise (generated)", synth.coloured_noise(rng, seconds)
    return "none", None


def _bed(rng: np.random.Generator, mat: Material, others: list[corpus.Voice], seconds: float,
         depth: int = 0) -> tuple[str, NDArray[np.float32] | None]:
    """A background (unit RMS): nothing, household noise, a TV with speech in it, or a generated sound."""
    kind = str(rng.choice(list(BEDS), p=list(BEDS.values())))
    n = int(seconds * RATE)
    x: NDArray[np.float32] | None = None
    if kind == "household" and mat.beds:
        kind, x = mat.beds[int(rng.integers(len(mat.beds)))]
        x = _looped(rng, x, n)
        x = x / max(float(np.std(x)), 1e-9)
    elif kind in ("tv", "babble") and others:
        tapes = [v.tape for v in others]
        if kind == "babble":
            x = _looped(rng, synth.babble(rng, TV_S, tapes), n)
        else:
            music = synth.synthetic_music(rng, 20.0) if rng.random() < 0.5 else None
            picks = [tapes[int(i)] for i in rng.choice(len(tapes), size=min(4, len(tapes)), replace=False)]
            x = _looped(rng, beds.tv_bed(rng, TV_S, picks, music), n)   # its compressor is slow: a short one, looped
    elif kind == "plucked":
        x = _looped(rng, synth.plucked(rng, TV_S), n)   # slow to make: a short piece, looped
    elif kind in ("music", "noise", "hum", "dishes", "traffic"):
        make = {"music": synth.synthetic_music, "noise": synth.coloured_noise, "hum": synth.hum,
                "dishes": synth.dishes, "traffic": synth.traffic}[kind]
        x = make(rng, seconds)
    if x is None:
        return "none", None
    if depth == 0 and rng.random() < SECOND_BED:
        other, y = _bed(rng, mat, others, seconds, depth=1)
        if y is not None:
            x = x + y[:len(x)] * np.float32(10 ** (rng.uniform(-10, 0) / 20))
            kind = f"{kind} + {other}"
    return kind, x


def _speech_db(x: NDArray[np.float32], active: NDArray[np.bool_]) -> float:
    """Level of ``x`` over the hops where someone speaks, dBFS."""
    hops = min(len(x) // HOP, len(active))
    frames = x[: hops * HOP].reshape(hops, HOP)[active[:hops]]
    return 10.0 * np.log10(float(np.mean(np.square(frames, dtype=np.float64))) + 1e-12) if frames.size else -100.0


def talk_seed(split: Split, index: int, builder: int = BUILDER) -> int:
    """The seed of talk ``index`` of a split's material (the builder version is part of it)."""
    return (BASE_SEED + 1_000_003 * builder + index) ^ zlib.crc32(split.value.encode())


def make_talk(root: Path, split: Split, index: int,
              builder: int = BUILDER) -> tuple[NDArray[np.int16], Truth, dict[str, Any]]:
    """One talk of ``split``'s material (builder version ``builder``): int16 audio at 16 kHz, its truth and what
    it is made of."""
    rng = np.random.default_rng(talk_seed(split, index, builder))
    mat = material(root, split)
    a, b = _pair(rng, mat, augment=split is Split.TRAIN)
    apart = float(rng.uniform(0, 6) if rng.random() < 0.5 else rng.uniform(6, APART_DB)) * rng.choice([-1.0, 1.0])
    room = None
    dist = {"A": 1.0, "B": 1.0}
    if rng.random() < ROOM_SHARE:
        room = _room(int(rng.integers(ROOM_BANK)) + BASE_SEED)
        seats = rng.choice(len(SEATS_M), size=2, replace=False)
        dist = {"A": SEATS_M[seats[0]], "B": SEATS_M[seats[1]]}
    # natural levels such that the direct sound at the microphone is `apart` dB louder for A than for B
    base = scenarios.BASE_LEVEL_DB + float(rng.uniform(-3, 3))
    levels = {k: base + s * apart / 2 + 20 * np.log10(dist[k]) for k, s in (("A", 1), ("B", -1))}
    talk = GrabbyTalk(rng, {k: Partner(v, float(levels[k])) for k, v in zip("AB", (a, b))}, mat.words)
    talk.grab_share = float(rng.uniform(0.05, 0.3)) if rng.random() < 0.5 else 0.0
    talk.play(_specs(rng, float(rng.uniform(60, 120))))
    n = round((talk.cursor_s + 1.0) * RATE) // HOP * HOP
    tr = truth(talk, n // HOP)
    tracks = {"A": np.zeros(n, np.float32), "B": np.zeros(n, np.float32)}
    for (start, x, *_), who in zip(talk.placements, _owners(talk)):
        seg = x[: max(0, n - start)]
        tracks[who][start:start + len(seg)] += seg
    info: dict[str, Any] = {"index": index, "split": split.value, "seed": talk_seed(split, index, builder),
                            "voices": {"A": a.name, "B": b.name}, "apart_db": round(apart, 2),
                            "interruptions": len(talk.interruptions), "backchannels": len(talk.backchannels),
                            "grab_share": round(talk.grab_share, 3)}
    if room is not None:
        described, rirs = room
        names = {k: f"seat{SEATS_M.index(d)}" for k, d in dist.items()}
        tracks = {k: rooms.render(x, rirs[names[k]]) for k, x in tracks.items()}
        info["room"] = {"seed": described["seed"], "rt60_s": described["rt60_s"], "distance_m": dist}
    speech = tracks["A"] + tracks["B"]
    speech_db = _speech_db(speech, tr.count > 0)
    others = [v for v in mat.voices if v.name not in (a.name.split("@")[0], b.name.split("@")[0])]
    bed_name, bed = (_bed_v1 if builder == 1 else _bed)(rng, mat, others, n / RATE + 0.1)
    mix = speech
    if bed is not None:
        if room is not None and bed_name.startswith("tv"):
            bed = rooms.render(bed, room[1][beds.TV_SOURCE])
            bed = bed / max(float(np.std(bed)), 1e-9)
        snr = float(rng.uniform(*SNR_DB))
        mix = mix + bed[:n] * np.float32(10 ** ((speech_db - snr) / 20))
        info["bed"] = {"kind": bed_name, "snr_db": round(snr, 2)}
    if rng.random() < 0.3:
        for at, x in synth.knocks(rng, n, float(rng.uniform(8, 30))):
            seg = x[: n - at] * np.float32(10 ** ((speech_db + rng.uniform(-10, 5)) / 20))
            mix[at:at + len(seg)] += seg
    gain = float(rng.uniform(*TALK_LEVEL_DB)) - speech_db
    info["speech_dbfs"] = round(speech_db + gain, 2)
    audio = float_to_int16(mix * np.float32(10 ** (gain / 20)))
    info["clipped"] = float(np.mean(np.abs(audio.astype(np.int32)) >= 32767))
    info["seconds"] = round(n / RATE, 2)
    return audio, tr, info


def features(audio: NDArray[np.int16]) -> NDArray[np.float32]:
    """The model's input for a whole recording, exactly as the run-time computes it (one row per 10 ms hop)."""
    return LogMel().process(audio.astype(np.float32) / 32768.0)


def build(root: Path, split: Split, talks: int, out: Path, shard: int = 50, log=print,
          builder: int = BUILDER) -> Path:
    """Write ``talks`` talks of ``split`` (builder version ``builder``) as shards of features and truth into
    ``out/<split>-v<builder>/``."""
    folder = out / f"{split.value}-v{builder}"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for first in range(0, talks, shard):
        path = folder / f"shard-{first // shard:04d}.npz"
        if path.exists() and path.with_suffix(".json").exists():
            continue
        feats, counts, cuts, actives, infos = [], [], [], [], []
        for i in range(first, min(first + shard, talks)):
            audio, tr, info = make_talk(root, split, i, builder)
            f = features(audio)
            hops = min(len(f), len(tr.count))
            feats.append(f[:hops].astype(np.float16))
            counts.append(tr.count[:hops])
            cuts.append(tr.cut_in[:hops])
            actives.append(tr.active[:, :hops])
            infos.append(info)
        lengths = np.array([len(c) for c in counts])
        tmp = folder / f"{path.stem}.tmp.npz"
        np.savez(tmp, features=np.concatenate(feats), count=np.concatenate(counts), cut_in=np.concatenate(cuts),
                 active=np.concatenate(actives, axis=1), lengths=lengths)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(infos, indent=1))
        log(f"overlapdata: {split.value} talks {first}-{first + len(infos) - 1} "
            f"({lengths.sum() / 360000:.2f} h) in {time.perf_counter() - t0:.0f} s")
    return folder


def load(*folders: Path) -> dict[str, Any]:
    """Every shard of one or more built splits, in order: features (hops, N_MEL) float16, count, cut_in, talk
    lengths, infos."""
    shards = [p for f in folders for p in sorted(f.glob("shard-*.npz")) if ".tmp" not in p.name]
    parts = [np.load(p) for p in shards]
    if not parts:
        raise FileNotFoundError(f"no shards in {', '.join(map(str, folders))}: build them with "
                                "python -m voicecoach_dev.overlapdata")
    infos = [i for p in shards for i in json.loads(p.with_suffix(".json").read_text())]
    return {"features": np.concatenate([p["features"] for p in parts]),
            "count": np.concatenate([p["count"] for p in parts]),
            "cut_in": np.concatenate([p["cut_in"] for p in parts]),
            "lengths": np.concatenate([p["lengths"] for p in parts]), "infos": infos}


def main(argv: list[str] | None = None) -> int:
    """Build training (TRAIN) or validation (TUNE) material."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("train", "tune"), default="train")
    ap.add_argument("--talks", type=int, default=1000)
    ap.add_argument("--builder", type=int, choices=(1, 2), default=BUILDER, help=f"builder version (default {BUILDER})")
    ap.add_argument("--out", type=Path, default=corpus.REPO / "out" / "h2-overlap" / "material")
    args = ap.parse_args(argv)
    build(corpus.find_corpus(), Split(args.split), args.talks, args.out,
          log=lambda m: print(m, file=sys.stderr), builder=args.builder)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except corpus.CorpusMissing as exc:
        print(f"overlapdata: error: {exc}", file=sys.stderr)
        sys.exit(2)
