"""Simulated rooms for the dev set: seeded, the direct path at sample 0, the asked RT60, distances that matter."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyroomacoustics")

from voicecoach_dev.evalkit import rooms  # noqa: E402


def test_a_room_draw_is_reproducible_from_its_seed_and_fits_a_living_room():
    a = rooms.draw_room(np.random.default_rng(5), {"A": 1.0, "B": 3.0})
    b = rooms.draw_room(np.random.default_rng(5), {"A": 1.0, "B": 3.0})
    assert a == b
    assert rooms.LENGTH_RANGE_M[0] <= a.dims_m[0] <= rooms.LENGTH_RANGE_M[1]
    for s in a.sources:
        assert all(rooms.WALL_MARGIN_M - 1e-9 <= p <= d - rooms.WALL_MARGIN_M + 1e-9
                   for p, d in zip(s.position_m[:2], a.dims_m[:2]))
        assert s.distance_m == pytest.approx(np.linalg.norm(np.subtract(s.position_m, a.mic_m)))
    assert a.source("A").distance_m == pytest.approx(1.0, abs=0.01)
    assert 2.5 <= a.source("B").distance_m <= 3.0 + 1e-9   # 3 m, or a little less where the room is small


def test_an_onset_in_the_dry_track_is_an_onset_at_the_same_sample_through_the_room():
    room = rooms.draw_room(np.random.default_rng(11), {"A": 0.8, "B": 3.2}, rt60_s=0.6)
    room, rirs = rooms.impulse_responses(room)
    x = np.zeros(rooms.RATE, np.float32)
    x[8000] = 1.0
    for name, h in rirs.items():
        y = rooms.render(x, h)
        assert len(y) == len(x)
        first = int(np.argmax(np.abs(y) > 0.3 * np.abs(h[:3]).max()))   # the direct path's own peak
        assert abs(first - 8000) <= 1, name
        assert np.abs(y[:7990]).max() < 1e-6   # nothing arrives before the direct path


def test_the_measured_rt60_is_what_was_asked_and_far_talkers_are_quieter_and_more_reverberant():
    room = rooms.draw_room(np.random.default_rng(3), {"near": 0.6, "far": 3.0}, rt60_s=0.5)
    room, rirs = rooms.impulse_responses(room)
    assert room.rt60_s == pytest.approx(0.5, rel=0.15)
    assert rooms.measure_rt60(rirs["far"]) == pytest.approx(0.5, rel=0.25)
    assert rooms.gain_db(rirs["near"]) > rooms.gain_db(rirs["far"]) + 3.0
    assert rooms.direct_to_reverberant_db(rirs["near"]) > rooms.direct_to_reverberant_db(rirs["far"]) + 6.0
    assert len(rirs["far"]) <= rooms.MAX_RIR_S * rooms.RATE
    # 1 m in a nearly dead room: the direct path at unit gain, so levels mean what the dry mix meant
    dead = rooms.draw_room(np.random.default_rng(4), {"A": 1.0}, rt60_s=0.2)
    dead, h = rooms.impulse_responses(dead)
    assert np.abs(h["A"][:3]).max() == pytest.approx(1.0 / dead.source("A").distance_m, rel=0.25)


def test_a_room_mix_convolves_each_source_with_its_own_response():
    room = rooms.draw_room(np.random.default_rng(8), {"A": 0.7, "B": 3.0}, rt60_s=0.3)
    mix = rooms.RoomMix(room, rooms.RATE)
    burst = np.random.default_rng(0).normal(0, 0.1, 1600).astype(np.float32)
    mix.add("A", 1000, burst)
    mix.add("B", 9000, burst)
    y = mix.render()
    a = float(np.sqrt(np.mean(y[1000:2600] ** 2)))
    b = float(np.sqrt(np.mean(y[9000:10600] ** 2)))
    assert 20 * np.log10(a / b) > 3.0   # the near talker is louder at the microphone


def test_a_tv_bed_is_band_limited_speech_over_music_at_unit_level():
    from voicecoach_dev.evalkit import beds

    rng = np.random.default_rng(1)
    t = np.arange(3 * rooms.RATE) / rooms.RATE
    voice = (np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)   # syllables
    music = (0.5 * np.sin(2 * np.pi * 60 * t) + 0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    bed = beds.tv_bed(rng, 20.0, [voice], music)
    assert len(bed) == 20 * rooms.RATE and bed.dtype == np.float32
    assert np.sqrt(np.mean(bed.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    spec = np.abs(np.fft.rfft(bed)) ** 2
    f = np.fft.rfftfreq(len(bed), 1 / rooms.RATE)
    band = lambda lo, hi: spec[(f >= lo) & (f < hi)].sum()  # noqa: E731
    assert band(55, 65) < 0.1 * band(175, 185)   # the 60 Hz hum of the music is mostly gone (a small speaker)
    assert band(435, 445) > 0.01 * band(175, 185)  # the music is there, under the voice
    with pytest.raises(ValueError):
        beds.tv_bed(rng, 1.0, [])
