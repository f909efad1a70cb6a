"""The HTTP API (`audiogen serve`), driven with FastAPI's TestClient: a beat made through it has
the CLI's bytes, refusals are one-line 4xx, files stay inside their job's folder, the queue is
bounded, and the tool definitions validate and run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audiogen.cli import main
from audiogen.errors import RequestError
from audiogen.pipeline import Session
from audiogen.request import GenerateRequest, cli_fields, plan_fields, vary_fields
from audiogen.server.app import MAX_UPLOAD_BYTES, create_app
from audiogen.server.schema import tool_definitions, tool_request

KIT = "acoustic"
TINY = {"genre": "house", "bars": 1, "kit": KIT, "formats": ["wav"], "seed": 5}
TINY_FLAGS = ["--genre", "house", "--bars", "1", "--kit", KIT, "--format", "wav", "--seed", "5"]
WAIT = 300  # seconds a test waits for a beat (the machine may be busy)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    app = create_app(tmp_path_factory.mktemp("serve"), workers=1, max_queue=8)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def beat(client: TestClient) -> dict:
    """One finished beat, asked for with ?wait."""
    answer = client.post(f"/v1/beats?wait={WAIT}", json=TINY)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _file(client: TestClient, job: dict, name: str) -> bytes:
    answer = client.get(job["files"][name])
    assert answer.status_code == 200, answer.text
    return answer.content


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI; its exit code and the one line it prints on stderr."""
    capsys.readouterr()
    code = main(args)
    return code, capsys.readouterr().err.strip()


def _running(client: TestClient, job: dict) -> None:
    """Wait until ``job`` runs."""
    deadline = time.monotonic() + 30
    while client.get(job["url"]).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_wait_answers_the_finished_beat_with_its_files(beat: dict):
    assert beat["status"] == "done" and beat["progress"] == 1.0 and beat["error"] is None
    assert {"mix.wav", "beat.mid", "grid.png", "manifest.json", "stems.zip"} <= set(beat["files"])
    assert any(name.startswith("stems/") for name in beat["files"])
    assert beat["request"]["plan"]["bars"] == 1 and beat["request"]["render"]["kit"] == KIT


def test_a_beat_from_the_api_has_the_bytes_the_cli_writes(client, beat, tmp_path, capsys):
    out = tmp_path / "cli"
    assert _cli(["-q", "generate", *TINY_FLAGS, "-o", str(out)], capsys) == (0, "")
    written = json.loads((out / "manifest.json").read_text())["files"]
    served = {name for name in beat["files"] if name != "stems.zip"}
    assert served == {*written, "manifest.json"}
    for name in served:
        assert _file(client, beat, name) == (out / name).read_bytes(), name


def test_a_beat_without_wait_is_accepted_then_polled_then_deleted(client):
    answer = client.post("/v1/beats", json={**TINY, "seed": 6})
    assert answer.status_code == 202
    job = answer.json()
    assert answer.headers["Location"] == job["url"]
    assert job["status"] in ("queued", "running", "done") and 0 <= job["progress"] <= 1
    deadline = time.monotonic() + WAIT
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(job["url"]).json()
    assert job["status"] == "done", job
    folder = Path(client.app.state.jobs.out_dir) / job["id"]
    assert (folder / "mix.wav").is_file()
    assert client.delete(job["url"]).status_code == 204
    assert client.get(job["url"]).status_code == 404
    assert not folder.exists()


@pytest.mark.parametrize(
    "body, flags",
    [
        ({"bpm": "fast"}, ["--bpm", "fast"]),
        ({"kit": "tin-cans"}, ["--kit", "tin-cans"]),
        ({"formats": "ogg"}, ["--format", "ogg"]),
        ({"genre": "house", "bars": "300"}, ["--genre", "house", "--bars", "300"]),
    ],
)
def test_a_bad_value_is_422_with_the_line_the_cli_prints(client, tmp_path, capsys, body, flags):
    code, line = _cli(["generate", *flags, "-o", str(tmp_path / "x")], capsys)
    assert code != 0 and line.startswith("audiogen: error: ")
    answer = client.post("/v1/beats", json=body)
    assert answer.status_code == 422
    assert answer.json() == {"error": line.removeprefix("audiogen: error: ")}


@pytest.mark.parametrize(
    "body", [{"colour": "red"}, {"fallback": {}}, [1, 2], {"prompt": 5}, {"loudness": {}}]
)
def test_malformed_requests_are_one_line_422s(client, body):
    answer = client.post("/v1/beats", json=body)
    assert answer.status_code == 422
    assert list(answer.json()) == ["error"] and "\n" not in answer.json()["error"]


def test_a_beat_longer_than_the_server_makes_is_refused(client):
    answer = client.post("/v1/beats", json={"bpm": 40, "bars": 256})
    assert answer.status_code == 422 and "at most" in answer.json()["error"]


def test_unknown_ids_are_404(client):
    for method, path in [("GET", "/v1/beats/nope"), ("DELETE", "/v1/beats/nope"),
                         ("GET", "/v1/beats/nope/files/mix.wav"),
                         ("POST", "/v1/beats/nope/vary")]:  # fmt: skip
        answer = client.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == 404, (method, path)
        assert "nope" in answer.json()["error"]


def test_a_file_name_cannot_leave_the_jobs_folder(client, beat):
    out = Path(client.app.state.jobs.out_dir)
    (out / "secret.txt").write_text("not yours")
    base = f"/v1/beats/{beat['id']}/files/"
    names = ["../secret.txt", "..%2Fsecret.txt", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
             "stems/../../secret.txt", "stems%2F..%2F..%2Fsecret.txt", "stems", ".",
             "mix.WAV"]  # fmt: skip
    for name in names:
        answer = client.get(base + name)
        assert answer.status_code == 404, name
        assert "not yours" not in answer.text and "root:" not in answer.text


def test_an_upload_over_the_limit_is_413(client):
    too_much = b"\0" * (MAX_UPLOAD_BYTES + 1)
    answer = client.post("/v1/render", content=too_much)
    assert answer.status_code == 413 and "over" in answer.json()["error"]
    # without a declared length, counted as it comes
    answer = client.post("/v1/render", content=iter([too_much[:1000], too_much[1000:]]))
    assert answer.status_code == 413 and "over" in answer.json()["error"]
    answer = client.post("/v1/beats", content=b" " * len(too_much),
                         headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 413


def test_a_broken_upload_is_422_naming_the_file(client):
    answer = client.post("/v1/render?filename=take1.mid", content=b"not a MIDI file")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error.startswith("take1.mid: ") and "/tmp" not in error


def test_an_uploaded_midi_file_renders_to_the_bytes_the_cli_writes(client, beat, tmp_path, capsys):
    midi = tmp_path / "beat.mid"
    midi.write_bytes(_file(client, beat, "beat.mid"))
    query = f"kit={KIT}&formats=wav&seed=2&filename=beat.mid&wait={WAIT}"
    answer = client.post(f"/v1/render?{query}", content=midi.read_bytes())
    assert answer.status_code == 200 and answer.json()["status"] == "done", answer.text
    out = tmp_path / "cli"
    flags = ["--kit", KIT, "--format", "wav", "--seed", "2", "-o", str(out)]
    assert _cli(["-q", "render", str(midi), *flags], capsys) == (0, "")
    for name in ("mix.wav", "beat.mid", "manifest.json"):
        assert _file(client, answer.json(), name) == (out / name).read_bytes(), name


def test_an_edited_json_score_renders_as_its_midi_file_does(client, beat, tmp_path, capsys):
    from audiogen.midi import read_midi, write_midi
    from audiogen.score import DrumScore

    answer = client.get(f"/v1/beats/{beat['id']}/score")
    assert answer.status_code == 200
    score = answer.json()
    midi = tmp_path / "beat.mid"
    midi.write_bytes(_file(client, beat, "beat.mid"))
    assert DrumScore.from_dict(score).hits == read_midi(midi).hits  # what its MIDI file holds
    assert "kick" in score["instruments"]
    snares = {h[0] for h in score["hits"] if h[1] == "snare"}
    free = next(t for t in range(0, 96, 6) if t not in snares)
    score["hits"].append([free, "snare", 90, 0.0])
    options = {"kit": KIT, "formats": ["wav"], "seed": 2}
    answer = client.post(f"/v1/render/score?wait={WAIT}", json={"score": score, **options})
    assert answer.status_code == 200 and answer.json()["status"] == "done", answer.text
    edited = tmp_path / "edited.mid"
    write_midi(DrumScore.from_dict(score), edited)
    out = tmp_path / "cli"
    flags = ["--kit", KIT, "--format", "wav", "--seed", "2", "-o", str(out)]
    assert _cli(["-q", "render", str(edited), *flags], capsys) == (0, "")
    for name in ("mix.wav", "beat.mid"):
        assert _file(client, answer.json(), name) == (out / name).read_bytes(), name


@pytest.mark.parametrize(
    "body", [{}, {"score": [1]}, {"score": {"bpm": 120}}, {"score": {"bpm": 120, "meter": "4/4",
             "bars": 1, "hits": [[0, "kazoo", 90, 0]]}}],
)  # fmt: skip
def test_a_bad_score_is_a_one_line_422(client, body):
    answer = client.post("/v1/render/score", json=body)
    assert answer.status_code == 422
    assert list(answer.json()) == ["error"] and "\n" not in answer.json()["error"]


def test_vary_through_the_api_writes_the_bytes_the_cli_writes(client, beat, tmp_path, capsys):
    options = {"form": "verse:1", "amount": 0.3, "kit": KIT, "formats": ["wav"], "seed": 2}
    answer = client.post(f"/v1/beats/{beat['id']}/vary?wait={WAIT}", json=options)
    assert answer.status_code == 200 and answer.json()["status"] == "done", answer.text
    midi = tmp_path / "beat.mid"
    midi.write_bytes(_file(client, beat, "beat.mid"))
    out = tmp_path / "cli"
    flags = ["--form", "verse:1", "--amount", "0.3", "--kit", KIT, "--format", "wav", "--seed", "2"]
    assert _cli(["-q", "vary", str(midi), *flags, "-o", str(out)], capsys) == (0, "")
    for name in ("mix.wav", "beat.mid", "sections/verse.mid"):
        assert _file(client, answer.json(), name) == (out / name).read_bytes(), name
    bad = client.post(f"/v1/beats/{beat['id']}/vary", json={"amount": 2})
    assert bad.status_code == 422 and bad.json()["error"] == "amount 2: use a number from 0 to 1"


class StuckSession(Session):
    """A session whose generate waits until the test lets it go, then fails."""

    release = threading.Event()

    def generate(self, request: GenerateRequest):
        self.release.wait(60)
        raise RequestError("let go")


def test_a_full_queue_is_429_with_retry_after(tmp_path):
    StuckSession.release.clear()
    app = create_app(tmp_path, workers=1, max_queue=1, session=StuckSession)
    try:
        with TestClient(app) as client:
            running = client.post("/v1/beats", json=TINY).json()
            _running(client, running)
            assert client.post("/v1/beats", json=TINY).status_code == 202  # waits in the queue
            full = client.post("/v1/beats", json=TINY)
            assert full.status_code == 429
            assert int(full.headers["Retry-After"]) >= 1 and "busy" in full.json()["error"]
            unfinished = client.post(f"{running['url']}/vary", json={})
            assert unfinished.status_code == 409 and "running" in unfinished.json()["error"]
            StuckSession.release.set()
            answer = client.get(running["url"]).json()
            while answer["status"] == "running":
                answer = client.get(running["url"]).json()
            assert answer["status"] == "failed" and answer["error"] == "let go"
    finally:
        StuckSession.release.set()


def test_the_openapi_bodies_are_the_option_schema(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    generate = schemas["BeatRequest"]["properties"]
    for f in [*plan_fields(), *(f for f in cli_fields() if f.name != "note_map")]:
        assert generate[f.name]["description"] == f.metadata["help"], f.name
    assert "prompt" in generate and "note_map" not in generate
    assert set(schemas["VaryRequest"]["properties"]) == {
        f.name for f in [*vary_fields(), *cli_fields()]
    }
    assert generate["formats"]["type"] == "array" and generate["bars"]["anyOf"][0]["type"] == (
        "integer"
    )


def test_the_tools_validate_and_a_tool_call_runs(client, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    tools = {t["function"]["name"]: t["function"] for t in tool_definitions()}
    assert {"generate_beat", "get_beat", "vary_beat", "list_genres", "list_kits"} <= set(tools)
    for tool in tools.values():
        jsonschema.Draft202012Validator.check_schema(tool["parameters"])
    generate = tools["generate_beat"]["parameters"]
    arguments = {**TINY, "seed": 7, "wait": WAIT}
    jsonschema.validate(arguments, generate)
    for wrong in ({"bars": "one"}, {"colour": "red"}, {"wait": -1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, generate)

    def call(name: str, arguments: dict):
        request = tool_request(name, arguments)
        return client.request(request.method, request.path, params=request.query,
                              json=request.json)  # fmt: skip

    made = call("generate_beat", arguments)
    assert made.status_code == 200 and made.json()["status"] == "done", made.text
    got = call("get_beat", {"id": made.json()["id"]}).json()
    assert got["files"] == made.json()["files"]
    assert KIT in [k["name"] for k in call("list_kits", {}).json()]
    assert "house" in [g["name"] for g in call("list_genres", {}).json()]
    # `audiogen tools` prints these definitions; --style anthropic the same with input_schema
    assert _cli(["tools"], capsys)[0] == 0
    assert main(["tools", "--style", "anthropic"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)[0]["input_schema"] == tools["generate_beat"]["parameters"]


def test_a_token_guards_every_route(tmp_path, capsys, monkeypatch):
    app = create_app(tmp_path, workers=1, session=Session, token="s3cret")
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            refused = client.get("/v1/kits", headers=headers)
            assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert client.get("/v1/kits", headers={"Authorization": "Bearer s3cret"}).is_success
    # and `audiogen serve` binds beyond this machine only with one
    monkeypatch.delenv("AUDIOGEN_TOKEN", raising=False)
    code, line = _cli(["serve", "--host", "0.0.0.0"], capsys)
    assert code == 2 and "needs a token" in line


def test_finished_beats_expire_with_their_files(tmp_path):
    with TestClient(create_app(tmp_path, workers=1, ttl_s=1.0)) as client:
        made = client.post(f"/v1/beats?wait={WAIT}", json=TINY).json()
        assert made["status"] == "done" and made["expires"] > made["created"]
        deadline = time.monotonic() + 30
        while client.get(made["url"]).status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert not (tmp_path / made["id"]).exists() and not list((tmp_path / ".jobs").iterdir())


def test_a_restarted_server_reports_its_beats_done_or_failed(tmp_path):
    with TestClient(create_app(tmp_path, workers=1)) as client:
        done = client.post(f"/v1/beats?wait={WAIT}", json=TINY).json()
        mix = client.get(done["files"]["mix.wav"]).content
    StuckSession.release.clear()
    try:
        with TestClient(create_app(tmp_path, workers=1, session=StuckSession)) as client:
            cut = client.post("/v1/beats", json=TINY).json()
            _running(client, cut)
        # that server is gone with its job still running, as a kill leaves it
        with TestClient(create_app(tmp_path, workers=1, session=Session)) as client:
            again = client.get(done["url"]).json()
            assert again["status"] == "done" and again["files"] == done["files"]
            assert again["request"] == done["request"]
            assert client.get(done["files"]["mix.wav"]).content == mix
            lost = client.get(cut["url"]).json()
            assert lost["status"] == "failed" and "stopped" in lost["error"]
            assert lost["files"] == {}
    finally:
        StuckSession.release.set()


def test_the_cli_loads_no_web_framework_until_serve():
    code = (
        "import sys; from audiogen.cli import build_parser; build_parser(); "
        "print(','.join(m for m in ('fastapi', 'uvicorn', 'pydantic') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
