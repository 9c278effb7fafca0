"""voicecoach runs numpy's BLAS on one thread: a thread per core costs the live loop more CPU than its small products.

Checked in fresh interpreters, since numpy reads the setting once when it loads; Linux only (threads are counted
in /proc).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COUNT = "import os; print(len(os.listdir('/proc/self/task')))"
VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir() or len(os.sched_getaffinity(0)) < 2,
                                reason="needs Linux's /proc and two cores to see BLAS threads")


def _threads(code: str, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in VARS} | env
    return int(subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                              check=True).stdout)


@pytest.fixture(scope="module", autouse=True)
def _numpy_starts_threads() -> None:
    """Skip where numpy alone starts no BLAS thread (nothing to limit, so nothing to see)."""
    if _threads("import numpy; " + COUNT) < 2:
        pytest.skip("numpy's BLAS starts no threads of its own here")


def test_importing_voicecoach_first_leaves_numpy_one_thread():
    assert _threads("import voicecoach, numpy; " + COUNT) == 1
    assert _threads("from voicecoach.detect import segmentation; " + COUNT) == 1   # as the detectors load it


def test_a_setting_in_the_environment_still_wins():
    assert _threads("import voicecoach, numpy; " + COUNT, OPENBLAS_NUM_THREADS="2") == 2
