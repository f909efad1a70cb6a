"""`Beat`: what the pipeline hands back — the score, mixed stems, the master and what went in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiogen.score import DrumScore

if TYPE_CHECKING:
    from audiogen.loop import LoopLength
    from audiogen.mix import LoudnessReport
    from audiogen.prompt import Resolution
    from audiogen.request import RenderRequest


@dataclass(frozen=True)
class Beat:
    """A rendered beat: the score, stereo stems after the mix, the master, and what went in."""

    request: RenderRequest
    score: DrumScore
    stems: dict[str, np.ndarray]  # group -> (2, n) float32, mixed and at the master's gain
    mix: np.ndarray  # (2, n) float32
    sample_rate: int
    loudness: LoudnessReport
    kit_files: tuple[Path, ...]
    substitutions: dict[str, str]
    dropped: dict[str, int]
    loop: LoopLength | None = None  # set when the beat is a seamless loop
    seam_error: float | None = None  # see `audiogen.loop.LoopResult`
    plan: dict[str, Any] | None = None  # the planner's resolved options, for generated beats
    prompt: Resolution | None = None  # the sentence it was asked for in, if any
    parts: dict[str, DrumScore] | None = None  # a varied beat's sections, written as MIDI
    models: dict[str, str] | None = None  # the renderer's model versions (neural renders)

    @property
    def duration_s(self) -> float:
        return self.mix.shape[1] / self.sample_rate

    def save(self, out_dir: str | Path, force: bool = False) -> Path:
        """Write mix, stems, MIDI and manifest to ``out_dir`` atomically (see `audiogen.export`)."""
        from audiogen.export import save_beat

        return save_beat(self, Path(out_dir), force=force)
