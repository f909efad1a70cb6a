"""What the mix stage's steps share: a stereo-linked bus compressor whose gain can be handed to
every stem, the peak level of a beat's loud hits, and the sum of the stems."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from audiogen.mix.chains import GlueSpec
from audiogen.scratch import BLOCK_SAMPLES, blocks, release, track

_DETECTOR_MS = 10.0
_BLOCK_S = 0.05


def compressor_gain(bus: np.ndarray, sample_rate: int, glue: GlueSpec) -> np.ndarray:
    """Per-sample gain of a stereo-linked RMS bus compressor, to apply to the bus and stems.

    Pedalboard's compressor cannot hand its gain to the stems, so the glue is computed here:
    a 10 ms RMS detector, a soft-knee gain computer, then fast-attack / slow-release smoothing
    taken as the deeper of two one-pole smoothings of the gain reduction. It runs a block at a
    time, the smoothers' state carried over (the same gain as the whole bus at once).

    Args:
        bus: ``(channels, n)`` audio at the level the threshold refers to.
        sample_rate: in Hz.
        glue: threshold, ratio, knee and times.

    Returns:
        ``(n,)`` float32 gains in (0, 1] (a long one in a scratch file).
    """
    detector = _OnePole(_DETECTOR_MS, sample_rate)
    attack = _OnePole(glue.attack_ms, sample_rate)
    release_ = _OnePole(glue.release_ms, sample_rate)
    gain = track((bus.shape[-1],))
    for part in blocks(bus.shape[-1]):
        frames = bus[:, part]
        power = np.square(frames[0], dtype=np.float32)
        for channel in frames[1:]:
            power += np.square(channel, dtype=np.float32)
        power /= np.float32(bus.shape[0])
        reduction_db = _reduction_db(detector(power), glue)
        # The deeper of the two smoothings: a fast attack and a slow release.
        smoothed = np.maximum(attack(reduction_db), release_(reduction_db))
        smoothed /= np.float32(-20.0)
        np.power(np.float32(10.0), smoothed, out=gain[part])
        release(bus, gain)
    return gain


def _reduction_db(level_db: np.ndarray, glue: GlueSpec) -> np.ndarray:
    """The soft-knee gain computer: gain reduction in dB for a detector's mean square (the
    array is worked on in place)."""
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
    reduction_db *= 1.0 - 1.0 / glue.ratio
    return reduction_db


class _OnePole:
    """A one-pole smoother (float32) run a block at a time, its state carried over."""

    def __init__(self, time_ms: float, sample_rate: int) -> None:
        pole = math.exp(-1000.0 / (time_ms * sample_rate))
        self.b = np.array([1.0 - pole], dtype=np.float32)
        self.a = np.array([1.0, -pole], dtype=np.float32)
        self.state = np.zeros(1, dtype=np.float32)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter  # imported here so that `audiogen --help` stays instant

        smoothed, self.state = lfilter(self.b, self.a, signal, zi=self.state)
        return smoothed


def loud_hit_peak(envelope: np.ndarray, sample_rate: int) -> float:
    """Peak level of the loud hits in a ``(samples,)`` peak envelope: the 90th percentile of
    the 50 ms-block peaks that lie within 30 dB of the loudest, so one freak peak does not
    decide how loud a beat may go (0.0 for silence)."""
    block = max(1, round(_BLOCK_S * sample_rate))
    if envelope.size >= block:
        peaks = window_peaks(envelope, block)
    else:  # one block, the envelope repeated to fill it
        peaks = np.resize(envelope, block).reshape(1, block).max(axis=1)
    if not peaks.max() > 0.0:
        return 0.0
    loud = peaks[peaks >= peaks.max() * 10.0 ** (-30.0 / 20.0)]
    return float(np.percentile(loud, 90))


def window_peaks(envelope: np.ndarray, block: int) -> np.ndarray:
    """The peak of each whole ``block``-sample window of a ``(samples,)`` envelope, made a
    stretch of windows at a time."""
    count = envelope.size // block
    per = max(1, BLOCK_SAMPLES // block)
    peaks = np.empty(count, dtype=envelope.dtype)
    for first in range(0, count, per):
        last = min(count, first + per)
        peaks[first:last] = envelope[first * block : last * block].reshape(-1, block).max(axis=1)
        release(envelope)
    return peaks


def peak_of(audio: np.ndarray) -> float:
    """The largest magnitude in ``audio``, a block at a time, without the copy of it that
    ``np.abs`` would make."""
    peak = 0.0
    for part in blocks(audio.shape[-1]):
        block = audio[..., part]
        peak = max(peak, float(np.max(block)), -float(np.min(block)))
        release(audio)
    return peak


def scale(audio: np.ndarray, gain: float | np.ndarray) -> None:
    """``audio *= gain`` (a number, or a gain per sample), in place, a block at a time."""
    for part in blocks(audio.shape[-1]):
        if isinstance(gain, np.ndarray):
            audio[..., part] *= gain[part]
            release(gain)
        else:
            audio[..., part] *= gain
        release(audio)


def all_finite(audio: np.ndarray) -> bool:
    """Whether every sample is a finite number, read a block at a time."""
    for part in blocks(audio.shape[-1]):
        finite = bool(np.all(np.isfinite(audio[..., part])))
        release(audio)
        if not finite:
            return False
    return True


def sum_of(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The sum of stems of one shape, as one new array (added in the order given, a block at a
    time; a long one in a scratch file)."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("nothing to sum")
    total = track(arrays[0].shape, arrays[0].dtype.type)
    for part in blocks(total.shape[-1]):
        np.copyto(total[..., part], arrays[0][..., part])
        for array in arrays[1:]:
            np.add(total[..., part], array[..., part], out=total[..., part])
        release(total, *arrays)
    return total
