"""Text to audio with a fallback chain (the configured engines, then a tone) and an LRU cache of rendered prompts.

Every failure (an engine that cannot start, errors, hangs, or is not installed) ends in the next fallback; nothing
is raised to the caller. A hung pyttsx3 engine is abandoned and a fresh one started for the next request. An engine
that failed more than ``engine_restarts`` times in a row rests for ``engine_rest_s`` (the next one speaks at once,
instead of each prompt first waiting out a hang), then is tried again: a kiosk runs for weeks, and one bad minute
must not silence an engine for good.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import stat
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock, MonotonicClock
from .engines import (EngineFactory, EngineStuck, Pyttsx3Worker, SynthError, SynthStopped, Voice,
                      default_engine_factory, shared_worker, tone)
from .espeak_command import espeak_ng_render
from .settings import SpeechSettings
from .text import split_for_speech

log = logging.getLogger(__name__)
TONE = "tone"


@dataclass(frozen=True)
class Rendered:
    """Synthesised audio and how it was made."""

    audio: NDArray[np.int16]
    sample_rate: int
    engine: str  # "pyttsx3", "espeak-ng" or "tone" (no speech could be made)
    elapsed_s: float  # time spent synthesising (0 for a cache hit)
    cached: bool = False

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate

    @property
    def is_speech(self) -> bool:
        """False when only the fallback tone could be made."""
        return self.engine != TONE


def to_rate(audio: NDArray[np.int16], in_rate: int, out_rate: int) -> NDArray[np.int16]:
    """Resample a whole utterance to ``out_rate`` by FFT (band-limited; a few ms for several seconds of speech)."""
    if in_rate == out_rate or len(audio) == 0:
        return audio
    g = math.gcd(in_rate, out_rate)
    step_in, step_out = in_rate // g, out_rate // g
    blocks = _fast_size(-(-(len(audio) + 64) // step_in))  # zero-pad (silence) to whole rate-ratio blocks
    n_in, n_out = blocks * step_in, blocks * step_out
    spectrum = np.fft.rfft(audio.astype(np.float64), n_in)
    keep = min(len(spectrum), n_out // 2 + 1)
    y = np.fft.irfft(spectrum[:keep], n_out) * (n_out / n_in)
    n = int(round(len(audio) * out_rate / in_rate))
    return np.clip(np.round(y[:n]), -32768, 32767).astype(np.int16)


def _fast_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (sizes the FFT handles fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p2 = p35
            while p2 < n:
                p2 *= 2
            best = min(best, p2)
            p35 *= 3
        p5 *= 5
    return best


def trim_trailing_silence(audio: NDArray[np.int16], rate: int, keep_ms: int = 60,
                          threshold: int = 100) -> NDArray[np.int16]:
    """Cut the end pause espeak adds (~0.35 s) down to ``keep_ms``, so listening for an answer starts sooner."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if len(loud) == 0:
        return audio
    return audio[: min(len(audio), int(loud[-1]) + 1 + rate * keep_ms // 1000)]


WORKDIR_PREFIX = "voicecoach-tts-"


def make_workdir() -> Path:
    """A private temp folder for this process's prompt WAVs (``voicecoach-tts-<pid>-*``), after removing those of
    processes of this user that died without cleaning up (killed, or crashed inside espeak): spoken words must not
    be left in the temp folder."""
    for old in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        if _left_by_a_dead_process(old):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))


def _left_by_a_dead_process(folder: Path) -> bool:
    """True for a prompt folder of this user whose process (the pid in its name) no longer runs."""
    pid_text = folder.name[len(WORKDIR_PREFIX):].partition("-")[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # alive (another user's), or no such pid at all
        return False
    return False


class Synthesizer:
    """Render text with the configured engines in order, caching results; never raises for a synthesis failure."""

    def __init__(self, settings: SpeechSettings, engine_factory: EngineFactory | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.engine_factory = engine_factory or default_engine_factory
        self.clock = clock or MonotonicClock()
        self.workdir = make_workdir()
        # an unclosed Synthesizer's folder goes when it is collected or the interpreter exits
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True)
        self.restarts = 0  # fresh pyttsx3 workers started after a failure
        self.hits = 0
        self.misses = 0
        self._worker: Pyttsx3Worker | None = None
        self._streak: dict[str, int] = {}  # failures in a row, per engine
        self._rest_until: dict[str, float] = {}  # clock time an engine is skipped until
        self._lock = threading.Lock()
        self._closed = False
        self._cache: OrderedDict[tuple, Rendered] = OrderedDict()

    def render(self, text: str, voice: Voice, sample_rate: int | None = None) -> Rendered:
        """Audio for ``text`` at ``sample_rate`` (None = the engine's own rate), from the cache when possible."""
        key = (text, voice, sample_rate)
        with self._lock:
            if self._closed:  # a render ahead still running at exit: nothing to say, nothing to warn about
                rate = sample_rate or 16000
                return Rendered(tone(rate), rate, TONE, 0.0)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return Rendered(hit.audio, hit.sample_rate, hit.engine, 0.0, cached=True)
            self.misses += 1
            result = self._synthesise(text, voice, sample_rate)
            if result.is_speech and self.settings.cache_prompts > 0:
                self._cache[key] = result
                while len(self._cache) > self.settings.cache_prompts:
                    self._cache.popitem(last=False)
            return result

    def render_text(self, text: str, voice: Voice, sample_rate: int | None = None) -> Rendered:
        """Like :meth:`render` for text of any length: rendered a few sentences at a time and joined (one long
        utterance can crash espeak); the engine named is "tone" if any piece could not be spoken."""
        chunks = split_for_speech(text)
        if len(chunks) <= 1:
            return self.render(text, voice, sample_rate)
        parts = [self.render(chunk, voice, sample_rate) for chunk in chunks]
        rate = parts[0].sample_rate
        audio = np.concatenate([to_rate(p.audio, p.sample_rate, rate) for p in parts])
        engine = next((p.engine for p in parts if not p.is_speech), parts[0].engine)
        return Rendered(audio, rate, engine, sum(p.elapsed_s for p in parts), all(p.cached for p in parts))

    def _synthesise(self, text: str, voice: Voice, sample_rate: int | None) -> Rendered:
        start = self.clock.now()
        timeout = self.settings.timeout_for(text)
        problems = []
        for engine in self.settings.engines:
            if start < self._rest_until.get(engine, float("-inf")):
                problems.append(f"{engine}: resting after repeated failures")
                continue
            try:
                audio, rate = self._run_engine(engine, text, voice, timeout)
            except EngineStuck as exc:  # the hang already counted; the next engine speaks meanwhile
                problems.append(f"{engine}: {exc}")
                continue
            except SynthStopped as exc:  # the program is being stopped: not the engine's failure
                problems.append(f"{engine}: {exc}")
                log.debug("speech engine %s: %s", engine, exc)
                continue
            except SynthError as exc:
                problems.append(f"{engine}: {exc}")
                log.warning("speech engine %s failed (%s); trying the next one", engine, exc)
                self._failed(engine)
                continue
            if len(audio) == 0 or not np.any(audio):
                problems.append(f"{engine}: produced silence")
                self._failed(engine)
                continue
            self._streak[engine] = 0
            audio = trim_trailing_silence(audio, rate)
            if sample_rate:
                audio, rate = to_rate(audio, rate, sample_rate), sample_rate
            return Rendered(audio, rate, engine, self.clock.now() - start)
        rate = sample_rate or 16000
        log.warning("could not synthesise speech (%s); the prompt is: %s", "; ".join(problems) or "no engines", text)
        return Rendered(tone(rate), rate, TONE, self.clock.now() - start)

    def _run_engine(self, engine: str, text: str, voice: Voice, timeout: float) -> tuple[NDArray[np.int16], int]:
        if engine == "espeak-ng":
            return espeak_ng_render(text, voice, timeout, self.workdir)
        if engine != "pyttsx3":
            raise SynthError(f"unknown engine {engine!r}")
        return self._pyttsx3().render(text, voice, timeout, self.workdir)

    def _failed(self, engine: str) -> None:
        """Count a failure; after more than ``engine_restarts`` in a row the engine rests for ``engine_rest_s``."""
        streak = self._streak.get(engine, 0) + 1
        self._streak[engine] = streak
        if streak > self.settings.engine_restarts:
            self._streak[engine] = 0
            self._rest_until[engine] = self.clock.now() + self.settings.engine_rest_s
            log.warning("speech engine %s failed %d times in a row; using the next engine for %.0f s, then trying "
                        "it again", engine, streak, self.settings.engine_rest_s)

    def _pyttsx3(self) -> Pyttsx3Worker:
        worker = shared_worker(self.engine_factory)  # a fresh one when the last died (hung, or failed to start)
        if self._worker is not None and worker is not self._worker:
            self.restarts += 1
            log.info("started a fresh pyttsx3 engine (restart %d)", self.restarts)
        self._worker = worker
        return worker

    def cache_info(self) -> dict[str, int]:
        """Cache hits, misses and size."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._cache)}

    def close(self) -> None:
        """Remove temporary files once a render in progress has finished (the engine worker is shared by the
        process and stays); later renders return a tone at once."""
        with self._lock:
            self._closed = True
            self._worker = None
            self._remove_workdir()
