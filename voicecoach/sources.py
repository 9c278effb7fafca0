"""Frame sources that are not devices or files: audio already in memory."""

from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.typing import NDArray

from .audio.frames import Frame, frames_from_array


class ArraySource:
    """A 16 kHz mono int16 array as a frame source (generated conversations, tests, the demo)."""

    def __init__(self, audio: NDArray[np.int16], frame_ms: int = 30, start_sample: int = 0) -> None:
        self.audio = audio
        self.frame_ms = frame_ms
        self.start_sample = start_sample

    def frames(self) -> Iterator[Frame]:
        """Yield the array's frames."""
        yield from frames_from_array(self.audio, self.frame_ms, self.start_sample)

    def close(self) -> None:
        """Nothing to release."""
