"""Score-keyed dynamics: the neural renderer's stems at the levels the score asks for, and
quiet where nothing plays.

The token model places the hits and gives them their sound, but on its own their levels follow
velocity only loosely, and between hits it leaves a floor of noise that a drum stem should not
have (BENCHMARKS.md, 'Neural renderer'). On a recorded kit, a mix engineer fixes both with clip
gain and a gate keyed from the MIDI. This stage does it from the score. Its key is the envelope
of the same score played through the same kit's one-shots (the sampler's render, whose audio is
never used), which holds each hit's level at its velocity and how long it rings in that kit.

- First, in `TONE_GROUPS`, the stem's tone is brought to the key's: the long-term balance of
  its frequency bands made that of the kit's render (`audiogen.renderers.tone`, a matching EQ).
  Not the kick: its error is one of pitch, which no such filter mends (BENCHMARKS.md).
- Each attack (hits closer than `SAME_ATTACK_S` are one) gets one gain, from `LOOKAHEAD_S`
  before it to that long before the next: the one that brings its peak to the key's (by
  `MAX_BOOST_DB` at most: a ghost note played far too soft still follows velocity). An attack
  the model left out (over `MISSING_DB` under) stays out: its noise is not raised into a hit.
  In the stems whose ring the model already plays nearer the kit's than that gain would leave
  it (`ATTACK_HOLD_S`: the hats), the gain holds over the attack only, where its peak is read,
  and goes back out over `ATTACK_RELEASE_S`: clip gain on the stick, the ring left as played.
- In the stems whose tails are a noise that rings on (`TAILS`: snare wires, cymbal wash),
  the tail between attacks is then brought to the key's power, which the model leaves too
  quiet. The gain comes in its `Tail.start_s` after an attack and goes back out over the
  `TAIL_RELEASE_S` before the next, so that the next attack stands out of the tail as much as
  the model played it; it rises its `Tail.boost_db` at most and only where the key still sounds.
  The snare's wires may rise 24 dB, the cymbals' wash 12 (BENCHMARKS.md says how each was
  chosen).
  On the snare it starts past where the attack's peak is read, which keeps that peak the key's.
  On the cymbals it starts at the attack: the model's wash falls away within a few ms of it,
  and a gain that came in only later lifted the wash out of that dip, a rise the ear and the
  onset detector took for a second strike (BENCHMARKS.md). The peak may then sit up to
  `CEILING_DB` over the key's.
- Then, millisecond by millisecond, the stem's peak is held at most `CEILING_DB` over the key's
  envelope (its peak, held from `LOOKAHEAD_S` ahead to `HOLD_S` behind): what rings on after
  the kit's hit has died away, or sounds where nothing was played, goes down with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from audiogen.score import DrumScore

FRAME_S = 0.001  # the gain is decided per millisecond, then interpolated per sample
SAME_ATTACK_S = 0.03  # hits closer than this are one attack: one gain, read on their sum
PEAK_WINDOW_S = (-0.005, 0.03)  # where an attack's peak is read, around its time
LOOKAHEAD_S = 0.005  # gains change this long before an attack; the envelope looks this far ahead
HOLD_S = 0.02  # the key's envelope holds its level this long (a late attack still passes)
RAMP_S = 0.003  # every change of gain is spread over this long (no clicks)
CEILING_DB = 3.0  # the stem's peak may rise this far over the key's envelope
MISSING_DB = 30.0  # an attack this far under the key's was not played by the model
MAX_BOOST_DB, MAX_CUT_DB = 20.0, 30.0  # an attack's gain stays within these (BENCHMARKS.md)
ATTACK_HOLD_S = {"hats": 0.03}  # whose attack gain holds this long (BENCHMARKS.md)
ATTACK_RELEASE_S = 0.01  # and then goes back out over this long
SILENT_DB = -120.0


@dataclass(frozen=True)
class Tail:
    """How a group's tails follow the key's power: from how long after each attack, and by how
    much they may rise at most."""

    start_s: float = 0.0
    boost_db: float = 12.0


# whose tails follow the key's power, and how (BENCHMARKS.md)
TAILS = {"snare": Tail(start_s=0.03, boost_db=24.0), "cymbals": Tail(start_s=0.0, boost_db=12.0)}
TAIL_GROUPS = tuple(TAILS)
# whose tone is matched to the kit's first (`audiogen.renderers.tone`; BENCHMARKS.md)
TONE_GROUPS = ("snare", "hats", "cymbals", "toms")
TAIL_RISE_S = 0.01  # the tail's gain comes in over this long
TAIL_RELEASE_S = 0.1  # and goes back out over this long before the next attack
TAIL_SMOOTH_S = 0.02  # the tail's gain is smoothed over this long
TAIL_FLOOR_DB = -70.0  # the tail is raised only where the key is over this
POWER_SPAN_S = 0.005  # power levels are averaged over this long
_BLOCK = 1 << 20  # samples multiplied at a time (a long stem's gain is never one array)

Attack = tuple[float, float | None]  # an attack's time and the next one's (None: the last)


def follow_kit(stems: dict[str, np.ndarray], score: DrumScore, blend: Mapping[str, float],
               sample_rate: int, seed: int = 0) -> dict[str, np.ndarray]:  # fmt: skip
    """``stems`` (changed in place and returned) through `match_tone` (`TONE_GROUPS`) and
    `follow_score`, keyed by ``score`` played on ``blend``'s kits ({kit: weight}), their levels
    mixed by weight."""
    from audiogen.renderers.tone import band_levels, match_tone

    keys: dict[str, list[tuple[float, np.ndarray, np.ndarray | None]]] = {g: [] for g in stems}
    tones: dict[str, list[tuple[float, np.ndarray]]] = {g: [] for g in stems}
    for weight, played in kit_renders(score, blend, sample_rate, seed):
        for group, stem in stems.items():
            key = played.get(group, np.zeros(0, dtype=np.float32))
            power = power_levels(key, sample_rate, len(stem)) if group in TAIL_GROUPS else None
            keys[group].append((weight, peak_levels(key, sample_rate, len(stem)), power))
            if group in TONE_GROUPS:
                tones[group].append((weight, band_levels(key, sample_rate)))
    for group, stem in stems.items():
        if not keys[group]:  # no kit with a weight: nothing to key from
            continue
        total = sum(w for w, _, _ in keys[group])
        if tones[group]:  # the kits' band levels mixed by weight, as their peaks are
            match_tone(stem, np.sum([w * t for w, t in tones[group]], axis=0) / total,
                       sample_rate)  # fmt: skip
        times = [score.time_s(hit) for hit in score.hits_in_group(group)]
        peak = np.sum([w * k for w, k, _ in keys[group]], axis=0) / total  # dB mixed by weight
        powers = [w * p for w, _, p in keys[group] if p is not None]  # TAIL_GROUPS only
        power = np.sum(powers, axis=0) / total if powers else None
        follow_score(stem, peak, times, sample_rate, power, ATTACK_HOLD_S.get(group),
                     TAILS.get(group, Tail()))
    return stems


def kit_renders(score: DrumScore, blend: Mapping[str, float], sample_rate: int,
                seed: int = 0) -> list[tuple[float, dict[str, np.ndarray]]]:  # fmt: skip
    """``score`` played by the sampler, without variation, on each of ``blend``'s kits ({kit:
    weight}) that has a weight: (weight, stems) per kit. The dynamics key from these, and the
    token model reads its envelope of the score from them."""
    from audiogen.kits import load_kit
    from audiogen.renderers.sampler import Sampler, Variation

    return [
        (weight, Sampler(load_kit(name), sample_rate, Variation.none()).render(score, seed).stems)
        for name, weight in blend.items()
        if weight > 0
    ]


def peak_levels(audio: np.ndarray, sample_rate: int, length: int) -> np.ndarray:
    """The peak level (dBFS) of each `FRAME_S` frame of a stem ``length`` samples long
    (silence past the audio's end)."""
    peaks, frames = _per_frame(audio, sample_rate, length, lambda f: np.abs(f).max(axis=1))
    out = np.full(frames, SILENT_DB)
    out[: len(peaks)] = 20 * np.log10(np.maximum(peaks, 10 ** (SILENT_DB / 20)))
    return out


def power_levels(audio: np.ndarray, sample_rate: int, length: int) -> np.ndarray:
    """The mean power (dB) of each `FRAME_S` frame of a stem ``length`` samples long, averaged
    over `POWER_SPAN_S` around it."""
    means, frames = _per_frame(audio, sample_rate, length,
                               lambda f: np.square(f, dtype=np.float64).mean(axis=1))  # fmt: skip
    power = np.zeros(frames)
    power[: len(means)] = means
    width = max(1, round(POWER_SPAN_S / FRAME_S))
    power = np.convolve(power, np.ones(width) / width, "same")
    return 10 * np.log10(np.maximum(power, 10 ** (SILENT_DB / 10)))


def _per_frame(audio: np.ndarray, sample_rate: int, length: int,
               reduce: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, int]:  # fmt: skip
    """``reduce`` of each whole `FRAME_S` frame of ``audio`` (rows of samples, `_BLOCK` samples
    at a time) within ``length`` samples, and the number of frames in ``length``."""
    hop = max(1, round(FRAME_S * sample_rate))
    frames = -(-length // hop)
    n = min(len(audio) // hop, frames)
    step = max(1, _BLOCK // hop)
    parts = [reduce(audio[lo * hop : min(n, lo + step) * hop].reshape(-1, hop))
             for lo in range(0, n, step)]  # fmt: skip
    return (np.concatenate(parts) if parts else np.zeros(0)), frames


def follow_score(stem: np.ndarray, key: np.ndarray, times_s: Sequence[float], sample_rate: int,
                 key_power: np.ndarray | None = None, hold_s: float | None = None,
                 tail: Tail = Tail()) -> np.ndarray:  # fmt: skip
    """``stem`` (float32, changed in place and returned) with each attack at ``times_s`` brought
    to the key's peak, and held under the key's envelope (``key``: its `peak_levels`). With
    ``key_power`` (the key's `power_levels`), the tails between attacks follow it too. With
    ``hold_s``, an attack's gain holds that long after it, then goes back out over
    `ATTACK_RELEASE_S`; without, it holds until the next attack. ``tail``: how the tails
    follow the key's power (by default from each attack on, rising 12 dB at most)."""
    hop = max(1, round(FRAME_S * sample_rate))
    own = peak_levels(stem, sample_rate, len(stem))
    frames = len(own)
    key = np.concatenate([key[:frames], np.full(max(0, frames - len(key)), SILENT_DB)])
    gain_db = np.zeros(frames)
    lead = round(LOOKAHEAD_S / FRAME_S)
    played: list[Attack] = []  # the attacks the model played
    for time, next_time in _attacks(times_s):
        target, level = _peak(key, time), _peak(own, time)
        if target <= SILENT_DB + 1 or level < target - MISSING_DB:
            change = 0.0
        else:
            change = float(np.clip(target - level, -MAX_CUT_DB, MAX_BOOST_DB))
            played.append((time, next_time))
        start = max(0, round(time / FRAME_S) - lead)
        end = frames if next_time is None else max(start, round(next_time / FRAME_S) - lead)
        gain_db[start:end] = change * _held(end - start, lead, hold_s)
    if key_power is not None:
        gain_db += _tails(stem, key_power, gain_db, played, sample_rate, tail)
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


def _tails(stem: np.ndarray, key_power: np.ndarray, gain_db: np.ndarray,
           attacks: Sequence[Attack], sample_rate: int, tail: Tail) -> np.ndarray:  # fmt: skip
    """The gain (dB per frame) that brings the tail of each of ``attacks`` (its time and the
    next attack's), after ``gain_db``, to the key's power."""
    frames = len(gain_db)
    own = power_levels(stem, sample_rate, len(stem))[:frames] + gain_db
    key = np.concatenate([key_power[:frames], np.full(max(0, frames - len(key_power)), SILENT_DB)])
    wanted = np.clip(key - own, -MAX_CUT_DB, tail.boost_db)
    wanted = np.where(key < TAIL_FLOOR_DB, np.minimum(wanted, 0.0), wanted)
    wanted = np.where(own <= SILENT_DB + 1, 0.0, wanted)  # nothing there to bring up
    width = max(1, round(TAIL_SMOOTH_S / FRAME_S))
    wanted = np.convolve(wanted, np.ones(width) / width, "same")
    out = np.zeros(frames)
    lead, after = round(LOOKAHEAD_S / FRAME_S), round(tail.start_s / FRAME_S)
    rise, release = round(TAIL_RISE_S / FRAME_S), round(TAIL_RELEASE_S / FRAME_S)
    for time, next_time in attacks:
        lo = round(time / FRAME_S) + after
        hi = frames if next_time is None else min(frames, round(next_time / FRAME_S) - lead)
        if hi <= lo:
            continue
        k = np.arange(hi - lo)
        shape = np.minimum(1.0, (k + 1) / max(1, rise))
        if next_time is not None:
            shape = np.minimum(shape, (hi - lo - k) / max(1, release))
        out[lo:hi] = wanted[lo:hi] * shape
    return out


def _held(frames: int, lead: int, hold_s: float | None) -> np.ndarray | float:
    """How much of an attack's gain applies in each of its ``frames`` (the first ``lead`` come
    before it): all of it throughout, or with ``hold_s`` all of it that long past the attack,
    then none after `ATTACK_RELEASE_S` more."""
    if hold_s is None:
        return 1.0
    hold, release = lead + round(hold_s / FRAME_S), max(1, round(ATTACK_RELEASE_S / FRAME_S))
    return np.clip(1.0 - (np.arange(frames) - hold) / release, 0.0, 1.0)


def _attacks(times_s: Sequence[float]) -> list[Attack]:
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
