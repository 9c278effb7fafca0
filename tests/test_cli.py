"""CLI exit codes, one-line errors without tracebacks, and the JSON Lines contract of `voicecoach analyze --json`.

Exit codes and stdout purity are checked on the installed script as a subprocess; the rest in process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import stored_replay
from voicecoach import cli
from voicecoach.audio.wav import write_wav
from voicecoach.errors import DeviceError

REQUIRED_KEYS = {
    "raised_voice": {"start", "end", "speaker"},
    "interruption": {"start", "speaker", "over"},
    "pause_suggested": {"reason"},
}


def talk_like(seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """Noise bursts shaped like syllables, louder in the second half: audio the whole pipeline can chew on."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) * np.where(t > seconds / 2, 0.5, 0.1)
    voiced = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t) + 0.3 * rng.standard_normal(n)
    return (envelope * voiced * 0.8).astype(np.float64)


@pytest.fixture
def good_wav(tmp_path: Path) -> Path:
    path = tmp_path / "talk.wav"
    write_wav(path, talk_like())
    return path


@pytest.fixture
def bad_inputs(tmp_path: Path, tmp_home) -> dict[str, Path]:
    """Files that must each end the command with one line and exit code 2."""
    (tmp_path / "notes.wav").write_text("not audio\n")
    (tmp_path / "bad.toml").write_text("[audio]\nframe_ms = = 30\n")
    (tmp_path / "range.toml").write_text("[audio]\nframe_ms = 45\n")
    (tmp_path / "unknown.toml").write_text("[audio]\nframe = 30\n")
    (tmp_path / "empty.wav").write_bytes(b"")
    return {name: tmp_path / name for name in ("notes.wav", "bad.toml", "range.toml", "unknown.toml", "empty.wav")}


def assert_one_line_error(stderr: str) -> None:
    """The whole of stderr is `voicecoach...: error: ...` on one line, with no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("voicecoach") and ": error: " in lines[0], stderr


# --- exit codes and one-line errors, as a subprocess ----------------------------------------------------------------

ERROR_CASES = [
    ("unknown_command", ["dance"], 2),
    ("no_files", ["analyze"], 2),
    ("unknown_option", ["analyze", "{good}", "--fast"], 2),
    ("missing_option_value", ["analyze", "{good}", "--config"], 2),
    ("missing_file", ["analyze", "{tmp}/missing.wav"], 2),
    ("directory", ["analyze", "{tmp}"], 2),
    ("not_wav", ["analyze", "{tmp}/notes.wav", "--json"], 2),
    ("empty_wav", ["analyze", "{tmp}/empty.wav"], 2),
    ("missing_config", ["analyze", "{good}", "--config", "{tmp}/nope.toml"], 2),
    ("bad_toml", ["--config", "{tmp}/bad.toml", "analyze", "{good}"], 2),
    ("out_of_range", ["config", "check", "--config", "{tmp}/range.toml"], 2),
    ("unknown_key", ["config", "show", "--config", "{tmp}/unknown.toml"], 2),
    ("config_without_action", ["config"], 2),
]


@pytest.mark.parametrize("name, argv, code", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_every_error_is_one_line_with_its_exit_code_and_no_traceback(run_cli, tmp_home, tmp_path, good_wav,
                                                                     bad_inputs, name, argv, code):
    args = [a.format(good=good_wav, tmp=tmp_path) for a in argv]
    res = run_cli(*args, env=tmp_home.env)
    assert res.returncode == code, (res.returncode, res.stderr)
    assert_one_line_error(res.stderr)
    assert res.stdout == ""


def test_debug_shows_the_traceback_and_keeps_the_exit_code(run_cli, tmp_home, tmp_path, good_wav):
    res = run_cli("--debug", "analyze", good_wav, "--config", tmp_path / "nope.toml", env=tmp_home.env)
    assert res.returncode == 2
    assert "Traceback" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("voicecoach: error: ")


def test_the_config_option_works_before_and_after_the_subcommand(run_cli, tmp_home, bad_inputs, good_wav):
    for args in (["--config", bad_inputs["range.toml"], "analyze", good_wav],
                 ["analyze", good_wav, "--config", bad_inputs["range.toml"]]):
        res = run_cli(*args, env=tmp_home.env)
        assert res.returncode == 2 and "audio.frame_ms" in res.stderr


def test_version_and_help_exit_0(run_cli):
    assert run_cli("--version").returncode == 0
    res = run_cli("analyze", "--help")
    assert res.returncode == 0 and "--json" in res.stdout


# --- the JSON contract ---------------------------------------------------------------------------------------------

def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_lines(stdout: str) -> list[dict]:
    """Every stdout line is one JSON object with "type" and a numeric "t"; nothing else is on stdout."""
    events = []
    for line in stdout.splitlines():
        event = json.loads(line, parse_constant=_not_json)  # strict: NaN/Infinity are not JSON
        assert isinstance(event, dict) and isinstance(event["type"], str), line
        assert isinstance(event["t"], (int, float)), line
        for key in REQUIRED_KEYS.get(event["type"], ()):
            assert key in event, line
        events.append(event)
    return events


def assert_event_times_make_sense(events: list[dict]) -> None:
    times = [e["t"] for e in events]
    assert times == sorted(times), "events are emitted in audio-time order"
    for e in events:
        if e.get("start") is not None:
            assert e["start"] <= e["t"] + 1e-6, e
        if e.get("end") is not None:
            assert e["end"] >= e["start"], e


def test_analyze_json_on_generated_audio_prints_only_json_lines(run_cli, tmp_home, good_wav):
    res = run_cli("analyze", good_wav, "--json", env=tmp_home.env)
    assert res.returncode == 0, res.stderr
    assert_event_times_make_sense(parse_json_lines(res.stdout))


def test_analyze_json_with_a_bad_file_among_good_ones(run_cli, tmp_home, tmp_path, good_wav, bad_inputs):
    other = tmp_path / "other.wav"
    write_wav(other, talk_like(seed=1), 44100)
    res = run_cli("analyze", good_wav, bad_inputs["notes.wav"], other, "--json", env=tmp_home.env)
    assert res.returncode != 0
    events = parse_json_lines(res.stdout)
    assert {e["file"] for e in events} <= {str(good_wav), str(other)}
    assert "Traceback" not in res.stderr
    err = res.stderr.strip().splitlines()
    assert any(str(bad_inputs["notes.wav"]) in line and "not a WAV" in line for line in err), res.stderr
    assert err[-1] == "voicecoach: error: 1 of 3 files could not be analysed"


def test_analyze_table_reports_every_good_file_despite_a_bad_one(tmp_home, tmp_path, good_wav, capsys):
    other = tmp_path / "other.wav"
    write_wav(other, talk_like(seed=1)[::2], 8000)  # 4 s at 8 kHz
    assert cli.main(["analyze", str(good_wav), str(tmp_path / "gone.wav"), str(other)]) == 2
    out, err = capsys.readouterr()
    assert f"{good_wav}: 4.0 s" in out and f"{other}: 4.0 s" in out
    assert "gone.wav: no such file" in err


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_analyze_runs_with_every_frame_size(tmp_home, good_wav, frame_ms, capsys):
    tmp_home.config_file.write_text(f"[audio]\nframe_ms = {frame_ms}\n")
    assert cli.main(["analyze", str(good_wav), "--json"]) == 0
    parse_json_lines(capsys.readouterr().out)


def test_analyze_json_on_a_real_conversation(run_cli, tmp_home, corpus):
    ami = corpus / "conversations" / "ami"
    files = [ami / "trn09.wav", ami / "missing.wav", ami / "trn08.wav"]
    # 30 s excerpts: without this, interruptions would only count 20 s after both voices are told apart
    tmp_home.config_file.write_text("[detection.interruption]\nsettle_s = 0\n")
    res = run_cli("analyze", *files, "--json", env=tmp_home.env)
    assert res.returncode == 2
    events = parse_json_lines(res.stdout)
    assert events, "a meeting with 13 s of overlap gives some events"
    for name in ("trn09.wav", "trn08.wav"):
        assert_event_times_make_sense([e for e in events if e["file"].endswith(name)])
    assert "missing.wav: no such file" in res.stderr and "Traceback" not in res.stderr


def test_analyze_json_turns_non_finite_numbers_into_null(tmp_home, good_wav, monkeypatch, capsys):
    from voicecoach.cli import analyze
    from voicecoach.events import RaisedVoice

    def one_odd_event(path, config, *rest, **kw):
        fields = {"t": 1.0, "start": 0.5, "end": None, "speaker": "A"}
        extra = {"level_db": float("nan")} if "level_db" in RaisedVoice.__dataclass_fields__ else {}
        return [RaisedVoice(**fields, **extra)], 4.0

    monkeypatch.setattr(analyze, "analyze_file", one_odd_event)  # a detector bug that yields NaN, on demand
    assert cli.main(["analyze", str(good_wav), "--json"]) == 0
    events = parse_json_lines(capsys.readouterr().out)
    assert events[0]["type"] == "raised_voice" and events[0].get("level_db", None) is None


# --- run-time failures and the last line of defence (in process) -------------------------------------------------

def test_a_device_error_exits_1_with_one_line(monkeypatch, capsys):
    from voicecoach.cli import devices

    def lost(args):
        raise DeviceError("the microphone went away (check it with: voicecoach devices)")

    monkeypatch.setattr(devices, "run", lost)  # stands in for a device failing mid-run, which needs a real card
    assert cli.main(["devices"]) == 1
    assert_one_line_error(capsys.readouterr().err)


def test_an_unexpected_exception_is_one_line_and_exit_1_unless_debug(monkeypatch, capsys):
    from voicecoach.cli import devices

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(devices, "run", broken)  # a bug that must not show users a traceback
    assert cli.main(["devices"]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err)
    assert "internal error" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        cli.main(["devices", "--debug"])


def test_ctrl_c_exits_130_quietly(monkeypatch, capsys):
    from voicecoach.cli import devices

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(devices, "run", interrupted)
    assert cli.main(["devices"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_analyze_gives_each_raised_voice_the_end_the_live_loop_stores(run_cli, tmp_home, talk_wav):
    """`end` was always null in analyze, though the whole recording is there (and the live loop stores it)."""
    res = run_cli("analyze", talk_wav, "--json", env=tmp_home.env)
    assert res.returncode == 0, res.stderr
    raised = [e for e in parse_json_lines(res.stdout) if e["type"] == "raised_voice"]
    assert raised, "the demo talk has raised voices"
    assert all(e["end"] is not None and e["start"] <= e["end"] for e in raised), raised
    heard = stored_replay(talk_wav, tmp_home.env)
    assert heard.returncode == 0, heard.stderr
    journal = json.loads(run_cli("journal", "export", env=tmp_home.env).stdout)
    stored = [(e["t"], e["end"]) for e in journal["events"] if e["type"] == "raised_voice"]
    assert stored == [(e["t"], e["end"]) for e in raised]


def test_listen_and_checkin_no_ui_helps_say_how_answers_are_typed(capsys) -> None:
    """listen --no-ui's help said only "plain log lines instead of the live view", yet it reads the keyboard a line
    at a time, as checkin --no-ui does (90fcd64): both helps say so, in the same words."""
    said = "answers typed as a word or key, then Enter (the terminal is left in its usual mode)"
    for command in ("listen", "checkin"):
        with pytest.raises(SystemExit) as ended:
            cli.main([command, "--help"])
        assert ended.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert said in text, (command, text)
    with pytest.raises(SystemExit):
        cli.main(["listen", "--help"])
    assert "plain log lines instead of the live view;" in " ".join(capsys.readouterr().out.split())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("config", "show"), ("scripts", "list"), ("report",), ("journal", "path")])
def test_output_onto_a_full_disk_is_one_line_not_an_internal_error(args, tmp_home):
    """``voicecoach report > trends.txt`` (or config show, scripts list ...) on a full disk: it was "internal error:
    OSError: [Errno 28] No space left on device (rerun with --debug and report it)", a bug report asked for a
    full disk. Now one line naming the full disk and the fix, exit 1 (a failure of the world)."""
    import subprocess

    from conftest import cli_command

    with open("/dev/full", "w") as full:
        result = subprocess.run([*cli_command(), *args], stdin=subprocess.DEVNULL, stdout=full,
                                stderr=subprocess.PIPE, text=True, env=tmp_home.env, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "voicecoach: error: the disk is full (No space left on device): what was being written (the output, or a "
        "file) is incomplete; free some space and run it again"]
