"""Time from escalation to the first audible word of the spoken suggestion, through the whole live loop.

A private PulseAudio (voicecoach_dev/audio_server.py) gives a virtual microphone and speaker. The demo's escalating
two-voice conversation (real TTS) is played into the microphone while ``voicecoach listen --no-ui`` runs; the
speaker is recorded. Reported per run: first raised turn -> first audible sample of the prompt, and the detector's
decision -> first audible sample (the speaking path alone).

    .venv/bin/python scripts/measure_prompt_latency.py [--runs 3]
Run ``scripts/setup --test`` first: the private PulseAudio is a test package.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from voicecoach_dev.audio_server import VirtualAudio
from voicecoach_dev.live import LiveProcess, play_and_hear, render_conversation


def one_run(server: VirtualAudio, audio, first_raised: float) -> tuple[float, float] | None:
    """(escalation -> audible, decision -> audible) in seconds, or None if no prompt was heard."""
    home = Path(tempfile.mkdtemp(prefix="vc-lat-"))
    live = LiveProcess(["listen", "--no-ui"], server.full_env(VOICECOACH_CONFIG_DIR=str(home / "c"),
                                                              VOICECOACH_DATA_DIR=str(home / "d")))
    try:
        if not live.wait_for("microphone open", 30):
            return None
        talk = play_and_hear(server, live, audio, until=lambda t_play: time.monotonic() + 6.0)  # 6 s after it
    finally:
        live.stop()
    audible, decided = talk.audible_s(), talk.decided_s()
    if audible is None or decided is None:
        return None
    return audible - first_raised, audible - decided


def main() -> int:
    """Run and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    audio, timeline = render_conversation()
    first_raised = next(t for t, line in timeline if line.raised)
    results = []
    with VirtualAudio() as server:
        for _ in range(args.runs):
            r = one_run(server, audio, first_raised)
            print("run:", "no prompt heard" if r is None else f"escalation -> audible {r[0]:.2f} s, "
                  f"decision printed -> audible {r[1]:.2f} s", flush=True)
            if r:
                results.append(r)
    if results:
        print(f"median over {len(results)} runs: escalation (first raised turn) -> first audible word "
              f"{statistics.median(r[0] for r in results):.2f} s; decision -> audible "
              f"{statistics.median(r[1] for r in results):.2f} s")
    return 0 if results else 1


if __name__ == "__main__":
    raise SystemExit(main())
