"""The kiosk assembly under a fake clock: a real Session, detection pipeline, check-in runner and Speaker.

Only the wall clock is pretended (a datetime that advances with the audio; the journal's times are stamped by it
too) and the loudspeaker is a NullSink (no sound card here); frames of silence are fed as fast as the code runs, so
an evening passes in seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from voicecoach import app
from voicecoach.audio.frames import Frame
from voicecoach.audio.playback import NullSink
from voicecoach.clock import FakeClock
from voicecoach.commands import Command
from voicecoach.config import Config, KioskSettings, with_overrides
from voicecoach.events import PauseSuggested
from voicecoach.journal.schema import TalkSource
from voicecoach.journal.store import Journal
from voicecoach.kiosk import Kiosk
from voicecoach.runtime_live import Live, LiveSpec
from voicecoach.speech.speaker import Speaker

FRAME_S = 0.03


class Rig:
    """A kiosk on the live assembly, driven frame by frame; ``lines`` collects its lifecycle and spoken lines."""

    def __init__(self, start: datetime, kiosk_settings: KioskSettings, journal: Journal | None = None) -> None:
        self.config = with_overrides(Config(), kiosk=kiosk_settings)
        self.clock = FakeClock()
        self.start = start
        self.lines: list[str] = []
        self.kiosk = Kiosk(self.config.kiosk, self.now, self.clock, lambda text: self.lines.append(text))
        self.speaker = Speaker(self.config.speech, sink=NullSink())
        self.pipeline = app.make_pipeline(self.config, use_profile=False)
        self.live = Live.build(self.config, LiveSpec(TalkSource.KIOSK, offer_later=True, commands=False),
                               clock=self.clock, pipeline=self.pipeline, speaker=self.speaker, journal=journal,
                               notes=None, wall=lambda: self.now().timestamp())
        self.kiosk.attach(self.live)
        self.session = self.live.session
        self.router = self.live.router
        self.position = 0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.clock.now())

    def run(self, seconds: float, until=None) -> None:
        """Feed ``seconds`` of silence (stopping early when ``until()`` is true)."""
        silence = np.zeros(int(FRAME_S * 16000), np.int16)
        for _ in range(int(seconds / FRAME_S)):
            frame = Frame(silence, self.position)
            self.position += len(silence)
            self.clock.advance(FRAME_S)
            self.session.step(frame)
            self.kiosk.on_frame(frame)
            self.speaker.wait(timeout_s=10.0)  # the prompt is "played" (NullSink) before the next frame
            if until is not None and until():
                return

    def said(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    def close(self) -> None:
        self.live.close()


@pytest.fixture
def rig_at():
    rigs = []

    def make(start: datetime, journal: Journal | None = None, **kiosk) -> Rig:
        rig = Rig(start, KioskSettings(**{"weekly_day": "", **kiosk}), journal)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def test_nightly_ritual_is_offered_at_its_time_with_the_consent_question(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 21, 29, 55), nightly_time="21:30")
    rig.run(4.0)
    assert not rig.said("ritual offered")
    rig.run(3.0, until=lambda: rig.said("Is now a good time"))
    assert "ritual offered nightly" in rig.lines
    offered_at = rig.lines.index("ritual offered nightly")
    assert "Is now a good time" in " ".join(rig.lines[offered_at:])
    assert rig.router.runner is not None


def test_a_script_not_meant_for_a_set_time_is_not_offered_at_one(rig_at):
    """An older config naming repair for the nightly slot (config check and the page refuse it now): the kiosk
    said nothing of the script's offer_on_schedule = false and offered a 25-minute repair talk at 21:30."""
    rig = rig_at(datetime(2026, 3, 3, 21, 29, 50), nightly_script="repair")
    rig.run(15.0)
    assert "ritual skipped repair (its script has offer_on_schedule = false: not for a set time)" in rig.lines
    assert not rig.said("ritual offered") and rig.router.runner is None


def test_not_now_then_ask_again_later_offers_it_again_after_the_hour(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), nightly_time="21:30")
    rig.run(2.0, until=lambda: rig.router.runner is not None)
    rig.live.submit(Command.NOT_NOW)
    rig.run(2.0, until=lambda: rig.said("ask again"))
    rig.live.submit(Command.YES)
    rig.run(2.0, until=lambda: rig.router.runner is None)
    assert any(line.startswith("ritual declined nightly (later: asking again at 22:30)") for line in rig.lines)
    rig.clock.advance(59 * 60)
    rig.run(2.0)
    assert rig.lines.count("ritual offered nightly") == 1
    rig.clock.advance(60)
    rig.run(2.0, until=lambda: rig.lines.count("ritual offered nightly") == 2)
    assert rig.lines.count("ritual offered nightly") == 2


def test_the_pages_next_ritual_is_the_running_kiosks_own(rig_at):
    """The Now page worked out "next ritual" from the schedule alone: after "not now" and "ask again in an hour" it
    said tomorrow's 21:30, while the kiosk was going to ask at 22:30."""
    from pathlib import Path

    from voicecoach.web.status import LiveStatus

    rig = rig_at(datetime(2026, 11, 23, 21, 29, 58), nightly_time="21:30")
    page = LiveStatus(rig.config, Path("/nonexistent/journal.sqlite3"), rig.now,
                      next_ritual=lambda: rig.kiosk.next_line)
    assert page.status().next_ritual == "nightly Mon 21:30"
    rig.run(4.0, until=lambda: rig.router.runner is not None)
    rig.live.submit(Command.NOT_NOW)
    rig.run(2.0, until=lambda: rig.said("ask again"))
    rig.live.submit(Command.YES)
    rig.run(2.0, until=lambda: rig.router.runner is None)
    rig.run(1.5)
    assert page.status().next_ritual == "nightly Mon 22:30"
    assert LiveStatus(rig.config, Path("/nonexistent/journal.sqlite3"), rig.now).status().next_ritual == \
        "nightly Tue 21:30"  # the schedule alone (voicecoach web without the kiosk) cannot know the promise


def test_silence_at_the_consent_question_is_a_decline_and_not_offered_again(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), nightly_time="21:30")
    rig.run(60.0, until=lambda: rig.said("ritual declined"))
    assert "ritual declined nightly (no_answer)" in rig.lines
    rig.run(30.0)
    assert rig.lines.count("ritual offered nightly") == 1


def test_a_kiosk_restarted_after_the_ritual_was_declined_does_not_ask_again(rig_at, tmp_path):
    """``systemctl restart voicecoach`` (after editing the config, as install-kiosk says) a few minutes after the
    nightly was declined: the journal has it, so the new kiosk does not ask "Is now a good time?" again."""
    journal = Journal.open(tmp_path / "journal.sqlite3")
    journal.add_checkin("nightly", datetime(2026, 11, 23, 21, 30, 5).timestamp(), False, 0.1, TalkSource.KIOSK)
    journal.add_checkin("nightly", datetime(2026, 11, 22, 21, 30, 5).timestamp(), True, 10.0, TalkSource.KIOSK)
    rig = rig_at(datetime(2026, 11, 23, 21, 36, 0), journal, nightly_time="21:30")
    rig.run(3.0)
    assert not rig.said("ritual offered") and "next: nightly Tue 21:30" in rig.lines[0]


def test_a_kiosk_started_within_the_grace_time_offers_a_ritual_not_yet_offered(rig_at, tmp_path):
    journal = Journal.open(tmp_path / "journal.sqlite3")
    journal.add_checkin("nightly", datetime(2026, 11, 22, 21, 30, 5).timestamp(), True, 10.0, TalkSource.KIOSK)
    rig = rig_at(datetime(2026, 11, 23, 21, 36, 0), journal, nightly_time="21:30")
    rig.run(3.0, until=lambda: rig.said("ritual offered"))
    assert "ritual offered nightly" in rig.lines


def test_no_ritual_while_a_pause_is_running_and_skipped_after_the_grace_window(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 21, 29, 0), nightly_time="21:30", grace_min=1)
    rig.live.submit(Command.PAUSE)  # the couple takes their agreed pause (20 min)
    rig.run(2.0, until=lambda: rig.router.coach.busy)
    assert rig.router.coach.busy
    rig.clock.advance(60)
    rig.run(2.0)  # 21:30 passes during the pause: due, but not offered
    assert rig.kiosk.pending and not rig.said("ritual offered")
    rig.clock.advance(2 * 60)
    rig.run(2.0)
    assert not rig.said("ritual offered")
    assert "ritual skipped nightly (busy for more than 1 min)" in rig.lines


def test_quiet_hours_hold_back_pause_suggestions_and_rituals(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 23, 30, 0), nightly_time="23:45", quiet_start="23:00", quiet_end="07:30")
    assert rig.kiosk.quiet and rig.router.hold_suggestions
    suggestion = PauseSuggested(t=1.0, reason="raised voices")
    real = rig.pipeline.process
    # the real pipeline, plus a pause suggestion on every frame (only the holding back is under test)
    rig.pipeline.process = lambda frame, muted=False: real(frame, muted=muted) + [suggestion]
    rig.run(1.0)
    assert rig.router.held > 0 and not rig.router.coach.busy
    rig.clock.advance(20 * 60)
    rig.run(2.0)
    assert not rig.said("ritual offered")


def test_quiet_hours_end_is_reported_and_suggestions_pass_again(rig_at):
    rig = rig_at(datetime(2026, 11, 24, 7, 29, 58), nightly_time="", quiet_start="23:00", quiet_end="07:30")
    assert rig.kiosk.quiet and rig.lines[0].endswith("quiet hours now")
    rig.run(4.0)
    assert "quiet hours end" in rig.lines and not rig.kiosk.quiet


def test_quiet_suggestions_setting_lets_the_pause_be_offered_at_night(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 23, 30, 0), nightly_time="", quiet_suggestions=True)
    assert rig.kiosk.quiet and not rig.router.hold_suggestions
    rig.session._detected(PauseSuggested(t=1.0, reason="raised voices"))  # as the pipeline would report it
    assert rig.router.coach.busy


@pytest.mark.parametrize("synced_after_s", [None, 120.0])
def test_a_box_booted_with_a_stale_clock_does_not_ask_again_for_a_ritual_done_tonight(rig_at, tmp_path,
                                                                                         synced_after_s):
    """A Pi has no clock of its own: after a power cut it boots at the time it last saved (fake-hwclock: up to an
    hour old) until the network sets it. The nightly was done at 21:32 and the box restarted at 21:40 thinking it
    was 21:00: at its own 21:30 (None: never synced), or once the clock jumps to 21:42, it asked again."""
    journal = Journal.open(tmp_path / "journal.sqlite3")
    journal.add_checkin("nightly", datetime(2026, 11, 23, 21, 32, 0).timestamp(), True, 6.0, TalkSource.KIOSK)
    rig = rig_at(datetime(2026, 11, 23, 21, 0, 0), journal, nightly_time="21:30")
    if synced_after_s is not None:
        rig.run(synced_after_s)
        rig.start += timedelta(minutes=42) - timedelta(seconds=synced_after_s)  # the clock jumps to 21:42
        rig.run(60.0, until=lambda: rig.said("ritual offered"))
    else:
        rig.start += timedelta(minutes=29, seconds=50)  # fast-forward the stale clock to 21:29:50
        rig.run(60.0, until=lambda: rig.said("ritual offered"))
    assert not rig.said("ritual offered"), rig.lines


def test_the_ritual_is_still_offered_after_a_jump_when_tonights_was_not_done(rig_at, tmp_path):
    journal = Journal.open(tmp_path / "journal.sqlite3")
    journal.add_checkin("nightly", datetime(2026, 11, 22, 21, 32, 0).timestamp(), True, 6.0, TalkSource.KIOSK)
    rig = rig_at(datetime(2026, 11, 23, 21, 0, 0), journal, nightly_time="21:30")
    rig.run(120.0)
    rig.start += timedelta(minutes=40)  # the clock jumps to 21:42
    rig.run(60.0, until=lambda: rig.said("ritual offered"))
    assert "ritual offered nightly" in rig.lines


def test_a_box_switched_on_with_a_stale_clock_just_past_a_ritual_waits_for_the_network_time(rig_at):
    """Switched off at 21:40 with the nightly not yet offered (a pause ran over its time), switched on at 08:00 the
    next morning: its clock says 21:40 (fake-hwclock's last saved time) for the 20 s until the network sets it, and
    the nightly, 10 minutes late by that clock, was asked at once, at 8 in the morning."""
    rig = rig_at(datetime(2026, 11, 23, 21, 40, 0), nightly_time="21:30")
    rig.kiosk.booted_s = lambda: 15.0 + rig.clock.now()  # the kiosk starts 15 s after the machine booted
    rig.run(20.0)
    rig.start += timedelta(hours=10, minutes=20)  # the network time: 08:00:35 (after the quiet hours)
    rig.run(150.0, until=lambda: rig.said("ritual offered"))
    assert not rig.said("ritual offered"), rig.lines


def test_a_box_switched_on_just_before_a_ritual_offers_it_two_minutes_after_the_boot(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 21, 29, 30), nightly_time="21:30")
    rig.kiosk.booted_s = lambda: 15.0 + rig.clock.now()
    rig.run(150.0, until=lambda: rig.said("ritual offered"))
    assert "ritual offered nightly" in rig.lines
    assert 104.0 <= rig.clock.now() <= 107.0  # at 120 s after the boot (15 s before the kiosk started)


def test_two_rituals_at_the_same_minute_offer_the_weekly_and_respect_its_not_now(rig_at):
    """The nightly and the weekly at 18:00 on Sunday: the nightly was asked first, and right after the couple said
    "not now" (and not to ask again) the box asked about the weekly meeting. Now the weekly (the rarer) is offered,
    and "not now" to it is not followed by the other."""
    rig = rig_at(datetime(2026, 11, 29, 18, 0, 0), nightly_time="18:00", weekly_day="sun", weekly_time="18:00")
    rig.run(2.0, until=lambda: rig.router.runner is not None)
    assert [line for line in rig.lines if line.startswith("ritual offered")] == ["ritual offered weekly"]
    rig.live.submit(Command.NOT_NOW)
    rig.run(3.0, until=lambda: rig.said("ask again"))
    rig.live.submit(Command.NOT_NOW)
    rig.run(120.0, until=lambda: rig.said("ritual offered nightly"))
    assert not rig.said("ritual offered nightly"), rig.lines
    assert "ritual declined weekly (declined)" in rig.lines
    assert "ritual skipped nightly (due with weekly, which was declined)" in rig.lines


@pytest.fixture
def berlin_clock(berlin_zone):
    """The box's local time zone is Berlin (``datetime.now`` is naive local time, as the kiosk's ``now()``)."""
    return berlin_zone
    time.tzset()


def test_a_ritual_held_back_by_a_pause_over_the_clock_change_is_offered_when_it_ends(rig_at, berlin_clock):
    """Due at 01:45 during the agreed pause, which ends 15 minutes later, at 03:00 after the clocks went forward: the
    wall clock counted 75 minutes and skipped it as "busy for more than 30 min"."""
    from datetime import timezone

    start_utc = datetime(2026, 3, 29, 0, 40, tzinfo=timezone.utc)  # 01:40 CET
    rig = rig_at(datetime(2026, 3, 29, 1, 40), nightly_time="01:45", quiet_start="", quiet_end="", grace_min=30)
    rig.kiosk.now = lambda: (start_utc + timedelta(seconds=rig.clock.now())).astimezone(berlin_clock).replace(
        tzinfo=None)
    rig.live.submit(Command.PAUSE)  # the couple takes their agreed pause (20 min)
    rig.run(2.0, until=lambda: rig.router.coach.busy)
    rig.clock.advance(6 * 60)
    rig.run(2.0)  # 01:46: due, held back
    assert rig.kiosk.pending and not rig.said("ritual offered")
    rig.clock.advance(14 * 60)  # the pause ends at 03:00 CEST (02:00 CET)
    rig.run(30.0)
    assert not rig.said("ritual offered")  # nor in the quiet after the pause ([pause] quiet_after_min, 5)
    rig.clock.advance(5 * 60)
    rig.run(60.0, until=lambda: rig.said("ritual offered") or rig.said("ritual skipped"))
    assert "ritual offered nightly" in rig.lines, rig.lines


def test_a_check_in_running_into_quiet_hours_goes_on_without_reminding_of_the_pause(rig_at):
    """The nightly check-in, begun at 22:59, runs on past 23:00 when quiet hours begin (it is never cut off). A
    heated moment then got the check-in's reminder of the pause out loud at night ("... say pause"), though quiet
    hours hold back every suggestion of the pause that the couple did not ask for."""
    rig = rig_at(datetime(2026, 11, 23, 22, 59, 0), nightly_time="22:59", quiet_start="23:00", quiet_end="07:30")
    rig.run(3.0, until=lambda: rig.router.runner is not None)
    rig.live.submit(Command.YES)
    rig.run(2.0)
    rig.clock.advance(60)
    rig.run(2.0, until=lambda: rig.kiosk.quiet)
    assert rig.kiosk.quiet and rig.router.runner is not None
    suggestion = PauseSuggested(t=rig.clock.now(), reason="raised voices")
    real = rig.pipeline.process
    rig.pipeline.process = lambda frame, muted=False: real(frame, muted=muted) + [suggestion]
    rig.run(1.0)
    assert not rig.said("say pause") and rig.router.held > 0
    assert rig.router.runner is not None and not rig.router.coach.busy  # the check-in goes on


def _declined_until_later(rig: Rig, ask_again: Command = Command.YES) -> None:
    """The couple says "not now" to the offered ritual, then ``ask_again`` to "Shall I ask again in an hour?"."""
    rig.run(2.0, until=lambda: rig.router.runner is not None)
    rig.live.submit(Command.NOT_NOW)
    rig.run(2.0, until=lambda: rig.said("ask again"))
    rig.live.submit(ask_again)
    rig.run(2.0, until=lambda: rig.router.runner is None)


def _restarted(rig_at, rig: Rig, path, after_min: float, **kiosk) -> Rig:
    """The kiosk's service restarted ``after_min`` minutes later (an update, a power blip, systemd after a fault):
    a new kiosk on the same journal file, at the time the old one had reached plus that."""
    rig.close()  # ends the talk and closes its journal, as SIGTERM does
    return rig_at(rig.now() + timedelta(minutes=after_min), Journal.open(path), **kiosk)


def test_ask_again_in_an_hour_is_kept_across_a_restart(rig_at, tmp_path):
    """"Okay. I'll ask again in an hour.", then the service restarted ten minutes later: the promise lived only in
    the scheduler's memory, and the journal's declined check-in counted as tonight's offer, so it was never asked."""
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30")
    _declined_until_later(rig)
    assert "said: Okay. I'll ask again in an hour." in rig.lines
    assert any(line.startswith("ritual declined nightly (later: asking again at 22:30)") for line in rig.lines)
    again = _restarted(rig_at, rig, path, 10, nightly_time="21:30")
    assert again.lines[0].startswith("started (nightly daily 21:30") and "next: nightly Mon 22:30" in again.lines[0]
    assert "ritual later nightly (asking again at 22:30, as said before the restart)" in again.lines
    again.clock.advance(49 * 60)
    again.run(2.0)  # 22:29
    assert not again.said("ritual offered")
    again.clock.advance(60)
    again.run(3.0, until=lambda: again.said("Is now a good time"))
    assert "ritual offered nightly" in again.lines and again.router.runner is not None


def test_a_no_to_ask_again_stores_no_promise_and_a_restart_asks_nothing(rig_at, tmp_path):
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30")
    _declined_until_later(rig, ask_again=Command.NOT_NOW)
    assert "ritual declined nightly (declined)" in rig.lines
    again = _restarted(rig_at, rig, path, 10, nightly_time="21:30")
    again.clock.advance(55 * 60)
    again.run(120.0, until=lambda: again.said("ritual offered"))
    assert not again.said("ritual offered") and not again.said("ritual later"), again.lines
    with Journal.open(path) as journal:
        assert [row["ask_again_at"] for row in journal.rows("checkins")] == [None]


@pytest.mark.parametrize("down_min, grace_min, offered", [(70, 30, True), (70, 5, False)])
def test_a_promise_that_came_due_while_the_kiosk_was_down_is_asked_within_the_grace_time(rig_at, tmp_path, down_min,
                                                                                      grace_min, offered):
    """Down from 21:30 until 22:40, ten minutes past the promised 22:30: asked at start-up like any ritual that came
    due while the box was off, within ``grace_min``; later than that it is left, as a missed ritual is."""
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30", grace_min=grace_min)
    _declined_until_later(rig)
    again = _restarted(rig_at, rig, path, down_min, nightly_time="21:30", grace_min=grace_min)
    again.run(3.0, until=lambda: again.said("ritual offered"))
    assert again.said("ritual offered nightly") is offered, again.lines


def test_a_check_in_begun_after_the_decline_replaces_the_promise(rig_at, tmp_path):
    """The couple did the nightly from the page at 21:50, after "ask again in an hour" at 21:30: a restart does not
    bring the 22:30 question back."""
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30")
    _declined_until_later(rig)
    rig.live.journal.add_checkin("nightly", datetime(2026, 11, 23, 21, 50).timestamp(), True, 10.0,
                                 TalkSource.KIOSK)
    again = _restarted(rig_at, rig, path, 35, nightly_time="21:30")
    again.clock.advance(30 * 60)
    again.run(120.0, until=lambda: again.said("ritual offered"))
    assert not again.said("ritual offered") and not again.said("ritual later"), again.lines


def test_a_kept_promise_waits_for_the_couples_not_now_to_the_pause_as_a_live_one_does(rig_at, tmp_path):
    """"Not now" to the pause at 22:25 ("I'll stay quiet for 15 minutes"), then a restart: the promised 22:30
    question waits for that snooze to end (22:40) and is asked then, within the grace time."""
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30")
    _declined_until_later(rig)
    rig.clock.advance(55 * 60)
    rig.session._detected(PauseSuggested(t=rig.clock.now(), reason="raised voices"))  # as the pipeline reports it
    rig.run(2.0, until=lambda: rig.said("Say okay, or not now"))
    rig.live.submit(Command.NOT_NOW)
    rig.run(3.0, until=lambda: rig.said("stay quiet"))
    again = _restarted(rig_at, rig, path, 1, nightly_time="21:30")
    again.clock.advance(5 * 60)
    again.run(3.0)  # 22:31: the promised time passed, the snooze holds it back
    assert not again.said("ritual offered") and again.kiosk.pending
    again.clock.advance(10 * 60)
    again.run(3.0, until=lambda: again.said("ritual offered"))
    assert "ritual offered nightly" in again.lines, again.lines


def test_no_promise_to_ask_again_when_that_time_falls_in_quiet_hours(rig_at):
    """The default evening: "not now" at 21:30, "yes" to "Shall I ask again in an hour?", "not now" again at 22:30.
    The box then asked "Shall I ask again in an hour?" once more and, to "yes", said "Okay. I'll ask again in an
    hour.": 23:30, in the quiet hours, so it never asked, and no line said so. Now, when the hour would fall in quiet
    hours (and they do not end within the grace time after it), the second "not now" is simply a decline."""
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), nightly_time="21:30", quiet_start="23:00", quiet_end="07:30")
    _declined_until_later(rig)
    assert "said: Okay. I'll ask again in an hour." in rig.lines
    rig.clock.advance(60 * 60)
    rig.run(3.0, until=lambda: rig.router.runner is not None)
    asked = len(rig.lines)
    rig.live.submit(Command.NOT_NOW)
    rig.run(3.0, until=lambda: rig.router.runner is None)
    later = rig.lines[asked:]
    assert not any("ask again" in line for line in later), later
    assert "said: That's okay. Another time." in later and "ritual declined nightly (declined)" in later, later


def test_the_promise_is_still_made_when_quiet_hours_end_within_the_grace_time_after_it(rig_at):
    """Quiet 22:00-22:45 and "not now" at 21:30: the hour (22:30) is in quiet hours, but they end 15 minutes later,
    within ``grace_min`` (30), when the ritual is asked as promised (a little late)."""
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), nightly_time="21:30", quiet_start="22:00", quiet_end="22:45")
    _declined_until_later(rig)
    assert "said: Okay. I'll ask again in an hour." in rig.lines
    rig.clock.advance(75 * 60)
    rig.run(3.0, until=lambda: rig.said("ritual offered nightly") and rig.lines.count("ritual offered nightly") == 2)
    assert rig.lines.count("ritual offered nightly") == 2


def test_ask_again_to_a_check_in_begun_from_the_page_is_kept(rig_at):
    """*Start a check-in* on the page at 21:00, "not now", "yes" to "Shall I ask again in an hour?": the kiosk said
    "Okay. I'll ask again in an hour." and never did (only the rituals it had offered itself were snoozed)."""
    rig = rig_at(datetime(2026, 11, 23, 21, 0, 0), nightly_time="", quiet_start="23:00", quiet_end="07:30")
    rig.run(1.0)
    rig.live.start_checkin("weather")
    _declined_until_later(rig)
    assert "said: Okay. I'll ask again in an hour." in rig.lines
    assert any(line.startswith("ritual declined weather (later: asking again at 22:00)") for line in rig.lines)
    rig.clock.advance(60 * 60)
    rig.run(3.0, until=lambda: rig.said("ritual offered weather"))
    assert "ritual offered weather" in rig.lines and rig.router.runner is not None


def test_a_check_in_begun_from_the_page_before_quiet_hours_makes_no_promise_for_them(rig_at):
    rig = rig_at(datetime(2026, 11, 23, 22, 30, 0), nightly_time="", quiet_start="23:00", quiet_end="07:30")
    rig.run(1.0)
    rig.live.start_checkin("weather")
    rig.run(2.0, until=lambda: rig.router.runner is not None)
    rig.live.submit(Command.NOT_NOW)
    rig.run(3.0, until=lambda: rig.router.runner is None)
    assert not rig.said("ask again") and "said: That's okay. Another time." in rig.lines, rig.lines


# --- the start-up line's "next:" names what will really happen next ---------------------------------------------

def test_the_start_line_names_tonights_ritual_not_yet_offered_as_next_now(rig_at, tmp_path):
    """Started at 21:36, the 21:30 nightly not yet offered (within grace_min): it is offered at once, but the line
    said "next: nightly Tue 21:30", tomorrow's."""
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig = rig_at(datetime(2026, 11, 23, 21, 36, 0), journal, nightly_time="21:30")
    assert "next: nightly now (due Mon 21:30)" in rig.lines[0], rig.lines[0]
    rig.run(3.0, until=lambda: rig.said("ritual offered"))
    assert "ritual offered nightly" in rig.lines


def test_the_start_line_names_a_promise_come_due_while_the_box_was_down(rig_at, tmp_path):
    """"I'll ask again in an hour" (22:30), the service restarted at 22:35: the promise is asked at once, but the
    line said tomorrow's 21:30."""
    path = tmp_path / "journal.sqlite3"
    rig = rig_at(datetime(2026, 11, 23, 21, 30, 0), Journal.open(path), nightly_time="21:30")
    _declined_until_later(rig)
    again = _restarted(rig_at, rig, path, 65, nightly_time="21:30")
    assert "next: nightly now (due Mon 22:30)" in again.lines[0], again.lines[0]
    again.run(3.0, until=lambda: again.said("ritual offered"))
    assert "ritual offered nightly" in again.lines


def test_the_start_line_names_a_ritual_in_quiet_hours_at_their_end(rig_at):
    """The weekly at 07:00 inside quiet hours until 07:30 is offered at 07:30 (within grace_min): the line says so."""
    rig = rig_at(datetime(2026, 11, 29, 6, 0, 0), nightly_time="", weekly_day="sun", weekly_time="07:00",
                 quiet_start="23:00", quiet_end="07:30")
    assert "next: weekly Sun 07:30 (due 07:00, when the quiet hours end)" in rig.lines[0], rig.lines[0]


def test_the_start_line_skips_a_ritual_its_quiet_hours_swallow(rig_at):
    """A nightly at 02:00 in quiet hours that end at 07:30 is never offered (more than grace_min late): the next is
    the weekly, not "nightly Tue 02:00"."""
    rig = rig_at(datetime(2026, 11, 23, 12, 0, 0), nightly_time="02:00", weekly_day="sun", weekly_time="18:00")
    assert "next: weekly Sun 18:00" in rig.lines[0], rig.lines[0]


def test_the_start_line_names_a_ritual_held_back_by_a_not_now_kept_across_the_restart(rig_at, tmp_path):
    """"Not now" to the pause at 21:25 (15 min of quiet), the service restarted at 21:31: the nightly waits for the
    snooze, and the line says when it comes."""
    from voicecoach.records import Answer

    journal = Journal.open(tmp_path / "journal.sqlite3")
    said = journal.add_suggestion(None, datetime(2026, 11, 23, 21, 25).timestamp(), "raised voices")
    journal.answer_suggestion(said, Answer.NOT_NOW, datetime(2026, 11, 23, 21, 25, 5).timestamp())
    rig = rig_at(datetime(2026, 11, 23, 21, 31, 0), journal, nightly_time="21:30")
    assert "next: nightly Mon 21:40 (due 21:30, when the pause's snooze ends)" in rig.lines[0], rig.lines[0]
