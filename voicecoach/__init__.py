"""voicecoach: an offline, private pause-and-check-in assistant for couples."""

__version__ = "0.1.0"
