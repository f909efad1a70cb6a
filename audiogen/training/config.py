"""What every training run is configured with, shared by the planner's, the humanizer's and the
codec's configs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """The settings every model's training has: batch size, learning rate, seed (each model's
    config sets its own defaults)."""

    batch_size: int
    lr: float
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class LoopConfig(TrainConfig):
    """A time-boxed, resumable run over Groove MIDI windows (the planner's and the humanizer's):
    where the data lies, where the kept checkpoint and the resumable state go, when it stops
    and how often it is evaluated."""

    groove: Path
    out: Path  # the checkpoint folder (checkpoints/<model>)
    work: Path  # the resumable state
    minutes: float
    max_steps: int = 100_000
    eval_every: int


