"""Scratch tracks: a long beat's whole-track arrays live in unnamed files, not in memory."""

from __future__ import annotations

import errno
import os
import sys
import tempfile

import numpy as np
import pytest

import audiogen.scratch
from audiogen.errors import AudiogenError
from audiogen.scratch import blocks, release, track


@pytest.fixture
def long_from(monkeypatch):
    """Tracks longer than ``n`` samples go to scratch files."""

    def set_threshold(n: int) -> None:
        monkeypatch.setattr(audiogen.scratch, "RESIDENT_SAMPLES", n)

    return set_threshold


def test_a_long_track_lives_in_a_file_that_has_no_name(tmp_path, monkeypatch, long_from):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    long_from(1000)
    short, long = track((2, 1000)), track((2, 1001))
    assert not isinstance(short, np.memmap) and isinstance(long, np.memmap)
    assert long.shape == (2, 1001) and long.dtype == np.float32 and not long.any()
    long[1, 7] = 0.5
    assert long[1, 7] == 0.5
    # Nothing to clean up however the process ends: the file was never in the folder.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_released_pages_leave_resident_memory_and_keep_their_samples(long_from) -> None:
    def resident_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    long_from(0)
    n = 1 << 24  # 128 MB of stereo float32
    stereo = track((2, n))
    before = resident_mb()
    for part in blocks(n):
        stereo[:, part] = np.arange(part.start, part.stop, dtype=np.float32)
    assert resident_mb() > before + 100  # written pages are resident until released
    release(stereo[:, 5:])  # a view leads to its file
    assert resident_mb() < before + 20
    assert stereo[0, 123_457] == 123_457 and stereo[1, n - 1] == n - 1


def test_no_room_for_scratch_is_one_clear_error(monkeypatch, long_from) -> None:
    def full(fd: int, offset: int, size: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    long_from(0)
    monkeypatch.setattr(os, "posix_fallocate", full, raising=False)
    with pytest.raises(AudiogenError, match=r"1 MB of scratch audio .*No space left.*TMPDIR"):
        track((2, 1 << 17))


def test_release_leaves_arrays_in_memory_alone() -> None:
    audio = np.ones((2, 10), dtype=np.float32)
    release(audio, audio[:, 3:], None)
    assert audio.sum() == 20.0


def test_a_disk_that_cannot_reserve_space_still_takes_scratch_tracks(monkeypatch, long_from):
    def unsupported(fd: int, offset: int, size: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    long_from(0)
    monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    stereo = track((2, 1 << 17))
    stereo[1, -1] = 1.0
    assert isinstance(stereo, np.memmap) and stereo.sum() == 1.0
