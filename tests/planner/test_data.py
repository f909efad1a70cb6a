"""Planner training data: the style library, its variations, the bar measures, feel estimation
and the Groove MIDI loader."""

from __future__ import annotations

import csv
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from audiogen.errors import ScoreError
from audiogen.instruments import GROUP_OF
from audiogen.planner.data import (
    FINE_GRIDS,
    BarHit,
    Phrase,
    _library_tempi,
    _read_style_file,
    density,
    estimate_feel,
    grid_ticks,
    library_files,
    load_groove,
    load_library,
    phrase_from_score,
    phrase_to_score,
    syncopation_index,
)
from audiogen.planner.genres import GENRES
from audiogen.score import DrumScore, Hit, Meter

FOUR = Meter(4, 4)


@pytest.fixture(scope="module")
def library() -> list[Phrase]:
    return load_library()


def _lane(bar, instrument: str) -> list[int]:
    return [h.position for h in bar if h.instrument == instrument]


# -- style library ------------------------------------------------------------------------------


def test_every_genre_has_a_style_file_with_beats_and_a_fill(library):
    assert {p.stem for p in library_files()} == set(GENRES)
    kinds = Counter((p.genre, p.kind) for p in library)
    for genre in GENRES:
        assert kinds[(genre, "beat")] >= 3, genre
        assert kinds[(genre, "fill")] >= 1, genre


def test_patterns_fit_their_meter_and_use_known_instruments(library):
    for p in library:
        assert p.split == "train" and p.source == f"library:{p.style}"
        assert p.bars and all(p.bars), p.style
        for bar in p.bars:
            assert [(h.position, h.instrument) for h in bar] == sorted(
                (h.position, h.instrument) for h in bar
            )
            for h in bar:
                assert h.instrument in GROUP_OF
                assert 0 <= h.position < p.meter.ticks_per_bar
                assert any(h.position % g == 0 for g in (grid_ticks(p.feel), *FINE_GRIDS))
                assert h.velocity in (118, 96, 72, 40) and h.offset_ms == 0.0
        low, high = GENRES[p.genre].bpm_range
        assert low <= p.bpm <= high
        assert low <= _library_tempi()[p.source][0] <= _library_tempi()[p.source][1] <= high
        score = phrase_to_score(p)  # a valid DrumScore
        assert score.bars == len(p.bars) and score.provenance.genre == p.genre


def test_genre_signatures(library):
    by = {p.style: p for p in library}
    for p in library:
        if p.genre == "house":  # four on the floor, fills included
            for bar in p.bars:
                assert set(range(0, 96, 24)) <= set(_lane(bar, "kick")), p.style
        if p.genre == "afro-cuban":
            assert str(p.meter) in ("6/8", "12/8"), p.style
    for bar in by["trap/main"].bars:  # half time: the backbeat on beat 3
        assert 48 in _lane(bar, "clap") + _lane(bar, "snare")
        assert 24 not in _lane(bar, "clap") + _lane(bar, "snare")
    dembow = by["reggaeton/dembow"].bars[0]
    assert _lane(dembow, "kick") == [0, 24, 48, 72]
    assert _lane(dembow, "snare") == [18, 36, 66, 84]
    one_drop = by["reggae/one-drop"].bars[0]
    assert _lane(one_drop, "kick") == [48] and _lane(one_drop, "rim") == [48]
    bembe = by["afro-cuban/bembe"]
    bell = [h.position + i * 72 for i, bar in enumerate(bembe.bars) for h in bar
            if h.instrument == "cowbell"]  # fmt: skip
    assert bell == [12 * k for k in (0, 2, 4, 5, 7, 9, 11)]  # the standard bell
    jazz = by["jazz/main"].bars[0]
    assert _lane(jazz, "hat_pedal") == [24, 72] and _lane(jazz, "kick") == [0, 24, 48, 72]
    assert by["jazz/main"].feel == "swing8" and by["blues/main"].feel == "triplet"


def test_one_hi_hat_stroke_at_a_time():
    # An open hat and a closed or pedal hat at one instant cannot be played (one cymbal pair).
    for p in load_library(seed=0, variants=3):
        for bar in p.bars:
            opened = set(_lane(bar, "hat_open"))
            assert not opened & set(_lane(bar, "hat_closed") + _lane(bar, "hat_pedal")), p.source


def test_step_parser_rejects_what_does_not_fit(tmp_path):
    bad = tmp_path / "pop.toml"
    bad.write_text(
        'genre = "pop"\n[[patterns]]\nname = "main"\nkind = "beat"\nsteps_per_bar = 16\n'
        '[patterns.lanes]\nkick = "X... X... X..."\n',
        encoding="utf-8",
    )
    with pytest.raises(ScoreError, match=r"pop\.toml, pattern 'main'.*12 steps, expected 16"):
        _read_style_file(bad)
    bad.write_text(bad.read_text().replace('kick = "X... X... X..."', 'cabasa = "X..."'))
    with pytest.raises(ScoreError, match="unknown instrument 'cabasa'"):
        _read_style_file(bad)
    bad.write_text(bad.read_text().replace('cabasa = "X..."', 'kick = "7:X......"'))
    with pytest.raises(ScoreError, match="7 steps do not divide"):
        _read_style_file(bad)


def test_variations_are_deterministic_plausible_and_new(library):
    a = load_library(seed=3, variants=2)
    assert a == load_library(seed=3, variants=2)
    assert len(a) == 3 * len(library)
    originals = {p.source: p for p in library}
    changed_structure = 0
    for p in a:
        if "#v" not in p.source:
            continue
        base = originals[p.source.split("#")[0]]
        assert p.bars != base.bars
        assert (p.genre, p.meter, p.feel, p.kind) == (base.genre, base.meter, base.feel, base.kind)
        phrase_to_score(p)  # still a valid score
        shape = [[(h.position, h.instrument) for h in bar] for bar in p.bars]
        changed_structure += shape != [[(h.position, h.instrument) for h in bar]
                                       for bar in base.bars]  # fmt: skip
    assert changed_structure >= 0.6 * len(library) * 2
    assert load_library(seed=4, variants=1) != load_library(seed=3, variants=1)


# -- bar measures -------------------------------------------------------------------------------


def _bar(*hits: tuple[int, str]) -> tuple[BarHit, ...]:
    return tuple(BarHit(p, i, 100) for p, i in hits)


def test_syncopation_orders_bars_as_a_listener_would():
    four_floor = _bar(*((p, "kick") for p in range(0, 96, 24)))
    offbeat_16ths = _bar(*((p, "kick") for p in range(6, 96, 12)))
    assert syncopation_index(four_floor, FOUR) == 0.0
    assert syncopation_index((), FOUR) == 0.0
    assert syncopation_index(offbeat_16ths, FOUR) > 0.5
    # 8th hats over a four-on-the-floor kick: every off-beat is answered by the next beat.
    hats = _bar(*((p, "hat_closed") for p in range(0, 96, 12)))
    assert syncopation_index(four_floor + hats, FOUR) == 0.0


def test_syncopation_is_monotone_in_unanswered_off_beats():
    # Anticipate one more beat of the kick each step: the 16th before it, the beat left empty.
    steps = [[0, 24, 48, 72], [0, 18, 48, 72], [0, 18, 42, 72], [0, 18, 42, 66], [18, 42, 66, 90]]
    values = [syncopation_index(_bar(*((p, "kick") for p in kicks)), FOUR) for kicks in steps]
    assert values == sorted(values) and len(set(values)) == 5, values
    # Answering a syncopation by filling the strong position lowers the index.
    push = _bar((0, "kick"), (42, "kick"))
    assert syncopation_index(push + _bar((48, "kick")), FOUR) < syncopation_index(push, FOUR)
    # Softer syncopations count less; louder never less.
    soft = (BarHit(42, "snare", 40),)
    loud = (BarHit(42, "snare", 110),)
    assert 0 < syncopation_index(soft, FOUR) < syncopation_index(loud, FOUR)


@pytest.mark.parametrize("meter", ["3/4", "6/8", "12/8", "5/4", "7/8"])
def test_syncopation_in_other_meters(meter):
    m = Meter.parse(meter)
    assert syncopation_index(_bar((0, "kick")), m) == 0.0
    late = _bar((m.ticks_per_bar - 6, "kick"))  # a 16th before the next downbeat
    assert 0 < syncopation_index(late, m) <= 1.0


def test_density_counts_hits_per_quarter():
    bar = _bar(*((p, "hat_closed") for p in range(0, 96, 12)), (0, "kick"), (24, "snare"))
    assert density(bar, FOUR) == 2.5
    assert density(_bar((0, "kick"), (36, "kick")), Meter(6, 8)) == pytest.approx(2 / 3)


# -- feel estimation and quantisation ---------------------------------------------------------


def _swung(where: float, unit: float, swing: float) -> float:
    """Where a straight position inside one swing unit (a beat, or an 8th) is played."""
    half = unit / 2
    return where * 2 * swing if where <= half else unit * swing + (where - half) * 2 * (1 - swing)


def _perform(phrase: Phrase, feel: str, swing: float, jitter_ms: float, seed: int) -> DrumScore:
    """Eight bars of a library pattern played with ``swing`` and timing jitter."""
    rng = np.random.default_rng(seed)
    ms_per_tick = 60_000.0 / (phrase.bpm * 24)
    unit = {"swing8": 24, "swing16": 12}.get(feel)
    hits = {}
    for i in range(8):
        for h in phrase.bars[i % len(phrase.bars)]:
            where = h.position
            if unit:
                where = where - where % unit + _swung(where % unit, unit, swing)
            exact = i * 96 + where + rng.normal(0, jitter_ms) / ms_per_tick
            tick = max(0, round(exact))
            offset = (exact - tick) * ms_per_tick
            hits[(tick, h.instrument)] = Hit(tick, h.instrument, h.velocity, offset)
    return DrumScore(phrase.bpm, phrase.meter, 8, tuple(hits.values()))


@pytest.mark.parametrize(
    ("pattern", "feel", "swing"),
    [
        ("rock/main", "straight", 0.5),
        ("funk/main", "straight", 0.5),
        ("rock/main", "swing8", 0.58),
        ("rock/main", "swing8", 2 / 3),  # a shuffle: the triplet grid
        ("hip-hop/sixteenths", "swing16", 0.6),
        ("house/sixteenths", "swing16", 0.58),
    ],
)
def test_estimate_feel_recovers_known_swing(library, pattern, feel, swing):
    phrase = next(p for p in library if p.style == pattern)
    for seed in range(3):
        got_feel, got_swing = estimate_feel(_perform(phrase, feel, swing, 10.0, seed))
        expected = "triplet" if swing > 0.62 else feel
        assert got_feel == expected, (seed, got_feel, got_swing)
        assert abs(got_swing - swing) < 0.02


def test_quantising_a_swung_performance_puts_swing_in_the_offsets(library):
    phrase = next(p for p in library if p.style == "rock/main")
    performed = _perform(phrase, "swing8", 0.58, 0.0, 0)
    back = phrase_from_score(performed, style="rock")
    assert back.feel == "swing8" and back.swing == pytest.approx(0.58, abs=0.005)
    assert [[(h.position, h.instrument) for h in b] for b in back.bars[:2]] == [
        [(h.position, h.instrument) for h in b] for b in phrase.bars
    ]
    ms_per_tick = 60_000.0 / (phrase.bpm * 24)
    for bar in back.bars:
        for h in bar:
            expected = (0.58 - 0.5) * 24 * ms_per_tick if h.position % 24 == 12 else 0.0
            assert h.offset_ms == pytest.approx(expected, abs=ms_per_tick / 2 + 0.01)


def test_rolls_keep_their_strokes_on_32nds():
    # Two snare strokes a 32nd apart would share a 16th: both stay, on the 32nd grid.
    ms = 60_000.0 / (100 * 24)
    hits = [Hit(t, "kick", 100) for t in range(0, 192, 24)] + [
        Hit(36, "snare", 80, 0.3 * ms), Hit(39, "snare", 90, -0.2 * ms), Hit(72, "snare", 110)
    ]  # fmt: skip
    phrase = phrase_from_score(DrumScore(100.0, FOUR, 2, tuple(hits)), feel="straight")
    assert _lane(phrase.bars[0], "snare") == [36, 39, 72]


# -- Groove MIDI Dataset ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _groove(root: Path) -> tuple[Phrase, ...]:
    return tuple(load_groove(root))


def test_groove_loads_every_performance(groove_dir):
    phrases = _groove(groove_dir)
    assert len(phrases) == 1150
    assert Counter(p.split for p in phrases) == {"train": 897, "validation": 124, "test": 129}
    with (groove_dir / "info.csv").open(newline="") as f:
        styles = {row["style"] for row in csv.DictReader(f)}
    from audiogen.planner.genres import GROOVE_GENRES

    assert styles == set(GROOVE_GENRES)  # every style string has a documented mapping
    mapped = sum(p.genre is not None for p in phrases)
    assert mapped >= 0.95 * len(phrases)
    assert load_groove(groove_dir, splits=("validation",)) == [
        p for p in phrases if p.split == "validation"
    ]


def test_groove_hits_sit_on_the_grid_near_where_they_were_played(groove_dir):
    total = near = main = 0
    for p in _groove(groove_dir):
        grid = grid_ticks(p.feel)
        half_step_ms = grid / 2 * 60_000.0 / (p.bpm * 24)
        for bar in p.bars:
            for h in bar:
                total += 1
                assert 0 <= h.position < p.meter.ticks_per_bar
                assert any(h.position % g == 0 for g in (grid, *FINE_GRIDS)), (p.source, h)
                assert 1 <= h.velocity <= 127
                main += h.position % grid == 0
                near += abs(h.offset_ms) < half_step_ms
    assert total > 400_000
    assert near >= 0.99 * total
    assert main >= 0.9 * total


def test_groove_feel_follows_the_music(groove_dir):
    phrases = _groove(groove_dir)
    swung = [p.feel != "straight" for p in phrases
             if p.style in ("jazz", "jazz/swing", "blues/shuffle", "rock/shuffle")]  # fmt: skip
    assert sum(swung) >= 0.75 * len(swung)
    rock = [p.feel == "straight" for p in phrases if p.style.startswith("rock")]
    assert sum(rock) >= 0.6 * len(rock)
    for p in phrases:
        assert p.feel in ("straight", "swing8", "swing16", "triplet")
        assert (p.swing == 0.5) == (p.feel == "straight")
        assert 0.5 <= p.swing <= 0.75
    score = phrase_to_score(phrases[0])
    assert score.provenance.source == phrases[0].source
