"""scripts/install-kiosk in staging mode (--root DIR): no systemd runs here, so the unit is written and verified only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "install-kiosk"


def install(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run install-kiosk into ``root`` (never touches the real /etc, never calls systemctl)."""
    return subprocess.run([str(SCRIPT), "--root", str(root), "--no-setup", *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def unit_of(root: Path) -> Path:
    return root / "etc" / "systemd" / "system" / "voicecoach.service"


def test_install_writes_a_unit_that_restarts_and_runs_the_repo_venv(tmp_path):
    res = install(tmp_path, "--audio", "alsa")
    assert res.returncode == 0, res.stderr
    text = unit_of(tmp_path).read_text()
    assert "Restart=always" in text and "RestartSec=5" in text
    assert "After=sound.target" in text
    assert "User=voicecoach" in text and "SupplementaryGroups=audio" in text
    assert f"WorkingDirectory={REPO}" in text
    assert f"ExecStart={REPO}/.venv/bin/voicecoach kiosk" in text
    assert "@" not in text.split("[Unit]", 1)[1].replace("user@", "")  # every placeholder was filled
    assert (tmp_path / "etc" / "voicecoach" / "config.toml").is_file()
    assert "systemctl status voicecoach" in res.stdout and "journalctl -u voicecoach -f" in res.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_installed_unit_passes_systemd_analyze_verify(tmp_path):
    assert install(tmp_path, "--audio", "alsa").returncode == 0
    res = subprocess.run(["systemd-analyze", "verify", str(unit_of(tmp_path))], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr


def test_running_twice_is_safe_and_changes_nothing(tmp_path):
    assert install(tmp_path, "--audio", "alsa").returncode == 0
    first = unit_of(tmp_path).read_text()
    config = (tmp_path / "etc" / "voicecoach" / "config.toml")
    config.write_text('[partners]\na_name = "Sam"\n')
    res = install(tmp_path, "--audio", "alsa")
    assert res.returncode == 0, res.stderr
    assert "up to date" in res.stdout
    assert unit_of(tmp_path).read_text() == first
    assert config.read_text() == '[partners]\na_name = "Sam"\n'  # the couple's settings are never overwritten


def test_pulse_mode_orders_after_the_users_sound_session(tmp_path):
    res = install(tmp_path, "--audio", "pulse", "--user", "root")
    assert res.returncode == 0, res.stderr
    text = unit_of(tmp_path).read_text()
    assert "After=sound.target user@0.service" in text
    assert "Environment=XDG_RUNTIME_DIR=/run/user/0" in text


def test_uninstall_removes_the_unit_keeps_the_data_and_is_safe_twice(tmp_path):
    assert install(tmp_path, "--audio", "alsa").returncode == 0
    data = tmp_path / "var" / "lib" / "voicecoach"
    data.mkdir(parents=True)
    (data / "journal.sqlite3").write_bytes(b"x")
    for expected in ("removed", "not installed"):
        res = install(tmp_path, "--uninstall")
        assert res.returncode == 0, res.stderr
        assert expected in res.stdout
        assert not unit_of(tmp_path).exists()
    assert (data / "journal.sqlite3").exists()
    assert (tmp_path / "etc" / "voicecoach" / "config.toml").exists()


@pytest.mark.parametrize("args, fragment", [
    (("--bogus",), "unknown option --bogus"),
    (("--audio", "oss"), "--audio must be auto, alsa or pulse"),
    (("--user", "Bad Name"), "is not a valid user name"),
    (("--audio", "pulse", "--user", "no-such-user-vc"), "needs the user 'no-such-user-vc' to exist"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, fragment):
    res = install(tmp_path, *args)
    assert res.returncode == 1
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
