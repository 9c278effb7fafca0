"""The home page in a real browser (Debian's headless Chromium through Selenium) against a real kiosk on the
virtual sound device: pair with a code, read the live status, see the charts drawn with the journal's numbers,
change the schedule (and see a bad value refused), press "pause now" and hear the prompt on the virtual speaker.

One kiosk process and one browser for the whole module (each costs seconds of CPU to start).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from voicecoach.journal import report as rep
from voicecoach.journal.store import Journal
from voicecoach_dev.broker import free_port
from voicecoach_dev.live import VOICECOACH, LiveProcess

from test_report import seed

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# A closed network: no first-run page, no background calls home, no QUIC, a fresh profile.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver (scripts/setup --test)")]


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="vc-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=412,915"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Box:
    """The kiosk under test: its process, folders and page address."""

    def __init__(self, proc: LiveProcess, home: Path, port: int, env: dict[str, str]) -> None:
        self.proc, self.home, self.port, self.env = proc, home, port, env
        self.url = f"http://127.0.0.1:{port}"
        self.config = home / "config" / "config.toml"
        self.journal = home / "data" / "journal.sqlite3"

    def pairing_code(self) -> str:
        out = subprocess.run([VOICECOACH, "web", "--pair"], env=self.env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
        return re.search(r"Pairing code: (\d{3} \d{3})", out).group(1)


@pytest.fixture(scope="module")
def box(pulse_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("box")
    (home / "config").mkdir()
    (home / "data").mkdir()
    port = free_port()
    later = (datetime.now() + timedelta(hours=6)).strftime("%H:%M")  # no ritual during the test
    (home / "config" / "config.toml").write_text(
        f'[partners]\na_name = "Sam"\nb_name = "Alex"\n\n[kiosk]\nnightly_time = "{later}"\nweekly_day = ""\n'
        f'quiet_start = ""\nquiet_end = ""\n\n[web]\nenabled = true\nport = {port}\npairing = "always"\n')
    with Journal.open(home / "data" / "journal.sqlite3") as journal:
        seed(journal, datetime.now().astimezone() - timedelta(days=1))
    env = pulse_server.full_env(VOICECOACH_CONFIG_DIR=str(home / "config"), VOICECOACH_DATA_DIR=str(home / "data"))
    proc = LiveProcess(["kiosk"], env)
    try:
        assert proc.wait_for("web: the page is at", 60), proc.text()
        assert proc.wait_for("microphone open", 30), proc.text()
        yield Box(proc, home, port, env)
    finally:
        proc.stop()
        pulse_server.reset()


def click_and_load(browser, element) -> None:
    """Click a button or link and wait until the page it leads to has replaced this one.

    While the new page replaces the old one, Chromium may answer a question about the old page's element with
    "Node with given id does not belong to the document" instead of "stale element": that also means replaced
    (selenium's ``staleness_of`` lets it through as an error; it failed a fresh-clone run once).
    """
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")

    def replaced(_driver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    element.click()
    WebDriverWait(browser, 20).until(replaced)


def cookie_opener(browser) -> urllib.request.OpenerDirector:
    """A plain HTTP client carrying the browser's session cookie."""
    cookie = browser.get_cookie("voicecoach")
    opener = urllib.request.build_opener(NoRedirect)
    opener.addheaders = [("Cookie", f"voicecoach={cookie['value']}")] if cookie else []
    return opener


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def status_of(opener, url: str) -> int:
    try:
        return opener.open(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- pairing ---------------------------------------------------------------------------------------------------

def test_a_browser_must_pair_and_a_wrong_code_is_refused(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/journal")
    assert browser.current_url.endswith("/pair")
    assert "talks" not in browser.page_source.lower()
    code = box.pairing_code()
    wrong = f"{(int(code.replace(' ', '')) + 1) % 1_000_000:06d}"
    browser.find_element(By.ID, "code").send_keys(wrong)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button"))
    assert "That is not the pairing code" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    browser.find_element(By.ID, "code").send_keys(code)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button"))
    assert browser.current_url.endswith("/now")
    assert "Paired." in browser.page_source


def test_without_the_cookie_the_server_serves_no_journal(box: Box) -> None:
    plain = urllib.request.build_opener(NoRedirect)
    for path in ("/journal/export.json", "/journal", "/report", "/rituals/rehearsal/weather.wav"):
        assert status_of(plain, box.url + path) == 302, path
    assert status_of(plain, box.url + "/api/report") == 401
    assert status_of(plain, box.url + "/api/status") == 401


# --- the pages ---------------------------------------------------------------------------------------------------

def test_the_now_page_shows_the_kiosks_live_status(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/now")
    mic = browser.find_element(By.CSS_SELECTOR, '[data-part="microphone"]')
    assert mic.get_attribute("data-level") == "ok" and "open" in mic.text
    assert browser.find_element(By.CSS_SELECTOR, '[data-part="speaker"]').get_attribute("data-level") == "ok"
    assert browser.find_element(By.CSS_SELECTOR, '[data-part="journal"]').get_attribute("data-level") == "ok"
    assert browser.find_element(By.CSS_SELECTOR, '[data-part="next ritual"]').text.startswith("Next ritual nightly")
    assert browser.find_element(By.ID, "pause-now").is_enabled()


def distinct_colours(png: bytes) -> int:
    """How many different byte values the decoded image rows hold (a blank image has one or two)."""
    pos, data = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        if png[pos + 4:pos + 8] == b"IDAT":
            data += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(data)))


def test_the_report_charts_render_with_the_journals_numbers(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/report?weeks=12")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 4
    for chart in charts:
        assert chart.size["width"] > 300 and chart.size["height"] > 100
        png = chart.screenshot_as_png
        assert len(png) > 3000 and distinct_colours(png) > 20
    drawn = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-series]'))"
        ".map(e => [e.dataset.series, e.dataset.week, parseFloat(e.dataset.value)])")
    with Journal.open(box.journal) as journal:
        data = journal.export()
    now = datetime.now().astimezone()
    expected = rep.report_dict(rep.build_report(data, rep.last_weeks(12, now), now))
    weeks = {w["week"]: w for w in expected["weeks"]}
    assert {week for _, week, _ in drawn} == set(weeks)
    for series, week, value in drawn:
        if series in ("talks", "checkins", "interruptions", "pauses_suggested", "pauses_taken", "pauses_declined"):
            assert value == weeks[week][series], (series, week)
    assert sum(v for s, _, v in drawn if s == "talks") == expected["total"]["talks"] >= 6
    figure = browser.find_element(By.CSS_SELECTOR, '[data-figure="talks"] b').text
    assert int(figure) == expected["weeks"][-1]["talks"]


def test_the_schedule_is_changed_through_the_form_and_the_kiosk_takes_it(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/rituals")
    field = browser.find_element(By.ID, "nightly_time")
    new_time = (datetime.now() + timedelta(hours=7)).strftime("%H:%M")
    field.clear()
    field.send_keys(new_time)
    click_and_load(browser, browser.find_element(By.ID, "save-schedule"))
    assert "Saved." in browser.page_source
    assert f'nightly_time = "{new_time}"' in box.config.read_text()
    assert 'a_name = "Sam"' in box.config.read_text()
    assert box.proc.wait_for(f"schedule changed: nightly daily {new_time}", 10), box.proc.text()[-2000:]
    api = json.loads(cookie_opener(browser).open(f"{box.url}/api/status", timeout=10).read())
    assert api["next_ritual"].endswith(new_time)


def test_a_bad_value_is_refused_with_the_key_named(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/rituals")
    before = box.config.read_bytes()
    field = browser.find_element(By.ID, "grace_min")
    field.clear()
    field.send_keys("0")
    click_and_load(browser, browser.find_element(By.ID, "save-schedule"))
    error = browser.find_element(By.ID, "error").text
    assert "kiosk.grace_min = 0.0 is out of range (allowed 1.0 to 720.0)" in error
    assert box.config.read_bytes() == before
    assert browser.find_element(By.ID, "grace_min").get_attribute("value") == "0"


def test_a_rehearsal_plays_the_scripts_prompts(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/rituals")
    link = browser.find_element(By.CSS_SELECTOR, '[data-script="weather"] a.rehearsal')
    wav = cookie_opener(browser).open(link.get_attribute("href"), timeout=120).read()
    assert wav[:4] == b"RIFF" and len(wav) > 16000 * 2 * 5  # more than five seconds of the product's voice


def test_start_a_checkin_asks_first_as_the_voice_would(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{box.url}/now")
    said_before = len(box.proc.matching("said:"))
    Select(browser.find_element(By.ID, "checkin-script")).select_by_value("weather")
    click_and_load(browser, browser.find_element(By.ID, "start-checkin"))
    assert "asks you both first" in browser.page_source
    deadline = time.monotonic() + 15
    while len(box.proc.matching("said:")) <= said_before and time.monotonic() < deadline:
        time.sleep(0.1)
    said = [line for _, line in box.proc.matching("said:")][said_before:]
    # consent first, in the words for how the box can hear (no speech model here: the double clap)
    assert said and any(answer in said[0] for answer in ("Say yes, or not now.",
                                                          "Clap twice for yes, or stay quiet for not now.")), \
        box.proc.text()[-2000:]


def test_pause_now_is_heard_on_the_virtual_speaker(browser, box: Box, pulse_server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/now")
    said_before = len(box.proc.matching("said:"))
    recording = pulse_server.record_speaker()
    time.sleep(0.5)
    click_and_load(browser, browser.find_element(By.ID, "pause-now"))
    assert "starting the pause" in browser.page_source
    deadline = time.monotonic() + 15
    while len(box.proc.matching("said:")) <= said_before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)  # let the prompt play out
    audio = recording.stop()
    said = [line for _, line in box.proc.matching("said:")][said_before:]
    assert said and "pause" in said[0].lower(), box.proc.text()[-2000:]
    assert np.abs(audio.astype(np.int32)).max() > 3000  # the prompt was heard on the speaker
    browser.get(f"{box.url}/now")
    assert "pause" in browser.find_element(By.TAG_NAME, "h1").text


def test_the_journal_exports_and_erases_only_after_the_word(browser, box: Box) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{box.url}/journal")
    export = json.loads(cookie_opener(browser).open(f"{box.url}/journal/export.json", timeout=10).read())
    assert len(export["talks"]) >= 6
    browser.find_element(By.ID, "confirm").send_keys("yes")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#erase button"))
    assert "Nothing was erased" in browser.page_source
    browser.find_element(By.ID, "confirm").send_keys("erase")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#erase button"))
    assert "The journal was erased" in browser.page_source
    assert browser.find_element(By.CSS_SELECTOR, '[data-table="talks"] td').text == "0"


def test_an_oversize_body_is_refused_by_the_server(box: Box, browser) -> None:
    request = urllib.request.Request(f"{box.url}/rituals", data=b"nightly_time=" + b"9" * 100_000, method="POST")
    assert status_of(cookie_opener(browser), request) == 413
