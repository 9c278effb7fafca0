"""The home page's rules, through Flask's test client (fast; the real browser and server are in test_web_browser):
pairing, sessions, CSRF, the Host check, body limits, the Rituals form's validation and atomic write, the
journal's export and erase, the JSON API."""

from __future__ import annotations

import json
import os
import re
import stat
import wave
import io
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from voicecoach.config import Config, load_config
from voicecoach.journal.store import Journal
from voicecoach.web.app import JournalAccess, WebContext, create_app
from voicecoach.web.rehearsal import Rehearsals, shorten_silences
from voicecoach.web.security import MAX_FAILURES, PairingCodes, RateLimit
from voicecoach.web.settings import WebSettings
from voicecoach.web.status import offline_status

from test_report import seed


NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
CONFIG = """# our own notes about the box
[partners]
a_name = "Sam"   # that's me
b_name = "Alex"

[kiosk]
nightly_time = "21:30"   # after the dishes
quiet_start = "23:00"
quiet_end = "07:30"
"""


class Clock:
    def __init__(self) -> None:
        self.t = NOW.timestamp()

    def wall(self) -> float:
        return self.t


@pytest.fixture
def home(tmp_home) -> Path:
    tmp_home.config_file.write_text(CONFIG)
    with Journal.open(tmp_home.data_dir / "journal.sqlite3") as journal:
        seed(journal, NOW)
    return tmp_home


def make_app(home, pairing: str = "auto", address: str = "127.0.0.1", max_body_kb: int = 16, controls=None):
    config = load_config(home.config_file) if home.config_file.exists() else Config()
    settings = replace(WebSettings(), address=address, pairing=pairing, max_body_kb=max_body_kb)
    journal = home.data_dir / "journal.sqlite3"
    clock = Clock()

    class Status:
        def status(self):
            return offline_status(config, journal, NOW.replace(tzinfo=None))

    ctx = WebContext(config_path=home.config_file, journal=JournalAccess(journal), settings=settings, status=Status(),
                     controls=controls, codes=PairingCodes(home.data_dir, steady=clock.wall),  # a fake never-set clock
                     secret=b"k" * 32, wall=clock.wall,
                     local_now=lambda: NOW, rehearsals=Rehearsals(config), pair_limit=RateLimit(),
                     on_schedule_saved=None)
    app = create_app(ctx)
    app.testing = False
    return app, ctx, clock


def csrf_of(client, path: str = "/journal") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# --- pages and the API on this computer ------------------------------------------------------------------------

def test_on_this_computer_every_page_opens_without_pairing(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    for path in ("/now", "/report", "/rituals", "/journal", "/api/status", "/api/report"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert client.get("/").status_code == 302
    cookie = client.get_cookie("voicecoach")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"


def test_the_report_page_and_api_show_the_journals_figures(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    page = client.get("/report?weeks=6").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 4 and "<script" not in page and "http" not in page.split("</nav>")[1]
    drawn = dict(((m[0], m[1]), float(m[2])) for m in
                 re.findall(r'data-series="(\w+)" data-week="([\d-]+)" data-value="([\d.]+)"', page))
    api = client.get("/api/report?weeks=6").get_json()
    assert [w["week"] for w in api["weeks"]] == sorted({week for _, week in drawn})
    for week in api["weeks"]:
        for key in ("talks", "checkins", "interruptions", "pauses_suggested", "pauses_taken", "pauses_declined"):
            assert drawn[(key, week["week"])] == week[key]
        assert drawn[("raised_min", week["week"])] == pytest.approx(week["raised_min"], abs=0.05)
    assert api["total"]["talks"] == 6 and api["total"]["pauses_declined"] == 1
    assert [w["raised_min"] for w in api["weeks"]] == [3.0, 2.5, 2.0, 1.5, 1.0, 0.5]
    assert 'data-figure="talks"><b>1</b>' in page  # this week: one talk
    assert client.get("/api/report?weeks=0").status_code == 400
    assert client.get("/api/report?weeks=abc").status_code == 400


def test_status_says_what_it_can_without_the_kiosk(home) -> None:
    app, _, _ = make_app(home)
    status = app.test_client().get("/api/status").get_json()
    assert status["live"] is False and status["parts"]["microphone"]["level"] == "unknown"
    assert status["parts"]["journal"]["level"] == "ok" and status["next_ritual"].startswith("nightly")
    page = app.test_client().get("/now").get_data(as_text=True)
    assert 'id="pause-now" disabled' in page


def test_status_says_a_journal_damaged_in_the_middle_is_damaged_not_ok(home, tmp_path) -> None:
    """The Now page (and /api/status) judged the journal by its size: "352 KB ... ok" for a file with a page
    destroyed in the middle. Now SQLite checks every page, read-only, once each time the file changes: "damaged",
    the fix, and the file left as it was."""
    from test_journal_cli import add_events

    db = home.data_dir / "journal.sqlite3"
    add_events(db, 3000)
    Journal.open(db).close()  # the last connection: everything in the main file, no WAL
    sound = tmp_path / "sound.sqlite3"
    sound.write_bytes(db.read_bytes())
    raw = bytearray(db.read_bytes())
    page = 4096 * (len(raw) // 4096 // 2)  # a whole page in the middle: its header too
    raw[page:page + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(raw))
    app, _, _ = make_app(home)
    part = app.test_client().get("/api/status").get_json()["parts"]["journal"]
    assert part["level"] == "fail" and "damaged" in part["detail"], part
    assert "move it aside" in part["detail"] and "backup" in part["detail"]
    assert db.read_bytes() == bytes(raw)  # nothing was changed
    page_text = app.test_client().get("/now").get_data(as_text=True)
    assert "damaged" in page_text
    sound.replace(db)  # the backup put back: checked again
    part = app.test_client().get("/api/status").get_json()["parts"]["journal"]
    assert part["level"] == "ok" and "KB" in part["detail"], part


# --- pairing ------------------------------------------------------------------------------------------------------

def test_without_the_pairing_cookie_nothing_private_is_served(home) -> None:
    app, _, _ = make_app(home, pairing="always")
    client = app.test_client()
    for path in ("/now", "/report", "/rituals", "/journal", "/journal/export.json", "/rituals/rehearsal/weather.wav"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/pair"), path
        assert b"talk" not in resp.data.lower()
    for path in ("/api/status", "/api/report"):
        assert client.get(path).status_code == 401
    assert client.post("/journal/erase", data={"confirm": "erase"}).status_code in (302, 400)
    with Journal.open(home.data_dir / "journal.sqlite3") as j:
        assert len(j.rows("talks")) == 6  # nothing was erased


def test_any_address_but_loopback_needs_pairing() -> None:
    for address, needed in (("127.0.0.1", False), ("::1", False), ("localhost", False), ("0.0.0.0", True),
                            ("192.168.1.20", True), ("::", True)):
        assert WebSettings(address=address).needs_pairing is needed, address
    assert WebSettings(pairing="always").needs_pairing


def test_a_right_code_pairs_once_and_the_session_lasts(home) -> None:
    app, ctx, clock = make_app(home, pairing="always")
    code = ctx.codes.new_code(clock.t, 10)
    assert code not in (home.data_dir / "web-pairing.json").read_text()  # only the hash is kept
    assert stat.S_IMODE((home.data_dir / "web-pairing.json").stat().st_mode) == 0o600
    client = app.test_client()
    token = csrf_of(client, "/pair")
    resp = client.post("/pair", data={"csrf": token, "code": f"{code[:3]} {code[3:]}"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/now")
    assert client.get("/journal/export.json").get_json()["talks"]
    other = app.test_client()
    resp = other.post("/pair", data={"csrf": csrf_of(other, "/pair"), "code": code})
    assert resp.status_code == 403 and b"no pairing code waiting" in resp.data  # used up


def test_wrong_codes_are_refused_and_the_code_is_thrown_away_after_ten(home) -> None:
    app, ctx, clock = make_app(home, pairing="always")
    code = ctx.codes.new_code(clock.t, 10)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    client = app.test_client()
    token = csrf_of(client, "/pair")
    for attempt in range(MAX_FAILURES):
        clock.t += 30  # slowly enough for the rate limit
        resp = client.post("/pair", data={"csrf": token, "code": wrong})
        assert resp.status_code == 403
    assert b"no longer works" in resp.data
    clock.t += 30
    assert client.post("/pair", data={"csrf": token, "code": code}).status_code == 403  # too late: thrown away
    assert client.get("/journal").status_code == 302


def test_pairing_attempts_are_rate_limited(home) -> None:
    app, ctx, clock = make_app(home, pairing="always")
    code = ctx.codes.new_code(clock.t, 10)
    client = app.test_client()
    token = csrf_of(client, "/pair")
    codes = [f"{(int(code) + k) % 1_000_000:06d}" for k in range(1, 5)] + ["x", code]
    statuses = [client.post("/pair", data={"csrf": token, "code": c}).status_code for c in codes]
    assert statuses == [403, 403, 403, 403, 403, 429]  # the sixth try within a minute is not even checked
    other = app.test_client()  # another address would have its own five; the test client has one address
    assert other.post("/pair", data={"csrf": csrf_of(other, "/pair"), "code": code}).status_code == 429
    resp = client.post("/pair", data={"csrf": token, "code": code})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    clock.t += 61
    assert client.post("/pair", data={"csrf": token, "code": code}).status_code == 302  # the code still works


def test_an_expired_code_does_not_pair(home) -> None:
    app, ctx, clock = make_app(home, pairing="always")
    code = ctx.codes.new_code(clock.t, 10)
    clock.t += 601
    client = app.test_client()
    resp = client.post("/pair", data={"csrf": csrf_of(client, "/pair"), "code": code})
    assert resp.status_code == 403 and b"expired" in resp.data


def test_a_pairing_code_expires_by_a_clock_that_is_never_set(tmp_path) -> None:
    """Its expiry was a wall time: the clock set back an hour (by hand, a Pi's network time) kept a 10-minute code
    working for 70 minutes. Now it expires by CLOCK_BOOTTIME (here a fake), in the boot it was made in."""
    from voicecoach.clock import FakeClock

    steady, boot = FakeClock(1000.0), ["boot-1"]
    codes = PairingCodes(tmp_path, steady=steady.now, boot=lambda: boot[0])
    wall = NOW.timestamp()
    code = codes.new_code(wall, 10)
    steady.advance(300)
    assert codes.minutes_left(wall + 7200) == 5.0  # the wall clock set forward two hours: still 5 minutes
    steady.advance(301)
    wall -= 3600  # ten minutes later by the steady clock, but the wall clock was set back an hour
    assert codes.minutes_left(wall) is None
    result = codes.check(code, wall)
    assert not result.ok and "expired" in result.message
    code = codes.new_code(wall, 10)
    boot[0] = "boot-2"  # the machine started again: CLOCK_BOOTTIME began at zero
    assert codes.minutes_left(wall) is None and not codes.check(code, wall).ok
    wall_only = PairingCodes(tmp_path, steady=None)  # no such clock (not Linux or macOS): the wall time
    code = wall_only.new_code(wall, 10)
    assert wall_only.minutes_left(wall + 599) is not None and wall_only.minutes_left(wall + 601) is None
    assert wall_only.check(code, wall + 60).ok


# --- forms: CSRF, origin, host, size ----------------------------------------------------------------------------

def test_forms_need_the_sessions_token_and_this_pages_origin(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    before = home.config_file.read_bytes()
    form = {"nightly_time": "20:00", "grace_min": "30"}
    assert client.post("/rituals", data=form).status_code == 400  # no token
    assert client.post("/rituals", data={**form, "csrf": "guess"}).status_code == 400
    token = csrf_of(client)
    assert client.post("/rituals", data={**form, "csrf": token},
                       headers={"Origin": "http://evil.example"}).status_code == 400
    assert home.config_file.read_bytes() == before
    assert client.post("/rituals", data={**form, "csrf": token},
                       headers={"Origin": "http://localhost"}).status_code == 302


def test_a_form_that_is_not_utf8_is_named_not_blamed_on_the_token(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    before = home.config_file.read_bytes()
    body = b"csrf=" + csrf_of(client).encode() + b"&nightly_time=21:30&nightly_script=n\xe4chtlich"  # Latin-1
    resp = client.post("/rituals", data=body, content_type="application/x-www-form-urlencoded")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "not sent as UTF-8 text" in page and "not sent from this page" not in page
    assert home.config_file.read_bytes() == before


def test_a_page_on_this_computer_refuses_other_host_names(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    assert client.get("/api/status", headers={"Host": "evil.example:8470"}).status_code == 400
    assert client.get("/api/status", headers={"Host": "127.0.0.1:8470"}).status_code == 200
    lan, _, _ = make_app(home, address="0.0.0.0")
    paired_only = lan.test_client().get("/api/status", headers={"Host": "voicecoach.local:8470"})
    assert paired_only.status_code == 401  # any name on the network, but pairing first


def test_an_oversize_body_is_refused(home) -> None:
    app, _, _ = make_app(home, max_body_kb=1)
    client = app.test_client()
    token = csrf_of(client)
    before = home.config_file.read_bytes()
    resp = client.post("/rituals", data={"csrf": token, "nightly_time": "x" * 5000})
    assert resp.status_code == 413 and b"at most 1 KB" in resp.data
    assert home.config_file.read_bytes() == before


# --- the Rituals form ---------------------------------------------------------------------------------------------

FORM = {"nightly_time": "20:45", "nightly_script": "nightly", "weekly_day": "sat", "weekly_time": "10:00",
        "weekly_script": "weekly", "quiet_start": "22:30", "quiet_end": "07:00", "grace_min": "45"}


def test_a_good_schedule_is_written_atomically_keeping_the_rest_of_the_file(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    resp = client.post("/rituals", data={**FORM, "csrf": csrf_of(client)})
    assert resp.status_code == 302
    text = home.config_file.read_text()
    assert "# our own notes about the box" in text and 'a_name = "Sam"   # that\'s me' in text
    assert 'nightly_time = "20:45"   # after the dishes' in text
    kiosk = load_config(home.config_file).kiosk
    assert (kiosk.nightly_time, kiosk.weekly_day, kiosk.quiet_start, kiosk.grace_min, kiosk.quiet_suggestions) == \
        ("20:45", "sat", "22:30", 45.0, False)
    assert load_config(home.config_file).partners.a_name == "Sam"
    assert not list(home.config_dir.glob(".config.toml.*"))  # no temporary file left behind
    assert b"Saved." in client.get("/rituals").data


@pytest.mark.parametrize("field, value, message", [
    ("grace_min", "0", "kiosk.grace_min = 0.0 is out of range (allowed 1.0 to 720.0)"),
    ("grace_min", "lots", "kiosk.grace_min must be a number, not 'lots'"),
    ("nightly_time", "25:00", "kiosk: nightly_time = '25:00' is not a time (write it as HH:MM"),
    ("weekly_day", "someday", "kiosk.weekly_day = 'someday' is not allowed"),
    ("quiet_end", "", "set both quiet_start and quiet_end"),
    ("quiet_end", "22:30", "quiet_end = '22:30' is the same time as quiet_start"),
    # a page opened before the script was renamed: config check refuses this, so the form must too
    ("nightly_script", "morning", "kiosk.nightly_script = 'morning' names no check-in script"),
    # a script that says it is not for a set time (repair: after a hard talk, not at 21:30)
    ("weekly_script", "repair", "kiosk.weekly_script = 'repair' is a check-in not meant to be offered at a set time"),
])
def test_a_bad_value_is_refused_with_the_config_files_own_message(home, field: str, value: str,
                                                                  message: str) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    before = home.config_file.read_bytes()
    resp = client.post("/rituals", data={**FORM, field: value, "csrf": csrf_of(client)})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert message in page.replace("&#39;", "'").replace("&#34;", '"'), page[page.find("Not saved"):][:300]
    assert home.config_file.read_bytes() == before
    assert f'value="{value}"' in page or field in ("weekly_day", "nightly_script", "weekly_script")  # shown again


def test_a_config_file_broken_by_hand_is_named_on_the_pages_not_a_bare_500(home, caplog) -> None:
    """A typo made while editing config.toml by hand: every page was 'Something went wrong' and a traceback in
    the log on every load; now the file's own one-line error, logged once, and the file is left as it is."""
    app, _, _ = make_app(home)
    client = app.test_client()
    token = csrf_of(client)
    home.config_file.write_text("[kiosk\nnightly_time = \"21:30\"\n")
    for path in ("/now", "/rituals", "/report", "/journal"):
        resp = client.get(path)
        page = resp.get_data(as_text=True).replace("&#39;", "'")
        assert resp.status_code == 503 and "invalid TOML: Expected ']'" in page and "(at line 1" in page, path
    assert client.get("/api/status").status_code == 200  # what needs no settings still works
    resp = client.post("/rituals", data={**FORM, "csrf": token})
    assert resp.status_code == 503 and home.config_file.read_text() == "[kiosk\nnightly_time = \"21:30\"\n"
    logged = [r for r in caplog.records if r.name.startswith("voicecoach.web")]
    assert len(logged) == 1 and "settings cannot be used" in logged[0].getMessage() and not logged[0].exc_info


def test_a_config_link_that_leads_nowhere_while_the_page_runs_is_named_not_read_as_the_defaults(home) -> None:
    """config.toml a symbolic link into a dotfiles folder that was then moved: the page read it with exists(), so
    every page showed the defaults (other names, no rituals) and the Rituals form wrote a new file through the
    link. Now it is the config's own one-line error (the CLI's), a 503 naming the fix, and nothing is written."""
    from voicecoach.web.status import OfflineStatus

    dotfiles = home.config_dir.parent / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "voicecoach.toml").write_text(CONFIG)
    home.config_file.unlink()
    home.config_file.symlink_to(dotfiles / "voicecoach.toml")
    app, ctx, _ = make_app(home)
    ctx.status = OfflineStatus(home.config_file, home.data_dir / "journal.sqlite3")  # as `voicecoach web` reads it
    client = app.test_client()
    token = csrf_of(client)
    assert 'value="21:30"' in client.get("/rituals").get_data(as_text=True)  # the linked file is read
    (dotfiles / "voicecoach.toml").rename(dotfiles / "moved.toml")  # the link now leads nowhere
    for path in ("/now", "/rituals", "/report", "/journal", "/api/status"):
        resp = client.get(path)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 503, path
        assert f"is a symbolic link to {dotfiles / 'voicecoach.toml'} that cannot be followed" in page, path
        assert "point it at your config file, or remove the link to use the defaults" in page, path
    resp = client.post("/rituals", data={**FORM, "csrf": token})
    assert resp.status_code == 503
    assert home.config_file.is_symlink() and sorted(p.name for p in dotfiles.iterdir()) == ["moved.toml"]


def test_a_damaged_journal_is_named_on_the_pages_not_a_bare_500(home, caplog) -> None:
    """voicecoach web on a damaged journal: Report, Journal, export and the API were 'Something went wrong' and a
    traceback in the log on every load; now the journal's own line with its fix (move it aside), logged once."""
    db = home.data_dir / "journal.sqlite3"
    damaged = b"SQLite format 3\x00" + b"\x07" * 5000
    db.write_bytes(damaged)
    app, _, _ = make_app(home)
    client = app.test_client()
    token = csrf_of(client, "/rituals")
    for path in ("/report", "/journal", "/journal/export.json", "/api/report"):
        resp = client.get(path)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 503 and "not an SQLite database" in page and "move it aside" in page, path
    assert client.post("/journal/erase", data={"csrf": token, "confirm": "erase"}).status_code == 503
    assert client.get("/now").status_code == 200 and db.read_bytes() == damaged
    logged = [r for r in caplog.records if r.name.startswith("voicecoach.web")]
    assert len(logged) == 1 and "journal cannot be used" in logged[0].getMessage() and not logged[0].exc_info


@pytest.mark.parametrize("how", ["moved over", "copied over"])
def test_a_journal_replaced_on_disk_is_read_anew_and_one_gone_is_named(home, how: str) -> None:
    """voicecoach web kept the journal it opened first: after a backup was restored over it (or another journal
    moved there) the page went on showing the old file's figures until it was restarted. Now each request looks
    at the file: a new one is opened, and one gone is the journal's line on the page (503), not old data."""
    import shutil

    db = home.data_dir / "journal.sqlite3"
    app, _, _ = make_app(home)
    client = app.test_client()
    assert client.get("/api/report?weeks=6").get_json()["total"]["talks"] == 6  # the journal is open now
    backup = home.data_dir / "backup.sqlite3"
    with Journal.open(backup) as journal:
        seed(journal, NOW, weeks=2)
    if how == "moved over":
        backup.replace(db)
    else:  # cp backup.sqlite3 journal.sqlite3: the same file, new bytes
        shutil.copyfile(backup, db)
    assert client.get("/api/report?weeks=6").get_json()["total"]["talks"] == 2
    assert client.get("/journal/export.json").get_json()["talks"][-1]["id"] == 2
    db.rename(home.data_dir / "aside.sqlite3")
    for path in ("/report", "/journal", "/api/report"):
        resp = client.get(path)
        text = resp.get_data(as_text=True)
        assert resp.status_code == 503 and "not found" in text and "restore it from your backup" in text, path
    (home.data_dir / "aside.sqlite3").rename(db)
    assert client.get("/api/report?weeks=6").get_json()["total"]["talks"] == 2


def test_a_schedule_can_be_saved_with_no_config_file_yet(tmp_home) -> None:
    app, _, _ = make_app(tmp_home)
    client = app.test_client()
    assert client.post("/rituals", data={**FORM, "csrf": csrf_of(client)}).status_code == 302
    assert load_config(tmp_home.config_file).kiosk.weekly_day == "sat"
    assert stat.S_IMODE(tmp_home.config_file.stat().st_mode) & 0o077 == 0


# --- the Journal page -----------------------------------------------------------------------------------------

def test_export_is_the_whole_journal_and_erase_needs_the_word(home) -> None:
    app, _, _ = make_app(home)
    client = app.test_client()
    export = client.get("/journal/export.json")
    assert export.headers["Content-Disposition"].startswith("attachment")
    assert len(export.get_json()["talks"]) == 6
    token = csrf_of(client, "/journal")
    client.post("/journal/erase", data={"csrf": token, "confirm": "yes"})
    assert len(client.get("/journal/export.json").get_json()["talks"]) == 6
    resp = client.post("/journal/erase", data={"csrf": token, "confirm": " Erase "})
    assert resp.status_code == 302
    assert client.get("/journal/export.json").get_json()["talks"] == []
    assert b"The journal was erased" in client.get("/journal").data


def test_erase_on_the_page_deletes_the_voice_profile_too(home) -> None:
    """The page's erase, like ``journal erase``, left calibrate's per-partner voice data (profile.json) beside the
    emptied journal without a word; now it goes with the same "erase", and the page says so before and after."""
    profile = home.data_dir / "profile.json"
    profile.write_text('{"version": 1, "partners": {}}')
    app, _, _ = make_app(home)
    client = app.test_client()
    page = client.get("/journal").data.decode()
    assert "the voice profile calibrate learned" in page
    assert f"Kept on this device: your settings in {home.config_file} (your names and rituals" in page, page
    token = csrf_of(client, "/journal")
    client.post("/journal/erase", data={"csrf": token, "confirm": "yes"})
    assert profile.exists()
    client.post("/journal/erase", data={"csrf": token, "confirm": "erase"})
    assert not profile.exists()
    page = client.get("/journal").data
    assert b"The journal was erased" in page and b"the voice profile calibrate learned" in page


def test_an_erase_on_the_page_that_erases_nothing_keeps_the_voice_profile(home, monkeypatch) -> None:
    """The journal's erase refused before it deleted a row (a full disk, another program's lock): the page said
    "nothing was erased" and deleted the voice profile all the same. Now the profile stays with the journal."""
    from voicecoach.journal.files import NothingErased

    profile = home.data_dir / "profile.json"
    profile.write_text('{"version": 1, "partners": {}}')

    def full(self, wait_s: float = 10.0) -> None:  # noqa: ANN001 - the deletes rolled back
        raise NothingErased("journal: the disk it is on is full (database or disk is full); nothing was erased; "
                            "free some space there and run the erase again")

    monkeypatch.setattr(Journal, "erase", full)
    app, _, _ = make_app(home)
    client = app.test_client()
    client.post("/journal/erase", data={"csrf": csrf_of(client, "/journal"), "confirm": "erase"})
    assert profile.exists()
    page = client.get("/journal").data
    assert b"nothing was erased" in page and b"The journal was erased" not in page


def test_the_journal_page_counts_a_big_journal_without_reading_it_all(home) -> None:
    """The Journal page read every row to count them: a year of kiosk events (300,000) took 2 s and 350 MB more,
    inside the kiosk, holding the journal the kiosk writes to. Now SQLite counts them."""
    import sqlite3
    import tracemalloc

    app, _, _ = make_app(home)
    client = app.test_client()
    client.get("/journal")  # the journal opened, the template compiled: as in a kiosk that has run a while

    def peak_of_a_visit() -> tuple[int, str]:
        tracemalloc.start()
        try:
            page = client.get("/journal").get_data(as_text=True)
            return tracemalloc.get_traced_memory()[1], page
        finally:
            tracemalloc.stop()

    small, _ = peak_of_a_visit()
    db = home.data_dir / "journal.sqlite3"
    data = json.dumps({"type": "raised_voice", "t": 1.0, "start": 0.5, "end": 2.0, "speaker": "A"})
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO events(talk_id, type, t, data) VALUES (1, 'raised_voice', ?, ?)",
                         [(float(i), data) for i in range(50_000)])
    conn.close()
    big, page = peak_of_a_visit()
    assert '<tr data-table="events"><th>Events</th><td>50030</td>' in page  # 30 seeded, 50,000 added
    assert '<tr data-table="talks"><th>Talks</th><td>6</td>' in page
    assert big - small < 2_000_000, f"{(big - small) / 1e6:.0f} MB more for 50,000 events"


def test_the_report_and_the_export_of_a_big_journal_read_it_a_chunk_at_a_time(home, tmp_path) -> None:
    """The Report page, its API and the export read every row of the journal into memory, inside the kiosk: years
    of events grow without bound (50,000: about 60 MB more). Now the report is summed by SQLite's queries and the
    export sent as it is read, a chunk of rows at a time; the figures and the file are the same."""
    from test_journal_cli import add_events, peak_bytes

    app, _, _ = make_app(home)
    client = app.test_client()
    before = client.get("/api/report?weeks=6").get_json()
    client.get("/report?weeks=6")  # the journal opened, the template compiled: as in a kiosk that has run a while
    small = peak_bytes(lambda: client.get("/report?weeks=6"))  # the page's own peak, before
    add_events(home.data_dir / "journal.sqlite3", 50_000, talk_id=3)
    saved = tmp_path / "export.json"

    def download() -> None:
        resp = client.get("/journal/export.json", buffered=False)
        with open(saved, "wb") as out:
            for piece in resp.iter_encoded():
                out.write(piece)
        resp.close()

    peak = peak_bytes(download)
    data = json.loads(saved.read_text())
    assert len(data["events"]) == 50_030 and len(data["talks"]) == 6 and data["events"][-1]["talk_id"] == 3
    assert peak < 5_000_000, f"export: {peak / 1e6:.0f} MB at the peak"
    found: dict = {}
    peak = peak_bytes(lambda: found.update(client.get("/api/report?weeks=6").get_json()))
    assert found["total"]["raised_min"] == before["total"]["raised_min"]  # talk 3 has its figures: they count
    assert found == before and peak < 5_000_000, f"report: {peak / 1e6:.0f} MB at the peak"
    peak = peak_bytes(lambda: found.update(page=client.get("/report?weeks=6").get_data(as_text=True)))
    assert 'data-figure="talks"><b>1</b>' in found["page"]
    assert peak - small < 2_000_000, f"report page: {(peak - small) / 1e6:.0f} MB more for 50,000 events"


def test_a_page_view_does_not_set_aside_the_config_files_size_limit(home) -> None:
    """Every page read the config with read(16 MB + 1), which sets aside the whole 16 MB before reading a file of a
    few hundred bytes: each view of the Report page peaked at about 16 MB on the kiosk's Pi. Now the file is read a
    chunk at a time."""
    from test_journal_cli import peak_bytes

    app, _, _ = make_app(home)
    client = app.test_client()
    for path, shown in (("/report?weeks=6", "talking time, Sam / Alex"), ("/now", "Start a check-in")):
        client.get(path)  # the journal opened, the template compiled: as in a kiosk that has run a while
        found: dict = {}
        peak = peak_bytes(lambda: found.update(page=client.get(path).get_data(as_text=True)))
        assert shown in found["page"]
        assert peak < 1_000_000, f"{path}: {peak / 1e6:.1f} MB at the peak of one view"


def test_voice_notes_are_listed_and_deleted_only_when_the_couple_opted_in(home) -> None:
    import numpy as np

    from voicecoach.journal.notes import VoiceNotes

    with Journal.open(home.data_dir / "journal.sqlite3") as j:
        notes = VoiceNotes(j, True)
        first = notes.save_note(np.zeros(8000, np.int16), "A", "B", NOW.timestamp())
        notes.save_note(np.zeros(4000, np.int16), "B", "A", NOW.timestamp())
    app, _, _ = make_app(home)
    client = app.test_client()
    assert b'id="notes"' not in client.get("/journal").data  # not opted in: not shown
    home.config_file.write_text(CONFIG + "\n[journal]\nvoice_notes = true\n")
    page = client.get("/journal").get_data(as_text=True)
    assert page.count("data-note=") == 2 and "From Sam, 0 s" in page
    resp = client.post(f"/journal/notes/{first}/delete", data={"csrf": csrf_of(client, "/journal")})
    assert resp.status_code == 302
    assert client.get("/journal").get_data(as_text=True).count("data-note=") == 1
    assert client.post("/journal/notes/9999/delete", data={"csrf": csrf_of(client, "/journal")}).status_code == 404


# --- rehearsals ------------------------------------------------------------------------------------------------

def test_long_silences_are_shortened_and_speech_is_kept() -> None:
    import numpy as np

    audio = np.concatenate([np.ones(100, np.int16), np.zeros(16000 * 10, np.int16), np.ones(50, np.int16),
                            np.zeros(100, np.int16)])
    out = shorten_silences(audio)
    assert len(out) == 100 + 24000 + 50 + 100 and int(out.sum()) == 150


def test_a_rehearsal_is_a_wav_of_the_scripts_prompts(home) -> None:
    app, ctx, _ = make_app(home)
    client = app.test_client()
    try:
        resp = client.get("/rituals/rehearsal/weather.wav")
        assert resp.status_code == 200 and resp.mimetype == "audio/wav"
        with wave.open(io.BytesIO(resp.data)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert 10 < seconds < 300  # a 5-minute ritual, its talking time shortened
        assert client.get("/rituals/rehearsal/no-such-script.wav").status_code == 404
        page = client.get("/rituals").get_data(as_text=True)
        assert 'href="/rituals/rehearsal/nightly.wav"' in page
    finally:
        ctx.rehearsals.close()  # its rendering voice's thread (the page's server closes it: WebServer.close)


def test_a_broken_script_is_warned_about_once_per_version_not_on_every_rehearsal(tmp_home, caplog) -> None:
    import os

    import numpy as np

    broken = tmp_home.config_dir / "scripts" / "morning.toml"
    broken.parent.mkdir()
    broken.write_text('title = "x\n')
    rehearsals = Rehearsals(Config(), render=lambda text: (np.ones(1600, np.int16), 16000))
    caplog.set_level("WARNING")
    for name in ("weather", "nightly", "stress", "repair", "weather"):  # more than it keeps: renders again
        rehearsals.wav(name)
    warned = [r for r in caplog.records if "check-in script not loaded" in r.getMessage()]
    assert len(warned) == 1 and "morning.toml" in warned[0].getMessage()
    broken.write_text('title = "y\n')  # saved again, still broken: said again, once
    os.utime(broken, ns=(broken.stat().st_atime_ns, broken.stat().st_mtime_ns + 10**9))
    rehearsals.wav("nightly")
    rehearsals.wav("weather")
    assert len([r for r in caplog.records if "check-in script not loaded" in r.getMessage()]) == 2


def test_unused_config_keys_keep_their_defaults(home) -> None:
    assert Config().web.enabled is False and Config().web.address == "127.0.0.1"
    assert json.loads(json.dumps(Config().hooks.command)) == []


def test_web_pair_prints_a_code_once_and_keeps_only_its_hash(tmp_home, capsys) -> None:
    from voicecoach.cli import main

    assert main(["web", "--pair"]) == 0
    out = capsys.readouterr().out
    code = re.search(r"Pairing code: (\d{3}) (\d{3})", out)
    assert code and "works once, for 10 minutes" in out
    assert "".join(code.groups()) not in (tmp_home.data_dir / "web-pairing.json").read_text()
    assert PairingCodes(tmp_home.data_dir).check(" ".join(code.groups()), datetime.now().timestamp()).ok


@pytest.mark.parametrize("option, what", [("--pair", "the pairing code"), ("--forget-browsers", "a new session key")])
def test_web_pair_or_forget_with_a_data_folder_it_cannot_write_is_one_line(option, what, tmp_home, capsys) -> None:
    """A data folder that is a file (or read-only, or full): it was "internal error: NotADirectoryError: [Errno 20]
    not a directory: ..." (OSError: Read-only file system, on a read-only one), exit 1. Now the one line names the
    folder and the fix."""
    from voicecoach.cli import main

    blocker = tmp_home.data_dir / "not-a-folder"
    blocker.write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICECOACH_DATA_DIR", str(blocker))
        assert main(["web", option]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"voicecoach: error: cannot store {what} in {blocker} (")
    assert "internal error" not in err and "a folder this user can write" in err and err.count("\n") == 1


def test_a_bad_port_is_one_line_and_exit_2(tmp_home, capsys) -> None:
    from voicecoach.cli import main

    assert main(["web", "--port", "80"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voicecoach: error: --port 80") and err.count("\n") == 1


def test_an_unreadable_session_key_is_named_and_not_blamed_on_the_port(tmp_home, capsys) -> None:
    from voicecoach.cli import main

    (tmp_home.data_dir / "web-secret").mkdir()  # e.g. a restore gone wrong: a folder where the key file was
    assert main(["web", "--port", "18479"]) == 1
    err = capsys.readouterr().err
    assert "web-secret" in err and "move it aside" in err and err.count("\n") == 1
    assert "port" not in err


def test_the_kiosks_page_names_its_unreadable_session_key_too() -> None:
    import errno

    from voicecoach.web.runtime import cannot_serve

    key = OSError(errno.EISDIR, "Is a directory", "/data/web-secret")
    assert cannot_serve(key, "0.0.0.0", 8080, "[web] port").startswith("cannot use /data/web-secret (Is a directory)")
    busy = OSError(errno.EADDRINUSE, "Address already in use")
    assert cannot_serve(busy, "0.0.0.0", 8080, "[web] port") == (
        "cannot listen on 0.0.0.0:8080 (Address already in use); choose another port with [web] port")


def test_an_address_this_computer_does_not_have_is_named_not_blamed_on_the_port(tmp_home, capsys) -> None:
    """An address the box no longer has (the router gave it another) was "choose another port", which cannot help."""
    import errno

    from voicecoach.cli import main
    from voicecoach.web.runtime import cannot_serve, try_listen

    def not_ours(address: str) -> bool:
        try:
            try_listen(address, 18478)
        except OSError as exc:
            return exc.errno == errno.EADDRNOTAVAIL
        return False

    # documentation ranges (RFC 5737): no real host has them, though a sandbox might
    address = next((a for a in ("192.0.2.254", "198.51.100.254", "203.0.113.254") if not_ours(a)), None)
    if address is None:
        pytest.skip("this computer has every documentation address tried")
    tmp_home.config_file.write_text(f'[web]\naddress = "{address}"\nport = 18478\n')
    assert main(["web"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"voicecoach: error: cannot listen on {address}:18478") and err.count("\n") == 1, err
    assert "set [web] address to 127.0.0.1" in err and "port" not in err.split(")", 1)[1], err
    gone = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert "set [web] address" in cannot_serve(gone, "192.168.1.20", 8470, "[web] port")  # the kiosk's log line


def test_a_second_whole_rewrite_of_the_config_keeps_the_couples_own_file_in_the_backup(tmp_path) -> None:
    from voicecoach.config import Config, dump_toml
    from voicecoach.web.schedule import old_document_rewritten

    path = tmp_path / "config.toml"
    path.write_text("# ours\n[partners]\na_name = \"Sam\"\n")
    path.write_text(old_document_rewritten(path, Config(), dump_toml))
    path.write_text(old_document_rewritten(path, Config(), dump_toml))
    assert (tmp_path / "config.toml.bak").read_text().startswith("# ours")


def test_a_schedule_that_cannot_be_written_says_so_and_changes_nothing(tmp_home, small_disk) -> None:
    """The config folder on a full disk (a real one: a small tmpfs, filled). It was a config "folder" that is a
    file, which every page now refuses as a settings file that cannot be used (a 503 naming the file in the way)."""
    folder = small_disk(64)
    home = type(tmp_home)(folder, tmp_home.data_dir)
    home.config_file.write_text('[partners]\na_name = "Sam"\n')
    before = home.config_file.read_bytes()
    filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)  # the disk is full: nothing more fits on it
    try:
        while os.write(filler, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(filler)
    app, ctx, _ = make_app(home)
    client = app.test_client()
    resp = client.post("/rituals", data={**FORM, "csrf": csrf_of(client)})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "Not saved: cannot write" in page and "see docs/kiosk.md" in page
    assert home.config_file.read_bytes() == before


# --- editing the config file in place --------------------------------------------------------------------------

def test_the_kiosk_table_is_edited_in_place_or_added() -> None:
    from voicecoach.web.schedule import edit_table

    text = '# mine\n[kiosk]\nnightly_time="21:30"  # after dinner\n\n[journal]\nenabled = true\n'
    out = edit_table(text, "kiosk", {"nightly_time": "20:00", "grace_min": 45.0})
    assert out == '# mine\n[kiosk]\nnightly_time="20:00"  # after dinner\ngrace_min = 45.0\n\n[journal]\nenabled = true\n'
    assert edit_table("", "kiosk", {"weekly_day": "sun"}) == '[kiosk]\nweekly_day = "sun"\n'
    assert edit_table('[partners]\na_name = "Sam"\n', "kiosk", {"quiet_start": ""}).endswith(
        '\n\n[kiosk]\nquiet_start = ""\n')


def test_a_layout_the_line_editor_cannot_follow_is_rewritten_with_a_backup(tmp_home) -> None:
    from voicecoach.web import schedule

    odd = 'kiosk.nightly_time = "21:30"\n'  # a dotted key at the top: no [kiosk] table to edit
    tmp_home.config_file.write_text(odd)
    kiosk = schedule.save(tmp_home.config_file, FORM)
    assert kiosk.nightly_time == "20:45" and load_config(tmp_home.config_file).kiosk.nightly_time == "20:45"
    assert (tmp_home.config_dir / "config.toml.bak").read_text() == odd


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_the_page_on_its_own_says_where_it_is_once(tmp_home, stop: str) -> None:
    """``voicecoach web``: "the page is at ..." was printed on stdout and logged on stderr as well. SIGHUP (as
    SIGTERM) ends it with "page stopped", exit 0: it was exit 129 without a word."""
    import signal
    import subprocess

    from conftest import cli_command
    from voicecoach_dev.broker import free_port

    port = free_port()
    env = {**tmp_home.env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # this tree's voicecoach
    proc = subprocess.Popen([*cli_command(), "web", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first == f"voicecoach: the page is at http://127.0.0.1:{port}/\n"
    finally:
        proc.send_signal(getattr(signal, stop))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == "voicecoach: page stopped\n", (proc.returncode, out, err)
    assert "the page is at" not in err, err


def test_the_ritual_slots_offer_only_scripts_meant_for_a_set_time(home) -> None:
    """The nightly and weekly drop-downs listed every script, repair and after-pause too, whose offer_on_schedule is
    false: choosing one is refused (above), so they are not offered."""
    app, _, _ = make_app(home)
    page = app.test_client().get("/rituals").get_data(as_text=True)
    slots = page[page.find('name="nightly_script"'):page.find("<h2>Check-in scripts")]
    assert '<option value="weather"' in slots and '<option value="nightly"' in slots
    assert '<option value="repair"' not in slots and '<option value="after-pause"' not in slots
    assert 'data-script="repair"' in page  # still listed among the scripts
