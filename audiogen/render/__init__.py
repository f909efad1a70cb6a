"""Render stage: `DrumScore` + kit → one mono stem per group."""

import sys
import types

from audiogen.render.sampler import Sampler, SamplerResult, Variation, render_stems

__all__ = ["Sampler", "SamplerResult", "Variation", "render_stems"]


class _CallableStage(types.ModuleType):
    """Importing this package makes ``audiogen.render`` name the package, which would hide the
    public ``audiogen.render(...)`` function; calling the package calls that function."""

    def __call__(self, *args, **kwargs):
        from audiogen.api import render

        return render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableStage
