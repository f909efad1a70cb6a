"""The mix stage's meter: BS.1770 integrated loudness and true peak, read a block at a time."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import firwin, upfirdn

from audiogen.mix import integrated_lufs, true_peak_dbtp
from audiogen.mix.meter import _BLOCK_SAMPLES, _FIR_TAPS_PER_PHASE

SR = 48_000


def test_true_peak_sees_the_peak_between_samples(tone) -> None:
    # At fs/4 and 45 degrees every sample lands at +-0.707 of the crest: 3 dB under it.
    signal = tone(SR / 4, 0.5, 1.0, phase=math.pi / 4)
    index = np.arange(signal.size)
    signal *= np.clip(np.minimum(index, signal.size - 1 - index) / 2400, 0.0, 1.0)  # no clicks
    sample_peak_db = 20 * math.log10(np.max(np.abs(signal)))
    assert sample_peak_db == pytest.approx(-9.03, abs=0.01)
    assert true_peak_dbtp(signal, SR) == pytest.approx(-6.02, abs=0.05)
    assert true_peak_dbtp(np.stack([signal, 0.5 * signal]), SR) == pytest.approx(-6.02, abs=0.05)


def test_true_peak_is_never_below_the_sample_peak() -> None:
    noise = np.random.default_rng(3).standard_normal((2, SR)) * 0.2
    assert true_peak_dbtp(noise, SR) >= 20 * math.log10(np.max(np.abs(noise)))
    assert true_peak_dbtp(np.zeros(100), SR) == -math.inf


# True peak is oversampled a block at a time; blocks start this many samples apart.
TRUE_PEAK_HOP = _BLOCK_SAMPLES - (_FIR_TAPS_PER_PHASE - 1)


def whole_signal_true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """The project's 4x FIR run over the whole signal at once, in float64."""
    taps = firwin(4 * _FIR_TAPS_PER_PHASE + 1, 0.25, window=("kaiser", 7.0)) * 4
    upsampled = upfirdn(taps, np.asarray(audio, dtype=np.float64), up=4, axis=-1)
    return float(20 * np.log10(np.max(np.abs(upsampled))))


def burst_between_samples(n: int, centre: int, amplitude: float = 0.5) -> np.ndarray:
    """A short fs/4 burst whose crests fall between samples, centred on sample ``centre``."""
    signal = np.zeros(n)
    index = np.arange(-48, 48)
    window = np.hanning(index.size)
    signal[centre + index] = amplitude * window * np.sin(np.pi / 2 * index + np.pi / 4)
    return signal


@pytest.mark.parametrize("offset", [-2, -1, 0, 1])
def test_block_wise_true_peak_sees_a_peak_on_a_block_boundary(offset: int) -> None:
    # The loudest inter-sample crest sits on the seam between two oversampled blocks.
    rng = np.random.default_rng(11)
    n = 3 * TRUE_PEAK_HOP
    burst = burst_between_samples(n, TRUE_PEAK_HOP + offset)
    audio = np.stack([burst + 0.01 * rng.standard_normal(n), 0.5 * burst])
    assert true_peak_dbtp(audio, SR) > 20 * math.log10(np.max(np.abs(audio))) + 2.0
    assert true_peak_dbtp(audio, SR) == pytest.approx(
        whole_signal_true_peak_dbtp(audio, SR), abs=0.01
    )


@pytest.mark.parametrize("sample_rate", [44_100, 48_000])
def test_block_wise_true_peak_equals_whole_signal_oversampling(sample_rate: int) -> None:
    rng = np.random.default_rng(12)
    n = 4 * TRUE_PEAK_HOP + 777
    bursts = (
        rng.standard_normal((2, n)) * np.repeat(rng.random((2, n // 1000 + 1)) ** 4, 1000, 1)[:, :n]
    )
    audio = (0.3 * bursts).astype(np.float32)
    assert true_peak_dbtp(audio, sample_rate) == pytest.approx(
        whole_signal_true_peak_dbtp(audio, sample_rate), abs=0.01
    )


def loudness_cases() -> dict[str, tuple[np.ndarray, int]]:
    rng = np.random.default_rng(13)
    n = 5 * SR + 123  # several K-weighting blocks
    bursts = (
        rng.standard_normal((2, n)) * np.repeat(rng.random((2, n // 2400 + 1)) ** 3, 2400, 1)[:, :n]
    )
    on_seam = np.zeros(n)  # one loud hit straddling the seam of two K-weighting blocks
    on_seam[_BLOCK_SAMPLES - 2000 : _BLOCK_SAMPLES + 2000] = rng.standard_normal(4000)
    # Quiet passages near the absolute gate (-70 LUFS) and loud ones, for both gates.
    gated = rng.standard_normal(n) * np.repeat([3e-4, 0.3, 1e-3, 0.05] * 20, SR // 4)[:n]
    n44 = 3 * 44_100 + 5
    return {
        "stereo bursts": (0.3 * bursts, SR),
        "float32 stereo": ((0.3 * bursts).astype(np.float32), SR),
        "hit on a seam": (on_seam + 1e-3 * rng.standard_normal(n), SR),
        "both gates": (gated, SR),
        "44.1 kHz mono": (0.1 * rng.standard_normal(n44), 44_100),
        "5 channels": (0.1 * rng.standard_normal((5, 2 * SR)), SR),
    }


@pytest.mark.parametrize("case", sorted(loudness_cases()))
def test_block_wise_loudness_equals_pyloudnorm(case: str) -> None:
    audio, sample_rate = loudness_cases()[case]
    reference = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64))
    # The same meter, a block at a time: equal up to float rounding, not just within 0.01 LU.
    assert integrated_lufs(audio, sample_rate) == pytest.approx(reference, abs=1e-6)


def test_integrated_lufs_reads_the_reference_tone(tone) -> None:
    # BS.1770: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS.
    mono = tone(997.0, 0.1, 2.0)
    assert integrated_lufs(mono, SR) == pytest.approx(-23.01, abs=0.1)
    assert integrated_lufs(np.stack([mono, mono]), SR) == pytest.approx(-20.0, abs=0.1)


def test_audio_shorter_than_a_gating_block_is_measured_as_a_loop(tone) -> None:
    assert integrated_lufs(tone(997.0, 0.1, 0.25), SR) == pytest.approx(
        integrated_lufs(tone(997.0, 0.1, 2.0), SR), abs=0.1
    )


def test_true_peak_of_a_long_track_copies_blocks_of_it_not_all_of_it(tone) -> None:
    # Three minutes of stereo (69 MB) whose every block must be oversampled.
    audio = np.tile(tone(SR / 4, 0.5, 180.0, phase=math.pi / 4).astype(np.float32), (2, 1))
    tracemalloc.start()
    try:
        peak_dbtp = true_peak_dbtp(audio, SR)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_dbtp > -6.5  # the crests between samples were seen: the samples peak at -9 dB
    assert peak < audio.nbytes / 3
