"""The WAV reader over every format it accepts, and a one-line error naming the file for everything else.

Fixtures are generated here byte by byte (the stdlib ``wave`` module writes integer PCM only).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.frames import SAMPLE_RATE
from voicecoach.audio.wav import WavError, WavSource, read_header, read_wav, write_wav
from voicecoach.errors import InputError

PCM, FLOAT, ALAW, MULAW, ADPCM, EXTENSIBLE = 1, 3, 6, 7, 2, 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(cid: bytes, body: bytes, declared: int | None = None) -> bytes:
    """A RIFF chunk, padded to an even length as the format requires."""
    size = len(body) if declared is None else declared
    return cid + struct.pack("<I", size) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(tag: int, channels: int, rate: int, bits: int, extensible: bool = False) -> bytes:
    """A 'fmt ' chunk body; with ``extensible`` the tag goes into the SubFormat GUID."""
    align = channels * bits // 8
    head = struct.pack("<HHIIHH", EXTENSIBLE if extensible else tag, channels, rate, rate * align, align, bits)
    if not extensible:
        return head
    mask = (1 << channels) - 1
    return head + struct.pack("<HHI", 22, bits, mask) + struct.pack("<H", tag) + _GUID_TAIL


def encode(x: np.ndarray, tag: int, bits: int) -> bytes:
    """Float audio in [-1, 1] (shape (n,) or (n, channels)) -> interleaved little-endian sample bytes."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if tag == FLOAT:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.round(x * 127) + 128, 0, 255).astype(np.uint8).tobytes()
    scale = float(2 ** (bits - 1) - 1)
    v = np.round(x * scale).astype(np.int64)
    if bits == 24:
        b = (v & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        return b.tobytes()
    return v.astype({16: "<i2", 32: "<i4"}[bits]).tobytes()


def make_wav(path: Path, audio: np.ndarray | None = None, *, tag: int = PCM, bits: int = 16, rate: int = 16000,
             channels: int = 1, extensible: bool = False, before: bytes = b"", after: bytes = b"",
             data: bytes | None = None, data_size: int | None = None, riff_size: int | None = None) -> Path:
    """Write a WAV file byte by byte; every part can be bent to make a broken one."""
    payload = encode(audio, tag, bits) if data is None else data
    body = b"WAVE" + chunk(b"fmt ", fmt_body(tag, channels, rate, bits, extensible)) + before
    body += chunk(b"data", payload, data_size) + after
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body)
    return path


def tone(rate: int, channels: int = 1, seconds: float = 0.5, freq_hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """A sine, identical on every channel."""
    x = amp * np.sin(2 * np.pi * freq_hz * np.arange(int(rate * seconds)) / rate)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def reference(seconds: float = 0.5, freq_hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """What the reader should return: the same sine at 16 kHz, as int16."""
    return np.round(tone(SAMPLE_RATE, 1, seconds, freq_hz, amp) * 32767).astype(np.int16)


def assert_close(got: np.ndarray, want: np.ndarray, tol: int) -> None:
    assert got.dtype == np.int16
    assert len(got) == len(want), (len(got), len(want))
    err = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert err[50:-50].max() <= tol, err.max()


# --- every supported format ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tag, bits, tol", [(PCM, 8, 300), (PCM, 16, 1), (PCM, 24, 1), (PCM, 32, 1),
                                            (FLOAT, 32, 1), (FLOAT, 64, 1)])
@pytest.mark.parametrize("extensible", [False, True])
def test_every_sample_format_reads_as_16k_mono_int16(tmp_path, tag, bits, tol, extensible):
    path = make_wav(tmp_path / "a.wav", tone(16000), tag=tag, bits=bits, extensible=extensible)
    assert_close(read_wav(path), reference(), tol)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_every_rate_and_channel_count_converts_to_16k_mono(tmp_path, rate, channels):
    path = make_wav(tmp_path / "a.wav", tone(rate, channels), rate=rate, channels=channels)
    info = read_header(path)
    assert (info.sample_rate, info.channels, info.bits) == (rate, channels, 16)
    assert info.duration_s == pytest.approx(0.5)
    assert_close(read_wav(path), reference(), 40)  # resampling error well under 0.2 % of full scale


def test_a_24_bit_48k_stereo_file_with_opposite_extremes(tmp_path):
    x = np.zeros((4800, 2))
    x[:, 0], x[:, 1] = 1.0, -1.0  # full scale, opposite signs: the mono mix is silence
    path = make_wav(tmp_path / "a.wav", x, bits=24, rate=48000, channels=2)
    assert np.abs(read_wav(path)).max() <= 1


def test_negative_full_scale_24_bit_is_decoded_with_its_sign(tmp_path):
    data = b"\x00\x00\x80" * 1600 + b"\xff\xff\x7f" * 1600  # -2**23 then 2**23-1
    y = read_wav(make_wav(tmp_path / "a.wav", tag=PCM, bits=24, data=data))
    assert y[100] == -32768 and y[-100] == 32767


def test_float_nan_and_out_of_range_values_are_clipped(tmp_path):
    x = np.full(1600, 0.25)
    x[100:110] = np.nan
    x[200:210] = 5.0
    y = read_wav(make_wav(tmp_path / "a.wav", x, tag=FLOAT, bits=32))
    assert y[105] == 0 and y[205] == 32767 and y[500] == round(0.25 * 32767)


def test_extra_and_odd_sized_chunks_before_and_after_data_are_skipped(tmp_path):
    before = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcd\x00") + chunk(b"fact", b"\x01\x02\x03")  # odd: padded
    after = chunk(b"id3 ", b"xyz")
    path = make_wav(tmp_path / "a.wav", tone(16000), before=before, after=after)
    assert_close(read_wav(path), reference(), 1)


def test_odd_sized_data_chunk_of_8_bit_audio(tmp_path):
    x = tone(16000)[:7999]
    path = make_wav(tmp_path / "a.wav", x, bits=8, after=chunk(b"LIST", b"abcd"))
    assert len(read_wav(path)) == 7999


def test_odd_sized_fmt_chunk_is_skipped_with_its_pad_byte(tmp_path):
    fmt = fmt_body(PCM, 1, 16000, 16) + b"\x00\x00\x07"  # 19 bytes: a non-standard cbSize area
    payload = encode(tone(16000), PCM, 16)
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"data", payload)
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert_close(read_wav(path), reference(), 1)


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF])  # sox / arecord writing to a pipe
def test_streaming_headers_with_unknown_sizes_read_to_the_end_of_the_file(tmp_path, size):
    path = make_wav(tmp_path / "a.wav", tone(16000), data_size=size, riff_size=size)
    assert_close(read_wav(path), reference(), 1)


def test_sox_writing_to_a_pipe_is_readable(tmp_path):
    import shutil
    import subprocess

    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    wav = subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", "-t", "wav", "-", "synth", "1", "sine",
                          "440"], capture_output=True, check=True).stdout
    (tmp_path / "piped.wav").write_bytes(wav)
    assert len(read_wav(tmp_path / "piped.wav")) == 16000


def test_a_trailing_partial_sample_is_ignored(tmp_path):
    path = make_wav(tmp_path / "a.wav", tone(16000), data_size=0)
    path.write_bytes(path.read_bytes() + b"\x01")  # a recorder killed mid-sample
    assert_close(read_wav(path), reference(), 1)


def test_16_bit_16k_mono_is_read_bit_exactly(tmp_path):
    x = np.random.default_rng(0).integers(-32768, 32768, 16000).astype(np.int16)
    x[:2] = (-32768, 32767)
    write_wav(tmp_path / "a.wav", x)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), x)


def test_wav_source_frames_are_stamped_and_cover_the_file(tmp_path):
    path = make_wav(tmp_path / "a.wav", tone(44100, 2, seconds=1.0), rate=44100, channels=2)
    frames = list(WavSource(path, frame_ms=20, block_s=0.37).frames())
    assert len(frames) == 50
    assert [f.start_sample for f in frames] == [i * 320 for i in range(50)]
    audio = np.concatenate([f.samples for f in frames])
    assert_close(audio, reference(1.0), 40)


def test_wav_source_small_blocks_give_the_same_audio_as_whole_reads(tmp_path):
    path = make_wav(tmp_path / "a.wav", tone(22050, seconds=1.3), rate=22050)
    whole = read_wav(path)
    small = np.concatenate(list(WavSource(path, block_s=0.013).blocks()))
    assert np.array_equal(whole, small)


def test_write_wav_round_trips_int16_and_float(tmp_path):
    x = reference()
    write_wav(tmp_path / "i.wav", x)
    write_wav(tmp_path / "f.wav", x / 32767.0)
    assert np.array_equal(read_wav(tmp_path / "i.wav"), x)
    assert np.abs(read_wav(tmp_path / "f.wav").astype(int) - x).max() <= 1


def test_write_wav_at_another_rate_reads_back_resampled(tmp_path):
    write_wav(tmp_path / "a.wav", tone(48000), 48000)
    assert_close(read_wav(tmp_path / "a.wav"), reference(), 40)


# --- bad files: one line, naming the file -------------------------------------------------------------------------

def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the message must contain)."""
    header = b"WAVE" + chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16))
    files = {
        "missing": (tmp / "missing.wav", "no such file"),
        "directory": (tmp / "adir.wav", f"is a directory, not a WAV file (give the recordings in it, e.g. "
                                        f"{tmp / 'adir.wav' / '*.wav'})"),
        "empty": (tmp / "empty.wav", "empty"),
        "not_wav": (tmp / "notes.wav", "not a WAV"),
        "mp3": (tmp / "song.wav", "not a WAV"),
        "header_only": (tmp / "head.wav", "no audio"),
        "no_data_chunk": (tmp / "nodata.wav", "no 'data' chunk"),
        "truncated": (tmp / "cut.wav", "truncated"),
        "truncated_fmt": (tmp / "cutfmt.wav", "truncated"),
        "alaw": (tmp / "alaw.wav", "unsupported"),
        "mulaw": (tmp / "mulaw.wav", "unsupported"),
        "adpcm": (tmp / "adpcm.wav", "unsupported"),
        "alaw_extensible": (tmp / "alawx.wav", "unsupported"),
        "pcm_12_bit": (tmp / "pcm12.wav", "unsupported"),
        "float_16_bit": (tmp / "f16.wav", "unsupported"),
        "zero_channels": (tmp / "zeroch.wav", "channels"),
        "zero_rate": (tmp / "zerorate.wav", "Hz"),
        "big_endian": (tmp / "rifx.wav", "big-endian"),
        "data_before_fmt": (tmp / "order.wav", "before"),
    }
    (tmp / "adir.wav").mkdir()
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    (tmp / "song.wav").write_bytes(b"ID3\x04\x00" + bytes(500))
    (tmp / "head.wav").write_bytes(b"RIFF" + struct.pack("<I", len(header) + 8) + header + chunk(b"data", b""))
    (tmp / "nodata.wav").write_bytes(b"RIFF" + struct.pack("<I", len(header)) + header)
    make_wav(tmp / "cut.wav", data=bytes(1000), data_size=64000)
    (tmp / "cutfmt.wav").write_bytes(b"RIFF\x20\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00")
    for name, tag, bits, ext in (("alaw", ALAW, 8, False), ("mulaw", MULAW, 8, False), ("adpcm", ADPCM, 4, False),
                                 ("alawx", ALAW, 8, True), ("pcm12", PCM, 12, False), ("f16", FLOAT, 16, False)):
        make_wav(tmp / f"{name}.wav", data=bytes(800), tag=tag, bits=bits, extensible=ext)
    make_wav(tmp / "zeroch.wav", data=bytes(800), channels=0)
    make_wav(tmp / "zerorate.wav", data=bytes(800), rate=0)
    (tmp / "rifx.wav").write_bytes(b"RIFX" + (tmp / "cut.wav").read_bytes()[4:])
    fmt = chunk(b"fmt ", fmt_body(PCM, 1, 16000, 16))
    body = b"WAVE" + chunk(b"data", bytes(800)) + fmt
    (tmp / "order.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return files


BAD = ["missing", "directory", "empty", "not_wav", "mp3", "header_only", "no_data_chunk", "truncated",
       "truncated_fmt", "alaw", "mulaw", "adpcm", "alaw_extensible", "pcm_12_bit", "float_16_bit", "zero_channels",
       "zero_rate", "big_endian", "data_before_fmt"]


@pytest.mark.parametrize("name", BAD)
def test_bad_files_give_one_line_naming_the_file_and_the_problem(tmp_path, name):
    path, phrase = _bad_files(tmp_path)[name]
    with pytest.raises(WavError) as err:
        read_wav(path)
    message = str(err.value)
    assert str(path) in message and phrase.lower() in message.lower(), message
    assert "\n" not in message and len(message) < 300
    assert isinstance(err.value, InputError)  # exit code 2 in the CLI


def test_bad_files_fail_when_opened_before_any_frame_is_read(tmp_path):
    path, _ = _bad_files(tmp_path)["truncated"]
    with pytest.raises(WavError):
        WavSource(path)


def test_unsupported_encodings_suggest_the_conversion_command(tmp_path):
    path, _ = _bad_files(tmp_path)["alaw"]
    with pytest.raises(WavError, match="sox"):
        read_wav(path)


def test_unreadable_file_names_the_reason(tmp_path):
    import os

    path = make_wav(tmp_path / "locked.wav", tone(16000))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(WavError, match="cannot open"):
            read_wav(path)
    finally:
        path.chmod(0o644)


def test_the_readme_states_the_rates_the_reader_accepts(tmp_path):
    """README said "any rate"; the reader takes MIN_RATE_HZ to MAX_RATE_HZ and refuses the rest by name."""
    from voicecoach.audio.wav import MAX_RATE_HZ, MIN_RATE_HZ

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    analyze = " ".join(readme.split("### Recordings: `voicecoach analyze`")[1].split("## How it works")[0].split())
    assert f"any rate from {MIN_RATE_HZ:,} to {MAX_RATE_HZ:,} Hz" in analyze
    for rate in (MIN_RATE_HZ, MAX_RATE_HZ):
        assert len(read_wav(make_wav(tmp_path / f"{rate}.wav", tone(rate, seconds=0.1), rate=rate))) == 1600
    for rate in (MIN_RATE_HZ - 1, MAX_RATE_HZ + 1):
        with pytest.raises(WavError, match=f"{rate} Hz"):
            read_header(make_wav(tmp_path / f"{rate}.wav", tone(rate, seconds=0.1), rate=rate))


def test_a_truncated_file_names_the_command_that_keeps_what_is_there(tmp_path):
    """The message asked only "was the copy interrupted?": a recording whose recorder died has no other copy."""
    import shutil
    import subprocess

    cut = make_wav(tmp_path / "cut.wav", tone(16000), data_size=4 * 16000 * 2)
    with pytest.raises(WavError) as err:
        read_header(cut)
    command = "sox --ignore-length IN OUT.wav"
    assert command in str(err.value) and "\n" not in str(err.value)
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (scripts/setup --test installs it)")
    argv = command.replace("IN", str(cut)).replace("OUT.wav", str(tmp_path / "kept.wav")).split()
    subprocess.run(argv, check=True, capture_output=True, timeout=30)
    assert_close(read_wav(tmp_path / "kept.wav"), reference(), 2)


def test_a_file_a_few_bytes_short_says_how_much_is_missing(tmp_path):
    """A header promising 2 bytes more than the file holds was "the header promises 0.50 s of audio but the file
    holds 0.50 s": the two lengths read the same, so the reason given made no sense. Now it counts the bytes."""
    short = make_wav(tmp_path / "short.wav", tone(16000), data_size=16000 + 2)  # 0.5 s of 16-bit: 16,000 bytes
    with pytest.raises(WavError) as err:
        read_header(short)
    message = str(err.value)
    assert "promises 16,002 bytes of audio but the file holds 16,000 (2 bytes missing at the end)" in message
    assert "sox --ignore-length IN OUT.wav" in message and "\n" not in message
    cut = make_wav(tmp_path / "cut.wav", tone(16000), data_size=4 * 16000 * 2)
    with pytest.raises(WavError, match=r"promises 4\.00 s of audio but the file holds 0\.50 s"):
        read_header(cut)


# --- recordings in another format, and paths that cannot be opened (the hostile-input sweep) -----------------------

OTHER_FORMATS = {  # what a phone, a recorder app or a download gives, renamed .wav
    "MP3 with ID3 tags": (b"ID3\x03\x00\x00\x00\x00\x00\x21" + bytes(33) + b"\xff\xfb\x90\x64" * 50, "an MP3"),
    "MP3 without tags": (b"\xff\xfb\x90\x64" * 50, "an MP3"),
    "FLAC": (b"fLaC\x00\x00\x00\x22" + bytes(200), "a FLAC"),
    "Ogg (Vorbis or Opus)": (b"OggS\x00\x02" + bytes(200), "an Ogg"),
    "M4A (a phone's voice memo)": (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00" + bytes(200), "an M4A"),
    "WebM": (b"\x1a\x45\xdf\xa3" + bytes(200), "a WebM"),
    "AMR": (b"#!AMR\n" + bytes(200), "an AMR"),
}


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_a_compressed_recording_named_wav_is_named_with_a_converter_that_reads_it(tmp_path, kind):
    """An MP3 renamed .wav was "not a WAV file (no RIFF/WAVE header); convert it with: sox IN -r 16000 ...": sox as
    Debian and Raspberry Pi OS install it reads no MP3, M4A or WebM ("no handler for file extension"), so the fix
    given did not work. Now the format is named and the command given is ffmpeg's, which reads them all."""
    data, named = OTHER_FORMATS[kind]
    path = tmp_path / "talk.wav"
    path.write_bytes(data)
    with pytest.raises(WavError) as err:
        read_wav(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and f"{named} recording" in message, message
    assert "not a WAV file" in message and "convert it with: ffmpeg -i IN -ac 1 -ar 16000 OUT.wav" in message, message
    assert "\n" not in message


def test_text_or_unknown_bytes_still_suggest_sox(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes\n")
    with pytest.raises(WavError, match=r"not a WAV file \(no RIFF/WAVE header\); convert it with: sox"):
        read_wav(path)


def test_a_symbolic_link_in_a_loop_or_to_nothing_is_named_as_such(tmp_path):
    """Was "cannot open (Too many levels of symbolic links)" and "no such file" for a link whose recording had
    been moved: neither said that a link was the problem, or what to give instead."""
    import os

    os.symlink("b.wav", tmp_path / "a.wav")
    os.symlink("a.wav", tmp_path / "b.wav")
    os.symlink(tmp_path / "moved.wav", tmp_path / "talk.wav")
    with pytest.raises(WavError) as err:
        read_wav(tmp_path / "a.wav")
    assert "is a symbolic link that leads round in a loop" in str(err.value), err.value
    assert "give the recording's own path" in str(err.value)
    with pytest.raises(WavError) as err:
        read_wav(tmp_path / "talk.wav")
    assert f"is a symbolic link to {tmp_path / 'moved.wav'}, which does not exist" in str(err.value), err.value
