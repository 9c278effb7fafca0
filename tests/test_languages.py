"""Languages agree: every model ``models list`` offers has a language pack to go with it, and a language without a
pack is caught by ``config check`` (exit 2, the key named) and reported by ``check`` as a plain FAIL line."""

from __future__ import annotations

import re

from voicecoach.asr.lang import available_languages


def test_models_list_offers_only_models_for_languages_that_have_a_pack(run_cli, tmp_home):
    result = run_cli("models", "list", env=tmp_home.env)
    assert result.returncode == 0, result.stderr
    languages = set(available_languages())
    offered = re.findall(r"^[* ] (vosk-model-\S+)\s+([a-z]{2})\s", result.stdout, flags=re.M)
    assert offered, result.stdout
    assert {lang for _, lang in offered} <= languages, result.stdout


def test_a_user_language_pack_makes_its_models_offered(run_cli, tmp_home):
    (tmp_home.config_dir / "lang").mkdir()
    (tmp_home.config_dir / "lang" / "de.toml").write_text(
        'code = "de"\nname = "Deutsch"\n[commands]\nyes = ["ja"]\nnot_now = ["nicht jetzt"]\nnext = ["weiter"]\n',
        encoding="utf-8")
    result = run_cli("models", "list", env=tmp_home.env)
    assert "vosk-model-small-de-0.15" in result.stdout
    tmp_home.config_file.write_text('[commands]\nlanguage = "de"\n')
    assert run_cli("config", "check", env=tmp_home.env).returncode == 0


def test_config_check_refuses_a_language_without_a_pack(run_cli, tmp_home):
    tmp_home.config_file.write_text('[commands]\nlanguage = "de"\n')
    result = run_cli("config", "check", env=tmp_home.env)
    assert result.returncode == 2, result.stdout
    assert "commands.language" in result.stderr and "'de'" in result.stderr and "en" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_check_reports_a_language_without_a_pack_as_a_plain_failure(run_cli, tmp_home):
    tmp_home.config_file.write_text('[commands]\nlanguage = "de"\n')
    result = run_cli("check", "--no-devices", env=tmp_home.env)
    assert result.returncode == 1
    assert "the check itself failed" not in result.stdout, result.stdout
    assert re.search(r"^FAIL .*commands\.language.*'de'", result.stdout, flags=re.M), result.stdout


def test_a_pack_that_cannot_answer_a_scripts_question_is_an_error_at_scripts_check(run_cli, tmp_home):
    from voicecoach.checkin.library import builtin_dir

    (tmp_home.config_dir / "lang").mkdir()
    (tmp_home.config_dir / "lang" / "xx.toml").write_text('code = "xx"\n[commands]\nyes = ["ja"]\n'
                                                          'not_now = ["nein"]\n', encoding="utf-8")
    tmp_home.config_file.write_text('[commands]\nlanguage = "xx"\n')
    result = run_cli("scripts", "check", builtin_dir() / "nightly.toml", env=tmp_home.env)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "nightly.toml" in line and "'xx' has no phrase for 'next'" in line and "step 2 (turn)" in line, line
    assert run_cli("config", "check", env=tmp_home.env).returncode == 2
    checked = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    assert re.search(r"^FAIL script nightly: .*no phrase for 'next'", checked.stdout, flags=re.M), checked.stdout


def test_check_warns_when_the_language_pack_cannot_say_some_commands(run_cli, tmp_home):
    (tmp_home.config_dir / "lang").mkdir()
    (tmp_home.config_dir / "lang" / "ko.toml").write_text(  # an older Korean pack, from before pairing_code
        'code = "ko"\nname = "Korean"\n[commands]\nyes = ["네"]\nnot_now = ["아니요"]\nnext = ["다음"]\n'
        'pause = ["잠깐"]\nrepeat = ["다시"]\nmore_time = ["조금 더"]\nskip = ["패스"]\nstop = ["그만"]\n'
        'help = ["도움말"]\n', encoding="utf-8")
    tmp_home.config_file.write_text('[commands]\nlanguage = "ko"\n')
    checked = run_cli("check", "--no-devices", env=tmp_home.env, timeout=120)
    line = next(l for l in checked.stdout.splitlines() if l.startswith(("OK", "WARN", "FAIL")) and " language:" in l)
    assert line.startswith("WARN") and "leave_note, play_notes, pairing_code" in line and "en.toml" in line, line
