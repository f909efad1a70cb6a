"""One-shots at the rate a render asks for: a file recorded at another rate (or bit depth) is
converted once and kept in the user's cache, keyed by its content and the rate, so a second
render reads the result instead of resampling again."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from audiogen.files import atomic_path, sha256
from audiogen.paths import cache_dir

log = logging.getLogger(__name__)

CACHE_FOLDER = "samples"


def read_mono(path: Path, sample_rate: int) -> np.ndarray:
    """``path`` as float32 mono at ``sample_rate``: stereo is averaged, another rate resampled
    (through the cache). Raises what soundfile raises for an unreadable file."""
    info = sf.info(str(path))
    if info.samplerate == sample_rate:
        return _mono(path)
    cached = cache_dir() / CACHE_FOLDER / f"{sha256(path)}-{sample_rate}.npy"
    if cached.is_file():
        try:
            return np.load(cached, allow_pickle=False)
        except (OSError, ValueError):  # a damaged cache entry is redone, never trusted
            log.debug("cache entry %s unreadable: resampling again", cached)
    from scipy.signal import resample_poly

    ratio = Fraction(sample_rate, info.samplerate)
    audio = resample_poly(_mono(path), ratio.numerator, ratio.denominator).astype(np.float32)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp, tmp.open("wb") as fh:
            np.save(fh, audio, allow_pickle=False)
    except OSError as exc:  # a read-only cache costs time, not the render
        log.debug("cannot cache %s (%s)", cached, exc)
    return audio


def _mono(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
