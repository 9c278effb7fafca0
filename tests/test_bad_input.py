"""The bad-input battery: every malformed input gets its one-line error and exit code, never a traceback, and
nothing the couple stored is lost (the config file and the journal are byte-identical afterwards)."""

from __future__ import annotations

import hashlib
import json
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from voicecoach.events import RaisedVoice
from voicecoach.journal.store import Journal

RATE = 16000


def _pcm_wav(path: Path, audio: np.ndarray, rate: int = RATE, width: int = 2, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(audio.tobytes())
    return path


def _float_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    data = audio.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + 16 + 8 + len(data)) + b"WAVE" + b"fmt " +
                     struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def _tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * 220 * t)


@pytest.fixture
def stored(tmp_home):
    """A home with a config file and a journal holding one talk; returns a function giving their hashes."""
    tmp_home.config_file.write_text('[partners]\na_name = "Sam"\nb_name = "Alex"\n')
    journal = Journal.open(tmp_home.data_dir / "journal.sqlite3")
    talk = journal.start_talk("listen", 1_700_000_000.0)
    journal.add_event(talk, RaisedVoice(t=1.0, start=0.5, speaker="A"))
    journal.close()

    def digest() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in (tmp_home.config_file, tmp_home.data_dir / "journal.sqlite3")}

    return digest


def _one_line_error(result, code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("voicecoach: error:"), result.stderr
    assert needle.lower() in lines[0].lower(), lines[0]


WAV_ERRORS = {
    "empty": (lambda p: _write(p, b""), "empty"),
    "header only": (lambda p: _pcm_wav(p, np.zeros(0, np.int16)), "no audio"),
    "truncated": (lambda p: _write(p, _pcm_wav(p, np.zeros(RATE, np.int16)).read_bytes()[:2000]), "truncated"),
    "not audio at all": (lambda p: _write(p, "these are my notes, not a recording\n"), "not a WAV"),
    "compressed (A-law)": (lambda p: _write(p, b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVE" + b"fmt " +
                                            struct.pack("<IHHIIHH", 16, 6, 1, 8000, 8000, 1, 8) +
                                            b"data" + struct.pack("<I", 8) + bytes(8)), "unsupported"),
    # hostile headers (issue 19 item 8): MemoryError, and 16,000x the work of the file's size
    "4294967295 Hz": (lambda p: _rate_wav(p, 0xFFFFFFFF), "sample rate, 4294967295 Hz, is outside"),
    "1 Hz": (lambda p: _rate_wav(p, 1), "sample rate, 1 Hz, is outside"),
    "a directory": (lambda p: (p.mkdir(), p)[1], "is a directory"),
}


def _rate_wav(path: Path, rate: int) -> Path:
    """A 16-bit mono WAV whose header claims ``rate`` (its 32,000 samples are real)."""
    _pcm_wav(path, (_tone(2) * 32767).astype(np.int16))
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", (rate * 2) & 0xFFFFFFFF)
    return _write(path, bytes(data))


@pytest.mark.parametrize("kind", WAV_ERRORS)
def test_bad_wav_files_get_a_one_line_error_naming_the_file(kind, tmp_path, stored, run_cli, tmp_home):
    make, needle = WAV_ERRORS[kind]
    path = make(tmp_path / "talk.wav")
    before = stored()
    result = run_cli("analyze", path, "--json", env=tmp_home.env)
    _one_line_error(result, 2, needle)
    assert str(path) in result.stderr
    assert result.stdout == ""
    assert stored() == before


WAV_GOOD = {
    "8-bit": lambda p: _pcm_wav(p, (128 + 100 * _tone(3)).astype(np.uint8), width=1),
    "24-bit": lambda p: _pcm_wav(p, np.frombuffer(b"".join(int(v).to_bytes(3, "little", signed=True)
                                                           for v in (_tone(1) * 2 ** 23).astype(int)), np.uint8),
                                 width=3),
    "float": lambda p: _float_wav(p, _tone(3)),
    "48 kHz stereo": lambda p: _pcm_wav(p, np.repeat((_tone(3, 48000) * 32767).astype(np.int16), 2), 48000,
                                        channels=2),
}


@pytest.mark.parametrize("kind", WAV_GOOD)
def test_unusual_but_valid_wavs_are_analysed(kind, tmp_path, run_cli, tmp_home):
    path = WAV_GOOD[kind](tmp_path / "talk.wav")
    result = run_cli("analyze", path, "--json", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert all(json.loads(line)["type"] for line in result.stdout.splitlines())


@pytest.mark.slow
def test_a_one_hour_wav_is_analysed_in_bounded_memory(tmp_path, run_cli, tmp_home):
    path = tmp_path / "hour.wav"
    block = (np.random.default_rng(0).normal(0, 300, RATE * 60)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for _ in range(60):
            w.writeframes(block.tobytes())
    result = run_cli("analyze", path, env=tmp_home.env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "3600.0 s" in result.stdout


def test_a_named_pipe_with_no_writer_is_refused_not_waited_on(tmp_path, run_cli, tmp_home):
    import os

    fifo = tmp_path / "talk.wav"
    os.mkfifo(fifo)
    result = run_cli("analyze", fifo, "--json", env=tmp_home.env, timeout=30)  # hung forever before
    _one_line_error(result, 2, "not a regular file")


CONFIGS = {
    "bad TOML": ("[partners\na_name = 1\n", "invalid TOML"),
    "nested 50,000 deep": ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
    "unknown key": ("[pause]\nlenght_min = 10\n", "pause.lenght_min"),
    "wrong type": ("[pause]\nlength_min = \"twenty\"\n", "pause.length_min"),
    "out of range": ("[detection]\nvad_aggressiveness = 7\n", "out of range"),
}


@pytest.mark.parametrize("kind", CONFIGS)
def test_bad_configs_name_the_key_and_keep_the_file(kind, tmp_path, stored, run_cli, tmp_home):
    text, needle = CONFIGS[kind]
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    before = stored()
    for args in (("config", "check"), ("analyze", str(tmp_path / "x.wav"))):
        result = run_cli("--config", bad, *args, env=tmp_home.env)
        _one_line_error(result, 2, needle)
    assert bad.read_text() == text
    assert stored() == before


def test_quiet_hours_that_start_when_they_end_are_refused_naming_the_keys_and_the_fix(tmp_path, stored, run_cli,
                                                                                      tmp_home):
    """quiet_start = quiet_end was taken silently as "no quiet hours", though a couple may well have meant all day
    (or mistyped one of the two): now the config is refused with the way to say each."""
    bad = tmp_path / "quiet.toml"
    bad.write_text('[kiosk]\nquiet_start = "22:00"\nquiet_end = "22:00"\n')
    before = stored()
    for args in (("config", "check"), ("kiosk",)):
        result = run_cli("--config", bad, *args, env=tmp_home.env, timeout=60)
        _one_line_error(result, 2, "kiosk: quiet_end = '22:00' is the same time as quiet_start")
        assert 'set quiet_start = "" and quiet_end = ""' in result.stderr
    assert stored() == before


@pytest.mark.parametrize("value, shown", [("true", "true"), ("[" + ", ".join(["1"] * 100_000) + "]", "[1, 1, 1"),
                                          ("[" * 300 + "]" * 300, "[[[[")])
def test_a_value_of_the_wrong_type_is_shown_as_toml_writes_it_and_cut_short(value, shown, tmp_path, run_cli, tmp_home):
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[partners]\na_name = {value}\n")
    result = run_cli("--config", bad, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, f"partners.a_name must be a string, not {shown}")  # was: True; a 300 kB line
    # the bound leaves the file's path out: its length is wherever pytest keeps temporary files (longer under xdist)
    message = result.stderr.replace(str(bad), "bad.toml")
    assert f"not {shown}" in message and len(message) < 150, message[:300]


def test_config_check_refuses_a_journal_file_that_is_a_folder(tmp_path, run_cli, tmp_home):
    """``[journal] file = "/tmp"``: config check said OK, while check and every command that opens the journal
    refuse it (helper 75's sweep)."""
    bad = tmp_path / "folder.toml"
    bad.write_text(f'[journal]\nfile = "{tmp_path}"\n')
    result = run_cli("--config", bad, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, f"journal.file = '{tmp_path}' is a folder, not a file (set it to a file's path")


def test_a_table_pasted_twice_names_both_lines_and_how_to_merge_them(tmp_path, stored, run_cli, tmp_home):
    """docs/kiosk.md shows a ``[web]`` block to turn the page on; pasted at the end of the file ``install-kiosk``
    wrote (which holds ``[web]`` already, each setting a comment), the kiosk refused it with tomllib's "Cannot
    declare ('web',) twice (at line 344, column 5)" and suggested ``config init --force``, which throws every
    setting away. Now the error names the table, both lines and the fix, and suggests nothing that erases."""
    config = tmp_path / "config.toml"
    assert run_cli("config", "init", config, env=tmp_home.env).returncode == 0
    lines = config.read_text().splitlines()
    first = lines.index("[web]") + 1
    config.write_text("\n".join(lines) + '\n[web]\nenabled = true\naddress = "0.0.0.0"\n')
    before = stored()
    for args in (("config", "check"), ("journal", "export", "--json")):
        result = run_cli("--config", config, *args, env=tmp_home.env)
        _one_line_error(result, 2, f"[web] appears twice (lines {first} and {len(lines) + 1})")
        assert "put these settings under the first [web]" in result.stderr and "--force" not in result.stderr
    assert stored() == before


def test_a_config_and_a_script_saved_with_a_byte_order_mark_are_read(tmp_path, run_cli, tmp_home):
    """Some Windows editors start a UTF-8 file with a BOM: it was "invalid TOML: Invalid statement (at line 1,
    column 1)" on a line that looks right."""
    config = tmp_path / "config.toml"
    config.write_bytes(b"\xef\xbb\xbf" + '[partners]\na_name = "Sam"\n'.encode())
    result = run_cli("--config", config, "config", "show", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert 'a_name = "Sam"' in result.stdout
    script = tmp_path / "mine.toml"
    script.write_bytes(b"\xef\xbb\xbf" + b'title = "Mine"\nminutes = 5\nconsent = "Now? Say yes, or not now."\n'
                       b'[[steps]]\ntype = "end"\ntext = "Bye."\n')
    result = run_cli("scripts", "check", script, env=tmp_home.env)
    assert result.returncode == 0, result.stderr


SCRIPTS = {
    "missing step": ('name = "x"\ntitle = "X"\nminutes = 5\nconsent = "Now?"\n', "step"),
    "unknown step type": ('name = "x"\ntitle = "X"\nminutes = 5\nconsent = "Now?"\n[[steps]]\ntype = "dance"\n',
                          "dance"),
    "bad duration": ('name = "x"\ntitle = "X"\nminutes = 5\nconsent = "Now?"\n[[steps]]\ntype = "turn"\n'
                     'for = "a"\nminutes = -2\ntext = "Go"\n', "minutes"),
}


@pytest.mark.parametrize("kind", SCRIPTS)
def test_broken_checkin_scripts_name_the_step_and_key(kind, tmp_path, stored, run_cli, tmp_home):
    text, needle = SCRIPTS[kind]
    path = tmp_path / "mine.toml"
    path.write_text(text)
    before = stored()
    result = run_cli("scripts", "check", path, env=tmp_home.env)
    _one_line_error(result, 2, needle)
    assert "mine.toml" in result.stderr
    assert stored() == before


ARGS = {
    "unknown command": (("dance",), 2, "invalid choice"),
    "analyze without a file": (("analyze",), 2, "required"),
    # the subcommand's own --help is named (it was voicecoach --help, which does not list listen's options)
    "unknown option": (("listen", "--volume", "11"), 2, "unrecognized arguments: --volume 11 (see: voicecoach "
                                                        "listen --help)"),
    "unknown option of an action": (("config", "init", "--bogus"), 2, "unrecognized arguments: --bogus (see: "
                                                                     "voicecoach config init --help)"),
    "unknown option before the command": (("--bogus", "listen"), 2, "unrecognized arguments: --bogus (see: "
                                                                    "voicecoach listen --help)"),
    "missing config file": (("--config", "/nonexistent/voicecoach.toml", "config", "check"), 2, "does not exist"),
    "unknown check-in": (("checkin", "no-such-ritual", "--answers", "yes", "--to", "/tmp/x.wav"), 2,
                         "no-such-ritual"),
    "listen --fast without --file": (("listen", "--fast", "--no-ui"), 2, "--fast needs --file"),
    # was: the microphone named ignored without a word (exit 0, the file heard)
    "listen --input with --file": (("listen", "--input", "99", "--file", "/nonexistent/talk.wav", "--no-ui"), 2,
                                   "--input and --file both name what to listen to: give --file "
                                   "/nonexistent/talk.wav alone to hear the recording, or --input 99 alone"),
    "calibrate --input with --from-wav": (("calibrate", "--input", "usb", "--from-wav", "/nonexistent/a.wav",
                                           "/nonexistent/b.wav"), 2, "--input and --from-wav both name what"),
    # were: the device ignored without a word (exit 0, a WAV written; the demo printed)
    "checkin --to with --output": (("checkin", "weather", "--answers", "yes", "--to", "/tmp/x.wav", "--output", "usb"),
                                   2, "--to rehearses offline into a WAV file, so --output usb would not be used"),
    "checkin --to with --input": (("checkin", "weather", "--answers", "yes", "--to", "/tmp/x.wav", "--input", "2"), 2,
                                  "so --input 2 would not be used: leave out --input, or --to"),
    "demo --fast with --output": (("demo", "--fast", "--output", "usb"), 2, "--fast only prints the demo (nothing is "
                                                                        "played), so --output usb would not be used"),
    "report since nonsense": (("report", "--since", "yesterday-ish"), 2, "since"),
    "say to a missing folder": (("say", "hello", "--to", "/nonexistent/dir/x.wav"), 2, "/nonexistent/dir"),
    "calibrate from missing files": (("calibrate", "--from-wav", "/nonexistent/a.wav", "/nonexistent/b.wav"), 2,
                                     "no such file"),
}


@pytest.mark.parametrize("kind", ARGS)
def test_bad_command_lines_get_one_line_and_exit_2(kind, stored, run_cli, tmp_home):
    args, code, needle = ARGS[kind]
    before = stored()
    result = run_cli(*args, env=tmp_home.env)
    _one_line_error(result, code, needle)
    assert stored() == before


@pytest.mark.parametrize("args", [("--config", "{dir}", "listen", "--no-ui"), ("--config", "{dir}", "config", "check")])
def test_a_folder_given_as_the_config_names_the_file_it_wants(args, tmp_path, stored, run_cli, tmp_home):
    before = stored()
    result = run_cli(*(a.format(dir=tmp_path) for a in args), env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, f"{tmp_path} is a folder, not a config file (give the file's path, e.g. "
                               f"{tmp_path / 'config.toml'})")  # was: "cannot read config ...: Is a directory"
    assert stored() == before


@pytest.mark.parametrize("kind", ["named pipe", "/dev/zero"])
@pytest.mark.parametrize("args", [("config", "check"), ("listen", "--no-ui"), ("config", "init", "--force")])
def test_a_pipe_or_a_device_given_as_the_config_is_refused_at_once(kind, args, tmp_path, stored, run_cli, tmp_home):
    """A named pipe with no writer was waited on for ever; /dev/zero was read until memory ran out ("internal
    error: MemoryError"); config init --force read the pipe, or would move the device aside."""
    import os

    given = tmp_path / "config.toml" if kind == "named pipe" else Path("/dev/zero")
    if kind == "named pipe":
        os.mkfifo(given)
    before = stored()
    result = run_cli("--config", given, *args, env=tmp_home.env, timeout=30)
    wanted = "not a regular file" if "init" in args else \
        f"cannot read config {given}: it is {'a named pipe' if kind == 'named pipe' else 'a device'}, not a file"
    _one_line_error(result, 2, wanted)
    assert str(given) in result.stderr
    assert stored() == before
    assert not given.is_file()


@pytest.mark.parametrize("args", [("say", "hello", "--to", "{pipe}"), ("journal", "export", "--out", "{pipe}"),
                                  ("checkin", "weekly", "--answers", "not_now", "--to", "{pipe}")])
def test_a_named_pipe_nobody_reads_as_the_output_is_refused_not_waited_on(args, tmp_path, stored, run_cli, tmp_home):
    """cli.check_writable opened the output to see that it can be written: on a pipe with no reader that open
    waited for ever."""
    import os

    pipe = tmp_path / "out.wav"
    os.mkfifo(pipe)
    before = stored()
    result = run_cli(*(a.format(pipe=pipe) for a in args), env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, f"cannot write {pipe}: it is a named pipe that nobody is reading")
    assert stored() == before


@pytest.mark.parametrize("kind", ["a named pipe", "a device"])
def test_a_journal_file_that_is_a_pipe_or_a_device_is_named_and_never_made_private(kind, tmp_path, run_cli,
                                                                                  tmp_home):
    """[journal] file = "/dev/null" (or a pipe): the journal chmod-ed it to 0600, which as root takes /dev/null
    away from every other user, and then said only "disk I/O error; check that /dev is writable"."""
    import os
    import stat

    odd = tmp_path / "journal-here"
    if kind == "a named pipe":
        os.mkfifo(odd, 0o644)
    else:
        try:  # a null device of our own (never the system's /dev/null)
            os.mknod(odd, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
    os.chmod(odd, 0o644 if kind == "a named pipe" else 0o666)
    mode = odd.stat().st_mode
    tmp_home.config_file.write_text(f'[journal]\nfile = "{odd}"\n')
    for args in (("journal", "export"), ("report",)):
        result = run_cli(*args, env=tmp_home.env, timeout=30)
        _one_line_error(result, 1, f"journal {odd}: it is {kind}, not a file; set [journal] file to a file's path")
    assert odd.stat().st_mode == mode  # was chmod-ed to 0600


def test_the_null_device_as_the_config_still_means_the_defaults(run_cli, tmp_home):
    result = run_cli("--config", "/dev/null", "config", "show", env=tmp_home.env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert 'a_name = "Partner A"' in result.stdout


def test_a_named_pipe_among_the_scripts_is_reported_broken_not_waited_on(tmp_path, stored, run_cli, tmp_home):
    """scripts check, scripts list and every check-in (the kiosk's start too) read the scripts folder: a named pipe
    there was read for ever, so each of them hung."""
    import os

    folder = tmp_home.config_dir / "scripts"
    folder.mkdir()
    os.mkfifo(folder / "pipe.toml")
    wanted = f"cannot read check-in script {folder / 'pipe.toml'}: it is a named pipe, not a file"
    result = run_cli("scripts", "check", folder / "pipe.toml", env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, wanted)
    listed = run_cli("scripts", "list", env=tmp_home.env, timeout=30)
    assert listed.returncode == 0 and wanted in listed.stdout, listed.stdout + listed.stderr
    rehearsed = run_cli("checkin", "weather", "--answers", "not_now", "--to", tmp_path / "w.wav", env=tmp_home.env,
                        timeout=60)
    assert rehearsed.returncode == 0 and wanted in rehearsed.stderr, rehearsed.stderr


def test_a_folder_given_to_scripts_check_names_the_file_it_wants(tmp_path, stored, run_cli, tmp_home):
    result = run_cli("scripts", "check", tmp_path, env=tmp_home.env)
    _one_line_error(result, 2, f"{tmp_path} is a folder, not a check-in script (give a script file's path, e.g. "
                               f"{tmp_path / 'NAME.toml'})")  # was: "cannot read ...: Is a directory"


def test_the_null_device_given_to_scripts_check_is_named_a_device_not_read_as_an_empty_script(stored, run_cli,
                                                                                              tmp_home):
    """It read as an empty script: "null: title is missing" (the null device means "no settings" only as the
    config); a named pipe and a folder were already named."""
    result = run_cli("scripts", "check", "/dev/null", env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, "cannot read check-in script /dev/null: it is a device, not a file (save the check-in "
                               "script as a file and give that file's path)")
    assert "title" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("command", [("listen", "--no-ui"), ("checkin", "weather")])
def test_an_output_device_named_on_the_command_line_that_matches_nothing_is_exit_2(command, stored, run_cli,
                                                                                   tmp_home):
    """Not a session whose prompts are only printed (``--input`` with a wrong name was already refused)."""
    (tmp_home.data_dir / ".notice-shown").write_text("")  # the once-only first-run notice is not the point here
    before = stored()
    result = run_cli(*command, "--output", "no-such-speaker", env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, "no output device matching 'no-such-speaker'")
    assert stored() == before


@pytest.mark.parametrize("command", [("listen", "--no-ui"), ("checkin", "weather")])
@pytest.mark.parametrize("where", ["command line", "config"])
def test_a_microphone_that_matches_nothing_is_refused_before_anything_is_stored(command, where, stored, run_cli,
                                                                                tmp_home):
    """It was refused only once the loop opened it: the check-in had begun (its consent question printed) and an
    empty talk was left in the journal, counted by the report."""
    (tmp_home.data_dir / ".notice-shown").write_text("")
    if where == "config":
        tmp_home.config_file.write_text('[audio]\ninput = "no-such-mic"\n')
    before = stored()
    args = ("--input", "no-such-mic") if where == "command line" else ()
    result = run_cli(*command, *args, env=tmp_home.env, input="", timeout=30)
    _one_line_error(result, 2, "no input device matching 'no-such-mic'")
    assert result.stdout == ""
    assert stored() == before


def test_a_refused_listen_does_not_use_up_the_first_run_notice(run_cli, tmp_home):
    result = run_cli("listen", "--no-ui", "--output", "no-such-speaker", env=tmp_home.env, timeout=30)
    assert result.returncode == 2
    assert not (tmp_home.data_dir / ".notice-shown").exists()  # the next, working, run still shows it


@pytest.mark.parametrize("args, wording", [
    (("analyze", ""), "a file name is empty: give a WAV file's path, e.g. voicecoach analyze talk.wav"),
    (("analyze", " "), "a file name is empty: give a WAV file's path, e.g. voicecoach analyze talk.wav"),
    (("listen", "--no-ui", "--file", ""), "--file is empty: give a WAV file's path, e.g. --file talk.wav"),
    (("calibrate", "--from-wav", "", "b.wav"), "--from-wav: a file name is empty: give one WAV file per partner, "
                                               "e.g. --from-wav a.wav b.wav"),
    (("scripts", "check", ""), "a file name is empty: give a script file's path, e.g. voicecoach scripts check "
                               "morning.toml"),
])
def test_an_empty_file_name_to_read_is_called_empty_not_a_directory(args, wording, stored, run_cli, tmp_home):
    """``analyze "$WAV"`` with the variable unset said ". is a directory, not a WAV file": argparse (or Path) had
    made "" the current folder. The output options' empty values were already refused this way."""
    profile = tmp_home.data_dir / "profile.json"
    before = stored()
    result = run_cli(*args, env=tmp_home.env, timeout=30)
    _one_line_error(result, 2, wording)
    assert "directory" not in result.stderr and result.stdout == ""
    assert stored() == before and not profile.exists()


@pytest.mark.parametrize("args", [
    ("listen", "--no-ui", "--input", ""),
    ("listen", "--no-ui", "--input", "", "--file", "/nonexistent/talk.wav"),
    ("listen", "--no-ui", "--output=  "),
    ("checkin", "weather", "--input", ""),
    ("kiosk", "--output", ""),
    ("calibrate", "--input="),
    ("check", "--input", ""),
    ("demo", "--output", ""),
    ("say", "hello", "--output", ""),
], ids=lambda args: " ".join(a or "''" for a in args))
def test_an_empty_device_name_is_refused_like_the_other_empty_options(args, stored, run_cli, tmp_home):
    """``listen --input "$MIC"`` with the variable unset was taken as the system's default microphone (not the
    config's) without a word, and beside --file the refusal read "give ... or --input  alone" (two spaces)."""
    option = next(a for a in args if a.startswith("--input") or a.startswith("--output")).split("=")[0]
    before = stored()
    result = run_cli(*args, env=tmp_home.env, input="", timeout=30)
    _one_line_error(result, 2, f"{option} is empty: give a device's number or part of its name (list them with: "
                               f"voicecoach devices), or leave {option} out for the configured device")
    assert "  alone" not in result.stderr and result.stdout == ""
    assert stored() == before


def _as_a_user() -> list[str]:
    """A command prefix under which file modes count: nothing for a user, ``setpriv`` without CAP_DAC_OVERRIDE for
    root (as the CI and the sweep run), so a chmod 000 file is unreadable as it is for the couple."""
    import os
    import shutil

    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("root without setpriv: file modes are not enforced")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize("args", [("analyze", "{wav}"), ("listen", "--no-ui", "--fast", "--file", "{wav}"),
                                  ("calibrate", "--from-wav", "{wav}", "{wav}")])
def test_an_unreadable_recording_says_this_user_may_not_read_it_and_how_to_fix_it(args, tmp_path, stored, tmp_home):
    """Was "talk.wav: cannot open (Permission denied)": the problem, but no fix (found by scripts/hostile_sweep.py)."""
    import subprocess

    from conftest import cli_command

    wav = _pcm_wav(tmp_path / "talk.wav", (_tone(2) * 32767).astype(np.int16))
    wav.chmod(0)
    before = stored()
    result = subprocess.run(_as_a_user() + cli_command() + [a.format(wav=wav) for a in args], env=tmp_home.env,
                            capture_output=True, text=True, timeout=60)
    _one_line_error(result, 2, f"{wav}: this user may not read it (permission denied); make it readable with: "
                               f"chmod u+r FILE, or give a copy this user can read")
    assert stored() == before


def test_a_file_where_the_config_folder_should_be_is_named_not_taken_for_no_settings(tmp_path, run_cli, tmp_home):
    """XDG_CONFIG_HOME set to a file: "config OK ... (not present: defaults in use)", every command on the defaults
    (other names, no quiet hours), as for a link leading nowhere; config init said "Not a directory (check the
    folder ...)" without naming which (found by scripts/hostile_sweep.py)."""
    blocking = tmp_path / "dotfile"
    blocking.write_text("x\n")
    env = {k: v for k, v in tmp_home.env.items() if k != "VOICECOACH_CONFIG_DIR"}
    env["XDG_CONFIG_HOME"] = str(blocking)
    for args in (("config", "check"), ("report",), ("journal", "export")):
        result = run_cli(*args, env=env)
        _one_line_error(result, 2, f"{blocking} is a file, not a folder, so no config can be there; move that file "
                                   f"aside, or set XDG_CONFIG_HOME (or VOICECOACH_CONFIG_DIR) to a folder")
    result = run_cli("config", "init", env=env)
    _one_line_error(result, 2, f"{blocking} is a file, not a folder (move that file aside, or give another path)")
    assert blocking.read_text() == "x\n"


def test_a_file_where_the_data_folder_should_be_is_named_not_taken_for_an_empty_journal(tmp_path, run_cli,
                                                                                          tmp_home):
    """VOICECOACH_DATA_DIR (or XDG_DATA_HOME) set to a file: report "Nothing in the journal", export an empty
    journal and erase "nothing to erase", each exit 0, though the couple's talks are elsewhere; listen said only
    "cannot use it (Not a directory)" (found by scripts/hostile_sweep.py)."""
    blocking = tmp_path / "dotfile"
    blocking.write_text("x\n")
    env = dict(tmp_home.env, VOICECOACH_DATA_DIR=str(blocking / "voicecoach"))
    wanted = (f"{blocking} is a file, not a folder, so there can be no journal there; move that file aside, or set "
              f"VOICECOACH_DATA_DIR (or [journal] file) to a folder's path")
    for args in (("report",), ("journal", "export"), ("journal", "erase", "--yes")):
        result = run_cli(*args, env=env)
        _one_line_error(result, 1, wanted)
    assert blocking.read_text() == "x\n"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_config_saved_as_utf16_without_a_byte_order_mark_is_named(encoding, tmp_path, run_cli, tmp_home):
    """Was "invalid TOML: Invalid initial character for a key part (at line 1, column 2) (fix the line, or
    recreate with: voicecoach config init --force)": a line that looks right, and a fix that throws the settings
    away. With the mark it was already named."""
    config = tmp_path / "config.toml"
    config.write_bytes('[partners]\na_name = "Sam"\n'.encode(encoding))
    result = run_cli("--config", config, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, "not a UTF-8 text file: it is saved as UTF-16 (\"Unicode\" in Windows Notepad); "
                               "save it again as UTF-8")
    assert "--force" not in result.stderr


def test_a_config_of_zero_bytes_says_it_was_damaged(tmp_path, run_cli, tmp_home):
    """A file an editor was saving when the power went (a kiosk's Pi): "invalid TOML: Invalid statement (at line 1,
    column 1)" on a file that shows nothing wrong in most editors."""
    config = tmp_path / "config.toml"
    config.write_bytes(bytes(4096))
    result = run_cli("--config", config, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, "it holds only zero bytes (4,096): it was damaged (a power cut while an editor saved "
                               "it?); put a backup in its place, or recreate with: voicecoach config init --force")


@pytest.mark.parametrize("line, wanted", [
    ('[kiosk]\nnightly_time = 21:30\n', 'line 2: nightly_time = 21:30 needs quotes around the text: write '
                                        'nightly_time = "21:30"'),
    ('[partners]\na_name = Sam   # the first partner\n', 'line 2: a_name = Sam needs quotes around the text: write '
                                                          'a_name = "Sam"'),
    ('[pause]\nlength_min = 10 min\n', "line 2: length_min = 10 min is not one value: write the number (or true, "
                                       "false) alone, e.g. length_min = 10, or text in quotes"),
])
def test_a_value_written_without_its_quotes_names_the_line_to_write(line, wanted, tmp_path, stored, run_cli,
                                                                    tmp_home):
    """The commonest slip in a hand-edited config: tomllib's "Invalid value (at line 2, column 10)" (TOML's own
    times need seconds, so 21:30 unquoted is not even a time), and a fix, config init --force, that throws every
    setting away (found by scripts/hostile_sweep.py)."""
    config = tmp_path / "config.toml"
    config.write_text(line)
    before = stored()
    result = run_cli("--config", config, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, f"{config}: invalid TOML: {wanted}")
    assert "--force" not in result.stderr
    assert stored() == before


@pytest.mark.parametrize("line, wanted", [
    ('[kiosk]\nnightly_time = 21:30:15\n', 'kiosk.nightly_time must be a string, not 21:30:15 (write it in quotes: '
                                           'nightly_time = "21:30:15")'),
    ('[partners]\na_name = 1979-05-27\n', 'partners.a_name must be a string, not 1979-05-27 (write it in quotes: '
                                          'a_name = "1979-05-27")'),
    ('[pause]\nlength_min = { minutes = 10 }\n', "pause.length_min must be a number, not { minutes = 10 }"),
])
def test_a_value_of_the_wrong_type_is_shown_as_written_with_the_quotes_it_needs(line, wanted, tmp_path, run_cli,
                                                                                tmp_home):
    """Were "must be a string, not datetime.time(21, 30, 15)" and "not {'minutes': 10}": Python's spelling of what
    the couple wrote, and no word that quotes make it text."""
    config = tmp_path / "config.toml"
    config.write_text(line)
    result = run_cli("--config", config, "config", "check", env=tmp_home.env)
    _one_line_error(result, 2, wanted)


def test_an_unreadable_config_script_or_journal_says_this_user_may_not_read_it(tmp_path, stored, tmp_home):
    """Were "cannot read config ...: Permission denied" (no fix), and for the journal "cannot use it (unable to
    open database file); check that <folder> is writable": the folder blamed for the file's own mode (found by
    scripts/hostile_sweep.py, run without CAP_DAC_OVERRIDE as root so the mode counts)."""
    import subprocess

    from conftest import cli_command

    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(_as_a_user() + cli_command() + list(args), env=env, capture_output=True, text=True,
                              timeout=60)

    config = _write(tmp_path / "config.toml", '[partners]\na_name = "Sam"\n')
    script = _write(tmp_path / "mine.toml", 'title = "Mine"\n')
    for path in (config, script):
        path.chmod(0)
    fix = "this user may not read it (permission denied); run voicecoach as a user who may (the file's owner), or " \
          "make it readable with: chmod u+r FILE"
    _one_line_error(run("--config", str(config), "config", "check", env=tmp_home.env), 2,
                    f"cannot read config {config}: {fix}")
    _one_line_error(run("scripts", "check", str(script), env=tmp_home.env), 2, f"cannot read {script}: {fix}")
    before = stored()
    journal = tmp_home.data_dir / "journal.sqlite3"
    journal.chmod(0)
    try:
        for args in (("report",), ("journal", "export"), ("journal", "erase", "--yes")):
            _one_line_error(run(*args, env=tmp_home.env), 1, f"journal {journal}: this user may not read it "
                                                             f"(permission denied); run voicecoach as the user it "
                                                             f"belongs to, or make it readable and writable with: "
                                                             f"chmod u+rw FILE")
    finally:
        journal.chmod(0o600)
    assert stored() == before


@pytest.mark.parametrize("text, wanted", [
    ('title = My evening\nminutes = 5\n', 'invalid TOML: line 1: title = My evening needs quotes around the text: '
                                          'write title = "My evening"'),
    ('title = "Mine"\n'.encode("utf-16-le"), 'not a UTF-8 text file: it is saved as UTF-16 ("Unicode" in Windows '
                                             'Notepad); save it again as UTF-8'),
])
def test_a_script_with_text_unquoted_or_saved_as_utf16_without_a_mark_is_named(text, wanted, tmp_path, run_cli,
                                                                               tmp_home):
    """As for the config: "invalid TOML: Invalid value (at line 1, column 9)", and for UTF-16 with no byte order
    mark "Invalid initial character for a key part (at line 1, column 2)" on a line that looks right."""
    script = _write(tmp_path / "mine.toml", text)
    _one_line_error(run_cli("scripts", "check", script, env=tmp_home.env), 2, wanted)


@pytest.mark.parametrize("args, heard", [
    (("listen", "--no-ui", "--fast", "--file", "{wav}"), "suggesting the pause"),  # the demo talk's, at 40 s of 57
    (("checkin", "weather", "--answers", "yes"), "check-in weather ended: stopped"),  # its answers run out: it stops
])
def test_a_live_command_whose_output_reader_stopped_goes_on_without_a_traceback(args, heard, talk_wav,
                                                                                 no_sound_env, tmp_home):
    """``voicecoach listen ... | head -1``: the line said when the microphone (or file) opened met the closed pipe
    inside an observer: "observer ListenLines failed" and a BrokenPipeError traceback on stderr, now and then (when
    head had already gone; found by scripts/hostile_sweep.py). A pipe closed before the first line makes it happen
    every time. Now the output goes to the null device and the talk (here a replay) is heard to its end.

    The program must be seen to go on (``heard``, in its --debug log): the first line each says ("replaying
    talk.wav", the check-in's greeting) is said outside any observer, and without the fix its closed pipe ended the
    program there, at once, with exit 0 and not a word: the talk never heard, the check-in never run. Exit 0 and no
    traceback alone passed without the fix."""
    import os
    import re
    import subprocess

    from conftest import cli_command

    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head -1) already gone
    try:
        result = subprocess.run([*cli_command(), *(a.format(wav=talk_wav) for a in args), "--debug"], env=env,
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and not re.search(r"observer \w+ failed", result.stderr), result.stderr
    assert heard in result.stderr, result.stderr
