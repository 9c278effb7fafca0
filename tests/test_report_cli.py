"""``voicecoach report``: exit codes, the kind empty message, files written on request, PNG only with the extra."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

from voicecoach.cli import main
from voicecoach.journal.store import Journal

from test_report import seed


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICECOACH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECOACH_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('[partners]\na_name = "Sam"\nb_name = "Alex"\n')
    return tmp_path


def seeded(dirs: Path) -> None:
    with Journal.open(dirs / "data" / "journal.sqlite3") as journal:
        seed(journal, datetime.now().astimezone())


def test_an_empty_journal_is_a_kind_message_and_exit_0(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    svg = dirs / "chart.svg"
    assert main(["report", "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "Nothing in the journal" in out and "No chart was written" in out
    assert not svg.exists()


def test_with_the_journal_off_the_empty_report_says_why_instead_of_promising_figures(
        dirs: Path, capsys: pytest.CaptureFixture) -> None:
    (dirs / "config" / "config.toml").write_text("[journal]\nenabled = false\n")
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert "The journal is off ([journal] enabled = false)" in out


def test_report_prints_the_summary_and_writes_svg_and_html(dirs: Path, capsys: pytest.CaptureFixture) -> None:
    seeded(dirs)
    svg, page = dirs / "chart.svg", dirs / "report.html"
    assert main(["report", "--since", "8w", "--svg", str(svg), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "Talks: 6" in out and "Talking time: Sam 60%, Alex 40%." in out
    assert "Chart of 9 weeks written" in out
    assert svg.read_text().startswith("<?xml") and "</svg>" in svg.read_text()
    assert page.read_text().count('<svg class="chart"') == 4


@pytest.mark.parametrize("since", ["soon", "0w", "2999-01-01"])
def test_a_bad_since_is_exit_2_with_one_line(since: str, dirs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "--since", since]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voicecoach: error: --since") and err.count("\n") == 1


@pytest.mark.parametrize("seed_it", [True, False])
def test_a_png_without_the_extra_is_refused_first_with_one_line_naming_it(
        seed_it: bool, dirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Before: the whole report was printed, the page written, and only then the one line (exit 1); with an empty
    journal, exit 0 and "no chart was written" though none could have been."""
    if seed_it:
        seeded(dirs)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["report", "--png", str(dirs / "r.png"), "--html", str(dirs / "r.html")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "'report' extra" in err and "pip install 'voicecoach[report]'" in err
    assert not (dirs / "r.html").exists() and not (dirs / "r.png").exists()


@pytest.mark.parametrize("option", ["--svg", "--html", "--png"])
def test_an_output_path_that_cannot_be_written_is_one_line_and_exit_2_before_the_report(
        option: str, dirs: Path, capsys: pytest.CaptureFixture) -> None:
    seeded(dirs)  # was: the whole report printed, then "cannot write ... (Is a directory)", exit 1
    assert main(["report", option, str(dirs)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"voicecoach: error: cannot write {dirs}: it is a directory (give a file name ending in " \
                           f"{option.replace('--', '.')})\n"
    missing = dirs / "no" / "such" / "chart"
    assert main(["report", option, str(missing)]) == 2
    assert f"folder {missing.parent} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--svg", "--html", "--png"])
def test_a_chart_or_page_is_never_written_over_the_journal(option: str, dirs: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """``report --html`` (or --svg) given the journal's own path replaced the journal by the page, exit 0; now one
    line, exit 2, before the report, and the journal is as it was."""
    seeded(dirs)
    journal = dirs / "data" / "journal.sqlite3"
    before = journal.read_bytes()
    assert main(["report", "--since", "8w", option, str(journal)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"voicecoach: error: cannot write {journal}: it is a file voicecoach keeps")
    assert captured.err.count("\n") == 1
    assert journal.read_bytes() == before


@pytest.mark.parametrize("option", ["--svg", "--html", "--png"])
def test_an_empty_output_option_is_refused_not_ignored(option: str, dirs: Path, capsys: pytest.CaptureFixture) -> None:
    """``report --html "$OUT"`` with the variable unset: exit 0, the summary printed and no page written, without a
    word (an empty value was taken as no option). Now one line, exit 2, before the report."""
    seeded(dirs)
    assert main(["report", "--since", "8w", option, ""]) == 2
    captured = capsys.readouterr()
    suffix = option.replace("--", ".")
    assert captured.out == ""
    assert captured.err == (f"voicecoach: error: {option} is empty: give a file name ending in {suffix}, e.g. "
                            f"{option} trends{suffix}\n")



@pytest.mark.parametrize("given", [("--since", "-3w"), ("--since=-3w",), ("--since", " -3W")])
def test_a_since_with_a_minus_is_the_same_period_back(given: tuple[str, ...], dirs: Path, run_cli) -> None:
    """``report --since -3w`` (three weeks back, as ``date -d -3weeks`` reads) was "argument --since: expected one
    argument": argparse took -3w for an option; ``--since=-3w`` reached the report and was refused."""
    import os

    seeded(dirs)
    plain = run_cli("report", "--since", "3w", env=dict(os.environ), timeout=60)
    assert plain.returncode == 0, plain.stderr
    result = run_cli("report", *given, env=dict(os.environ), timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout == plain.stdout


def test_the_summary_redirected_to_a_new_file_is_private(dirs: Path) -> None:
    """``report > weekly.txt``: the shell made the file 0644 under umask 022, the couple's weekly figures (raised
    voices, pauses) readable by every account; ``--html`` wrote 0600. Now the summary's new file is 0600 too."""
    import os
    import stat
    import subprocess

    seeded(dirs)
    target = dirs / "weekly.txt"
    with open(target, "w") as out:
        os.chmod(target, 0o644)
        subprocess.run([sys.executable, "-m", "voicecoach", "report", "--since", "52w"], stdout=out, check=True,
                       timeout=60, stdin=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert "week" in target.read_text() and stat.S_IMODE(target.stat().st_mode) == 0o600
