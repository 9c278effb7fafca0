"""A real Mosquitto broker on a free loopback port, and a real ``mosquitto_sub`` watching it (Debian's
``mosquitto`` and ``mosquitto-clients``, installed by ``scripts/setup --test``).

    with Broker() as broker, broker.subscribe("#") as sub:
        ...                                  # publish to mqtt://127.0.0.1:{broker.port}
        sub.wait_for("voicecoach/+/event", lambda m: m.json()["event_type"] == "pause_taken")
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


def missing_tools() -> list[str]:
    """The broker programs that are not installed."""
    return [tool for tool in ("mosquitto", "mosquitto_sub") if shutil.which(tool) is None
            and not Path(f"/usr/sbin/{tool}").exists()]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message the subscriber saw."""

    topic: str
    retained: bool
    payload: str

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class Subscriber:
    """``mosquitto_sub -v`` on the broker, collecting every message on ``topic`` (MQTT wildcards allowed)."""

    def __init__(self, port: int, topic: str = "#") -> None:
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv311",
                                      "-t", topic, "-F", "%t\t%r\t%p"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(0.3)  # let it subscribe before anything is published

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            topic, retained, payload = (line.rstrip("\n").split("\t", 2) + ["", ""])[:3]
            with self._lock:
                self.messages.append(Received(topic, retained == "1", payload))

    def on(self, pattern: str) -> list[Received]:
        """Messages whose topic matches ``pattern`` (``+`` one level, ``#`` the rest), in arrival order."""
        glob = pattern.replace("+", "*").replace("#", "*")
        with self._lock:
            return [m for m in self.messages if fnmatch.fnmatchcase(m.topic, glob)]

    def wait_for(self, pattern: str, test: Callable[[Received], bool] = lambda m: True,
                 timeout_s: float = 10.0) -> Received:
        """The first message on ``pattern`` passing ``test``; AssertionError after ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for m in self.on(pattern):
                if test(m):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no message on {pattern} within {timeout_s:.0f} s; got {self.on('#')[-8:]}")

    def close(self) -> None:
        """Stop the subscriber."""
        self.proc.terminate()
        self.proc.wait(5)

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Broker:
    """Mosquitto listening on 127.0.0.1 only, anonymous (or, with ``anonymous=False``, refusing everyone: it has no
    users; or, with ``users``, only those names and passwords), nothing kept on disk."""

    def __init__(self, port: int | None = None, anonymous: bool = True, users: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.anonymous = anonymous and not users
        self.users = users or {}
        self.proc: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="vc-broker-"))

    @property
    def url(self) -> str:
        """The broker's address as ``[hooks] mqtt`` takes it."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Broker":
        """Start the broker and wait until it accepts connections."""
        conf = self._dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous {str(self.anonymous).lower()}\n"
                        f"persistence false\n" + (f"password_file {self._password_file()}\n" if self.users else "")
                        + ("user root\n" if self.users and os.geteuid() == 0 else ""))
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=(self._dir / "log").open("w"))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}: {(self._dir / 'log').read_text()}")

    def _password_file(self) -> Path:
        path = self._dir / "passwords"  # read after mosquitto drops root (see start): keep root for this folder
        path.touch(mode=0o600)
        exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for user, password in self.users.items():
            subprocess.run([exe, "-b", str(path), user, password], check=True, capture_output=True)
        return path

    def stop(self) -> None:
        """Stop the broker."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def subscribe(self, topic: str = "#") -> Subscriber:
        """A subscriber watching ``topic`` from now on (retained messages included)."""
        return Subscriber(self.port, topic)

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
