"""Audio output: where the Speaker's samples go, and when they have actually been heard.

An :class:`AudioSink` takes int16 mono blocks (``write`` may block to pace the writer), says how much handed-over
audio is still to be heard (``pending_s``, including the device's output latency), and can drop what is not yet
played (``discard``). Three sinks: the sound device (a sounddevice ``OutputStream`` fed from a callback), a WAV
file (for headless checks; optionally paced in real time), and a null sink for machines with no output device.
sounddevice is reached only through :func:`voicecoach.audio.device.sounddevice`.
"""

from __future__ import annotations

import collections
import logging
import os
import stat
import threading
import wave
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock, MonotonicClock
from ..errors import DeviceError, InputError
from . import device as _device
from .device import PortAudioHung, choose_rate, close_stream, find_device, sounddevice

log = logging.getLogger(__name__)

# The device's own buffer. PortAudio's "low" (40 ms here) underran under load: a prompt played with two busy loops
# beside it (and helpers' test runs) gave ALSA's "underrun occurred" 47 times in 56 prompts, 100 ms 7 times in 32,
# 200 ms 11 in 48 (scripts not kept; see the commit). A prompt need not start within 100 ms, and stop() still
# silences within about this long.
OUTPUT_LATENCY_S = 0.1
# A running output stream calls back every block (20 ms; PortAudio's microphone callbacks came at most 77 ms apart
# with both cores at 100 % here). One that has not called back for this long while audio waits has stalled
# (PortAudio 19.6's ALSA stream over PulseAudio, after an underrun, now and then never calls back again: once in 29
# loaded runs of test_faults' sound-server restart) and is opened again. Callbacks held back up to 0.35 s to force
# underruns (268 of them, after server restarts) never made a stream look stalled.
REOPEN_AFTER_S = 0.5
# A look for a stall this long after the last look or wait for room (looks come every 10 ms once a sound is handed
# over, or REOPEN_AFTER_S into a writer's wait for room): the process was not running in between (stopped with
# Ctrl-Z or SIGSTOP, then continued), its callback thread neither, so the stream's silence is counted from the later
# look. Counted from its last callback, a stop during a prompt reopened the stream with "stopped playing (no
# callback for 10.0 s)".
RESUMED_AFTER_S = 1.5


class AudioSink(Protocol):
    """Where spoken audio goes."""

    sample_rate: int
    audible: bool  # False for a sink nobody hears (the Speaker then reports the text instead)

    def write(self, block: NDArray[np.int16]) -> None:
        """Hand samples to the output; may block so the writer stays about one buffer ahead."""
        ...

    def pending_s(self) -> float:
        """Seconds until everything handed over so far has been heard."""
        ...

    def discard(self) -> None:
        """Drop what has not been played yet (stop mid-prompt)."""
        ...

    def close(self) -> None:
        """Let handed-over audio finish, then release the output."""
        ...


class NullSink:
    """No output device: audio is dropped at once and the Speaker reports the text instead."""

    audible = False

    def __init__(self, sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate

    def write(self, block: NDArray[np.int16]) -> None:
        """Drop the block."""

    def pending_s(self) -> float:
        """Nothing is ever pending."""
        return 0.0

    def discard(self) -> None:
        """Nothing to drop."""

    def close(self) -> None:
        """Nothing to release."""


def _open_private(path: Path) -> BinaryIO:
    """``path`` opened for writing as an owner-only (0600) file whatever the umask (a voice is private, like the
    journal and the reports); a regular file there before is made 0600 too, a device or a pipe is left as it is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


class WavFileSink:
    """Append every block to a WAV file (0600, see :func:`_open_private`); with ``realtime`` the writer is paced as if
    a device were playing it."""

    audible = True

    def __init__(self, path: Path | str, sample_rate: int = 16000, realtime: bool = True, lead_s: float = 0.1,
                 clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.lead_s = lead_s
        self.clock = clock or MonotonicClock()
        self.samples_written = 0
        self._play_end = 0.0
        self._wake = threading.Event()
        try:
            self._file = _open_private(self.path)
        except OSError as exc:
            raise InputError(f"cannot write {self.path}: {exc.strerror or exc} (choose a writable path)") from None
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self._lock = threading.Lock()

    def write(self, block: NDArray[np.int16]) -> None:
        """Append the block; in real-time mode, return when at most ``lead_s`` of audio is still 'playing'."""
        with self._lock:
            self._wav.writeframes(np.asarray(block, dtype="<i2").tobytes())
            self.samples_written += len(block)
            now = self.clock.now()
            self._play_end = max(self._play_end, now) + len(block) / self.sample_rate
        if self.realtime:
            self._wake.clear()
            ahead = self._play_end - self.clock.now() - self.lead_s
            if ahead > 0:
                self._wake.wait(ahead)  # discard() wakes it early

    def pending_s(self) -> float:
        """Seconds of written audio that a device would still be playing (0 when not real-time)."""
        return max(0.0, self._play_end - self.clock.now()) if self.realtime else 0.0

    def discard(self) -> None:
        """Stop 'playing' now (what was written stays in the file)."""
        self._play_end = self.clock.now()
        self._wake.set()

    def close(self) -> None:
        """Finish the WAV header and close the file."""
        with self._lock:
            try:
                self._wav.close()
            finally:
                self._file.close()  # wave closes only a file it opened itself


class DeviceSink:
    """A sound device output stream, fed from a callback that pulls from a small buffer.

    The stream stays open, so starting a prompt costs no device open; after ``idle_stop_s`` of silence the callback
    stops it (a running stream wakes the process 50 times a second to play silence: about 1.4 % of a core here,
    more than the whole detection pipeline of the 'stream' method) and the next write starts it again.
    ``pending_s`` counts buffered samples plus the stream's output latency after the last real sample left the
    buffer, so the Speaker reports speaking until the device has played it.

    The start of a sound is held back (the callback plays silence) until the writer is a full buffer ahead or has
    handed all of it over (its first ``pending_s``): let go with one 20 ms block in hand, the device's first pulls
    after a start found the writer not back yet and played silence inside the sound (20 ms of tone, a 40 ms gap,
    the rest: 1 run in 7 of test_playback_idle with the machine loaded).

    A stream that stops calling back while audio waits (``REOPEN_AFTER_S``; see there) is closed and opened again,
    and the audio still buffered plays from the new one; a new stream that also stays silent for ``stall_s`` is a
    lost speaker (:class:`DeviceError`). ``write`` and ``pending_s`` both look, so a sound whose writer has handed
    everything over is not waited for for ever.
    """

    audible = True

    def __init__(self, device: str | int | None = None, buffer_ms: int = 120, block_ms: int = 20,
                 stall_s: float = 2.0, clock: Clock | None = None, idle_stop_s: float = 1.0,
                 reopen_after_s: float = REOPEN_AFTER_S) -> None:
        self.clock = clock or MonotonicClock()

        def choose() -> tuple[int | None, int]:
            found = device if isinstance(device, int) else find_device(device, "output")
            return found, choose_rate(found, "output")

        self.device, self.sample_rate = _device.call_bounded(choose, "find the speaker", _device.OPEN_TIMEOUT_S)
        self.capacity = self.sample_rate * buffer_ms // 1000
        self.stall_s = stall_s
        self.reopen_after_s = reopen_after_s
        self.block_ms = block_ms
        self.underflows = 0
        self.callbacks = 0
        self._blocks: collections.deque[NDArray[np.int16]] = collections.deque()
        self._buffered = 0
        self._drained_at = float("-inf")  # clock time the last real sample left the buffer
        self._lock = threading.Lock()
        self._room = threading.Event()
        self._idle_blocks = max(1, round(idle_stop_s * 1000 / block_ms))   # silent callbacks before stopping
        self._silent = 0
        self._stopped = False   # the callback stopped the idle stream; the next write starts it
        self._held = True       # the buffer's audio waits for the writer to be a buffer ahead (see the class)
        self.restarts = 0
        self.reopens = 0        # stalled streams replaced by a new one
        self._called_at = self.clock.now()   # the last callback, or the stream's (re)start
        self._reopened = False  # the stream is a reopened one that has not called back yet
        self._ran_at: float | None = None  # the last look for a stall, or wait for room (RESUMED_AFTER_S)
        self._stream = self._open()
        log.debug("speaker open: device %s at %d Hz, latency %.0f ms",
                 "default" if self.device is None else self.device, self.sample_rate, 1000 * self.latency_s)

    def _open(self) -> Any:
        """Open and start an output stream (bounded: a hung sound server must not hold the speaker's thread, or
        Ctrl-C, for ever); DeviceError when it cannot be opened."""
        sd = sounddevice()

        def start() -> Any:
            self._generation = _device.generation()
            return _device.start_or_close(
                sd.OutputStream(device=self.device, samplerate=self.sample_rate, channels=1, dtype="int16",
                                blocksize=self.sample_rate * self.block_ms // 1000, latency=OUTPUT_LATENCY_S,
                                callback=self._callback),
                "speaker")

        try:
            stream = _device.call_bounded(start, "open the speaker", _device.OPEN_TIMEOUT_S,
                                          undo=lambda late: _device.stop_and_close(late, "speaker"))
        except PortAudioHung:
            raise
        except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
            raise DeviceError(f"cannot open the speaker: {exc} (check it with: voicecoach devices)") from None
        # what PortAudio reports, plus one callback block the sound server may still hold (measured ~15 ms more)
        self.latency_s = float(stream.latency) + self.block_ms / 1000
        with self._lock:
            self._called_at = self.clock.now()
        return stream

    @property
    def stale(self) -> bool:
        """True once PortAudio was reinitialised (a lost microphone, a restarted sound server): the stream is gone
        and a new DeviceSink is needed."""
        return self._generation != _device.generation()

    def _callback(self, outdata: NDArray[np.int16], frames: int, time_info: Any, status: Any) -> None:
        self.callbacks += 1
        self._called_at = self.clock.now()
        self._reopened = False
        if status.output_underflow:
            self.underflows += 1
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            had_audio = self._buffered > 0
            while filled < frames and self._blocks and not self._held:
                head = self._blocks[0]
                n = min(len(head), frames - filled)
                out[filled:filled + n] = head[:n]
                filled += n
                if n == len(head):
                    self._blocks.popleft()
                else:
                    self._blocks[0] = head[n:]
            self._buffered -= filled
            if had_audio and self._buffered == 0:
                self._drained_at = self.clock.now() + filled / self.sample_rate
                self._held = True   # the sound is over: the next one waits for its writer again
            self._silent = 0 if filled or self._blocks else self._silent + 1
            stop = self._silent >= self._idle_blocks
            self._stopped = self._stopped or stop
        out[filled:] = 0
        self._room.set()
        if stop:   # idle: no more callbacks until write() starts the stream again
            raise sounddevice().CallbackStop

    def write(self, block: NDArray[np.int16]) -> None:
        """Queue the block for the callback, waiting while the buffer is full; DeviceError if the stream stalls."""
        block = np.asarray(block, dtype=np.int16).copy()
        if self.stale:
            raise DeviceError("the sound system was restarted; the speaker must be opened again")
        while True:
            with self._lock:
                if self._buffered < self.capacity:
                    self._blocks.append(block)
                    self._buffered += len(block)
                    self._silent = 0
                    self._held = self._held and self._buffered < self.capacity
                    restart, self._stopped = self._stopped, False
                    break
                self._room.clear()
                self._ran_at = self.clock.now()
            if not self._room.wait(self.reopen_after_s):
                self._look_for_a_stall()
        if restart:
            self._restart()

    def _look_for_a_stall(self) -> None:
        """Open the stream again when it stopped calling back while audio waits; DeviceError when PortAudio was
        reinitialised meanwhile, or when a reopened stream stays silent for ``stall_s`` too."""
        with self._lock:
            now = self.clock.now()
            if self._ran_at is not None and now - self._ran_at > RESUMED_AFTER_S:
                self._called_at = max(self._called_at, now)   # continued after a stop: silence counted from now
            self._ran_at = now
            waiting = self._buffered > 0 and not self._stopped
            silent_s = now - self._called_at
            reopened = self._reopened
        if not waiting:
            return
        if self.stale:
            raise DeviceError("the sound system was restarted; the speaker must be opened again")
        if silent_s < (self.stall_s if reopened else self.reopen_after_s):
            return
        if reopened:
            raise DeviceError(f"the speaker stopped taking audio for {self.stall_s:.0f} s (unplugged?)")
        log.warning("the speaker's stream stopped playing (no callback for %.1f s); opening it again", silent_s)
        close_stream(self._stream, self._generation, "speaker", abort=True)   # bounded: one that hangs is left
        self._reopened = True   # until the new stream calls back
        self._stream = self._open()
        self.reopens += 1

    def _restart(self) -> None:
        """Start the stream the callback stopped when it went idle (abort first: it only holds silence)."""
        def restart() -> None:
            if self.stale:
                raise DeviceError("the sound system was restarted; the speaker must be opened again")
            try:
                self._stream.abort()
                self._stream.start()
            except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
                raise DeviceError(f"cannot start the speaker again: {exc}") from None

        _device.call_bounded(restart, "start the speaker again", _device.OPEN_TIMEOUT_S)
        with self._lock:
            self._called_at = self.clock.now()
        self.restarts += 1

    def pending_s(self) -> float:
        """Buffered audio plus output latency, or the latency still left after the buffer drained.

        The writer asks once it has handed a sound over: a held sound shorter than the buffer is let go here. A
        stream that stopped calling back is opened again here too (DeviceError as for :meth:`write`)."""
        self._look_for_a_stall()
        with self._lock:
            self._held = self._held and not self._buffered
            if self._buffered:
                return self._buffered / self.sample_rate + self.latency_s
            return max(0.0, self._drained_at + self.latency_s - self.clock.now())

    def discard(self) -> None:
        """Drop buffered audio (what the device already holds, about the latency, still plays)."""
        with self._lock:
            if self._buffered:
                self._drained_at = self.clock.now()
            self._blocks.clear()
            self._buffered = 0
            self._held = True
        self._room.set()

    def close(self) -> None:
        """Wait until the buffer and the device latency have played out (closing drops it), then close."""
        deadline = self.clock.now() + 2.0
        try:
            while (pending := self.pending_s()) > 0 and self.clock.now() < deadline and not self.stale:
                threading.Event().wait(min(0.02, pending))
        except DeviceError as exc:   # nothing more will be heard
            log.debug("closing the speaker: %s", exc)
        close_stream(self._stream, self._generation, "speaker")  # never one of an earlier PortAudio; bounded
