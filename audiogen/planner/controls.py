"""What the planner is asked for (`PlanRequest`) and its rhythmic controls made concrete: where
a cross-rhythm's hits fall, and how far off the beat a position is (what the syncopation control
pushes toward or away from)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from audiogen.errors import RequestError
from audiogen.score import Meter, Section

POLYRHYTHMS = ("3:4", "2:3", "3:2", "4:3")
POLY_VOICE = {"kick": "kick", "snare": "rim", "hats": "hat_closed", "cymbals": "ride_bell",
              "toms": "tom_high", "perc": "cowbell"}  # fmt: skip


@dataclass(frozen=True)
class PlanRequest:
    """A fully resolved planning request (genre defaults already applied)."""

    genre: str
    bpm: float
    bars: int
    meter: Meter
    feel: str
    swing: float
    energy: float = 0.5
    syncopation: float | None = None
    polyrhythm: str | None = None
    poly_lane: str = "perc"
    seed: int = 0
    temperature: float = 0.9
    top_p: float = 0.95
    form: tuple[Section, ...] | None = None  # a song's sections; None: one groove


def offbeatness(position: int, meter: Meter) -> float:
    """0 on a beat, 0.5 on an 8th between beats, 1 on anything finer (16ths, triplets)."""
    beat = meter.beat_ticks
    if position % beat == 0:
        return 0.0
    if position % (beat // 2 if beat % 2 == 0 else beat) == 0 or position % (beat // 3) == 0:
        return 0.5
    return 1.0


def cross_rhythm(spec: str, meter: Meter, bars: int) -> list[list[int]]:
    """Positions per bar of ``A:B``: A evenly spaced hits across B beats, repeated through the
    bars (crossing bar lines when the cycle does not fit a bar)."""
    try:
        a, b = (int(x) for x in spec.split(":"))
    except ValueError:
        raise RequestError(f"polyrhythm {spec!r}: write it like 3:4 or 2:3") from None
    if spec not in POLYRHYTHMS:
        raise RequestError(f"polyrhythm {spec}: use one of {', '.join(POLYRHYTHMS)}")
    beat = meter.beat_ticks
    spacing = Fraction(b * beat, a)
    out: list[list[int]] = [[] for _ in range(bars)]
    k, bar_ticks = 0, meter.ticks_per_bar
    while (t := spacing * k) < bars * bar_ticks:
        tick = round(t)
        out[tick // bar_ticks].append(tick % bar_ticks)
        k += 1
    return out


def poly_velocity(index: int) -> int:
    """The velocity of a cross-rhythm's ``index``-th hit in its cycle."""
    return 110 if index == 0 else 88  # the cycle's first hit is accented
