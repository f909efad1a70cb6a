"""A folder of one-shots as a kit: each file's class, velocity layer and round robin read from its
name (`audiogen.kits.names`) or, where names say nothing of layers, from measured loudness; a
``kit.toml`` beside the files overrides any guess."""

from __future__ import annotations

import math
import tomllib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiogen.errors import KitError
from audiogen.kits.kit import (
    VELOCITY_RANGE_DB,
    KitInstrument,
    Layer,
    instruments_from_toml,
    license_text,
)
from audiogen.kits.names import NameGuess, guess

AUDIO_SUFFIXES = (".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg")
# Files of one sound within this many dB are round robins of one layer; a larger step is a
# softer layer (packs that name no layers still often record two or three).
LAYER_STEP_DB = 4.0


@dataclass(frozen=True)
class FolderMapping:
    """What a folder holds: the kit's instruments, its kit.toml (or {}), and what it says about
    the guesses (alternatives left unplayed, files with no class)."""

    instruments: dict[str, KitInstrument]
    manifest: dict
    notes: tuple[str, ...]
    license_text: str | None


def audio_files(root: Path) -> list[Path]:
    """Every sound file under ``root``, sub-folders included, hidden ones and macOS litter not."""
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
            found.append(path)
    return found


def map_folder(root: Path) -> FolderMapping:
    """Read a folder of one-shots into instruments.

    Raises:
        KitError: a broken kit.toml.
    """
    manifest: dict = {}
    if (root / "kit.toml").is_file():
        try:
            manifest = tomllib.loads((root / "kit.toml").read_text(encoding="utf-8"))
            chosen = instruments_from_toml(manifest, root, str(root))
        except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise KitError(f"kit {root}: broken kit.toml ({exc})") from None
    else:
        chosen = {}
    named = {f for i in chosen.values() for layer in i.layers for f in layer.files}
    sounds: dict[str, dict[tuple[str, str], list[tuple[Path, NameGuess]]]] = defaultdict(dict)
    unmapped = []
    for path in audio_files(root):
        if path in named:
            continue
        folders = tuple(reversed(path.relative_to(root).parts[:-1]))
        name = guess(path.stem, folders)
        if name.cls is None:
            unmapped.append(path)
            continue
        key = (str(path.parent.relative_to(root)), name.base)
        sounds[name.cls].setdefault(key, []).append((path, name))
    notes = []
    instruments = dict(chosen)
    for cls in sorted(sounds):
        if cls in chosen:
            continue
        keys = sorted(sounds[cls])
        instruments[cls] = KitInstrument(cls, _layers(sounds[cls][keys[0]]))
        if len(keys) > 1:
            others = ", ".join(_label(root, sounds[cls][k][0][0]) for k in keys[1:4])
            more = f" and {len(keys) - 4} more" if len(keys) > 4 else ""
            playing = _label(root, sounds[cls][keys[0]][0][0])
            notes.append(
                f"{cls}: {len(keys)} sounds found, playing {playing} (not {others}{more}; "
                "a kit.toml can choose)"
            )
    if unmapped:
        shown = ", ".join(_label(root, p) for p in unmapped[:6])
        more = f" and {len(unmapped) - 6} more" if len(unmapped) > 6 else ""
        notes.append(f"no class in the name of {shown}{more}: not played")
    return FolderMapping(instruments, manifest, tuple(notes), license_text(root))


def _label(root: Path, path: Path) -> str:
    return str(path.relative_to(root))


def _layers(files: list[tuple[Path, NameGuess]]) -> tuple[Layer, ...]:
    """One sound's files as velocity layers of round robins: by the layer numbers or velocities
    their names give, else by measured loudness."""
    top = max((n.layer for _, n in files if n.layer is not None), default=0)
    by_velocity: dict[int, list[Path]] = defaultdict(list)
    unknown = []
    for path, name in files:
        if name.layer is not None:
            by_velocity[max(1, round(127 * name.layer / top))].append(path)
        elif name.velocity is not None:
            by_velocity[name.velocity].append(path)
        else:
            unknown.append(path)
    if unknown and by_velocity:
        by_velocity[127].extend(unknown)  # named layers decide; an unnamed file is the loudest
    elif unknown:
        for velocity, paths in _loudness_layers(unknown).items():
            by_velocity[velocity].extend(paths)
    return tuple(
        Layer(v, tuple(sorted(by_velocity[v], key=_robin_order(files))))
        for v in sorted(by_velocity)
    )


def _robin_order(files: list[tuple[Path, NameGuess]]) -> Callable[[Path], tuple[int, str]]:
    robin = {path: (name.robin or 0) for path, name in files}
    return lambda path: (robin[path], path.name)


def _loudness_layers(paths: list[Path]) -> dict[int, list[Path]]:
    """Files with no layer in their names, grouped by level: one step of `LAYER_STEP_DB` or
    more starts a softer layer, whose velocity the sampler's curve gives for that level."""
    levels = sorted(((_level_db(p), p) for p in paths), reverse=True)
    loudest = levels[0][0]
    layers: dict[int, list[Path]] = defaultdict(list)
    previous = loudest
    velocity = 127
    for level, path in levels:
        if previous - level >= LAYER_STEP_DB:
            velocity = max(1, round(127 * 10 ** ((level - loudest) / VELOCITY_RANGE_DB)))
        layers[velocity].append(path)
        previous = level
    return layers


def _level_db(path: Path) -> float:
    """A one-shot's level: the loudest 10 ms of it (RMS), in dB."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise KitError(f"kit {path.parent}: cannot read {path.name} ({exc})") from None
    mono = data.mean(axis=1)
    window = max(1, rate // 100)
    frames = len(mono) // window
    if frames == 0:
        return 20 * math.log10(max(float(np.sqrt(np.mean(mono**2))) if len(mono) else 0, 1e-9))
    rms = np.sqrt(np.mean(mono[: frames * window].reshape(frames, window) ** 2, axis=1))
    return 20 * math.log10(max(float(rms.max()), 1e-9))
