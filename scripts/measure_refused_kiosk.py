"""How long ``voicecoach kiosk`` takes to end on a settings file it refuses (it first says so out loud), with a
working sound server, a frozen one (SIGSTOP: its socket open, never answering) and none at all, on the private
PulseAudio of :mod:`voicecoach_dev.audio_server`. Prints the exit code, the seconds and the stdout line that says
whether the sentence was spoken:

    PYTHONPATH=. .venv/bin/python scripts/measure_refused_kiosk.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFUSED = '[kiosk]\nquiet_start = "22:00"\nquiet_end = "22:00"\n'
NO_SERVER = {"PULSE_SERVER": "unix:/nonexistent/pulse/native"}


def run(env: dict[str, str]) -> tuple[int, float, str]:
    """(exit code, seconds, the 'said:' or 'could not say' line) of one kiosk start."""
    command = [str(Path(sys.executable).parent / "voicecoach"), "kiosk"]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    told = next((line for line in done.stdout.splitlines() if "say" in line or "said" in line), "(nothing)")
    return done.returncode, took, told[:110]


def main() -> int:
    """One start with the sound server working, frozen, and absent."""
    from voicecoach_dev.audio_server import VirtualAudio

    with tempfile.TemporaryDirectory() as folder, VirtualAudio() as server:
        (Path(folder) / "config").mkdir()
        (Path(folder) / "data").mkdir()
        (Path(folder) / "config" / "config.toml").write_text(REFUSED)
        home = {"VOICECOACH_CONFIG_DIR": f"{folder}/config", "VOICECOACH_DATA_DIR": f"{folder}/data"}
        print(f"working: {run(server.full_env(**home))}")
        server.freeze_daemon()
        try:
            print(f"frozen:  {run(server.full_env(**home))}")
        finally:
            server.thaw_daemon()
        print(f"absent:  {run(server.full_env(**home, **NO_SERVER))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
