"""The coach policy: consent first, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from voicecoach.actions import Listen, Say, Snooze, StartCheckin, StopSpeaking
from voicecoach.clock import FakeClock
from voicecoach.coach import Coach, Mode
from voicecoach.config import PauseSettings
from voicecoach.commands import Command
from voicecoach.events import PauseSuggested, RaisedVoice
from voicecoach.records import Answer, PauseEnd, PauseEnded, PauseStarted, SuggestionAnswered, SuggestionMade

SHAMING = ("calm down", "you always", "you never", "fault", "wrong", "stop yelling", "should be ashamed")


def says(actions):
    return " ".join(a.text for a in actions if isinstance(a, Say))


def suggest(coach, clock):
    return coach.on_event(PauseSuggested(t=clock.now(), reason="3 interruptions in 60 s"), clock.now())


def test_suggestion_asks_with_the_agreed_phrase_and_listens():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=20))
    actions = suggest(coach, clock)
    assert "20 minute pause" in says(actions)
    assert any(isinstance(a, Listen) for a in actions)
    assert any(isinstance(a, SuggestionMade) and a.reason == "3 interruptions in 60 s" for a in actions)
    assert coach.mode is Mode.OFFERING


def test_not_now_is_honoured_with_a_snooze_and_a_brief_word():
    clock = FakeClock()
    coach = Coach(PauseSettings(snooze_min=15))
    suggest(coach, clock)
    actions = coach.heard(Command.NOT_NOW, clock.now())
    assert Snooze(15.0) in actions
    assert "not now" in says(actions).lower() and "15 minutes" in says(actions)
    assert coach.mode is Mode.LISTENING and coach.declined == 1


def test_silence_gets_one_gentle_repeat_then_nothing():
    clock = FakeClock()
    coach = Coach()
    suggest(coach, clock)
    first = coach.heard(None, clock.now())
    assert says(first) and any(isinstance(a, Listen) for a in first)
    second = coach.heard(None, clock.now())
    assert not says(second), "after one repeat the coach stays quiet"
    assert any(isinstance(a, Snooze) for a in second)
    assert coach.mode is Mode.LISTENING


def test_okay_starts_the_pause_with_cues_at_start_near_end_and_end():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=20, warn_before_end_min=2))
    suggest(coach, clock)
    start = coach.heard(Command.YES, clock.now())
    assert any(isinstance(a, StopSpeaking) for a in start)
    assert "breath" in says(start)
    assert coach.mode is Mode.PAUSING
    cues = []
    for _ in range(20 * 60):
        clock.advance(1.0)
        cues.extend(coach.tick(clock.now()))
    text = says(cues)
    assert "minutes left" in text and "Welcome back" in text
    assert any(isinstance(a, PauseEnded) and a.how is PauseEnd.COMPLETED for a in cues)
    assert coach.mode is Mode.WELCOMING
    assert StartCheckin("after-pause", consented=True) in coach.heard(Command.YES, clock.now())


def test_welcome_back_declined_ends_kindly():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=1, warn_before_end_min=0))
    coach.heard(Command.PAUSE, clock.now())
    clock.advance(61)
    coach.tick(clock.now())
    actions = coach.heard(Command.NOT_NOW, clock.now())
    assert "I'm here if you need me" in says(actions)
    assert coach.mode is Mode.LISTENING and not coach.busy


def test_either_partner_can_start_the_pause_any_time_with_the_signal():
    clock = FakeClock()
    coach = Coach()
    actions = coach.heard(Command.PAUSE, clock.now(), unprompted=True)
    assert coach.mode is Mode.PAUSING
    assert any(isinstance(a, PauseStarted) and a.manual for a in actions)


def test_closing_during_the_pause_records_it_as_cut_short():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=20))
    coach.heard(Command.PAUSE, clock.now(), unprompted=True)
    clock.advance(90)
    assert coach.close(clock.now()) == [PauseEnded(PauseEnd.CUT_SHORT, 1.5)]
    assert not coach.busy


def test_not_now_is_recorded_as_the_answer():
    clock = FakeClock()
    coach = Coach()
    suggest(coach, clock)
    assert SuggestionAnswered(Answer.NOT_NOW) in coach.heard(Command.NOT_NOW, clock.now())


def test_more_time_and_stop_during_the_pause():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=10))
    coach.heard(Command.PAUSE, clock.now())
    assert "five more minutes" in says(coach.heard(Command.MORE_TIME, clock.now()))
    assert coach.state(clock.now()).pause_left_s == 15 * 60
    end = coach.heard(Command.STOP, clock.now())
    assert "Welcome back" in says(end)


def test_coming_back_from_the_pause_is_not_asked_about_again_at_once():
    for how, advance_s in ((Command.STOP, 40.0), (None, 10 * 60.0 + 1)):
        clock = FakeClock()
        coach = Coach(PauseSettings(length_min=10, quiet_after_min=5))
        suggest(coach, clock)
        coach.heard(Command.YES, clock.now())
        clock.advance(advance_s)
        end = coach.heard(how, clock.now()) if how else coach.tick(clock.now())
        assert any(isinstance(a, PauseEnded) for a in end)
        assert Snooze(5) in end


def test_no_quiet_time_after_the_pause_when_set_to_zero():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=10, quiet_after_min=0))
    coach.heard(Command.PAUSE, clock.now())
    assert not any(isinstance(a, Snooze) for a in coach.heard(Command.STOP, clock.now()))


def test_no_suggestion_while_a_pause_is_running():
    clock = FakeClock()
    coach = Coach()
    coach.heard(Command.PAUSE, clock.now())
    assert suggest(coach, clock) == []
    assert coach.on_event(RaisedVoice(t=1.0, start=0.5, speaker="A"), clock.now()) == []


def test_no_shaming_words_in_anything_the_coach_says():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=2, warn_before_end_min=1))
    texts = []
    texts.append(says(suggest(coach, clock)))
    texts.append(says(coach.heard(None, clock.now())))
    texts.append(says(coach.heard(Command.NOT_NOW, clock.now())))
    clock.advance(3600)
    texts.append(says(suggest(coach, clock)))
    texts.append(says(coach.heard(Command.HELP, clock.now())))
    texts.append(says(coach.heard(Command.YES, clock.now())))
    for _ in range(200):
        clock.advance(1)
        texts.append(says(coach.tick(clock.now())))
    all_text = " ".join(texts).lower()
    assert all(word not in all_text for word in SHAMING)


def test_a_pause_counts_the_time_the_machine_was_suspended():
    # the lid closed at the start of a 20-minute pause and opened two hours later: the monotonic clock (the loop's
    # now) stood still meanwhile; the pause is real minutes apart, so "Welcome back" comes at the first tick
    clock = FakeClock(100.0)
    coach = Coach(PauseSettings(length_min=20, warn_before_end_min=2), suspended=clock.suspended)
    coach.heard(Command.PAUSE, clock.now(), unprompted=True)
    clock.advance(30)
    clock.suspend(2 * 3600)
    clock.advance(1)
    assert coach.state(clock.now()).pause_left_s == 0.0
    end = coach.tick(clock.now())
    assert "Welcome back" in says(end) and "minutes left" not in says(end)
    assert PauseEnded(PauseEnd.COMPLETED, round((31 + 2 * 3600) / 60.0, 2)) in end


def test_a_short_suspend_inside_a_pause_shortens_what_is_left_by_its_length():
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=20, warn_before_end_min=0), suspended=clock.suspended)
    clock.suspend(500)  # a suspend before the pause does not count towards it
    coach.heard(Command.PAUSE, clock.now(), unprompted=True)
    clock.advance(60)
    clock.suspend(5 * 60)
    assert coach.state(clock.now()).pause_left_s == 14 * 60
    clock.advance(14 * 60 - 1)
    assert coach.tick(clock.now()) == []
    clock.advance(1)
    assert "Welcome back" in says(coach.tick(clock.now()))


def test_help_and_repeat_at_the_welcome_back_question_keep_it_open():
    """'Would you like a short check-in together?' after a pause: help (the h key, or "help") was taken as no answer
    and the question dropped without a word; now help says what the answers do and the question stays open, and
    "repeat" asks it again. Silence after that is the one re-listen, as before."""
    clock = FakeClock()
    coach = Coach(PauseSettings(length_min=10))
    coach.heard(Command.PAUSE, clock.now())
    assert "short check-in together" in says(coach.heard(Command.STOP, clock.now()))
    helped = coach.heard(Command.HELP, clock.now())
    assert "Say okay to have a short check-in" in says(helped) and any(isinstance(a, Listen) for a in helped)
    again = coach.heard(Command.REPEAT, clock.now())
    assert "Would you like a short check-in together?" in says(again) and any(isinstance(a, Listen) for a in again)
    assert StartCheckin("after-pause", consented=True) in coach.heard(Command.YES, clock.now())
