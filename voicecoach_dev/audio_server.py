"""A private PulseAudio daemon with virtual devices, so tests use a real sound path on a machine with no sound card.

The graph (see ../shared/recipes/virtual-audio.md)::

    test: play_into_mic() -> sink "mic_feed" -> its monitor -> source "vmic" (DEFAULT INPUT) -> product
    product -> DEFAULT OUTPUT sink "speaker" -> "speaker.monitor" -> test: record_speaker()

Use it as a context manager or call ``start()``/``stop()``. Subprocesses reach it through ``env`` (merge it into
``os.environ``); an in-process PortAudio must see the same variables before ``import sounddevice``, or call
``voicecoach.audio.device.reinitialize()`` after setting them. ALSA device names ``vmic``, ``mic_feed``,
``speaker`` and ``speaker_monitor`` are defined too (``default`` goes to the default sink/source).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

RATE = 16000
REQUIRED_TOOLS = ("pulseaudio", "pactl", "paplay", "parecord")


def missing_tools() -> list[str]:
    """The command-line tools this module needs that are not installed."""
    return [t for t in REQUIRED_TOOLS if shutil.which(t) is None]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL (no orphan daemons)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def _write_wav(path: Path, audio: NDArray[np.int16], rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(audio, dtype="<i2").tobytes())


class Recording:
    """A running ``parecord`` of the speaker monitor; ``stop()`` returns the int16 audio at 16 kHz mono."""

    def __init__(self, proc: subprocess.Popen, path: Path) -> None:
        self.proc = proc
        self.path = path

    def so_far(self) -> NDArray[np.int16]:
        """What has been recorded until now, the recording going on."""
        if not self.path.exists():
            return np.zeros(0, np.int16)
        raw = self.path.read_bytes()
        return np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2").astype(np.int16)

    def stop(self) -> NDArray[np.int16]:
        """Stop recording and return everything recorded so far."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.so_far()


class VirtualAudio:
    """A private PulseAudio daemon with a virtual microphone ``vmic`` fed from ``mic_feed`` and a sink ``speaker``.

    ``mic_rate``/``mic_channels`` set the format of the microphone side (e.g. 48000 and 2 for a USB-mic-like
    device); the speaker side is always 16 kHz mono s16le.
    """

    def __init__(self, mic_rate: int = RATE, mic_channels: int = 1) -> None:
        self.mic_rate = mic_rate
        self.mic_channels = mic_channels
        self.base: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []
        self._remap_module: str | None = None
        self._lock = threading.Lock()

    # --- life cycle -------------------------------------------------------------------------------------------

    @property
    def runtime_dir(self) -> Path:
        """XDG_RUNTIME_DIR of the daemon (holds the socket)."""
        assert self.base is not None, "VirtualAudio not started"
        return self.base / "r"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables a client needs to reach this daemon (merge into os.environ)."""
        assert self.base is not None, "VirtualAudio not started"
        return {
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PULSE_SERVER": f"unix:{self.runtime_dir}/pulse/native",
            "XDG_CONFIG_HOME": str(self.base / "c"),
        }

    def full_env(self, **extra: str) -> dict[str, str]:
        """os.environ plus ``env`` plus ``extra``: ready to pass to subprocess."""
        return {**os.environ, **self.env, **extra}

    def start(self, timeout_s: float = 10.0) -> "VirtualAudio":
        """Start the daemon and wait until ``pactl info`` answers."""
        missing = missing_tools()
        if missing:
            raise RuntimeError(f"not installed: {', '.join(missing)} (apt-get install pulseaudio pulseaudio-utils)")
        self.base = base = Path(tempfile.mkdtemp(prefix="vca", dir="/tmp"))  # short: a socket path is < 108 bytes
        (self.runtime_dir / "pulse").mkdir(parents=True)
        self.runtime_dir.chmod(0o700)
        self._write_alsa_config(base)
        return self._launch(timeout_s)

    def _launch(self, timeout_s: float) -> "VirtualAudio":
        """Run the daemon in ``base`` and wait until ``pactl info`` answers."""
        assert self.base is not None
        script = self.base / "d.pa"
        script.write_text(self._daemon_script())
        log = open(self.base / "pa.log", "ab")  # noqa: SIM115 - closed when the daemon stops
        cmd = ["pulseaudio", "-n", "-F", str(script), "--daemonize=no", "--use-pid-file=no", "--exit-idle-time=-1",
               "--disallow-exit=yes", "--disable-shm=yes", f"--log-target=file:{self.base / 'pa.log'}"]
        env = {**os.environ, **self.env, "HOME": str(self.base)}
        self._proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        stop = threading.Event()
        for _ in range(int(timeout_s / 0.05)):
            if self._proc.poll() is not None:
                break
            if self._pactl_ok("info"):
                self._remap_module = self._find_module("module-remap-source")
                return self
            stop.wait(0.05)
        text = self.log_text()
        self.stop()
        raise RuntimeError(f"PulseAudio did not start: {text[-2000:]}")

    def stop(self) -> None:
        """Stop child players/recorders and the daemon (SIGTERM, then SIGKILL after 5 s); remove the folder."""
        self._stop_children()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a frozen daemon (freeze_daemon) would not see SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _stop_children(self) -> None:
        """Kill the players and recorders this class started."""
        for child in self._children:
            if child.poll() is None:
                child.kill()
                child.wait()
        self._children.clear()

    def kill_daemon(self) -> None:
        """Kill the daemon outright (SIGKILL: a crashed sound server); ``restart_daemon`` brings it back."""
        self._stop_children()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._remap_module = None

    def freeze_daemon(self) -> None:
        """Stop the daemon without killing it (SIGSTOP: a hung sound server; its socket stays open and silent);
        ``thaw_daemon`` lets it go on."""
        assert self._proc is not None, "VirtualAudio not started"
        self._proc.send_signal(signal.SIGSTOP)

    def thaw_daemon(self) -> None:
        """Let a frozen daemon go on (SIGCONT)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)

    def restart_daemon(self, timeout_s: float = 10.0) -> "VirtualAudio":
        """Start the daemon again on the same socket, as a session manager restarts a crashed sound server
        (clients keep their environment; ``env`` is unchanged)."""
        assert self.base is not None and not self.running, "kill_daemon() first"
        for name in ("native", "cli"):
            (self.runtime_dir / "pulse" / name).unlink(missing_ok=True)
        return self._launch(timeout_s)

    def reset(self) -> None:
        """Back to the initial graph between tests: players/recorders stopped, loopbacks removed, mic plugged in,
        defaults set; a daemon that died is started again (``env`` then changes)."""
        if not self.running:
            self.stop()
            self.start()
            return
        self._stop_children()
        for line in self.pactl("list", "short", "modules").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] == "module-loopback":
                self.pactl("unload-module", parts[0], check=False)
        if "vmic" not in self.sources():
            self._remap_module = None
            self.replug_mic()
        self.pactl("set-default-sink", "speaker")
        self.pactl("set-default-source", "vmic")

    def __enter__(self) -> "VirtualAudio":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def log_text(self) -> str:
        """The daemon's log so far (for failure messages)."""
        try:
            return (self.base / "pa.log").read_text(errors="replace") if self.base else ""
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        """True while the daemon process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # --- configuration ----------------------------------------------------------------------------------------

    def _daemon_script(self) -> str:
        native = f"{self.runtime_dir}/pulse/native"
        return "\n".join([
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={native}",
            f"load-module module-cli-protocol-unix socket={self.runtime_dir}/pulse/cli",  # for cli(): kill-*
            f"load-module module-null-sink sink_name=mic_feed rate={self.mic_rate} channels={self.mic_channels} "
            "format=s16le norewinds=1",
            f"load-module module-null-sink sink_name=speaker rate={RATE} channels=1 format=s16le norewinds=1",
            self._remap_args(prefix="load-module "),
            "set-default-sink speaker",
            "set-default-source vmic",
            "",
        ])

    def _remap_args(self, prefix: str = "") -> str:
        return (f"{prefix}module-remap-source source_name=vmic master=mic_feed.monitor "
                f"channels={self.mic_channels}")

    def _write_alsa_config(self, base: Path) -> None:
        folder = base / "c" / "alsa"
        folder.mkdir(parents=True)
        entries = [f'pcm.{name} {{\n    type pulse\n    device "{dev}"\n    hint {{ show on description "{dev}" }}\n}}'
                   for name, dev in (("mic_feed", "mic_feed"), ("vmic", "vmic"), ("speaker", "speaker"),
                                     ("speaker_monitor", "speaker.monitor"))]
        entries.append("pcm.!default {\n    type pulse\n}\nctl.!default {\n    type pulse\n}")
        (folder / "asoundrc").write_text("\n".join(entries) + "\n")

    # --- pactl ------------------------------------------------------------------------------------------------

    def pactl(self, *args: str, check: bool = True) -> str:
        """Run ``pactl ARGS`` against this daemon and return its stdout."""
        res = subprocess.run(["pactl", *args], env=self.full_env(), capture_output=True, text=True, timeout=10)
        if check and res.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def cli(self, command: str, timeout_s: float = 5.0) -> str:
        """Send one command to the daemon's CLI socket (``pacmd`` syntax, e.g. ``kill-source-output 3``)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(self.runtime_dir / "pulse" / "cli"))
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # end of input: the daemon answers and closes (never send "exit")
            chunks = []
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode(errors="replace").replace(">>> ", "").strip()

    def _pactl_ok(self, *args: str) -> bool:
        try:
            return subprocess.run(["pactl", *args], env=self.full_env(), capture_output=True,
                                  timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _find_module(self, name: str) -> str | None:
        for line in self.pactl("list", "short", "modules").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] == name:
                return parts[0]
        return None

    def sources(self) -> list[str]:
        """Names of the daemon's sources."""
        return [line.split("\t")[1] for line in self.pactl("list", "short", "sources").splitlines() if "\t" in line]

    # --- the microphone side ------------------------------------------------------------------------------------

    def play_into_mic(self, audio: str | Path | NDArray[np.int16], block: bool = False,
                      rate: int = RATE) -> subprocess.Popen:
        """Play a WAV file or an int16 array (at ``rate``; shape (n,) or (n, channels)) into the virtual microphone.

        Returns the ``paplay`` process; with ``block=True`` waits for it to finish first.
        """
        return self._play(audio, "mic_feed", block, rate)

    def _play(self, audio: str | Path | NDArray[np.int16], sink: str, block: bool, rate: int) -> subprocess.Popen:
        if isinstance(audio, (str, Path)):
            path = Path(audio)
        else:
            fd, name = tempfile.mkstemp(suffix=".wav", dir=self.base)
            os.close(fd)
            path = Path(name)
            audio = np.asarray(audio, dtype=np.int16)
            _write_wav(path, audio, rate, 1 if audio.ndim == 1 else audio.shape[1])
        proc = subprocess.Popen(["paplay", f"--device={sink}", str(path)], env=self.full_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._children.append(proc)
        if block:
            _, err = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"paplay failed: {err.decode(errors='replace').strip()}")
        return proc

    def unplug_mic(self, kill_streams: bool = True) -> None:
        """Remove the virtual microphone source (as if the USB mic was pulled out).

        PulseAudio itself moves the recording streams of a removed source to another source, and here the only ones
        left are monitors (``speaker.monitor``: the product would hear itself). A vanished ALSA device instead ends
        its streams, so by default the streams that were recording from ``vmic`` are killed too
        (``kill_streams=False`` leaves PulseAudio's move in place).
        """
        with self._lock:
            if self._remap_module is None:
                self._remap_module = self._find_module("module-remap-source")
            victims = self._source_outputs_of("vmic") if kill_streams else []
            if self._remap_module is not None:
                self.pactl("unload-module", self._remap_module)
                self._remap_module = None
            for idx in victims:
                self.cli(f"kill-source-output {idx}")

    def _source_outputs_of(self, source: str) -> list[str]:
        indices = {line.split("\t")[1]: line.split("\t")[0]
                   for line in self.pactl("list", "short", "sources").splitlines() if "\t" in line}
        want = indices.get(source)
        return [line.split("\t")[0] for line in self.pactl("list", "short", "source-outputs").splitlines()
                if "\t" in line and line.split("\t")[1] == want]

    def replug_mic(self) -> None:
        """Bring the virtual microphone back and make it the default input again."""
        with self._lock:
            if self._remap_module is None:
                self._remap_module = self.pactl("load-module", *self._remap_args().split()).strip()
            self.pactl("set-default-source", "vmic")

    # --- the speaker side ---------------------------------------------------------------------------------------

    def record_speaker(self, path: str | Path | None = None) -> Recording:
        """Start recording what the product plays (raw s16le, 16 kHz mono); ``stop()`` returns it."""
        if path is None:
            fd, name = tempfile.mkstemp(suffix=".raw", dir=self.base)
            os.close(fd)
            path = name
        path = Path(path)
        before = set(self._source_outputs_of("speaker.monitor"))
        proc = subprocess.Popen(["parecord", "--device=speaker.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
                                 "--channels=1", "--latency-msec=20", str(path)],
                                env=self.full_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._children.append(proc)
        # Return once parecord is connected: on a loaded machine it can take a second or more, and what is played
        # before then would be missing from the recording.
        deadline = time.monotonic() + 15.0
        while not set(self._source_outputs_of("speaker.monitor")) - before:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("parecord did not connect to speaker.monitor")
            threading.Event().wait(0.02)
        return Recording(proc, path)

    def loopback_speaker_to_mic(self, gain_db: float = 0.0, latency_ms: int = 20) -> str:
        """Feed what the speaker plays back into the microphone at ``gain_db`` (as on a laptop); returns the module id.

        Remove it with ``unload(id)``.
        """
        before = self._sink_inputs()
        # adjust_time=0: no adaptive resampling (both null sinks run on one clock); with it the copy decorrelates.
        module = self.pactl("load-module", "module-loopback", "source=speaker.monitor", "sink=mic_feed",
                            f"latency_msec={latency_ms}", "adjust_time=0", "source_dont_move=true",
                            "sink_dont_move=true").strip()
        stop = threading.Event()
        for _ in range(100):
            new = self._sink_inputs() - before
            if new:
                for idx in new:
                    self.pactl("set-sink-input-volume", idx, f"{gain_db:+.1f}dB".replace("+", ""))
                return module
            stop.wait(0.02)
        raise RuntimeError("module-loopback created no sink input")

    def unload(self, module_id: str) -> None:
        """Unload a module this class loaded (e.g. the loopback)."""
        self.pactl("unload-module", module_id)

    def play_into_speaker(self, audio: str | Path | NDArray[np.int16], block: bool = False,
                          rate: int = RATE) -> subprocess.Popen:
        """Play into the ``speaker`` sink from outside the product (e.g. to exercise the loopback)."""
        return self._play(audio, "speaker", block, rate)

    def _sink_inputs(self) -> set[str]:
        out = self.pactl("list", "short", "sink-inputs")
        return {m.group(1) for m in re.finditer(r"^(\d+)\t", out, re.M)}
