"""The ``espeak-ng`` command as a synthesis engine: the only module that runs it.

Each utterance is its own process, so a crash or a hang in espeak is a failed request (a hung one is killed at the
timeout), never the product's. Nearly as fast as pyttsx3 over libespeak-ng (22 against 19 ms a prompt, measured with
``scripts/measure_tts.py``), so it is the first engine on Linux (``settings.DEFAULT_ENGINES``).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .engines import SynthError, SynthStopped, SynthTimeout, Voice, read_pcm16, voice_id

log = logging.getLogger(__name__)

_LISTED: dict[str, tuple[tuple[str, str], ...]] = {}  # the espeak-ng command's voices, by its path


def command_voices(timeout_s: float = 5.0) -> tuple[tuple[str, str], ...]:
    """(id, name) of the espeak-ng command's voices, as pyttsx3 names them ("gmw/en-us", "English (America)");
    () when the command is missing or fails. Asked once per process (a failure too)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return ()
    if exe not in _LISTED:
        try:
            # UTF-8 whatever the locale: espeak-ng writes its voices' names so ("Māori"); decoded in the locale's
            # encoding they were mojibake in Latin-1, and a UnicodeDecodeError (an internal error) in ASCII
            out = subprocess.run([exe, "--voices"], capture_output=True, encoding="utf-8", errors="replace",
                                 timeout=timeout_s).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        rows = [line.split() for line in out.splitlines()[1:]]
        _LISTED[exe] = tuple((r[4].lower(), r[3].replace("_", " ")) for r in rows if len(r) >= 5)
    return _LISTED[exe]


def command_voice(spec: str, timeout_s: float = 5.0) -> str:
    """The espeak-ng command's voice for a spec (:func:`voice_id`); the spec itself when the voices cannot be
    listed (the command then retries with its default voice)."""
    if not spec:
        return ""
    voices = command_voices(timeout_s)
    return voice_id(spec, list(voices)) if voices else spec


# A child ended by one of these got the signal meant for the program (it was "espeak-ng failed ... exit code -2",
# then "trying the next one", printed after "voicecoach: interrupted").
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def espeak_ng_render(text: str, voice: Voice, timeout_s: float, workdir: Path) -> tuple[NDArray[np.int16], int]:
    """Synthesise with the ``espeak-ng`` command (``-w file.wav``); raise SynthError on any failure."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthError("the espeak-ng command is not installed (sudo apt-get install espeak-ng)")
    fd, name = tempfile.mkstemp(suffix=".wav", dir=workdir)
    os.close(fd)
    path = Path(name)
    base = [exe, "-w", name, "-s", str(int(voice.rate_wpm)), "-a", str(int(round(voice.volume * 100))), "--stdin"]
    spec = command_voice(voice.voice, timeout_s)
    try:
        attempts = [base + ["-v", spec], base] if spec else [base]
        for args in attempts:
            try:
                proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise SynthTimeout(f"espeak-ng did not finish within {timeout_s:.1f} s") from None
            except OSError as exc:
                raise SynthError(f"cannot run espeak-ng: {exc}") from None
            if proc.returncode == 0:
                audio = read_pcm16(path)
                if audio is None:
                    raise SynthError("espeak-ng wrote no readable WAV")
                return audio
            if -proc.returncode in STOP_SIGNALS:  # Ctrl-C reaches the whole terminal's process group, espeak too
                raise SynthStopped(f"espeak-ng was ended by {signal.Signals(-proc.returncode).name}")
            log.warning("espeak-ng failed with voice %r: %s", spec,
                        proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}")
        raise SynthError("espeak-ng failed")
    finally:
        path.unlink(missing_ok=True)
