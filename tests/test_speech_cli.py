"""``voicecoach say``: render to a WAV, speak on a device, one-line errors with exit code 2."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from voicecoach.audio.wav import read_header, read_wav
from voicecoach.speech.text import MAX_PROMPT_CHARS


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


def test_say_refuses_a_voice_nothing_matches_from_the_option_or_the_config(run_cli, tmp_home, tmp_path: Path):
    out = tmp_path / "x.wav"
    r = run_cli("say", "hello", "--voice", "nosuch", "--to", out, env=tmp_home.env)  # was: exit 0, the default voice
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == ("voicecoach: error: no TTS voice matches 'nosuch' (--voice); list the voices with: "
                                "voicecoach say --voices")
    assert not out.exists()
    tmp_home.config_file.write_text('[speech]\nvoice = "nosuch"\n')
    r = run_cli("say", "hello", "--to", out, env=tmp_home.env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (f"voicecoach: error: no TTS voice matches 'nosuch' ([speech] voice in "
                                f"{tmp_home.config_file}); list the voices with: voicecoach say --voices")
    r = run_cli("say", "hello", "--voice", "en-us+f3", "--to", out, env=tmp_home.env)  # the option overrides it
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_a_voice_nothing_matches_is_echoed_cut_short(run_cli, tmp_home, tmp_path: Path):
    """A paragraph pasted as --voice (or a 100,000-character one): the one-line error echoed all of it, a 100 kB
    line. Now the value is cut as the config's errors cut theirs (60 characters)."""
    r = run_cli("say", "hello", "--voice", "a" * 100_000, "--to", tmp_path / "x.wav", env=tmp_home.env)
    assert r.returncode == 2, r.stderr[:300]
    assert r.stderr == ("voicecoach: error: no TTS voice matches '" + "a" * 56 + "... (--voice); list the voices "
                        "with: voicecoach say --voices\n")


def test_say_errors_are_one_line_with_exit_code_2(run_cli, tmp_home, tmp_path: Path):
    cases = [
        (["say", "hello", "--to", tmp_path / "missing" / "x.wav"], "does not exist"),
        (["say", "hello", "--to", tmp_path], "is a directory"),
        (["say", ""], "nothing to say"),
        (["say", "...", "--to", tmp_path / "dots.wav"], "only punctuation"),  # was: "install espeak-ng", exit 1
        (["say", "\x01\x02", "--to", tmp_path / "ctl.wav"], "only punctuation (or control"),  # was the same
        (["say", "hello", "--rate", "20"], "out of range"),
        # a file and a device at once: the device was ignored without a word
        (["say", "hello", "--to", tmp_path / "both.wav", "--output", "pulse"], "give one of them"),
    ]
    for args, words in cases:
        r = run_cli(*args, env=tmp_home.env)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("voicecoach: error:") and words in lines[0], lines
    assert not (tmp_path / "both.wav").exists()


@pytest.mark.parametrize("command", [["say", "hello", "--to"], ["checkin", "weekly", "--answers", "not_now", "--to"],
                                     ["demo", "--fast", "--save"]])
@pytest.mark.parametrize("name, words", [("notes.txt", "must name a .wav file, not"), ("notes", "e.g. "),
                                         ("", "needs a file name ending in .wav")])
def test_every_wav_output_refuses_a_name_that_is_not_a_wav_and_writes_nothing(run_cli, tmp_home, tmp_path: Path,
                                                                               command, name, words):
    # say --to notes.txt wrote WAV bytes into notes.txt (exit 0), and --to "" spoke aloud instead of writing
    out = tmp_path / "out"
    out.mkdir()
    r = run_cli(*command, out / name if name else "", env=tmp_home.env)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"voicecoach: error: {command[-1]} ") and words in lines[0], lines
    assert list(out.iterdir()) == [] and "wrote" not in r.stdout


def _read_only_folder(tmp_path: Path, small_disk) -> Path:
    """A folder nobody may write to, root included: a read-only mount (for other users a 0500 folder will do)."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    folder = small_disk(64)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
    return folder


def test_say_to_a_read_only_folder_is_an_input_error(run_cli, tmp_home, tmp_path: Path, small_disk):
    folder = _read_only_folder(tmp_path, small_disk)
    r = run_cli("say", "hello", "--to", folder / "x.wav", env=tmp_home.env)
    assert r.returncode == 2, r.stderr  # refused before anything is synthesised (a late write failure is exit 1)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicecoach: error: cannot write"), lines
    assert "read-only" in lines[0].lower() or "permission denied" in lines[0].lower(), lines
    assert r.stdout == "" and not (folder / "x.wav").exists()


def test_say_onto_a_full_disk_is_one_line_and_exit_1(run_cli, tmp_home, small_disk):
    disk = small_disk(16)  # far too small for two seconds of speech
    r = run_cli("say", "Shall we take the pause we agreed on? Say okay, or not now.", "--to", disk / "x.wav",
                env=tmp_home.env)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left" in lines[0] and "internal error" not in lines[0], lines


def test_say_without_a_sound_device_fails_with_one_line(run_cli, no_sound_env, tmp_home):
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")}}
    r = run_cli("say", "Shall we take a pause?", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)  # it was not spoken: never exit 0 (issue 17 item 3)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicecoach: error: could not speak"), lines
    assert "--to FILE.wav" in lines[0] and "(spoken)" not in r.stdout


def test_say_without_any_speech_engine_fails_with_one_line(run_cli, tmp_home, tmp_path: Path, pulse):
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH_")},
                         PATH=str(tmp_path))  # no espeak-ng on PATH
    tmp_home.config_file.write_text('[speech]\nengines = ["espeak-ng"]\n')
    r = run_cli("say", "Shall we take a pause?", "--output", "speaker", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.strip().splitlines()[-1].startswith("voicecoach: error: could not speak: no speech engine")


@pytest.mark.parametrize("to_file", [False, True])
def test_say_refuses_more_than_one_prompt_can_hold(run_cli, tmp_home, tmp_path: Path, to_file: bool):
    words = "word " * 5000  # 25,000 characters: espeak crashed with SIGSEGV (exit 139) on this
    args = ["say", words] + (["--to", str(tmp_path / "x.wav")] if to_file else [])
    r = run_cli(*args, env=tmp_home.env, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr[-300:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"at most {MAX_PROMPT_CHARS}" in lines[0], lines
    assert not (tmp_path / "x.wav").exists()


def test_say_speaks_a_long_prompt_within_the_limit_in_pieces(run_cli, tmp_home, tmp_path: Path):
    text = " ".join(f"This is sentence number {k} of a long prompt, read in one go." for k in range(30))
    assert len(text) < MAX_PROMPT_CHARS
    out = tmp_path / "long.wav"
    r = run_cli("say", text, "--to", out, env=tmp_home.env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert read_header(out).duration_s > 60  # all thirty sentences


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


@pytest.mark.parametrize("args, words", [
    (["hi", "--voices", "--to", "{tmp}/hi.wav"], "--voices only lists the voices, so the text 'hi' and --to '"),
    (["--voices", "--rate", "150"], "--voices only lists the voices, so --rate 150 would not be used"),
    (["hi", "--voice", "", "--to", "{tmp}/hi.wav"], "--voice is empty: give a voice id or part of its name (list "
                                                    "them with: voicecoach say --voices), or leave --voice out for "
                                                    "the configured voice"),
])
def test_say_refuses_what_it_would_not_use_and_an_empty_voice(run_cli, tmp_home, tmp_path: Path, args, words):
    """``say hi --voices --to hi.wav`` listed the voices and wrote nothing (exit 0); ``--voice ""`` spoke with the
    engine's default voice, not even the config's [speech] voice, without a word."""
    tmp_home.config_file.write_text('[speech]\nvoice = "en+f3"\n')
    r = run_cli("say", *(a.replace("{tmp}", str(tmp_path)) for a in args), env=tmp_home.env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"voicecoach: error: {words.replace('{tmp}', str(tmp_path))}"), r.stderr
    assert r.stderr.count("\n") == 1
    assert r.stdout == "" and not (tmp_path / "hi.wav").exists()
