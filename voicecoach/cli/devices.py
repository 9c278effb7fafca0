"""``voicecoach devices``: list sound devices."""

from __future__ import annotations

import argparse
import sys

ORDER = 40


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``devices`` subcommand."""
    p = sub.add_parser("devices", parents=[common], help="list sound input and output devices")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print input and output devices with index, name, channels, default rate and the defaults."""
    from ..audio.device import list_devices

    devices = list_devices()
    if not devices:
        print("No sound devices found (no sound card or sound server is available on this machine).")
        print("Plug in a USB microphone, or start PulseAudio/PipeWire, then run: voicecoach devices")
        return 0
    print(f"{'':2}{'idx':>3}  {'name':40} {'in':>3} {'out':>3} {'rate':>7}")
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        print(f"{mark}{d.index:>3}  {d.name[:40]:40} {d.max_input_channels:>3} {d.max_output_channels:>3} "
              f"{d.default_samplerate:>7.0f}")
    print("< default input, > default output. Choose with --input/--output INDEX or part of the name.")
    sys.stdout.flush()
    return 0
