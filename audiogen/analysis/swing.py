"""Swing measured and named: how late a beat's off-beats fall, and which subdivision carries them.

The feel fit that quantises performances (`audiogen.planner.feel.fit_feel`) decides the grid: the
16ths, or the 8th triplets of a shuffle. It keeps "straight" unless a swing model fits clearly
better, which is right for quantising but misses light swing. Here the swing of each subdivision
is measured directly, from the hits on the grid the fit chose:

- the 8ths: how late the "&" falls after its beat, against the beat's own hits;
- the 16ths: how late the "e" and "a" fall, against the 8ths around them.

Each lateness is compared per instrument (a drummer's kick and hats may sit apart) and as a mean,
whose standard error is the one the noise test below divides by (a median's is a quarter larger
for the same scatter, so a median over that error claimed more than it knew; a flam or a fill's
32nds sit off the 16th grid and are not counted), and becomes a ratio: 0.5 straight, 0.667
triplet.
A subdivision is named swung when its ratio reaches `SWUNG_FROM` and its lateness stands clear of
the timing noise (`CLEAR_OF_NOISE` standard errors over at least `MIN_NOTES` off-beats); the 8ths
are asked first, since a late "&" is 8th swing whatever the 16ths do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiogen.planner.feel import fit_feel, quantise
from audiogen.score import TICKS_PER_QUARTER, DrumScore

# The lightest swing named swing. At 0.52 the swung 16th is late by 4 % of its 16th pair: 7 ms at
# 90 bpm, 5 ms at 120, about where listeners begin to tell a displaced note in an even pulse from
# an on-time one (some 6 ms for notes this close, Friberg & Sundberg 1995); a swung 8th at 0.52 is
# late twice as many ms. A lighter ratio is straight to the ear; 0.52 is also the lightest swing
# the requests this is measured on ask for (benchmarks/bench_explain.py draws 0.52-0.70).
SWUNG_FROM = 0.52
CLEAR_OF_NOISE = 2.0  # standard errors the lateness must stand clear of the timing noise
MIN_NOTES = 3  # off-beats needed before a subdivision's swing is measured at all


@dataclass(frozen=True)
class Lateness:
    """How one subdivision's off-beats fall: how many there are, their swing ratio, and their
    mean lateness over its standard error (0 when too few to tell)."""

    notes: int
    ratio: float
    clear: float

    @property
    def swung(self) -> bool:
        """Swung to the ear and clear of the timing noise."""
        return self.notes >= MIN_NOTES and self.ratio >= SWUNG_FROM and self.clear >= CLEAR_OF_NOISE


@dataclass(frozen=True)
class Feel:
    """A performance's feel, measured: its name and swing ratio (0.5 straight, 0.667 triplet)."""

    name: str
    swing: float


def _lateness(rows: list[tuple[int, str, float]], off: int, span: int) -> Lateness:
    """Lateness (ticks) of the hits at ``off`` ticks into each ``span`` against the hits that
    open a span, the same instrument's where it plays there twice or more."""
    ref: dict[str, list[float]] = {}
    for p, inst, t in rows:
        if p % span == 0:
            ref.setdefault(inst, []).append(t)
    everyone = [t for v in ref.values() for t in v]
    if not everyone:
        return Lateness(0, 0.5, 0.0)
    base = {i: float(np.mean(v if len(v) >= 2 else everyone)) for i, v in ref.items()}
    fallback = float(np.mean(everyone))
    late = np.array([t - base.get(inst, fallback) for p, inst, t in rows if p % span == off])
    if len(late) < MIN_NOTES:
        return Lateness(len(late), 0.5, 0.0)
    mean = float(np.mean(late))
    error = float(np.std(late, ddof=1)) / np.sqrt(len(late))
    clear = mean / error if error > 0 else (np.inf if mean > 0 else 0.0)
    return Lateness(len(late), round((off + mean) / span, 3), float(clear))


def subdivision_swing(score: DrumScore) -> tuple[str, float, dict[str, Lateness]]:
    """The feel fit's verdict (feel and ratio: `fit_feel`) and, on the grid it chose, the
    lateness of each subdivision's off-beats: "8ths" (the "&") and "16ths" (the "e" and "a");
    none on the 8th-triplet grid or in a meter without a swing model (6/8, 12/8)."""
    spt = score.seconds_per_tick
    performed = np.array([score.time_s(h) / spt for h in score.hits], dtype=np.float64)
    feel, s, _ = fit_feel(performed, score.meter)
    if score.meter.denominator != 4 or not len(performed) or feel == "triplet":
        return feel, s, {}
    bars = quantise(
        performed, [h.instrument for h in score.hits], [h.velocity for h in score.hits],
        score.meter, score.bpm, feel, s, score.bars,
    )  # fmt: skip
    ms_per_tick = 1000.0 * spt
    rows = [(h.position % TICKS_PER_QUARTER, h.instrument, h.offset_ms / ms_per_tick)
            for bar in bars for h in bar]  # fmt: skip
    eighths, sixteenths = _lateness(rows, 12, TICKS_PER_QUARTER), _lateness(rows, 6, 12)
    return feel, s, {"8ths": eighths, "16ths": sixteenths}


def measure_feel(score: DrumScore) -> Feel:
    """The feel named from the measured swing. Where the feel fit finds the 8ths swung or the
    hits on the 8th-triplet grid, its verdict and ratio stand ("swing8", "triplet"): a clear
    gain over straight is already asked of it. Otherwise the "&" swung (`Lateness.swung`) makes
    "swing8", else the "e" and "a" swung make "swing16", else the beat is "straight", with the
    ratio of the subdivision that is measurably late (though lighter than swing), or 0.5."""
    feel, s, late = subdivision_swing(score)
    if feel in ("swing8", "triplet"):
        return Feel(feel, round(s, 3))
    for name, note in (("swing8", "8ths"), ("swing16", "16ths")):
        if note in late and late[note].swung:
            return Feel(name, late[note].ratio)
    clear = [x.ratio for x in late.values() if x.notes >= MIN_NOTES and x.clear >= CLEAR_OF_NOISE]
    return Feel("straight", max(clear, default=0.5))
