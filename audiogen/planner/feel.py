"""Feel fitting and quantisation: how a performance (a Groove take, an input MIDI) becomes a
`Phrase` of quantised bars, its feel and swing measured from where its hits fall in the beat.

Quantisation. A performance is first given a feel, measured from where its hits fall inside the
beat (`estimate_feel`): its hits are compared with the beat positions each candidate feel
predicts — straight 16ths; 16ths with the off-beat 8th delayed (swing8, ratio s; the "e" and "a"
either delayed with it or left even) or every other 16th delayed (swing16); the 8th-triplet grid
(also where swing8 fits past 0.615) — after removing the drummer's overall push or drag.
Then every hit goes to the grid point whose predicted (swung) place is nearest:

- straight, swing8, swing16: the 16th grid (positions that are multiples of 6 ticks); swing stays
  in the hit's ``offset_ms`` (performed time minus the straight grid time), so a swung "and"
  carries a positive offset.
- triplet: the 8th-triplet grid (multiples of 8).
- Where two hits of one instrument would land on one grid point (a roll, a ruff, a 32nd or
  16th-triplet fill), each goes to its nearest 32nd or 16th-triplet position instead (multiples
  of 3 or 4); only hits that still share a position are merged, keeping the louder. So every
  position is a multiple of 3 or of 4 (`FINE_GRIDS`), and nearly all lie on the phrase's main
  grid (`grid_ticks`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from audiogen.errors import ScoreError
from audiogen.planner.bars import Bar, BarHit, Phrase, sorted_bar
from audiogen.score import FEELS, TICKS_PER_QUARTER, DrumScore, Meter

FINE_GRIDS = (3, 4)  # 32nds and 16th-triplets: where rolls and fast fills may sit
_BEAT = TICKS_PER_QUARTER


def grid_ticks(feel: str) -> int:
    """The main quantisation grid of a feel, in ticks: 8 (8th triplets) or 6 (16ths)."""
    return 8 if feel == "triplet" else 6


_SWUNG_STYLE = re.compile(r"^jazz(/(swing|fast|mediumfast))?$|blues|shuffle|bembe")
_S8 = np.round(np.arange(0.52, 0.755, 0.01), 3)  # swing8 ratios tried
_TRIPLET_FROM = 0.615  # swing8 swung harder than this is played, and quantised, as triplets
_S16 = np.round(np.arange(0.52, 0.665, 0.01), 3)  # swing16 ratios tried
_CAP = 2.0  # ticks: a hit further than this from every predicted place counts as this far
_GOOD_FIT = 1.5  # mean capped squared distance (ticks²) of a model that explains the hits
_MIN_EVIDENCE = 3  # off-beat hits needed before the data may overrule the style name
_TYPICAL_SWING = MappingProxyType(
    {"straight": 0.5, "swing8": 0.6, "swing16": 0.56, "triplet": 0.667}
)


def _model(feel: str, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Where a feel predicts the grid points of one beat (ticks), and the grid points."""
    if feel == "triplet":
        grid = np.array([0.0, 8.0, 16.0, 24.0])
        return grid, grid
    grid = np.array([0.0, 6.0, 12.0, 18.0, 24.0])
    if feel == "swing8":
        # The "&" late; the "e" and "a" either swung with it or played straight (a swing8 beat
        # with 16ths on the hats or ghost notes between keeps them even, `swing_offset_ms`).
        places = np.array([0.0, 12 * s, 6.0, 24 * s, 24 * s + 12 * (1 - s), 18.0, 24.0])
        return places, np.array([0.0, 6.0, 6.0, 12.0, 18.0, 18.0, 24.0])
    if feel == "swing16":
        return np.array([0.0, 12 * s, 12.0, 12.0 + 12 * s, 24.0]), grid
    return grid, grid


def _costs(phase: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Mean capped squared distance (ticks²) from each hit to its nearest predicted place, for
    each row of ``predicted`` (models × places)."""
    d = np.min(np.abs(phase[None, :, None] - predicted[:, None, :]), axis=2)
    return np.mean(np.minimum(d, _CAP) ** 2, axis=1)


def _candidates() -> tuple[list[tuple[str, float]], np.ndarray]:
    """The models `fit_feel` tries: straight first, then triplet, swing8 and swing16 ratios."""
    models = [("straight", 0.5), ("triplet", 2 / 3)]
    models += [("swing8", float(s)) for s in _S8] + [("swing16", float(s)) for s in _S16]
    rows = [_model(f, s)[0] for f, s in models]
    width = max(len(r) for r in rows)
    table = np.array([np.pad(r, (0, width - len(r)), mode="edge") for r in rows])
    return models, table


_MODELS = _candidates()


def fit_feel(performed: np.ndarray, meter: Meter, style: str = "") -> tuple[str, float, float]:
    """(feel, swing, shift in ticks) of performed positions (ticks, float)."""
    if meter.denominator != 4 or len(performed) == 0:
        return "straight", 0.5, 0.0  # compound and odd meters: 16th grid, no swing model
    phase = np.mod(performed, _BEAT)
    near = np.where(phase >= _BEAT / 2, phase - _BEAT, phase)
    on_beat = near[np.abs(near) < 2.0]
    shift = float(np.median(on_beat)) if len(on_beat) >= 4 else 0.0
    phase = np.mod(performed - shift, _BEAT)
    swung_style = bool(_SWUNG_STYLE.search(style))
    off_beat = phase[(phase > 3) & (phase < _BEAT - 3)]
    if len(off_beat) < _MIN_EVIDENCE:  # quarter notes say nothing of swing: trust the name
        if swung_style:
            return (
                ("swing8", 0.62, shift) if style.startswith("jazz") else ("triplet", 0.667, shift)
            )
        return "straight", 0.5, shift

    models, table = _MODELS
    costs = _costs(phase, table)
    straight = float(costs[0])
    best = 1 + int(np.argmin(costs[1:]))
    cost, (feel, s) = float(costs[best]), models[best]
    margin = 0.95 if swung_style else 0.8  # a swung style name is a prior, not the verdict
    # A swung verdict needs a clear gain over straight and, unless the style name says swing, a
    # decent fit of its own: 32nd rolls and loose fills fit no model, and a better-but-poor fit
    # is noise, not swing.
    good = cost < _GOOD_FIT or swung_style
    if not (cost < margin * straight and straight - cost > 0.05 and good):
        return "straight", 0.5, shift
    # Refine the ratio from the hits that sit on the swung note.
    if feel in ("swing8", "triplet"):
        lo, hi = (10.0, 20.0) if feel == "triplet" else (12 * s + 3, 24 * s + 3)
        sel = phase[(phase > lo) & (phase < hi)]
        s = float(np.median(sel)) / _BEAT if len(sel) else s
        if s > _TRIPLET_FROM:  # swung so hard that the 8th-triplet grid is the truth
            feel = "triplet"
    else:
        half = np.mod(phase, _BEAT / 2)
        sel = half[(half > 4.0) & (half < 9.0)]
        s = float(np.median(sel)) / (_BEAT / 2) if len(sel) else s
    if s < 0.515:  # the swung hits themselves sit straight
        return "straight", 0.5, shift
    return feel, round(float(min(s, 0.75)), 3), shift


def quantise(
    performed: np.ndarray,
    instruments: Sequence[str],
    velocities: Sequence[int],
    meter: Meter,
    bpm: float,
    feel: str,
    swing: float,
    bars: int = 1,
) -> tuple[Bar, ...]:
    """Bars of `BarHit`s: each hit at its nearest predicted grid point (see the module doc).

    The drummer's overall push or drag (the shift `fit_feel` measures) is not taken out here:
    it belongs to the performance, and a hit goes to the grid point it is nearest in time.
    """
    ms_per_tick = 60_000.0 / (bpm * _BEAT)
    predicted, grid = _model(feel, swing)
    beat = np.floor(performed / _BEAT)
    phase = performed - beat * _BEAT
    nearest = np.argmin(np.abs(phase[:, None] - predicted[None, :]), axis=1)
    ticks = (beat * _BEAT + grid[nearest]).astype(np.int64)
    ticks = np.maximum(ticks, 0)

    slots: dict[tuple[int, str], list[int]] = {}
    for i, (t, inst) in enumerate(zip(ticks.tolist(), instruments)):
        slots.setdefault((t, inst), []).append(i)
    chosen: dict[tuple[int, str], int] = {}
    crowded = []
    for key, idx in slots.items():
        if len(idx) == 1:
            chosen[key] = idx[0]
        else:
            crowded.append(idx)
    for idx in crowded:  # rolls and ruffs: each hit to its nearest 32nd or 16th-triplet
        for i in sorted(idx, key=lambda j: -velocities[j]):
            q = performed[i]
            fine = min((round(q / g) * g for g in FINE_GRIDS), key=lambda x: abs(x - q))
            key = (max(0, int(fine)), instruments[i])
            if key not in chosen:
                chosen[key] = i
            elif velocities[i] > velocities[chosen[key]]:
                chosen[key] = i

    per_bar = meter.ticks_per_bar
    n_bars = max([bars] + [t // per_bar + 1 for t, _ in chosen])
    out: list[list[BarHit]] = [[] for _ in range(n_bars)]
    keys = list(chosen)
    index = np.array([chosen[k] for k in keys], dtype=np.int64)
    at = np.array([t for t, _ in keys], dtype=np.float64)
    offsets = np.round((performed[index] - at) * ms_per_tick, 2).tolist()
    for (t, inst), i, offset in zip(keys, index.tolist(), offsets):
        out[t // per_bar].append(BarHit(t % per_bar, inst, int(velocities[i]), offset))
    return tuple(sorted_bar(b) for b in out)


def _performed_ticks(score: DrumScore) -> np.ndarray:
    ms_per_tick = 1000.0 * score.seconds_per_tick
    return np.array([h.tick + h.offset_ms / ms_per_tick for h in score.hits], dtype=np.float64)


def estimate_feel(score: DrumScore, style: str = "") -> tuple[str, float]:
    """The feel ("straight", "swing8", "swing16", "triplet") and swing ratio of a performance,
    measured from where its hits fall inside the beat; ``style`` (e.g. "jazz/swing") tips close
    calls toward swing and decides when the hits say too little."""
    feel, swing, _ = fit_feel(_performed_ticks(score), score.meter, style)
    return feel, swing


def phrase_from_score(
    score: DrumScore,
    *,
    source: str | None = None,
    split: str = "train",
    genre: str | None = None,
    style: str = "",
    kind: str = "beat",
    feel: str | None = None,
    swing: float | None = None,
) -> Phrase:
    """A performed (or quantised) score as a quantised `Phrase`; the feel is measured unless
    given. This is how an input MIDI becomes the core of a variation."""
    performed = _performed_ticks(score)
    measured, measured_swing, _ = fit_feel(performed, score.meter, style)
    if feel is None:
        feel = measured
    elif feel not in FEELS:
        raise ScoreError(f"unknown feel {feel!r}: use {', '.join(FEELS)}")
    if feel == "straight":
        swing = 0.5
    elif swing is None:
        swing = measured_swing if feel == measured else _TYPICAL_SWING[feel]
    swing = float(swing)
    bars = quantise(
        performed,
        [h.instrument for h in score.hits],
        [h.velocity for h in score.hits],
        score.meter, score.bpm, feel, swing, score.bars,
    )  # fmt: skip
    return Phrase(
        source=source or score.provenance.source, split=split, genre=genre, style=style,
        bpm=float(score.bpm), meter=score.meter, feel=feel, swing=swing, kind=kind, bars=bars,
    )  # fmt: skip
