"""Drum-bus drive: how a beat gets loud before its final limiter, as a mix engineer gets drums
loud. Parallel compression lifts what lies under the peaks (the body of each hit, the room,
the ghost notes); then a soft clipper on the kick, snare and toms shaves the tops of their
transients. Each goes only as deep as the beat's loudness target needs, so a beat that is loud
enough already is left alone. Where the loudness must be met, the sum itself is then clipped
on the hits that land together.

Parallel compression is one gain shared by every stem, each stem is clipped on its own, and
the sum's clip is one gain per sample shared by every stem, so the stems still sum to the bus
that the final limiter gets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from audiogen.mix.chains import DriveSpec
from audiogen.mix.dynamics import loud_hit_peak, peak_of, sum_of, window_peaks
from audiogen.mix.limiter import limiter_gain
from audiogen.mix.meter import frames_lufs
from audiogen.scratch import blocks, release, track

if TYPE_CHECKING:
    from audiogen.score import DrumScore

# The drive aims this far above the ceiling: what the final true-peak limiter is meant to take
# off the loud hits (it may take up to `FINAL_LIMITING_DB` off the loudest).
FINAL_AIM_DB = 1.0
_SEARCH_ROUNDS = 6
_CLOSE_DB = 0.1  # the search stops this close to a target (the limiter's aim is 1 dB over it)
_STEP = 1.0 / 32.0  # ... or this close in amount (a 32nd of the parallel or the clip depth)
_SPARE_DB = 0.01  # float32 rounding of the gain, kept clear of when choosing candidates
PUNCH_GROUPS = ("kick", "snare")
PUNCH_VELOCITY = 64  # a score's hits this hard or harder are the loud ones whose punch counts
_HIT_S = 0.05  # the window in which a hit's punch (crest factor) is kept
_KNEE_DB = 2.0  # a clipped stem is left untouched up to this far under its clip level
_PEAK_BLOCK = 1 << 16  # samples per channel made into magnitudes at a time
_CREST_HITS = 64  # hits whose crest factors are worked out at a time


@dataclass(frozen=True)
class DriveReport:
    """What the drive did.

    Attributes:
        parallel_db: how far parallel compression lifted the quiet parts against the peaks.
        clip_db: how far under its loud hits each clipped stem was clipped.
        bus_clip_db: how far under its loudest peak the sum was clipped where hits land
            together (only where the loudness must be met).
        peak_reduction_db: the bus's peak-to-loudness ratio before the drive minus after it.
        punch: the loud kick and snare hits it kept the punch of, to measure the master by
            (None where it did nothing).
    """

    parallel_db: float = 0.0
    clip_db: float = 0.0
    peak_reduction_db: float = 0.0
    bus_clip_db: float = 0.0
    punch: Punch | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class Punch:
    """The loud kick and snare hits' start samples and their crest factors (dB) in the dry
    render."""

    starts: np.ndarray
    dry_db: np.ndarray

    @classmethod
    def of_score(cls, score: DrumScore, dry: np.ndarray, sample_rate: int) -> Punch:
        """The score's loud kick and snare hits (velocity `PUNCH_VELOCITY` or more) from
        when each sounds, in ``dry`` ``(n,)`` or ``(channels, n)``."""
        frames = dry.reshape(-1, dry.shape[-1])
        last = max(0, frames.shape[-1] - max(1, round(_HIT_S * sample_rate)))
        times = [score.time_s(h) for h in score.hits
                 if h.group in PUNCH_GROUPS and h.velocity >= PUNCH_VELOCITY]  # fmt: skip
        starts = np.unique(np.clip(np.round(np.array(times) * sample_rate), 0, last))
        starts = starts.astype(np.int64)
        return cls(starts, _crests_db(frames, starts, sample_rate))

    def lost_db(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The crest factor each hit has lost in ``audio`` ``(channels, n)``."""
        return self.dry_db - _crests_db(audio, self.starts, sample_rate)


def drive_stems(
    stems: dict[str, np.ndarray],
    sample_rate: int,
    spec: DriveSpec,
    target_plr_db: float,
    stem_plr_db: float = math.inf,
    dry: np.ndarray | None = None,
    must_reach_db: float | None = None,
    punch: Punch | None = None,
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
        punch: the hits whose punch is kept, with their crest factors in the dry render (see
            `Punch.of_score`; default: the loud hits of the kick and snare stems as given,
            against ``dry``).

    Returns:
        What was done; nothing is done when the sum's ratio is already at or under the target.
    """
    total = sum_of(stems.values())
    loudness = frames_lufs(total, sample_rate)
    before = _plr_db(peak_of(total), loudness)
    loudest_stem_db = 20.0 * math.log10(max(peak_of(s) for s in stems.values()))
    fits = before <= target_plr_db and loudest_stem_db - loudness <= stem_plr_db
    if fits or spec.parallel_db <= 0.0 and spec.clip_db <= 0.0:
        return DriveReport()
    # The compressed path's gain: a look-ahead peak compressor (the limiter's gain computer)
    # deep under the loud hits, so that the path holds each transient down from its first
    # sample; an RMS detector would let the transient through and lift it with the rest.
    envelope = _peaks(total)
    threshold = loud_hit_peak(envelope, sample_rate) * 10.0 ** (spec.parallel_threshold_db / 20.0)
    squeezed = limiter_gain(envelope, threshold, sample_rate, dtype=np.float32)
    del envelope  # (each whole-track array here is a scratch file for a long beat)
    # Punch is judged where a drummer hears it: on the kick's and the snare's loud hits.
    if punch is None:
        punchy_groups = [g for g in PUNCH_GROUPS if g in stems] or list(stems)
        hits = np.unique(np.concatenate([_loud_hits(_peaks(stems[g]), sample_rate)
                                         for g in punchy_groups]))  # fmt: skip
        reference = total if dry is None else dry.reshape(-1, dry.shape[-1])
        punch = Punch(hits, _crests_db(reference, hits, sample_rate))
    hits, crest_before = punch.starts, punch.dry_db
    candidates = _Candidates(stems, spec)

    def drive(amount: float) -> tuple[np.ndarray, dict[str, float], float]:
        """For an amount from 0 (none) to 2 (all; past it the sum is clipped, see
        `_clip_bus`): the shared gain; per clipped stem, the level it is clipped to (it bends
        `_Candidates.bent`); and the loudest driven stem's peak."""
        lift_db = min(amount, 1.0) * spec.parallel_db
        gain = _parallel_gain(squeezed, lift_db)
        depth_db = min(max(0.0, amount - 1.0), 1.0) * spec.clip_db
        top, clips = 0.0, {}
        for group in candidates.groups:
            # The stem's driven peak lies among its loud samples, since the gain is at most 1.
            loud = _driven(stems[group], gain, candidates.loud(group))
            peak = max((float(np.max(np.abs(plain))) for _, plain in loud), default=0.0)
            if depth_db > 0.0 and candidates.is_clipped(group):
                level = peak * 10.0 ** (-depth_db / 20.0)
                clips[group] = level
                bent = _driven(stems[group], gain, candidates.bent(group, level))
                peak = max((float(np.max(np.abs(_bend(plain, level)))) for _, plain in bent),
                           default=0.0)  # fmt: skip
            top = max(top, peak)
        return gain, clips, top

    points: dict[float, _Point] = {}
    last: list[tuple[float, tuple[np.ndarray, dict[str, float], float]]] = []  # kept to apply

    def measure(amount: float) -> _Point:
        """How far ``amount`` leaves the sum over its targets and the hits over their budget."""
        if amount not in points:
            if amount == 0.0:
                bus, loud_db, stem_db = total, loudness, loudest_stem_db
            else:
                gain, clips, top = drive(amount)
                last[:] = [(amount, (gain, clips, top))]
                bus = track(total.shape)
                for part in blocks(bus.shape[-1]):
                    np.multiply(total[:, part], gain[part], out=bus[:, part])
                    release(total, gain, bus)
                # Each clipped stem's change, where the clipper bends it.
                for group, level in clips.items():
                    for where, plain in _driven(stems[group], gain, candidates.bent(group, level)):
                        bus[:, where] += _bend(plain, level) - plain
                        release(bus)
                if amount > 2.0:
                    _clip_bus(bus, (amount - 2.0) * spec.bus_clip_db)
                # Past 2 the stems are only turned down, so ``top`` bounds them from above.
                loud_db, stem_db = frames_lufs(bus, sample_rate), 20.0 * math.log10(top)
            plr_db = _plr_db(peak_of(bus), loud_db)
            lost = float(np.max(crest_before - _crests_db(bus, hits, sample_rate), initial=0))
            points[amount] = _Point(
                over_db=max(plr_db - target_plr_db, stem_db - loud_db - stem_plr_db),
                punch_db=lost - spec.punch_budget_db,
                plr_db=plr_db,
            )
        return points[amount]

    # The least drive that reaches the target; where that would cost more punch than the
    # preset allows, the most drive that keeps it (and the beat may then stop short).
    amount = _least(lambda a: min(measure(a).over_db, -measure(a).punch_db), 0.0, 2.0,
                    keep_low=lambda high: measure(high).punch_db > 0.0)  # fmt: skip
    if must_reach_db is not None and measure(amount).over_db > must_reach_db:
        # The loudness must be met, and the final limiter would take more than it may: the
        # least drive past the punch budget that spares it. Past the deepest clip of each
        # stem, the sum itself is clipped: where hits land together (a one-drop's kick and
        # rim on three) the sum peaks over every stem's clip level, and a clipper that bends
        # only those samples costs the hits less than the limiter's gain, which takes down
        # all of each hit's first milliseconds.
        deepest = 3.0 if spec.bus_clip_db > 0.0 else 2.0
        amount = _least(lambda a: measure(a).over_db - must_reach_db, amount, deepest)
    after = measure(amount).plr_db
    gain, clips, _ = last[0][1] if last and last[0][0] == amount else drive(amount)
    last.clear()
    for group, stereo in stems.items():
        # The clipper bends the stem as driven: each block's bent samples, made before the
        # block is driven in place.
        level = clips.get(group, 0.0)
        bent = _driven(stereo, gain, candidates.bent(group, level) if group in clips else iter(()))
        upcoming = next(bent, None)
        for part in blocks(stereo.shape[-1]):
            changes = []
            while upcoming is not None and upcoming[0][0] < part.stop:
                changes.append((upcoming[0], _bend(upcoming[1], level)))
                upcoming = next(bent, None)
            stereo[:, part] *= gain[part]
            for where, values in changes:
                stereo[:, where] = values
            release(stereo, gain)
    bus_clip_db = max(0.0, amount - 2.0) * spec.bus_clip_db
    if bus_clip_db > 0.0:
        # One gain per sample and channel, shared by every stem: they still add up to the
        # clipped sum.
        bends = _clip_bus(sum_of(stems.values()), bus_clip_db)
        for stereo in stems.values():
            for bent_at, bend in bends:
                stereo[bent_at] *= bend
                release(stereo)
    return DriveReport(
        parallel_db=min(amount, 1.0) * spec.parallel_db,
        clip_db=min(max(0.0, amount - 1.0), 1.0) * spec.clip_db,
        peak_reduction_db=before - after,
        bus_clip_db=bus_clip_db,
        punch=punch,
    )


def _clip_bus(
    bus: np.ndarray, depth_db: float
) -> list[tuple[tuple[np.ndarray, np.ndarray], np.ndarray]]:
    """Soft-clip a stereo sum, in place, ``depth_db`` under its peak (as `soft_clip`), a block
    at a time.

    Returns:
        Block by block, where it bent (channel and sample indices) and, there, the bent
        values over the sum's: the gain that bends it.
    """
    level = peak_of(bus) * 10.0 ** (-depth_db / 20.0)
    knee = np.float32(level * 10.0 ** (-_KNEE_DB / 20.0))
    bends = []
    for part in blocks(bus.shape[-1]):
        block = bus[:, part]
        where = np.nonzero((block > knee) | (block < -knee))  # |bus| > knee, without |bus|
        if where[0].size:
            plain = block[where]
            bent = _bend(plain, level)
            block[where] = bent
            bends.append(((where[0], where[1] + part.start), bent / plain))
        release(bus)
    return bends


def _driven(
    stereo: np.ndarray, gain: np.ndarray, index: Iterable[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A stem times the gain at sorted sample indices given a block of the track at a time
    (blocks that hold none left out, see `_Candidates`): each block's indices, and
    ``stereo[:, those] * gain[those]``."""
    for where in index:
        yield where, stereo[:, where] * gain[where]
        release(stereo, gain)


@dataclass(frozen=True)
class _Point:
    """One drive amount, measured on the driven sum (dB): how far its ratios stand over their
    targets (<= 0: reached), how far its loudest hit's lost punch stands over the budget
    (<= 0: kept), and its peak-to-loudness ratio."""

    over_db: float
    punch_db: float
    plr_db: float


def _least(
    excess: Callable[[float], float],
    low: float,
    high: float,
    keep_low: Callable[[float], bool] = lambda high: False,
) -> float:
    """The least amount in ``[low, high]`` whose ``excess`` (in dB, falling as the amount
    grows) is at most 0, within `_CLOSE_DB` of 0 or `_STEP` of the amount; ``high`` where
    none is. Regula falsi (the Illinois variant): the drive's ratios move nearly in
    proportion to its depth in dB, so two or three measurements land where halving the
    interval took six. ``keep_low`` says, of the bracket's upper end, that the lower end
    is the answer instead (one the search must stay under); it is then brought as close."""
    at_low, at_high = excess(low), excess(high)
    if at_high > 0.0:
        return high
    if at_low <= 0.0:
        return low
    weight_low = weight_high = 1.0
    side = 0
    for _ in range(_SEARCH_ROUNDS):
        done_high = not keep_low(high) and at_high >= -_CLOSE_DB
        done_low = keep_low(high) and at_low <= _CLOSE_DB
        if done_high or done_low or high - low <= _STEP:
            break
        # The secant through both ends (an end that stayed twice is halved in weight, so
        # the bracket closes from both sides), kept a step inside the bracket.
        scaled_low, scaled_high = at_low * weight_low, at_high * weight_high
        middle = high - scaled_high * (high - low) / (scaled_high - scaled_low)
        middle = min(max(middle, low + _STEP / 2.0), high - _STEP / 2.0)
        at_middle = excess(middle)
        if at_middle > 0.0:
            low, at_low, weight_low = middle, at_middle, 1.0
            weight_high = weight_high / 2.0 if side == -1 else 1.0
            side = -1
        else:
            high, at_high, weight_high = middle, at_middle, 1.0
            weight_low = weight_low / 2.0 if side == 1 else 1.0
            side = 1
    return low if keep_low(high) else high


class _Candidates:
    """The few samples of each stem a drive round must look at: where its driven peak can
    lie (the parallel gain is between 1 and ``parallel_db`` under it) and, in clipped stems,
    where the clipper can bend (down to its knee under the deepest clip).

    Each is given a block of the track at a time (`blocks`), sorted, blocks that hold none left
    out. A short beat's are found once and kept; a long beat's (its tracks in scratch files)
    grow with its length, so they are found again a block at a time wherever a round asks, from
    each stem's per-sample peak kept in a scratch track.
    """

    def __init__(self, stems: dict[str, np.ndarray], spec: DriveSpec) -> None:
        self.groups: list[str] = []  # the stems that are not silent
        self._loud_levels: dict[str, float] = {}
        self._near_levels: dict[str, float] = {}  # of the clipped stems
        self._kept: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # a short beat's
        self._peaks: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # a long beat's, block peaks
        self._bent: dict[str, tuple[np.float32, np.ndarray]] = {}  # a short beat's last asked
        self._n = next(iter(stems.values())).shape[-1] if stems else 0
        reach = 10.0 ** (-(spec.parallel_db + spec.clip_db + _KNEE_DB + _SPARE_DB) / 20.0)
        for group, stereo in stems.items():
            peaks = _peaks(stereo)
            top = peak_of(peaks)
            if top <= 0.0:  # a silent stem has nothing to clip or to peak
                continue
            self.groups.append(group)
            self._loud_levels[group] = top * 10.0 ** (-(spec.parallel_db + _SPARE_DB) / 20.0)
            if group in spec.clip_groups:
                self._near_levels[group] = top * reach
            if isinstance(peaks, np.memmap):
                tops = []  # each block's highest, to pass over blocks that hold none
                for part in blocks(peaks.size):
                    tops.append(np.max(peaks[part]))
                    release(peaks)
                self._peaks[group] = peaks, np.array(tops, dtype=peaks.dtype)
                continue
            loud = _at_least(peaks, self._loud_levels[group])
            near = np.zeros(0, dtype=np.int32)
            if group in self._near_levels:
                near = _at_least(peaks, self._near_levels[group], strictly=True)
            self._kept[group] = loud, near, peaks[near]

    def is_clipped(self, group: str) -> bool:
        return group in self._near_levels

    def loud(self, group: str) -> Iterator[np.ndarray]:
        """The stem's samples within reach of its driven peak."""
        if group in self._kept:
            return _split(self._kept[group][0], self._n)
        return self._found(group, lambda block: block >= self._loud_levels[group])

    def bent(self, group: str, level: float) -> Iterator[np.ndarray]:
        """The clipped stem's samples that its clipper at ``level`` bends: those over its
        knee."""
        over = np.float32(level * 10.0 ** (-_KNEE_DB / 20.0))
        if group in self._kept:
            if group not in self._bent or self._bent[group][0] != over:
                _, near, peaks = self._kept[group]
                self._bent[group] = over, near[peaks > over]
            return _split(self._bent[group][1], self._n)
        near_level = self._near_levels[group]
        return self._found(group, lambda block: (block > near_level) & (block > over))

    def _found(
        self, group: str, chosen: Callable[[np.ndarray], np.ndarray]
    ) -> Iterator[np.ndarray]:
        """Where ``chosen`` holds of a long beat's per-sample peaks, a block at a time (blocks
        whose peak it does not hold are not read)."""
        peaks, tops = self._peaks[group]
        for part, holds in zip(blocks(peaks.size), chosen(tops), strict=True):
            if holds:
                yield np.flatnonzero(chosen(peaks[part])).astype(np.int32) + np.int32(part.start)
                release(peaks)


def _split(index: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """Sorted sample indices of a track of ``n`` samples, a block of it at a time (blocks that
    hold none left out)."""
    for part in blocks(n):
        first, last = np.searchsorted(index, [part.start, part.stop])
        if first < last:
            yield index[first:last]


def _at_least(peaks: np.ndarray, level: float, strictly: bool = False) -> np.ndarray:
    """Where ``peaks`` reach ``level`` (pass it, with ``strictly``), as int32 sample indices
    (a track is far under 2**31 samples: half the memory)."""
    return np.flatnonzero(peaks > level if strictly else peaks >= level).astype(np.int32)


def soft_clip(stereo: np.ndarray, depth_db: float) -> np.ndarray:
    """A copy of a stem with its loudest hit clipped ``depth_db`` under its peak.

    Under the knee (2 dB below the clip level) the stem passes untouched; above it a tanh
    curve bends toward the clip level, never past it, with no step in level or slope. Softer
    hits lose less, or nothing.
    """
    return _bend(stereo, peak_of(stereo) * 10.0 ** (-depth_db / 20.0))


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
    peaks = window_peaks(envelope, block)
    loud = np.flatnonzero(peaks >= loud_hit_peak(envelope, sample_rate) * 10.0 ** (-12 / 20))
    # Where in its block each loud peak lies, a stretch of blocks at a time.
    within = np.empty(loud.size, dtype=np.int64)
    per = max(1, _PEAK_BLOCK // block)
    for first in range(0, count, per):
        last = min(count, first + per)
        chosen = slice(*np.searchsorted(loud, [first, last]))
        stretch = envelope[first * block : last * block].reshape(-1, block)
        within[chosen] = stretch[loud[chosen] - first].argmax(axis=1)
        release(envelope)
    starts = loud * block + within - round(0.002 * sample_rate)
    return np.clip(starts, 0, max(0, envelope.size - block))


def _crests_db(bus: np.ndarray, starts: np.ndarray, sample_rate: int) -> np.ndarray:
    """Crest factor (peak over RMS, dB) of the bus over 50 ms from each start."""
    n = max(1, round(_HIT_S * sample_rate))
    crests = np.zeros(starts.size)
    # A few hundred hits at a time: the windows' powers of every hit of a long beat at once
    # would be as large as the bus.
    for first in range(0, starts.size, _CREST_HITS):
        index = starts[first : first + _CREST_HITS, np.newaxis] + np.arange(n)
        # Summed over channels one at a time, in order: a (channels, hits, n) gather costs 5x
        # more.
        power = np.square(bus[0, index], dtype=np.float64)  # (hits, n)
        for channel in bus[1:]:
            power += np.square(channel[index], dtype=np.float64)
        release(bus)
        peak = power.max(axis=1)
        mean = np.maximum(power.mean(axis=1), 1e-30)
        crests[first : first + _CREST_HITS] = 10.0 * np.log10(np.maximum(peak, 1e-30) / mean)
    return crests


def _parallel_gain(squeezed: np.ndarray, lift_db: float) -> np.ndarray:
    """Dry plus a compressed copy, as one per-sample gain: where the copy is not compressed
    (between hits) the sum is ``lift_db`` louder than the dry; on the peaks, barely louder."""
    mix = 10.0 ** (lift_db / 20.0) - 1.0  # the compressed copy's level against the dry
    gain = track(squeezed.shape)
    for part in blocks(squeezed.size):
        block = gain[part]
        np.multiply(squeezed[part], np.float32(mix), out=block)
        block += np.float32(1.0)
        block /= np.float32(1.0 + mix)
        release(squeezed, gain)
    return gain


def _plr_db(peak: float, loudness: float) -> float:
    """A peak (linear) over an integrated loudness (LUFS), in dB."""
    if loudness == -math.inf or peak <= 0.0:
        return -math.inf
    return 20.0 * math.log10(peak) - loudness


def _peaks(stereo: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude over the channels, ``(n,)``; made a block at a time,
    so that no ``|stereo|`` of the whole track is made beside it."""
    peaks = track((stereo.shape[-1],), stereo.dtype.type)
    for part in blocks(peaks.size, _PEAK_BLOCK):
        np.max(np.abs(stereo[:, part]), axis=0, out=peaks[part])
        release(stereo, peaks)
    return peaks
