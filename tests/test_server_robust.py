"""The server under what goes wrong: a body sent without a length past the limit, folders a
killed server left, a second server on the same folder, browsers from other origins (CORS), and
the Ray backend (its files, and its refusal where Ray cannot start)."""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audiogen.cli import main
from audiogen.errors import OutputError
from audiogen.pipeline import Session
from audiogen.server.app import create_app

KIT = "acoustic"
TINY = {"genre": "house", "bars": 1, "kit": KIT, "formats": ["wav"], "seed": 5}
TINY_FLAGS = ["--genre", "house", "--bars", "1", "--kit", KIT, "--format", "wav", "--seed", "5"]
WAIT = 300
ORIGIN = "https://app.example.com"


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_body_without_a_length_is_refused_at_the_limit_not_read_whole(tmp_path, serving):
    """Chunked, and never ending: only a server that counts as it reads can answer at all."""
    app = create_app(tmp_path, workers=1, session=Session, max_upload_bytes=10_000)
    stop = threading.Event()
    sent = [0]
    with serving(app) as url, socket.create_connection(_address(url), timeout=30) as conn:
        conn.sendall(
            b"POST /v1/beats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )

        def endless() -> None:
            chunk = b" " * 1000
            try:
                while not stop.is_set():
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent[0] += len(chunk)
            except OSError:  # the server closed the connection: what it should do
                pass

        sender = threading.Thread(target=endless, daemon=True)
        sender.start()
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = conn.recv(4096)
                if not data:
                    break
                answer += data
        finally:
            stop.set()
        sender.join(timeout=10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(body) == {"error": "the request body is over 10000 bytes: send a smaller one"}


def _manifest(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    listed = {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files.items()
    }
    (folder / "manifest.json").write_text(json.dumps({"audiogen": "test", "files": listed}))


def test_what_a_killed_server_left_is_failed_never_served_and_swept(tmp_path):
    whole, cut, orphan = "a" * 16, "b" * 16, "c" * 16
    _manifest(tmp_path / whole, {"mix.wav": b"RIFF whole"})
    _manifest(tmp_path / cut, {"mix.wav": b"RIFF cut short", "beat.mid": b"MThd"})
    (tmp_path / cut / "mix.wav").write_bytes(b"RIFF")  # killed while it was being removed
    _manifest(tmp_path / orphan, {"mix.wav": b"RIFF no record"})  # killed before its record
    (tmp_path / f"{'d' * 16}.stems.zip").write_bytes(b"PK")  # a stems zip of a job long gone
    (tmp_path / ".jobs").mkdir()
    for job_id in (whole, cut):
        record = {"id": job_id, "kind": "generate", "request": {}, "status": "running",
                  "error": None, "created": time.time(), "ended": None}  # fmt: skip
        (tmp_path / ".jobs" / f"{job_id}.json").write_text(json.dumps(record))
    with TestClient(create_app(tmp_path, workers=1, session=Session, ttl_s=2.0)) as client:
        done = client.get(f"/v1/beats/{whole}").json()
        assert done["status"] == "done" and "mix.wav" in done["files"]
        assert client.get(done["files"]["mix.wav"]).content == b"RIFF whole"
        for job_id in (cut, orphan):
            lost = client.get(f"/v1/beats/{job_id}").json()
            assert lost["status"] == "failed" and "stopped" in lost["error"], lost
            assert lost["files"] == {}
            assert client.get(f"/v1/beats/{job_id}/files/mix.wav").status_code == 409
        assert not (tmp_path / f"{'d' * 16}.stems.zip").exists()
        deadline = time.monotonic() + 30
        while any((tmp_path / j).exists() for j in (whole, cut, orphan)):
            assert time.monotonic() < deadline, "the TTL sweep left a job folder"
            time.sleep(0.1)
        assert client.get(f"/v1/beats/{orphan}").status_code == 404
    assert not list((tmp_path / ".jobs").iterdir())


def test_a_second_server_on_the_same_folder_is_refused_in_one_line(tmp_path, capsys):
    with TestClient(create_app(tmp_path, workers=1, session=Session)):
        second = create_app(tmp_path, workers=1, session=Session)
        with pytest.raises(OutputError, match=r"another audiogen serve \(process \d+\) writes"):
            second.state.jobs.open()
        capsys.readouterr()
        assert main(["serve", "--out", str(tmp_path), "--port", str(_free_port())]) == 2
        line = capsys.readouterr().err.strip()
        assert "another audiogen serve" in line and "--out" in line and "\n" not in line
    # the first is gone (as a killed one is: the kernel drops its lock), so the folder is free
    third = create_app(tmp_path, workers=1, session=Session)
    third.state.jobs.open()
    third.state.jobs.close()


def test_cors_is_off_unless_origins_are_given(tmp_path):
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    with TestClient(create_app(tmp_path / "off", workers=1, session=Session)) as client:
        answer = client.get("/v1/kits", headers={"Origin": ORIGIN})
        assert answer.is_success and "access-control-allow-origin" not in answer.headers
        assert client.options("/v1/beats", headers=preflight).status_code == 405
    app = create_app(tmp_path / "on", workers=1, session=Session, token="t", cors=[ORIGIN])
    with TestClient(app) as client:
        answer = client.options("/v1/beats", headers=preflight)  # a preflight carries no token
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        other = client.options("/v1/beats", headers={**preflight, "Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in other.headers
        answer = client.get("/v1/kits", headers={"Origin": ORIGIN, "Authorization": "Bearer t"})
        assert answer.is_success and answer.headers["access-control-allow-origin"] == ORIGIN
        refused = client.get("/v1/kits", headers={"Origin": ORIGIN})
        assert refused.status_code == 401


@pytest.mark.parametrize("origin", ["*", "app.example.com", "https://app.example.com/page"])
def test_a_cors_origin_that_is_no_origin_is_refused(tmp_path, capsys, origin):
    assert main(["serve", "--out", str(tmp_path / "o"), "--cors", origin]) == 2
    assert "give an origin" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_address_without_the_ray_backend_is_refused(tmp_path, capsys):
    assert main(["serve", "--out", str(tmp_path / "o"), "--address", "ray://head:10001"]) == 2
    assert "give --backend ray with it" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_ray_that_cannot_start_refuses_serve_in_one_line_leaving_nothing(
    tmp_path, monkeypatch, capsys
):
    def init(**kwargs):
        raise RuntimeError("Failed to start the raylet\nmore detail")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setitem(sys.modules, "ray", fake)
    out = tmp_path / "o"
    assert main(["serve", "--backend", "ray", "--out", str(out), "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Ray could not start (Failed to start the raylet)" in err and "\n" not in err
    assert not out.exists()


def test_the_ray_backend_writes_the_files_a_local_server_writes(tmp_path, capsys):
    pytest.importorskip("ray", reason="ray is optional: pip install 'audiogen[ray]'")
    app = create_app(tmp_path / "serve", workers=1, backend="ray")
    try:
        app.state.jobs.open()
    except OutputError as exc:
        pytest.skip(f"a local Ray cannot start here: {exc}")
    with TestClient(app) as client:
        made = client.post(f"/v1/beats?wait={WAIT}", json=TINY)
        assert made.status_code == 200 and made.json()["status"] == "done", made.text
        beat = made.json()
        out = tmp_path / "cli"
        assert main(["-q", "generate", *TINY_FLAGS, "-o", str(out)]) == 0
        written = json.loads((out / "manifest.json").read_text())["files"]
        served = {name for name in beat["files"] if name != "stems.zip"}
        assert served == {*written, "manifest.json"}
        for name in served:
            assert client.get(beat["files"][name]).content == (out / name).read_bytes(), name
        bad = client.post(f"/v1/beats?wait={WAIT}", json={**TINY, "kit": "tin-cans"})
        assert bad.status_code == 422  # refused before it reaches Ray, in the CLI's words
