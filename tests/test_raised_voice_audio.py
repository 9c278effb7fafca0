"""The whole detection pipeline on audio: a voice that is only louder (leaning in) is not raised; a changed one is.

Generated talks (harmonic 'syllables' whose pitch and spectral tilt are set per turn) and, when the corpus is
there, EmoDB: the same actor's neutral takes made 9 dB louder against their angry takes restored 9 dB above.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach.audio.frames import frames_from_array
from voicecoach.audio.wav import read_wav
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings, EscalationSettings, InterruptionSettings, SpeakerSettings

RATE = 16000


def _pipeline() -> Pipeline:
    # the light interruption method: raised voices do not depend on it, and the test stays fast
    return Pipeline(DetectionSettings(interruption=InterruptionSettings(method="features")))


def _raised(audio: np.ndarray) -> list:
    p = _pipeline()
    pcm = np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)
    return [e for fr in frames_from_array(pcm, 30) for e in p.process(fr) if e.type == "raised_voice"]


def _syllables(rng: np.random.Generator, seconds: float, f0_hz: float, tilt: float, level_db: float) -> np.ndarray:
    """A turn of harmonic syllables: harmonic k has amplitude k**-tilt (less tilt = more energy above 1 kHz)."""
    out = []
    while sum(len(x) for x in out) < seconds * RATE:
        n = int(rng.uniform(0.15, 0.35) * RATE)
        t = np.arange(n) / RATE
        f0 = f0_hz * (1.0 + 0.04 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) * rng.uniform(0.93, 1.07)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        ks = np.arange(1, int(7000 / f0_hz))
        x = sum(k ** -tilt * np.sin(k * phase) for k in ks)
        out += [x * np.hanning(n) ** 0.3, np.zeros(int(rng.uniform(0.04, 0.12) * RATE))]
    x = np.concatenate(out)
    x = x / np.sqrt(np.mean(x[np.abs(x) > 1e-4] ** 2))
    return x * 10 ** (level_db / 20)


def _talk(a_turns: list[tuple[float, float, float]], seed: int = 0) -> tuple[np.ndarray, float]:
    """A (115 Hz) and B (210 Hz) alternating; ``a_turns`` gives A's (f0, tilt, level) per turn after a calm minute.

    Returns the audio and when A's first turn after the calm minute starts (s).
    """
    rng = np.random.default_rng(seed)
    calm_a, calm_b = (115.0, 1.6, -32.0), (210.0, 1.8, -32.0)
    parts, start = [], 0.0
    for k, turn in enumerate([calm_a] * 10 + list(a_turns)):
        if k == 10:
            start = sum(len(p) for p in parts) / RATE
        parts += [_syllables(rng, 3.0, *turn), np.zeros(int(0.5 * RATE)),
                  _syllables(rng, 3.0, *calm_b), np.zeros(int(0.5 * RATE))]
    x = np.concatenate(parts)
    return x + rng.normal(0.0, 10 ** (-70 / 20), len(x)), start


def test_the_same_voice_9_db_louder_raises_nothing_but_a_changed_voice_does():
    lean, _ = _talk([(115.0, 1.6, -23.0)] * 6)      # A leans in: 9 dB louder, same pitch and tilt
    assert _raised(lean) == []
    angry, start = _talk([(185.0, 1.0, -23.0)] * 3)     # A raises their voice: +8 semitones, brighter, 9 dB louder
    events = _raised(angry)
    assert len(events) >= 1
    assert start + 0.7 <= events[0].t <= start + 2.5


def _quick_turns(second: tuple[float, float, float], b_calm: tuple[float, float, float],
                 seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """A calm minute of A (115 Hz) and B (``b_calm``), then three times: A calm for 3 s and, with no pause at all,
    ``second`` (f0, tilt, level) for 4 s. Returns the audio and when each ``second`` starts (s)."""
    rng = np.random.default_rng(seed)
    calm_a = (115.0, 1.6, -32.0)
    parts, starts = [], []
    for _ in range(10):
        parts += [_syllables(rng, 3.0, *calm_a), np.zeros(int(0.5 * RATE)),
                  _syllables(rng, 3.0, *b_calm), np.zeros(int(0.5 * RATE))]
    for _ in range(3):
        parts.append(_syllables(rng, 3.0, *calm_a))
        starts.append(sum(len(p) for p in parts) / RATE)
        parts += [_syllables(rng, 4.0, *second), np.zeros(int(0.5 * RATE)),
                  _syllables(rng, 3.0, *calm_a), np.zeros(int(0.5 * RATE))]
    x = np.concatenate(parts)
    return x + rng.normal(0.0, 10 ** (-70 / 20), len(x)), starts


def test_the_other_partner_nearer_and_calm_right_after_a_turn_is_not_raised():
    # B (higher, brighter than A) takes over with no pause, 9 dB nearer: the stretch is still labelled A, and
    # against A's calm voice B's sounds higher, brighter and louder; the recent voice says it is B's
    b_calm = (210.0, 1.2, -32.0)
    for seed in (0, 1):
        audio, _ = _quick_turns((210.0, 1.2, -23.0), b_calm, seed)
        assert _raised(audio) == []


def test_a_raise_inside_a_turn_is_still_reported():
    audio, starts = _quick_turns((150.0, 1.0, -23.0), (220.0, 1.5, -32.0))   # A: +5 semitones, brighter, +9 dB
    events = _raised(audio)
    assert len(events) >= 2
    assert starts[0] + 0.3 <= events[0].t <= starts[0] + 2.5


@pytest.mark.corpus
def test_emodb_angry_takes_are_raised_and_louder_neutral_takes_are_not(corpus):
    from voicecoach_dev.evalkit import corpus as kit
    from voicecoach_dev.evalkit.corpus import active_rms

    actors = kit.emodb(corpus)
    man, woman = actors["03"], actors["08"]      # tuning actors (splits.EMODB)

    def take(voice, k: int, db: float) -> np.ndarray:
        x = voice.clips[k % len(voice.clips)]
        return x / max(active_rms(x), 1e-6) * 10 ** (db / 20)

    def talk(raise_with) -> np.ndarray:
        gap = np.zeros(int(0.4 * RATE), np.float32)
        parts = []
        for k in range(8):   # calm: his and her neutral takes, two at a time
            parts += [take(man.neutral, 2 * k, -32), take(man.neutral, 2 * k + 1, -32), gap,
                      take(woman.neutral, 2 * k, -31), take(woman.neutral, 2 * k + 1, -31), gap]
        for k in range(3):
            parts += [raise_with(2 * k), raise_with(2 * k + 1), gap, take(woman.neutral, k, -31), gap]
        return np.concatenate(parts)

    assert _raised(talk(lambda k: take(man.neutral, k, -23))) == []    # his calm voice, 9 dB nearer
    events = _raised(talk(lambda k: take(man.angry, k, -23)))          # his angry voice, level restored +9 dB
    assert len(events) >= 1


@pytest.mark.corpus
def test_a_leaning_partner_whose_turn_is_first_named_as_the_other_is_not_raised(corpus, tmp_path):
    # A real dry lean-in talk (evaluate --split train, draw 10): she leans in (+7 dB) and the first words of her
    # turns sound about as much like him; named as him, her calm voice was 'his raised voice' (2 events in her
    # lean, one more later, and a false pause suggestion). A near tie now makes the raised-voice detector wary.
    from voicecoach_dev.evalkit.devset import build_item

    meta = build_item(corpus, "lean_in-08", tmp_path, draw=10, split="train")
    if [p["voice"] for p in meta["partners"].values()] != ["libx-3575", "libx-1320"]:
        pytest.skip("the corpus has changed: this draw is no longer the talk the test was written on")
    leans = [(w["start"], w["end"]) for w in meta["truth"]["lean"]]
    # the talk up to 1 s after its last lean (176 of 212 s): a raised voice is stamped with the time it is found
    # (RaisedVoice.t, the frame's), and the pipeline never looks ahead, so the audio after it changes no event in a
    # lean, and both runs below give the same events in the leans as over the whole talk
    pcm = read_wav(tmp_path / meta["wav"])[:int((max(b for _, b in leans) + 1.0) * RATE)]

    def raised(unsure_ratio: float) -> list:
        p = Pipeline(DetectionSettings(speakers=SpeakerSettings(unsure_ratio=unsure_ratio)))
        return [e for fr in frames_from_array(pcm, 30) for e in p.process(fr) if e.type == "raised_voice"]

    def in_lean(events: list) -> list:
        return [e for e in events if any(a <= e.t <= b for a, b in leans)]

    assert in_lean(raised(SpeakerSettings().unsure_ratio)) == []
    # without the doubt at a near tie (ratio above 1: never unsure): 2 in the lean when the test was written, 1 since
    # dev-set builder 8 takes the recordings' DC offsets off (libx-1320 carries one at -45 dB re its speech)
    assert len(in_lean(raised(10.0))) >= 1


def test_the_replay_of_cached_frame_inputs_gives_the_pipelines_raised_voices_exactly(tmp_path):
    # scripts/replay-raised replays the detector over each frame's features and the tracker's label and flags,
    # cached once; its figures are only worth having if they are the pipeline's own
    from voicecoach.audio.wav import write_wav
    from voicecoach_dev.evalkit.replay import frame_inputs, replay

    angry, _ = _talk([(185.0, 1.0, -23.0), (115.0, 1.6, -32.0), (160.0, 1.1, -25.0)] * 2)
    angry = angry + 0.004   # a converter's DC offset: the pipeline takes it off first, so must the replay
    pcm = np.clip(angry * 32768.0, -32768, 32767).astype(np.int16)
    write_wav(tmp_path / "talk.wav", pcm)
    settings = _pipeline().settings
    live = [(e.t, e.start, e.speaker, e.level_db) for e in _raised(angry)]
    replayed = [(e.t, e.start, e.speaker, e.level_db) for e in replay(frame_inputs(tmp_path / "talk.wav", settings),
                                                                      settings.raised)]
    assert len(live) >= 2
    assert replayed == live


def test_the_replay_with_the_pause_policy_gives_the_pipelines_pause_suggestions_exactly(tmp_path):
    # replay-raised --pauses: the raised voices replayed, the full run's interruptions fed back on the frame that
    # emitted them, through a fresh escalation policy; its pause figures are worth having only if they are the
    # pipeline's own
    from voicecoach.audio.wav import write_wav
    from voicecoach.detect.escalation import EscalationPolicy
    from voicecoach.events import Interruption, PauseSuggested
    from voicecoach_dev.evalkit.replay import frame_inputs, replay

    angry, _ = _talk([(185.0, 1.0, -23.0), (115.0, 1.6, -32.0), (160.0, 1.1, -25.0)] * 4, seed=3)
    pcm = np.clip(angry * 32768.0, -32768, 32767).astype(np.int16)
    write_wav(tmp_path / "talk.wav", pcm)
    # only the rule of raised voices and an interruption together can fire: the interruption must arrive in time
    s = DetectionSettings(interruption=InterruptionSettings(method="features"),
                          escalation=EscalationSettings(raised_s=600.0, raised_events=50, cooldown_min=0.0))
    p = Pipeline(s)
    events = [e for fr in frames_from_array(pcm, 30) for e in p.process(fr)]
    cuts = [e for e in events if isinstance(e, Interruption)]
    live = [(e.t, e.reason) for e in events if isinstance(e, PauseSuggested)]
    replayed = replay(frame_inputs(tmp_path / "talk.wav", s), s.raised, 30,
                      EscalationPolicy(s.escalation, 30, s.interruption.method), cuts)
    assert live and "interruption" in live[0][1]
    assert [(e.t, e.reason) for e in replayed if isinstance(e, PauseSuggested)] == live
