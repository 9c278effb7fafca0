"""Analysing recordings: the detection pipeline over a WAV file, exactly as the live loop runs it."""

from __future__ import annotations

from typing import Any

from .audio.wav import WavSource
from .config import Config
from .detect.pipeline import Pipeline
from .events import Event


def analyze_file(path: str, config: Config, profile: Any = None) -> tuple[list[Event], float]:
    """Run the pipeline over one file; returns (events, duration in seconds)."""
    source = WavSource(path, frame_ms=config.audio.frame_ms)
    pipeline = Pipeline(config.detection, frame_ms=config.audio.frame_ms, profile=profile)
    events = []
    for frame in source.frames():
        events.extend(pipeline.process(frame))
    events.extend(pipeline.flush())
    return events, source.info.duration_s
