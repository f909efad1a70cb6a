"""Loudness normalisation of the mix stage: each target reached under the ceiling, or refused."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from audiogen.errors import MixError
from audiogen.mix import LOUDNESS_PRESETS, integrated_lufs, normalize, true_peak_dbtp

SR = 48_000


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
    with pytest.raises(MixError, match="out of reach.*'broadcast'"):
        normalize(mixdown, SR, -3.0)


def test_a_target_that_would_crush_the_hits_stops_short_where_allowed(mixdown) -> None:
    # -6 LUFS under -1 dBTP is far past what 3 dB of limiting allows on this mixdown.
    out, report = normalize(mixdown, SR, -6.0, max_shortfall_lu=math.inf)
    assert report.limiting_db <= 3.0 + 1e-9
    assert report.stopped_short_lu > 1.0
    measured = pyloudnorm.Meter(SR).integrated_loudness(out.T.astype(np.float64))
    assert measured == pytest.approx(-6.0 - report.stopped_short_lu, abs=0.05)
    # Allowed to fall 1 LU short at most, the limiter goes deeper and lands there.
    _, forced = normalize(mixdown, SR, -8.0, max_shortfall_lu=1.0)
    assert forced.limiting_db > 3.0
    assert forced.integrated_lufs == pytest.approx(-9.0, abs=0.15)
