"""Synthesis engines: pyttsx3 on its own worker thread, and a short tone; what both engines share.

pyttsx3 (2.99 with espeak-ng here) has measured bugs: ``runAndWait()`` returns before the audio exists, the first
``save_to_file`` returns before the file is written, the rate races unless set right before each utterance, two
threads on one engine crash, and it tells espeak the text is ten times its size (fixed here, see
:func:`_fix_synth_size`). So one thread owns the engine; every utterance sets voice, rate and volume, is
saved to its own temp WAV (removed by the worker once read, or once given up), and counts as done only when the
``finished-utterance`` callback fired AND the file is complete. A caller waits with a timeout; on a hang the
worker is abandoned (it is a daemon thread), and a fresh engine is started only once the abandoned thread has left
espeak: a second engine beside one still inside espeak crashes the process (SIGSEGV, measured 3 of 3). Until then
the next engine in the chain speaks.

The ``espeak-ng`` command is the other engine (``espeak_command.py``), first on Linux.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Any]
_POLL_S = 0.005


class SynthError(Exception):
    """A synthesis engine failed (could not start, errored, or produced no audio)."""


class EmptyUtterance(SynthError):
    """The engine finished but wrote no audio."""


class SynthTimeout(SynthError):
    """A synthesis engine did not finish in time (it is abandoned)."""


class SynthStopped(SynthError):
    """The engine's process was ended by a signal the whole program got (Ctrl-C in its terminal, a hang-up): the
    program is stopping, the engine did not fail (not logged as a failure, not counted against it)."""


@dataclass(frozen=True)
class Voice:
    """What to say it with: voice spec ("" = default), words per minute, volume 0..1."""

    voice: str
    rate_wpm: int
    volume: float


def read_pcm16(path: Path) -> tuple[NDArray[np.int16], int] | None:
    """A complete mono 16-bit WAV (or AIFF, written by macOS's voice) as (samples, rate); None while incomplete."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return _read_aiff16(data)
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, rate, channels = 12, 0, 1
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            _tag, channels, rate = struct.unpack("<HHI", data[body:body + 8])
        elif cid == b"data":
            if size in (0, 0xFFFFFFFF, 0x7FFFFFFF) or body + size > len(data) or rate == 0:
                return None  # header not patched yet, or data still arriving
            pcm = np.frombuffer(data[body:body + size - size % (2 * channels)], dtype="<i2")
            return _mono(pcm, channels), int(rate)
        pos = body + size + (size % 2)
    return None


def _mono(pcm: NDArray, channels: int) -> NDArray[np.int16]:
    if channels > 1:
        return pcm.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return pcm.astype(np.int16)


def _read_aiff16(data: bytes) -> tuple[NDArray[np.int16], int] | None:
    """16-bit big-endian PCM AIFF: COMM gives channels and the 80-bit float rate, SSND the samples."""
    pos, channels, rate, bits = 12, 0, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"COMM" and size >= 18:
            channels, _frames, bits = struct.unpack(">hIh", data[body:body + 8])
            exponent, mantissa = struct.unpack(">HQ", data[body + 8:body + 18])
            rate = int(round(mantissa * 2.0 ** ((exponent & 0x7FFF) - 16383 - 63)))
        elif cid == b"SSND":
            if bits != 16 or rate <= 0 or channels <= 0 or body + size > len(data) or size < 8:
                return None
            offset = struct.unpack(">I", data[body:body + 4])[0]
            raw = data[body + 8 + offset:body + size]
            pcm = np.frombuffer(raw[: len(raw) - len(raw) % (2 * channels)], dtype=">i2")
            return _mono(pcm, channels), rate
        pos = body + size + (size % 2)
    return None


def _quiet_driver_prints() -> None:
    """pyttsx3's espeak driver print()s "Audio saved to ..." on stdout; send it to the debug log instead."""
    try:
        from pyttsx3.drivers import espeak as driver
    except Exception:  # noqa: BLE001 - another platform's driver, or pyttsx3 missing
        return
    driver.print = lambda *args, **kw: log.debug("pyttsx3: %s", " ".join(map(str, args)))  # type: ignore[attr-defined]


def _fix_synth_size() -> None:
    """pyttsx3 2.99 tells ``espeak_Synth`` the text is ten times its length, and asynchronous espeak-ng copies that
    many bytes: it reads past the end of the text, and crashed the process (SIGSEGV) when the text lay within
    that distance of unreadable memory (``demo`` in CI, 2 of 2 runs; reproduced with the text placed there, and
    under valgrind as "invalid read" in every render). Pass the real size, the text and its NUL, as pyttsx3's own
    ``Synth_Mark`` does (upstream: nateshmbhat/pyttsx3 issue 448, pull request 450, not released in 2.99)."""
    try:
        from pyttsx3.drivers import _espeak
    except Exception:  # noqa: BLE001 - another platform's driver, or no libespeak-ng
        return
    if getattr(_espeak.Synth, "voicecoach_fixed", False):
        return

    def synth(text: str | bytes, position: int = 0, position_type: int = _espeak.POS_CHARACTER,
              end_position: int = 0, flags: int = 0, user_data: Any = None) -> Any:
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return _espeak.cSynth(data, len(data) + 1, position, position_type, end_position, flags, None, user_data)

    synth.voicecoach_fixed = True  # type: ignore[attr-defined]
    _espeak.Synth = synth


def default_engine_factory() -> Any:
    """A fresh pyttsx3 engine (not ``pyttsx3.init()``, which would hand back a hung engine still referenced)."""
    import pyttsx3

    _fix_synth_size()
    engine = pyttsx3.Engine()
    _quiet_driver_prints()
    return engine


# pyttsx3's espeak driver clears the process-wide espeak callback when an engine is garbage collected, which
# silently hangs whichever engine is live (measured: a closed Speaker's engine hung the next one). So engines are
# never destroyed, and all Speakers in a process share one worker per engine factory.
_EVERY_ENGINE: list[Any] = []
_WORKERS: dict[Any, "Pyttsx3Worker"] = {}
_RETIRED: list["Pyttsx3Worker"] = []  # abandoned workers whose thread may still be inside the engine
_WORKERS_LOCK = threading.Lock()
_REAP_S = 0.1  # how long to wait for a just-retired worker's thread to end


class EngineStuck(SynthError):
    """An abandoned pyttsx3 engine is still synthesising; no second engine may start beside it."""


def shared_worker(factory: EngineFactory) -> "Pyttsx3Worker":
    """The process's live worker for ``factory``; a new one if there is none or it died.

    Raises :class:`EngineStuck` while a retired worker's thread is still running (espeak is one library state per
    process: two engines at once crash it), so the caller uses its next engine until that thread has ended."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get(factory)
        if worker is not None and worker.alive:
            return worker
        _retire_dead_locked()
        for old in list(_RETIRED):
            old.join(_REAP_S)
            if not old.running:
                _RETIRED.remove(old)
        if _RETIRED:
            raise EngineStuck(f"{len(_RETIRED)} abandoned pyttsx3 engine(s) still synthesising; a new one would "
                              "crash espeak, so it starts once they have finished")
        worker = _WORKERS[factory] = Pyttsx3Worker(factory)
        return worker


def _retire_dead_locked() -> None:
    """Move every worker that timed out or died from the live ones to the retired ones (hold the lock)."""
    for factory, worker in list(_WORKERS.items()):
        if not worker.alive:
            worker.retire()
            _RETIRED.append(worker)
            del _WORKERS[factory]


def wait_for_abandoned(timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for each abandoned pyttsx3 worker's thread to end; True when none is left.

    A worker abandoned by a timeout counts at once, not only after the next :func:`shared_worker` call retires it."""
    with _WORKERS_LOCK:
        _retire_dead_locked()
        retired = list(_RETIRED)
    for worker in retired:
        worker.join(timeout_s)
    return not any(w.running for w in retired)


@dataclass
class _Request:
    text: str
    voice: Voice
    path: Path
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[NDArray[np.int16], int] | None = None
    error: str = ""


class Pyttsx3Worker:
    """One thread that owns one pyttsx3 engine and renders requests in order."""

    _ids = itertools.count(1)

    def __init__(self, factory: EngineFactory) -> None:
        self.factory = factory
        self.alive = True
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self._voices: list[tuple[str, str]] = []
        self._default_voice = ""
        self._current_voice: str | None = None
        self._last_path: Path | None = None  # the latest request's temp WAV (removed again when the thread ends)
        self._thread = threading.Thread(target=self._run, name=f"voicecoach-tts-{next(self._ids)}", daemon=True)
        self._thread.start()

    def render(self, text: str, voice: Voice, timeout_s: float, workdir: Path) -> tuple[NDArray[np.int16], int]:
        """Synthesise on the worker thread; raise SynthTimeout (and retire this worker) when it takes too long."""
        if not self.alive:
            raise SynthError("pyttsx3 worker was retired")
        fd, name = tempfile.mkstemp(suffix=".wav", dir=workdir)
        os.close(fd)
        os.unlink(name)  # the engine creates it; its absence tells "not written yet"
        req = _Request(text, voice, Path(name))
        self._requests.put(req)
        if not req.done.wait(timeout_s):  # the worker removes the request's file whenever it is done with it
            self.retire()
            raise SynthTimeout(f"pyttsx3 did not finish within {timeout_s:.1f} s")
        if req.result is None:
            raise SynthError(req.error or "pyttsx3 produced no audio")
        return req.result

    def retire(self) -> None:
        """Stop using this worker; a hung thread is left behind (daemon) until it returns."""
        self.alive = False
        self._requests.put(None)

    @property
    def running(self) -> bool:
        """True while the worker's thread exists (after :meth:`retire`: it is still inside the engine)."""
        return self._thread.is_alive()

    def join(self, timeout_s: float) -> None:
        """Wait at most ``timeout_s`` for the worker's thread to end (call :meth:`retire` first)."""
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            engine = self.factory()
            _EVERY_ENGINE.append(engine)
            finished = threading.Event()
            engine.connect("finished-utterance", lambda **kw: finished.set())
            self._default_voice = str(engine.getProperty("voice") or "")
            self._voices = [(str(v.id), str(v.name)) for v in engine.getProperty("voices") or []]
        except Exception as exc:  # noqa: BLE001 - any init failure ends in the next fallback
            self._fail_all(f"pyttsx3 could not start: {type(exc).__name__}: {exc}")
            return
        try:
            self._serve(engine, finished)
        finally:
            if engine_is_espeak(engine):  # espeak may synthesise on after runAndWait returned: leave only when idle
                self._wait_espeak_idle(always=True)
            if self._last_path is not None:  # espeak's own thread may have written it after the worker gave up
                self._last_path.unlink(missing_ok=True)

    def _serve(self, engine: Any, finished: threading.Event) -> None:
        """Render requests in order until retired."""
        while True:
            req = self._requests.get()
            if req is None or not self.alive:
                if req is not None:
                    req.error = "pyttsx3 worker was retired"
                    req.done.set()
                return
            self._last_path = req.path
            try:
                for _attempt in range(2):  # an empty file is worth one more try on the same engine
                    try:
                        req.result = self._render_one(engine, finished, req)
                        break
                    except EmptyUtterance as exc:
                        req.error = str(exc)
                    except Exception as exc:  # noqa: BLE001
                        req.error = f"pyttsx3 failed: {type(exc).__name__}: {exc}"
                        break
            finally:  # the words are in memory now (or lost): never left in a file, even after a time-out
                req.path.unlink(missing_ok=True)
            req.done.set()

    def _fail_all(self, message: str) -> None:
        self.alive = False
        while True:
            req = self._requests.get()
            if req is None:
                return
            req.error = message
            req.done.set()

    def _render_one(self, engine: Any, finished: threading.Event, req: _Request) -> tuple[NDArray[np.int16], int]:
        finished.clear()
        voice_id = self._resolve(req.voice.voice)
        if voice_id != self._current_voice:  # set only on change: a voice change races the rate setting
            engine.setProperty("voice", voice_id)
            self._current_voice = voice_id
        rate, amplitude = int(req.voice.rate_wpm), int(round(req.voice.volume * 100))
        engine.setProperty("rate", rate)
        engine.setProperty("volume", float(req.voice.volume))
        # espeak applies setProperty asynchronously and loses the rate after a voice change (measured); its
        # embedded commands (\x01 <value> S = speed, A = amplitude) take effect inside the utterance itself.
        prefix = f"\x01{rate}S\x01{amplitude}A " if engine_is_espeak(engine) else ""
        if prefix:
            self._wait_espeak_idle()
        engine.save_to_file(prefix + req.text, str(req.path))
        engine.runAndWait()
        while not finished.wait(0.05):  # runAndWait may return before the utterance ends
            if not self.alive:
                raise SynthError("retired while waiting for the utterance")
        if prefix:
            self._wait_espeak_idle()
        while self.alive:
            audio = read_pcm16(req.path)
            if audio is not None:
                return audio
            if req.path.exists() and req.path.stat().st_size <= 44 and finished.is_set():
                raise EmptyUtterance("pyttsx3 wrote an empty file")
            threading.Event().wait(_POLL_S)  # the first save can return before the file exists
        raise SynthError("retired while waiting for the file")

    def _wait_espeak_idle(self, always: bool = False) -> None:
        """Wait until espeak has no message in flight (while this worker is in use, or ``always``).

        pyttsx3's runAndWait calls ``espeak_Cancel`` whenever espeak reports it is still busy; the cancelled
        message's end event then arrives after the next utterance started, and pyttsx3 writes that utterance as an
        empty file (measured: about 1 in 60 prompts hung this way). And an abandoned worker's thread leaves only
        when espeak is idle: espeak's own thread calling back while a new engine sets its callback crashed the
        process (SIGSEGV, measured).
        """
        from pyttsx3.drivers import _espeak

        while (self.alive or always) and _espeak.IsPlaying():
            threading.Event().wait(0.001 if self.alive else 0.01)  # an abandoned worker needs no hurry

    def _resolve(self, spec: str) -> str:
        """A voice spec (id, id without family, name, or part of a name; '+variant' kept) to an engine voice id."""
        return voice_id(spec, self._voices) or self._default_voice


def list_voices(timeout_s: float = 5.0) -> list[tuple[str, str]]:
    """(id, name) of every voice: the espeak-ng command's, else pyttsx3's; [] when neither works."""
    from .espeak_command import command_voices

    listed = command_voices(timeout_s)
    if listed:
        return list(listed)
    found: list[tuple[str, str]] = []

    def ask() -> None:
        engine = default_engine_factory()
        found.extend((str(v.id), str(v.name)) for v in engine.getProperty("voices") or [])

    thread = threading.Thread(target=ask, name="voicecoach-tts-voices", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return list(found)


def engine_is_espeak(engine: Any) -> bool:
    """True for a pyttsx3 engine driving espeak (the Linux driver), which understands embedded commands."""
    return str(getattr(engine, "driver_name", "")) == "espeak"


def clean_text(text: str) -> str:
    """Text with control characters (which espeak would read as embedded commands) turned into spaces."""
    return "".join(c if c.isprintable() else " " for c in text)


def resolve_voice(spec: str, voices: list[tuple[str, str]]) -> str | None:
    """The id of the voice matching ``spec`` exactly (id, id after '/', name), else by part of its name."""
    s = spec.strip().lower()
    if not s:
        return None
    for vid, name in voices:
        if s in (vid.lower(), vid.lower().rsplit("/", 1)[-1], name.lower()):
            return vid
    for vid, name in voices:
        if s in name.lower() or s in vid.lower():
            return vid
    return None


def missing_voice(spec: str, voices: list[tuple[str, str]]) -> bool:
    """True when ``spec`` names a voice (see :func:`voice_id`) that none of ``voices`` matches; False when
    ``voices`` is empty (nothing is known then: the engines report that themselves)."""
    return bool(spec) and bool(voices) and resolve_voice(spec.partition("+")[0], voices) is None


_UNKNOWN_VOICES: set[str] = set()


def voice_id(spec: str, voices: list[tuple[str, str]]) -> str:
    """The id of the voice a spec names (id, id without family, name, or part of a name; '+variant' kept); ""
    (the default voice, with one warning per spec) when nothing matches."""
    if not spec:
        return ""
    base, plus, variant = spec.partition("+")
    found = resolve_voice(base, voices)
    if found is None:
        if spec not in _UNKNOWN_VOICES:
            _UNKNOWN_VOICES.add(spec)
            log.warning("no TTS voice matches %r; using the default voice (list them with: voicecoach say "
                        "--voices)", spec)
        return ""
    return found + plus + variant


def tone(sample_rate: int, freq_hz: float = 660.0, duration_s: float = 0.25, level: float = 0.3
         ) -> NDArray[np.int16]:
    """A short soft beep with 20 ms fades: what is played when no speech could be synthesised."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    return np.round(level * 32767 * ramp * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)
