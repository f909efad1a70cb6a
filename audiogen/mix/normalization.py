"""Loudness normalisation of the mix stage: the static gain that, with the true-peak limiter
after it, lands a beat on its loudness target under its ceiling, and a report of what it did."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from audiogen.errors import MixError
from audiogen.mix.drive import DriveReport
from audiogen.mix.dynamics import all_finite, loud_hit_peak, peak_of, scale
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

# The final true-peak limiter takes at most this much off the loudest hit when a beat is made
# loud: the drive before it (see drive.py) does the rest, as a mix engineer would. Where even so
# a target is out of reach, the beat stops short of it (see targets.MAX_SHORTFALL_LU); a preset
# that must land on its target lets the limiter go as deep as MAX_LIMITING_DB on the loud hits.
FINAL_LIMITING_DB = 3.0
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
        limiting_db: the final limiter's deepest gain reduction (on the loudest hit), >= 0.
        stopped_short_lu: how far under the target the beat was delivered on purpose, because
            reaching it would have crushed the hits (0 when the target was reached).
        drive: what the drum-bus drive did before the final limiter (see `drive_stems`).
    """

    target_lufs: float
    integrated_lufs: float
    true_peak_dbtp: float
    ceiling_dbtp: float
    gain_db: float
    limiting_db: float
    stopped_short_lu: float = 0.0
    drive: DriveReport = DriveReport()


def normalize(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    max_shortfall_lu: float = 0.0,
    max_gain_db: float = math.inf,
    max_limiting_db: float = FINAL_LIMITING_DB,
) -> tuple[np.ndarray, LoudnessReport]:
    """Bring audio to an integrated loudness under a true-peak ceiling.

    Gain to the target, then the true-peak limiter; since limiting lowers loudness, the gain
    is corrected and the limiter rerun (up to 8 rounds) until the loudness is within 0.1 LU.
    The limiter may take at most 3 dB off the loudest hit. Where that leaves the beat short of
    its target, it is delivered as loud as those 3 dB allow if that is at most
    ``max_shortfall_lu`` under the target; otherwise the limiter may take up to 24 dB off the
    loud hits to come within ``max_shortfall_lu``. The delivered true peak is then measured
    and, if needed, trimmed under the ceiling: that guarantee always holds. A result within
    0.5 LU of where it aimed is delivered (the report says where it landed); one further off
    raises instead.

    Args:
        audio: ``(channels, samples)`` or ``(samples,)`` float audio.
        sample_rate: in Hz.
        target_lufs: integrated loudness to reach.
        ceiling_dbtp: true-peak ceiling of the result.
        max_shortfall_lu: how far under the target the beat may stop rather than be crushed
            (``inf``: as far as it takes; 0: the target must be met).
        max_gain_db: the most static gain to apply while the beat may still stop short (the
            mixer's, so that no stem passes full scale).
        max_limiting_db: the most the limiter may take off the loudest hit before the beat
            stops short (at most `FINAL_LIMITING_DB`; the mixer's, to keep the hits' punch).

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
    if not all_finite(frames):
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
    loudest_db = 20.0 * math.log10(peak_of(envelope))
    aim = target_lufs
    reached = _reach(frames, envelope, sample_rate, loudness, aim, ceiling_db,
                     min(ceiling_db + max_limiting_db - loudest_db, max_gain_db))  # fmt: skip
    if target_lufs - reached.loudness > max(max_shortfall_lu, TOLERANCE_LU):
        # Short of what the preset allows: the limiter may go deeper on the loud hits (not on
        # a lone outlier peak) to come within the allowed shortfall.
        aim = target_lufs - max_shortfall_lu
        loud_hit_db = 20.0 * math.log10(loud_hit_peak(envelope, sample_rate))
        del reached  # its gain is as long as the beat
        reached = _reach(frames, envelope, sample_rate, loudness, aim, ceiling_db,
                         ceiling_db + MAX_LIMITING_DB - loud_hit_db)  # fmt: skip
    del envelope
    result = apply_gain(frames, reached.gain)
    gain_db, loudness, limiting_db = reached.gain_db, reached.loudness, reached.limiting_db
    del reached
    peak_dbtp = true_peak_dbtp(result, sample_rate)
    while peak_dbtp > ceiling_dbtp:
        # True peak scales exactly with a static gain; the extra 0.005 dB absorbs float32 rounding.
        trim_db = ceiling_dbtp - peak_dbtp - 0.005
        scale(result, 10.0 ** (trim_db / 20.0))
        gain_db += trim_db
        loudness = integrated_lufs(result, sample_rate)
        peak_dbtp = true_peak_dbtp(result, sample_rate)

    shortfall = target_lufs - loudness
    if shortfall > max(max_shortfall_lu, 0.0) + MAX_MISS_LU or shortfall < -MAX_MISS_LU:
        raise MixError(
            f"a loudness of {target_lufs:g} LUFS is out of reach for this beat under a "
            f"{ceiling_dbtp:g} dBTP ceiling: it reaches {loudness:.1f} LUFS with the limiter "
            f"taking {MAX_LIMITING_DB:g} dB off its loud hits; choose a quieter target such as "
            "'broadcast' (-23 LUFS), or a loudness that may stop short such as 'streaming'"
        )
    report = LoudnessReport(
        target_lufs=float(target_lufs),
        integrated_lufs=loudness,
        true_peak_dbtp=peak_dbtp,
        ceiling_dbtp=float(ceiling_dbtp),
        gain_db=gain_db,
        limiting_db=limiting_db,
        stopped_short_lu=max(0.0, shortfall) if shortfall > MAX_MISS_LU else 0.0,
    )
    return result.reshape(np.shape(audio)), report


@dataclass(frozen=True, eq=False)
class _Reached:
    gain: np.ndarray  # per sample: the static gain and the limiter's together
    gain_db: float
    loudness: float
    limiting_db: float


def _reach(
    frames: np.ndarray,
    envelope: np.ndarray,
    sample_rate: int,
    unlimited_lufs: float,
    target_lufs: float,
    ceiling_db: float,
    max_gain_db: float,
) -> _Reached:
    """The static gain (at most ``max_gain_db``) that lands on the target once the limiter
    holding ``ceiling_db`` has had its say, with the limiter's gain; ``unlimited_lufs`` is the
    loudness of ``frames`` as they are (measured once, by the caller)."""
    ceiling = 10.0 ** (ceiling_db / 20.0)
    gain_db = min(target_lufs - unlimited_lufs, max_gain_db)
    search = _GainSearch(target_lufs, max_gain_db)
    gain = None
    for _ in range(_MAX_ITERATIONS):
        static = 10.0 ** (gain_db / 20.0)
        gain = None  # let the last round's gain go before the next is made
        gain = limiter_gain(envelope, ceiling / static, sample_rate)  # holds envelope * static
        limiting_db = reduction_db(gain)
        scale(gain, static)
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
    assert gain is not None  # made in every round, and there is at least one
    return _Reached(gain, gain_db, loudness, limiting_db)


def warn_about_loudness(report: LoudnessReport) -> None:
    """One line, once per delivered beat, when its loudness cost something: it stopped short
    of its target, or reaching it took more than `FINAL_LIMITING_DB` off the loudest hit (a
    loop's mix is normalised more than once on its way, so `normalize` itself does not warn)."""
    limited = report.limiting_db > FINAL_LIMITING_DB + 0.05
    if report.stopped_short_lu > 0.0:
        log.warning(
            "delivered at %.1f LUFS, %.1f LU under the %g LUFS asked: more would have crushed "
            "the hits (platforms play a quieter track as it is, they do not turn it up)%s",
            report.integrated_lufs, report.stopped_short_lu, report.target_lufs,
            f"; even so the limiter took {report.limiting_db:.1f} dB off the loudest hit"
            if limited else "",
        )  # fmt: skip
    elif limited:
        log.warning(
            "reaching %g LUFS took %.1f dB of limiting on the loudest hit, which flattens "
            "it; a quieter target (such as --loudness podcast) keeps more punch",
            report.target_lufs, report.limiting_db,
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
