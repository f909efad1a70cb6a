"""Drum-bus drive: how a beat gets loud before its final limiter, as a mix engineer gets drums
loud. Parallel compression lifts what lies under the peaks (the body of each hit, the room,
the ghost notes); then a soft clipper on the kick, snare and toms shaves the tops of their
transients. Each goes only as deep
as the beat's loudness target needs, so a beat that is loud enough already is left alone.

Parallel compression is one gain shared by every stem, and each stem is clipped on its own, so
the stems still sum to the bus that the final limiter gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audiogen.mix.chains import DriveSpec
from audiogen.mix.dynamics import loud_hit_peak, sum_of
from audiogen.mix.limiter import limiter_gain
from audiogen.mix.meter import frames_lufs

# The drive aims this far above the ceiling: what the final true-peak limiter is meant to take
# off the loud hits (it may take up to `FINAL_LIMITING_DB` off the loudest).
FINAL_AIM_DB = 1.0
_SEARCH_ROUNDS = 6
PUNCH_GROUPS = ("kick", "snare")
_HIT_S = 0.05  # the window in which a hit's punch (crest factor) is kept
_KNEE_DB = 2.0  # a clipped stem is left untouched up to this far under its clip level


@dataclass(frozen=True)
class DriveReport:
    """What the drive did.

    Attributes:
        parallel_db: how far parallel compression lifted the quiet parts against the peaks.
        clip_db: how far under its loud hits each clipped stem was clipped.
        peak_reduction_db: the bus's peak-to-loudness ratio before the drive minus after it.
    """

    parallel_db: float = 0.0
    clip_db: float = 0.0
    peak_reduction_db: float = 0.0


def drive_stems(
    stems: dict[str, np.ndarray],
    sample_rate: int,
    spec: DriveSpec,
    target_plr_db: float,
    stem_plr_db: float = math.inf,
    dry: np.ndarray | None = None,
    must_reach_db: float | None = None,
) -> DriveReport:
    """Drive stereo stems, in place, until their sum's peak-to-loudness ratio reaches a target.

    Args:
        stems: ``(2, n)`` float32 stems at the bus's level; replaced by their driven versions.
        sample_rate: in Hz.
        spec: how deep the preset lets each tool go.
        target_plr_db: the sum's peak over its integrated loudness, in dB, that the target
            and the ceiling leave room for.
        stem_plr_db: the same for the loudest stem's peak over the sum's loudness, so that at
            the target no stem passes full scale (where the stems are delivered in 24 bits).
        dry: the beat as the renderer made it, before any stem chain, ``(n,)`` or
            ``(channels, n)``: the hits' punch is kept against it, so that what the chains
            already took counts against the budget (default: the stems as given).
        must_reach_db: None where the beat may stop short of its loudness to keep the
            hits' punch. Where the loudness must be met: how far past ``target_plr_db`` the
            sum may stay (what the final limiter may take beyond its aim); the drive goes past
            the punch budget as far as that needs, since punch spent on soft clipping and
            parallel compression sounds better than the same spent on the final limiter.

    Returns:
        What was done; nothing is done when the sum's ratio is already at or under the target.
    """
    total = sum_of(stems.values())
    before = _plr_db(total, sample_rate)
    loudness = frames_lufs(total, sample_rate)
    loudest_stem_db = 20.0 * math.log10(max(float(np.max(np.abs(s))) for s in stems.values()))
    fits = before <= target_plr_db and loudest_stem_db - loudness <= stem_plr_db
    if fits or spec.parallel_db <= 0.0 and spec.clip_db <= 0.0:
        return DriveReport()
    # The compressed path's gain: a look-ahead peak compressor (the limiter's gain computer)
    # deep under the loud hits, so that the path holds each transient down from its first
    # sample; an RMS detector would let the transient through and lift it with the rest.
    envelope = _peaks(total)
    threshold = loud_hit_peak(envelope, sample_rate) * 10.0 ** (spec.parallel_threshold_db / 20.0)
    squeezed = limiter_gain(envelope, threshold, sample_rate).astype(np.float32)
    del envelope
    # Punch is judged where a drummer hears it: on the kick's and the snare's loud hits.
    punchy_groups = [g for g in PUNCH_GROUPS if g in stems] or list(stems)
    hits = np.unique(np.concatenate([_loud_hits(_peaks(stems[g]), sample_rate)
                                     for g in punchy_groups]))  # fmt: skip
    reference = total if dry is None else dry.reshape(-1, dry.shape[-1])
    crest_before = _crests_db(reference, hits, sample_rate)
    # The parallel gain lies between 1 and `parallel_db` under it, so only samples that high
    # under a stem's peak can become its peak or be clipped: each round works on those few.
    floor_db = -(spec.parallel_db + spec.clip_db + _KNEE_DB)
    candidates = {}
    for group, stereo in stems.items():
        peaks = _peaks(stereo)
        if peaks.max() > 0.0:  # a silent stem has nothing to clip or to peak
            candidates[group] = np.flatnonzero(peaks > peaks.max() * 10.0 ** (floor_db / 20.0))
    clipped = [g for g in spec.clip_groups if g in candidates]

    def drive(amount: float) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """For an amount from 0 (none) to 2 (all): the shared gain, and per stem its candidate
        samples after the gain, before and after clipping (the same for a stem not clipped)."""
        gain = _parallel_gain(squeezed, min(amount, 1.0) * spec.parallel_db)
        depth_db = max(0.0, amount - 1.0) * spec.clip_db
        changes = {}
        for group, index in candidates.items():
            plain = stems[group][:, index] * gain[index]
            if depth_db > 0.0 and group in clipped:
                level = float(np.max(np.abs(plain))) * 10.0 ** (-depth_db / 20.0)
                changes[group] = (plain, _bend(plain, level))
            else:
                changes[group] = (plain, plain)
        return gain, changes

    def driven_bus(amount: float) -> tuple[np.ndarray, float]:
        """The driven sum, and the loudest driven stem's peak (dBFS)."""
        gain, changes = drive(amount)
        bus = total * gain
        for group in clipped:
            if group in changes:
                plain, bent = changes[group]
                bus[:, candidates[group]] += bent - plain
        top = max(float(np.max(np.abs(bent))) for _, bent in changes.values())
        return bus, 20.0 * math.log10(top)

    def measure(amount: float, slack_db: float = 0.0) -> tuple[bool, bool]:
        """Whether ``amount`` reaches the targets, and whether it keeps the punch."""
        bus, stem_db = driven_bus(amount)
        punch_lost = float(np.max(crest_before - _crests_db(bus, hits, sample_rate), initial=0))
        loudness = frames_lufs(bus, sample_rate)
        peak_db = 20.0 * math.log10(float(np.max(np.abs(bus))))
        reached = (
            peak_db - loudness <= target_plr_db + slack_db
            and stem_db - loudness <= stem_plr_db + slack_db
        )
        return reached, punch_lost <= spec.punch_budget_db

    # The least drive that reaches the target; where that would cost more punch than the
    # preset allows, the most drive that keeps it (and the beat may then stop short).
    low, high = 0.0, 2.0
    reached, punchy = measure(high)
    high_keeps_punch = punchy
    if not punchy or reached:
        for _ in range(_SEARCH_ROUNDS):
            middle = (low + high) / 2.0
            reached, punchy = measure(middle)
            if punchy and not reached:
                low = middle
            else:
                high, high_keeps_punch = middle, punchy
    amount = high if high_keeps_punch else low
    if must_reach_db is not None and not measure(amount, must_reach_db)[0]:
        # The loudness must be met, and the final limiter would take more than it may: the
        # least drive past the punch budget that spares it.
        low, high = amount, 2.0
        for _ in range(_SEARCH_ROUNDS):
            middle = (low + high) / 2.0
            if measure(middle, must_reach_db)[0]:
                high = middle
            else:
                low = middle
        amount = high
    after = _plr_db(driven_bus(amount)[0], sample_rate)
    gain, changes = drive(amount)
    for group, stereo in stems.items():
        stereo *= gain
        if group in clipped and group in changes:
            stereo[:, candidates[group]] = changes[group][1]
    return DriveReport(
        parallel_db=min(amount, 1.0) * spec.parallel_db,
        clip_db=max(0.0, amount - 1.0) * spec.clip_db,
        peak_reduction_db=before - after,
    )


def soft_clip(stereo: np.ndarray, depth_db: float) -> np.ndarray:
    """A copy of a stem with its loudest hit clipped ``depth_db`` under its peak.

    Under the knee (2 dB below the clip level) the stem passes untouched; above it a tanh
    curve bends toward the clip level, never past it, with no step in level or slope. Softer
    hits lose less, or nothing.
    """
    return _bend(stereo, float(np.max(np.abs(stereo))) * 10.0 ** (-depth_db / 20.0))


def _bend(values: np.ndarray, level: float) -> np.ndarray:
    out = np.array(values, dtype=np.float32)
    if level <= 0.0:
        return out
    knee = level * 10.0 ** (-_KNEE_DB / 20.0)
    span = level - knee
    magnitude = np.abs(out)
    over = magnitude > knee
    bent = knee + span * np.tanh((magnitude[over] - knee) / span)
    out[over] = np.copysign(bent, out[over])
    return out


def _loud_hits(envelope: np.ndarray, sample_rate: int) -> np.ndarray:
    """Start samples of 50 ms windows on the loud hits of a peak envelope: each 50 ms block's
    peak within 12 dB of the loud hits' level, from 2 ms before it."""
    block = max(1, round(_HIT_S * sample_rate))
    count = envelope.size // block
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    blocks = envelope[: count * block].reshape(count, block)
    peaks = blocks.max(axis=1)
    loud = np.flatnonzero(peaks >= loud_hit_peak(envelope, sample_rate) * 10.0 ** (-12 / 20))
    starts = loud * block + blocks[loud].argmax(axis=1) - round(0.002 * sample_rate)
    return np.clip(starts, 0, max(0, envelope.size - block))


def _crests_db(bus: np.ndarray, starts: np.ndarray, sample_rate: int) -> np.ndarray:
    """Crest factor (peak over RMS, dB) of the bus over 50 ms from each start."""
    n = max(1, round(_HIT_S * sample_rate))
    if starts.size == 0:
        return np.zeros(0)
    index = starts[:, np.newaxis] + np.arange(n)
    power = np.square(bus[:, index], dtype=np.float64).sum(axis=0)  # (hits, n)
    peak = power.max(axis=1)
    mean = np.maximum(power.mean(axis=1), 1e-30)
    return 10.0 * np.log10(np.maximum(peak, 1e-30) / mean)


def _parallel_gain(squeezed: np.ndarray, lift_db: float) -> np.ndarray:
    """Dry plus a compressed copy, as one per-sample gain: where the copy is not compressed
    (between hits) the sum is ``lift_db`` louder than the dry; on the peaks, barely louder."""
    mix = 10.0 ** (lift_db / 20.0) - 1.0  # the compressed copy's level against the dry
    gain = squeezed * np.float32(mix)
    gain += np.float32(1.0)
    gain /= np.float32(1.0 + mix)
    return gain


def _plr_db(bus: np.ndarray, sample_rate: int) -> float:
    """The loudest sample peak over the integrated loudness, in dB."""
    loudness = frames_lufs(bus, sample_rate)
    peak = float(np.max(np.abs(bus)))
    if loudness == -math.inf or peak <= 0.0:
        return -math.inf
    return 20.0 * math.log10(peak) - loudness


def _peaks(stereo: np.ndarray) -> np.ndarray:
    return np.max(np.abs(stereo), axis=0)
