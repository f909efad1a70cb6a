"""Loudness for the mix stage: BS.1770 integrated loudness, true peak, and a true-peak limiter.

All of it is offline: a limiter that sees the whole beat at once can guarantee its ceiling
instead of merely aiming for it.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

import numpy as np

from audiogen.errors import MixError

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R")

# Integrated-loudness targets; all share DEFAULT_CEILING_DBTP, which EBU R128 also allows.
# "bed" is music meant to sit under speech: 10 LU under a podcast voice at -16 LUFS.
LOUDNESS_PRESETS: MappingProxyType[str, float] = MappingProxyType(
    {"streaming": -14.0, "youtube": -14.0, "podcast": -16.0, "broadcast": -23.0, "bed": -26.0}
)
# Where each platform normalises playback (its published reference level), so a beat delivered
# there is not turned down or up. Names a user may type for --loudness besides the presets.
PLATFORM_LOUDNESS: MappingProxyType[str, float] = MappingProxyType(
    {
        "spotify": -14.0,
        "tidal": -14.0,
        "amazon-music": -14.0,
        "tiktok": -14.0,
        "instagram": -14.0,
        "deezer": -15.0,
        "apple-music": -16.0,
        "apple-podcasts": -16.0,
        "spotify-podcasts": -14.0,
        "ebu-r128": -23.0,
        "atsc-a85": -24.0,
    }
)
DEFAULT_CEILING_DBTP = -1.0
# Targets whose standard asks for a lower true-peak ceiling than DEFAULT_CEILING_DBTP.
_CEILINGS_DBTP = MappingProxyType({"atsc-a85": -2.0})
CUSTOM_LUFS_RANGE: tuple[float, float] = (-40.0, -6.0)

# normalize() aims within TOLERANCE_LU of the target and refuses to deliver beyond MAX_MISS_LU.
TOLERANCE_LU = 0.1
MAX_MISS_LU = 0.5
# Limiting the loud hits deeper than HEAVY_LIMITING_DB starts to flatten them: allowed (a
# platform's target matters more), with a warning. Past MAX_LIMITING_DB the target is out of
# reach. A lone outlier peak may still be taken down further. Very dynamic recorded kits need
# 11-14 dB to reach -14 LUFS under -1 dBTP.
HEAVY_LIMITING_DB = 12.0
MAX_LIMITING_DB = 24.0

_ABSOLUTE_GATE_LUFS = -70.0  # BS.1770: blocks below this are silence
_GATING_BLOCK_S = 0.4
_GATING_OVERLAP = 0.75
# The limiter aims this far under the ceiling: true-peak meters with other interpolation filters
# read hot, noisy material a few hundredths of a dB higher than ours.
_LIMITER_MARGIN_DB = 0.1
_LOOKAHEAD_MS = 1.5
_RELEASE_MS = 60.0  # per 6 dB of gain reduction: fast enough not to pump between hits
_MAX_ITERATIONS = 8
_MAX_STEP_DB = 12.0
_FIR_TAPS_PER_PHASE = 24  # flat within 0.05 dB up to 20 kHz at 48 kHz
# Long signals are metered a block of this many samples at a time (about 1.4 s at 48 kHz), so
# a minute of stereo costs a few MB of working memory instead of hundreds.
_BLOCK_SAMPLES = 1 << 16
# pyloudnorm's K-weighting (its "K-weighting" filter class): RBJ-cookbook high shelf, then
# high-pass, as (gain_db, q, frequency_hz, kind). Designing them alike keeps the two meters in
# agreement to a millionth of a LU.
_K_WEIGHTING = ((4.0, 1.0 / math.sqrt(2.0), 1500.0, "high_shelf"), (0.0, 0.5, 38.0, "high_pass"))
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770: L, R, C, Ls, Rs


@dataclass(frozen=True)
class LoudnessReport:
    """What loudness normalisation did, measured on the delivered audio.

    Attributes:
        target_lufs: the integrated loudness asked for.
        integrated_lufs: BS.1770 integrated loudness of the delivered audio.
        true_peak_dbtp: true peak of the delivered audio (4x oversampled at 44.1/48 kHz).
        ceiling_dbtp: the true-peak ceiling the audio is guaranteed to stay under.
        gain_db: static gain applied before the limiter (any final trim included).
        limiter_reduction_db: the deepest gain reduction of the limiter, as a positive number.
        loud_hit_limiting_db: how far the loud hits (not a lone outlier peak) were limited;
            past `HEAVY_LIMITING_DB` they sound flattened (see `warn_if_flattened`).
    """

    target_lufs: float
    integrated_lufs: float
    true_peak_dbtp: float
    ceiling_dbtp: float
    gain_db: float
    limiter_reduction_db: float
    loud_hit_limiting_db: float = 0.0


def resolve_loudness(value: str | float) -> tuple[str, float]:
    """Turn a loudness preset name or a custom LUFS value into ``(name, target_lufs)``.

    Args:
        value: a preset name ("streaming", "youtube", "podcast", "broadcast", "bed"), a
            platform from ``PLATFORM_LOUDNESS`` ("spotify", "apple-podcasts", ...) or a number
            of LUFS between -40 and -6, given as a number or as text ("-18", "-18 LUFS").

    Returns:
        The preset name (``"custom"`` for a number) and its integrated-loudness target in LUFS.

    Raises:
        MixError: for an unknown name, unreadable text or a value out of range.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LOUDNESS_PRESETS:
            return text, LOUDNESS_PRESETS[text]
        if text in PLATFORM_LOUDNESS:
            return text, PLATFORM_LOUDNESS[text]
        match = re.fullmatch(r"([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:lufs|lkfs)?", text)
        if match is None:
            raise MixError(f"unknown loudness {value!r}: {_accepted_loudness()}")
        target = float(match.group(1))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        target = float(value)
    else:
        raise MixError(f"unknown loudness {value!r}: {_accepted_loudness()}")
    low, high = CUSTOM_LUFS_RANGE
    if not low <= target <= high:  # also refuses NaN
        raise MixError(f"a loudness of {target:g} LUFS is out of range: {_accepted_loudness()}")
    return "custom", target


def loudness_ceiling(name: str) -> float:
    """The true-peak ceiling in dBTP that goes with a resolved loudness name."""
    return _CEILINGS_DBTP.get(name, DEFAULT_CEILING_DBTP)


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
    return _loudness(_as_channels(audio), sample_rate)


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
    oversampler = _Oversampler(_as_channels(audio), sample_rate)
    peak = max(
        _map_threads(lambda start: float(np.max(oversampler.envelope(start))), oversampler.starts)
    )
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


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
    frames = _as_channels(audio)
    envelope = _true_peak_envelope(frames, sample_rate)
    ceiling = 10.0 ** ((ceiling_dbtp - _LIMITER_MARGIN_DB) / 20.0)
    gain = _limiter_gain(envelope, ceiling, sample_rate, lookahead_ms, release_ms)
    return _apply_gain(frames, gain).reshape(np.shape(audio)), _reduction_db(gain)


def normalize(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
) -> tuple[np.ndarray, LoudnessReport]:
    """Bring audio to an integrated loudness under a true-peak ceiling.

    Gain to the target, then the true-peak limiter; since limiting lowers loudness, the gain
    is corrected and the limiter rerun (up to 8 rounds) until the loudness is within 0.1 LU.
    The limiter may take at most 12 dB off the loud hits. The delivered true peak is then
    measured and, if needed, trimmed under the ceiling: that guarantee always holds. A result
    within 0.5 LU of the target is delivered (the report says where it landed); one further
    off raises instead.

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` float audio.
        sample_rate: in Hz.
        target_lufs: integrated loudness to reach.
        ceiling_dbtp: true-peak ceiling of the result.

    Returns:
        The normalised audio (same shape, float32) and a report of what was done.

    Raises:
        MixError: if the audio is silent, or if the target is out of reach: the result would
            miss it by more than 0.5 LU, a target too loud for the ceiling and the limiting
            allowed.
    """
    if not (math.isfinite(target_lufs) and math.isfinite(ceiling_dbtp)):
        raise MixError("the loudness target and the true-peak ceiling must be finite numbers")
    frames = _as_channels(audio)
    if not np.all(np.isfinite(frames)):
        raise MixError("the mix contains NaN or infinite samples, so it cannot be normalised")
    loudness = _loudness(frames, sample_rate)
    if loudness == -math.inf:
        raise MixError(
            f"the beat is silent (below {_ABSOLUTE_GATE_LUFS:g} LUFS), so it cannot be "
            f"normalised to {target_lufs:g} LUFS; check that the score has notes and the kit "
            "has sounds"
        )
    envelope = _true_peak_envelope(frames, sample_rate)
    ceiling_db = ceiling_dbtp - _LIMITER_MARGIN_DB
    ceiling = 10.0 ** (ceiling_db / 20.0)
    # Past this gain the limiter would take more than MAX_LIMITING_DB off the loud hits.
    loud_hit_db = 20.0 * math.log10(_loud_hit_peak(envelope, sample_rate))
    max_gain_db = ceiling_db + MAX_LIMITING_DB - loud_hit_db
    gain_db = min(target_lufs - loudness, max_gain_db)
    search = _GainSearch(target_lufs, max_gain_db)
    for _ in range(_MAX_ITERATIONS):
        static = 10.0 ** (gain_db / 20.0)
        gain = None  # let the last round's gain go before the next is made
        gain = _limiter_gain(envelope, ceiling / static, sample_rate)  # holds envelope * static
        reduction_db = _reduction_db(gain)
        gain *= static
        # Measured on the limited audio itself, a block at a time: the limiter's gain varies
        # in time, so the loudness of the unlimited audio cannot simply be shifted.
        loudness = _loudness(frames, sample_rate, gain)
        if abs(loudness - target_lufs) <= TOLERANCE_LU:
            break
        next_gain_db = search.next_gain_db(gain_db, loudness)
        if next_gain_db == gain_db:  # already at the most limiting allowed
            break
        gain_db = next_gain_db
    log.debug("normalize: gain %+.2f dB, loudness %.2f LUFS", gain_db, loudness)

    del envelope
    result = _apply_gain(frames, gain)
    del gain
    peak_dbtp = true_peak_dbtp(result, sample_rate)
    while peak_dbtp > ceiling_dbtp:
        # True peak scales exactly with a static gain; the extra 0.005 dB absorbs float32 rounding.
        trim_db = ceiling_dbtp - peak_dbtp - 0.005
        result *= 10.0 ** (trim_db / 20.0)
        gain_db += trim_db
        loudness = integrated_lufs(result, sample_rate)
        peak_dbtp = true_peak_dbtp(result, sample_rate)

    if abs(loudness - target_lufs) > MAX_MISS_LU:
        raise MixError(
            f"a loudness of {target_lufs:g} LUFS is out of reach for this beat under a "
            f"{ceiling_dbtp:g} dBTP ceiling: it reaches {loudness:.1f} LUFS with the limiter "
            f"taking {MAX_LIMITING_DB:g} dB off its loud hits; choose a quieter target such as "
            "'podcast' (-16 LUFS) or 'broadcast' (-23 LUFS)"
        )
    report = LoudnessReport(
        target_lufs=float(target_lufs),
        integrated_lufs=loudness,
        true_peak_dbtp=peak_dbtp,
        ceiling_dbtp=float(ceiling_dbtp),
        gain_db=gain_db,
        limiter_reduction_db=reduction_db,
        loud_hit_limiting_db=max(0.0, loud_hit_db + gain_db - ceiling_db),
    )
    return result.reshape(np.shape(audio)), report


def warn_if_flattened(report: LoudnessReport) -> None:
    """Warn, once per delivered beat, when reaching its target flattened the loud hits (a loop's
    mix is normalised more than once on its way, so `normalize` itself does not warn)."""
    if report.loud_hit_limiting_db > HEAVY_LIMITING_DB:
        log.warning(
            "reaching %g LUFS took %.0f dB of limiting on the loudest hits, which flattens "
            "them; a quieter target (such as --loudness podcast) keeps more punch",
            report.target_lufs, report.loud_hit_limiting_db,
        )  # fmt: skip


class _GainSearch:
    """Finds the static gain that lands on the target once the limiter has had its say.

    Loudness rises with gain at a slope of 1 without limiting and less with it; it also jumps
    by a few hundredths where a 400 ms block crosses a gate, so slopes come only from steps of
    a quarter dB or more, and once the target is bracketed the search stays inside.
    """

    def __init__(self, target_lufs: float, max_gain_db: float) -> None:
        self.target_lufs = target_lufs
        self.max_gain_db = max_gain_db
        self.slope = 1.0
        self.last: tuple[float, float] | None = None
        self.below = -math.inf  # highest gain found too quiet
        self.above = math.inf  # lowest gain found too loud

    def next_gain_db(self, gain_db: float, loudness: float) -> float:
        if loudness < self.target_lufs:
            self.below = max(self.below, gain_db)
        else:
            self.above = min(self.above, gain_db)
        if self.last is not None and abs(gain_db - self.last[0]) >= 0.25:
            secant = (loudness - self.last[1]) / (gain_db - self.last[0])
            self.slope = min(max(secant, 0.05), 1.0)
        self.last = (gain_db, loudness)
        step = (self.target_lufs - loudness) / self.slope
        proposal = gain_db + min(max(step, -_MAX_STEP_DB), _MAX_STEP_DB)
        if not self.below < proposal < self.above:
            proposal = (self.below + self.above) / 2.0
        return min(proposal, self.max_gain_db)


def _limiter_gain(
    envelope: np.ndarray,
    ceiling: float,
    sample_rate: int,
    lookahead_ms: float = _LOOKAHEAD_MS,
    release_ms: float = _RELEASE_MS,
) -> np.ndarray:
    """Per-sample gain (<= 1) that keeps ``envelope * gain`` under ``ceiling`` at every sample.

    Only the stretches around peaks over the ceiling are computed (each as far as its release
    reaches); everywhere else the gain is exactly 1.
    """
    half = max(1, round(lookahead_ms * sample_rate / 1000.0))
    rate_db = 6.0 / (release_ms * sample_rate / 1000.0)  # release, in dB per sample
    gain = np.ones(envelope.size)
    over = np.flatnonzero(envelope > np.float64(ceiling))  # compared in float64, not float32
    if over.size == 0:
        return gain
    depth_db = 20.0 * np.log10(envelope[over].astype(np.float64) / ceiling)
    starts = over - 4 * half - 2
    reach = np.maximum.accumulate(over + 4 * half + 2 + np.ceil(depth_db / rate_db).astype(int))
    new = np.flatnonzero(starts[1:] > reach[:-1]) + 1
    for first, last in zip(np.r_[0, new], np.r_[new - 1, over.size - 1], strict=True):
        lo, hi = max(0, int(starts[first])), min(envelope.size, int(reach[last]) + 1)
        gain[lo:hi] = _limiter_stretch(envelope[lo:hi], ceiling, half, rate_db)
    return gain


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


def _true_peak_envelope(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per input sample, the largest oversampled magnitude from it up to the next, over channels.

    Returns:
        ``(samples,)`` float32.
    """
    oversampler = _Oversampler(frames, sample_rate)
    envelope = np.empty(frames.shape[1], dtype=np.float32)

    def fill(start: int) -> None:
        block = oversampler.envelope(start)
        envelope[start : start + block.size] = block

    _map_threads(fill, oversampler.starts)
    return envelope


class _Oversampler:
    """The true-peak envelope of a signal, a block at a time (see ``_true_peak_envelope``).

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

    def envelope(self, start: int) -> np.ndarray:
        """The float32 envelope of the block that begins at sample ``start``."""
        import scipy.fft

        channels, n = self.frames.shape
        stop = min(n, start + _BLOCK_SAMPLES - self.reach)
        block = np.max(np.abs(self.frames[:, start:stop]), axis=0).astype(np.float32, copy=False)
        if self.factor == 1:
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
        return block


def _loudness(frames: np.ndarray, sample_rate: int, gain: np.ndarray | None = None) -> float:
    """BS.1770-4 integrated loudness of ``frames * gain`` (``gain`` per sample, if given).

    Audio shorter than one gating block is measured as if looped to that length.
    """
    min_samples = math.ceil(_GATING_BLOCK_S * sample_rate) + 1
    if frames.shape[1] < min_samples:
        if gain is not None:
            frames, gain = frames * gain, None
        frames = np.tile(frames, (1, -(-min_samples // frames.shape[1])))
    loudness = _gated_loudness(_block_powers(frames, sample_rate, gain))
    if not loudness >= _ABSOLUTE_GATE_LUFS:
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
        audible = block_lufs >= _ABSOLUTE_GATE_LUFS
        if not np.any(audible):
            return -math.inf
        mean = np.mean(powers[:, audible], axis=1)
        relative_gate = -0.691 + 10.0 * np.log10(np.sum(weights * mean)) - 10.0
        gated = (block_lufs > relative_gate) & (block_lufs > _ABSOLUTE_GATE_LUFS)
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


def _apply_gain(frames: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``frames * gain`` worked out in float64 and stored as float32, with no float64 copy."""
    out = np.empty(frames.shape, dtype=np.float32)
    np.multiply(frames, gain, out=out, dtype=np.float64, casting="unsafe")
    return out


def _loud_hit_peak(envelope: np.ndarray, sample_rate: int) -> float:
    """Peak level of the loud hits: the 90th percentile of the 50 ms-block peaks that lie
    within 30 dB of the loudest, so one freak peak does not decide how loud the beat may go."""
    block = max(1, round(0.05 * sample_rate))
    count = max(1, envelope.size // block)
    peaks = np.resize(envelope, count * block).reshape(count, block).max(axis=1)
    loud = peaks[peaks >= peaks.max() * 10.0 ** (-30.0 / 20.0)]
    return float(np.percentile(loud, 90))


def _reduction_db(gain: np.ndarray) -> float:
    smallest = float(np.min(gain)) if gain.size else 1.0
    return max(0.0, -20.0 * math.log10(smallest))


def _as_channels(audio: np.ndarray) -> np.ndarray:
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


def _accepted_loudness() -> str:
    presets = ", ".join(f"{name} ({lufs:g} LUFS)" for name, lufs in LOUDNESS_PRESETS.items())
    low, high = CUSTOM_LUFS_RANGE
    return (
        f"use a preset: {presets}; a platform: {', '.join(PLATFORM_LOUDNESS)}; or a number of "
        f"LUFS from {low:g} to {high:g}, e.g. '-18 LUFS'"
    )
