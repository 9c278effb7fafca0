""""Hear a rehearsal": a check-in script rendered to a WAV the browser plays, as the couple would hear it.

The same offline rehearsal as ``voicecoach checkin NAME --answers yes --to FILE`` (a fake clock, every prompt
rendered by the product's own voice), with the long silences where the couple would talk shortened to
:data:`GAP_S`, so a 45-minute meeting is a few minutes to listen to and a few MB to send. Rendered once per script
file version and voice setting (kept in memory, at most :data:`KEEP` of them).
"""

from __future__ import annotations

import io
import logging
import threading
import wave
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from ..audio.frames import SAMPLE_RATE
from ..config import Config

log = logging.getLogger(__name__)

GAP_S = 1.5  # a silence longer than this (where the couple would talk) is cut down to it
KEEP = 3
ANSWERS = ["yes"]  # "Is now a good time?" - yes; then every turn runs its full time, with no answers


def shorten_silences(audio: NDArray[np.int16], gap_s: float = GAP_S) -> NDArray[np.int16]:
    """``audio`` with every run of exact silence longer than ``gap_s`` cut down to ``gap_s``."""
    gap = int(gap_s * SAMPLE_RATE)
    silent = audio == 0
    if not silent.any():
        return audio
    edges = np.flatnonzero(np.diff(np.concatenate(([0], silent.astype(np.int8), [0]))))
    keep = np.ones(len(audio), dtype=bool)
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start > gap:
            keep[start + gap:end] = False
    return audio[keep]


def wav_bytes(audio: NDArray[np.int16], sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(audio.astype("<i2").tobytes())
    return buf.getvalue()


class Rehearsals:
    """Renders and keeps rehearsal WAVs of check-in scripts (thread-safe: one render at a time)."""

    def __init__(self, config: Config, render: Callable[[str], tuple[NDArray[np.int16], int]] | None = None) -> None:
        self.config = config
        self._render = render
        self._speaker: Any = None
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def _renderer(self) -> Callable[[str], tuple[NDArray[np.int16], int]]:
        if self._render is None:
            from ..app import make_speaker

            self._speaker = make_speaker(self.config, render_only=True)  # renders only: never plays
            self._render = self._speaker.render
        return self._render

    def wav(self, name: str) -> bytes:
        """The rehearsal of script ``name`` as WAV bytes; InputError when there is no such script."""
        from ..checkin.library import Library
        from ..rehearse import rehearse

        with self._lock:
            library = Library.load()
            entry = library.active(name)  # InputError naming the scripts there are
            try:
                version = entry.path.stat().st_mtime_ns
            except OSError:
                version = 0
            key = (name, str(entry.path), version, self.config.speech)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            from ..app import runner_factory

            runner = runner_factory(self.config)(name)
            result = rehearse(runner, list(ANSWERS), render=self._renderer())
            audio = shorten_silences(result.audio if result.audio is not None else np.zeros(0, np.int16))
            data = wav_bytes(audio)
            log.info("web: rehearsal of %s rendered (%.0f s of audio)", name, len(audio) / SAMPLE_RATE)
            self._cache[key] = data
            while len(self._cache) > KEEP:
                self._cache.popitem(last=False)
            return data

    def close(self) -> None:
        """Close the rendering voice, if one was made."""
        if self._speaker is not None:
            self._speaker.close()
