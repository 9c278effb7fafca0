"""Analysing recordings: the detection pipeline over a WAV file, exactly as the live loop runs it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .audio.wav import WavSource
from .config import Config
from .detect.pipeline import Pipeline
from .events import Event, RaisedVoice


def analyze_file(path: str, config: Config, profile: Any = None) -> tuple[list[Event], float]:
    """Run the pipeline over one file; returns (events, duration in seconds).

    A raised voice gets its ``end`` as the live loop stores it in the journal: the partner's last loud moment once
    their raised stretch is over, or the end of the recording if it is still going on there.
    """
    source = WavSource(path, frame_ms=config.audio.frame_ms)
    pipeline = Pipeline(config.detection, frame_ms=config.audio.frame_ms, profile=profile)
    events: list[Event] = []
    open_raised: dict[str, int] = {}  # speaker -> index in events of their raised voice whose stretch goes on
    end_s = 0.0
    for frame in source.frames():
        _collect(pipeline.process(frame), events, open_raised)
        _close_ended(pipeline, events, open_raised, frame.end_s)
        end_s = frame.end_s
    _collect(pipeline.flush(), events, open_raised)
    for index in open_raised.values():
        events[index] = _with_end(events[index], end_s)
    return events, source.info.duration_s


def _collect(found: list[Event], events: list[Event], open_raised: dict[str, int]) -> None:
    """Append ``found``; a raised voice with no end yet is followed until its stretch ends."""
    for event in found:
        if isinstance(event, RaisedVoice) and event.speaker is not None and event.end is None:
            open_raised[event.speaker] = len(events)
        events.append(event)


def _close_ended(pipeline: Pipeline, events: list[Event], open_raised: dict[str, int], now_s: float) -> None:
    """Give each followed raised voice whose partner no longer sounds raised its end (as the live loop does)."""
    for speaker in list(open_raised):
        stretch = pipeline.raised.partners.get(speaker)
        if stretch is None or not stretch.raised:
            index = open_raised.pop(speaker)
            events[index] = _with_end(events[index], stretch.last_loud_s if stretch is not None else now_s)


def _with_end(event: Event, end_s: float) -> Event:
    """The raised voice with its end."""
    assert isinstance(event, RaisedVoice)
    return replace(event, end=end_s)
