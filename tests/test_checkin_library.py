"""The script library (built-ins plus the user's own) and ``voicecoach scripts list|show|check``."""

from __future__ import annotations

import logging

from pathlib import Path

import pytest

from voicecoach.checkin.library import Library, builtin_dir, load_script
from voicecoach.cli import main
from voicecoach.errors import InputError

BUILTINS = ["after-pause", "nightly", "repair", "stress", "weather", "weekly"]
GOOD = 'title = "{title}"\nminutes = 3\n[[steps]]\ntype = "say"\ntext = "Hello."\n'
BROKEN = 'title = "Broken"\nminutes = 3\n[[steps]]\ntype = "turn"\nfor = "a"\nminutes = -1\n'


@pytest.fixture
def user_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user scripts folder in a private config dir."""
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path))
    folder = tmp_path / "scripts"
    folder.mkdir()
    return folder


def test_the_six_builtins_load(user_scripts: Path) -> None:
    library = Library.load()
    assert library.names() == BUILTINS
    assert all(e.source == "builtin" and not e.broken for e in library.entries)
    scheduled = {n for n in BUILTINS if library.get(n).offer_on_schedule}
    assert scheduled == {"nightly", "weekly", "stress", "weather"}


def test_a_user_script_extends_the_builtins(user_scripts: Path) -> None:
    (user_scripts / "morning.toml").write_text(GOOD.format(title="Morning"), encoding="utf-8")
    library = Library.load()
    assert "morning" in library.names() and library.active("morning").source == "user"


def test_a_user_script_overrides_a_builtin_by_name(user_scripts: Path) -> None:
    (user_scripts / "my-nightly.toml").write_text('name = "nightly"\n' + GOOD.format(title="Our nightly"),
                                                  encoding="utf-8")
    assert load_script("nightly").title == "Our nightly"
    entry = Library.load().active("nightly")
    assert entry.source == "user" and entry.overrides


def test_a_broken_user_script_is_listed_and_the_others_still_load(user_scripts: Path, caplog) -> None:
    (user_scripts / "bad.toml").write_text(BROKEN, encoding="utf-8")
    (user_scripts / "nightly.toml").write_text("title = 'oops", encoding="utf-8")  # a broken override
    (user_scripts / "fine.toml").write_text(GOOD.format(title="Fine"), encoding="utf-8")
    library = Library.load()
    assert library.names() == sorted(BUILTINS + ["fine"])
    assert library.get("nightly").title == "Nightly check-in"  # the built-in stays in use
    broken = {e.name: e.error for e in library.entries if e.broken}
    assert broken["bad"] == "bad.toml: step 1 (turn): minutes = -1 is out of range (0.5 to 30)"
    assert broken["nightly"].startswith("nightly.toml: invalid TOML")
    with pytest.raises(InputError, match="script 'bad' is broken: bad.toml: step 1"):
        library.get("bad")


def test_a_broken_user_script_is_reported_once_however_often_check_ins_start(user_scripts: Path, caplog) -> None:
    from voicecoach.app import runner_factory
    from voicecoach.config import Config

    (user_scripts / "bad.toml").write_text(BROKEN, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        make = runner_factory(Config())
        for name in ("nightly", "weather", "nightly"):
            assert make(name).script.name == name
    assert caplog.text.count("bad.toml: step 1 (turn)") == 1


def test_two_user_scripts_with_one_name_keep_the_first(user_scripts: Path) -> None:
    (user_scripts / "a.toml").write_text('name = "ours"\n' + GOOD.format(title="A"), encoding="utf-8")
    (user_scripts / "b.toml").write_text('name = "ours"\n' + GOOD.format(title="B"), encoding="utf-8")
    library = Library.load()
    assert library.get("ours").title == "A"
    assert [e.error for e in library.entries if e.broken] == [
        "b.toml: name 'ours' is already used by a.toml (rename one of them)"]


def test_an_unknown_name_lists_the_choices(user_scripts: Path) -> None:
    with pytest.raises(InputError, match=r"no check-in script called 'nope' \(available: after-pause, nightly"):
        load_script("nope")


def test_a_missing_user_folder_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "absent"))
    assert Library.load().names() == BUILTINS


# --- the command ------------------------------------------------------------------------------------------------

def test_every_builtin_passes_scripts_check(capsys) -> None:
    files = sorted(str(p) for p in builtin_dir().glob("*.toml"))
    assert len(files) == 6
    assert main(["scripts", "check", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6 and all(line.startswith("OK: ") for line in out)


def test_scripts_check_gives_the_one_line_error_and_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "nightly.toml"
    bad.write_text(BROKEN.replace("minutes = -1", "minutes = -1\n").replace('type = "turn"', 'type = "talk"'),
                   encoding="utf-8")
    assert main(["scripts", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "voicecoach: error: nightly.toml: step 1: type = 'talk' is not a step type "
        "(use one of: say, ask, turn, reflect, choose, pause, end)"]


def test_scripts_list_shows_sources_and_flags_broken_ones(user_scripts: Path, capsys) -> None:
    (user_scripts / "bad.toml").write_text(BROKEN, encoding="utf-8")
    (user_scripts / "weather.toml").write_text(GOOD.format(title="Our weather"), encoding="utf-8")
    assert main(["scripts", "list"]) == 0
    out = capsys.readouterr().out
    assert "nightly       10  builtin  Nightly check-in" in out
    assert "Our weather  (overrides the built-in)" in out
    assert "Emotional weather report  (overridden by a user script)" in out
    assert "bad" in out and "BROKEN" in out and "bad.toml: step 1 (turn): minutes = -1" in out
    assert str(user_scripts) in out
    # the user's weather leaves offer_on_schedule out (false): the built-in one it overrides said true
    assert "may offer these at a set time (kiosk.nightly_script, kiosk.weekly_script): nightly, stress, weekly." in out


def test_scripts_show_prints_the_steps_readably(user_scripts: Path, capsys) -> None:
    assert main(["scripts", "show", "weekly"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("weekly: Weekly state of us (about 45 min; the kiosk offers it on Sundays at 18:00)")
    assert "   0. consent: Hi {a} and {b}." in out
    assert "   7. choose (One topic): Who would like to bring the topic this week?" in out
    assert "choices: {a}, {b}; sets {first}" in out
    assert "   9. reflect, who starts, two minutes (Summing up):" in out


def test_scripts_show_says_when_the_kiosk_offers_a_script_as_the_config_sets_it(user_scripts: Path, capsys) -> None:
    """It said "offered on a schedule" of weather and stress too (their offer_on_schedule allows it), which the
    schedule never offers; and nothing of when nightly is offered."""
    heads = {}
    for name in ("nightly", "weather", "repair"):
        assert main(["scripts", "show", name]) == 0
        heads[name] = capsys.readouterr().out.splitlines()[0]
    assert heads["nightly"] == "nightly: Nightly check-in (about 10 min; the kiosk offers it daily at 21:30)"
    assert heads["weather"] == "weather: Emotional weather report (about 5 min; suited to the kiosk's schedule)"
    assert heads["repair"] == "repair: Repair conversation (about 25 min)"
    config = user_scripts.parent / "config.toml"
    config.write_text('[kiosk]\nnightly_script = "weather"\nweekly_day = "fri"\nweekly_script = "weather"\n')
    assert main(["scripts", "show", "weather"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ("weather: Emotional weather report (about 5 min; the kiosk "
                                                       "offers it daily at 21:30 and on Fridays at 18:00)")


def test_a_new_step_type_is_shown_from_its_own_class_with_no_change_to_scripts_show(monkeypatch) -> None:
    """issue 17: a new step type is one class in checkin/steps.py plus its line in KINDS, scripts show included."""
    from voicecoach.checkin.script import parse_script
    from voicecoach.checkin.steps import KINDS, StepKind
    from voicecoach.cli.scripts import describe

    class Breathe(StepKind):
        name = "breathe"
        keys = ("text", "seconds")
        has_length = True

        def length(self, step) -> str:
            return f"{step.seconds:g} s of breathing"

        def details(self, step) -> list[str]:
            return ["in for four, out for six"]

    monkeypatch.setitem(KINDS, "breathe", Breathe())
    script = parse_script('title = "Breathe"\nminutes = 2\n[[steps]]\ntype = "breathe"\nseconds = 40\n'
                          'text = "Breathe with me."\n')
    lines = describe(script).splitlines()
    step = lines.index("   1. breathe, 40 s of breathing: Breathe with me.")  # its length, from the class
    assert lines[step + 1] == "        in for four, out for six"  # and its details


def test_scripts_show_of_an_unknown_name_is_an_input_error(user_scripts: Path, capsys) -> None:
    assert main(["scripts", "show", "nope"]) == 2
    assert "no check-in script called 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["scripts", "show", "{file}"], ["checkin", "{file}", "--answers", "yes"]])
def test_a_scripts_file_path_given_for_its_name_says_how_to_use_the_file(argv, user_scripts: Path, tmp_path: Path,
                                                                         capsys, monkeypatch) -> None:
    """``voicecoach checkin ./morning.toml`` (or scripts show FILE): it was "no check-in script called
    './morning.toml' (available: ...)", which says nothing of how to use the file the user has."""
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    file = tmp_path / "morning.toml"
    assert main([a.format(file=file) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == (f"voicecoach: error: {str(file)!r} is a file's path, but check-in scripts are named: copy the file "
                   f"into {user_scripts} and give its name (e.g. morning); check the file first with: voicecoach "
                   f"scripts check {file}\n")


def test_the_example_in_writing_scripts_passes_check(tmp_path: Path, capsys) -> None:
    guide = (builtin_dir().parent / "WRITING_SCRIPTS.md").read_text(encoding="utf-8")
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    file = tmp_path / "morning.toml"
    file.write_text(example, encoding="utf-8")
    assert main(["scripts", "check", str(file)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {file}: morning \"Morning hello\", 7 steps")


def test_scripts_check_fails_a_user_script_whose_name_another_user_file_has(user_scripts: Path, capsys) -> None:
    """``scripts list`` marks the second file BROKEN (it is never used), so ``scripts check`` must not call it OK;
    overriding a built-in is allowed, and said."""
    (user_scripts / "a.toml").write_text('name = "morning"\n' + GOOD.format(title="One"), encoding="utf-8")
    (user_scripts / "b.toml").write_text('name = "morning"\n' + GOOD.format(title="Two"), encoding="utf-8")
    (user_scripts / "mine.toml").write_text('name = "nightly"\n' + GOOD.format(title="Ours"), encoding="utf-8")
    assert main(["scripts", "check", "a.toml"]) == 0
    capsys.readouterr()
    assert main(["scripts", "check", "b.toml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [
        "voicecoach: error: b.toml: name 'morning' is already used by a.toml (rename one of them)"]
    assert main(["scripts", "check", "mine.toml"]) == 0
    assert "overrides the built-in nightly" in capsys.readouterr().out
