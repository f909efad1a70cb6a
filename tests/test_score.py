import pytest

from audiogen.errors import ScoreError
from audiogen.instruments import GM_NOTE_OF, GROUP_OF, GROUPS, INSTRUMENTS, instruments_in
from audiogen.score import DrumScore, Hit, Meter, Section


def test_grid_resolution_fits_16ths_32nds_and_triplets():
    assert Meter(4, 4).ticks_per_bar == 96
    assert Meter(3, 4).ticks_per_bar == 72
    assert Meter(6, 8).ticks_per_bar == 72
    assert Meter(12, 8).ticks_per_bar == 144


def test_every_class_has_a_group_and_a_distinct_gm_note():
    assert set(GROUP_OF.values()) == set(GROUPS)
    assert len(set(GM_NOTE_OF.values())) == len(INSTRUMENTS)
    assert instruments_in("snare") == ("snare", "rim", "clap")


def test_time_includes_offset(basic_score):
    snare = next(h for h in basic_score.hits if h.instrument == "snare")
    assert basic_score.time_s(snare) == pytest.approx(0.5 + 0.003)
    assert basic_score.duration_s == pytest.approx(4.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bpm": 5.0}, "tempo"),
        ({"bars": 0}, "bars"),
        ({"hits": (Hit(96 * 4, "kick", 100),)}, "outside"),
        ({"hits": (Hit(0, "kick", 0),)}, "velocity"),
        ({"hits": (Hit(0, "cowbel", 100),)}, "unknown instrument"),
        ({"hits": (Hit(0, "kick", 100), Hit(0, "kick", 90))}, "two kick hits"),
        ({"hits": (Hit(0, "kick", 100, 900.0),)}, "offset"),
        ({"sections": (Section("verse", 2, 4),)}, "does not fit"),
        ({"sections": (Section("solo", 0, 1),)}, "unknown section"),
    ],
)
def test_validation_says_what_is_wrong(kwargs, message):
    base = {"bpm": 120.0, "meter": Meter(4, 4), "bars": 4, "hits": (Hit(0, "kick", 100),)}
    with pytest.raises(ScoreError, match=message):
        DrumScore(**{**base, **kwargs})


def test_meter_parse_and_refusal():
    assert Meter.parse("6-8") == Meter(6, 8)
    with pytest.raises(ScoreError, match="meter"):
        Meter.parse("four")
    with pytest.raises(ScoreError, match="unsupported"):
        Meter(4, 3)


def test_dict_round_trip(basic_score):
    assert DrumScore.from_dict(basic_score.to_dict()) == basic_score
