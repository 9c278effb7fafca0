"""The double clap means one thing at each prompt, and the prompt says which, while only the clap is heard.

Real audio through the real parts: two hand claps generated here, fed frame by frame to the kiosk's live assembly
(the detection pipeline, the command listener's double-clap detector with no speech model, the router, the coach,
the check-in runner, a Speaker on a NullSink) under a fake clock. The rig is the consent grid's.

What a double clap means:

* a question is open (the pause suggestion, the welcome back, a check-in's consent or question, a voice note's
  "delete it?"): yes ("Clap twice for yes");
* a check-in's timed step (a partner's turn, a reflection, a quiet moment): next, done, go on ("Clap twice when
  you're done");
* just after the check-in's one reminder of the pause: the pause ("..., clap twice.");
* anywhere else: the pause.
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest

from test_consent_grid import FRAME_S, RATE, Rig, no_model, rig_at  # noqa: F401 - rig_at is a fixture
from test_kiosk_live import double_clap as kiosk_double_clap
from voicecoach.audio.frames import Frame
from voicecoach.commands import Command, Source

NIGHTLY = datetime(2026, 12, 1, 21, 30, 0)


def double_clap() -> np.ndarray:
    """int16, 2.5 s: a faint room, then two hand claps 0.4 s apart from 0.5 s (the kiosk tests' claps, sooner)."""
    return kiosk_double_clap(2.5, 0.5)


def feed(rig: Rig, audio: np.ndarray, paced: bool = False) -> None:
    """``audio`` heard through the microphone, frame by frame (``paced``: at the pace of the audio, for a listener
    whose recognizer thread leaves out the audio it falls behind on)."""
    step = int(FRAME_S * RATE)
    for i in range(0, len(audio) - step + 1, step):
        frame = Frame(audio[i:i + step], rig.position)
        rig.position += step
        rig.clock.advance(FRAME_S)
        rig.session.step(frame)
        rig.kiosk.on_frame(frame)
        rig.speaker.wait(timeout_s=10.0)
        if paced:
            time.sleep(FRAME_S)


def clap(rig: Rig) -> list[str]:
    """A partner claps twice, heard through the microphone; what was said in reply (the next 2 s)."""
    before = len(rig.said())
    feed(rig, double_clap())
    rig.run(2.0)
    return rig.said()[before:]


def phase(rig: Rig) -> str:
    runner = rig.router.runner
    return runner.phase.value if runner is not None else "none"


@pytest.fixture
def nightly(rig_at, tmp_path):  # noqa: F811 - the fixture imported above
    """The kiosk with no speech model at 21:30: the nightly check-in is asked, and a clap answers yes."""
    rig = rig_at(NIGHTLY, commands=no_model(tmp_path), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    assert rig.said()[-1].endswith("Clap twice for yes, or stay quiet for not now."), rig.said()
    clap(rig)
    rig.run(30.0, until=lambda: phase(rig) == "timer")
    assert phase(rig) == "timer", rig.said()
    return rig


def test_without_a_model_the_nightly_says_how_to_move_on_by_clapping(nightly):
    intro = next(line for line in nightly.said() if line.startswith("Lovely."))
    assert intro.endswith("While one talks, the other just listens. Clap twice when you're done."), intro
    assert "Say next" not in " ".join(nightly.said())


def test_a_double_clap_during_a_turn_ends_the_turn_and_the_check_in_goes_on(nightly):
    turn = nightly.router.runner.state
    assert turn.step_type == "turn" and turn.seconds_left > 60.0
    replies = clap(nightly)
    assert nightly.router.runner is not None, replies  # was: the check-in ended and the 20-minute pause began
    assert nightly.router.coach.mode.name == "LISTENING", replies
    assert replies[0] == "Thank you, Partner A.", replies  # the turn's own closing words: "next" was heard
    assert nightly.router.runner.state.step_index == turn.step_index + 1


def test_a_double_clap_after_the_check_ins_reminder_of_the_pause_starts_the_pause(nightly):
    nightly.pipeline.shouting = True
    nightly.run(30.0, until=lambda: nightly.count("Just a reminder") > 0)
    nightly.pipeline.shouting = False
    reminder = nightly.said()[-1]
    assert reminder == ("Just a reminder: if either of you would like the pause you agreed on, clap twice."), \
        nightly.said()
    nightly.run(1.0)
    clap(nightly)
    assert nightly.router.runner is None and nightly.router.coach.mode.name == "PAUSING", nightly.said()


def test_once_the_reminders_answer_time_is_over_a_clap_means_done_again(nightly):
    nightly.pipeline.shouting = True
    nightly.run(30.0, until=lambda: nightly.count("Just a reminder") > 0)
    nightly.pipeline.shouting = False
    nightly.run(12.0)
    before = nightly.router.runner.state.step_index
    clap(nightly)
    assert nightly.router.runner is not None and nightly.router.coach.mode.name == "LISTENING", nightly.said()
    assert nightly.router.runner.state.step_index == before + 1


def test_a_double_clap_outside_any_question_or_check_in_still_starts_the_pause(rig_at, tmp_path):  # noqa: F811
    rig = rig_at(commands=no_model(tmp_path))
    rig.run(3.0)
    clap(rig)
    assert rig.router.coach.mode.name == "PAUSING", rig.said()


def test_six_double_claps_take_the_nightly_through_its_six_turns_to_its_end(nightly):
    """A couple with no speech model moves a ten-minute check-in on at their own pace, and no pause starts."""
    for _ in range(6):
        assert phase(nightly) == "timer", nightly.said()
        clap(nightly)
        nightly.run(20.0, until=lambda: phase(nightly) in ("timer", "none"))
    assert nightly.router.runner is None, nightly.said()
    assert nightly.said()[-1] == "Thank you, Partner A and Partner B. Sleep well.", nightly.said()
    assert nightly.router.coach.mode.name == "LISTENING"


def help_key(rig: Rig) -> list[str]:
    """A partner presses h (help); every line after it (the next 2 s)."""
    before = len(rig.lines)
    rig.live.submit(Command.HELP, Source.KEYBOARD)
    rig.run(2.0)
    return rig.lines[before:]


def test_the_help_says_what_a_clap_does_there_and_a_laptop_lists_its_keys(rig_at, tmp_path):  # noqa: F811
    """Before, h said "You can say: pause, ...; okay or not now, ...; and during the pause, more time, or stop."
    (in a check-in's turn "Say next when you're done, or more time, repeat, skip, pause, or stop."), words nobody
    can say with only the clap heard. Now the clap's meaning there, and on a laptop the keys line after it."""
    rig = rig_at(commands=no_model(tmp_path), keys=True)
    rig.run(1.0)
    lines = help_key(rig)
    assert "said: Clap twice for the pause you agreed on. When I ask, clap twice for okay, or stay quiet for not " \
           "now." in lines, lines
    assert lines[-1].startswith("keys: y okay  n not now  p pause"), lines


def test_the_help_in_a_turn_says_a_clap_moves_on(nightly):
    lines = help_key(nightly)
    assert [line for line in lines if line.startswith("said: ")] == ["said: Clap twice when you're done."], lines
    assert not any(line.startswith("keys:") for line in lines)  # the kiosk has no keys to list
