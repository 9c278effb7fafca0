"""The detection pipeline: frames -> features -> who speaks -> raised voice, interruption -> escalation -> events.

The same object runs in ``voicecoach analyze`` (as fast as the file can be read) and in the live loop (one frame
every 30 ms), so a WAV replays exactly what happens live. Pure: no threads, no devices, no wall clock; time is
the audio clock of the frames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..audio.frames import Frame
from ..events import Event, Interruption, RaisedVoice
from .dc import DcBlocker
from .escalation import EscalationPolicy
from .features import FeatureExtractor, FrameFeatures
from .holder_floor import HolderFloor
from .interruption import InterruptionDetector
from .overlap import LookHint, OverlapInterruptionDetector
from .raised import RaisedVoiceDetector
from .settings import DetectionSettings
from .speakers import SpeakerTracker, VoiceProfile
from .stream_detector import StreamGate, StreamInterruptionDetector
from .voice_bed import VoiceBed

log = logging.getLogger(__name__)

__all__ = ["Pipeline", "FrameFeatures", "TalkStats", "VoiceProfile"]


@dataclass
class TalkStats:
    """What a talk looked like, for the journal: seconds and counts per partner ("A", "B")."""

    speaking_s: dict[str, float] = field(default_factory=lambda: {"A": 0.0, "B": 0.0})
    raised_s: dict[str, float] = field(default_factory=lambda: {"A": 0.0, "B": 0.0})
    raised_events: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    interruptions_by: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    pause_suggestions: int = 0
    audio_s: float = 0.0


class Pipeline:
    """Runs every detector over a stream of frames and returns their events."""

    def __init__(self, settings: DetectionSettings | None = None, frame_ms: int = 30,
                 profile: VoiceProfile | None = None) -> None:
        self.settings = settings or DetectionSettings()
        self.frame_ms = frame_ms
        self.profile = profile
        s = self.settings
        self.dc = DcBlocker(frame_ms) if s.dc_block else None
        self.features = FeatureExtractor(s, frame_ms)
        self.speakers = SpeakerTracker(s.speakers, frame_ms, profile)
        self.raised = RaisedVoiceDetector(s.raised, frame_ms)
        method = s.interruption.method
        self.interruptions = InterruptionDetector(s.interruption, frame_ms, s.speakers.gap_ms)
        self.overlap = (OverlapInterruptionDetector(s.interruption, frame_ms, gated=method == "gated")
                        if method in ("model", "gated") else None)
        self.hint = LookHint(s.interruption.hint_ms, frame_ms)
        self.stream = StreamInterruptionDetector(s.interruption, frame_ms) if method == "stream" else None
        self.gate = StreamGate(s.interruption) if method == "gated" else None
        ir = s.interruption
        self.holder_floor = (HolderFloor(ir.floor_ms, ir.model_window_ms, ir.holder_above_bed_db, frame_ms)
                             if self.overlap is not None and ir.holder_above_bed_db > 0.0 else None)   # 0: off
        self.voice_bed = VoiceBed(frame_ms)
        self.escalation = EscalationPolicy(s.escalation, frame_ms, s.interruption.method)
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (a new talk); a profile seeds the partners again."""
        for stage in (self.dc, self.features, self.speakers, self.raised, self.interruptions, self.overlap, self.hint,
                      self.stream, self.gate, self.holder_floor, self.voice_bed, self.escalation):
            if stage is not None:
                stage.reset()
        if self.profile is not None:
            for label, p in self.profile.partners.items():
                self.raised.seed(label, p.calm_db, p.calm_f0_hz, p.calm_bright_db)
        self.last: FrameFeatures | None = None
        self._two_voices_s = -math.inf if len(self.speakers.models) == 2 else None   # seeded: known from the start
        self.frames_seen = 0
        self._next_sample: int | None = None   # where the next frame starts when no audio went missing
        self._stats = TalkStats()

    def hear(self, frame: Frame, muted: bool = False) -> tuple[Frame, FrameFeatures, str | None]:
        """The front end every detector reads: the frame with the DC offset taken off, its features and the speaker
        tracker's partner label (None: undecided). The replay of ``voicecoach_dev.evalkit`` calls it too, so its
        inputs are the pipeline's own."""
        if self.dc is not None:
            frame = self.dc.process(frame)
        feats = self.features.process(frame, muted)
        label = self.speakers.process(feats, muted)
        feats.speaker = label if feats.is_speech else None
        return frame, feats, label

    def partner(self, label: str | None) -> str | None:
        """The tracker's ``label`` as a partner: None until both partners' voices are told apart (no baseline
        learns before that)."""
        return label if len(self.speakers.models) == 2 else None

    def process(self, frame: Frame, muted: bool = False) -> list[Event]:
        """Take one frame; return the events it completes. ``muted``: the product is speaking (no detection)."""
        if self._next_sample is not None and frame.start_sample != self._next_sample:
            self._resume_after_gap(frame)
        self._next_sample = frame.end_sample
        frame, feats, label = self.hear(frame, muted)
        self.last = feats
        self.frames_seen += 1
        # Baselines are per partner: learn none until both partners are told apart (or a profile seeds them).
        known = self.partner(label)
        new_stretch = self.speakers.stretch_frames == 1 and feats.is_speech
        events: list[Event] = list(self.raised.process(feats, known, muted, new_stretch,
                                                    self.speakers.recent_other, self.speakers.unsure,
                                                    self.speakers.model_pitches_st() if known and feats.is_speech
                                                    else None))
        events.extend(self._interruptions(frame, feats, label, known, muted))
        raised_now = self.raised.active is not None
        self.voice_bed.process(feats)
        voice_bed = self.voice_bed.is_voice(self.settings.escalation.voice_bed_share)
        events.extend(self.escalation.process(feats.end_s, events, raised_now, muted, voice_bed))
        if not muted:
            self._count(feats, events)
        return events

    def _resume_after_gap(self, frame: Frame) -> None:
        """Audio went missing before ``frame`` (a microphone reopened, blocks dropped when the loop fell behind).

        The interruption stages keep the last seconds of audio in order, so they start afresh: a look never joins
        audio from both sides of the gap, and the streaming model's clock (its outputs stamped by the samples it
        was fed) is not left seconds behind, where every output looked too old to open the gate and interruptions
        stopped for good after the first unplugged microphone. The partners' voices, baselines and the
        escalation's memory are kept."""
        missing = frame.start_sample - (self._next_sample or 0)
        log.debug("audio resumes %+.2f s later than it stopped: the interruption stages start afresh",
                  missing / frame.sample_rate)
        for stage in (self.interruptions, self.overlap, self.hint, self.stream, self.gate, self.holder_floor):
            if stage is not None:
                stage.reset()

    def _interruptions(self, frame: Frame, feats: FrameFeatures, label: str | None, known: str | None,
                       muted: bool) -> list[Event]:
        """The configured interruption method's events for this frame."""
        if self.stream is not None:
            return list(self.stream.process(frame.samples, feats, label, muted))
        if self.holder_floor is not None:
            self.holder_floor.add(feats)
        if self.gate is not None and self.overlap is not None:   # the streaming model says when to look
            hint = self.gate.process(frame.samples, feats.end_s)
            return self._heard(self.overlap.process(frame.samples, feats, label, muted, hint))
        holder = self.interruptions.holder
        contrast = self.speakers.contrast(holder) if holder and feats.is_speech and not muted else None
        if self.overlap is not None:   # the light detector's evidence only hints to the model when to look
            self.interruptions.process(feats, label, contrast, muted)
            hint = self.hint.process(feats.is_speech and not muted, self.interruptions.evidence,
                                     len(self.speakers.models) == 2, self.interruptions.holder, contrast)
            return self._heard(self.overlap.process(frame.samples, feats, label, muted, hint))
        settled = holder and feats.is_speech and not muted and self._voices_settled(feats.end_s, known)
        return list(self.interruptions.process(feats, label, contrast if settled else None, muted))

    def _heard(self, found: list[Interruption]) -> list[Event]:
        """The segmentation model's interruptions whose floor holder was heard above the background bed."""
        floor = self.holder_floor
        return [e for e in found if floor is None or floor.heard(e)]

    def _voices_settled(self, now_s: float, known: str | None) -> bool:
        """Both voices have been told apart for ``settle_s``: only then is interruption evidence trusted."""
        if self._two_voices_s is None and known is not None:
            self._two_voices_s = now_s
        return self._two_voices_s is not None and now_s - self._two_voices_s >= self.settings.interruption.settle_s

    def flush(self) -> list[Event]:
        """End of stream: events still pending (none: every event is emitted as soon as it is decided)."""
        return []

    def snooze(self, minutes: float, now_s: float) -> None:
        """'Not now': no pause suggestion for ``minutes`` after ``now_s`` (seconds of audio time)."""
        self.escalation.snooze(minutes, now_s)

    def withdraw(self, t: float) -> None:
        """The pause suggestion made at ``t`` was not offered: it counts toward no cooldown or hourly cap."""
        self.escalation.withdraw(t)

    def stats(self) -> TalkStats:
        """Speaking and raised seconds per partner, raised-voice and interruption counts so far."""
        st = self._stats
        return TalkStats(dict(st.speaking_s), dict(st.raised_s), dict(st.raised_events),
                         dict(st.interruptions_by), st.pause_suggestions, st.audio_s)

    def _count(self, feats: FrameFeatures, events: list[Event]) -> None:
        """Add the frame to the talk's figures. Raised seconds are the raised time the escalation policy counts
        (``raised.active``), whoever the tracker names the frame as: an angry turn's first words after a breath,
        or frames named as the other partner, are the raised partner's raised voice to the pause rule too."""
        st = self._stats
        dt = self.frame_ms / 1000.0
        st.audio_s += dt
        if feats.is_speech and feats.speaker in st.speaking_s:
            st.speaking_s[feats.speaker] += dt
        raised = self.raised.active
        if raised is not None and raised in st.raised_s:
            st.raised_s[raised] += dt
        for e in events:
            if isinstance(e, RaisedVoice) and e.speaker in st.raised_events:
                st.raised_events[e.speaker] += 1
            elif isinstance(e, Interruption) and e.speaker in st.interruptions_by:
                st.interruptions_by[e.speaker] += 1
            elif e.type == "pause_suggested":
                st.pause_suggestions += 1
