"""What the neural renderer reads of a score: for one stem, frame by frame at the codec's frame
rate, which instruments start in the frame, how hard, and where inside the frame; and the kit's
envelope of it, how loud the same score sounds through the kit's one-shots in each frame."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.score import MAX_OFFSET_MS, DrumScore

CLASS_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
FEATURES = 3 * len(INSTRUMENTS)  # per class: onset, velocity / 127, offset in the frame (0-1)
ENVELOPE = 2  # per frame: the kit's power and peak, in dB scaled to 0-1 (see `envelope_frames`)
ENVELOPE_FLOOR_DB = -80.0  # levels at or under this are 0; 0 dBFS is 1
# The kit's spectral envelope of the score (`band_frames`): each frame's power in these bands
# (Hz), narrow in the low end, where a kick's pitch and its fall live.
BANDS_HZ = (20, 45, 70, 110, 170, 260, 400, 650, 1000, 1600, 2600, 4200, 7000, 16000)
BANDS = len(BANDS_HZ) - 1


def stem_frames(
    score: DrumScore, group: str, frame_rate: float, frames: int, start_s: float = 0.0
) -> np.ndarray:
    """``group``'s hits in ``frames`` frames from ``start_s``: float32 [frames, FEATURES].

    Timing is finer than a frame: the third feature says where in the frame the hit starts.
    """
    out = np.zeros((frames, FEATURES), dtype=np.float32)
    for hit in score.hits:
        if GROUP_OF[hit.instrument] != group:
            continue
        position = (score.time_s(hit) - start_s) * frame_rate
        frame = int(np.floor(position))
        if 0 <= frame < frames:
            c = 3 * CLASS_INDEX[hit.instrument]
            out[frame, c] = 1.0
            out[frame, c + 1] = max(out[frame, c + 1], hit.velocity / 127.0)
            out[frame, c + 2] = position - frame
    return out


def on_grid(score: DrumScore, frame_rate: float, per_frame: int) -> DrumScore:
    """``score`` with every hit moved to the nearest of ``per_frame`` even positions in its
    frame (at 50 frames a second and 20 a frame: a whole millisecond, half a millisecond at
    most away), its offset staying within the score's limit (a hit at the limit moves inward,
    a whole position at most).

    A tone that rings (an 808 kick, a tom) drifts in phase against the codec's frames, and its
    tokens follow its start to a tenth of a millisecond (BENCHMARKS.md). On a grid, one hit's
    tokens are one path the token model can learn, not a spread over a continuum of them.
    """
    step_s = 1.0 / (frame_rate * per_frame)
    hits = []
    for hit in score.hits:
        planned = hit.tick * score.seconds_per_tick
        moved = round(score.time_s(hit) / step_s) * step_s
        offset_ms = (moved - planned) * 1000.0
        if abs(offset_ms) > MAX_OFFSET_MS:  # to the grid's position on the inner side
            offset_ms -= np.sign(offset_ms) * step_s * 1000.0
        hits.append(dataclasses.replace(hit, offset_ms=offset_ms))
    return score.replace(hits=tuple(hits))


def hit_frames(features: Any, after: int) -> Any:
    """Which frames of ``features`` ([..., T, FEATURES or more]; numpy or torch) start a hit, or
    follow one by ``after`` frames or fewer: bool [..., T], of the same kind."""
    playing = (features[..., 0:FEATURES:3] != 0).any(-1)  # the onset columns
    out = playing.clone() if hasattr(playing, "clone") else playing.copy()
    for lag in range(1, after + 1):
        out[..., lag:] |= playing[..., :-lag]
    return out


def envelope_frames(audio: np.ndarray, hop: int, frames: int) -> np.ndarray:
    """The envelope of ``audio`` (mono, the score through a kit's one-shots) in ``frames``
    frames of ``hop`` samples: float32 [frames, ENVELOPE], each frame's mean power and its peak
    in dBFS, mapped from `ENVELOPE_FLOOR_DB`..0 to 0..1.

    The token model reads it beside the score: it says how long each hit rings in the kit and
    how loud it is there, which the score's onsets alone leave it to guess.
    """
    padded = np.zeros(frames * hop, dtype=np.float64)
    n = min(len(audio), len(padded))
    padded[:n] = audio[:n]
    blocks = padded.reshape(frames, hop)
    power = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-12)
    peak = 20 * np.log10(np.max(np.abs(blocks), axis=1) + 1e-12)
    return _scaled(np.stack([power, peak], axis=1))


def band_frames(audio: np.ndarray, hop: int, frames: int, sample_rate: int) -> np.ndarray:
    """The spectral envelope of ``audio`` (mono, the score through a kit's one-shots) in
    ``frames`` frames of ``hop`` samples: float32 [frames, BANDS], each frame's power in each of
    `BANDS_HZ`' bands (a Hann window two frames wide, centred on the frame), in dB mapped as
    `envelope_frames` maps its levels.

    Beside the envelope it says what the kit's hits sound like in each frame: where a kick's
    pitch sits and how it falls, how bright a cymbal rings; the score and the kit's name leave
    the token model to guess these (BENCHMARKS.md).
    """
    padded = np.zeros((frames + 1) * hop, dtype=np.float64)
    n = min(len(audio), frames * hop)
    padded[hop // 2 : hop // 2 + n] = audio[:n]
    blocks = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop][:frames]
    window = np.hanning(2 * hop)
    spectrum = np.abs(np.fft.rfft(blocks * window, axis=1)) ** 2
    spectrum *= 2.0 / (2 * hop * np.sum(window**2))  # Parseval: bins sum to the mean power
    freqs = np.fft.rfftfreq(2 * hop, 1.0 / sample_rate)
    edges = np.searchsorted(freqs, BANDS_HZ)
    power = np.stack([spectrum[:, lo:max(lo + 1, hi)].sum(axis=1)
                      for lo, hi in zip(edges[:-1], edges[1:])], axis=1)  # fmt: skip
    return _scaled(10 * np.log10(power + 1e-12))


def _scaled(levels_db: np.ndarray) -> np.ndarray:
    """Levels in dB mapped from `ENVELOPE_FLOOR_DB`..0 to 0..1, as float32."""
    scaled = np.clip(levels_db, ENVELOPE_FLOOR_DB, 0.0) / -ENVELOPE_FLOOR_DB + 1.0
    return scaled.astype(np.float32)
