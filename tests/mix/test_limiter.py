"""The mix stage's true-peak limiter: it holds its ceiling and leaves quieter audio alone."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from audiogen.mix import limit_true_peak, true_peak_dbtp

SR = 48_000


def test_limiter_holds_the_ceiling_on_a_hot_signal(
    mixdown: np.ndarray, independent_true_peak_dbtp, tone
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
