"""The mix stage proper: stems through their chains, panned, roomed, glued and normalised.

After the stem chains come gains shared by all stems (glue, parallel compression, loudness) and
a clipper on some stems each, so the delivered stems sum to the master as it was before the
final limiter.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from audiogen.errors import MixError
from audiogen.instruments import GROUPS
from audiogen.mix.chains import (
    MixPreset,
    RoomSpec,
    StemSpec,
    build_chain,
    build_room,
    get_preset,
    stem_spec,
)
from audiogen.mix.drive import FINAL_AIM_DB, Punch, drive_stems
from audiogen.mix.dynamics import all_finite, compressor_gain, peak_of, scale, sum_of
from audiogen.mix.limiter import LIMITER_MARGIN_DB, limit_true_peak
from audiogen.mix.meter import integrated_lufs
from audiogen.mix.normalization import FINAL_LIMITING_DB, LoudnessReport, normalize
from audiogen.mix.targets import DEFAULT_CEILING_DBTP
from audiogen.scratch import blocks, release, track

if TYPE_CHECKING:
    from audiogen.score import DrumScore

# Each stem enters its chain with its peak here, so compressors and saturation act alike on
# loud and soft renders; the stem's own level is given back after the chain.
STEM_DRIVE_DBFS = -6.0
# The summed bus is brought here before the glue compressor, whose threshold refers to it.
BUS_LUFS = -20.0
# Below this peak a stem is treated as silence (a beat without toms still renders a toms stem).
SILENCE_DBFS = -120.0
SAMPLE_RATE_RANGE = (8_000, 192_000)
_SILENCE = 10.0 ** (SILENCE_DBFS / 20.0)
# Stems stay under this sample peak where the target allows stopping short (24-bit files hold
# no more); the drive aims a little lower, since limiting lifts the static gain a little.
STEM_CEILING_DBFS = -0.1
STEM_MARGIN_DB = 0.5
# A preset that must come within its shortfall may lift the stems past that ceiling, letting the
# final limiter go deeper. A stem lifted less than this far past it has its few loudest peaks held
# by a limiter of its own and stays a 24-bit file; one lifted further is written as float, so
# that the stems still add up to the master.
STEM_HOLD_DB = 1.0
# The most crest factor a loud kick or snare hit may lose, chains, drive and final limiter
# together, against the dry render, where the beat may stop short instead.
PUNCH_KEPT_DB = 6.0
_PUNCH_ROUNDS = 6
_PUNCH_SPARE_DB = 0.05
_ROUNDING_DB = 0.005  # a stem this close over its ceiling is on it, but for float32 rounding
# The stem that carries the shared room's return, beside the instrument groups.
ROOM_STEM = "room"
# Long stems are worked on this many samples at a time (a multiple of pedalboard's buffer).
_BLOCK_SAMPLES = 1 << 17


@dataclass(frozen=True, eq=False)
class MixResult:
    """A mixed beat.

    Attributes:
        stems: per group, the processed stereo stem ``(2, n)`` float32 with the master's gain
            applied, and the shared room's return as ``ROOM_STEM`` when the preset sends to
            it; their sum is the master before the limiter.
        mix: the master ``(2, n)`` float32, at the loudness target under the ceiling.
            A long beat's stems and master are `np.memmap` arrays of scratch files (see
            `audiogen.scratch`): read them a block at a time to keep them out of memory.
        sample_rate: in Hz.
        loudness: what normalisation measured and did.
        preset: name of the mix preset used.
    """

    stems: Mapping[str, np.ndarray]
    mix: np.ndarray
    sample_rate: int
    loudness: LoudnessReport
    preset: str


def mix_stems(
    stems: Mapping[str, np.ndarray],
    sample_rate: int,
    preset: str = "acoustic",
    target_lufs: float = -14.0,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    fade_in_s: float = 0.0,
    fade_out_s: float = 0.0,
    max_shortfall_lu: float = 0.0,
    release_stems: bool = False,
    score: DrumScore | None = None,
) -> MixResult:
    """Mix mono drum stems into a stereo master at a loudness target.

    Args:
        stems: mono float arrays ``(n,)`` of one length, keyed by stem group (see
            ``audiogen.instruments.GROUPS``); groups may be missing and stems may be silent.
        sample_rate: in Hz.
        preset: a name from ``MIX_PRESETS``.
        target_lufs: integrated loudness of the master (see ``resolve_loudness``).
        ceiling_dbtp: true-peak ceiling of the master.
        fade_in_s, fade_out_s: fades at the start and the end of the audio (the end includes the
            ring-out of the last hits). They are a gain shared by the master and every stem,
            applied before loudness normalisation, so the faded master meets the target.
        max_shortfall_lu: how far under the target the beat may stop rather than have its
            hits crushed (see `normalize`; `loudness_shortfall` gives each preset's).
        release_stems: empty ``stems`` (a dict the caller no longer needs) as each stem is
            processed, so that a long beat's dry stems are not held through the whole mix.
        score: what ``stems`` play; where the beat may stop short, the master keeps the punch
            of its loud kick and snare hits as played (default: the drive's loud hits).

    Returns:
        The stereo stems, the master and a loudness report.

    Raises:
        MixError: for an unknown preset or group, malformed stems, a silent beat, or a loudness
            target out of reach.
    """
    chosen = get_preset(preset)
    monos = _checked_stems(stems, sample_rate)
    if all(_is_silent(mono) for mono in monos.values()):
        raise MixError(
            "the beat is silent: every stem is silence, so there is nothing to mix or "
            "normalise; check that the score has notes and the kit has sounds"
        )

    # The drive keeps the hits' punch against the beat as rendered: their sum is all it needs
    # of the dry stems, which can then go as each is processed.
    dry = sum_of(monos.values())
    # The punch kept is the score's loud kick and snare hits' as played, where it has them.
    punch = Punch.of_score(score, dry, sample_rate) if score is not None else None
    punch = punch if punch is not None and punch.starts.size else None
    if release_stems:
        assert isinstance(stems, MutableMapping)
        stems.clear()
    workers = max(1, min(len(monos), os.cpu_count() or 1))
    # Pedalboard and numpy release the GIL, and every stem gets its own fresh plugins. Stems
    # with the longest chains start first, so the workers finish together.
    slowest_first = sorted(monos, key=lambda group: -_chain_length(chosen, group))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            group: pool.submit(_process_stem, monos[group], chosen, group, sample_rate)
            for group in slowest_first
        }
        processed: dict[str, np.ndarray] = {}
        sent: np.ndarray | None = None
        for group in list(monos):
            processed[group], send = futures[group].result()
            if send is not None:
                sent = send if sent is None else _add(sent, send)
            del futures[group], send
            if release_stems:
                del monos[group]
    # One room for the whole kit, delivered as its own stem (as a drum multitrack has room
    # mics): the reverb runs once, and the stems still add up to the master.
    if sent is not None:
        processed[ROOM_STEM] = _room_return(sent, chosen.room, sample_rate)
    del sent

    bus = sum_of(processed.values())
    bus_lufs = integrated_lufs(bus, sample_rate)
    if bus_lufs == -math.inf:
        raise MixError(
            "the beat is silent (below -70 LUFS after mixing), so it cannot be normalised; "
            "check the stem levels"
        )
    scale(bus, 10.0 ** ((BUS_LUFS - bus_lufs) / 20.0))
    shared_gain = compressor_gain(bus, sample_rate, chosen.glue)
    del bus
    if fade_in_s > 0.0 or fade_out_s > 0.0:
        # The curve is 1 between the fades: only its ends are made and applied.
        fade_in, fade_out = _fade_ends(shared_gain.size, sample_rate, fade_in_s, fade_out_s)
        shared_gain[: fade_in.size] *= fade_in
        shared_gain[shared_gain.size - fade_out.size :] *= fade_out
    scale(shared_gain, 10.0 ** ((BUS_LUFS - bus_lufs) / 20.0))
    # The stems are scaled in place: a minute of stereo is 23 MB.
    for stereo in processed.values():
        scale(stereo, shared_gain)
    del shared_gain
    # What the target and the ceiling leave for the loud hits' peak over the loudness, less
    # what the final limiter is meant to take.
    room_db = ceiling_dbtp - LIMITER_MARGIN_DB - target_lufs + FINAL_AIM_DB
    stem_room_db = STEM_CEILING_DBFS - STEM_MARGIN_DB - target_lufs
    # A preset that may stop short keeps the hits' punch; one that must meet its loudness
    # spends it in the drive rather than in the final limiter, past what that may take.
    must_reach = None if math.isinf(max_shortfall_lu) else FINAL_LIMITING_DB - FINAL_AIM_DB
    drive = drive_stems(processed, sample_rate, chosen.drive, room_db, stem_room_db, dry,
                        must_reach, punch)  # fmt: skip
    del dry
    # Where the beat may stop short, it does so before a stem would pass full scale, so that
    # stems stay 24-bit integer files that still add up to the master.
    loudest_stem_db = 20.0 * math.log10(max(peak_of(s) for s in processed.values()))
    bus = sum_of(processed.values())
    limiting_db = FINAL_LIMITING_DB
    punch = drive.punch or punch
    # A beat that may stop short keeps its hits' punch: the final limiter may take no hit past
    # `PUNCH_KEPT_DB` lost (nor further past it than the chains and the drive left it).
    kept = (np.maximum(punch.lost_db(bus, sample_rate), PUNCH_KEPT_DB)
            if must_reach is None and punch is not None else None)  # fmt: skip
    for _ in range(_PUNCH_ROUNDS):
        mix = None  # let the last round's master go before the next is made
        mix, report = normalize(bus, sample_rate, target_lufs, ceiling_dbtp, max_shortfall_lu,
                                max_gain_db=STEM_CEILING_DBFS - loudest_stem_db,
                                max_limiting_db=limiting_db)  # fmt: skip
        if kept is None or report.limiting_db <= 0.0:
            break
        assert punch is not None  # the hits ``kept`` was measured on
        over_db = float(np.max(punch.lost_db(mix, sample_rate) - kept, initial=0.0))
        if over_db <= _PUNCH_SPARE_DB / 5:  # a hundredth of a dB: float rounding
            break
        # A hit's crest factor moves by less than the limiter's depth: step past the excess.
        limiting_db = max(0.0, report.limiting_db - 1.5 * over_db - _PUNCH_SPARE_DB)
    del bus
    assert mix is not None  # made in every round, and there is at least one
    report = dataclasses.replace(report, drive=drive)
    master_gain = 10.0 ** (report.gain_db / 20.0)
    for stereo in processed.values():
        scale(stereo, master_gain)
        _hold_under_ceiling(stereo, sample_rate)
    return MixResult(
        stems=processed,
        mix=mix,
        sample_rate=sample_rate,
        loudness=report,
        preset=chosen.name,
    )


def _hold_under_ceiling(stereo: np.ndarray, sample_rate: int) -> None:
    """Limit ``stereo`` in place under the stems' ceiling if it is over it by at most
    `STEM_HOLD_DB`."""
    over_db = 20.0 * math.log10(max(peak_of(stereo), 1e-30)) - STEM_CEILING_DBFS
    if _ROUNDING_DB < over_db <= STEM_HOLD_DB:
        stereo[...] = limit_true_peak(stereo, sample_rate, STEM_CEILING_DBFS)[0]


def fade_curve(n: int, sample_rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Per-sample gain ``(n,)`` float32: half-cosine fades in from 0 and out to 0.

    Raises:
        MixError: for negative fades, or fades that together last longer than the audio.
    """
    fade_in, fade_out = _fade_ends(n, sample_rate, fade_in_s, fade_out_s)
    curve = np.ones(n, dtype=np.float32)
    curve[: fade_in.size] = fade_in
    curve[n - fade_out.size :] = fade_out
    return curve


def _fade_ends(
    n: int, sample_rate: int, fade_in_s: float, fade_out_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The fade curve's first and last stretches (float32), where it is not 1."""
    if not (fade_in_s >= 0.0 and fade_out_s >= 0.0):
        raise MixError(f"fades must be 0 s or longer, got {fade_in_s} s and {fade_out_s} s")
    fade_in = round(fade_in_s * sample_rate)
    fade_out = round(fade_out_s * sample_rate)
    if fade_in + fade_out > n:
        raise MixError(
            f"fades of {fade_in_s:g} s in and {fade_out_s:g} s out do not fit in "
            f"{n / sample_rate:.1f} s of audio: shorten them or render more bars"
        )
    rising = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / max(fade_in, 1))
    falling = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / max(fade_out, 1))
    return rising.astype(np.float32), falling.astype(np.float32)


def pan_stereo(mono: np.ndarray, pan: float) -> np.ndarray:
    """Place a mono signal in stereo with the constant-power law (-1 left, 0 centre, +1 right).

    Returns:
        ``(2, n)``; the power ``L**2 + R**2`` equals the mono power wherever it is placed.
    """
    if not -1.0 <= pan <= 1.0:
        raise MixError(f"a pan of {pan} is out of range: use -1 (left) to +1 (right)")
    angle = (pan + 1.0) * math.pi / 4.0
    stereo = np.empty((2, np.size(mono)), dtype=np.result_type(mono, 1.0))
    np.multiply(mono, math.cos(angle), out=stereo[0])
    np.multiply(mono, math.sin(angle), out=stereo[1])
    return stereo


def _process_stem(
    mono: np.ndarray, preset: MixPreset, group: str, sample_rate: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """One stem through its chain, the master EQ and pan: ``(2, n)`` float32, and what it sends
    to the room (mono, or None). Both passes go a block at a time, the plugins' state carried
    over (which pedalboard makes sample-exact), so a long stem is never copied whole."""
    peak = peak_of(mono)
    n = mono.size
    if peak < _SILENCE:
        return track((2, n)), None
    spec: StemSpec = stem_spec(preset, group)
    drive = 10.0 ** (STEM_DRIVE_DBFS / 20.0) / peak
    chain = build_chain(spec.chain)
    treated = track((n,))
    energy_in = energy_out = 0.0
    for part in blocks(n, _BLOCK_SAMPLES):
        driven = mono[part] * drive  # float32, as pedalboard takes it
        release(mono)
        energy_in += _energy(driven)
        treated[part] = chain(driven[np.newaxis, :], sample_rate, reset=part.start == 0)[0]
        energy_out += _energy(treated[part])
        release(treated)
    # Hand the stem back with the energy it came in with, moved only by the preset's level.
    makeup = math.sqrt(energy_in / energy_out) if energy_out > 0.0 else 1.0
    makeup *= 10.0 ** (spec.level_db / 20.0) / drive
    # The master EQ is linear and alike on both sides, so it commutes with pan and room:
    # running it once on the mono stem equals running it on the stereo stem and its return.
    master_eq = build_chain(preset.master_eq, linear_only=True)
    stereo = track((2, n))
    sent = None if spec.send_db == -math.inf else track((n,))
    for part in blocks(n, _BLOCK_SAMPLES):
        scaled = np.empty(part.stop - part.start, dtype=np.float32)
        np.multiply(treated[part], makeup, out=scaled, dtype=np.float64, casting="unsafe")
        voiced = master_eq(scaled[np.newaxis, :], sample_rate, reset=part.start == 0)[0]
        stereo[:, part] = pan_stereo(voiced, spec.pan)
        if not np.all(np.isfinite(stereo[:, part])):
            raise MixError(
                f"mix preset {preset.name!r} turned the {group} stem into NaN or infinite samples"
            )
        if sent is not None:
            np.multiply(voiced, np.float32(10.0 ** (spec.send_db / 20.0)), out=sent[part])
        release(treated, stereo, sent)
    return stereo, sent


def _room_return(sent: npt.NDArray[np.float32], room: RoomSpec, sample_rate: int) -> np.ndarray:
    """The shared room's return ``(2, n)`` for what every stem sent to it (mono).

    The send enters the room centred (constant power). The room runs a block at a time with its
    state carried over, which pedalboard makes sample-exact, so no copy of the whole send is
    made; nothing comes back before the first sent sample, so the reverb starts there.
    """
    n = sent.size
    stereo = track((2, n))
    first = None
    for begin in range(0, n, _BLOCK_SAMPLES):
        nonzero = np.flatnonzero(sent[begin : begin + _BLOCK_SAMPLES])
        release(sent)
        if nonzero.size:
            first = begin + int(nonzero[0])
            break
    if first is None:
        return stereo
    start = first + round(room.predelay_ms * sample_rate / 1000.0)
    filters, reverb = build_room(room)
    for begin in range(0, n - start, _BLOCK_SAMPLES):
        stop = min(n - start, begin + _BLOCK_SAMPLES)
        part = sent[first + begin : first + stop] / np.float32(math.sqrt(2.0))
        filtered = filters(part[np.newaxis, :], sample_rate, reset=begin == 0)[0]
        returned = reverb(np.stack([filtered, filtered]), sample_rate, reset=begin == 0)
        stereo[:, start + begin : start + stop] += returned
        release(sent, stereo)
    return stereo


def _add(total: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``total += more``, a block at a time."""
    for part in blocks(total.shape[-1], _BLOCK_SAMPLES):
        np.add(total[..., part], more[..., part], out=total[..., part])
        release(total, more)
    return total


def _chain_length(preset: MixPreset, group: str) -> int:
    return len(stem_spec(preset, group).chain)


def _energy(signal: np.ndarray) -> float:
    """Sum of squares in float64, a block at a time (no float64 copy of the whole signal)."""
    total = 0.0
    for begin in range(0, signal.size, _BLOCK_SAMPLES):
        block = signal[begin : begin + _BLOCK_SAMPLES].astype(np.float64)
        total += float(np.dot(block, block))
    return total


def _is_silent(mono: np.ndarray) -> bool:
    return peak_of(mono) < _SILENCE


def _checked_stems(stems: Mapping[str, np.ndarray], sample_rate: int) -> dict[str, np.ndarray]:
    """Stems as float32 mono arrays in group order, or a MixError saying what is wrong."""
    low, high = SAMPLE_RATE_RANGE
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise MixError(f"the sample rate must be a whole number of Hz, got {sample_rate!r}")
    if not low <= sample_rate <= high:
        raise MixError(f"a sample rate of {sample_rate} Hz is out of range ({low}-{high} Hz)")
    if not stems:
        raise MixError("there are no stems to mix")
    unknown = sorted(set(stems) - set(GROUPS))
    if unknown:
        raise MixError(
            f"unknown stem group(s) {', '.join(map(repr, unknown))}: "
            f"expected some of {', '.join(GROUPS)}"
        )
    checked: dict[str, np.ndarray] = {}
    for group in (g for g in GROUPS if g in stems):
        mono = np.asarray(stems[group], dtype=np.float32)
        if mono.ndim != 1 or mono.size == 0:
            raise MixError(
                f"the {group} stem must be a non-empty mono array (samples,), got {mono.shape}"
            )
        if not all_finite(mono):
            raise MixError(f"the {group} stem contains NaN or infinite samples")
        checked[group] = mono
    lengths = {group: mono.size for group, mono in checked.items()}
    if len(set(lengths.values())) > 1:
        raise MixError(f"stems must all have the same length, got {lengths}")
    return checked
