"""``voicecoach say``: render to a WAV, speak on a device, one-line errors with exit code 2."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from voicecoach.audio.wav import read_header, read_wav


def test_say_to_renders_a_wav_of_speech(run_cli, tmp_home, tmp_path: Path):
    out = tmp_path / "hello.wav"
    result = run_cli("say", "Shall we take a pause? Say okay, or not now.", "--to", out, env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "Audio saved" not in result.stdout  # pyttsx3's own print is silenced
    info = read_header(out)
    assert info.sample_rate == 22050 and info.channels == 1
    assert 1.5 < info.duration_s < 6.0
    assert np.abs(read_wav(out)).max() > 3000


def test_say_voice_and_rate_options_change_the_speech(run_cli, tmp_home, tmp_path: Path):
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    text = "Let us both take a slow breath."
    assert run_cli("say", text, "--to", slow, "--rate", "100", env=tmp_home.env).returncode == 0
    r = run_cli("say", text, "--to", fast, "--rate", "250", "--voice", "en-us+f3", env=tmp_home.env)
    assert r.returncode == 0, r.stderr
    assert read_header(fast).duration_s < 0.6 * read_header(slow).duration_s


def test_say_uses_the_speech_section_of_the_config(run_cli, tmp_home, tmp_path: Path):
    tmp_home.config_file.write_text('[speech]\nrate_wpm = 280\nengines = ["espeak-ng"]\n')
    out = tmp_path / "x.wav"
    r = run_cli("say", "Let us both take a slow breath.", "--to", out, env=tmp_home.env)
    assert r.returncode == 0, r.stderr
    assert "espeak-ng" in r.stdout
    assert read_header(out).duration_s < 1.8


def test_say_errors_are_one_line_with_exit_code_2(run_cli, tmp_home, tmp_path: Path):
    cases = [
        (["say", "hello", "--to", tmp_path / "missing" / "x.wav"], "does not exist"),
        (["say", "hello", "--to", tmp_path], "is a directory"),
        (["say", ""], "nothing to say"),
        (["say", "hello", "--rate", "20"], "out of range"),
    ]
    for args, words in cases:
        r = run_cli(*args, env=tmp_home.env)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("voicecoach: error:") and words in lines[0], lines


def test_say_to_a_read_only_folder_is_an_input_error(run_cli, tmp_home, tmp_path: Path):
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        r = run_cli("say", "hello", "--to", folder / "x.wav", env=tmp_home.env)
    finally:
        folder.chmod(0o700)
    if os.geteuid() == 0:  # root may write anywhere: then it simply works
        assert r.returncode == 0
    else:
        assert r.returncode == 2 and "permission denied" in r.stderr


def test_say_without_a_sound_device_prints_the_text(run_cli, no_sound_env, tmp_home):
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    r = run_cli("say", "Shall we take a pause?", env=env)
    assert r.returncode == 0, r.stderr
    assert "(not spoken) Shall we take a pause?" in r.stdout


def test_say_plays_on_the_named_output_device(run_cli, pulse, tmp_home):
    recording = pulse.record_speaker()
    time.sleep(0.3)
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")})
    r = run_cli("say", "Welcome back. Would you like a short check-in?", "--output", "speaker", env=env)
    time.sleep(0.3)
    audio = recording.stop()
    assert r.returncode == 0, r.stderr
    loud = np.flatnonzero(np.abs(audio) > 300)
    assert len(loud) and (loud[-1] - loud[0]) / 16000 > 1.5


def test_say_unknown_output_device_is_an_input_error(run_cli, pulse, tmp_home):
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")})
    r = run_cli("say", "hello", "--output", "no-such-device", env=env)
    assert r.returncode == 2 and "no output device matching" in r.stderr


def test_say_lists_voices(run_cli, tmp_home):
    r = run_cli("say", "--voices", env=tmp_home.env)
    assert r.returncode == 0
    assert "gmw/en-us" in r.stdout
