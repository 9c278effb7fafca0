"""``voicecoach checkin`` end to end: rehearsed offline into a WAV (real TTS), and live on the virtual sound
device driven by a scripted sequence of answers, its spoken prompts recorded from the virtual speaker."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from voicecoach_dev.live import LiveProcess


def test_nightly_rehearsed_offline_renders_every_prompt_into_one_wav(run_cli, tmp_home, tmp_path):
    out = tmp_path / "nightly.wav"
    result = run_cli("checkin", "nightly", "--answers", "yes,next,!interrupt,next,more_time,next,next,next,next",
                     "--to", out, env=tmp_home.env, timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Is now a good time for your nightly check-in" in text
    assert "It's Partner A's turn" in text  # the interruption reminder
    assert "one minute more" in text.lower()  # more time
    assert "Sleep well" in text
    both = result.stdout + result.stderr  # once, at the transcript's end: not also logged in its middle
    assert "(finished: completed)" in text and "nightly ended: completed" not in both, both
    with wave.open(str(out)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        seconds = w.getnframes() / w.getframerate()
    assert 120 < seconds < 600
    blocks = np.abs(audio[: len(audio) // 160 * 160].reshape(-1, 160).astype(np.int32)).max(axis=1)
    voiced = np.mean(blocks > 1000) * seconds
    assert voiced > 40, "the prompts were not rendered as speech"


def test_not_now_at_the_consent_question_ends_kindly(run_cli, tmp_home, tmp_path):
    result = run_cli("checkin", "weekly", "--answers", "not_now", "--to", tmp_path / "w.wav", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    assert "That's okay. Another time." in result.stdout
    assert "appreciat" not in result.stdout.split("couple: not now", 1)[1].lower()


@pytest.mark.parametrize("where, wording", [
    ("nowhere/w.wav", "cannot write {to}: folder {folder} does not exist (create it or choose another path)"),
    ("a-folder", "cannot write {to}: it is a directory (give a file name ending in .wav)"),
    ("a-file/w.wav", "cannot write {to}: {folder} is a file, not a folder (choose another path)"),
])
def test_a_rehearsal_that_cannot_be_written_fails_before_anything_is_rendered(run_cli, tmp_home, tmp_path, where,
                                                                             wording):
    """The same words as every other --to (say, report, journal export): cli.check_writable, not a copy of it."""
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    to = tmp_path / where
    result = run_cli("checkin", "weekly", "--answers", "not_now", "--to", to, env=tmp_home.env)
    assert result.returncode == 2
    assert result.stderr == f"voicecoach: error: {wording.format(to=to, folder=to.parent)}\n"
    assert result.stdout == ""  # no prompt was rendered or shown first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder", "config", "data"]


def test_a_rehearsal_onto_a_full_disk_is_one_line_and_exit_1_as_for_say(run_cli, tmp_home, small_disk):
    """A disk that fills up is not the user's input: it was exit 2 and "cannot write ...: No space left on device",
    with no fix named; say and demo --save said it as exit 1 with the fix (one helper writes all three now)."""
    disk = small_disk(16)  # far too small for the rehearsal's audio
    result = run_cli("checkin", "weekly", "--answers", "not_now", "--to", disk / "w.wav", env=tmp_home.env)
    assert result.returncode == 1, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("voicecoach: error:")]
    assert len(error) == 1 and "No space left" in error[0] and "free some space" in error[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, answers, bad", [
    ("weekly", "yse,next", "'yse'"),  # a typo was taken as a choice nobody offered: a silence, no word said
    ("weekly", "yes,leave_note", "'leave_note'"),  # a command, but not one a check-in listens for
    ("weekly", "yes,!interupt", "'!interupt'"),  # was injected as a raised voice
    ("after-pause", "yes,never", "'never'"),
])
@pytest.mark.parametrize("rehearsal", [True, False])
def test_an_answer_a_check_in_cannot_take_is_refused_listing_the_allowed_ones(run_cli, tmp_home, tmp_path, name,
                                                                             answers, bad, rehearsal):
    to = tmp_path / "w.wav"
    result = run_cli("checkin", name, "--answers", answers, *(("--to", to) if rehearsal else ()),
                     env=tmp_home.env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"voicecoach: error: --answers: {bad} is not an answer a check-in takes (use "
                                    f"yes, not_now, next, repeat, more_time, skip, pause, stop, help, - for silence, "
                                    f"or !interrupt / !raised for an event"), result.stderr
    if name == "after-pause":
        assert "this script's choices: later, now;" in result.stderr
    assert result.stdout == "" and not to.exists()  # refused before anything was said or rendered


@pytest.mark.parametrize("answers", ["", " , ,"])
def test_empty_answers_are_refused_not_taken_as_answering_by_voice(run_cli, tmp_home, tmp_path, answers):
    """--answers "" ran the check-in live (a rehearsal that went into the couple's journal as their check-in)."""
    result = run_cli("checkin", "weekly", "--answers", answers, env=tmp_home.env, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("voicecoach: error: --answers is empty: give the scripted answers separated by commas, "
                             "e.g. --answers yes,next,- (- is a silence), or leave --answers out to answer by "
                             "voice\n")
    assert result.stdout == "" and not (tmp_home.data_dir / "journal.sqlite3").exists()


@pytest.mark.parametrize("answers, position, rehearsal", [
    ("yes,,,next", 2, False), ("yes,next,", 3, True), (" ,yes", 1, False), ("yes, ,next", 2, True)])
def test_an_empty_answer_in_the_list_is_refused_naming_its_position(run_cli, tmp_home, tmp_path, answers, position,
                                                                     rehearsal):
    """``--answers yes,,,next`` dropped the empty entries without a word: "next" answered the second turn, not the
    fourth the user counted (a silence is -)."""
    to = tmp_path / "w.wav"
    result = run_cli("checkin", "weekly", "--answers", answers, *(("--to", to) if rehearsal else ()),
                     env=tmp_home.env, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (f"voicecoach: error: --answers: answer {position} of {answers.count(',') + 1} is empty "
                             f"(in {answers!r}): give - for a silence there, or remove the extra comma\n")
    assert result.stdout == "" and not to.exists() and not (tmp_home.data_dir / "journal.sqlite3").exists()


def test_a_scripts_own_choices_and_the_partners_names_are_answers(run_cli, tmp_home, tmp_path):
    tmp_home.config_file.write_text('[partners]\na_name = "Sam"\nb_name = "Alex"\n')
    for name, answers in (("after-pause", "okay,Now,-,not_now"), ("repair", "yes,alex,next,!raised,stop")):
        result = run_cli("checkin", name, "--answers", answers, "--to", tmp_path / "w.wav", env=tmp_home.env,
                         timeout=120)
        assert result.returncode == 0, result.stderr
        assert "rehearsed" in result.stdout


@pytest.mark.slow
def test_weather_runs_live_on_the_virtual_device_with_scripted_answers(pulse, tmp_home):
    env = pulse.full_env(**{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")})
    recording = pulse.record_speaker()
    live = LiveProcess(["checkin", "weather", "--answers", "yes,next,next,next,next,next,next"], env)
    try:
        assert live.proc.wait(240) == 0, live.text()
    finally:
        live.stop()
    heard = recording.stop()
    out = live.text()
    assert "check-ins: weather" in out, out
    assert out.count("(answer: next)") >= 3
    assert np.abs(heard.astype(np.int32)).max() > 3000, "nothing was spoken on the virtual speaker"


def test_a_check_in_answered_from_a_script_on_the_live_loop_is_not_stored(run_cli, tmp_home):
    """``--answers`` without ``--to`` is a rehearsal through the speaker: no couple took part, so the journal (and
    the report's "check-ins done") must not gain a check-in from it."""
    result = run_cli("checkin", "weather", "--answers", "not_now", env=tmp_home.env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(answer: not now)" in result.stdout
    assert not (tmp_home.data_dir / "journal.sqlite3").exists()
    # its closing words fit a check-in that did not begin (were "Thank you for talking with care.")
    assert result.stdout.rstrip().endswith("check-ins: weather. Not now, then. Another time."), result.stdout


def test_a_live_check_in_whose_scripted_answers_run_out_stops_instead_of_waiting_out_every_turn(run_cli, tmp_home):
    """``checkin weekly --answers yes,next`` went on in real time after the second answer, the keyboard off and
    nothing stored: 45 minutes of silent turns. Now it says the answers ran out and stops as "stop" would."""
    result = run_cli("checkin", "weekly", "--answers", "yes,next", env=tmp_home.env, timeout=90)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    ran_out = ("(the scripted answers ran out: the check-in stops here; give more answers to --answers to go "
               "further, or leave --answers out to answer by voice or keys)")
    assert out.count(ran_out) == 1, out
    assert out.index("(answer: next)") < out.index(ran_out) < out.index("Okay, we'll stop here."), out
    assert "check-in weekly ended: stopped" in result.stderr  # the log line: recorded as stopped, not cut short
    assert out.rstrip().endswith("Stopped at your word. Thank you both for the time."), out  # not "talking with care"
    assert "Traceback" not in result.stderr
    assert not (tmp_home.data_dir / "journal.sqlite3").exists()


def test_a_check_ins_closing_words_fit_how_it_ended():
    """The summary of ``voicecoach checkin`` ended "Thank you for talking with care." however the check-in ended:
    after "stop" in its first step, cut short by Ctrl-C, or "not now" at its first question. A completed check-in
    (or one handed over to the pause), and every other talk, keep those words."""
    from voicecoach.journal.talk import TalkSummary
    from voicecoach.records import CheckinEnded, CheckinOutcome, CheckinStarted

    def closing(outcome: CheckinOutcome, checkin_talk: bool = True) -> str:
        summary = TalkSummary(checkin_talk=checkin_talk)
        summary.count_record(CheckinStarted("nightly"))
        summary.count_record(CheckinEnded("nightly", outcome, 1, 9, 0.5))
        summary.close(30.0)
        return summary.text().split("check-ins: nightly. ")[1]

    assert closing(CheckinOutcome.COMPLETED) == closing(CheckinOutcome.PAUSE) == "Thank you for talking with care."
    assert closing(CheckinOutcome.STOPPED) == "Stopped at your word. Thank you both for the time."
    assert closing(CheckinOutcome.CUT_SHORT) == "The check-in was cut short. It is there again whenever you're ready."
    assert closing(CheckinOutcome.DECLINED) == "Not now, then. Another time."
    assert all("talking with care" not in closing(o) for o in CheckinOutcome
               if o not in (CheckinOutcome.COMPLETED, CheckinOutcome.PAUSE))
    assert closing(CheckinOutcome.STOPPED, checkin_talk=False) == "Thank you for talking with care."  # a listen


BROKEN = "check-in script not loaded (the others go on): weather.toml: invalid TOML"


def test_a_broken_override_of_a_built_in_is_reported_once_and_the_built_in_runs(run_cli, tmp_home, tmp_path):
    (tmp_home.config_dir / "scripts").mkdir()
    (tmp_home.config_dir / "scripts" / "weather.toml").write_text('title = "x\n')
    live = run_cli("checkin", "weather", "--answers", "not_now", env=tmp_home.env, timeout=120)
    assert live.returncode == 0, live.stderr
    assert live.stderr.count(BROKEN) == 1, live.stderr  # was: twice (the name check, then the live loop)
    assert "; the built-in weather is used instead" in live.stderr
    assert "(answer: not now)" in live.stdout
    rehearsed = run_cli("checkin", "weather", "--answers", "not_now", "--to", tmp_path / "w.wav", env=tmp_home.env,
                        timeout=120)
    assert rehearsed.returncode == 0, rehearsed.stderr
    assert rehearsed.stderr.count(BROKEN) == 1, rehearsed.stderr
    shown = run_cli("scripts", "show", "weather", env=tmp_home.env)  # was: the built-in, without a word
    assert shown.returncode == 0 and "builtin:" in shown.stdout
    assert shown.stderr.startswith(f"your {tmp_home.config_dir / 'scripts' / 'weather.toml'} does not load ("), \
        shown.stderr
    assert shown.stderr.rstrip().endswith("this is the built-in weather, which is used instead")
    unknown = run_cli("checkin", "nosuch", "--answers", "yes", "--to", tmp_path / "n.wav", env=tmp_home.env)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()]  # the error alone, one line
    assert "no check-in script called 'nosuch'" in unknown.stderr


MORNING = """title = "Morning hello"
minutes = 5
consent = "Good morning, {a} and {b}. Time for a quick hello? Say yes, or not now."

[[steps]]
type = "say"
text = "Hello, both of you."

[[steps]]
type = "end"
text = "Have a good day, both of you."
"""


def test_scripts_check_finds_your_own_script_by_its_file_name_as_the_readme_says(run_cli, tmp_home):
    (tmp_home.config_dir / "scripts").mkdir()
    mine = tmp_home.config_dir / "scripts" / "morning.toml"
    mine.write_text(MORNING)
    for given in ("morning.toml", "morning"):  # was: "morning.toml: no such file", exit 2
        result = run_cli("scripts", "check", given, env=tmp_home.env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f'OK: {mine}: morning "Morning hello", 2 steps, about 5 min\n'
    missing = run_cli("scripts", "check", "evening.toml", env=tmp_home.env)
    assert missing.returncode == 2
    assert missing.stderr == (f"voicecoach: error: evening.toml: no such file, here or in {mine.parent} (list "
                              f"scripts with: voicecoach scripts list)\n")


def test_the_help_says_which_check_in_runs_without_a_name(run_cli, tmp_home):
    """`voicecoach checkin` alone starts the nightly check-in; its help did not say so."""
    result = run_cli("checkin", "--help", env=tmp_home.env)
    assert result.returncode == 0
    assert "default: nightly" in " ".join(result.stdout.split())


def _checkin_on_a_terminal(args: list[str], env: dict[str, str], command: str = "checkin"):
    """``voicecoach checkin ARGS`` (or another ``command``) with a pseudo-terminal as its keyboard and a pipe as its
    output: (process, keyboard fd, terminal fd, lines read)."""
    import pty
    import subprocess
    import threading

    from conftest import cli_command

    keyboard, terminal = pty.openpty()
    proc = subprocess.Popen([*cli_command(), command, *args], env=env, stdin=terminal, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return proc, keyboard, terminal, lines


def _wait_for(lines: list[str], needle: str, timeout_s: float) -> bool:
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if any(needle in line for line in list(lines)):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("no_ui", [False, True], ids=["single keys", "--no-ui"])
def test_checkin_no_ui_reads_typed_lines_and_leaves_the_terminal_alone(no_sound_env, tmp_home, no_ui):
    """checkin --no-ui was accepted and did nothing: on a terminal the keys were still read one at a time in cbreak
    mode, so typing the word "yes" was y (yes), then s (skip). Now, as for listen --no-ui, a line is read: the
    terminal stays in its usual mode (ICANON, echo) and "yes" then Enter is the answer yes."""
    import os
    import signal
    import termios

    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    proc, keyboard, terminal, lines = _checkin_on_a_terminal(["weather", *(["--no-ui"] if no_ui else [])], env)
    try:
        def canonical() -> bool:
            return bool(termios.tcgetattr(terminal)[3] & termios.ICANON)

        assert _wait_for(lines, "weather report?", 30), "".join(lines)
        # the keys are listed before the first question, as listen lists them (was: nowhere, though with no speech
        # model "Say yes, or not now" can only be answered with them)
        keys = [i for i, line in enumerate(lines) if line.startswith("keys: y okay  n not now")]
        asked = [i for i, line in enumerate(lines) if "weather report?" in line]
        assert keys and keys[0] < asked[0], "".join(lines)
        # the once-only notice of what voicecoach is and is not: shown only by listen before, so a couple who
        # began with a check-in never saw it
        assert any("not meant for relationships with violence or fear" in line for line in lines), "".join(lines)
        assert (tmp_home.data_dir / ".notice-shown").exists()
        if no_ui:
            os.write(keyboard, b"yes\n")
            assert _wait_for(lines, "describe your weather inside", 15), "".join(lines)
            assert canonical(), "the terminal was put in single-key mode"  # the keys are being read by now
        else:  # the keys may start a moment after the first prompt
            assert _single_keys_soon(terminal), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, "".join(lines)
    finally:
        _close_terminal(proc, keyboard, terminal)
    assert "Traceback" not in "".join(lines)


def _single_keys_soon(terminal: int, within_s: float = 10.0) -> bool:
    """True once the pseudo-terminal leaves line mode (cbreak: a key needs no Enter), waiting up to ``within_s``."""
    import termios
    import time

    end = time.monotonic() + within_s
    while termios.tcgetattr(terminal)[3] & termios.ICANON and time.monotonic() < end:
        time.sleep(0.05)
    return not termios.tcgetattr(terminal)[3] & termios.ICANON


def _close_terminal(proc, keyboard: int, terminal: int) -> None:
    """Kill the command if it is still running and close both ends of its pseudo-terminal."""
    import os

    if proc.poll() is None:
        proc.kill()
    os.close(keyboard)
    os.close(terminal)


@pytest.mark.parametrize("command, args, ready", [
    ("listen", [], "waiting for a microphone"),
    ("checkin", ["weather"], "weather report?"),
], ids=["listen", "checkin"])
def test_single_keys_follow_the_keyboard_not_where_the_output_goes(no_sound_env, tmp_home, command, args, ready):
    """`voicecoach listen | tee log` read the keys a line at a time (listen asked whether stdout could redraw) while
    checkin, on the same terminal, read single keys (it asked stdin). Now both ask ui.single_keys_wanted: the
    keyboard is a terminal (here a pseudo-terminal, the output a pipe), so a key needs no Enter: cbreak mode."""
    import signal

    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    proc, keyboard, terminal, lines = _checkin_on_a_terminal(args, env, command=command)
    try:
        assert _wait_for(lines, ready, 30), "".join(lines)
        # the keys may start a moment after the first line
        assert _single_keys_soon(terminal), "keys read a line at a time: " + "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, "".join(lines)
    finally:
        _close_terminal(proc, keyboard, terminal)
    assert "Traceback" not in "".join(lines)


def test_a_live_check_in_with_no_microphone_says_so_as_listen_does(run_cli, no_sound_env, tmp_home):
    """With no microphone (none plugged in, the sound server down) listen says "waiting for a microphone: ...
    check with: voicecoach devices"; a check-in said nothing (the retries logged at debug) and asked its questions
    into the void until they ran out as unanswered (found by scripts/hostile_sweep.py)."""
    env = {**no_sound_env, **{k: v for k, v in tmp_home.env.items() if k.startswith("VOICECOACH")}}
    result = run_cli("checkin", "weather", "--no-ui", env=env, input="q\n", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    waiting = [line for line in result.stderr.splitlines() if line.startswith("waiting for a microphone: ")]
    assert len(waiting) == 1, result.stderr
    assert "check with: voicecoach devices" in waiting[0] and "the keys work (see the keys line above)" in waiting[0]
    assert "voicecoach is listening" not in result.stdout + result.stderr  # listen's line: a check-in asks at once
