"""Where the shipped assets live: kits (``samples/``) and models (``checkpoints/``) inside the
installed package, else beside it in a checkout, unless $AUDIOGEN_SAMPLES / $AUDIOGEN_CHECKPOINTS
point elsewhere; and where audiogen keeps what it may recompute (the user's cache)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# A wheel carries the repository's top-level samples/ and checkpoints/ as audiogen/_data/<name>/
# (pyproject.toml's wheel sources); a checkout or an editable install keeps them at the top.
_INSTALLED = _PACKAGE / "_data"
_CHECKOUT = _PACKAGE.parent


def samples_dir() -> Path:
    """The kits, example beats and their licences."""
    return _shipped("samples", "AUDIOGEN_SAMPLES")


def checkpoints_dir() -> Path:
    """The trained models, one folder each (``planner/``, ``humanizer/``...)."""
    return _shipped("checkpoints", "AUDIOGEN_CHECKPOINTS")


def cache_dir() -> Path:
    """$AUDIOGEN_CACHE, else the user cache folder ($XDG_CACHE_HOME or ~/.cache) /audiogen."""
    override = os.environ.get("AUDIOGEN_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "audiogen"


def _shipped(name: str, variable: str) -> Path:
    override = os.environ.get(variable)
    if override:
        return Path(override)
    installed = _INSTALLED / name
    return installed if installed.is_dir() else _CHECKOUT / name
