"""`/v1/explain` in the HTTP API: lessons as JSON whose beats generate_beat writes again, and an
uploaded drum MIDI described."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from audiogen.explain.measures import MEASURES
from audiogen.midi import read_midi, score_to_midi
from audiogen.server.app import create_app

WAIT = 300


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    app = create_app(tmp_path_factory.mktemp("serve"), workers=1, max_queue=4)
    with TestClient(app) as client:
        yield client


def test_topics_are_listed(client):
    names = [t["name"] for t in client.get("/v1/explain").json()]
    assert {"swing", "backbeat", "clave", "polyrhythm"} <= set(names)


def test_a_lesson_answers_beats_that_generate_beat_writes_again(client, tmp_path):
    answer = client.post("/v1/explain", json={"topic": "syncopation", "seed": 2})
    assert answer.status_code == 200, answer.text
    lesson = answer.json()
    assert lesson["topic"] == "syncopation" and "off-beat" in lesson["text"]
    low, high = lesson["examples"]
    assert low["passed"] and high["passed"]
    assert high["measured"]["syncopation"] > low["measured"]["syncopation"]
    body = {**high["beat_request"], "formats": ["wav"], "kit": "acoustic"}
    made = client.post(f"/v1/beats?wait={WAIT}", json=body)
    assert made.status_code == 200, made.text
    midi = tmp_path / "beat.mid"
    midi.write_bytes(client.get(made.json()["files"]["beat.mid"]).content)
    assert MEASURES["syncopation"](read_midi(midi)) == high["measured"]["syncopation"]


def test_an_unknown_topic_is_a_422_with_the_nearest_names(client):
    answer = client.post("/v1/explain", json={"topic": "swng"})
    assert answer.status_code == 422 and "did you mean swing" in answer.json()["error"]
    assert client.post("/v1/explain", json={}).status_code == 422


def test_an_uploaded_beat_is_described(client, basic_score):
    data = io.BytesIO()
    score_to_midi(basic_score.repeated(2)).save(file=data)
    answer = client.post("/v1/explain/beat?filename=mine.mid", content=data.getvalue())
    assert answer.status_code == 200, answer.text
    described = answer.json()
    assert described["description"]["kick"] == ["1 3", 4]
    assert described["text"].startswith("mine.mid: 120 bpm")
    broken = client.post("/v1/explain/beat?filename=mine.mid", content=b"garbage")
    assert broken.status_code == 422 and "mine.mid" in broken.json()["error"]
