"""What the planner's and the humanizer's loops share: the learning-rate schedule of a time-boxed
run and batches of windows of similar length."""

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
    progress = min(1.0, elapsed_s / (cfg.minutes * 60))
    return cfg.lr * min(1.0, (step + 1) / 300) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
