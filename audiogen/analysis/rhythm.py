"""Rhythm measures of a `DrumScore`, each a plain number or name read off its hits.

The bar measures the planner steers by (`density`, `syncopation_index`) and the feel fit that
quantises performances (`estimate_feel`) live with the planner; this module reads whole scores
with them and adds what a listener names: a backbeat, four on the floor, half-time, ghost notes,
accents, fills, and how to count it all. The feel and swing are measured in
`audiogen.analysis.swing`; patterns that run across the beat (cross-rhythms, the clave) are in
`audiogen.analysis.cycles`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from audiogen.instruments import GROUP_OF
from audiogen.planner.bars import (
    Bar,
    BarHit,
    density,
    sorted_bar,
    syncopated_onsets,
    syncopation_index,
)
from audiogen.planner.controls import offbeatness
from audiogen.score import DrumScore, Meter

GHOST_VELOCITY = 56  # a snare stroke this soft or softer is a ghost note
BACKBEAT_VOICES = ("snare", "clap", "rim")


def score_bars(score: DrumScore) -> list[Bar]:
    """The score's bars as `BarHit`s on the grid (offsets kept)."""
    per_bar = score.meter.ticks_per_bar
    bars: list[list[BarHit]] = [[] for _ in range(score.bars)]
    for h in score.hits:
        bars[h.tick // per_bar].append(BarHit(h.tick % per_bar, h.instrument, h.velocity,
                                              h.offset_ms))  # fmt: skip
    return [sorted_bar(b) for b in bars]


def beats_per_bar(meter: Meter) -> int:
    """Felt beats in a bar: 4 in 4/4, 2 in 6/8, 4 in 12/8."""
    return max(1, meter.ticks_per_bar // meter.beat_ticks)


def backbeat_positions(meter: Meter) -> tuple[int, ...]:
    """Where the backbeat falls (ticks from the bar start): the even beats, 2 and 4 in 4/4 and
    12/8, 2 in 6/8; none in a bar of an odd number of beats (3/4)."""
    n, beat = beats_per_bar(meter), meter.beat_ticks
    if n % 2:
        return ()
    return tuple(b * beat for b in range(1, n, 2))


def _is_backbeat_stroke(h: BarHit) -> bool:
    return h.instrument in BACKBEAT_VOICES and h.velocity > GHOST_VELOCITY


def backbeat_share(score: DrumScore) -> float:
    """Share of bars (0-1) whose snare, clap or rim strikes every backbeat (ghosts aside)."""
    places = backbeat_positions(score.meter)
    bars = [b for b in score_bars(score) if b]
    if not places or not bars:
        return 0.0
    hit = [all(any(h.position == p and _is_backbeat_stroke(h) for h in bar) for p in places)
           for bar in bars]  # fmt: skip
    return sum(hit) / len(bars)


def half_time_share(score: DrumScore) -> float:
    """Share of bars whose backbeat comes once, on the middle of the bar (beat 3 of 4/4),
    with beats 2 and 4 left to ghosts or silence: the half-time feel."""
    meter = score.meter
    n, beat = beats_per_bar(meter), meter.beat_ticks
    bars = [b for b in score_bars(score) if b]
    if n != 4 or not bars:
        return 0.0
    count = 0
    for bar in bars:
        strokes = {h.position for h in bar if _is_backbeat_stroke(h)}
        count += 2 * beat in strokes and beat not in strokes and 3 * beat not in strokes
    return count / len(bars)


def four_on_the_floor_share(score: DrumScore) -> float:
    """Share of bars with a kick on every beat."""
    beat, n = score.meter.beat_ticks, beats_per_bar(score.meter)
    bars = [b for b in score_bars(score) if b]
    if not bars:
        return 0.0
    full = [all(any(h.position == k * beat and h.instrument == "kick" for h in bar)
                for k in range(n)) for bar in bars]  # fmt: skip
    return sum(full) / len(bars)


def mean_syncopation(score: DrumScore) -> float:
    """`syncopation_index` averaged over the bars that play (0 on the beat ... 1)."""
    bars = [b for b in score_bars(score) if b]
    return float(np.mean([syncopation_index(b, score.meter) for b in bars])) if bars else 0.0


def syncopations(score: DrumScore) -> list[tuple[int, str]]:
    """(tick, instrument) of the syncopated onsets off the beat: those `syncopation_index`
    counts (no onset of the same stem group on the next stronger place)."""
    meter = score.meter
    per_bar = meter.ticks_per_bar
    out = []
    for b, bar in enumerate(score_bars(score)):
        found = {(p, g) for p, g, _ in syncopated_onsets(bar, meter) if offbeatness(p, meter) > 0}
        out += [(b * per_bar + h.position, h.instrument) for h in bar
                if (h.position, GROUP_OF[h.instrument]) in found]  # fmt: skip
    return out


def densities(score: DrumScore) -> list[float]:
    """Hits per quarter note, bar by bar."""
    return [density(b, score.meter) for b in score_bars(score)]


def ghost_notes(score: DrumScore) -> list[int]:
    """Ticks of the snare's ghost notes (soft strokes off the backbeat)."""
    places = set(backbeat_positions(score.meter))
    per_bar = score.meter.ticks_per_bar
    return [h.tick for h in score.hits if h.instrument == "snare"
            and h.velocity <= GHOST_VELOCITY and h.tick % per_bar not in places]  # fmt: skip


def accents(score: DrumScore) -> list[tuple[int, str]]:
    """(tick, instrument) of accents: strokes at least 20 louder than their instrument's median
    and no softer than 100."""
    by: dict[str, list[int]] = {}
    for h in score.hits:
        by.setdefault(h.instrument, []).append(h.velocity)
    median = {i: float(np.median(v)) for i, v in by.items()}
    return [(h.tick, h.instrument) for h in score.hits
            if h.velocity >= max(100, median[h.instrument] + 20)]  # fmt: skip


def velocity_spread(score: DrumScore) -> float:
    """The standard deviation of the velocities (0 for a beat played at one level)."""
    return float(np.std([h.velocity for h in score.hits])) if score.hits else 0.0


def timing_spread_ms(score: DrumScore) -> float:
    """Mean distance (ms) of the hits from their place on the grid, swing taken out: 0 for a
    quantised beat."""
    if not score.hits:
        return 0.0
    from audiogen.score import swing_offset_ms

    feel, swing = score.provenance.feel, score.provenance.swing
    per_bar = score.meter.ticks_per_bar
    return float(np.mean([abs(h.offset_ms - swing_offset_ms(h.tick % per_bar, feel, swing,
                                                             score.bpm))
                          for h in score.hits]))  # fmt: skip


# -- fills and crashes ------------------------------------------------------------------------

FILL_DICE = 0.6  # a bar's second half sharing less than this with the groove's is a fill


def dice(a: set, b: set) -> float:
    """Dice similarity of two sets (1 when both are empty)."""
    return 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))


def second_half(bar: Iterable[BarHit], ticks: int) -> set[tuple[int, str]]:
    return {(h.position, h.instrument) for h in bar if h.position >= ticks // 2}


def fill_bars(score: DrumScore) -> list[int]:
    """Bars (0-based) that end in a fill: their second half departs from the bar two before
    (or the one before) and plays toms, more hits than it, or a snare run."""
    bars = score_bars(score)
    ticks = score.meter.ticks_per_bar
    out = []
    for i in range(1, len(bars)):
        ref = bars[i - 2] if i >= 2 else bars[i - 1]
        mine, theirs = second_half(bars[i], ticks), second_half(ref, ticks)
        toms = any(GROUP_OF[inst] == "toms" for _, inst in mine)
        snare = [sum(GROUP_OF[inst] == "snare" for _, inst in half) for half in (mine, theirs)]
        busier = len(mine) > len(theirs) or snare[0] > snare[1] + 1  # a snare run
        if dice(mine, theirs) < FILL_DICE and (toms or busier):
            out.append(i)
    return out


def crash_bars(score: DrumScore) -> list[int]:
    """Bars (0-based) that open with a crash (or splash, china) on their downbeat."""
    per_bar = score.meter.ticks_per_bar
    return sorted(
        {
            h.tick // per_bar
            for h in score.hits
            if h.tick % per_bar == 0 and h.instrument in ("crash", "splash", "china")
        }
    )


def fill_into(score: DrumScore, bar: int) -> bool:
    """Whether the bar before ``bar`` ends in a fill and ``bar`` opens with a crash: how a
    drummer marks a new section."""
    return bar - 1 in fill_bars(score) and bar in crash_bars(score)


def energy_rise(score: DrumScore, bars: int = 2) -> float:
    """Hits per quarter of the last ``bars`` bars less those of the first ``bars``."""
    per_bar = densities(score)
    return float(np.mean(per_bar[-bars:]) - np.mean(per_bar[:bars]))


def section_densities(score: DrumScore) -> list[tuple[str, float]]:
    """(section name, hits per quarter) of each section, in order."""
    per_bar = densities(score)
    return [(s.name, float(np.mean(per_bar[s.first_bar : s.first_bar + s.bars])))
            for s in score.sections]  # fmt: skip


# -- counting ---------------------------------------------------------------------------------

_SIMPLE = {0: "", 6: "e", 12: "&", 18: "a", 8: "trip", 16: "let"}
_COMPOUND = {0: "", 12: "&", 24: "a"}


def syllable(position: int, meter: Meter) -> str:
    """How a drummer counts a place in the bar: "1", "2e", "3&", "4a" in 4/4 (8th triplets
    "1trip", "1let"); "1", "1&", "1a" per dotted-quarter beat in 6/8 and 12/8. A place finer
    than these is named after the count it follows, with a "+" ("2e+": a 32nd after 2e)."""
    beat = meter.beat_ticks
    names = _COMPOUND if beat == 36 else _SIMPLE
    n, r = divmod(position % meter.ticks_per_bar, beat)
    if r in names:
        return f"{n + 1}{names[r]}"
    before = max(p for p in names if p < r and p not in (8, 16))
    return f"{n + 1}{names[before]}+"


def count_marks(meter: Meter, feel: str = "straight") -> tuple[tuple[int, str], ...]:
    """Each countable place of a bar with its short name for a picture: the beat's number on
    the beat, "e", "&", "a" (or "trip", "let") between."""
    step = 12 if meter.beat_ticks == 36 else 8 if feel == "triplet" else 6
    return tuple(
        (p, name if p % meter.beat_ticks == 0 else name.lstrip("0123456789"))
        for p in range(0, meter.ticks_per_bar, step)
        for name in (syllable(p, meter),)
    )


def figure(score: DrumScore, instruments: Iterable[str], bar: int = 0) -> str:
    """The counts a bar's strokes of ``instruments`` fall on: "1 2& 3" (ghosts left out)."""
    wanted = set(instruments)
    per_bar = score.meter.ticks_per_bar
    places = sorted({h.tick % per_bar for h in score.hits if h.tick // per_bar == bar
                     and h.instrument in wanted and h.velocity > GHOST_VELOCITY})  # fmt: skip
    return " ".join(syllable(p, score.meter) for p in places) or "(none)"


def counting_line(meter: Meter, feel: str = "straight") -> str:
    """How to count a bar aloud: "1 e & a 2 e & a 3 e & a 4 e & a", "1 trip let 2 ...", or
    "1 & a 2 & a" in compound meters."""
    n = beats_per_bar(meter)
    if meter.beat_ticks == 36:
        return " ".join(f"{b} & a" for b in range(1, n + 1))
    if feel == "triplet":
        return " ".join(f"{b} trip let" for b in range(1, n + 1))
    return " ".join(f"{b} e & a" for b in range(1, n + 1))
