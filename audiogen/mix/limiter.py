"""The mix stage's true-peak limiter: stereo-linked, look-ahead, on the meter's oversampled
envelope. Offline, it sees the whole beat at once, so it can guarantee its ceiling instead of
merely aiming for it."""

from __future__ import annotations

import math

import numpy as np

from audiogen.errors import MixError
from audiogen.mix.meter import as_channels, true_peak_envelope
from audiogen.mix.targets import DEFAULT_CEILING_DBTP
from audiogen.scratch import blocks, release, track

# The limiter aims this far under the ceiling: true-peak meters with other interpolation filters
# read hot, noisy material a few hundredths of a dB higher than ours.
LIMITER_MARGIN_DB = 0.1
_LOOKAHEAD_MS = 1.5
_RELEASE_MS = 60.0  # per 6 dB of gain reduction: fast enough not to pump between hits


def limit_true_peak(
    audio: np.ndarray,
    sample_rate: int,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    lookahead_ms: float = _LOOKAHEAD_MS,
    release_ms: float = _RELEASE_MS,
) -> tuple[np.ndarray, float]:
    """Stereo-linked look-ahead limiter on the oversampled peak, holding ``ceiling_dbtp``.

    The gain never rises above what the oversampled peak allows at any sample. It aims 0.1 dB
    under the ceiling, so that meters with other interpolation filters agree.

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` float audio.
        sample_rate: in Hz.
        ceiling_dbtp: the true-peak level not to exceed.
        lookahead_ms: how early the gain starts to fall before a peak (the attack is twice this).
        release_ms: time the gain takes to recover 6 dB of reduction (linear in dB).

    Returns:
        The limited audio (same shape, float32) and the deepest gain reduction in dB (>= 0).

    Raises:
        MixError: for a look-ahead or release that is not a positive number of milliseconds.
    """
    if not (lookahead_ms > 0.0 and release_ms > 0.0):
        raise MixError(
            f"the limiter needs a positive look-ahead and release, got {lookahead_ms} ms and "
            f"{release_ms} ms"
        )
    frames = as_channels(audio)
    envelope = true_peak_envelope(frames, sample_rate)
    ceiling = 10.0 ** ((ceiling_dbtp - LIMITER_MARGIN_DB) / 20.0)
    gain = limiter_gain(envelope, ceiling, sample_rate, lookahead_ms, release_ms)
    return apply_gain(frames, gain).reshape(np.shape(audio)), reduction_db(gain)


def limiter_gain(
    envelope: np.ndarray,
    ceiling: float,
    sample_rate: int,
    lookahead_ms: float = _LOOKAHEAD_MS,
    release_ms: float = _RELEASE_MS,
    dtype: type[np.floating] = np.float64,
) -> np.ndarray:
    """Per-sample gain (<= 1) that keeps ``envelope * gain`` under ``ceiling`` at every sample.

    Only the stretches around peaks over the ceiling are computed (each as far as its release
    reaches), in float64, and stored as ``dtype``; everywhere else the gain is exactly 1.
    """
    half = max(1, round(lookahead_ms * sample_rate / 1000.0))
    rate_db = 6.0 / (release_ms * sample_rate / 1000.0)  # release, in dB per sample
    gain = track((envelope.size,), dtype)  # (a scratch file for a long beat)
    for part in blocks(envelope.size):
        gain[part] = 1.0
        release(gain)
    # The samples over the ceiling are found a block at a time, and each stretch is worked
    # out once the next one begins (or the envelope ends): where a stretch ends is the
    # farthest any of its samples' release reaches.
    start: int | None = None  # where the open stretch begins
    farthest = 0  # and how far its samples' release reaches so far
    for part in blocks(envelope.size):
        over = np.flatnonzero(envelope[part] > np.float64(ceiling))  # compared in float64
        if over.size == 0:
            continue
        over += part.start
        depth_db = 20.0 * np.log10(envelope[over].astype(np.float64) / ceiling)
        starts = over - 4 * half - 2
        ends = over + 4 * half + 2 + np.ceil(depth_db / rate_db).astype(int)
        if start is not None:
            np.maximum(ends, farthest, out=ends)
        reach = np.maximum.accumulate(ends)
        # A sample begins a stretch where it starts past every earlier sample's reach.
        before = np.r_[starts[0] - 1 if start is None else farthest, reach[:-1]]
        for first in np.flatnonzero(starts > before):
            if start is not None:
                _fill_stretch(gain, envelope, start, int(before[first]), ceiling, half, rate_db)
            start = int(starts[first])
        farthest = int(reach[-1])
        release(envelope)
    if start is not None:
        _fill_stretch(gain, envelope, start, farthest, ceiling, half, rate_db)
    return gain


def _fill_stretch(
    gain: np.ndarray,
    envelope: np.ndarray,
    start: int,
    reach: int,
    ceiling: float,
    half: int,
    rate_db: float,
) -> None:
    """The limiter's gain over the stretch from ``start`` to ``reach`` (inclusive)."""
    lo, hi = max(0, start), min(envelope.size, reach + 1)
    gain[lo:hi] = _limiter_stretch(envelope[lo:hi], ceiling, half, rate_db)
    release(gain, envelope)


def _limiter_stretch(envelope: np.ndarray, ceiling: float, half: int, rate_db: float) -> np.ndarray:
    """The limiter's gain over a stretch that starts and ends with gain 1.

    Required gain -> minimum over +-2L samples (look-ahead and hold) -> release ramp that can
    only lower the gain -> two centred moving averages of 2L+1 samples. Each averaged value
    comes from samples within 2L of n, all of which were already at or below the gain
    required at n, so smoothing never lets a peak through.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    envelope = envelope.astype(np.float64)  # a short stretch: the gain is worked out in float64
    required = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-30))
    held_db = 20.0 * np.log10(minimum_filter1d(required, size=4 * half + 1, mode="nearest"))
    # The gain may climb at most rate_db per sample: the min-plus convolution of the held gain
    # with that ramp is a running minimum once the ramp is taken off.
    ramp = rate_db * np.arange(held_db.size)
    gain = 10.0 ** ((ramp + np.minimum.accumulate(held_db - ramp)) / 20.0)
    for _ in range(2):
        gain = uniform_filter1d(gain, size=2 * half + 1, mode="nearest")
    return np.minimum(gain, 1.0)


def apply_gain(frames: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``frames * gain`` (``(channels, n)`` by ``(n,)``) worked out in float64 and stored as
    float32, a block at a time, with no float64 copy (a long one in a scratch file)."""
    out = track(frames.shape)
    for part in blocks(frames.shape[-1]):
        np.multiply(frames[:, part], gain[part], out=out[:, part], dtype=np.float64,
                    casting="unsafe")  # fmt: skip
        release(frames, gain, out)
    return out


def reduction_db(gain: np.ndarray) -> float:
    """The deepest gain reduction of a per-sample gain, in dB as a positive number (0 for none)."""
    smallest = 1.0
    for part in blocks(gain.size):
        smallest = min(smallest, float(np.min(gain[part])))
        release(gain)
    return max(0.0, -20.0 * math.log10(smallest))
