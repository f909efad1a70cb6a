"""Where the shipped assets live: ``samples/`` and ``checkpoints/`` beside the package (an
editable install), or wherever $AUDIOGEN_SAMPLES / $AUDIOGEN_CHECKPOINTS point."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def samples_dir() -> Path:
    env = os.environ.get("AUDIOGEN_SAMPLES")
    return Path(env) if env else _REPO / "samples"


def checkpoints_dir() -> Path:
    env = os.environ.get("AUDIOGEN_CHECKPOINTS")
    return Path(env) if env else _REPO / "checkpoints"
