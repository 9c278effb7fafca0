"""The router: who hears each command, event and time-out. Pure, driven by a fake clock in milliseconds."""

from __future__ import annotations

import textwrap

import pytest

from voicecoach.actions import DeleteNote, PlayNote, Say, Snooze
from voicecoach.checkin.runner import TURN_COMMANDS, ScriptRunner
from voicecoach.checkin.script import parse_script
from voicecoach.clock import FakeClock
from voicecoach.coach import DURING_PAUSE, Coach, Mode
from voicecoach.commands import Command, Option, Source
from voicecoach.config import PauseSettings
from voicecoach.events import Heard, Interruption, PauseSuggested
from voicecoach.notes_flow import NotesFlow, NoteSummary
from voicecoach.records import (Answer, CheckinEnded, CheckinOutcome, CheckinStarted, PauseEnd, PauseEnded,
                                PauseStarted, SuggestionAnswered)
from voicecoach.router import AnswerElsewhere, FindNotes, Router, Withheld

SCRIPT = textwrap.dedent('''
    title = "Test"
    minutes = 5
    consent = "Ready?"
    [[steps]]
    type = "turn"
    for = "a"
    minutes = 2
    text = "Sam, go."
    [[steps]]
    type = "choose"
    text = "Now or later?"
    options = ["now", "later"]
    sets = "when"
    [[steps]]
    type = "say"
    text = "Then {when}."
    ''')


class Rig:
    """A router with a real coach, notes flow and check-in runner; ``now`` from a fake clock."""

    def __init__(self, script: str = SCRIPT) -> None:
        self.clock = FakeClock()
        self.runners: list[ScriptRunner] = []

        def checkins(name: str) -> ScriptRunner:
            runner = ScriptRunner(parse_script(script, f"{name}.toml"), ("Sam", "Alex"), speech_wpm=float("inf"))
            self.runners.append(runner)
            return runner

        self.router = Router(Coach(PauseSettings(length_min=20)), NotesFlow(("Sam", "Alex"), True, wall=lambda: 0.0),
                             checkins, anytime=frozenset({Command.PAUSE}))
        self.effects: list = []

    def now(self) -> float:
        return self.clock.now()

    def say(self, reply, source: Source = Source.VOICE) -> list:
        out = self.router.on_heard(Heard(t=self.now(), reply=reply, text="", source=source), self.now())
        self.effects += out
        return out

    def spoken(self, seconds: float = 0.5) -> list:
        """The prompt has been spoken: time passes with nothing being said."""
        self.clock.advance(seconds)
        out = self.router.tick(self.now(), prompt_done=True)
        self.effects += out
        return out

    def detect(self, event) -> list:
        out = self.router.on_detection(event, self.now())
        self.effects += out
        return out


def says(effects) -> str:
    return " ".join(e.text for e in effects if isinstance(e, Say))


def suggestion(t: float = 1.0) -> PauseSuggested:
    return PauseSuggested(t=t, reason="3 interruptions in 60 s")


def test_a_question_hears_its_answer_only_once_it_has_been_spoken():
    rig = Rig()
    rig.detect(suggestion())
    assert rig.router.window is None and not rig.router.hearing.listening  # still being said
    rig.spoken()
    assert rig.router.window == (1, 0.5)
    assert rig.router.hearing.commands >= {Command.YES, Command.NOT_NOW, Command.PAUSE}
    effects = rig.say(Command.NOT_NOW)
    assert SuggestionAnswered(Answer.NOT_NOW) in effects and Snooze(15.0) in effects
    assert rig.router.window is None and rig.router.idle


def test_a_typed_answer_counts_even_while_the_question_is_still_being_said():
    rig = Rig()
    rig.detect(suggestion())
    effects = rig.say(Command.YES, Source.KEYBOARD)
    assert SuggestionAnswered(Answer.YES) in effects and rig.router.coach.mode is Mode.PAUSING


def test_silence_runs_the_window_out_on_the_fake_clock():
    rig = Rig()
    rig.detect(suggestion())
    rig.spoken(0.1)
    answer_s = PauseSettings().answer_s
    rig.clock.advance(answer_s - 0.5)
    assert rig.router.tick(rig.now(), prompt_done=True) == []  # not yet
    rig.clock.advance(0.5)
    again = rig.router.tick(rig.now(), prompt_done=True)
    assert "Just checking" in says(again)  # one gentle repeat, and a new window
    assert rig.router.window is None
    rig.spoken(0.1)
    assert rig.router.window is not None and rig.router.window[0] == 2


def test_a_window_waits_for_an_answer_still_forming_but_not_for_ever():
    """Audio heard in the window may still give its answer (the recognizer is behind, or half-way through "yes"):
    the time-out waits for it, ANSWER_LATE_S at most; the answer that comes meanwhile answers this question."""
    from voicecoach.router import ANSWER_LATE_S

    rig = Rig()
    rig.detect(suggestion())
    rig.spoken(0.1)
    rig.clock.advance(PauseSettings().answer_s + 0.5)
    assert rig.router.tick(rig.now(), prompt_done=True, answer_forming=True) == []
    assert rig.router.window is not None
    assert SuggestionAnswered(Answer.YES) in rig.say(Command.YES)
    rig = Rig()
    rig.detect(suggestion())
    rig.spoken(0.1)
    rig.clock.advance(PauseSettings().answer_s + ANSWER_LATE_S)
    assert "Just checking" in says(rig.router.tick(rig.now(), prompt_done=True, answer_forming=True))


def test_the_double_clap_answers_yes_to_an_open_question_next_in_a_turn_and_means_pause_otherwise():
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now())  # "Ready?" (the kiosk's ritual consent)
    rig.spoken()
    assert rig.router.clap_means is Command.YES
    rig.say(Command.PAUSE, Source.CLAP)
    turn = rig.runners[0].state
    assert turn.step_type == "turn"  # the check-in began: the clap was "yes"
    assert rig.router.coach.mode is Mode.LISTENING and rig.router.clap_means is Command.NEXT
    rig.say(Command.PAUSE, Source.CLAP)  # a partner's turn: "next", done (was: the check-in ended for the pause)
    assert rig.router.runner is rig.runners[0] and rig.runners[0].state.step_index == turn.step_index + 1
    assert rig.router.coach.mode is Mode.LISTENING
    assert not [e for e in rig.effects if isinstance(e, CheckinEnded)]
    idle = Rig()
    assert idle.router.clap_means is Command.PAUSE
    idle.say(Command.PAUSE, Source.CLAP)  # no question, no check-in: the agreed signal for the pause
    assert idle.router.coach.mode is Mode.PAUSING


def test_a_spoken_pause_at_an_open_question_is_still_the_pause():
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now())
    rig.spoken()
    rig.say(Command.PAUSE)
    assert rig.router.runner is None and rig.router.coach.mode is Mode.PAUSING


def test_during_a_check_in_the_runner_hears_commands_and_detector_events():
    rig = Rig()
    assert CheckinStarted("nightly") in rig.router.start_checkin("nightly", rig.now())
    rig.spoken()
    rig.say(Command.YES)  # consent
    assert rig.router.hearing.strict == TURN_COMMANDS | {Command.PAUSE}  # a turn: "next" alone counts
    rig.clock.advance(40)
    reminder = rig.detect(Interruption(t=40.0, start=39.5, speaker="B", over="A"))
    assert "It's Sam's turn" in says(reminder)
    assert rig.detect(suggestion()) != [] and rig.router.coach.mode is Mode.LISTENING  # the runner's reminder
    rig.say(Command.NEXT)
    assert "Now or later?" in says(rig.effects)


def test_a_questions_own_choices_are_listened_for_and_picked():
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now(), consented=True)
    rig.say(Command.NEXT)
    rig.spoken()
    hearing = rig.router.hearing
    assert hearing.listening and hearing.options == ("now", "later")
    effects = rig.say(Option("later"))
    assert "Okay, later." in says(effects) and "Then later." in says(effects)
    assert rig.router.runner is None and CheckinEnded in {type(e) for e in effects}


@pytest.mark.parametrize("clap_worded, picked", [(True, "later"), (False, "now")])
def test_a_clap_at_a_choice_picks_what_its_words_said(clap_worded, picked):
    """Worded for the clap alone (no speech model: "Clap twice for later, or stay quiet for now."; the runtime sets
    ``clap_worded``), a clap picks the option the words named; said as "Say now or later." (a model loaded), it is
    yes to the choice's first option, as before."""
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now(), consented=True)
    rig.say(Command.NEXT)
    rig.router.clap_worded = clap_worded
    rig.spoken()
    assert rig.router.clap_means == (Option("later") if clap_worded else Command.YES)
    effects = rig.say(Command.PAUSE, Source.CLAP)
    assert f"Okay, {picked}." in says(effects) and f"Then {picked}." in says(effects)
    assert rig.router.coach.mode is Mode.LISTENING


def test_while_the_pause_runs_more_time_and_stop_are_heard_said_alone():
    rig = Rig()
    rig.say(Command.PAUSE)
    assert rig.router.hearing.strict == DURING_PAUSE | {Command.PAUSE}
    assert "five more minutes" in says(rig.say(Command.MORE_TIME))


def test_voice_notes_only_when_nothing_else_is_under_way():
    rig = Rig()
    assert rig.say(Command.PLAY_NOTES, Source.KEYBOARD) == [FindNotes()]
    effects = rig.router.notes_found([NoteSummary(1, 0.0, "A")], rig.now())
    assert "There is one note" in says(effects) and PlayNote(1) in effects
    assert "delete it" in says(rig.router.note_played(1, True, rig.now()))   # asked once it plays
    rig.spoken()
    assert "Kept" in says(rig.say(Command.NOT_NOW))
    rig.say(Command.PAUSE)
    assert rig.say(Command.PLAY_NOTES) == [] and rig.say(Command.LEAVE_NOTE) == []


def test_suggestions_are_held_back_while_asked_and_not_offered_twice():
    rig = Rig()
    rig.router.hold_suggestions = True
    assert rig.detect(suggestion()) == [Withheld(suggestion(), "quiet hours")] and rig.router.held == 1
    rig.router.hold_suggestions = False
    assert "Shall we take" in says(rig.detect(suggestion()))
    assert rig.detect(suggestion(2.0)) == [Withheld(suggestion(2.0), "a question is open")]  # already asking


def test_a_failing_check_in_is_ended_as_failed_and_the_loop_goes_on(caplog):
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now(), consented=True)
    runner = rig.runners[0]

    def broken(reply, now):
        raise ZeroDivisionError("a bug in a step type")

    runner.heard = broken
    effects = rig.say(Command.NEXT)
    assert [e.outcome for e in effects if isinstance(e, CheckinEnded)] == [CheckinOutcome.FAILED]
    assert "something went wrong" in says(effects) and rig.router.runner is None
    assert "ZeroDivisionError" in caplog.text
    assert "Shall we take" in says(rig.detect(suggestion()))  # the coach goes on


def test_a_check_in_that_cannot_start_is_said_and_named():
    rig = Rig()
    rig.router.checkins = lambda name: (_ for _ in ()).throw(__import__("voicecoach.errors").errors.InputError(
        f"no check-in script called {name!r}"))
    assert "can't start that check-in" in says(rig.router.start_checkin("evening", rig.now()))
    assert "evening" in rig.router.problem and rig.router.idle


def test_closing_records_a_running_pause_and_check_in_as_cut_short():
    rig = Rig()
    rig.say(Command.PAUSE)
    rig.clock.advance(60)
    assert rig.router.close(rig.now()) == [PauseEnded(PauseEnd.CUT_SHORT, 1.0)]
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now(), consented=True)
    rig.clock.advance(30)
    (ended,) = rig.router.close(rig.now())
    assert ended.outcome is CheckinOutcome.CUT_SHORT and ended.minutes == 0.5


@pytest.mark.parametrize("manual", [True, False])
def test_the_pause_taken_is_recorded_once_with_how_it_began(manual):
    rig = Rig()
    if manual:
        rig.say(Command.PAUSE)
    else:
        rig.detect(suggestion())
        rig.spoken()
        rig.say(Command.YES)
    assert [e for e in rig.effects if isinstance(e, PauseStarted)] == [PauseStarted(20.0, manual)]


def test_a_command_an_extension_answers_goes_to_it_only_when_nothing_is_under_way():
    rig = Rig()
    rig.router.answered_elsewhere = frozenset({Command.PAIRING_CODE})
    assert rig.say(Command.PAIRING_CODE) == [AnswerElsewhere(Command.PAIRING_CODE)]
    rig.say(Command.PAUSE)
    assert rig.say(Command.PAIRING_CODE) == []  # not during the pause


def test_a_suggestion_a_check_in_says_nothing_about_is_withheld_not_passed_on_as_made():
    """Before its consent question is answered, and once its one reminder is given, a check-in says nothing of the
    pause: the suggestion was stored, shown and passed to observers as 'pause_suggested' though nobody heard one."""
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now())
    rig.spoken()
    assert rig.detect(suggestion()) == [Withheld(suggestion(), "a check-in is running")]  # consent: not yet asked
    rig.say(Command.YES)
    rig.clock.advance(40)
    assert "say pause" in says(rig.detect(suggestion(41.0)))  # the check-in's one reminder: offered
    rig.clock.advance(20)
    assert rig.detect(suggestion(61.0)) == [Withheld(suggestion(61.0), "a check-in is running")]
    assert rig.router.runner is not None and rig.router.held == 0  # held counts quiet hours only


def _in_a_check_in() -> Rig:
    rig = Rig()
    rig.router.start_checkin("nightly", rig.now())
    rig.spoken()
    rig.say(Command.YES)
    rig.clock.advance(40)
    return rig


def test_the_check_ins_reminder_of_the_pause_is_a_suggestion_made_and_taken():
    """During a check-in a raised talk gets the runner's one reminder ("... say pause") instead of the coach's
    question. It was no suggestion made: the summary, the report and the home's "pauses suggested" missed it, and
    the pause taken after it counted as taken unoffered. Now it is one, answered yes when they take the pause."""
    from voicecoach.records import SuggestionMade

    rig = _in_a_check_in()
    offered = rig.detect(suggestion(41.0))
    assert "say pause" in says(offered)
    assert offered[0] == SuggestionMade("3 interruptions in 60 s", 41.0)
    taken = rig.say(Command.PAUSE)
    kinds = [type(e).__name__ for e in taken]
    assert SuggestionAnswered(Answer.YES) in taken and kinds.index("SuggestionAnswered") < kinds.index("PauseStarted")
    assert rig.router.coach.mode is Mode.PAUSING


def test_a_raised_voice_in_a_check_in_gets_the_reminder_counted_and_unanswered_at_its_end():
    from voicecoach.events import RaisedVoice
    from voicecoach.records import SuggestionMade

    rig = _in_a_check_in()
    offered = rig.detect(RaisedVoice(t=41.0, start=39.0, speaker="A"))
    assert "say pause" in says(offered) and isinstance(offered[0], SuggestionMade)
    assert rig.detect(suggestion(50.0)) == [Withheld(suggestion(50.0), "a check-in is running")]  # one reminder
    ended = rig.router.close(rig.now())
    assert SuggestionAnswered(Answer.NO_ANSWER) in ended
    assert sum(isinstance(e, SuggestionMade) for e in rig.effects) == 1


def test_in_quiet_hours_a_running_check_in_gives_no_reminder_of_the_pause_and_goes_on():
    """A check-in begun before the kiosk's quiet hours ran on into them and, at a raised voice, said "Just a
    reminder: if either of you would like the pause you agreed on, say pause" at night: a suggestion of the pause,
    which quiet hours hold back. Now it is withheld like the coach's; the check-in goes on, "pause" still works, and
    once quiet hours end the one reminder is still there to give."""
    from voicecoach.events import RaisedVoice

    rig = _in_a_check_in()
    rig.router.hold_suggestions = True
    assert rig.detect(RaisedVoice(t=41.0, start=39.0, speaker="A")) == []
    assert rig.detect(suggestion(42.0)) == [Withheld(suggestion(42.0), "quiet hours")] and rig.router.held == 1
    assert "It's Sam's turn" in says(rig.detect(Interruption(t=43.0, start=42.5, speaker="B", over="A")))
    assert rig.router.runner is not None and not rig.router.coach.busy
    rig.router.hold_suggestions = False
    assert "say pause" in says(rig.detect(suggestion(50.0)))
    assert rig.say(Command.PAUSE) and rig.router.coach.mode is Mode.PAUSING


def test_play_my_notes_said_again_while_they_are_looked_up_starts_no_second_lookup():
    # the lookup runs on the notes' thread (journal/note_worker.py): its answer comes ticks later. Before, a second
    # "play my notes" meanwhile started a second lookup, and the notes were played through twice
    rig = Rig()
    assert rig.say(Command.PLAY_NOTES, Source.KEYBOARD) == [FindNotes()]
    again = rig.say(Command.PLAY_NOTES)
    assert FindNotes() not in again and "still looking" in says(again)
    assert rig.say(Command.LEAVE_NOTE) == []  # not recorded over the notes about to play
    assert not rig.router.idle
    assert rig.detect(suggestion()) == [Withheld(suggestion(), "a voice note is under way")]
    effects = rig.router.notes_found([NoteSummary(1, 0.0, "A")], rig.now())
    assert "There is one note" in says(effects)
    rig.router.note_played(1, True, rig.now())
    rig.spoken()
    rig.say(Command.YES)
    assert rig.say(Command.PLAY_NOTES) == [FindNotes()]  # once answered, a new lookup is made


def test_notes_found_after_the_couple_asked_for_the_pause_are_not_played():
    # "pause" said while the notes were looked up (on the notes' thread): the pause began, then the notes' answer
    # came and started playing them in the middle of the pause the couple had asked for
    rig = Rig()
    assert rig.say(Command.PLAY_NOTES) == [FindNotes()]
    assert rig.say(Command.PAUSE) and rig.router.coach.mode is Mode.PAUSING
    assert rig.router.notes_found([NoteSummary(1, 0.0, "A")], rig.now()) == []
    assert rig.router.coach.mode is Mode.PAUSING and not rig.router.notes.active


def test_the_h_key_outside_a_question_says_what_can_be_said_but_help_heard_in_the_talk_does_not():
    rig = Rig()
    assert says(rig.say(Command.HELP)) == ""  # a word of the talk, recognised: nobody asked voicecoach
    for source in (Source.KEYBOARD, Source.WEB):
        help_text = says(rig.say(Command.HELP, source=source))
        assert "You can say: pause" in help_text, source  # was: nothing, though every key line lists "h help"
    assert rig.router.coach.mode is Mode.LISTENING  # only said: nothing asked, nothing started


NOTES = [NoteSummary(1, 0.0, "A"), NoteSummary(2, 0.0, "B")]


def test_play_my_notes_heard_in_the_talk_asks_first_and_plays_only_on_yes():
    # the recognizer can hear "play notes" in ordinary talk (the Korean model: 58 times in 19 minutes of English):
    # before, every such mishearing played the couple's private notes aloud at once
    for answer, source in ((Command.YES, Source.VOICE), (Command.PAUSE, Source.CLAP)):  # the double clap: yes
        rig = Rig()
        assert rig.say(Command.PLAY_NOTES) == [FindNotes()]
        asked = rig.router.notes_found(NOTES, rig.now())
        assert says(asked) == "You have 2 voice notes. Shall I play them? Say okay, or not now."
        assert not any(isinstance(e, PlayNote) for e in asked) and not rig.router.idle
        assert rig.detect(suggestion()) == [Withheld(suggestion(), "a voice note is under way")]
        rig.spoken()
        assert rig.router.hearing.commands >= {Command.YES, Command.NOT_NOW}
        played = rig.say(answer, source)
        assert PlayNote(1) in played and "A note from Sam" in says(played), source


def test_play_my_notes_heard_in_the_talk_plays_nothing_on_not_now_or_silence():
    for answer in (Command.NOT_NOW, Command.STOP, None):
        rig = Rig()
        rig.say(Command.PLAY_NOTES)
        rig.effects += rig.router.notes_found(NOTES[:1], rig.now())
        assert "You have one voice note. Shall I play it?" in says(rig.effects)
        rig.spoken()
        ended = rig.say(answer) if answer is not None else rig.spoken(8.0)
        assert not any(isinstance(e, PlayNote) for e in rig.effects), answer
        assert says(ended) == ("" if answer is None else "Okay. Your notes will wait."), answer  # silence: no word
        assert rig.router.idle and rig.router.window is None, answer
        assert rig.say(Command.PLAY_NOTES) == [FindNotes()]  # asked again later, it asks again


def test_play_my_notes_asked_for_by_key_typed_or_from_the_page_plays_at_once():
    for source in (Source.KEYBOARD, Source.WEB):
        rig = Rig()
        assert rig.say(Command.PLAY_NOTES, source) == [FindNotes()]
        effects = rig.router.notes_found(NOTES, rig.now())
        assert "There are 2 notes." in says(effects) and PlayNote(1) in effects, source


def test_play_my_notes_heard_in_the_talk_with_no_notes_says_so_as_before():
    rig = Rig()
    rig.say(Command.PLAY_NOTES)
    assert says(rig.router.notes_found([], rig.now())) == "There are no notes waiting."
    assert rig.router.idle


def test_pause_said_at_a_voice_notes_question_starts_the_pause_and_plays_no_note():
    # "pause" at any time: at "Shall I delete it?" it was taken as "keep it", and the next note played over the
    # couple's request for the pause; at "Shall I play them?" it would have ended the question and nothing more
    for ask_first in (True, False):
        rig = Rig()
        rig.say(Command.PLAY_NOTES, Source.VOICE if ask_first else Source.KEYBOARD)
        rig.effects += rig.router.notes_found(NOTES, rig.now())
        if not ask_first:
            rig.effects += rig.router.note_played(1, True, rig.now())  # "Shall I delete it?"
        rig.spoken()
        effects = rig.say(Command.PAUSE)
        assert any(isinstance(e, PauseStarted) for e in effects), ask_first
        assert rig.router.coach.mode is Mode.PAUSING and not rig.router.notes.active
        assert PlayNote(2) not in rig.effects and "Kept" not in says(effects), ask_first
        assert not any(isinstance(e, DeleteNote) for e in rig.effects)


def test_play_my_notes_said_again_at_shall_i_play_them_asks_again():
    rig = Rig()
    rig.say(Command.PLAY_NOTES)
    rig.router.notes_found(NOTES, rig.now())
    rig.spoken()
    again = rig.say(Command.PLAY_NOTES)
    assert "Shall I play them?" in says(again) and not any(isinstance(e, PlayNote) for e in again)
