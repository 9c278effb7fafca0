"""Interruption detector, driven by synthetic frames: level, partner label and voice contrast per frame."""

from __future__ import annotations

from voicecoach.detect.features import FrameFeatures
from voicecoach.detect.interruption import InterruptionDetector
from voicecoach.detect.settings import InterruptionSettings
from voicecoach.events import Interruption

FRAME_S = 0.03
# (timbre, pitch) contrast and each frame's distance to the holder's and the other partner's voice
HOLDER, OVERLAP, OTHER = (-1.0, -0.8, 1.0, 2.0), (0.4, 0.3, 1.5, 1.2), (1.0, 0.9, 2.0, 1.0)


class Feed:
    """Frames on an audio clock; ``contrast`` says how much each frame sounds like the non-holder."""

    def __init__(self, settings: InterruptionSettings | None = None) -> None:
        self.det = InterruptionDetector(settings or InterruptionSettings())
        self.n = 0
        self.events: list[Interruption] = []
        self.bed_db: float | None = None   # the background level the feature extractor reports

    @property
    def now(self) -> float:
        return self.n * FRAME_S

    def speech(self, seconds: float, label: str, contrast: tuple[float, float, float, float],
               level_db: float = -30.0, f0_hz: float = 150.0) -> list[Interruption]:
        """Voiced speech frames (``f0_hz`` 0: a sound with no pitch, such as a hiss or a door)."""
        out = []
        for i in range(int(round(seconds / FRAME_S))):
            e = level_db + (2.0 if i % 4 == 0 else -1.0)
            f = FrameFeatures(self.n * 480, (self.n + 1) * FRAME_S, e, True, -80.0, f0_hz=f0_hz, bed_db=self.bed_db)
            c = contrast if self.det.holder is not None else None
            out += self.det.process(f, label, c)
            self.n += 1
        self.events += out
        return out

    def fill(self, seconds: float, level_db: float) -> None:
        """Pitchless frames between words: a music or noise bed the VAD calls speech (-80 dB: silence)."""
        for _ in range(int(round(seconds / FRAME_S))):
            f = FrameFeatures(self.n * 480, (self.n + 1) * FRAME_S, level_db, level_db > -70.0, -80.0,
                              bed_db=self.bed_db)
            self.det.process(f, "A" if level_db > -70.0 else None, (0.0, 0.0, 2.0, 2.0))
            self.n += 1

    def silence(self, seconds: float) -> None:
        for _ in range(int(round(seconds / FRAME_S))):
            self.det.process(FrameFeatures(self.n * 480, (self.n + 1) * FRAME_S, -80.0, False, -80.0), None, None)
            self.n += 1


def test_an_overlap_that_keeps_going_is_an_interruption_of_the_holder():
    feed = Feed()
    feed.speech(2.5, "A", HOLDER)
    onset = feed.now
    events = feed.speech(1.0, "A", OVERLAP, level_db=-27.0) + feed.speech(2.0, "B", OTHER)
    assert len(events) == 1
    e = events[0]
    assert (e.speaker, e.over) == ("B", "A")
    assert abs(e.start - onset) <= 0.3
    assert InterruptionSettings().sustain_ms / 1000.0 <= e.t - onset <= 1.0


def test_a_backchannel_under_the_sustain_time_is_not_an_interruption():
    feed = Feed()
    feed.speech(2.5, "A", HOLDER)
    feed.speech(0.4, "A", OVERLAP, level_db=-27.0)   # "mm-hm" over A
    feed.speech(3.0, "A", HOLDER)
    assert feed.events == []


def test_turn_taking_after_a_gap_is_not_an_interruption():
    feed = Feed()
    feed.speech(3.0, "A", HOLDER)
    feed.silence(0.4)
    feed.speech(3.0, "B", HOLDER)      # B now holds the floor: their speech is the holder's own
    assert feed.events == []


def test_a_pitchless_noise_that_fills_the_gap_between_turns_ends_the_floor():
    feed = Feed()
    feed.speech(3.0, "A", HOLDER)
    feed.speech(0.5, "A", (0.0, 0.0, 2.0, 2.0), f0_hz=0.0)   # a tap running over the pause between turns
    feed.speech(0.9, "B", OTHER)       # B takes the turn with no silence in between (unlike A's voice)...
    feed.speech(2.0, "B", HOLDER)      # ...and holds the floor
    assert feed.events == []


def test_the_start_is_where_the_first_evidence_of_the_overlap_began():
    feed = Feed()
    feed.speech(2.5, "A", HOLDER)
    onset = feed.now
    feed.speech(0.3, "A", OVERLAP)     # the interrupter joins, the holder's voice still dominates...
    feed.speech(0.3, "A", HOLDER)
    events = feed.speech(2.0, "B", OTHER)   # ...then the holder gives way
    assert len(events) == 1
    assert abs(events[0].start - onset) <= 0.1


def _weak_overlap_after_talk(bed_db: float) -> list[Interruption]:
    """A holds the floor for 15 s with short pauses (silent, or filled by a bed); then a faint, short overlap."""
    feed = Feed(InterruptionSettings(clean_snr_db=25.0))   # the faint overlap's evidence sits between thresholds
    feed.bed_db = bed_db
    for _ in range(22):
        feed.speech(0.6, "A", HOLDER)
        feed.fill(0.09, bed_db)
    feed.speech(0.75, "A", (0.2, 0.2, 1.5, 1.2), level_db=-28.0)
    feed.speech(2.0, "A", HOLDER)
    return feed.events


def test_a_noise_or_music_bed_asks_for_more_evidence_than_a_quiet_room():
    assert len(_weak_overlap_after_talk(-80.0)) == 1   # in a quiet room the faint overlap counts
    assert _weak_overlap_after_talk(-36.0) == []        # over a loud bed the same evidence is not enough


def test_the_holders_own_speech_never_accumulates():
    feed = Feed()
    feed.speech(30.0, "A", HOLDER)
    assert feed.events == []


def test_refractory_time_allows_one_interruption_per_exchange():
    feed = Feed(InterruptionSettings(refractory_s=5.0))
    feed.speech(2.5, "A", HOLDER)
    feed.speech(1.0, "A", OVERLAP, -27.0)
    feed.speech(1.0, "B", OVERLAP, -27.0)  # the interruption goes on: still one event
    assert len(feed.events) == 1


def test_a_sound_unlike_either_voice_is_not_an_interruption():
    feed = Feed()
    feed.speech(2.5, "A", HOLDER)
    feed.speech(1.5, "A", (0.5, 0.5, 3.0, 3.0), level_db=-25.0)   # a dog barking over A
    assert feed.events == []


def _overlap_then_other(feed: Feed, muted: bool) -> list[Interruption]:
    """The frames of an interruption (a louder voice like the other partner's over the holder, then the other
    partner alone), as test_an_overlap_that_keeps_going_is_an_interruption_of_the_holder feeds them."""
    found = []
    for seconds, label, contrast, level in ((1.0, "A", OVERLAP, -27.0), (2.0, "B", OTHER, -30.0)):
        for i in range(int(round(seconds / FRAME_S))):
            e = level + (2.0 if i % 4 == 0 else -1.0)
            f = FrameFeatures(feed.n * 480, (feed.n + 1) * FRAME_S, e, True, -80.0, f0_hz=150.0)
            found += feed.det.process(f, label, contrast, muted=muted)
            feed.n += 1
    return found


def test_muted_frames_are_ignored():
    # the same frames that make an interruption when heard (the control) make none while the product speaks
    heard = Feed()
    heard.speech(2.5, "A", HOLDER)
    assert len(_overlap_then_other(heard, muted=False)) == 1
    feed = Feed()
    feed.speech(2.5, "A", HOLDER)
    assert _overlap_then_other(feed, muted=True) == []


def test_partners_of_one_pitch_are_told_apart_by_timbre_alone():
    # the voice model gives no pitch contrast (0) on voiced frames when both partners speak at the same pitch
    feed = Feed()
    feed.speech(2.5, "A", (-1.0, 0.0, 1.0, 2.0))
    onset = feed.now
    events = feed.speech(1.0, "A", (0.6, 0.0, 1.5, 1.2), level_db=-27.0) + feed.speech(2.0, "B", (1.0, 0.0, 2.0, 1.0))
    assert len(events) == 1
    assert abs(events[0].start - onset) <= 0.3
    feed.speech(10.0, "B", (-1.0, 0.0, 1.0, 2.0))   # and the new holder's own speech adds nothing
    assert len(feed.events) == 1
