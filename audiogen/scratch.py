"""Whole-track arrays of long beats kept in scratch files instead of resident memory.

A long track is a numpy array mapped from an unnamed temporary file: the stages read and write
it a block at a time and hand each block's pages back to the page cache (`release`), so a
25-minute beat's stems cost disk space, not memory. The file has no name from the start, so
nothing is left behind, whatever ends the process; short tracks stay ordinary arrays.
"""

from __future__ import annotations

import errno
import math
import mmap
import os
import tempfile
from collections.abc import Iterator

import numpy as np

from audiogen.errors import AudiogenError

# Tracks of up to this many samples per channel stay in memory (87 s at 48 kHz): the page
# faults of a mapped file would cost a short beat time and save it little.
RESIDENT_SAMPLES = 1 << 22
# posix_fallocate's answers where the file system cannot reserve blocks (rather than lacking
# room for them).
_CANNOT_RESERVE = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
# Samples per channel worked on at a time (a multiple of pedalboard's and the meter's blocks).
BLOCK_SAMPLES = 1 << 17


def track(shape: tuple[int, ...], dtype: type[np.generic] = np.float32) -> np.ndarray:
    """A zeroed array; one longer than `RESIDENT_SAMPLES` lives in a scratch file.

    Raises:
        AudiogenError: when the temporary folder has no room for it (or cannot be written).
    """
    if shape[-1] <= RESIDENT_SAMPLES:
        return np.zeros(shape, dtype=dtype)
    size = math.prod(shape) * np.dtype(dtype).itemsize
    try:
        with tempfile.TemporaryFile(prefix="audiogen-") as file:
            _reserve(file.fileno(), size)
            return np.memmap(file, dtype=dtype, mode="r+", shape=shape)
    except OSError as exc:
        raise AudiogenError(
            f"cannot keep {size / 2**20:.0f} MB of scratch audio in {tempfile.gettempdir()} "
            f"({exc.strerror or exc}): free some space there or point TMPDIR at a folder "
            "with room"
        ) from None


def _reserve(fd: int, size: int) -> None:
    """Give a scratch file its size, its blocks reserved up front where the file system can:
    a mapped page that finds the disk full would kill the process instead of raising."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError) as exc:  # no posix_fallocate here, or not on this disk
        if isinstance(exc, OSError) and exc.errno not in _CANNOT_RESERVE:
            raise
        os.ftruncate(fd, size)


def release(*arrays: np.ndarray | None) -> None:
    """Hand scratch tracks' pages back to the page cache: they leave this process's resident
    memory, and what was written stays in the file. Nothing for arrays in memory (or None)."""
    for array in arrays:
        # A view of a scratch track (a slice, `np.asarray` of it) leads to its mapping.
        base: object = array
        while isinstance(base, np.ndarray):
            base = base.base
        if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            base.madvise(mmap.MADV_DONTNEED)


def blocks(n: int, size: int | None = None) -> Iterator[slice]:
    """Slices of ``range(n)``, ``size`` samples each (default `BLOCK_SAMPLES`; the last may be
    shorter)."""
    size = size or BLOCK_SAMPLES
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
