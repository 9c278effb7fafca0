"""`voicecoach devices` and device lookup, against the virtual PulseAudio server and against no server at all."""

from __future__ import annotations

import pytest

from voicecoach.errors import InputError


def _rows(stdout: str) -> dict[str, str]:
    """Device name -> the two mark characters of its row in the `voicecoach devices` table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        parts = line[2:].split()
        if len(parts) >= 5 and parts[0].isdigit():
            rows[parts[1]] = line[:2]
    return rows


def test_devices_lists_the_virtual_devices_and_marks_the_defaults(pulse, run_cli):
    res = run_cli("devices", env=pulse.full_env())
    assert res.returncode == 0, res.stderr
    rows = _rows(res.stdout)
    assert {"vmic", "speaker", "mic_feed"} <= set(rows), res.stdout
    assert rows["default"] == "<>", res.stdout  # PortAudio's default in and out is ALSA "default" -> pulse
    assert "Traceback" not in res.stderr


def test_devices_without_a_sound_server_says_so_and_exits_0(no_sound_env, run_cli):
    res = run_cli("devices", env=no_sound_env)
    assert res.returncode == 0, res.stderr
    assert "No sound devices found" in res.stdout
    assert "Traceback" not in res.stderr


def test_find_device_by_name_index_and_exact_name(pulse_in_process):
    from voicecoach.audio.device import find_device, list_devices

    by_name = {d.name: d.index for d in list_devices()}
    assert find_device("vmic", "input") == by_name["vmic"]
    assert find_device("VMIC", "input") == by_name["vmic"]
    assert find_device(str(by_name["vmic"]), "input") == by_name["vmic"]
    assert find_device("speaker", "output") == by_name["speaker"]  # exact name wins over "speaker_monitor"
    assert find_device(None, "input") is None and find_device("", "output") is None


@pytest.mark.parametrize("spec", ["no-such-mic", "999"])
def test_find_device_unknown_names_the_fix(pulse_in_process, spec):
    from voicecoach.audio.device import find_device

    with pytest.raises(InputError, match="voicecoach devices") as err:
        find_device(spec, "input")
    assert spec in str(err.value) and "\n" not in str(err.value)


def test_default_devices_are_flagged_in_list_devices(pulse_in_process):
    from voicecoach.audio.device import list_devices

    devices = list_devices()
    assert any(d.is_default_input for d in devices) and any(d.is_default_output for d in devices)
    vmic = next(d for d in devices if d.name == "vmic")
    assert vmic.max_input_channels >= 1 and vmic.default_samplerate > 0


def test_list_devices_is_empty_without_a_server_in_process():
    from conftest import in_process
    from voicecoach.audio.device import list_devices

    with in_process(None):
        assert list_devices() == []
