"""``voicecoach kiosk`` as a subprocess on the virtual sound device: lifecycle lines, SIGTERM, reconnect, rituals."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, cli_command
from voicecoach_dev.live import PipeReader

RATE = 16000


def double_clap(seconds: float = 3.0, first_s: float = 1.0) -> np.ndarray:
    """int16, ``seconds`` long: a faint room, then two hand claps 0.4 s apart from ``first_s`` (broadband bursts with
    a 6 ms decay)."""
    rng = np.random.default_rng(3)
    audio = rng.standard_normal(int(seconds * RATE)) * 0.0005
    t = np.arange(int(0.25 * RATE)) / RATE
    for at in (first_s, first_s + 0.4):
        noise = rng.standard_normal(len(t))
        burst = (0.7 * np.diff(noise, prepend=0.0) + 0.3 * noise) * (np.exp(-t / 0.006) + 0.05 * np.exp(-t / 0.05))
        burst[:16] *= np.linspace(0, 1, 16)
        audio[int(at * RATE):int(at * RATE) + len(t)] += 0.5 * burst / np.abs(burst).max()
    return (audio * 32767).astype(np.int16)


class Kiosk:
    """A running ``voicecoach kiosk``; stdout lines and stderr are collected by reader threads. Both are read as
    they come: a stuck PortAudio floods stderr, and an unread pipe that filled up blocked the kiosk's last line
    (its exit then waited for ever: 1 run in 5 of the unplug test on a loaded machine)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([*cli_command(), "kiosk", *args], env=env, cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._err = PipeReader(self.proc.stderr)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def err_lines(self) -> int:
        """Lines written to stderr so far, before repeats were collapsed."""
        return self._err.written

    @property
    def stderr(self) -> str:
        """What the kiosk wrote to stderr so far (all of it once it has exited)."""
        if self.proc.poll() is not None:
            self._err.join()
        return self._err.text()

    def wait_for(self, fragment: str, timeout_s: float, after: int = 0) -> int:
        """Index of the first line (from ``after``) containing ``fragment``; fails after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            hit = next((i for i in range(after, len(self.lines)) if fragment in self.lines[i]), None)
            if hit is not None:
                return hit
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"no line with {fragment!r} within {timeout_s} s; stdout: {self.lines}; "
                            f"stderr: {self.stderr[-2000:]}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                self.proc.wait()
                pytest.fail(f"kiosk exited ({self.proc.wait()}) before {fragment!r}; stdout: {self.lines}; "
                            f"stderr: {self.stderr[-2000:]}")
            self.lines.append(line)

    def terminate(self, timeout_s: float = 5.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took to exit)."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout_s)
        took = time.monotonic() - start
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code, took

    def stop(self) -> None:
        """Kill it if still running (test clean-up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def kiosk_env(tmp_home):
    """A private home with a quick config (short answer window), for kiosks to run in."""
    tmp_home.config_file.write_text("[checkin]\nanswer_s = 2.0\n[audio]\nreopen_s = 0.5\n")
    return tmp_home


@pytest.fixture
def start_kiosk():
    running: list[Kiosk] = []

    def start(env: dict[str, str], *args: str) -> Kiosk:
        kiosk = Kiosk(env, *args)
        running.append(kiosk)
        return kiosk

    yield start
    for kiosk in running:
        kiosk.stop()


def test_a_ritual_naming_no_script_is_reported_when_the_kiosk_starts(tmp_home, start_kiosk):
    """Not first at 21:30, when the box says "Sorry, I can't start that check-in" (no sound device needed)."""
    tmp_home.config_file.write_text('[kiosk]\nnightly_script = "nighty"\n')
    kiosk = start_kiosk(tmp_home.env, "--pretend-time", "2026-11-23T12:00:00")
    kiosk.wait_for("microphone", 30)  # "waiting for microphone" here, "microphone open" with a sound server
    code, _ = kiosk.terminate()
    assert code == 0, kiosk.stderr
    assert "kiosk.nightly_script = 'nighty' names no check-in script" in kiosk.stderr, kiosk.stderr


def test_kiosk_logs_lifecycle_lines_and_stops_cleanly_on_sigterm(pulse, kiosk_env, start_kiosk):
    # no rituals: on the real clock, a run between 21:30 and 22:00 had the nightly offered (CI at 21:5x failed)
    with open(kiosk_env.config_file, "a") as config:
        config.write('[kiosk]\nnightly_time = ""\nweekly_day = ""\n')
    kiosk = start_kiosk(pulse.full_env(**kiosk_env.env))  # the real clock: a rehearsal stores nothing
    kiosk.wait_for("voicecoach: started", 30)
    kiosk.wait_for("voicecoach: microphone open", 15)
    # C libraries' stderr goes through the kiosk's own pipe (collapsed there), not straight to ours
    assert os.readlink(f"/proc/{kiosk.proc.pid}/fd/2") != os.readlink(f"/proc/self/fd/{kiosk.proc.stderr.fileno()}")
    code, took = kiosk.terminate()
    assert code == 0, kiosk.stderr
    assert took < 5.0
    assert kiosk.lines[-2:] == ["voicecoach: stopping (SIGTERM)", "voicecoach: stopped"]
    assert all(line.startswith("voicecoach: ") for line in kiosk.lines), kiosk.lines
    assert "Traceback" not in kiosk.stderr
    assert (Path(kiosk_env.data_dir) / "journal.sqlite3").exists()  # the talk was stored, the journal closed


@dataclass
class UnansweredNightly:
    """One rehearsal kiosk's run, ended by SIGTERM: its lines, exit code, stderr, and the couple's journal before
    and after."""

    lines: list[str]
    code: int
    stderr: str
    journal_before: bytes
    journal_after: bytes


@pytest.fixture(scope="module")
def unanswered_nightly(pulse_server, tmp_path_factory) -> UnansweredNightly:
    """docs/kiosk.md's rehearsal, ``--pretend-time 2026-11-23T21:29:57``, on a box in use, with nobody answering:
    the nightly is offered at the pretended 21:30, asked again, and declined (no answer), a broken user script in
    the config folder. One run serves the four tests that watched this same run each on its own (15-24 s each):
    the rehearsal, the scheduled ritual, the broken user script, the facts logged once. Every wait of theirs, with
    its own time-out, is made here, in order."""
    from datetime import datetime

    from voicecoach.journal.schema import TalkSource
    from voicecoach.journal.store import Journal

    folder = tmp_path_factory.mktemp("nightly")
    config_dir, data_dir = folder / "config", folder / "data"
    config_dir.mkdir()
    data_dir.mkdir()
    (config_dir / "config.toml").write_text("[checkin]\nanswer_s = 2.0\n[audio]\nreopen_s = 0.5\n")  # kiosk_env's
    (config_dir / "scripts").mkdir()  # a user's script too deeply nested to read: the built-in nightly goes on
    (config_dir / "scripts" / "zz.toml").write_text("title = \"Deep\"\nminutes = 5\nx = " + "[" * 50_000
                                                  + "]" * 50_000 + "\n")
    path = data_dir / "journal.sqlite3"
    with Journal.open(path) as journal:
        journal.add_checkin("nightly", datetime.now().timestamp() - 600, True, 10.0, TalkSource.KIOSK)
        journal.add_checkin("weekly", datetime.now().timestamp() - 60, False, 0.1, TalkSource.KIOSK,
                            ask_again_at=datetime.now().timestamp() + 5)  # "I'll ask again" before the rehearsal
    before = path.read_bytes()
    kiosk = Kiosk(pulse_server.full_env(VOICECOACH_CONFIG_DIR=str(config_dir), VOICECOACH_DATA_DIR=str(data_dir)),
                  "--pretend-time", "2026-11-23T21:29:57")
    try:
        kiosk.wait_for("voicecoach: rehearsal from ", 30)  # its pretended time is the rehearsal test's to check
        kiosk.wait_for("voicecoach: microphone open", 30)
        offered = kiosk.wait_for("voicecoach: ritual offered nightly", 15)
        kiosk.wait_for("Is now a good time", 10, after=offered)
        kiosk.wait_for("voicecoach: ritual declined nightly (no_answer)", 40, after=offered)  # nobody answered
        code, _ = kiosk.terminate()
    finally:
        kiosk.stop()
        pulse_server.reset()  # as ``pulse`` does after a test
    return UnansweredNightly(kiosk.lines, code, kiosk.stderr, before, path.read_bytes())


@pytest.mark.slow
def test_a_rehearsal_neither_reads_nor_writes_the_couples_journal(unanswered_nightly):
    """docs/kiosk.md's rehearsal, ``--pretend-time 2026-11-23T21:29:50``, on a box in use: the nightly the couple
    did this evening (started after the pretended 21:30) counted as that night's offer, so nothing was offered and
    nothing said why; and the rehearsal's own check-ins went into the couple's journal and report."""
    run = unanswered_nightly
    line = next(line for line in run.lines if "voicecoach: rehearsal from " in line)
    assert "voicecoach: rehearsal from Mon 23 Nov 21:29:57" in line, run.lines
    assert "the journal is neither read nor written" in line
    offered = run.lines.index("voicecoach: ritual offered nightly")
    assert any("voicecoach: ritual declined nightly (no_answer)" in line for line in run.lines[offered:]), run.lines
    assert run.code == 0, run.stderr
    assert not any("weekly" in line and "later" in line for line in run.lines), run.lines
    assert run.journal_after == run.journal_before  # no talk, no check-in of the rehearsal's in the couple's journal


def test_kiosk_reopens_the_microphone_after_it_is_unplugged(pulse, kiosk_env, start_kiosk):
    kiosk = start_kiosk(pulse.full_env(**kiosk_env.env), "--pretend-time", "2026-11-23T12:00:00")
    first = kiosk.wait_for("voicecoach: microphone open", 30)
    try:
        pulse.unplug_mic()
        lost = kiosk.wait_for("voicecoach: microphone lost", 10, after=first + 1)
    finally:
        pulse.replug_mic()
    replugged = time.monotonic()
    if _stuck_close(kiosk, after=lost + 1, within_s=15):
        return
    # attempts come every audio.reopen_s (2 s); 15 s leaves room for a loaded machine (5 s failed 1 run in 4 with
    # two evaluations running beside the tests), and still fails a kiosk that stopped trying
    reopened = kiosk.wait_for("voicecoach: microphone open", 15, after=lost + 1)
    assert time.monotonic() - replugged < 15.0
    # the replugged microphone really is heard: with no speech model, the double clap starts the agreed pause
    time.sleep(1.0)
    pulse.play_into_mic(double_clap(), block=True)
    kiosk.wait_for("said: Okay, taking the pause", 8, after=reopened)
    code, _ = kiosk.terminate()
    assert code == 0


def _stuck_close(kiosk, after: int, within_s: float) -> bool:
    """The rare other end of an unplug (seen once in CI): PortAudio's close of the lost microphone never returns
    (upstream issue 1037, as in test_faults), the kiosk says "stopping (the sound system stopped answering)" and
    must then end by itself, with no traceback, for its service to start it again. True when that happened (and
    was checked); False when the microphone came back or nothing decided yet within ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        new = kiosk.lines[after:]
        if any("voicecoach: microphone open" in line for line in new):
            return False
        if any("the sound system stopped answering" in line for line in new):
            try:   # closing is bounded: the talk is stored, the speaker left after a few seconds if stuck too
                code = kiosk.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                kiosk.stop()
                pytest.fail(f"the kiosk did not end after the sound system stopped answering; stdout: "
                            f"{kiosk.lines}; stderr: {kiosk.stderr[-3000:]}")
            err = kiosk.stderr
            assert code == 1 and "Traceback" not in err, (code, kiosk.lines, err[-3000:])
            assert "voicecoach: error: the sound system stopped answering" in err, err[-3000:]
            assert kiosk.err_lines < 200, err[-3000:]   # PortAudio's own flood (millions of lines) came collapsed
            return True
        try:
            line = kiosk._queue.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            kiosk._queue.put(None)
            return False   # it ended otherwise: wait_for says so
        kiosk.lines.append(line)
    return False


def test_kiosk_waits_for_a_microphone_when_there_is_none(no_sound_env, kiosk_env, start_kiosk):
    kiosk = start_kiosk({**no_sound_env, **{k: v for k, v in kiosk_env.env.items() if k.startswith("VOICECOACH")}},
                        "--pretend-time", "2026-11-23T12:00:00")
    kiosk.wait_for("voicecoach: waiting for microphone", 30)
    time.sleep(1.5)  # several reopen attempts: still one line
    code, _ = kiosk.terminate()
    assert code == 0
    assert sum("waiting for microphone" in line for line in kiosk.lines) == 1
    assert kiosk.lines[-1] == "voicecoach: stopped"


@pytest.mark.slow
def test_scheduled_ritual_is_offered_with_consent_under_a_pretend_clock(unanswered_nightly):
    lines = unanswered_nightly.lines
    offered = lines.index("voicecoach: ritual offered nightly")
    asked = next(i for i, line in enumerate(lines) if "Is now a good time" in line)
    declined = lines.index("voicecoach: ritual declined nightly (no_answer)")  # nobody answered
    assert offered < asked < declined, lines
    assert unanswered_nightly.code == 0


def test_kiosk_waits_for_a_named_microphone_that_is_not_plugged_in(pulse, kiosk_env, start_kiosk):
    kiosk_env.config_file.write_text('[audio]\ninput = "USB PnP"\nreopen_s = 0.5\n')
    kiosk = start_kiosk(pulse.full_env(**kiosk_env.env), "--pretend-time", "2026-11-23T12:00:00")
    line = kiosk.lines[kiosk.wait_for("voicecoach: waiting for microphone", 30)]
    assert "no input device matching 'USB PnP'" in line and "voicecoach devices" in line
    code, _ = kiosk.terminate()
    assert code == 0


@pytest.fixture
def hanging_tts_env(tmp_path, kiosk_env, pulse):
    """The kiosk's environment with an ``espeak-ng`` that never finishes (a hung speech engine) as its only engine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "espeak-ng"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")  # fault injection: the real espeak-ng cannot be made to hang
    fake.chmod(0o755)
    kiosk_env.config_file.write_text('[speech]\nengines = ["espeak-ng"]\nsynth_timeout_s = 1.0\n'
                                     '[checkin]\nanswer_s = 2.0\n')
    env = pulse.full_env(**kiosk_env.env)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


@pytest.mark.slow
def test_kiosk_keeps_running_through_a_hung_speech_engine(hanging_tts_env, start_kiosk):
    kiosk = start_kiosk(hanging_tts_env, "--pretend-time", "2026-11-23T21:29:58")
    offered = kiosk.wait_for("voicecoach: ritual offered nightly", 30)
    # every prompt hangs until its time-out, then a tone plays; the answer timers still run out as usual
    kiosk.wait_for("voicecoach: ritual declined nightly (no_answer)", 40, after=offered)
    code, _ = kiosk.terminate()
    assert code == 0
    assert "could not speak out loud" in kiosk.stderr


def test_sigterm_while_the_speech_engine_hangs_still_stops_cleanly(hanging_tts_env, start_kiosk):
    kiosk = start_kiosk(hanging_tts_env, "--pretend-time", "2026-11-23T21:29:58")
    kiosk.wait_for("voicecoach: ritual offered nightly", 30)
    time.sleep(0.5)  # the consent prompt is now stuck in synthesis
    code, took = kiosk.terminate(timeout_s=15)
    assert code == 0
    assert took < 8.0
    assert kiosk.lines[-1] == "voicecoach: stopped"


def _after_prompt(kiosk: Kiosk, index: int) -> None:
    """Sleep until the prompt said on line ``index`` has been played (160 words a minute, plus the tail)."""
    words = len(kiosk.lines[index].split())
    time.sleep(words * 60.0 / 160.0 + 1.5)


def test_a_double_clap_at_a_rituals_consent_answers_yes(pulse, kiosk_env, start_kiosk):
    kiosk_env.config_file.write_text("[checkin]\nanswer_s = 12.0\n[audio]\nreopen_s = 0.5\n")
    kiosk = start_kiosk(pulse.full_env(**kiosk_env.env), "--pretend-time", "2026-11-23T21:29:57")
    kiosk.wait_for("voicecoach: microphone open", 30)
    offered = kiosk.wait_for("voicecoach: ritual offered nightly", 15)
    asked = kiosk.wait_for("Is now a good time", 10, after=offered)
    _after_prompt(kiosk, asked)
    pulse.play_into_mic(double_clap(), block=True)
    kiosk.wait_for("said: Lovely. Each of you will share", 10, after=asked)  # the check-in's first step
    assert not any("taking the pause" in line for line in kiosk.lines), kiosk.lines
    code, _ = kiosk.terminate()
    assert code == 0


def test_a_broken_user_script_is_skipped_and_the_built_in_ritual_goes_on(unanswered_nightly):
    run = unanswered_nightly  # its config folder holds the broken scripts/zz.toml
    offered = run.lines.index("voicecoach: ritual offered nightly")
    assert any("Is now a good time" in line for line in run.lines[offered:]), run.lines
    assert run.code == 0
    assert not any("ritual failed" in line for line in run.lines), run.lines
    assert run.stderr.count("zz.toml") == 1, run.stderr  # reported once


@pytest.mark.slow
def test_each_lifecycle_fact_is_logged_once_not_twice(unanswered_nightly):
    """journalctl -u voicecoach shows stdout and stderr together: the microphone's opening, a ritual's end and the
    missing speech model each came twice there ("microphone open (device default, 16000 Hz)" and the device
    layer's "microphone open: device default at 16000 Hz, 1 channel(s)"; "ritual declined nightly (no_answer)" and
    the runner's "check-in nightly ended: no_answer ..."; the listener's missing model line and the kiosk's own)."""
    run = unanswered_nightly
    offered = run.lines.index("voicecoach: ritual offered nightly")
    assert any("voicecoach: ritual declined nightly" in line for line in run.lines[offered:]), run.lines
    assert run.code == 0, run.stderr
    journal = run.lines + run.stderr.splitlines()  # what journalctl shows, in two streams' orders
    for what, matches in [("the microphone's opening", lambda line: "microphone open" in line),
                          ("the ritual's end", lambda line: "nightly" in line and ("ended" in line
                                                                                   or "declined" in line)),
                          ("the missing speech model", lambda line: "speech model" in line or "Vosk model" in line)]:
        said = [line for line in journal if matches(line)]
        assert len(said) <= 1 and (said or what == "the missing speech model"), (what, said)
