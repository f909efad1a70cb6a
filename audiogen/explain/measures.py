"""The measures a lesson's examples are checked by, by name, each read off a score (the
example's MIDI as written), and the marks its pictures carry."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from audiogen.analysis import cycles, rhythm, swing
from audiogen.picture import Marks
from audiogen.score import DrumScore

_SWUNG_NOTE = {"swing8": "8ths", "triplet": "8ths", "swing16": "16ths", "straight": "none"}


def _cross(score: DrumScore) -> str:
    found = cycles.cross_rhythms(score)
    return next(iter(found.values())) if found else "none"


def _clave(score: DrumScore) -> str:
    found = cycles.detect_clave(score)
    return found[0] if found else "none"


def _clave_third(score: DrumScore) -> str:
    """Where the clave lane's third stroke on its three side falls, counted ("4" in the son
    clave, "4&" in the rumba): the stroke that tells them apart."""
    found = cycles.detect_clave(score)
    if not found:
        return "none"
    name, lane = found
    per_bar = score.meter.ticks_per_bar
    bar = 0 if "3-2" in name else 1  # the three side of the first cycle
    places = sorted(h.tick % per_bar for h in score.hits
                    if h.instrument == lane and h.tick // per_bar == bar)  # fmt: skip
    return rhythm.syllable(places[2], score.meter) if len(places) >= 3 else "none"


MEASURES: MappingProxyType[str, Callable[[DrumScore], Any]] = MappingProxyType({
    "backbeat": lambda s: round(rhythm.backbeat_share(s), 3),
    "four on the floor": lambda s: round(rhythm.four_on_the_floor_share(s), 3),
    "half-time": lambda s: round(rhythm.half_time_share(s), 3),
    "swing": lambda s: swing.measure_feel(s).swing,
    "feel": lambda s: swing.measure_feel(s).name,
    "swung note": lambda s: _SWUNG_NOTE[swing.measure_feel(s).name],
    "syncopation": lambda s: round(rhythm.mean_syncopation(s), 3),
    "ghost notes per bar": lambda s: round(len(rhythm.ghost_notes(s)) / s.bars, 2),
    "velocity spread": lambda s: round(rhythm.velocity_spread(s), 1),
    "timing spread ms": lambda s: round(rhythm.timing_spread_ms(s), 2),
    "fill and crash into bar 3": lambda s: "yes" if rhythm.fill_into(s, 2) else "no",
    "energy rise": lambda s: round(rhythm.energy_rise(s), 2),
    "cross-rhythm": _cross,
    "clave": _clave,
    "clave third stroke": _clave_third,
    "meter": lambda s: str(s.meter),
})  # fmt: skip


def passes(value: Any, op: str, want: Any, first: Any = None) -> bool:
    """Whether a measured value meets a check (see `audiogen.explain.topics.OPS`)."""
    if op == "==":
        return bool(value == want)
    if op == ">=":
        return bool(value >= want)
    if op == "<=":
        return bool(value <= want)
    if op == "above first":
        return first is not None and bool(value > first)
    raise ValueError(f"unknown check {op!r}")


def marks_for(kind: str, score: DrumScore) -> Marks:
    """What a picture of ``score`` points at for a lesson of ``kind`` (`Topic.marks`)."""
    meter = score.meter
    per_bar = meter.ticks_per_bar
    counts = rhythm.count_marks(meter, swing.measure_feel(score).name)
    hits: set[tuple[int, str]] = set()
    legend: list[str] = []
    lanes: tuple[tuple[str, str], ...] = ()
    if kind == "backbeat":
        places = set(rhythm.backbeat_positions(meter)) | {2 * meter.beat_ticks}
        hits = {(h.tick, h.instrument) for h in score.hits if h.tick % per_bar in places
                and h.instrument in rhythm.BACKBEAT_VOICES
                and h.velocity > rhythm.GHOST_VELOCITY}  # fmt: skip
        legend.append("outlined: snare, clap or rim strokes on the backbeat (2, 4) or on 3")
    elif kind == "kick beats":
        hits = {(h.tick, h.instrument) for h in score.hits
                if h.instrument == "kick" and h.tick % meter.beat_ticks == 0}  # fmt: skip
        legend.append("outlined: kicks on the beat")
    elif kind == "syncopation":
        hits = set(rhythm.syncopations(score))
        legend.append("outlined: syncopated hits (an off-beat with the next stronger place empty)")
    elif kind == "ghosts":
        ghosts = set(rhythm.ghost_notes(score))
        hits = {(h.tick, h.instrument) for h in score.hits
                if h.tick in ghosts and h.instrument == "snare"}  # fmt: skip
        legend.append("outlined: ghost notes (snare at velocity 56 or softer)")
    elif kind == "accents":
        hits = set(rhythm.accents(score))
        legend.append("outlined: accents (20 or more louder than the instrument's usual)")
    elif kind == "cross":
        lanes = tuple(sorted(cycles.cross_rhythms(score).items()))
        legend.append("banded: a lane playing a cross-rhythm" if lanes else "no cross-rhythm")
    elif kind == "clave":
        found = cycles.detect_clave(score)
        if found:
            lanes = ((found[1], found[0]),)
        legend.append(f"banded: the {found[0]} clave" if found else "no clave found")
    elif kind == "fills":
        fills, crashes = set(rhythm.fill_bars(score)), set(rhythm.crash_bars(score))
        hits = {(h.tick, h.instrument) for h in score.hits
                if (h.tick // per_bar in fills and h.tick % per_bar >= per_bar // 2)
                or (h.tick // per_bar in crashes and h.tick % per_bar == 0
                    and h.instrument in ("crash", "splash", "china"))}  # fmt: skip
        legend.append("outlined: fills (a bar's second half leaving the groove) and crashes")
    elif kind == "sections":
        legend.append("hits per quarter, bar by bar: "
                      + " ".join(f"{d:.1f}" for d in rhythm.densities(score)))  # fmt: skip
    elif kind == "beats":
        hits = {(h.tick, h.instrument) for h in score.hits if h.tick % meter.beat_ticks == 0}
        legend.append(f"outlined: hits on the felt beats ({rhythm.beats_per_bar(meter)} a bar)")
    elif kind == "timing":
        legend.append(f"blocks drawn where they sound: {rhythm.timing_spread_ms(score):.1f} ms "
                      "from the grid on average")  # fmt: skip
    straight = kind in ("swing", "timing")
    if kind == "swing":
        feel = swing.measure_feel(score)
        legend.append(f"ticks under the lanes: the straight 8ths and 16ths; measured {feel.name}, "
                      f"swing ratio {feel.swing:.2f}")  # fmt: skip
        ms_per_tick = score.seconds_per_tick * 1000
        hits = set()
        for h in score.hits:
            performed = h.tick + h.offset_ms / ms_per_tick
            if abs(performed - 6 * round(performed / 6)) > 0.5:  # off the straight 16ths
                hits.add((h.tick, h.instrument))
        if hits:
            legend.append("outlined: swung notes, drawn late at their offsets")
    return Marks(frozenset(hits), lanes, tuple(legend), straight, counts)
