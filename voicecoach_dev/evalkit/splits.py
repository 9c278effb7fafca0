"""Which recordings may be used for what: training, tuning, or held-out evaluation.

Every speaker (and every noise or music bed) falls in exactly one split, decided by a stable hash of its name, so a
speaker a model was trained on, or a threshold was tuned on, never appears in the figures reported as held out.

- ``TRAIN``: model training only (``scripts/train-overlap``).
- ``TUNE``: choosing settings and thresholds; draws built from it are "tuned on".
- ``EVAL``: reported figures only; nothing is chosen by looking at them.

EmoDB has only five actors (the only neutral-versus-angry material), so they are assigned by hand: three to tune
on (one male, two female), two held out (one male, one female); none is trained on.

Background beds are few (14), and the hash left EVAL with two music clips and no household noise at all, so the
beds the hash put in TUNE or EVAL are re-dealt by hand (TRAIN is left exactly as the hash made it): each of the two
gets household noise and music; the one unnamed "misc" noise outside TRAIN stays in TUNE.
"""

from __future__ import annotations

import enum
import hashlib


class Split(enum.Enum):
    """Where a recording may be used."""

    TRAIN = "train"
    TUNE = "tune"
    EVAL = "eval"


# Fractions of hashed names in TRAIN and TUNE (the rest is EVAL).
TRAIN_SHARE = 0.6
TUNE_SHARE = 0.2

EMODB = {"03": Split.TUNE, "08": Split.TUNE, "13": Split.TUNE, "09": Split.EVAL, "10": Split.EVAL}


BEDS = {"household/doing_the_dishes": Split.TUNE, "household/fridge": Split.TUNE, "misc/noise2": Split.TUNE,
        "music/guitar_16k": Split.TUNE,
        "household/exercise_bike": Split.EVAL, "household/traffic": Split.EVAL,
        "music/dev1__bearlin-roads__snip_85_99__mix": Split.EVAL}


def speaker_key(name: str) -> str:
    """The speaker behind a voice or take name: ``emodb-03-W`` and ``emodb-03-N`` are the same actor."""
    if name.startswith("emodb-"):
        return "emodb-" + name.split("-")[1]
    return name


def split_of(name: str) -> Split:
    """The split of a speaker or bed, by name (e.g. ``libri-103``, ``vctk-p228``, ``emodb-03-W``, ``music/x``)."""
    key = speaker_key(name)
    if key in BEDS:
        return BEDS[key]
    if key.startswith("emodb-"):
        return EMODB.get(key.split("-")[1], Split.EVAL)
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0**64
    if h < TRAIN_SHARE:
        return Split.TRAIN
    return Split.TUNE if h < TRAIN_SHARE + TUNE_SHARE else Split.EVAL


def in_split(names: list[str], split: Split) -> list[str]:
    """The names that fall in ``split``, in their given order."""
    return [n for n in names if split_of(n) is split]
