"""The lessons a learner can ask for, by the words they would type."""

import pytest

from audiogen.errors import RequestError
from audiogen.explain.lesson import check_topics, topic_list, transform
from audiogen.explain.topics import TOPICS, resolve_topic
from audiogen.score import DrumScore, Hit, Meter

ASKED = ("backbeat", "four-on-the-floor", "half-time", "swing", "shuffle", "syncopation",
         "ghost-notes", "accents", "humanization", "fills", "sections", "polyrhythm", "clave",
         "compound-meters")  # fmt: skip


def test_every_topic_of_the_issue_is_taught_with_two_to_four_checked_examples():
    check_topics()
    names = [t.name for t in TOPICS]
    assert set(ASKED) <= set(names)
    for t in TOPICS:
        assert 2 <= len(t.examples) <= 4, t.name
        assert all(e.checks for e in t.examples), t.name
        assert t.what and t.heard and t.count and t.varied


@pytest.mark.parametrize(("words", "name"), [
    ("swing", "swing"), ("Four on the floor", "four-on-the-floor"), ("3:2", "polyrhythm"),
    ("shuffle", "shuffle"), ("ghost notes", "ghost-notes"), ("half time", "half-time"),
    ("12/8", "compound-meters"), ("son clave", "clave"), ("fills", "fills"),
    ("quantised", "humanization"),
])  # fmt: skip
def test_topics_answer_to_the_words_a_learner_types(words, name):
    assert resolve_topic(words).name == name


def test_an_unknown_topic_gets_the_nearest_names():
    with pytest.raises(RequestError, match="did you mean swing"):
        resolve_topic("swng")
    with pytest.raises(RequestError, match="--list"):
        resolve_topic("xylophone technique")


def test_the_list_names_every_topic():
    listed = topic_list()
    assert all(t.name in listed for t in TOPICS)


def test_transforms_take_out_one_thing_and_keep_the_rest():
    hits = (Hit(0, "kick", 110), Hit(6, "snare", 40), Hit(24, "snare", 115), Hit(30, "snare", 50))
    score = DrumScore(100.0, Meter(4, 4), 1, hits)
    plain = transform(score, "without ghost notes")
    assert [(h.tick, h.instrument) for h in plain.hits] == [(0, "kick"), (24, "snare")]
    flat = transform(score, "played flat")
    assert {h.velocity for h in flat.hits} == {100} and len(flat.hits) == len(hits)
