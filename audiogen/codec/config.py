"""The codec's shape: everything needed to rebuild the network around a checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class CodecConfig:
    """SEANet encoder/decoder around a residual vector quantizer (audiocraft's EnCodec parts).

    Mono. The frame rate is ``sample_rate / prod(ratios)``; the bitrate with all codebooks is
    ``frame_rate * n_q * log2(bins)``.
    """

    sample_rate: int = 32000
    n_filters: int = 16
    ratios: tuple[int, ...] = (8, 5, 4, 4)  # 640 samples a frame: 50 frames/s at 32 kHz
    dimension: int = 128
    n_residual_layers: int = 1
    lstm: int = 0  # an LSTM at 50 frames/s costs more CPU than all the convolutions
    n_q: int = 8
    bins: int = 1024

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def bitrate(self, n_q: int | None = None) -> float:
        """Bits per second with ``n_q`` codebooks (all by default)."""
        return self.frame_rate * (n_q or self.n_q) * math.log2(self.bins)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratios"] = list(self.ratios)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CodecConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "ratios" in values:
            values["ratios"] = tuple(values["ratios"])
        return cls(**values)


@dataclass(frozen=True)
class TrainConfig:
    """How the codec is trained (audiocraft's compression-solver recipe, scaled down)."""

    segment_s: float = 1.0
    batch_size: int = 32
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)
    adversarial_after: int = 1000  # steps of reconstruction only before the discriminator joins
    weights: dict[str, float] = field(
        default_factory=lambda: {"adv": 4.0, "feat": 4.0, "l1": 0.1, "msspec": 2.0}
    )
    disc_filters: int = 32
    seed: int = 0
