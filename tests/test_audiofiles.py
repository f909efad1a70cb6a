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


def test_a_24_bit_wav_rounds_every_sample_as_libsndfile_does(tmp_path) -> None:
    # The WAV writer hands libsndfile integers; at full scale, past it and on rounding ties it
    # must give the bytes libsndfile gives from the floats.
    rng = np.random.default_rng(17)
    ties = (rng.integers(-(2**20), 2**20, 4000) + 0.5) * 2.0**-31
    steps = (rng.integers(-(2**23), 2**23, 4000) + 0.5) / 2.0**23
    edges = [1.0, -1.0, np.nextafter(1.0, 0.0), -np.nextafter(1.0, 0.0), 1.5, -1.5, 1e30,
             -1e30, 0.0, -0.0, 1e-12, 2.0**-32, 3 * 2.0**-32, 2.0**-9, -(2.0**-9)]  # fmt: skip
    mono = np.concatenate([ties, steps, edges, 0.3 * rng.standard_normal(3000)])
    audio = np.stack([mono, mono[::-1]]).astype(np.float32)
    written = write_audio(tmp_path / "ints.wav", audio, SR, "wav")
    sf.write(tmp_path / "floats.wav", audio.T, SR, subtype="PCM_24")
    assert written.read_bytes() == (tmp_path / "floats.wav").read_bytes()


def test_an_mp3_master_measured_through_scratch_files_is_measured_alike(tmp_path, monkeypatch):
    # A long master's MP3 is decoded (and, past its ceiling, limited and encoded again) into
    # scratch files a block at a time: the same file and the same measurements.
    import audiogen.scratch
    from audiogen.audiofiles import write_measured
    from audiogen.mix import integrated_lufs

    rng = np.random.default_rng(3)
    master = (0.6 * rng.standard_normal((2, 3 * SR))).astype(np.float32)
    master = np.clip(master, -0.85, 0.85)  # hot: the encode overshoots a -1 dBTP ceiling
    in_memory = write_measured(tmp_path / "a.mp3", master, SR, "mp3", ceiling_dbtp=-1.0)
    monkeypatch.setattr(audiogen.scratch, "RESIDENT_SAMPLES", 0)
    scratch = write_measured(tmp_path / "b.mp3", master, SR, "mp3", ceiling_dbtp=-1.0)
    assert in_memory.headroom_db > 0.0  # it was limited and encoded again
    assert scratch == in_memory
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()
    # Measured on the file as any reader decodes it whole (libsndfile's MP3 decoder gives
    # other samples when read in pieces).
    decoded, _ = sf.read(tmp_path / "b.mp3", dtype="float32", always_2d=True)
    assert scratch.integrated_lufs == integrated_lufs(decoded.T, SR)
