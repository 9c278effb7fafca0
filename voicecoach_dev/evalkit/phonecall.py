"""A real two-party call (SpokenWOZ MUL1011, ``conversations/spokenwoz``): calm talk nobody made for this project.

Every other talk in the dev set is mixed from single-speaker recordings by our own turn-taking rules. This one is two
people really talking to each other for three minutes: their own pauses, overlaps, "mm"s and level changes. Each
party is on a channel of their own, so the truth is exact to the signals (``MUL1011.rttm``, derived from
per-channel energy, see the corpus README), and each party can be heard through a simulated room at their own
distance, the way a laptop on a coffee table would hear them.

- ``call``: the corpus's own mix (both channels at half gain), as recorded: telephone audio, nothing above 4 kHz.
- ``call@room``: each channel scaled so the two parties' mean speech level is the dev set's calm level (their real
  difference kept, about 8 dB), heard through its own impulse response in a drawn room (``rooms``), plus a household
  noise or music bed of the split at 10-20 dB SNR. ``ROOM_ITEMS`` rooms a draw, seeded by draw and split.

Truth, as the mixed talks define it: an interruption is an overlap onset while the other party has held the floor
for 1 s (``ami``'s rule) and goes on talking at least ``mixing.OVERLAP_S[0]`` (0.5 s) after it. An onset whose own
stretch is shorter than 0.6 s ("yeah", "mm") is a backchannel; one the holder stops talking within 0.5 s of is a turn
change that started early (``early_turns``). A detection at either is a false one. Nobody raises their voice and
nothing escalates (a polite booking call): every raised-voice event and every pause suggestion on it is false.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from voicecoach_dev.evalkit import ami, corpus, rooms
from voicecoach_dev.evalkit.mixing import OVERLAP_S, add_bed

CALL = "call"
CALL_ROOM = "call@room"
SCENARIOS = (CALL, CALL_ROOM)
CALL_ID = "MUL1011"
ROOM_ITEMS = 3                     # rooms a draw (3 min each)
SPEAKERS = {"spk_A": "A", "spk_B": "B"}
LEVEL_DB = -34.0                   # scenarios.BASE_LEVEL_DB: the parties' mean speech level before the room
SNR_DB = (10.0, 20.0)              # scenarios.SNR_DB
BED_DISTANCE_M = (1.5, 4.0)        # scenarios.BED_DISTANCE_M
BUILDER = 1                        # bump when a room item is built differently (its JSON is rebuilt)


def folder(root: Path) -> Path:
    """The corpus folder of the call."""
    return root / "conversations" / "spokenwoz"


def available(root: Path) -> bool:
    """Whether the corpus has the call (both channels, the mix and the turns)."""
    d = folder(root)
    return all((d / f"{CALL_ID}.{part}").is_file() for part in ("chA.wav", "chB.wav", "mix.wav", "rttm"))


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


def dry_item(root: Path) -> dict[str, Any]:
    """The corpus mix as a dev-set item (the WAV stays in the corpus)."""
    wav = folder(root) / f"{CALL_ID}.mix.wav"
    return {"name": f"{CALL}-{CALL_ID}", "scenario": CALL, "family": CALL, "room": False, "wav": str(wav),
            "duration_s": corpus.read_wav(str(wav)).shape[0] / corpus.RATE, "calm": True, "truth": truth(root)}


def room_seed(index: int, draw: int, split: str) -> int:
    """The seed of one room item (another draw or split: other rooms and beds)."""
    return zlib.crc32(f"{CALL_ROOM}/{CALL_ID}/{index}/{split}/{draw}".encode())


def build_room_item(root: Path, index: int, out: Path, draw: int, split: Any, split_name: str) -> dict[str, Any]:
    """Render room item ``index`` into ``out`` (WAV, then its JSON last) and return its JSON."""
    from voicecoach.audio.wav import write_wav

    seed = room_seed(index, draw, split_name)
    rng = np.random.default_rng(seed)
    d = folder(root)
    chans = {who: corpus.load_audio(d / f"{CALL_ID}.ch{who}.wav") for who in ("A", "B")}
    natural = {who: 20 * np.log10(corpus.active_rms(x) + 1e-12) for who, x in chans.items()}
    shift = LEVEL_DB - float(np.mean(list(natural.values())))
    room = rooms.draw_room(rng).with_source("bed", float(rng.uniform(*BED_DISTANCE_M)), rng)
    room, rirs = rooms.impulse_responses(room)
    n = max(len(x) for x in chans.values())
    mix = np.zeros(n, np.float32)
    for who, x in chans.items():
        mix[: len(x)] += rooms.render(x * np.float32(10 ** (shift / 20)), rirs[who])
    at_mic = {who: natural[who] + shift + rooms.gain_db(rirs[who]) for who in chans}
    beds = corpus.noises(root, split)["beds"]
    bed_name, bed = beds[int(rng.integers(len(beds)))]
    snr = float(rng.uniform(*SNR_DB))
    mix = add_bed(mix, rooms.render(bed, rirs["bed"]), snr, float(np.mean(list(at_mic.values()))), rng)
    name = f"{CALL_ROOM}-{index:02d}"
    write_wav(out / f"{name}.wav", mix)
    meta = {"name": name, "scenario": CALL_ROOM, "family": CALL, "room": True, "call_builder": BUILDER,
            "draw": draw, "split": split_name, "seed": seed, "wav": f"{name}.wav",
            "duration_s": round(n / corpus.RATE, 3), "calm": True,
            "mix": {"room": room.describe(), "at_mic_db": {k: round(v, 2) for k, v in at_mic.items()},
                    "bed": {"sound": bed_name, "snr_db": round(snr, 2), "kind": "noise"},
                    "clipped_fraction": round(float(np.mean(np.abs(mix) >= 1.0)), 6)},
            "truth": truth(root)}
    tmp = out / f"{name}.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    tmp.replace(out / f"{name}.json")
    return meta


def call_items(root: Path, out: Path, draw: int, split: Any, split_name: str, wanted: list[str] | None,
               rooms_too: bool = True) -> list[dict[str, Any]]:
    """The call's items for one draw (room items built into ``out`` when missing); none if the corpus lacks it."""
    if not available(root):
        return []
    items = []
    if wanted is None or CALL in wanted:
        items.append(dry_item(root))
    if rooms_too and (wanted is None or CALL_ROOM in wanted):
        for index in range(ROOM_ITEMS):
            path = out / f"{CALL_ROOM}-{index:02d}.json"
            meta = json.loads(path.read_text()) if path.exists() else None
            if meta is None or meta.get("call_builder") != BUILDER or not (out / meta["wav"]).exists():
                meta = build_room_item(root, index, out, draw, split, split_name)
            items.append(dict(meta, wav=str(out / meta["wav"]), truth=truth(root)))   # the truth as defined today
    return items
