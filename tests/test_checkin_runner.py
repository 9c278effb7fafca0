"""The pure ScriptRunner, driven by a FakeClock: every step type, every command, consent, reminders, timing."""

from __future__ import annotations

import textwrap
import time

import pytest

from voicecoach.actions import Listen, Say
from voicecoach.checkin.library import Library
from voicecoach.checkin.runner import COMMANDS, Phase, ScriptRunner
from voicecoach.checkin.script import parse_script
from voicecoach.checkin.settings import CheckinSettings
from voicecoach.clock import FakeClock
from voicecoach.commands import ClapChoice, Command, Option, parse_reply as reply
from voicecoach.events import Interruption, PauseSuggested, RaisedVoice
from voicecoach.records import CheckinEnded, CheckinLater

NAMES = ("Sam", "Alex")
HEAD = 'title = "Test"\nminutes = 5\nconsent = "Ready, {a} and {b}?"\n'


def make(body: str, offer_later: bool = False, settings: CheckinSettings | None = None,
         head: str = HEAD) -> ScriptRunner:
    """A runner over a small script written inline (a speech rate so fast that prompts take no time)."""
    script = parse_script(head + textwrap.dedent(body), "test.toml")
    return ScriptRunner(script, NAMES, settings or CheckinSettings(), offer_later=offer_later, speech_wpm=float("inf"))


def says(actions) -> list[str]:
    """The texts of the Say actions."""
    return [a.text for a in actions if isinstance(a, Say)]


def finished(actions) -> str | None:
    """How the check-in ended, if it did in these actions."""
    return next((a.outcome.value for a in actions if isinstance(a, CheckinEnded)), None)


def record(actions, kind: str = "checkin") -> dict | None:
    """The first CheckinEnded ("checkin") or CheckinLater ("checkin_later") record, as a dict."""
    for a in actions:
        if kind == "checkin" and isinstance(a, CheckinEnded):
            return {"name": a.name, "completed": a.completed, "reason": a.outcome.value,
                    "steps_done": a.steps_done, "steps_total": a.steps_total, "minutes": a.minutes}
        if kind == "checkin_later" and isinstance(a, CheckinLater):
            return {"name": a.name, "accepted": a.accepted, "after_min": a.after_min}
    return None


def listens(actions) -> list[Listen]:
    """The Listen actions."""
    return [a for a in actions if isinstance(a, Listen)]


class Drive:
    """Plays a runner the way the runtime does: Say takes no time, Listen gets the next scripted answer.

    Answers: a command name, or "-" for silence (the Listen's time runs out). Timed turns pass by ticking the
    fake clock once a second.
    """

    def __init__(self, runner: ScriptRunner, answers: list[str] | tuple[str, ...] = ()) -> None:
        self.runner = runner
        self.clock = FakeClock()
        self.answers = list(answers)
        self.log: list[tuple[float, object]] = []

    def run(self, max_s: float = 6 * 3600.0) -> list:
        """Drive to the end; returns every action in order (also in ``log`` with its time)."""
        pending = list(self.runner.start(self.clock.now()))
        while (pending or not self.runner.done) and self.clock.now() < max_s:
            if not pending:
                self.clock.advance(1.0)
                pending += self.runner.tick(self.clock.now())
                continue
            action = pending.pop(0)
            self.log.append((self.clock.now(), action))
            if isinstance(action, Listen):
                answer = self.answers.pop(0) if self.answers else "-"
                if answer == "-":
                    self.clock.advance(action.timeout_s)
                    pending += self.runner.heard(None, self.clock.now())
                else:
                    self.clock.advance(1.0)
                    pending += self.runner.heard(reply(answer), self.clock.now())
        return [a for _, a in self.log]

    def said_at(self, text: str) -> float:
        """When a prompt containing ``text`` was said."""
        return next(t for t, a in self.log if isinstance(a, Say) and text in a.text)


TURN = '''
[[steps]]
type = "turn"
for = "a"
minutes = 3
text = "{speaker}, go ahead."
'''


# --- consent ---------------------------------------------------------------------------------------------------

def test_every_script_begins_by_asking_for_consent() -> None:
    runner = make(TURN)
    actions = runner.start(0.0)
    assert says(actions) == ["Ready, Sam and Alex?"]
    assert listens(actions)[0].timeout_s == CheckinSettings().answer_s
    assert set(COMMANDS) <= set(listens(actions)[0].commands)
    assert runner.state.step_type == "consent"


def test_not_now_at_consent_ends_kindly_and_records_an_unfinished_checkin() -> None:
    runner = make(TURN)
    runner.start(0.0)
    actions = runner.heard(reply("not_now"), 3.0)
    assert says(actions) == ["That's okay. Another time."]
    assert finished(actions) == "declined"
    assert record(actions) == {"name": "test", "completed": False, "reason": "declined", "steps_done": 0,
                               "steps_total": 2, "minutes": 0.05}
    assert runner.done and runner.heard(reply("yes"), 4.0) == [] and runner.tick(5.0) == []


def test_not_now_in_the_kiosk_offers_a_later_time_and_records_the_choice() -> None:
    runner = make(TURN, offer_later=True)
    runner.start(0.0)
    offer = runner.heard(reply("not now"), 1.0)
    assert says(offer) == ["That's okay. Shall I ask again in an hour? Say yes, or not now."]
    actions = runner.heard(reply("yes"), 2.0)
    assert record(actions, "checkin_later") == {"name": "test", "accepted": True, "after_min": 60.0}
    assert says(actions) == ["Okay. I'll ask again in an hour."]
    assert finished(actions) == "later"


def test_declining_the_later_offer_too_is_recorded_and_ends() -> None:
    runner = make(TURN, offer_later=True)
    runner.start(0.0)
    runner.heard(reply("not_now"), 1.0)
    actions = runner.heard(reply("not_now"), 2.0)
    assert record(actions, "checkin_later")["accepted"] is False
    assert finished(actions) == "declined"


def test_silence_at_consent_gets_one_gentle_reprompt_then_ends_quietly() -> None:
    actions = Drive(make(TURN), ["-", "-"]).run()
    assert says(actions) == ["Ready, Sam and Alex?", "Is now a good time? Say yes, or not now."]
    assert finished(actions) == "no_answer"


# --- turn: timing, warnings and commands -------------------------------------------------------------------------

def test_a_turn_warns_one_minute_before_the_end_and_says_times_up() -> None:
    drive = Drive(make(TURN), ["yes"])
    actions = drive.run()
    assert says(actions)[1:] == ["Sam, go ahead.", "One minute left.", "Time's up. Thank you, Sam.",
                                 "That's the end. Thank you both."]
    start = drive.said_at("go ahead")
    assert drive.said_at("One minute left") - start == pytest.approx(120.0, abs=1.0)
    assert drive.said_at("Time's up") - start == pytest.approx(180.0, abs=1.0)
    assert finished(actions) == "completed"
    assert record(actions)["completed"] is True and record(actions)["steps_done"] == 2


def test_custom_warnings_are_spoken_at_their_times() -> None:
    runner = make(TURN.replace("minutes = 3", "minutes = 10\nwarn_at = [5, 2, 0.5]"))
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    spoken = {t: says(runner.tick(float(t))) for t in range(1, 601)}
    warnings = {t: s for t, s in spoken.items() if s}
    assert warnings == {300: ["Five minutes left."], 480: ["Two minutes left."], 570: ["Thirty seconds left."],
                        600: ["Time's up. Thank you, Sam.", "That's the end. Thank you both."]}


def test_the_turn_clock_starts_after_the_prompt_is_spoken() -> None:
    script = parse_script(HEAD + TURN, "test.toml")
    runner = ScriptRunner(script, NAMES, speech_wpm=60.0)  # one word a second: "Sam, go ahead." takes 3 s
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert runner.state.seconds_left == pytest.approx(183.0)


def test_next_ends_a_turn_early_without_times_up() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    actions = runner.heard(reply("next"), 30.0)
    assert says(actions) == ["Thank you, Sam.", "That's the end. Thank you both."]
    assert finished(actions) == "completed"


def test_more_time_adds_the_configured_seconds_and_rearms_the_warning() -> None:
    runner = make(TURN, settings=CheckinSettings(more_time_s=90.0))
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert says(runner.tick(120.0)) == ["One minute left."]
    assert says(runner.heard(reply("more_time"), 150.0)) == ["Okay, a minute and a half more."]
    assert runner.state.seconds_left == pytest.approx(120.0)
    assert says(runner.tick(209.0)) == []
    assert says(runner.tick(210.0)) == ["One minute left."]
    assert says(runner.tick(269.0)) == []
    assert says(runner.tick(270.0))[0] == "Time's up. Thank you, Sam."


def test_repeat_during_a_turn_repeats_the_prompt_and_keeps_the_clock() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert says(runner.heard(reply("repeat"), 10.0)) == ["Sam, go ahead."]
    assert says(runner.heard(reply("repeat"), 100.0)) == ["Sam, go ahead. About a minute and a half left."]
    assert runner.state.seconds_left == pytest.approx(80.0)


def test_skip_moves_on_without_counting_the_step() -> None:
    runner = make(TURN + TURN.replace('"a"', '"b"'))
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    actions = runner.heard(reply("skip"), 5.0)
    assert says(actions) == ["Okay, moving on.", "Alex, go ahead."]
    actions = runner.heard(reply("stop"), 6.0)
    assert record(actions)["steps_done"] == 0


def test_stop_ends_kindly_from_any_step() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    actions = runner.heard(reply("stop"), 60.0)
    assert says(actions) == ["Okay, we'll stop here. Thank you both for the time."]
    assert finished(actions) == "stopped"
    assert record(actions)["completed"] is False and record(actions)["minutes"] == 1.0


def test_pause_hands_over_to_the_agreed_pause() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    actions = runner.heard(reply("pause"), 60.0)
    assert says(actions) == []  # the runtime's pause speaks its own words
    assert finished(actions) == "pause"
    assert record(actions)["reason"] == "pause"


def test_help_during_a_turn_names_the_commands_without_listening() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    actions = runner.heard(reply("help"), 10.0)
    assert says(actions) == ["Say next when you're done, or more time, repeat, skip, pause, or stop."]
    assert listens(actions) == []


def test_answers_that_mean_nothing_in_a_turn_are_ignored() -> None:
    runner = make(TURN)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert runner.heard(reply("yes"), 10.0) == [] and runner.heard(reply("not_now"), 11.0) == []
    assert runner.heard(None, 12.0) == []  # a stray time-out is not the end of the turn


def test_an_open_turn_for_both_has_nobody_on_the_floor() -> None:
    runner = make('[[steps]]\ntype = "turn"\nminutes = 2\n')
    runner.start(0.0)
    actions = runner.heard(reply("yes"), 0.0)
    assert says(actions) == ["You have two minutes to talk it through together."]
    assert runner.state.speaker is None
    assert says(runner.tick(121.0))[0] == "Time's up."


# --- say, ask, pause, end ------------------------------------------------------------------------------------------

ASK = '''
[[steps]]
type = "ask"
text = "Shall we add a turn?"
yes_text = "Good."
not_now_text = "Fine."
on_not_now = "skip"
[[steps]]
type = "turn"
for = "b"
minutes = 1
[[steps]]
type = "say"
id = "last"
text = "Last words."
'''


def test_say_steps_run_straight_on_to_the_next_step() -> None:
    runner = make('[[steps]]\ntype = "say"\ntext = "One."\n[[steps]]\ntype = "say"\ntext = "Two."\n')
    runner.start(0.0)
    actions = runner.heard(reply("yes"), 1.0)
    assert says(actions) == ["One.", "Two.", "That's the end. Thank you both."]
    assert finished(actions) == "completed"


def test_ask_yes_takes_the_yes_branch() -> None:
    runner = make(ASK)
    runner.start(0.0)
    assert says(runner.heard(reply("yes"), 1.0)) == ["Shall we add a turn?"]
    actions = runner.heard(reply("yes"), 2.0)
    assert says(actions)[0] == "Good." and runner.state.step_type == "turn"
    assert runner.state.speaker == "B" and runner.state.speaker_name == "Alex"


def test_ask_not_now_takes_its_branch() -> None:
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    actions = runner.heard(reply("not_now"), 2.0)
    assert says(actions) == ["Fine.", "Last words.", "That's the end. Thank you both."]


def test_ask_branches_may_jump_to_a_step_id_or_to_the_end() -> None:
    runner = make(ASK.replace('on_not_now = "skip"', 'on_not_now = "last"\non_yes = "end"'))
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert says(runner.heard(reply("not_now"), 2.0))[:2] == ["Fine.", "Last words."]
    runner = make(ASK.replace('on_not_now = "skip"', 'on_yes = "end"'))
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    actions = runner.heard(reply("yes"), 2.0)
    assert says(actions) == ["Good.", "That's the end. Thank you both."] and finished(actions) == "completed"


def test_silence_on_a_question_gets_one_reprompt_then_moves_on() -> None:
    drive = Drive(make(ASK.replace('on_not_now = "skip"', 'on_silence = "last"')), ["yes", "-", "-"])
    actions = drive.run()
    assert says(actions)[1:4] == ["Shall we add a turn?", "Just checking: Shall we add a turn?", "Last words."]


def test_repeat_more_time_and_help_on_a_question_keep_listening() -> None:
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    actions = runner.heard(reply("repeat"), 2.0)
    assert says(actions) == ["Shall we add a turn?"] and len(listens(actions)) == 1
    actions = runner.heard(reply("more_time"), 3.0)
    assert says(actions) == ["Take your time."]
    assert listens(actions)[0].timeout_s == CheckinSettings().answer_s + CheckinSettings().more_time_s
    actions = runner.heard(reply("help"), 4.0)
    assert says(actions)[0].startswith("Say yes, or not now.") and len(listens(actions)) == 1
    assert says(runner.heard(reply("something"), 5.0)) == []


def test_next_and_skip_on_a_question_move_on() -> None:
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert runner.heard(reply("next"), 2.0) and runner.state.step_type == "turn"
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert says(runner.heard(reply("skip"), 2.0))[0] == "Okay, moving on."


def test_a_pause_step_is_a_quiet_timed_moment() -> None:
    runner = make('[[steps]]\ntype = "pause"\nseconds = 20\nend_text = "Welcome back."\n')
    runner.start(0.0)
    assert says(runner.heard(reply("yes"), 0.0)) == ["Let's take a quiet moment, just to breathe."]
    assert runner.tick(19.0) == []
    assert says(runner.tick(20.0)) == ["Welcome back.", "That's the end. Thank you both."]


def test_a_pause_step_can_be_cut_short_with_next() -> None:
    runner = make('[[steps]]\ntype = "pause"\nseconds = 60\n')
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert finished(runner.heard(reply("next"), 5.0)) == "completed"


def test_an_end_step_in_the_middle_finishes_the_script() -> None:
    runner = make('[[steps]]\ntype = "end"\ntext = "Bye."\n[[steps]]\ntype = "say"\nid = "x"\ntext = "Never."\n')
    runner.start(0.0)
    actions = runner.heard(reply("yes"), 1.0)
    assert says(actions) == ["Bye."] and finished(actions) == "completed"


# --- reflect -------------------------------------------------------------------------------------------------------

REFLECT = TURN + '''
[[steps]]
type = "reflect"
for = "a"
minutes = 1
'''


def run_to_confirm() -> ScriptRunner:
    """A runner whose listener has just finished summing up."""
    runner = make(REFLECT)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    runner.heard(reply("next"), 10.0)
    assert runner.state.speaker == "B"  # the listener has the floor while summing up
    assert says(runner.tick(70.0)) == ["Time's up. Sam, did Alex get it? Say yes, or not now if something was "
                                       "missed."]
    return runner


def test_reflect_is_the_listener_summing_up_then_the_speaker_confirming() -> None:
    runner = make(REFLECT)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert says(runner.heard(reply("next"), 10.0)) == ["Thank you, Sam.",
                                                "Alex, in your own words, what did you hear Sam say?"]
    runner = run_to_confirm()
    actions = runner.heard(reply("yes"), 71.0)
    assert says(actions) == ["Thank you both.", "That's the end. Thank you both."]
    assert record(actions)["steps_done"] == 3  # turn, reflect, end


def test_not_quite_gives_the_speaker_time_to_add_what_was_missed() -> None:
    runner = run_to_confirm()
    assert says(runner.heard(reply("not_now"), 71.0)) == ["Sam, what would you add? You have one minute."]
    assert runner.state.speaker == "A"
    assert says(runner.tick(131.0)) == ["Time's up. Thank you both.", "That's the end. Thank you both."]


def test_more_time_at_the_confirm_question_lets_the_listener_go_on() -> None:
    runner = run_to_confirm()
    assert says(runner.heard(reply("more_time"), 71.0)) == ["Okay, one minute more, Alex."]
    assert runner.state.speaker == "B"
    assert says(runner.tick(131.0))[0].startswith("Time's up. Sam, did Alex get it?")


def test_silence_at_the_confirm_question_reprompts_once_then_moves_on() -> None:
    runner = run_to_confirm()
    assert says(runner.heard(None, 80.0))[0].startswith("Just checking: Sam, did Alex get it?")
    assert finished(runner.heard(None, 90.0)) == "completed"


# --- choose and rounds ---------------------------------------------------------------------------------------------

WHO_STARTS = '''
[[steps]]
type = "choose"
text = "Who starts?"
sets = "first"
[[steps]]
type = "turn"
for = "each"
minutes = 1
text = "{speaker}, go."
end_text = ""
'''


def test_choose_by_saying_a_single_word_option() -> None:
    runner = make(WHO_STARTS)
    runner.start(0.0)
    actions = runner.heard(reply("yes"), 1.0)
    assert says(actions) == ["Who starts? Say Sam or Alex."]
    assert listens(actions)[0].options == ("Sam", "Alex")  # the recognizer listens for the names too
    assert says(runner.heard(reply("Alex"), 2.0)) == ["Okay, Alex.", "Alex, go."]


def test_choose_by_next_and_yes() -> None:
    runner = make(WHO_STARTS)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert says(runner.heard(reply("next"), 2.0)) == ["Alex?"]
    assert says(runner.heard(reply("next"), 3.0)) == ["Sam?"]
    assert says(runner.heard(reply("not_now"), 4.0)) == ["Alex?"]
    assert says(runner.heard(reply("yes"), 5.0)) == ["Okay, Alex.", "Alex, go."]


def test_no_to_every_option_of_a_choice_goes_on_with_the_default_instead_of_offering_them_round_again() -> None:
    """"Sam?" "no" "Alex?" "no" went on "Sam?" "no" "Alex?" ... for as long as they refused."""
    runner = make(WHO_STARTS)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert says(runner.heard(reply("not_now"), 2.0)) == ["Alex?"]
    actions = runner.heard(reply("not_now"), 3.0)
    assert says(actions) == ["Okay. Let's go with Sam for now.", "Sam, go."] and not listens(actions)


def test_choose_with_long_options_offers_them_one_at_a_time() -> None:
    runner = make('''
        [[steps]]
        type = "choose"
        text = "Which topic?"
        options = ["the holidays", "money"]
        sets = "topic"
        [[steps]]
        type = "say"
        text = "Let's talk about {topic}."
    ''')
    runner.start(0.0)
    assert says(runner.heard(reply("yes"), 1.0)) == ["Which topic? Say yes when you hear the one you want, or next. "
                                              "the holidays?"]
    assert says(runner.heard(reply("next"), 2.0)) == ["money?"]
    assert says(runner.heard(reply("yes"), 3.0))[:2] == ["Okay, money.", "Let's talk about money."]


def test_silence_on_a_choice_reprompts_once_then_takes_the_default() -> None:
    drive = Drive(make(WHO_STARTS), ["yes", "-", "-"])
    actions = drive.run()
    assert says(actions)[2:5] == ["Just checking: Sam? Say yes, or next.", "Let's go with Sam.", "Sam, go."]


def test_choose_goto_jumps_to_the_step_for_that_choice() -> None:
    runner = make('''
        [[steps]]
        type = "choose"
        text = "Now or later?"
        options = ["now", "later"]
        goto = { later = "later" }
        [[steps]]
        type = "end"
        text = "Carry on."
        [[steps]]
        type = "end"
        id = "later"
        text = "Pick a time."
    ''')
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert says(runner.heard(reply("later"), 2.0)) == ["Okay, later.", "Pick a time."]


def test_each_plays_a_round_once_per_partner_and_rounds_alternate_who_starts() -> None:
    body = '''
        [[steps]]
        type = "turn"
        for = "each"
        minutes = 1
        text = "{speaker} one."
        end_text = ""
        [[steps]]
        type = "turn"
        for = "other"
        minutes = 1
        text = "{speaker} answers."
        end_text = ""
        [[steps]]
        type = "say"
        text = "Next round."
        [[steps]]
        type = "turn"
        for = "each"
        minutes = 1
        text = "{speaker} two."
        end_text = ""
    '''
    actions = Drive(make(body), ["yes"]).run()
    spoken = [s for s in says(actions) if not s.startswith("Time's up")]
    assert spoken[1:] == ["Sam one.", "Alex answers.", "Alex one.", "Sam answers.", "Next round.", "Alex two.",
                          "Sam two.", "That's the end. Thank you both."]


def test_alternate_false_keeps_the_same_order_every_round() -> None:
    body = ('[[steps]]\ntype = "say"\nfor = "each"\ntext = "{speaker}."\n'
            '[[steps]]\ntype = "say"\ntext = "Again."\n'
            '[[steps]]\ntype = "say"\nfor = "each"\ntext = "{speaker}."\n')
    runner = make(body, head=HEAD + "alternate = false\n")
    runner.start(0.0)
    assert says(runner.heard(reply("yes"), 1.0))[:5] == ["Sam.", "Alex.", "Again.", "Sam.", "Alex."]


def test_who_starts_sets_the_first_round_and_first_second_steps() -> None:
    body = WHO_STARTS + '[[steps]]\ntype = "say"\nfor = "second"\ntext = "{speaker} is second."\n'
    actions = Drive(make(body), ["yes", "alex"]).run()
    spoken = [s for s in says(actions) if not s.startswith("Time's up")]
    assert spoken[3:6] == ["Alex, go.", "Sam, go.", "Sam is second."]


# --- detector events ------------------------------------------------------------------------------------------------

def in_turn(settings: CheckinSettings | None = None) -> ScriptRunner:
    """A runner 10 s into Sam's (partner A's) three-minute turn."""
    runner = make(TURN, settings=settings)
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    runner.tick(10.0)
    return runner


def interrupt(runner: ScriptRunner, t: float, by: str = "B", over: str = "A") -> list:
    """The runner's answer to an interruption."""
    return runner.on_event(Interruption(t=t, start=t - 0.5, speaker=by, over=over), t)


def test_the_listener_interrupting_gets_a_gentle_reminder() -> None:
    runner = in_turn()
    actions = interrupt(runner, 20.0)
    assert says(actions) == ["It's Sam's turn for another three minutes."]
    assert actions[0].cue == "soft" and listens(actions) == []


def test_the_reminder_names_the_time_left() -> None:
    runner = in_turn()
    assert says(interrupt(runner, 100.0)) == ["It's Sam's turn for another minute."]
    runner = make(TURN.replace("minutes = 3", "minutes = 15"))
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    assert says(interrupt(runner, 30.0)) == ["It's Sam's turn for now."]


def test_reminders_are_rate_limited_and_capped_per_turn() -> None:
    runner = in_turn(CheckinSettings(reminder_gap_s=30.0, reminders_per_turn=2))
    assert says(interrupt(runner, 20.0))
    assert says(interrupt(runner, 40.0)) == []  # within the gap
    assert says(interrupt(runner, 50.0))
    assert says(interrupt(runner, 90.0)) == []  # the cap for this turn


def test_no_reminder_for_the_speaker_themselves_nor_near_the_end_nor_outside_turns() -> None:
    runner = in_turn()
    assert interrupt(runner, 20.0, by="A", over="B") == []
    assert runner.on_event(Interruption(t=20.0, speaker=None), 20.0) == []
    assert interrupt(runner, 170.0) == []  # ten seconds left: let it be
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    assert interrupt(runner, 2.0) == []


def test_while_the_listener_sums_up_the_speaker_is_reminded_whose_turn_it_is() -> None:
    runner = make(TURN + '[[steps]]\ntype = "reflect"\nfor = "a"\nminutes = 3\n')
    runner.start(0.0)
    runner.heard(reply("yes"), 0.0)
    runner.heard(reply("next"), 10.0)
    assert says(interrupt(runner, 20.0, by="A", over="B")) == ["It's Alex's turn for another three minutes."]


def test_reminders_can_be_switched_off() -> None:
    assert interrupt(in_turn(CheckinSettings(reminders_per_turn=0)), 20.0) == []


def test_a_raised_voice_offers_the_agreed_pause_once() -> None:
    runner = in_turn()
    actions = runner.on_event(RaisedVoice(t=20.0, start=19.0, speaker="B"), 20.0)
    assert says(actions) == ["Just a reminder: if either of you would like the pause you agreed on, say pause."]
    assert runner.on_event(RaisedVoice(t=40.0, start=39.0, speaker="A"), 40.0) == []
    assert runner.on_event(PauseSuggested(t=50.0, reason="x"), 50.0) == []
    assert finished(runner.heard(reply("pause"), 55.0)) == "pause"


def test_the_pause_offer_on_a_question_listens_again() -> None:
    runner = make(ASK)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    actions = runner.on_event(PauseSuggested(t=2.0, reason="x"), 2.0)
    assert len(says(actions)) == 1 and len(listens(actions)) == 1
    # the question's own answers still count, but a double clap now is the pause the reminder speaks of
    assert listens(actions)[0].commands == COMMANDS and listens(actions)[0].clap is Command.PAUSE


def test_a_double_clap_means_next_in_a_timed_step_yes_to_a_question_and_the_pause_after_the_reminder() -> None:
    runner = in_turn()
    assert runner.phase is Phase.TIMER and runner.clap_means is Command.NEXT
    actions = runner.on_event(RaisedVoice(t=20.0, start=19.0, speaker="B"), 20.0)
    assert [(a.commands, a.clap) for a in listens(actions)] == [(frozenset({Command.PAUSE}), Command.PAUSE)]
    asked = make(ASK)
    assert all(a.clap is Command.YES for a in listens(asked.start(0.0)))  # consent: yes
    assert asked.clap_means is Command.PAUSE  # (no timed step: the router asks the open question first)


def test_no_pause_offer_before_consent_or_when_switched_off() -> None:
    runner = make(TURN)
    runner.start(0.0)
    assert runner.on_event(RaisedVoice(t=1.0, speaker="A"), 1.0) == []
    assert in_turn(CheckinSettings(offer_pause=False)).on_event(RaisedVoice(t=20.0, speaker="A"), 20.0) == []


def test_a_command_event_is_heard_like_a_command() -> None:
    runner = in_turn()
    assert finished(runner.heard(Command.STOP, 20.0)) == "stopped"


# --- state --------------------------------------------------------------------------------------------------------

def test_state_shows_the_step_who_has_the_floor_and_the_time_left() -> None:
    runner = make(WHO_STARTS)
    runner.start(0.0)
    assert runner.state.step_index == 0 and runner.state.phase is Phase.CONSENT
    runner.heard(reply("yes"), 1.0)
    state = runner.state
    assert (state.step_index, state.step_count, state.step_number, state.step_type) == (1, 4, 1, "choose")
    runner.heard(reply("sam"), 2.0)
    runner.tick(32.0)
    state = runner.state
    assert (state.step_type, state.speaker, state.speaker_name, state.listener_name) == ("turn", "A", "Sam", "Alex")
    assert state.seconds_left == pytest.approx(30.0)
    assert state.title == "Test"
    runner.heard(reply("stop"), 33.0)
    assert runner.state.step_type == "done"


# --- the built-ins ---------------------------------------------------------------------------------------------------

BUILTINS = ("after-pause", "nightly", "weekly", "stress", "repair", "weather")


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_runs_to_its_end_in_milliseconds(name: str) -> None:
    script = Library.load().get(name)
    drive = Drive(ScriptRunner(script, NAMES, CheckinSettings()), ["yes"] * 20)
    started = time.perf_counter()
    actions = drive.run()
    assert time.perf_counter() - started < 2.0
    assert finished(actions) == "completed"
    data = record(actions)
    assert data["completed"] and data["name"] == name
    minutes = drive.clock.now() / 60.0
    assert 0.5 * script.minutes <= minutes <= 1.3 * script.minutes, minutes
    for text in says(actions):
        assert "{" not in text and "}" not in text, text  # every variable was filled in


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_survives_silence_throughout(name: str) -> None:
    drive = Drive(ScriptRunner(Library.load().get(name), NAMES), ["yes"])
    actions = drive.run()
    assert finished(actions) == "completed"
    reprompts = [s for s in says(actions) if s.startswith("Just checking")]
    questions = [a for a in actions if isinstance(a, Listen)]
    assert len(reprompts) <= len(questions) / 2  # one gentle re-prompt per question at most


def test_the_nightly_ritual_alternates_who_shares_first() -> None:
    actions = Drive(ScriptRunner(Library.load().get("nightly"), NAMES), ["yes"]).run()
    prompts = [s for s in says(actions) if "?" in s][1:]
    assert prompts[0].startswith("Sam, what was a good moment")
    assert prompts[-2].startswith("Alex, what do you appreciate")
    assert prompts[-1].startswith("Sam, what do you appreciate")


def test_a_checkin_the_couple_just_agreed_to_starts_without_asking_again():
    from voicecoach.actions import Listen, Say
    from voicecoach.checkin.library import load_script
    from voicecoach.checkin.runner import ScriptRunner

    runner = ScriptRunner(load_script("after-pause"), ("Sam", "Alex"))
    actions = runner.start(0.0, consented=True)
    said = " ".join(a.text for a in actions if isinstance(a, Say))
    assert "good time" not in said.lower()
    assert runner.state.phase is not Phase.CONSENT
    asked = ScriptRunner(load_script("after-pause"), ("Sam", "Alex")).start(0.0)
    assert any(isinstance(a, Listen) for a in asked)


def test_choices_are_every_option_as_said_for_checking_scripted_answers() -> None:
    """``checkin --answers`` refuses a word no step takes; the choices are the options with names filled in."""
    assert make('''
        [[steps]]
        type = "choose"
        text = "Which topic?"
        options = ["The Holidays", "money"]
        sets = "topic"
        [[steps]]
        type = "choose"
        text = "Who starts?"
        sets = "first"
    ''').choices() == {"the holidays", "money", "sam", "alex"}
    assert make('''
        [[steps]]
        type = "say"
        text = "No choice here."
    ''').choices() == frozenset()
    assert make('''
        [[steps]]
        type = "choose"
        text = "Which topic?"
        options = ["money", "work"]
        sets = "topic"
        [[steps]]
        type = "choose"
        text = "More on {topic}, or done?"
        options = ["more {topic}", "done"]
    ''').choices() is None  # a choice made of an earlier one: any word may be an answer


# --- a choice's double clap (what its prompt says while only the clap is heard) -----------------------------------

def test_a_choice_offered_from_its_start_takes_the_clap_as_the_option_silence_does_not_leave() -> None:
    """The clap picked the first option (a "yes" to the cursor) and silence the default, the first option too:
    with no speech model "who begins?" could only ever go to partner A. Now, where the prompt is worded for the clap
    alone, the clap picks the first option that is not the default, as it says ("Clap twice for Alex, or stay
    quiet for Sam."); said for a voice, a clap is still yes to the option offered."""
    runner = make(WHO_STARTS)
    runner.start(0.0)
    actions = runner.heard(reply("yes"), 1.0)
    intro = [a for a in actions if isinstance(a, Say)][-1]
    assert intro.choice == ClapChoice("Say Sam or Alex.", clap="Alex", silence="Sam")
    assert listens(actions)[-1].clap_alone == Option("Alex") and listens(actions)[-1].clap is Command.YES
    assert says(runner.heard(Option("Alex"), 2.0)) == ["Okay, Alex.", "Alex, go."]


def test_a_choice_offered_one_by_one_takes_the_clap_as_yes_and_its_help_offers_it_from_the_start_again() -> None:
    runner = make(WHO_STARTS)
    runner.start(0.0)
    runner.heard(reply("yes"), 1.0)
    actions = runner.heard(reply("next"), 2.0)
    assert says(actions) == ["Alex?"] and listens(actions)[-1].clap_alone is None
    assert not any(a.choice for a in actions if isinstance(a, Say))
    actions = runner.heard(reply("help"), 3.0)
    assert [a.choice for a in actions if isinstance(a, Say)][0].clap == "Alex"
    assert listens(actions)[-1].clap_alone == Option("Alex") and runner.cursor == 0
