"""Training material for the planner (and later the humanizer): Groove MIDI performances and the
project's style library as `Phrase`s of quantised bars, plus the bar measures the planner's
controls are steered by (`density`, `syncopation_index`).

Quantisation. A performance is first given a feel, measured from where its hits fall inside the
beat (`estimate_feel`): its hits are compared with the beat positions each candidate feel
predicts — straight 16ths; 16ths with the off-beat 8th delayed (swing8, ratio s) or every other
16th delayed (swing16); the 8th-triplet grid — after removing the drummer's overall push or drag.
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

Style library. ``audiogen/planner/styles/<genre>.toml`` holds the project's own patterns, written
from music knowledge (no transcriptions). Each ``[[patterns]]`` entry has ``name``, ``kind``
("beat" or "fill"), ``meter``, ``feel``, optional ``swing``, ``bpm = [low, high]``, ``energy`` 0-1,
``steps_per_bar`` and ``[patterns.lanes]``: one step string per instrument class, one bar after
another separated by ``|``. A step is ``X`` accent (118), ``x`` normal (96), ``o`` soft (72),
``g`` ghost (40) or ``.`` rest; spaces are ignored. A bar may start with ``N:`` to use N steps
instead of ``steps_per_bar`` (a 32-step trap hat roll, a 24-step triplet roll); N must divide the
bar's ticks. A lane with fewer bars than the pattern repeats (its bar count must divide it).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
import tomllib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from audiogen.errors import ScoreError
from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.planner.genres import FEELS, GENRES, groove_genre
from audiogen.score import TICKS_PER_QUARTER, DrumScore, Hit, Meter, Provenance, Section

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
STYLES_DIR = Path(__file__).with_name("styles")
VELOCITY_OF_STEP = MappingProxyType({"X": 118, "x": 96, "o": 72, "g": 40})
FINE_GRIDS = (3, 4)  # 32nds and 16th-triplets: where rolls and fast fills may sit
_BEAT = TICKS_PER_QUARTER
_CACHE_VERSION = 1
FOUR_FOUR = Meter(4, 4)


@dataclass(frozen=True, slots=True)
class BarHit:
    """One hit of a bar: grid position in ticks from the bar start (24 per quarter), instrument
    class, velocity as played, and the performed deviation from the grid (0 for the library)."""

    position: int
    instrument: str
    velocity: int
    offset_ms: float = 0.0


Bar = tuple[BarHit, ...]


@dataclass(frozen=True)
class Phrase:
    """Consecutive bars of one performance (Groove) or one style-library pattern."""

    source: str  # "groove:drummer1/eval_session/1" or "library:trap/main"
    split: str  # "train" | "validation" | "test" (library patterns: "train")
    genre: str | None  # canonical genre id (None: a style with no genre)
    style: str  # the original style string ("funk/groove1", "trap/main")
    bpm: float
    meter: Meter
    feel: str  # straight | swing8 | swing16 | triplet
    swing: float  # 0.5 straight ... ~0.75; measured for Groove
    kind: str  # "beat" | "fill"
    bars: tuple[Bar, ...]  # hits of each bar sorted by (position, instrument)


def grid_ticks(feel: str) -> int:
    """The main quantisation grid of a feel, in ticks: 8 (8th triplets) or 6 (16ths)."""
    return 8 if feel == "triplet" else 6


# -- bar measures -----------------------------------------------------------------------------


def density(bar: Iterable[BarHit], meter: Meter = FOUR_FOUR) -> float:
    """Hits per quarter note (a 4/4 bar of 8th hats, kick and snare on the beats: 3.0)."""
    return sum(1 for _ in bar) / (meter.ticks_per_bar / _BEAT)


def bar_fingerprint(bar: Iterable[BarHit], meter: Meter = FOUR_FOUR) -> int:
    """A stable 63-bit name for a bar's onsets (which instruments play where, velocities aside):
    two bars share it when they are the same pattern. The planner checks its bars against the
    fingerprints of its training bars so that it does not hand back a copy."""
    onsets = sorted({(h.position, h.instrument) for h in bar})
    text = f"{meter.ticks_per_bar};" + ",".join(f"{p}:{i}" for p, i in onsets)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


# Syncopation weights per stem group: the backbone and backbeat count fully; hats, cymbals,
# toms and percussion, whose off-beat figures are texture more than displacement, count half.
SYNC_GROUP_WEIGHTS = MappingProxyType(
    {"kick": 1.0, "snare": 1.0, "hats": 0.5, "cymbals": 0.5, "toms": 0.5, "perc": 0.5}
)
# Strength per quarter note that reads as 1.0. On the Groove MIDI Dataset's beat bars the median
# is 1.6 and 99 % lie below 4.7; a kick that anticipates every beat by a 16th scores 2.75.
SYNC_FULL_SCALE = 4.5


def syncopation_index(bar: Iterable[BarHit], meter: Meter = FOUR_FOUR) -> float:
    """How syncopated a bar is, 0 (every onset on, or resolved by, a stronger beat) to 1.

    A Longuet-Higgins & Lee measure over the metrical tree of ``meter`` (bar, half bar, beat,
    8th or 8th-triplet, 16th or 16th-triplet, 32nd), computed per stem group: an onset at a weak
    position whose next stronger position (looping the bar) has no onset of the same group is a
    syncopation worth the difference of their levels (an "a" before an empty beat 3 in 4/4: 3).
    Each is weighted by its group (`SYNC_GROUP_WEIGHTS`) and by how loud it is, up to a normal
    stroke (``min(1, velocity / 100)``: a ghost note counts about 0.4). The sum per quarter note
    is divided by `SYNC_FULL_SCALE` and capped at 1.

    Adding an onset whose next stronger position is empty, or playing a syncopated onset louder,
    never lowers the index; filling that stronger position does.
    """
    return min(1.0, syncopation_strength(bar, meter) / SYNC_FULL_SCALE)


def syncopation_strength(bar: Iterable[BarHit], meter: Meter = FOUR_FOUR) -> float:
    """The uncapped measure behind `syncopation_index`, per quarter note."""
    levels = _metric_levels(meter)
    ticks = meter.ticks_per_bar
    lanes: dict[str, dict[int, int]] = {}
    for hit in bar:
        lane = lanes.setdefault(GROUP_OF[hit.instrument], {})
        p = hit.position % ticks
        lane[p] = max(lane.get(p, 0), hit.velocity)
    total = 0.0
    for group, onsets in lanes.items():
        weight = SYNC_GROUP_WEIGHTS.get(group, 0.5)
        for p, velocity in onsets.items():
            level = levels[p]
            if level == 0:
                continue
            r = _next_stronger(levels, p)
            if r not in onsets:
                total += weight * min(1.0, velocity / 100) * (level - levels[r])
    return total / (ticks / _BEAT)


@lru_cache(maxsize=32)
def _metric_levels(meter: Meter) -> tuple[int, ...]:
    """Metrical level of every tick of a bar: 0 the downbeat, larger is weaker."""
    ticks, n, d = meter.ticks_per_bar, meter.numerator, meter.denominator
    unit = 4 * _BEAT // d  # one 1/d note
    tiers: list[tuple[int, ...]] = [(ticks,)]
    if d == 8 and n % 3 == 0 and n > 3:  # compound meter: dotted-quarter beats, then 8ths
        if n // 3 >= 4 and n // 3 % 2 == 0:
            tiers.append((ticks // 2,))
        tiers += [(3 * unit,), (unit,)]
    else:
        if n >= 4 and n % 2 == 0:
            tiers.append((ticks // 2,))
        tiers.append((unit,))
    while unit > 3:  # halves and thirds of each level, down to 32nds and 16th-triplets
        tiers.append(tuple(u for u in (unit // 2, unit // 3) if u >= 3 and unit % u == 0))
        unit //= 2
    return tuple(
        next((i for i, tier in enumerate(tiers) if any(p % u == 0 for u in tier)), len(tiers))
        for p in range(ticks)
    )


def _next_stronger(levels: Sequence[int], p: int) -> int:
    """The next position after ``p`` (looping) on the same lattice (32nds, or 16th-triplets,
    or single ticks) with a stronger metrical level."""
    step = 3 if p % 3 == 0 else 4 if p % 4 == 0 else 1
    n = len(levels)
    r = p + step
    while levels[r % n] >= levels[p]:
        r += step
    return r % n


# -- feel and quantisation ----------------------------------------------------------------------

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
        return np.array([0.0, 12 * s, 24 * s, 24 * s + 12 * (1 - s), 24.0]), grid
    if feel == "swing16":
        return np.array([0.0, 12 * s, 12.0, 12.0 + 12 * s, 24.0]), grid
    return grid, grid


def _costs(phase: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Mean capped squared distance (ticks²) from each hit to its nearest predicted place, for
    each row of ``predicted`` (models × places)."""
    d = np.min(np.abs(phase[None, :, None] - predicted[:, None, :]), axis=2)
    return np.mean(np.minimum(d, _CAP) ** 2, axis=1)


def _candidates() -> tuple[list[tuple[str, float]], np.ndarray]:
    """The models `_fit_feel` tries: straight first, then triplet, swing8 and swing16 ratios."""
    models = [("straight", 0.5), ("triplet", 2 / 3)]
    models += [("swing8", float(s)) for s in _S8] + [("swing16", float(s)) for s in _S16]
    rows = [_model(f, s)[0] for f, s in models]
    width = max(len(r) for r in rows)
    table = np.array([np.pad(r, (0, width - len(r)), mode="edge") for r in rows])
    return models, table


_MODELS = _candidates()


def _fit_feel(performed: np.ndarray, meter: Meter, style: str = "") -> tuple[str, float, float]:
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


def _quantise(
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

    The drummer's overall push or drag (the shift `_fit_feel` measures) is not taken out here:
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
    return tuple(tuple(sorted(b, key=lambda h: (h.position, h.instrument))) for b in out)


def _performed_ticks(score: DrumScore) -> np.ndarray:
    ms_per_tick = 1000.0 * score.seconds_per_tick
    return np.array([h.tick + h.offset_ms / ms_per_tick for h in score.hits], dtype=np.float64)


def estimate_feel(score: DrumScore, style: str = "") -> tuple[str, float]:
    """The feel ("straight", "swing8", "swing16", "triplet") and swing ratio of a performance,
    measured from where its hits fall inside the beat; ``style`` (e.g. "jazz/swing") tips close
    calls toward swing and decides when the hits say too little."""
    feel, swing, _ = _fit_feel(_performed_ticks(score), score.meter, style)
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
    measured, measured_swing, _ = _fit_feel(performed, score.meter, style)
    if feel is None:
        feel = measured
    elif feel not in FEELS:
        raise ScoreError(f"unknown feel {feel!r}: use {', '.join(FEELS)}")
    if feel == "straight":
        swing = 0.5
    elif swing is None:
        swing = measured_swing if feel == measured else _TYPICAL_SWING[feel]
    swing = float(swing)
    bars = _quantise(
        performed,
        [h.instrument for h in score.hits],
        [h.velocity for h in score.hits],
        score.meter, score.bpm, feel, swing, score.bars,
    )  # fmt: skip
    return Phrase(
        source=source or score.provenance.source, split=split, genre=genre, style=style,
        bpm=float(score.bpm), meter=score.meter, feel=feel, swing=swing, kind=kind, bars=bars,
    )  # fmt: skip


def phrase_to_score(phrase: Phrase) -> DrumScore:
    """The phrase as a `DrumScore` (one "groove" or "fill" section; offsets kept, clamped to
    the score's ±250 ms)."""
    per_bar = phrase.meter.ticks_per_bar
    hits = tuple(
        Hit(i * per_bar + h.position, h.instrument, h.velocity,
            max(-250.0, min(250.0, h.offset_ms)))
        for i, bar in enumerate(phrase.bars)
        for h in bar
    )  # fmt: skip
    bars = max(1, len(phrase.bars))
    section = "fill" if phrase.kind == "fill" else "groove"
    return DrumScore(
        bpm=float(phrase.bpm),
        meter=phrase.meter,
        bars=bars,
        hits=hits,
        sections=(Section(section, 0, bars, _energy_of(phrase)),),
        provenance=Provenance(
            source=phrase.source, genre=phrase.genre, feel=phrase.feel, swing=phrase.swing
        ),
    )


def _energy_of(phrase: Phrase) -> float:
    """A rough 0-1 energy for a section marker: density and loudness of the phrase."""
    hits = [h for bar in phrase.bars for h in bar]
    if not hits:
        return 0.0
    quarters = len(phrase.bars) * phrase.meter.ticks_per_bar / _BEAT
    loud = sum(h.velocity for h in hits) / len(hits) / 127
    return round(min(1.0, len(hits) / quarters / 8 * (0.5 + loud)), 3)


# -- Groove MIDI Dataset ------------------------------------------------------------------------


def load_groove(
    root: Path | str, splits: Sequence[str] = SPLITS, *, cache: bool = True
) -> list[Phrase]:
    """Every performance of the Groove MIDI Dataset in ``splits`` as one quantised `Phrase`.

    For training and benchmarks only: the product never reads the dataset. The slow part (MIDI
    parsing) is cached in ``~/.cache/audiogen/`` (or ``$XDG_CACHE_HOME/audiogen``) under the hash
    of the dataset's MANIFEST.sha256 and info.csv; feel estimation and quantisation run each time.

    Args:
        root: the dataset folder (the Groove MIDI Dataset; training and benchmarks pass it in).
        splits: which of "train", "validation", "test" to return.
        cache: read and write the parse cache.

    Returns:
        Phrases in info.csv order; ``source`` is "groove:<id>", ``style`` the full style string.
    """
    root = Path(root)
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split {sorted(unknown)[0]!r}: use {', '.join(SPLITS)}")
    rows = _groove_rows(root)
    performances = _groove_performances(root, rows, cache)
    phrases = []
    for row, perf in zip(rows, performances):
        if row["split"] not in splits:
            continue
        bpm, meter, bars, ticks, offsets, instruments, velocities = perf
        ms_per_tick = 60_000.0 / (bpm * _BEAT)
        performed = ticks + offsets / ms_per_tick
        genre = groove_genre(row["style"])
        feel, swing, _ = _fit_feel(performed, meter, row["style"])
        phrases.append(
            Phrase(
                source=f"groove:{row['id']}",
                split=row["split"],
                genre=genre,
                style=row["style"],
                bpm=bpm,
                meter=meter,
                feel=feel,
                swing=swing,
                kind=row["beat_type"],
                bars=_quantise(performed, instruments, velocities, meter, bpm, feel, swing, bars),
            )
        )
    return phrases


def _groove_rows(root: Path) -> list[dict[str, str]]:
    info = root / "info.csv"
    if not info.is_file():
        raise FileNotFoundError(f"{info}: not the Groove MIDI Dataset (no info.csv)")
    with info.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


_Performance = tuple[float, Meter, int, np.ndarray, np.ndarray, list[str], list[int]]


def _read_performance(path: str) -> tuple:
    """One file through `read_midi` (TD-11 map), as compact arrays (runs in worker processes)."""
    from audiogen.midi import read_midi

    score = read_midi(path, note_map="td11")
    code = {name: i for i, name in enumerate(INSTRUMENTS)}
    return (
        score.bpm,
        (score.meter.numerator, score.meter.denominator),
        score.bars,
        np.array([h.tick for h in score.hits], dtype=np.int32),
        np.array([h.offset_ms for h in score.hits], dtype=np.float32),
        np.array([code[h.instrument] for h in score.hits], dtype=np.int8),
        np.array([h.velocity for h in score.hits], dtype=np.uint8),
    )


def _cache_path(root: Path) -> Path | None:
    manifest = root / "MANIFEST.sha256"
    if not manifest.is_file():
        return None
    digest = hashlib.sha256(manifest.read_bytes() + (root / "info.csv").read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audiogen"
    return base / f"groove-{digest.hexdigest()[:16]}-v{_CACHE_VERSION}.npz"


def _groove_performances(root: Path, rows: list[dict[str, str]], cache: bool) -> list[_Performance]:
    names = [row["midi_filename"] for row in rows]
    path = _cache_path(root) if cache else None
    if path is not None and path.is_file():
        try:
            return _unpack(np.load(path, allow_pickle=False), names)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the Groove cache %s (%s); parsing again", path, exc)
    parsed = _parse_all([str(root / n) for n in names])
    arrays = _pack(parsed, names)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
            np.savez_compressed(tmp, **arrays)
            tmp.replace(path)
        except OSError as exc:
            log.warning("cannot write the Groove cache %s: %s", path, exc)
    return _unpack(arrays, names)


def _parse_all(paths: list[str]) -> list[tuple]:
    from concurrent.futures import ProcessPoolExecutor

    from audiogen.progress import steps

    workers = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))  # fmt: skip
    log.info("parsing %d Groove MIDI files with %d processes (cached afterwards)", len(paths),
             workers)  # fmt: skip
    out = []
    with steps(len(paths), "reading Groove MIDI") as progress:
        if workers == 1:
            for p in paths:
                out.append(_read_performance(p))
                progress.advance("reading Groove MIDI")
        else:
            with ProcessPoolExecutor(workers) as pool:
                for item in pool.map(_read_performance, paths, chunksize=16):
                    out.append(item)
                    progress.advance("reading Groove MIDI")
    return out


def _pack(parsed: list[tuple], names: list[str]) -> dict[str, np.ndarray]:
    counts = [len(p[3]) for p in parsed]
    return {
        "names": np.array([json.dumps(names)]),
        "instruments": np.array([json.dumps(INSTRUMENTS)]),
        "start": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "bpm": np.array([p[0] for p in parsed], dtype=np.float64),
        "meter": np.array([p[1] for p in parsed], dtype=np.int16).reshape(-1, 2),
        "bars": np.array([p[2] for p in parsed], dtype=np.int32),
        "tick": np.concatenate([p[3] for p in parsed]),
        "offset_ms": np.concatenate([p[4] for p in parsed]),
        "instrument": np.concatenate([p[5] for p in parsed]),
        "velocity": np.concatenate([p[6] for p in parsed]),
    }


def _unpack(data, names: list[str]) -> list[_Performance]:
    if json.loads(str(data["names"][0])) != names:
        raise ValueError("the cache lists other files than info.csv")
    classes = json.loads(str(data["instruments"][0]))
    start, bpm, meter, bars = data["start"], data["bpm"], data["meter"], data["bars"]
    tick = data["tick"].astype(np.float64)
    offset = data["offset_ms"].astype(np.float64)
    instrument = data["instrument"]
    velocity = data["velocity"].astype(np.int64)
    out = []
    for i in range(len(names)):
        a, b = int(start[i]), int(start[i + 1])
        out.append((
            float(bpm[i]), Meter(int(meter[i, 0]), int(meter[i, 1])), int(bars[i]),
            tick[a:b], offset[a:b], [classes[k] for k in instrument[a:b].tolist()],
            velocity[a:b].tolist(),
        ))  # fmt: skip
    return out


# -- style library ------------------------------------------------------------------------------

_STEP = re.compile(r"^(?:(\d+):)?([Xxog.]*)$")


def library_files() -> tuple[Path, ...]:
    """The style library's TOML files, one per genre."""
    return tuple(sorted(STYLES_DIR.glob("*.toml")))


def load_library(seed: int = 0, variants: int = 0) -> list[Phrase]:
    """The style library as phrases (split "train"), plus ``variants`` musically plausible
    variations of each pattern (`vary_phrase`), deterministic under ``seed``."""
    phrases = []
    for path in library_files():
        for phrase in _read_style_file(path):
            phrases.append(phrase)
            for i in range(variants):
                phrases.append(vary_phrase(phrase, seed=seed, index=i + 1))
    return phrases


@lru_cache(maxsize=64)
def _read_style_file(path: Path) -> tuple[Phrase, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScoreError(f"{path.name}: not valid TOML ({exc})") from None
    genre = data.get("genre")
    if genre not in GENRES:
        raise ScoreError(f"{path.name}: genre {genre!r} is not one of {', '.join(GENRES)}")
    patterns = data.get("patterns") or []
    if not patterns:
        raise ScoreError(f"{path.name}: no [[patterns]]")
    out = [_parse_pattern(genre, p, f"{path.name}, pattern {p.get('name', '?')!r}")
           for p in patterns]  # fmt: skip
    names = [p.style for p in out]
    if len(set(names)) != len(names):
        raise ScoreError(f"{path.name}: two patterns share a name")
    return tuple(out)


def _parse_pattern(genre: str, p: dict, where: str) -> Phrase:
    def fail(message: str) -> ScoreError:
        return ScoreError(f"{where}: {message}")

    name = p.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise fail("needs a lowercase name")
    kind = p.get("kind")
    if kind not in ("beat", "fill"):
        raise fail("kind must be beat or fill")
    meter = Meter.parse(str(p.get("meter", "4/4")))
    feel = p.get("feel", "straight")
    if feel not in FEELS:
        raise fail(f"feel {feel!r}: use {', '.join(FEELS)}")
    g = GENRES[genre]
    default_swing = 2 / 3 if feel == "triplet" else g.default_swing if feel != "straight" else 0.5
    swing = float(p.get("swing", default_swing))
    if not 0.5 <= swing <= 0.75:
        raise fail(f"swing {swing}: use 0.5-0.75")
    bpm_range = p.get("bpm", list(g.bpm_range))
    if not (isinstance(bpm_range, list) and len(bpm_range) == 2 and
            40 <= bpm_range[0] <= bpm_range[1] <= 300):  # fmt: skip
        raise fail("bpm must be [low, high] within 40-300")
    energy = float(p.get("energy", 0.5))
    if not 0.0 <= energy <= 1.0:
        raise fail("energy must be 0-1")
    steps = int(p.get("steps_per_bar", 16))
    per_bar = meter.ticks_per_bar
    if per_bar % steps:
        raise fail(f"{steps} steps do not divide a {meter} bar ({per_bar} ticks)")
    lanes = p.get("lanes") or {}
    if not lanes:
        raise fail("no lanes")

    parsed: dict[str, list[list[tuple[int, int]]]] = {}
    for instrument, text in lanes.items():
        if instrument not in GROUP_OF:
            raise fail(f"unknown instrument {instrument!r}; known: {', '.join(INSTRUMENTS)}")
        if not isinstance(text, str):
            raise fail(f"lane {instrument} must be a string")
        lane_bars = []
        for k, raw in enumerate(text.replace(" ", "").split("|")):
            m = _STEP.match(raw)
            if not m:
                raise fail(f"lane {instrument}, bar {k + 1}: use only X x o g . (and N: first)")
            n = int(m.group(1) or steps)
            cells = m.group(2)
            if n == 0 or per_bar % n:
                raise fail(f"lane {instrument}, bar {k + 1}: {n} steps do not divide the bar")
            if len(cells) != n:
                raise fail(f"lane {instrument}, bar {k + 1}: {len(cells)} steps, expected {n}")
            lane_bars.append(
                [(i * per_bar // n, VELOCITY_OF_STEP[c]) for i, c in enumerate(cells) if c != "."]
            )
        parsed[instrument] = lane_bars
    n_bars = max(len(b) for b in parsed.values())
    bars: list[list[BarHit]] = [[] for _ in range(n_bars)]
    for instrument, lane_bars in parsed.items():
        if n_bars % len(lane_bars):
            raise fail(f"lane {instrument} has {len(lane_bars)} bars; the pattern has {n_bars}")
        for b in range(n_bars):
            for position, velocity in lane_bars[b % len(lane_bars)]:
                bars[b].append(BarHit(position, instrument, velocity))
    low, high = float(bpm_range[0]), float(bpm_range[1])
    bpm = g.default_bpm if low <= g.default_bpm <= high else round((low + high) / 2)
    return Phrase(
        source=f"library:{genre}/{name}", split="train", genre=genre, style=f"{genre}/{name}",
        bpm=float(bpm), meter=meter, feel=feel, swing=round(swing, 3), kind=kind,
        bars=tuple(_sorted_bar(b) for b in bars),
    )  # fmt: skip


@lru_cache(maxsize=1)
def _library_tempi() -> dict[str, tuple[float, float]]:
    """Library source → the tempo range its pattern was written for."""
    out = {}
    for path in library_files():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        genre = GENRES[data["genre"]]
        for p in data["patterns"]:
            low, high = p.get("bpm", list(genre.bpm_range))
            out[f"library:{data['genre']}/{p['name']}"] = (float(low), float(high))
    return out


def _sorted_bar(hits: Iterable[BarHit]) -> Bar:
    return tuple(sorted(hits, key=lambda h: (h.position, h.instrument)))


# -- variations ---------------------------------------------------------------------------------


def vary_phrase(phrase: Phrase, seed: int = 0, index: int = 1) -> Phrase:
    """A musically plausible variation of a (library) phrase, the same for the same seed and index.

    Applies one to three of: add or drop snare ghost notes; hats 8ths ↔ 16ths (trap: a 32nd or
    triplet roll); move a kick to a neighbouring grid step; swap a closed and an open hat on an
    off-beat; then jitters velocities and picks a tempo in the pattern's range.
    """
    rng = np.random.default_rng([seed, zlib.crc32(phrase.source.encode()), index])
    step = grid_ticks(phrase.feel)
    per_bar = phrase.meter.ticks_per_bar
    bars = [{(h.position, h.instrument): h.velocity for h in bar} for bar in phrase.bars]
    ops = [_ghosts, _hat_density, _move_kick, _swap_hat]
    for op in rng.permutation(len(ops))[: int(rng.integers(1, 4))]:
        ops[op](bars, rng, step, per_bar, phrase)
    jitter = 4.0
    while True:
        varied = [
            {k: int(np.clip(v + round(rng.normal(0, jitter)), 1, 127)) for k, v in bar.items()}
            for bar in bars
        ]
        new_bars = tuple(
            _sorted_bar(BarHit(pos, inst, vel) for (pos, inst), vel in bar.items())
            for bar in varied
        )
        if new_bars != phrase.bars:
            break
        jitter *= 2
    low, high = _library_tempi().get(phrase.source, (phrase.bpm, phrase.bpm))
    bpm = float(round(rng.uniform(low, high))) if high > low else phrase.bpm
    return dataclasses.replace(phrase, source=f"{phrase.source}#v{index}", bpm=bpm, bars=new_bars)


def _ghosts(bars, rng, step, per_bar, phrase) -> None:
    snare_like = ("snare", "rim")
    for bar in bars:
        ghosts = [k for k, v in bar.items() if k[1] == "snare" and v < 56]
        if ghosts and rng.random() < 0.5:
            for k in rng.permutation(len(ghosts))[: max(1, len(ghosts) // 2)]:
                del bar[ghosts[int(k)]]
            continue
        if not any(k[1] == "snare" for k in bar):
            continue
        taken = {p for p, inst in bar if inst in snare_like or inst == "clap"}
        free = [p for p in range(0, per_bar, step)
                if p % _BEAT and all(abs(p - t) >= step for t in taken)]  # fmt: skip
        for k in rng.permutation(len(free))[: int(rng.integers(1, 3))]:
            bar[(free[int(k)], "snare")] = int(rng.integers(28, 50))


_TIME_LANES = ("hat_closed", "ride", "shaker")  # the lane that keeps time, first found
_BUSY_AT = (*_TIME_LANES, "hat_open", "hat_pedal")  # a stroke here leaves no room for another


def _hat_density(bars, rng, step, per_bar, phrase) -> None:
    """Thicken or thin the time-keeping lane: 8ths ↔ 16ths (swing8: quarters ↔ 8ths; triplet
    feel: with or without the middle triplet); trap gets a 32nd or 16th-triplet roll instead."""
    if phrase.genre == "trap" and rng.random() < 0.6:  # a roll on the last 8th of a beat
        bar = bars[int(rng.integers(len(bars)))]
        beat = int(rng.integers(per_bar // _BEAT)) * _BEAT
        roll = 3 if rng.random() < 0.5 else 4
        for p in range(beat + _BEAT // 2, beat + _BEAT, roll):
            if (p, "hat_open") not in bar:
                bar[(p, "hat_closed")] = int(rng.integers(60, 100))
        return
    used = {inst for bar in bars for _, inst in bar}
    lane = next((i for i in _TIME_LANES if i in used), None)
    if lane is None:
        return
    for bar in bars:
        strokes = sorted(p for p, inst in bar if inst == lane)
        if phrase.feel == "triplet":
            middles = [p for p in strokes if p % _BEAT == 8]
            if middles:
                for p in middles:
                    del bar[(p, lane)]
            else:
                for p in strokes:
                    if p % _BEAT == 0 and (p + 16, lane) in bar:
                        bar[(p + 8, lane)] = int(rng.integers(35, 60))
            continue
        sub = 12 if phrase.feel == "swing8" else step  # the subdivision added or taken away
        if all(p % (2 * sub) == 0 for p in strokes):  # fill in between, softly
            for p in strokes:
                q = p + sub
                if q < per_bar and not any(k[0] == q and k[1] in _BUSY_AT for k in bar):
                    bar[(q, lane)] = int(rng.integers(40, 70))
        else:
            for p in strokes:
                if p % (2 * sub):
                    del bar[(p, lane)]


def _move_kick(bars, rng, step, per_bar, phrase) -> None:
    """Move one off-beat kick a grid step earlier or later (beats stay anchored, so four on
    the floor stays four on the floor)."""
    beat = 3 * 12 if phrase.meter.denominator == 8 else _BEAT
    candidates = [(b, p) for b, bar in enumerate(bars) for p, inst in bar
                  if inst == "kick" and p % beat]  # fmt: skip
    if not candidates:
        return
    b, p = candidates[int(rng.integers(len(candidates)))]
    q = p + (step if rng.random() < 0.5 else -step)
    if 0 < q < per_bar and q % beat and (q, "kick") not in bars[b]:
        bars[b][(q, "kick")] = bars[b].pop((p, "kick"))


def _swap_hat(bars, rng, step, per_bar, phrase) -> None:
    spots = [(b, p, inst) for b, bar in enumerate(bars) for p, inst in bar
             if inst in ("hat_closed", "hat_open") and p % _BEAT]  # fmt: skip
    if not spots:
        return
    b, p, inst = spots[int(rng.integers(len(spots)))]
    other = "hat_open" if inst == "hat_closed" else "hat_closed"
    if (p, other) not in bars[b]:
        bars[b][(p, other)] = bars[b].pop((p, inst))


def describe(phrases: Sequence[Phrase]) -> dict:
    """Counts a report can print: phrases, bars, hits; per feel, genre and split."""

    def count(key) -> dict:
        out: dict = {}
        for p in phrases:
            out[key(p)] = out.get(key(p), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: str(kv[0])))

    return {
        "phrases": len(phrases),
        "bars": sum(len(p.bars) for p in phrases),
        "hits": sum(len(b) for p in phrases for b in p.bars),
        "feel": count(lambda p: p.feel),
        "genre": count(lambda p: p.genre),
        "split": count(lambda p: p.split),
        "minutes": round(
            sum(len(p.bars) * p.meter.ticks_per_bar / _BEAT * 60 / p.bpm for p in phrases) / 60,
            1,
        ),
    }
