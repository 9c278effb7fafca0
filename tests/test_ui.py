"""The live view's status line, drawn from typed state: the last frame's features, the coach, a running check-in.
A field renamed on any side fails here (the view used to read them with getattr and a default, so a rename left
the meters blank or the check-in title empty without a word)."""

from __future__ import annotations

import io

import pytest

from voicecoach.checkin.runner import Phase, RunnerState
from voicecoach.coach import CoachState, Mode
from voicecoach.detect.features import FrameFeatures
from voicecoach.ui import LiveView, status_line

NAMES = ("Sam", "Alex")
LISTENING = CoachState(Mode.LISTENING, None, 0, 0)


def speech(speaker: str | None, db: float = -12.0) -> FrameFeatures:
    return FrameFeatures(0, 0.03, db, True, -60.0, speaker=speaker)


def test_the_meter_shows_the_level_of_whoever_is_speaking():
    line = status_line(NAMES, speech("B"), LISTENING)
    sam, alex = line.split(" | ")
    assert sam.strip() == "Sam"  # a blank meter for the partner who is not speaking
    assert alex.strip() == "Alex #########..."  # -12 dBFS fills 48 of the meter's 60 dB: 9 of 12 marks
    assert "#" not in status_line(NAMES, FrameFeatures(0, 0.03, -12.0, False, -60.0, speaker="A"), LISTENING)
    assert "#" not in status_line(NAMES, None, LISTENING)


def test_the_pause_the_check_in_and_the_coach_are_named():
    assert status_line(NAMES, None, CoachState(Mode.PAUSING, 754.0, 1, 1)).endswith(" | pause 12:34 left")
    state = RunnerState(1, 5, 2, "turn", Phase.TIMER, "A high and a low", "A", "Sam", "Alex", 55.0)
    assert status_line(NAMES, None, LISTENING, state).endswith(" | check-in A high and a low")
    # was " | offering" and " | welcoming": the coach's own names for its modes
    assert status_line(NAMES, None, CoachState(Mode.OFFERING, None, 1, 0)).endswith(
        " | asked: the pause? y okay, n not now")
    assert status_line(NAMES, None, CoachState(Mode.WELCOMING, None, 1, 1)).endswith(
        " | asked: a check-in? y okay, n not now")
    assert status_line(NAMES, None, LISTENING).count("|") == 1


def test_the_view_redraws_at_most_a_few_times_a_second():
    out = io.StringIO()
    view = LiveView(out, NAMES, max_hz=4.0)
    for i in range(10):  # 10 frames over 0.3 s of audio
        view.draw(i * 0.03, speech("A"), LISTENING)
    assert out.getvalue().count("\r\x1b[2K") == 2  # at 0 s and at 0.27 s (0.25 s apart at least)


@pytest.mark.parametrize("columns", [40, 80])
def test_the_status_line_fits_the_terminal_so_redraws_stay_on_one_row(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    view = LiveView(out, NAMES)
    state = RunnerState(1, 5, 2, "turn", Phase.TIMER, "Our long Sunday evening state of the union", "A", "Sam",
                        "Alex", 55.0)
    view.draw(0.0, speech("A"), LISTENING, state)
    drawn = out.getvalue().split("\r\x1b[2K")[-1]
    assert 0 < len(drawn) < columns


@pytest.mark.parametrize("width", [20, 40, 50])
@pytest.mark.parametrize("names", [("민준", "서연"), ("美咲", "さくら"), ("Zoe\u0308", "Jürgen")],
                         ids=["hangul", "kana", "combining"])
def test_names_in_wide_letters_are_measured_in_columns_so_the_status_line_still_fits(names, width, monkeypatch):
    """Partners named in their own letters (Korean, Japanese): a wide letter takes two columns, so a status line
    cut to the terminal's width by its length wrapped there, and each redraw pushed a new copy up (a screen of
    "pause 19:57 left | 민준" lines in a 40-column terminal, four a second)."""
    import unicodedata

    def columns(text: str) -> int:  # measured here, as a terminal does
        return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
                   for c in text)

    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    view = LiveView(out, names)
    view.draw(0.0, speech("A"), CoachState(Mode.PAUSING, 754.0, 1, 1))
    drawn = out.getvalue().split("\r\x1b[2K")[-1]
    assert drawn.startswith("pause 12:34 left") and 0 < columns(drawn) < width, drawn
    wide = status_line(names, None, LISTENING)
    assert columns(wide.split(" | ")[0]) == columns(wide.split(" | ")[1]) == 10 + 1 + 12  # the meters line up


@pytest.mark.parametrize("columns", [20, 40])
def test_in_a_narrow_terminal_the_pause_time_left_is_what_shows(columns, monkeypatch):
    """Cut at the end to fit, a 40-column terminal showed the two meters and never the pause's time left (20
    columns: only the first partner's name)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    view = LiveView(out, NAMES)
    view.draw(0.0, speech("A"), CoachState(Mode.PAUSING, 754.0, 1, 1))
    drawn = out.getvalue().split("\r\x1b[2K")[-1]
    assert drawn.startswith("pause 12:34 left") and len(drawn) < columns
    wide = status_line(NAMES, speech("A"), CoachState(Mode.PAUSING, 754.0, 1, 1), width=200)
    assert wide.startswith("       Sam #") and wide.endswith(" | pause 12:34 left")  # unchanged when it fits


def test_the_live_view_is_used_only_on_a_terminal_that_can_redraw(monkeypatch):
    """A TERM=dumb terminal (an editor's shell, a serial console) got the live view and showed each redraw's escape
    codes as text; a pipe or a file gets plain lines."""
    from voicecoach.ui import can_redraw

    monkeypatch.setenv("TERM", "xterm-256color")
    assert can_redraw(Tty()) and not can_redraw(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not can_redraw(Tty())
    closed = Tty()
    closed.close()
    assert not can_redraw(closed)


class Tty(io.StringIO):
    """A terminal: the one fake here (stdout and stderr both write to it, as on a real terminal)."""

    def isatty(self) -> bool:
        return True


def screen(written: str) -> list[str]:
    """The rows a terminal shows for ``written``: each row keeps what follows its last clear-the-line."""
    return [row.split("\r\x1b[2K")[-1] for row in written.split("\n")]


def test_a_log_warning_in_the_live_view_gets_its_own_line_and_the_status_line_is_drawn_again(monkeypatch):
    """A warning written to stderr while ``listen`` showed its status line was appended to it: a torn row with the
    meters and the warning run together, and no status line under it until the next redraw."""
    import logging

    from voicecoach.cli import log_above

    monkeypatch.setenv("TERM", "xterm-256color")
    term = Tty()
    root = logging.getLogger()
    stderr = logging.StreamHandler(term)  # what setup_logging puts on the root logger
    root.addHandler(stderr)
    try:
        view = LiveView(term, NAMES)
        view.draw(0.0, speech("A"), LISTENING)
        status = screen(term.getvalue())[-1]
        with log_above(view):
            logging.getLogger("voicecoach.cli.listen").warning("microphone lost (unplugged); reopening")
            view.line("voicecoach: Shall we take the pause we agreed on?")
        assert stderr in root.handlers  # put back as it was
        view.close()
        logging.getLogger("voicecoach.cli.listen").warning("after the view")
    finally:
        root.removeHandler(stderr)
    assert status.startswith("       Sam #")
    assert screen(term.getvalue()) == ["microphone lost (unplugged); reopening",
                                       "voicecoach: Shall we take the pause we agreed on?", "after the view", ""]
    assert term.getvalue().count(status) == 3  # drawn, and drawn again under each line


def test_listen_piped_prints_plain_lines_without_escape_codes(tmp_path):
    """``listen --file`` with stdout in a pipe (journald, ``| tee``): plain lines and the summary, no escape code."""
    import os
    import subprocess
    import wave

    import numpy as np

    from conftest import REPO, cli_command

    t = np.arange(16000 * 2) / 16000
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes())
    env = {**os.environ, "VOICECOACH_CONFIG_DIR": str(tmp_path / "config"),
           "VOICECOACH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "20"}
    done = subprocess.run([*cli_command(), "listen", "--file", str(wav), "--fast"], env=env, capture_output=True,
                          text=True, timeout=180, cwd=REPO, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\r" not in done.stdout
    assert done.stdout.splitlines()[-1].startswith("Talk of 2 s")


def test_single_keys_exactly_when_the_keyboard_is_a_terminal_and_no_ui_was_not_asked():
    """The one rule for listen and checkin: a terminal on stdin (its mode can be read), and no --no-ui. A pipe, a
    file, a closed stream or a stream with no file (a test's StringIO) are read a line at a time."""
    import os
    import pty

    from voicecoach.ui import single_keys_wanted

    keyboard, terminal = pty.openpty()
    read_end, write_end = os.pipe()
    with os.fdopen(terminal, "r", closefd=True) as tty_in, os.fdopen(read_end, "r") as pipe_in:
        assert single_keys_wanted(False, tty_in)
        assert not single_keys_wanted(True, tty_in)  # --no-ui: whole lines, the terminal left alone
        assert not single_keys_wanted(False, pipe_in)  # `echo p | voicecoach listen`
        assert not single_keys_wanted(False, io.StringIO("p\n"))
    assert not single_keys_wanted(False, tty_in)  # closed
    os.close(keyboard)
    os.close(write_end)
