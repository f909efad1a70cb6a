"""Seamless loops, between render and mix: a beat exactly N bars long whose ringing tails wrap
round to its start, mixed in steady state so that its end flows into its start as a bar flows
into the next one.

How it is done: the sampler's stems (bars plus ring-out) are folded onto the loop's length, so
every tail that rings past the end sounds at the start, as it would on the second time round.
That periodic performance is played several times over into the mix stage (compressors, room
and limiter settle into what they do on repeat) and one period from the middle is kept.

Length: ``bars × beats × 60 / bpm × sample_rate`` samples. When that is not a whole number the
loop is rounded to the nearest sample; hits keep their own nearest-sample positions inside it, so
the loop is off the exact tempo by under half a sample per pass (11 µs at 44.1 kHz).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from audiogen.errors import MixError, RequestError
from audiogen.mix import (
    DEFAULT_CEILING_DBTP,
    MAX_MISS_LU,
    TOLERANCE_LU,
    MixResult,
    integrated_lufs,
    mix_stems,
)
from audiogen.score import TICKS_PER_QUARTER, DrumScore

# Played this long before the kept period, the room's tail and the compressors have settled.
SETTLE_S = 4.0
# A loop's loudness is measured over at least this much of it on repeat.
LOUDNESS_SPAN_S = 30.0
# A loop is a loop: longer ones would be mixed three times over for little use.
MAX_LOOP_S = 300.0
# Spectral flux for `seam_report`: the rise between 1024-sample frames 256 samples apart,
# evaluated every 32 samples (see there why) in blocks of this many frames.
FLUX_FRAME = 1024
FLUX_HOP = 256
FLUX_STRIDE = 32
FLUX_BLOCK = 2048


@dataclass(frozen=True)
class LoopLength:
    """How long a loop is.

    Attributes:
        samples: the loop's length in samples (the nearest whole number to ``exact``).
        exact: the length the tempo asks for, as an exact fraction of samples.
        beats: quarter-note beats in the loop (what the ACID chunk carries).
    """

    samples: int
    exact: Fraction
    beats: Fraction

    @property
    def error_samples(self) -> float:
        """How far the loop is from the exact tempo, in samples per pass (under 0.5)."""
        return float(self.samples - self.exact)


def loop_length(score: DrumScore, sample_rate: int) -> LoopLength:
    """The length of a loop of ``score``'s bars at its tempo, rounded half up to a sample."""
    beats = Fraction(score.total_ticks, TICKS_PER_QUARTER)
    exact = beats * 60 * sample_rate / Fraction(score.bpm)
    return LoopLength(samples=math.floor(exact + Fraction(1, 2)), exact=exact, beats=beats)


def fold_tails(stem: np.ndarray, length: int) -> np.ndarray:
    """Wrap everything past ``length`` back onto the start, as often as it rings past it.

    Args:
        stem: ``(..., n)`` audio, ``n`` at least ``length`` minus a sample's rounding.
        length: the loop's length in samples.

    Returns:
        ``(..., length)`` float32: one period of the endlessly repeated performance.
    """
    out = np.zeros(stem.shape[:-1] + (length,), dtype=np.float32)
    for begin in range(0, stem.shape[-1], length):
        piece = stem[..., begin : begin + length]
        out[..., : piece.shape[-1]] += piece
    return out


@dataclass(frozen=True, eq=False)
class LoopResult:
    """A mixed loop and how closely its end leads into its start.

    Attributes:
        mixed: stems, master and loudness of one period, measured on that period.
        length: the loop's length.
        seam_error: the largest difference, over the first 10 ms, between the loop's start and
            what follows its end when the mix plays on (0 would be a perfect steady state).
    """

    mixed: MixResult
    length: LoopLength
    seam_error: float


def mix_loop(
    stems: Mapping[str, np.ndarray],
    score: DrumScore,
    sample_rate: int,
    preset: str = "acoustic",
    target_lufs: float = -14.0,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    max_shortfall_lu: float = 0.0,
) -> LoopResult:
    """Mix the sampler's mono stems of ``score`` into a seamless loop of its bars.

    Raises:
        RequestError: for a loop longer than five minutes.
        MixError: as `audiogen.mix.mix_stems`, and when the loop on repeat stays more than
            0.5 LU off the target.
    """
    length = loop_length(score, sample_rate)
    n = length.samples
    if n / sample_rate > MAX_LOOP_S:
        raise RequestError(
            f"a loop of {score.bars} bars at {score.bpm:g} bpm lasts {n / sample_rate / 60:.1f} "
            f"minutes: loops go up to {MAX_LOOP_S / 60:g} minutes; use fewer bars or drop --loop"
        )
    before = max(1, math.ceil(SETTLE_S * sample_rate / n))
    # One period after the kept one, so the limiter's look-ahead sees the next pass coming.
    passes = before + 2
    tiled = {group: np.tile(fold_tails(stem, n), passes) for group, stem in stems.items()}
    kept = slice(before * n, (before + 1) * n)
    after = slice((before + 1) * n, (before + 1) * n + min(n, round(0.01 * sample_rate)))
    # Normalisation measures all the passes, edges included; the loop on repeat reads a little
    # differently, so the target is corrected by what it missed (one or two more mixes). A
    # correction that asks more than the ceiling allows keeps the closest mix so far.
    aim = target_lufs
    best: LoopResult | None = None
    for _ in range(3):
        try:
            mixed = mix_stems(
                tiled, sample_rate, preset, aim, ceiling_dbtp, max_shortfall_lu=max_shortfall_lu
            )
        except MixError:
            if best is None:  # asked for the target itself: its message is the user's
                raise
            break
        mix = np.ascontiguousarray(mixed.mix[:, kept])
        on_repeat = _loudness_on_repeat(mix, sample_rate)
        seam_error = float(np.max(np.abs(mixed.mix[:, after] - mix[:, : after.stop - after.start])))
        # The true peak was held under the ceiling on every pass, the kept one included.
        # A mix that stopped short was as loud as it could be made without crushing the hits:
        # the loop is delivered at that loudness, and asking more would not change it.
        stopped = mixed.loudness.stopped_short_lu > 0.0
        report = dataclasses.replace(
            mixed.loudness, target_lufs=float(target_lufs), integrated_lufs=on_repeat,
            stopped_short_lu=max(0.0, target_lufs - on_repeat) if stopped else 0.0,
        )  # fmt: skip
        if best is None or abs(on_repeat - target_lufs) < abs(
            best.mixed.loudness.integrated_lufs - target_lufs
        ):
            kept_stems = {g: np.ascontiguousarray(s[:, kept]) for g, s in mixed.stems.items()}
            one = MixResult(kept_stems, mix, sample_rate, report, mixed.preset)
            best = LoopResult(mixed=one, length=length, seam_error=seam_error)
        del mixed
        if stopped or abs(on_repeat - target_lufs) <= TOLERANCE_LU:
            break
        aim += target_lufs - on_repeat
    del tiled
    assert best is not None  # the first round either mixed or raised
    reached = best.mixed.loudness.integrated_lufs
    if best.mixed.loudness.stopped_short_lu == 0.0 and abs(reached - target_lufs) > MAX_MISS_LU:
        raise MixError(
            f"a loudness of {target_lufs:g} LUFS is out of reach for this loop under a "
            f"{ceiling_dbtp:g} dBTP ceiling: on repeat it reaches {reached:.1f} LUFS; choose a "
            "quieter target such as 'podcast' (-16 LUFS) or 'broadcast' (-23 LUFS)"
        )
    return best


def _loudness_on_repeat(mix: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a loop as it is heard, on repeat: measured once, BS.1770's
    overlapping 400 ms blocks would under-count its first and last 300 ms."""
    n = mix.shape[1]
    return integrated_lufs(
        np.tile(mix, max(3, math.ceil(LOUDNESS_SPAN_S * sample_rate / n))), sample_rate
    )


def seam_report(audio: np.ndarray) -> dict[str, float]:
    """How the loop's seam (last sample → first) compares with its interior.

    Two measures, each the seam's value and the interior's largest:
    ``jump``: the step between consecutive samples, on the worse channel;
    ``flux``: spectral flux (the summed rise of magnitude spectra from a 1024-sample Hann frame
    to the one 256 samples later) of frame pairs that straddle the seam, against pairs wholly
    inside the loop, on the sum of the channels. The loop is played twice in a row to see across
    its seam.

    The pairs are taken every 32 samples, not every 256: an onset's flux depends on where it
    falls between two frame starts (a drum hit reads 20-30 % lower at the worst place than at
    the best), and on a 256-sample grid the seam's place was set by the loop's length mod 256
    while each interior onset fell where it happened to. Every 32 samples, each onset is
    measured within 16 samples of its best place (within 0.2 % of its best flux).

    Returns:
        ``seam_jump``, ``interior_jump``, ``seam_flux``, ``interior_flux``.
    """
    frames = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    n = frames.shape[1]
    steps = np.abs(np.diff(frames, axis=1)).max(axis=0)
    seam_jump = float(np.abs(frames[:, 0] - frames[:, -1]).max())
    twice = np.concatenate([frames, frames], axis=1).sum(axis=0)
    # Pairs by the start of their first frame, up to the last that still touches the seam.
    starts = np.arange(0, min(n, 2 * n - FLUX_FRAME - FLUX_HOP + 1), FLUX_STRIDE)
    flux = _pair_flux(twice, starts)
    ends = starts + FLUX_HOP + FLUX_FRAME
    interior = flux[ends <= n]
    # A pair touches the seam when either of its frames spans it.
    seam = flux[ends > n]
    return {
        "seam_jump": seam_jump,
        "interior_jump": float(steps.max()) if steps.size else 0.0,
        "seam_flux": float(seam.max()) if seam.size else 0.0,
        "interior_flux": float(interior.max()) if interior.size else 0.0,
    }


def _pair_flux(signal: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Spectral flux from the frame at each of ``starts`` (a FLUX_STRIDE grid) to the frame
    FLUX_HOP later; each frame's spectrum is taken once, a block of frames at a time."""
    lag = FLUX_HOP // FLUX_STRIDE
    window = np.hanning(FLUX_FRAME)
    offsets = np.arange(FLUX_FRAME)
    flux = np.empty(len(starts))
    for first in range(0, len(starts), FLUX_BLOCK):
        block = starts[first : first + FLUX_BLOCK]
        at = block[0] + FLUX_STRIDE * np.arange(len(block) + lag)
        spectra = np.abs(np.fft.rfft(signal[at[:, None] + offsets] * window, axis=1))
        flux[first : first + len(block)] = np.maximum(spectra[lag:] - spectra[:-lag], 0).sum(1)
    return flux
