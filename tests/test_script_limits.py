"""A broken or hostile user script never crashes anything: nesting and step counts are limited at load and by
``scripts check``, the runner walks any number of steps without recursion, and the other scripts go on."""

from __future__ import annotations

import sys

import pytest

from voicecoach.checkin.runner import ScriptRunner
from voicecoach.checkin.script import MAX_STEPS, parse_script

DEEP = "title = \"Deep\"\nminutes = 5\nx = " + "[" * 50_000 + "]" * 50_000 + "\n"
SAY = "[[steps]]\ntype = \"say\"\ntext = \"Hello.\"\n"


def many_says(n: int) -> str:
    return "title = \"Many\"\nminutes = 5\n" + SAY * n


@pytest.fixture
def deep_user_script(tmp_home):
    folder = tmp_home.config_dir / "scripts"
    folder.mkdir()
    (folder / "zz.toml").write_text(DEEP)
    return folder / "zz.toml"


def test_a_deeply_nested_script_is_one_error_line(run_cli, tmp_home, deep_user_script):
    result = run_cli("scripts", "check", deep_user_script, env=tmp_home.env)
    assert result.returncode == 2
    assert "zz.toml" in result.stderr and "nested" in result.stderr, result.stderr
    assert "internal error" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_deeply_nested_user_script_is_listed_as_broken_and_the_rest_still_load(run_cli, tmp_home,
                                                                                  deep_user_script):
    listed = run_cli("scripts", "list", env=tmp_home.env)
    assert listed.returncode == 0, listed.stderr
    assert "BROKEN" in listed.stdout and "nightly" in listed.stdout
    checked = run_cli("check", "--no-devices", env=tmp_home.env)
    assert "internal error" not in checked.stdout + checked.stderr
    assert "the check itself failed" not in checked.stdout
    assert any(line.startswith("FAIL script zz") for line in checked.stdout.splitlines()), checked.stdout
    rehearsed = run_cli("checkin", "weather", "--answers", "yes", "--to", tmp_home.data_dir / "w.wav",
                        env=tmp_home.env, timeout=120)
    assert rehearsed.returncode == 0, rehearsed.stderr


def test_too_many_steps_is_caught_by_scripts_check(run_cli, tmp_home, tmp_path):
    path = tmp_path / "many.toml"
    path.write_text(many_says(1000))
    result = run_cli("scripts", "check", path, env=tmp_home.env)
    assert result.returncode == 2
    assert "many.toml" in result.stderr and "steps" in result.stderr and str(MAX_STEPS) in result.stderr


def test_the_runner_walks_the_longest_script_allowed_without_recursion():
    script = parse_script(many_says(MAX_STEPS), "many.toml")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # far fewer frames than steps: any recursion per step would fail here
    try:
        runner = ScriptRunner(script, ("Ann", "Ben"))
        actions = runner.start(0.0, consented=True)
    finally:
        sys.setrecursionlimit(limit)
    assert runner.done
    assert sum(1 for a in actions if type(a).__name__ == "Say") == MAX_STEPS + 1  # every step, then the end
