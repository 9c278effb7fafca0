"""The ritual scheduler under a fake clock: a week of times runs in well under a second."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from voicecoach.config import KioskSettings, config_from_dict
from voicecoach.errors import InputError
from voicecoach.kiosk import RitualScheduler

MONDAY = datetime(2026, 11, 23, 0, 0, 0)  # a Monday


def run_week(scheduler: RitualScheduler, start: datetime = MONDAY, step_s: int = 10,
             days: int = 7) -> list[tuple[datetime, str]]:
    """Ask the scheduler every ``step_s`` seconds for ``days`` days; return (when, name) of every firing."""
    fired = []
    now = start
    end = start + timedelta(days=days)
    step = timedelta(seconds=step_s)
    while now < end:
        fired += [(now, name) for name in scheduler.due(now)]
        now += step
    return fired


def test_nightly_fires_once_a_day_exactly_at_its_time():
    fired = run_week(RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day="")), step_s=10)
    assert [when for when, _ in fired] == [MONDAY + timedelta(days=d, hours=21, minutes=30) for d in range(7)]
    assert {name for _, name in fired} == {"nightly"}


def test_weekly_meeting_fires_only_on_its_day():
    fired = run_week(RitualScheduler(KioskSettings(nightly_time="", weekly_day="wed", weekly_time="18:00")), days=14)
    assert fired == [(datetime(2026, 11, 25, 18, 0), "weekly"), (datetime(2026, 12, 2, 18, 0), "weekly")]


def test_both_rituals_in_one_week_with_the_default_settings():
    fired = run_week(RitualScheduler(KioskSettings()))
    assert sum(name == "nightly" for _, name in fired) == 7
    assert [(w, n) for w, n in fired if n == "weekly"] == [(datetime(2026, 11, 29, 18, 0), "weekly")]


def test_nothing_fires_in_quiet_hours_spanning_midnight():
    scheduler = RitualScheduler(KioskSettings(nightly_time="23:30", weekly_day="", quiet_start="23:00",
                                              quiet_end="07:30"))
    assert run_week(scheduler) == []
    assert scheduler.in_quiet_hours(datetime(2026, 11, 23, 23, 0))
    assert scheduler.in_quiet_hours(datetime(2026, 11, 24, 3, 0))
    assert not scheduler.in_quiet_hours(datetime(2026, 11, 24, 7, 30))
    assert not scheduler.in_quiet_hours(datetime(2026, 11, 24, 22, 59))


def test_quiet_hours_within_one_day():
    scheduler = RitualScheduler(KioskSettings(quiet_start="13:00", quiet_end="15:00"))
    assert scheduler.in_quiet_hours(datetime(2026, 11, 23, 14, 0))
    assert not scheduler.in_quiet_hours(datetime(2026, 11, 23, 23, 0))
    assert not RitualScheduler(KioskSettings(quiet_start="", quiet_end="")).in_quiet_hours(MONDAY)


def test_a_time_inside_quiet_hours_is_offered_when_they_end_if_still_within_grace():
    scheduler = RitualScheduler(KioskSettings(nightly_time="07:15", weekly_day="", quiet_end="07:30",
                                              grace_min=30))
    fired = run_week(scheduler, days=1)
    assert fired == [(datetime(2026, 11, 23, 7, 30), "nightly")]


def test_missed_time_is_not_replayed_hours_later():
    scheduler = RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day="", grace_min=30))
    # the box was off at 21:30 and comes on at 23:45 (outside the grace window): nothing today
    assert scheduler.due(datetime(2026, 11, 23, 22, 45)) == []
    # ... but switched on 10 minutes late, it still offers
    assert RitualScheduler(scheduler.settings).due(datetime(2026, 11, 23, 21, 40)) == ["nightly"]


def test_called_every_second_in_the_grace_window_fires_once():
    scheduler = RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day=""))
    start = datetime(2026, 11, 23, 21, 29)
    fired = [name for s in range(3600) for name in scheduler.due(start + timedelta(seconds=s))]
    assert fired == ["nightly"]


def test_snooze_offers_again_at_the_chosen_time_once():
    scheduler = RitualScheduler(KioskSettings(nightly_time="21:00", weekly_day=""))
    assert scheduler.due(datetime(2026, 11, 23, 21, 0)) == ["nightly"]
    scheduler.snooze("nightly", datetime(2026, 11, 23, 22, 0))
    assert scheduler.next_due(datetime(2026, 11, 23, 21, 1)) == ("nightly", datetime(2026, 11, 23, 22, 0))
    fired = run_week(scheduler, start=datetime(2026, 11, 23, 21, 1), step_s=1, days=1)
    assert fired == [(datetime(2026, 11, 23, 22, 0), "nightly"), (datetime(2026, 11, 24, 21, 0), "nightly")]


def test_snooze_into_quiet_hours_is_dropped():
    scheduler = RitualScheduler(KioskSettings(nightly_time="22:30", weekly_day="", quiet_start="23:00"))
    assert scheduler.due(datetime(2026, 11, 23, 22, 30)) == ["nightly"]
    scheduler.snooze("nightly", datetime(2026, 11, 23, 23, 30))
    fired = run_week(scheduler, start=datetime(2026, 11, 23, 22, 31), days=1)
    assert fired == [(datetime(2026, 11, 24, 22, 30), "nightly")]


def test_describe_and_next_due_for_the_start_line():
    scheduler = RitualScheduler(KioskSettings())
    assert scheduler.describe() == "nightly daily 21:30, weekly sun 18:00, quiet 23:00-07:30"
    assert scheduler.next_due(datetime(2026, 11, 29, 12, 0)) == ("weekly", datetime(2026, 11, 29, 18, 0))


@pytest.mark.parametrize("kiosk, fragment", [
    ({"nightly_time": "9pm"}, "nightly_time = '9pm' is not a time"),
    ({"quiet_end": "24:00"}, "quiet_end = '24:00' is not a time"),
    ({"weekly_day": "sunday"}, "weekly_day = 'sunday' is not allowed"),
    ({"quiet_start": ""}, "set both quiet_start and quiet_end"),
    ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end = '22:00' is the same time as quiet_start"),
    ({"quiet_start": "7:30", "quiet_end": "07:30"}, "quiet_end = '07:30' is the same time as quiet_start"),
])
def test_bad_times_in_the_config_are_one_line_errors(kiosk, fragment):
    with pytest.raises(InputError, match=fragment):
        config_from_dict({"kiosk": kiosk})



@pytest.fixture(params=["naive", "aware"])
def berlin(request, berlin_zone):
    """A box in Berlin: the kiosk's ``now()`` (``datetime.now``, naive local time), or an aware one in its zone."""
    return berlin_zone, request.param == "aware"
    time.tzset()


def run_night(berlin, scheduler: RitualScheduler, start_utc: datetime, hours: float = 12) -> list[tuple[datetime, str]]:
    """Ask every second (half a second off the minute, like the kiosk's poll) of real time, with Berlin's wall clock
    passed in; return (local wall time, name) of every firing."""
    from datetime import timezone

    zone, aware = berlin
    fired = []
    t = start_utc.replace(tzinfo=timezone.utc) + timedelta(seconds=0.5)
    for _ in range(int(hours * 3600)):
        local = t.astimezone(zone)
        fired += [(local.replace(tzinfo=None, microsecond=0), name)
                  for name in scheduler.due(local if aware else local.replace(tzinfo=None))]
        t += timedelta(seconds=1)
    return fired


@pytest.mark.parametrize("grace", [10, 30])
def test_a_ritual_in_the_hour_the_clocks_skip_is_offered_once_when_they_jump(berlin, grace):
    """On the spring-forward night 02:30 never shows: the ritual is offered at 03:00, when the clock passes it. The
    wall-clock difference (03:00 - 02:30) counted it 30 minutes late, so it was dropped."""
    scheduler = RitualScheduler(KioskSettings(nightly_time="02:30", weekly_day="", quiet_start="", quiet_end="",
                                              grace_min=grace))
    fired = run_night(berlin, scheduler, datetime(2026, 3, 28, 20, 0))  # 21:00 CET to 09:00 CEST
    assert fired == [(datetime(2026, 3, 29, 3, 0), "nightly")]


def test_a_ritual_in_the_hour_shown_twice_is_offered_once(berlin):
    scheduler = RitualScheduler(KioskSettings(nightly_time="02:30", weekly_day="", quiet_start="", quiet_end="",
                                              grace_min=90))
    fired = run_night(berlin, scheduler, datetime(2026, 10, 24, 20, 0))  # 22:00 CEST to 08:00 CET
    assert fired == [(datetime(2026, 10, 25, 2, 30), "nightly")]


def test_quiet_hours_across_midnight_hold_on_both_clock_change_nights(berlin):
    for start in (datetime(2026, 3, 28, 20, 0), datetime(2026, 10, 24, 20, 0)):
        scheduler = RitualScheduler(KioskSettings(nightly_time="02:30", weekly_day="", quiet_start="23:00",
                                                  quiet_end="07:30", grace_min=720))
        fired = run_night(berlin, scheduler, start, hours=14)
        assert fired == [(start.replace(hour=7, minute=30) + timedelta(days=1), "nightly")]


def test_a_snooze_ending_in_the_hour_the_clocks_skip_is_offered_when_they_jump(berlin):
    """Yes to "ask again in an hour" at 01:30 on the spring-forward night: 02:30 never shows, and at 03:00 the clock
    counted the snooze 30 minutes over, past a 10-minute grace: it was dropped."""
    from datetime import timezone

    zone, aware = berlin
    scheduler = RitualScheduler(KioskSettings(nightly_time="01:30", weekly_day="", quiet_start="", quiet_end="",
                                              grace_min=10))
    at_0130 = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc).astimezone(zone)
    assert scheduler.due(at_0130 if aware else at_0130.replace(tzinfo=None)) == ["nightly"]
    until = at_0130 + timedelta(hours=1)  # as the kiosk computes it: wall-clock 02:30, which never shows
    scheduler.snooze("nightly", until if aware else until.replace(tzinfo=None))
    fired = run_night(berlin, scheduler, datetime(2026, 3, 29, 0, 31), hours=2)
    assert fired == [(datetime(2026, 3, 29, 3, 0), "nightly")]


def test_equal_quiet_hours_at_07_30_are_not_told_to_end_at_07_30():
    """Equal start and end are refused (all day, or never?), as they should be; but with both at 07:30 the fix said
    'e.g. quiet_end = "07:30"': the very value refused."""
    with pytest.raises(InputError) as refused:
        config_from_dict({"kiosk": {"quiet_start": "07:30", "quiet_end": "7:30"}})
    assert 'e.g. quiet_end = "08:00"' in str(refused.value) and '"07:30")' not in str(refused.value)


def test_next_offer_waits_past_what_holds_rituals_back_within_the_grace_time():
    """A ritual due now but held back (a boot settling, the couple's "not now" to the pause) is offered when that
    ends if still within grace_min; past it, the next occurrence is the next offer."""
    scheduler = RitualScheduler(KioskSettings(nightly_time="21:30", weekly_day="", grace_min=30))
    now = datetime(2026, 11, 23, 21, 31)
    assert scheduler.next_offer(now) == ("nightly", now, datetime(2026, 11, 23, 21, 30))
    held = datetime(2026, 11, 23, 21, 46)
    assert scheduler.next_offer(now, held) == ("nightly", held, datetime(2026, 11, 23, 21, 30))
    tomorrow = datetime(2026, 11, 24, 21, 30)
    assert scheduler.next_offer(now, datetime(2026, 11, 23, 22, 1)) == ("nightly", tomorrow, tomorrow)
