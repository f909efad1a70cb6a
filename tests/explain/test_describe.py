"""A drum MIDI described in words, on beats built in the test."""

import pytest

from audiogen.explain.describe import describe, description_text, nearest_genres
from audiogen.score import DrumScore, Hit, Meter


def _beat(bars=4, four_on_floor=False, bpm=96.0):
    hits = []
    for b in range(bars):
        base = b * 96
        kicks = (0, 24, 48, 72) if four_on_floor else (0, 42, 48)
        hits += [Hit(base + k, "kick", 110) for k in kicks]
        hits += [Hit(base + 24, "snare", 115), Hit(base + 72, "snare", 115)]
        hits += [Hit(base + 66, "snare", 38)]  # a ghost on 3a
        hits += [Hit(base + e * 12, "hat_closed", 120 if e % 2 else 75) for e in range(8)]
    return DrumScore(bpm, Meter(4, 4), bars, tuple(hits))


def test_the_description_names_the_figures_in_counts():
    d = describe(_beat(), genres=False)
    assert d.kick == ("1 2a 3", 4) and d.snare == ("2 4", 4)
    assert d.backbeat == 1.0 and d.four_on_the_floor == 0.0
    assert d.ghost_notes == 4 and d.ghost_counts == ("3a",)
    assert d.feel == "straight" and d.cross_rhythms == () and d.fills == ()
    text = description_text(d, "beat.mid")
    assert "kick: 1 2a 3" in text and "96 bpm" in text and "ghost notes: 4" in text


def test_nearest_genres_hear_a_house_beat_as_house_and_a_backbeat_as_not():
    hits = []
    for b in range(4):
        hits += [Hit(b * 96 + k, "kick", 110) for k in (0, 24, 48, 72)]
        hits += [Hit(b * 96 + k, "clap", 110) for k in (24, 72)]
        hits += [Hit(b * 96 + k, "hat_open", 90) for k in (12, 36, 60, 84)]
    house = nearest_genres(DrumScore(124.0, Meter(4, 4), 4, tuple(hits)))
    assert len(house) == 3 and sum(p for _, p in house) <= 1.0 + 1e-6
    assert house[0][0] == "house"
    assert nearest_genres(_beat())[0][0] != "house"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_light_16th_swing_in_a_played_midi_is_described_as_swung_16ths(seed):
    import numpy as np

    from audiogen.midi import round_trip
    from audiogen.score import swing_offset_ms

    rng = np.random.default_rng(seed)
    hits = []
    for b in range(4):
        for p in range(0, 96, 6):
            late = swing_offset_ms(p, "swing16", 0.53, 96.0) + float(rng.normal(0.0, 12.0))
            hits.append(Hit(b * 96 + p, "hat_closed", 80, round(late, 2)))
        hits += [Hit(b * 96 + k, "kick", 110) for k in (0, 48)]
        hits += [Hit(b * 96 + k, "snare", 112) for k in (24, 72)]
    d = describe(round_trip(DrumScore(96.0, Meter(4, 4), 4, tuple(hits))), genres=False)
    assert d.feel == "swing16" and abs(d.swing - 0.53) <= 0.03
    assert "swung 16ths" in description_text(d)
