"""The program as a user meets it in a terminal: a real pseudo-terminal (its window closed, Ctrl-Z and ``fg`` in an
interactive bash), outputs in encodings that are not UTF-8, standard streams closed, a pipe closed early. Run with no
sound server (the live commands wait for a microphone meanwhile, and the keys work), so these need no virtual audio."""

from __future__ import annotations

import os
import subprocess
import termios
import time

import pytest

from conftest import REPO, cli_command, journal_rows, stored_replay
from voicecoach_dev.terminal import Terminal

NAMES = '[partners]\na_name = "Zoë"\nb_name = "Jürgen"\n'


@pytest.fixture
def env(no_sound_env, tmp_home):
    tmp_home.config_file.write_text(NAMES + "[audio]\nreopen_s = 0.5\n", encoding="utf-8")
    return {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")},
            "TERM": "xterm-256color"}


def single_keys_soon(term: Terminal, within_s: float = 10.0) -> bool:
    """True once the terminal is in single-key mode (the keys are read a moment after the first prompt)."""
    end = time.monotonic() + within_s
    while term.modes()[3] & termios.ICANON and time.monotonic() < end:
        time.sleep(0.05)
    return not term.modes()[3] & termios.ICANON


def assert_talk_ended_and_pause_cut_short(tmp_home) -> None:
    """The journal holds one talk, ended, and one pause, cut short by the talk's end."""
    (talk,) = journal_rows(tmp_home, "talks")
    assert talk["ended_at"] is not None, talk
    (pause,) = journal_rows(tmp_home, "pauses")
    assert pause["ended_how"] == "cut short", pause


def listen_in_bash(shell: Terminal, pause: bool = True) -> None:
    """``voicecoach listen`` typed at the interactive bash, its keys read; with ``pause``, a pause started by key;
    then Ctrl-Z, and the job stopped."""
    assert shell.wait_for("$ ", 10), shell.text()
    shell.type(" ".join(cli_command()) + " listen\n")
    assert shell.wait_for("waiting for a microphone", 30), shell.text()
    assert single_keys_soon(shell), shell.text()
    if pause:
        shell.type("p")
        assert shell.wait_for("taking the pause you agreed on", 10), shell.text()
    shell.type("\x1a")
    assert shell.wait_for("Stopped", 10), shell.text()


@pytest.mark.parametrize("command", [["listen"], ["checkin", "weather"]], ids=["listen", "checkin"])
def test_closing_the_terminal_window_stores_the_talk_and_ends_quietly(env, tmp_home, command):
    """The window closed during ``listen`` (live view, single keys) or ``checkin``: the terminal hangs up (SIGHUP,
    then every write and mode change fails with EIO). Restoring the keyboard's mode raised, before the talk was
    stored: the talk had no end in the journal (the report counted no time together) and the pause under way was
    never closed; then "internal error: OSError", exit 1."""
    term = Terminal([*cli_command(), *command], env, cwd=str(REPO))
    try:
        if command == ["listen"]:
            assert term.wait_for("waiting for a microphone", 30), term.text()
            assert single_keys_soon(term), term.text()
            term.type("p")
            assert term.wait_for("taking the pause you agreed on", 10), term.text()
        else:
            assert term.wait_for("weather report?", 30), term.text()
            assert single_keys_soon(term), term.text()
            term.type("y")
            assert term.wait_for("describe your weather", 10), term.text()
        term.close_window()
        assert term.wait(20) == 0
    finally:
        term.kill()
    (talk,) = journal_rows(tmp_home, "talks")
    assert talk["ended_at"] is not None, talk
    if command == ["listen"]:
        (pause,) = journal_rows(tmp_home, "pauses")
        assert pause["ended_how"] == "cut short", pause
    else:
        (checkin,) = journal_rows(tmp_home, "checkins")
        assert checkin["name"] == "weather" and checkin["completed"] == 0, checkin


def test_after_ctrl_z_and_fg_a_key_needs_no_enter_again(env, tmp_home):
    """Ctrl-Z, then ``fg``: bash gives the terminal back in its usual mode (a line at a time, echoed), and each key
    of ``checkin`` or ``listen`` waited for an Enter for the rest of the talk. Now the single-key mode is set again
    when the program continues in the foreground."""
    shell = Terminal.shell(env, cwd=str(REPO))
    try:
        assert shell.wait_for("$ ", 10), shell.text()
        shell.type(" ".join(cli_command()) + " checkin weather\n")
        assert shell.wait_for("weather report?", 30), shell.text()
        shell.type("\x1a")  # Ctrl-Z
        assert shell.wait_for("Stopped", 10), shell.text()
        mark = len(shell.text())
        shell.type("fg\n")
        assert shell.wait_for("checkin weather", 10, after=mark), shell.text()
        shell.type("y")  # no Enter
        assert shell.wait_for("describe your weather", 10, after=mark), shell.text()[mark:]
        assert not shell.modes()[3] & termios.ICANON
        shell.type("\x03")  # Ctrl-C ends it, the summary printed (the check-in's closing: cut short), the mode back
        assert shell.wait_for("The check-in was cut short.", 20, after=mark), shell.text()[mark:]
        assert shell.wait_for("$ ", 10, after=mark), shell.text()[mark:]
        mark = len(shell.text())
        shell.type("stty -a\n")  # bash keeps the mode a job left at its end: voicecoach's, put back
        assert shell.wait_for("icanon", 10, after=mark), shell.text()[mark:]
        modes = shell.text()[mark:].split()
        assert "icanon" in modes and "echo" in modes, modes
    finally:
        shell.kill()
    assert "Traceback" not in shell.text()
    (checkin,) = journal_rows(tmp_home, "checkins")
    assert checkin["name"] == "weather" and checkin["completed"] == 0, checkin


def test_a_talk_stopped_with_ctrl_z_is_stored_when_the_window_closes(env, tmp_home):
    """Ctrl-Z, then the window closed: bash sends the stopped job SIGHUP and SIGCONT, and the talk and the pause
    are closed as on any SIGHUP (restoring the keyboard's mode on the hung-up terminal raised here too)."""
    shell = Terminal.shell(env, cwd=str(REPO))
    try:
        listen_in_bash(shell)
        job = [pid for pid in shell.session() if pid != shell.proc.pid]  # voicecoach (and a child it runs)
        shell.close_window()
        end = time.monotonic() + 20
        while any(os.path.exists(f"/proc/{pid}") for pid in job) and time.monotonic() < end:
            time.sleep(0.1)
        assert not any(os.path.exists(f"/proc/{pid}") for pid in job), "the stopped job was left behind"
    finally:
        shell.kill()
    assert_talk_ended_and_pause_cut_short(tmp_home)


def test_a_talk_sent_to_the_background_goes_on_and_ends_on_kill(env, tmp_home):
    """Ctrl-Z, ``bg``, then ``kill %1``: reading the keyboard from the background stopped the whole program
    (SIGTTIN, "Stopped" again at once), so the talk went unheard, and the SIGTERM's clean end waited for an ``fg``
    that never came: the talk and the pause stayed open in the journal. Now the keys are read only in the
    foreground, and ``kill %1`` ends it as SIGTERM does."""
    shell = Terminal.shell(env, cwd=str(REPO))
    try:
        listen_in_bash(shell)
        mark = len(shell.text())
        shell.type("bg\n")
        time.sleep(1.5)
        job = [pid for pid in shell.session() if pid != shell.proc.pid]
        states = [open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] for pid in job]
        assert "T" not in states, (states, shell.text()[mark:])  # running in the background, not stopped
        shell.type("kill %1\n")
        assert shell.wait_for("Thank you for talking with care", 20, after=mark), shell.text()[mark:]
    finally:
        shell.kill()
    assert_talk_ended_and_pause_cut_short(tmp_home)


def test_brought_back_from_the_background_a_key_needs_no_enter(env, tmp_home):
    """Ctrl-Z, ``bg``, then ``fg``: bash sends no SIGCONT to a job that is running, so the single-key mode was not
    set again and each key waited for an Enter."""
    shell = Terminal.shell(env, cwd=str(REPO))
    try:
        listen_in_bash(shell, pause=False)
        shell.type("bg\n")
        time.sleep(1.0)
        mark = len(shell.text())
        shell.type("fg\n")
        assert shell.wait_for("voicecoach listen", 10, after=mark), shell.text()[mark:]
        assert single_keys_soon(shell, 5), shell.text()[mark:]
        shell.type("p")  # no Enter
        assert shell.wait_for("taking the pause you agreed on", 10, after=mark), shell.text()[mark:]
        shell.type("\x03")
        assert shell.wait_for("Thank you for talking with care", 20, after=mark), shell.text()[mark:]
    finally:
        shell.kill()


def _run(args: list[str], env: dict[str, str], shell_redirect: str = "", **kwargs) -> subprocess.CompletedProcess:
    """``voicecoach ARGS`` with its output as bytes; ``shell_redirect`` (``>&-``) applied by a shell."""
    command = " ".join(cli_command() + [f"'{a}'" for a in args])
    return subprocess.run(["sh", "-c", f"exec {command} {shell_redirect}"], env=env, capture_output=True, cwd=REPO,
                          timeout=180, stdin=kwargs.pop("stdin", subprocess.DEVNULL), **kwargs)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("args", [["config", "show"], ["demo", "--fast"], ["say", "--voices"],
                                  ["checkin", "nightly", "--answers", "yes,next,next,next,next,next,next,next",
                                   "--to", "{tmp}/n.wav"]],
                         ids=["config show", "demo", "say --voices", "checkin --to"])
def test_an_output_that_is_not_utf8_gets_plain_text_not_a_unicode_error(env, tmp_path, encoding, args):
    """A terminal or locale in ASCII or Latin-1 (``LANG=en_US.ISO-8859-1``, ``PYTHONIOENCODING``), with partners
    called Zoë and Jürgen in the config: "internal error: UnicodeEncodeError", exit 1, for each of these (a voice
    called Māori, or the "—" of a line, in Latin-1 too). What the encoding cannot hold is written as plain ASCII."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = _run(args, {**env, "PYTHONIOENCODING": encoding})
    out, err = done.stdout.decode(encoding), done.stderr.decode(encoding)
    assert done.returncode == 0, err
    assert "Error" not in err and "Traceback" not in err, err
    if args[0] != "say":
        assert ("Zoe" if encoding == "ascii" else "Zoë") in out
    else:
        assert "Maori" in out


@pytest.mark.parametrize("locale_env", [{"PYTHONUTF8": "0", "LC_ALL": "C"}, {"PYTHONIOENCODING": "latin-1"}],
                         ids=["ascii locale", "latin-1"])
def test_the_voices_are_read_as_espeak_writes_them_whatever_the_locale(env, locale_env):
    """espeak-ng names its voices in UTF-8 ("Māori", "Norwegian Bokmål"); they were decoded in the locale's
    encoding: "internal error: UnicodeDecodeError" in an ASCII locale (``PYTHONUTF8=0 LC_ALL=C``), mojibake in
    Latin-1 (a configured ``[speech] voice = "Māori"`` then matched no voice)."""
    done = _run(["say", "--voices"], {**env, **locale_env})
    text = done.stdout.decode("latin-1")
    assert done.returncode == 0, done.stderr.decode("latin-1")
    assert "Maori" in text and ("Bokmal" in text if "LC_ALL" in locale_env else "Bokmål" in text), text


@pytest.mark.parametrize("redirect, args, code", [(">&-", ["report"], 0), ("2>&-", ["report"], 0),
                                                  (">&-", ["config", "show"], 0), ("<&-", ["journal", "erase"], 2),
                                                  (">&-", ["listen", "--file", "{wav}", "--fast"], 0)],
                         ids=["report >&-", "report 2>&-", "config show >&-", "journal erase <&-", "listen >&-"])
def test_a_closed_standard_stream_is_taken_as_the_null_device(env, tmp_home, tmp_path, redirect, args, code):
    """Started with stdout, stderr or stdin closed (``>&-`` in a script, a cron job), every command ended in
    "internal error: AttributeError: 'NoneType' object has no attribute ..." (``report 2>&-`` printed not even
    the report). Now a closed stream is the null device: ``journal erase <&-`` asks for --yes as with no terminal."""
    wav = _tone_wav(tmp_path / "tone.wav")
    if args[0] == "journal":
        from voicecoach.journal.store import Journal

        Journal.open(tmp_home.data_dir / "journal.sqlite3").close()
    done = _run([a.replace("{wav}", str(wav)) for a in args], env, redirect)
    text = (done.stdout + done.stderr).decode()
    assert done.returncode == code, text
    assert "internal error" not in text and "Traceback" not in text, text
    if redirect == "2>&-":
        assert "Nothing in the journal from" in done.stdout.decode()  # was: nothing at all
    if args[0] == "journal":
        assert "add --yes" in done.stderr.decode()
    if args[0] == "listen":  # a replay ran to its end, and stored nothing (a recording is not the couple's talk)
        assert not (tmp_home.data_dir / "journal.sqlite3").exists()


def test_the_demo_piped_into_head_ends_without_a_traceback(env):
    """``voicecoach demo --fast | head -1``: the pipe closed after the first line, the program ended at once, and
    the thread rendering the first prompt ahead printed a traceback (its work folder removed at exit under it)."""
    for _ in range(3):
        done = subprocess.run(["sh", "-c", " ".join(cli_command()) + " demo --fast | head -1"], env=env,
                              capture_output=True, text=True, cwd=REPO, timeout=180, stdin=subprocess.DEVNULL)
        assert done.stdout.startswith("voicecoach demo:"), done.stdout
        assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr


def _tone_wav(path):
    import numpy as np

    from voicecoach.audio.wav import wav_bytes

    t = np.arange(16000 * 2) / 16000
    path.write_bytes(wav_bytes((8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16), 16000))
    return path


def test_the_files_asked_for_are_written_when_the_output_is_read_only_in_part(env, tmp_home, tmp_path):
    """``report --html trends.html | head -1`` (or ``| less``, quit after the first screen): the summary's second
    line met the closed pipe, and the page and the chart were never written, exit 0 without a word; the same for
    ``checkin --to rehearsal.wav``. The output's reader going away no longer cancels the files."""
    assert stored_replay(_tone_wav(tmp_path / "tone.wav"), env).returncode == 0  # a talk in the journal
    page, chart, wav = tmp_path / "trends.html", tmp_path / "trends.svg", tmp_path / "rehearsal.wav"
    commands = {"report": ["report", "--html", str(page), "--svg", str(chart)],
                "checkin": ["checkin", "weather", "--answers", "yes,next,next,next,next", "--to", str(wav)]}
    for name, args in commands.items():
        command = " ".join(cli_command() + [f"'{a}'" for a in args])
        done = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -1"], env=env, capture_output=True,
                              text=True, cwd=REPO, timeout=180, stdin=subprocess.DEVNULL)
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, (name, done.stdout, done.stderr)
    assert page.stat().st_size > 0 and chart.stat().st_size > 0 and wav.stat().st_size > 0


def test_check_piped_into_head_still_exits_with_its_verdict(env):
    """``voicecoach check | head -1`` (a script keeping the first line, ``set -o pipefail``): the closed pipe ended
    the checks there with exit 0, "ready" though nothing past the first line was checked (with no sound device
    here the box is not ready: exit 1). As for ``report --html``, the reader is let go and every check runs: the
    exit status is the verdict, the same as without the pipe."""
    command = " ".join(cli_command() + ["check"])
    alone = subprocess.run(["sh", "-c", f"{command} > /dev/null"], env=env, capture_output=True, text=True, cwd=REPO,
                           timeout=180, stdin=subprocess.DEVNULL)
    piped = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -1"], env=env, capture_output=True,
                           text=True, cwd=REPO, timeout=180, stdin=subprocess.DEVNULL)
    assert alone.returncode == 1, alone.stderr
    assert piped.returncode == 1 and len(piped.stdout.splitlines()) == 1, (piped.stdout, piped.stderr)
    assert "Traceback" not in piped.stderr


def test_restoring_the_keyboard_of_a_closed_terminal_does_not_raise(monkeypatch):
    """The unit under the first test: ``KeyReader.stop`` on a terminal that has hung up."""
    import sys

    from voicecoach.ui import KeyReader

    keyboard, terminal = os.openpty()
    stdin = os.fdopen(terminal, "r")
    monkeypatch.setattr(sys, "stdin", stdin)
    reader = KeyReader(lambda command: None, single_keys=True).start()
    assert not termios.tcgetattr(terminal)[3] & termios.ICANON  # cbreak
    os.close(keyboard)  # the window closed
    try:
        reader.stop()  # was: termios.error (5, 'Input/output error')
    finally:
        stdin.close()


def _reader_on_pty(monkeypatch, keys: list | None = None):
    """A :class:`KeyReader` reading single keys from a new pseudo-terminal (the commands into ``keys``): (reader,
    keyboard fd, its stdin)."""
    import sys

    from voicecoach.ui import KeyReader

    keyboard, terminal = os.openpty()
    stdin = os.fdopen(terminal, "r")
    monkeypatch.setattr(sys, "stdin", stdin)
    reader = KeyReader((keys if keys is not None else []).append, single_keys=True).start()
    assert not termios.tcgetattr(terminal)[3] & termios.ICANON  # cbreak
    return reader, keyboard, stdin


def test_continued_in_the_foreground_single_keys_come_back(monkeypatch):
    """The unit under the Ctrl-Z / ``fg`` test: the shell gives the terminal back a line at a time; on SIGCONT
    the single-key mode is set again (now by the keys thread, up to 0.25 s later, not by the signal handler), and a
    key typed meanwhile is not flushed with the mode change: it answers."""
    import signal

    from voicecoach.commands import Command

    keys: list = []
    reader, keyboard, stdin = _reader_on_pty(monkeypatch, keys)
    try:
        modes = termios.tcgetattr(stdin.fileno())
        modes[3] |= termios.ICANON | termios.ECHO  # what bash does on Ctrl-Z
        termios.tcsetattr(stdin.fileno(), termios.TCSANOW, modes)
        os.write(keyboard, b"y")  # typed at once after fg: waits for an Enter in the shell's mode
        os.kill(os.getpid(), signal.SIGCONT)  # fg
        end = time.monotonic() + 5
        while (termios.tcgetattr(stdin.fileno())[3] & termios.ICANON or not keys) and time.monotonic() < end:
            time.sleep(0.02)
        assert not termios.tcgetattr(stdin.fileno())[3] & termios.ICANON
        assert keys == [Command.YES]
    finally:
        reader.stop()
        os.close(keyboard)
        stdin.close()


def test_the_continue_signal_handler_waits_for_no_lock(monkeypatch, caplog):
    """Python runs a signal handler on the main thread between two bytecodes, wherever that thread is. The SIGCONT
    handler set the terminal's mode itself and, when that failed (the window closed), logged it: logging takes its
    handler's lock and writes to stderr, so the handler waited for whichever thread held that lock (here: 2 s, for
    as long as it was held), or re-entered a write the main thread was in the middle of. Now it only puts into a
    ``queue.SimpleQueue`` (reentrant by design, as :mod:`voicecoach.stop_signals` does) and the keys thread acts."""
    import logging
    import signal
    import threading

    caplog.set_level(logging.DEBUG, logger="voicecoach.ui")  # a failure to set the mode again is logged
    reader, keyboard, stdin = _reader_on_pty(monkeypatch)
    os.close(keyboard)  # the window closed: setting the mode again fails (EIO)
    held, release = threading.Event(), threading.Event()

    def hold_the_log_lock() -> None:
        with caplog.handler.lock:
            held.set()
            release.wait(2.0)

    holder = threading.Thread(target=hold_the_log_lock, name="holds-log-lock")
    holder.start()
    try:
        assert held.wait(5)
        start = time.monotonic()
        os.kill(os.getpid(), signal.SIGCONT)  # the handler runs here, on this (the main) thread
        took_s = time.monotonic() - start
        assert took_s < 0.5, f"the SIGCONT handler waited {took_s:.2f} s for the logging lock"
    finally:
        release.set()
        holder.join()
        reader.stop()
        stdin.close()


def test_ctrl_c_while_the_subcommands_load_is_one_line(monkeypatch, capsys):
    """Ctrl-C pressed at once (within about 0.25 s of the start, while every subcommand's module loads) printed a
    traceback of whatever import it landed in."""
    from voicecoach import cli

    def loading(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", loading)
    assert cli.main(["report"]) == 130
    assert capsys.readouterr().err == "voicecoach: interrupted\n"
