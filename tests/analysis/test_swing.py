"""Swing measured and named on beats built in the test, played with a drummer's timing noise:
the feel a listener would name, the swing ratio asked, and which subdivision is swung."""

import numpy as np
import pytest

from audiogen.analysis import swing
from audiogen.score import DrumScore, Hit, Meter, swing_offset_ms

BAR, BPM, BARS = 96, 100.0, 4
MS_PER_TICK = 60_000.0 / (BPM * 24)


def _played(feel="straight", ratio=0.5, step=6, noise_ms=15.0, seed=0):
    """Hats every ``step`` ticks with a backbeat and kicks, swung as the planner swings (only
    the swung note moves), each hit off by Gaussian noise of ``noise_ms``, as a humanizer plays."""
    rng = np.random.default_rng(seed)
    places = [(p, "hat_closed", 80) for p in range(0, BAR, step)]
    places += [(p, "kick", 110) for p in (0, 36, 48)] + [(p, "snare", 112) for p in (24, 72)]
    hits = []
    for b in range(BARS):
        for p, inst, vel in places:
            late = swing_offset_ms(p, feel, ratio, BPM) + float(rng.normal(0.0, noise_ms))
            hits.append(Hit(b * BAR + p, inst, vel, round(late, 2)))
    return DrumScore(BPM, Meter(4, 4), BARS, tuple(hits))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_light_16th_swing_is_named_swung_and_measured_within_003(seed):
    feel = swing.measure_feel(_played("swing16", 0.54, seed=seed))
    assert feel.name == "swing16"
    assert abs(feel.swing - 0.54) <= 0.03


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_same_beat_played_straight_is_straight(seed):
    assert swing.measure_feel(_played(seed=seed)).name == "straight"


def test_swing_lighter_than_a_listener_hears_is_straight():
    assert swing.measure_feel(_played("swing16", 0.51, noise_ms=0.0)).name == "straight"
    assert swing.measure_feel(_played("swing16", 0.52, noise_ms=0.0)).name == "swing16"


def test_the_swung_subdivision_is_the_one_whose_offbeats_are_late():
    # 8th swing with straight 16ths around it (the planner's swing8) is still 8th swing.
    eighths = swing.measure_feel(_played("swing8", 0.56, seed=3))
    assert eighths.name == "swing8" and abs(eighths.swing - 0.56) <= 0.03
    sixteenths = swing.measure_feel(_played("swing16", 0.56, seed=3))
    assert sixteenths.name == "swing16" and abs(sixteenths.swing - 0.56) <= 0.03


def test_hard_8th_swing_and_the_shuffle():
    hard = swing.measure_feel(_played("swing8", 0.6, step=12, seed=4))
    assert hard.name == "swing8" and abs(hard.swing - 0.6) <= 0.03
    hits = [Hit(b * BAR + p, "ride", 90) for b in range(BARS) for p in range(0, BAR, 8)]
    shuffle = swing.measure_feel(DrumScore(BPM, Meter(4, 4), BARS, tuple(hits)))
    assert shuffle.name == "triplet" and abs(shuffle.swing - 0.667) <= 0.01


def test_a_beat_with_no_16ths_off_the_8ths_cannot_be_16th_swung():
    # swing16 moves only the "e" and "a": a beat of 8ths is the same with it or without.
    assert swing.measure_feel(_played("swing16", 0.6, step=12, seed=5)).name == "straight"


@pytest.mark.parametrize(("ratio", "seed"), [(0.64, 6), (0.68, 7)])
def test_hard_8th_swing_over_straight_16ths_is_not_read_straight(ratio, seed):
    # The planner's swing8 moves the "&" only: hats on every 16th keep the "e" and "a" even.
    # Read on a grid that swung the 16ths too, such a beat fitted straight (the "&" taken for a
    # late "a"). Past 0.615 the feel fit names it the triplet feel, its rule for hard swing.
    feel = swing.measure_feel(_played("swing8", ratio, noise_ms=8.0, seed=seed))
    assert feel.name == "triplet" and abs(feel.swing - ratio) <= 0.03
