"""Reading a shipped model's weights (``.npz``): a missing or broken file is one clear :class:`InputError`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)
M = TypeVar("M")


def load_model(build: Callable[[dict[str, np.ndarray]], M], path: Path, what: str) -> M:
    """``build`` the model ``what`` (e.g. "stream model") from the arrays in ``path``; a missing file, an unreadable
    one or one without the arrays ``build`` needs is an :class:`InputError` naming the fix."""
    try:
        with np.load(path) as z:
            model = build({k: z[k] for k in z.files})
    except FileNotFoundError:
        raise InputError(f"{what} {path} is missing: reinstall voicecoach (scripts/setup), or set "
                         "detection.interruption.method = \"features\"") from None
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise InputError(f"{what} {path} is unreadable ({type(e).__name__}): reinstall voicecoach "
                         "(scripts/setup), or set detection.interruption.method = \"features\"") from None
    log.debug("%s loaded from %s", what, path)
    return model
