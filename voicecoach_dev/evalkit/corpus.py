"""The evaluation corpus (../shared/data or $VOICECOACH_CORPUS): locating it and loading voices, words and noise.

Every clip is turned into float32 audio plus a 10 ms speech-activity mask, from which exact ground truth is
derived when clips are mixed into conversations.
"""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from voicecoach.audio.wav import read_wav  # noqa: F401 (re-exported)

from .splits import Split, split_of

RATE = 16000
HOP = 160  # 10 ms activity frames
ACTIVE_BELOW_PEAK_DB = 30.0  # a 10 ms frame is speech if within this of the clip's 95th-percentile frame level
ABOVE_FLOOR_DB = 8.0
MIN_RUN_FRAMES = 5  # a turn starts and ends on a run of this many active 10 ms frames, not on a lone click
REPO = Path(__file__).resolve().parents[2]


class CorpusMissing(SystemExit):
    """The corpus is not there: one line saying where it was looked for and how to point at it."""


def find_corpus() -> Path:
    """The corpus folder: $VOICECOACH_CORPUS, else ../shared/data next to the repository."""
    env = os.environ.get("VOICECOACH_CORPUS")
    root = Path(env) if env else (REPO.parent / "shared" / "data")
    if not (root / "voices").is_dir():
        where = f"VOICECOACH_CORPUS={env}" if env else str(root)
        raise CorpusMissing(f"evaluation corpus not found at {where}; set VOICECOACH_CORPUS to the shared data folder")
    return root


def load_audio(path: Path) -> NDArray[np.float32]:
    """A WAV file as 16 kHz mono float32 in [-1, 1], its constant DC offset taken off.

    Some corpus recordings carry their own recorder's offset (some LibriSpeech readers as large as their speech
    itself; ten of 80 over -30 dB). A voice has none: mixed as it was, every utterance of such a reader became a DC
    pulse in the talk, counted as speech by the level normalisation and the activity masks, and a simulated room passed
    it on (its impulse response's DC gain is about its speech gain). A real microphone hears one offset of its own
    at most, which ``micchain``'s ``dc`` chain adds.
    """
    x = read_wav(path).astype(np.float64) / 32768.0
    return (x - x.mean()).astype(np.float32) if x.size else x.astype(np.float32)


def frame_db(x: NDArray[np.float32]) -> NDArray[np.float64]:
    """Level of each 10 ms frame in dBFS (a partial last frame is dropped)."""
    n = len(x) // HOP
    e = np.mean(np.square(x[: n * HOP].reshape(n, HOP), dtype=np.float64), axis=1)
    return 10.0 * np.log10(e + 1e-12)


def activity(x: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Speech-activity mask per 10 ms frame: within 30 dB of the loud frames and 8 dB above the noise floor."""
    db = frame_db(x)
    if len(db) == 0:
        return np.zeros(0, bool)
    recorded = db[db > -100.0]  # digital silence (padding, gaps we inserted) says nothing about the floor
    floor = np.percentile(recorded, 10) if recorded.size else -120.0
    loud = np.percentile(db, 95)
    # A "floor" within 10 dB of the loud frames is speech, not noise (clips with digital silence between words).
    return db > max(loud - ACTIVE_BELOW_PEAK_DB, min(floor + ABOVE_FLOOR_DB, loud - 10.0))


def active_rms(x: NDArray[np.float32], mask: NDArray[np.bool_] | None = None) -> float:
    """RMS over the active frames only (the speech level, blind to pauses)."""
    mask = activity(x) if mask is None else mask
    n = len(mask)
    frames = x[: n * HOP].reshape(n, HOP)[mask]
    return float(np.sqrt(np.mean(np.square(frames, dtype=np.float64)))) if frames.size else 0.0


def trim(x: NDArray[np.float32], margin_frames: int = 0) -> NDArray[np.float32]:
    """Cut leading and trailing inactivity (keeping ``margin_frames`` of 10 ms)."""
    a, b = _speech_span(activity(x), margin_frames)
    return x[a * HOP:b * HOP]


def _speech_span(mask: NDArray[np.bool_], margin_frames: int = 0) -> tuple[int, int]:
    """First and past-the-last frame of speech, widened by a margin; (0, 0) if none.

    Speech starts at the first run of ``MIN_RUN_FRAMES`` active frames and ends at the last: a lone frame of a
    click or a noise burst in a pause is not the start of a turn.
    """
    starts, ends = _runs(mask, MIN_RUN_FRAMES)
    if not starts.size:
        return 0, 0
    return max(0, int(starts[0]) - margin_frames), min(len(mask), int(ends[-1]) + margin_frames)


def _runs(mask: NDArray[np.bool_], min_frames: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Starts and past-the-ends of the runs of True at least ``min_frames`` long."""
    d = np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = ends - starts >= min_frames
    return starts[keep], ends[keep]


def median_f0(x: NDArray[np.float32]) -> float:
    """Rough median pitch (Hz) of the voiced frames, by autocorrelation; used only to guess a speaker's sex."""
    n = 640
    frames = x[: len(x) // n * n].reshape(-1, n)
    frames = frames[activity(x)[: len(x) // HOP][:: n // HOP][: len(frames)]]
    if len(frames) == 0:
        return 0.0
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:, :n]
    lo, hi = RATE // 400, RATE // 60
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    voiced = ac[np.arange(len(ac)), lag] > 0.4 * ac[:, 0]
    return float(np.median(RATE / lag[voiced])) if voiced.any() else 0.0


@dataclass
class Voice:
    """One speaker's material: clips joined into a 'tape' normalised to unit speech RMS, with cut points."""

    name: str
    sex: str
    group: str
    clips: list[NDArray[np.float32]] = field(repr=False)
    tape: NDArray[np.float32] = field(init=False, repr=False)
    mask: NDArray[np.bool_] = field(init=False, repr=False)
    cuts: NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        gap = np.zeros(int(0.3 * RATE), np.float32)
        parts = []
        for c in self.clips:
            c = trim(c, 2)
            parts += [c, gap]
        tape = np.concatenate(parts)
        tape = tape[: len(tape) // HOP * HOP]
        self.mask = activity(tape)
        self.tape = (tape / max(active_rms(tape, self.mask), 1e-6)).astype(np.float32)
        self.cuts = _pause_midpoints(self.mask) * HOP

    def excerpt(self, rng: np.random.Generator, dur_s: float) -> NDArray[np.float32]:
        """About ``dur_s`` of speech starting and ending at pauses, trimmed to start and end on speech."""
        return self.cut(rng, dur_s)[0]

    def cut(self, rng: np.random.Generator, dur_s: float) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """An :meth:`excerpt` and its speech-activity mask (10 ms frames): where this voice is really speaking."""
        n = len(self.tape)
        tape2 = np.concatenate([self.tape, self.tape, self.tape])
        cuts2 = np.concatenate([self.cuts, self.cuts + n, self.cuts + 2 * n])
        s = int(self.cuts[rng.integers(len(self.cuts))])
        later = cuts2[cuts2 >= s + int(dur_s * RATE)]
        e = int(later[0]) if later.size else s + int(dur_s * RATE)
        if e - s > 1.6 * dur_s * RATE + RATE:  # no pause near the wanted length: cut at the wanted length
            e = s + int(dur_s * RATE)
        mask = np.concatenate([self.mask, self.mask, self.mask])[s // HOP:e // HOP]
        a, b = _speech_span(mask)
        return fade(tape2[s + a * HOP:s + b * HOP]), mask[a:b]


def _pause_midpoints(mask: NDArray[np.bool_], min_frames: int = 8) -> NDArray[np.int64]:
    """Frame indices in the middle of inactive runs of at least ``min_frames``."""
    starts, ends = _runs(~mask, min_frames)
    mids = (starts + ends) // 2
    return mids if mids.size else np.array([0], np.int64)


def fade(x: NDArray[np.float32], ms: float = 10.0) -> NDArray[np.float32]:
    """Short linear fade in and out (no clicks at cuts)."""
    k = min(int(ms * RATE / 1000), len(x) // 2)
    if k <= 0:
        return x
    x = x.copy()
    ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
    x[:k] *= ramp
    x[-k:] *= ramp[::-1]
    return x


def _sex(value: str) -> str:
    return "F" if value.strip().lower().startswith("f") else "M"


@functools.lru_cache(maxsize=2)
def voices(root: Path) -> dict[str, list[Voice]]:
    """Speakers for mixed conversations, by corpus group: librispeech, sisec, arctic, two_speakers, vctk, libri_extra."""
    v = root / "voices"
    out: dict[str, list[Voice]] = {"librispeech": [], "sisec": [], "arctic": [], "two_speakers": []}
    with open(v / "librispeech" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            clip = load_audio(v / "librispeech" / row["filename"])
            out["librispeech"].append(Voice(f"libri-{row['speaker']}", _sex(row["sex"]), "librispeech", [clip]))
    for p in sorted((v / "sisec2011").glob("*.wav")):
        out["sisec"].append(Voice(f"sisec-{p.stem}", "F" if "female" in p.stem else "M", "sisec", [load_audio(p)]))
    for spk, sex in (("aew", "M"), ("axb", "F")):  # CMU ARCTIC: aew is a male, axb a female voice
        clips = [load_audio(p) for p in sorted((v / "cmu_arctic").glob(f"*_{spk}_*.wav"))]
        out["arctic"].append(Voice(f"arctic-{spk}", sex, "arctic", clips))
    for spk in ("spk1", "spk2"):
        clips = [load_audio(p) for p in sorted((v / "two_speakers").glob(f"{spk}_*.wav"))]
        f0 = median_f0(np.concatenate(clips))
        out["two_speakers"].append(Voice(f"two-{spk}", "F" if f0 > 165 else "M", "two_speakers", clips))
    for group, folder, prefix in (("vctk", "vctk", "vctk"), ("libri_extra", "librispeech_extra", "libx")):
        out[group] = []
        labels = v / folder / "labels.csv"
        if not labels.is_file():   # an older corpus without these voices
            continue
        with open(labels, newline="") as f:
            for row in csv.DictReader(f):
                clip = load_audio(v / folder / row["file"])
                out[group].append(Voice(f"{prefix}-{row['speaker']}", _sex(row["sex"]), group, [clip]))
    return out


def voices_in(root: Path, split: Split) -> dict[str, list[Voice]]:
    """:func:`voices` limited to the speakers of one split (train / tune / eval), by corpus group."""
    return {g: [x for x in vs if split_of(x.name) is split] for g, vs in voices(root).items()}


@dataclass
class EmoActor:
    """An EmoDB actor: neutral and angry takes (the corpus copy is peak-normalised; levels are restored on use)."""

    neutral: Voice
    angry: Voice


def emodb_in(root: Path, split: Split) -> dict[str, EmoActor]:
    """:func:`emodb` limited to the actors of one split."""
    return {k: a for k, a in emodb(root).items() if split_of(a.neutral.name) is split}


@functools.lru_cache(maxsize=2)
def emodb(root: Path) -> dict[str, EmoActor]:
    """EmoDB actors with both neutral (N) and angry (W) takes; each take normalised to equal speech RMS."""
    d = root / "emotion" / "emodb"
    takes: dict[tuple[str, str], list[NDArray[np.float32]]] = {}
    sexes: dict[str, str] = {}
    with open(d / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["emotion_code"] not in ("N", "W"):
                continue
            x = trim(load_audio(d / "wav" / row["filename"]), 2)
            x = x / max(active_rms(x), 1e-6)
            takes.setdefault((row["speaker"], row["emotion_code"]), []).append(x.astype(np.float32))
            sexes[row["speaker"]] = _sex(row["speaker_info"])
    actors = {}
    for spk, sex in sorted(sexes.items()):
        if (spk, "N") in takes and (spk, "W") in takes:
            actors[spk] = EmoActor(Voice(f"emodb-{spk}-N", sex, "emodb", takes[spk, "N"]),
                                   Voice(f"emodb-{spk}-W", sex, "emodb", takes[spk, "W"]))
    return actors


def word_speaker(path: Path) -> str:
    """The speaker of a Speech Commands or FSDD word clip (``sc-<id>``, ``fsdd-<name>``), for splitting."""
    if path.parent.name == "recordings":
        return "fsdd-" + path.stem.split("_")[1]
    return "sc-" + path.stem.split("_")[0]


@functools.lru_cache(maxsize=8)
def backchannel_words(root: Path, split: Split | None = None) -> list[NDArray[np.float32]]:
    """Short words (speech under 0.6 s once trimmed) from Speech Commands and FSDD, unit speech RMS.

    ``split``: only the words of speakers in that split (None: all of them).
    """
    v = root / "voices"
    paths = sorted((v / "speech_commands").glob("*/*.wav"))
    paths += sorted((v / "fsdd" / "recordings").glob("*_[0-4].wav"))[::3]
    words = []
    for p in paths:
        if split is not None and split_of(word_speaker(p)) is not split:
            continue
        x = trim(load_audio(p))
        if 0.15 * RATE <= len(x) < 0.58 * RATE:
            words.append(fade((x / max(active_rms(x), 1e-6)).astype(np.float32)))
    return words


@functools.lru_cache(maxsize=8)
def noises(root: Path, split: Split | None = None) -> dict[str, list[tuple[str, NDArray[np.float32]]]]:
    """Background beds (household, music, misc) and transient events (ESC-50), as (name, audio).

    ``split``: only the beds and events in that split (None: all of them).
    """
    n = root / "noise"
    beds = [(f"{p.parent.name}/{p.stem}", load_audio(p))
            for sub in ("household", "music", "misc") for p in sorted((n / sub).glob("*.wav"))]
    events = [(p.stem, load_audio(p)) for p in sorted((n / "esc50").glob("*.wav"))]
    keep = lambda k: split is None or split_of(k) is split  # noqa: E731
    return {"beds": [(k, x) for k, x in beds if np.any(x) and keep(k)],
            "events": [(k, x) for k, x in events if np.any(x) and keep(k)]}
