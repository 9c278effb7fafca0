"""Spoken forms of durations and small numbers, so prompts sound natural through text-to-speech."""

from __future__ import annotations

_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_TENS = {30: "thirty", 40: "forty", 45: "forty-five", 50: "fifty", 60: "sixty", 90: "ninety"}


def number_words(n: int) -> str:
    """A small whole number as words ("three", "forty-five"); other numbers as digits."""
    if 0 <= n < len(_SMALL):
        return _SMALL[n]
    return _TENS.get(n, str(n))


def spoken_duration(seconds: float) -> str:
    """A duration as it is said aloud: "thirty seconds", "one minute", "a minute and a half", "five minutes"."""
    seconds = max(0.0, float(seconds))
    if seconds >= 3600:
        return _hours(seconds)
    if seconds < 55:
        rounded = max(1, int(round(seconds))) if seconds < 10 else int(round(seconds / 5.0) * 5)
        return f"{number_words(rounded)} second{'s' * (rounded != 1)}"
    halves = int(round(seconds / 30.0))
    whole, half = divmod(halves, 2)
    if whole >= 10:  # long durations: whole minutes are enough
        whole, half = int(round(seconds / 60.0)), 0
    if half and whole == 1:
        return "a minute and a half"
    if half:
        return f"{number_words(whole)} and a half minutes"
    return f"{number_words(whole)} minute{'s' * (whole != 1)}"


def minutes_text(minutes: float) -> str:
    """Minutes as a plain number for ``{minutes}``: "2", "1.5"."""
    return f"{minutes:g}"


def _hours(seconds: float) -> str:
    whole, half = divmod(int(round(seconds / 1800.0)), 2)
    if whole == 1:
        return "an hour and a half" if half else "an hour"
    return f"{number_words(whole)}{' and a half' if half else ''} hours"
