"""The laptop microphone chains the dev set can be heard through (``scripts/evaluate --mic``), on their own fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach_dev.evalkit import micchain
from voicecoach_dev.evalkit.micchain import RATE, AgcSettings


def _noise_at(level_dbfs: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, micchain.db_to_gain(level_dbfs), int(seconds * RATE))


def _syllables(level_dbfs: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like bursts: 200 ms at ``level_dbfs``, 100 ms of near silence (-80 dBFS), over and over."""
    x = _noise_at(-80.0, seconds, rng)
    for start in range(0, len(x), 3 * RATE // 10):
        x[start:start + RATE // 5] = _noise_at(level_dbfs, 0.2, rng)[:len(x[start:start + RATE // 5])]
    return x


def _level(x: np.ndarray, t0: float, t1: float) -> float:
    seg = np.asarray(x[int(t0 * RATE):int(t1 * RATE)], dtype=np.float64)
    return float(10.0 * np.log10(np.mean(seg * seg)))


def test_the_agc_brings_a_step_in_level_back_to_its_target_within_its_time_constants():
    rng = np.random.default_rng(1)
    x = np.concatenate([_syllables(-35.0, 10.0, rng), _syllables(-25.0, 10.0, rng)])
    s = AgcSettings()
    y = micchain.agc(x, s)
    # the level of the bursts (200 ms of each 300 ms): 1.8 dB over the mean power
    burst = 10.0 * np.log10(1.5)
    assert _level(y, 8.0, 9.9) + burst == pytest.approx(s.target_dbfs, abs=1.0)   # settled on the first level
    assert _level(y, 10.0, 10.2) > s.target_dbfs + 8.0   # a rise is heard at first: the AGC is slow...
    # ...and taken back within the level estimate's attack plus the slew (10 dB at 6 dB/s): about 2.1 s
    settle_s = 5 * s.attack_s + 10.0 / s.max_gain_change_db_per_s
    assert _level(y, 10.0 + settle_s, 19.9) + burst == pytest.approx(s.target_dbfs, abs=1.0)
    assert _level(y, 10.8, 11.4) + burst > s.target_dbfs + 2.0   # not at once: the slew limit holds the gain back


def test_the_agc_holds_its_gain_in_pauses_and_never_lifts_the_noise_above_its_cap():
    rng = np.random.default_rng(2)
    noise = _noise_at(-45.0, 12.0, rng)
    speech = np.zeros_like(noise)
    for k in range(6):   # 1 s of "speech" 15 dB over the noise every 2 s
        speech[k * 2 * RATE:(k * 2 + 1) * RATE] = _noise_at(-30.0, 1.0, rng)
    s = AgcSettings()
    gains = micchain.agc_gains_db(micchain.frame_levels_db(noise + speech, RATE // 100), s)
    # the speech alone would get +10 dB; the noise (-45 dBFS) allows -5 dB: from its initial 15 dB the gain falls
    # at 6 dB/s of speech to that, so the noise stays under -50 dBFS
    assert gains[-100:].max() <= s.max_output_noise_dbfs - (-45.0) + 2.0   # (the floor: its quieter frames)
    pause = gains[1110:1190]   # 11.1-11.9 s: a pause, the gain holds
    assert np.ptp(pause) == 0.0


def test_the_laptop_response_cuts_the_lows_and_highs_and_lifts_the_presence_band():
    t = np.arange(2 * RATE) / RATE

    def gain_db(hz: float) -> float:
        x = np.sin(2 * np.pi * hz * t)
        y = micchain.laptop_response(x)
        return _level(y, 1.0, 2.0) - _level(x, 1.0, 2.0)

    assert gain_db(100.0) < -20.0
    assert abs(gain_db(1000.0)) < 2.0
    assert 4.0 < gain_db(4000.0) < 7.0
    assert gain_db(7800.0) < -10.0


def test_quiet_puts_speech_at_minus_45_dbfs_on_the_16_bit_grid():
    rng = np.random.default_rng(3)
    x = _noise_at(-30.0, 2.0, rng)
    y = micchain.quiet(x, -30.0, np.random.default_rng(0))
    assert _level(y, 0.0, 2.0) == pytest.approx(-45.0, abs=0.2)
    assert np.array_equal(y * 32768.0, np.round(y * 32768.0))
    silence = micchain.quiet(np.zeros(RATE), -30.0, np.random.default_rng(0))
    assert _level(silence, 0.0, 1.0) == pytest.approx(micchain.QUIET_NOISE_DBFS, abs=2.0)


def test_hot_clips_at_full_scale_only_the_loud_samples():
    rng = np.random.default_rng(4)
    calm, loud = _noise_at(-34.0, 2.0, rng), _noise_at(-24.0, 2.0, rng)
    y = micchain.hot(np.concatenate([calm, loud]), -34.0)
    full = np.abs(y) >= 32767 / 32768
    assert np.abs(y).max() <= 1.0
    assert full[:2 * RATE].mean() < 0.001 < full[2 * RATE:].mean() < 0.05


def test_dc_and_hum_add_the_offset_and_a_50_hz_tone():
    y = micchain.dc_hum(np.zeros(RATE), np.random.default_rng(5))
    assert float(np.mean(y)) == pytest.approx(micchain.DC_OFFSET, abs=1e-4)
    spectrum = np.abs(np.fft.rfft(y - np.mean(y))) / (RATE / 2)
    rms_50 = spectrum[50] / np.sqrt(2)
    assert 20 * np.log10(rms_50) == pytest.approx(micchain.HUM_DBFS[0], abs=0.5)


def test_a_chain_is_reproducible_from_its_seed_and_an_unknown_one_is_named():
    x = _noise_at(-34.0, 1.0, np.random.default_rng(6))
    assert np.array_equal(micchain.apply("quiet", x, -34.0, 7), micchain.apply("quiet", x, -34.0, 7))
    assert not np.array_equal(micchain.apply("quiet", x, -34.0, 7), micchain.apply("quiet", x, -34.0, 8))
    for name in micchain.CHAINS:
        y = micchain.apply(name, x, None, 1)
        assert y.shape == x.shape and y.dtype == np.float32 and np.abs(y).max() <= 1.0
    with pytest.raises(ValueError, match="unknown microphone chain 'usb'"):
        micchain.apply("usb", x, -34.0, 1)


def test_an_items_calm_speech_level_comes_from_its_metadata():
    dry = {"partners": {"A": {"level_db": -33.0}, "B": {"level_db": -35.0}}, "mix": {"gain_db": -3.0}}
    room = {"partners": {"A": {"level_db": -34.0}}, "mix": {"at_mic_db": {"A": -28.0, "B": -30.0}, "gain_db": 0.0}}
    assert micchain.item_speech_dbfs(dry) == pytest.approx(-37.0)
    assert micchain.item_speech_dbfs(room) == pytest.approx(-29.0)
    assert micchain.item_speech_dbfs({"name": "ami-sample"}) is None
