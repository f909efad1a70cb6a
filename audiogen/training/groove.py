"""The Groove MIDI Dataset as training and benchmark material: every performance quantised to a
`Phrase` (`audiogen.planner.feel`). The product never reads the dataset, and nothing on the
generate path imports this module."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from audiogen.files import atomic_path
from audiogen.instruments import INSTRUMENTS
from audiogen.planner.bars import Phrase
from audiogen.planner.feel import fit_feel, quantise
from audiogen.planner.genres import groove_genre
from audiogen.score import TICKS_PER_QUARTER, Meter

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
_BEAT = TICKS_PER_QUARTER
_CACHE_VERSION = 1


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
        feel, swing, _ = fit_feel(performed, meter, row["style"])
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
                bars=quantise(performed, instruments, velocities, meter, bpm, feel, swing, bars),
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
            with atomic_path(path) as tmp, tmp.open("wb") as fh:
                np.savez_compressed(fh, allow_pickle=False, **arrays)  # plain arrays only
        except OSError as exc:
            log.warning("cannot write the Groove cache %s: %s", path, exc)
    return _unpack(arrays, names)


def _parse_all(paths: list[str]) -> list[tuple]:
    from concurrent.futures import ProcessPoolExecutor

    from audiogen.progress import report, terminal_bar

    workers = max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))  # fmt: skip
    log.info("parsing %d Groove MIDI files with %d processes (cached afterwards)", len(paths),
             workers)  # fmt: skip
    out = []
    with terminal_bar(items=True) as draw:
        if workers == 1:
            for p in paths:
                out.append(_read_performance(p))
                report(draw, "reading Groove MIDI", len(out), len(paths))
        else:
            with ProcessPoolExecutor(workers) as pool:
                for item in pool.map(_read_performance, paths, chunksize=16):
                    out.append(item)
                    report(draw, "reading Groove MIDI", len(out), len(paths))
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


def _unpack(data: Mapping[str, np.ndarray], names: list[str]) -> list[_Performance]:
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
