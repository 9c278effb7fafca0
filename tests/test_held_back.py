"""What a new start holds back, from the journal's suggestions and pauses (pure: rows and ``now`` in)."""

from __future__ import annotations

import pytest

from voicecoach.config import PauseSettings
from voicecoach.detect.settings import EscalationSettings
from voicecoach.held_back import PastPause, PastSuggestion, quiet_minutes

NOW = 1_800_000_000.0
PAUSE, ESCALATION = PauseSettings(), EscalationSettings()


def minutes(suggestions=(), pauses=()) -> float:
    return quiet_minutes(list(suggestions), list(pauses), PAUSE, ESCALATION, NOW)


def test_nothing_in_the_journal_holds_nothing_back():
    assert minutes() == 0.0


@pytest.mark.parametrize("answer", ("not_now", "no_answer"))
def test_a_refusal_holds_back_what_is_left_of_its_snooze(answer):
    assert minutes([PastSuggestion(NOW - 130, answer, NOW - 120)]) == pytest.approx(13.0)


def test_a_yes_holds_back_only_the_cooldown_and_a_pause_the_quiet_after_it():
    assert minutes([PastSuggestion(NOW - 60, "yes", NOW - 55)]) == pytest.approx(4.0)
    assert minutes(pauses=[PastPause(NOW - 1320, 20.0, NOW - 120)]) == pytest.approx(3.0)


def test_a_pause_the_program_died_in_holds_back_the_rest_of_it_and_the_quiet_after_it():
    assert minutes(pauses=[PastPause(NOW - 180, 20.0, None)]) == pytest.approx(17.0 + 5.0)


def test_the_hourly_cap_counts_the_suggestions_before_the_start():
    made = [PastSuggestion(NOW - s, "yes", NOW - s) for s in (3000, 2000, 1000)]
    assert minutes(made) == pytest.approx((3600 - 3000) / 60.0)


def test_a_time_after_now_counts_as_now_so_a_clock_set_back_never_waits_longer_than_the_snooze():
    assert minutes([PastSuggestion(NOW + 7200, "not_now", NOW + 7200)]) == pytest.approx(15.0)
    assert minutes([PastSuggestion(NOW - 3600, "not_now", NOW - 3600)]) == 0.0


@pytest.mark.parametrize("suggestions, pauses, reason", [
    ([PastSuggestion(NOW - 130, "not_now", NOW - 120)], [],
     "'not now' was said 2 min ago (15 min of quiet after it)"),
    ([PastSuggestion(NOW - 130, "no_answer", NOW - 120)], [],
     "a suggestion went unanswered 2 min ago (15 min of quiet after it)"),
    ([PastSuggestion(NOW - 60, "yes", NOW - 55)], [], "a pause was suggested 1 min ago (none for 5 min after one)"),
    ([PastSuggestion(NOW - 1400, "yes", NOW - 1395)], [PastPause(NOW - 1320, 20.0, NOW - 120)],
     "the pause ended 2 min ago (5 min of quiet after a pause)"),
    ([], [PastPause(NOW - 180, 20.0, None)],
     "the 20 minute pause begun 3 min ago is still under way (the program stopped during it), then 5 min of quiet"),
    ([PastSuggestion(NOW - s, "yes", NOW - s) for s in (3000, 2000, 1000)], [],
     "3 suggestions in the last hour (at most 3 an hour)"),
])
def test_the_start_says_which_row_holds_the_suggestions_back(suggestions, pauses, reason):
    """The start said "as the journal shows (a 'not now', a pause or the hourly cap before this start)": three
    guesses, and none of them when it was the cooldown after a suggestion taken."""
    from voicecoach.held_back import held_back

    quiet = held_back(suggestions, pauses, PAUSE, ESCALATION, NOW)
    assert quiet.reason == reason and quiet.minutes > 0
