"""A talk reaches the journal and the report as it happened: its figures (talking and raised seconds per
partner), its raised-voice stretches with their ends, and its events dated inside the talk, even when a recording is
replayed faster than real time."""

from __future__ import annotations

import re
import sqlite3

import pytest


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, talk_wav):
    """``talk.wav`` through the live loop as fast as it reads, into a fresh home's journal (``listen --file``
    stores nothing: ``voicecoach_dev.stored_replay``), then ``report``: (the replay, report, journal rows)."""
    import os
    import subprocess

    from conftest import REPO, cli_command, stored_replay

    root = tmp_path_factory.mktemp("replayed")
    env = {**os.environ, "VOICECOACH_CONFIG_DIR": str(root / "config"), "VOICECOACH_DATA_DIR": str(root / "data")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli_command(), *args], env=env, capture_output=True, text=True, timeout=180,
                              cwd=REPO, stdin=subprocess.DEVNULL)

    listen = stored_replay(talk_wav, env)
    report = run("report", "--since", "2w")
    db = sqlite3.connect(root / "data" / "journal.sqlite3")
    db.row_factory = sqlite3.Row
    rows = {table: [dict(r) for r in db.execute(f"SELECT * FROM {table}")] for table in ("talks", "events")}
    db.close()
    return listen, report, rows


def test_the_talk_figures_are_stored(replayed):
    listen, _, rows = replayed
    assert listen.returncode == 0, listen.stderr
    (talk,) = rows["talks"]
    figures = [talk[k] for k in ("speak_a_s", "speak_b_s", "raised_a_s", "raised_b_s")]
    assert None not in figures, talk
    assert talk["speak_a_s"] > 5 and talk["speak_b_s"] > 5  # a minute of two voices: both talk
    assert talk["speak_a_s"] + talk["speak_b_s"] > 25
    assert talk["raised_a_s"] + talk["raised_b_s"] > 2  # the second half is shouted


def test_raised_voice_events_are_stored_with_their_end(replayed):
    _, _, rows = replayed
    raised = [e for e in rows["events"] if e["type"] == "raised_voice"]
    assert raised
    for event in raised:
        assert event["end"] is not None and event["end"] > event["start"], event
        assert '"end": null' not in event["data"]


def test_a_replayed_talk_spans_its_audio_and_its_events_fall_inside_it(replayed, talk_wav):
    from voicecoach.audio.wav import read_wav

    _, _, rows = replayed
    (talk,) = rows["talks"]
    audio_s = len(read_wav(talk_wav)) / 16000  # about a minute; the replay takes seconds
    assert talk["ended_at"] - talk["started_at"] >= audio_s - 0.1
    assert all(talk["started_at"] + e["t"] <= talk["ended_at"] + 0.5 for e in rows["events"])


def test_the_report_shows_the_raised_minutes_shares_and_interruptions_the_talk_had(replayed):
    listen, report, _ = replayed
    said = re.search(r"(\d+) raised-voice moments?; (\d+) interruptions?", listen.stdout)
    assert said, listen.stdout
    raised, interruptions = int(said[1]), int(said[2])
    assert raised >= 1 and interruptions >= 1
    assert report.returncode == 0, report.stderr
    assert f"interruptions: {interruptions}." in report.stdout, report.stdout
    assert "Raised voices: 0 min" not in report.stdout
    assert "Talking time: Partner A" in report.stdout
