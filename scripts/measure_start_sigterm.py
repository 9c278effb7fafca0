"""What ``voicecoach listen`` and ``voicecoach kiosk`` do when SIGTERM comes in their first seconds (systemd's stop,
``kill``), with no sound server or sound card: the exit code, the seconds to end after the signal, the lines on
stderr (and on stdout) and whether any is a traceback, whether its prompt folder (``/tmp/voicecoach-tts-<pid>-*``)
is left behind, and whether the journal is whole (``integrity_check``) with
no talk left open. Each run starts in a fresh home:

    PYTHONPATH=. .venv/bin/python scripts/measure_start_sigterm.py [--at 0.1,0.3,0.6,1.0,2.0] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def no_sound() -> dict[str, str]:
    """No sound server can be found (as ``tests/conftest.py`` ``no_sound_env``)."""
    empty = Path("/tmp/vc-no-sound")
    empty.mkdir(exist_ok=True)
    return {"XDG_RUNTIME_DIR": str(empty), "PULSE_SERVER": "unix:/nonexistent/pulse/native",
            "XDG_CONFIG_HOME": str(empty)}


def journal_state(data: Path) -> str:
    """'no journal', or the integrity check and the talks (open ones: no end time)."""
    path = data / "journal.sqlite3"
    if not path.exists():
        return "no journal"
    conn = sqlite3.connect(path)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        talks = conn.execute("SELECT COUNT(*), SUM(ended_at IS NULL) FROM talks").fetchone()
        return f"integrity {ok}, talks {talks[0]}, open {talks[1] or 0}"
    finally:
        conn.close()


def run(command: str, at_s: float) -> dict[str, Any]:
    """One start of ``voicecoach COMMAND``, SIGTERM ``at_s`` seconds after it."""
    with tempfile.TemporaryDirectory() as folder:
        config, data = Path(folder, "config"), Path(folder, "data")
        config.mkdir()
        data.mkdir()
        env = {**os.environ, **no_sound(), "VOICECOACH_CONFIG_DIR": str(config), "VOICECOACH_DATA_DIR": str(data),
               "PYTHONPATH": str(REPO)}
        args = [sys.executable, "-m", "voicecoach", command] + (["--no-ui"] if command == "listen" else [])
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(at_s)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        took = time.monotonic() - sent
        left = sorted(p.name for p in Path(tempfile.gettempdir()).glob(f"voicecoach-tts-{proc.pid}-*"))
        return {"left": left, "command": command, "at_s": at_s, "exit": proc.returncode, "end_s": round(took, 2),
                "traceback": "Traceback" in err, "stderr": err.strip().splitlines(),
                "stdout": out.strip().splitlines()[-3:], "journal": journal_state(data)}


def main() -> int:
    """Each command, at each moment, ``--repeat`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at", default="0.1,0.3,0.6,1.0,2.0", help="seconds after the start, comma-separated")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--commands", default="listen,kiosk")
    opts = parser.parse_args()
    for command in opts.commands.split(","):
        for at_s in (float(x) for x in opts.at.split(",")):
            for _ in range(opts.repeat):
                r = run(command, at_s)
                print(f"{command:6} at {at_s:.2f} s: exit {r['exit']}, ended {r['end_s']} s later, "
                      f"traceback {r['traceback']}, {r['journal']}, "
                      f"prompt folder left: {bool(r['left'])}")
                for line in r["stderr"]:
                    print(f"    stderr: {line[:200]}")
                for line in r["stdout"]:
                    print(f"    stdout: {line[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
