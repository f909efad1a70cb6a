"""The codec's shape: everything needed to rebuild the network around a checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
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
