"""A recording through the live loop *into the journal*, for the tests of what the live loop stores.

``voicecoach listen --file`` no longer reads or writes the journal (a recording is not the couple's talk), so the
tests of the journal's writer, the report and the privacy of what is stored fill a journal with this instead:

    python -m voicecoach_dev.stored_replay talk.wav [--config FILE]    # the journal of VOICECOACH_DATA_DIR

It builds what ``voicecoach listen --file talk.wav --fast --no-ui`` builds (:meth:`Live.build` with the journal and
the voice notes opened, as a live ``listen`` has them), logs as the CLI does, prints the lines ``listen`` prints
and ends with its summary; exit 0, or 1 with one line on an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def store_replay(wav: Path, config_file: Path | None = None) -> str:
    """Replay ``wav`` as fast as it can be read into the configured journal; the talk's summary."""
    from voicecoach.config import load_config
    from voicecoach.journal.schema import TalkSource
    from voicecoach.runtime_live import Live, LiveSpec

    config = load_config(config_file)
    spec = LiveSpec(TalkSource.LISTEN, file=wav, fast=True)

    def show(text: str) -> None:
        print(text, flush=True)

    live = Live.build(config, spec, on_line=show, on_unspoken=lambda text: show(f"(not spoken) {text}"),
                      journal="open", notes="open")
    return live.serve().text()


def main(argv: list[str] | None = None) -> int:
    """The command line above."""
    from voicecoach.cli import setup_logging
    from voicecoach.errors import VoicecoachError

    parser = argparse.ArgumentParser(prog="python -m voicecoach_dev.stored_replay", description=__doc__)
    parser.add_argument("wav", type=Path)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args(argv)
    setup_logging(debug=False, quiet=False)
    try:
        print(store_replay(args.wav, args.config), flush=True)
    except VoicecoachError as exc:
        print(f"stored_replay: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
