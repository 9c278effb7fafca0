"""A built-in two-voice conversation that escalates, generated on the fly with the product's own TTS.

Two synthetic partners talk calmly, start to interrupt each other, then raise their voices. A raised voice is not
only louder (+12 dB): it is higher (+4 semitones) and brighter (+8 dB above 1 kHz), as angry speech is (EmoDB's
angry takes: +2 to +12 semitones, +6 to +11 dB of tilt), so the detectors hear a changed voice, not a partner who
leaned in. The demo feeds this audio through the real loop (pipeline, coach, speaker) so anyone can see what
voicecoach does without a microphone or a real argument.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from .audio.frames import SAMPLE_RATE, resample

log = logging.getLogger(__name__)

VOICES = {"A": ("en-us", 165), "B": ("en-us+f3", 170)}
CALM_DBFS = -30.0
RAISED_DB = 12.0
RAISED_PITCH_ST = 4.0  # a raised voice is higher ...
RAISED_TILT_DB = 8.0  # ... and brighter: this much more energy above TILT_CORNER_HZ
TILT_CORNER_HZ = 1000.0


@dataclass(frozen=True)
class Line:
    """One utterance of the demo conversation."""

    who: str
    text: str
    raised: bool = False
    overlap: float = 0.0  # start this fraction of the previous line before its end (0 = after a gap)


CONVERSATION = (
    Line("A", "Did you get a chance to call the plumber today?"),
    Line("B", "Not yet. Work was really busy, and I had three meetings in a row."),
    Line("A", "Okay. It's just that the sink has been leaking since Monday, and it is getting worse."),
    Line("B", "I know. I will call first thing tomorrow morning, before work, I promise."),
    Line("A", "Thank you. I would do it myself, but I can never get through during the day."),
    Line("B", "That's fine. Can you remind me tonight, so I put it in my calendar?"),
    Line("A", "Sure. You said the same thing on Tuesday though, and then nothing happened at all."),
    Line("B", "That is not fair, Tuesday was completely different and you know it.", overlap=0.35),
    Line("A", "It is fair. I am the one who deals with everything in this house, every single day.", overlap=0.3),
    Line("B", "And I am the one who works late every night so we can pay for this house!", True, 0.35),
    Line("A", "You always say that! You never listen to what I am actually saying!", True, 0.3),
    Line("B", "Because you never stop talking long enough for me to say anything!", True, 0.35),
    Line("A", "Do not turn this around on me! This is exactly what you always do!", True, 0.3),
    Line("B", "I am not turning anything around! I am telling you how it is for me!", True, 0.35),
    Line("A", "Well, how do you think it is for me, every single day, all by myself?", True, 0.3),
    Line("B", "I have no idea, because you never tell me anything until you explode!", True, 0.35),
)


def _level(audio: NDArray[np.float64], dbfs: float) -> NDArray[np.float64]:
    voiced = audio[np.abs(audio) > 0.01 * np.max(np.abs(audio))] if np.any(audio) else audio
    rms = float(np.sqrt(np.mean(voiced ** 2))) if len(voiced) else 1.0
    return audio * (10 ** (dbfs / 20.0) / max(rms, 1e-9))


def raise_voice(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """A raised version of 16 kHz speech: pitched up RAISED_PITCH_ST (resampled, so also a little faster, as raised
    speech is) and tilted RAISED_TILT_DB brighter above TILT_CORNER_HZ (a first-order high shelf)."""
    higher = resample(x, int(round(SAMPLE_RATE * 2.0 ** (RAISED_PITCH_ST / 12.0))))
    spectrum = np.fft.rfft(higher)
    freqs = np.fft.rfftfreq(len(higher), 1.0 / SAMPLE_RATE)
    gain = 10.0 ** (RAISED_TILT_DB / 20.0)
    shelf = 1.0 + (gain - 1.0) / (1.0 + (TILT_CORNER_HZ / np.maximum(freqs, 1.0)) ** 2)
    return np.fft.irfft(spectrum * shelf, n=len(higher))


def build_conversation(render: Callable[..., tuple[NDArray[np.int16], int]],
                       lines: tuple[Line, ...] = CONVERSATION, gap_s: float = 0.6,
                       lead_s: float = 1.0) -> tuple[NDArray[np.int16], list[tuple[float, Line]]]:
    """Render and mix the conversation; returns 16 kHz int16 audio and (start time, line) pairs."""
    pieces: list[tuple[int, NDArray[np.float64]]] = []
    timeline: list[tuple[float, Line]] = []
    cursor = int(lead_s * SAMPLE_RATE)
    prev_len = 0
    for line in lines:
        voice, rate = VOICES[line.who]
        audio, sr = render(line.text, voice=voice, rate_wpm=rate)
        x = np.asarray(audio, dtype=np.float64) / 32768.0
        if sr != SAMPLE_RATE:
            x = resample(x, sr)
        if line.raised:
            x = raise_voice(x)
        x = _level(x, CALM_DBFS + (RAISED_DB if line.raised else 0.0))
        if line.overlap and pieces:
            start = cursor - int(line.overlap * prev_len)
        else:
            start = cursor + int(gap_s * SAMPLE_RATE)
        pieces.append((start, x))
        timeline.append((start / SAMPLE_RATE, line))
        cursor = max(cursor, start + len(x))
        prev_len = len(x)
    total = cursor + int(2.0 * SAMPLE_RATE)
    mix = np.zeros(total)
    for start, x in pieces:
        mix[start:start + len(x)] += x
    mix += np.random.default_rng(7).normal(0, 10 ** (-62 / 20), total)  # a quiet room, not digital silence
    return np.clip(np.round(mix * 32767), -32768, 32767).astype(np.int16), timeline


def names_for(line: Line, names: tuple[str, str]) -> str:
    """The partner's display name."""
    return names[0] if line.who == "A" else names[1]


def demo_answers() -> list[str]:
    """How the demo couple answers the coach: okay to the pause, not now to the check-in afterwards."""
    return ["yes", "not_now"]


def describe(timeline: list[tuple[float, Line]], names: tuple[str, str]) -> list[tuple[float, str]]:
    """Display lines for the conversation: (time, "Name: text")."""
    out = []
    for t, line in timeline:
        mark = " (raised)" if line.raised else ""
        out.append((t, f"{names_for(line, names)}{mark}: {line.text}"))
    return out
