"""Score-keyed dynamics: the neural renderer's stems at the levels the score asks for, and
quiet where nothing plays.

The token model places the hits and gives them their sound, but on its own their levels follow
velocity only loosely, and between hits it leaves a floor of noise that a drum stem should not
have (BENCHMARKS.md, 'Neural renderer'). On a recorded kit, a mix engineer fixes both with clip
gain and a gate keyed from the MIDI. This stage does it from the score. Its key is the envelope
of the same score played through the same kit's one-shots (the sampler's render, whose audio is
never used), which holds each hit's level at its velocity and how long it rings in that kit.

- Each attack (hits closer than `SAME_ATTACK_S` are one) gets one gain, from `LOOKAHEAD_S`
  before it to that long before the next: the one that brings its peak to the key's. An attack
  the model left out stays out: its noise is not raised into a hit.
- Then, millisecond by millisecond, the stem's peak is held at most `CEILING_DB` over the key's
  envelope (its peak, held from `LOOKAHEAD_S` ahead to `HOLD_S` behind): what rings on after
  the kit's hit has died away, or sounds where nothing was played, goes down with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from audiogen.score import DrumScore

FRAME_S = 0.001  # the gain is decided per millisecond, then interpolated per sample
SAME_ATTACK_S = 0.03  # hits closer than this are one attack: one gain, read on their sum
PEAK_WINDOW_S = (-0.005, 0.03)  # where an attack's peak is read, around its time
LOOKAHEAD_S = 0.005  # gains change this long before an attack; the envelope looks this far ahead
HOLD_S = 0.02  # the key's envelope holds its level this long (a late attack still passes)
RAMP_S = 0.003  # every change of gain is spread over this long (no clicks)
CEILING_DB = 3.0  # the stem's peak may rise this far over the key's envelope
MISSING_DB = 20.0  # an attack this far under the key's was not played by the model
MAX_BOOST_DB, MAX_CUT_DB = 12.0, 30.0  # an attack's gain stays within these
SILENT_DB = -120.0
_BLOCK = 1 << 20  # samples multiplied at a time (a long stem's gain is never one array)


def follow_kit(stems: dict[str, np.ndarray], score: DrumScore, blend: Mapping[str, float],
               sample_rate: int, seed: int = 0) -> dict[str, np.ndarray]:  # fmt: skip
    """``stems`` (changed in place and returned) through `follow_score`, keyed by ``score``
    played on ``blend``'s kits ({kit: weight}), their levels mixed by weight."""
    from audiogen.kits import load_kit
    from audiogen.renderers.sampler import Sampler, Variation

    keys: dict[str, list[tuple[np.ndarray, float]]] = {group: [] for group in stems}  # dB, weight
    for name, weight in blend.items():
        if weight <= 0:
            continue
        played = Sampler(load_kit(name), sample_rate, Variation.none()).render(score, seed).stems
        for group, stem in stems.items():
            key = played.get(group, np.zeros(0, dtype=np.float32))
            keys[group].append((peak_levels(key, sample_rate, len(stem)), weight))
    for group, stem in stems.items():
        if not keys[group]:  # no kit with a weight: nothing to key from
            continue
        times = [score.time_s(hit) for hit in score.hits_in_group(group)]
        mixed = np.sum([k * w for k, w in keys[group]], axis=0) / sum(w for _, w in keys[group])
        follow_score(stem, mixed, times, sample_rate)
    return stems


def peak_levels(audio: np.ndarray, sample_rate: int, length: int) -> np.ndarray:
    """The peak level (dBFS) of each `FRAME_S` frame of a stem ``length`` samples long
    (silence past the audio's end)."""
    hop = max(1, round(FRAME_S * sample_rate))
    frames = -(-length // hop)
    n = min(len(audio) // hop, frames)
    out = np.full(frames, SILENT_DB)
    if n:
        peaks = np.abs(audio[: n * hop]).reshape(n, hop).max(axis=1)
        out[:n] = 20 * np.log10(np.maximum(peaks, 10 ** (SILENT_DB / 20)))
    return out


def follow_score(stem: np.ndarray, key: np.ndarray, times_s: Sequence[float],
                 sample_rate: int) -> np.ndarray:  # fmt: skip
    """``stem`` (float32, changed in place and returned) with each attack at ``times_s`` brought
    to the key's peak, and held under the key's envelope (``key``: its `peak_levels`)."""
    hop = max(1, round(FRAME_S * sample_rate))
    own = peak_levels(stem, sample_rate, len(stem))
    frames = len(own)
    key = np.concatenate([key[:frames], np.full(max(0, frames - len(key)), SILENT_DB)])
    gain_db = np.zeros(frames)
    lead = round(LOOKAHEAD_S / FRAME_S)
    for time, next_time in _attacks(times_s):
        target, level = _peak(key, time), _peak(own, time)
        if target <= SILENT_DB + 1 or level < target - MISSING_DB:
            change = 0.0
        else:
            change = float(np.clip(target - level, -MAX_CUT_DB, MAX_BOOST_DB))
        start = max(0, round(time / FRAME_S) - lead)
        end = frames if next_time is None else max(start, round(next_time / FRAME_S) - lead)
        gain_db[start:end] = change
    over = _envelope(own + gain_db) - (_envelope(key) + CEILING_DB)
    gain_db -= np.maximum(over, 0.0)
    gain = 10 ** (gain_db / 20)
    width = max(1, round(RAMP_S / FRAME_S))
    gain = np.convolve(np.pad(gain, (width // 2, width - 1 - width // 2), mode="edge"),
                       np.ones(width) / width, "valid")  # fmt: skip
    centres = (np.arange(frames) + 0.5) * hop - 0.5
    for lo in range(0, len(stem), _BLOCK):
        hi = min(len(stem), lo + _BLOCK)
        stem[lo:hi] *= np.interp(np.arange(lo, hi), centres, gain).astype(stem.dtype)
    return stem


def _attacks(times_s: Sequence[float]) -> list[tuple[float, float | None]]:
    """Each attack's time and the next's (None for the last)."""
    kept: list[float] = []
    for time in sorted(times_s):
        if not kept or time - kept[-1] >= SAME_ATTACK_S:
            kept.append(float(time))
    return list(zip(kept, [*kept[1:], None], strict=True))


def _peak(peak_db: np.ndarray, time: float) -> float:
    """The highest of the frames' peaks ``peak_db`` in `PEAK_WINDOW_S` around ``time``."""
    lo = max(0, round((time + PEAK_WINDOW_S[0]) / FRAME_S))
    hi = max(lo + 1, round((time + PEAK_WINDOW_S[1]) / FRAME_S))
    return float(peak_db[lo:hi].max(initial=SILENT_DB))


def _envelope(level_db: np.ndarray) -> np.ndarray:
    """Per frame, the highest level (dB) from `HOLD_S` behind it to `LOOKAHEAD_S` ahead."""
    lead, hold = round(LOOKAHEAD_S / FRAME_S), round(HOLD_S / FRAME_S)
    padded = np.pad(level_db, (hold, lead), mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, hold + lead + 1).max(axis=1)
