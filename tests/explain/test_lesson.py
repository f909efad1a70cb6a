"""Lessons written by the real planner: the examples differ in the concept, measured on their
MIDI, and the folder holds what a learner opens."""

import json

import pytest

from audiogen.explain.lesson import plan_lesson, write_lesson
from audiogen.explain.topics import resolve_topic
from audiogen.midi import read_midi
from audiogen.pipeline import Session


@pytest.fixture(scope="module")
def session():
    return Session()


@pytest.mark.parametrize("topic", ["syncopation", "polyrhythm", "swing", "half-time", "fills"])
def test_the_examples_differ_in_the_concept(session, topic):
    lesson = plan_lesson(session, resolve_topic(topic), seed=3)
    assert lesson.passed, [(p.example.label, p.values) for p in lesson.examples]
    # one seed for all, a seeking topic's too: the examples differ in the option, not the dice
    assert len({p.seed for p in lesson.examples}) == 1


@pytest.mark.parametrize(
    ("topic", "taken"), [("backbeat", {"snare", "clap", "rim"}), ("four-on-the-floor", {"kick"})]
)
def test_the_counterpart_is_the_same_beat_with_the_concept_taken_out(session, topic, taken):
    lesson = plan_lesson(session, resolve_topic(topic), seed=7)
    assert lesson.passed, [(p.example.label, p.values) for p in lesson.examples]
    full, without = (p.score for p in lesson.examples)
    assert set(without.hits) < set(full.hits)  # nothing added, nothing else moved
    gone = set(full.hits) - set(without.hits)
    assert {h.instrument for h in gone} <= taken
    assert {h.tick % 96 for h in gone} <= {24, 72}  # only strokes on 2 and 4


def test_the_fills_lesson_takes_out_the_fill_and_the_crash_and_nothing_else(session):
    lesson = plan_lesson(session, resolve_topic("fills"), seed=12)
    assert lesson.passed, [(p.example.label, p.values) for p in lesson.examples]
    full, plain = (p.score for p in lesson.examples)
    changed = set(full.hits) ^ set(plain.hits)
    assert changed and all(96 * 1 + 48 <= h.tick <= 96 * 2 for h in changed)  # bar 2's 2nd half
    assert not any(h.instrument == "crash" and h.tick == 192 for h in plain.hits)


def test_the_son_and_rumba_claves_are_both_played_one_stroke_apart(session):
    lesson = plan_lesson(session, resolve_topic("clave"), seed=0)
    assert lesson.passed, [(p.example.label, p.values) for p in lesson.examples]
    played = {p.example.label: p for p in lesson.examples}
    son, rumba = played["son clave 3-2"], played["rumba clave 3-2"]
    assert son.values["clave"] == "son 3-2" and rumba.values["clave"] == "rumba 3-2"
    assert son.values["clave third stroke"] == "4" and rumba.values["clave third stroke"] == "4&"
    # one beat under both: only the clave's third stroke moves, an 8th (12 ticks) later
    moved = set(son.score.hits) ^ set(rumba.score.hits)
    assert len(moved) == 2 * (son.score.bars // 2)
    assert {h.instrument for h in moved} == {"rim"}


def test_a_lesson_folder_plays_alone(session, tiny_kit, tmp_path):
    lesson = plan_lesson(session, resolve_topic("backbeat"), seed=0)
    out = write_lesson(session, lesson, tmp_path / "lesson", kit="tiny")
    names = sorted(p.name for p in out.iterdir())
    assert "index.html" in names and "lesson.txt" in names
    for k, p in enumerate(lesson.examples, 1):
        stem = next(n for n in names if n.startswith(f"{k}-")).rsplit(".", 1)[0]
        assert {f"{stem}.{x}" for x in ("wav", "mp3", "mid", "png")} <= set(names)
        again = read_midi(out / f"{stem}.mid")
        assert len(again.hits) == len(p.score.hits)
    page = (out / "index.html").read_text()
    assert page.count("data:audio/mpeg;base64,") == 2 and page.count("data:image/png") == 2
    assert "http" not in page.replace("https://", "").split("<body>")[0]  # nothing fetched
    manifest = json.loads((out / "lesson.json").read_text())
    assert [e["passed"] for e in manifest["examples"]] == [True, True]
    assert "snare" in (out / "lesson.txt").read_text()
    from audiogen.mix import integrated_lufs

    levels = [integrated_lufs(*_read(out / f"{n}")) for n in names if n.endswith(".wav")]
    assert all(abs(level + 23) < 1 for level in levels)  # side by side at one loudness


def _read(path):
    import soundfile as sf

    audio, rate = sf.read(path, always_2d=True)
    return audio.T, rate
