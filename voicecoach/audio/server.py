"""The sound server's default input, asked with ``pactl`` (PulseAudio, or PipeWire's PulseAudio layer): the only
module that runs it.

When the microphone is pulled out, PulseAudio does not end the recording stream: it moves it to another source,
and on a machine with no other microphone the only ones left are monitors, the sound a speaker plays. The stream
then delivers exact zeros (or the product's own voice) for ever, and a reopen before the microphone is back lands
on the monitor again. PortAudio cannot see any of this (it knows one "default" device), so the microphone asks
the server, but only when it has something to suspect (:class:`DigitalSilence`): a running ``pactl`` costs a few
milliseconds. Without ``pactl`` or a server (plain ALSA, where a pulled-out device ends its stream) nothing is
asked and nothing is decided.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)
PACTL_TIMEOUT_S = 2.0
SILENT_S = 2.0        # exact zeros this long make the microphone suspect (a real one always hears some noise)
ASK_EVERY_S = 10.0    # while they go on, ask the server again this often


def default_source() -> str | None:
    """The name of the sound server's default input, or None when there is no ``pactl`` or no server answers."""
    exe = shutil.which("pactl")
    if exe is None:
        return None
    try:
        # read as UTF-8 whatever this process's locale: the host and user names in it may be anything (in an
        # ASCII locale a "User Name: jürgen" raised UnicodeDecodeError where a silent microphone is checked)
        out = subprocess.run([exe, "info"], capture_output=True, encoding="utf-8", errors="replace",
                             timeout=PACTL_TIMEOUT_S, env={**os.environ, "LC_ALL": "C"},
                             stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("pactl info failed: %s", exc)
        return None
    for line in out.splitlines():
        if line.startswith("Default Source:"):
            return line.split(":", 1)[1].strip() or None
    return None


def monitor_as_default() -> str | None:
    """The default input's name when it is a monitor (a speaker's sound, not a microphone), else None."""
    name = default_source()
    return name if name is not None and name.endswith(".monitor") else None


class DigitalSilence:
    """Counts how long a microphone has delivered nothing but exact zeros, which no microphone does (its own
    noise is never exactly zero, even in a silent room), but a speaker's monitor with nothing playing does.

    ``process(block)`` is True when it is time to ask the server what is recording: after ``SILENT_S`` of zeros,
    then every ``ASK_EVERY_S`` while they go on. Timed by the samples, so it is the same live and in a test.
    """

    def __init__(self, rate: int) -> None:
        self._first = int(SILENT_S * rate)
        self._every = int(ASK_EVERY_S * rate)
        self.reset()

    def reset(self) -> None:
        """Forget the zeros counted so far."""
        self._zeros = 0
        self._next = self._first

    def process(self, block: NDArray[np.int16]) -> bool:
        """Take one block of samples; True when the run of zeros calls for asking the server now."""
        if block.any():
            self.reset()
            return False
        self._zeros += len(block)
        if self._zeros < self._next:
            return False
        self._next = self._zeros + self._every
        return True
