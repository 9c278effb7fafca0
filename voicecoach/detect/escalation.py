"""Escalation policy: when the talk has escalated enough to offer the agreed pause.

Rules over a sliding window of audio time: repeated interruptions, repeated raised voices, sustained raised
voice, or both together. After a suggestion there is a cooldown; "not now" snoozes; at most a few per hour.

A raised voice counts as raised from the onset its detector reports (the speech it judged before confirming), not
only from the event on. How many interruptions alone make an escalation depends on the interruption method: the
light ``features`` method hears tens of false ones per hour of calm talk in a room, so it needs more of them.

Interruptions alone must come close together: ``interruptions`` of them within ``interruptions_span_s``, a little
less than the window. An argument's cut-ins come every few seconds; a calm talk's occasional real or false ones fall
at random, and how often four of them fall within a span grows with about the cube of the span. Over a bed that
is a voice (a TV: :mod:`.voice_bed`), where the detector hears tens of false interruptions an hour, they must come
closer still: 4 within ``voice_bed_span_s``, or one more for each ``voice_bed_span_step_s`` more of span (each
stricter than the usual rule).
"""

from __future__ import annotations

from collections import deque

from ..events import Event, Interruption, PauseSuggested, RaisedVoice
from .settings import EscalationSettings, InterruptionSettings


class EscalationPolicy:
    """Watches detector events and raised-voice time; emits :class:`PauseSuggested` with a reason."""

    def __init__(self, settings: EscalationSettings, frame_ms: int = 30,
                 interruption_method: str | None = None) -> None:
        """``interruption_method``: the configured ``detection.interruption.method`` (None: its default)."""
        if interruption_method is None:
            interruption_method = InterruptionSettings().method
        self.settings = settings
        self.frame_s = frame_ms / 1000.0
        features = interruption_method == "features"
        self._features_method = features
        self.interruptions_needed = settings.interruptions_features if features else settings.interruptions
        # the light method keeps its count over the whole window (its rate of false ones was measured that way)
        self.interruptions_span_s = settings.window_s if features else min(settings.interruptions_span_s,
                                                                              settings.window_s)
        self.reset()

    def reset(self) -> None:
        """Forget the window, cooldown, snooze and hourly count."""
        self._raised: deque[float] = deque()
        self._interruptions: deque[float] = deque()
        self._raised_frames: deque[float] = deque()   # end times of frames with a raised voice
        self._raised_onsets: deque[tuple[float, float]] = deque()   # (event time, raised speech before it, s)
        self._suggested: deque[float] = deque()
        self._snooze_until = -1e18
        self._last_suggestion = -1e18

    def snooze(self, minutes: float, now_s: float) -> None:
        """'Not now': no suggestion until ``minutes`` after ``now_s`` (audio time)."""
        self._snooze_until = max(self._snooze_until, now_s + 60.0 * minutes)

    def withdraw(self, t: float) -> None:
        """The suggestion made at ``t`` was not offered (the product was busy: a pause under way, quiet hours):
        nobody heard it, so it counts toward neither the cooldown nor the hourly cap. Its window stays cleared, so
        the same events do not make it again."""
        if t in self._suggested:
            self._suggested.remove(t)
            self._last_suggestion = max(self._suggested, default=-1e18)

    def process(self, now_s: float, events: list[Event], raised_now: bool, muted: bool = False,
                voice_bed: bool = False) -> list[PauseSuggested]:
        """Take the frame's time, the detectors' events, whether a voice is raised now and whether the background
        bed is a voice (a TV: :class:`~voicecoach.detect.voice_bed.VoiceBed`)."""
        for e in events:
            if isinstance(e, RaisedVoice):
                self._raised.append(e.t)
                self._raised_onsets.append((e.t, min(max(0.0, e.t - e.start), self.settings.onset_credit_s)))
            elif isinstance(e, Interruption):
                self._interruptions.append(e.t)
        if raised_now and not muted:
            self._raised_frames.append(now_s)
        self._expire(now_s)
        if muted or not (events or raised_now):
            return []
        reason = self._reason(now_s, voice_bed)
        if reason is None or not self._allowed(now_s):
            return []
        self._suggested.append(now_s)
        self._last_suggestion = now_s
        # a fresh start: the same events must not trigger again after the cooldown
        self._raised.clear()
        self._interruptions.clear()
        self._raised_frames.clear()
        self._raised_onsets.clear()
        return [PauseSuggested(t=now_s, reason=reason)]

    def _expire(self, now_s: float) -> None:
        start = now_s - self.settings.window_s
        for q in (self._raised, self._interruptions, self._raised_frames):
            while q and q[0] < start:
                q.popleft()
        while self._raised_onsets and self._raised_onsets[0][0] < start:
            self._raised_onsets.popleft()
        while self._suggested and self._suggested[0] < now_s - 3600.0:
            self._suggested.popleft()

    def _reason(self, now_s: float, voice_bed: bool = False) -> str | None:
        """The first rule that fires, as words a person understands."""
        s = self.settings
        window = f"{s.window_s:g} s"
        raised_s = len(self._raised_frames) * self.frame_s + sum(c for _, c in self._raised_onsets)
        if raised_s >= s.raised_s:
            return f"raised voices for {raised_s:.0f} s in {window}"
        for needed, span in self._interruption_spans(voice_bed):
            n_close = sum(t >= now_s - span for t in self._interruptions)
            if n_close >= needed:
                return f"{_count(n_close, 'interruption')} in {span:g} s"
        if len(self._raised) >= s.raised_events:
            return f"{_count(len(self._raised), 'raised voice')} in {window}"
        span = min(s.combined_span_s, s.window_s)
        n_int = sum(t >= now_s - span for t in self._interruptions)
        n_raised = sum(t >= now_s - span for t in self._raised)
        if n_int and n_raised and n_int + n_raised >= s.combined_events:
            return f"{_count(n_raised, 'raised voice')} and {_count(n_int, 'interruption')} in {span:g} s"
        return None

    def _interruption_spans(self, voice_bed: bool) -> list[tuple[int, float]]:
        """(interruptions needed, within this span) pairs. Over a voice bed, the bed's first span, then one more
        interruption for each ``voice_bed_span_step_s`` more of span, up to the usual span: every pair is stricter
        than the usual rule, so the voice bed can only take suggestions away."""
        s, needed, longest = self.settings, self.interruptions_needed, self.interruptions_span_s
        if not voice_bed or self._features_method:
            return [(needed, longest)]
        span = min(s.voice_bed_span_s, longest)
        spans = [(needed, span)]
        while s.voice_bed_span_step_s > 0.0 and span < longest:
            needed, span = needed + 1, min(span + s.voice_bed_span_step_s, longest)
            spans.append((needed, span))
        return spans

    def _allowed(self, now_s: float) -> bool:
        """Cooldown, snooze and the hourly cap."""
        s = self.settings
        if now_s < self._snooze_until:
            return False
        if now_s - self._last_suggestion < 60.0 * s.cooldown_min:
            return False
        return len(self._suggested) < s.max_per_hour


def _count(n: int, noun: str) -> str:
    """'1 interruption', '3 interruptions'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
