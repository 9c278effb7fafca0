"""Simulated living rooms: seeded shoebox rooms, a laptop microphone on a table, each talker at their own distance.

The one importer of pyroomacoustics (a dev-only extra: ``pip install -e .[dev]``, installed by
``scripts/setup --test``); the product never imports this module. Image method, 16 kHz.

    rng = np.random.default_rng(7)
    room = draw_room(rng, {"A": 1.2, "B": 3.0})            # partner A 1.2 m from the mic, B 3.0 m
    room = room.with_source("A-near", 0.6, rng)           # a second position of A (leaning in)
    rirs = impulse_responses(room)                        # {"A": ..., "B": ..., "A-near": ...}, cached per room
    heard = render(dry_track_of_a, rirs["A"])             # direct path at sample 0: truth times unchanged

Every impulse response is cut so that its direct path lands at sample 0 (a speech onset in the dry track is an
onset at the same sample in the rendered one), and scaled so that a talker 1 m away is heard with the direct
path at unit gain: a partner 3 m away is about 9.5 dB quieter in the direct sound, plus what the room adds.
The RT60 asked for is met by measuring it (T30, Schroeder backward integration, over all sources) and adjusting
the absorption; ``Room.rt60_s`` is the measured value, the one to report.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

RATE = 16000
SPEED_OF_SOUND = 343.0
RT60_RANGE_S = (0.2, 0.8)
DISTANCE_RANGE_M = (0.5, 3.5)
LENGTH_RANGE_M = (4.0, 7.0)        # living-room floor plans
WIDTH_RANGE_M = (3.0, 5.5)
HEIGHT_RANGE_M = (2.4, 3.0)
TABLE_HEIGHT_M = (0.45, 0.8)       # coffee table to dining table
MOUTH_HEIGHT_M = (1.0, 1.3)        # seated
WALL_MARGIN_M = 0.35
MAX_RIR_S = 1.0                    # impulse responses are cut at min(1.1 x RT60, this)
RT60_TOLERANCE = 0.08              # relative: stop adjusting the absorption this close to the asked RT60
RT60_TRIES = 4
MAX_ORDER = 90                     # image-method order cap (time grows with its cube)


@dataclass(frozen=True)
class Source:
    """A talker (or a TV) at a position; ``distance_m`` is from the microphone."""

    name: str
    position_m: tuple[float, float, float]
    distance_m: float


@dataclass(frozen=True)
class Room:
    """A shoebox room with one microphone and named sources. ``rt60_s`` is measured once RIRs are computed."""

    seed: int
    dims_m: tuple[float, float, float]
    rt60_target_s: float
    mic_m: tuple[float, float, float]
    sources: tuple[Source, ...] = ()
    absorption: float | None = None     # energy absorption of the walls, set by calibrate()
    max_order: int | None = None
    rt60_s: float | None = None

    def source(self, name: str) -> Source:
        """The source called ``name`` (KeyError if there is none)."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def with_source(self, name: str, distance_m: float, rng: np.random.Generator,
                    height_m: float | None = None) -> "Room":
        """The same room plus a source ``distance_m`` from the microphone (at the nearest distance that fits)."""
        pos, dist = _place(rng, self.dims_m, self.mic_m, distance_m, height_m)
        return replace(self, sources=self.sources + (Source(name, pos, dist),))

    def describe(self) -> dict:
        """JSON-ready summary (for the dev set's item metadata)."""
        return {"seed": self.seed, "dims_m": [round(d, 2) for d in self.dims_m],
                "rt60_s": None if self.rt60_s is None else round(self.rt60_s, 3),
                "rt60_target_s": round(self.rt60_target_s, 3), "mic_m": [round(d, 2) for d in self.mic_m],
                "sources": {s.name: {"distance_m": round(s.distance_m, 2),
                                     "position_m": [round(d, 2) for d in s.position_m]} for s in self.sources}}


def draw_room(rng: np.random.Generator, distances_m: Mapping[str, float | None] | None = None,
              rt60_s: float | None = None) -> Room:
    """A seeded living room with the microphone on a table and a source per entry of ``distances_m``.

    Distances left out (no ``distances_m``: partners "A" and "B") or given as None are drawn from
    DISTANCE_RANGE_M; ``rt60_s`` from RT60_RANGE_S. A distance that does not fit
    in the room is shortened to the longest that does (``Source.distance_m`` is what was placed).
    """
    seed = int(rng.integers(2**31))
    dims = (float(rng.uniform(*LENGTH_RANGE_M)), float(rng.uniform(*WIDTH_RANGE_M)), float(rng.uniform(*HEIGHT_RANGE_M)))
    # the table stands somewhere in the middle part of the room, so talkers fit around it
    mic = (float(rng.uniform(0.3, 0.7) * dims[0]), float(rng.uniform(0.3, 0.7) * dims[1]),
           float(rng.uniform(*TABLE_HEIGHT_M)))
    rt60 = float(rng.uniform(*RT60_RANGE_S)) if rt60_s is None else float(rt60_s)
    room = Room(seed, dims, rt60, mic)
    for name, d in (distances_m or {"A": None, "B": None}).items():
        room = room.with_source(name, float(rng.uniform(*DISTANCE_RANGE_M)) if d is None else d, rng)
    return room


def _place(rng: np.random.Generator, dims: tuple[float, float, float], mic: tuple[float, float, float],
           distance_m: float, height_m: float | None) -> tuple[tuple[float, float, float], float]:
    """A position ``distance_m`` from the mic, inside the walls; shorter when the room is too small for it."""
    z = float(rng.uniform(*MOUTH_HEIGHT_M)) if height_m is None else height_m
    dist = max(distance_m, abs(z - mic[2]) + 0.05)
    for _ in range(40):
        horiz = math.sqrt(max(dist ** 2 - (z - mic[2]) ** 2, 0.0))
        for angle in rng.uniform(0.0, 2 * math.pi, 64):
            x, y = mic[0] + horiz * math.cos(angle), mic[1] + horiz * math.sin(angle)
            if WALL_MARGIN_M <= x <= dims[0] - WALL_MARGIN_M and WALL_MARGIN_M <= y <= dims[1] - WALL_MARGIN_M:
                pos = (x, y, z)
                return pos, float(math.dist(pos, mic))
        dist *= 0.95
    raise ValueError(f"no place for a source {distance_m:.2f} m from the microphone in a {dims} room")


def calibrate(room: Room) -> Room:
    """The room with wall absorption adjusted until the measured RT60 is within tolerance of the target."""
    if room.absorption is not None:
        return room
    import pyroomacoustics as pra   # dev-only: imported here, never by the product

    ask = room.rt60_target_s
    best: Room | None = None
    best_error_s = math.inf   # best's measured RT60 against the target
    for _ in range(RT60_TRIES):
        absorption, order = pra.inverse_sabine(ask, room.dims_m)
        trial = replace(room, absorption=float(absorption), max_order=int(min(order, MAX_ORDER)))
        rirs = _simulate(trial)
        measured = float(np.mean([measure_rt60(h) for h in rirs.values()]))
        trial = replace(trial, rt60_s=measured)
        error_s = abs(measured - room.rt60_target_s)
        if best is None or error_s < best_error_s:
            best, best_error_s = trial, error_s
        if abs(measured / room.rt60_target_s - 1.0) <= RT60_TOLERANCE:
            break
        ask = min(max(ask * room.rt60_target_s / measured, 0.05), 3.0)
    assert best is not None
    return best


def measure_rt60(rir: NDArray, rate: int = RATE) -> float:
    """RT60 by T30 (the -5 to -35 dB part of the Schroeder decay curve, extrapolated to 60 dB), seconds."""
    energy = np.cumsum(np.square(rir[::-1], dtype=np.float64))[::-1]
    edc = 10.0 * np.log10(energy / energy[0] + 1e-300)
    i5, i35 = int(np.argmax(edc <= -5.0)), int(np.argmax(edc <= -35.0))
    if i35 <= i5:   # the decay never reached -35 dB: fit what there is
        i35 = len(edc) - 1
    t = np.arange(i5, i35 + 1) / rate
    slope = np.polyfit(t, edc[i5:i35 + 1], 1)[0]
    return float(-60.0 / slope) if slope < 0 else float("inf")


@functools.lru_cache(maxsize=64)
def _simulate(room: Room) -> dict[str, NDArray[np.float32]]:
    """Impulse responses of every source, direct path at sample 0, 1 m direct path at unit gain."""
    import pyroomacoustics as pra

    sim = pra.ShoeBox(list(room.dims_m), fs=RATE, materials=pra.Material(room.absorption),
                      max_order=room.max_order, air_absorption=False)
    for s in room.sources:
        sim.add_source(list(s.position_m))
    sim.add_microphone(list(room.mic_m))
    sim.compute_rir()
    lead = pra.constants.get("frac_delay_length") // 2
    limit = int(min(MAX_RIR_S, 1.1 * room.rt60_target_s + 0.05) * RATE)
    out = {}
    for k, s in enumerate(room.sources):
        h = np.asarray(sim.rir[0][k], dtype=np.float64)
        direct = lead + s.distance_m / SPEED_OF_SOUND * RATE
        h = h[int(math.floor(direct)):][:limit]   # pyroomacoustics gives 1 / r: unit gain at 1 m
        fade = min(len(h) // 10, int(0.05 * RATE))
        if fade:
            h[-fade:] *= np.linspace(1.0, 0.0, fade)
        out[s.name] = h.astype(np.float32)
    return out


@functools.lru_cache(maxsize=64)
def _calibrated(room: Room) -> Room:
    return calibrate(room)


def impulse_responses(room: Room) -> tuple[Room, dict[str, NDArray[np.float32]]]:
    """The calibrated room (measured ``rt60_s``) and each source's impulse response, by source name (cached)."""
    done = _calibrated(room)
    return done, _simulate(done)


def render(x: NDArray[np.float32], rir: NDArray[np.float32], tail: bool = False) -> NDArray[np.float32]:
    """``x`` heard through ``rir``: same length as ``x`` (or with the reverberation tail when ``tail``)."""
    from scipy.signal import oaconvolve

    if not len(x):
        return x.astype(np.float32)
    y = oaconvolve(x.astype(np.float32), rir.astype(np.float32))
    return (y if tail else y[: len(x)]).astype(np.float32)


def direct_to_reverberant_db(rir: NDArray[np.float32], direct_ms: float = 2.5) -> float:
    """Energy of the direct path (its first ``direct_ms``) over the rest, dB (how far a talker sounds)."""
    k = int(direct_ms * RATE / 1000)
    d = float(np.sum(np.square(rir[:k], dtype=np.float64)))
    r = float(np.sum(np.square(rir[k:], dtype=np.float64)))
    return 10.0 * math.log10(d / max(r, 1e-12))


def gain_db(rir: NDArray[np.float32]) -> float:
    """Total energy gain of an impulse response, dB (a talker at 1 m in a dead room is about 0 dB)."""
    return 10.0 * math.log10(float(np.sum(np.square(rir, dtype=np.float64))) + 1e-12)


@dataclass
class RoomMix:
    """Dry per-source tracks summed through one room: add a clip at a sample for a source, then :meth:`render`."""

    room: Room
    length: int
    tracks: dict[str, NDArray[np.float32]] = field(default_factory=dict)

    def add(self, source: str, start: int, x: NDArray[np.float32]) -> None:
        """Place dry audio of ``source`` at sample ``start`` (clipped to the mix length)."""
        track = self.tracks.setdefault(source, np.zeros(self.length, np.float32))
        seg = x[: max(0, self.length - start)]
        track[start: start + len(seg)] += seg

    def render(self) -> NDArray[np.float32]:
        """Every track convolved with its own impulse response, then summed (the microphone signal)."""
        _, rirs = impulse_responses(self.room)
        out = np.zeros(self.length, np.float32)
        for name, track in self.tracks.items():
            out += render(track, rirs[name])
        return out
