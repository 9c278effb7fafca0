"""``voicecoach check``: one OK/WARN/FAIL line per check with the exact fix; exit 1 only when something FAILs."""

from __future__ import annotations

import argparse

from voicecoach.cli.check import FAIL, Context, Finding, run_isolated


def lines_of(res) -> dict[str, str]:
    """{what: full line} of the check output (the last line is the verdict)."""
    out = {}
    for line in res.stdout.splitlines()[:-1]:
        status, rest = line.split(" ", 1)
        assert status in ("OK", "WARN", "FAIL"), line
        out[rest.strip().split(":", 1)[0]] = line
    return out


def test_ready_box_on_the_virtual_sound_device_exits_0(pulse, tmp_home, run_cli):
    res = run_cli("check", env=pulse.full_env(**tmp_home.env), timeout=120)
    found = lines_of(res)
    assert res.returncode == 0, res.stdout + res.stderr
    assert set(found) >= {"config", "schedule", "scripts", "speech model", "speech output", "input device",
                          "output device", "journal", "free space"}
    assert found["input device"].startswith("OK") and "16000 Hz" in found["input device"]
    assert found["output device"].startswith("OK")
    assert found["journal"].startswith("OK") and "private" in found["journal"]
    assert res.stdout.splitlines()[-1] == "ready: nothing to fix"


def test_missing_speech_model_is_a_warning_with_the_download_command(tmp_home, run_cli):
    res = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    line = lines_of(res)["speech model"]
    assert line.startswith("WARN") and "double clap still works" in line
    assert "fix: voicecoach models download" in line
    assert res.returncode == 0, res.stdout


def test_broken_config_fails_but_every_other_check_still_runs(tmp_home, run_cli):
    tmp_home.config_file.write_text("[kiosk]\nnightly_time = \"9pm\"\n")
    res = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    found = lines_of(res)
    assert res.returncode == 1
    assert found["config"].startswith("FAIL") and "nightly_time = '9pm' is not a time" in found["config"]
    assert f"fix: edit {tmp_home.config_file}" in found["config"]
    assert found["speech output"].startswith(("OK", "WARN")) and found["journal"].startswith("OK")
    assert res.stdout.splitlines()[-1] == "not ready: 1 problem to fix"


def test_broken_user_script_is_reported_with_its_file_step_and_fix(tmp_home, run_cli):
    scripts = tmp_home.config_dir / "scripts"
    scripts.mkdir()
    (scripts / "ours.toml").write_text('name = "ours"\ntitle = "Ours"\nminutes = 5\n\n[[steps]]\ntype = "dance"\ntext = "Hi"\n')
    res = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    found = lines_of(res)
    assert res.returncode == 1
    line = found["script ours"]
    assert line.startswith("FAIL") and "ours.toml" in line and "step 1" in line
    assert f"voicecoach scripts check {scripts / 'ours.toml'}" in line
    assert found["scripts"].startswith("OK")  # the built-ins still load


def test_scheduled_script_that_does_not_exist_fails(tmp_home, run_cli):
    tmp_home.config_file.write_text('[kiosk]\nnightly_script = "evening"\n')
    res = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    line = lines_of(res)["script evening"]
    assert res.returncode == 1
    assert line.startswith("FAIL") and "kiosk.nightly_script" in line and "voicecoach scripts list" in line


def test_no_sound_devices_fail_with_how_to_find_them(no_sound_env, tmp_home, run_cli):
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    res = run_cli("check", env=env, timeout=120)
    found = lines_of(res)
    assert res.returncode == 1
    for what in ("input device", "output device"):
        assert found[what].startswith("FAIL") and "voicecoach devices" in found[what]
    assert res.stdout.splitlines()[-1] == "not ready: 2 problems to fix"


def test_a_journal_that_cannot_be_opened_fails(tmp_home, run_cli):
    blocker = tmp_home.data_dir / "not-a-folder"
    blocker.write_text("x")
    tmp_home.config_file.write_text(f'[journal]\nfile = "{blocker}/journal.sqlite3"\n')
    res = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    line = lines_of(res)["journal"]
    assert res.returncode == 1
    assert line.startswith("FAIL") and "fix:" in line


def test_a_check_that_crashes_becomes_one_fail_line_and_the_rest_go_on():
    def check_model(ctx):
        raise RuntimeError("boom")

    findings = run_isolated(check_model, Context(argparse.Namespace()))
    assert findings == [Finding(FAIL, "speech model", "the check itself failed: RuntimeError: boom",
                                "rerun with: voicecoach --debug check, and report it")]
