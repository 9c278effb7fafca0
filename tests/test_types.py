"""The product type-checks: what crosses a module boundary is typed, so a renamed field fails here, not silently.

mypy runs with the repository's own settings (``[tool.mypy]`` in pyproject.toml: the ``voicecoach`` package, the
development code in ``voicecoach_dev`` and ``scripts/*.py``; numpy and the dev/training extras (torch, scipy,
pyroomacoustics, matplotlib) taken as untyped, so the check does not move with their stubs or with whether an extra
is installed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("mypy", reason="mypy comes with the test extra: scripts/setup --test")


def _mypy(tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), *targets],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_product_type_checks(tmp_path: Path) -> None:
    done = _mypy(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_renamed_record_field_is_caught(tmp_path: Path) -> None:
    """The control: a caller still using an old field name fails the same check."""
    caller = tmp_path / "caller.py"
    caller.write_text("from voicecoach.records import SuggestionMade\n\n"
                      "made = SuggestionMade(cause='raised', t=1.0)\n"
                      "print(made.cause)\n")
    done = _mypy(tmp_path, str(caller))
    assert done.returncode == 1
    assert 'Unexpected keyword argument "cause"' in done.stdout
    assert 'has no attribute "cause"' in done.stdout
