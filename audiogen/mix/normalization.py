"""Loudness normalisation of the mix stage: the static gain that, with the true-peak limiter
after it, lands a beat on its loudness target under its ceiling, and a report of what it did."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from audiogen.errors import MixError
from audiogen.mix.limiter import LIMITER_MARGIN_DB, apply_gain, limiter_gain, reduction_db
from audiogen.mix.meter import (
    ABSOLUTE_GATE_LUFS,
    as_channels,
    frames_lufs,
    integrated_lufs,
    true_peak_dbtp,
    true_peak_envelope,
)
from audiogen.mix.targets import DEFAULT_CEILING_DBTP, MAX_MISS_LU, TOLERANCE_LU

log = logging.getLogger(__name__)

# Limiting the loud hits deeper than HEAVY_LIMITING_DB starts to flatten them: allowed (a
# platform's target matters more), with a warning. Past MAX_LIMITING_DB the target is out of
# reach. A lone outlier peak may still be taken down further. Very dynamic recorded kits need
# 11-14 dB to reach -14 LUFS under -1 dBTP.
HEAVY_LIMITING_DB = 12.0
MAX_LIMITING_DB = 24.0
_MAX_ITERATIONS = 8
_MAX_STEP_DB = 12.0


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
    frames = as_channels(audio)
    if not np.all(np.isfinite(frames)):
        raise MixError("the mix contains NaN or infinite samples, so it cannot be normalised")
    loudness = frames_lufs(frames, sample_rate)
    if loudness == -math.inf:
        raise MixError(
            f"the beat is silent (below {ABSOLUTE_GATE_LUFS:g} LUFS), so it cannot be "
            f"normalised to {target_lufs:g} LUFS; check that the score has notes and the kit "
            "has sounds"
        )
    envelope = true_peak_envelope(frames, sample_rate)
    ceiling_db = ceiling_dbtp - LIMITER_MARGIN_DB
    ceiling = 10.0 ** (ceiling_db / 20.0)
    # Past this gain the limiter would take more than MAX_LIMITING_DB off the loud hits.
    loud_hit_db = 20.0 * math.log10(_loud_hit_peak(envelope, sample_rate))
    max_gain_db = ceiling_db + MAX_LIMITING_DB - loud_hit_db
    gain_db = min(target_lufs - loudness, max_gain_db)
    search = _GainSearch(target_lufs, max_gain_db)
    for _ in range(_MAX_ITERATIONS):
        static = 10.0 ** (gain_db / 20.0)
        gain = None  # let the last round's gain go before the next is made
        gain = limiter_gain(envelope, ceiling / static, sample_rate)  # holds envelope * static
        limiter_reduction_db = reduction_db(gain)
        gain *= static
        # Measured on the limited audio itself, a block at a time: the limiter's gain varies
        # in time, so the loudness of the unlimited audio cannot simply be shifted.
        loudness = frames_lufs(frames, sample_rate, gain)
        if abs(loudness - target_lufs) <= TOLERANCE_LU:
            break
        next_gain_db = search.next_gain_db(gain_db, loudness)
        if next_gain_db == gain_db:  # already at the most limiting allowed
            break
        gain_db = next_gain_db
    log.debug("normalize: gain %+.2f dB, loudness %.2f LUFS", gain_db, loudness)

    del envelope
    assert gain is not None  # made in every round, and there is at least one
    result = apply_gain(frames, gain)
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
        limiter_reduction_db=limiter_reduction_db,
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


def _loud_hit_peak(envelope: np.ndarray, sample_rate: int) -> float:
    """Peak level of the loud hits: the 90th percentile of the 50 ms-block peaks that lie
    within 30 dB of the loudest, so one freak peak does not decide how loud the beat may go."""
    block = max(1, round(0.05 * sample_rate))
    count = max(1, envelope.size // block)
    peaks = np.resize(envelope, count * block).reshape(count, block).max(axis=1)
    loud = peaks[peaks >= peaks.max() * 10.0 ** (-30.0 / 20.0)]
    return float(np.percentile(loud, 90))
