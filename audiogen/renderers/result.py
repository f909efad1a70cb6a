"""What every renderer hands to the mix: mono stems per group, and what made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RenderResult:
    """Mono float32 stems keyed by group, what the kit could not play, and what made them."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    substitutions: dict[str, str]  # requested class -> class the kit played instead
    dropped: dict[str, int]  # class -> hits the kit had nothing for
    files_used: tuple[Path, ...]
    models: dict[str, str] = field(default_factory=dict)  # model -> version, for a neural render
