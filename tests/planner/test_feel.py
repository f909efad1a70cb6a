"""Feel estimation and quantisation: swing and triplet feels found in performed hits, and hits
quantised to the grid near where they were played."""

from __future__ import annotations

import numpy as np
import pytest

from audiogen.planner.bars import Phrase
from audiogen.planner.feel import estimate_feel, phrase_from_score
from audiogen.planner.library import load_library
from audiogen.score import DrumScore, Hit, Meter

FOUR = Meter(4, 4)


@pytest.fixture(scope="module")
def library() -> list[Phrase]:
    return load_library()


def _lane(bar, instrument: str) -> list[int]:
    return [h.position for h in bar if h.instrument == instrument]


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
