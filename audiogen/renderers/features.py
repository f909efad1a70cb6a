"""What the neural renderer reads of a score: for one stem, frame by frame at the codec's frame
rate, which instruments start in the frame, how hard, and where inside the frame."""

from __future__ import annotations

import numpy as np

from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.score import DrumScore

CLASS_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
FEATURES = 3 * len(INSTRUMENTS)  # per class: onset, velocity / 127, offset in the frame (0-1)


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
