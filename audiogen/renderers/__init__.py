"""Render stage: `DrumScore` + kit → one mono stem per group, by the one-shot `sampler` or the
`neural` renderer (codec tokens written by a score-conditioned language model)."""

from audiogen.renderers.result import RenderResult
from audiogen.renderers.sampler import Sampler, Variation, render_stems

__all__ = ["RenderResult", "Sampler", "Variation", "render_stems"]
