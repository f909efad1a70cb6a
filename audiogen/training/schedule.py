"""What the training loops share: the learning-rate schedule of a time-boxed run and batches of
windows of similar length."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence, Sized

from audiogen.training.config import LoopConfig


def length_batches(seqs: Sequence[Sized], batch_size: int,
                   rng: random.Random) -> Iterator[list[int]]:  # fmt: skip
    """Endless batches of indices: shuffled, but each drawn from windows of similar length so
    that little CPU goes to padding."""
    while True:
        order = list(range(len(seqs)))
        rng.shuffle(order)
        pool = batch_size * 50
        for i in range(0, len(order), pool):
            chunk = sorted(order[i : i + pool], key=lambda j: len(seqs[j]))
            batches = [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
            rng.shuffle(batches)
            yield from batches


def learning_rate(cfg: LoopConfig, step: int, elapsed_s: float) -> float:
    """Linear warm-up, then a cosine decay over the time budget (training is time-boxed)."""
    progress = elapsed_s / (cfg.minutes * 60)
    return min(1.0, (step + 1) / 300) * cosine_decay(cfg.lr, progress)


def cosine_decay(lr: float, progress: float, floor: float = 0.1) -> float:
    """``lr`` at the start of a run (``progress`` 0), ``floor * lr`` at its end (1 and after)."""
    progress = min(1.0, max(0.0, progress))
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
