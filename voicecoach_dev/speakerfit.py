"""Fit a learned linear projection of the speaker tracker's cepstra on TRAIN voices, and judge it on TUNE voices.

    python -m voicecoach_dev.speakerfit [--sessions 40] [--seed 15] [--method lda|nap] [--cache DIR] [--out PATH]

Not shipped (README, "Sixth pass"): on TUNE it did not beat the tracker's hand-set diagonal scale
(``voicecoach/detect/speakers.py`` ``MFCC_SCALE``). Kept so the next try (e.g. with TRAIN material of raised
voices) starts from a measured baseline.

The tracker compares 0.45-1.2 s means of 12 mel cepstra (``voicecoach/detect/features.py``, no c0). Within one
talk the same partner's mean moves with the room position (distance, reverberation), the level, the noise bed and
the vocal effort; a projection should keep the directions along which partners differ and shrink those.

Each "session" is one simulated living room (``evalkit/rooms.py``; a quarter of them dry) with five speakers of a
split (``evalkit/corpus.voices_in``), each heard from two places in the room at levels 14 dB apart, with a random
spectral tilt (a crude stand-in for vocal effort: no calm/angry takes of TRAIN speakers exist; EmoDB's five actors
are TUNE and EVAL only) and, half the time, a noise bed of the split. Every rendition runs through the product's own
:class:`FeatureExtractor`; its speech frames are averaged over 0.6 s windows. Within-class scatter is each window's
deviation from its speaker's mean in that session; between-class scatter is each speaker's mean minus the session's
mean of speakers (what a room does to everyone alike counts for neither).

``--method lda``: linear discriminant analysis, whitened within-speaker scatter rotated so the first directions
separate speakers most; ``--keep`` directions at full weight, the rest scaled by ``--floor``, the whole scaled so a
window's within-speaker spread is about 1 per dimension (as with the hand-set scale). ``--method nap``: the hand-set
scale, with its ``--keep`` directions of most within- over between-speaker scatter shrunk to ``--floor``.

Judged on TUNE sessions built the same way, one of the five talkers being an EmoDB TUNE actor whose second excerpt
at each place is an angry take 14 dB up: how often a window is nearer its own talker's reference (first place, lower
level, calm) than another talker's, for the hand-set scale and the fit (cepstra only; pitch is left out).

Seeded and reproducible; about 8 minutes on one core the first time (most of it the room simulation), seconds with
``--cache``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from voicecoach.audio.frames import frames_from_array
from voicecoach.detect.features import N_MFCC, FeatureExtractor
from voicecoach.detect.settings import DetectionSettings

from .evalkit import corpus, rooms
from .evalkit.splits import Split

DEFAULT_OUT = Path("out/speakerfit/speaker-projection.npz")
RATE = 16000
WINDOW_FRAMES = 20          # 0.6 s of speech frames per window (the tracker's recent voice; units are 1.2 s)
SPEAKERS_PER_SESSION = 5
EXCERPT_S = 6.0
EXCERPTS = 2                # per speaker and position
DRY_SHARE = 0.25
BED_SHARE = 0.5
SNR_DB = (6.0, 25.0)
LEVEL_DBFS = (-40.0, -20.0)  # speech level at the microphone
TILT = (-0.3, 0.7)           # first-order pre-emphasis coefficient: y[n] = x[n] - a x[n-1]


def _tilt(x: NDArray[np.float32], a: float) -> NDArray[np.float32]:
    y = x.astype(np.float64).copy()
    y[1:] -= a * x[:-1]
    return y.astype(np.float32)


def _rms(x: NDArray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def windows_of(audio: NDArray[np.float32], settings: DetectionSettings) -> NDArray[np.float64]:
    """0.6 s means of the cepstra of the speech frames the product's feature extractor finds in ``audio``."""
    pcm = np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)
    fe = FeatureExtractor(settings, 30)
    rows = [f.mfcc for f in (fe.process(fr) for fr in frames_from_array(pcm, 30))
            if f.is_speech and not f.quiet and f.mfcc is not None]
    n = len(rows) // WINDOW_FRAMES
    if not n:
        return np.zeros((0, N_MFCC))
    return np.array(rows[: n * WINDOW_FRAMES]).reshape(n, WINDOW_FRAMES, N_MFCC).mean(axis=1)


def session(rng: np.random.Generator, talkers: list[list[corpus.Voice]], beds: list[NDArray[np.float32]],
            settings: DetectionSettings) -> dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]]:
    """One room (or dry) with ``talkers``, each heard from two places: every talker's 0.6 s windows and their kinds.

    A talker is one or two takes (calm, angry) of one speaker. At each place the first excerpt is the first take
    at a lower level and the second the last take 14 dB higher. Kind of a window: ``2 * place + excerpt``.
    """
    dry = rng.random() < DRY_SHARE
    rirs: dict[str, NDArray[np.float32]] = {}
    if not dry:
        places = {f"{k}-{p}": None for k in range(len(talkers)) for p in (0, 1)}   # None: draw_room draws it
        room = rooms.draw_room(rng, places)
        _, rirs = rooms.impulse_responses(room)
    bed = beds[int(rng.integers(len(beds)))] if beds and rng.random() < BED_SHARE else None
    out = {}
    for k, takes in enumerate(talkers):
        got, kinds = [], []
        for p in (0, 1):
            base_db = float(rng.uniform(*LEVEL_DBFS))
            for e in range(EXCERPTS):
                x = takes[-1 if e else 0].excerpt(rng, EXCERPT_S)
                x = _tilt(x, float(rng.uniform(*TILT)))
                x = np.concatenate([np.zeros(RATE, np.float32), x])   # a second of bed before: the noise floor
                if not dry:
                    x = rooms.render(x, rirs[f"{k}-{p}"])
                level = base_db + (7.0 if e else -7.0)
                x = x / max(_rms(x[RATE:]), 1e-9) * 10 ** (level / 20)
                if bed is not None:
                    off = int(rng.integers(max(1, len(bed) - len(x))))
                    b = np.resize(bed[off:], len(x))
                    x = x + b / max(_rms(b), 1e-9) * 10 ** ((level - rng.uniform(*SNR_DB)) / 20)
                x = x + rng.standard_normal(len(x)).astype(np.float32) * 10 ** (-75 / 20)
                w = windows_of(x, settings)
                got.append(w)
                kinds.append(np.full(len(w), 2 * p + e))
        out[takes[0].name] = (np.concatenate(got), np.concatenate(kinds))
    return out


def judge(sessions: list[dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]]],
          transforms: dict[str, NDArray[np.float64]]) -> dict[str, dict[str, float]]:
    """How often a talker's window is nearer their own reference than another talker's of the same session.

    The reference is the mean of a talker's first place, lower level, first take (kind 0); every other window of
    theirs is a probe, against every other talker's reference, by Euclidean distance after each transform (cepstra
    only: the tracker's pitch is left out). "angry": probes of the second take of two-take talkers.
    """
    out: dict[str, dict[str, float]] = {}
    for name, t in transforms.items():
        hits = {"all": [0, 0], "angry": [0, 0], "other place": [0, 0]}
        for s in sessions:
            refs = {k: (w[kinds == 0].mean(axis=0) @ t) for k, (w, kinds) in s.items() if np.any(kinds == 0)}
            for k, (w, kinds) in s.items():
                if k not in refs:
                    continue
                two_takes = k.startswith("emodb-")
                probes = (w[kinds != 0] @ t)
                pk = kinds[kinds != 0]
                own = np.linalg.norm(probes - refs[k], axis=1)
                for j, r in refs.items():
                    if j == k:
                        continue
                    ok = own < np.linalg.norm(probes - r, axis=1)
                    for key, mask in (("all", np.ones(len(ok), bool)), ("angry", (pk % 2 == 1) & two_takes),
                                      ("other place", pk >= 2)):
                        hits[key][0] += int(ok[mask].sum())
                        hits[key][1] += int(mask.sum())
        out[name] = {k: round(a / b, 4) if b else float("nan") for k, (a, b) in hits.items()}
    return out


# The hand-set scale the tracker had before the projection (typical spread of each cepstrum on LibriSpeech, then
# divided by its within-speaker spread over ~0.6 s): the starting point of ``--method nap``.
HAND_SCALE = np.array([7.9, 3.9, 3.6, 2.6, 2.0, 1.8, 1.5, 1.2, 1.2, 1.2, 1.0, 1.0]) * np.array(
    [0.35, 0.38, 0.39, 0.39, 0.38, 0.39, 0.39, 0.43, 0.40, 0.37, 0.44, 0.39])


def fit(sessions: list[dict[str, NDArray[np.float64]]], keep: int, floor: float,
        method: str = "lda") -> dict[str, NDArray]:
    """LDA over sessions of per-speaker windows: ``mean`` (12,) and ``projection`` (12, 12), plus the scatter.

    ``method="nap"``: the hand-set diagonal scale, then the ``keep`` directions of most within-speaker variation
    relative to between-speaker variation (in that scale) shrunk to ``floor`` (nuisance attribute projection).
    """
    within, between = [], []
    allw = []
    for s in sessions:
        means = []
        for w, _ in s.values():
            if len(w) < 2:
                continue
            m = w.mean(axis=0)
            within.append(w - m)
            means.append(m)
            allw.append(w)
        if len(means) >= 2:
            means_a = np.array(means)
            between.append(means_a - means_a.mean(axis=0))
    wd = np.concatenate(within)
    bd = np.concatenate(between)
    sw = wd.T @ wd / len(wd)
    sb = bd.T @ bd / len(bd)
    if method == "nap":
        d = np.diag(1.0 / HAND_SCALE)
        lam_n, u_n = np.linalg.eigh(np.linalg.solve(d @ sb @ d, d @ sw @ d))   # within over between
        u_n = np.real(u_n)
        order = np.argsort(np.real(lam_n))[::-1][:keep]
        q, _ = np.linalg.qr(u_n[:, order])
        proj = d @ (np.eye(N_MFCC) - (1.0 - floor) * q @ q.T)
        return {"mean": np.concatenate(allw).mean(axis=0), "projection": proj, "ratios": np.real(lam_n)[order],
                "within": sw, "between": sb}
    chol = np.linalg.cholesky(sw)
    inv = np.linalg.inv(chol)
    lam, u = np.linalg.eigh(inv @ sb @ inv.T)
    order = np.argsort(lam)[::-1]
    lam, u = lam[order], u[:, order]
    proj = inv.T @ u                       # proj.T @ sw @ proj = I, proj.T @ sb @ proj = diag(lam)
    weights = np.where(np.arange(N_MFCC) < keep, 1.0, floor)
    # the RMS over all 12 dimensions of a window's within-speaker spread stays about 1 (as the diagonal scale had it)
    weights *= math.sqrt(N_MFCC / float(np.sum(weights ** 2)))
    proj = proj * weights[None, :]
    return {"mean": np.concatenate(allw).mean(axis=0), "projection": proj, "ratios": lam,
            "within": sw, "between": sb}


Sessions = list[dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]]]


def build_sessions(split: Split, n: int, seed: int, cache: Path | None) -> Sessions:
    """``n`` seeded sessions of ``split`` speakers (TUNE: plus one EmoDB actor's calm and angry takes each)."""
    if cache is not None and cache.is_file():
        sessions: Sessions = []
        with np.load(cache) as z:
            for key in z.files:
                i, name, what = key.split("|")
                while len(sessions) <= int(i):
                    sessions.append({})
                if what == "w":
                    sessions[int(i)][name] = (z[key], z[f"{i}|{name}|k"])
        return sessions
    rng = np.random.default_rng(seed)
    root = corpus.find_corpus()
    voices = [v for vs in corpus.voices_in(root, split).values() for v in vs]
    actors = list(corpus.emodb_in(root, split).values())   # none in TRAIN
    beds = [x for _, x in corpus.noises(root, split)["beds"]]
    settings = DetectionSettings()
    sessions = []
    for i in range(n):
        talkers = [[voices[j]] for j in rng.choice(len(voices), SPEAKERS_PER_SESSION - bool(actors), replace=False)]
        if actors:
            actor = actors[i % len(actors)]
            talkers.append([actor.neutral, actor.angry])
        sessions.append(session(rng, talkers, beds, settings))
        print(f"{split.value} session {i + 1}/{n}", file=sys.stderr, flush=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, sess in enumerate(sessions):
            for k, (w, kinds) in sess.items():
                arrays[f"{i}|{k}|w"], arrays[f"{i}|{k}|k"] = w, kinds
        np.savez_compressed(cache, **arrays)
    return sessions


def main(argv: list[str] | None = None) -> int:
    """Fit the projection on TRAIN sessions, write it, and judge it against the hand-set scale on TUNE sessions."""
    global TILT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=40, help="TRAIN sessions to fit on")
    ap.add_argument("--judge-sessions", type=int, default=15, help="TUNE sessions to judge on (0: none)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--keep", type=int, default=N_MFCC, help="directions kept at full weight (best first)")
    ap.add_argument("--floor", type=float, default=1.0, help="weight of the other directions")
    ap.add_argument("--method", choices=("lda", "nap"), default="lda")
    ap.add_argument("--no-tilt", action="store_true", help="no random spectral tilt (effort stand-in)")
    ap.add_argument("--cache", type=Path, help="folder to keep the sessions' windows in (refit in seconds)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    if a.no_tilt:
        TILT = (0.0, 0.0)
    tag = f"s{a.seed}-n{a.sessions}" + ("-notilt" if a.no_tilt else "")
    train = build_sessions(Split.TRAIN, a.sessions, a.seed, a.cache / f"train-{tag}.npz" if a.cache else None)
    got = fit(train, a.keep, a.floor, a.method)
    source = {"fitted_by": "python -m voicecoach_dev.speakerfit", "seed": a.seed, "sessions": len(train),
              "method": a.method, "keep": a.keep, "floor": a.floor, "tilt": list(TILT), "split": "train",
              "speakers": len({k for s in train for k in s}),
              "windows": int(sum(len(w) for s in train for w, _ in s.values())), "window_frames": WINDOW_FRAMES}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, mean=got["mean"].astype(np.float32), projection=got["projection"].astype(np.float32),
             ratios=got["ratios"].astype(np.float32), source=np.array(json.dumps(source)))
    print(json.dumps(source))
    what = "within/between" if a.method == "nap" else "between/within"
    print(f"{what} ratio per direction:", " ".join(f"{x:.2f}" for x in got["ratios"]))
    if a.judge_sessions:
        tune = build_sessions(Split.TUNE, a.judge_sessions, a.seed + 1,
                              a.cache / f"tune-s{a.seed + 1}-n{a.judge_sessions}.npz" if a.cache else None)
        res = judge(tune, {"hand-set scale": np.diag(1.0 / HAND_SCALE), "fitted": got["projection"]})
        for name, r in res.items():
            print(f"TUNE, nearer own voice than another's: {name:15s} " + "  ".join(f"{k} {v:.3f}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
