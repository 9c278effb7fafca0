"""The double-clap signal: fires on two sharp broadband claps 0.2-0.8 s apart, and not on speech, a single clap,
applause, a door, knocking or household noise. Fixtures are synthesised here (and real clips from the corpus)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voicecoach.commands import Command, Source
from voicecoach.asr.clap import DoubleClapDetector, high_band_ratio
from voicecoach.asr.settings import ClapSettings
from voicecoach.audio.frames import SAMPLE_RATE as R, float_to_int16, frames_from_array
from voicecoach.audio.wav import read_wav

RNG = np.random.default_rng(7)


def clap(amp: float = 0.5, seed: int = 0) -> np.ndarray:
    """A hand clap: a broadband noise burst with a ~1 ms attack, a 6 ms decay and a faint room tail."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.25 * R)) / R
    noise = rng.standard_normal(len(t))
    noise = 0.7 * np.diff(noise, prepend=0.0) + 0.3 * noise  # tilt towards the highs, as a clap is
    env = np.exp(-t / 0.006) + 0.05 * np.exp(-t / 0.05)
    env[:16] *= np.linspace(0, 1, 16)
    x = noise * env
    return amp * x / np.abs(x).max()


def reverberate(x: np.ndarray, tau_s: float, drr_db: float, seed: int = 1) -> np.ndarray:
    """Add a diffuse room tail (exponential decay ``tau_s``) at a direct-to-reverberant ratio of ``drr_db``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.6 * R)) / R
    ir = rng.standard_normal(len(t)) * np.exp(-t / tau_s) * np.sqrt(10 ** (-drr_db / 10) / (R * tau_s / 2))
    ir[0] = 1.0
    return np.convolve(x, ir)


def knock(amp: float = 0.6, freq: float = 220.0) -> np.ndarray:
    """A knock on a door: a sharp but dull (low, narrowband) damped resonance."""
    t = np.arange(int(0.2 * R)) / R
    return amp * np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.015)


def thud(amp: float = 0.7) -> np.ndarray:
    """A door slamming: a low boom with a longer ring."""
    t = np.arange(int(0.8 * R)) / R
    boom = np.sin(2 * np.pi * 70 * t) + 0.5 * np.sin(2 * np.pi * 140 * t)
    return amp * boom * np.exp(-t / 0.12) / 1.5


def scene(total_s: float, items: list[tuple[float, np.ndarray]], floor: float = 0.0005) -> np.ndarray:
    """int16 audio: a faint noise floor with each (start s, float signal) added."""
    a = RNG.standard_normal(int(total_s * R)) * floor
    for at, x in items:
        i = int(at * R)
        a[i:i + len(x)] += x[: len(a) - i]
    return float_to_int16(a)


def detect(audio: np.ndarray, settings: ClapSettings | None = None, frame_ms: int = 30) -> list[float]:
    """Times (s) of the double-clap commands found in ``audio``."""
    detector = DoubleClapDetector(settings)
    times = []
    for frame in frames_from_array(audio, frame_ms):
        for command in detector.process(frame):
            assert (command.reply, command.source) == (Command.PAUSE, Source.CLAP)
            times.append(round(command.t, 2))
    return times


@pytest.mark.parametrize("gap_s", [0.2, 0.3, 0.45, 0.6, 0.8])
def test_two_claps_in_the_allowed_gap_signal_pause_once(gap_s):
    times = detect(scene(3.0, [(1.0, clap()), (1.0 + gap_s, clap(seed=1))]))
    assert len(times) == 1
    assert 1.0 + gap_s < times[0] < 1.0 + gap_s + 0.7  # soon after the second clap (quiet_after_s + confirmation)


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_the_frame_size_does_not_change_the_result(frame_ms):
    audio = scene(3.0, [(1.0, clap()), (1.4, clap(seed=1))])
    times, reference = detect(audio, frame_ms=frame_ms), detect(audio, frame_ms=30)
    assert len(times) == len(reference) == 1 and abs(times[0] - reference[0]) <= 0.03


def test_quiet_and_reverberant_claps_still_count():
    assert len(detect(scene(3.0, [(1.0, clap(0.05)), (1.4, clap(0.05, seed=1))]))) == 1
    for tau_s, drr_db in [(0.06, 0.0), (0.1, 0.0), (0.1, 3.0), (0.3, 6.0)]:
        claps = [(1.0, reverberate(clap(0.4), tau_s, drr_db)), (1.45, reverberate(clap(0.4, seed=1), tau_s, drr_db))]
        assert len(detect(scene(3.0, claps))) == 1, (tau_s, drr_db)


@pytest.mark.parametrize("gap_s", [0.1, 0.15, 0.9, 1.2])
def test_claps_too_close_or_too_far_apart_do_not_signal(gap_s):
    assert detect(scene(3.0, [(1.0, clap()), (1.0 + gap_s, clap(seed=1))])) == []


def test_a_single_clap_does_not_signal():
    assert detect(scene(3.0, [(1.0, clap())])) == []


def test_a_third_clap_right_after_the_pair_cancels_it():
    assert detect(scene(3.0, [(1.0, clap()), (1.3, clap(seed=1)), (1.6, clap(seed=2))])) == []
    assert len(detect(scene(4.0, [(1.0, clap()), (1.3, clap(seed=1)), (2.5, clap(seed=2))]))) == 1


def test_applause_does_not_signal():
    rng = np.random.default_rng(3)
    starts = np.cumsum(rng.uniform(0.08, 0.3, 40)) + 0.5
    audio = scene(float(starts[-1]) + 1.0, [(float(s), clap(rng.uniform(0.2, 0.6), seed=i)) for i, s in enumerate(starts)])
    assert detect(audio) == []


def test_three_claps_in_a_row_do_not_signal():
    assert detect(scene(3.0, [(0.6, clap(seed=3)), (1.0, clap()), (1.4, clap(seed=1))])) == []


def test_a_pair_right_after_another_sharp_sound_does_not_signal():
    assert detect(scene(3.0, [(0.6, knock()), (1.0, clap()), (1.4, clap(seed=1))])) == []


def test_knocking_and_a_door_slam_do_not_signal():
    assert detect(scene(3.0, [(1.0, knock()), (1.35, knock())])) == []
    assert detect(scene(3.0, [(1.0, knock(freq=400)), (1.3, knock(freq=400)), (2.2, knock(freq=400))])) == []
    assert detect(scene(3.0, [(1.0, thud())])) == []
    assert detect(scene(3.0, [(1.0, thud()), (1.5, thud())])) == []


def test_sustained_noise_bursts_do_not_signal():
    burst = RNG.standard_normal(int(0.3 * R)) * 0.2
    assert detect(scene(3.0, [(1.0, burst), (1.5, burst)])) == []


def test_a_clap_is_broadband_and_a_knock_is_not():
    assert high_band_ratio(float_to_int16(clap()[:320])) > 0.8
    assert high_band_ratio(float_to_int16(knock()[:320])) < 0.1


def test_refractory_time_after_a_signal():
    pair = lambda at: [(at, clap()), (at + 0.4, clap(seed=1))]  # noqa: E731
    assert len(detect(scene(7.0, pair(1.0) + pair(4.0)))) == 2
    assert len(detect(scene(7.0, pair(1.0) + pair(4.0)), ClapSettings(refractory_s=5.0))) == 1


def test_disabled_detector_is_silent():
    assert detect(scene(3.0, [(1.0, clap()), (1.4, clap(seed=1))]), ClapSettings(enabled=False)) == []


def test_a_gap_in_the_stream_starts_over():
    detector = DoubleClapDetector()
    first = scene(1.5, [(1.0, clap())])
    second = scene(1.5, [(0.2, clap(seed=1))])
    out = [c for f in frames_from_array(first, 30) for c in detector.process(f)]
    later = frames_from_array(second, 30, start_sample=len(first) + 16000)  # one second went missing
    out += [c for f in later for c in detector.process(f)]
    assert out == []


def test_reset_forgets_a_half_finished_pair():
    detector = DoubleClapDetector()
    audio = scene(3.0, [(1.0, clap()), (1.4, clap(seed=1))])
    frames = list(frames_from_array(audio, 30))
    split = int(1.2 * R) // 480
    for f in frames[:split]:
        detector.process(f)
    detector.reset()
    assert [c for f in frames[split:] for c in detector.process(f)] == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_speech_does_not_signal(tmp_path, gain):
    text = ("Stop it. Two, ten, take the cat to the tent; pick, kick, tick tock. Okay, yes. Not now! "
            "Can we talk about this tomorrow? I said, I'm tired, that's all.")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "170", "-w", str(wav), text], check=True)
    resampled = tmp_path / "speech16.wav"
    subprocess.run(["sox", "-R", str(wav), "-r", "16000", str(resampled)], check=True)  # -R: the same dither each run
    speech = read_wav(resampled).astype(np.float64) / 32768 * gain
    assert detect(float_to_int16(np.clip(speech, -1, 1))) == []


def test_claps_over_a_quiet_voice_still_signal(tmp_path):
    t = np.arange(3 * R) / R
    voice = 0.03 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2  # a soft voice-like hum
    assert len(detect(scene(3.0, [(0.0, voice), (1.0, clap()), (1.4, clap(seed=1))]))) == 1


# --- real recordings (skipped without the corpus) -------------------------------------------------------------

def test_no_esc50_clip_signals(corpus: Path):
    clips = sorted((corpus / "noise" / "esc50").glob("*.wav"))
    if not clips:
        pytest.skip("no ESC-50 clips in the corpus")
    fired = [clip.name for clip in clips if detect(read_wav(clip))]
    assert fired == []  # includes applause (class 22, "clapping"), fireworks, water drops, thunder, dogs


def test_household_noise_does_not_signal_and_claps_over_it_do(corpus: Path):
    folder = corpus / "noise" / "household"
    clips = sorted(folder.glob("*.wav")) if folder.is_dir() else []
    if not clips:
        pytest.skip("no household noise in the corpus")
    for clip in clips:
        noise = read_wav(clip)[: 20 * R]
        assert detect(noise) == [], clip.name
        level = np.sqrt(np.mean((noise.astype(np.float64) / 32768) ** 2))
        base = noise.astype(np.float64)[: 4 * R] / 32768 * (0.01 / max(level, 1e-6))  # noise at -40 dBFS
        assert len(detect(scene(4.0, [(0.0, base), (1.5, clap()), (1.9, clap(seed=1))]))) == 1, clip.name
