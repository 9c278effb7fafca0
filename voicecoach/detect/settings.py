"""Detection settings: every threshold of the detectors, with its unit in its name and its allowed range.

Sections nest: ``[detection]`` holds the feature settings, ``[detection.speakers]``, ``[detection.raised]``,
``[detection.interruption]`` and ``[detection.escalation]`` hold each detector's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import section, setting


@dataclass(frozen=True)
class SpeakerSettings:
    """The two-partner voice model (who is speaking)."""

    new_partner_distance: float = setting(
        0.8, lo=0.0, hi=10.0,
        doc="two voices are told apart once their clusters stand this far apart (in units of their spread)")
    decide_ms: int = setting(450, lo=90, hi=3000, doc="speech needed before a stretch is given a partner label, ms")
    gap_ms: int = setting(120, lo=60, hi=2000, doc="silence that ends a stretch of speech (a turn boundary), ms")
    noisy_gap_ms: int = setting(
        360, lo=60, hi=2000,
        doc="the same in noise (speech under noisy_snr_db above the floor): soft sounds fall under the floor there")
    noisy_snr_db: float = setting(15.0, lo=0.0, hi=60.0,
                                  doc="typical speech level above the noise floor under which noisy_gap_ms applies, dB")
    unsure_ratio: float = setting(
        0.8, lo=0.0, hi=10.0,
        doc="a stretch's label is unsure while its voice is at least this share of its distance to the labelled "
            "partner from the other one (a near tie); the raised-voice detector is wary then (above 1: never)")
    split_ratio: float = setting(
        0.6, lo=0.0, hi=1.0,
        doc="a stretch is split where its last 600 ms of speech are nearer the other partner than this share of "
            "their distance to the labelled one (a turn change with no gap), and the new one named after the other "
            "partner; 0: never. 0.6 chosen on TUNE draws 1-3 of builder 8 (raised-voice replays: false events 2 -> 0, "
            "0.7: 2, 0.8: 1; speech frames named right 0.887 -> 0.920); held out, EVAL 34, 43, 44: named right "
            "0.893 -> 0.920, raised voice found 229 of 250 both, 3 false both, pauses 27 of 27 both")


@dataclass(frozen=True)
class RaisedSettings:
    """Raised voice: a changed voice (pitch, energy above 1 kHz) louder than the partner's own calm baseline."""

    level_window_ms: int = setting(900, lo=150, hi=5000, doc="speech averaged for the current loudness, ms")
    voice_window_ms: int = setting(1350, lo=150, hi=10000,
                                   doc="voiced speech of the current turn averaged for its pitch and tilt, ms")
    enter_db: float = setting(7.0, lo=1.0, hi=30.0,
                              doc="evidence (dB above own calm baseline, plus pitch/brightness bonus) to enter")
    min_level_db: float = setting(4.5, lo=0.0, hi=30.0,
        doc="loudness above own baseline needed whatever the support, dB")
    exit_db: float = setting(3.5, lo=0.0, hi=30.0, doc="leave when loudness falls below baseline + this, dB")
    over_other_db: float = setting(
        -4.0, lo=-20.0, hi=20.0,
        doc="also needed: loudness at least this far above the OTHER partner's calm baseline, dB (negative: a "
            "quiet partner is heard rising to about the loud one's calm level; guards frames given to the wrong "
            "partner)")
    like_other_db: float = setting(
        1.0, lo=-20.0, hi=30.0,
        doc="a turn whose level is under this far over the OTHER partner's calm level, and whose voice is changed "
            "less than like_other_change against that partner's calm voice, is their calm voice under this one's "
            "label (the tracker names a turn's first words, or an overlap, wrong): no raise, dB. 1 and 0.5 chosen "
            "at the thirty-ninth pass on TUNE draws 1-8 (calm talk) and 1-3, 10-13 (raised voices) and on EVAL "
            "52-54, looked at: 3 dB took more false events away on TUNE (12 -> 7, 1 dB: 9) but lost 6 of EVAL "
            "52-54's 253 raises (a man's angry voice as high and bright as his partner's calm one; 1 dB: 3). Fresh "
            "EVAL 55-57: 2 of 248 raises lost, no false event taken away")
    like_other_change: float = setting(
        0.5, lo=0.0, hi=10.0,
        doc="...and its voice change against the other partner's calm voice is under this times min_change (0: "
            "never)")
    min_change: float = setting(
        1.0, lo=0.0, hi=10.0,
        doc="voice change needed, whatever the loudness: pitch rise / pitch_rise_st + rise of the voiced "
            "frames' energy above 1 kHz / tilt_rise_db (leaning in or moving nearer scores about 0)")
    pitch_rise_st: float = setting(4.0, lo=0.5, hi=24.0, doc="pitch rise that alone makes a changed voice, semitones")
    tilt_rise_db: float = setting(5.0, lo=0.5, hi=30.0,
                                  doc="rise of voiced energy above 1 kHz (relative to below) that alone makes a "
                                      "changed voice, dB")
    min_tilt_rise_db: float = setting(3.0, lo=0.0, hi=30.0,
                                      doc="a changed voice also has at least this much more voiced energy above "
                                          "1 kHz (pitch alone may be the other partner's voice given to this one), dB")
    pitch_weight_db_per_st: float = setting(0.5, lo=0.0, hi=5.0, doc="evidence bonus per semitone of raised pitch, dB")
    bright_weight: float = setting(0.25, lo=0.0, hi=5.0, doc="evidence bonus per dB of extra energy above 1 kHz")
    max_bonus_db: float = setting(4.0, lo=0.0, hi=20.0, doc="cap on the pitch + brightness bonus, dB")
    resume_gap_ms: int = setting(600, lo=0, hi=5000,
                                 doc="speech after a pause up to this long continues the same turn (its level and "
                                     "voice windows go on) unless it turns out to be the other partner, ms")
    resumed_raised: bool = setting(
        True,
        doc="speech that resumes within resume_gap_ms of a raised partner's speech is their raised time while loud "
            "over their exit level, before the speaker tracker names it (an angry turn's breaths each start a stretch "
            "the tracker leaves unnamed for 150-450 ms: that much raised voice went uncounted after each). Fortieth "
            "pass: TUNE 1-8 calm talk (27.6 h) the same 9 false events and 3 false suggestions at the same times; "
            "TUNE 1-3 raised-voice escalations from their first sign dry 2.7 -> 2.5 s, rooms 2.7 -> 2.3 s. Held out: "
            "EVAL 46-57 calm talk (42.8 h) no false suggestion either way; pause median dry EVAL 46-48 14.4 -> 13.9 "
            "s, 49-51 7.3 -> 6.8 s; raised-voice escalations in rooms from their first sign 3.2 -> 2.8 and 3.0 -> "
            "2.4 s. Raised-voice events are the same, frame for frame")
    both_loud_db: float = setting(
        6.5, lo=0.0, hi=40.0,
        doc="while one partner's raised stretch is on, speech named as the other partner this far over BOTH "
            "partners' calm levels is the raised partner's raised time, dB (0: off; the tracker names 20-27 % of "
            "an angry turn's frames as the other partner). 6.5 (exit_db + 3) chosen at the fortieth pass on TUNE "
            "1-8 calm talk (27.6 h): 3 false suggestions as without it, at the same times (exit_db alone: 4); TUNE "
            "1-3 pause median dry 5.8 -> 5.5 s. Held out: EVAL 46-57 calm talk (42.8 h) no false suggestion either "
            "way; pause median dry EVAL 46-48 13.9 -> 12.6 s, EVAL 49-51 and rooms unchanged")
    min_speech_ms: int = setting(300, lo=30, hi=5000, doc="speech of the turn heard before its level is judged, ms")
    min_voiced_ms: int = setting(150, lo=30, hi=5000,
                                 doc="voiced speech of the turn heard before its voice is judged at all, ms")
    confidence_z: float = setting(
        2.0, lo=0.0, hi=5.0,
        doc="the voice change must still reach min_change with this many standard errors taken off the turn's "
            "mean pitch and tilt rises (each partner's own calm spread per frame): a large change is sure after a "
            "few syllables, a small one needs the whole voice window")
    joint_confidence_z: float = setting(
        2.25, lo=0.0, hi=5.0,
        doc="when pitch and tilt both rose, the bound is on their sum: this many standard errors of the sum taken "
            "off it (pitch and tilt wander nearly independently in calm speech), not confidence_z off each rise "
            "(0: each rise alone, as before). 2.25 chosen on TUNE draws 1-20 of dev-set builder 8 (the most raises "
            "found sooner with no lean-in event on TUNE 4-20)")
    hold_ms: int = setting(300, lo=0, hi=10000, doc="evidence must last this much speech before the event, ms")
    release_ms: int = setting(1500, lo=0, hi=20000, doc="below the exit level this long ends a raised stretch, ms")
    identity_st: float = setting(
        8.0, lo=0.0, hi=48.0,
        doc="a partner's calm pitch this far from the speaker tracker's voice of that partner was learned from "
            "another voice (the tracker named the other partner's turns as theirs before it told the voices apart): "
            "after identity_s of their speech the baseline is learned afresh, semitones (0: never). 8 and 3 s chosen "
            "on TUNE draws 1-3 of dev-set builder 8 (6, 8 and 10 the same there; 1 s lost a raise)")
    identity_s: float = setting(3.0, lo=0.0, hi=600.0,
                                doc="...for this long of that partner's speech, s")
    refractory_s: float = setting(6.0, lo=0.0, hi=600.0,
        doc="after a raised stretch ends, no new event for the same partner, s")
    baseline_speech_s: float = setting(5.0, lo=0.5, hi=120.0,
        doc="calm speech needed before a partner's baseline is trusted, s")
    baseline_rate_db_per_s: float = setting(0.6, lo=0.0, hi=10.0,
        doc="how fast the calm baseline may move, dB per s of speech")
    together_adapt_s: float = setting(
        8.0, lo=0.0, hi=600.0,
        doc="both partners louder with no pitch/brightness change for this long = moved nearer: baselines follow, s")
    adapt_after_s: float = setting(3.0, lo=0.3, hi=600.0,
                                   doc="louder with an unchanged voice for this long (speech) = moved nearer the "
                                       "microphone: the baseline follows, s")
    distance_rate_db_per_s: float = setting(
        3.0, lo=0.1, hi=30.0, doc="how fast the baseline follows a change of distance, dB per s of speech")


@dataclass(frozen=True)
class InterruptionSettings:
    """Interruption: the other partner starts while one holds the floor, and keeps going."""

    method: str = setting("gated", choices=("stream", "gated", "model", "features"),
                          doc="'gated' (default): the segmentation model, looking only when our small streaming "
                              "two-voice model hears a second voice (EVAL draws 1-3 of dev-set builder 7, against "
                              "'model': dry F1 0.85 / 0.86, rooms 0.68 / 0.53, false per hour of calm talk 2.2 / 4.7 "
                              "dry and 14 / 35 in rooms, 2.5x fewer looks, AMI recall 0.09 / 0.20); "
                              "'model': the segmentation model, looking when the voice features hint; 'stream': "
                              "the streaming model alone (fastest with a model, far less accurate); 'features': "
                              "pitch and timbre contrasts (lightest, far less accurate; the settings below marked so)")
    floor_ms: int = setting(1000, lo=0, hi=10000, doc="a partner holds the floor after this much speech, ms")
    min_run_ms: int = setting(600, lo=100, hi=5000,
                              doc="model: the interrupter goes on this long (a backchannel is shorter), ms")
    model_window_ms: int = setting(4000, lo=2500, hi=10000, doc="model: audio the model looks at each time, ms")
    check_every_ms: int = setting(210, lo=30, hi=2000, doc="model: how often the model looks during talk, ms")
    delay_ms: int = setting(100, lo=0, hi=1000,
                            doc="model: the window is judged up to this long before its end (little future there), ms")
    activity_threshold: float = setting(0.5, lo=0.05, hi=0.95, doc="model: a voice is active above this probability")
    hint_ms: int = setting(600, lo=0, hi=10000,
        doc="model: when no second voice is being followed, the model looks only if the voice features hinted at one "
            "within this long (a third to half fewer looks; 0: look whenever there is talk), ms")
    end_confidence: float = setting(0.8, lo=0.0, hi=1.0,
        doc="model: the interrupter's mean probability over the last 100 ms judged must reach this (a backchannel "
            "the model runs on into the holder's voice scores lower)")
    stream_threshold: float = setting(0.9, lo=0.05, hi=0.99,
        doc="stream: an interruption when the streaming model's cut-in probability stays at or above this (0.9 "
            "and 60 ms chosen for the retrained weights, stream-alone.npz, on TUNE draws 1-3 of dev-set builder 7: "
            "F1 0.52 at 28 false per hour of calm talk; 0.85: 0.50 at 39; 0.95: 0.44 at 14)")
    stream_confirm_ms: int = setting(60, lo=30, hi=1000,
        doc="stream: ...for this long (in 30 ms steps; 30 ms: F1 0.51 at 30 false per hour on the same draws), ms")
    stream_equalise: bool = setting(
        True, doc="stream, gated: equalise the streaming model's input to the long-term speech spectrum it was "
                  "trained on (a laptop microphone's response; detect/equaliser.py). Measured with gated: a "
                  "laptop's response, TUNE draw 1 dry / rooms F1 0.544 / 0.520 -> 0.742 / 0.655, held out (EVAL "
                  "34) 0.639 / 0.548 -> 0.808 / 0.539; flat talks 0.821 / 0.712 -> 0.819 / 0.712")
    stream_block_ms: int = setting(90, lo=30, hi=1000,
        doc="stream, gated: the streaming model runs on this much audio at a time (longer: less CPU, later "
            "decisions), ms")
    gate_threshold: float = setting(0.1, lo=0.0, hi=1.0,
        doc="gated: the segmentation model may look when the cut-in probability reached this (see gate_delay_ms) "
            "(0.1 and 0.7 chosen on TUNE draw 1 of dev-set builder 7, replaying the 'model' method's interruptions "
            "through the gate: the gate open 17 % of the time, dry F1 -0.002, rooms +0.09)")
    gate_voices: float = setting(0.7, lo=0.0, hi=1.0,
        doc="gated: ...or when the probability of two voices at once reached this")
    gate_delay_ms: int = setting(0, lo=0, hi=2000,
        doc="gated: the segmentation model may look from this long after the streaming model's evidence...")
    gate_hold_ms: int = setting(600, lo=30, hi=10000,
        doc="gated: ...until this long after it, ms")
    gate_idle_ms: int = setting(600, lo=30, hi=10000,
        doc="gated: while the gate is open and no second voice is being followed, the model looks this often (0 / 600 "
            "/ 600 kept: on TUNE draw 1 of dev-set builder 7, delay 300, hold 300 and idle 1200 look 11.3 times a "
            "minute instead of 18.9 (model 48.4: the 4x issue 16 asks) but lose 0.014 of dry F1 (0.826 -> 0.812), "
            "and on EVAL draw 1 0.034; idle 1200 alone: 12.1 a minute at -0.024; held out at builder 8, EVAL "
            "34-36: 11.1 a minute against 18.5 (model 46.1), dry F1 0.859 against 0.862 (model 0.841), but 94 "
            "against 97 of 108 escalations caught in rooms on EVAL 31-42), ms")
    gate_holder_share: float = setting(0.4, lo=0.0, hi=1.0,
        doc="gated: the floor holder must still be heard in this share of the second voice's run up to the look that "
            "finds it complete, or it is no interruption (a turn change heard through a room or over a TV; chosen on "
            "TUNE draw 1 of builder 7 replaying the runs' events: false per hour of calm talk in rooms 24.6 -> 13.9, "
            "rooms F1 0.595 -> 0.626, dry F1 0.812 unchanged; 0.5 costs 0.03 of dry F1; 0: off)")
    holder_above_bed_db: float = setting(
        7.0, lo=0.0, hi=40.0,
        doc="gated, model: the floor holder's last floor_ms before the second voice must average this far over the "
            "background bed (or 0.6 of the partners' speech level over it, whichever is lower), or it was a TV or "
            "radio voice, not a partner (see holder_floor.py; chosen on TUNE draws 1-3 of builder 7: 10 of 629 "
            "interruptions dropped, all false; EVAL draws 1-3: false per hour of calm talk in rooms 13.7 -> 12.6, "
            "rooms F1 0.679 -> 0.683, dry unchanged; 0: off)")
    timbre_weight: float = setting(1.0, lo=0.0, hi=5.0, doc="features: evidence per unit of timbre (cepstral) contrast")
    pitch_weight: float = setting(1.0, lo=0.0, hi=5.0,
        doc="features: evidence per unit of pitch contrast (the other's pitch = 1)")
    clean_snr_db: float = setting(15.0, lo=0.0, hi=80.0,
                                  doc="features: below this speech-to-noise ratio more evidence is needed (noise fools "
                                      "the features), dB")
    fit_ratio: float = setting(1.3, lo=0.5, hi=10.0,
                               doc="features: the interrupter's frames must fit the other partner's voice this well "
                                   "(mean distance / the holder's usual distance to their own voice)")
    unvoiced_neutral: bool = setting(True, doc="features: unvoiced frames leave the evidence unchanged")
    level_weight_per_db: float = setting(
        0.1, lo=0.0, hi=2.0, doc="features: evidence per dB of level above the holder's own (overlap adds up)")
    drift: float = setting(-0.5, lo=-3.0, hi=3.0,
                           doc="features: evidence per frame below this is the holder's own speech (CUSUM drift)")
    threshold: float = setting(
        10.0, lo=0.5, hi=100.0,
        doc="features: accumulated evidence (counted per 30 ms of speech) that makes an interruption")
    sustain_ms: int = setting(600, lo=100, hi=5000,
        doc="features: evidence must keep growing this long (shorter = backchannel), ms")
    refractory_s: float = setting(3.0, lo=0.0, hi=60.0,
                                  doc="features: after an interruption, no new one for this long, s")
    settle_s: float = setting(20.0, lo=0.0, hi=600.0,
        doc="features: none in the first this-many seconds after both voices are first told apart (the voice model is "
            "unreliable at first; a calibration profile skips this), s")


@dataclass(frozen=True)
class EscalationSettings:
    """When to suggest the agreed pause (rules over a sliding window)."""

    window_s: float = setting(60.0, lo=10.0, hi=900.0, doc="sliding window for counting events, s")
    interruptions: int = setting(
        4, lo=1, hi=50,
        doc="this many interruptions within the window suggest a pause (4, was 3, chosen with the default 'gated' "
            "method on TUNE draws 1-3 of dev-set builder 7: false pause suggestions in 4.7 h of calm talk in rooms "
            "14 -> 4, escalations caught 50 -> 49 of 54)")
    interruptions_span_s: float = setting(
        50.0, lo=1.0, hi=900.0,
        doc="...and those interruptions must fall within this span (at most window_s), s (50, was the whole 60 s "
            "window: chosen on TUNE draws 1-6 of dev-set builder 7 plus calm and escalating room talks of TUNE 4-6, "
            "where it drops the one false suggestion of four interruptions spread over 50-60 s and slows no "
            "escalation; held out, EVAL 1-5: false suggestions in calm rooms with noise 4 -> 2 in 3.0 h, no "
            "escalation later or missed. The 'features' method still counts over the whole window)")
    voice_bed_share: float = setting(
        0.2, lo=0.0, hi=1.0,
        doc="a background bed whose frames are voiced this often is a voice (a TV, a radio, a song; voice_bed.py), "
            "and so is a bed not known yet (the first minute or so): over it interruptions alone must come closer "
            "together (below). Household noise is voiced mostly under 0.05 of the time, music and a TV 0.2-0.55. 0.2 "
            "chosen on TUNE draws 1-4 of dev-set builder 8 replaying the runs' interruptions (0.15-0.25 alike; 0.3 keeps one of "
            "three false suggestions): false suggestions in calm rooms 2 -> 0 plus 1 -> 0 before an escalation "
            "began, escalations caught 33 -> 34 of 36 in rooms and 35 of 36 dry, two 2-4 s later; held out, EVAL "
            "34-36: false 2 -> 0 in 0.88 h of calm rooms, escalations caught 27 of 27 / 26 of 27 and medians "
            "unchanged; EVAL 31-33: caught 24 -> 23 of 27 in rooms, an argument over a TV (0: never)")
    voice_bed_span_s: float = setting(
        25.0, lo=1.0, hi=900.0,
        doc="over a voice bed, the interruptions must fall within this span instead, s...")
    voice_bed_span_step_s: float = setting(
        15.0, lo=0.0, hi=900.0,
        doc="...or one more of them for each this-many seconds more of span, up to interruptions_span_s (4 in 25 s, "
            "5 in 40, 6 in 50: each stricter than the usual rule), s (0: one span only)")
    interruptions_features: int = setting(
        5, lo=1, hi=50,
        doc="the same with the light 'features' interruption method, which hears tens of false interruptions per hour "
            "of calm talk in a room")
    raised_events: int = setting(2, lo=1, hi=50, doc="this many raised-voice events within the window suggest a pause")
    raised_s: float = setting(
        2.0, lo=1.0, hi=600.0,
        doc="this many seconds of raised voice within the window suggest a pause (2: one raised-voice event, with "
            "its onset credit, and half a second more of it). 2 chosen at the thirty-ninth pass, with "
            "detection.raised.like_other_db: TUNE 1-8 calm talk (27.6 h), false suggestions from raised voice alone "
            "3 at 3 s and at 2 s (without that check 3 and 6); TUNE 1-3 pause median rooms 8.1 -> 3.1 s, dry 6.5 -> "
            "6.0 s. Held out, EVAL 46-57: no false suggestion more in 42.8 h of calm talk; medians dry 16.0 "
            "-> 14.4 and 13.0 -> 7.3 s, rooms 15.0 -> 12.0 and 7.5 -> 6.0 s (EVAL 46-48, 49-51)")
    onset_credit_s: float = setting(
        1.5, lo=0.0, hi=10.0,
        doc="a raised voice counts from the onset its detector reports, at most this long before the event, s")
    combined_events: int = setting(2, lo=2, hi=50,
                                   doc="this many events (raised + interruptions, at least one of each) in the window")
    combined_span_s: float = setting(
        60.0, lo=1.0, hi=900.0,
        doc="...all of them within this span (at most window_s), s (60, the whole window: 15 tried at stop 55 takes "
            "3 of TUNE 4-20's 11 false suggestions in calm talk away, all after an animal sound, but none held out "
            "(EVAL 31-45's calm_long: 0 either way) and slows two held-out escalations by 2.7-2.9 s)")
    cooldown_min: float = setting(5.0, lo=0.0, hi=240.0, doc="after a suggestion, none for this long, minutes")
    max_per_hour: int = setting(3, lo=1, hi=60, doc="at most this many suggestions in any hour")


@dataclass(frozen=True)
class DetectionSettings:
    """Detector thresholds: per-frame features here, each detector in its own sub-section."""

    vad_aggressiveness: int = setting(2, lo=0, hi=3, doc="webrtcvad aggressiveness (0 = least, 3 = most)")
    dc_block: bool = setting(
        True, doc="take the microphone's DC offset off every frame first (detect/dc.py; a 0.5 % offset with hum, "
                  "TUNE draw 1: raised stretches found 38 -> 43 of 43, interruption F1 dry 0.776 -> 0.809)")
    speech_margin_db: float = setting(4.0, lo=0.0, hi=40.0, doc="speech must be this far above the noise floor, dB")
    min_speech_dbfs: float = setting(-65.0, lo=-100.0, hi=0.0, doc="quieter frames are never speech, dBFS")
    analysis_every: int = setting(2, lo=1, hi=4,
                                  doc="analyse pitch and timbre on every Nth speech frame (2 halves the cost)")
    gap_margin_db: float = setting(9.0, lo=0.0, hi=40.0,
                                   doc="speech closer than this to the noise floor counts as a gap between turns, dB")
    noise_rise_db_per_s: float = setting(1.0, lo=0.01, hi=20.0, doc="how fast the noise floor may rise, dB per s")
    speakers: SpeakerSettings = section(SpeakerSettings)
    raised: RaisedSettings = section(RaisedSettings)
    interruption: InterruptionSettings = section(InterruptionSettings)
    escalation: EscalationSettings = section(EscalationSettings)
