"""Local hooks: counts-only events to a real Mosquitto broker (with Home Assistant discovery) and to a local
program (no shell); a broker that is down costs one log line and never holds the kiosk up."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from voicecoach.config import config_from_dict
from voicecoach.errors import InputError
from voicecoach.hooks.events import DayCounts, Health, HomeState, HookEvent, HookKind
from voicecoach.hooks.mqtt import remaining_length
from voicecoach.hooks.runtime import Hooks
from voicecoach.hooks.settings import HookSettings, parse_mqtt_url
from voicecoach_dev.broker import Broker, free_port, missing_tools

needs_broker = pytest.mark.skipif(bool(missing_tools()), reason="needs Debian's mosquitto and mosquitto-clients")
# Everything an event or the state may say: labels and numbers the product made, never words.
EVENT_KEYS = {"event_type", "at", "checkin", "how", "minutes", "health", "microphone", "speech_model"}
STATE_KEYS = {"activity", "health", "microphone", "pauses_suggested_today", "pauses_taken_today",
              "pauses_not_now_today", "checkins_done_today"}


@pytest.fixture(scope="module")
def broker():
    if missing_tools():
        pytest.skip("needs Debian's mosquitto and mosquitto-clients (scripts/setup --test)")
    with Broker() as b:
        yield b


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- the pure parts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, encoded", [(0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"),
                                        (2097151, "ffff7f"), (2097152, "80808001"), (268435455, "ffffff7f")])
def test_remaining_length_is_encoded_as_the_mqtt_standard_says(n: int, encoded: str) -> None:
    assert remaining_length(n).hex() == encoded


@pytest.mark.parametrize("url, problem", [("http://pi:1883", "mqtt://"), ("mqtt://", "no host"),
                                          ("mqtt://pi:0x", "port"), ("mqtt://pi/topic", "no path")])
def test_a_broker_address_that_cannot_work_is_refused_with_the_key_named(url: str, problem: str) -> None:
    with pytest.raises(InputError, match=rf"hooks: mqtt = .*{problem}"):
        config_from_dict({"hooks": {"mqtt": url}})
    assert parse_mqtt_url("mqtt://ha:secret@10.0.0.2").port == 1883


@pytest.mark.parametrize("url, problem", [("mqtts://ha:8883", "TLS is not supported"),
                                          ("mqtt://ha:0", "port must be a number"),
                                          ("mqtt://home assistant", "a host name has no spaces"),
                                          ("mqtt://ha:s3cr#t@ha.local", "write # as %23")])
def test_tls_port_0_and_a_broken_address_are_refused_and_the_password_is_never_shown(url: str, problem: str) -> None:
    """mqtts:// was 'does not start with mqtt://' (TLS never named); port 0 was taken silently as 1883; a host with a
    space passed the check; a password that broke the URL was printed in the error."""
    with pytest.raises(InputError, match=rf"hooks: mqtt = .*{problem}") as refused:
        config_from_dict({"hooks": {"mqtt": url}})
    assert "s3cr" not in str(refused.value)


BAD_ADDRESSES = {
    "an empty part of the host": ("mqtt://ha..local", "a part between dots that is empty or longer than 63"),
    "a 70-letter part of the host": (f"mqtt://{'h' * 70}.local", "a part between dots that is empty or longer"),
    "a 70,000-byte password": (f"mqtt://ha:{'p' * 70_000}@ha.local", "the password is longer than MQTT allows"),
    "a 70,000-byte user name": (f"mqtt://{'u' * 70_000}@ha.local", "the user name is longer than MQTT allows"),
}


@pytest.mark.parametrize("kind", BAD_ADDRESSES)
def test_an_address_the_socket_or_mqtt_cannot_take_is_refused_when_the_config_is_read(kind: str, tmp_path: Path,
                                                                                     run_cli, tmp_home) -> None:
    """These passed the config's check: voicecoach check said "the check itself failed: ... report it" (a
    UnicodeError from the host name's encoding, a struct.error packing the password) and the kiosk logged a traceback
    at every retry. Now reading the config refuses them in one line, exit 2, the key named and the value cut short
    (the password never shown); voicecoach check reports it as its config's FAIL line."""
    url, needle = BAD_ADDRESSES[kind]
    config = tmp_path / "hooks.toml"
    config.write_text(f'[hooks]\nmqtt = "{url}"\n')
    for args in (("config", "check"), ("kiosk", "--pretend-time", "2026-11-23T12:00:00")):  # by day: said at once
        result = run_cli("--config", config, *args, env=tmp_home.env, timeout=60)
        assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-500:])
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "hooks: mqtt = " in lines[0] and needle in lines[0], result.stderr[-500:]
        message = lines[0].replace(str(config), "hooks.toml")   # the temporary folder's length left out
        assert len(message) < 360 and "ppp" not in message, message[:400]
    checked = run_cli("--config", config, "check", "--no-devices", env=tmp_home.env, timeout=120)
    assert checked.returncode == 1 and "the check itself failed" not in checked.stdout, checked.stdout[-1000:]
    assert any(line.startswith("FAIL config:") and needle in line for line in checked.stdout.splitlines())


def test_a_percent_encoded_user_and_password_reach_the_broker_decoded() -> None:
    """A password with # / ? in it must be written %23 %2F %3F in a URL; it was sent to the broker still encoded
    (refused: 'the broker refused the user name or password')."""
    address = parse_mqtt_url("mqtt://ha%20kiosk:p%40ss%23w%2Fd@10.0.0.2:1884")
    assert (address.username, address.password, address.port) == ("ha kiosk", "p@ss#w/d", 1884)
    if missing_tools():
        return
    from voicecoach.hooks.mqtt import probe_broker

    with Broker(users={"ha kiosk": "p@ss#w/d"}) as b:
        probe_broker(parse_mqtt_url(f"mqtt://ha%20kiosk:p%40ss%23w%2Fd@127.0.0.1:{b.port}"), "voicecoach-test")


BAD_TOPICS = {
    "a line break": ('topic = "voice\\ncoach"', "topic = 'voice\\ncoach' has a space or control character (U+000A)"),
    "a NUL": ('topic = "voice\\u0000coach"', "control character (U+0000)"),
    "a tab": ('discovery_prefix = "home\\tassistant"', "discovery_prefix = 'home\\tassistant' has a space"),
    "a wildcard": ('topic = "home/+/voicecoach"', "# and + are wildcards"),
    "an empty level": ('topic = "home//voicecoach"', "topic = 'home//voicecoach' has an empty level"),
    "a trailing /": ('discovery_prefix = "homeassistant/"', "discovery_prefix = 'homeassistant/' has an empty level"),
    "the broker's own": ('discovery_prefix = "$SYS/homeassistant"', "starts with $, which MQTT keeps for the broker"),
    "70,000 bytes": (f'topic = "{"x" * 70_000}"', "topic is 70000 bytes long"),
    "33,000 two-byte letters": (f'topic = "{"é" * 33_000}"', "topic is 66000 bytes long"),  # 33,000 characters
}


@pytest.mark.parametrize("kind", BAD_TOPICS)
def test_a_topic_mqtt_cannot_carry_is_refused_when_the_config_is_read(kind: str, tmp_path: Path, run_cli,
                                                                     tmp_home) -> None:
    """A topic of 70,000 bytes passed the check and ended in a traceback in the kiosk's log when it connected
    (struct.error packing the will's topic); one with a control character passed too, and the broker hung up on
    it ('cannot reach the MQTT broker'): now both are refused at start, naming the key and the fix."""
    line, needle = BAD_TOPICS[kind]
    config = tmp_path / "hooks.toml"
    config.write_text(f'[hooks]\nmqtt = "mqtt://127.0.0.1:{free_port()}"\n{line}\n', encoding="utf-8")
    for args in (("config", "check"), ("kiosk", "--pretend-time", "2026-11-23T12:00:00")):  # by day: said at once
        result = run_cli("--config", config, *args, env=tmp_home.env, timeout=60)
        assert result.returncode == 2, (result.returncode, result.stderr[-500:])
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-500:]
        assert needle in lines[0] and "hooks:" in lines[0] and "(e.g." in lines[0], lines[0]
        message = lines[0].replace(str(config), "hooks.toml")   # the temporary folder's length left out
        assert len(message) < 360, message[:400]


def test_the_longest_topic_prefix_allowed_still_fits_every_topic_the_kiosk_sends() -> None:
    from voicecoach.hooks.ha import discovery, topics_for
    from voicecoach.hooks.mqtt import publish_packet
    from voicecoach.hooks.settings import MQTT_TOPIC_MAX_BYTES, TOPIC_PREFIX_MAX_BYTES

    prefix = "é" * (TOPIC_PREFIX_MAX_BYTES // 2) + "x" * (TOPIC_PREFIX_MAX_BYTES % 2)  # exactly at the limit
    assert len(prefix.encode("utf-8")) == TOPIC_PREFIX_MAX_BYTES
    settings = config_from_dict({"hooks": {"mqtt": "mqtt://ha", "topic": prefix, "discovery_prefix": prefix,
                                           "details": True}}).hooks
    topics = topics_for(settings, "h" * 255)
    sent = [m.topic for m in discovery(settings, topics, "h" * 255)]
    sent += [topics.availability, topics.state, topics.event]
    assert max(len(t.encode("utf-8")) for t in sent) <= MQTT_TOPIC_MAX_BYTES
    for topic in sent:
        publish_packet(topic, b"")
    with pytest.raises(InputError, match="at most 65023 bytes"):
        config_from_dict({"hooks": {"topic": prefix + "x"}})


def test_words_and_details_stay_home_unless_the_couple_turns_details_on() -> None:
    suggested = HookEvent(HookKind.PAUSE_SUGGESTED, 1.8e9, reason="3 interruptions in 60 s")
    assert "reason" not in suggested.to_dict() and suggested.to_dict(details=True)["reason"]
    hooks = Hooks(HookSettings())  # nothing configured: nothing runs, and nothing is queued
    hooks.send(HookKind.RAISED_VOICE)
    assert hooks.mqtt is None and hooks.command is None


def test_todays_counts_start_from_zero_on_a_new_day() -> None:
    state = HomeState()
    monday = time.mktime((2026, 11, 23, 21, 0, 0, 0, 0, -1))
    for kind in (HookKind.PAUSE_SUGGESTED, HookKind.PAUSE_NOT_NOW, HookKind.PAUSE_SUGGESTED, HookKind.PAUSE_TAKEN):
        state.apply(HookEvent(kind, monday))
    assert state.counts == DayCounts(date(2026, 11, 23), pauses_suggested=2, pauses_taken=1, pauses_not_now=1)
    assert state.activity.value == "pause"
    state.apply(HookEvent(HookKind.CHECKIN_DONE, monday + 86400))
    assert state.counts == DayCounts(date(2026, 11, 24), checkins_done=1)
    assert state.roll_over(date(2026, 11, 25)) and state.counts == DayCounts(date(2026, 11, 25))


# --- a real broker -----------------------------------------------------------------------------------------------

LIFECYCLE = [(HookKind.HEALTH, {"health": Health(True, True, True)}),
             (HookKind.PAUSE_SUGGESTED, {"reason": "2 raised voices in 60 s"}),
             (HookKind.PAUSE_NOT_NOW, {}),
             (HookKind.PAUSE_SUGGESTED, {"reason": "15 s of raised voice"}),
             (HookKind.PAUSE_TAKEN, {"minutes": 20.0}),
             (HookKind.PAUSE_ENDED, {"how": "finished", "minutes": 20.0}),
             (HookKind.CHECKIN_DUE, {"checkin": "nightly"}),
             (HookKind.CHECKIN_STARTED, {"checkin": "nightly"}),
             (HookKind.CHECKIN_DONE, {"checkin": "nightly", "how": "completed", "minutes": 9.5}),
             (HookKind.RAISED_VOICE, {}),  # details are off: this one must not arrive
             (HookKind.HEALTH, {"health": Health(False, False, True)})]


@needs_broker
def test_home_assistant_discovers_the_kiosk_and_each_event_arrives_counts_only(broker: Broker) -> None:
    settings = HookSettings(mqtt=broker.url)
    with broker.subscribe("#") as sub:
        hooks = Hooks(settings, hostname="Living-Room Pi").start()
        for kind, fields in LIFECYCLE:
            hooks.send(kind, **fields)
        hooks.close()
        sub.wait_for("voicecoach/voicecoach_living_room_pi/availability", lambda m: m.payload == "offline")
    configs = {m.topic: m for m in sub.on("homeassistant/#") if m.payload}
    sensors = [t for t in configs if t.startswith("homeassistant/sensor/voicecoach_living_room_pi/")]
    assert len(sensors) == 6 and "homeassistant/event/voicecoach_living_room_pi/lifecycle/config" in configs
    for m in configs.values():
        config = m.json()
        assert config["device"]["identifiers"] == ["voicecoach_living_room_pi"]
        assert config["unique_id"].startswith("voicecoach_living_room_pi_")
        assert config["availability_topic"] == "voicecoach/voicecoach_living_room_pi/availability"
    event_types = configs["homeassistant/event/voicecoach_living_room_pi/lifecycle/config"].json()["event_types"]
    assert "pause_taken" in event_types and "raised_voice" not in event_types

    events = [m.json() for m in sub.on("voicecoach/+/event")]
    assert [e["event_type"] for e in events] == [k.value for k, _ in LIFECYCLE if k is not HookKind.RAISED_VOICE]
    for e in events:
        assert set(e) <= EVENT_KEYS, e  # no reason, no words, no raised-voice details
    assert events[-2] == {**events[-2], "checkin": "nightly", "how": "completed", "minutes": 9.5}
    states = [m.json() for m in sub.on("voicecoach/+/state")]
    assert all(set(s) == STATE_KEYS for s in states)
    assert states[-1] == {"activity": "stopped", "health": "stopped", "microphone": "off",
                          "pauses_suggested_today": 2, "pauses_taken_today": 1, "pauses_not_now_today": 1,
                          "checkins_done_today": 1}
    assert hooks.mqtt.dropped == 0


@needs_broker
def test_with_details_on_raised_voices_are_counted_but_still_carry_no_words(broker: Broker) -> None:
    with broker.subscribe("voicecoach/#") as sub:
        hooks = Hooks(HookSettings(mqtt=broker.url, topic="vc-details", details=True), hostname="pi").start()
        hooks.send(HookKind.RAISED_VOICE)
        hooks.send(HookKind.PAUSE_SUGGESTED, reason="2 raised voices in 60 s")
        hooks.close()
    with broker.subscribe("vc-details/#") as sub:  # the state is retained: a newcomer sees it at once
        state = sub.wait_for("vc-details/+/state").json()
    assert state["raised_voices_today"] == 1 and state["pauses_suggested_today"] == 1


@needs_broker
def test_the_broker_is_told_the_kiosk_vanished_when_its_connection_dies(broker: Broker) -> None:
    with broker.subscribe("vc-will/#") as sub:
        hooks = Hooks(HookSettings(mqtt=broker.url, topic="vc-will"), hostname="pi").start()
        sub.wait_for("vc-will/+/availability", lambda m: m.payload == "online")
        assert wait_until(lambda: hooks.mqtt._conn is not None)
        hooks.mqtt._conn._sock.close()  # as if the kiosk lost power: no goodbye
        try:
            sub.wait_for("vc-will/+/availability", lambda m: m.payload == "offline")
        finally:
            # its worker would otherwise ping the dead socket minutes later and log into another test's capture
            # (CI: test_journal_follow failed on "the connection to the MQTT broker broke (Bad file descriptor)")
            hooks.close()


def test_a_broker_that_is_down_costs_one_log_line_and_never_waits(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    hooks = Hooks(HookSettings(mqtt=f"mqtt://127.0.0.1:{port}"), hostname="pi").start()
    with caplog.at_level(logging.INFO, logger="voicecoach.hooks"):
        t0 = time.monotonic()
        for _ in range(50):
            hooks.send(HookKind.PAUSE_SUGGESTED)
        assert time.monotonic() - t0 < 0.2  # the caller never waits for the network
        assert wait_until(lambda: hooks.mqtt.dropped == 50)
        if missing_tools():
            hooks.close()
            return
        with Broker(port) as b, b.subscribe("voicecoach/#") as sub:  # the broker comes back on the same port
            hooks.mqtt._next_attempt = 0.0  # skip the back-off wait (up to a minute) in the test
            hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
            sub.wait_for("voicecoach/+/event", lambda m: m.json()["event_type"] == "pause_taken")
            hooks.close()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("voicecoach.hooks")]
    assert len([x for x in lines if "events are dropped" in x]) == 1, lines
    assert any("is back (50 events were dropped meanwhile)" in x for x in lines), lines


@needs_broker
def test_a_broker_that_refuses_the_password_names_the_fix_not_a_wait(caplog: pytest.LogCaptureFixture) -> None:
    """A wrong password was logged as "...refused the connection (not authorised); events are dropped until it is
    back", as if the broker were down and waiting would help."""
    with Broker(users={"ha": "right"}) as b, caplog.at_level(logging.WARNING, logger="voicecoach.hooks"):
        hooks = Hooks(HookSettings(mqtt=f"mqtt://ha:wrong@127.0.0.1:{b.port}"), hostname="pi").start()
        hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
        assert wait_until(lambda: hooks.mqtt.dropped == 1)
        hooks.close()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("voicecoach.hooks")]
    assert len(lines) == 1 and "not authorised" in lines[0] and "fix the user name or password in [hooks] mqtt" \
        in lines[0] and "until it is back" not in lines[0] and "wrong" not in lines[0], lines


@needs_broker
def test_after_the_broker_restarts_the_next_event_still_arrives(caplog: pytest.LogCaptureFixture) -> None:
    """Mosquitto restarted (a Home Assistant update) while the kiosk was quiet: the next "pause taken" (the one
    that dims the lights) went into the closed connection and was lost, and so was every event in the next 2 s."""
    port = free_port()
    with Broker(port):
        hooks = Hooks(HookSettings(mqtt=f"mqtt://127.0.0.1:{port}", topic="vc-restart"), hostname="pi").start()
        assert wait_until(lambda: hooks.mqtt._conn is not None)
    with Broker(port) as b, b.subscribe("vc-restart/#") as sub, caplog.at_level(logging.INFO, "voicecoach.hooks"):
        hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
        sub.wait_for("vc-restart/+/event", lambda m: m.json()["event_type"] == "pause_taken")
        hooks.send(HookKind.PAUSE_ENDED, how="finished", minutes=20.0)
        sub.wait_for("vc-restart/+/event", lambda m: m.json()["event_type"] == "pause_ended")
        sub.wait_for("vc-restart/+/availability", lambda m: m.payload == "online")  # announced again
        hooks.close()
    assert (hooks.mqtt.sent, hooks.mqtt.dropped) == (2, 0)
    assert not [r for r in caplog.records if "dropped" in r.getMessage()]


# --- a local program ---------------------------------------------------------------------------------------------

def program(tmp_path: Path, body: str, name: str = "hook") -> list[str]:
    script = tmp_path / f"{name}.py"
    script.write_text("import json, sys, time\n" + body)
    return [sys.executable, str(script)]


def test_the_program_gets_each_event_as_json_on_stdin_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    argv = program(tmp_path, "event = json.load(sys.stdin)\n"
                             "open(sys.argv[1], 'a').write(json.dumps([event, sys.argv[2:]]) + '\\n')\n")
    hooks = Hooks(HookSettings(command=(*argv, str(out), "$(touch pwned); echo", "a b")), hostname="pi").start()
    hooks.send(HookKind.CHECKIN_DUE, checkin="weekly")
    hooks.send(HookKind.PAUSE_SUGGESTED, reason="3 interruptions in 60 s")
    hooks.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [event["event_type"] for event, _ in lines] == ["checkin_due", "pause_suggested"]
    assert lines[0][0]["checkin"] == "weekly" and "reason" not in lines[1][0]
    assert lines[0][1] == ["$(touch pwned); echo", "a b"]  # arguments arrive as given: no shell ever saw them
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_failing_hung_or_missing_program_is_one_log_line_each(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    cases = {"exits 3": (program(tmp_path, "sys.stderr.write('no lights\\n'); sys.exit(3)\n", "fails"),
                         "exited with 3 for a checkin_done event: no lights"),
             "hangs": (program(tmp_path, "time.sleep(30)\n", "hangs"), "was stopped"),
             "missing": ([str(tmp_path / "nope")], "does not exist")}
    for name, (argv, expected) in cases.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="voicecoach.hooks"):
            hooks = Hooks(HookSettings(command=tuple(argv), command_timeout_s=1.0), hostname="pi").start()
            hooks.send(HookKind.CHECKIN_DONE, checkin="nightly")
            hooks.close(program_s=10)
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and expected in lines[0], (name, lines)


def test_a_program_that_keeps_failing_is_one_log_line_until_it_works_again(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A hook that hangs (a curl to a web address that is down) or is missing was one warning per event, all
    evening; now one line for the problem, and one when it works again."""
    flag = tmp_path / "lights-off"
    flag.touch()
    argv = program(tmp_path, f"import os\nif os.path.exists({str(flag)!r}): time.sleep(30)\n", "flaky")
    with caplog.at_level(logging.INFO, logger="voicecoach.hooks"):
        hooks = Hooks(HookSettings(command=tuple(argv), command_timeout_s=1.0), hostname="pi").start()
        t0 = time.monotonic()
        for _ in range(3):
            hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
        assert time.monotonic() - t0 < 0.2  # the live loop never waits for the program
        assert wait_until(lambda: hooks.command.failed == 3, timeout_s=15)
        flag.unlink()
        hooks.send(HookKind.PAUSE_ENDED, how="finished", minutes=20.0)
        hooks.close(program_s=10)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("voicecoach.hooks")]
    assert len([x for x in lines if "was stopped" in x]) == 1, lines
    assert any("works again (3 events before were not delivered)" in x for x in lines), lines

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="voicecoach.hooks"):
        hooks = Hooks(HookSettings(command=(str(tmp_path / "nope"),)), hostname="pi").start()
        for _ in range(5):
            hooks.send(HookKind.CHECKIN_DUE, checkin="nightly")
        hooks.close(program_s=10)
    assert len([r for r in caplog.records if "does not exist" in r.getMessage()]) == 1


@needs_broker
def test_a_broker_that_does_not_answer_holds_the_kiosks_stop_2_s_at_most(caplog: pytest.LogCaptureFixture) -> None:
    """A broker that takes the connection but never answers (frozen: here a real Mosquitto stopped with SIGSTOP):
    closing the hooks waited for the connect's answer, 5 s more on every stop of the kiosk (systemctl stop, a
    restart after a config change). Now the goodbye is waited for 2 s at most, with one line; the broker's last
    will says the kiosk is offline."""
    import os
    import signal

    with Broker() as b:
        assert b.proc is not None
        os.kill(b.proc.pid, signal.SIGSTOP)
        try:
            hooks = Hooks(HookSettings(mqtt=b.url, topic="vc-frozen"), hostname="pi").start()
            hooks.send(HookKind.PAUSE_TAKEN, minutes=20.0)
            time.sleep(0.3)  # the worker is waiting for the broker's answer to CONNECT
            with caplog.at_level(logging.INFO, logger="voicecoach.hooks"):
                t0 = time.monotonic()
                hooks.close()
                took = time.monotonic() - t0
        finally:
            os.kill(b.proc.pid, signal.SIGCONT)
    assert took < 2.8, took
    assert any("did not answer within 2 s" in r.getMessage() for r in caplog.records)
