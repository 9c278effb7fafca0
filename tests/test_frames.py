"""Frames stamped with their sample position, the Framer, and resampling accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach.audio.frames import (SAMPLE_RATE, Frame, Framer, Resampler, float_to_int16, frames_from_array,
                                     int16_to_float, resample, samples_per_frame)


def _ramp(n: int) -> np.ndarray:
    """Samples whose value is their own index (mod 2**15), so a frame's content shows where it came from."""
    return (np.arange(n) % 32768).astype(np.int16)


def _tone(freq_hz: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq_hz * np.arange(int(rate * seconds)) / rate)


def _fit_tone(y: np.ndarray, freq_hz: float, rate: int) -> tuple[float, float]:
    """Least-squares fit of a tone at ``freq_hz``: (amplitude, SNR in dB of the fit against the residual)."""
    t = np.arange(len(y)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    fit = basis @ coef
    return float(np.hypot(*coef)), float(10 * np.log10(np.mean(fit ** 2) / np.mean((y - fit) ** 2)))


# --- frames --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame_ms, n", [(10, 160), (20, 320), (30, 480)])
def test_frames_from_array_are_stamped_with_their_sample_position(frame_ms, n):
    audio = _ramp(16000 + 123)
    frames = list(frames_from_array(audio, frame_ms))
    assert len(frames) == len(audio) // n  # the final partial frame is dropped
    for i, f in enumerate(frames):
        assert f.start_sample == i * n and f.end_sample == (i + 1) * n
        assert np.array_equal(f.samples, audio[i * n:(i + 1) * n])
        assert f.start_s == pytest.approx(i * frame_ms / 1000) and f.duration_ms == frame_ms


def test_frame_times_follow_the_start_sample_offset():
    f = Frame(np.zeros(480, np.int16), start_sample=16000 * 3600)
    assert f.start_s == 3600.0 and f.end_s == pytest.approx(3600.03)


@pytest.mark.parametrize("frame_ms", [15, 0, 40])
def test_frame_lengths_other_than_webrtcvad_sizes_are_refused(frame_ms):
    with pytest.raises(ValueError, match="10, 20, 30"):
        samples_per_frame(frame_ms)


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("block", [1, 7, 159, 161, 479, 481, 1000, 4801])
def test_framer_with_odd_blocks_equals_frames_of_the_whole_array(frame_ms, block):
    audio = _ramp(12345)
    framer = Framer(frame_ms)
    got = [f for i in range(0, len(audio), block) for f in framer.push(audio[i:i + block])]
    want = list(frames_from_array(audio, frame_ms))
    assert [f.start_sample for f in got] == [f.start_sample for f in want]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(got, want))
    assert framer.position == len(want) * samples_per_frame(frame_ms)


def test_framer_frames_do_not_alias_the_callers_buffer():
    framer = Framer(10)
    block = _ramp(320)
    frames = framer.push(block)
    block[:] = 0
    assert frames[0].samples[5] == 5 and frames[1].samples[0] == 160


def test_framer_skip_keeps_stamps_on_the_audio_clock():
    """Stamps after a gap equal the true position of the audio, as if nothing had been lost."""
    audio = _ramp(3000)
    framer = Framer(10)
    got = framer.push(audio[:500])  # 3 frames + 20 pending samples
    framer.skip(700)  # audio[500:1200] was lost upstream
    got += framer.push(audio[1200:])
    assert [f.start_sample for f in got][:3] == [0, 160, 320]
    for f in got[3:]:
        assert np.array_equal(f.samples, audio[f.start_sample:f.end_sample])  # content matches its stamp
    assert got[3].start_sample == 1200


def test_framer_start_sample_offsets_every_stamp():
    framer = Framer(30, start_sample=48000)
    frames = framer.push(np.zeros(960, np.int16))
    assert [f.start_sample for f in frames] == [48000, 48480]


def test_int16_float_round_trip_and_clipping():
    x = np.array([-32768, -1, 0, 1, 32767], np.int16)
    assert np.array_equal(float_to_int16(int16_to_float(x)), x)  # exact both ways
    assert list(float_to_int16(np.array([-2.0, 2.0, np.float64(0.5)]))) == [-32768, 32767, 16384]


# --- resampling ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [8000, 11025, 22050, 32000, 44100, 44101, 48000, 96000])
def test_resampling_a_1khz_tone_keeps_frequency_and_amplitude(rate):
    y = resample(_tone(1000.0, rate, 1.0), rate)
    assert len(y) == SAMPLE_RATE
    amp, snr_db = _fit_tone(y[400:-400], 1000.0, SAMPLE_RATE)
    assert amp == pytest.approx(0.5, rel=0.01)  # within 0.1 dB
    assert snr_db >= 40.0
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins


def test_resampling_keeps_timing_no_delay():
    """A click at 0.5 s stays at 0.5 s (frame stamps stay true after resampling)."""
    x = np.zeros(44100)
    x[22050] = 1.0
    y = resample(x, 44100)
    assert abs(int(np.argmax(y)) - 8000) <= 1


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 44101, 48000, 96000])
def test_streaming_in_odd_blocks_equals_whole_array_resampling(rate):
    x = np.random.default_rng(rate).standard_normal(rate * 2)
    r = Resampler(rate)
    rng = np.random.default_rng(1)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 2000))
        parts.append(r.process(x[i:i + n]))
        i += n
    parts.append(r.flush())
    np.testing.assert_allclose(np.concatenate(parts), resample(x, rate), atol=1e-12)


def test_streaming_output_keeps_up_with_input():
    """Held-back output is bounded: a live stream is never more than the filter's half-length behind."""
    r = Resampler(48000)
    emitted = sum(len(r.process(np.zeros(1440))) for _ in range(100))
    assert 100 * 480 - emitted <= r.half // 3 + 1


@pytest.mark.parametrize("rate, tone_hz", [(48000, 10000.0), (44100, 10000.0), (44100, 12000.0), (22050, 9000.0)])
def test_tones_above_8khz_do_not_alias_into_the_output(rate, tone_hz):
    y = resample(_tone(tone_hz, rate, 1.0, amp=1.0), rate)[400:-400]
    level_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(0.5))
    assert level_db < -50.0


def test_upsampling_does_not_create_images():
    """8 kHz -> 16 kHz: a 3 kHz tone must not leave an image at 5 kHz."""
    y = resample(_tone(3000.0, 8000, 1.0), 8000)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert 20 * np.log10(spectrum[5000] / spectrum[3000]) < -50.0


def test_resampling_from_16k_to_device_rates_for_playback():
    """The speaker side resamples 16 kHz (or 22.05 kHz TTS) audio up to the device rate."""
    for in_rate, out_rate in ((16000, 48000), (16000, 44100), (22050, 48000)):
        y = resample(_tone(1000.0, in_rate, 1.0), in_rate, out_rate)
        assert len(y) == out_rate
        amp, snr_db = _fit_tone(y[1000:-1000], 1000.0, out_rate)
        assert amp == pytest.approx(0.5, rel=0.01) and snr_db >= 40.0


def test_same_rate_is_passed_through_unchanged():
    x = np.random.default_rng(0).standard_normal(1000)
    assert np.array_equal(Resampler(16000).process(x), x)


def test_resampler_refuses_nonsense_rates():
    with pytest.raises(ValueError):
        Resampler(0)
