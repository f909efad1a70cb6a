"""The matching EQ on stems whose answer is known: noise hits with their lows cut, matched to
the same hits with them."""

from __future__ import annotations

import numpy as np
import pytest

from audiogen.renderers import tone
from audiogen.renderers.tone import band_edges, band_levels, match_tone

SR = 32000
TIMES = np.arange(0.25, 3.5, 0.5)  # seven hits, 0.5 s apart, each rung out before the next


def hits(seed: int) -> np.ndarray:
    """Noise hits at `TIMES`, decaying to nothing within 0.3 s, out of silence."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(4 * SR, dtype=np.float32)
    length = round(0.3 * SR)
    envelope = np.exp(-np.arange(length) / (0.03 * SR))
    for t in TIMES:
        start = round(t * SR)
        audio[start : start + length] += (rng.uniform(-0.5, 0.5, length) * envelope)[
            : len(audio) - start
        ]
    return audio


def balance(levels: np.ndarray, key: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Each band's level against the key's, the mean difference taken out, where ``within``."""
    difference = (levels - key)[within]
    return difference - difference.mean()


def test_a_stem_light_in_its_lows_takes_the_kits_balance_and_nothing_sounds_before_a_hit():
    from scipy.signal import butter, sosfilt

    key = hits(seed=1)
    thin = sosfilt(butter(1, 200, "highpass", fs=SR, output="sos"), hits(seed=2))
    stem = thin.astype(np.float32)
    key_db = band_levels(key, SR)
    centres = np.sqrt(band_edges(SR)[:-1] * band_edges(SR)[1:])
    within = (centres > 50) & (centres < 12000)
    assert np.abs(balance(band_levels(stem, SR), key_db, within)).max() > 6  # 6 dB an octave
    out = match_tone(stem.copy(), key_db, SR)
    assert np.abs(balance(band_levels(out, SR), key_db, within)).max() < 2.0
    # A minimum-phase filter: the silence before each hit stays silence (no ringing ahead of
    # the attack), and each hit starts where it did.
    for t in TIMES:
        before = out[round((t - 0.02) * SR) : round(t * SR)]
        assert np.abs(before).max(initial=0.0) < 1e-4
        start = round(t * SR)
        assert np.abs(out[start : start + round(0.002 * SR)]).max() > 0.05


def test_bands_the_kit_leaves_empty_are_not_raised_and_long_stems_filter_in_blocks(monkeypatch):
    from scipy.signal import butter, sosfilt

    dull = sosfilt(butter(8, 2000, "lowpass", fs=SR, output="sos"), hits(seed=3))
    key_db = band_levels(dull.astype(np.float32), SR)  # next to nothing over ~5 kHz
    stem = hits(seed=4)
    out = match_tone(stem.copy(), key_db, SR)
    high = np.sqrt(band_edges(SR)[:-1] * band_edges(SR)[1:]) > 8000
    assert (key_db[high] < key_db.max() + tone.FLOOR_DB).all()
    raised = band_levels(out, SR)[high] - band_levels(stem, SR)[high]
    assert raised.max() <= tone.RANGE_DB + 0.5  # no more than any band is ever moved
    low = ~high & (np.sqrt(band_edges(SR)[:-1] * band_edges(SR)[1:]) > 100)
    assert np.median(raised) <= np.median(band_levels(out, SR)[low] - band_levels(stem, SR)[low])
    whole = match_tone(stem.copy(), key_db, SR)
    monkeypatch.setattr(tone, "_BLOCK", 4999)
    np.testing.assert_allclose(match_tone(stem.copy(), key_db, SR), whole, atol=1e-6)
    assert whole == pytest.approx(out)
