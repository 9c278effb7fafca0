"""Two-person conversations mixed from single-speaker clips, with exact ground truth.

A talk is planned as a list of :class:`TurnSpec` (who speaks, how long, how loud, whether the turn starts by
interrupting the previous one, whether the listener backchannels during it); :class:`Talk` places the audio and
records the truth: turns, interruption onsets, backchannels, raised stretches and escalation windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .corpus import RATE, Voice, active_rms, fade, trim

OVERLAP_S = (0.5, 2.0)  # the interrupted speaker goes on this long after the onset
INTERRUPT_AT = (0.3, 0.8)  # the onset falls this far into the interrupted turn
OWN_VOICE_BACKCHANNELS = 0.5  # chance a backchannel is cut from the partner's own speech (else a word clip)
HOLDER_BEFORE = 0.5  # the interrupted speaker really speaks in this share of the second before the onset...
HOLDER_DURING = 0.5  # ...and of the overlap after it: a pause is neither holding the floor nor an overlap
ONSET_TRIES = 20
LISTENED_S = 0.3     # an interrupter has been quiet at least this long (not still finishing their own last turn)
QUICK_GAP_S = (0.0, 0.12)  # a quick turn change: the next voice starts this soon after the last one stops


@dataclass(frozen=True)
class TurnSpec:
    """One planned turn."""

    who: str  # "A" or "B"
    dur_s: float
    gain_db: float = 0.0  # on top of the partner's natural level
    interrupts: bool = False  # starts while the previous (other) speaker is still talking
    backchannel: bool = False  # the listener says a short word during this turn
    stretch: int | None = None  # raised stretch id (turns with the same id form one raised segment)
    escalation: int | None = None  # escalation window id
    voice: str = "calm"  # "calm" or "angry" (EmoDB)
    position: str = ""  # in a room: "" = the partner's seat, else another named position (e.g. "near": leaning in)
    lean: int | None = None  # lean-in stretch id (turns with the same id form one stretch spoken from nearer)


@dataclass
class Partner:
    """A partner of the talk: a voice (plus optional angry voice) and a natural level in dBFS."""

    calm: Voice
    level_db: float
    angry: Voice | None = None
    angry_db: float = 0.0  # EmoDB: angry takes sit this far above the neutral takes (restored level)


@dataclass
class Talk:
    """Places turns on a timeline and keeps the ground truth."""

    rng: np.random.Generator
    partners: dict[str, Partner]
    words: list[NDArray[np.float32]]
    placements: list[list[Any]] = field(default_factory=list)  # [start_sample, audio, source name]
    turns: list[dict[str, Any]] = field(default_factory=list)
    interruptions: list[dict[str, Any]] = field(default_factory=list)
    backchannels: list[dict[str, Any]] = field(default_factory=list)
    cursor_s: float = 0.5
    masks: dict[int, NDArray[np.bool_]] = field(default_factory=dict)  # placement -> speech mask (10 ms frames)
    quick_share: float = 0.0  # share of turn changes that are quick (QUICK_GAP_S), as real talk has many

    def gap_s(self) -> float:
        """A natural gap between turns: mostly 0.2-1 s, sometimes a longer pause; a quick one (under 0.12 s) in
        ``quick_share`` of them (no draw is spent on it when that is 0, so other talks are unchanged)."""
        if self.quick_share and self.rng.random() < self.quick_share:
            return float(self.rng.uniform(*QUICK_GAP_S))
        if self.rng.random() < 0.12:
            return float(self.rng.uniform(1.5, 3.0))
        return float(np.clip(self.rng.lognormal(np.log(0.5), 0.5), 0.15, 1.4))

    def play(self, specs: list[TurnSpec]) -> None:
        """Place every planned turn in order."""
        for i, spec in enumerate(specs):
            nxt = specs[i + 1] if i + 1 < len(specs) else None
            self._turn(spec, will_be_interrupted=bool(nxt and nxt.interrupts and nxt.who != spec.who))

    def _audio(self, spec: TurnSpec) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        p = self.partners[spec.who]
        if spec.voice == "angry" and p.angry is not None:
            x, mask = p.angry.cut(self.rng, spec.dur_s)
            x = x * 10 ** (p.angry_db / 20)
        else:
            x, mask = p.calm.cut(self.rng, spec.dur_s)
        return (x * 10 ** ((p.level_db + spec.gain_db) / 20)).astype(np.float32), mask

    def _turn(self, spec: TurnSpec, will_be_interrupted: bool) -> None:
        x, mask = self._audio(spec)
        prev = self.turns[-1] if self.turns else None
        start = None
        if spec.interrupts and prev is not None and prev["speaker"] != spec.who:
            start = self._interrupt(prev, spec.who)
            self.cursor_s = max(t["end"] for t in self.turns)  # the interrupted turn was cut short
        if start is None:
            start = self.cursor_s + self.gap_s()
        start = round(start * RATE) / RATE
        self.placements.append([round(start * RATE), x, source_name(spec.who, spec.position)])
        self.masks[len(self.placements) - 1] = mask
        turn: dict[str, Any] = {
            "speaker": spec.who, "start": start, "end": start + len(x) / RATE, "gain_db": spec.gain_db,
            "stretch": spec.stretch, "escalation": spec.escalation, "voice": spec.voice,
            "position": spec.position, "lean": spec.lean, "_placement": len(self.placements) - 1}
        self.turns.append(turn)
        self.cursor_s = max(self.cursor_s, turn["end"])
        if spec.backchannel and not will_be_interrupted and turn["end"] - start >= 3.0:
            self._backchannel(turn)

    def _interrupt(self, prev: dict[str, Any], who: str) -> float | None:
        """Cut the previous turn so it goes on 0.5-2 s past an onset 30-80 % into it; return the onset."""
        dur = prev["end"] - prev["start"]
        mask = self.masks.get(prev["_placement"])
        own_end = max((t["end"] for t in self.turns if t["speaker"] == who), default=-1e9)
        for _ in range(ONSET_TRIES):
            onset = prev["start"] + self.rng.uniform(*INTERRUPT_AT) * dur
            overlap = self.rng.uniform(*OVERLAP_S)
            if onset + overlap > prev["end"] - 0.05:
                overlap = prev["end"] - 0.05 - onset
            if overlap < OVERLAP_S[0] or onset - prev["start"] < 1.0 or onset < own_end + LISTENED_S:
                continue
            at = onset - prev["start"]
            if mask is None or (_share(mask, at - 1.0, at) >= HOLDER_BEFORE
                                and _share(mask, at, at + overlap) >= HOLDER_DURING):
                break
        else:
            return None
        place = self.placements[prev["_placement"]]
        keep = round((onset + overlap - prev["start"]) * RATE)
        place[1] = fade(place[1][:keep], 30.0)
        prev["end"] = prev["start"] + keep / RATE
        prev["interrupted"] = True
        self.interruptions.append({"t": round(onset, 3), "speaker": who, "over": prev["speaker"],
                                   "overlap_s": round(overlap, 3)})
        return onset

    def _backchannel(self, turn: dict[str, Any]) -> None:
        who = "B" if turn["speaker"] == "A" else "A"
        own = self._fragment(who) if self.rng.random() < OWN_VOICE_BACKCHANNELS else None
        if own is not None:
            source, word = "own voice", own
        else:
            source, word = "word clip", self.words[self.rng.integers(len(self.words))]
        level = self.partners[who].level_db - self.rng.uniform(0.0, 6.0)
        at = turn["start"] + self.rng.uniform(0.3, 0.7) * (turn["end"] - turn["start"])
        at = round(at * RATE) / RATE
        self.placements.append([round(at * RATE), (word * 10 ** (level / 20)).astype(np.float32), who])
        self.backchannels.append({"start": at, "end": round(at + len(word) / RATE, 3), "speaker": who,
                                  "source": source})

    def _fragment(self, who: str) -> NDArray[np.float32] | None:
        """A 0.2-0.5 s word-like piece of the partner's own speech starting at a word onset (None if too short)."""
        x = self.partners[who].calm.excerpt(self.rng, 0.3)
        x = trim(x[: int(self.rng.uniform(0.25, 0.5) * RATE)])
        return fade(x, 30.0) if len(x) >= 0.2 * RATE else None

    def raised_segments(self) -> list[dict[str, Any]]:
        """One segment per raised stretch: from its first turn's start to its last turn's end."""
        out = []
        for sid in sorted({t["stretch"] for t in self.turns if t["stretch"] is not None}):
            ts = [t for t in self.turns if t["stretch"] == sid]
            out.append({"start": round(min(t["start"] for t in ts), 3), "end": round(max(t["end"] for t in ts), 3),
                        "speaker": ts[0]["speaker"], "gain_db": round(ts[0]["gain_db"], 2),
                        "voice": ts[0]["voice"], "turns": len(ts)})
        return out

    def escalation_windows(self) -> list[dict[str, Any]]:
        """One window per escalation id: from its first turn's start to its last turn's end."""
        out = []
        for eid in sorted({t["escalation"] for t in self.turns if t["escalation"] is not None}):
            ts = [t for t in self.turns if t["escalation"] == eid]
            out.append({"start": round(min(t["start"] for t in ts), 3), "end": round(max(t["end"] for t in ts), 3)})
        return out

    def lean_segments(self) -> list[dict[str, Any]]:
        """One segment per lean-in stretch (a partner speaking from nearer the microphone, same voice)."""
        out = []
        for lid in sorted({t["lean"] for t in self.turns if t["lean"] is not None}):
            ts = [t for t in self.turns if t["lean"] == lid]
            out.append({"start": round(min(t["start"] for t in ts), 3), "end": round(max(t["end"] for t in ts), 3),
                        "speaker": ts[0]["speaker"], "position": ts[0]["position"], "turns": len(ts)})
        return out

    def speech_level_db(self) -> float:
        """Mean natural speech level of the two partners, dBFS (the reference for SNR)."""
        return float(np.mean([p.level_db for p in self.partners.values()]))

    def render(self, tail_s: float = 1.0, room: Any = None) -> NDArray[np.float32]:
        """The mixed speech, float32; through ``room`` (a :class:`rooms.Room`), each source with its own response."""
        n = round((self.cursor_s + tail_s) * RATE)
        if room is not None:
            from .rooms import RoomMix

            mix = RoomMix(room, n)
            for start, x, source in self.placements:
                mix.add(source, start, x)
            return mix.render()
        out = np.zeros(n, np.float32)
        for start, x, _ in self.placements:
            out[start: start + len(x)] += x[: n - start]
        return out

    def truth(self) -> dict[str, Any]:
        """Ground truth as JSON-ready dictionaries (times in seconds)."""
        turns = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in t.items() if not k.startswith("_")}
                 for t in self.turns]
        return {"turns": turns, "interruptions": self.interruptions, "backchannels": self.backchannels,
                "raised": self.raised_segments(), "escalations": self.escalation_windows(),
                "lean": self.lean_segments()}


def source_name(who: str, position: str = "") -> str:
    """The room source a partner speaks from: ``A`` at their seat, ``A-near`` when leaning in."""
    return f"{who}-{position}" if position else who


def _share(mask: NDArray[np.bool_], a_s: float, b_s: float) -> float:
    """Share of the 10 ms frames in [a_s, b_s) (seconds into the clip) that are speech."""
    part = mask[max(0, int(a_s * 100)):max(0, int(b_s * 100))]
    return float(part.mean()) if part.size else 0.0


def add_bed(mix: NDArray[np.float32], bed: NDArray[np.float32], snr_db: float, speech_db: float,
            rng: np.random.Generator) -> NDArray[np.float32]:
    """Add a looped background (from a random offset) at ``snr_db`` below the speech level."""
    reps = int(np.ceil((len(mix) + len(bed)) / len(bed)))
    loop = np.tile(bed, reps)
    off = int(rng.integers(len(bed)))
    loop = loop[off: off + len(mix)]
    rms = float(np.sqrt(np.mean(np.square(loop, dtype=np.float64)))) or 1.0
    return mix + (loop / rms * 10 ** ((speech_db - snr_db) / 20)).astype(np.float32)


def add_events(mix: NDArray[np.float32], events: list[tuple[str, NDArray[np.float32]]], every_s: float,
               rel_db: tuple[float, float], speech_db: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Drop transient sounds (laugh, cough, door, dog...) about every ``every_s`` at speech level + rel_db."""
    placed = []
    t = rng.uniform(0.3, 1.0) * every_s
    while t < len(mix) / RATE - 5.0:
        name, x = events[rng.integers(len(events))]
        level = speech_db + rng.uniform(*rel_db)
        x = x / max(active_rms(x), 1e-6) * 10 ** (level / 20)
        s = round(t * RATE)
        seg = x[: len(mix) - s]
        mix[s: s + len(seg)] += seg.astype(np.float32)
        placed.append({"t": round(t, 3), "sound": name, "level_db": round(level, 2)})
        t += rng.uniform(0.6, 1.4) * every_s
    return placed
