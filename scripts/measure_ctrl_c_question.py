"""Ctrl-C (SIGINT) while "Shall we take the pause?" is open in ``listen --no-ui`` on the virtual microphone (the
escalating talk of :mod:`voicecoach_dev.live` played into it): the exit code, the last lines, and how the journal
stored the suggestion (expected: "no_answer", not "not_now") and the talk (closed). Needs the private PulseAudio:

    PYTHONPATH=. .venv/bin/python scripts/measure_ctrl_c_question.py
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    """One listen, stopped by SIGINT one second after the suggestion's prompt was printed."""
    from voicecoach_dev.audio_server import VirtualAudio
    from voicecoach_dev.live import LiveProcess, render_conversation, start_playing

    audio, _timeline = render_conversation()
    with tempfile.TemporaryDirectory() as folder, VirtualAudio() as pulse:
        env = pulse.full_env(VOICECOACH_CONFIG_DIR=f"{folder}/cfg", VOICECOACH_DATA_DIR=f"{folder}/data",
                             PYTHONPATH=str(REPO))
        live = LiveProcess(["listen", "--no-ui"], env)
        if not live.wait_for("microphone open", 30):
            print(live.text())
            return 1
        playing = start_playing(pulse, audio)
        try:
            if not live.wait_for("voicecoach: Shall we take", 90):
                print(live.text())
                return 1
            live.wait_for("not now.", 5)
            time.sleep(1.0)
            live.send_signal(signal.SIGINT)
            code = live.proc.wait(30)
        finally:
            playing.player.terminate()
            playing.recording.stop()
        time.sleep(0.3)  # the reader thread collects the last lines
        print("exit", code)
        print("\n".join(live.text().splitlines()[-3:]))
        db = sqlite3.connect(f"{folder}/data/journal.sqlite3")
        try:
            print("suggestions (reason, answer, answered):",
                  db.execute("SELECT reason, answer, answered_at IS NOT NULL FROM suggestions").fetchall())
            print("talks closed:", db.execute("SELECT ended_at IS NOT NULL FROM talks").fetchall())
        finally:
            db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
