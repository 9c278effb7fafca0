"""Features and the whole pipeline on generated audio: pitch, brightness, muting, stats, profile, contract."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from voicecoach.audio.frames import SAMPLE_RATE, float_to_int16, frames_from_array
from voicecoach.detect.features import FeatureExtractor
from voicecoach.detect.pipeline import Pipeline, TalkStats
from voicecoach.detect.settings import DetectionSettings
from voicecoach.detect.speakers import DIM, PartnerVoice, VoiceProfile


def voice(f0_hz: float, seconds: float, level: float = 0.05, tilt: float = 1.0, seed: int = 0) -> np.ndarray:
    """A voice-like signal: harmonics with a spectral tilt, slight vibrato, syllable-rate loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(f0_hz * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / SAMPLE_RATE
    k = np.arange(1, int(3800 / f0_hz) + 1)[:, None]
    x = (np.sin(k * phase[None, :]) / k ** tilt).sum(axis=0)
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2
    x = x / np.sqrt(np.mean(x ** 2)) * level
    return x + rng.normal(0, level * 0.01, len(x))


def run(pipeline: Pipeline, audio: np.ndarray, muted: bool = False) -> list:
    events = []
    for frame in frames_from_array(float_to_int16(audio)):
        events += pipeline.process(frame, muted=muted)
    return events + pipeline.flush()


@pytest.mark.parametrize("f0", [90.0, 140.0, 230.0, 340.0])
def test_pitch_of_a_voice_like_signal(f0):
    fe = FeatureExtractor(DetectionSettings(speech_margin_db=0.0))
    feats = [fe.process(f) for f in frames_from_array(float_to_int16(voice(f0, 1.0)))]
    pitched = [f.f0_hz for f in feats[3:] if f.f0_hz > 0]
    assert len(pitched) > 20
    assert abs(np.median(pitched) / f0 - 1) < 0.03


def test_brightness_rises_with_energy_above_1khz():
    fe = FeatureExtractor(DetectionSettings(speech_margin_db=0.0))
    dark = [fe.process(f).bright_db for f in frames_from_array(float_to_int16(voice(150, 0.6, tilt=1.5)))]
    fe.reset()
    bright = [fe.process(f).bright_db for f in frames_from_array(float_to_int16(voice(150, 0.6, tilt=0.5)))]
    assert np.median(bright[3:]) > np.median(dark[3:]) + 5


def test_silence_is_not_speech_and_the_noise_floor_follows_it():
    p = Pipeline()
    run(p, np.random.default_rng(1).normal(0, 0.001, SAMPLE_RATE))
    assert p.last is not None and not p.last.is_speech
    assert -70 < p.features.noise_db < -55


def test_muted_frames_emit_nothing_and_learn_nothing():
    p = Pipeline()
    quiet = np.random.default_rng(2).normal(0, 0.0005, SAMPLE_RATE)
    run(p, quiet)
    floor = p.features.noise_db
    loud = np.concatenate([voice(200, 3.0, level=0.3), quiet])
    assert run(p, loud, muted=True) == []
    assert p.last.energy_db > -100          # still measured, for the level meter
    assert p.features.noise_db == floor
    assert p.speakers.models == {} and p.raised.partners == {}
    assert p.stats().speaking_s == {"A": 0.0, "B": 0.0}


def test_two_voices_taking_turns_are_labelled_and_counted():
    p = Pipeline()
    gap = np.zeros(int(0.5 * SAMPLE_RATE))
    turns = []
    for i in range(8):
        turns += [voice(110, 3.0, 0.05, 1.4, seed=i), gap, voice(240, 3.0, 0.05, 0.8, seed=100 + i), gap]
    events = run(p, np.concatenate(turns))
    stats = p.stats()
    assert isinstance(stats, TalkStats)
    assert stats.speaking_s["A"] > 5 and stats.speaking_s["B"] > 5
    assert not [e for e in events if e.type == "raised_voice"]


def test_stage_objects_are_exposed_for_the_benchmark():
    p = Pipeline(DetectionSettings(), frame_ms=30)
    for name in ("features", "speakers", "raised", "interruptions", "escalation"):
        stage = getattr(p, name)
        assert callable(stage.process) and callable(stage.reset)


def test_snooze_is_forwarded_on_audio_time():
    p = Pipeline()
    p.snooze(10.0, now_s=5.0)
    assert p.escalation._snooze_until == pytest.approx(605.0)


def test_voice_profile_round_trips_and_seeds_the_model():
    prof = VoiceProfile({"A": PartnerVoice([0.1] * DIM, -30.0, 120.0, -12.0),
                         "B": PartnerVoice([0.5] * DIM, -34.0, 220.0, -8.0)})
    again = VoiceProfile.from_json(prof.to_json())
    assert again == prof
    p = Pipeline(profile=again)
    assert set(p.speakers.models) == {"A", "B"}
    assert p.raised.partners["B"].level_db == -34.0
    p.reset()
    assert set(p.speakers.models) == {"A", "B"}


def test_a_malformed_profile_is_refused():
    with pytest.raises(ValueError):
        VoiceProfile.from_json('{"partners": {"C": {"voice": []}}}')
    with pytest.raises(ValueError):
        VoiceProfile.from_json('{"partners": {"A": {"voice": [1, 2]}}}')


def test_a_profile_built_from_calm_recordings_seeds_and_labels_the_partners():
    from voicecoach.detect.calibration import build_profile

    hush = np.random.default_rng(5).normal(0, 0.0005, SAMPLE_RATE // 2)   # a recording starts before the voice
    low = float_to_int16(np.concatenate([hush, voice(110, 6.0, 0.05, 1.4, seed=1)]))
    high = float_to_int16(np.concatenate([hush, voice(240, 6.0, 0.05, 0.8, seed=2)]))
    prof = build_profile({"A": low, "B": high})
    assert prof.partners["A"].calm_f0_hz == pytest.approx(110, rel=0.05)
    assert prof.partners["B"].calm_f0_hz == pytest.approx(240, rel=0.05)
    p = Pipeline(profile=VoiceProfile.from_json(prof.to_json()))
    gap = np.zeros(int(0.5 * SAMPLE_RATE))
    run(p, np.concatenate([hush, voice(240, 2.0, 0.05, 0.8, seed=3), gap]))
    assert p.stats().speaking_s["B"] > 1.0 and p.stats().speaking_s["A"] < 0.5


def test_too_little_speech_for_a_profile_is_a_clear_error():
    from voicecoach.detect.calibration import partner_voice

    with pytest.raises(ValueError, match="speak a little longer"):
        partner_voice(float_to_int16(np.concatenate([np.zeros(8000), voice(150, 1.0)])))


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_every_webrtcvad_frame_size_finds_both_partners(frame_ms):
    p = Pipeline(frame_ms=frame_ms)
    gap = np.zeros(int(0.5 * SAMPLE_RATE))
    turns = [np.random.default_rng(9).normal(0, 0.0005, SAMPLE_RATE // 2)]
    for i in range(6):
        turns += [voice(110, 3.0, 0.05, 1.4, seed=i), gap, voice(240, 3.0, 0.05, 0.8, seed=50 + i), gap]
    audio = float_to_int16(np.concatenate(turns))
    for frame in frames_from_array(audio, frame_ms):
        p.process(frame)
    assert len(p.speakers.models) == 2
    assert min(p.stats().speaking_s.values()) > 3.0


def _plucked(seconds: float, level: float) -> np.ndarray:
    """A guitar-like bed: harmonic notes plucked every 0.3 s, with a short rest every 2.9 s.

    The rests pull the noise floor far under the music (it falls fast and rises slowly), as real music does.
    """
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    note = sum(np.sin(2 * np.pi * 196.0 * k * t) / k for k in range(1, 8)) * np.exp(-((t % 0.3) / 0.4))
    note *= (t % 2.9) > 0.15
    return note / np.sqrt(np.mean(note ** 2)) * level


def test_the_pause_between_turns_over_music_is_quiet_though_the_vad_calls_it_speech():
    talk = []
    for i in range(12):   # 2 s turns at about -30 dBFS, 0.6 s pauses in which only the music plays
        talk += [voice(130 if i % 2 else 220, 2.0, level=0.03, seed=i), np.zeros(int(0.6 * SAMPLE_RATE))]
    speech = np.concatenate(talk)
    bed = _plucked(len(speech) / SAMPLE_RATE, 0.0045)   # about 17 dB under the speech
    fe = FeatureExtractor(DetectionSettings())
    feats = [fe.process(f) for f in frames_from_array(float_to_int16(speech + bed))]
    late = [f for f in feats if f.end_s > 13.0]   # once the bed level is known
    pauses = [[f for f in late if k * 2.6 + 2.0 < f.end_s <= k * 2.6 + 2.6] for k in range(5, 12)]
    talking = [f for f in late if (f.end_s % 2.6) < 1.9]
    assert np.mean([f.is_speech for p in pauses for f in p]) > 0.3   # the trap: the VAD hears the guitar as speech

    def longest_quiet_run(frames: list) -> int:
        best = run = 0
        for f in frames:
            run = run + 1 if f.quiet else 0
            best = max(best, run)
        return best

    # the pauses are quiet (the VAD alone leaves a third of them "speech"), each a gap the detectors see
    assert np.mean([f.quiet for p in pauses for f in p]) > 0.9
    assert all(longest_quiet_run(p) >= 4 for p in pauses), [longest_quiet_run(p) for p in pauses]
    assert np.mean([f.quiet for f in talking]) < 0.2
    assert feats[-1].bed_db is not None and -60 < feats[-1].bed_db < -45


def test_the_soft_end_of_continuous_talk_in_a_quiet_room_is_not_a_gap():
    # partners talking over each other for 16 s leave no pause: the low levels are soft syllables, not a bed
    rng = np.random.default_rng(1)
    parts = [rng.normal(0, 3e-5, SAMPLE_RATE)]   # a second of a quiet room first
    for i in range(8):
        x = voice(130 if i % 2 else 220, 2.0, level=0.05, seed=i)
        t = np.arange(len(x)) / SAMPLE_RATE
        parts.append(x * (0.1 + np.sin(2 * np.pi * 1.7 * t) ** 2))   # syllables fading 20 dB
    audio = np.concatenate(parts) + rng.normal(0, 3e-5, 17 * SAMPLE_RATE)
    fe = FeatureExtractor(DetectionSettings())
    feats = [fe.process(f) for f in frames_from_array(float_to_int16(audio))]
    late = [f for f in feats if f.end_s > 8.0]
    assert all(f.is_speech for f in late)
    assert np.mean([f.quiet for f in late]) < 0.05   # the 10th percentile of levels alone made 15 % "quiet"


# the voice-contrast evidence belongs to the 'features' interruption method (the default is the model)
FEATURES = replace(DetectionSettings(), interruption=replace(DetectionSettings().interruption, method="features"))


def _contrast_times(pipeline: Pipeline, audio: np.ndarray) -> list[float]:
    """When the interruption detector was given voice evidence (a contrast), in seconds of audio."""
    seen = []
    real = pipeline.interruptions.process

    def spy(feats, label, contrast, muted=False):
        if contrast is not None:
            seen.append(feats.end_s)
        return real(feats, label, contrast, muted)

    pipeline.interruptions.process = spy
    run(pipeline, audio)
    return seen


def _two_voices(seconds: float) -> np.ndarray:
    turns = [voice(220 if i % 2 == 0 else 120, 2.5, level=0.05, seed=i) for i in range(int(seconds / 2.8))]
    gap = np.zeros(int(0.3 * SAMPLE_RATE))
    return np.concatenate([x for t in turns for x in (t, gap)])


def test_interruption_evidence_waits_until_the_two_voices_have_settled():
    audio = _two_voices(60.0)
    p = Pipeline()
    first_two = None
    for frame in frames_from_array(float_to_int16(audio)):   # when are both voices first told apart?
        p.process(frame)
        if first_two is None and len(p.speakers.models) == 2:
            first_two = p.last.end_s
    assert first_two is not None and first_two < 35.0
    settled = _contrast_times(Pipeline(FEATURES), audio)
    assert settled and settled[0] >= first_two + 20.0
    eager = _contrast_times(Pipeline(replace(FEATURES, interruption=replace(FEATURES.interruption, settle_s=0.0))),
                            audio)
    assert eager and eager[0] < first_two + 5.0


def test_a_calibration_profile_needs_no_settling():
    p = Pipeline()
    run(p, _two_voices(50.0))
    assert len(p.speakers.models) == 2
    prof = VoiceProfile({k: PartnerVoice(voice=list(map(float, m))) for k, m in p.speakers.models.items()})
    seen = _contrast_times(Pipeline(FEATURES, profile=prof), _two_voices(20.0))
    assert seen and seen[0] < 10.0


def _contrast_with(a_voice: list[float], b_voice: list[float], frame_voice: list[float]):
    """The voice contrast (other vs holder "A") of one speech frame, with the two voices seeded by a profile."""
    from voicecoach.detect.features import FrameFeatures
    from voicecoach.detect.speakers import MFCC_SCALE, PITCH_UNIT_ST, SpeakerTracker

    tracker = SpeakerTracker(DetectionSettings().speakers, 30, VoiceProfile(
        {"A": PartnerVoice(a_voice), "B": PartnerVoice(b_voice)}))
    mfcc = np.array(frame_voice[:-1]) * MFCC_SCALE
    f0_hz = 100.0 * 2 ** (frame_voice[-1] * PITCH_UNIT_ST / 12.0)
    tracker.process(FrameFeatures(0, 0.03, -30.0, True, -80.0, f0_hz=f0_hz, mfcc=mfcc))
    return tracker.contrast("A")


def test_voices_of_one_pitch_give_timbre_evidence_only_when_their_timbres_differ_clearly():
    low, high = [0.0] * (DIM - 1), [2.0] * (DIM - 1)
    # different pitches: timbre and pitch both point at B
    timbre, pitch, _, _ = _contrast_with(low + [1.0], high + [3.0], high + [3.0])
    assert timbre > 0.9 and pitch > 0.9
    # one pitch, clearly different timbres: timbre evidence, no pitch evidence
    timbre, pitch, _, _ = _contrast_with(low + [2.0], high + [2.0], high + [2.0])
    assert timbre > 0.9 and pitch == 0.0
    # one pitch, timbres too close to tell apart frame by frame: no evidence at all
    near = [0.5] * (DIM - 1)
    assert _contrast_with(low + [2.0], near + [2.0], near + [2.0]) is None


def _stretch_lengths(snr_db: float, dip_frames: int) -> list[int]:
    """Speech frames per stretch the tracker counts: 1 s of speech, a dip of ``dip_frames``, repeated."""
    from voicecoach.detect.features import FrameFeatures, N_MFCC
    from voicecoach.detect.speakers import SpeakerTracker

    tracker = SpeakerTracker(DetectionSettings().speakers)
    lengths, last, i = [], 0, 0
    for _ in range(6):
        for speech in [True] * 33 + [False] * dip_frames:
            f = FrameFeatures(i * 480, (i + 1) * 0.03, -30.0 if speech else -44.0, speech, -45.0,
                              f0_hz=120.0 if speech else 0.0, mfcc=np.ones(N_MFCC) if speech else None,
                              snr_db=snr_db, quiet=not speech)
            tracker.process(f)
            if tracker.stretch_frames < last:
                lengths.append(last)
            last = tracker.stretch_frames
            i += 1
    return lengths + ([last] if last else [])


def test_in_noise_a_short_dip_under_the_floor_does_not_end_the_stretch():
    assert _stretch_lengths(snr_db=30.0, dip_frames=6) == [33] * 6          # quiet room: a 180 ms gap ends it
    assert _stretch_lengths(snr_db=10.0, dip_frames=6) == [6 * 33]          # noise: soft sounds fell under it
    assert _stretch_lengths(snr_db=10.0, dip_frames=14) == [33] * 6         # a 420 ms gap is a gap even there


def test_raised_seconds_are_the_raised_time_the_pause_rule_counts():
    """The talk's raised seconds per partner are the frames the escalation policy counts as raised voice, whoever the
    tracker names each frame as (here one voice, named A, whose frames the raised-voice detector gives to B, as it
    does with an angry turn's words named as the other partner)."""
    p = Pipeline()
    detect, policy = p.raised.process, p.escalation.process
    counted = []

    def raised_process(feats, label, *args, **kwargs):
        events = detect(feats, label, *args, **kwargs)
        p.raised.active = "B" if feats.is_speech else None
        return events

    def policy_process(now_s, events, raised_now, *args, **kwargs):
        counted.append(raised_now)
        return policy(now_s, events, raised_now, *args, **kwargs)

    p.raised.process, p.escalation.process = raised_process, policy_process
    hush = np.random.default_rng(3).normal(0, 0.0005, SAMPLE_RATE // 2)
    run(p, np.concatenate([hush, voice(150, 2.0, seed=4), hush]))
    stats = p.stats()
    assert stats.speaking_s["A"] > 0.5 and stats.speaking_s["B"] == 0.0
    assert stats.raised_s["B"] == pytest.approx(sum(counted) * p.frame_ms / 1000.0)
    assert stats.raised_s["B"] > 1.5 and stats.raised_s["A"] == 0.0   # the unnamed frames too
