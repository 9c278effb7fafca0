"""Sound devices: the only module that imports sounddevice (lazily).

The microphone callback only copies the block into a bounded queue and counts overflows; the consumer resamples
to 16 kHz when the device cannot open at 16 kHz, and cuts fixed frames stamped with their sample position. The
device block is ``BLOCK_MS`` (three 30 ms frames): each block wakes the sound server's thread, PortAudio's and
ours, so a block per frame cost about three times the wake-ups for the same frames (a block adds at most
60 ms to when a frame is decided).

PortAudio is one per process. :func:`reinitialize` (after a lost device or a restarted sound server) ends every
stream it had, the speaker's too, so each stream remembers the :func:`generation` it was opened in: a stream from
an older one is never stopped or closed again (its memory is PortAudio's to reuse, possibly for the new
microphone stream, which a late close would then end), and the speaker reopens at once instead of stalling.
Opening, closing and reinitialising hold :func:`portaudio_lock`, so one thread never re-scans under another's open.

A PortAudio call can block for ever: with the sound server frozen (stopped, not crashed) ``Pa_StopStream`` on a
PulseAudio-backed stream never returned (3 of 3 tries), so Ctrl-C never ended ``listen``. So every call that
opens, closes, queries for an open or reinitialises runs on a daemon thread holding the lock, and the caller waits
at most ``OPEN_TIMEOUT_S`` / ``CLOSE_TIMEOUT_S`` / ``REINIT_TIMEOUT_S``: a call still running then is left behind
(logged once, named by :func:`hung`; a stream it opens late is closed again) and the caller goes on (an open or
reinitialise raises :class:`PortAudioHung`, a :class:`DeviceError`). PortAudio's own clean-up at exit (sounddevice's
atexit ``Pa_Terminate``, which closes every open stream again) is skipped while a call is left behind, and is
itself bounded by ``EXIT_TIMEOUT_S``.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from ..clock import MonotonicClock, suspended_clock
from ..errors import DeviceError, InputError
from ..lognotes import NOTICED
from .frames import SAMPLE_RATE, Frame, Framer, Resampler, float_to_int16
from .server import DigitalSilence, monitor_as_default

log = logging.getLogger(__name__)
SUSPEND_MIN_S = 1.0  # the machine was suspended at least this long: the audio clock skips it
BLOCK_MS = 90      # microphone block: a whole number of frames (rounded down to one, at least)
_sd: Any = None
_generation = 0  # bumped by every reinitialize(): streams opened before belong to a PortAudio that is gone
_lock = threading.RLock()
T = TypeVar("T")

OPEN_TIMEOUT_S = 5.0     # finding and opening a device (a slow open is closed again when it finishes late)
CLOSE_TIMEOUT_S = 3.0    # stopping and closing a stream
REINIT_TIMEOUT_S = 5.0   # PortAudio's terminate + initialise (a re-scan of the devices)
EXIT_TIMEOUT_S = 3.0     # PortAudio's terminate at interpreter exit
_hung: list[str] = []    # PortAudio calls running past their time-out (removed if they return after all)
_state = threading.Lock()  # guards _hung and each call's abandoned/outcome


class PortAudioHung(DeviceError):
    """A PortAudio call did not return in time (a hung sound server); it was left running on a daemon thread."""


def hung() -> tuple[str, ...]:
    """What PortAudio is still busy with past its time-out ("close the microphone", ...); empty normally."""
    return tuple(_hung)


def call_bounded(work: Callable[[], T], what: str, timeout_s: float,
                 undo: Callable[[T], object] | None = None) -> T:
    """Run ``work()`` holding :func:`portaudio_lock` on a daemon thread; its result, or its exception re-raised.

    If it has not returned within ``timeout_s`` (or the lock is still held by a call left behind), it is left
    running, the first such call is logged as a warning naming ``what`` and :class:`PortAudioHung` is raised;
    should it return after all, it is forgotten and ``undo(result)`` is called (close a stream nobody wants now)."""
    call = _Call(what)
    threading.Thread(target=call.run, args=(work, max(0.0, timeout_s - 0.25), undo),
                     name=f"voicecoach-portaudio ({what})", daemon=True).start()
    finished = call.done.wait(timeout_s)
    first = False
    with _state:
        if not finished and not call.done.is_set():
            call.abandoned = True
            first = not _hung
            _hung.append(what)
    if call.abandoned:
        (log.warning if first else log.debug)("the sound system did not %s within %g s; going on without it",
                                              what, timeout_s)
        raise PortAudioHung(f"the sound system did not {what} within {timeout_s:g} s (is it hung?)")
    ok, value = call.outcome[0]
    if not ok:
        raise value
    return value


class _Call:
    """One bounded PortAudio call: its outcome, and whether the caller gave up on it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.done = threading.Event()
        self.abandoned = False  # set by the caller under _state when it stops waiting
        self.outcome: list[tuple[bool, Any]] = []

    def run(self, work: Callable[[], Any], lock_timeout_s: float, undo: Callable[[Any], object] | None) -> None:
        """The thread: take the lock (or give up: a call left behind holds it), work, and undo if too late."""
        try:
            # a call left behind holds the lock (it took it before its work hung): do not wait for it again
            if not _lock.acquire(timeout=0.0 if _hung else lock_timeout_s):
                busy = ", ".join(_hung) or "another call"
                self._finish(False, PortAudioHung(f"the sound system is still busy ({busy}); cannot {self.what}"),
                             ran=False)
                return
            try:
                try:
                    result: tuple[bool, Any] = (True, work())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    result = (False, exc)
                if self._finish(*result) and result[0] and undo is not None:
                    try:
                        undo(result[1])  # still under the lock
                    except Exception as exc:  # noqa: BLE001
                        log.debug("undoing a late '%s': %s", self.what, exc)
            finally:
                _lock.release()
        finally:
            self.done.set()

    def _finish(self, ok: bool, value: Any, ran: bool = True) -> bool:
        """Record the outcome; True if the caller had already given up (then the call is no longer 'hung')."""
        with _state:
            self.outcome.append((ok, value))
            if not self.abandoned:
                self.done.set()
                return False
            if self.what in _hung:
                _hung.remove(self.what)
        if ran:
            log.info("the sound system did %s after all", self.what)
        return True


def generation() -> int:
    """How many times PortAudio was reinitialised in this process (a stream records it when it opens)."""
    return _generation


def portaudio_lock() -> threading.RLock:
    """Held while a stream is opened or closed, and while PortAudio is reinitialised."""
    return _lock


def sounddevice() -> Any:
    """Import sounddevice on first use, turning a missing PortAudio into a clear error."""
    global _sd
    if _sd is None:
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library not found
            raise DeviceError(f"cannot use sound devices: {exc} "
                              "(install it: sudo apt-get install libportaudio2)") from None
        _sd = sd
        handler = getattr(sd, "_exit_handler", None)
        if handler is not None:  # PortAudio's terminate at exit: bounded, and skipped while a call is hung
            atexit.unregister(handler)
            atexit.register(terminate_at_exit, handler)
    return _sd


def terminate_at_exit(terminate: Callable[[], object]) -> bool:
    """Run sounddevice's exit handler (``Pa_Terminate``, closing every stream still open) unless a PortAudio call
    is still hung (it would close that stream again and hang too), for at most ``EXIT_TIMEOUT_S``; True if it ran
    to the end."""
    if _hung:
        log.debug("not terminating PortAudio at exit: still busy (%s)", ", ".join(_hung))
        _keep_loaded()
        return False
    try:
        call_bounded(terminate, "terminate at exit", EXIT_TIMEOUT_S)
    except PortAudioHung:
        _keep_loaded()
        return False
    except Exception as exc:  # noqa: BLE001 - PortAudio errors at exit change nothing
        log.debug("PortAudio terminate at exit: %s", exc)
    return True


def _keep_loaded() -> None:
    """Keep the PortAudio library mapped until the process ends. Its threads of a stream left behind still run;
    when the interpreter's clean-up freed sounddevice, cffi unloaded the library under them and the process died
    of SIGSEGV on the way out (6 of 6 frozen-server runs; core dump: the callback thread in unmapped code).
    ctypes never unloads a library it opened."""
    import ctypes

    try:
        ctypes.CDLL(getattr(_sd, "_libname", None) or "libportaudio.so.2")
    except (OSError, TypeError) as exc:
        log.debug("cannot pin the PortAudio library: %s", exc)


def reinitialize() -> None:
    """Make PortAudio rescan devices (after a device was unplugged or the sound server restarted)."""

    def rescan() -> None:
        global _generation
        # imported here, on the bounded thread: a first import initialises PortAudio, and while an import left
        # behind (one that hung) still runs, importing on the caller's thread waited for it without end
        sd = sounddevice()
        _generation += 1  # every stream open until now is ended by the terminate below
        sd._terminate()
        sd._initialize()

    try:
        call_bounded(rescan, "re-scan the sound devices", REINIT_TIMEOUT_S)
    except PortAudioHung as exc:  # logged by call_bounded
        log.debug("PortAudio reinitialise failed: %s", exc)
    except DeviceError:
        raise  # no PortAudio library at all (sounddevice's import): the caller says so, as before
    except Exception as exc:  # noqa: BLE001 - PortAudio raises various errors here
        log.debug("PortAudio reinitialise failed: %s", exc)


@dataclass(frozen=True)
class DeviceInfo:
    """One sound device as PortAudio reports it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    """All devices PortAudio sees (empty when there is no sound card or server)."""
    sd = sounddevice()
    try:
        devices = sd.query_devices()
        default_in, default_out = _defaults(sd)
    except Exception as exc:  # noqa: BLE001
        log.debug("query_devices failed: %s", exc)
        return []
    return [DeviceInfo(i, d["name"], int(d["max_input_channels"]), int(d["max_output_channels"]),
                       float(d["default_samplerate"]), i == default_in, i == default_out)
            for i, d in enumerate(devices)]


def _defaults(sd: Any) -> tuple[int, int]:
    try:
        din, dout = sd.default.device
    except Exception:  # noqa: BLE001
        return -1, -1
    return int(din if din is not None else -1), int(dout if dout is not None else -1)


def find_device(spec: str | int | None, kind: str) -> int | None:
    """Resolve a device given by index or part of its name; ``None``/"" means the system default.

    ``kind`` is "input" or "output". Raises :class:`InputError` naming the choices when nothing matches.
    """
    if spec is None or spec == "":
        return None
    devices = [d for d in list_devices()
               if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    text = str(spec).strip()
    if text.isdigit():
        idx = int(text)
        if any(d.index == idx for d in devices):
            return idx
        raise InputError(f"no {kind} device with index {idx} (list them with: voicecoach devices)")
    matches = [d for d in devices if text.lower() in d.name.lower()]
    if not matches:
        raise InputError(f"no {kind} device matching '{text}' (list them with: voicecoach devices)")
    if len(matches) > 1:
        exact = [d for d in matches if d.name.lower() == text.lower()]
        if len(exact) == 1:
            return exact[0].index
        log.info("several %s devices match '%s'; using %s", kind, text, matches[0].name)
    return matches[0].index


def choose_rate(device: int | None, kind: str = "input") -> int:
    """16 kHz when the device accepts it, else the device's own default rate."""
    sd = sounddevice()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
        return SAMPLE_RATE
    except Exception:  # noqa: BLE001 - PortAudioError or ValueError
        pass
    try:
        info = sd.query_devices(device, kind)
    except Exception as exc:  # noqa: BLE001
        log.debug("PortAudio cannot query the %s device %s: %s", kind, device, exc)
        what = f"no {kind} device found (none is plugged in, or no sound server is running)" if device is None \
            else f"the {kind} device {device} cannot be used right now"
        raise DeviceError(f"{what}; check with: voicecoach devices") from None
    return int(info["default_samplerate"])


def choose_channels(device: int | None, rate: int, kind: str = "input") -> int:
    """1 when the device accepts mono at ``rate``, else the fewest channels it accepts (some USB and HAT mics are
    stereo- or 4-channel-only on raw ALSA); 1 when nothing can be checked (opening then says what is wrong)."""
    sd = sounddevice()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        most = int(sd.query_devices(device, kind)[f"max_{kind}_channels"])
    except Exception:  # noqa: BLE001 - no such device: let open() report it
        return 1
    for channels in sorted({1, min(2, most), most} - {0}):
        try:
            check(device=device, samplerate=rate, channels=channels, dtype="int16")
            return channels
        except Exception:  # noqa: BLE001 - PortAudioError or ValueError
            continue
    return 1


STALL_STEP_S = 0.25  # the microphone's stall is counted in waits this long (see MicSource._next_block)


class MicSource:
    """The microphone as a frame source. ``frames()`` raises :class:`DeviceError` when the device is lost.

    It opens at 16 kHz mono when the device allows, else at the device's own rate and/or with the fewest channels
    it accepts; the first channel is used and resampled to 16 kHz. ``rate``/``channels`` force a format.
    """

    def __init__(self, device: str | int | None = None, frame_ms: int = 30, queue_blocks: int = 200,
                 start_sample: int = 0, stall_s: float = 2.0, rate: int | None = None,
                 channels: int | None = None, block_ms: int = BLOCK_MS,
                 suspended: Callable[[], float] | None = suspended_clock()) -> None:
        """``suspended``: seconds the machine has spent suspended (:func:`voicecoach.clock.suspended_clock`)."""
        self.frame_ms = frame_ms
        self._suspended = suspended
        self._suspended_seen = suspended() if suspended is not None else 0.0
        self.block_ms = max(frame_ms, block_ms // frame_ms * frame_ms)

        def choose() -> tuple[int | None, int, int]:
            found = find_device(device, "input")
            chosen = int(rate) if rate else choose_rate(found, "input")
            return found, chosen, int(channels) if channels else choose_channels(found, chosen, "input")

        if device in (None, "") and rate and channels:  # nothing to ask PortAudio
            self.device, self.rate, self.channels = None, int(rate), int(channels)
        else:
            self.device, self.rate, self.channels = call_bounded(choose, "find the microphone", OPEN_TIMEOUT_S)
        self.overflows = 0  # blocks dropped because the consumer fell behind
        self.device_overflows = 0  # overflows reported by PortAudio
        self.stall_s = stall_s
        # (device frames dropped just before this block, block): drops are counted by the callback and turned
        # into a gap in the frame stamps by the consumer, so time stays audio time after an overflow.
        self._queue: queue.Queue[tuple[int, np.ndarray]] = queue.Queue(maxsize=queue_blocks)
        self._dropped = 0  # device frames dropped since the last queued block (written by the callback only)
        self._dropped_total = 0  # device frames dropped, as accounted by the consumer
        self._skipped = 0  # 16 kHz samples skipped in the frame stamps for them
        self._framer = Framer(frame_ms, start_sample)
        self._resampler = Resampler(self.rate, SAMPLE_RATE)
        self._closed = False
        self._stream: Any = None
        self._generation = -1  # the PortAudio generation the stream was opened in
        self._silence = DigitalSilence(self.rate)   # a default input moved to a monitor hears exact zeros
        self.block = self.rate * self.block_ms // 1000   # device frames per callback

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.device_overflows += 1
        try:
            self._queue.put_nowait((self._dropped, indata.copy()))
            self._dropped = 0
        except queue.Full:
            self.overflows += 1
            self._dropped += frames

    def open(self, announce: bool = True) -> "MicSource":
        """Open and start the input stream; the default input must be a microphone, not a speaker's monitor.
        ``announce``: log the opening at INFO (``voicecoach check`` says it in its own line: at DEBUG there)."""
        sd = sounddevice()
        if self.device is None:
            self._refuse_monitor("no microphone")

        def start() -> Any:
            self._generation = _generation
            return start_or_close(sd.InputStream(device=self.device, samplerate=self.rate, channels=self.channels,
                                                 dtype="int16", blocksize=self.block, callback=self._callback),
                                  "microphone")

        try:
            self._stream = call_bounded(start, "open the microphone", OPEN_TIMEOUT_S,
                                        undo=lambda late: stop_and_close(late, "microphone"))
        except PortAudioHung:
            raise
        except Exception as exc:  # noqa: BLE001 - PortAudioError
            raise DeviceError(f"cannot open the microphone: {exc} (check it with: voicecoach devices)") from None
        log.log(logging.INFO if announce else logging.DEBUG, "microphone open: device %s at %d Hz, %d channel(s)",
                "default" if self.device is None else self.device, self.rate, self.channels, extra=NOTICED)
        return self

    @property
    def position(self) -> int:
        """Sample position (16 kHz) of the next frame."""
        return self._framer.position

    @property
    def queued(self) -> int:
        """Blocks waiting in the queue."""
        return self._queue.qsize()

    def frames(self) -> Iterator[Frame]:
        """Yield frames until closed; raise DeviceError when the stream stops delivering audio."""
        if self._stream is None:
            self.open()
        while not self._closed:
            try:
                dropped, block = self._next_block()
            except queue.Empty:
                if self._closed:
                    return
                raise DeviceError(f"the microphone delivered no audio for {self.stall_s:g} s (unplugged?)") from None
            if dropped:
                self._skip_dropped(dropped)
            self._skip_suspended()
            mono = block[:, 0] if block.ndim == 2 else block
            if self.device is None and self._silence.process(mono):
                self._refuse_monitor("the microphone is gone")
            if self.rate != SAMPLE_RATE:
                mono = float_to_int16(self._resampler.process(mono.astype(np.float64) / 32768.0))
            yield from self._framer.push(mono)

    def _next_block(self) -> tuple[int, np.ndarray]:
        """The next queued block; queue.Empty once none came for ``stall_s`` of the time this process ran.

        Waited for in steps, each counted for no more than it asked: a process stopped meanwhile (Ctrl-Z, then
        ``fg`` minutes later) woke to a wait long past its end before the callback, stopped too, could queue a
        block, and took the microphone for lost: it was reopened and PortAudio started anew, which cut the
        speaker's prompt of that moment (shown as text instead)."""
        step = min(self.stall_s, STALL_STEP_S)
        clock = MonotonicClock()
        waited = 0.0
        while True:
            began = clock.now()
            try:
                return self._queue.get(timeout=step)
            except queue.Empty:
                waited += min(clock.now() - began, step)
                if self._closed or waited >= self.stall_s - 1e-6:
                    raise

    def _refuse_monitor(self, what: str) -> None:
        """Raise :class:`DeviceError` when the sound server's default input is a monitor (see ``server.py``)."""
        monitor = monitor_as_default()
        if monitor is not None:
            raise DeviceError(f"{what}: the sound server's default input is '{monitor}', the sound of a speaker, "
                              "not a microphone (plug the microphone in, or choose one: voicecoach devices)")

    def _skip_dropped(self, device_frames: int) -> None:
        """Advance the frame stamps over audio the callback had to drop (converted to 16 kHz samples)."""
        self._dropped_total += device_frames
        target = self._dropped_total * SAMPLE_RATE // self.rate
        log.debug("input queue overflow: %d device frames dropped", device_frames)
        self._framer.skip(target - self._skipped)
        self._skipped = target

    def _skip_suspended(self) -> None:
        """Advance the frame stamps over a suspend of the machine (a laptop's lid closed mid-talk): its audio was
        never heard, and the stream goes on after it as if nothing had happened. Without the skip the talk after the
        lid was opened joined the talk before it: a raised voice an hour later counted with one from just before as
        two in a minute (a pause suggested from stale state), and its events were dated an hour early."""
        if self._suspended is None:
            return
        now = self._suspended()
        gap_s, self._suspended_seen = now - self._suspended_seen, now
        if gap_s >= SUSPEND_MIN_S:
            log.info("the machine was suspended for %.0f s: the audio clock skips it", gap_s)
            self._framer.skip(int(round(gap_s * SAMPLE_RATE)))

    def close(self) -> None:
        """Stop and close the stream (safe to call twice)."""
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            # bounded: when the sound server died under it, PortAudio 19.6's ALSA callback thread can spin in its
            # error path ('self->capture.ready || self->playback.ready' failed, millions of times; 2 of 40 server
            # kills here) and then neither Pa_StopStream nor Pa_AbortStream returned (1 each)
            close_stream(stream, self._generation, "microphone")


def close_stream(stream: Any, opened_in: int, name: str = "stream", timeout_s: float | None = None,
                 abort: bool = False) -> bool:
    """Stop (``abort``: drop what it holds) and close a PortAudio stream, unless PortAudio was reinitialised since it
    opened (then it is gone).

    Never blocks for more than ``timeout_s`` (default ``CLOSE_TIMEOUT_S``): a stop or close that has not returned
    by then is left on its daemon thread with one warning naming the ``name`` ("microphone", "speaker"); False
    then, True otherwise (errors while closing are only logged)."""
    def close_current() -> None:
        if opened_in != _generation:
            log.debug("not closing a %s of an earlier PortAudio (it ended when PortAudio was reinitialised)", name)
            return
        stop_and_close(stream, name, abort)

    try:
        call_bounded(close_current, f"close the {name}", CLOSE_TIMEOUT_S if timeout_s is None else timeout_s)
    except PortAudioHung:
        return False
    return True


def start_or_close(stream: Any, name: str) -> Any:
    """Start a stream just opened, or close it again and re-raise (only for the work of :func:`call_bounded`)."""
    try:
        stream.start()
    except Exception:
        stop_and_close(stream, name)
        raise
    return stream


def stop_and_close(stream: Any, name: str, abort: bool = False) -> None:
    """Stop and close ``stream`` now, unbounded: only for a thread holding :func:`portaudio_lock` (the work or
    ``undo`` of :func:`call_bounded`); errors are only logged. ``abort``: drop what it holds instead of playing it
    out (a stalled output never would: ALSA's drain would wait for ever)."""
    try:
        stream.abort() if abort else stream.stop()
        stream.close()
    except Exception as exc:  # noqa: BLE001
        log.debug("closing the %s: %s", name, exc)
