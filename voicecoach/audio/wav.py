"""WAV files as a frame source: PCM 8/16/24/32-bit or 32/64-bit float, any rate, any channels -> 16 kHz mono.

The header is checked when the file is opened, so a bad file is reported (one line naming the file and the
problem) before any work starts. Audio is then read in blocks of at most ``MAX_BLOCK_BYTES``, so a one-hour
recording needs little memory. Only regular files are read (a named pipe with no writer would block forever), and
only sample rates a microphone records at (``MIN_RATE_HZ`` to ``MAX_RATE_HZ``): a header claiming 4,294,967,295 Hz
would need terabytes for its resampling filter, one claiming 1 Hz 16,000 times the work its size suggests.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .frames import SAMPLE_RATE, Frame, Framer, Resampler, float_to_int16

FIX_HINT = "convert it with: sox IN -r 16000 -c 1 -b 16 OUT.wav"
FFMPEG_HINT = "convert it with: ffmpeg -i IN -ac 1 -ar 16000 OUT.wav"  # for compressed formats sox cannot read
TRUNCATED_FIX = "sox --ignore-length IN OUT.wav"  # a recorder that died before it ended the file, too
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_STREAMING_SIZES = (0, 0xFFFFFFFF)  # written by recorders that never went back to fix the header
_STREAMING_MIN = 0x7FFF0000  # sox to a pipe writes 0x7FFFF000, arecord to stdout 0x7FFFFFFF: "as long as it goes"
MIN_RATE_HZ = 8_000  # telephone audio; below it speech is not intelligible, let alone measurable
MAX_RATE_HZ = 384_000  # the highest rate studio recorders offer
MAX_BLOCK_BYTES = 4 << 20  # raw bytes read at a time, whatever the rate and channel count


class WavError(InputError):
    """A WAV file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says."""

    path: Path
    sample_rate: int
    channels: int
    bits: int
    is_float: bool
    data_offset: int
    data_bytes: int

    @property
    def frame_bytes(self) -> int:
        """Bytes per multi-channel sample frame."""
        return self.channels * self.bits // 8

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return self.data_bytes // self.frame_bytes

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.sample_rate


def _fail(path: Path, problem: str) -> WavError:
    return WavError(f"{path}: {problem}")


def read_header(path: Path | str) -> WavInfo:
    """Parse and check a WAV header; raises :class:`WavError` with a one-line reason."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(st.st_mode):
            raise _fail(path, "not a regular file (a pipe or a device); save the recording to a file and "
                              "give that file")
        size = st.st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise _fail(path, _link_problem(path) or "no such file") from None
    except IsADirectoryError:
        raise _fail(path, f"is a directory, not a WAV file (give the recordings in it, e.g. "
                          f"{path / '*.wav'})") from None
    except PermissionError:
        raise _fail(path, "this user may not read it (permission denied); make it readable with: chmod u+r FILE, "
                          "or give a copy this user can read") from None
    except OSError as exc:
        raise _fail(path, _link_problem(path) or f"cannot open ({exc.strerror})") from None
    with f:
        if size == 0:
            raise _fail(path, "empty file (0 bytes)")
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            raise _fail(path, _not_wav(path, head))
        if head[:4] == b"RIFX":
            raise _fail(path, f"big-endian WAV (RIFX) is not supported; {FIX_HINT}")
        fmt = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                what = "no 'fmt ' chunk" if fmt is None else "no audio data (no 'data' chunk)"
                raise _fail(path, f"truncated or incomplete WAV: {what}")
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                body = f.read(csize)
                if len(body) < 16:
                    raise _fail(path, "truncated WAV: 'fmt ' chunk too short")
                fmt = _parse_fmt(path, body)
                if csize % 2:
                    f.read(1)
            elif cid == b"data":
                if fmt is None:
                    raise _fail(path, "malformed WAV: 'data' chunk before 'fmt '")
                offset = f.tell()
                available = size - offset
                if csize in _STREAMING_SIZES or (csize >= _STREAMING_MIN and csize > available):
                    csize = available
                elif csize > available:
                    raise _fail(path, f"truncated: {_shortfall(fmt, csize, available)} (was the copy "
                                      f"interrupted?); copy it again, or keep what is there with: {TRUNCATED_FIX}")
                rate, ch, bits, is_float = fmt
                info = WavInfo(path, rate, ch, bits, is_float, offset, csize - csize % (ch * bits // 8))
                if info.n_samples == 0:
                    raise _fail(path, "no audio in the file (header only)")
                return info
            else:
                f.seek(csize + (csize % 2), 1)


def _link_problem(path: Path) -> str | None:
    """What is wrong with ``path`` when it is a symbolic link that cannot be followed, with the fix; else None."""
    from ..paths import dangling_link

    broken = dangling_link(path)
    if broken is None:
        return None
    target, _ = broken
    try:
        os.stat(path.parent / target)
    except FileNotFoundError:
        return f"is a symbolic link to {path.parent / target}, which does not exist (moved, or on a drive not " \
               f"connected?); give the recording's own path"
    except OSError:
        pass
    return "is a symbolic link that leads round in a loop (to itself, through other links); give the recording's " \
           "own path"


# Recordings of other formats that phones, recorder apps and downloads give, by their first bytes. Debian's and
# Raspberry Pi OS's sox reads none of the compressed ones without extra packages (MP3 needs libsox-fmt-mp3; M4A,
# WebM and AMR it never reads): ffmpeg reads them all, so that is the converter named for them.
_OTHER_FORMATS = ((b"ID3", "an MP3"), (b"\xff\xfb", "an MP3"), (b"\xff\xf3", "an MP3"), (b"\xff\xf2", "an MP3"),
                  (b"\xff\xfa", "an MP3"), (b"fLaC", "a FLAC"), (b"OggS", "an Ogg"), (b"\x1a\x45\xdf\xa3", "a WebM"),
                  (b"#!AMR", "an AMR"), (b"\xff\xf1", "an AAC"), (b"\xff\xf9", "an AAC"))


def _not_wav(path: Path, head: bytes) -> str:
    """The problem and its fix for a file without a RIFF/WAVE header: the format named when it is a known one."""
    kind = next((name for magic, name in _OTHER_FORMATS if head.startswith(magic)), None)
    if head[4:8] == b"ftyp":
        kind = "an M4A"  # MP4 audio: an iPhone's or an Android recorder's voice memo
    if kind is None:
        return f"not a WAV file (no RIFF/WAVE header); {FIX_HINT}"
    return f"{kind} recording, not a WAV file (only its name ends in .wav); {FFMPEG_HINT}"


def _shortfall(fmt: tuple[int, int, int, bool], declared: int, held: int) -> str:
    """How much audio the header promises and the file holds: in seconds, or in bytes when the two would read the
    same in seconds (a file a few bytes short was "promises 3.00 s of audio but the file holds 3.00 s")."""
    rate, channels, bits, _ = fmt
    per_second = rate * channels * bits / 8
    promised, there = f"{declared / per_second:.2f}", f"{held / per_second:.2f}"
    if promised != there:
        return f"the header promises {promised} s of audio but the file holds {there} s"
    missing = declared - held
    return (f"the header promises {declared:,} bytes of audio but the file holds {held:,} ({missing:,} "
            f"byte{'' if missing == 1 else 's'} missing at the end)")


def _parse_fmt(path: Path, body: bytes) -> tuple[int, int, int, bool]:
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]
    if channels == 0 or rate == 0:
        raise _fail(path, f"malformed WAV header ({channels} channels at {rate} Hz)")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise _fail(path, f"the header's sample rate, {rate} Hz, is outside {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz "
                          f"(a damaged header, or not a recording of speech); {FIX_HINT}")
    if tag == _PCM and bits in (8, 16, 24, 32):
        return rate, channels, bits, False
    if tag == _FLOAT and bits in (32, 64):
        return rate, channels, bits, True
    kind = {_PCM: "integer PCM", _FLOAT: "float"}.get(tag, f"format code {tag} (compressed?)")
    raise _fail(path, f"unsupported WAV encoding: {bits}-bit {kind}; {FIX_HINT}")


def _decode(raw: bytes, info: WavInfo) -> NDArray[np.float32]:
    """Raw interleaved bytes -> float32 mono in [-1, 1]."""
    if info.is_float:
        x = np.frombuffer(raw, dtype="<f4" if info.bits == 32 else "<f8").astype(np.float32)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    elif info.bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif info.bits == 16:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif info.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    if info.channels > 1:
        x = x.reshape(-1, info.channels).mean(axis=1)
    return x


class WavSource:
    """A WAV file as a :class:`~voicecoach.audio.frames.FrameSource` of 16 kHz mono frames."""

    def __init__(self, path: Path | str, frame_ms: int = 30, block_s: float = 1.0) -> None:
        self.info = read_header(path)
        self.path = self.info.path
        self.frame_ms = frame_ms
        self._block_frames = max(1, min(int(block_s * self.info.sample_rate),
                                        MAX_BLOCK_BYTES // self.info.frame_bytes))

    def blocks(self) -> Iterator[NDArray[np.int16]]:
        """Yield the audio as 16 kHz mono int16 blocks of about ``block_s`` seconds."""
        info = self.info
        resampler = Resampler(info.sample_rate, SAMPLE_RATE)
        remaining = info.data_bytes
        with self.path.open("rb") as f:
            f.seek(info.data_offset)
            while remaining > 0:
                raw = f.read(min(remaining, self._block_frames * info.frame_bytes))
                if not raw:
                    raise _fail(self.path, "file shrank while being read")
                remaining -= len(raw)
                raw = raw[: len(raw) - len(raw) % info.frame_bytes]
                yield float_to_int16(resampler.process(_decode(raw, info)))
        tail = resampler.flush()
        if len(tail):
            yield float_to_int16(tail)

    def frames(self) -> Iterator[Frame]:
        """Yield fixed frames stamped with their sample position (a final partial frame is dropped)."""
        framer = Framer(self.frame_ms)
        for block in self.blocks():
            yield from framer.push(block)

    def close(self) -> None:
        """Nothing to release (the file is opened per pass)."""


def read_wav(path: Path | str) -> NDArray[np.int16]:
    """Read a whole WAV file as 16 kHz mono int16."""
    blocks = list(WavSource(path).blocks())
    return np.concatenate(blocks) if blocks else np.zeros(0, np.int16)


def wav_bytes(audio: NDArray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono audio (int16, or float in [-1, 1]) as the bytes of a 16-bit PCM WAV file."""
    import io
    import wave

    data = audio if audio.dtype == np.int16 else float_to_int16(np.asarray(audio, dtype=np.float64))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(data.astype("<i2").tobytes())
    return buf.getvalue()


def write_wav(path: Path | str, audio: NDArray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono audio (int16, or float in [-1, 1]) as a 16-bit PCM WAV (the umask's mode: the product's own
    outputs go through ``paths.write_private`` instead)."""
    # built in memory: a disk that fills up mid-write then fails once, cleanly (OSError)
    Path(path).write_bytes(wav_bytes(audio, sample_rate))
