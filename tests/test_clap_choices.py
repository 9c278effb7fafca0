"""A choice between options, asked while only the double clap is heard, says what a clap picks and what silence does.

Before: "Would you like to go back to the topic now, or later? Say now or later." and "Who would like to begin?
Say Partner A or Partner B." (one-word names: "Say Alex or Sam.") were said as written with no speech model, though
nobody could say either word to the box: a clap picked the first option and silence, after "Just checking: now?
Clap twice for yes.", the default, which was the first option too (so the after-pause check-in sent the couple
back into the topic they had paused on when nobody answered).

Now the prompt says "Clap twice for now, or stay quiet for later.": a clap picks the first option that silence does
not leave, silence the step's default (the after-pause script's is "later": going back to the topic needs a yes).
With a speech model loaded the choice is said for a voice ("Say Alex or Sam.") and a clap is yes to the first
option, as before.

Real audio through the real parts, as in ``test_clap_meanings``: generated hand claps fed frame by frame to the
kiosk's live assembly with no speech model, the real built-in scripts, the English pack.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from test_clap_meanings import clap, double_clap, feed, phase
from test_consent_grid import (FRAME_S, RATE, loaded, needs_a_model, no_model, rig_at,  # noqa: F401 - a fixture
                               with_model)
from voicecoach.config import PartnerSettings, PauseSettings

NAMES = PartnerSettings(a_name="Alex", b_name="Sam")
NOW_OR_LATER = "Would you like to go back to the topic now, or later? Clap twice for now, or stay quiet for later."
WHO_BEGINS = "Who would like to begin? Clap twice for Sam, or stay quiet for Alex."


def paced_clap(rig) -> list[str]:
    """``clap``, fed at the pace of the audio: with a speech model loaded the listener (the clap detector too) runs
    on the recognizer's thread, and audio that thread falls behind on is left out, claps included."""
    before = len(rig.said())
    feed(rig, np.concatenate([double_clap(), np.zeros(int(3.0 * RATE), np.int16)]), paced=True)
    return rig.said()[before:]


def at_the_choice(rig, clapping: Callable[[Any], list[str]] = clap) -> None:
    """Clap through a check-in (yes to each question, done at each timed step) until its choice is asked."""
    for _ in range(12):
        if phase(rig) == "choose":
            return
        clapping(rig)
        rig.run(30.0, until=lambda: rig.asking() or phase(rig) in ("timer", "none"))
    assert phase(rig) == "choose", rig.said()


@pytest.fixture
def after_pause(rig_at, tmp_path):  # noqa: F811 - the fixture imported above
    """The agreed pause started by a clap, its end, the welcome back answered by a clap, the after-pause check-in
    clapped through to its "now or later?"."""
    rig = rig_at(commands=no_model(tmp_path), partners=NAMES)
    rig.run(3.0)
    clap(rig)
    assert rig.router.coach.mode.name == "PAUSING", rig.said()
    rig.skip(PauseSettings().length_min * 60.0)
    rig.run(10.0, until=lambda: rig.asking())
    assert rig.said()[-1] == ("Welcome back. Would you like a short check-in together? Clap twice for okay, "
                              "or stay quiet for not now."), rig.said()
    clap(rig)
    assert rig.router.runner is not None and rig.router.runner.script.name == "after-pause", rig.said()
    at_the_choice(rig)
    rig.run(10.0, until=lambda: rig.asking())
    return rig


def test_the_after_pause_choice_says_clap_for_now_or_stay_quiet_for_later(after_pause):
    assert after_pause.said()[-1] == NOW_OR_LATER, after_pause.said()
    assert not any("Say now" in line for line in after_pause.said())


def test_a_clap_at_the_after_pause_choice_goes_back_to_the_topic_now(after_pause):
    replies = clap(after_pause)
    assert replies[:2] == ["Okay, now.", "Okay, carry on gently. Either of you can clap twice for the pause at any "
                                         "time. Thank you both."], replies
    assert after_pause.router.runner is None and after_pause.router.coach.mode.name == "LISTENING"


def test_silence_at_the_after_pause_choice_leaves_the_topic_for_later_and_starts_nothing(after_pause):
    after_pause.run(30.0, until=lambda: after_pause.count("Just checking") > 0)
    assert after_pause.said()[-1] == "Just checking: clap twice for now, or stay quiet for later.", after_pause.said()
    after_pause.run(40.0, until=lambda: after_pause.router.runner is None)
    assert after_pause.said()[-2:] == ["Let's go with later.", "Okay. Before you go, agree on a time to come back "
                                                               "to it, one that works for you both. Thank you both."]
    after_pause.run(10.0)
    assert after_pause.router.runner is None and after_pause.router.coach.mode.name == "LISTENING"
    assert not after_pause.asking(), after_pause.said()


def repair_at_who_begins(rig, clapping: Callable[[Any], list[str]] = clap) -> None:
    """The repair check-in offered, its consent answered by a clap, up to "who would like to begin?"."""
    rig.run(1.0)
    rig.live.start_checkin("repair")
    rig.run(10.0, until=lambda: rig.asking())
    at_the_choice(rig, clapping)
    rig.run(10.0, until=lambda: rig.asking())


@pytest.fixture
def repair(rig_at, tmp_path):  # noqa: F811 - the fixture imported above
    """The repair check-in with no speech model, at "who would like to begin?" between one-word names."""
    rig = rig_at(commands=no_model(tmp_path), partners=NAMES)
    repair_at_who_begins(rig)
    return rig


def test_the_who_begins_choice_names_who_a_clap_picks_and_who_silence_leaves(repair):
    assert repair.said()[-1] == WHO_BEGINS, repair.said()


def test_a_clap_at_who_begins_gives_sam_the_first_turn(repair):
    replies = clap(repair)
    assert replies[0] == "Okay, Sam." and replies[1].startswith("Sam, what part of what happened"), replies
    assert phase(repair) == "timer"


def test_silence_at_who_begins_gives_alex_the_first_turn(repair):
    repair.run(30.0, until=lambda: repair.count("Just checking") > 0)
    assert repair.said()[-1] == "Just checking: clap twice for Sam, or stay quiet for Alex.", repair.said()
    repair.run(40.0, until=lambda: phase(repair) == "timer")
    assert repair.said()[-2] == "Let's go with Alex." and repair.said()[-1].startswith("Alex, what part"), \
        repair.said()


@needs_a_model
def test_with_the_speech_model_loaded_a_choice_is_said_for_a_voice_and_a_clap_is_yes_to_the_first(
        rig_at, tmp_path):  # noqa: F811 - the fixture imported above
    rig = rig_at(commands=with_model(tmp_path), partners=NAMES)
    loaded(rig)
    repair_at_who_begins(rig, paced_clap)
    assert rig.said()[-1] == "Who would like to begin? Say Alex or Sam.", rig.said()
    replies = paced_clap(rig)
    assert replies[0] == "Okay, Alex." and replies[1].startswith("Alex, what part"), replies
