"""The measurement scripts take the settings to measure from ``--config FILE``, as ``scripts/evaluate`` does: a
figure measured on settings other than the ones meant (the defaults, or the user's own file) is a wrong figure that
looks right. These check the plumbing only, on a few seconds of audio; the measurements are the scripts' own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

FEATURES = '[detection.interruption]\nmethod = "features"\n'   # no segmentation model: no looks


def _script(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python scripts/...`` from this checkout (its voicecoach and voicecoach_dev)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=timeout)


def test_bench_measures_the_settings_of_its_config_file(tmp_path: Path) -> None:
    """Its own interruption method alone (not every method), in process and in the ``voicecoach analyze`` it
    starts, which is given the same file."""
    config = tmp_path / "mine.toml"
    config.write_text(FEATURES)
    out = tmp_path / "bench.json"
    result = _script("scripts/bench.py", "--seconds", "3", "--repeat", "1", "--no-pin", "--config", config,
                     "--json", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["meta"]["config"] == str(config)
    assert [run["in_process"]["method"] for run in doc["runs"]] == ["features"]
    assert f"--config {config}" in doc["runs"][0]["cli"]["command"]


def test_measure_instructions_runs_the_settings_of_its_config_file(tmp_path: Path, talk_wav: Path) -> None:
    """The worker (what runs under valgrind) with ``--config``: the live loop on the 'features' method makes no
    segmentation-model looks, where the defaults' 'gated' makes some; a file that cannot be used is one line."""
    config = tmp_path / "mine.toml"
    config.write_text(FEATURES)
    default = _script("scripts/measure_instructions.py", "listen", talk_wav, "--worker")
    mine = _script("scripts/measure_instructions.py", "listen", talk_wav, "--worker", "--config", config)
    assert default.returncode == 0 and mine.returncode == 0, (default.stderr, mine.stderr)
    assert not default.stdout.strip().endswith(" 0 looks"), default.stdout
    assert mine.stdout.strip().endswith(" 0 looks"), mine.stdout
    config.write_text('[detection.interruption]\nmethod = "fast"\n')
    refused = _script("scripts/measure_instructions.py", "analyze", talk_wav, "--config", config)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "detection.interruption.method = 'fast' is not allowed" in refused.stderr
