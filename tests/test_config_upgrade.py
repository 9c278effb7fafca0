"""An older config.toml after an update: keys an earlier version wrote that this one removed or renamed.

The texts below are what ``voicecoach config init`` wrote at the named commits (only the parts that matter), so no
test depends on an old checkout."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pytest

from voicecoach import cli
from voicecoach.config import Config, load_config
from voicecoach.config_retired import RETIRED, upgrade
from voicecoach.errors import InputError

# ``config init`` at 4f2195c^ (2026-12-03, 03:41-06:16): the gated method's look schedules, since removed
CONFIG_2026_12_03 = """\
[partners]
a_name = "Zoë"
b_name = "Jürgen"

[detection.interruption]
method = "gated"
gate_threshold = 0.1
gate_idle_ms = 600
gate_backoff = 1.0
gate_rise = 0.0
gate_recheck_ms = 0
gate_looks_per_min = 0.0
gate_holder_share = 0.4
gate_holder_span_ms = 0

[pause]
length_min = 25.0
"""

# ``config init`` at 335873b (2026-11-23): the kiosk's "ask again later" delay, since checkin.offer_later_min
CONFIG_2026_11_23 = """\
[kiosk]
nightly_time = "21:00"
later_min = 45.0
"""


def _write(home, text: str) -> Path:
    home.config_file.write_text(text, encoding="utf-8")
    home.config_file.chmod(0o600)  # as config init writes it (a file others can read is a WARN of its own)
    return home.config_file


def test_a_config_with_removed_keys_loads_keeping_everything_else_and_says_so_once(tmp_home, caplog):
    path = _write(tmp_home, CONFIG_2026_12_03)
    with caplog.at_level(logging.WARNING):
        config = load_config()
        load_config()  # the page reads it again and again: said once
    assert config.partners.a_name == "Zoë" and config.pause.length_min == 25.0
    assert config.detection.interruption.gate_holder_share == 0.4
    lines = [r.getMessage() for r in caplog.records if "removed in an update" in r.getMessage()]
    assert len(lines) == 1, lines
    assert str(path) in lines[0] and "detection.interruption.gate_backoff" in lines[0]
    assert "gate_holder_span_ms" in lines[0] and "delete their lines" in lines[0] and "\n" not in lines[0]
    assert path.read_text(encoding="utf-8") == CONFIG_2026_12_03  # the couple's file is theirs to change


@pytest.mark.parametrize("command", [["config", "check"], ["report"], ["journal", "export", "--json"]])
def test_commands_run_with_an_older_config_instead_of_refusing_it(tmp_home, capsys, command):
    _write(tmp_home, CONFIG_2026_12_03)
    assert cli.main(command) == 0
    assert "unknown key" not in capsys.readouterr().err


def test_voicecoach_check_warns_with_the_keys_to_delete(tmp_home):
    from voicecoach.cli.check import WARN, Context, check_config

    path = _write(tmp_home, CONFIG_2026_12_03)
    ctx = Context(argparse.Namespace(config=None))
    findings = check_config(ctx)
    assert [f.status for f in findings] == [WARN]
    assert str(path) in findings[0].detail and "gate_rise" in findings[0].detail
    assert ctx.config.partners.b_name == "Jürgen"


def test_a_renamed_key_keeps_its_value_under_the_new_name(tmp_home, caplog):
    path = _write(tmp_home, CONFIG_2026_11_23)
    with caplog.at_level(logging.WARNING):
        config = load_config()
    assert config.checkin.offer_later_min == 45.0 and config.kiosk.nightly_time == "21:00"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in said and "kiosk.later_min is now checkin.offer_later_min" in said
    assert "under [checkin] as offer_later_min" in said


def test_the_new_name_wins_when_both_are_set(tmp_home):
    _write(tmp_home, CONFIG_2026_11_23 + "\n[checkin]\noffer_later_min = 90.0\n")
    assert load_config().checkin.offer_later_min == 90.0


def test_a_renamed_value_out_of_range_is_still_refused(tmp_home):
    _write(tmp_home, "[kiosk]\nlater_min = 1.0\n")
    with pytest.raises(InputError, match="offer_later_min"):
        load_config()


def test_a_typo_is_still_an_unknown_key(tmp_home):
    _write(tmp_home, "[detection.interruption]\ngate_backof = 1.0\n")
    with pytest.raises(InputError, match="unknown key 'detection.interruption.gate_backof'"):
        load_config()


def test_upgrade_leaves_the_parsed_document_as_it_was():
    data = {"detection": {"interruption": {"gate_rise": 0.0, "method": "gated"}}, "kiosk": {"later_min": 50.0}}
    out, notices = upgrade(data, "c.toml")
    assert data == {"detection": {"interruption": {"gate_rise": 0.0, "method": "gated"}},
                    "kiosk": {"later_min": 50.0}}
    assert out == {"detection": {"interruption": {"method": "gated"}}, "kiosk": {},
                   "checkin": {"offer_later_min": 50.0}}
    assert len(notices) == 2


def test_no_retired_key_is_a_setting_again_and_every_new_name_is_one():
    """A retired key that came back would be dropped from the couple's file without a word."""
    known = set(_dotted(Config()))
    assert not known & set(RETIRED)
    assert {r.now for r in RETIRED.values() if r.now} <= known


def _dotted(obj: object, prefix: str = "") -> list[str]:
    from dataclasses import fields, is_dataclass

    out: list[str] = []
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        out += _dotted(value, f"{prefix}{f.name}.") if is_dataclass(value) else [prefix + f.name]
    return out


# --- an earlier version's defaults, written into the file by its config init ---------------------------------------

# ``config init`` at d383a4f (2026-12-02 17:09): the defaults of that day, every one written into the file
CONFIG_2026_12_02 = """\
[detection.raised]
hold_ms = 550
min_change = 1.6

[detection.interruption]
method = "model"
gate_threshold = 0.2

[detection.escalation]
interruptions = 3
cooldown_min = 5.0

[speech]
engines = ["pyttsx3", "espeak-ng"]
"""


def test_check_names_the_settings_an_earlier_version_pinned_and_changes_none(tmp_home):
    from voicecoach.cli.check import WARN, Context, check_config

    path = _write(tmp_home, CONFIG_2026_12_02)
    ctx = Context(argparse.Namespace(config=None))
    (finding,) = check_config(ctx)
    assert finding.status == WARN and str(path) in finding.detail and "\n" not in finding.detail
    for pinned in ('detection.interruption.method = "model" (now "gated")', "detection.escalation.interruptions = 3",
                   "detection.raised.hold_ms = 550", "detection.raised.min_change = 1.6",
                   "detection.interruption.gate_threshold = 0.2", 'speech.engines = ["pyttsx3", "espeak-ng"]'):
        assert pinned in finding.detail, pinned
    assert "6 settings" in finding.detail and "delete those lines" in finding.detail
    assert "cooldown_min" not in finding.detail  # today's default too
    assert ctx.config.detection.interruption.method == "model"  # the couple may have chosen it: kept


def test_config_check_prints_the_pinned_settings_as_a_note(tmp_home, capsys):
    _write(tmp_home, CONFIG_2026_12_02)
    assert cli.main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("note: ") and "hold_ms = 550" in out and "config OK" in out


def test_a_value_the_couple_chose_is_not_called_an_old_default(tmp_home):
    from voicecoach.cli.check import OK, Context, check_config

    _write(tmp_home, "[detection.raised]\nhold_ms = 400\n[detection.interruption]\nmethod = \"features\"\n")
    assert [f.status for f in check_config(Context(argparse.Namespace(config=None)))] == [OK]


def test_every_past_default_is_of_a_setting_and_not_todays_default():
    from voicecoach.config_retired import PAST_DEFAULTS, _attr

    known = set(_dotted(Config()))
    for key, olds in PAST_DEFAULTS.items():
        assert key in known, key
        assert _attr(Config(), key) not in olds, key


def test_the_page_saves_the_rituals_into_an_older_config(tmp_home):
    from voicecoach.web.schedule import save

    path = _write(tmp_home, CONFIG_2026_12_03)
    kiosk = save(path, {"nightly_time": "21:15"})
    assert kiosk.nightly_time == "21:15"
    text = path.read_text(encoding="utf-8")
    assert "gate_backoff = 1.0" in text and 'a_name = "Zoë"' in text and "21:15" in text


# --- the next update: a default changed or a key removed must be recorded ------------------------------------------

DEFAULTS_SNAPSHOT = Path(__file__).parent / "data" / "config-defaults.json"


def test_a_changed_default_or_a_removed_key_is_recorded_for_the_files_already_written():
    """Every default as ``config init`` writes it today (tests/data/config-defaults.json, on Linux). A default
    changed since: add the snapshot's value to PAST_DEFAULTS (config_retired.py), then write the snapshot again;
    a key removed or renamed: add it to RETIRED. Otherwise a couple's config.toml either pins the old default
    without a word, or stops every command (the kiosk too) after the update."""
    import json

    from voicecoach.config_retired import PAST_DEFAULTS

    snapshot = json.loads(DEFAULTS_SNAPSHOT.read_text(encoding="utf-8"))
    today = {key: _attr_of(Config(), key) for key in _dotted(Config())}
    for key, was in snapshot.items():
        if key not in today:
            assert key in RETIRED, f"{key} was removed: add it to RETIRED"
            continue
        if key == "speech.engines" and not sys.platform.startswith("linux"):
            continue  # the order depends on the platform; the snapshot holds Linux's
        was = tuple(was) if isinstance(was, list) else was
        if today[key] != was:
            assert was in PAST_DEFAULTS.get(key, ()), f"{key}: default {was!r} -> {today[key]!r}: add {was!r} to " \
                                                      f"PAST_DEFAULTS, then update {DEFAULTS_SNAPSHOT.name}"


def _attr_of(obj: object, dotted: str) -> object:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# --- from now on: config init pins nothing ---------------------------------------------------------------------------

def test_config_init_shows_every_setting_but_sets_none_so_updates_reach_it(tmp_home):
    """Before, config init wrote every default as a value, and an update's better default never reached the file
    (the pinned settings above). Now each is a comment; a line the couple uncomments is theirs."""
    from voicecoach.config import default_config_text
    from voicecoach.config_retired import pinned_defaults
    from voicecoach.settings import read_toml_file

    assert cli.main(["config", "init"]) == 0
    text = tmp_home.config_file.read_text(encoding="utf-8")
    for key in _dotted(Config()):
        assert f"\n# {key.rpartition('.')[2]} = " in text, key
    data = read_toml_file(tmp_home.config_file, "config", "", "")
    assert not [key for key in _dotted(Config()) if _has(data, key)]  # nothing set: every default is today's
    assert pinned_defaults(data, load_config()) == [] and load_config() == Config()
    edited = text.replace('# a_name = "Partner A"', 'a_name = "Zoë"').replace("# length_min = 20.0", "length_min = 25")
    tmp_home.config_file.write_text(edited, encoding="utf-8")
    assert load_config().partners.a_name == "Zoë" and load_config().pause.length_min == 25.0
    assert default_config_text().startswith("# voicecoach configuration.")


def test_the_page_saves_the_rituals_into_a_file_config_init_wrote(tmp_home):
    from voicecoach.web.schedule import save

    assert cli.main(["config", "init"]) == 0
    assert save(tmp_home.config_file, {"nightly_time": "21:15"}).nightly_time == "21:15"
    assert load_config().kiosk.nightly_time == "21:15" and load_config().kiosk.weekly_day == "sun"


def _has(data: dict, dotted: str) -> bool:
    node: object = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
