"""Real talks in the dev set, dry and heard through rooms: recordings nobody made for this project.

Every other talk in the dev set is mixed from single-speaker recordings by our own turn-taking rules. These are not:

- **A real two-party call** (SpokenWOZ MUL1011, ``conversations/spokenwoz``): two people really talking to each other
  for three minutes, with their own pauses, overlaps, "mm"s and rises in emphasis. Each party is on a channel of
  their own, so the truth is exact to the signals (``MUL1011.rttm``, derived from per-channel energy, see the corpus
  README). ``call`` is the corpus's own mix (telephone audio, nothing above 4 kHz); ``call@room`` hears each channel
  from its own place in a room.
- **Back-to-back turns** (``conversations/turns_no_overlap``, 42 s): four voices taking seven turns with no overlap,
  two of the six changes pausing 60 ms at most. ``turns`` is the recording; ``turns@room`` is each turn heard from
  its own speaker's place in a room, so the last voice's reverberation runs on under the next one's first words: the
  quick turn change issue 15 says is not a second voice. Four voices are not a couple, so only interruptions are
  scored on it.

In a room (``ROOM_ITEMS`` a draw, seeded by draw and split): the speech is set to the dev set's calm level (the
parties' real difference kept), each source is heard through its own impulse response in a drawn room
(``rooms``), and a household-noise or music bed of the split is added at 10-20 dB SNR, as in the calm rooms of the
mixed talks.

Truth for the call, as the mixed talks define it: an interruption is an overlap onset while the other party has held
the floor for 1 s (``ami``'s rule) and goes on talking at least ``mixing.OVERLAP_S[0]`` (0.5 s) after it. An onset
whose own stretch is shorter than 0.6 s ("yeah", "mm") is a backchannel; one the holder stops talking within 0.5 s
of is a turn change that started early (``early_turns``). A detection at either is a false one. Nobody raises their
voice and nothing escalates (a polite booking call): every raised-voice event and every pause suggestion on it is
false.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeAlias

import numpy as np
from numpy.typing import NDArray

from voicecoach_dev.evalkit import ami, corpus, rooms
from voicecoach_dev.evalkit.mixing import OVERLAP_S, add_bed
from voicecoach_dev.evalkit.scenarios import BASE_LEVEL_DB, BED_DISTANCE_M, SNR_DB

CALL, CALL_ROOM = "call", "call@room"
TURNS, TURNS_ROOM = "turns", "turns@room"
SCENARIOS = (CALL, CALL_ROOM, TURNS, TURNS_ROOM)
INTERRUPTIONS_ONLY = (TURNS, TURNS_ROOM)   # four voices are not a couple: raised voice and pauses are not scored
CALL_ID = "MUL1011"
TURNS_ID = "diarizationExample"
ROOM_ITEMS = 3                     # rooms a draw for each recording
SPEAKERS = {"spk_A": "A", "spk_B": "B"}
BUILDER = 1                        # bump when a room item is built differently (its WAV and JSON are rebuilt)

Audio: TypeAlias = NDArray[np.float32]


@dataclass(frozen=True)
class Recording:
    """One real talk: where it is, its truth, and its audio split into the sources heard from their own places."""

    name: str                                   # the dry scenario; the room one is name + "@room"
    sub: str                                    # folder under the corpus's conversations/
    dry: str                                    # the file scored dry
    needs: tuple[str, ...]                      # files that must be there
    truth: Callable[[Path], dict[str, Any]]
    sources: Callable[[Path], dict[str, Audio]]

    def folder(self, root: Path) -> Path:
        """The recording's corpus folder."""
        return root / "conversations" / self.sub

    def available(self, root: Path) -> bool:
        """Whether the corpus has every file the recording needs."""
        return all((self.folder(root) / f).is_file() for f in self.needs)


def folder(root: Path) -> Path:
    """The corpus folder of the call."""
    return RECORDINGS[CALL].folder(root)


def available(root: Path) -> bool:
    """Whether the corpus has the call (both channels, the mix and the turns)."""
    return RECORDINGS[CALL].available(root)


def truth(root: Path) -> dict[str, Any]:
    """The call's truth in the dev set's form: interruptions, backchannels, early turns, no raised voice, no
    escalation."""
    turns = [(s, e, SPEAKERS.get(spk, spk)) for s, e, spk in ami.read_rttm(folder(root) / f"{CALL_ID}.rttm")[CALL_ID]]
    merged = ami.merge_turns(turns)
    out: dict[str, Any] = {"interruptions": [], "backchannels": [], "early_turns": [], "raised": [],
                           "escalations": []}
    for r in ami.reference_interruptions(turns):
        holder_end = max(e for s, e, spk in merged if spk == r["over"] and s <= r["t"] < e)
        if r["short"]:
            out["backchannels"].append({"start": r["t"], "speaker": r["speaker"]})
        elif holder_end - r["t"] < OVERLAP_S[0]:
            out["early_turns"].append({"start": r["t"], "speaker": r["speaker"],
                                       "overlap_s": round(holder_end - r["t"], 3)})
        else:
            out["interruptions"].append({"t": r["t"], "speaker": r["speaker"], "over": r["over"],
                                         "overlap_s": round(holder_end - r["t"], 3)})
    out["turns"] = [{"start": round(s, 3), "end": round(e, 3), "speaker": spk} for s, e, spk in turns]
    return out


def _call_sources(root: Path) -> dict[str, Audio]:
    return {who: corpus.load_audio(folder(root) / f"{CALL_ID}.ch{who}.wav") for who in ("A", "B")}


def read_segments(path: Path) -> list[tuple[float, float, str]]:
    """A ``.segments`` file (start, end, speaker; whitespace-separated) as (start, end, "A".."D") in order, each
    speaker named by the order they first speak."""
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    names: dict[str, str] = {}
    for *_, spk in rows:
        names.setdefault(spk, "ABCDEFGH"[len(names)])
    return [(float(s), float(e), names[spk]) for s, e, spk in rows]


def turns_truth(root: Path) -> dict[str, Any]:
    """Back-to-back turns: no interruption anywhere; each change of speaker is listed (``turn_changes``)."""
    segs = read_segments(RECORDINGS[TURNS].folder(root) / f"{TURNS_ID}.segments")
    return {"interruptions": [], "backchannels": [], "raised": [], "escalations": [],
            "turn_changes": [round(s, 3) for (s, _, spk), (_, _, before) in zip(segs[1:], segs) if spk != before],
            "turns": [{"start": s, "end": e, "speaker": spk} for s, e, spk in segs]}


def _turns_sources(root: Path) -> dict[str, Audio]:
    """Each speaker's turns cut out of the recording at the annotated boundaries, silence elsewhere."""
    d = RECORDINGS[TURNS].folder(root)
    x = corpus.load_audio(d / f"{TURNS_ID}.wav")
    out: dict[str, Audio] = {}
    for s, e, spk in read_segments(d / f"{TURNS_ID}.segments"):
        track = out.setdefault(spk, np.zeros(len(x), np.float32))
        i, j = round(s * corpus.RATE), min(len(x), round(e * corpus.RATE))
        track[i:j] = x[i:j]
    return out


RECORDINGS: dict[str, Recording] = {
    CALL: Recording(CALL, "spokenwoz", f"{CALL_ID}.mix.wav",
                    tuple(f"{CALL_ID}.{p}" for p in ("chA.wav", "chB.wav", "mix.wav", "rttm")), truth, _call_sources),
    TURNS: Recording(TURNS, "turns_no_overlap", f"{TURNS_ID}.wav", (f"{TURNS_ID}.wav", f"{TURNS_ID}.segments"),
                     turns_truth, _turns_sources),
}


def dry_item(root: Path, rec: Recording | None = None) -> dict[str, Any]:
    """A recording as it is, as a dev-set item (the WAV stays in the corpus)."""
    rec = rec or RECORDINGS[CALL]
    wav = rec.folder(root) / rec.dry
    return {"name": f"{rec.name}-{Path(rec.dry).stem.split('.')[0]}", "scenario": rec.name, "family": rec.name,
            "room": False, "wav": str(wav), "duration_s": corpus.read_wav(str(wav)).shape[0] / corpus.RATE,
            "calm": True, "truth": rec.truth(root)}


def room_seed(index: int, draw: int, split: str, name: str = CALL) -> int:
    """The seed of one room item (another draw or split: other rooms and beds)."""
    ident = CALL_ID if name == CALL else name   # the call's seeds as first built (its rooms in the reported runs)
    return zlib.crc32(f"{name}@room/{ident}/{index}/{split}/{draw}".encode())


def build_room_item(root: Path, index: int, out: Path, draw: int, split: Any, split_name: str,
                    rec: Recording | None = None) -> dict[str, Any]:
    """Render room item ``index`` of a recording (default: the call) into ``out`` (WAV, then its JSON last)."""
    from voicecoach.audio.wav import write_wav

    rec = rec or RECORDINGS[CALL]
    seed = room_seed(index, draw, split_name, rec.name)
    rng = np.random.default_rng(seed)
    sources = rec.sources(root)
    natural = {who: 20 * np.log10(corpus.active_rms(x) + 1e-12) for who, x in sources.items()}
    shift = BASE_LEVEL_DB - float(np.mean(list(natural.values())))
    room = rooms.draw_room(rng, {who: None for who in sources})
    room, rirs = rooms.impulse_responses(room.with_source("bed", float(rng.uniform(*BED_DISTANCE_M)), rng))
    n = max(len(x) for x in sources.values())
    mix = np.zeros(n, np.float32)
    for who, x in sources.items():
        mix[: len(x)] += rooms.render(x * np.float32(10 ** (shift / 20)), rirs[who])
    at_mic = {who: natural[who] + shift + rooms.gain_db(rirs[who]) for who in sources}
    beds = corpus.noises(root, split)["beds"]
    bed_name, bed = beds[int(rng.integers(len(beds)))]
    snr = float(rng.uniform(*SNR_DB))
    mix = add_bed(mix, rooms.render(bed, rirs["bed"]), snr, float(np.mean(list(at_mic.values()))), rng)
    name = f"{rec.name}@room-{index:02d}"
    write_wav(out / f"{name}.wav", mix)
    meta = {"name": name, "scenario": rec.name + "@room", "family": rec.name, "room": True, "real_builder": BUILDER,
            "draw": draw, "split": split_name, "seed": seed, "wav": f"{name}.wav",
            "duration_s": round(n / corpus.RATE, 3), "calm": True,
            "mix": {"room": room.describe(), "at_mic_db": {k: round(v, 2) for k, v in at_mic.items()},
                    "bed": {"sound": bed_name, "snr_db": round(snr, 2), "kind": "noise"},
                    "clipped_fraction": round(float(np.mean(np.abs(mix) >= 1.0)), 6)},
            "truth": rec.truth(root)}
    tmp = out / f"{name}.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    tmp.replace(out / f"{name}.json")
    return meta


def real_items(root: Path, out: Path, draw: int, split: Any, split_name: str, wanted: list[str] | None,
               rooms_too: bool = True) -> list[dict[str, Any]]:
    """Every real talk's items for one draw (room items built into ``out`` when missing); a recording the corpus
    lacks gives none."""
    items = []
    for rec in RECORDINGS.values():
        if not rec.available(root):
            continue
        if wanted is None or rec.name in wanted:
            items.append(dry_item(root, rec))
        if not rooms_too or not (wanted is None or rec.name + "@room" in wanted):
            continue
        for index in range(ROOM_ITEMS):
            path = out / f"{rec.name}@room-{index:02d}.json"
            meta = json.loads(path.read_text()) if path.exists() else None
            if meta is None or meta.get("real_builder") != BUILDER or not (out / meta["wav"]).exists():
                meta = build_room_item(root, index, out, draw, split, split_name, rec)
            items.append(dict(meta, wav=str(out / meta["wav"]), truth=rec.truth(root)))   # the truth as of today
    return items
