"""MicSource on a real sound path: the virtual PulseAudio microphone (see voicecoach_dev/audio_server.py)."""

from __future__ import annotations

import threading
from typing import Iterator

import numpy as np
import pytest

from voicecoach_dev.audio_server import VirtualAudio
from voicecoach_dev.signal_match import blocks_found, lag
from conftest import in_process, skip_without_pulse
from voicecoach.audio.frames import SAMPLE_RATE, Frame
from voicecoach.errors import DeviceError

FRAME = 480  # samples in a 30 ms frame at 16 kHz


def _noise(seconds: float, seed: int = 1, level: float = 4000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.standard_normal(int(seconds * SAMPLE_RATE)) * level, -32768, 32767).astype(np.int16)


def _collect(mic, seconds: float) -> list[Frame]:
    """Read frames until ``seconds`` of audio (by the stamps) have been seen."""
    frames = []
    for frame in mic.frames():
        frames.append(frame)
        if frame.end_sample - frames[0].start_sample >= seconds * SAMPLE_RATE:
            break
    return frames


def _collect_sound(mic, seconds: float, timeout_s: float = 15.0) -> list[Frame]:
    """Read frames until a sound has arrived and ``seconds`` of audio after its start have been seen.

    Waits by the stamps, not a fixed span from opening: on a loaded machine ``paplay`` (and a loopback) can take
    well over a second to start, and a fixed span then ends before the sound is in.
    """
    frames: list[Frame] = []
    onset = None
    for frame in mic.frames():
        frames.append(frame)
        if onset is None and np.abs(frame.samples).max() > 0:
            onset = frame.start_sample
        if onset is not None and frame.end_sample - onset >= seconds * SAMPLE_RATE:
            break
        if frame.end_sample - frames[0].start_sample >= timeout_s * SAMPLE_RATE:
            break  # the asserts say what went wrong
    return frames


def _by_stamp(frames: list[Frame]) -> np.ndarray:
    """Lay the frames out at their stamped positions (gaps stay zero)."""
    out = np.zeros(frames[-1].end_sample, np.int16)
    for f in frames:
        out[f.start_sample:f.end_sample] = f.samples
    return out


@pytest.fixture
def mic_factory(pulse_in_process) -> Iterator:
    """Open MicSources on the virtual mic; closes them after the test."""
    from voicecoach.audio.device import MicSource

    opened = []

    def make(**kw) -> MicSource:
        mic = MicSource(kw.pop("device", None), **kw).open()
        opened.append(mic)
        return mic

    yield make
    for mic in opened:
        mic.close()


def test_mic_reads_bit_exactly_what_is_played_into_it_with_continuous_stamps(pulse_in_process, mic_factory):
    sig = _noise(1.5)
    mic = mic_factory(frame_ms=30)
    pulse_in_process.play_into_mic(sig)
    frames = _collect_sound(mic, 2.0)
    assert all(len(f.samples) == FRAME for f in frames)
    assert [f.start_sample for f in frames] == [i * FRAME for i in range(len(frames))]
    assert blocks_found(_by_stamp(frames), sig) >= 13  # of 15: pacat starved by a loaded machine breaks one or two
    assert mic.overflows == 0 and mic.device_overflows == 0


def test_mic_opens_by_name_with_10_ms_frames(pulse_in_process, mic_factory):
    mic = mic_factory(device="vmic", frame_ms=10)
    frames = _collect(mic, 0.3)
    assert mic.rate == SAMPLE_RATE
    assert all(len(f.samples) == 160 for f in frames)
    assert [f.start_sample for f in frames] == [i * 160 for i in range(len(frames))]


def test_mic_overflow_is_counted_and_stamps_skip_the_lost_audio(pulse_in_process, mic_factory):
    sig = _noise(4.0, seed=7)
    mic = mic_factory(frame_ms=30, queue_blocks=20, block_ms=30)  # 600 ms of queue, a frame per block
    pulse_in_process.play_into_mic(sig)
    frames = []
    for frame in mic.frames():  # read until the sound arrives, so some of it is in frames before the gap
        frames.append(frame)
        if np.abs(frame.samples).max() > 0 or len(frames) > 200:
            break
    threading.Event().wait(1.6)  # the consumer stalls: about a second of blocks is dropped
    frames += _collect(mic, 2.5)
    assert mic.overflows > 0
    gaps = [b.start_sample - a.end_sample for a, b in zip(frames, frames[1:]) if b.start_sample != a.end_sample]
    assert gaps and sum(gaps) == mic.overflows * FRAME  # every dropped block is a gap in the stamps
    # Every frame, before and after the gap, holds the source audio its stamp says: one lag for all of them.
    offset, _ = lag(_by_stamp(frames), sig, partial=True)
    inside = [f for f in frames if f.start_sample >= offset and f.end_sample <= offset + len(sig)]
    after_gap = next(b.start_sample for a, b in zip(frames, frames[1:]) if b.start_sample != a.end_sample)
    assert any(f.start_sample < after_gap for f in inside) and any(f.start_sample >= after_gap for f in inside)
    for f in inside:
        assert np.array_equal(f.samples, sig[f.start_sample - offset:f.end_sample - offset]), f.start_sample


def _heard_after_replug(pulse: VirtualAudio, seed: int) -> None:
    """A microphone opened on the default input after the replug hears what is played into it."""
    from voicecoach.audio.device import MicSource

    sig = _noise(1.0, seed=seed)
    again = MicSource(None, frame_ms=30).open()
    try:
        pulse.play_into_mic(sig)
        assert blocks_found(_by_stamp(_collect_sound(again, 1.5)), sig) >= 8  # of 10
    finally:
        again.close()


def test_unplugged_mic_raises_device_error_and_reopens_after_replug(pulse_in_process):
    from voicecoach.audio.device import MicSource

    mic = MicSource(None, frame_ms=30, stall_s=1.0).open()
    try:
        with pytest.raises(DeviceError, match="no audio"):
            for i, _frame in enumerate(mic.frames()):
                if i == 10:
                    pulse_in_process.unplug_mic()
                assert i < 10 + 5 * SAMPLE_RATE // FRAME, "no error 5 s after unplugging"
    finally:
        mic.close()
        pulse_in_process.replug_mic()
    _heard_after_replug(pulse_in_process, seed=3)


def test_a_mic_moved_to_a_speakers_monitor_is_lost_and_not_reopened_there_until_replugged(pulse_in_process):
    # PulseAudio moves the stream of a pulled-out microphone to a monitor instead of ending it: exact zeros for ever
    from voicecoach.audio.device import MicSource

    mic = MicSource(None, frame_ms=30, stall_s=5.0).open()
    try:
        with pytest.raises(DeviceError, match="the microphone is gone: .*'speaker.monitor'"):
            for i, frame in enumerate(mic.frames()):
                if i == 10:
                    pulse_in_process.unplug_mic(kill_streams=False)
                if i > 10:
                    last = frame.end_sample
                assert i < 10 + 6 * SAMPLE_RATE // FRAME, "still listening to the monitor 6 s after unplugging"
        assert last - 10 * FRAME < 4 * SAMPLE_RATE   # 2 s of zeros, and the server's move, make it suspect
        with pytest.raises(DeviceError, match="no microphone: .*'speaker.monitor'"):
            MicSource(None, frame_ms=30).open().close()
    finally:
        mic.close()
        pulse_in_process.replug_mic()
    _heard_after_replug(pulse_in_process, seed=4)


def test_a_quiet_mic_is_not_suspect_and_zeros_are_asked_about_after_two_seconds_then_every_ten():
    from voicecoach.audio.server import DigitalSilence

    watch = DigitalSilence(16000)
    quiet = np.zeros(1440, np.int16)
    quiet[::97] = 1                                          # the faintest noise floor a real microphone has
    assert not any(watch.process(quiet) for _ in range(1000))   # 90 s
    asked = [i for i in range(300) if watch.process(np.zeros(1440, np.int16))]   # 27 s of zeros, 90 ms blocks
    assert [round((i + 1) * 0.09, 2) for i in asked] == [2.07, 12.15, 22.23]   # from the first ask on
    assert not watch.process(quiet) and not watch.process(np.zeros(1440, np.int16))   # a sound starts it afresh

# --- a 48 kHz stereo microphone -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pulse48() -> Iterator[VirtualAudio]:
    """A second daemon whose microphone side runs at 48 kHz stereo, like many USB microphones."""
    skip_without_pulse()
    with VirtualAudio(mic_rate=48000, mic_channels=2) as server:
        yield server


def _tone(freq_hz: float, seconds: float, rate: int, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq_hz * t)


def test_48k_stereo_mic_through_device_rate_and_resampler(pulse48):
    from voicecoach.audio import device

    left, right = _tone(1000.0, 2.0, 48000, 10000.0), _tone(2500.0, 2.0, 48000, 10000.0)
    stereo = np.stack([left, right], axis=1).astype(np.int16)
    with in_process(pulse48):
        vmic = device.find_device("vmic", "input")
        assert device.choose_rate(vmic) == SAMPLE_RATE  # pulse converts anything, so 16 kHz is accepted
        assert device.choose_channels(vmic, SAMPLE_RATE) == 1
        # A device that refuses 16 kHz mono cannot be made with PulseAudio (its ALSA plugin accepts every format):
        # force the format such a device would get, and let a real stream run at 48 kHz stereo.
        mic = device.MicSource("vmic", frame_ms=20, rate=48000, channels=2).open()
        try:
            pulse48.play_into_mic(stereo, rate=48000)
            frames = _collect_sound(mic, 2.5)
        finally:
            mic.close()
    assert all(len(f.samples) == 320 for f in frames)
    assert [f.start_sample for f in frames] == [i * 320 for i in range(len(frames))]
    audio = _by_stamp(frames).astype(np.float64)
    start = int(np.argmax(np.abs(audio) > 1000)) + 1600
    seg = audio[start:start + 16000]
    assert len(seg) == 16000
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(seg) - 1000.0) <= 2.0  # the first channel, frequency kept
    assert 20 * np.log10(spectrum[2500] / spectrum[1000]) < -40.0  # the other channel is not mixed in
    rms_db = 20 * np.log10(np.sqrt(np.mean(seg ** 2)) / (10000.0 / np.sqrt(2)))
    assert abs(rms_db) < 0.5


class _FakeDevice:
    """Stands in for sounddevice: devices that refuse 16 kHz or mono cannot be made with PulseAudio here."""

    def __init__(self, rates: tuple[int, ...], channels: tuple[int, ...], default_rate: float, max_channels: int):
        self.rates, self.channels = rates, channels
        self.info = {"default_samplerate": default_rate, "max_input_channels": max_channels}

    def check_input_settings(self, device, samplerate, channels, dtype):
        if samplerate not in self.rates or channels not in self.channels:
            raise ValueError("Invalid sample rate or number of channels")

    def query_devices(self, device, kind):
        return self.info


@pytest.fixture
def fake_sd():
    from voicecoach.audio import device

    saved = device._sd
    yield lambda fake: setattr(device, "_sd", fake)
    device._sd = saved


def test_choose_channels_falls_back_to_what_a_stereo_only_mic_accepts(fake_sd):
    from voicecoach.audio import device

    fake_sd(_FakeDevice(rates=(48000,), channels=(2,), default_rate=48000.0, max_channels=2))
    assert device.choose_rate(1) == 48000 and device.choose_channels(1, 48000) == 2
    fake_sd(_FakeDevice(rates=(16000, 48000), channels=(4,), default_rate=48000.0, max_channels=4))
    assert device.choose_channels(1, 16000) == 4
    fake_sd(_FakeDevice(rates=(16000,), channels=(1, 2), default_rate=44100.0, max_channels=2))
    assert device.choose_rate(1) == 16000 and device.choose_channels(1, 16000) == 1


def test_choose_rate_falls_back_to_the_devices_own_rate(fake_sd):
    from voicecoach.audio import device

    fake_sd(_FakeDevice(rates=(44100,), channels=(1,), default_rate=44100.0, max_channels=1))
    assert device.choose_rate(3, "input") == 44100


# --- the speaker side and the laptop-like loopback ----------------------------------------------------------------

def test_what_the_product_plays_is_recorded_from_the_speaker(pulse_in_process):
    from voicecoach.audio.device import find_device, sounddevice

    sd = sounddevice()
    sig = _noise(1.0, seed=11)
    rec = pulse_in_process.record_speaker()  # returns once parecord is connected
    # Pad with silence: closing an OutputStream drops what is still buffered (about 90 ms).
    sd.play(np.concatenate([sig, np.zeros(4000, np.int16)]), SAMPLE_RATE, device=find_device("speaker", "output"))
    sd.wait()
    threading.Event().wait(0.2)
    assert blocks_found(rec.stop(), sig) >= 8  # of 10: a starved write may break one or two blocks, never more


def _block_gains_db(captured: np.ndarray, source: np.ndarray, block: int = SAMPLE_RATE // 10) -> list[float]:
    """The level of each 100 ms block of ``source`` found in ``captured``, over the source's, in dB.

    Found means a correlation over 0.9: the loopback resamples (the speaker's monitor runs at the server's rate), so
    its copy is not bit-exact; each block correlates at about 0.97 here.
    """
    gains = []
    for start in range(0, len(source) - block + 1, block):
        part = source[start:start + block]
        at, corr = lag(captured, part)
        if corr > 0.9:
            gains.append(20 * np.log10(np.std(captured[at:at + block].astype(np.float64)) / np.std(part)))
    return gains


def test_loopback_feeds_the_speaker_into_the_mic_at_the_set_gain(pulse_in_process, mic_factory):
    sig = _noise(1.5, seed=5, level=6000.0)
    module = pulse_in_process.loopback_speaker_to_mic(gain_db=-6.0)
    try:
        mic = mic_factory(frame_ms=30)
        pulse_in_process.play_into_speaker(sig)
        captured = _by_stamp(_collect_sound(mic, 3.0))
        players = pulse_in_process.pactl("list", "sink-inputs")
    finally:
        pulse_in_process.unload(module)
    # Block by block, as the other tests: a loopback starved by a loaded machine shifts what follows a gap, and
    # one correlation over the whole signal then falls apart (0.03 once in CI).
    gains = _block_gains_db(captured, sig)
    assert len(gains) >= 12, (f"{len(gains)} of 15 blocks found; {len(captured)} samples captured, "
                              f"peak {np.abs(captured).max()}; playing into the server:\n{players}")
    assert abs(float(np.median(gains)) + 6.0) < 1.0, gains


# --- the fixture's own promises --------------------------------------------------------------------------------------

def test_reset_restores_the_graph_and_restarts_a_dead_daemon():
    skip_without_pulse()
    with VirtualAudio() as server:
        server.loopback_speaker_to_mic(gain_db=0.0)
        server.unplug_mic()
        server.reset()
        assert "vmic" in server.sources()
        assert "module-loopback" not in server.pactl("list", "short", "modules")
        assert "Default Source: vmic" in server.pactl("info")
        server._proc.kill()  # the daemon crashes
        server._proc.wait()
        server.reset()
        assert server.running and "vmic" in server.sources()


def test_the_servers_answer_is_read_whatever_the_locale(tmp_path):
    """``pactl info`` names the host and the user, which may be anything (UTF-8, or Latin-1 bytes). Read in this
    process's locale, an ASCII one (``LC_ALL=C``, no UTF-8 mode) raised UnicodeDecodeError from the monitor check
    of a silent microphone. FAKE: a ``pactl`` printing such an answer (a user named jürgen cannot be made here)."""
    import os
    import subprocess
    import sys

    fake = tmp_path / "pactl"
    fake.write_bytes(b"#!/bin/sh\nprintf 'Server String: /run/user/1000/pulse/native\\nUser Name: j\\303\\274rgen\\n"
                     b"Host Name: caf\\351\\nDefault Source: vmic_speaker.monitor\\n'\n")
    fake.chmod(0o755)
    probe = "from voicecoach.audio.server import monitor_as_default; print(monitor_as_default())"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
           "PYTHONCOERCECLOCALE": "0"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "vmic_speaker.monitor\n"
