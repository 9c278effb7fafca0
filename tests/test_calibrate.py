"""Calibration: a profile from each partner's calm speech (real TTS voices), stored and used by the pipeline."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from voicecoach.audio.wav import write_wav
from voicecoach.cli import main
from voicecoach.detect.calibration import build_profile as _build


def build_profile(a, b):
    return _build({"A": a, "B": b})


@pytest.fixture(scope="module")
def voices():
    from voicecoach_dev.live import render_conversation

    audio, timeline = render_conversation()
    calm = [(t, line) for t, line in timeline if not line.raised and not line.overlap]
    out = {}
    for who in ("A", "B"):
        parts = []
        for t, line in calm:
            if line.who == who:
                i = int(t * 16000)
                parts.append(audio[i:i + 16000 * 3])
        out[who] = np.concatenate(parts)
    return out


def test_profile_has_each_partners_level_and_pitch(voices):
    quiet_b = (voices["B"].astype(np.float64) * 10 ** (-10 / 20)).astype(np.int16)
    profile = build_profile(voices["A"], voices["B"])
    a, b = profile.partners["A"], profile.partners["B"]
    quieter = build_profile(voices["A"], quiet_b).partners["B"]
    assert b.calm_db - quieter.calm_db == pytest.approx(10.0, abs=1.0)
    assert b.calm_f0_hz > a.calm_f0_hz, "the female voice is higher"
    assert len(a.voice) == len(b.voice) > 5


def test_too_little_speech_is_a_clear_one_line_error(tmp_path, run_cli, tmp_home):
    write_wav(tmp_path / "quiet.wav", np.zeros(16000 * 10, np.int16))
    result = run_cli("calibrate", "--from-wav", tmp_path / "quiet.wav", tmp_path / "quiet.wav", env=tmp_home.env)
    assert result.returncode == 2
    assert result.stderr.startswith("voicecoach: error: Partner A: only 0.0 s of speech heard")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("seconds", ["nan", "inf", "-3", "121"])
def test_seconds_out_of_range_is_a_one_line_error_before_anything_is_recorded(seconds, tmp_path, run_cli, tmp_home):
    write_wav(tmp_path / "quiet.wav", np.zeros(16000, np.int16))
    result = run_cli("calibrate", "--seconds", seconds, "--from-wav", tmp_path / "quiet.wav", tmp_path / "quiet.wav",
                     env=tmp_home.env)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"voicecoach: error: --seconds {seconds} is out of range (5 to 120)\n"
    assert not (tmp_home.data_dir / "profile.json").exists()


def test_calibrate_from_wavs_stores_a_private_profile_that_listen_uses(voices, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "cfg"))
    write_wav(tmp_path / "a.wav", voices["A"])
    write_wav(tmp_path / "b.wav", voices["B"])
    assert main(["calibrate", "--from-wav", str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]) == 0
    path = tmp_path / "data" / "profile.json"
    assert set(json.loads(path.read_text())["partners"]) == {"A", "B"}
    assert path.stat().st_mode & 0o777 == 0o600
    from voicecoach import app
    from voicecoach.config import Config

    assert app.make_pipeline(Config()).profile is not None


def _damaged_profile(damage: dict, voices, tmp_path, run_cli, tmp_home):
    """Calibrate from the two voices' WAVs (a.wav, b.wav in tmp_path), then change partner A's saved baseline
    by ``damage``; returns the profile's path."""
    write_wav(tmp_path / "a.wav", voices["A"])
    write_wav(tmp_path / "b.wav", voices["B"])
    assert run_cli("calibrate", "--from-wav", tmp_path / "a.wav", tmp_path / "b.wav", env=tmp_home.env).returncode == 0
    path = tmp_home.data_dir / "profile.json"
    data = json.loads(path.read_text())
    data["partners"]["A"].update(damage)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("damage", [{"calm_db": "loud"}, {"calm_f0_hz": [200]}, {"calm_bright_db": True}])
def test_a_profile_with_a_baseline_that_is_not_a_number_is_ignored_with_one_warning(damage, voices, tmp_path,
                                                                                    run_cli, tmp_home):
    path = _damaged_profile(damage, voices, tmp_path, run_cli, tmp_home)
    before = path.read_bytes()
    result = run_cli("analyze", tmp_path / "a.wav", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert "ignoring the voice profile" in result.stderr and "not a number" in result.stderr
    assert "internal error" not in result.stderr
    assert path.read_bytes() == before  # left for the user to look at, or for calibrate to replace


@pytest.mark.parametrize("damage", [{"calm_f0_hz": -3}, {"calm_db": float("nan")},
                                    {"calm_bright_db": float("inf")}])
def test_a_profile_with_an_impossible_baseline_is_ignored_as_if_there_were_none(damage, voices, tmp_path,
                                                                               run_cli, tmp_home):
    # a negative pitch crashed analyze, listen and the kiosk (math domain error); NaN silently changed the events
    path = _damaged_profile(damage, voices, tmp_path, run_cli, tmp_home)
    result = run_cli("analyze", tmp_path / "a.wav", tmp_path / "b.wav", "--json", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert "ignoring the voice profile" in result.stderr and "internal error" not in result.stderr
    name = next(iter(damage))
    assert f"{name} of partner A" in result.stderr
    plain = run_cli("analyze", tmp_path / "a.wav", tmp_path / "b.wav", "--json", "--no-profile", env=tmp_home.env)
    assert result.stdout == plain.stdout


def test_the_same_recording_given_for_both_partners_is_refused_and_the_profile_kept(voices, tmp_path, run_cli,
                                                                                   tmp_home):
    """It was learned as both voices (two identical partners) and replaced the couple's profile."""
    write_wav(tmp_path / "a.wav", voices["A"])
    write_wav(tmp_path / "b.wav", voices["B"])
    assert run_cli("calibrate", "--from-wav", tmp_path / "a.wav", tmp_path / "b.wav", env=tmp_home.env).returncode == 0
    profile = tmp_home.data_dir / "profile.json"
    before = profile.read_bytes()
    (tmp_path / "copy.wav").write_bytes((tmp_path / "a.wav").read_bytes())
    for second in (tmp_path / "a.wav", tmp_path / "copy.wav"):
        result = run_cli("calibrate", "--from-wav", tmp_path / "a.wav", second, env=tmp_home.env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("voicecoach: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "hold the same recording: give one recording of each partner" in result.stderr
        assert profile.read_bytes() == before


def test_calibrate_under_umask_000_keeps_the_data_folder_and_profile_private(voices, tmp_path, monkeypatch):
    data = tmp_path / "share" / "voicecoach"
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(data))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "cfg"))
    write_wav(tmp_path / "a.wav", voices["A"])
    write_wav(tmp_path / "b.wav", voices["B"])
    old = os.umask(0)
    try:
        assert main(["calibrate", "--from-wav", str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]) == 0
    finally:
        os.umask(old)
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "profile.json").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in data.iterdir()) == ["profile.json"]



@pytest.mark.slow
def test_calibrate_on_the_virtual_microphone_guides_both_partners(pulse, voices, tmp_path):
    from voicecoach_dev.live import LiveProcess

    env = pulse.full_env(VOICECOACH_DATA_DIR=str(tmp_path / "data"), VOICECOACH_CONFIG_DIR=str(tmp_path / "cfg"))
    recording = pulse.record_speaker()
    live = LiveProcess(["calibrate", "--seconds", "6"], env)
    try:
        for label, name in (("A", "Partner A"), ("B", "Partner B")):
            assert live.wait_for(f"(recording {name}", 60), live.text()
            pulse.play_into_mic(voices[label][: 16000 * 7])
        assert live.proc.wait(60) == 0, live.text()
    finally:
        live.stop()
    heard = recording.stop()
    out = live.text()
    assert "Partner A: calm level" in out and "Partner B: calm level" in out, out
    assert "Thank you both. I have learned your voices." in out, out
    assert "microphone open" not in out, out  # was logged under each "(recording ...)" line: twice
    assert np.abs(heard.astype(np.int32)).max() > 3000, "the guidance was not spoken"
    assert (tmp_path / "data" / "profile.json").exists()


@pytest.mark.slow
def test_a_silent_first_partner_is_said_at_once_and_the_second_is_not_asked(pulse, tmp_path):
    """Before: Partner B was asked to talk too, then "Thank you both. I have learned your voices." was said, and
    then the error: "Partner A: only 0.0 s of speech heard"."""
    from voicecoach_dev.live import LiveProcess

    env = pulse.full_env(VOICECOACH_DATA_DIR=str(tmp_path / "data"), VOICECOACH_CONFIG_DIR=str(tmp_path / "cfg"))
    live = LiveProcess(["calibrate", "--seconds", "5"], env)  # nothing played: the microphone hears silence
    try:
        assert live.proc.wait(90) == 2, live.text()
    finally:
        live.stop()
    out = live.text()
    assert "(recording Partner A" in out and "Partner B, please talk" not in out, out
    assert "I did not hear enough of Partner A's voice, so nothing was saved." in out, out
    assert "I have learned your voices" not in out, out
    assert "voicecoach: error: Partner A: only 0.0 s of speech heard" in out, out
    assert not (tmp_path / "data" / "profile.json").exists()


def test_without_a_microphone_calibrate_says_so_before_asking_anyone_to_speak(run_cli, tmp_home, no_sound_env):
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    result = run_cli("calibrate", env=env, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""  # was: "Partner A, please talk for about 15 seconds ...", "(recording ...)"
    assert result.stderr == ("voicecoach: error: no input device found (none is plugged in, or no sound server is "
                             "running); check with: voicecoach devices\n")
    assert not (tmp_home.data_dir / "voice_profile.json").exists()


def test_seconds_with_recordings_uses_the_first_seconds_of_each(voices, tmp_path, monkeypatch):
    """``--seconds 8 --from-wav A B`` was ignored: the whole files were learned. Now it takes the first 8 s of each,
    as a microphone would have recorded them: the profile is the one of those 8 s alone, not of the louder rest."""
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "cfg"))
    eight = 8 * 16000
    first = {who: voices[who][:eight] for who in "AB"}
    louder = {who: np.clip(voices[who].astype(np.int32) * 4, -32768, 32767).astype(np.int16) for who in "AB"}
    for who in "AB":
        write_wav(tmp_path / f"{who}-first.wav", first[who])
        write_wav(tmp_path / f"{who}-long.wav", np.concatenate([first[who], louder[who]]))
    path = tmp_path / "data" / "profile.json"
    assert main(["calibrate", "--from-wav", str(tmp_path / "A-first.wav"), str(tmp_path / "B-first.wav")]) == 0
    of_the_first_seconds = json.loads(path.read_text())
    assert main(["calibrate", "--seconds", "8", "--from-wav", str(tmp_path / "A-long.wav"),
                 str(tmp_path / "B-long.wav")]) == 0
    assert json.loads(path.read_text()) == of_the_first_seconds
    assert main(["calibrate", "--from-wav", str(tmp_path / "A-long.wav"), str(tmp_path / "B-long.wav")]) == 0
    assert json.loads(path.read_text()) != of_the_first_seconds  # without --seconds: all of each file, as before


def test_seconds_longer_than_a_recording_is_a_one_line_error_and_the_profile_stays(voices, tmp_path, run_cli,
                                                                                  tmp_home):
    write_wav(tmp_path / "a.wav", voices["A"][:10 * 16000])
    write_wav(tmp_path / "b.wav", voices["B"])
    profile = tmp_home.data_dir / "profile.json"
    profile.write_text("the couple's earlier profile")
    result = run_cli("calibrate", "--seconds", "20", "--from-wav", tmp_path / "a.wav", tmp_path / "b.wav",
                     env=tmp_home.env)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"voicecoach: error: {tmp_path / 'a.wav'} holds 10.0 s of audio, less than --seconds 20: "
                             f"give a longer recording or a smaller --seconds (or leave --seconds out to use all of "
                             f"each recording)\n")
    assert profile.read_text() == "the couple's earlier profile"
