"""The mix stage's meter, per ITU-R BS.1770-4: gated integrated loudness and true peak (on an
oversampled signal), read a block at a time so a long beat costs a few MB of memory."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from audiogen.errors import MixError
from audiogen.scratch import release, track

_T = TypeVar("_T")
_R = TypeVar("_R")

ABSOLUTE_GATE_LUFS = -70.0  # BS.1770: blocks below this are silence
_GATING_BLOCK_S = 0.4
_GATING_OVERLAP = 0.75
# The true-peak oversampler's FIR: flat within 0.05 dB up to 20 kHz at 48 kHz.
_FIR_TAPS_PER_PHASE = 24
# Long signals are metered a block of this many samples at a time (about 1.4 s at 48 kHz), so
# a minute of stereo costs a few MB of working memory instead of hundreds.
_BLOCK_SAMPLES = 1 << 16
# pyloudnorm's K-weighting (its "K-weighting" filter class): RBJ-cookbook high shelf, then
# high-pass, as (gain_db, q, frequency_hz, kind). Designing them alike keeps the two meters in
# agreement to a millionth of a LU.
_K_WEIGHTING = ((4.0, 1.0 / math.sqrt(2.0), 1500.0, "high_shelf"), (0.0, 0.5, 38.0, "high_pass"))
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness per ITU-R BS.1770-4, in LUFS.

    Reads as pyloudnorm's meter does (to a millionth of a LU), but a block at a time, so a long
    beat costs a few MB instead of float64 copies of the whole signal. Audio shorter than one
    400 ms gating block is measured as if looped to that length, which is how a short beat loop
    is heard.

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` float audio.
        sample_rate: in Hz.

    Returns:
        The loudness in LUFS, or ``-inf`` when the audio is silent (every block under the
        -70 LUFS absolute gate).
    """
    return frames_lufs(as_channels(audio), sample_rate)


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak per ITU-R BS.1770-4 Annex 2, in dBTP.

    The audio is oversampled with a linear-phase FIR (4x below 96 kHz, as at 44.1 and 48 kHz;
    2x below 192 kHz), so peaks between samples count; it never reads below the sample peak.

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` float audio.
        sample_rate: in Hz.

    Returns:
        The highest absolute level over all channels in dBTP, ``-inf`` for digital silence.
    """
    frames = as_channels(audio)
    oversampler = _Oversampler(frames, sample_rate)
    step = _BLOCK_SAMPLES - oversampler.reach
    # Each block's sample peak, read a block at a time (no copy of the whole signal).
    block_peaks = []
    for start in oversampler.starts:
        block_peaks.append(np.max(np.abs(frames[:, start : start + step])))
        release(frames)
    sample_peak = float(max(block_peaks))
    if sample_peak <= 0.0 or oversampler.factor == 1:
        return 20.0 * math.log10(sample_peak) if sample_peak > 0.0 else -math.inf
    # Between samples the oversampled signal cannot pass the FIR's gain bound times the largest
    # magnitude within its reach (a few samples, well inside the blocks on either side), so
    # only the blocks where that bound passes the sample peak can hold a higher true peak: on
    # drums, the few around the loudest hits.
    bound = np.float32(oversampler.bound)
    starts = [start for k, start in enumerate(oversampler.starts)
              if max(block_peaks[max(0, k - 1) : k + 2]) * bound > sample_peak]  # fmt: skip
    peaks = _map_threads(lambda start: float(np.max(oversampler.envelope(start))), starts)
    peak = max([sample_peak, *peaks])
    return 20.0 * math.log10(peak)


def true_peak_envelope(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per input sample, the largest oversampled magnitude from it up to the next, over channels.

    Returns:
        ``(samples,)`` float32.
    """
    oversampler = _Oversampler(frames, sample_rate)
    envelope = track((frames.shape[1],))  # (a scratch file for a long beat)

    def fill(start: int) -> None:
        block = oversampler.envelope(start)
        envelope[start : start + block.size] = block
        release(envelope)

    _map_threads(fill, oversampler.starts)
    return envelope


class _Oversampler:
    """The true-peak envelope of a signal, a block at a time (see ``true_peak_envelope``).

    Each block is oversampled with the FIR's reach of real neighbours on either side, so the
    blocks join into exactly the envelope of the whole signal, at a few MB of memory each.
    """

    def __init__(self, frames: np.ndarray, sample_rate: int) -> None:
        import scipy.fft  # imported here so that `audiogen --help` stays instant
        from scipy.signal import firwin

        self.frames = frames
        self.factor = 4 if sample_rate < 96_000 else 2 if sample_rate < 192_000 else 1
        # Overlap-save: a frame holds the block plus `reach` samples of history, whose
        # outputs are the circular wrap-around and are dropped.
        self.reach = _FIR_TAPS_PER_PHASE - 1 if self.factor > 1 else 0
        self.starts = range(0, frames.shape[1], _BLOCK_SAMPLES - self.reach)
        if self.factor == 1:
            return
        # A windowed sinc cut at the input Nyquist is a Nyquist filter: the oversampled points
        # that fall on input samples are those samples, so only the in-between phases need
        # computing.
        taps = firwin(
            _FIR_TAPS_PER_PHASE * self.factor + 1, 1.0 / self.factor, window=("kaiser", 7.0)
        )
        taps = (taps * self.factor).astype(np.float32)
        kernels = np.zeros((self.factor - 1, _BLOCK_SAMPLES), dtype=np.float32)
        for phase in range(1, self.factor):
            kernels[phase - 1, :_FIR_TAPS_PER_PHASE] = taps[phase :: self.factor]
        self.kernel_spectra = scipy.fft.rfft(kernels, axis=-1)
        # The most any in-between point can reach for input samples of magnitude <= 1.
        self.bound = float(np.max(np.sum(np.abs(kernels), axis=-1)))

    def envelope(self, start: int) -> np.ndarray:
        """The float32 envelope of the block that begins at sample ``start``."""
        import scipy.fft

        channels, n = self.frames.shape
        stop = min(n, start + _BLOCK_SAMPLES - self.reach)
        block = np.max(np.abs(self.frames[:, start:stop]), axis=0).astype(np.float32, copy=False)
        if self.factor == 1:
            release(self.frames)
            return block
        delay = _FIR_TAPS_PER_PHASE // 2  # in input samples; the FIR is linear-phase
        offset = start + delay - self.reach  # the input sample at frame[:, 0]
        first, last = max(0, offset), min(n, stop + delay)
        frame = np.zeros((channels, _BLOCK_SAMPLES), dtype=np.float32)  # zero beyond the signal
        frame[:, first - offset : last - offset] = self.frames[:, first:last]
        spectrum = scipy.fft.rfft(frame, axis=-1)[:, np.newaxis, :]
        between = scipy.fft.irfft(spectrum * self.kernel_spectra, n=_BLOCK_SAMPLES, axis=-1)
        between = between[..., self.reach : self.reach + stop - start]
        np.maximum(block, np.max(np.abs(between), axis=(0, 1)), out=block)
        release(self.frames)
        return block


def frames_lufs(frames: np.ndarray, sample_rate: int, gain: np.ndarray | None = None) -> float:
    """BS.1770-4 integrated loudness of ``frames * gain`` (``gain`` per sample, if given).

    Audio shorter than one gating block is measured as if looped to that length.
    """
    min_samples = math.ceil(_GATING_BLOCK_S * sample_rate) + 1
    if frames.shape[1] < min_samples:
        if gain is not None:
            frames, gain = frames * gain, None
        frames = np.tile(frames, (1, -(-min_samples // frames.shape[1])))
    loudness = _gated_loudness(_block_powers(frames, sample_rate, gain))
    if not loudness >= ABSOLUTE_GATE_LUFS:
        return -math.inf
    return loudness


def _block_powers(
    frames: np.ndarray, sample_rate: int, gain: np.ndarray | None = None
) -> np.ndarray:
    """Mean square of the K-weighted audio in each 400 ms gating block, ``(channels, blocks)``.

    The audio is weighted a block of samples at a time in float64, the filter state carried
    across, so nothing of the signal's size is copied. Gating blocks start every 100 ms and
    are placed exactly as pyloudnorm places them, rounding included.
    """
    import pyloudnorm  # heavy (scipy.signal); imported here so `audiogen --help` stays instant
    from scipy.signal import sosfilt

    channels, n = frames.shape
    step = 1.0 - _GATING_OVERLAP
    count = int(np.round((n / sample_rate - _GATING_BLOCK_S) / (_GATING_BLOCK_S * step))) + 1
    index = np.arange(count)
    lower = (_GATING_BLOCK_S * (index * step) * sample_rate).astype(np.int64)
    upper = (_GATING_BLOCK_S * (index * step + 1) * sample_rate).astype(np.int64)
    lower, upper = np.minimum(lower, n), np.minimum(upper, n)
    # Squares are summed between consecutive block edges, then those sums into blocks.
    edges = np.unique(np.concatenate([lower, upper]))
    sos = np.array(
        [
            np.concatenate([design.b, design.a])
            for design in (
                pyloudnorm.IIRfilter(*spec[:3], sample_rate, spec[3]) for spec in _K_WEIGHTING
            )
        ]
    )

    def weighted_sums(channel: np.ndarray) -> np.ndarray:
        """Per stretch between edges, the K-weighted squares of one channel, summed."""
        sums = np.zeros(edges.size)  # the last entry gathers samples past every block
        state = np.zeros((sos.shape[0], 2))
        for start in range(0, n, _BLOCK_SAMPLES):
            stop = min(n, start + _BLOCK_SAMPLES)
            chunk = channel[start:stop].astype(np.float64)
            if gain is not None:
                chunk *= gain[start:stop]
            release(channel, gain)
            weighted, state = sosfilt(sos, chunk, zi=state)
            np.square(weighted, out=weighted)
            cuts = np.concatenate([[start], edges[(edges > start) & (edges < stop)]])
            sums[np.searchsorted(edges, cuts, side="right") - 1] += np.add.reduceat(
                weighted, cuts - start
            )
        return sums

    sums = np.array(_map_threads(weighted_sums, list(frames)))  # one channel per thread
    first, last = np.searchsorted(edges, lower), np.searchsorted(edges, upper)
    powers = np.zeros((channels, count))
    for k in range(int(np.max(last - first))):
        inside = first + k < last
        powers[:, inside] += sums[:, first[inside] + k]
    return (1.0 / (_GATING_BLOCK_S * sample_rate)) * powers


def _gated_loudness(powers: np.ndarray) -> float:
    """BS.1770-4 gating of per-block mean squares ``(channels, blocks)``, in LUFS (or -inf)."""
    weights = np.array(_CHANNEL_WEIGHTS[: powers.shape[0]])
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(np.sum(weights[:, np.newaxis] * powers, axis=0))
        audible = block_lufs >= ABSOLUTE_GATE_LUFS
        if not np.any(audible):
            return -math.inf
        mean = np.mean(powers[:, audible], axis=1)
        relative_gate = -0.691 + 10.0 * np.log10(np.sum(weights * mean)) - 10.0
        gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)
        if not np.any(gated):
            return -math.inf
        mean = np.mean(powers[:, gated], axis=1)
        return float(-0.691 + 10.0 * np.log10(np.sum(weights * mean)))


def _map_threads(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``function`` over ``items`` on a thread per CPU (at most four), results in order.

    For block and channel work in numpy, scipy.fft and scipy.signal, which release the GIL;
    each thread holds a few MB, and past four threads memory bandwidth is the limit.
    """
    workers = min(len(items), os.cpu_count() or 1, 4)
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def as_channels(audio: np.ndarray) -> np.ndarray:
    """View audio as float ``(channels, samples)``; mono ``(samples,)`` becomes one channel.

    float32 stays float32 (no copy); anything else becomes float64.
    """
    frames = np.asarray(audio)
    if frames.dtype != np.float32:
        frames = frames.astype(np.float64, copy=False)
    if frames.ndim == 1:
        frames = frames[np.newaxis, :]
    if frames.ndim != 2 or not 1 <= frames.shape[0] <= 5:
        raise MixError(
            f"expected audio shaped (channels, samples) or (samples,), got {np.shape(audio)}"
        )
    if frames.shape[1] == 0:
        raise MixError("the audio is empty (0 samples)")
    return frames
