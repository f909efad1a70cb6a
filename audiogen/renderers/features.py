"""What the neural renderer reads of a score: for one stem, frame by frame at the codec's frame
rate, which instruments start in the frame, how hard, and where inside the frame; and the kit's
envelope of it, how loud the same score sounds through the kit's one-shots in each frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.score import DrumScore

CLASS_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
FEATURES = 3 * len(INSTRUMENTS)  # per class: onset, velocity / 127, offset in the frame (0-1)
ENVELOPE = 2  # per frame: the kit's power and peak, in dB scaled to 0-1 (see `envelope_frames`)
ENVELOPE_FLOOR_DB = -80.0  # levels at or under this are 0; 0 dBFS is 1


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
    levels = np.stack([power, peak], axis=1)
    return (np.clip(levels, ENVELOPE_FLOOR_DB, 0.0) / -ENVELOPE_FLOOR_DB + 1.0).astype(np.float32)
