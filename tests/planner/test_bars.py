"""The bar measures: density, and a syncopation index that moves the way a listener hears."""

from __future__ import annotations

import pytest

from audiogen.planner.bars import BarHit, density, syncopation_index
from audiogen.score import Meter

FOUR = Meter(4, 4)


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
