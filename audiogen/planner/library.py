"""The style library: the project's own patterns for the genres the Groove MIDI Dataset lacks,
read as `Phrase`s for training, and seeded variations of them (`vary_phrase`).

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

import dataclasses
import re
import tomllib
import zlib
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from audiogen.errors import ScoreError
from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.planner.bars import BarHit, Phrase, sorted_bar
from audiogen.planner.feel import grid_ticks
from audiogen.planner.genres import GENRES
from audiogen.score import FEELS, TICKS_PER_QUARTER, Meter

STYLES_DIR = Path(__file__).with_name("styles")
VELOCITY_OF_STEP = MappingProxyType({"X": 118, "x": 96, "o": 72, "g": 40})
_BEAT = TICKS_PER_QUARTER

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
    if not isinstance(genre, str) or genre not in GENRES:
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
        bars=tuple(sorted_bar(b) for b in bars),
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

# -- variations ---------------------------------------------------------------------------------

_Bar = dict[tuple[int, str], int]  # a bar being varied: (position, instrument) → velocity


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
            sorted_bar(BarHit(pos, inst, vel) for (pos, inst), vel in bar.items())
            for bar in varied
        )
        if new_bars != phrase.bars:
            break
        jitter *= 2
    low, high = _library_tempi().get(phrase.source, (phrase.bpm, phrase.bpm))
    bpm = float(round(rng.uniform(low, high))) if high > low else phrase.bpm
    return dataclasses.replace(phrase, source=f"{phrase.source}#v{index}", bpm=bpm, bars=new_bars)


def _ghosts(bars: list[_Bar], rng: np.random.Generator, step: int, per_bar: int,
            phrase: Phrase) -> None:  # fmt: skip
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


def _hat_density(bars: list[_Bar], rng: np.random.Generator, step: int, per_bar: int,
                 phrase: Phrase) -> None:  # fmt: skip
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


def _move_kick(bars: list[_Bar], rng: np.random.Generator, step: int, per_bar: int,
               phrase: Phrase) -> None:  # fmt: skip
    """Move one off-beat kick a grid step earlier or later (beats stay anchored, so four on
    the floor stays four on the floor)."""
    beat = phrase.meter.beat_ticks
    candidates = [(b, p) for b, bar in enumerate(bars) for p, inst in bar
                  if inst == "kick" and p % beat]  # fmt: skip
    if not candidates:
        return
    b, p = candidates[int(rng.integers(len(candidates)))]
    q = p + (step if rng.random() < 0.5 else -step)
    if 0 < q < per_bar and q % beat and (q, "kick") not in bars[b]:
        bars[b][(q, "kick")] = bars[b].pop((p, "kick"))


def _swap_hat(bars: list[_Bar], rng: np.random.Generator, step: int, per_bar: int,
              phrase: Phrase) -> None:  # fmt: skip
    spots = [(b, p, inst) for b, bar in enumerate(bars) for p, inst in bar
             if inst in ("hat_closed", "hat_open") and p % _BEAT]  # fmt: skip
    if not spots:
        return
    b, p, inst = spots[int(rng.integers(len(spots)))]
    other = "hat_open" if inst == "hat_closed" else "hat_closed"
    if (p, other) not in bars[b]:
        bars[b][(p, other)] = bars[b].pop((p, inst))
