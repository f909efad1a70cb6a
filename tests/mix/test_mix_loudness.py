"""Loudness, true peak, the true-peak limiter and loudness targets of the mix stage."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import firwin, upfirdn

from audiogen.errors import MixError
from audiogen.mix import (
    LOUDNESS_PRESETS,
    integrated_lufs,
    limit_true_peak,
    normalize,
    resolve_loudness,
    true_peak_dbtp,
)
from audiogen.mix.meter import _BLOCK_SAMPLES, _FIR_TAPS_PER_PHASE

SR = 48_000


def tone(frequency_hz: float, amplitude: float, seconds: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return amplitude * np.sin(2 * np.pi * frequency_hz * t + phase)


def test_true_peak_sees_the_peak_between_samples() -> None:
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


def test_integrated_lufs_reads_the_reference_tone() -> None:
    # BS.1770: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS.
    mono = tone(997.0, 0.1, 2.0)
    assert integrated_lufs(mono, SR) == pytest.approx(-23.01, abs=0.1)
    assert integrated_lufs(np.stack([mono, mono]), SR) == pytest.approx(-20.0, abs=0.1)


def test_audio_shorter_than_a_gating_block_is_measured_as_a_loop() -> None:
    assert integrated_lufs(tone(997.0, 0.1, 0.25), SR) == pytest.approx(
        integrated_lufs(tone(997.0, 0.1, 2.0), SR), abs=0.1
    )


def test_silence_measures_minus_infinity_and_cannot_be_normalised() -> None:
    assert integrated_lufs(np.zeros((2, SR)), SR) == -math.inf
    with pytest.raises(MixError, match="silent"):
        normalize(np.zeros((2, SR)), SR, -14.0)


@pytest.mark.parametrize("preset", sorted(LOUDNESS_PRESETS))
def test_normalize_lands_each_preset_under_the_ceiling(
    preset: str, mixdown: np.ndarray, independent_true_peak_dbtp
) -> None:
    target = LOUDNESS_PRESETS[preset]
    out, report = normalize(mixdown, SR, target, ceiling_dbtp=-1.0)
    assert out.shape == mixdown.shape and out.dtype == np.float32
    # Checked with pyloudnorm directly, not through the project's wrapper.
    measured = pyloudnorm.Meter(SR).integrated_loudness(out.T.astype(np.float64))
    assert measured == pytest.approx(target, abs=0.1)
    assert independent_true_peak_dbtp(out) <= -1.0
    assert report.integrated_lufs == pytest.approx(measured, abs=1e-6)
    assert report.true_peak_dbtp == pytest.approx(true_peak_dbtp(out, SR), abs=1e-6)


def test_normalize_keeps_mono_mono(mixdown: np.ndarray) -> None:
    out, report = normalize(mixdown[0], SR, -23.0)
    assert out.shape == mixdown[0].shape
    assert report.integrated_lufs == pytest.approx(-23.0, abs=0.1)


def test_a_target_out_of_reach_is_refused_not_squashed(mixdown: np.ndarray) -> None:
    with pytest.raises(MixError, match="out of reach.*'podcast'"):
        normalize(mixdown, SR, -3.0)


def test_limiter_holds_the_ceiling_on_a_hot_signal(
    mixdown: np.ndarray, independent_true_peak_dbtp
) -> None:
    inter_sample = np.tile(tone(SR / 4, 1.0, 0.5, phase=math.pi / 4), (2, 1))
    hot = 10.0 * np.concatenate([mixdown, inter_sample], axis=1)  # +20 dB, peaks near +20 dBTP
    limited, reduction_db = limit_true_peak(hot, SR, ceiling_dbtp=-1.0)
    assert limited.shape == hot.shape
    assert reduction_db > 15.0
    assert true_peak_dbtp(limited, SR) <= -1.0
    assert independent_true_peak_dbtp(limited) <= -1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), boost_db=st.floats(0.0, 40.0), ceiling_dbtp=st.floats(-6, 0))
def test_limiter_never_lets_a_peak_through(seed: int, boost_db: float, ceiling_dbtp: float) -> None:
    rng = np.random.default_rng(seed)
    bursts = rng.standard_normal((2, SR // 4)) * np.repeat(rng.random((2, 25)) ** 4, SR // 100, 1)
    limited, _ = limit_true_peak(bursts * 10 ** (boost_db / 20), SR, ceiling_dbtp=ceiling_dbtp)
    assert true_peak_dbtp(limited, SR) <= ceiling_dbtp


def test_limiter_leaves_audio_under_the_ceiling_alone(mixdown: np.ndarray) -> None:
    quiet = mixdown * 0.1
    limited, reduction_db = limit_true_peak(quiet, SR, ceiling_dbtp=-1.0)
    assert reduction_db == 0.0
    np.testing.assert_array_equal(limited, quiet)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("streaming", ("streaming", -14.0)),
        (" YouTube ", ("youtube", -14.0)),
        ("podcast", ("podcast", -16.0)),
        ("broadcast", ("broadcast", -23.0)),
        ("-18", ("custom", -18.0)),
        ("-18 LUFS", ("custom", -18.0)),
        ("-16.5lufs", ("custom", -16.5)),
        (-18.0, ("custom", -18.0)),
        (-9, ("custom", -9.0)),
    ],
)
def test_loudness_presets_and_custom_values_resolve(value, expected) -> None:
    assert resolve_loudness(value) == expected


@pytest.mark.parametrize("value", ["loud", "", "-18 dB", "14", "-50", "-5", float("nan"), True])
def test_garbage_loudness_is_refused_with_the_presets_listed(value) -> None:
    with pytest.raises(MixError, match="streaming.*podcast.*broadcast"):
        resolve_loudness(value)
