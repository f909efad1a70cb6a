"""The lessons a learner can ask for, by the words they would type."""

import pytest

from audiogen.analysis.cycles import detect_clave
from audiogen.errors import RequestError
from audiogen.explain.lesson import check_topics, topic_list, transform
from audiogen.explain.measures import MEASURES
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


def test_the_backbeat_and_the_kick_on_2_and_4_are_taken_out_and_nothing_else():
    beat = [Hit(b * 24, "kick", 110) for b in range(4)] + [Hit(24, "snare", 115),
            Hit(72, "clap", 100), Hit(78, "snare", 40), Hit(36, "kick", 90)]  # fmt: skip
    beat += [Hit(k * 12, "hat_closed", 80) for k in range(8)]
    score = DrumScore(110.0, Meter(4, 4), 2, tuple(beat + [Hit(96 + h.tick, h.instrument,
                      h.velocity) for h in beat]))  # fmt: skip
    assert MEASURES["backbeat"](score) == 1.0 and MEASURES["four on the floor"](score) == 1.0
    plain = transform(score, "without the backbeat")
    assert MEASURES["backbeat"](plain) == 0.0 and MEASURES["four on the floor"](plain) == 1.0
    gone = set(score.hits) - set(plain.hits)
    assert {(h.tick % 96, h.instrument) for h in gone} == {(24, "snare"), (72, "clap")}
    rock = transform(score, "kick on 1 and 3")
    assert MEASURES["four on the floor"](rock) == 0.0 and MEASURES["backbeat"](rock) == 1.0
    kicks = sorted(h.tick % 96 for h in rock.hits if h.instrument == "kick" and h.tick < 96)
    assert kicks == [0, 36, 48]  # 1, the 2& push and 3 stay
    assert len(score.hits) - len(rock.hits) == 4


def test_without_fills_plays_the_fill_half_bar_as_the_bar_before_and_drops_its_crash():
    groove = [(0, "kick"), (24, "snare"), (48, "kick"), (72, "snare")]
    groove += [(12 * k, "hat_closed") for k in range(8)]
    fill = [(48, "tom_high"), (54, "tom_high"), (60, "tom_mid"), (66, "tom_mid"),
            (72, "tom_low"), (78, "tom_low"), (84, "snare"), (90, "snare")]  # fmt: skip
    bars = [groove, groove[:2] + [h for h in groove[4:] if h[0] < 48] + fill, groove, groove]
    hits = [Hit(b * 96 + t, inst, 100) for b, bar in enumerate(bars) for t, inst in bar]
    hits.append(Hit(192, "crash", 120))
    score = DrumScore(120.0, Meter(4, 4), 4, tuple(hits))
    assert MEASURES["fill and crash into bar 3"](score) == "yes"
    plain = transform(score, "without the fill and crash")
    assert MEASURES["fill and crash into bar 3"](plain) == "no"
    second = sorted((h.tick - 96, h.instrument) for h in plain.hits if 96 <= h.tick < 192)
    assert [x for x in second if x[0] >= 48] == sorted(x for x in groove if x[0] >= 48)
    assert [x for x in second if x[0] < 48] == sorted(
        (h.tick - 96, h.instrument) for h in score.hits if 96 <= h.tick < 144
    )
    rest = [h for h in score.hits if h.tick < 96 or h.tick >= 192 and h.instrument != "crash"]
    assert set(rest) <= set(plain.hits)


def test_a_clave_transform_rewrites_the_clave_lane_and_nothing_else():
    bossa = (0, 3, 6, 10, 13)  # the bossa 3-2 clave, in 8ths over two bars
    hits = [Hit(c * 192 + p * 12, "rim", 90) for c in range(2) for p in bossa]
    hits += [Hit(b * 96 + k, "kick", 100) for b in range(4) for k in (0, 36, 48)]
    score = DrumScore(120.0, Meter(4, 4), 4, tuple(hits))
    son, rumba = transform(score, "son 3-2 clave"), transform(score, "rumba 3-2 clave")
    assert detect_clave(son) == ("son 3-2", "rim") and detect_clave(rumba) == ("rumba 3-2", "rim")
    assert MEASURES["clave third stroke"](son) == "4"
    assert MEASURES["clave third stroke"](rumba) == "4&"
    # the two differ in one stroke a cycle: son on 4 (tick 72), rumba an 8th later (tick 84)
    assert set(son.hits) - set(rumba.hits) == {Hit(72, "rim", 90), Hit(264, "rim", 90)}
    kicks = [h for h in score.hits if h.instrument == "kick"]
    assert [h for h in son.hits if h.instrument == "kick"] == kicks
    assert MEASURES["clave"](transform(score, "son 2-3 clave")) == "son 2-3"
