"""``voicecoach demo``: the whole loop on a generated, escalating two-voice conversation (real TTS, real detectors)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import REPO, cli_command

REAL_TIME = "test_the_demo_with_no_speaker_prints_each_prompt_once"


@pytest.fixture(scope="module", autouse=True)
def real_time_demo(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], tuple[int, str, str]]]:
    """The real-time demo (about 90 s, nearly all of it waiting for the paced audio) started as this module starts,
    when the session runs its test: the other demos here run meanwhile, and its test (the last) takes the result."""
    here = Path(str(request.path))
    process = None
    if any(Path(str(item.path)) == here and item.name == REAL_TIME for item in request.session.items):
        home = tmp_path_factory.mktemp("real-time-demo")
        (home / "config").mkdir()
        (home / "data").mkdir()
        # the config's speaker matches nothing, so that no sound server the machine may run plays it
        (home / "config" / "config.toml").write_text('[audio]\noutput = "no-such-speaker"\n')
        env = {**os.environ, "VOICECOACH_CONFIG_DIR": str(home / "config"), "VOICECOACH_DATA_DIR": str(home / "data")}
        out, err = (home / "stdout").open("w+"), (home / "stderr").open("w+")
        process = subprocess.Popen([*cli_command(), "demo"], env=env, stdout=out, stderr=err, text=True, cwd=REPO,
                                   stdin=subprocess.DEVNULL)

    def result() -> tuple[int, str, str]:
        assert process is not None
        code = process.wait(timeout=400)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()

    try:
        yield result
    finally:
        if process is not None:
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()


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


def test_an_output_device_that_matches_nothing_is_refused_in_one_line(run_cli, tmp_home):
    """listen and say refused it (exit 2); the demo warned and played its whole minute to nobody, as text."""
    result = run_cli("demo", "--output", "no-such-speaker", env=tmp_home.env, timeout=180)
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("voicecoach: error: no output device matching 'no-such-speaker' (list them with: "
                             "voicecoach devices)\n")
    assert "rendering" not in result.stdout


@pytest.mark.slow
def test_the_demo_with_no_speaker_prints_each_prompt_once(real_time_demo):
    """In real time with no speaker to play on, every prompt came twice: its "  >> voicecoach:" line, then
    "(no speaker) ..." (the speaker's own line); only --fast had been fixed. The config's speaker matches nothing,
    so that no sound server the machine may run plays it. About 90 s: the demo is paced in real time, so it is
    started with the module (``real_time_demo``) and runs beside the other tests here."""
    returncode, stdout, stderr = real_time_demo()
    assert returncode == 0, stderr
    both = stdout + stderr
    assert "prompts will be shown as text" in stderr, stderr  # the speaker was really missing
    for prompt in ("Shall we take the 20 minute pause", "Pausing for 20 minutes", "Welcome back"):
        assert both.count(prompt) == 1, (prompt, both)
    assert "(no speaker)" not in both, stderr
