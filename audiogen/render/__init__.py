"""Render stage: `DrumScore` + kit → one mono stem per group."""

from audiogen.render.sampler import Sampler, SamplerResult, Variation, render_stems

RENDERERS = ("sample",)

__all__ = ["RENDERERS", "Sampler", "SamplerResult", "Variation", "render_stems"]
