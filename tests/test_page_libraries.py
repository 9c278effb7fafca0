"""A checkout updated with ``git pull`` alone, from before the page (23 November: no flask, no waitress installed),
then ``[web] enabled = true``: the page's packages are missing (simulated by hiding them: ``sys.modules[name] =
None`` makes an import fail as a missing package does)."""

from __future__ import annotations

import argparse
import logging
import sys

import pytest

from voicecoach import cli

from test_home import _kiosk_with_page  # imports the page's modules while the packages are there


@pytest.fixture
def no_page_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("flask", "waitress"):
        monkeypatch.setitem(sys.modules, name, None)


def test_the_kiosk_goes_on_without_its_page_and_says_what_to_run(tmp_home, no_page_libraries, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        live, home = _kiosk_with_page(tmp_home, port=0)
    try:
        assert home.server is None
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("web: ")]
        assert len(said) == 1 and "flask and waitress" in said[0] and "scripts/setup" in said[0], said
        assert "goes on without its page" in said[0]
    finally:
        home.close()
        live.close()


def test_voicecoach_web_says_it_in_one_line(tmp_home, no_page_libraries, capsys) -> None:
    assert cli.main(["web"]) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and err.count("\n") == 1
    assert "flask and waitress" in err and "sudo scripts/install-kiosk" in err


def test_check_fails_the_page_with_the_fix(no_page_libraries) -> None:
    from voicecoach.cli.check import FAIL, Context, check_page
    from voicecoach.config import config_from_dict

    ctx = Context(argparse.Namespace(), config=config_from_dict({"web": {"enabled": True}}))
    (finding,) = check_page(ctx)
    assert finding.status == FAIL and "flask and waitress" in finding.detail
    assert finding.fix.startswith("run scripts/setup")


def test_with_the_packages_there_nothing_is_said() -> None:
    from voicecoach.web import missing_libraries

    assert missing_libraries() is None
