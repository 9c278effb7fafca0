"""Config validation: every error names the dotted key (and the allowed range); `config init|show|check`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from voicecoach import cli
from voicecoach.config import Config, config_from_dict, default_config_text, dump_toml, load_config
from voicecoach.errors import InputError

if __import__("sys").version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _load_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as err:
        _load_text(tmp_path, text)
    message = str(err.value)
    assert "\n" not in message, message
    assert str(tmp_path / "c.toml") in message, message  # names the file
    return message


# --- loading and defaults ------------------------------------------------------------------------------------------

def test_no_config_file_means_defaults(tmp_home):
    assert load_config() == Config()


def test_the_default_file_is_used_when_present(tmp_home):
    tmp_home.config_file.write_text("[pause]\nlength_min = 30\n")
    assert load_config().pause.length_min == 30.0


def test_an_empty_file_is_all_defaults(tmp_path):
    assert _load_text(tmp_path, "") == Config()


def test_the_commented_default_file_loads_as_the_defaults(tmp_path):
    assert _load_text(tmp_path, default_config_text()) == Config()


def test_every_default_lies_within_its_own_declared_range():
    def walk(obj, prefix=""):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                yield from walk(value, f"{prefix}{f.name}.")
            else:
                yield f"{prefix}{f.name}", value, f.metadata

    for key, value, meta in walk(Config()):
        lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
        assert lo is None or value >= lo, key
        assert hi is None or value <= hi, key
        assert choices is None or value in choices, key
        assert meta.get("doc"), f"{key} has no description"


def test_integers_are_accepted_for_float_settings(tmp_path):
    assert _load_text(tmp_path, "[pause]\nlength_min = 25\n").pause.length_min == 25.0


def test_nested_sections_are_read(tmp_path):
    config = _load_text(tmp_path, "[detection.escalation]\ninterruptions = 4\n")
    assert config.detection.escalation.interruptions == 4


def test_show_output_round_trips_exactly_for_tricky_strings(tmp_path):
    tricky = 'He said "stop" \\ then\tleft.\nNew line, ünïcode, {length} min'
    config = dataclasses.replace(Config(), pause=dataclasses.replace(Config().pause, phrase=tricky))  # any text
    text = dump_toml(config, with_docs=False)
    assert _load_text(tmp_path, text) == config


def test_show_output_round_trips_for_defaults(tmp_path):
    assert _load_text(tmp_path, dump_toml(Config(), with_docs=False)) == Config()


# --- errors name the dotted key -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ("colour = 1\n", "'colour'"),
    ("[audio]\nfrmae_ms = 20\n", "'audio.frmae_ms'"),
    ("[audoi]\nframe_ms = 20\n", "'audoi'"),
    ("[detection.raised]\nholdms = 3\n", "'detection.raised.holdms'"),
    ("[detection.raised.deeper]\nx = 1\n", "'detection.raised.deeper'"),
])
def test_unknown_keys_name_the_dotted_key_and_the_known_ones(tmp_path, text, key):
    message = _error(tmp_path, text)
    assert "unknown key" in message and key in message and "known keys" in message


@pytest.mark.parametrize("text, shown", [
    ('a_name = "Sam"\n[partners]\nb_name = "Alex"\n', "unknown key 'a_name': a_name belongs in [partners] (move the "
                                                       "line under that header)"),
    ("[partners]\nlength_min = 10\n", "unknown key 'partners.length_min': length_min belongs in [pause] (move the "
                                      "line under that header)"),
    ("[pause]\nenabled = false\n", "unknown key 'pause.enabled': enabled belongs in [commands.clap], [journal], "
                                   "[web] (move the line under the one you mean)"),
])
def test_a_key_under_the_wrong_header_names_the_section_it_belongs_in(tmp_path, text, shown):
    """A key written above every header, or under another section's: it was only "unknown key 'a_name' (known
    keys: audio, checkin, commands, ...)", although a_name is a known key, of [partners]."""
    message = _error(tmp_path, text)
    assert message == f"{tmp_path / 'c.toml'}: {shown}"


@pytest.mark.parametrize("text, key, kind", [
    ('[audio]\nframe_ms = "30"\n', "audio.frame_ms", "an integer"),
    ("[audio]\nframe_ms = 30.0\n", "audio.frame_ms", "an integer"),
    ("[audio]\nframe_ms = true\n", "audio.frame_ms", "an integer"),
    ('[pause]\nlength_min = "long"\n', "pause.length_min", "a number"),
    ("[pause]\noffer_checkin = 1\n", "pause.offer_checkin", "true or false"),
    ("[partners]\na_name = 7\n", "partners.a_name", "a string"),
    ('[commands]\nanytime = "pause"\n', "commands.anytime", "a list of strings"),
    ("[commands]\nanytime = [1, 2]\n", "commands.anytime", "a list of strings"),
    ("audio = 3\n", "audio", "a table"),
    ("[detection]\nraised = 5\n", "detection.raised", "a table"),
])
def test_wrong_types_name_the_dotted_key_and_the_expected_type(tmp_path, text, key, kind):
    message = _error(tmp_path, text)
    assert key in message and kind in message


@pytest.mark.parametrize("text, key, allowed", [
    ("[pause]\nlength_min = 500\n", "pause.length_min", "1.0 to 120.0"),
    ("[pause]\nlength_min = 0.5\n", "pause.length_min", "1.0 to 120.0"),
    ("[audio]\nqueue_frames = 1\n", "audio.queue_frames", "10 to 5000"),
    ("[detection.escalation]\ninterruptions = 0\n", "detection.escalation.interruptions", "1 to 50"),
    ("[pause]\nlength_min = nan\n", "pause.length_min", "1.0 to 120.0"),
    ("[pause]\nlength_min = inf\n", "pause.length_min", "1.0 to 120.0"),
])
def test_out_of_range_values_name_the_key_and_the_allowed_range(tmp_path, text, key, allowed):
    message = _error(tmp_path, text)
    assert key in message and allowed in message


def test_frame_ms_accepts_only_webrtcvad_sizes(tmp_path):
    message = _error(tmp_path, "[audio]\nframe_ms = 25\n")
    assert "audio.frame_ms" in message and "10, 20 or 30" in message
    assert _load_text(tmp_path, "[audio]\nframe_ms = 10\n").audio.frame_ms == 10


def test_choices_are_listed(tmp_path):
    message = _error(tmp_path, '[kiosk]\nweekly_day = "someday"\n')
    assert "kiosk.weekly_day" in message and "'sun'" in message


def test_cross_field_checks_name_the_section(tmp_path):
    message = _error(tmp_path, "[commands.clap]\nmin_gap_s = 1.0\nmax_gap_s = 0.5\n")
    assert "commands.clap" in message and "min_gap_s" in message


@pytest.mark.parametrize("text, key", [('[partners]\na_name = ""\n', "a_name"),
                                       ('[partners]\nb_name = "  "\n', "b_name")])
def test_an_empty_partner_name_is_refused(tmp_path, text, key):
    message = _error(tmp_path, text)
    assert "partners" in message and f"{key} is empty" in message and "\n" not in message


@pytest.mark.parametrize("text, says", [
    ('[partners]\na_name = "Sam\\nvoicecoach: stopped"\n', "partners: a_name = 'Sam\\nvoicecoach: stopped' holds a "
                                                          "line break or another control character"),
    ('[partners]\nb_name = "' + "Alex " * 1000 + '"\n', "partners: b_name is 5000 characters long, more than a name "
                                                      "(60 at most: it is said in every prompt)"),
])
def test_a_partner_name_with_a_line_break_or_a_whole_paragraph_is_refused(tmp_path, text, says):
    """Both were taken: a line break split the kiosk's one-line log entries ("said: Hi Sam" then a forged
    "voicecoach: stopped"), and a 5,000-character name had every prompt cut to 2,000 characters at run time."""
    message = _error(tmp_path, text)
    assert says in message, message
    assert len(message) < 300


@pytest.mark.parametrize("text, line", [
    ("[audio]\nframe_ms = 30\nthis is not toml\n", "line 3"),
    ("[audio\nframe_ms = 30\n", "line 1"),
    ("[pause]\nlength_min = 20\nlength_min = 21\n", "line 3"),
])
def test_bad_toml_gives_the_line(tmp_path, text, line):
    message = _error(tmp_path, text)
    assert "invalid TOML" in message and line in message


def test_a_binary_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="UTF-8"):
        load_config(path)


@pytest.mark.parametrize("raw, says", [
    ('[partners]\r\na_name = "Sam"\r\n'.encode("utf-16"),
     'not a UTF-8 text file: it is saved as UTF-16 ("Unicode" in Windows Notepad); save it again as UTF-8'),
    ('[partners]\na_name = "Zoé"\n'.encode("latin-1"),
     "not a UTF-8 text file (is this the right file? If it is, save it as UTF-8)"),
])
def test_a_config_saved_in_another_encoding_says_how_to_save_it(tmp_path, raw, says):
    """A config saved by Notepad as "Unicode" (UTF-16), or by an old editor as Latin-1: both were "not a UTF-8
    text file (is this the right file?)", which names no fix for the right file saved the wrong way."""
    path = tmp_path / "c.toml"
    path.write_bytes(raw)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {says}"


def test_a_missing_explicit_config_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist.*config init"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("argv", [["--config", "", "config", "check"], ["--config", "", "config", "init", "--force"],
                                  ["config", "init", "", "--force"], ["--config", " ", "journal", "path"]])
def test_an_empty_config_option_is_refused_not_read_as_a_folder_or_the_default(argv, tmp_home, capsys):
    """``--config "$VC_CONFIG"`` with the variable unset: check said ". is a folder, not a config file", and
    ``config init --force`` replaced the default config.toml (its .bak the only copy of the couple's file)."""
    tmp_home.config_file.write_text('[partners]\na_name = "Sam"\n')
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is empty: give a" in err and "folder" not in err
    assert tmp_home.config_file.read_text() == '[partners]\na_name = "Sam"\n'
    assert not tmp_home.config_file.with_suffix(".toml.bak").exists()


def test_a_directory_given_as_config_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        load_config(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_a_config_link_that_leads_nowhere_is_an_error_not_the_defaults(kind, tmp_home, capsys):
    """The default config.toml a symbolic link round in a loop, or to a file that is gone (a dotfiles folder moved):
    it was "config OK ... (not present: defaults in use)", exit 0, and every command ran on the defaults (other
    names, no quiet hours); an explicit --config of it said it "does not exist". Now one line naming the link."""
    link = tmp_home.config_file
    if kind == "loop":
        (link.parent / "a").symlink_to(link.parent / "b")
        (link.parent / "b").symlink_to(link.parent / "a")
        link.symlink_to(link.parent / "a")
    else:
        link.symlink_to(link.parent / "gone" / "config.toml")
    for argv in (["config", "check"], ["--config", str(link), "config", "show"], ["config", "init"]):
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"voicecoach: error: config file {link} is a symbolic link to ")
        assert captured.err.count("\n") == 1 and "remove the link to use the defaults" in captured.err
    assert link.is_symlink()


def test_config_from_dict_names_where_the_values_came_from():
    with pytest.raises(InputError, match="^settings: unknown key 'x'"):
        config_from_dict({"x": 1}, where="settings")


# --- voicecoach config init | show | check (in process) ------------------------------------------------------------

def test_config_init_writes_the_default_file_and_check_accepts_it(tmp_home, capsys):
    assert cli.main(["config", "init"]) == 0
    assert tmp_home.config_file.exists()
    assert tomllib.loads(tmp_home.config_file.read_text())  # valid TOML
    assert cli.main(["config", "check"]) == 0
    assert f"config OK: {tmp_home.config_file}" in capsys.readouterr().out


def test_config_init_says_where_the_names_and_the_pause_go_and_how_to_check(tmp_home, tmp_path, capsys):
    """It said "wrote .../config.toml" alone: the couple was left to find their names among 200 settings."""
    assert cli.main(["config", "init"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wrote {tmp_home.config_file}"
    assert out[1].startswith("next: your names go under [partners] (a_name, b_name) and the pause you agreed "
                             "under [pause]") and out[1].endswith("with: voicecoach config check"), out
    elsewhere = tmp_path / "vc.toml"
    assert cli.main(["config", "init", str(elsewhere)]) == 0
    assert capsys.readouterr().out.endswith(f"with: voicecoach --config {elsewhere} config check\n")
    text = tmp_home.config_file.read_text()  # the keys it names are in the file, as comments to take the '# ' off
    for key in ("[partners]", "# a_name = ", "# b_name = ", "[pause]", "# length_min = ", "# phrase = "):
        assert key in text, key


def test_config_init_refuses_to_overwrite_without_force(tmp_home, capsys):
    tmp_home.config_file.write_text("[pause]\nlength_min = 30\n")
    assert cli.main(["config", "init"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert "length_min = 30" in tmp_home.config_file.read_text()


def test_config_init_force_replaces_and_keeps_a_backup(tmp_home):
    tmp_home.config_file.write_text("[pause]\nlength_min = 30\n")
    assert cli.main(["config", "init", "--force"]) == 0
    backup = tmp_home.config_dir / "config.toml.bak"
    assert backup.read_text() == "[pause]\nlength_min = 30\n"
    assert load_config() == Config()
    assert [p.name for p in tmp_home.config_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_config_init_force_says_no_copy_is_kept_of_the_defaults(tmp_home, capsys):
    """The help and the refusal said "a .bak copy is kept" outright, but none is kept of a file holding just the
    defaults (a second --force must not replace the .bak holding the couple's own file): both say so now, and so
    does the line written when it happens."""
    parser = cli.build_parser()
    init = parser._subparsers._group_actions[0].choices["config"]._subparsers._group_actions[0].choices["init"]
    assert "not just the defaults" in " ".join(init.format_help().split())
    assert cli.main(["config", "init"]) == 0
    capsys.readouterr()
    assert cli.main(["config", "init"]) == 2
    assert "a .bak copy is kept of a file that is not just the defaults" in capsys.readouterr().err
    assert cli.main(["config", "init", "--force"]) == 0
    assert "no .bak copy needed" in capsys.readouterr().out
    assert not (tmp_home.config_dir / "config.toml.bak").exists()


def test_config_init_force_twice_keeps_the_users_file_in_the_backup(tmp_home, capsys):
    tmp_home.config_file.write_text("[pause]\nlength_min = 30\n")
    assert cli.main(["config", "init", "--force"]) == 0
    assert "config.toml.bak" in capsys.readouterr().out
    assert cli.main(["config", "init", "--force"]) == 0  # the file holds the defaults now: nothing to back up
    assert (tmp_home.config_dir / "config.toml.bak").read_text() == "[pause]\nlength_min = 30\n"


def test_config_init_force_on_a_full_disk_keeps_the_users_file_in_place(small_disk, tmp_home, monkeypatch, capsys):
    """``config init --force`` with the config folder on a full disk: config.toml was first renamed to
    config.toml.bak, then the new file could not be written: no config.toml at all (every command then ran on the
    defaults, ``config check`` said "not present: defaults in use"), and exit 2 with "check the folder". Now the new
    file is written whole before the old one moves: nothing changes, and the full disk is exit 1."""
    folder = small_disk(64)
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(folder))
    mine = '[partners]\na_name = "Sam"\n'
    (folder / "config.toml").write_text(mine)
    with open(folder / "fill", "wb", buffering=0) as fill:  # fill what is left, whatever the rounding
        try:
            while True:
                fill.write(b"\0" * 4096)
        except OSError:
            pass
    assert cli.main(["config", "init", "--force"]) == 1
    err = capsys.readouterr().err
    assert err == (f"voicecoach: error: cannot write {folder / 'config.toml'}: No space left on device (free some "
                   f"space and run it again; the file there is unchanged)\n")
    assert (folder / "config.toml").read_text() == mine
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "fill"]


def test_config_init_onto_a_folder_is_one_line_and_moves_nothing(tmp_home, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert cli.main(["--config", str(folder), "config", "init", "--force"]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and len(err.strip().splitlines()) == 1
    assert (folder / "notes.txt").read_text() == "keep me" and not (tmp_path / "mine.bak").exists()


def test_config_init_to_an_explicit_path_creates_its_folder(tmp_home, tmp_path):
    target = tmp_path / "deep" / "er" / "my.toml"
    assert cli.main(["config", "init", str(target)]) == 0
    assert load_config(target) == Config()


def test_config_show_round_trips_through_config_check(tmp_home, tmp_path, capsys):
    tmp_home.config_file.write_text('[partners]\na_name = "Sam \\"the\\" one"\n[detection.raised]\nhold_ms = 900\n')
    assert cli.main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    copy = tmp_path / "shown.toml"
    copy.write_text(shown)
    assert cli.main(["config", "check", "--config", str(copy)]) == 0
    assert load_config(copy) == load_config()
    assert load_config(copy).detection.raised.hold_ms == 900


def test_config_check_reports_the_bad_key_with_exit_2(tmp_home, capsys):
    tmp_home.config_file.write_text("[audio]\nframe_ms = 31\n")
    assert cli.main(["config", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("voicecoach: error: ") and "audio.frame_ms" in err and "\n" not in err


def test_config_check_without_a_file_says_defaults_are_in_use(tmp_home, capsys):
    assert cli.main(["config", "check"]) == 0
    assert "defaults in use" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["config", "init", "~/vc.toml"], ["--config", "~/vc.toml", "config", "init"]],
                         ids=["path", "--config"])
def test_config_init_of_a_quoted_home_path_makes_no_tilde_folder(argv, tmp_home, tmp_path, monkeypatch, capsys):
    """``config init "~/vc.toml"`` (the ~ in quotes, so not expanded) made a folder called ~ in the current folder
    and said "wrote ~/vc.toml", as if in the home folder. Now refused in one line with the path meant, exit 2."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this ~ is not your home folder" in err[0] and str(tmp_path / "home" / "vc.toml") in err[0]
    assert list(work.iterdir()) == []
