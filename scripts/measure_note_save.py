"""How long a voice note's save, list, load and delete take (what they held the live loop's thread for, until they
moved to :mod:`voicecoach.journal.note_worker`'s thread): a 60 s note through
:class:`voicecoach.journal.notes.VoiceNotes` on a real journal, timed in this process. Run it plainly, and under
strace with every fsync made slower (as on a Raspberry Pi's SD card; see scripts/measure_slow_disk.py) to see what
a slow disk does:

    PYTHONPATH=. .venv/bin/python scripts/measure_note_save.py
    strace -f --seccomp-bpf -qq -e signal=none -e trace=fsync,fdatasync \\
        -e inject=fsync,fdatasync:delay_exit=300ms -o /dev/null .venv/bin/python scripts/measure_note_save.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    """Time each call five times; print the median and the longest, in ms."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["VOICECOACH_DATA_DIR"] = folder
        from voicecoach.journal.notes import VoiceNotes
        from voicecoach.journal.store import Journal

        audio = (np.random.default_rng(0).normal(0, 3000, 60 * 16000)).astype(np.int16)
        times: dict[str, list[float]] = {"save": [], "list": [], "load": [], "delete": []}
        with Journal.open(Path(folder) / "journal.sqlite3") as journal:
            notes = VoiceNotes(journal, True, 60.0)
            for _ in range(5):
                start = time.perf_counter()
                note_id = notes.save_note(audio, "A", "B", time.time())
                times["save"].append(time.perf_counter() - start)
                start = time.perf_counter()
                notes.list_notes("B")
                times["list"].append(time.perf_counter() - start)
                start = time.perf_counter()
                notes.load_note(note_id)
                times["load"].append(time.perf_counter() - start)
                start = time.perf_counter()
                notes.delete_note(note_id)
                times["delete"].append(time.perf_counter() - start)
    for name, took in times.items():
        print(f"{name:6s} median {1000 * statistics.median(took):7.1f} ms, longest {1000 * max(took):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
