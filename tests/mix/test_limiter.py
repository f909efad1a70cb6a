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


def test_limiter_gain_is_the_same_whichever_blocks_it_reads_the_envelope_in(monkeypatch) -> None:
    # The samples over the ceiling are found a block at a time and a stretch is worked out
    # once the next begins: stretches across block edges (and one across dozens of them)
    # must come out as from the whole envelope at once.
    import audiogen.scratch
    from audiogen.mix.limiter import limiter_gain

    rng = np.random.default_rng(5)
    envelope = np.abs(rng.normal(0.0, 0.2, 120_000)).astype(np.float32)
    envelope[np.r_[3_000:48_000:9_000, 90_000:120_000:9_000]] = 3.0  # lone hits
    envelope[50_000:80_000] *= 4.0  # a loud passage: one long stretch
    whole = limiter_gain(envelope, 0.9, 48_000)
    # Ten stretches (the last runs to the end), the passage's deep.
    assert np.count_nonzero(np.diff(whole == 1.0)) == 2 * 10 - 1 and np.min(whole) < 0.3
    monkeypatch.setattr(audiogen.scratch, "BLOCK_SAMPLES", 997)
    assert np.array_equal(limiter_gain(envelope, 0.9, 48_000), whole)
