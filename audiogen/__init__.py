"""audiogen: royalty-free drum beats, offline. Stages: request → plan → render → mix → export.

The public API is imported lazily so that the command line starts instantly:
``audiogen.render``, ``audiogen.generate``, ``audiogen.vary``, ``audiogen.Beat``,
``audiogen.Session`` (models loaded once, for many requests), ``audiogen.DrumScore``,
``audiogen.read_midi``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "render": "audiogen.api",
    "generate": "audiogen.api",
    "vary": "audiogen.api",
    "Beat": "audiogen.beat",
    "Session": "audiogen.pipeline",
    "RenderRequest": "audiogen.request",
    "DrumScore": "audiogen.score",
    "Hit": "audiogen.score",
    "Meter": "audiogen.score",
    "Section": "audiogen.score",
    "read_midi": "audiogen.midi",
    "write_midi": "audiogen.midi",
    "load_kit": "audiogen.kits",
    "AudiogenError": "audiogen.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audiogen' has no attribute {name!r}")
