"""Private with the page and hooks on: a traced kiosk opens exactly the listening socket it was told to (the
page's address and port) and one connection to the configured broker, nothing else on any network; events reach
the broker as counts only. (With both off, tests/test_privacy.py shows no network socket at all.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from voicecoach_dev.broker import Broker, free_port, missing_tools
from voicecoach_dev.live import VOICECOACH

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed"),
              pytest.mark.skipif(bool(missing_tools()), reason="needs Debian's mosquitto and mosquitto-clients")]
INET_SOCKET = re.compile(r"^(\d+)\s+socket\((AF_INET6?|AF_PACKET|AF_NETLINK)\b.*= (\d+)$")
BIND = re.compile(r'bind\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), .*?inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"')
CONNECT = re.compile(r'connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), .*?inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"')


def test_with_page_and_hooks_on_only_their_own_sockets_appear(pulse_server, tmp_path: Path) -> None:
    port = free_port()
    with Broker() as broker, broker.subscribe("voicecoach/#") as sub:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "config.toml").write_text(
            f'[web]\nenabled = true\nport = {port}\n\n[hooks]\nmqtt = "{broker.url}"\n')
        env = pulse_server.full_env(VOICECOACH_CONFIG_DIR=str(tmp_path / "config"),
                                    VOICECOACH_DATA_DIR=str(tmp_path / "data"))
        log = tmp_path / "strace.log"
        proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=socket,connect,bind,listen", "-o", str(log),
                                 VOICECOACH, "kiosk"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        try:
            sub.wait_for("voicecoach/+/availability", lambda m: m.payload == "online", timeout_s=60)
            page = _get(f"http://127.0.0.1:{port}/api/status")
            assert '"live": true' in page.replace('"live":true', '"live": true')
            sub.wait_for("voicecoach/+/event", lambda m: m.json()["event_type"] == "health", timeout_s=30)
        finally:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            for pid in children:  # SIGTERM to the kiosk itself (under strace): it stops cleanly, then strace ends
                subprocess.run(["kill", "-TERM", pid], check=False)
            out, _ = proc.communicate(timeout=30)
        sub.wait_for("voicecoach/+/availability", lambda m: m.payload == "offline", timeout_s=10)
    calls = log.read_text().splitlines()
    binds = {(addr, int(p)) for line in calls for p, addr in BIND.findall(line)}
    connects = {(addr, int(p)) for line in calls for p, addr in CONNECT.findall(line)}
    assert binds == {("127.0.0.1", port)}, (binds, out[-2000:])
    assert connects == {("127.0.0.1", broker.port)}, connects
    assert len([c for c in calls if "listen(" in c]) == 1
    families = re.findall(r"socket\((AF_\w+)", "\n".join(calls))
    inet = [f for f in families if f != "AF_UNIX"]
    assert inet.count("AF_INET") == 2 and set(inet) == {"AF_INET"}, inet  # the page's socket and the broker's
    for message in sub.on("voicecoach/+/event"):
        assert set(message.json()) <= {"event_type", "at", "checkin", "how", "minutes", "health", "microphone",
                                        "speech_model"}


def _get(url: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
