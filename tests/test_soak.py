"""Soak: 8 hours of audio through the full live loop at full speed (scripts/soak.py, a few minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent

# each test's soak: scripts/soak.py's arguments
SOAKS = {
    # the lighter interruption method, so that 8 hours take minutes; the model's own run is the second
    "test_eight_hours_through_the_live_loop_without_memory_growth_drift_or_queue_growth":
        ("--hours", "8", "--method", "features"),
    "test_twenty_minutes_with_the_segmentation_model_without_memory_growth_or_drift":
        ("--hours", "0.34", "--warmup-min", "5", "--sample-min", "2.5", "--method", "model"),
}


@pytest.fixture(scope="module")
def soak(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], dict]]:
    """``soak(test_name)``: that test's soak figures. The soaks this session runs are all started at once, each a
    process of its own (its memory, queues and audio clock are its own, so nothing it measures is the other's), so
    that two cores run them side by side instead of one after the other; one core runs them in turn, as before."""
    here = Path(str(request.path))
    wanted = [name for name in SOAKS
              if any(Path(str(item.path)) == here and item.name == name for item in request.session.items)]
    running: dict[str, tuple[subprocess.Popen, Path, Path]] = {}
    for name in wanted:
        folder = tmp_path_factory.mktemp("soak")
        out, log = folder / "soak.json", folder / "soak.log"
        with log.open("w") as log_file:
            process = subprocess.Popen([sys.executable, str(REPO / "scripts" / "soak.py"), *SOAKS[name], "--json",
                                        str(out)], stdout=log_file, stderr=subprocess.STDOUT,
                                       env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "PYTHONPATH": str(REPO)})
        running[name] = process, out, log

    def result(name: str) -> dict:
        process, out, log = running[name]
        assert process.wait(timeout=1500) == 0, log.read_text()[-3000:]
        return json.loads(out.read_text())

    try:
        yield result
    finally:
        for process, _, _ in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_eight_hours_through_the_live_loop_without_memory_growth_drift_or_queue_growth(soak):
    result = soak("test_eight_hours_through_the_live_loop_without_memory_growth_drift_or_queue_growth")
    assert result["audio_hours"] == pytest.approx(8.0, abs=0.01)
    assert result["frames"] == 8 * 3600 * 1000 // 30
    assert result["rss_growth_mb"] < 5.0, result["rss_series"]
    assert result["drift_max_s"] == 0.0
    assert result["max_speaker_queue"] <= 2
    assert result["events"] > 0 and result["suggestions"] > 0


@pytest.mark.slow
def test_twenty_minutes_with_the_segmentation_model_without_memory_growth_or_drift(soak):
    result = soak("test_twenty_minutes_with_the_segmentation_model_without_memory_growth_or_drift")
    assert result["frames"] == round(0.34 * 3600 * 1000 / 30)
    assert len(result["rss_series"]) >= 6
    assert result["rss_growth_mb"] < 3.0, result["rss_series"]
    assert result["drift_max_s"] == 0.0
    assert result["interruptions"] > 0 and result["suggestions"] > 0
