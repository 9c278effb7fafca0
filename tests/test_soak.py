"""Soak: 8 hours of audio through the full live loop at full speed (scripts/soak.py, a few minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _soak(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "soak.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "soak.py"), *args, "--json", str(out)],
                   check=True, timeout=1500, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    return json.loads(out.read_text())


@pytest.mark.slow
def test_eight_hours_through_the_live_loop_without_memory_growth_drift_or_queue_growth(tmp_path):
    # the lighter interruption method, so that 8 hours take minutes; the model's own run is below
    result = _soak(tmp_path, "--hours", "8", "--method", "features")
    assert result["audio_hours"] == pytest.approx(8.0, abs=0.01)
    assert result["frames"] == 8 * 3600 * 1000 // 30
    assert result["rss_growth_mb"] < 5.0, result["rss_series"]
    assert result["drift_max_s"] == 0.0
    assert result["max_speaker_queue"] <= 2
    assert result["events"] > 0 and result["suggestions"] > 0


@pytest.mark.slow
def test_twenty_minutes_with_the_segmentation_model_without_memory_growth_or_drift(tmp_path):
    result = _soak(tmp_path, "--hours", "0.34", "--warmup-min", "5", "--sample-min", "2.5", "--method", "model")
    assert result["frames"] == round(0.34 * 3600 * 1000 / 30)
    assert len(result["rss_series"]) >= 6
    assert result["rss_growth_mb"] < 3.0, result["rss_series"]
    assert result["drift_max_s"] == 0.0
    assert result["interruptions"] > 0 and result["suggestions"] > 0
