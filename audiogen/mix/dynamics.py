"""What the mix stage's steps share: a stereo-linked bus compressor whose gain can be handed to
every stem, the peak level of a beat's loud hits, and the sum of the stems."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from audiogen.mix.chains import GlueSpec

_DETECTOR_MS = 10.0
_BLOCK_S = 0.05


def compressor_gain(bus: np.ndarray, sample_rate: int, glue: GlueSpec) -> np.ndarray:
    """Per-sample gain of a stereo-linked RMS bus compressor, to apply to the bus and stems.

    Pedalboard's compressor cannot hand its gain to the stems, so the glue is computed here:
    a 10 ms RMS detector, a soft-knee gain computer, then fast-attack / slow-release smoothing
    taken as the deeper of two one-pole smoothings of the gain reduction.

    Args:
        bus: ``(channels, n)`` audio at the level the threshold refers to.
        sample_rate: in Hz.
        glue: threshold, ratio, knee and times.

    Returns:
        ``(n,)`` float32 gains in (0, 1].
    """
    # Temporaries are worked on in place: each is as long as the beat.
    power = np.square(bus[0], dtype=np.float32)
    for channel in bus[1:]:
        power += np.square(channel, dtype=np.float32)
    power /= np.float32(bus.shape[0])
    level_db = _one_pole(power, _DETECTOR_MS, sample_rate)
    del power
    level_db += np.float32(1e-12)
    np.log10(level_db, out=level_db)
    level_db *= np.float32(10.0)
    over_db = level_db
    over_db -= np.float32(glue.threshold_db)
    # Soft knee: quadratic across the knee, straight line of slope (1 - 1/ratio) above it.
    knee_db = max(glue.knee_db, 1e-3)
    in_knee = np.clip(over_db + knee_db / 2.0, 0.0, knee_db)
    above = over_db
    above -= knee_db / 2.0
    np.maximum(above, 0.0, out=above)
    np.square(in_knee, out=in_knee)
    in_knee /= 2.0 * knee_db
    reduction_db = in_knee
    reduction_db += above
    del above, over_db, level_db
    reduction_db *= 1.0 - 1.0 / glue.ratio
    attack = _one_pole(reduction_db, glue.attack_ms, sample_rate)
    release = _one_pole(reduction_db, glue.release_ms, sample_rate)
    del reduction_db
    gain = np.maximum(attack, release, out=attack)
    del release
    gain /= np.float32(-20.0)
    return np.power(np.float32(10.0), gain, out=gain)


def _one_pole(signal: np.ndarray, time_ms: float, sample_rate: int) -> np.ndarray:
    from scipy.signal import lfilter  # imported here so that `audiogen --help` stays instant

    pole = math.exp(-1000.0 / (time_ms * sample_rate))
    coefficients = np.array([1.0 - pole], dtype=signal.dtype), np.array([1.0, -pole], signal.dtype)
    return lfilter(*coefficients, signal)


def loud_hit_peak(envelope: np.ndarray, sample_rate: int) -> float:
    """Peak level of the loud hits in a ``(samples,)`` peak envelope: the 90th percentile of
    the 50 ms-block peaks that lie within 30 dB of the loudest, so one freak peak does not
    decide how loud a beat may go (0.0 for silence)."""
    block = max(1, round(_BLOCK_S * sample_rate))
    count = max(1, envelope.size // block)
    peaks = np.resize(envelope, count * block).reshape(count, block).max(axis=1)
    if not peaks.max() > 0.0:
        return 0.0
    loud = peaks[peaks >= peaks.max() * 10.0 ** (-30.0 / 20.0)]
    return float(np.percentile(loud, 90))


def peak_of(audio: np.ndarray) -> float:
    """The largest magnitude in ``audio``, without the copy of it that ``np.abs`` would make."""
    return max(float(np.max(audio)), -float(np.min(audio)))


def sum_of(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The sum of stems of one shape, as one new array (added in the order given)."""
    total: np.ndarray | None = None
    for array in arrays:
        total = array.copy() if total is None else np.add(total, array, out=total)
    if total is None:
        raise ValueError("nothing to sum")
    return total
