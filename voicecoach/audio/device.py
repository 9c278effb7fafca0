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
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..errors import DeviceError, InputError
from .frames import SAMPLE_RATE, Frame, Framer, Resampler, float_to_int16

log = logging.getLogger(__name__)
BLOCK_MS = 90      # microphone block: a whole number of frames (rounded down to one, at least)
_sd: Any = None
_generation = 0  # bumped by every reinitialize(): streams opened before belong to a PortAudio that is gone
_lock = threading.RLock()


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
            raise DeviceError(f"cannot use sound devices: {exc} (install it: sudo apt-get install libportaudio2)") from None
        _sd = sd
    return _sd


def reinitialize() -> None:
    """Make PortAudio rescan devices (after a device was unplugged or the sound server restarted)."""
    global _generation
    sd = sounddevice()
    with _lock:
        _generation += 1  # every stream open until now is ended by the terminate below
        try:
            sd._terminate()
            sd._initialize()
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


class MicSource:
    """The microphone as a frame source. ``frames()`` raises :class:`DeviceError` when the device is lost.

    It opens at 16 kHz mono when the device allows, else at the device's own rate and/or with the fewest channels
    it accepts; the first channel is used and resampled to 16 kHz. ``rate``/``channels`` force a format.
    """

    def __init__(self, device: str | int | None = None, frame_ms: int = 30, queue_blocks: int = 200,
                 start_sample: int = 0, stall_s: float = 2.0, rate: int | None = None,
                 channels: int | None = None, block_ms: int = BLOCK_MS) -> None:
        self.frame_ms = frame_ms
        self.block_ms = max(frame_ms, block_ms // frame_ms * frame_ms)
        self.device = find_device(device, "input")
        self.rate = int(rate) if rate else choose_rate(self.device, "input")
        self.channels = int(channels) if channels else choose_channels(self.device, self.rate, "input")
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

    def open(self) -> "MicSource":
        """Open and start the input stream."""
        sd = sounddevice()
        try:
            with _lock:
                self._generation = _generation
                self._stream = sd.InputStream(device=self.device, samplerate=self.rate, channels=self.channels,
                                              dtype="int16", blocksize=self.block, callback=self._callback)
                self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError
            stream, self._stream = self._stream, None
            if stream is not None:
                close_stream(stream, self._generation)
            raise DeviceError(f"cannot open the microphone: {exc} (check it with: voicecoach devices)") from None
        log.info("microphone open: device %s at %d Hz, %d channel(s)",
                 "default" if self.device is None else self.device, self.rate, self.channels)
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
                dropped, block = self._queue.get(timeout=self.stall_s)
            except queue.Empty:
                if self._closed:
                    return
                raise DeviceError(f"the microphone delivered no audio for {self.stall_s:g} s (unplugged?)") from None
            if dropped:
                self._skip_dropped(dropped)
            mono = block[:, 0] if block.ndim == 2 else block
            if self.rate != SAMPLE_RATE:
                mono = float_to_int16(self._resampler.process(mono.astype(np.float64) / 32768.0))
            yield from self._framer.push(mono)

    def _skip_dropped(self, device_frames: int) -> None:
        """Advance the frame stamps over audio the callback had to drop (converted to 16 kHz samples)."""
        self._dropped_total += device_frames
        target = self._dropped_total * SAMPLE_RATE // self.rate
        log.debug("input queue overflow: %d device frames dropped", device_frames)
        self._framer.skip(target - self._skipped)
        self._skipped = target

    def close(self) -> None:
        """Stop and close the stream (safe to call twice)."""
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, self._generation)


def close_stream(stream: Any, opened_in: int) -> None:
    """Stop and close a PortAudio stream, unless PortAudio was reinitialised since it opened (then it is gone)."""
    with _lock:
        if opened_in != _generation:
            log.debug("not closing a stream of an earlier PortAudio (it ended when PortAudio was reinitialised)")
            return
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # noqa: BLE001
            log.debug("closing a stream: %s", exc)
