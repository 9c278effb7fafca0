"""The scripts/ wrappers set up what they need: each dev script's setup installs the extras its imports need.

Each test runs a copy of the wrappers in a temporary checkout whose ``.venv/bin/python`` only records how it was
called, and whose ``dpkg-query`` says every system package is installed: nothing is installed for real.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

RECORDING_PYTHON = """#!/bin/sh
printf '%s\\n' "$*" >>"$(dirname "$0")/calls.log"
"""
EVERYTHING_INSTALLED = """#!/bin/sh
printf 'install ok installed'
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of scripts/ and pyproject.toml with a recording .venv/bin/python (no packages are installed)."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / ".venv" / "bin").mkdir(parents=True)
    _executable(root / ".venv" / "bin" / "python", RECORDING_PYTHON)
    (tmp_path / "bin").mkdir()
    _executable(tmp_path / "bin" / "dpkg-query", EVERYTHING_INSTALLED)
    return root


def run(checkout: Path, *argv: str) -> subprocess.CompletedProcess:
    """Run a script of the temporary checkout with the fake dpkg-query first on PATH."""
    env = dict(os.environ, PATH=f"{checkout.parent / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([str(checkout / "scripts" / argv[0]), *argv[1:]], capture_output=True, text=True,
                          env=env, cwd=checkout, timeout=60)


def pip_installs(checkout: Path) -> list[str]:
    """The `pip install -e ...` calls the recording python received, as their argument strings."""
    log = checkout / ".venv" / "bin" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return [c for c in calls if c.startswith("-m pip install -q -e")]


@pytest.mark.parametrize("script", ["evaluate", "train-overlap"])
def test_a_dev_script_on_a_fresh_clone_installs_the_dev_extra(checkout, script):
    run(checkout, script)
    assert pip_installs(checkout) == ["-m pip install -q -e .[dev]"]


def test_the_dev_extra_holds_the_room_simulator():
    import tomllib
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("pyroomacoustics") for req in extras["dev"])
    assert set(extras["dev"]) <= set(extras["test"])


def test_a_checkout_set_up_for_the_tests_needs_no_install_for_a_dev_script(checkout):
    assert run(checkout, "setup", "--test").returncode == 0
    assert pip_installs(checkout) == ["-m pip install -q -e .[test]"]
    run(checkout, "evaluate")
    run(checkout, "run", "--help")
    assert pip_installs(checkout) == ["-m pip install -q -e .[test]"]


def test_setup_refuses_an_unknown_option(checkout):
    res = run(checkout, "setup", "--tests")
    assert res.returncode == 2
    assert res.stderr.strip() == "setup: error: unknown option --tests (use --dev or --test)"
    assert pip_installs(checkout) == []


def test_the_readme_names_every_system_package_the_tests_install(checkout):
    """Quick start lists what scripts/test installs with apt-get; it left out the browser, the broker and more."""
    bin_dir = checkout.parent / "bin"
    _executable(bin_dir / "dpkg-query", "#!/bin/sh\nexit 1\n")   # nothing is installed
    _executable(bin_dir / "sudo", '#!/bin/sh\nexec "$@"\n')
    _executable(bin_dir / "apt-get", f'#!/bin/sh\nprintf \'%s\\n\' "$*" >>"{bin_dir}/apt.log"\n')

    def installed(*argv: str) -> set[str]:
        (bin_dir / "apt.log").unlink(missing_ok=True)
        assert run(checkout, "setup", *argv).returncode == 0
        words = (bin_dir / "apt.log").read_text().split()
        return {w for w in words if not w.startswith("-") and w != "install"}

    for_tests = installed("--test") - installed()
    quick_start = (REPO / "README.md").read_text().split("## Quick start")[1].split("## Using it")[0]
    assert for_tests and {p for p in for_tests if f"`{p}`" not in quick_start} == set()
