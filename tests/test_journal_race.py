"""Readers racing a busy writer: an intact journal is never called damaged, and nothing the writer stored is lost.

The kiosk keeps the journal open and writes to it; the page (in the kiosk's own process) and `report` or
`journal export` (other processes) open and read it at the same moments. A reader that opened the file with a
plain ``open()`` to look at its header, in the writer's process, released that process's POSIX locks when it
closed it (they belong to the process, not the descriptor); another program closing its connection then saw no
other user, checkpointed and deleted the WAL under the writer, and the next reader failed with
"unable to get the page. error code=522" (SQLITE_IOERR_SHORT_READ) or "disk I/O error".
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from voicecoach.journal.files import JournalRefused, JournalUnavailable
from voicecoach.journal.store import Journal

# The writer: the kiosk's connection writing events, and a thread of the same process opening and reading the
# journal over and over (as the page once did per request). It prints what it wrote and what its reader met.
WRITER = r"""
import json, sys, threading
from voicecoach.events import Interruption
from voicecoach.journal.files import JournalRefused, JournalUnavailable
from voicecoach.journal.store import Journal

path, count = sys.argv[1], int(sys.argv[2])
journal = Journal.open(path)
talk = journal.start_talk("kiosk", 1_790_000_000.0)
done, problems, opens = threading.Event(), [], [0]

def read_in_this_process():
    while not done.is_set():
        try:
            with Journal.open(path) as other:
                other.rows("events")
            opens[0] += 1
        except (JournalRefused, JournalUnavailable) as exc:
            problems.append(str(exc)[:200])

reader = threading.Thread(target=read_in_this_process)
reader.start()
sys.stdout.write("started\n"); sys.stdout.flush()
for i in range(count):
    journal.add_event(talk, Interruption(t=i * 0.1, start=i * 0.1 - 0.2, speaker="B", over="A"))
    done.wait(0.004)  # a kiosk writes now and then, not back to back: readers close between its writes
done.set()
reader.join()
journal.close()
print(json.dumps({"written": count, "opens": opens[0], "problems": problems[:5], "n_problems": len(problems)}))
"""

EVENTS = 600


def test_readers_in_and_out_of_the_writers_process_never_call_a_busy_journal_damaged(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    Journal.open(path).close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(EVENTS)], stdout=subprocess.PIPE,
                              env=env, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "started"
    problems: list[str] = []
    opens = 0
    while writer.poll() is None:
        try:
            with Journal.open(path) as journal:  # what `voicecoach report` and `journal export` do
                journal.export()
            opens += 1
        except (JournalRefused, JournalUnavailable) as exc:
            problems.append(str(exc)[:200])
    result = json.loads(writer.stdout.read().strip().splitlines()[-1])
    assert writer.wait() == 0
    assert not problems, f"{len(problems)} of {opens + len(problems)} opens failed here, e.g. {problems[:3]}"
    assert result["n_problems"] == 0, f"the writer's own reader failed: {result['problems']}"
    assert opens >= 3 and result["opens"] >= 3, "the readers should have raced the writer"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == EVENTS
    finally:
        conn.close()
