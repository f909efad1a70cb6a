"""Delivered audio files: written a block at a time, the same bytes as written at once."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from audiogen.audiofiles import _WRITE_BLOCK, _clear_peak_timestamp, write_audio

SR = 48_000


@pytest.mark.parametrize(("fmt", "subtype"), [("wav", None), ("wav", "FLOAT"), ("flac", None)])
def test_a_track_written_in_blocks_is_the_file_written_at_once(tmp_path, fmt, subtype) -> None:
    rng = np.random.default_rng(16)
    audio = (0.5 * rng.standard_normal((2, 2 * _WRITE_BLOCK + 1234))).astype(np.float32)
    written = write_audio(tmp_path / f"blocks.{fmt}", audio, SR, fmt, subtype)
    whole = tmp_path / f"whole.{fmt}"
    sf.write(whole, audio.T, SR, subtype=subtype or "PCM_24")
    if subtype == "FLOAT":  # both without the time of writing
        _clear_peak_timestamp(whole)
    assert written.read_bytes() == whole.read_bytes()
    back, rate = sf.read(written, dtype="float32", always_2d=True)
    assert rate == SR and back.shape == audio.T.shape


def test_writing_a_long_track_copies_a_block_of_it_not_all_of_it(tmp_path) -> None:
    audio = np.zeros((2, 60 * SR), dtype=np.float32)  # a minute of stereo: 23 MB
    tracemalloc.start()
    try:
        write_audio(tmp_path / "mix.wav", audio, SR, "wav")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < audio.nbytes / 10
