"""``voicecoach demo``: the whole loop on a generated, escalating two-voice conversation (real TTS, real detectors)."""

from __future__ import annotations

import pytest


def test_demo_runs_end_to_end_and_offers_the_pause_only_after_the_talk_escalates(run_cli, tmp_home):
    result = run_cli("demo", "--fast", env=tmp_home.env, timeout=180)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    suggestion = next(i for i, line in enumerate(out) if "Shall we take the 20 minute pause" in line)
    first_raised = next(i for i, line in enumerate(out) if "(raised)" in line)
    assert suggestion > first_raised - 3, "suggested during the calm part"
    text = result.stdout
    assert "(the couple says: okay)" in text and "Pausing for 20 minutes" in text
    assert "Welcome back" in text and "Talk of" in text
    assert "Traceback" not in result.stderr


def test_the_demo_talk_is_not_stored_in_the_couples_journal(run_cli, tmp_home):
    """The demo's talk is generated: it must not show up in the journal, the report or the page as theirs."""
    result = run_cli("demo", "--fast", env=tmp_home.env, timeout=180)
    assert result.returncode == 0, result.stderr
    report = run_cli("report", env=tmp_home.env)
    assert report.returncode == 0, report.stderr
    assert "Nothing in the journal" in report.stdout, report.stdout
    assert not (tmp_home.data_dir / "journal.sqlite3").exists()


def test_the_demo_needs_no_microphone_even_when_the_config_names_one_that_is_absent(run_cli, tmp_home):
    tmp_home.config_file.write_text('[audio]\ninput = "no-such-mic"\n')
    result = run_cli("demo", "--fast", env=tmp_home.env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "pause" in result.stdout


def test_the_fast_demo_prints_each_prompt_once(run_cli, tmp_home):
    """--fast ("prints only") showed every prompt twice: its own line, then "(no speaker) ..." on stderr."""
    result = run_cli("demo", "--fast", env=tmp_home.env, timeout=180)
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert both.count("Shall we take the 20 minute pause") == 1, both
    assert "(no speaker)" not in result.stderr, result.stderr


@pytest.mark.slow
def test_the_demo_with_no_speaker_prints_each_prompt_once(run_cli, tmp_home):
    """In real time with no speaker to play on, every prompt came twice: its "  >> voicecoach:" line, then
    "(no speaker) ..." (the speaker's own line); only --fast had been fixed. The config's speaker matches nothing,
    so that no sound server the machine may run plays it. About 90 s: the demo is paced in real time."""
    tmp_home.config_file.write_text('[audio]\noutput = "no-such-speaker"\n')
    result = run_cli("demo", env=tmp_home.env, timeout=400)
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert "prompts will be shown as text" in result.stderr, result.stderr  # the speaker was really missing
    for prompt in ("Shall we take the 20 minute pause", "Pausing for 20 minutes", "Welcome back"):
        assert both.count(prompt) == 1, (prompt, both)
    assert "(no speaker)" not in both, result.stderr


def test_an_output_device_that_matches_nothing_is_refused_in_one_line(run_cli, tmp_home):
    """listen and say refused it (exit 2); the demo warned and played its whole minute to nobody, as text."""
    result = run_cli("demo", "--output", "no-such-speaker", env=tmp_home.env, timeout=180)
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("voicecoach: error: no output device matching 'no-such-speaker' (list them with: "
                             "voicecoach devices)\n")
    assert "rendering" not in result.stdout
