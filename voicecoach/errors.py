"""Errors that end a command with one clear line and a meaningful exit code."""

from __future__ import annotations


class VoicecoachError(Exception):
    """A failure the user can act on; the CLI prints it as one line. Exit code 1 (run-time failure)."""

    exit_code = 1


class InputError(VoicecoachError):
    """Bad input: a file, config, script or argument the user gave. Exit code 2."""

    exit_code = 2


class DeviceError(VoicecoachError):
    """A sound device is missing, busy or failed. Exit code 1."""

    exit_code = 1


class SoundSystemStuck(DeviceError):
    """A sound-system call never returned and the microphone cannot be reopened in this process: the live loop
    ends (the talk is stored) so that a restart, by the user or the kiosk's service, gets a working sound system.
    Exit code 1."""
