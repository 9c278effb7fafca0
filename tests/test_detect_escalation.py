"""Escalation policy: rules over a sliding window, cooldown, snooze and hourly cap, on audio time."""

from __future__ import annotations

from voicecoach.detect.escalation import EscalationPolicy
from voicecoach.detect.settings import EscalationSettings
from voicecoach.events import Interruption, PauseSuggested, RaisedVoice


def interruption(t: float) -> Interruption:
    return Interruption(t=t, start=t - 0.7, speaker="B", over="A")


def feed(policy: EscalationPolicy, times: list[float], raised: bool = False,
         voice_bed: bool = False) -> list[PauseSuggested]:
    """Interruptions (or raised voices) at the given times; quiet frames in between are not needed."""
    out = []
    for t in times:
        e = RaisedVoice(t=t, start=t - 1, speaker="A") if raised else interruption(t)
        out += policy.process(t, [e], False, voice_bed=voice_bed)
    return out


def test_four_interruptions_within_a_minute_suggest_a_pause_with_a_reason():
    # three in a minute is what the default (gated) method hears now and then in calm talk in a room
    policy = EscalationPolicy(EscalationSettings())
    assert feed(policy, [10.0, 30.0, 40.0]) == []
    out = feed(policy, [55.0, 60.0])
    assert len(out) == 1 and out[0].t == 55.0
    assert out[0].reason == "4 interruptions in 50 s"


def test_four_interruptions_spread_over_most_of_a_minute_do_not():
    # a calm talk's occasional cut-ins (a loud partner's four real ones over 56 s, TUNE draw 1): not an argument's
    policy = EscalationPolicy(EscalationSettings())
    assert feed(policy, [20.1, 54.6, 64.8, 76.0]) == []
    out = feed(policy, [80.0])   # 54.6 ... 80.0: four within 50 s
    assert len(out) == 1 and out[0].reason == "4 interruptions in 50 s"


def test_the_span_is_at_most_the_window():
    policy = EscalationPolicy(EscalationSettings(window_s=30.0, interruptions_span_s=50.0))
    assert feed(policy, [10.0, 20.0, 30.0, 45.0]) == []
    assert len(feed(policy, [50.0])) == 1


def test_over_a_voice_in_the_background_interruptions_must_come_closer_together():
    # a TV's false interruptions (EVAL 34: four in 46 s of calm talk) no longer suggest a pause...
    tv = [219.6, 243.1, 260.4, 265.8]
    assert len(feed(EscalationPolicy(EscalationSettings()), tv)) == 1
    assert feed(EscalationPolicy(EscalationSettings()), tv, voice_bed=True) == []
    # ...but an argument's cut-ins do: 4 within 25 s, 5 within 40 s, 6 within 50 s (each time no closer rung)
    for times, reason in (([10.0, 18.0, 26.0, 34.0], "4 interruptions in 25 s"),
                          ([10.0, 20.0, 30.0, 40.0, 49.0], "5 interruptions in 40 s"),
                          ([10.0, 11.0, 23.0, 36.0, 51.0, 60.0], "6 interruptions in 50 s")):
        out = feed(EscalationPolicy(EscalationSettings()), times, voice_bed=True)
        assert [o.reason for o in out] == [reason], times
        assert out[0].t == times[-1]
    # never more than the usual rule: six spread over 51-55 s (two bursts of three) suggest nothing
    assert feed(EscalationPolicy(EscalationSettings()), [0.0, 1.0, 2.0, 51.0, 52.0, 53.0], voice_bed=True) == []


def test_without_a_step_over_a_voice_bed_only_its_first_span_counts():
    s = EscalationSettings(voice_bed_span_step_s=0.0)
    assert feed(EscalationPolicy(s), [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], voice_bed=True) == []
    assert len(feed(EscalationPolicy(s), [10.0, 15.0, 20.0, 30.0], voice_bed=True)) == 1


def test_two_raised_voices_within_a_minute_suggest_a_pause():
    # raised_s above the two events' onset credit (1 s each), or the raised time would say it first
    policy = EscalationPolicy(EscalationSettings(raised_s=10.0))
    assert feed(policy, [10.0], raised=True) == []
    out = feed(policy, [50.0], raised=True)
    assert len(out) == 1 and out[0].reason == "2 raised voices in 60 s"


def test_spread_out_interruptions_do_not():
    policy = EscalationPolicy(EscalationSettings())
    assert feed(policy, [10.0, 80.0, 150.0, 220.0]) == []


def test_sustained_raised_voice_suggests_a_pause():
    s = EscalationSettings(raised_s=15.0)
    policy = EscalationPolicy(s, frame_ms=30)
    out = []
    for i in range(int(20 / 0.03)):
        out += policy.process(i * 0.03, [], True)
    assert len(out) == 1
    assert out[0].reason.startswith("raised voices for 15 s")
    assert 14.9 <= out[0].t <= 15.2


def test_raised_voices_and_interruptions_together():
    policy = EscalationPolicy(EscalationSettings(combined_events=3))
    out = feed(policy, [5.0], raised=True) + feed(policy, [20.0, 30.0])
    assert len(out) == 1 and "1 raised voice and 2 interruptions" in out[0].reason


def test_a_raised_voice_and_an_interruption_count_together_only_within_the_combined_span():
    # a false raised voice (a meow) and a false interruption (a TV) 46 s apart are two moments, not an escalation
    policy = EscalationPolicy(EscalationSettings(combined_span_s=15.0))
    assert feed(policy, [203.25]) + feed(policy, [249.27], raised=True) == []
    out = feed(policy, [258.0])   # an interruption 9 s after that raised voice: together
    assert len(out) == 1 and out[0].reason == "1 raised voice and 1 interruption in 15 s"


def test_cooldown_after_a_suggestion():
    policy = EscalationPolicy(EscalationSettings(cooldown_min=5.0))
    assert len(feed(policy, [10, 20, 30, 35])) == 1
    assert feed(policy, [40, 50, 60, 200, 210, 220, 230]) == []      # within 5 minutes
    assert len(feed(policy, [340, 350, 360, 370])) == 1


def test_snooze_holds_suggestions_until_it_ends():
    policy = EscalationPolicy(EscalationSettings(interruptions=3))
    policy.snooze(10.0, now_s=0.0)
    assert feed(policy, [100, 110, 120, 500, 510, 520]) == []
    assert len(feed(policy, [610, 620, 630])) == 1


def test_hourly_cap():
    policy = EscalationPolicy(EscalationSettings(interruptions=3, cooldown_min=0.0, max_per_hour=2))
    times = [float(t) for t in range(10, 1200, 10)]
    out = feed(policy, times)
    assert len(out) == 2
    later = feed(policy, [3700.0, 3710.0, 3720.0])
    assert len(later) == 1


def test_a_suggestion_nobody_heard_counts_toward_no_cooldown_or_cap_but_its_events_are_spent():
    policy = EscalationPolicy(EscalationSettings(cooldown_min=5.0, max_per_hour=1))
    first = feed(policy, [10, 20, 30, 35])
    assert len(first) == 1
    policy.withdraw(first[0].t)                          # the product was busy (a pause under way): not offered
    assert feed(policy, [40, 50]) == []                  # the same events do not make it again at once...
    assert len(feed(policy, [60, 70, 80, 85])) == 1      # ...but new ones do: no cooldown, no hourly cap used


def test_withdrawing_a_later_suggestion_keeps_the_cooldown_of_one_that_was_heard():
    policy = EscalationPolicy(EscalationSettings(cooldown_min=5.0, max_per_hour=3))
    assert len(feed(policy, [10, 20, 30, 35])) == 1      # heard
    late = feed(policy, [400, 410, 420, 425])
    assert len(late) == 1
    policy.withdraw(late[0].t)
    policy.withdraw(999.0)                               # a time it never suggested at: nothing changes
    assert len(feed(policy, [440, 450, 460, 465])) == 1  # the heard one's cooldown ended long ago


def test_muted_frames_never_suggest():
    policy = EscalationPolicy(EscalationSettings())
    out = []
    for t in (10.0, 20.0, 30.0):
        out += policy.process(t, [interruption(t)], False, muted=True)
    assert out == []


def test_the_light_interruption_method_needs_more_interruptions_alone():
    # the features method hears tens of false interruptions per hour of calm talk in a room: three in a minute is
    # what a reverberant calm talk gives it, so it takes interruptions_features of them
    policy = EscalationPolicy(EscalationSettings(), interruption_method="features")
    assert feed(policy, [10.0, 20.0, 30.0, 40.0]) == []
    out = feed(policy, [50.0])
    assert len(out) == 1 and out[0].reason == "5 interruptions in 60 s"
    assert len(feed(EscalationPolicy(EscalationSettings(), interruption_method="model"), [10.0, 20.0, 30.0, 40.0])) == 1
    # ...and still counts them over the whole window, not interruptions_span_s
    assert len(feed(EscalationPolicy(EscalationSettings(), interruption_method="features"),
                    [0.0, 15.0, 30.0, 45.0, 59.0])) == 1


def test_a_raised_voice_counts_from_the_onset_its_detector_reports():
    # raised from 10.0 s, confirmed at 11.2 s: 3 s of raised voice are reached at 13.0 s, not 14.2 s
    policy = EscalationPolicy(EscalationSettings(raised_s=3.0), frame_ms=30)
    out = policy.process(11.2, [RaisedVoice(t=11.2, start=10.0, speaker="A")], True)
    t = 11.2
    while not out and t < 20.0:
        t += 0.03
        out = policy.process(t, [], True)
    assert out and 12.9 <= out[0].t <= 13.1
    # a claimed onset far back counts only onset_credit_s
    policy = EscalationPolicy(EscalationSettings(raised_s=3.0, onset_credit_s=1.0), frame_ms=30)
    assert policy.process(11.2, [RaisedVoice(t=11.2, start=0.0, speaker="A")], True) == []


def test_by_default_one_raised_voice_that_goes_on_half_a_second_suggests_a_pause_and_a_short_one_does_not():
    # 2 s of raised voice (thirty-ninth pass): an event with 1.5 s of onset credit, then 0.5 s more of raised speech
    policy = EscalationPolicy(EscalationSettings(), frame_ms=30)
    out = policy.process(11.5, [RaisedVoice(t=11.5, start=10.0, speaker="A")], True)
    t = 11.5
    while not out and t < 20.0:
        t += 0.03
        out = policy.process(t, [], True)
    assert out and 11.9 <= out[0].t <= 12.1 and out[0].reason.startswith("raised voices for 2 s")
    # a meow heard as a raised voice: confirmed, then under the exit level at once (no raised time after it)
    policy = EscalationPolicy(EscalationSettings(), frame_ms=30)
    out = policy.process(11.5, [RaisedVoice(t=11.5, start=10.0, speaker="A")], True)
    for k in range(1, 300):
        out += policy.process(11.5 + 0.03 * k, [], False)
    assert out == []
