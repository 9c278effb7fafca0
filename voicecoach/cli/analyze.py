"""``voicecoach analyze FILE.wav ...``: run the detection pipeline over recordings, as fast as possible."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from ..errors import InputError, VoicecoachError
from ..analysis import analyze_file
from . import config_of, input_path

ORDER = 20
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` subcommand."""
    p = sub.add_parser("analyze", parents=[common],
                       help="detect raised voices, interruptions and escalation in WAV files")
    p.add_argument("files", nargs="+", metavar="FILE.wav")
    p.add_argument("--json", action="store_true", help="JSON Lines on stdout, one event per line, nothing else")
    p.add_argument("--no-profile", action="store_true",
                   help="ignore the calibration profile (by default it is used, as in the live loop)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Analyse each file; a bad file is reported and the others still run."""
    from ..app import load_profile

    config = config_of(args)
    profile = None if args.no_profile else load_profile()
    failed = 0
    for path in args.files:
        try:
            input_path(path, "a file name", "a WAV file's path, e.g. voicecoach analyze talk.wav")
            events, duration = analyze_file(path, config, profile)
        except VoicecoachError as exc:
            if len(args.files) == 1:
                raise  # one file: its own error is the one line
            print(f"voicecoach: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            for event in events:
                d = event.to_dict()
                if len(args.files) > 1:
                    d["file"] = path
                print(json.dumps(_finite(d), ensure_ascii=False, allow_nan=False))
        else:
            _print_table(path, events, duration)
        sys.stdout.flush()
    if failed:
        raise _Quiet(f"{failed} of {len(args.files)} files could not be analysed")
    return 0


def _finite(d: dict) -> dict:
    """NaN and infinity are not JSON: they become null, so every line parses with any JSON reader."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


class _Quiet(InputError):
    """Summary error after per-file errors were already printed."""


def _print_table(path: str, events: list, duration: float) -> None:
    print(f"{path}: {duration:.1f} s, {len(events)} events")
    for e in events:
        d = e.to_dict()
        extra = "  ".join(f"{k}={v}" for k, v in d.items() if k not in ("type", "t"))
        print(f"  {d['t']:8.2f} s  {d['type']:16} {extra}")
