"""Rhythm measures on beats built in the test: what a listener would name, read off the hits."""

from audiogen.analysis import rhythm
from audiogen.score import DrumScore, Hit, Meter, Provenance

BAR = 96


FOUR = Meter(4, 4)


def _score(hits, bars=2, meter=FOUR, bpm=100.0, **prov):
    return DrumScore(bpm, meter, bars, tuple(hits), provenance=Provenance(**prov))


def _rock(snare_beats=(1, 3), bars=2, kicks=(0, 2)):
    hits = []
    for b in range(bars):
        hits += [Hit(b * BAR + k * 24, "kick", 110) for k in kicks]
        hits += [Hit(b * BAR + s * 24, "snare", 112) for s in snare_beats]
        hits += [Hit(b * BAR + e * 12, "hat_closed", 80) for e in range(8)]
    return _score(hits, bars)


def test_backbeat_half_time_and_four_on_the_floor_tell_the_classic_figures_apart():
    rock = _rock()
    assert rhythm.backbeat_share(rock) == 1.0 and rhythm.half_time_share(rock) == 0.0
    half = _rock(snare_beats=(2,))
    assert rhythm.backbeat_share(half) == 0.0 and rhythm.half_time_share(half) == 1.0
    house = _rock(kicks=(0, 1, 2, 3))
    assert rhythm.four_on_the_floor_share(house) == 1.0
    assert rhythm.four_on_the_floor_share(rock) == 0.0


def test_a_ghost_on_the_backbeat_is_no_backbeat():
    hits = [Hit(b * BAR + s * 24, "snare", 40) for b in range(2) for s in (1, 3)]
    assert rhythm.backbeat_share(_score(hits)) == 0.0
    assert rhythm.ghost_notes(_score(hits)) == []  # on the backbeat: soft, but not a ghost
    ghosts = _score(hits + [Hit(6, "snare", 40), Hit(42, "snare", 35)])
    assert rhythm.ghost_notes(ghosts) == [6, 42]


def test_counting_syllables():
    four, six = Meter(4, 4), Meter(6, 8)
    assert [rhythm.syllable(p, four) for p in (0, 6, 12, 18, 24, 32, 40, 3)] == [
        "1", "1e", "1&", "1a", "2", "2trip", "2let", "1+"]  # fmt: skip
    assert [rhythm.syllable(p, six) for p in (0, 12, 24, 36, 48)] == ["1", "1&", "1a", "2", "2&"]
    rock = _rock()
    assert rhythm.figure(rock, ("kick",)) == "1 3"
    assert rhythm.figure(rock, ("snare",)) == "2 4"
    assert rhythm.counting_line(six) == "1 & a 2 & a"


def test_syncopation_rises_with_anticipated_beats_and_the_hits_are_named():
    plain = _rock()
    pushed = _score([*plain.hits, Hit(18, "kick", 110), Hit(BAR + 18, "kick", 110)])
    assert rhythm.mean_syncopation(pushed) > rhythm.mean_syncopation(plain)
    assert (18, "kick") in rhythm.syncopations(pushed)
    assert (18, "kick") not in rhythm.syncopations(plain)


def test_fills_crashes_and_rising_energy():
    groove = list(_rock(bars=4).hits)
    fill = [Hit(BAR + 48 + 6 * k, "tom_high", 100) for k in range(8)]
    hits = [h for h in groove if not (BAR + 48 <= h.tick < 2 * BAR)] + fill
    hits.append(Hit(2 * BAR, "crash", 110))
    score = _score(hits, bars=4)
    assert rhythm.fill_bars(score) == [1]
    assert rhythm.crash_bars(score) == [2]
    assert rhythm.fill_into(score, 2) and not rhythm.fill_into(_rock(bars=4), 2)
    sparse = [h for h in groove if h.tick < 2 * BAR and h.instrument != "hat_closed"]
    rising = _score(sparse + [h for h in groove if h.tick >= 2 * BAR], bars=4)
    assert rhythm.energy_rise(rising) > 1.5 and rhythm.energy_rise(_rock(bars=4)) == 0.0


def test_accents_and_timing_spread():
    hits = [Hit(e * 12, "hat_closed", 120 if e % 4 == 0 else 70) for e in range(8)]
    assert rhythm.accents(_score(hits, bars=1)) == [(0, "hat_closed"), (48, "hat_closed")]
    assert rhythm.timing_spread_ms(_score(hits, bars=1)) == 0.0
    late = [Hit(h.tick, h.instrument, h.velocity, 8.0) for h in hits]
    assert rhythm.timing_spread_ms(_score(late, bars=1)) == 8.0
