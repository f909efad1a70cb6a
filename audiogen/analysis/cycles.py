"""Patterns that run across the beat's own pulse, found from a score's onsets: cross-rhythms
(A evenly spaced hits across B beats) and the clave."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from audiogen.score import DrumScore, Meter

_FULL = 0.75  # share of cycles that makes a pattern "the" pattern of a beat


# -- cross-rhythms ----------------------------------------------------------------------------


def _ratios(most: int = 6) -> list[tuple[int, int]]:
    """Every A:B with A hits across B beats that is not tied to the beat (neither a multiple of
    the beat, A = 1, nor a plain subdivision of it, B = 1)."""
    return [(a, b) for a in range(2, most + 1) for b in range(2, most + 1) if math.gcd(a, b) == 1]


def detect_cross_rhythm(ticks: Sequence[int], total_ticks: int, meter: Meter) -> str | None:
    """The cross-rhythm a lane plays, found from its onsets alone: the lattice of evenly spaced
    points (spacing B beats / A, any phase) that best explains the onsets, if it explains at
    least 90 % of them and 90 % of its points are played. None when no lattice does."""
    onsets = np.array(sorted(set(ticks)), dtype=np.float64)
    if len(onsets) < 4:
        return None
    beat = meter.beat_ticks
    best, best_fit = None, 0.0
    for a, b in _ratios():
        spacing = b * beat / a
        if total_ticks / spacing < 4:
            continue
        for phase in np.unique(np.mod(onsets, spacing).round(3)):
            lattice = np.round(np.arange(phase, total_ticks, spacing))
            near = np.abs(onsets[:, None] - lattice[None, :]) <= 1.0
            fit = min(near.any(1).mean(), near.any(0).mean())
            if fit > best_fit + 1e-9:
                best, best_fit = f"{a}:{b}", fit
    return best if best_fit >= 0.9 else None


CROSS_WINDOW_BARS = 4  # a long beat is searched for cross-rhythms a few bars at a time


def cross_rhythms(score: DrumScore) -> dict[str, str]:
    """Instrument → the cross-rhythm it plays, for every instrument that plays one: in a beat
    longer than `CROSS_WINDOW_BARS`, one found in at least half of the windows where the
    instrument plays (a cross-rhythm that comes and goes is still named)."""
    per_bar = score.meter.ticks_per_bar
    span = CROSS_WINDOW_BARS * per_bar
    windows = max(1, -(-score.bars // CROSS_WINDOW_BARS))
    lanes: dict[str, list[list[int]]] = {}
    for h in score.hits:
        lanes.setdefault(h.instrument, [[] for _ in range(windows)])[h.tick // span].append(
            h.tick % span
        )
    found = {}
    for inst, parts in lanes.items():
        votes: Counter[str] = Counter()
        played = 0
        for k, ticks in enumerate(parts):
            if len(ticks) < 4:
                continue
            played += 1
            length = min(span, score.total_ticks - k * span)
            spec = detect_cross_rhythm(ticks, length, score.meter)
            if spec is not None:
                votes[spec] += 1
        if votes:
            spec, count = votes.most_common(1)[0]
            if count * 2 >= played:
                found[inst] = spec
    return found


# -- clave ------------------------------------------------------------------------------------

# The five strokes of each clave over its cycle of 16 pulses (two bars of 8ths, or one bar of
# 16ths): son 3-2 is "1, 2&, 4 | 2, 3"; the rumba moves the third stroke a pulse later, the
# bossa nova the last one. The 2-3 claves are the 3-2 ones begun at their second half.
CLAVES = {
    "son 3-2": (0, 3, 6, 10, 12),
    "son 2-3": (2, 4, 8, 11, 14),
    "rumba 3-2": (0, 3, 7, 10, 12),
    "rumba 2-3": (2, 4, 8, 11, 15),
    "bossa 3-2": (0, 3, 6, 10, 13),
    "bossa 2-3": (2, 5, 8, 11, 14),
}


def detect_clave(score: DrumScore) -> tuple[str, str] | None:
    """(clave, instrument) when one instrument plays a clave of `CLAVES` through the score
    (in at least 75 % of its cycles, two bars of 8ths or one of 16ths), else None."""
    if score.meter != Meter(4, 4):
        return None
    lanes: dict[str, set[int]] = {}
    for h in score.hits:
        lanes.setdefault(h.instrument, set()).add(h.tick)
    for pulse, cycle_bars in ((12, 2), (6, 1)):
        span = 16 * pulse
        cycles = score.bars // cycle_bars
        if cycles < 1:
            continue
        for inst, ticks in sorted(lanes.items()):
            for name, strokes in CLAVES.items():
                want = {s * pulse for s in strokes}
                hits = sum(
                    {t - c * span for t in ticks if c * span <= t < (c + 1) * span} == want
                    for c in range(cycles)
                )
                if hits / cycles >= _FULL:
                    return name, inst
    return None
